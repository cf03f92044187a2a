"""Rule `analyze`: decode and analyse one capture into Parquet tables + capture.json."""

import logging
import sys
import traceback
from pathlib import Path

# Import tcpscope from this checkout (the workflow's ../../src) when it is there.
_SRC = Path(__file__).resolve().parents[2] / "src"
if _SRC.is_dir() and str(_SRC) not in sys.path:
    sys.path.insert(0, str(_SRC))

from tcpscope.errors import TcpscopeError
from tcpscope.pipeline import analyze_capture

snakemake = globals()["snakemake"]  # injected by snakemake's script directive


def main() -> None:
    out_dir = Path(snakemake.output.flows).parent
    expected = {Path(p) for p in snakemake.output}
    assert all(p.parent == out_dir for p in expected), "outputs must share one directory"
    params = snakemake.params
    analysis = analyze_capture(
        Path(snakemake.input.capture),
        out_dir,
        device=params.device,
        server=params.server,
        port=params.port,
        direction=params.direction,
    )
    logging.info(
        "%s: %d segments, %d flow rows",
        snakemake.input.capture,
        analysis.segments.height,
        analysis.flows.height,
    )


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
