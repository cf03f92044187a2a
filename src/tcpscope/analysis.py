"""Packets -> segments and flows: the analysis entry point shared by the CLI and the workflow."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl

from tcpscope import flows as flowmod
from tcpscope import handshake, seqspace, tcpstate
from tcpscope.context import OWN, Context, context_of, flow_ends, short_side
from tcpscope.flows import RST
from tcpscope.flowstats import flow_table

Direction = Literal["up", "down", "auto"]


@dataclass
class Analysis:
    """The two tables of one capture: per packet (`segments`) and per flow and side (`flows`)."""

    segments: pl.DataFrame
    flows: pl.DataFrame


def _step(x: pl.Expr, modulus: int) -> pl.Expr:
    """Difference from the previous row of a counter that wraps at `modulus`, in [-modulus/2, modulus/2)."""
    half = modulus // 2
    return ((x.diff() + half) % modulus) - half


def _side_stats(df: pl.DataFrame) -> pl.DataFrame:
    """Per flow and side: are IP IDs sequential / varying, are TCP timestamps usable for order?
    Also the side's address and IP ID step counts (`_src`, `_own`, `_calm`), which
    `_side_traits` uses and drops."""
    ipid = pl.col("ip_id").cast(pl.Int64)
    d = _step(ipid, 1 << 16)
    # a reset often carries no timestamps (Linux's reset for a socket that is gone has none), so
    # resets do not count when judging whether a side's TSvals are usable (seed 235)
    tsv = pl.col("opt_tsval").cast(pl.Int64).filter((pl.col("flags") & RST) == 0)
    dts = _step(tsv, 1 << 32)
    d_own = _step(ipid.filter(OWN), 1 << 16)
    # steps between the IDs in counter order (a reordered packet is no gap), unwrapped
    steps = d_own.fill_null(0).cum_sum().sort().diff()
    sides = (
        df.lazy()
        .group_by(["flow_id", "from_client"])
        .agg(
            # in arrival order, or in counter order: a packet held on the way breaks the first
            # on a short side, not the second (seed 422: a chat reply's last data held 76 ms,
            # arriving after its FIN, IDs 62516 and 62517)
            ipid_seq=(((d > 0) & (d < 1024)).mean().fill_null(0) >= 0.8)
            | (((steps > 0) & (steps < 1024)).mean().fill_null(0) >= 0.8),
            ipid_varies=ipid.n_unique() > 1,
            ts_ok=(tsv.is_not_null().mean().fill_null(0) >= 0.9) & ((dts >= 0).mean().fill_null(0) >= 0.9),
            _src=pl.col("src").first(),
            _own=OWN.sum(),
            _one=(steps == 1).sum(),
            _odd=((steps < 1) | (steps > tcpstate.MAX_IPID_GAP + 1)).sum(),
        )
        .collect()
    )
    sides = sides.with_columns(
        # a per-connection counter (Linux, DF set): consecutive packets differ by exactly 1, so a
        # gap is a packet of this side the capture point never saw (tcpstate: lost tail re-sends,
        # answers counted, segments lost above the bytes seen). In counter order three steps in
        # four are +1; the others are packets the capture did not see (up to MAX_IPID_GAP in a
        # row), except at most one step in ten (or a single one)
        ipid_step1=(pl.col("_one") >= 0.75 * (pl.col("_own") - 1))
        & (pl.col("_odd") <= pl.max_horizontal(pl.lit(1.0), 0.1 * pl.col("_own")))
        & (pl.col("_own") >= 4),
        _calm=pl.col("_odd") == 0,
    )
    return sides


def _side_traits(sides: pl.DataFrame, ctx: Context) -> pl.DataFrame:
    """`_side_stats` with the capture's context applied: a side too short to show its IP ID
    pattern takes its host's (tcpscope.context.per_socket_hosts; seeds 37 and 51)."""
    hosts = pl.Series(sorted(ctx.per_socket_hosts), dtype=pl.String).implode()
    borrowed = short_side() & pl.col("_src").is_in(hosts)
    sides = sides.with_columns(ipid_step1=pl.col("ipid_step1") | borrowed)
    return sides.drop("_src", "_own", "_one", "_odd", "_calm")


