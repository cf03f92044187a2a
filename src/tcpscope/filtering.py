"""Per-capture filter: the frames to/from the device -> pcap/pcapng with original bytes + a text listing."""

from __future__ import annotations

import os
import struct
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import polars as pl
from numba import njit

from tcpscope.decode import Layers, decode_layers, packets_table
from tcpscope.decode.fileformat import BT_ISB, PCAP_MAGIC_NS, PCAP_MAGIC_US, MAX_RECORD
from tcpscope.decode.headers import address_keys, key_of
from tcpscope.decode.linklayer import TCP
from tcpscope.errors import ConfigError, UnsupportedLinkTypeError

__all__ = ["filter_capture", "listing"]


def filter_capture(path: str | Path, device_ips: list[str] | None, out_capture: str | Path, out_text: str | Path) -> dict:
    """Write the frames whose IP src or dst is a device IP (all TCP frames when none) and a text listing.

    The capture keeps the original frame bytes and timestamps: classic pcap when the input has one link
    type and one (us or ns) timestamp resolution, pcapng otherwise. Both outputs appear atomically.
    """
    device_ips = _device_list(device_ips)
    try:
        lay = decode_layers(path)
    except UnsupportedLinkTypeError as exc:  # a link type only tshark reads (decode.fallback)
        from tcpscope.decode.fallback import filter_with_tshark, tshark_path

        if tshark_path() is None:
            raise
        return filter_with_tshark(path, device_ips, out_capture, out_text, exc)
    keep = device_frames(lay, device_ips) if device_ips else lay.reason == TCP
    rows = np.flatnonzero(keep)
    tcp_rows = rows[lay.reason[rows] == TCP]
    data, fmt = capture_bytes(lay, rows)
    lines = listing(packets_table(lay, tcp_rows), nanoseconds=_resolution(lay) == (0, 9))
    with ExitStack() as stack:
        tmp_cap = _tmp_for(Path(out_capture), stack)
        tmp_txt = _tmp_for(Path(out_text), stack)
        data.tofile(tmp_cap)
        pl.DataFrame({"line": lines}).write_csv(tmp_txt, include_header=False, quote_style="never")
        os.replace(tmp_cap, out_capture)
        os.replace(tmp_txt, out_text)
    return {
        "frames": int(lay.rec.offset.size),
        "kept_frames": int(rows.size),
        "tcp_packets": int(tcp_rows.size),
        "format": fmt,
        "device_ips": list(device_ips),
    }


def _device_list(device_ips: list[str] | None) -> list[str]:
    """The non-empty device IPs, validated (None or "" entries mean "no device")."""
    out = []
    for ip in device_ips or []:
        if ip is None or str(ip).strip() == "":
            continue
        try:
            key_of(str(ip).strip())
        except ValueError:
            raise ConfigError(f"device {ip!r} is not an IP address") from None
        out.append(str(ip).strip())
    return out


def _tmp_for(target: Path, stack: ExitStack) -> Path:
    """A temporary name beside target, removed on exit if it was not renamed into place."""
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    stack.callback(lambda: tmp.unlink(missing_ok=True))
    return tmp


def device_frames(lay: Layers, device_ips: list[str]) -> np.ndarray:
    """Boolean mask of the frames whose captured IP src or dst is one of device_ips."""
    rows = np.flatnonzero(lay.addr_ok)
    keep = np.zeros(lay.reason.size, np.bool_)
    if rows.size == 0:
        return keep
    net_off, ipver = lay.net_off[rows], lay.ipver[rows]
    src = address_keys(lay.rec.buf, net_off, ipver, "src")
    dst = address_keys(lay.rec.buf, net_off, ipver, "dst")
    hit = np.zeros(rows.size, np.bool_)
    for ip in device_ips:  # a handful of device addresses, each compared against all frames at once
        k = key_of(ip)
        hit |= (src == k).all(axis=1) | (dst == k).all(axis=1)
    keep[rows[hit]] = True
    return keep


