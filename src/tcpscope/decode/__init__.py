"""Capture decoder: pcap / pcapng (optionally gzip) -> the `packets` table and a CaptureInfo.

Compiled loops walk the records and the headers over one np.uint8 buffer of the whole file;
columns are gathered vectorised; no per-packet Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from tcpscope.decode.fileformat import Records, walk
from tcpscope.decode.headers import address_text, ip_layer, tcp_ip_fields
from tcpscope.decode.info import SKIP_REASONS, CaptureInfo
from tcpscope.decode.linklayer import (
    REASONS,
    SUPPORTED_LINKTYPES,
    TCP,
    UNSUPPORTED,
    link_layer,
)
from tcpscope.decode.options import sack_lists, tcp_options
from tcpscope.decode.table import PACKETS_SCHEMA, column, empty_packets, list_column
from tcpscope.errors import UnsupportedLinkTypeError

__all__ = ["PACKETS_SCHEMA", "CaptureInfo", "Decoded", "decode_capture"]


@dataclass
class Decoded:
    """Result of decoding one capture: the packets table and the container info."""

    packets: pl.DataFrame
    info: CaptureInfo
    # frame numbers whose payload starts like a TLS hello or an HTTP request line (None: not
    # known, e.g. decoded by tshark); lets tcpscope.labels skip tshark without a second decode
    hello_frames: np.ndarray | None = None


@dataclass
class Layers:
    """Per-frame decode state of every record (used by decode_capture and the filter)."""

    rec: Records
    linktype: np.ndarray
    net_off: np.ndarray
    ipver: np.ndarray
    vlan: np.ndarray
    reason: np.ndarray  # 0 = TCP packet, else the skip reason index (linklayer.REASONS)
    addr_ok: np.ndarray  # the IP addresses were captured
    tcp_off: np.ndarray
    thl: np.ndarray
    paylen: np.ndarray


def decode_layers(path: str | Path) -> Layers:
    """Walk the container and decode link, IP and TCP header positions for every frame."""
    rec = walk(path)
    n = rec.offset.size
    linktype = rec.linktype
    net_off, ipver, vlan, reason = link_layer(rec.buf, rec.offset, rec.caplen, linktype)
    unsupported = reason == UNSUPPORTED
    if rec.fmt == "pcap" and int(rec.if_linktype[0]) not in SUPPORTED_LINKTYPES:
        lt = int(rec.if_linktype[0])
        raise UnsupportedLinkTypeError(path, lt, f"unsupported link type {lt}", 1 if n else None)
    if n and unsupported.all():
        lt = int(linktype[0])
        raise UnsupportedLinkTypeError(path, lt, f"unsupported link type {lt} (no decodable frames)", 1)
    addr_ok, tcp_off, thl, paylen = ip_layer(rec.buf, rec.offset, rec.caplen, rec.origlen, net_off, ipver, reason)
    return Layers(rec, linktype, net_off, ipver, vlan, reason, addr_ok, tcp_off, thl, paylen)


def packets_table(lay: Layers, rows: np.ndarray) -> pl.DataFrame:
    """Build the packets frame for the given TCP record indices (vectorised gathers)."""
    if rows.size == 0:
        return empty_packets()
    buf = lay.rec.buf
    every = rows.size == lay.rec.offset.size  # rows is then 0..n-1: use the arrays as they are

    def take(a: np.ndarray) -> np.ndarray:
        return a if every else a[rows]  # a gather would copy 12 MB per column of 1.5M packets

    net_off = take(lay.net_off)
    ipver = take(lay.ipver)
    tcp_off = take(lay.tcp_off)
    f = tcp_ip_fields(buf, net_off, ipver, tcp_off)
    cap_end = take(lay.rec.offset) + take(lay.rec.caplen)
    opt = tcp_options(buf, tcp_off, take(lay.thl), cap_end)
    src, dst = address_text(buf, net_off, ipver, f["src4"], f["dst4"])
    offsets, left, right = sack_lists(buf, opt)
    vlan = take(lay.vlan)
    cols = [
        column("frame", rows + 1),
        column("ts_ns", take(lay.rec.ts_ns)),
        column("iface", take(lay.rec.iface)),
        column("linktype", take(lay.linktype)),
        column("vlan", vlan, vlan >= 0),
        column("ip_version", ipver),
        src.alias("src"),
        dst.alias("dst"),
        *(column(c, f[c]) for c in ("sport", "dport", "seq", "ack", "flags", "win")),
        column("len", take(lay.paylen)),
        column("ip_id", f["ip_id"], ipver == 4),
        column("ttl", f["ttl"]),
        column("opt_mss", opt.mss, opt.has_mss),
        column("opt_wscale", opt.wscale, opt.has_wscale),
        pl.Series("opt_sackok", opt.sackok),
        column("opt_tsval", opt.tsval, opt.has_ts),
        column("opt_tsecr", opt.tsecr, opt.has_ts),
        list_column("sack_left", offsets, left),
        list_column("sack_right", offsets, right),
        pl.Series("opts_complete", opt.complete),
    ]
    return pl.DataFrame(cols)


_HTTP_METHODS = (b"GET ", b"POST", b"PUT ", b"HEAD", b"DELE", b"OPTI", b"PATC", b"CONN")
_FIRST_BYTES = np.array(sorted({0x16, *(m[0] for m in _HTTP_METHODS)}), np.uint8)


def opens_like_hello(lay: Layers, rows: np.ndarray) -> np.ndarray:
    """Per row: does the captured payload start like a TLS Client/ServerHello record or an
    HTTP request line? (Vectorised peek at the first 6 payload bytes.)"""
    buf = lay.rec.buf
    start = lay.tcp_off[rows].astype(np.int64) + lay.thl[rows].astype(np.int64)
    end = lay.rec.offset[rows].astype(np.int64) + lay.rec.caplen[rows].astype(np.int64)
    out = np.zeros(rows.size, np.bool_)
    first = np.where(start < end, buf[np.minimum(start, buf.size - 1)], 0)
    cand = np.flatnonzero(np.isin(first, _FIRST_BYTES))  # most payloads fail here: one gather
    if cand.size == 0:
        return out
    head = np.zeros((cand.size, 6), np.uint8)
    for k in range(6):
        at = start[cand] + k
        inside = at < end[cand]
        head[inside, k] = buf[at[inside]]
    tls = (head[:, 0] == 0x16) & (head[:, 1] == 0x03) & ((head[:, 5] == 0x01) | (head[:, 5] == 0x02))
    words = head[:, :4].copy().view(np.dtype("S4")).ravel()
    http = np.isin(words, np.array(_HTTP_METHODS, dtype="S4"))
    out[cand] = tls | http
    return out


def capture_info(lay: Layers) -> CaptureInfo:
    """Counts and container facts of a decoded capture."""
    rec = lay.rec
    counts = np.bincount(lay.reason, minlength=len(REASONS))
    res = rec.resolution_names()
    return CaptureInfo(
        path=rec.path,
        format=rec.fmt,
        compressed=rec.compressed,
        byte_order=rec.byte_order,
        ts_resolution="/".join(dict.fromkeys(res)),
        linktypes=[int(x) for x in rec.if_linktype],
        frames=int(rec.offset.size),
        tcp_packets=int(counts[TCP]),
        skipped={r: int(counts[REASONS.index(r)]) for r in SKIP_REASONS},
        cut_off=rec.cut_off,
        warnings=list(rec.warnings),
    )


def decode_capture(path: str | Path, fallback: bool = True) -> Decoded:
    """Decode every TCP packet of a pcap / pcapng (optionally gzip) file into the packets table.

    When no frame is on a link type this decoder reads and tshark is installed (and
    `fallback` is true), tshark decodes the capture instead (`decode.fallback`);
    `info.decoder` says which decoder ran (`tcpscope` or `tshark`).
    """
    try:
        lay = decode_layers(path)
    except UnsupportedLinkTypeError as exc:
        from tcpscope.decode.fallback import decode_with_tshark, tshark_path

        if not fallback or tshark_path() is None:
            raise
        return decode_with_tshark(path, exc)
    rows = np.flatnonzero(lay.reason == TCP)
    with_data = rows[lay.paylen[rows] > 0]
    hello = with_data[opens_like_hello(lay, with_data)] + 1
    return Decoded(packets=packets_table(lay, rows), info=capture_info(lay), hello_frames=hello)
