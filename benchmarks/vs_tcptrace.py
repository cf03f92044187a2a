#!/usr/bin/env python3
"""Time `tcpscope analyze` against `tcptrace -l` on one capture, side by side, in one run.

Each tool runs as its own process, alternating, several times; the script prints the median
wall time of each, their ratio, each one's peak RSS, and the same for the first 1/4 and 1/2
of the capture (cut with `tcpdump -c`) so the growth with packet count shows. tcpscope's
numba cache is warmed by one untimed run first (a fresh install compiles once, ~10 s).

    python benchmarks/vs_tcptrace.py CAPTURE [--runs 5]
    python benchmarks/make_bulk_capture.py --out /tmp/bulk.pcap   # a large real capture
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


def packets(capture: Path) -> int:
    """TCP packet count, from tcpscope's decoder (in a child process: this one stays small)."""
    code = "import sys; from tcpscope.decode import decode_capture; print(decode_capture(sys.argv[1]).packets.height)"
    out = subprocess.run([sys.executable, "-c", code, str(capture)], capture_output=True, text=True, check=True)
    return int(out.stdout)


def compare(capture: Path, runs: int, out: Path) -> dict[str, float]:
    """Alternate the two tools `runs` times on one capture; medians and peak RSS."""
    tcpscope = [sys.executable, "-m", "tcpscope.cli", "analyze", str(capture), "-o", str(out)]
    tcptrace = ["tcptrace", "-l", str(capture)]
    timed(tcpscope)  # warm the numba cache and the page cache
    timed(tcptrace)
    ours, theirs = [], []
    for _ in range(runs):
        ours.append(timed(tcpscope))
        theirs.append(timed(tcptrace))
    return {
        "tcpscope_s": statistics.median(w for w, _ in ours),
        "tcptrace_s": statistics.median(w for w, _ in theirs),
        "tcpscope_rss_mb": max(r for _, r in ours),
        "tcptrace_rss_mb": max(r for _, r in theirs),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("capture", type=Path)
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args()
    if shutil.which("tcptrace") is None or shutil.which("tcpdump") is None:
        print("vs_tcptrace: needs tcptrace and tcpdump (Debian packages)", file=sys.stderr)
        return 2
    total = packets(args.capture)
    with tempfile.TemporaryDirectory(prefix="tcpscope-bench-") as tmp:
        rows = []
        for frac in (0.25, 0.5, 1.0):
            cap = args.capture
            if frac < 1.0:
                cap = Path(tmp) / f"part{frac}.pcap"
                subprocess.run(["tcpdump", "-r", str(args.capture), "-c", str(int(total * frac)), "-w", str(cap)],
                               check=True, capture_output=True)
            n = packets(cap)
            r = compare(cap, args.runs, Path(tmp) / "out")
            rows.append((frac, n, r))
        print(f"{'part':>5} {'packets':>9} {'tcpscope s':>10} {'tcptrace s':>10} {'ratio':>6} "
              f"{'us/pkt':>7} {'tcpscope MB':>11} {'tcptrace MB':>11}")
        for frac, n, r in rows:
            ratio = r["tcptrace_s"] / r["tcpscope_s"]
            print(f"{frac:>5.2f} {n:>9} {r['tcpscope_s']:>10.2f} {r['tcptrace_s']:>10.2f} {ratio:>6.2f} "
                  f"{r['tcpscope_s'] / n * 1e6:>7.2f} {r['tcpscope_rss_mb']:>11.0f} {r['tcptrace_rss_mb']:>11.0f}")
        print(f"ratio = tcptrace time / tcpscope time (above 1: tcpscope is faster); medians of {args.runs} "
              f"alternating runs; RSS: peak resident set of each process (GNU time)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
