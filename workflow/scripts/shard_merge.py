"""Rule `shard_merge`: merge the shards' analyses, then finish as rule `analyze` does
(tcpscope.pipeline.analyze_capture with the merged analysis): the same outputs."""

import json
import logging
import sys
from pathlib import Path

# Import tcpscope from this checkout (the workflow's ../../src) when it is there.
_SRC = Path(__file__).resolve().parents[2] / "src"
if _SRC.is_dir() and str(_SRC) not in sys.path:
    sys.path.insert(0, str(_SRC))

import polars as pl

from tcpscope.analysis import Analysis
from tcpscope.decode import Decoded
from tcpscope.decode.info import CaptureInfo
from tcpscope.pipeline import analyze_capture
from tcpscope.shard import merge
from tcpscope.rulescript import run

snakemake = globals()["snakemake"]  # injected by snakemake's script directive


def main() -> None:
    parts = [
        Analysis(pl.read_parquet(s), pl.read_parquet(f))
        for s, f in zip(snakemake.input.segments, snakemake.input.flows)
    ]
    info = CaptureInfo(**json.loads(Path(snakemake.input.info).read_text()))
    decoded = Decoded(pl.read_parquet(snakemake.input.packets), info)
    merged = merge(parts)
    # the rest as in rule analyze: the same function, the same parameters and outputs
    out_dir = Path(snakemake.output.flows).parent
    assert all(Path(p).parent == out_dir for p in snakemake.output), "one output directory"
    result = analyze_capture(
        Path(snakemake.input.capture),
        out_dir,
        **dict(snakemake.params.items()),
        decoded=decoded,
        analysis=merged,
    )
    logging.info(
        "%s: %d shards merged: %d segments, %d flow rows",
        snakemake.input.capture,
        len(parts),
        result.segments.height,
        result.flows.height,
    )


run(main, snakemake.log[0])
