"""Time-sequence graph (Stevens style): data bars by class, receiver ACK line and window limit."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import polars as pl

from tcpscope.figures import decimate
from tcpscope.figures.decimate import Budget
from tcpscope.figures.layout import empty, frame, legend_name, set_notes, yaxis_key
from tcpscope.figures.prep import Direction, Selection, data_segments, receiver_packets
from tcpscope.figures.style import (
    ACK_COLOUR,
    CLASS_COLOUR,
    CLASS_LABEL,
    CLASS_ORDER,
    CLASS_SYMBOL,
    RWND_COLOUR,
    esc,
)
from tcpscope.figures.traces import bar_trace, step_trace

KIND = "time-sequence"
Y_TITLE = "relative sequence"
MIN_BAR_PX = 3.0  # PNG: a segment bar is drawn at least this tall so sparse data stays visible


def _y_range(lo: float, top: float, rwnd_top: float) -> list[float]:
    """Show the window limit when it is near the data; let it leave the top when far above."""
    upper = max(top, rwnd_top) if rwnd_top <= top * 1.5 else top * 1.15
    pad = max(upper - lo, 1.0) * 0.03
    return [lo - pad, upper + pad]


def _receiver_lines(
    r: pl.DataFrame | None, t_end: float, budget: Budget
) -> tuple[pl.DataFrame, pl.DataFrame, bool]:
    """Decimated ACK points and ack+window points of the receiver's packets."""
    if r is None or r.height == 0:
        empty_df = pl.DataFrame(
            schema={
                "t": pl.Float64,
                "frame": pl.UInt32,
                "rel_ack": pl.Int64,
                "win_bytes": pl.Int64,
                "_lim": pl.Int64,
            }
        )
        return empty_df, empty_df, False
    ack_pts, dec_a = decimate.line(r, "rel_ack", t_end, budget.n_cols, budget.max_line)
    lim = r.with_columns((pl.col("rel_ack") + pl.col("win_bytes")).alias("_lim"))
    lim_pts, dec_l = decimate.line(lim, "_lim", t_end, budget.n_cols, budget.max_line)
    return ack_pts, lim_pts, dec_a or dec_l


def _add_receiver_traces(
    fig: go.Figure,
    ack_pts: pl.DataFrame,
    lim_pts: pl.DataFrame,
    d: Direction,
    row: int,
    budget: Budget,
    common: dict,
) -> None:
    """Add the receiver's ACK step line and its ACK + window limit line for direction d."""
    head = f"<b>{esc(d.short)}</b>"
    for pts, y, name, what, colour, dash, rank in (
        (
            lim_pts,
            "_lim",
            "rwnd limit (ACK + window)" + d.rwnd_note,
            "receive-window limit<br>frame %{customdata[0]:d}<br>t %{x:.6f} s<br>ack + rwnd %{y:,d}",
            RWND_COLOUR,
            "dot",
            90,
        ),
        (
            ack_pts,
            "rel_ack",
            "ACK",
            "ACK from receiver<br>frame %{customdata[0]:d}<br>t %{x:.6f} s<br>ack %{y:,d}",
            ACK_COLOUR,
            "solid",
            80,
        ),
    ):
        if pts.height == 0:
            continue
        custom = np.column_stack(
            [pts["frame"].cast(pl.Float64).to_numpy(), pts["win_bytes"].cast(pl.Float64).to_numpy()]
        )
        fig.add_trace(
            step_trace(
                pts,
                pts[y].cast(pl.Float64).to_numpy(),
                custom,
                name=name,
                tmpl=f"{head} {what}<br>rwnd %{{customdata[1]:,d}} B<extra></extra>",
                colour=colour,
                dash=dash,
                width=1.6,
                budget=budget,
                common={**common, "legendrank": rank},
            ),
            row=row,
            col=1,
        )


def _row_px(fig: go.Figure, row: int) -> float:
    """Height in pixels of a row's plot area."""
    dom = fig.layout[f"yaxis{'' if row == 1 else row}"].domain
    return max((dom[1] - dom[0]) * (fig.layout.height - fig.layout.margin.t - fig.layout.margin.b), 1.0)


