"""Fallback decoder: tshark reads captures whose link type tcpscope's decoder does not.

`decode_capture` calls `decode_with_tshark` only when its own decoder raises
`UnsupportedLinkTypeError` (no frame on a link type of docs/decoder.md) and tshark is
installed. The container is still walked by `fileformat.walk` (frame count, timestamps,
interfaces and link types come from the file exactly as for the main decoder); tshark
dissects the frames (`tshark -T fields`) and its fields are turned into the same `packets`
table (`PACKETS_SCHEMA`). `info.decoder` is `"tshark"`.

Differences from the main decoder (docs/decoder.md, "Fallback through tshark"): tshark
reassembles IP fragments (TCP shows on the last fragment), TCP carried inside ICMP errors
is skipped as `non_tcp`, `ip_version` is 4 when the frame has an IPv4 header at all, and
`opts_complete` is false when the bytes cut by the snap length exceed the TCP payload.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from tcpscope.decode.fileformat import walk
from tcpscope.decode.info import SKIP_REASONS, CaptureInfo
from tcpscope.decode.table import PACKETS_SCHEMA, empty_packets
from tcpscope.errors import CaptureError, UnsupportedLinkTypeError

if TYPE_CHECKING:
    from tcpscope.decode import Decoded

__all__ = ["FIELDS", "decode_with_tshark", "tshark_fields", "tshark_path"]

#: tshark fields read per frame (every frame, no display filter: the skipped ones are counted).
FIELDS: tuple[str, ...] = (
    "frame.number", "frame.len", "frame.cap_len", "vlan.id",
    "ip.version", "ip.src", "ip.dst", "ip.id", "ip.ttl",
    "ipv6.version", "ipv6.src", "ipv6.dst", "ipv6.hlim",
    "icmp.type", "icmpv6.type",
    "tcp.srcport", "tcp.dstport", "tcp.seq_raw", "tcp.ack_raw", "tcp.flags", "tcp.window_size_value",
    "tcp.len", "tcp.options.mss_val", "tcp.options.wscale.shift", "tcp.options.sack_perm",
    "tcp.options.timestamp.tsval", "tcp.options.timestamp.tsecr", "tcp.options.sack_le", "tcp.options.sack_re",
)

#: Preferences: raw sequence numbers, no reassembly or analysis (speed), no name resolution (-n).
PREFS: tuple[str, ...] = (
    "tcp.relative_sequence_numbers:FALSE",
    "tcp.desegment_tcp_streams:FALSE",
    "tcp.analyze_sequence_numbers:FALSE",
    "tcp.calculate_timestamps:FALSE",
)


def tshark_path() -> str | None:
    """The tshark executable on PATH, or None."""
    return shutil.which("tshark")


def tshark_fields(path: str | Path, tshark: str | None = None) -> pl.DataFrame:
    """tshark's FIELDS for every frame of `path` (all Utf8, null when absent), one row per frame."""
    tshark = tshark or tshark_path()
    if tshark is None:
        raise CaptureError(path, "tshark is not installed (needed for this link type)")
    cmd = [tshark, "-n", "-r", str(path), "-T", "fields", "-E", "separator=\t", "-E", "occurrence=a",
           "-E", "aggregator=,", "-E", "quote=n"]
    for pref in PREFS:
        cmd += ["-o", pref]
    for f in FIELDS:
        cmd += ["-e", f]
    proc = subprocess.run(cmd, capture_output=True, stdin=subprocess.DEVNULL, check=False)
    if not proc.stdout.strip():
        if proc.returncode != 0:
            msg = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            raise CaptureError(path, f"tshark could not read the capture ({msg[-1] if msg else proc.returncode})")
        return pl.DataFrame(schema={f: pl.Utf8 for f in FIELDS})
    # a file cut short makes tshark exit non-zero after the frames it read: keep those
    return pl.read_csv(io.BytesIO(proc.stdout), separator="\t", has_header=False, new_columns=list(FIELDS),
                       infer_schema=False, quote_char=None, truncate_ragged_lines=True)