def _resolution(lay: Layers) -> tuple[int, int] | None:
    """The single timestamp resolution (kind, exponent) of the capture, or None when mixed."""
    res = set(zip(lay.rec.if_res_kind.tolist(), lay.rec.if_res_exp.tolist()))
    return res.pop() if len(res) == 1 else None


def capture_bytes(lay: Layers, rows: np.ndarray) -> tuple[np.ndarray, str]:
    """The output file bytes for the kept frames, and its format ("pcap" or "pcapng")."""
    rec = lay.rec
    if rec.fmt == "pcap":
        return _concat(rec.buf, np.array([0]), np.array([24]), rec.rec_start[rows], rec.rec_len[rows]), "pcap"
    res = _resolution(lay)
    if len(set(rec.if_linktype.tolist())) == 1 and res in ((0, 6), (0, 9)):
        return _pcapng_to_pcap(lay, rows, nanoseconds=res == (0, 9)), "pcap"
    other = rec.other_type != BT_ISB  # interface statistics would describe the unfiltered capture
    starts = np.concatenate([rec.other_start[other], rec.rec_start[rows]])
    lens = np.concatenate([rec.other_len[other], rec.rec_len[rows]])
    order = np.argsort(starts, kind="stable")
    starts, lens = starts[order], lens[order]
    out = _concat(rec.buf, starts[:0], lens[:0], starts, lens)
    # section header blocks: the section length no longer holds; -1 means "not given"
    out_pos = np.concatenate([[0], np.cumsum(lens)[:-1]])
    is_shb = (rec.buf[starts] == 0x0A) & (rec.buf[starts + 1] == 0x0D) & (rec.buf[starts + 2] == 0x0D)
    for p in out_pos[is_shb]:  # one per section, not per packet
        out[p + 16:p + 24] = 0xFF
    return out, "pcapng"


