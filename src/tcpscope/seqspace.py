"""Sequence spaces: relative, unwrapped sequence and ACK numbers, and scaled windows.

Each sending side of a connection has its own space whose origin is its ISN (the SYN's
sequence number), or the first sequence number seen minus one when the SYN was not
captured, so data starts at 1 either way (as Wireshark shows it). Numbers are unwrapped
past 2^32 by accumulating signed 32-bit differences between consecutive packets of a side.
ACKs are unwrapped along the acknowledging side's own stream, anchored at the peer's
origin. Windows are scaled only when both SYNs carried the window-scale option.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from numba import njit

SYN, ACK = 0x02, 0x10


@njit(cache=True, inline="always")
def _s32(x: np.int64) -> np.int64:
    x = x & 0xFFFFFFFF
    return x - 0x100000000 if x >= 0x80000000 else x


@njit(cache=True)
def _spaces(starts, side, seq, ack, flags, win, wscale):  # noqa: ANN001, ANN202 - numba kernel
    """Per flow (rows sorted by flow, then time): rel_seq, rel_ack, win_bytes."""
    n = seq.shape[0]
    rel_seq = np.zeros(n, dtype=np.int64)
    rel_ack = np.zeros(n, dtype=np.int64)
    win_bytes = np.zeros(n, dtype=np.int64)
    for f in range(starts.shape[0] - 1):
        a, b = starts[f], starts[f + 1]
        first = np.full(2, -1, dtype=np.int64)  # first raw seq per side
        syn = np.full(2, -1, dtype=np.int64)  # raw seq of the first SYN per side
        syn_at = np.full(2, -1, dtype=np.int64)  # its row
        shift = np.full(2, -1, dtype=np.int64)  # wscale of that SYN (-1: none)
        for i in range(a, b):
            d = side[i]
            if first[d] < 0:
                first[d] = seq[i]
            if (flags[i] & SYN) != 0 and syn[d] < 0:
                syn[d] = seq[i]
                syn_at[d] = i
                shift[d] = wscale[i]
        scaled = shift[0] >= 0 and shift[1] >= 0
        # origin per side as a raw number, and unwrapped running sequence numbers
        origin = np.zeros(2, dtype=np.int64)
        for d in range(2):
            origin[d] = syn[d] if syn[d] >= 0 else (first[d] - 1) & 0xFFFFFFFF
        cur = np.zeros(2, dtype=np.int64)  # unwrapped seq relative to origin
        prev = np.full(2, -1, dtype=np.int64)
        acur = np.zeros(2, dtype=np.int64)
        aprev = np.full(2, -1, dtype=np.int64)
        for i in range(a, b):
            d = side[i]
            o = 1 - d
            if prev[d] < 0:
                cur[d] = _s32(seq[i] - origin[d])
            else:
                cur[d] += _s32(seq[i] - prev[d])
            prev[d] = seq[i]
            rel_seq[i] = cur[d]
            if (flags[i] & ACK) != 0:
                if aprev[d] < 0:
                    acur[d] = _s32(ack[i] - origin[o])
                else:
                    acur[d] += _s32(ack[i] - aprev[d])
                aprev[d] = ack[i]
                rel_ack[i] = acur[d]
            s = shift[d] if scaled and (flags[i] & SYN) == 0 else 0
            win_bytes[i] = win[i] << min(s, 14)
    return rel_seq, rel_ack, win_bytes


def relative_numbers(df: pl.DataFrame) -> pl.DataFrame:
    """Add `rel_seq`, `rel_ack` (null without the ACK flag) and `win_bytes`.

    Expects rows sorted by `flow_id`, then time, with `from_client` set.
    """
    if df.height == 0:
        return df.with_columns(
            rel_seq=pl.lit(None, pl.Int64), rel_ack=pl.lit(None, pl.Int64), win_bytes=pl.lit(None, pl.Int64)
        )
    counts = np.bincount(df["flow_id"].to_numpy().astype(np.int64))
    starts = np.zeros(counts.shape[0] + 1, dtype=np.int64)
    starts[1:] = np.cumsum(counts)
    rel_seq, rel_ack, win_bytes = _spaces(
        starts,
        (~df["from_client"]).cast(pl.Int8).to_numpy(),
        df["seq"].cast(pl.Int64).to_numpy(),
        df["ack"].cast(pl.Int64).to_numpy(),
        df["flags"].cast(pl.Int64).to_numpy(),
        df["win"].cast(pl.Int64).to_numpy(),
        df["opt_wscale"].cast(pl.Int64).fill_null(-1).to_numpy(),
    )
    has_ack = (pl.col("flags") & ACK) != 0
    return df.with_columns(
        rel_seq=pl.Series(rel_seq),
        rel_ack=pl.when(has_ack).then(pl.Series(rel_ack)),
        win_bytes=pl.Series(win_bytes),
    )
