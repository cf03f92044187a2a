#!/usr/bin/env python3
"""Time `tcpscope figures` (PNG + HTML of the time-sequence and in-flight figures) on captures of
growing size: the first 1/4, 1/2 and all of CAPTURE, cut with `tcpdump -c`.

Each part is analysed once (`tcpscope analyze`, untimed), then its figures are drawn `--runs`
times; the script prints the median wall time, the peak RSS (GNU time), the sizes of the files,
and how many retransmission / spurious / reordered segments the capture has against how many
marks the PNG figure kept (decimation keeps one real mark per class per pixel column, never
none where the class has a segment: docs/figures.md).

    python benchmarks/figure_speed.py CAPTURE [--runs 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchtools import timed

MARKED = ("retransmission", "spurious_retransmission", "reordered")


def marks_kept(out: Path) -> tuple[int, int]:
    """(segments of the marked classes in segments.parquet, marker points in the PNG figure)."""
    import polars as pl

    from tcpscope.figures import build_figures

    seg = pl.read_parquet(out / "segments.parquet")
    flows = pl.read_parquet(out / "flows.parquet")
    n = seg.filter(pl.col("seg_class").is_in(MARKED)).height
    fig = build_figures(seg, flows, "x", png=True)["timeseq"]
    kept = sum(len(t.x) for t in fig.data if t.name and any(c.replace("_", " ") in t.name for c in MARKED))
    return n, kept


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("capture", type=Path)
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    if shutil.which("tcpdump") is None:
        print("figure_speed: needs tcpdump", file=sys.stderr)
        return 2
    cli = [sys.executable, "-m", "tcpscope.cli"]
    with tempfile.TemporaryDirectory(prefix="tcpscope-figbench-") as tmp:
        out_all = Path(tmp) / "all"
        timed([*cli, "analyze", str(args.capture), "-o", str(out_all)])
        import polars as pl

        total = pl.scan_parquet(out_all / "segments.parquet").select(pl.len()).collect().item()
        print(f"{'part':>5} {'packets':>9} {'figures s':>9} {'peak MB':>8} {'PNG kB':>7} {'HTML MB':>8} "
              f"{'marked segs':>11} {'marks in PNG':>12}")
        for frac in (0.25, 0.5, 1.0):
            out = out_all
            if frac < 1.0:
                cap = Path(tmp) / f"part{frac}.pcap"
                subprocess.run(["tcpdump", "-r", str(args.capture), "-c", str(int(total * frac)), "-w", str(cap)],
                               check=True, capture_output=True)
                out = Path(tmp) / f"part{frac}"
                timed([*cli, "analyze", str(cap), "-o", str(out)])
            walls, peak = [], 0.0
            for _ in range(args.runs):
                w, r = timed([*cli, "figures", str(out)])
                walls.append(w)
                peak = max(peak, r)
            figs = out / "figures"
            png = sum(f.stat().st_size for f in figs.glob("*.png")) / 1e3
            html = sum(f.stat().st_size for f in figs.glob("*.html")) / 1e6
            n, kept = marks_kept(out)
            packets = pl.scan_parquet(out / "segments.parquet").select(pl.len()).collect().item()
            print(f"{frac:>5.2f} {packets:>9} {statistics.median(walls):>9.2f} {peak:>8.0f} {png:>7.0f} "
                  f"{html:>8.1f} {n:>11} {kept:>12}")
    print(f"figures s: median of {args.runs} runs of `tcpscope figures` (both figures, PNG and HTML)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