def _first(name: str) -> pl.Expr:
    """First occurrence of a field (tshark joins repeated fields with commas)."""
    return pl.col(name).str.split(",").list.first()


def _int(name: str, base: int = 10) -> pl.Expr:
    text = _first(name)
    if base == 16:
        text = text.str.strip_prefix("0x")
    return text.str.to_integer(base=base, strict=False)


def _list(name: str) -> pl.Expr:
    return (pl.when(pl.col(name).is_null()).then(pl.lit("")).otherwise(pl.col(name))
            .str.split(",").list.eval(pl.element().filter(pl.element() != "").cast(pl.UInt32)))


def decode_with_tshark(path: str | Path, cause: UnsupportedLinkTypeError | None = None) -> Decoded:
    """Decode `path` through tshark into the packets table and a CaptureInfo (decoder `tshark`).

    Raises `cause` (the main decoder's unsupported-link-type error) when tshark finds no IP in
    any frame either: tshark does not know the link type or it carries no IP.
    """
    from tcpscope.decode import Decoded

    rec = walk(path)
    n = int(rec.offset.size)
    raw = tshark_fields(path).filter(_int("frame.number").is_between(1, n))
    has_ip = pl.col("ip.version").is_not_null() | pl.col("ipv6.version").is_not_null()
    is_tcp = (pl.col("tcp.srcport").is_not_null() & pl.col("icmp.type").is_null()
              & pl.col("icmpv6.type").is_null() & has_ip)
    kind = (pl.when(is_tcp & pl.col("tcp.seq_raw").is_not_null() & pl.col("tcp.flags").is_not_null()).then(pl.lit("tcp"))
            .when(is_tcp).then(pl.lit("truncated"))
            .when(has_ip).then(pl.lit("non_tcp"))
            .otherwise(pl.lit("non_ip")))
    raw = raw.with_columns(kind.alias("_kind"))
    counts = dict(raw.group_by("_kind").len().iter_rows())
    counts["non_ip"] = counts.get("non_ip", 0) + n - raw.height  # frames tshark did not list
    tcp = raw.filter(pl.col("_kind") == "tcp")
    if tcp.height == 0 and raw.select(has_ip.any()).item() is not True and cause is not None:
        raise UnsupportedLinkTypeError(cause.path, cause.linktype, f"{cause.reason}; tshark finds no IP in it either",
                                       cause.frame)
    packets = _packets(tcp, rec) if tcp.height else empty_packets()
    res = rec.resolution_names()
    info = CaptureInfo(
        path=rec.path, format=rec.fmt, compressed=rec.compressed, byte_order=rec.byte_order,
        ts_resolution="/".join(dict.fromkeys(res)), linktypes=[int(x) for x in rec.if_linktype],
        frames=n, tcp_packets=packets.height, skipped={r: int(counts.get(r, 0)) for r in SKIP_REASONS},
        cut_off=rec.cut_off, warnings=list(rec.warnings), decoder="tshark",
    )
    if cause is not None:
        info.warnings.append(f"{cause}: decoded through tshark")
    return Decoded(packets=packets, info=info)


