"""Rule `figures`: time-sequence and bytes-in-flight figures of one capture."""

import logging
import sys
from pathlib import Path

# Import tcpscope from this checkout (the workflow's ../../src) when it is there.
_SRC = Path(__file__).resolve().parents[2] / "src"
if _SRC.is_dir() and str(_SRC) not in sys.path:
    sys.path.insert(0, str(_SRC))

import polars as pl

from tcpscope.figures import read_segments, render_capture_figures
from tcpscope.rulescript import run

snakemake = globals()["snakemake"]  # injected by snakemake's script directive


def main() -> None:
    out_dir = Path(snakemake.output[0]).parent
    written = render_capture_figures(
        read_segments(snakemake.input.segments),
        pl.read_parquet(snakemake.input.flows),
        out_dir,
        snakemake.params.title,
        stalls=pl.read_parquet(snakemake.input.stalls),
    )
    missing = sorted({Path(p) for p in snakemake.output} - {Path(p) for p in written})
    if missing:
        raise RuntimeError(f"render_capture_figures did not write {missing}")
    logging.info("wrote %s", ", ".join(str(p) for p in written))


run(main, snakemake.log[0])
