"""Rule `metrics`: one row per feature from every capture's metrics.tsv."""

import logging
import sys
from pathlib import Path

# Import tcpscope from this checkout (the workflow's ../../src) when it is there.
_SRC = Path(__file__).resolve().parents[2] / "src"
if _SRC.is_dir() and str(_SRC) not in sys.path:
    sys.path.insert(0, str(_SRC))

import polars as pl

from tcpscope.metrics import feature_metrics, read_capture_metrics, write_markdown, write_tsv
from tcpscope.rulescript import run

snakemake = globals()["snakemake"]  # injected by snakemake's script directive


def main() -> None:
    per_capture = pl.concat([read_capture_metrics(p) for p in snakemake.input])
    table = feature_metrics(per_capture)
    write_tsv(table, snakemake.output.tsv)
    write_markdown(table, snakemake.output.md, title="tcpscope: metrics per feature")
    logging.info("%d captures, %d features", len(snakemake.input), table.height)


run(main, snakemake.log[0])
