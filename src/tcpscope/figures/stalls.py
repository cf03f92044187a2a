"""Stalls in the figures (docs/stalls.md): shading on the time-sequence graph, coloured by cause,
and the per-feature summary of stall time per cause (over results/metrics.tsv)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import polars as pl

from tcpscope.figures.layout import empty, legend_name, title_block
from tcpscope.figures.output import PngRenderer, tmp_path, write_html
from tcpscope.figures.prep import Selection
from tcpscope.figures.style import FONT, MARGIN_BOTTOM, MARGIN_TOP, PNG_WIDTH, esc
from tcpscope.classes import CAUSES

#: One colour per cause, by group: server causes purple, client causes green/olive,
#: retransmission causes red/orange, delay blue, unknown grey.
CAUSE_COLOUR: dict[str, str] = {
    "data_unavailable": "#7B3294",
    "zero_window": "#1B7837",
    "packet_delay": "#2166AC",
    "retrans_small_init_window": "#5AAE61",
    "tail_retransmission": "#F4A582",
    "client_idle": "#A6DBA0",
    "small_cwnd_retransmission": "#FDB863",
    "small_rwnd_retransmission": "#B8E186",
    "double_retransmission": "#B2182B",
    "spurious_retransmission": "#DE77AE",
    "continuous_loss": "#D6604D",
    "other_retransmission": "#E08214",
    "resource_constraint": "#C2A5CF",
    "unknown": "#999999",
}
CAUSE_LABEL: dict[str, str] = {c: c.replace("_", " ") for c in CAUSES}
SHADE_OPACITY = 0.22
MAX_SHADED = 400  # stalls shaded per figure (the longest); more would make the HTML slow


def _axis(row: int, kind: str) -> str:
    return kind if row == 1 else f"{kind}{row}"


def add_stall_layer(fig: go.Figure, stalls: pl.DataFrame | None, sel: Selection) -> go.Figure:
    """Shade the stalls of the drawn connections on every row of a time-sequence figure (both
    directions of a connection get its stalls), coloured by cause, with a mark at the top of the
    row whose hover names the cause, duration and frames. Returns fig (changed in place)."""
    if stalls is None or stalls.height == 0 or not sel.directions:
        return fig
    rows: dict[int, list[int]] = {}
    for row, d in enumerate(sel.directions, start=1):
        rows.setdefault(d.flow_id, []).append(row)
    st = stalls.filter(pl.col("flow_id").is_in(list(rows)))
    if st.height == 0:
        return fig
    shown = st.sort("duration_s", descending=True).head(MAX_SHADED).sort("start_t")
    shapes = list(fig.layout.shapes)
    legend_done: set[str] = set()
    for row_list in rows.values():
        for row in row_list:
            part = shown.filter(pl.col("flow_id") == sel.directions[row - 1].flow_id)
            if part.height == 0:
                continue
            y_range = fig.layout[f"yaxis{'' if row == 1 else row}"].range
            y_top = float(y_range[1]) if y_range is not None else None
            for r in part.iter_rows(named=True):
                shapes.append(
                    {
                        "type": "rect",
                        "xref": _axis(row, "x"),
                        "yref": f"{_axis(row, 'y')} domain",
                        "x0": r["start_t"],
                        "x1": r["end_t"],
                        "y0": 0,
                        "y1": 1,
                        "fillcolor": CAUSE_COLOUR.get(r["cause"], "#999999"),
                        "opacity": SHADE_OPACITY,
                        "line": {"width": 0},
                        "layer": "below",
                    }
                )
            for cause, grp in part.group_by("cause", maintain_order=True):
                name = cause[0]
                mid = ((grp["start_t"] + grp["end_t"]) / 2).to_numpy()
                custom = np.column_stack(
                    [
                        grp["duration_s"].to_numpy(),
                        grp["start_frame"].cast(pl.Float64).to_numpy(),
                        grp["end_frame"].cast(pl.Float64).to_numpy(),
                    ]
                )
                groups = grp["group"].to_list()
                senders = grp["end_sender"].to_list()
                fig.add_trace(
                    go.Scatter(
                        x=mid,
                        y=np.full(len(mid), y_top if y_top is not None else np.nan),
                        mode="markers",
                        marker={"symbol": "square", "size": 10, "color": CAUSE_COLOUR.get(name, "#999999"),
                                "opacity": 0.8, "line": {"width": 0}},
                        name=f"stall: {CAUSE_LABEL.get(name, name)}",
                        legendgroup=f"stall-{name}",
                        legend=legend_name(row),
                        legendrank=200,
                        showlegend=(row, name) not in legend_done,
                        customdata=custom,
                        text=[f"{g} side, ended by the {s}" for g, s in zip(groups, senders)],
                        hovertemplate=(
                            f"<b>stall: {esc(CAUSE_LABEL.get(name, name))}</b><br>%{{customdata[0]:.3f}} s"
                            "<br>frames %{customdata[1]:d} - %{customdata[2]:d}<br>%{text}<extra></extra>"
                        ),
                        cliponaxis=False,
                    ),
                    row=row,
                    col=1,
                )
                legend_done.add((row, name))  # type: ignore[arg-type]
    fig.update_layout(shapes=shapes)
    if st.height > shown.height:
        sub = fig.layout.title.subtitle.text if fig.layout.title.subtitle and fig.layout.title.subtitle.text else ""
        note = f"the {shown.height} longest of {st.height} stalls shaded"
        fig.layout.title.subtitle = {"text": f"{sub}; {note}" if sub else note, "font": {"size": 12, "color": "#555"}}
    return fig


KIND = "stall time per cause"


def build_stall_summary(metrics: pl.DataFrame, title: str = "tcpscope") -> go.Figure:
    """Horizontal stacked bars: one bar per feature, stall seconds per cause; the label at the end
    of each bar gives the stall count and the stall ratio (share of the connections' lifetime)."""
    cols = [f"stall_s_{c}" for c in CAUSES]
    if metrics.height == 0 or any(c not in metrics.columns for c in cols):
        return empty(KIND, title, "no stall columns in the metric table")
    m = metrics.with_columns(pl.col(c).cast(pl.Float64).fill_null(0.0) for c in cols)
    features = m["feature"].cast(pl.Utf8).to_list()
    totals = m.select(pl.sum_horizontal(cols)).to_series().to_numpy()
    if not np.any(totals > 0):
        return empty(KIND, title, "no stalls")
    fig = go.Figure()
    for c in CAUSES:
        x = m[f"stall_s_{c}"].to_numpy()
        if not np.any(x > 0):
            continue
        fig.add_trace(
            go.Bar(
                y=[esc(f) for f in features],
                x=x,
                orientation="h",
                name=CAUSE_LABEL[c],
                marker={"color": CAUSE_COLOUR[c]},
                hovertemplate=f"<b>%{{y}}</b><br>{esc(CAUSE_LABEL[c])}: %{{x:.3f}} s<extra></extra>",
            )
        )
    stalls = m["stalls"].to_list() if "stalls" in m.columns else [None] * m.height
    ratio = m["stall_ratio"].to_list() if "stall_ratio" in m.columns else [None] * m.height
    for f, tot, n, r in zip(features, totals, stalls, ratio):
        label = f"{int(n or 0)} stall{'' if n == 1 else 's'}" + (f", {r:.0%} of lifetime" if r is not None else "")
        fig.add_annotation(x=tot, y=esc(f), text=label, showarrow=False, xanchor="left", xshift=6,
                           font={"size": 11, "color": "#333"})
    height = max(360, MARGIN_TOP + MARGIN_BOTTOM + 46 * len(features))
    fig.update_layout(
        title=title_block(KIND, title),
        barmode="stack",
        height=height,
        width=PNG_WIDTH,
        template="plotly_white",
        font={"family": FONT, "size": 12},
        margin={"t": MARGIN_TOP, "b": MARGIN_BOTTOM, "l": 160, "r": 260},
        xaxis={"title": {"text": "stall time, summed over the feature's connections (s)"},
               "range": [0, float(totals.max()) * 1.25]},
        yaxis={"autorange": "reversed"},
        legend={"title": {"text": "<b>cause</b>"}, "x": 1.01, "xanchor": "left", "traceorder": "normal"},
    )
    return fig


def render_stall_summary(metrics: pl.DataFrame, png: Path, html: Path, title: str = "tcpscope") -> None:
    """Write the summary figure as PNG (one headless Chromium) and offline HTML, each atomically."""
    fig = build_stall_summary(metrics, title)
    tmps = [tmp_path(png), tmp_path(html)]
    try:
        write_html(fig, tmps[1], "stalls", f"{title} - {KIND}")
        with PngRenderer() as renderer:
            renderer.render([fig], [tmps[0]])
        tmps[0].replace(png)
        tmps[1].replace(html)
    finally:
        for t in tmps:
            t.unlink(missing_ok=True)
