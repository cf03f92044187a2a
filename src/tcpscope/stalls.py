"""Stalls and their causes (tapo, Zhou et al., CoNEXT 2015), adapted to the capture's vantage.

A stall is a gap between consecutive packets of a connection (either direction) longer than
min(2 x SRTT, RTO) of the connection's freshest RFC 6298 estimate (`tcpscope.rto`; 1 s before the
first RTT sample), and never shorter than STALL_FLOOR (Linux's delayed-ACK minimum). Each stall
gets one cause from an ordered rule list (first match wins), evaluated on the connection state
just before the packet that ended it; the rules, their tapo source and their adaptation are in
docs/stalls.md. Pure functions over the `segments` and `flows` frames; the walk is compiled
(numba).
"""

from __future__ import annotations

import numpy as np
import polars as pl
from numba import njit

from tcpscope import rto as rtomod
from tcpscope.classes import CAUSES, CLASS_NAMES, GROUPS

(
    DATA_UNAVAILABLE,
    ZERO_WINDOW,
    PACKET_DELAY,
    RETRANS_SMALL_INIT_WINDOW,
    TAIL_RETRANSMISSION,
    CLIENT_IDLE,
    SMALL_CWND_RETRANSMISSION,
    SMALL_RWND_RETRANSMISSION,
    DOUBLE_RETRANSMISSION,
    SPURIOUS_RETRANSMISSION,
    CONTINUOUS_LOSS,
    OTHER_RETRANSMISSION,
    RESOURCE_CONSTRAINT,
    UNKNOWN,
) = range(len(CAUSES))
G_CLIENT, G_SERVER, G_NETWORK, G_UNKNOWN = 0, 1, 2, 3

#: Columns of `stalls.parquet`.
STALL_SCHEMA: dict[str, pl.DataType] = {
    "flow_id": pl.UInt32(),
    "start_t": pl.Float64(),
    "end_t": pl.Float64(),
    "duration_s": pl.Float64(),
    "cause": pl.Utf8(),
    "group": pl.Utf8(),
    "start_frame": pl.UInt32(),
    "end_frame": pl.UInt32(),
    "end_sender": pl.Utf8(),
    "threshold_s": pl.Float64(),
    "srtt_ms": pl.Float64(),
    "rto_ms": pl.Float64(),
}
#: Per-connection summary columns added to `flows` (repeated on both sides' rows).
SUMMARY_COLUMNS: tuple[str, ...] = ("stalls", "stall_time_s", "stall_ratio", *(f"stall_s_{c}" for c in CAUSES))

SMALL_INIT_WINDOW = 4096  # bytes, tapo's init_rwnd <= 4096
SMALL_WINDOW_SEGMENTS = 3  # tapo's 3 x max_snd_seg_size
DEFAULT_MSS = 536  # RFC 9293 default send MSS, used until a side has sent a larger segment
#: Smallest stall threshold (s): Linux's TCP_DELACK_MIN. On a path whose 2 x SRTT is shorter, a
#: sender waiting for a delayed ACK pauses that long in normal operation (docs/stalls.md).
STALL_FLOOR = 0.04

_NEW, _RETX, _SPUR, _REORD, _DUP, _KEEPALIVE, _PROBE = range(7)
_FIN, _SYN, _RST = 0x01, 0x02, 0x04


