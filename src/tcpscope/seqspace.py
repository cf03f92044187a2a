"""Sequence spaces: relative, unwrapped sequence and ACK numbers, and scaled windows.

Each sending side of a connection has its own space whose origin is its ISN (the SYN's
sequence number), or the first sequence number seen minus one when the SYN was not
captured, so data starts at 1 either way (as Wireshark shows it). Numbers are unwrapped
past 2^32 by accumulating signed 32-bit differences between consecutive packets.
"""

from __future__ import annotations

import polars as pl

SYN, ACK = 0x02, 0x10
_M32 = 1 << 32
_H32 = 1 << 31


def _signed32(expr: pl.Expr) -> pl.Expr:
    """Map a difference of two u32 values to the nearest signed distance."""
    return ((expr + _H32) % _M32) - _H32


def relative_numbers(df: pl.DataFrame) -> pl.DataFrame:
    """Add `rel_seq`, `rel_ack` and `win_bytes` to flow-assigned packets.

    Expects `flow_id`, `from_client` and time-sorted rows.
    """
    side = ["flow_id", "from_client"]
    seq = pl.col("seq").cast(pl.Int64)
    ack = pl.col("ack").cast(pl.Int64)
    is_syn = (pl.col("flags") & SYN) != 0
    has_ack = (pl.col("flags") & ACK) != 0

    df = df.with_columns(
        _seq_unwrapped=(seq.first() + _signed32(seq.diff().fill_null(0)).cum_sum()).over(side),
    )
    # origin per side: ISN of the first SYN of that side, else first seq - 1
    origins = df.group_by(side).agg(
        _origin=pl.coalesce(
            pl.col("_seq_unwrapped").filter(is_syn).first(),
            pl.col("_seq_unwrapped").first() - 1,
        ),
        _origin_raw=pl.coalesce(pl.col("seq").filter(is_syn).first(), pl.col("seq").first().cast(pl.Int64) - 1),
    )
    df = df.join(origins, on=side, how="left")
    peer = origins.select(
        "flow_id",
        pl.col("from_client").not_().alias("from_client"),
        pl.col("_origin_raw").alias("_peer_origin_raw"),
    )
    df = df.join(peer, on=side, how="left")
    df = df.with_columns(rel_seq=pl.col("_seq_unwrapped") - pl.col("_origin"))

    # ACKs: unwrap along each side's ACK stream, anchored at the peer's origin
    acked = df.filter(has_ack).select(
        "_row",
        *side,
        _ack_rel=(
            _signed32(ack.first() - pl.col("_peer_origin_raw").first().cast(pl.Int64))
            + _signed32(ack.diff().fill_null(0)).cum_sum()
        ).over(side),
    )
    df = df.join(acked.select("_row", "_ack_rel"), on="_row", how="left")
    df = df.with_columns(rel_ack=pl.col("_ack_rel"))

    # window scaling applies only when both SYNs carried the option, never to SYNs
    scales = df.filter(is_syn).group_by(side).agg(_wscale=pl.col("opt_wscale").first())
    both = scales.group_by("flow_id").agg(_both=pl.col("_wscale").is_not_null().sum() == 2)
    df = df.join(scales, on=side, how="left").join(both, on="flow_id", how="left")
    shift = pl.when(pl.col("_both").fill_null(False) & ~is_syn).then(pl.col("_wscale").fill_null(0)).otherwise(0)
    df = df.with_columns(win_bytes=pl.col("win").cast(pl.Int64) * pl.lit(2, pl.Int64).pow(shift.cast(pl.Int64)))
    return df.drop(
        ["_seq_unwrapped", "_origin", "_origin_raw", "_peer_origin_raw", "_ack_rel", "_wscale", "_both"]
    )