def _vantage_from_samples(segs: pl.DataFrame) -> pl.DataFrame:
    """Per flow and side, guess the capture point from RTT samples: near the sender when
    data->ACK delays (full round trips there) exceed ACK->data echo delays (the sender's local
    turnaround there). Echo delays longer than ACK delays do not show the opposite: they also
    hold the application's think time (a chat's message comes when its user writes), so then
    the two sides' data->ACK delays decide (a full round trip for the near sender's data, a
    local turnaround for the other's), and the echo delays only when one side has none."""
    per_side = segs.group_by(["flow_id", "from_client"]).agg(
        _ack_med=pl.col("_rtt_ack").median(),
        _echo_med=pl.col("_rtt_echo").median(),
    )
    other = per_side.select(
        "flow_id",
        pl.col("from_client").not_(),
        pl.col("_ack_med").alias("_other_ack_med"),
    )
    per_side = per_side.join(other, on=["flow_id", "from_client"], how="left")
    return per_side.select(
        "flow_id",
        "from_client",
        _guess=pl.when(pl.col("_ack_med") > pl.col("_echo_med"))
        .then(True)
        .when(pl.col("_ack_med").is_not_null() & pl.col("_other_ack_med").is_not_null())
        .then(pl.col("_ack_med") > pl.col("_other_ack_med"))
        .when(pl.col("_ack_med").is_not_null() & pl.col("_echo_med").is_not_null())
        .then(False),
    )


def _side_index(df: pl.DataFrame) -> np.ndarray:
    """Per row: its connection side's index, 2 x flow_id (+1 for the server's side)."""
    return (df["flow_id"].cast(pl.Int64) * 2 + (~df["from_client"]).cast(pl.Int64)).to_numpy()


def _per_side(sides: pl.DataFrame, col: str, n_flows: int) -> np.ndarray:
    """A boolean column of `sides` as an array indexed by _side_index (False where missing)."""
    out = np.zeros(2 * n_flows, dtype=np.bool_)
    out[_side_index(sides)] = sides[col].fill_null(False).to_numpy()
    return out