def _packets(tcp: pl.DataFrame, rec) -> pl.DataFrame:
    """The packets table from tshark's fields of the TCP frames (container facts from `rec`)."""
    frame = _int("frame.number")
    idx = tcp.select((frame - 1).alias("i"))["i"].to_numpy()
    v4 = pl.col("ip.src").is_not_null()
    cut = _int("frame.len") - _int("frame.cap_len")
    table = tcp.select(
        frame.alias("frame"),
        pl.Series("ts_ns", rec.ts_ns[idx]),
        pl.Series("iface", rec.iface[idx]),
        pl.Series("linktype", rec.linktype[idx]),
        _int("vlan.id").alias("vlan"),
        pl.when(v4).then(4).otherwise(6).alias("ip_version"),
        pl.when(v4).then(_first("ip.src")).otherwise(_first("ipv6.src")).alias("src"),
        pl.when(v4).then(_first("ip.dst")).otherwise(_first("ipv6.dst")).alias("dst"),
        _int("tcp.srcport").alias("sport"),
        _int("tcp.dstport").alias("dport"),
        _int("tcp.seq_raw").alias("seq"),
        _int("tcp.ack_raw").alias("ack"),
        _int("tcp.flags", 16).alias("flags"),
        _int("tcp.window_size_value").alias("win"),
        _int("tcp.len").alias("len"),
        pl.when(v4).then(_int("ip.id", 16)).alias("ip_id"),
        pl.when(v4).then(_int("ip.ttl")).otherwise(_int("ipv6.hlim")).alias("ttl"),
        _int("tcp.options.mss_val").alias("opt_mss"),
        _int("tcp.options.wscale.shift").alias("opt_wscale"),
        pl.col("tcp.options.sack_perm").is_not_null().alias("opt_sackok"),
        _int("tcp.options.timestamp.tsval").alias("opt_tsval"),
        _int("tcp.options.timestamp.tsecr").alias("opt_tsecr"),
        _list("tcp.options.sack_le").alias("sack_left"),
        _list("tcp.options.sack_re").alias("sack_right"),
        (cut.fill_null(0) <= _int("tcp.len").fill_null(0)).alias("opts_complete"),
    )
    return table.select([pl.col(c).cast(t) for c, t in PACKETS_SCHEMA.items()])


def filter_with_tshark(path: str | Path, device_ips: list[str], out_capture: str | Path, out_text: str | Path,
                       cause: UnsupportedLinkTypeError | None = None) -> dict:
    """`filtering.filter_capture` for a link type only tshark reads: tshark writes the frames to or
    from the device (every TCP frame without device IPs); the listing comes from `decode_with_tshark`."""
    import ipaddress
    import os

    from tcpscope.filtering import listing

    decoded = decode_with_tshark(path, cause)
    rec = walk(path)
    if device_ips:
        ips = [str(ipaddress.ip_address(ip)) for ip in device_ips]
        shown = " || ".join(f"{'ipv6' if ':' in ip else 'ip'}.addr == {ip}" for ip in ips)
        packets = decoded.packets.filter(pl.col("src").is_in(ips) | pl.col("dst").is_in(ips))
    else:
        shown = "tcp"
        packets = decoded.packets
    ns = decoded.info.ts_resolution == "nanoseconds"
    single = rec.fmt == "pcap" or len(set(rec.if_linktype.tolist())) == 1 and "/" not in decoded.info.ts_resolution
    fmt = ("nsecpcap" if ns else "pcap") if single else "pcapng"
    out_capture, out_text = Path(out_capture), Path(out_text)
    tmp_cap = out_capture.with_name(f".{out_capture.name}.tmp-{os.getpid()}")
    tmp_txt = out_text.with_name(f".{out_text.name}.tmp-{os.getpid()}")
    try:
        proc = subprocess.run([tshark_path() or "tshark", "-n", "-r", str(path), "-Y", shown, "-F", fmt,
                               "-w", str(tmp_cap)], capture_output=True, stdin=subprocess.DEVNULL, check=False)
        if not tmp_cap.is_file():
            msg = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            raise CaptureError(path, f"tshark could not filter the capture ({msg[-1] if msg else proc.returncode})")
        kept = int(walk(tmp_cap).offset.size)
        lines = listing(packets, nanoseconds=ns)
        pl.DataFrame({"line": lines}).write_csv(tmp_txt, include_header=False, quote_style="never")
        os.replace(tmp_cap, out_capture)
        os.replace(tmp_txt, out_text)
    finally:
        tmp_cap.unlink(missing_ok=True)
        tmp_txt.unlink(missing_ok=True)
    return {"frames": decoded.info.frames, "kept_frames": kept, "tcp_packets": packets.height, "format": fmt,
            "device_ips": list(device_ips), "decoder": "tshark"}
