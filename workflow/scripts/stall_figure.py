"""Rule `stall_figure`: stall time per cause and feature, as PNG and offline HTML."""

import logging
import sys
import traceback
from pathlib import Path

# Import tcpscope from this checkout (the workflow's ../../src) when it is there.
_SRC = Path(__file__).resolve().parents[2] / "src"
if _SRC.is_dir() and str(_SRC) not in sys.path:
    sys.path.insert(0, str(_SRC))

from tcpscope.figures.stalls import render_stall_summary
from tcpscope.metrics import read_feature_metrics

snakemake = globals()["snakemake"]  # injected by snakemake's script directive


def main() -> None:
    table = read_feature_metrics(snakemake.input[0])
    render_stall_summary(table, Path(snakemake.output.png), Path(snakemake.output.html))
    logging.info("%d features", table.height)


with open(snakemake.log[0], "w", encoding="utf-8") as log:
    logging.basicConfig(stream=log, level=logging.INFO, format="%(levelname)s %(message)s")
    sys.stdout = sys.stderr = log
    try:
        main()
    except BaseException:
        traceback.print_exc()
        raise
