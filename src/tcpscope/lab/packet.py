"""Minimal IPv4/TCP header parsing (relay log and the lab's own raw-IP pcap reader)."""

from __future__ import annotations

import socket
import struct
from typing import NamedTuple

SYN = 0x02


class PacketId(NamedTuple):
    """Identity of one IPv4 packet as the lab logs it; TCP fields are 0/None for other protocols."""

    ip_len: int
    proto: int
    src: str
    dst: str
    ip_id: int
    sport: int
    dport: int
    seq: int
    ack: int
    flags: int
    win: int
    len: int
    tsval: int | None


def _tsval(opts: bytes) -> int | None:
    """TSval from raw TCP options, or None."""
    i = 0
    while i < len(opts):
        kind = opts[i]
        if kind == 0:
            break
        if kind == 1:
            i += 1
            continue
        if i + 1 >= len(opts):
            break
        olen = opts[i + 1]
        if olen < 2:
            break
        if kind == 8 and olen == 10 and i + 10 <= len(opts):
            return struct.unpack_from("!I", opts, i + 2)[0]
        i += olen
    return None


def parse_ip(buf: bytes) -> PacketId | None:
    """Parse an IPv4 packet (TCP fields when TCP); None for non-IPv4 or truncated headers."""
    if len(buf) < 20 or buf[0] >> 4 != 4:
        return None
    ihl = (buf[0] & 0x0F) * 4
    ip_len, ip_id = struct.unpack_from("!HH", buf, 2)
    proto = buf[9]
    src = socket.inet_ntoa(buf[12:16])
    dst = socket.inet_ntoa(buf[16:20])
    if proto != 6 or len(buf) < ihl + 20:
        return PacketId(ip_len, proto, src, dst, ip_id, 0, 0, 0, 0, 0, 0, 0, None)
    sport, dport, seq, ack, off, flags, win = struct.unpack_from("!HHIIBBH", buf, ihl)
    doff = (off >> 4) * 4
    flags |= (off & 0x01) << 8
    tsval = _tsval(buf[ihl + 20 : ihl + doff])
    plen = max(0, ip_len - ihl - doff)
    return PacketId(ip_len, proto, src, dst, ip_id, sport, dport, seq, ack, flags, win, plen, tsval)
