"""The three-way handshake per connection: its RTT, where the capture point sits, SYN options."""

from __future__ import annotations

import polars as pl

SYN, ACK = 0x02, 0x10


def handshakes(df: pl.DataFrame, n_flows: int) -> pl.DataFrame:
    """One row per flow_id in 0..n_flows-1: `handshake_seen`, `handshake_rtt_ms`, `_near_client`.

    The handshake RTT is SYN -> SYN/ACK -> ACK, which is one full round trip wherever the
    capture point lies on the path; the larger of its two halves tells which end the capture
    point is near (near the client the SYN -> SYN/ACK half holds the whole path).
    """
    f = pl.col("flags")
    pure_syn = ((f & SYN) != 0) & ((f & ACK) == 0)
    syn_ack = ((f & SYN) != 0) & ((f & ACK) != 0)
    first_synack = df.group_by("flow_id").agg(
        _t_synack=pl.col("t").filter(syn_ack & ~pl.col("from_client")).first()
    )
    x = df.join(first_synack, on="flow_id", how="left")
    per = x.group_by("flow_id").agg(
        _t_syn=pl.col("t").filter(pure_syn & pl.col("from_client") & (pl.col("t") <= pl.col("_t_synack"))).last(),
        _t_synack=pl.col("_t_synack").first(),
        _t_ack=pl.col("t")
        .filter(pl.col("from_client") & ((f & ACK) != 0) & ((f & SYN) == 0) & (pl.col("t") >= pl.col("_t_synack")))
        .first(),
    )
    per = per.with_columns(
        handshake_seen=pl.col("_t_syn").is_not_null() & pl.col("_t_synack").is_not_null() & pl.col("_t_ack").is_not_null(),
    ).with_columns(
        handshake_rtt_ms=pl.when(pl.col("handshake_seen")).then((pl.col("_t_ack") - pl.col("_t_syn")) * 1e3),
        _near_client=pl.when(pl.col("handshake_seen")).then(
            (pl.col("_t_synack") - pl.col("_t_syn")) > (pl.col("_t_ack") - pl.col("_t_synack"))
        ),
    )
    allflows = pl.DataFrame({"flow_id": pl.Series(range(n_flows), dtype=pl.UInt32)})
    return allflows.join(
        per.select("flow_id", "handshake_seen", "handshake_rtt_ms", "_near_client"), on="flow_id", how="left"
    ).with_columns(pl.col("handshake_seen").fill_null(False))


def syn_options(df: pl.DataFrame) -> pl.DataFrame:
    """Per flow and side, the options of that side's first SYN (or SYN/ACK)."""
    is_syn = (pl.col("flags") & SYN) != 0
    return (
        df.filter(is_syn)
        .group_by(["flow_id", "from_client"])
        .agg(
            syn_mss=pl.col("opt_mss").first(),
            syn_wscale=pl.col("opt_wscale").first(),
            syn_sackok=pl.col("opt_sackok").first(),
            syn_ts=pl.col("opt_tsval").first().is_not_null(),
        )
    )
