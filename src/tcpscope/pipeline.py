"""One capture, end to end: decode, analyse, write the Parquet tables and capture.json."""

from __future__ import annotations

from pathlib import Path

from tcpscope.analysis import Analysis, Direction, analyze
from tcpscope.atomic import write_parquet
from tcpscope.decode import Decoded, decode_capture
from tcpscope.decode.info import CaptureInfo
from tcpscope.decode.table import empty_packets
from tcpscope.errors import CaptureError
from tcpscope.labels import empty_labels, flow_labels, join_labels, match_host
from tcpscope.stalls import STALL_FLOOR, add_stall_summary, detect_stalls
from tcpscope.timing import stage

OUTPUTS = ("segments.parquet", "flows.parquet", "stalls.parquet", "capture.json")


def analyze_capture(
    capture: str | Path,
    out_dir: str | Path,
    device: str | None = None,
    server: str | None = None,
    port: int | None = None,
    direction: Direction = "auto",
    host: str | None = None,
    labels: bool = True,
    decoded: Decoded | None = None,
    analysis: Analysis | None = None,
    stall_floor: float = STALL_FLOOR,
) -> Analysis:
    """Decode `capture`, analyse it and write OUTPUTS into `out_dir` (each atomically).

    capture.json is written last (and one left by an earlier run is removed first), so its
    presence means the Parquet files beside it are complete and from this run.
    flows carry the TLS/HTTP labels of `tcpscope.labels` (null with labels=False, or
    without tshark: then a warning in capture.json says why); `host` (a glob such as `*.qpic.cn`)
    keeps in `matched` only the connections whose SNI or HTTP Host matches it.
    `decoded` and `analysis`, when given, stand for decoding and `analyze()`: a capture
    analysed in shards (tcpscope.shard, workflow rule shard_merge) passes its merged
    analysis and gets the same outputs. `stall_floor` (s) is the smallest stall threshold
    (docs/stalls.md; 0: tapo's min(2 SRTT, RTO) alone).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # a capture.json from an earlier run would vouch for the tables this run is about to replace
    (out / "capture.json").unlink(missing_ok=True)
    if decoded is None:
        with stage("decode"):
            decoded = decode_capture(capture)
    if analysis is None:
        with stage("analysis"):
            analysis = analyze(decoded.packets, device=device, server=server, port=port, direction=direction)
    result = analysis
    warnings = decoded.info.warnings
    labels = labels and decoded.info.status != "failed"  # nothing to label in a failed capture
    with stage("labels"):
        found = (
            flow_labels(capture, result.segments, warnings=warnings, hello_frames=decoded.hello_frames)
            if labels
            else empty_labels()
        )
    flows = match_host(join_labels(result.flows, found), host)
    if host and found.is_empty():
        warnings.append(f"host pattern {host!r}: the capture has no TLS SNI or HTTP Host label, no connection matched")
    with stage("stalls"):
        stalls = detect_stalls(result.segments, flows, floor=stall_floor)  # docs/stalls.md
    result = Analysis(result.segments, add_stall_summary(flows, stalls))
    with stage("write"):
        write_parquet(result.segments, out / "segments.parquet")
        write_parquet(result.flows, out / "flows.parquet")
        write_parquet(stalls, out / "stalls.parquet")
        decoded.info.write_json(out / "capture.json")
    return result


def failed_decode(capture: str | Path, error: CaptureError) -> Decoded:
    """What decoding gives for a capture that cannot be decoded: no packets, and a CaptureInfo
    with `status` "failed" and `error` (the one-line reason)."""
    info = CaptureInfo(
        path=str(capture), format="unknown", compressed=False, byte_order="", ts_resolution="", linktypes=[],
        frames=0, tcp_packets=0, warnings=[str(error)], status="failed", error=str(error),
    )
    return Decoded(empty_packets(), info)


def write_failure(capture: str | Path, out_dir: str | Path, error: CaptureError) -> Analysis:
    """Write the failure marker of a capture that cannot be decoded: OUTPUTS with empty tables of
    the usual columns and a capture.json with `"status": "failed"` and `"error"` (the one-line reason).

    The workflow's analyze rule writes it on a CaptureError so `--keep-going` runs finish and
    the metric tables show the capture as failed instead of dropping it (README "When a capture
    fails"); the CLI does not (it exits with status 2).
    """
    return analyze_capture(capture, out_dir, labels=False, decoded=failed_decode(capture, error))
