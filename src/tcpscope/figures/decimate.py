"""Per-pixel-column decimation with polars (no per-packet Python)."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

PNG_COLUMNS = 2000
HTML_COLUMNS = 20000


def column(t_end: float, n_cols: int) -> pl.Expr:
    """Expression mapping `t` to its pixel column 0..n_cols-1 on the shared time axis."""
    scale = n_cols / t_end if t_end > 0 else 0.0
    return (pl.col("t") * scale).floor().cast(pl.Int64).clip(0, n_cols - 1).alias("_col")


def bars_raw(df: pl.DataFrame) -> pl.DataFrame:
    """Data segments as bars: t, lo=rel_seq, hi=rel_seq+len, frame; n=1; `basis` (the rule that
    set the class, `seg_basis`, when the table has it)."""
    basis = pl.col("seg_basis") if "seg_basis" in df.columns else pl.lit(None, pl.String)
    return df.select(
        pl.col("t"),
        pl.col("rel_seq").cast(pl.Float64).alias("lo"),
        (pl.col("rel_seq") + pl.col("len").cast(pl.Int64)).cast(pl.Float64).alias("hi"),
        pl.col("frame").cast(pl.Float64).alias("frame_first"),
        pl.col("frame").cast(pl.Float64).alias("frame_last"),
        pl.lit(1.0).alias("n"),
        basis.alias("basis"),
    )


def bars_binned(df: pl.DataFrame, t_end: float, n_cols: int) -> pl.DataFrame:
    """One bar per pixel column spanning min(rel_seq)..max(rel_seq+len) of its segments."""
    return (
        df.with_columns(column(t_end, n_cols))
        .group_by("_col", maintain_order=True)
        .agg(
            pl.col("t").min(),
            pl.col("rel_seq").min().cast(pl.Float64).alias("lo"),
            (pl.col("rel_seq") + pl.col("len").cast(pl.Int64)).max().cast(pl.Float64).alias("hi"),
            pl.col("frame").min().cast(pl.Float64).alias("frame_first"),
            pl.col("frame").max().cast(pl.Float64).alias("frame_last"),
            pl.len().cast(pl.Float64).alias("n"),
        )
        .sort("t")
        .drop("_col")
    )


def bars(df: pl.DataFrame, t_end: float, n_cols: int, max_raw: int) -> tuple[pl.DataFrame, bool]:
    """'new' segments: raw up to max_raw rows, else one min..max bar per pixel column."""
    if df.height <= max_raw:
        return bars_raw(df), False
    return bars_binned(df, t_end, n_cols), True


def marks(df: pl.DataFrame, t_end: float, n_cols: int, max_raw: int) -> tuple[pl.DataFrame, bool]:
    """Other classes: raw up to max_raw rows, else the lowest and highest segment of every
    pixel column (real segments, so a column that has a mark always keeps one)."""
    if df.height <= max_raw:
        return bars_raw(df), False
    grp = "_col"
    idx = pl.int_range(pl.len()).over(grp)
    keep = (idx == pl.col("rel_seq").arg_min().over(grp)) | (idx == pl.col("rel_seq").arg_max().over(grp))
    kept = df.with_columns(column(t_end, n_cols)).filter(keep).drop(grp)
    return bars_raw(kept), True


def step_changes(df: pl.DataFrame, y: str) -> pl.DataFrame:
    """Keep rows where y changes (plus the first and last): same picture for an 'hv' step line."""
    if df.height <= 2:
        return df
    prev = pl.col(y).shift(1)
    idx = pl.int_range(pl.len())
    keep = (idx == 0) | (idx == pl.len() - 1) | (pl.col(y) != prev)
    return df.filter(keep)


def line(df: pl.DataFrame, y: str, t_end: float, n_cols: int, max_raw: int) -> tuple[pl.DataFrame, bool]:
    """Step-line points, decimated to first/last/min/max per column above max_raw rows."""
    df = step_changes(df.filter(pl.col(y).is_not_null()), y)
    if df.height <= max_raw:
        return df, False
    grp = "_col"
    idx = pl.int_range(pl.len()).over(grp)
    keep = (
        (idx == 0)
        | (idx == pl.len().over(grp) - 1)
        | (idx == pl.col(y).arg_min().over(grp))
        | (idx == pl.col(y).arg_max().over(grp))
    )
    return df.with_columns(column(t_end, n_cols)).filter(keep).drop(grp), True


@dataclass(frozen=True)
class Budget:
    """How many points a trace may keep before it is decimated, and when to switch to WebGL."""

    n_cols: int  # pixel columns of the shared time axis used for binning
    max_new: int  # 'new' segments kept raw up to this many per direction
    max_marks: int  # other classes kept raw up to this many in the whole figure (>= 1000 per trace)
    max_line: int  # ACK / window / in-flight step points kept raw up to this many
    webgl_above: int | None  # use go.Scattergl above this many points (None: never)
    bars_as_path: bool  # 'new' bars as one NaN-separated line path (cheap SVG) instead of error bars
    max_errorbars: int  # marks get a seq..seq+len error bar only up to this many points per trace


# PNG: SVG only (WebGL costs ~2 s of start-up in headless Chromium); every SVG marker and error
# bar is a DOM node (~0.1-0.3 ms each), so 'new' data is one path and error bars are limited.
PNG_BUDGET = Budget(
    n_cols=PNG_COLUMNS,
    max_new=PNG_COLUMNS,
    max_marks=12_000,
    max_line=4 * PNG_COLUMNS,
    webgl_above=None,
    bars_as_path=True,
    max_errorbars=1_000,
)
HTML_BUDGET = Budget(
    n_cols=HTML_COLUMNS,
    max_new=100_000,
    max_marks=1_000_000,
    max_line=100_000,
    webgl_above=5_000,
    bars_as_path=False,
    max_errorbars=10**9,
)


def marks_limit(budget: Budget, counts: list[int]) -> int:
    """Raw marks allowed per class-and-direction trace: all when the figure's marks fit the
    budget, else the budget shared out evenly (at least 1000 per trace)."""
    if sum(counts) <= budget.max_marks:
        return max(counts, default=0)
    return max(1_000, budget.max_marks // max(len(counts), 1))
