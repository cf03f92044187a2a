"""Rule `index`: results/index.html, one offline page for the whole study."""

import logging
import sys
from pathlib import Path

# Import tcpscope from this checkout (the workflow's ../../src) when it is there.
_SRC = Path(__file__).resolve().parents[2] / "src"
if _SRC.is_dir() and str(_SRC) not in sys.path:
    sys.path.insert(0, str(_SRC))

from tcpscope.report import CaptureRef, build_index
from tcpscope.rulescript import run

snakemake = globals()["snakemake"]  # injected by snakemake's script directive


def main() -> None:
    out = Path(snakemake.output[0])
    refs = [CaptureRef(**c) for c in snakemake.params.captures]
    build_index(out.parent, refs, out=out, metrics_path=Path(snakemake.input.metrics))
    logging.info("wrote %s (%d captures)", out, len(refs))


run(main, snakemake.log[0])