@njit(cache=True)
def _walk(
    starts: np.ndarray,
    side: np.ndarray,
    t: np.ndarray,
    length: np.ndarray,
    flags: np.ndarray,
    rel_seq: np.ndarray,
    ack_ok: np.ndarray,
    rel_ack: np.ndarray,
    win: np.ndarray,
    cls: np.ndarray,
    rtt_s: np.ndarray,
    sack_hi: np.ndarray,
    near: np.ndarray,
    scaled: np.ndarray,
    init_rto: float,
    g: float,
    min_rto: float,
    max_rto: float,
    floor: float,
) -> tuple[np.ndarray, ...]:
    """Walk each flow (rows flow-sorted, in time order); return per stall: start row, end row,
    cause, group, threshold, SRTT and RTO (s), and the number of stalls."""
    n = t.shape[0]
    o_start = np.empty(n, np.int64)
    o_end = np.empty(n, np.int64)
    o_cause = np.empty(n, np.int64)
    o_group = np.empty(n, np.int64)
    o_thr = np.empty(n, np.float64)
    o_srtt = np.empty(n, np.float64)
    o_rto = np.empty(n, np.float64)
    k = 0
    for f in range(starts.shape[0] - 1):
        srtt = np.full(2, np.nan)
        rttvar = np.full(2, np.nan)
        rto = np.full(2, init_rto)
        t_sample = np.full(2, -np.inf)
        max_end = np.full(2, -1, np.int64)  # highest data end sent (-1: no data yet)
        una = np.full(2, -1, np.int64)  # the peer's cumulative ACK of this side's stream (-1: none)
        wnd = np.full(2, -1, np.int64)  # window the peer offers this side (-1: unknown)
        init_wnd = np.full(2, -1, np.int64)
        mss = np.zeros(2, np.int64)
        tail = np.zeros(2, np.bool_)  # the side's last new data ended a message (short segment or FIN)
        sacked_hi = np.full(2, -1, np.int64)
        rx_lo = np.full(2, -1, np.int64)  # hull of re-sent ranges not yet acknowledged
        rx_hi = np.full(2, -1, np.int64)
        syns = np.zeros(2, np.int64)
        fins = np.zeros(2, np.int64)
        rst = False
        last_data_side = -1
        vant = near[f]
        sc = scaled[f]
        for i in range(starts[f], starts[f + 1]):
            x = side[i]
            y = 1 - x
            fl = flags[i]
            c = cls[i]
            # as tapo: no stalls once the connection is closed (FINs from both sides, or an RST)
            closed = (fins[0] > 0 and fins[1] > 0) or rst
            if i > starts[f] and not closed:
                gap = t[i] - t[i - 1]
                # the freshest estimate of the path (both sides measure one round trip)
                fs = 0 if t_sample[0] >= t_sample[1] else 1
                if np.isnan(srtt[fs]):
                    thr = init_rto
                    s_srtt = np.nan
                    s_rto = init_rto
                else:
                    thr = max(min(2.0 * srtt[fs], rto[fs]), floor)
                    s_srtt = srtt[fs]
                    s_rto = rto[fs]
                if gap > thr:
                    cause, group = _cause(
                        x, c, length[i], fl, rel_seq[i], max_end, una, wnd, init_wnd, mss, tail,
                        sacked_hi, rx_lo, rx_hi, syns, fins, last_data_side, vant, sc,
                    )
                    o_start[k] = i - 1
                    o_end[k] = i
                    o_cause[k] = cause
                    o_group[k] = group
                    o_thr[k] = thr
                    o_srtt[k] = s_srtt
                    o_rto[k] = s_rto
                    k += 1
            # ---- update the state with packet i ----
            r = rtt_s[i]
            if not np.isnan(r) and r >= 0.0:
                srtt[x], rttvar[x], rto[x] = rtomod.update(srtt[x], rttvar[x], r, g, min_rto, max_rto)
                t_sample[x] = t[i]
            if fl & _RST == 0:
                wnd[y] = win[i]
                if init_wnd[y] < 0:
                    init_wnd[y] = win[i]
            if ack_ok[i]:
                if rel_ack[i] > una[y]:
                    una[y] = rel_ack[i]
                if sack_hi[i] > sacked_hi[y]:
                    sacked_hi[y] = sack_hi[i]
                if rx_hi[y] >= 0 and una[y] >= rx_hi[y]:
                    rx_lo[y] = -1
                    rx_hi[y] = -1
            if fl & _SYN:
                syns[x] += 1
            if fl & _FIN:
                fins[x] += 1
            if fl & _RST:
                rst = True
            ln = length[i]
            if ln > 0:
                e = rel_seq[i] + ln
                m = max(mss[x], DEFAULT_MSS)
                if c == _NEW or c == _REORD:
                    if e > max_end[x]:
                        max_end[x] = e
                        tail[x] = ln < m and (not sc or wnd[x] < 0 or wnd[x] >= m)
                    last_data_side = x
                elif c == _RETX or c == _SPUR:
                    if rx_hi[x] < 0:
                        rx_lo[x] = rel_seq[i]
                        rx_hi[x] = e
                    else:
                        rx_lo[x] = min(rx_lo[x], rel_seq[i])
                        rx_hi[x] = max(rx_hi[x], e)
                if ln > mss[x]:
                    mss[x] = ln
            if fl & _FIN:
                tail[x] = True
    return o_start[:k], o_end[:k], o_cause[:k], o_group[:k], o_thr[:k], o_srtt[:k], o_rto[:k]


