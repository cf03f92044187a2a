"""Tiny pcap reader for the lab's own raw-IP captures (independent of the project decoder)."""

from __future__ import annotations

import struct
from pathlib import Path

import polars as pl

from tcpscope.lab.packet import parse_ip

RAW_LINKTYPES = {12, 14, 101, 228}


def read_raw_pcap(path: str | Path) -> pl.DataFrame:
    """One row per IPv4 TCP frame of a raw-IP pcap: frame (1-based), ts_ns and the packet identity."""
    data = Path(path).read_bytes()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        raise ValueError(f"{path}: not a pcap file")
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    linktype = struct.unpack_from(e + "I", data, 20)[0] & 0x0FFFFFFF
    if linktype not in RAW_LINKTYPES:
        raise ValueError(f"{path}: link type {linktype} is not raw IP")
    rows = []
    off, frame = 24, 0
    while off + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack_from(e + "IIII", data, off)
        off += 16
        pkt = data[off : off + incl]
        off += incl
        frame += 1
        p = parse_ip(pkt)
        if p is None or p.proto != 6:
            continue
        ts = sec * 1_000_000_000 + (frac if nano else frac * 1000)
        rows.append((frame, ts, p.src, p.dst, p.sport, p.dport, p.seq, p.ack, p.flags, p.len, p.ip_id, p.tsval))
    schema = {
        "frame": pl.UInt32, "ts_ns": pl.Int64, "src": pl.Utf8, "dst": pl.Utf8,
        "sport": pl.UInt16, "dport": pl.UInt16, "seq": pl.UInt32, "ack": pl.UInt32,
        "flags": pl.UInt16, "len": pl.UInt32, "ip_id": pl.UInt32, "tsval": pl.UInt32,
    }
    return pl.DataFrame(rows, schema=schema, orient="row")