def _run_kernel(
    df: pl.DataFrame, sides: pl.DataFrame, rtt_hint: np.ndarray, path_rtt: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Call the compiled state walk on flow-sorted rows; `sides` holds per-side parameters."""
    n_flows = rtt_hint.shape[0]

    def per_side(col: str) -> np.ndarray:
        return _per_side(sides, col, n_flows)

    counts = df.group_by("flow_id").len().sort("flow_id")["len"].to_numpy()
    starts = np.zeros(n_flows + 1, dtype=np.int64)
    starts[1:] = np.cumsum(counts)
    sack_len = df["sack_left"].list.len().fill_null(0).to_numpy().astype(np.int64)
    sack_off = np.zeros(df.height + 1, dtype=np.int64)
    sack_off[1:] = np.cumsum(sack_len)
    n_blocks = min(df["sack_left"].list.len().fill_null(0).to_numpy().astype(np.int64).sum(),
                   df["sack_right"].list.len().fill_null(0).to_numpy().astype(np.int64).sum())
    sack_l = df["sack_left"].explode(empty_as_null=False).drop_nulls().cast(pl.Int64).to_numpy()[:n_blocks]
    sack_r = df["sack_right"].explode(empty_as_null=False).drop_nulls().cast(pl.Int64).to_numpy()[:n_blocks]

    def i64(col: str, null: int = -1) -> np.ndarray:
        return df[col].cast(pl.Int64).fill_null(null).to_numpy()

    return tcpstate.walk_flows(
        starts,
        (~df["from_client"]).cast(pl.Int8).to_numpy(),
        df["t"].to_numpy(),
        i64("rel_seq", 0),
        i64("len", 0),
        i64("flags", 0),
        df["rel_ack"].is_not_null().to_numpy(),
        i64("rel_ack", 0),
        i64("ack", 0),
        i64("win_bytes", 0),
        i64("ip_id"),
        i64("opt_tsval"),
        i64("opt_tsecr"),
        sack_off,
        np.ascontiguousarray(sack_l),
        np.ascontiguousarray(sack_r),
        per_side("_sender_vantage"),
        per_side("ipid_seq"),
        per_side("ipid_varies"),
        per_side("ts_ok"),
        per_side("ipid_step1"),
        rtt_hint,
        path_rtt,
    )


# the packets columns the analysis reads (the others only pass through to `segments`)
WORK_COLUMNS = (
    "ts_ns", "vlan", "src", "dst", "sport", "dport", "seq", "ack", "flags", "win", "len", "ip_id",
    "opt_mss", "opt_wscale", "opt_sackok", "opt_tsval", "opt_tsecr", "sack_left", "sack_right",
)
# the columns the analysis adds after the packets columns, in `segments` order
ADDED_COLUMNS = (
    "flow_id", "from_client", "from_device", "t", "rel_seq", "rel_ack", "win_bytes", "seg_class", "seg_basis",
    "inflight", "rtt_ms",
)


def _stable_order(keys: np.ndarray) -> np.ndarray | None:
    """Row order sorting `keys`, ties in their present order; None when they already are sorted
    (most captures are in time order, and many hold one connection: then no copy at all)."""
    if keys.shape[0] < 2 or bool((keys[1:] >= keys[:-1]).all()):
        return None
    return np.argsort(keys, kind="stable")


def _prepare(
    packets: pl.DataFrame, server: str | None, port: int | None, t0_ns: int | None
) -> tuple[pl.DataFrame, np.ndarray | None, pl.DataFrame, int]:
    """The packets in time order (`base`), the permutation that groups them by connection
    (None: already grouped), the working frame (connections and roles assigned, rows grouped
    by connection in time order, sequence numbers relative, `t` from `t0_ns`) and the number
    of connections."""
    by_time = _stable_order(packets["ts_ns"].to_numpy())
    base = packets if by_time is None else packets[by_time]
    t0 = t0_ns if t0_ns is not None else (base["ts_ns"].min() if base.height else 0)
    df = base.select(WORK_COLUMNS).with_columns(t=(pl.col("ts_ns") - t0).cast(pl.Float64) / 1e9)
    df = flowmod.assign_flows(df)
    df = flowmod.assign_roles(df, server=server, port=port)
    by_flow = _stable_order(df["flow_id"].to_numpy())  # connections grouped, time order within
    df = seqspace.relative_numbers(df if by_flow is None else df[by_flow])
    n_flows = int(df["flow_id"].max()) + 1 if df.height else 0
    return base, by_flow, df, n_flows


def capture_context(packets: pl.DataFrame, server: str | None = None, port: int | None = None) -> Context:
    """The capture-wide facts `analyze()` takes from all the capture's connections
    (tcpscope.context); a shard of the capture is analysed with those of the whole."""
    _, _, df, n_flows = _prepare(packets, server, port, None)
    return context_of(df, flow_ends(df), handshake.handshakes(df, n_flows), _side_stats(df))


def _path_rtt(ends: pl.DataFrame, ctx: Context, n_flows: int) -> np.ndarray:
    """Per flow (`ends`: `flow_ends`), the smallest handshake RTT (s) between its two hosts in
    the capture; NaN if none."""
    out = np.full(n_flows, np.nan)
    if n_flows and ctx.path_rtt_s:
        known = pl.DataFrame(
            [(c, s, r) for (c, s), r in ctx.path_rtt_s.items()],
            schema={"client": pl.String, "server": pl.String, "rtt": pl.Float64},
            orient="row",
        )
        ends = ends.join(known, on=["client", "server"], how="inner")
        out[ends["flow_id"].to_numpy()] = ends["rtt"].to_numpy()
    return out


def analyze(
    packets: pl.DataFrame,
    device: str | None = None,
    server: str | None = None,
    port: int | None = None,
    direction: Direction = "auto",
    t0_ns: int | None = None,
    context: Context | None = None,
) -> Analysis:
    """Split packets into connections, classify every data segment, and summarise each flow.

    `device` is the IP whose traffic the study is about (the phone); `server`/`port` name
    the far end when known, overriding the role guess; `direction` overrides the per-flow
    up/down inference (up: the device sends most payload). `t0_ns` is the time origin of
    `t` (default: the first packet's timestamp) and `context` what the analysis takes from
    the capture's other connections (default: from these packets; `capture_context`). A
    shard of a capture (`tcpscope.shard`) passes the whole capture's, so that its results
    equal those of the unsplit analysis.
    """
    base, by_flow, df, n_flows = _prepare(packets, server, port, t0_ns)
    hs = handshake.handshakes(df, n_flows)
    stats = _side_stats(df)
    ends = flow_ends(df)
    ctx = context if context is not None else context_of(df, ends, hs, stats)
    sides = _side_traits(stats, ctx)
    sides = sides.join(hs.select("flow_id", "_near_client"), on="flow_id", how="left")
    # a connection without a handshake was most likely captured where the capture's others were:
    # take their (near-unanimous) vote before guessing from its own, often few, RTT samples
    if ctx.near_client is not None:
        sides = sides.with_columns(pl.col("_near_client").fill_null(ctx.near_client))
    from_device_side = (
        df.group_by(["flow_id", "from_client"]).agg(_dev=(pl.col("src") == device).any() if device else pl.lit(None))
    )
    sides = sides.join(from_device_side, on=["flow_id", "from_client"], how="left")
    provisional = pl.coalesce(
        pl.when(pl.col("from_client")).then(pl.col("_near_client")).otherwise(~pl.col("_near_client")),
        pl.col("_dev"),
        pl.col("from_client"),
    )
    sides = sides.with_columns(_sender_vantage=provisional.fill_null(True))
    rtt_hint = hs.sort("flow_id")["handshake_rtt_ms"].cast(pl.Float64).fill_null(float("nan")).to_numpy() / 1e3
    path_rtt = _path_rtt(ends, ctx, n_flows)

    cls, basis, inflight, rtt_ack, rtt_echo = _run_kernel(df, sides, rtt_hint, path_rtt)
    df = df.with_columns(_rtt_ack=pl.Series(rtt_ack).fill_nan(None), _rtt_echo=pl.Series(rtt_echo).fill_nan(None))
    # flows without a handshake: place the capture point from the RTT samples, then re-walk
    guess = _vantage_from_samples(df)
    decided = sides.join(guess, on=["flow_id", "from_client"], how="left").with_columns(
        _sender_vantage=pl.when(pl.col("_near_client").is_null() & pl.col("_guess").is_not_null())
        .then(pl.col("_guess"))
        .otherwise(pl.col("_sender_vantage"))
    )
    if not decided["_sender_vantage"].equals(sides["_sender_vantage"]):
        sides = decided.drop("_guess")
        cls, basis, inflight, rtt_ack, rtt_echo = _run_kernel(df, sides, rtt_hint, path_rtt)
        df = df.with_columns(_rtt_ack=pl.Series(rtt_ack).fill_nan(None), _rtt_echo=pl.Series(rtt_echo).fill_nan(None))

    names = pl.Series(list(tcpstate.CLASS_NAMES))
    cls_s = pl.Series(cls.astype(np.int64))
    why = pl.Series(list(tcpstate.BASIS_NAMES))
    basis_s = pl.Series(basis.astype(np.int64))
    df = df.with_columns(
        seg_class=pl.when(cls_s >= 0).then(names.gather(cls_s.clip(0, len(names) - 1))),
        seg_basis=pl.when(basis_s >= 0).then(why.gather(basis_s.clip(0, len(why) - 1))),
        inflight=pl.when(pl.Series(inflight) >= 0).then(pl.Series(inflight)),
    )
    vantage = _per_side(sides, "_sender_vantage", n_flows)
    df = df.with_columns(_sender_vantage=pl.Series(vantage[_side_index(df)]) if df.height else pl.lit(False))
    df = df.with_columns(
        rtt_ms=pl.when(pl.col("_sender_vantage")).then(pl.col("_rtt_ack")).otherwise(pl.col("_rtt_echo")) * 1e3,
        from_device=(pl.col("src") == device) if device else pl.lit(None, pl.Boolean),
    )
    flows = flow_table(df, hs, sides, device=device, direction=direction, server=server, port=port)
    # the new columns back in time order, beside the decoded ones (no re-sort of the wide frame)
    added = df.select(ADDED_COLUMNS)
    if by_flow is not None:
        back = np.empty_like(by_flow)
        back[by_flow] = np.arange(by_flow.shape[0])
        added = added[back]
    segments = pl.concat([base, added], how="horizontal")
    return Analysis(segments=segments, flows=flows)
