"""Connections: key packets by endpoints (and VLAN), split reused port pairs, assign roles.

A connection is the packets sharing a VLAN and an unordered pair of (address, port)
endpoints, cut in two where the port pair is reused: a new SYN with another ISN, or a
SYN after a FIN/RST, or a sequence jump far outside any window after a FIN/RST.
The client is the SYN sender; without a SYN, the SYN/ACK receiver; without either, the
endpoint with the higher port (well-known/lower port is the server).
"""

from __future__ import annotations

import numpy as np
import polars as pl
from numba import njit

SYN, FIN, RST, ACK = 0x02, 0x01, 0x04, 0x10

# A same-direction sequence jump larger than this after a FIN/RST means a new connection.
ISN_JUMP = 1 << 24


@njit(cache=True)
def _split_reuse(key: np.ndarray, is_a: np.ndarray, flags: np.ndarray, seq: np.ndarray) -> np.ndarray:
    """Connection number within each key, for packets sorted by (key, time)."""
    n = key.shape[0]
    out = np.zeros(n, dtype=np.int64)
    conn = 0
    syn_seq = np.int64(-1)
    closed = False
    last_seq = np.full(2, -1, dtype=np.int64)
    for i in range(n):
        if i == 0 or key[i] != key[i - 1]:
            conn = 0
            syn_seq = -1
            closed = False
            last_seq[0] = -1
            last_seq[1] = -1
        else:
            f = flags[i]
            pure_syn = (f & SYN) != 0 and (f & ACK) == 0
            new_conn = False
            if pure_syn:
                if syn_seq == -1 or closed or seq[i] != syn_seq:
                    new_conn = True
            elif closed:
                d = 0 if is_a[i] else 1
                if last_seq[d] >= 0:
                    diff = (seq[i] - last_seq[d]) & 0xFFFFFFFF
                    if diff >= 0x80000000:
                        diff = 0x100000000 - diff
                    if diff > ISN_JUMP:
                        new_conn = True
            if new_conn:
                conn += 1
                syn_seq = -1
                closed = False
                last_seq[0] = -1
                last_seq[1] = -1
        f = flags[i]
        if (f & SYN) != 0 and (f & ACK) == 0:
            syn_seq = seq[i]
        if (f & (FIN | RST)) != 0:
            closed = True
        last_seq[0 if is_a[i] else 1] = seq[i]
        out[i] = conn
    return out


def assign_flows(packets: pl.DataFrame) -> pl.DataFrame:
    """Add `flow_id` (0.. in order of first packet) and `_conn_a_is_src` to time-sorted packets."""
    df = packets.with_row_index("_row")
    a_is_src = (pl.col("src") < pl.col("dst")) | (
        (pl.col("src") == pl.col("dst")) & (pl.col("sport") <= pl.col("dport"))
    )
    df = df.with_columns(
        _a_is_src=a_is_src,
        _a_addr=pl.when(a_is_src).then(pl.col("src")).otherwise(pl.col("dst")),
        _a_port=pl.when(a_is_src).then(pl.col("sport")).otherwise(pl.col("dport")),
        _b_addr=pl.when(a_is_src).then(pl.col("dst")).otherwise(pl.col("src")),
        _b_port=pl.when(a_is_src).then(pl.col("dport")).otherwise(pl.col("sport")),
    )
    keys = ["vlan", "_a_addr", "_a_port", "_b_addr", "_b_port"]
    key_ids = (
        df.group_by(keys, maintain_order=True)
        .agg()
        .with_row_index("_key")
    )
    df = df.join(key_ids, on=keys, how="left", nulls_equal=True).sort(["_key", "_row"])
    conn = _split_reuse(
        df["_key"].to_numpy().astype(np.int64),
        df["_a_is_src"].to_numpy(),
        df["flags"].to_numpy().astype(np.int64),
        df["seq"].to_numpy().astype(np.int64),
    )
    df = df.with_columns(_conn=pl.Series(conn))
    first = (
        df.group_by(["_key", "_conn"])
        .agg(pl.col("_row").min().alias("_first"))
        .sort("_first")
        .with_row_index("flow_id")
        .with_columns(pl.col("flow_id").cast(pl.UInt32))
    )
    df = df.join(first.drop("_first"), on=["_key", "_conn"], how="left").sort("_row")
    return df.drop(["_key", "_conn", "_a_addr", "_a_port", "_b_addr", "_b_port"])


def assign_roles(df: pl.DataFrame, server: str | None = None, port: int | None = None) -> pl.DataFrame:
    """Add `from_client`: SYN sender is the client; else SYN/ACK receiver; else the higher port.

    A configured server IP or port overrides the guess where it names one endpoint.
    """
    f = pl.col("flags")
    pure_syn = ((f & SYN) != 0) & ((f & ACK) == 0)
    syn_ack = ((f & SYN) != 0) & ((f & ACK) != 0)
    a_port = pl.when(pl.col("_a_is_src")).then(pl.col("sport")).otherwise(pl.col("dport"))
    b_port = pl.when(pl.col("_a_is_src")).then(pl.col("dport")).otherwise(pl.col("sport"))
    a_addr = pl.when(pl.col("_a_is_src")).then(pl.col("src")).otherwise(pl.col("dst"))
    b_addr = pl.when(pl.col("_a_is_src")).then(pl.col("dst")).otherwise(pl.col("src"))
    per_flow = df.group_by("flow_id").agg(
        # +1: A sent the first pure SYN (A is client); -1: B did; 0: none
        _syn_vote=pl.when(pure_syn).then(pl.when(pl.col("_a_is_src")).then(1).otherwise(-1)).drop_nulls().first(),
        _synack_vote=pl.when(syn_ack).then(pl.when(pl.col("_a_is_src")).then(-1).otherwise(1)).drop_nulls().first(),
        _a_port=a_port.first(),
        _b_port=b_port.first(),
        _a_addr=a_addr.first(),
        _b_addr=b_addr.first(),
    )
    # port heuristic: lower port is the server (the higher one the client)
    port_vote = pl.when(pl.col("_a_port") > pl.col("_b_port")).then(1).otherwise(-1)
    vote = pl.coalesce(pl.col("_syn_vote"), pl.col("_synack_vote"), port_vote)
    if port is not None:
        vote = (
            pl.when(pl.col("_b_port") == port).then(1).when(pl.col("_a_port") == port).then(-1).otherwise(vote)
        )
    if server is not None:
        vote = (
            pl.when(pl.col("_b_addr") == server).then(1).when(pl.col("_a_addr") == server).then(-1).otherwise(vote)
        )
    per_flow = per_flow.select("flow_id", _a_is_client=vote == 1)
    df = df.join(per_flow, on="flow_id", how="left")
    return df.with_columns(from_client=pl.col("_a_is_src") == pl.col("_a_is_client")).drop("_a_is_client")
