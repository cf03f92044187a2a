"""Captures too big for one job: split the packets by connection into shards, analyse each
shard on its own, and merge the results into the tables `analyze()` gives for the whole.

Every packet of a connection lands in the same shard: the shard is a stable hash
(BLAKE2b) of the canonical connection key, VLAN + the two (address, port) endpoints in
sorted order, the key `flows.assign_flows` groups by (reused port pairs stay together
too, so the split of reused pairs into connections is the same). Everything `analyze()`
computes is per connection except three things:

* what a connection's analysis takes from the capture's other connections (where the
  capture point sits, how a host numbers its IP IDs, a path's smallest RTT:
  tcpscope.context): each shard is analysed with the whole capture's
  `capture_context(packets)` (the workflow's shard_split writes it to context.json);
* the time origin: `t` counts from the first packet of the *capture*, so each shard is
  analysed with `t0_ns=time_origin(packets)` of the whole capture (`shard_origin`);
* `flow_id`: 0..n-1 in order of the connection's first packet; shards number their own
  connections, and `merge` renumbers them by first packet across shards.

Rows come back in the order `analyze()` gives: segments in time order, ties in frame
order (frame numbers rise with the packets' order in the file); flows by `flow_id`,
client side first. The workflow (workflow/rules/shard.smk) calls these functions.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence

import polars as pl

from tcpscope.analysis import Analysis, Direction, analyze, capture_context


def shard_count(size_bytes: int, above_mb: float | None, shards: int) -> int:
    """How many shards a capture of `size_bytes` is split into: `shards` when it is larger
    than `above_mb` megabytes (10^6 bytes), else 1 (not split). None or 0 never splits."""
    if not above_mb or shards < 2:
        return 1
    return shards if size_bytes > above_mb * 1e6 else 1


def connection_key(packets: pl.DataFrame) -> pl.Series:
    """One text key per packet, the same for both directions of a connection:
    `vlan|addr|port|addr|port` with the smaller (address, port) endpoint first."""
    a_is_src = (pl.col("src") < pl.col("dst")) | (
        (pl.col("src") == pl.col("dst")) & (pl.col("sport") <= pl.col("dport"))
    )

    def pick(a: str, b: str) -> pl.Expr:
        return pl.when(a_is_src).then(pl.col(a)).otherwise(pl.col(b)).cast(pl.Utf8)

    return packets.select(
        key=pl.concat_str(
            pl.col("vlan").cast(pl.Utf8).fill_null("-"),
            pick("src", "dst"),
            pick("sport", "dport"),
            pick("dst", "src"),
            pick("dport", "sport"),
            separator="|",
        )
    )["key"]


def _stable_hash(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big")


def assign_shards(packets: pl.DataFrame, n: int) -> pl.Series:
    """The shard (0..n-1, UInt32) of every packet: a stable hash of its connection key,
    the same on every machine and Python run."""
    if n < 1:
        raise ValueError(f"shard count must be >= 1, not {n}")
    keys = connection_key(packets)
    if n == 1:
        return pl.Series("shard", [0] * packets.height, dtype=pl.UInt32)
    uniq = keys.unique()
    mapping = pl.DataFrame(
        {"key": uniq, "shard": [_stable_hash(k) % n for k in uniq.to_list()]},
        schema={"key": pl.Utf8, "shard": pl.UInt32},
    )
    return keys.to_frame().join(mapping, on="key", how="left", maintain_order="left")["shard"]


def time_origin(packets: pl.DataFrame) -> int:
    """The capture's time origin in ns: its first packet's timestamp (0 without packets),
    as `analyze()` takes it."""
    return int(packets["ts_ns"].min()) if packets.height else 0


def split_packets(packets: pl.DataFrame, n: int) -> list[pl.DataFrame]:
    """The packets of each of `n` shards, in their original order (the same columns)."""
    frames = packets["frame"]
    if packets.height > 1 and not (frames.diff().drop_nulls() > 0).all():
        raise ValueError("packets must be in file order (strictly increasing `frame`)")
    shard = assign_shards(packets, n)
    tagged = packets.with_columns(shard.alias("_shard"))
    return [tagged.filter(pl.col("_shard") == i).drop("_shard") for i in range(n)]


def merge(parts: Sequence[Analysis]) -> Analysis:
    """One Analysis from the analyses of a capture's shards (each made with the capture's
    time origin): segments in time then frame order, flow_id renumbered by first packet."""
    if not parts:
        raise ValueError("nothing to merge")
    segs = pl.concat(
        [p.segments.with_columns(_shard=pl.lit(i, pl.UInt32)) for i, p in enumerate(parts)],
        how="vertical_relaxed",
    )
    segs = segs.sort(["ts_ns", "frame"], maintain_order=True).with_row_index("_pos")
    renumber = (
        segs.group_by(["_shard", "flow_id"])
        .agg(_first=pl.col("_pos").min())
        .sort("_first")
        .with_row_index("_new")
        .select("_shard", "flow_id", pl.col("_new").cast(pl.UInt32))
    )
    columns = parts[0].segments.columns
    segments = (
        segs.join(renumber, on=["_shard", "flow_id"], how="left", maintain_order="left")
        .with_columns(flow_id=pl.col("_new"))
        .select(columns)
    )
    flow_parts = [
        p.flows.with_columns(_shard=pl.lit(i, pl.UInt32))
        for i, p in enumerate(parts)
        if p.flows.height
    ]
    if not flow_parts:
        return Analysis(segments=segments, flows=parts[0].flows.clear())
    flow_cols = flow_parts[0].columns[:-1]
    flows = (
        pl.concat(flow_parts, how="vertical_relaxed")
        .join(renumber, on=["_shard", "flow_id"], how="left")
        .with_columns(flow_id=pl.col("_new"))
        .select(flow_cols)
        .sort(["flow_id", "from_client"], descending=[False, True])
    )
    return Analysis(segments=segments, flows=flows)


def analyze_sharded(
    packets: pl.DataFrame,
    n: int,
    device: str | None = None,
    server: str | None = None,
    port: int | None = None,
    direction: Direction = "auto",
) -> Analysis:
    """`analyze()` done shard by shard in one process: split, analyse, merge (the
    workflow runs the same steps as separate jobs)."""
    t0 = time_origin(packets)
    ctx = capture_context(packets, server=server, port=port)
    kw = dict(device=device, server=server, port=port, direction=direction, t0_ns=t0, context=ctx)
    return merge([analyze(part, **kw) for part in split_packets(packets, n)])


def shard_mb(size_bytes: int, n: int) -> float:
    """The expected size in MB of one of `n` shards of a `size_bytes` capture (for job resources)."""
    return math.ceil(size_bytes / max(n, 1)) / 1e6
