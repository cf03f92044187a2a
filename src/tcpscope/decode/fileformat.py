"""Container walking: pcap / pcapng (optionally gzip) -> per-record offset, lengths, timestamp, interface."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numba import njit

from tcpscope.decode._bytes import u16, u32
from tcpscope.errors import CaptureError

PCAP_MAGIC_US = 0xA1B2C3D4
PCAP_MAGIC_NS = 0xA1B23C4D
PCAPNG_SHB = 0x0A0D0D0A
BOM = 0x1A2B3C4D

# Largest record a sane pcap writer produces (Wireshark's limit for the link types we read is 256 KiB).
MAX_RECORD = 262144

# Walker status codes (returned by the compiled loops, turned into messages in Python).
OK, CUT, TOO_BIG, BAD_BLOCK_LEN, LEN_MISMATCH, CAPLEN_LIES, BAD_IFACE, BAD_BOM, NO_SHB, SHORT_BLOCK = range(10)

# pcapng block types we read; every other block type is skipped (kept for verbatim copying).
BT_IDB, BT_OPB, BT_SPB, BT_ISB, BT_EPB = 1, 2, 3, 5, 6


@dataclass
class Records:
    """Per-record arrays of one capture file plus the container facts the info and the filter need."""

    path: str
    buf: np.ndarray  # whole (decompressed) file, read-only np.uint8
    fmt: str  # "pcap" | "pcapng"
    compressed: bool
    byte_order: str  # "little" | "big" | "mixed"
    offset: np.ndarray  # int64: first byte of the frame data
    caplen: np.ndarray  # int64
    origlen: np.ndarray  # int64
    ts_ns: np.ndarray  # int64
    iface: np.ndarray  # int64: global interface index (0 for pcap)
    rec_start: np.ndarray  # int64: first byte of the record / block (for verbatim copies)
    rec_len: np.ndarray  # int64: bytes of the record / block
    if_linktype: np.ndarray  # int64 per interface
    if_res_kind: np.ndarray  # int64 per interface: 0 = 10^-exp, 1 = 2^-exp
    if_res_exp: np.ndarray  # int64 per interface
    other_start: np.ndarray  # int64: pcapng non-packet blocks (SHB, IDB, NRB, ...)
    other_len: np.ndarray
    other_type: np.ndarray
    cut_off: bool = False
    warnings: list[str] = field(default_factory=list)

    @property
    def linktype(self) -> np.ndarray:
        """Link type of every record, from its interface."""
        return self.if_linktype[self.iface] if self.if_linktype.size else np.zeros(0, np.int64)

    def resolution_names(self) -> list[str]:
        """Timestamp resolution of every interface, as a readable name."""
        return [_res_name(int(k), int(e)) for k, e in zip(self.if_res_kind, self.if_res_exp)]


def _res_name(kind: int, exp: int) -> str:
    """Readable name of a timestamp resolution (10^-exp or 2^-exp seconds)."""
    if kind == 0 and exp == 6:
        return "microseconds"
    if kind == 0 and exp == 9:
        return "nanoseconds"
    return f"10^-{exp} s" if kind == 0 else f"2^-{exp} s"


def load_bytes(path: str | Path) -> tuple[np.ndarray, bool, list[str], bool]:
    """Read the whole file as a read-only np.uint8 buffer, gunzipping when the magic says gzip."""
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(2)
    if head == b"\x1f\x8b":
        buf, cut = _gunzip(path)
        warnings = [f"{path}: gzip stream ends early (file cut off); decoded what was there"] if cut else []
        arr = np.frombuffer(buf, dtype=np.uint8)
        return arr, True, warnings, cut
    arr = np.fromfile(path, dtype=np.uint8)
    arr.flags.writeable = False
    return arr, False, [], False


def _gunzip(path: Path) -> tuple[bytes, bool]:
    """Decompress every gzip member; return the bytes and whether the stream was cut short."""
    raw = path.read_bytes()
    out: list[bytes] = []
    data = raw
    while data:
        d = zlib.decompressobj(wbits=31)
        try:
            out.append(d.decompress(data))
        except zlib.error as e:
            if out or d.unused_data:
                break
            raise CaptureError(path, f"corrupt gzip data ({e})") from None
        if not d.eof:
            out.append(d.flush())
            return b"".join(out), True
        data = d.unused_data
        if data[:2] != b"\x1f\x8b":  # trailing garbage after the last member: ignore, as gzip(1) does
            break
    return b"".join(out), False


def walk(path: str | Path) -> Records:
    """Walk the records of a capture file (format from the magic number, not the name)."""
    buf, compressed, warnings, gz_cut = load_bytes(path)
    if buf.size < 4:
        what = "empty file" if buf.size == 0 else f"magic 0x{bytes(buf).hex()}"
        raise CaptureError(path, f"not a pcap or pcapng file ({what})")
    magic_le = np.int64(buf[0]) | np.int64(buf[1]) << 8 | np.int64(buf[2]) << 16 | np.int64(buf[3]) << 24
    magic_be = np.int64(buf[3]) | np.int64(buf[2]) << 8 | np.int64(buf[1]) << 16 | np.int64(buf[0]) << 24
    if magic_le in (PCAP_MAGIC_US, PCAP_MAGIC_NS) or magic_be in (PCAP_MAGIC_US, PCAP_MAGIC_NS):
        rec = _walk_pcap(str(path), buf, compressed, magic_le, magic_be)
    elif magic_le == PCAPNG_SHB:
        rec = _walk_pcapng(str(path), buf, compressed)
    else:
        raise CaptureError(path, f"not a pcap or pcapng file (magic 0x{bytes(buf[:4]).hex()})")
    rec.warnings[:0] = warnings
    rec.cut_off = rec.cut_off or gz_cut
    return rec


@njit(cache=True)
def _pcap_loop(buf, be, frac_mult, max_caplen, fill, offset, caplen, origlen, ts_ns):
    """Walk pcap record headers from byte 24; fill the arrays on the second pass."""
    n = buf.size
    p = 24
    i = 0
    status = OK
    detail = 0
    while p < n:
        if p + 16 > n:
            status = CUT
            break
        incl = u32(buf, p + 8, be)
        if incl > max_caplen:
            status = TOO_BIG
            detail = incl
            break
        if p + 16 + incl > n:
            status = CUT
            break
        if fill:
            offset[i] = p + 16
            caplen[i] = incl
            origlen[i] = u32(buf, p + 12, be)
            ts_ns[i] = u32(buf, p, be) * 1_000_000_000 + u32(buf, p + 4, be) * frac_mult
        i += 1
        p += 16 + incl
    return i, status, detail


def _walk_pcap(path: str, buf: np.ndarray, compressed: bool, magic_le: int, magic_be: int) -> Records:
    """Walk a classic pcap file: 24-byte header, then 16-byte record headers."""
    be = magic_be in (PCAP_MAGIC_US, PCAP_MAGIC_NS)
    ns = (magic_be if be else magic_le) == PCAP_MAGIC_NS
    if buf.size < 24:
        raise CaptureError(path, f"pcap file header cut off ({buf.size} of 24 bytes)")
    h = bytes(buf[:24])
    order = "big" if be else "little"
    snaplen = int.from_bytes(h[16:20], order)
    linktype = int.from_bytes(h[20:24], order) & 0xFFFF
    max_caplen = max(snaplen, MAX_RECORD)
    frac_mult = 1 if ns else 1000
    empty = np.zeros(0, np.int64)
    count, status, detail = _pcap_loop(buf, be, frac_mult, max_caplen, False, empty, empty, empty, empty)
    offset, caplen, origlen, ts = (np.empty(count, np.int64) for _ in range(4))
    _pcap_loop(buf, be, frac_mult, max_caplen, True, offset, caplen, origlen, ts)
    rec = Records(
        path=path, buf=buf, fmt="pcap", compressed=compressed, byte_order=order,
        offset=offset, caplen=caplen, origlen=origlen, ts_ns=ts, iface=np.zeros(count, np.int64),
        rec_start=offset - 16, rec_len=caplen + 16,
        if_linktype=np.array([linktype], np.int64), if_res_kind=np.zeros(1, np.int64),
        if_res_exp=np.array([9 if ns else 6], np.int64),
        other_start=empty, other_len=empty, other_type=empty,
    )
    if status == TOO_BIG:
        raise CaptureError(path, f"record length {detail} exceeds the limit {max_caplen} (corrupt file)", count + 1)
    if status == CUT:
        rec.cut_off = True
        rec.warnings.append(f"{path}: frame {count + 1}: file ends inside the record (cut off); kept {count} frames")
    return rec


@njit(cache=True)
def _ts_ns(units, kind, exp, tsoff):
    """Convert pcapng timestamp units (10^-exp or 2^-exp s) plus an offset in seconds to ns."""
    if kind == 0:
        if exp <= 9:
            m = 1
            for _ in range(9 - exp):
                m *= 10
            return units * m + tsoff * 1_000_000_000
        d = 1
        for _ in range(exp - 9):
            d *= 10
        return units // d + tsoff * 1_000_000_000
    sec = units >> exp
    frac = units & ((1 << exp) - 1)
    if exp <= 32:
        frac_ns = (frac * 1_000_000_000) >> exp
    else:
        frac_ns = int(frac / (2.0**exp) * 1e9)
    return (sec + tsoff) * 1_000_000_000 + frac_ns


@njit(cache=True)
def _pcapng_loop(buf, fill, offset, caplen, origlen, ts_ns, iface, bstart, blen_out,
                 if_link, if_snap, if_kind, if_exp, if_off, o_start, o_len, o_type, orders):
    """Walk pcapng blocks; count on the first pass, fill the arrays on the second."""
    n = buf.size
    p = 0
    be = False
    npkt = 0
    nif = 0
    base = 0
    noth = 0
    nsec = 0
    status = OK
    detail = 0
    while p < n:
        if p + 12 > n:
            status = CUT
            break
        if u32(buf, p, False) == 0x0A0D0D0A:
            bom = u32(buf, p + 8, False)
            if bom == 0x1A2B3C4D:
                be = False
            elif bom == 0x4D3C2B1A:
                be = True
            else:
                status = BAD_BOM
                detail = bom
                break
            base = nif
            if fill:
                orders[nsec] = 1 if be else 0
            nsec += 1
        elif nsec == 0:
            status = NO_SHB
            break
        btype = u32(buf, p, be)
        blen = u32(buf, p + 4, be)
        if blen < 12 or blen % 4 != 0:
            status = BAD_BLOCK_LEN
            detail = blen
            break
        if p + blen > n:
            status = CUT
            break
        if u32(buf, p + blen - 4, be) != blen:
            status = LEN_MISMATCH
            detail = blen
            break
        body = p + 8
        end = p + blen - 4
        if btype == 6 or btype == 2 or btype == 3:
            if btype == 3:
                if blen < 16:
                    status = SHORT_BLOCK
                    detail = btype
                    break
                ifid = 0
                data = body + 4
                orig = u32(buf, body, be)
                cap = orig
                if cap > end - data:
                    cap = end - data
            else:
                if blen < 32:
                    status = SHORT_BLOCK
                    detail = btype
                    break
                if btype == 6:
                    ifid = u32(buf, body, be)
                else:
                    ifid = u16(buf, body, be)
                data = body + 20
                cap = u32(buf, body + 12, be)
                orig = u32(buf, body + 16, be)
                if cap > end - data:
                    status = CAPLEN_LIES
                    detail = cap
                    break
            if base + ifid >= nif:
                status = BAD_IFACE
                detail = ifid
                break
            if fill:
                g = np.int64(base) + np.int64(ifid)
                if btype == 3:
                    if if_snap[g] > 0 and cap > if_snap[g]:
                        cap = if_snap[g]
                    ts_ns[npkt] = 0
                else:
                    units = (u32(buf, body + 4, be) << 32) | u32(buf, body + 8, be)
                    ts_ns[npkt] = _ts_ns(units, if_kind[g], if_exp[g], if_off[g])
                offset[npkt] = data
                caplen[npkt] = cap
                origlen[npkt] = orig
                iface[npkt] = g
                bstart[npkt] = p
                blen_out[npkt] = blen
            npkt += 1
        else:
            if btype == 1:
                if blen < 20:
                    status = SHORT_BLOCK
                    detail = btype
                    break
                if fill:
                    if_link[nif] = u16(buf, body, be)
                    if_snap[nif] = u32(buf, body + 4, be)
                    if_kind[nif] = 0
                    if_exp[nif] = 6
                    if_off[nif] = 0
                    q = body + 8
                    while q + 4 <= end:
                        code = u16(buf, q, be)
                        olen = u16(buf, q + 2, be)
                        if code == 0 or q + 4 + olen > end:
                            break
                        if code == 9 and olen >= 1:
                            r = np.int64(buf[q + 4])
                            if_kind[nif] = r >> 7
                            if_exp[nif] = r & 0x7F
                        elif code == 14 and olen >= 8:
                            hi = u32(buf, q + 4, be)
                            lo = u32(buf, q + 8, be)
                            v = (hi << 32) | lo if be else (lo << 32) | hi
                            if_off[nif] = v
                        q += 4 + ((olen + 3) // 4) * 4
                nif += 1
            if fill:
                o_start[noth] = p
                o_len[noth] = blen
                o_type[noth] = btype
            noth += 1
        p += blen
    return npkt, nif, noth, nsec, status, detail


def _walk_pcapng(path: str, buf: np.ndarray, compressed: bool) -> Records:
    """Walk a pcapng file: sections, interfaces (link type, if_tsresol, if_tsoffset), packet blocks."""
    e = np.zeros(0, np.int64)
    npkt, nif, noth, nsec, status, detail = _pcapng_loop(
        buf, False, e, e, e, e, e, e, e, e, e, e, e, e, e, e, e, e)
    pk = [np.zeros(npkt, np.int64) for _ in range(7)]
    ifa = [np.zeros(nif, np.int64) for _ in range(5)]
    ot = [np.zeros(noth, np.int64) for _ in range(3)]
    orders = np.zeros(nsec, np.int64)
    _pcapng_loop(buf, True, *pk, *ifa, *ot, orders)
    offset, caplen, origlen, ts, iface, bstart, blen = pk
    if_link, _if_snap, if_kind, if_exp, _if_off = ifa
    frame = npkt + 1
    if status == BAD_BOM:
        raise CaptureError(path, f"bad pcapng byte-order magic 0x{detail:08x}", frame)
    if status == NO_SHB:
        raise CaptureError(path, "pcapng block before the first section header block", frame)
    if status == BAD_BLOCK_LEN:
        raise CaptureError(path, f"pcapng block length {detail} is invalid (must be >= 12 and a multiple of 4)", frame)
    if status == LEN_MISMATCH:
        raise CaptureError(path, f"pcapng block length {detail} does not match its trailing copy (corrupt block)", frame)
    if status == CAPLEN_LIES:
        raise CaptureError(path, f"packet block captured length {detail} exceeds the block length", frame)
    if status == BAD_IFACE:
        raise CaptureError(path, f"packet block refers to undefined interface {detail}", frame)
    if status == SHORT_BLOCK:
        raise CaptureError(path, f"pcapng block of type {detail} is too short", frame)
    order = {0: "little", 1: "big"}
    uniq = sorted(set(orders.tolist()))
    rec = Records(
        path=path, buf=buf, fmt="pcapng", compressed=compressed,
        byte_order=order[uniq[0]] if len(uniq) == 1 else "mixed",
        offset=offset, caplen=caplen, origlen=origlen, ts_ns=ts, iface=iface,
        rec_start=bstart, rec_len=blen, if_linktype=if_link, if_res_kind=if_kind, if_res_exp=if_exp,
        other_start=ot[0], other_len=ot[1], other_type=ot[2],
    )
    if status == CUT:
        rec.cut_off = True
        rec.warnings.append(
            f"{path}: frame {frame}: file ends inside a pcapng block (cut off); kept {npkt} frames")
    return rec
