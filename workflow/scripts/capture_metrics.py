"""Rule `capture_metrics`: the data-direction flows of one capture (metrics.tsv)."""

import json
import logging
import sys
from pathlib import Path

# Import tcpscope from this checkout (the workflow's ../../src) when it is there.
_SRC = Path(__file__).resolve().parents[2] / "src"
if _SRC.is_dir() and str(_SRC) not in sys.path:
    sys.path.insert(0, str(_SRC))

import polars as pl

from tcpscope.metrics import capture_metrics, write_tsv
from tcpscope.rulescript import run

snakemake = globals()["snakemake"]  # injected by snakemake's script directive


def main() -> None:
    flows = pl.read_parquet(snakemake.input.flows)
    with open(snakemake.input.info, encoding="utf-8") as fh:
        info = json.load(fh)
    table = capture_metrics(flows, snakemake.params.capture, snakemake.params.feature, info)
    write_tsv(table, snakemake.output[0])
    logging.info("%s: %d rows", snakemake.params.capture, table.height)


run(main, snakemake.log[0])
