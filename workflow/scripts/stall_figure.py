"""Rule `stall_figure`: stall time per cause and feature, as PNG and offline HTML."""

import logging
import sys
from pathlib import Path

# Import tcpscope from this checkout (the workflow's ../../src) when it is there.
_SRC = Path(__file__).resolve().parents[2] / "src"
if _SRC.is_dir() and str(_SRC) not in sys.path:
    sys.path.insert(0, str(_SRC))

from tcpscope.figures.stalls import render_stall_summary
from tcpscope.metrics import read_feature_metrics
from tcpscope.rulescript import run

snakemake = globals()["snakemake"]  # injected by snakemake's script directive


def main() -> None:
    table = read_feature_metrics(snakemake.input[0])
    render_stall_summary(table, Path(snakemake.output.png), Path(snakemake.output.html))
    logging.info("%d features", table.height)


run(main, snakemake.log[0])