def _num(v: object) -> float:
    """A polars scalar (possibly None for an empty column) as float, None -> 0."""
    return 0.0 if v is None else float(v)  # type: ignore[arg-type]


def _mark_size(n: int) -> float:
    """Marker size in px: large when marks are rare, smaller when they would cover the data."""
    return 9.0 if n <= 300 else 7.0 if n <= 2_000 else 5.0


def build_timeseq(segments: pl.DataFrame, sel: Selection, title: str, budget: Budget) -> go.Figure:
    """Time-sequence figure: one row per selected flow direction on the capture's time axis."""
    if not sel.directions:
        return empty(KIND, title)
    keys = [d.key for d in sel.directions]
    why = ["seg_basis"] if "seg_basis" in segments.columns else []
    data = (
        data_segments(segments)
        .filter(pl.col("_key").is_in(keys))
        .select("_key", "seg_class", "t", "frame", "rel_seq", "len", *why)
    )
    parts = data.partition_by("_key", "seg_class", as_dict=True)
    recv = (
        receiver_packets(segments)
        .filter(pl.col("rel_ack").is_not_null() & pl.col("_key").is_in(keys))
        .select("_key", "t", "frame", "rel_ack", "win_bytes")
    )
    rparts = recv.partition_by("_key", as_dict=True)
    dec_new = dec_marks = dec_lines = False
    mark_limit = decimate.marks_limit(budget, [df.height for (_, cls), df in parts.items() if cls != "new"])
    fig = frame(KIND, title, sel, Y_TITLE)
    t_end = sel.t_end
    for row, d in enumerate(sel.directions, start=1):
        common = {"legendgroup": d.label, "legend": legend_name(row)}
        ack_pts, lim_pts, dl = _receiver_lines(rparts.get((d.key,)), t_end, budget)
        dec_lines |= dl
        bars: list[tuple[int, str, pl.DataFrame, bool]] = []
        for rank, cls in enumerate(CLASS_ORDER):
            seg = parts.get((d.key, cls))
            if seg is None or seg.height == 0:
                continue
            if cls == "new":
                b, binned = decimate.bars(seg, t_end, budget.n_cols, budget.max_new)
                dec_new |= binned
            else:
                b, binned = decimate.marks(seg, t_end, budget.n_cols, mark_limit)
                dec_marks |= binned
            bars.append((rank, cls, b, binned))
        lo = min([0.0] + [_num(b["lo"].min()) for _, _, b, _ in bars])
        top = max([1.0, _num(ack_pts["rel_ack"].max())] + [_num(b["hi"].max()) for _, _, b, _ in bars])
        y_range = _y_range(lo, top, _num(lim_pts["_lim"].max()))
        fig.layout[yaxis_key(row)].range = y_range  # direct: no subplot search
        min_bar = MIN_BAR_PX * (y_range[1] - y_range[0]) / _row_px(fig, row)
        _add_receiver_traces(fig, ack_pts, lim_pts, d, row, budget, common)
        for rank, cls, b, binned in bars:
            fig.add_trace(
                bar_trace(
                    b,
                    binned=binned and cls == "new",
                    is_new=cls == "new",
                    name=CLASS_LABEL[cls],
                    prefix=d.short,
                    colour=CLASS_COLOUR[cls],
                    symbol=CLASS_SYMBOL[cls],
                    size=4 if cls == "new" else _mark_size(b.height),
                    budget=budget,
                    common={**common, "legendrank": rank + 1},
                    min_height=min_bar,
                ),
                row=row,
                col=1,
            )
    notes = []
    if dec_new:
        notes.append(f"new data drawn as one min..max bar per time column ({budget.n_cols} columns)")
    if dec_marks:
        notes.append("marks reduced to the lowest and highest per time column (no column loses its marks)")
    elif dec_new:
        notes.append("every retransmission / reordering mark drawn")
    if dec_lines:
        notes.append("ACK/window lines reduced to first/last/min/max per column")
    set_notes(fig, sel, notes)
    return fig
