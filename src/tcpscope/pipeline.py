"""One capture, end to end: decode, analyse, write the Parquet tables and capture.json."""

from __future__ import annotations

from pathlib import Path

from tcpscope.analysis import Analysis, Direction, analyze
from tcpscope.atomic import write_parquet
from tcpscope.decode import decode_capture

OUTPUTS = ("packets.parquet", "segments.parquet", "flows.parquet", "capture.json")


def analyze_capture(
    capture: str | Path,
    out_dir: str | Path,
    device: str | None = None,
    server: str | None = None,
    port: int | None = None,
    direction: Direction = "auto",
) -> Analysis:
    """Decode `capture`, analyse it and write OUTPUTS into `out_dir` (each atomically).

    capture.json is written last, so its presence means the Parquet files are complete.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    decoded = decode_capture(capture)
    result = analyze(decoded.packets, device=device, server=server, port=port, direction=direction)
    write_parquet(decoded.packets, out / "packets.parquet")
    write_parquet(result.segments, out / "segments.parquet")
    write_parquet(result.flows, out / "flows.parquet")
    decoded.info.write_json(out / "capture.json")
    return result
