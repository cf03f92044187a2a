"""IP and TCP headers: locate TCP in every frame, read fixed fields (compiled loops) and addresses as text."""

from __future__ import annotations

import ipaddress

import numpy as np
import polars as pl
from numba import njit

from tcpscope.decode._bytes import be16, be32
from tcpscope.decode.linklayer import MALFORMED, NON_TCP, TCP, TRUNCATED

# Minimum captured TCP header bytes to keep a packet: ports, seq, ack, offset/flags and window
# (bytes 0..15). A frame cut before that is skipped as "truncated".
TCP_MIN_CAPTURED = 16


@njit(cache=True)
def ip_kernel(buf, rec_off, caplen, origlen, net_off, ipver, reason, addr_ok, tcp_off, thl, paylen):
    """Walk IPv4 / IPv6 (+ extension headers) to the TCP header; payload length from the IP length."""
    for i in range(net_off.size):
        addr_ok[i] = False
        tcp_off[i] = 0
        thl[i] = 0
        paylen[i] = 0
        if reason[i] != TCP:
            continue
        p = net_off[i]
        end = rec_off[i] + caplen[i]
        wire = origlen[i] - (p - rec_off[i])  # IP bytes on the wire (for length fields of 0)
        if ipver[i] == 4:
            if p + 20 > end:
                reason[i] = TRUNCATED
                continue
            if np.int64(buf[p]) >> 4 != 4:
                reason[i] = MALFORMED
                continue
            addr_ok[i] = True
            ihl = (np.int64(buf[p]) & 0xF) * 4
            tot = be16(buf, p + 2)
            if tot == 0:  # TSO / offloaded segment: the length field is not filled in
                tot = wire
            if ihl < 20 or tot < ihl:
                reason[i] = MALFORMED
                continue
            if (be16(buf, p + 6) & 0x1FFF) != 0 or buf[p + 9] != 6:
                reason[i] = NON_TCP  # not TCP, or a non-first fragment (no TCP header)
                continue
            t = p + ihl
            iplen = tot - ihl
        else:
            if p + 40 > end:
                reason[i] = TRUNCATED
                continue
            if np.int64(buf[p]) >> 4 != 6:
                reason[i] = MALFORMED
                continue
            addr_ok[i] = True
            plen = be16(buf, p + 4)
            if plen == 0:  # jumbogram / offload: use the wire length
                plen = wire - 40
            nh = np.int64(buf[p + 6])
            t = p + 40
            r = TCP
            while nh != 6:
                if nh == 0 or nh == 43 or nh == 60 or nh == 51:
                    if t + 2 > end:
                        r = TRUNCATED
                        break
                    hl = (np.int64(buf[t + 1]) + 2) * 4 if nh == 51 else (np.int64(buf[t + 1]) + 1) * 8
                    nh = np.int64(buf[t])
                    t += hl
                elif nh == 44:
                    if t + 8 > end:
                        r = TRUNCATED
                        break
                    if (be16(buf, t + 2) >> 3) != 0:
                        r = NON_TCP
                        break
                    nh = np.int64(buf[t])
                    t += 8
                else:
                    r = NON_TCP
                    break
            if r != TCP:
                reason[i] = r
                continue
            iplen = plen - (t - p - 40)
        if t + TCP_MIN_CAPTURED > end:
            reason[i] = TRUNCATED
            continue
        h = (np.int64(buf[t + 12]) >> 4) * 4
        if h < 20 or iplen < h:
            reason[i] = MALFORMED
            continue
        tcp_off[i] = t
        thl[i] = h
        paylen[i] = iplen - h


