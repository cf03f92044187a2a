"""Decoder throughput: packets/s of decode_capture on a large capture, JIT compile time printed apart.

Usage: decode_speed.py [capture] [--packets N] [--cold]
Without a capture, builds a large pcap by repeating the records of a corpus capture until it holds
about N packets (default 5 million). --cold compiles the numba kernels afresh (empty cache dir).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def corpus_dir() -> Path:
    """The shared corpus ($TCPSCOPE_CORPUS or <repo>/../shared/captures)."""
    env = os.environ.get("TCPSCOPE_CORPUS")
    return Path(env) if env else REPO.parent / "shared" / "captures"


def build_large(src: Path, target_packets: int, out: Path) -> int:
    """Write a pcap holding the records of src repeated until about target_packets; return its packet count."""
    from tcpscope.decode.fileformat import walk

    rec = walk(src)
    if rec.fmt != "pcap" or rec.offset.size == 0:
        sys.exit(f"{src}: need a non-empty classic pcap to replicate")
    start = int(rec.rec_start[0])
    end = int(rec.rec_start[-1] + rec.rec_len[-1])
    body = rec.buf[start:end]
    reps = max(1, target_packets // rec.offset.size)
    with open(out, "wb") as f:
        f.write(rec.buf[:24].tobytes())
        for _ in range(reps):
            body.tofile(f)
    return reps * int(rec.offset.size)


def main() -> None:
    """Time the first call (JIT) and warm calls; print packets/s."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("capture", nargs="?", type=Path)
    ap.add_argument("--packets", type=int, default=5_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cold", action="store_true", help="compile the kernels afresh (fresh NUMBA_CACHE_DIR)")
    args = ap.parse_args()
    tmp = tempfile.TemporaryDirectory()
    if args.cold:
        os.environ["NUMBA_CACHE_DIR"] = str(Path(tmp.name) / "numba-cache")

    from tcpscope.decode import decode_capture

    small = corpus_dir() / "zeek_tcp_missing-syn.pcap"
    t0 = time.perf_counter()
    decode_capture(small)
    print(f"first call (JIT compile{'' if args.cold else ' or cache load'}): {time.perf_counter() - t0:.2f} s")

    path = args.capture
    if path is None:
        path = Path(tmp.name) / "large.pcap"
        src = corpus_dir() / "zeek_echo-connections.pcap.gz"
        n = build_large(src, args.packets, path)
        print(f"built {path.name}: {n:,} packets, {path.stat().st_size / 1e6:.0f} MB (records of {src.name} repeated)")
    best = float("inf")
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        d = decode_capture(path)
        best = min(best, time.perf_counter() - t0)
    frames = d.info.frames
    print(f"{path}: {frames:,} frames, {d.info.tcp_packets:,} TCP packets")
    print(f"decode: {best:.3f} s best of {args.repeat} -> {frames / best:,.0f} packets/s")
    tmp.cleanup()


if __name__ == "__main__":
    main()
