"""Rule `filter`: keep the frames to or from the device (capture file + text listing)."""

import logging
import sys
import traceback
from pathlib import Path

# Import tcpscope from this checkout (the workflow's ../../src) when it is there.
_SRC = Path(__file__).resolve().parents[2] / "src"
if _SRC.is_dir() and str(_SRC) not in sys.path:
    sys.path.insert(0, str(_SRC))

from tcpscope.errors import CaptureError, TcpscopeError
from tcpscope.filtering import filter_capture, write_filter_failure

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
