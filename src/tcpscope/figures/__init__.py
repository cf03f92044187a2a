"""Per-capture figures: time-sequence graph and bytes in flight, as PNG and offline HTML."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import plotly.graph_objects as go
import polars as pl

from tcpscope.figures.decimate import HTML_BUDGET, PNG_BUDGET, Budget
from tcpscope.figures.inflight import build_inflight
from tcpscope.figures.output import PngRenderer, tmp_path, write_html, write_pngs
from tcpscope.figures.prep import Selection, select_directions
from tcpscope.figures.stalls import add_stall_layer
from tcpscope.figures.timeseq import build_timeseq
from tcpscope.timing import stage

__all__ = ["SEGMENT_COLUMNS", "build_figures", "figure_names", "read_segments", "render_capture_figures"]

# the `segments` columns the figures read: reading only these from segments.parquet keeps a
# figure job's memory and time small on large captures (tests/test_figures.py checks the list)
SEGMENT_COLUMNS = (
    "frame", "t", "flow_id", "from_client", "src", "sport", "dst", "dport", "rel_seq", "len", "seg_class",
    "rel_ack", "win_bytes", "inflight", "seg_basis",
)
# of those, the ones a table written by an earlier tcpscope may lack (the figures do without)
OPTIONAL_SEGMENT_COLUMNS = ("seg_basis",)

Builder = Callable[[pl.DataFrame, Selection, str, Budget], go.Figure]
_BUILDERS: dict[str, tuple[Builder, str]] = {
    "timeseq": (build_timeseq, "time-sequence"),
    "inflight": (build_inflight, "bytes in flight"),
}


def read_segments(path: str | Path) -> pl.DataFrame:
    """The SEGMENT_COLUMNS of the segments table at `path`, less optional ones it lacks."""
    have = set(pl.read_parquet_schema(path))
    return pl.read_parquet(
        path, columns=[c for c in SEGMENT_COLUMNS if c in have or c not in OPTIONAL_SEGMENT_COLUMNS]
    )


def figure_names() -> list[str]:
    """Base names of the per-capture figures; each is written as {name}.png and {name}.html."""
    return list(_BUILDERS)


def build_figures(
    segments: pl.DataFrame,
    flows: pl.DataFrame,
    title: str,
    png: bool,
    sel: Selection | None = None,
    stalls: pl.DataFrame | None = None,
) -> dict[str, go.Figure]:
    """Build every figure for the PNG budget (png=True) or the interactive HTML budget;
    `stalls` (stalls.parquet) are shaded on the time-sequence graph (figures/stalls.py)."""
    sel = sel if sel is not None else select_directions(segments, flows)
    budget = PNG_BUDGET if png else HTML_BUDGET
    figs = {name: build(segments, sel, title, budget) for name, (build, _) in _BUILDERS.items()}
    add_stall_layer(figs["timeseq"], stalls, sel)
    return figs


def render_capture_figures(
    segments: pl.DataFrame,
    flows: pl.DataFrame,
    out_dir: Path,
    title: str,
    stalls: pl.DataFrame | None = None,
) -> list[Path]:
    """Write {name}.png and {name}.html for every figure of one capture; return the written paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = figure_names()
    finals = [out_dir / f"{n}.html" for n in names] + [out_dir / f"{n}.png" for n in names]
    tmps = [tmp_path(p) for p in finals]
    try:
        renderer = PngRenderer()  # Chromium starts now, while the figures are built
        try:
            sel = select_directions(segments, flows)
            with stage("html"):
                html_figs = build_figures(segments, flows, title, png=False, sel=sel, stalls=stalls)
                for name, tmp in zip(names, tmps[: len(names)], strict=True):
                    write_html(html_figs[name], tmp, name, f"{title} - {_BUILDERS[name][1]}")
                del html_figs
            with stage("png_build"):
                png_figs = build_figures(segments, flows, title, png=True, sel=sel, stalls=stalls)
        except BaseException:
            renderer.close()
            raise
        with stage("png_render"):  # retried once with a new browser if this one hangs
            write_pngs([png_figs[n] for n in names], tmps[len(names) :], renderer=renderer)
        for tmp, final in zip(tmps, finals, strict=True):
            tmp.replace(final)
    finally:
        for tmp in tmps:
            tmp.unlink(missing_ok=True)
    return finals
