"""Trace builders: segment bars (error-bar style) and step lines, SVG or WebGL by size."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import polars as pl

from tcpscope.figures.decimate import Budget
from tcpscope.figures.style import esc

FEW_BARS = 200  # PNG bar paths this small get tick marks at both ends of every bar
FEW_POINTS = 20  # step lines this small get markers (a lone point of a line is invisible)


def scatter_type(n: int, budget: Budget) -> type[go.Scatter] | type[go.Scattergl]:
    """go.Scattergl when the trace is large and the budget allows WebGL, else go.Scatter."""
    if budget.webgl_above is not None and n > budget.webgl_above:
        return go.Scattergl
    return go.Scatter


def _f64(s: pl.Series) -> np.ndarray:
    """Series as a float64 numpy array (plotly sends it base64-encoded)."""
    return s.cast(pl.Float64).to_numpy()


def _nan_path(t: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vertical bars as one polyline: (t, lo), (t, hi), NaN gap, ..."""
    n = len(t)
    x = np.empty(3 * n)
    y = np.empty(3 * n)
    x[0::3], x[1::3], x[2::3] = t, t, np.nan
    y[0::3], y[1::3], y[2::3] = lo, hi, np.nan
    return x, y


def bar_trace(
    b: pl.DataFrame,
    *,
    binned: bool,
    is_new: bool,
    name: str,
    prefix: str,
    colour: str,
    symbol: str,
    size: float,
    budget: Budget,
    common: dict,
    min_height: float = 0.0,
) -> go.Scatter | go.Scattergl:
    """Segments as vertical bars from lo (rel_seq) to hi (rel_seq+len), with a marker for marks."""
    t, lo, hi = _f64(b["t"]), _f64(b["lo"]), _f64(b["hi"])
    if is_new and budget.bars_as_path:  # PNG: a single SVG path, no per-point DOM nodes
        x, y = _nan_path(t, lo, np.maximum(hi, lo + min_height))
        few = b.height <= FEW_BARS  # few bars: tick marks at both ends keep them visible
        return go.Scatter(
            x=x,
            y=y,
            mode="lines+markers" if few else "lines",
            name=esc(name),
            hoverinfo="skip",
            line={"color": colour, "width": 1.3},
            marker={"symbol": "line-ew-open", "size": 6, "color": colour},
            connectgaps=False,
            **common,
        )
    head = f"<b>{esc(prefix)}</b> {esc(name)}"
    # each raw mark's basis (names from tcpscope.classes, never capture text) in its hover
    why = not binned and "basis" in b.columns and b["basis"].null_count() < b.height
    if binned:
        custom = np.column_stack([_f64(b["frame_first"]), _f64(b["frame_last"]), _f64(b["n"]), hi])
        tmpl = (
            head + "<br>%{customdata[2]:,d} segments in this time column"
            "<br>frames %{customdata[0]:d} .. %{customdata[1]:d}"
            "<br>t %{x:.6f} s<br>rel seq %{y:,d} .. %{customdata[3]:,d}<extra></extra>"
        )
    else:
        custom = np.column_stack([_f64(b["frame_first"]), hi, hi - lo])
        tmpl = (
            head + "<br>frame %{customdata[0]:d}<br>t %{x:.6f} s"
            "<br>rel seq %{y:,d} .. %{customdata[1]:,d}<br>len %{customdata[2]:,d} B"
            + ("<br>why: %{text}" if why else "") + "<extra></extra>"
        )
    extra: dict = {"text": b["basis"].fill_null("").to_list()} if why else {}
    if b.height <= budget.max_errorbars:
        extra["error_y"] = {
            "type": "data",
            "symmetric": False,
            "array": hi - lo,
            "arrayminus": np.zeros(b.height),
            "width": 0,
            "thickness": 1.3,
            "color": colour,
        }
    cls = scatter_type(b.height, budget)
    return cls(
        x=t,
        y=lo,
        customdata=custom,
        hovertemplate=tmpl,
        mode="markers",
        name=esc(name),
        marker={"color": colour, "symbol": symbol, "size": size, "line": {"width": 1.3, "color": colour}},
        **extra,
        **common,
    )


def step_trace(
    df: pl.DataFrame,
    y: np.ndarray,
    custom: np.ndarray,
    *,
    name: str,
    tmpl: str,
    colour: str,
    dash: str,
    width: float,
    budget: Budget,
    common: dict,
    fill: str | None = None,
) -> go.Scatter | go.Scattergl:
    """A right-continuous step line ('hv') through real rows of df."""
    cls = scatter_type(df.height, budget)
    extra = {"fill": fill, "fillcolor": "rgba(0,114,178,0.12)"} if fill else {}
    return cls(
        x=_f64(df["t"]),
        y=y,
        customdata=custom,
        hovertemplate=tmpl,
        mode="lines+markers" if df.height <= FEW_POINTS else "lines",
        marker={"size": 5, "color": colour},
        name=esc(name),
        line={"color": colour, "dash": dash, "width": width, "shape": "hv"},
        **extra,
        **common,
    )
