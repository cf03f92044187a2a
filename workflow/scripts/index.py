"""Rule `index`: results/index.html, one offline page for the whole study."""

import logging
import sys
import traceback
from pathlib import Path

# Import tcpscope from this checkout (the workflow's ../../src) when it is there.
_SRC = Path(__file__).resolve().parents[2] / "src"
if _SRC.is_dir() and str(_SRC) not in sys.path:
    sys.path.insert(0, str(_SRC))

from tcpscope.errors import TcpscopeError
from tcpscope.report import CaptureRef, build_index

snakemake = globals()["snakemake"]  # injected by snakemake's script directive


def main() -> None:
    out = Path(snakemake.output[0])
    refs = [CaptureRef(**c) for c in snakemake.params.captures]
    build_index(out.parent, refs, out=out, metrics_path=Path(snakemake.input.metrics))
    logging.info("wrote %s (%d captures)", out, len(refs))


with open(snakemake.log[0], "w", encoding="utf-8") as log:
    logging.basicConfig(stream=log, level=logging.INFO, format="%(levelname)s %(message)s")
    sys.stdout = sys.stderr = log
    try:
        main()
    except TcpscopeError as exc:
        traceback.print_exc()
        print(f"tcpscope: {exc}", file=sys.__stderr__)
        sys.exit(1)
    except BaseException:
        traceback.print_exc()
        raise
