"""What the analysis of one connection takes from the other connections of its capture.

Almost everything `analyze()` computes is per connection. Three things are not, because one
connection alone often says too little: where the capture point sits (a connection without a
handshake is placed where the others' handshakes place it), whether a host numbers its IP
packets per connection (a chat connection with a few packets, some lost, cannot show it), and
the smallest round trip seen between two hosts (a connection whose own handshake waited in a
queue overstates it). A shard of a capture (tcpscope.shard) must get them from the whole
capture, so they are computed here, once, into a `Context` that can travel as JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from tcpscope import tcpstate
from tcpscope.flows import ACK, RST, SYN

# share of the handshake-placed connections that must agree on the capture point before the
# connections without a handshake are placed there too (else: from their own RTT samples)
CONSENSUS = 0.9
# a reset for a socket that is gone, and a SYN/ACK, come from the kernel, not the connection's
# counter (Linux sends them with IP ID 0): they say nothing about how the side numbers its packets
OWN = ((pl.col("flags") & RST) == 0) & ((pl.col("flags") & (SYN | ACK)) != (SYN | ACK))
# own packets from which a side's IP IDs speak for their host; a side with 4 up to this many
# (and no verdict of its own) takes its host's
LONG_SIDE = 12


@dataclass(frozen=True)
class Context:
    """The capture-wide facts a connection's analysis uses (see the module docstring)."""

    near_client: bool | None = None  # where the handshakes place the capture point, if near-unanimous
    per_socket_hosts: frozenset[str] = frozenset()  # hosts whose IP IDs count per connection
    path_rtt_s: dict[tuple[str, str], float] = field(default_factory=dict)  # (client, server) -> smallest handshake RTT

    def to_json(self) -> str:
        return json.dumps(
            {
                "near_client": self.near_client,
                "per_socket_hosts": sorted(self.per_socket_hosts),
                "path_rtt_s": [[c, s, r] for (c, s), r in sorted(self.path_rtt_s.items())],
            }
        )

    @staticmethod
    def from_json(text: str) -> Context:
        d = json.loads(text)
        return Context(
            near_client=d["near_client"],
            per_socket_hosts=frozenset(d["per_socket_hosts"]),
            path_rtt_s={(c, s): float(r) for c, s, r in d["path_rtt_s"]},
        )


def short_side() -> pl.Expr:
    """Over side stats (`_own`, `_calm`, `ipid_step1`): a side too short to show its own IP ID
    pattern, whose steps all skip at most MAX_IPID_GAP IDs (`_calm`)."""
    return ~pl.col("ipid_step1") & pl.col("_calm") & pl.col("_own").is_between(4, LONG_SIDE - 1)


def per_socket_hosts(df: pl.DataFrame, sides: pl.DataFrame) -> frozenset[str]:
    """Among the hosts with a short side (`short_side`), those that number packets per
    connection: all their connections with LONG_SIDE own packets or more count up by 1 (and
    there is one), and their packets of different connections, in time order, do not continue
    one another's IDs (one counter for the whole host, where a gap may be another connection's
    packet; Linux starts each socket's counter at random, so about 64 switches in 65,536 land
    within MAX_IPID_GAP by chance: a quarter is the limit)."""
    long = pl.col("_own") >= LONG_SIDE
    hosts = (
        sides.group_by("_src")
        .agg(
            _short=short_side().any(),
            _long_ok=(long & pl.col("ipid_step1")).any(),
            _long_bad=(long & ~pl.col("ipid_step1")).any(),
        )
        .filter(pl.col("_short") & pl.col("_long_ok") & ~pl.col("_long_bad"))
    )
    if hosts.height == 0:
        return frozenset()
    pk = (
        df.filter(OWN & pl.col("ip_id").is_not_null() & pl.col("src").is_in(hosts["_src"].implode()))
        .select("src", "t", "flow_id", ip=pl.col("ip_id").cast(pl.Int64))
        .sort("src", "t", maintain_order=True)
    )
    cross = (pl.col("src") == pl.col("src").shift(1)) & (pl.col("flow_id") != pl.col("flow_id").shift(1))
    near = cross & ((pl.col("ip") - pl.col("ip").shift(1)) % (1 << 16)).is_between(1, tcpstate.MAX_IPID_GAP + 1)
    ok = pk.group_by("src").agg(_ok=near.sum() <= 0.25 * cross.sum()).filter("_ok")
    return frozenset(ok["src"].to_list())


def flow_ends(df: pl.DataFrame) -> pl.DataFrame:
    """Per `flow_id` (rows grouped by flow), its client and server addresses, from its first row."""
    if df.height == 0:
        return pl.DataFrame(schema={"flow_id": pl.UInt32, "client": pl.String, "server": pl.String})
    fid = df["flow_id"].to_numpy()
    first = np.concatenate([[0], np.flatnonzero(fid[1:] != fid[:-1]) + 1])
    rows = df[first].select("flow_id", "src", "dst", "from_client")
    return rows.select(
        "flow_id",
        client=pl.when(pl.col("from_client")).then(pl.col("src")).otherwise(pl.col("dst")),
        server=pl.when(pl.col("from_client")).then(pl.col("dst")).otherwise(pl.col("src")),
    )


def path_rtt(ends: pl.DataFrame, hs: pl.DataFrame) -> dict[tuple[str, str], float]:
    """The smallest handshake RTT (s) of each (client, server) address pair's connections
    (`ends`: `flow_ends` of the capture)."""
    per = ends.join(hs.select("flow_id", "handshake_rtt_ms"), on="flow_id").drop_nulls("handshake_rtt_ms")
    best = per.group_by("client", "server").agg(pl.col("handshake_rtt_ms").min() / 1e3)
    return {(c, s): float(r) for c, s, r in best.iter_rows()}


def vantage_vote(hs: pl.DataFrame) -> bool | None:
    """Where the capture's handshakes place the capture point (True: near the client) when at
    least CONSENSUS of them agree; None otherwise or without handshakes."""
    known = hs["_near_client"].drop_nulls()
    if known.len() and (known.mean() >= CONSENSUS or known.mean() <= 1 - CONSENSUS):
        return bool(known.mean() >= 0.5)
    return None


def context_of(df: pl.DataFrame, ends: pl.DataFrame, hs: pl.DataFrame, sides: pl.DataFrame) -> Context:
    """The Context of a prepared capture: `df` (flows assigned, rows grouped by flow), its
    connections' addresses `ends` (`flow_ends`), handshakes `hs` and side stats `sides`
    (analysis._side_stats)."""
    return Context(
        near_client=vantage_vote(hs),
        per_socket_hosts=per_socket_hosts(df, sides),
        path_rtt_s=path_rtt(ends, hs),
    )
