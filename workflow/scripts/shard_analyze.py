"""Rule `shard_analyze`: analyse one shard of a capture with the capture's time origin."""

import json
import logging
import sys
import traceback
from pathlib import Path

# Import tcpscope from this checkout (the workflow's ../../src) when it is there.
_SRC = Path(__file__).resolve().parents[2] / "src"
if _SRC.is_dir() and str(_SRC) not in sys.path:
    sys.path.insert(0, str(_SRC))

import polars as pl

from tcpscope.atomic import write_parquet
from tcpscope.errors import TcpscopeError
from tcpscope.analysis import analyze

snakemake = globals()["snakemake"]  # injected by snakemake's script directive


def main() -> None:
    origin = json.loads(Path(snakemake.input.origin).read_text())
    params = snakemake.params
    result = analyze(
        pl.read_parquet(snakemake.input.packets),
        device=params.device,
        server=params.server,
        port=params.port,
        direction=params.direction,
        t0_ns=origin["t0_ns"],
    )
    write_parquet(result.segments, snakemake.output.segments)
    write_parquet(result.flows, snakemake.output.flows)
    logging.info("%d segments, %d flow rows", result.segments.height, result.flows.height)


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