@njit(cache=True)
def _cause(
    x: int,
    c: int,
    ln: int,
    fl: int,
    seq: int,
    max_end: np.ndarray,
    una: np.ndarray,
    wnd: np.ndarray,
    init_wnd: np.ndarray,
    mss: np.ndarray,
    tail: np.ndarray,
    sacked_hi: np.ndarray,
    rx_lo: np.ndarray,
    rx_hi: np.ndarray,
    syns: np.ndarray,
    fins: np.ndarray,
    last_data_side: int,
    vant: int,
    scaled: bool,
) -> tuple[int, int]:
    """tapo's ordered rules (docs/stalls.md) on the state before the stall-ending packet from side x
    (0 client, 1 server). Returns (cause, group)."""
    y = 1 - x
    role_x = G_CLIENT if x == 0 else G_SERVER
    role_y = G_CLIENT if y == 0 else G_SERVER
    out = np.zeros(2, np.int64)
    for s in range(2):
        if max_end[s] >= 0 and una[s] >= 0:
            out[s] = max(max_end[s] - una[s], 0)
        elif max_end[s] >= 0:
            out[s] = 0  # nothing acknowledged seen: cannot tell, count as nothing outstanding
    fin_again = ln == 0 and (fl & _FIN) != 0 and fins[x] > 0
    is_retx = (ln > 0 and c == _RETX) or ((fl & _SYN) != 0 and syns[x] > 0) or fin_again
    is_spur = ln > 0 and c == _SPUR
    is_new = (ln > 0 and (c == _NEW or c == _REORD)) or (ln == 0 and (fl & (_FIN | _RST)) != 0 and not fin_again)
    is_probe = c == _PROBE or c == _KEEPALIVE
    carries = ln > 0 or is_probe or (fl & (_SYN | _FIN | _RST)) != 0
    d = x if carries else y  # the stream the stall held up
    m_x = max(mss[x], DEFAULT_MSS)
    m_d = max(mss[d], DEFAULT_MSS)
    small_x = SMALL_WINDOW_SEGMENTS * m_x
    # 1. zero receive window: the held-up stream's receiver offered less than one segment (exactly
    #    zero when the window scale is unknown: no handshake, so the raw field is all there is).
    #    Before 'data unavailable' (tapo's first rule): a sender facing a window under one MSS
    #    waits (RFC 9293 3.8.6.2.1, sender-side silly window avoidance) whatever data it has
    limit = m_d if scaled else 1
    if c == _PROBE or (wnd[d] >= 0 and wnd[d] < limit and not is_retx):
        return ZERO_WINDOW, (G_CLIENT if d == 1 else G_SERVER)
    # 2. data unavailable: the server sends new data after a gap in which it had nothing outstanding
    #    (answering a request late, or pushing when it had something): the server had nothing to send
    if x == 1 and is_new and out[1] == 0 and (tail[1] or max_end[1] < 0 or last_data_side == 0):
        return DATA_UNAVAILABLE, G_SERVER
    # the handshake: a re-sent SYN or SYN/ACK (the first was lost), or a late first SYN/ACK
    if fl & _SYN:
        if is_retx:
            return OTHER_RETRANSMISSION, G_NETWORK
        return PACKET_DELAY, (role_x if vant == x else G_NETWORK)
    # 3. packet delay: a pure ACK of the peer's outstanding data ends the stall, or new data while
    #    data was outstanding (the ACKs that clock the sender did not come; a loss probe sends new data)
    if (not carries and out[y] > 0) or (is_new and ln > 0 and out[x] > 0):
        # a pure ACK sent next to the capture point was not held up by the network but by its sender
        return PACKET_DELAY, (role_x if vant == x and not carries else G_NETWORK)
    if is_retx:
        # 4. retransmission with a small initial window
        if scaled and 0 <= init_wnd[x] <= SMALL_INIT_WINDOW and out[x] <= small_x:
            return RETRANS_SMALL_INIT_WINDOW, role_y
        # 5. tail retransmission: the lost bytes are within 3 segments of the end of a message
        if tail[x] and max_end[x] - seq <= small_x:
            return TAIL_RETRANSMISSION, G_NETWORK
    # 6. client idle: nothing outstanding either way, no re-send: nobody had anything to send
    if not is_retx and not is_spur and out[0] == 0 and out[1] == 0:
        return CLIENT_IDLE, G_CLIENT
    if is_retx and out[x] <= small_x:
        # 7./8. too little in flight for fast retransmit: cwnd- or rwnd-limited
        if not scaled or wnd[x] < 0 or wnd[x] > small_x:
            return SMALL_CWND_RETRANSMISSION, G_NETWORK
        return SMALL_RWND_RETRANSMISSION, role_y
    # 9. double retransmission: the re-sent bytes had been re-sent before (the re-send was lost).
    #    Not a needless re-send: its bytes had got through, so its stall is rule 10's (ACKs lost)
    if is_retx and rx_hi[x] >= 0 and seq < rx_hi[x] and seq + max(ln, 1) > rx_lo[x]:
        return DOUBLE_RETRANSMISSION, G_NETWORK
    # 10. spurious retransmission: the data had got through, its ACK was late (ACK delay)
    if is_spur:
        return SPURIOUS_RETRANSMISSION, G_NETWORK
    if is_retx:
        # 11. continuous loss: nothing above the cumulative ACK was SACKed: the whole window was lost
        if sacked_hi[x] <= una[x]:
            return CONTINUOUS_LOSS, G_NETWORK
        # 12. other retransmission
        return OTHER_RETRANSMISSION, G_NETWORK
    # 13. resource constraint: the sender had window, nothing in flight, and stopped mid-message
    if is_new:
        return RESOURCE_CONSTRAINT, role_x
    return UNKNOWN, G_UNKNOWN


