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
    """Add `flow_id` (0.. in order of first packet), `_row` and `_a_is_src` to time-sorted packets.

    Endpoints become integers (address code << 16 | port) so that keying, sorting and
    splitting run on numpy arrays: no string joins on the packet table.
    """
    n = packets.height
    df = packets.with_row_index("_row")
    if n == 0:
        return df.with_columns(_a_is_src=pl.lit(True), flow_id=pl.lit(0, pl.UInt32)).clear()
    codes = pl.concat([df["src"], df["dst"]]).cast(pl.Categorical).to_physical().cast(pl.UInt64).to_numpy()
    ep_src = (codes[:n] << np.uint64(16)) | df["sport"].cast(pl.UInt64).to_numpy()
    ep_dst = (codes[n:] << np.uint64(16)) | df["dport"].cast(pl.UInt64).to_numpy()
    a_is_src = ep_src <= ep_dst
    lo = np.minimum(ep_src, ep_dst)
    hi = np.maximum(ep_src, ep_dst)
    vlan = df["vlan"].cast(pl.Int64).fill_null(-1).to_numpy()
    order = np.lexsort((np.arange(n), hi, lo, vlan))  # by key, then capture order
    vs, ls, hs = vlan[order], lo[order], hi[order]
    new_key = np.empty(n, dtype=np.bool_)
    new_key[0] = True
    new_key[1:] = (vs[1:] != vs[:-1]) | (ls[1:] != ls[:-1]) | (hs[1:] != hs[:-1])
    key = np.cumsum(new_key) - 1
    conn = _split_reuse(
        key,
        a_is_src[order],
        df["flags"].cast(pl.Int64).to_numpy()[order],
        df["seq"].cast(pl.Int64).to_numpy()[order],
    )
    new_group = new_key.copy()
    new_group[1:] |= conn[1:] != conn[:-1]
    group = np.cumsum(new_group) - 1
    first_row = order[new_group]  # rows are sorted within a group: its first packet
    rank = np.empty(first_row.shape[0], dtype=np.int64)
    rank[np.argsort(first_row, kind="stable")] = np.arange(first_row.shape[0])
    flow_id = np.empty(n, dtype=np.uint32)
    flow_id[order] = rank[group]
    return df.with_columns(_a_is_src=pl.Series(a_is_src), flow_id=pl.Series(flow_id, dtype=pl.UInt32))


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
    # flow ids are 0..n-1: a lookup by position instead of a join (which would copy every column)
    a_is_client = np.zeros(int(per_flow["flow_id"].max()) + 1 if per_flow.height else 0, np.bool_)
    a_is_client[per_flow["flow_id"].to_numpy()] = per_flow["_a_is_client"].fill_null(False).to_numpy()
    from_client = df["_a_is_src"].to_numpy() == a_is_client[df["flow_id"].to_numpy()]
    return df.with_columns(from_client=pl.Series(from_client, dtype=pl.Boolean))