def _concat(buf: np.ndarray, hstart: np.ndarray, hlen: np.ndarray, starts: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """Concatenate byte ranges of buf (header ranges first) into a new array."""
    total = int(hlen.sum() + lens.sum())
    out = np.empty(total, np.uint8)
    pos = _copy_ranges(buf, hstart.astype(np.int64), hlen.astype(np.int64), out, 0)
    _copy_ranges(buf, starts.astype(np.int64), lens.astype(np.int64), out, pos)
    return out


@njit(cache=True)
def _copy_ranges(buf, starts, lens, out, pos):
    """Copy the ranges buf[starts[i]:starts[i]+lens[i]] one after the other into out from pos."""
    for i in range(starts.size):
        n = lens[i]
        out[pos:pos + n] = buf[starts[i]:starts[i] + n]
        pos += n
    return pos


@njit(cache=True)
def _pcap_records(buf, offset, caplen, origlen, ts_ns, ns, out, pos):
    """Write little-endian pcap record headers and frame bytes into out from pos."""
    for i in range(offset.size):
        sec = ts_ns[i] // 1_000_000_000
        frac = ts_ns[i] - sec * 1_000_000_000
        if not ns:
            frac //= 1000
        vals = (sec, frac, caplen[i], origlen[i])
        for k in range(4):
            v = vals[k]
            for b in range(4):
                out[pos + 4 * k + b] = (v >> (8 * b)) & 0xFF
        pos += 16
        n = caplen[i]
        out[pos:pos + n] = buf[offset[i]:offset[i] + n]
        pos += n
    return pos


def _pcapng_to_pcap(lay: Layers, rows: np.ndarray, nanoseconds: bool) -> np.ndarray:
    """Classic little-endian pcap of the kept frames of a single-link-type pcapng."""
    rec = lay.rec
    caplen = rec.caplen[rows]
    header = np.frombuffer(
        np.array([PCAP_MAGIC_NS if nanoseconds else PCAP_MAGIC_US, 0x00040002, 0, 0,
                  max(MAX_RECORD, int(caplen.max()) if caplen.size else 0), int(rec.if_linktype[0])],
                 dtype="<u4").tobytes(), np.uint8)
    out = np.empty(24 + int(caplen.sum()) + 16 * rows.size, np.uint8)
    out[:24] = header
    _pcap_records(rec.buf, rec.offset[rows], caplen, rec.origlen[rows], rec.ts_ns[rows], nanoseconds, out, 24)
    return out


# tcpdump's order: FIN SYN RST PSH ACK URG ECE CWR (then NS/AE, which tcpdump does not print as a letter)
_FLAG_CHARS = ((0x01, "F"), (0x02, "S"), (0x04, "R"), (0x08, "P"), (0x10, "."), (0x20, "U"), (0x40, "E"),
               (0x80, "W"), (0x100, "N"))


def listing(packets: pl.DataFrame, nanoseconds: bool = False) -> pl.Series:
    """tcpdump-like one-line-per-packet text (raw seq/ack as `tcpdump -S`), built with polars string ops."""
    c = pl.col
    flags = pl.concat_str([pl.when((c("flags") & bit) != 0).then(pl.lit(ch)).otherwise(pl.lit(""))
                           for bit, ch in _FLAG_CHARS])
    sack = pl.concat_str(
        [pl.lit("sack "), c("sack_left").list.len().cast(pl.Utf8), pl.lit(" ")]
        + [pl.concat_str([pl.lit("{"), c("sack_left").list.get(i, null_on_oob=True).cast(pl.Utf8), pl.lit(":"),
                          c("sack_right").list.get(i, null_on_oob=True).cast(pl.Utf8), pl.lit("}")])
           for i in range(4)],
        ignore_nulls=True,
    )
    opts = pl.concat_str(
        [
            pl.format("mss {}", c("opt_mss")),
            pl.when(c("opt_sackok")).then(pl.lit("sackOK")),
            pl.format("TS val {} ecr {}", c("opt_tsval"), c("opt_tsecr")),
            pl.format("wscale {}", c("opt_wscale")),
            pl.when(c("sack_left").list.len() > 0).then(sack),
            pl.when(~c("opts_complete")).then(pl.lit("|cut")),
        ],
        separator=",",
        ignore_nulls=True,
    )
    fmt = "%Y-%m-%d %H:%M:%S%.9f" if nanoseconds else "%Y-%m-%d %H:%M:%S%.6f"
    line = pl.concat_str(
        [
            pl.from_epoch(c("ts_ns"), time_unit="ns").dt.strftime(fmt),
            pl.when(c("ip_version") == 6).then(pl.lit(" IP6 ")).otherwise(pl.lit(" IP ")),
            c("src"), pl.lit("."), c("sport").cast(pl.Utf8), pl.lit(" > "),
            c("dst"), pl.lit("."), c("dport").cast(pl.Utf8),
            pl.lit(": Flags ["), pl.when(flags == "").then(pl.lit("none")).otherwise(flags), pl.lit("]"),
            pl.lit(", seq "), c("seq").cast(pl.Utf8),
            pl.lit(", ack "), c("ack").cast(pl.Utf8),
            pl.lit(", win "), c("win").cast(pl.Utf8),
            pl.when(opts != "").then(pl.concat_str([pl.lit(", options ["), opts, pl.lit("]")])).otherwise(pl.lit("")),
            pl.lit(", length "), c("len").cast(pl.Utf8),
        ]
    )
    return packets.select(line.alias("line")).to_series()


def write_filter_failure(out_capture: str | Path, out_text: str | Path, error: Exception) -> None:
    """The filter's failure marker for a capture that cannot be decoded (workflow rule `filter`):
    a classic pcap with no records and a listing whose only line is `# capture failed: <reason>`."""
    header = np.frombuffer(struct.pack("<IHHiIII", PCAP_MAGIC_US, 2, 4, 0, 0, MAX_RECORD, 1), np.uint8)
    with ExitStack() as stack:
        tmp_cap = _tmp_for(Path(out_capture), stack)
        tmp_txt = _tmp_for(Path(out_text), stack)
        header.tofile(tmp_cap)
        tmp_txt.write_text(f"# capture failed: {error}\n", encoding="utf-8")
        os.replace(tmp_cap, out_capture)
        os.replace(tmp_txt, out_text)