def _sack_hi(df: pl.DataFrame) -> pl.Series:
    """Per row: the highest SACK right edge, in the acknowledged side's relative space (-1: none)."""
    ex = (
        df.select(
            pl.int_range(pl.len(), dtype=pl.Int64).alias("_i"),
            pl.col("ack").cast(pl.Int64),
            pl.col("rel_ack"),
            pl.col("sack_right"),
        )
        .filter(pl.col("rel_ack").is_not_null() & (pl.col("sack_right").list.len() > 0))
        .explode("sack_right")
    )
    d = ((pl.col("sack_right").cast(pl.Int64) - pl.col("ack") + (1 << 31)) % (1 << 32)) - (1 << 31)
    hi = ex.group_by("_i").agg((pl.col("rel_ack").first() + d.max()).alias("_hi"))
    out = np.full(df.height, -1, np.int64)
    out[hi["_i"].to_numpy()] = hi["_hi"].to_numpy()
    return pl.Series("_sack_hi", out)


# the segments columns the stall walk reads (sorting only these is cheaper than the whole table)
_WALK_COLUMNS = (
    "flow_id", "t", "frame", "from_client", "len", "flags", "rel_seq", "ack", "rel_ack", "win_bytes",
    "seg_class", "rtt_ms", "sack_right",
)


