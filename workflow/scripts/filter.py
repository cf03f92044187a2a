"""Rule `filter`: keep the frames to or from the device (capture file + text listing)."""

import logging
import sys
from pathlib import Path

# Import tcpscope from this checkout (the workflow's ../../src) when it is there.
_SRC = Path(__file__).resolve().parents[2] / "src"
if _SRC.is_dir() and str(_SRC) not in sys.path:
    sys.path.insert(0, str(_SRC))

from tcpscope.errors import CaptureError
from tcpscope.filtering import filter_capture, write_filter_failure
from tcpscope.rulescript import run

snakemake = globals()["snakemake"]  # injected by snakemake's script directive


def main() -> None:
    try:
        summary = filter_capture(
            Path(snakemake.input.capture),
            [snakemake.params.device],
            Path(snakemake.output.capture),
            Path(snakemake.output.text),
        )
    except CaptureError as exc:
        # failure marker, as rule analyze writes one (README "When a capture fails")
        write_filter_failure(snakemake.output.capture, snakemake.output.text, exc)
        logging.error("capture failed, marked in the listing: %s", exc)
        return
    logging.info("filtered %s: %s", snakemake.input.capture, summary)


run(main, snakemake.log[0])
