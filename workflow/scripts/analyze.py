"""Rule `analyze`: decode and analyse one capture into Parquet tables + capture.json."""

import logging
import sys
from pathlib import Path

# Import tcpscope from this checkout (the workflow's ../../src) when it is there.
_SRC = Path(__file__).resolve().parents[2] / "src"
if _SRC.is_dir() and str(_SRC) not in sys.path:
    sys.path.insert(0, str(_SRC))

from tcpscope.errors import CaptureError
from tcpscope.pipeline import analyze_capture, write_failure
from tcpscope.rulescript import run

snakemake = globals()["snakemake"]  # injected by snakemake's script directive


def main() -> None:
    out_dir = Path(snakemake.output.flows).parent
    expected = {Path(p) for p in snakemake.output}
    assert all(p.parent == out_dir for p in expected), "outputs must share one directory"
    params = snakemake.params
    try:
        analysis = analyze_capture(
            Path(snakemake.input.capture),
            out_dir,
            device=params.device,
            server=params.server,
            port=params.port,
            direction=params.direction,
            host=params.host,
            stall_floor=params.stall_floor,
        )
    except CaptureError as exc:
        # the capture itself is bad: an explicit failure marker (capture.json status
        # "failed", empty tables) so the metric tables list it as failed (README)
        write_failure(Path(snakemake.input.capture), out_dir, exc)
        logging.error("capture failed, marked in capture.json: %s", exc)
        print(f"tcpscope: capture failed (marked as such): {exc}", file=sys.__stderr__)
        return
    logging.info(
        "%s: %d segments, %d flow rows",
        snakemake.input.capture,
        analysis.segments.height,
        analysis.flows.height,
    )


run(main, snakemake.log[0])