def ip_layer(buf: np.ndarray, offset: np.ndarray, caplen: np.ndarray, origlen: np.ndarray,
             net_off: np.ndarray, ipver: np.ndarray, reason: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Run the IP kernel (updates reason in place); return (addr_ok, tcp_off, thl, paylen)."""
    n = net_off.size
    addr_ok = np.empty(n, np.bool_)
    tcp_off, thl, paylen = (np.empty(n, np.int64) for _ in range(3))
    ip_kernel(buf, offset, caplen, origlen, net_off, ipver, reason, addr_ok, tcp_off, thl, paylen)
    return addr_ok, tcp_off, thl, paylen


def gather_be32(buf: np.ndarray, off: np.ndarray) -> np.ndarray:
    """Network-order 32-bit values at every offset (vectorised gather)."""
    b = [buf[off + k].astype(np.uint32) for k in range(4)]
    return (b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]


@njit(cache=True)
def fields_kernel(buf, net_off, ipver, tcp_off, sport, dport, seq, ack, flags, win, ip_id, ttl, src4, dst4):
    """Fixed-position IP/TCP fields and IPv4 address keys of every TCP packet, in one pass."""
    for i in range(tcp_off.size):
        t = tcp_off[i]
        p = net_off[i]
        sport[i] = be16(buf, t)
        dport[i] = be16(buf, t + 2)
        seq[i] = be32(buf, t + 4)
        ack[i] = be32(buf, t + 8)
        flags[i] = be16(buf, t + 12) & 0x1FF
        win[i] = be16(buf, t + 14)
        if ipver[i] == 4:
            ip_id[i] = be16(buf, p + 4)
            ttl[i] = buf[p + 8]
            src4[i] = be32(buf, p + 12)
            dst4[i] = be32(buf, p + 16)
        else:
            ip_id[i] = 0
            ttl[i] = buf[p + 7]
            src4[i] = 0
            dst4[i] = 0


def tcp_ip_fields(buf: np.ndarray, net_off: np.ndarray, ipver: np.ndarray, tcp_off: np.ndarray
                  ) -> dict[str, np.ndarray]:
    """Ports, raw seq/ack, 9-bit flags, window, IPv4 ID, TTL / hop limit, IPv4 address keys."""
    n = tcp_off.size
    f = {
        "sport": np.empty(n, np.uint16), "dport": np.empty(n, np.uint16),
        "seq": np.empty(n, np.uint32), "ack": np.empty(n, np.uint32),
        "flags": np.empty(n, np.uint16), "win": np.empty(n, np.uint16),
        "ip_id": np.empty(n, np.uint32), "ttl": np.empty(n, np.uint8),
        "src4": np.empty(n, np.uint32), "dst4": np.empty(n, np.uint32),
    }
    fields_kernel(buf, net_off, ipver, tcp_off, *f.values())
    return f


def address_keys(buf: np.ndarray, net_off: np.ndarray, ipver: np.ndarray, which: str) -> np.ndarray:
    """17-byte keys (version byte + 16 address bytes, v4 left-aligned) of the src or dst address."""
    v4 = ipver == 4
    start = np.where(v4, net_off + (12 if which == "src" else 16), net_off + (8 if which == "src" else 24))
    keys = np.zeros((net_off.size, 17), np.uint8)
    keys[:, 0] = ipver
    keys[:, 1:5] = buf[start[:, None] + np.arange(4)]
    six = np.flatnonzero(~v4)
    if six.size:
        keys[six, 1:17] = buf[start[six, None] + np.arange(16)]
    return keys


def key_of(address: str) -> np.ndarray:
    """The 17-byte key of one textual address (for matching device IPs)."""
    ip = ipaddress.ip_address(address)
    key = np.zeros(17, np.uint8)
    key[0] = ip.version
    packed = ip.packed
    key[1:1 + len(packed)] = np.frombuffer(packed, np.uint8)
    return key


@njit(cache=True)
def _run_starts(keys):
    """Mask of the positions where the key differs from the previous one (first of each run)."""
    out = np.empty(keys.size, np.bool_)
    for i in range(keys.size):
        out[i] = i == 0 or keys[i] != keys[i - 1]
    return out


def _unique_codes(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """np.unique of integer keys and each key's index into it (unique over runs, then a binary search)."""
    uniq = np.unique(keys[_run_starts(keys)])
    return uniq, np.searchsorted(uniq, keys).astype(np.uint32)


def address_text(buf: np.ndarray, net_off: np.ndarray, ipver: np.ndarray, src4: np.ndarray, dst4: np.ndarray
                 ) -> tuple[pl.Series, pl.Series]:
    """src and dst as canonical text; only the unique addresses go through ipaddress."""
    n = net_off.size
    code = np.zeros(2 * n, np.uint32)
    v4 = np.concatenate([ipver == 4, ipver == 4])
    names: list[str] = []
    if v4.any():
        keys = np.concatenate([src4, dst4])[v4]
        u4, c4 = _unique_codes(keys)
        code[v4] = c4
        names += [str(ipaddress.IPv4Address(int(a))) for a in u4]
    if not v4.all():
        six = np.flatnonzero(ipver != 4)
        k6 = np.concatenate([buf[(net_off[six] + 8)[:, None] + np.arange(16)],
                             buf[(net_off[six] + 24)[:, None] + np.arange(16)]])
        u6, inv6 = np.unique(k6.view(np.dtype((np.void, 16))).ravel(), return_inverse=True)
        code[~v4] = inv6.ravel() + len(names)
        names += [str(ipaddress.IPv6Address(u.tobytes())) for u in u6]
    table = pl.Series(names, dtype=pl.Utf8)
    return table.gather(code[:n]), table.gather(code[n:])
