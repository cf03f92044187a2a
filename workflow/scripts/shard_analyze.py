"""Rule `shard_analyze`: analyse one shard of a capture with the capture's time origin and context."""

import json
import logging
import sys
from pathlib import Path

# Import tcpscope from this checkout (the workflow's ../../src) when it is there.
_SRC = Path(__file__).resolve().parents[2] / "src"
if _SRC.is_dir() and str(_SRC) not in sys.path:
    sys.path.insert(0, str(_SRC))

import polars as pl

from tcpscope.atomic import write_parquet
from tcpscope.analysis import analyze
from tcpscope.context import Context
from tcpscope.rulescript import run

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
        context=Context.from_json(Path(snakemake.input.context).read_text()),
    )
    write_parquet(result.segments, snakemake.output.segments)
    write_parquet(result.flows, snakemake.output.flows)
    logging.info("%d segments, %d flow rows", result.segments.height, result.flows.height)


run(main, snakemake.log[0])
