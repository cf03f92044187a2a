"""Job resources sized from the capture (tcpscope.resources: models fitted to measured
peak RSS, README "Cluster execution"), and which captures are split into shards
(config: shard_above_mb, shards). Memory grows with the attempt (profile `retries`)."""

from tcpscope.resources import (
    analyze_mem_mb,
    capture_bytes,
    figures_mem_mb,
    filter_mem_mb,
    merge_mem_mb,
    runtime_min,
    shard_mem_mb,
    split_mem_mb,
)
from tcpscope.shard import shard_count

SHARD_ABOVE_MB = config.get("shard_above_mb")
SHARDS = int(config.get("shards", 8))
# captures split into SHARDS shards by connection (size known when the DAG is built)
SHARDED = [
    name
    for name in CAPTURES
    if shard_count(capture_bytes(WORKFLOW.captures[name].path), SHARD_ABOVE_MB, SHARDS)
    > 1
]
UNSHARDED = [name for name in CAPTURES if name not in SHARDED]


def capture_regex(names):
    """A wildcard constraint matching exactly these capture names (nothing when empty)."""
    return "|".join(re.escape(name) for name in names) or "(?!)"


def data_bytes(wildcards):
    """Bytes of capture data behind {capture} (uncompressed size for .gz)."""
    return capture_bytes(WORKFLOW.captures[wildcards.capture].path)


def mem_of(model):
    """A mem_mb resource function: model(capture bytes), doubled per retry."""
    return lambda wildcards, attempt: model(data_bytes(wildcards)) * attempt


def runtime_of(mb_per_min):
    """A runtime (minutes) resource function, doubled per retry."""
    return (
        lambda wildcards, attempt: runtime_min(data_bytes(wildcards), mb_per_min)
        * attempt
    )


def shard_mem(wildcards, input, attempt):
    """mem_mb of one shard's analysis: from the shard's packet count once it exists."""
    return shard_mem_mb(input.packets, data_bytes(wildcards), SHARDS) * attempt
