"""Bytes in flight per flow direction with the receiver's advertised window."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import polars as pl

from tcpscope.figures import decimate
from tcpscope.figures.decimate import Budget
from tcpscope.figures.layout import empty, frame, legend_name, set_notes, yaxis_key
from tcpscope.figures.prep import Selection, data_segments, receiver_packets
from tcpscope.figures.style import INFLIGHT_COLOUR, RWND_COLOUR, esc
from tcpscope.figures.traces import step_trace

KIND = "bytes in flight"
Y_TITLE = "bytes"
RWND_CLIP = 4.0


def _cols(df: pl.DataFrame, *names: str) -> np.ndarray:
    """Selected columns as a float64 (n, k) array for customdata."""
    return np.column_stack([df[n].cast(pl.Float64).to_numpy() for n in names])


def _y_top(inflight_top: float, win_top: float) -> float:
    """Axis top: include rwnd unless it is over RWND_CLIP x the peak in flight (then not limiting)."""
    if inflight_top <= 0:
        return max(win_top, 1.0) * 1.05
    return max(inflight_top, min(win_top, inflight_top * RWND_CLIP)) * 1.05


def build_inflight(segments: pl.DataFrame, sel: Selection, title: str, budget: Budget) -> go.Figure:
    """In-flight figure: sender's inflight after each data segment and receiver's rwnd, per direction."""
    if not sel.directions:
        return empty(KIND, title)
    keys = [d.key for d in sel.directions]
    data = (
        data_segments(segments)
        .filter(pl.col("_key").is_in(keys) & pl.col("inflight").is_not_null())
        .select("_key", "t", "frame", "inflight", "seg_class")
    )
    parts = data.partition_by("_key", as_dict=True)
    recv = (
        receiver_packets(segments)
        .filter(pl.col("_key").is_in(keys) & pl.col("win_bytes").is_not_null())
        .select("_key", "t", "frame", "win_bytes")
    )
    rparts = recv.partition_by("_key", as_dict=True)
    fig = frame(KIND, title, sel, Y_TITLE)
    t_end = sel.t_end
    decimated = False
    for row, d in enumerate(sel.directions, start=1):
        common = {"legendgroup": d.label, "legend": legend_name(row)}
        head = f"<b>{esc(d.short)}</b>"
        top = win_top = 0.0
        s = parts.get((d.key,))
        if s is not None and s.height:
            pts, dec = decimate.line(s, "inflight", t_end, budget.n_cols, budget.max_line)
            decimated |= dec
            top = max(top, float(s["inflight"].max()))
            fig.add_trace(
                step_trace(
                    pts,
                    pts["inflight"].cast(pl.Float64).to_numpy(),
                    _cols(pts, "frame"),
                    name="bytes in flight",
                    tmpl=head + " in flight<br>frame %{customdata[0]:d}<br>t %{x:.6f} s"
                    "<br>in flight %{y:,d} B<extra></extra>",
                    colour=INFLIGHT_COLOUR,
                    dash="solid",
                    width=1.4,
                    budget=budget,
                    common={**common, "legendrank": 1},
                    fill="tozeroy",
                ),
                row=row,
                col=1,
            )
        r = rparts.get((d.key,))
        if r is not None and r.height:
            pts, dec = decimate.line(r, "win_bytes", t_end, budget.n_cols, budget.max_line)
            decimated |= dec
            win_top = float(r["win_bytes"].max())
            fig.add_trace(
                step_trace(
                    pts,
                    pts["win_bytes"].cast(pl.Float64).to_numpy(),
                    _cols(pts, "frame"),
                    name="receiver window (rwnd)" + d.rwnd_note,
                    tmpl=head + " advertised window<br>frame %{customdata[0]:d}<br>t %{x:.6f} s"
                    "<br>rwnd %{y:,d} B<extra></extra>",
                    colour=RWND_COLOUR,
                    dash="dot",
                    width=2.0,
                    budget=budget,
                    common={**common, "legendrank": 2},
                ),
                row=row,
                col=1,
            )
        fig.layout[yaxis_key(row)].range = [0, _y_top(top, win_top)]  # direct: no subplot search
    notes = (
        [f"lines reduced to first/last/min/max per time column ({budget.n_cols} columns)"]
        if decimated
        else []
    )
    set_notes(fig, sel, notes)
    return fig
