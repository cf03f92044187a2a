"""Shared figure frame: one row per flow direction, one shared real time axis, a legend per row."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from tcpscope.figures.prep import Selection
from tcpscope.figures.style import (
    FONT,
    MARGIN_BOTTOM,
    MARGIN_TOP,
    PNG_WIDTH,
    ROW_GAP,
    esc,
    figure_height,
    row_weights,
)

TIME_TITLE = "time since capture start (s)"


# the frame every axis of every panel shares: outside ticks, light grid, a closed box
AXIS_STYLE = dict(ticks="outside", showgrid=True, gridcolor="#e6e6e6", zeroline=False, showline=True,
                  linecolor="#444", mirror=True)

def legend_name(row: int) -> str:
    """Plotly legend id of a row: 'legend', 'legend2', ..."""
    return "legend" if row == 1 else f"legend{row}"


def title_block(kind: str, title: str) -> dict:
    """Layout title: the escaped capture title and the figure kind."""
    return {"text": f"<b>{esc(title)}</b> — {kind}", "x": 0.01, "xanchor": "left", "font": {"size": 18}}


def set_notes(fig: go.Figure, sel: Selection, notes: list[str]) -> None:
    """Subtitle with the flow-selection note and decimation notes (nothing when there are none)."""
    text = "; ".join(n for n in [sel.note, *notes] if n)
    if text:
        fig.layout.title.subtitle = {"text": esc(text), "font": {"size": 12, "color": "#555"}}


def yaxis_key(row: int) -> str:
    """Layout key of the y axis of subplot row `row` (1-based): yaxis, yaxis2, ..."""
    return "yaxis" if row == 1 else f"yaxis{row}"


def frame(kind: str, title: str, sel: Selection, y_title: str) -> go.Figure:
    """Empty subplot grid with shared x from 0 to the capture end and one legend per row."""
    n = len(sel.directions)
    weights = row_weights([d.bytes for d in sel.directions])
    height = figure_height(weights)
    plot_px = height - MARGIN_TOP - MARGIN_BOTTOM
    spacing = ROW_GAP / plot_px if n > 1 else 0.0
    fig = make_subplots(
        rows=n,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=spacing,
        row_heights=weights,
        subplot_titles=[esc(d.label) for d in sel.directions],
    )
    t_end = sel.t_end if sel.t_end > 0 else 1.0
    fig.update_xaxes(range=[0, t_end * 1.005], showticklabels=True, **AXIS_STYLE)
    fig.update_xaxes(title_text=TIME_TITLE, row=n, col=1)
    fig.update_yaxes(title_text=y_title, tickformat="~s", ticksuffix="B", exponentformat="SI", **AXIS_STYLE)
    fig.update_annotations(x=0.0, xanchor="left", font={"size": 13, "family": FONT})  # subplot titles
    legends = {}
    for i, d in enumerate(sel.directions, start=1):
        dom = fig.layout[yaxis_key(i)].domain
        legends[legend_name(i)] = {
            "title": {"text": f"<b>{esc(d.short)}</b>"},
            "x": 1.01,
            "xanchor": "left",
            "y": dom[1],
            "yanchor": "top",
            "groupclick": "toggleitem",
            "font": {"size": 11},
            "bgcolor": "rgba(255,255,255,0.8)",
        }
    fig.update_layout(
        title=title_block(kind, title),
        height=height,
        width=PNG_WIDTH,
        margin={"t": MARGIN_TOP, "b": MARGIN_BOTTOM, "l": 80, "r": 230},
        template="plotly_white",
        font={"family": FONT, "size": 12},
        hovermode="closest",
        showlegend=True,
        **legends,
    )
    return fig


def empty(kind: str, title: str, message: str = "no TCP data") -> go.Figure:
    """A figure that only says there is nothing to draw."""
    fig = go.Figure()
    fig.update_layout(
        title=title_block(kind, title),
        height=figure_height([]),
        width=PNG_WIDTH,
        template="plotly_white",
        font={"family": FONT, "size": 12},
        xaxis={"visible": False},
        yaxis={"visible": False},
        annotations=[
            {
                "text": message,
                "xref": "paper",
                "yref": "paper",
                "x": 0.5,
                "y": 0.5,
                "showarrow": False,
                "font": {"size": 28, "color": "#777"},
            }
        ],
        margin={"t": MARGIN_TOP, "b": MARGIN_BOTTOM, "l": 80, "r": 230},
    )
    return fig
