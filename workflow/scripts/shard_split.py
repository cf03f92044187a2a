"""Rule `shard_split`: decode a large capture, write packets.parquet, its packets split by
connection into shards, and what the shards' analyses take from the whole capture (its time
origin and context: tcpscope.shard)."""

import json
import logging
import sys
from pathlib import Path

# Import tcpscope from this checkout (the workflow's ../../src) when it is there.
_SRC = Path(__file__).resolve().parents[2] / "src"
if _SRC.is_dir() and str(_SRC) not in sys.path:
    sys.path.insert(0, str(_SRC))

from tcpscope.analysis import capture_context
from tcpscope.atomic import atomic_path, write_parquet
from tcpscope.errors import CaptureError
from tcpscope.decode import decode_capture
from tcpscope.pipeline import failed_decode
from tcpscope.shard import split_packets, time_origin
from tcpscope.rulescript import run

snakemake = globals()["snakemake"]  # injected by snakemake's script directive


def main() -> None:
    try:
        decoded = decode_capture(Path(snakemake.input.capture))
    except CaptureError as exc:
        # failure marker, as in rule analyze: no packets, decoded.json "status": "failed";
        # shard_merge then writes the marker outputs (README "When a capture fails")
        decoded = failed_decode(Path(snakemake.input.capture), exc)
        logging.error("capture failed, marked in capture.json: %s", exc)
    packets = decoded.packets
    parts = split_packets(packets, len(snakemake.output.shards))
    for part, path in zip(parts, snakemake.output.shards):
        write_parquet(part, path)
    t0 = time_origin(packets)
    with atomic_path(snakemake.output.origin) as tmp:
        tmp.write_text(json.dumps({"t0_ns": t0, "shards": len(parts)}) + "\n")
    context = capture_context(packets, server=snakemake.params.server, port=snakemake.params.port)
    with atomic_path(snakemake.output.context) as tmp:
        tmp.write_text(context.to_json() + "\n")
    write_parquet(packets, snakemake.output.packets)
    decoded.info.write_json(snakemake.output.info)
    logging.info(
        "%s: %d packets in %d shards of %s packets",
        snakemake.input.capture,
        packets.height,
        len(parts),
        [p.height for p in parts],
    )


run(main, snakemake.log[0])
