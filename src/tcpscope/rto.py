"""RFC 6298 retransmission-timeout estimator, per flow and sending side, over the RTT samples.

The samples are `segments.rtt_ms` (already Karn-valid: never from a re-sent range). Per side:

* first sample R:   SRTT = R, RTTVAR = R / 2
* later samples R': RTTVAR = (1 - beta) RTTVAR + beta |SRTT - R'|, then SRTT = (1 - alpha) SRTT + alpha R'
  (alpha = 1/8, beta = 1/4; RTTVAR is updated with the old SRTT, RFC 6298 §2.3)
* RTO = SRTT + max(G, K RTTVAR), K = 4, G = clock granularity (1 ms), clamped to [MIN_RTO, MAX_RTO];
  before the first sample RTO = 1 s (RFC 6298 §2.1).

Deviation from RFC 6298 §2.4: the floor is Linux's 200 ms (`TCP_RTO_MIN`), not 1 s, because the
captures are of Linux/Android stacks and a 1 s floor would hide every sub-second stall; docs/stalls.md.
The estimator is a compiled walk (numba); `update` is shared with the stall detector.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from numba import njit

ALPHA = 0.125
BETA = 0.25
K = 4.0
G = 0.001  # clock granularity, s
INIT_RTO = 1.0  # s, RFC 6298 §2.1
MIN_RTO = 0.2  # s, Linux TCP_RTO_MIN (deviation from RFC 6298's 1 s)
MAX_RTO = 60.0  # s, RFC 6298 §2.5 (optional upper bound, at least 60 s)


@njit(cache=True, inline="always")
def update(srtt: float, rttvar: float, r: float, g: float, min_rto: float, max_rto: float) -> tuple[float, float, float]:
    """One RFC 6298 step: (SRTT, RTTVAR) before (NaN SRTT = no sample yet) and a sample r -> new (SRTT, RTTVAR, RTO)."""
    if np.isnan(srtt):
        srtt = r
        rttvar = r / 2.0
    else:
        rttvar = (1.0 - BETA) * rttvar + BETA * abs(srtt - r)
        srtt = (1.0 - ALPHA) * srtt + ALPHA * r
    rto = srtt + max(g, K * rttvar)
    return srtt, rttvar, min(max(rto, min_rto), max_rto)


@njit(cache=True)
def _walk(
    starts: np.ndarray, side: np.ndarray, rtt_s: np.ndarray, init_rto: float, g: float, min_rto: float, max_rto: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = rtt_s.shape[0]
    srtt_o = np.full(n, np.nan)
    rttvar_o = np.full(n, np.nan)
    rto_o = np.full(n, init_rto)
    for f in range(starts.shape[0] - 1):
        srtt = np.full(2, np.nan)
        rttvar = np.full(2, np.nan)
        rto = np.full(2, init_rto)
        for i in range(starts[f], starts[f + 1]):
            s = side[i]
            r = rtt_s[i]
            if not np.isnan(r) and r >= 0.0:
                srtt[s], rttvar[s], rto[s] = update(srtt[s], rttvar[s], r, g, min_rto, max_rto)
            srtt_o[i] = srtt[s]
            rttvar_o[i] = rttvar[s]
            rto_o[i] = rto[s]
    return srtt_o, rttvar_o, rto_o


def flow_starts(flow_id: np.ndarray) -> np.ndarray:
    """Row offsets of each run of equal flow ids in a flow-sorted array (len = runs + 1)."""
    if flow_id.shape[0] == 0:
        return np.zeros(1, dtype=np.int64)
    cut = np.flatnonzero(np.diff(flow_id)) + 1
    return np.concatenate(([0], cut, [flow_id.shape[0]])).astype(np.int64)


def rto_estimates(
    segments: pl.DataFrame,
    init_rto: float = INIT_RTO,
    min_rto: float = MIN_RTO,
    max_rto: float = MAX_RTO,
    granularity: float = G,
) -> pl.DataFrame:
    """Per packet: the estimator state of its sending side after the packet's RTT sample (if any).

    Returns `flow_id`, `frame`, `from_client`, `srtt_ms`, `rttvar_ms` (null before the side's first
    sample) and `rto_ms`, in (flow_id, t, frame) order.
    """
    df = segments.select("flow_id", "frame", "from_client", "t", "rtt_ms").sort(["flow_id", "t", "frame"])
    starts = flow_starts(df["flow_id"].cast(pl.Int64).to_numpy())
    side = (~df["from_client"]).cast(pl.Int64).to_numpy()
    rtt = (df["rtt_ms"].cast(pl.Float64).fill_null(np.nan) / 1e3).to_numpy()
    srtt, rttvar, rto = _walk(starts, side, np.ascontiguousarray(rtt), init_rto, granularity, min_rto, max_rto)
    return df.select("flow_id", "frame", "from_client").with_columns(
        srtt_ms=pl.Series(srtt * 1e3).fill_nan(None),
        rttvar_ms=pl.Series(rttvar * 1e3).fill_nan(None),
        rto_ms=pl.Series(rto * 1e3),
    )
