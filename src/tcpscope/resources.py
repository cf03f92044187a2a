"""Job resources (memory, run time) sized from the capture, for cluster executors.

The workflow's rules (workflow/rules/sizing.smk) call these with the capture file or the
job's input. The memory models are fitted to measured peak RSS (docs/cluster.md): the
rule's Python process costs ~300 MB (polars, numba and the compiled kernels) plus about
0.7 KB per TCP packet for `analyze` and 1.2 KB per packet for `filter`; a SLURM job also
holds the snakemake process that runs the rule (~280 MB), tshark for the connection
labels, and for `figures` a Chromium (kaleido): measured with sacct (MaxRSS of the job
step), tiny captures need ~0.7 GB for `analyze` and ~1.5 GB for `figures`. Packets per
byte of capture depend on the snap length: the measured bulk capture holds 133 bytes
per record (5 MB of analyze RSS per capture MB); the worst case, headers only, is about
70 bytes per record (10 MB per MB). The models take that worst case on top of a
1000 MB base (2000 MB for figures), so a job is not killed for a capture of short
records, and round up to whole 100 MB.
"""

from __future__ import annotations

import math
import struct
from pathlib import Path

# MB of peak RSS per MB of capture data (uncompressed), worst case (70-byte records)
ANALYZE_MB_PER_MB = 10
FILTER_MB_PER_MB = 14
FIGURES_MB_PER_MB = 8
SPLIT_MB_PER_MB = 12
MERGE_MB_PER_MB = 12
# MB of peak RSS per 1000 packets in a shard (analyze: 0.7 KB per packet measured)
SHARD_MB_PER_KPACKET = 1.0
BASE_MB = 1000
FIGURES_BASE_MB = 2000
MIN_MB = 1000


def capture_bytes(path: str | Path) -> int:
    """The size of the capture's data: the file size, or for a `.gz` file the
    uncompressed size from the gzip trailer (ISIZE, modulo 2^32: raised by 4 GiB steps
    until it is not below the compressed size). 0 when the file does not exist."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError:
        return 0
    if path.suffix != ".gz" or size < 18:
        return size
    with open(path, "rb") as fh:
        if fh.read(2) != b"\x1f\x8b":
            return size
        fh.seek(-4, 2)
        isize = struct.unpack("<I", fh.read(4))[0]
    while isize < size:
        isize += 1 << 32
    return isize


def _mb(base: float, per_mb: float, nbytes: float) -> int:
    return max(MIN_MB, int(math.ceil((base + per_mb * nbytes / 1e6) / 100.0) * 100))


def analyze_mem_mb(nbytes: int) -> int:
    """Memory (MB) for `analyze` of a capture of `nbytes` bytes of data."""
    return _mb(BASE_MB, ANALYZE_MB_PER_MB, nbytes)


def filter_mem_mb(nbytes: int) -> int:
    """Memory (MB) for `filter` (capture file + text listing) of a capture."""
    return _mb(BASE_MB, FILTER_MB_PER_MB, nbytes)


def figures_mem_mb(nbytes: int) -> int:
    """Memory (MB) for the figures of a capture."""
    return _mb(FIGURES_BASE_MB, FIGURES_MB_PER_MB, nbytes)


def split_mem_mb(nbytes: int) -> int:
    """Memory (MB) for decoding a capture and writing its shards."""
    return _mb(BASE_MB, SPLIT_MB_PER_MB, nbytes)


def merge_mem_mb(nbytes: int) -> int:
    """Memory (MB) for merging the shards' tables of a capture."""
    return _mb(BASE_MB, MERGE_MB_PER_MB, nbytes)


def parquet_rows(path: str | Path) -> int | None:
    """Rows of a Parquet file from its footer (None when it cannot be read)."""
    try:
        import pyarrow.parquet as pq

        return int(pq.read_metadata(str(path)).num_rows)
    except Exception:  # noqa: BLE001 - not there yet, or not Parquet: caller falls back
        return None


def shard_mem_mb(shard_packets: str | Path, capture_nbytes: int, shards: int) -> int:
    """Memory (MB) for analysing one shard: from its packet count when the shard file
    exists (the job is about to run), else from an even share of the capture."""
    rows = parquet_rows(shard_packets)
    if rows is None:
        return analyze_mem_mb(capture_nbytes // max(shards, 1))
    return max(MIN_MB, int(math.ceil((BASE_MB + SHARD_MB_PER_KPACKET * rows / 1e3) / 100.0) * 100))


def runtime_min(nbytes: int, mb_per_min: float = 10.0, base: int = 10) -> int:
    """Wall-time limit (minutes) of a per-capture job: `base` plus one minute per
    `mb_per_min` MB of capture data (measured: analyze does ~4 MB/s, filter ~12 MB/s)."""
    return base + int(math.ceil(nbytes / 1e6 / mb_per_min))