def detect_stalls(
    segments: pl.DataFrame,
    flows: pl.DataFrame,
    init_rto: float = rtomod.INIT_RTO,
    min_rto: float = rtomod.MIN_RTO,
    max_rto: float = rtomod.MAX_RTO,
    granularity: float = rtomod.G,
    floor: float = STALL_FLOOR,
) -> pl.DataFrame:
    """The stalls of a capture (STALL_SCHEMA), one row per stall, by flow and time. `floor` is the
    smallest threshold (s); 0 gives tapo's min(2 SRTT, RTO) unchanged."""
    if segments.height == 0:
        return pl.DataFrame(schema=STALL_SCHEMA)
    df = segments.select(_WALK_COLUMNS)
    fid = df["flow_id"].to_numpy()
    t = df["t"].to_numpy()
    if fid.shape[0] > 1 and not ((fid[1:] > fid[:-1]) | ((fid[1:] == fid[:-1]) & (t[1:] >= t[:-1]))).all():
        df = df.sort(["flow_id", "t", "frame"])  # one connection in time order needs no copy
    fid = df["flow_id"].cast(pl.Int64).to_numpy()
    starts = rtomod.flow_starts(fid)
    flow_ids = fid[starts[:-1]]
    near = np.ones(len(flow_ids), np.int64)  # 0: capture near the client, 1: near the server
    if flows.height and "vantage" in flows.columns:
        v = dict(flows.select("flow_id", "vantage").unique("flow_id").iter_rows())
        near = np.array([0 if v.get(int(f), "client") != "server" else 1 for f in flow_ids], np.int64)
    scaled = np.zeros(len(flow_ids), np.bool_)
    if flows.height and "handshake_seen" in flows.columns:
        h = dict(flows.select("flow_id", "handshake_seen").unique("flow_id").iter_rows())
        scaled = np.array([bool(h.get(int(f))) for f in flow_ids], np.bool_)
    codes = {name: i for i, name in enumerate(CLASS_NAMES)}
    cls = df["seg_class"].replace_strict(codes, default=-1, return_dtype=pl.Int64).to_numpy()

    def i64(col: str, null: int = 0) -> np.ndarray:
        return np.ascontiguousarray(df[col].cast(pl.Int64).fill_null(null).to_numpy())

    res = _walk(
        starts,
        np.ascontiguousarray((~df["from_client"]).cast(pl.Int64).to_numpy()),
        np.ascontiguousarray(df["t"].cast(pl.Float64).to_numpy()),
        i64("len"),
        i64("flags"),
        i64("rel_seq"),
        np.ascontiguousarray(df["rel_ack"].is_not_null().to_numpy()),
        i64("rel_ack"),
        i64("win_bytes", -1),
        np.ascontiguousarray(cls),
        np.ascontiguousarray((df["rtt_ms"].cast(pl.Float64).fill_null(np.nan) / 1e3).to_numpy()),
        np.ascontiguousarray(_sack_hi(df).to_numpy()),
        near,
        scaled,
        init_rto,
        granularity,
        min_rto,
        max_rto,
        floor,
    )
    s_row, e_row, cause, group, thr, srtt, rto = res
    t = df["t"].to_numpy()
    frame = df["frame"].to_numpy()
    from_client = df["from_client"].to_numpy()
    out = pl.DataFrame(
        {
            "flow_id": fid[e_row],
            "start_t": t[s_row],
            "end_t": t[e_row],
            "duration_s": t[e_row] - t[s_row],
            "cause": pl.Series(CAUSES, dtype=pl.Utf8).gather(cause),
            "group": pl.Series(GROUPS, dtype=pl.Utf8).gather(group),
            "start_frame": frame[s_row],
            "end_frame": frame[e_row],
            "end_sender": np.where(from_client[e_row], "client", "server"),
            "threshold_s": thr,
            "srtt_ms": srtt * 1e3,
            "rto_ms": rto * 1e3,
        },
        strict=False,
    ).with_columns(pl.col("srtt_ms").fill_nan(None))
    return out.select([pl.col(c).cast(dt) for c, dt in STALL_SCHEMA.items()])


def stall_summary(stalls: pl.DataFrame, flows: pl.DataFrame) -> pl.DataFrame:
    """Per connection (`flow_id`): stall count, total stall time, stall ratio (stall time / lifetime,
    the connection's first to last packet), and the stall time per cause (zeros without stalls)."""
    conn = flows.select("flow_id", "duration_s").unique("flow_id", maintain_order=True)
    per = stalls.group_by("flow_id").agg(
        stalls=pl.len().cast(pl.Int64),
        stall_time_s=pl.col("duration_s").sum(),
        **{f"stall_s_{c}": pl.col("duration_s").filter(pl.col("cause") == c).sum() for c in CAUSES},
    )
    out = conn.join(per, on="flow_id", how="left").with_columns(
        pl.col("stalls").fill_null(0),
        *(pl.col(c).fill_null(0.0) for c in ("stall_time_s", *(f"stall_s_{c}" for c in CAUSES))),
    )
    out = out.with_columns(
        stall_ratio=pl.when(pl.col("duration_s") > 0).then(pl.col("stall_time_s") / pl.col("duration_s"))
    )
    return out.select("flow_id", *SUMMARY_COLUMNS)


def add_stall_summary(flows: pl.DataFrame, stalls: pl.DataFrame) -> pl.DataFrame:
    """`flows` with the per-connection stall columns (SUMMARY_COLUMNS) joined in."""
    if flows.height == 0:
        return flows.with_columns(pl.lit(None).alias(c) for c in SUMMARY_COLUMNS)
    summary = stall_summary(stalls, flows)
    return flows.drop([c for c in SUMMARY_COLUMNS if c in flows.columns]).join(summary, on="flow_id", how="left")
