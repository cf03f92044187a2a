"""`results/index.html`: one self-contained page for the whole study, readable offline.

The page holds the per-feature metric table (sortable by clicking a header; plain inline
JavaScript), comparison charts across features (inline SVG: loss rate, reordering rate,
RTT, throughput, and every `stall_*` column of `metrics.tsv` when the stall analysis
provides them), and per feature its captures: links to the figures
(`{capture}/figures/*.html|png`), the filtered capture, the listing and tables, the
decoder's warnings, and the connections with their labels (TLS SNI, ALPN, TLS version,
HTTP Host and request line).

Everything read from a capture (labels, and also feature names from the table) is
untrusted text: every piece of text goes through `html.escape` (text and attribute
values), link targets through `urllib.parse.quote`, and the JSON embedded in `<script>`
has `<`, `>`, `&` and the JavaScript line separators escaped as `\\uXXXX`. No CDN, no
network: CSS, JavaScript and charts are inline.
"""

from __future__ import annotations

import html
import json
import math
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import polars as pl

from tcpscope import __version__

DOT = " \u00b7 "
LABELS = ("sni", "alpn", "tls_version", "http_host", "http_request")


@dataclass(frozen=True)
class CaptureRef:
    """What the page needs to know about one row of the captures table."""

    name: str  # results/{name}/
    feature: str
    capture: str = ""  # file name as in the table
    device: str | None = None
    server: str | None = None
    port: int | None = None
    host: str | None = None
    direction: str | None = None


# ----------------------------------------------------------------------------- escaping


def esc(value: Any) -> str:
    """Text or attribute value, HTML-escaped (quotes included)."""
    return html.escape("" if value is None else str(value), quote=True)


def href(*parts: str) -> str:
    """Relative link from parts (each percent-encoded), HTML-escaped for an attribute."""
    return esc("/".join(quote(p, safe="") for p in parts))


_JSON_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def script_json(data: Any) -> str:
    """JSON safe inside <script>: no `</script>`, `<!--` or line separators can break out."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, default=str)
    return "".join(_JSON_ESCAPES.get(ch, ch) for ch in text)


# ----------------------------------------------------------------------------- formats


def _num(v: Any) -> float | None:
    if v is None or isinstance(v, bool):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def fmt_int(v: Any) -> str:
    f = _num(v)
    return "" if f is None else f"{int(round(f)):,}".replace(",", "\u202f")


def fmt_bytes(v: Any) -> str:
    f = _num(v)
    if f is None:
        return ""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(f) >= scale:
            return f"{f / scale:.3g}\u00a0{unit}" if f / scale < 100 else f"{f / scale:.0f}\u00a0{unit}"
    return f"{int(f)}\u00a0B"


def fmt_bps(v: Any) -> str:
    f = _num(v)
    if f is None:
        return ""
    for unit, scale in (("Gbit/s", 1e9), ("Mbit/s", 1e6), ("kbit/s", 1e3)):
        if abs(f) >= scale:
            return f"{f / scale:.3g}\u00a0{unit}"
    return f"{f:.0f}\u00a0bit/s"


def fmt_rate(v: Any) -> str:
    f = _num(v)
    if f is None:
        return ""
    if f == 0:
        return "0\u00a0%"
    return f"{100 * f:.3g}\u00a0%" if f < 0.01 else f"{100 * f:.2f}\u00a0%"


def fmt_ms(v: Any) -> str:
    f = _num(v)
    return "" if f is None else (f"{f:.3g}\u00a0ms" if f < 100 else f"{f:.0f}\u00a0ms")


def fmt_s(v: Any) -> str:
    f = _num(v)
    return "" if f is None else (f"{f:.3g}\u00a0s" if f < 100 else f"{f:.0f}\u00a0s")


def fmt_bool(v: Any) -> str:
    if v is None or v == "":
        return ""
    if isinstance(v, str):
        v = v.strip().lower() in ("true", "yes", "1")
    return "yes" if v else "no"


def fmt_text(v: Any) -> str:
    return "" if v is None else str(v)


def tick(fmt: Callable[[Any], str]) -> Callable[[Any], str]:
    """Axis tick labels: like fmt, without trailing zeros."""
    if fmt is fmt_rate:
        return lambda v: f"{100 * v:.4g}\u00a0%"
    if fmt is fmt_ms:
        return lambda v: f"{v:.4g}\u00a0ms"
    if fmt is fmt_s:
        return lambda v: f"{v:.4g}\u00a0s"
    if fmt is fmt_int:
        return lambda v: f"{v:.4g}"
    return fmt


def formatter(column: str) -> Callable[[Any], str]:
    """Display format of a metric column, by name."""
    if column.endswith(("_rate", "_ratio", "_share")):
        return fmt_rate
    if column.endswith("_ms"):
        return fmt_ms
    if column.endswith("_s"):
        return fmt_s
    if column.endswith("_bps"):
        return fmt_bps
    if column in ("bytes", "bytes_sent") or column.endswith("_bytes"):
        return fmt_bytes
    if column in ("syn_sackok", "syn_ts", "handshake_seen", "matched", "cut_off"):
        return fmt_bool
    if column in ("feature", "direction"):
        return fmt_text
    return fmt_int


# ----------------------------------------------------------------------------- inputs


def read_feature_metrics(path: Path) -> pl.DataFrame:
    """results/metrics.tsv (empty cells are null; stall columns that are empty in every row
    are read as numbers, not text)."""
    frame = pl.read_csv(path, separator="\t", infer_schema_length=None, null_values=[""])
    empty = [c for c in frame.columns if _is_stall(c) and frame[c].null_count() == frame.height]
    return frame.with_columns(pl.col(c).cast(pl.Float64) for c in empty)


def _is_stall(column: str) -> bool:
    return column == "stalls" or column.startswith("stall_")


def stall_columns(metrics: pl.DataFrame) -> list[str]:
    """The numeric stall columns of the metric table for the table and one chart each:
    `stalls` and `stall_*`, except the `stall_s_<cause>` breakdown (see stall_causes)."""
    return [
        c
        for c in metrics.columns
        if _is_stall(c) and not c.startswith("stall_s_") and metrics.schema[c].is_numeric()
    ]


def stall_causes(metrics: pl.DataFrame) -> list[str]:
    """The `stall_s_<cause>` columns: stall time split by cause (stacked in the stall chart)."""
    return [c for c in metrics.columns if c.startswith("stall_s_") and metrics.schema[c].is_numeric()]


def data_sides(flows: pl.DataFrame) -> pl.DataFrame:
    """One row per connection of the device: the side that carries the feature's data
    (docs/metrics.md), with `counted` = the connection is one of the feature's."""
    if flows.is_empty() or "sender_is_device" not in flows.columns:
        return flows.clear()
    up = pl.col("direction") == "up"
    keep = pl.col("direction").is_not_null() & (
        (up & pl.col("sender_is_device")) | (~up & ~pl.col("sender_is_device"))
    )
    out = flows.filter(keep.fill_null(False))
    counted = pl.col("matched").cast(pl.Boolean).fill_null(True) if "matched" in out.columns else pl.lit(True)
    return out.with_columns(counted=counted).sort(["counted", "start_t"], descending=[True, False])


@dataclass
class CaptureView:
    ref: CaptureRef
    flows: pl.DataFrame  # data sides of the device's connections
    other_connections: int  # connections without the device
    info: dict[str, Any]
    figures: list[str]  # figure base names with an .html and/or .png
    files: list[tuple[str, str]]  # (label, relative path) of the capture's result files


def load_capture(results: Path, ref: CaptureRef) -> CaptureView:
    """Read one capture's flows, capture.json and the list of its result files."""
    d = results / ref.name
    flows = pl.read_parquet(d / "flows.parquet") if (d / "flows.parquet").is_file() else pl.DataFrame()
    sides = data_sides(flows)
    others = 0
    if not flows.is_empty() and "flow_id" in flows.columns:
        others = flows["flow_id"].n_unique() - sides["flow_id"].n_unique()
    info: dict[str, Any] = {}
    if (d / "capture.json").is_file():
        try:
            info = json.loads((d / "capture.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            info = {}
    figdir = d / "figures"
    figures = sorted({p.stem for p in figdir.glob("*.html")} | {p.stem for p in figdir.glob("*.png")}) if figdir.is_dir() else []
    figures = sorted((f for f in figures if not f.startswith(".")), key=lambda f: (f != "timeseq", f))
    files = [
        (label, f"{ref.name}/{name}")
        for label, name in (
            ("filtered pcap", "filtered.pcap"),
            ("packet listing", "packets.txt"),
            ("connections (TSV)", "metrics.tsv"),
            ("decoder summary", "capture.json"),
        )
        if (d / name).is_file()
    ]
    return CaptureView(ref, sides, others, info, figures, files)


# ----------------------------------------------------------------------------- page parts

#: Columns of the feature table: (column, header, tooltip). Stall columns are added after RTT.
FEATURE_COLUMNS: list[tuple[str, str, str]] = [
    ("feature", "Feature", "app feature (captures table)"),
    ("direction", "Dir", "data direction seen from the device"),
    ("captures", "Captures", "number of captures of the feature"),
    ("flows", "Conns", "connections counted (data sides)"),
    ("data_packets", "Data pkts", "data segments sent"),
    ("bytes", "Bytes", "unique payload bytes"),
    ("throughput_bps", "Throughput", "sum(bytes)*8 / sum(transfer time)"),
    ("loss_rate", "Loss", "retransmissions / counted packets"),
    ("reorder_rate", "Reorder", "reordered / counted packets"),
    ("retransmissions", "Retx", "retransmitted segments"),
    ("retransmissions_inferred", "Inferred",
     "of those, re-sends whose first copy never reached the capture point, inferred from gaps in the sender's IP IDs"),
    ("spurious_retransmissions", "Spurious", "spurious retransmissions (not counted as loss)"),
    ("rtt_median_ms", "RTT p50", "weighted median of per-connection RTT medians"),
    ("rtt_p95_ms", "RTT p95", "largest per-connection RTT 95th percentile"),
    ("handshake_rtt_ms", "SYN RTT", "median handshake RTT"),
    ("syn_mss", "MSS", "device SYN: MSS option"),
    ("syn_wscale", "WS", "device SYN: window scale"),
    ("syn_sackok", "SACK", "device SYN: SACK permitted"),
    ("syn_ts", "TS", "device SYN: timestamps"),
]

_STALL_NAMES = {
    "stall_time_s": "Stall time",
    "stall_s": "Stall time",
    "stall_count": "Stalls",
    "stall_share": "Stall share",
    "stall_rate": "Stall share",
}


def stall_header(column: str) -> str:
    return _STALL_NAMES.get(column, column.replace("_", " ").capitalize())


def _cell(value: Any, column: str, extra: str = "") -> str:
    """<td> with the display text and the raw value as the sort key."""
    f = formatter(column)
    text = f(value)
    n = _num(value) if f not in (fmt_text, fmt_bool) else None
    if f is fmt_bool:
        key = "" if text == "" else ("1" if text == "yes" else "0")
    elif n is not None:
        key = repr(n)
    else:
        key = "" if value is None else str(value)
    cls = "num" if f not in (fmt_text,) else "txt"
    if text == "":
        text, cls = "\u2013", cls + " na"
    return f'<td class="{cls}" data-v="{esc(key)}"{extra}>{esc(text)}</td>'


def feature_table(metrics: pl.DataFrame, anchors: dict[str, str]) -> str:
    """The sortable per-feature metric table."""
    stalls = stall_columns(metrics)
    cols = [c for c in FEATURE_COLUMNS if c[0] in metrics.columns]
    at = next((i + 1 for i, c in enumerate(cols) if c[0] == "handshake_rtt_ms"), len(cols))
    cols[at:at] = [(c, stall_header(c), f"{c} (stall analysis)") for c in stalls]
    skipped = [c for c in metrics.columns if c.startswith("skipped_")]
    head = "".join(
        f'<th scope="col" title="{esc(tip)}" data-key="{esc(c)}" class="{"txt" if formatter(c) is fmt_text else "num"}">'
        f'<button type="button" data-col="{i}">{esc(label)}<span class="arrow" aria-hidden="true"></span></button></th>'
        for i, (c, label, tip) in enumerate(cols)
    )
    if skipped:
        head += (
            f'<th scope="col" class="num" data-key="skipped" title="frames the decoder did not analyse">'
            f'<button type="button" data-col="{len(cols)}">Skipped<span class="arrow" aria-hidden="true"></span></button></th>'
        )
    loss_max = max((_num(v) or 0.0 for v in metrics["loss_rate"]), default=0.0) if "loss_rate" in metrics.columns else 0.0
    rows = []
    for rec in metrics.iter_rows(named=True):
        cells = []
        for c, _, _ in cols:
            if c == "feature":
                name = rec[c]
                cells.append(
                    f'<th scope="row" class="txt" data-v="{esc(name)}">'
                    f'<a href="#{esc(anchors.get(name, ""))}">{esc(name)}</a></th>'
                )
            elif c == "direction":
                d = rec[c] or ""
                cells.append(f'<td class="txt" data-v="{esc(d)}"><span class="dir dir-{esc(d or "none")}">{esc(d or "–")}</span></td>')
            elif c == "loss_rate" and loss_max > 0 and _num(rec[c]) is not None:
                width = 100 * (_num(rec[c]) or 0) / loss_max
                cells.append(_cell(rec[c], c, f' style="--bar:{width:.1f}%"').replace('class="num"', 'class="num bar"', 1))
            else:
                cells.append(_cell(rec[c], c))
        if skipped:
            total = sum(int(_num(rec[c]) or 0) for c in skipped)
            cells.append(_cell(total, "skipped"))
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (
        '<div class="table-wrap"><table class="metrics sortable" id="feature-table">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


# ----------------------------------------------------------------------------- charts

PALETTE = {"up": "#0072B2", "down": "#D55E00", "mixed": "#7F7F7F", None: "#7F7F7F"}


def _nice_max(v: float) -> float:
    if v <= 0:
        return 1.0
    exp = math.floor(math.log10(v))
    for m in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if m * 10**exp >= v:
            return m * 10**exp
    return 10 ** (exp + 1)


def bar_chart(
    title: str,
    subtitle: str,
    rows: Sequence[tuple[str, str | None, float | None, float | None]],
    fmt: Callable[[Any], str],
    scale: float = 1.0,
) -> str:
    """Horizontal bar chart as inline SVG: (feature, direction, value, whisker) per row.
    `scale` multiplies values for the axis (e.g. 100 for percent)."""
    label_w, plot_w, row_h, top, bottom = 165, 330, 22, 8, 26
    h = top + row_h * len(rows) + bottom
    w = label_w + plot_w + 70
    vmax = max([(_num(v) or 0) for _, _, v, _ in rows] + [(_num(x) or 0) for _, _, _, x in rows] + [0.0])
    axis_max = _nice_max(vmax * scale) / scale if vmax > 0 else (0.01 if fmt is fmt_rate else 1.0)
    if fmt is fmt_int:  # counts: whole-number ticks
        axis_max = max(4.0, math.ceil(axis_max / 4) * 4)
    parts = [
        f'<svg class="chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
        f'aria-label="{esc(title)}"><title>{esc(title)}</title>'
    ]
    for k in range(5):  # grid and ticks
        x = label_w + plot_w * k / 4
        parts.append(f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{top - 2}" y2="{h - bottom + 2}"/>')
        parts.append(
            f'<text class="tick" x="{x:.1f}" y="{h - bottom + 16}" text-anchor="middle">'
            f"{esc(tick(fmt)(axis_max * k / 4))}</text>"
        )
    for i, (name, direction, value, whisker) in enumerate(rows):
        y = top + i * row_h
        short = name if len(name) <= 20 else name[:19] + "\u2026"
        parts.append(
            f'<text class="label" x="{label_w - 8}" y="{y + row_h / 2 + 4:.1f}" text-anchor="end">'
            f"<title>{esc(name)}</title>{esc(short)}</text>"
        )
        v = _num(value)
        if v is None:
            parts.append(f'<text class="na" x="{label_w + 4}" y="{y + row_h / 2 + 4:.1f}">no data</text>')
            continue
        bw = plot_w * max(v, 0) / axis_max
        colour = PALETTE.get(direction, PALETTE[None])
        parts.append(
            f'<rect x="{label_w}" y="{y + 4}" width="{max(bw, 0.8):.1f}" height="{row_h - 8}" '
            f'rx="2" fill="{colour}"><title>{esc(name)}: {esc(fmt(v))}</title></rect>'
        )
        end = bw
        wv = _num(whisker)
        if wv is not None and wv > v:
            wx = label_w + plot_w * wv / axis_max
            cy = y + row_h / 2
            parts.append(
                f'<path class="whisker" d="M{label_w + bw:.1f} {cy:.1f}H{wx:.1f}M{wx:.1f} {cy - 5:.1f}V{cy + 5:.1f}">'
                f"<title>p95 {esc(fmt(wv))}</title></path>"
            )
            end = wx - label_w
        parts.append(
            f'<text class="value" x="{label_w + end + 5:.1f}" y="{y + row_h / 2 + 4:.1f}">{esc(fmt(v))}</text>'
        )
    parts.append("</svg>")
    return (
        f'<figure class="card chart-card"><figcaption><strong>{esc(title)}</strong>'
        f'<span>{esc(subtitle)}</span></figcaption>{"".join(parts)}</figure>'
    )


CAUSE_COLOURS = ("#D55E00", "#E69F00", "#CC79A7", "#56B4E9", "#009E73", "#0072B2", "#F0E442", "#7F7F7F")


def stacked_chart(names: list[Any], causes: list[tuple[str, list[Any]]], totals: list[Any]) -> str:
    """Stall time per feature as horizontal bars stacked by cause (`stall_s_<cause>`)."""
    label_w, plot_w, row_h, top, bottom = 165, 330, 22, 8, 26
    h = top + row_h * len(names) + bottom
    w = label_w + plot_w + 70
    sums = [sum(_num(v[i]) or 0 for _, v in causes) for i in range(len(names))]
    vmax = max(sums + [_num(t) or 0 for t in totals] + [0.0])
    axis_max = _nice_max(vmax) if vmax > 0 else 1.0
    parts = [f'<svg class="chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="Stall time">']
    for k in range(5):
        x = label_w + plot_w * k / 4
        parts.append(f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{top - 2}" y2="{h - bottom + 2}"/>')
        parts.append(f'<text class="tick" x="{x:.1f}" y="{h - bottom + 16}" text-anchor="middle">{esc(tick(fmt_s)(axis_max * k / 4))}</text>')
    for i, name in enumerate(names):
        y = top + i * row_h
        short = str(name) if len(str(name)) <= 20 else str(name)[:19] + "\u2026"
        parts.append(f'<text class="label" x="{label_w - 8}" y="{y + row_h / 2 + 4:.1f}" text-anchor="end"><title>{esc(name)}</title>{esc(short)}</text>')
        x = float(label_w)
        for j, (cause, values) in enumerate(causes):
            v = _num(values[i]) or 0
            if v <= 0:
                continue
            bw = plot_w * v / axis_max
            label = cause.removeprefix("stall_s_").replace("_", " ")
            parts.append(
                f'<rect x="{x:.1f}" y="{y + 4}" width="{bw:.1f}" height="{row_h - 8}" fill="{CAUSE_COLOURS[j % len(CAUSE_COLOURS)]}">'
                f"<title>{esc(name)}: {esc(label)} {esc(fmt_s(v))}</title></rect>"
            )
            x += bw
        total = _num(totals[i]) if _num(totals[i]) is not None else sums[i]
        parts.append(f'<text class="value" x="{x + 5:.1f}" y="{y + row_h / 2 + 4:.1f}">{esc(fmt_s(total))}</text>')
    parts.append("</svg>")
    legend = "".join(
        f'<span class="sw" style="background:{CAUSE_COLOURS[j % len(CAUSE_COLOURS)]}"></span>'
        f"{esc(c.removeprefix('stall_s_').replace('_', ' '))}"
        for j, (c, _) in enumerate(causes)
    )
    return (
        '<figure class="card chart-card"><figcaption><strong>Stall time</strong>'
        "<span>stall_time_s, stacked by cause</span></figcaption>"
        f'{"".join(parts)}<p class="legend">{legend}</p></figure>'
    )


def comparison_charts(metrics: pl.DataFrame) -> str:
    """Loss, reordering, RTT, throughput and every stall_* column, one chart each."""
    if metrics.is_empty() or "feature" not in metrics.columns:
        return ""

    def col(name: str) -> list[Any]:
        return metrics[name].to_list() if name in metrics.columns else [None] * metrics.height

    names, dirs = col("feature"), col("direction")

    def rows(values: list[Any], whiskers: list[Any] | None = None) -> list[tuple[str, str | None, Any, Any]]:
        w = whiskers or [None] * len(values)
        return [(str(n), d, v, x) for n, d, v, x in zip(names, dirs, values, w, strict=True)]

    charts = [
        bar_chart("Loss rate", "retransmissions / counted packets", rows(col("loss_rate")), fmt_rate),
        bar_chart("Reordering rate", "reordered / counted packets", rows(col("reorder_rate")), fmt_rate),
        bar_chart("RTT", "median (bar) and p95 (whisker)", rows(col("rtt_median_ms"), col("rtt_p95_ms")), fmt_ms),
        bar_chart("Throughput", "bytes \u00d7 8 / transfer time", rows(col("throughput_bps")), fmt_bps),
    ]
    stalls = stall_columns(metrics)
    causes = [c for c in stall_causes(metrics) if (_num(metrics[c].sum()) or 0) > 0]
    has_data = [c for c in stalls if metrics[c].drop_nulls().len()]
    order = sorted(has_data, key=lambda c: (c != "stall_time_s", c != "stalls"))
    for c in order:
        if c == "stall_time_s" and causes:
            charts.append(stacked_chart(names, [(x, col(x)) for x in causes], col(c)))
        else:
            charts.append(bar_chart(stall_header(c), f"{c} (stall analysis)", rows(col(c)), formatter(c)))
    if not has_data:
        why = "empty in every row" if stalls else "not in metrics.tsv yet"
        charts.append(
            '<figure class="card chart-card pending"><figcaption><strong>Stall time</strong>'
            f"<span>stall columns {why}</span></figcaption>"
            "<p>The charts appear here when the stall analysis fills its columns "
            "(<code>stall_time_s</code>, <code>stall_*</code>) in <code>results/metrics.tsv</code>.</p></figure>"
        )
    legend = (
        '<p class="legend"><span class="sw" style="background:#0072B2"></span>up (device sends) '
        '<span class="sw" style="background:#D55E00"></span>down (device receives) '
        '<span class="sw" style="background:#7F7F7F"></span>mixed</p>'
    )
    return legend + '<div class="charts">' + "".join(charts) + "</div>"


# ----------------------------------------------------------------------------- features

FLOW_COLUMNS: list[tuple[str, str]] = [
    ("data_packets", "Data pkts"),
    ("bytes", "Bytes"),
    ("throughput_bps", "Throughput"),
    ("loss_rate", "Loss"),
    ("reorder_rate", "Reorder"),
    ("rtt_median_ms", "RTT p50"),
    ("handshake_rtt_ms", "SYN RTT"),
    ("duration_s", "Duration"),
]


def _endpoint(addr: Any, port: Any) -> str:
    a = "" if addr is None else str(addr)
    return f"[{a}]:{port}" if ":" in a else f"{a}:{port}"


def flows_table(view: CaptureView) -> str:
    """The capture's connections of the device (data side), labels first."""
    flows = view.flows
    if flows.is_empty():
        return '<p class="muted">No connection of the device in this capture.</p>'
    extra = [c for c in flows.columns if c.startswith("stall_") and flows.schema[c].is_numeric()]
    cols = FLOW_COLUMNS + [(c, stall_header(c)) for c in extra]
    head = (
        '<th scope="col" class="txt"><button type="button" data-col="0">#<span class="arrow"></span></button></th>'
        '<th scope="col" class="txt"><button type="button" data-col="1">Connection<span class="arrow"></span></button></th>'
        '<th scope="col" class="txt"><button type="button" data-col="2">Server name<span class="arrow"></span></button></th>'
        '<th scope="col" class="txt"><button type="button" data-col="3">TLS / ALPN<span class="arrow"></span></button></th>'
        '<th scope="col" class="txt"><button type="button" data-col="4">HTTP request<span class="arrow"></span></button></th>'
    )
    head += "".join(
        f'<th scope="col" class="num"><button type="button" data-col="{5 + i}">{esc(h)}<span class="arrow"></span></button></th>'
        for i, (_, h) in enumerate(cols)
    )
    body = []
    for r in flows.iter_rows(named=True):
        counted = bool(r.get("counted"))
        conn = f"{_endpoint(r.get('client'), r.get('client_port'))} \u2192 {_endpoint(r.get('server'), r.get('server_port'))}"
        name = r.get("sni") or r.get("http_host")
        source = "SNI" if r.get("sni") else ("Host" if r.get("http_host") else "")
        tls = " \u00b7 ".join(str(x) for x in (r.get("tls_version"), r.get("alpn")) if x)
        badge = (
            f'<span class="tag {"dir-" + esc(r.get("direction") or "none")}">{esc(r.get("direction") or "")}</span>'
            + ("" if counted else '<span class="tag off" title="not the configured server/port/host: not in the metrics">not counted</span>')
        )
        name_cell = (
            f'<td class="txt host" data-v="{esc(name or "")}">'
            + (f'<span class="src">{esc(source)}</span><code>{esc(name)}</code>' if name else '<span class="na">\u2013</span>')
            + "</td>"
        )
        cells = [
            f'<td class="txt" data-v="{esc(r.get("flow_id"))}">{esc(r.get("flow_id"))}</td>',
            f'<td class="txt conn" data-v="{esc(conn)}"><code>{esc(conn)}</code> {badge}</td>',
            name_cell,
            f'<td class="txt" data-v="{esc(tls)}">{esc(tls) or chr(8211)}</td>',
            f'<td class="txt req" data-v="{esc(r.get("http_request") or "")}">'
            + (f'<code>{esc(r.get("http_request"))}</code>' if r.get("http_request") else "\u2013")
            + "</td>",
        ]
        cells += [_cell(r.get(c), c) for c, _ in cols]
        body.append(f'<tr class="{"" if counted else "uncounted"}">' + "".join(cells) + "</tr>")
    return (
        '<div class="table-wrap"><table class="flows sortable">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def _match_text(ref: CaptureRef) -> str:
    parts = [f"device {ref.device}" if ref.device else ""]
    if ref.server:
        parts.append(f"server {ref.server}")
    if ref.port:
        parts.append(f"port {ref.port}")
    if ref.host:
        parts.append(f"host {ref.host}")
    if ref.direction and ref.direction != "auto":
        parts.append(f"direction {ref.direction}")
    return ", ".join(p for p in parts if p)


def capture_block(view: CaptureView) -> str:
    ref = view.ref
    info = view.info
    links = []
    for fig in view.figures:
        for ext in ("html", "png"):
            target = href(ref.name, "figures", f"{fig}.{ext}")
            links.append(f'<a class="btn" href="{target}">{esc(fig)} <small>{ext.upper()}</small></a>')
    for label, rel in view.files:
        links.append(f'<a class="btn ghost" href="{href(*rel.split("/"))}">{esc(label)}</a>')
    thumbs = "".join(
        f'<a class="thumb" href="{href(ref.name, "figures", f"{fig}.html")}" title="{esc(fig)}: open the zoomable figure">'
        f'<img src="{href(ref.name, "figures", f"{fig}.png")}" alt="{esc(fig)} figure of {esc(ref.name)}" loading="lazy"></a>'
        for fig in view.figures
    )
    facts = []
    if info:
        facts.append(f"{fmt_int(info.get('frames'))} frames")
        facts.append(f"{fmt_int(info.get('tcp_packets'))} TCP packets")
        skipped = sum(int(v or 0) for v in (info.get("skipped") or {}).values())
        if skipped:
            facts.append(f"{fmt_int(skipped)} frames not analysed")
        if info.get("format"):
            facts.append(str(info.get("format")) + (" (gzip)" if info.get("compressed") else ""))
    n = view.flows.height
    counted = int(view.flows["counted"].sum()) if n else 0
    facts.append(f"{counted} of {n} device connection{'s' if n != 1 else ''} counted")
    if view.other_connections:
        facts.append(f"{view.other_connections} other connection{'s' if view.other_connections != 1 else ''} not shown")
    warnings = "".join(f"<li>{esc(w)}</li>" for w in (info.get("warnings") or []))
    return (
        f'<section class="capture" id="capture-{esc(ref.name)}">'
        f'<header><h4><code>{esc(ref.capture or ref.name)}</code></h4>'
        f'<p class="muted">{esc(_match_text(ref))}</p>'
        f'<p class="facts">{DOT.join(esc(f) for f in facts)}</p></header>'
        + (f'<ul class="warnings">{warnings}</ul>' if warnings else "")
        + f'<nav class="links">{"".join(links)}</nav>'
        + (f'<div class="thumbs">{thumbs}</div>' if thumbs else "")
        + flows_table(view)
        + "</section>"
    )


def _headline(rec: dict[str, Any] | None) -> str:
    if not rec:
        return ""
    items = [
        ("loss", fmt_rate(rec.get("loss_rate"))),
        ("reorder", fmt_rate(rec.get("reorder_rate"))),
        ("RTT p50", fmt_ms(rec.get("rtt_median_ms"))),
        ("throughput", fmt_bps(rec.get("throughput_bps"))),
        ("bytes", fmt_bytes(rec.get("bytes"))),
        ("connections", fmt_int(rec.get("flows"))),
    ]
    return '<dl class="kpis">' + "".join(
        f"<div><dt>{esc(k)}</dt><dd>{esc(v or chr(8211))}</dd></div>" for k, v in items
    ) + "</dl>"


def feature_section(feature: str, anchor: str, rec: dict[str, Any] | None, views: list[CaptureView]) -> str:
    d = (rec or {}).get("direction") or ""
    return (
        f'<section class="feature card" id="{esc(anchor)}">'
        f'<header class="feature-head"><h3>{esc(feature)}</h3>'
        + (f'<span class="tag dir-{esc(d)}">{esc(d)}</span>' if d else "")
        + '<a class="top" href="#top">\u2191 top</a></header>'
        + _headline(rec)
        + "".join(capture_block(v) for v in views)
        + "</section>"
    )


# ----------------------------------------------------------------------------- page

CSS = """
:root{--fg:#1b2430;--muted:#5b6675;--line:#dfe3e8;--bg:#f4f6f8;--card:#fff;--accent:#0b5cad;
--up:#0072B2;--down:#D55E00;--mono:ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",Arial,sans-serif}
a{color:var(--accent);text-decoration:none}a:hover{text-decoration:underline}
code{font-family:var(--mono);font-size:12.5px}
.top-bar{background:#102a43;color:#e6edf3;padding:18px 32px 16px}
.top-bar h1{margin:0;font-size:22px;font-weight:650;letter-spacing:.2px}
.top-bar h1 span{color:#8fb8de;font-weight:500}
.top-bar p{margin:4px 0 0;color:#b6c6d6;font-size:13px}
.top-bar nav{margin-top:10px;display:flex;gap:6px;flex-wrap:wrap}
.top-bar nav a{color:#e6edf3;background:#1d3d5c;border-radius:12px;padding:2px 10px;font-size:12.5px}
main{padding:20px 32px 40px;max-width:1680px}
h2{font-size:17px;margin:26px 0 10px;font-weight:650}
h2 small{color:var(--muted);font-weight:400;font-size:13px;margin-left:8px}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;box-shadow:0 1px 2px rgba(16,42,67,.06)}
.summary{display:flex;gap:12px;flex-wrap:wrap;margin:0 0 6px}
.summary div{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:8px 14px;min-width:130px}
.summary b{display:block;font-size:20px;font-variant-numeric:tabular-nums}
.summary span{color:var(--muted);font-size:12px}
.table-wrap{overflow-x:auto;background:var(--card);border:1px solid var(--line);border-radius:8px}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{padding:5px 10px;border-bottom:1px solid var(--line);white-space:nowrap}
thead th{position:sticky;top:0;background:#eef2f6;font-size:12px;text-transform:none;color:#33414f;border-bottom:1px solid #c9d1da}
thead th button{all:unset;cursor:pointer;display:inline-flex;gap:3px;align-items:center;font-weight:600}
thead th button:focus-visible{outline:2px solid var(--accent);outline-offset:2px}
th[aria-sort=ascending] .arrow::after{content:"\\25B2";font-size:9px}
th[aria-sort=descending] .arrow::after{content:"\\25BC";font-size:9px}
.num{text-align:right}.txt{text-align:left}
thead th.num button{flex-direction:row-reverse}
tbody tr:nth-child(even){background:#fafbfc}
tbody tr:hover{background:#eef5fc}
tbody th{font-weight:600}
td.na,span.na{color:#a0a8b3}
td.bar{background:linear-gradient(90deg,rgba(213,94,0,.18) var(--bar),transparent var(--bar))}
.dir,.tag{display:inline-block;border-radius:10px;padding:0 7px;font-size:11px;font-weight:600;line-height:17px;background:#e8ecf0;color:#44505c}
.dir-up{background:#e1eef8;color:var(--up)}.dir-down{background:#fbe9dd;color:#a84600}
.tag.off{background:#f1f1f1;color:#8a8f96;margin-left:4px}
tr.uncounted td{color:#8a929c}
.legend{color:var(--muted);font-size:12.5px;margin:0 0 8px}
.sw{display:inline-block;width:10px;height:10px;border-radius:2px;margin:0 4px 0 12px;vertical-align:-1px}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(480px,1fr));gap:12px}
.chart-card{margin:0;padding:10px 12px 6px}
.chart-card figcaption{display:flex;gap:8px;align-items:baseline;margin-bottom:4px}
.chart-card figcaption span{color:var(--muted);font-size:12px}
.chart-card.pending p{color:var(--muted);font-size:13px}
svg.chart{width:100%;max-width:640px;height:auto;font-size:11.5px;display:block}
svg .grid{stroke:#e6e9ed}svg .tick{fill:#6b7682;font-size:10.5px}
svg .label{fill:#1b2430}svg .value{fill:#33414f;font-size:11px}svg .na{fill:#a0a8b3;font-style:italic}
svg .whisker{stroke:#1b2430;stroke-width:1.3;fill:none}
.feature{padding:14px 18px 16px;margin:16px 0}
.feature-head{display:flex;align-items:center;gap:10px}
.feature-head h3{margin:0;font-size:17px}
.feature-head .top{margin-left:auto;font-size:12px}
.kpis{display:flex;flex-wrap:wrap;gap:6px 22px;margin:8px 0 4px}
.kpis div{display:flex;flex-direction:column}
.kpis dt{font-size:11px;color:var(--muted);text-transform:uppercase;letter-spacing:.4px}
.kpis dd{margin:0;font-size:15px;font-weight:600;font-variant-numeric:tabular-nums}
.capture{border-top:1px solid var(--line);margin-top:12px;padding-top:10px}
.capture h4{margin:0;font-size:14px}
.capture header p{margin:2px 0}
.muted{color:var(--muted)}.facts{font-size:12.5px;color:#3b4754}
.warnings{margin:6px 0;padding:6px 10px 6px 26px;background:#fff8e6;border:1px solid #f3dca0;border-radius:6px;font-size:12.5px}
.links{display:flex;flex-wrap:wrap;gap:6px;margin:8px 0}
.btn{border:1px solid #b9cde2;background:#f2f7fc;border-radius:6px;padding:2px 9px;font-size:12.5px}
.btn small{color:var(--muted);font-size:10px}
.btn.ghost{background:#fff;border-color:var(--line)}
.thumbs{display:flex;gap:10px;flex-wrap:wrap;margin:6px 0 10px}
.thumb img{display:block;width:380px;max-width:100%;height:auto;max-height:260px;object-fit:cover;object-position:top;border:1px solid var(--line);border-radius:6px;background:#fff}
.thumb:hover img{border-color:var(--accent)}
.thumb.study img{width:640px;max-height:none}
h3.sub{font-size:14px;margin:16px 0 6px}
table.flows th,table.flows td{padding:4px 7px;font-size:13px}
table.flows td.host code{color:#0b3d6b;font-weight:600}
table.flows .src{font-size:10px;color:var(--muted);margin-right:4px;text-transform:uppercase}
table.flows td.req code{display:inline-block;max-width:320px;overflow:hidden;text-overflow:ellipsis;vertical-align:bottom}
.filter{margin:0 0 10px;display:flex;gap:8px;align-items:center}
.filter input{font:inherit;padding:5px 9px;border:1px solid #c9d1da;border-radius:6px;width:320px}
footer{color:var(--muted);font-size:12px;margin-top:30px}
"""

JS = r"""
(function () {
  "use strict";
  function key(cell) {
    var v = cell ? cell.getAttribute("data-v") : "";
    if (v === null || v === "") return null;
    var n = Number(v);
    return isNaN(n) ? v.toLowerCase() : n;
  }
  function sortBy(table, col, th) {
    var tbody = table.tBodies[0];
    var dir = th.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending";
    var heads = table.tHead.rows[0].cells;
    for (var i = 0; i < heads.length; i++) heads[i].removeAttribute("aria-sort");
    th.setAttribute("aria-sort", dir);
    var sign = dir === "ascending" ? 1 : -1;
    var rows = Array.prototype.slice.call(tbody.rows);
    rows.sort(function (a, b) {
      var x = key(a.cells[col]), y = key(b.cells[col]);
      if (x === null && y === null) return 0;
      if (x === null) return 1;   /* missing values last, whatever the order */
      if (y === null) return -1;
      if (typeof x !== typeof y) { x = String(x); y = String(y); }
      return x < y ? -sign : x > y ? sign : 0;
    });
    rows.forEach(function (r) { tbody.appendChild(r); });
  }
  var tables = document.querySelectorAll("table.sortable");
  Array.prototype.forEach.call(tables, function (table) {
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (th, col) {
      var b = th.querySelector("button");
      if (b) b.addEventListener("click", function () {
        sortBy(table, col, th);
        var k = th.getAttribute("data-key");
        if (k && table.id === "feature-table" && window.history && history.replaceState) {
          try { history.replaceState(null, "", "#sort=" + encodeURIComponent(k) + ":" +
            (th.getAttribute("aria-sort") === "ascending" ? "asc" : "desc")); } catch (e) { /* file: URLs */ }
        }
      });
    });
  });
  /* #sort=COLUMN:asc|desc sorts the feature table on load (a link keeps the order) */
  var m = /^#sort=([^:]+):(asc|desc)$/.exec(window.location.hash || "");
  var ft = document.getElementById("feature-table");
  if (m && ft) {
    var want = decodeURIComponent(m[1]);
    Array.prototype.forEach.call(ft.tHead.rows[0].cells, function (th, col) {
      if (th.getAttribute("data-key") === want) {
        if (m[2] === "desc") th.setAttribute("aria-sort", "ascending");
        sortBy(ft, col, th);
      }
    });
  }
  var box = document.getElementById("flow-filter");
  if (box) box.addEventListener("input", function () {
    var q = box.value.trim().toLowerCase();
    Array.prototype.forEach.call(document.querySelectorAll("table.flows tbody tr"), function (tr) {
      tr.hidden = q !== "" && tr.textContent.toLowerCase().indexOf(q) < 0;
    });
  });
  var data = JSON.parse(document.getElementById("tcpscope-data").textContent);
  document.documentElement.setAttribute("data-features", String(data.features.length));
  document.documentElement.setAttribute("data-ready", "1");
})();
"""


def _records(frame: pl.DataFrame) -> list[dict[str, Any]]:
    out = []
    for rec in frame.iter_rows(named=True):
        out.append({k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in rec.items()})
    return out


def _anchors(features: Iterable[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for i, f in enumerate(dict.fromkeys(features)):
        slug = "".join(ch if ch.isalnum() and ch.isascii() else "-" for ch in f.lower()).strip("-")[:40]
        out[f] = f"feature-{i + 1}-{slug}" if slug else f"feature-{i + 1}"
    return out


def study_figures(results: Path) -> list[str]:
    """Base names of the study-level figures in results/ (`stalls.png` + `stalls.html`...)."""
    names = {p.stem for p in results.glob("*.png")} | {p.stem for p in results.glob("*.html")}
    return sorted(n for n in names if n != "index" and not n.startswith(".") and n != "report")


def _study_figures_html(results: Path | None) -> str:
    if results is None:
        return ""
    items = []
    for name in study_figures(results):
        png, page = results / f"{name}.png", results / f"{name}.html"
        target = href(page.name) if page.is_file() else href(png.name)
        img = f'<img src="{href(png.name)}" alt="{esc(name)}" loading="lazy">' if png.is_file() else esc(name)
        items.append(f'<a class="thumb study" href="{target}" title="{esc(name)}: open the figure">{img}</a>')
    if not items:
        return ""
    return '<h3 class="sub">Study figures</h3><div class="thumbs">' + "".join(items) + "</div>"


def render_index(
    metrics: pl.DataFrame,
    views: list[CaptureView],
    title: str = "tcpscope: TCP behaviour per feature",
    results: Path | None = None,
) -> str:
    """The whole page as a string."""
    features = list(dict.fromkeys([*metrics["feature"].to_list(), *(v.ref.feature for v in views)])) if "feature" in metrics.columns else list(dict.fromkeys(v.ref.feature for v in views))
    anchors = _anchors(features)
    by_feature = {rec["feature"]: rec for rec in metrics.iter_rows(named=True)} if "feature" in metrics.columns else {}
    sections = "".join(
        feature_section(f, anchors[f], by_feature.get(f), [v for v in views if v.ref.feature == f]) for f in features
    )
    total_conn = sum(v.flows.height for v in views)
    counted = sum(int(v.flows["counted"].sum()) for v in views if v.flows.height)
    labelled = sum(
        v.flows.filter(pl.col("sni").is_not_null() | pl.col("http_host").is_not_null()).height
        for v in views
        if v.flows.height and {"sni", "http_host"} <= set(v.flows.columns)
    )
    total_bytes = _num(metrics["bytes"].sum()) if "bytes" in metrics.columns else None
    summary = (
        '<div class="summary">'
        f"<div><b>{len(features)}</b><span>features</span></div>"
        f"<div><b>{len(views)}</b><span>captures</span></div>"
        f"<div><b>{counted}</b><span>connections counted (of {total_conn})</span></div>"
        f"<div><b>{labelled}</b><span>connections with a server name</span></div>"
        f"<div><b>{esc(fmt_bytes(total_bytes) or '–')}</b><span>payload bytes counted</span></div>"
        "</div>"
    )
    nav = "".join(f'<a href="#{esc(anchors[f])}">{esc(f)}</a>' for f in features)
    data = {
        "generator": f"tcpscope {__version__}",
        "features": _records(metrics),
        "connections": [
            {"capture": v.ref.name, "feature": v.ref.feature, **{k: r.get(k) for k in ("flow_id", "client", "client_port", "server", "server_port", "direction", "counted", *LABELS)}}
            for v in views
            for r in v.flows.iter_rows(named=True)
        ],
    }
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src 'self' data:; "
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">"
        f"<title>{esc(title)}</title><style>{CSS}</style></head>"
        '<body id="top">'
        f'<div class="top-bar"><h1>tcpscope <span>\u00b7 {esc(title.split(": ", 1)[-1])}</span></h1>'
        f"<p>{len(features)} features \u00b7 {len(views)} captures \u00b7 generated {esc(now)} by tcpscope {esc(__version__)}. "
        "Definitions: docs/metrics.md. Full table: "
        '<a style="color:#cfe3f6" href="metrics.tsv">metrics.tsv</a> \u00b7 '
        '<a style="color:#cfe3f6" href="metrics.md">metrics.md</a></p>'
        f"<nav>{nav}</nav></div>"
        "<main>"
        f"{summary}"
        '<h2 id="metrics">Metrics per feature<small>click a header to sort; counts summed over the '
        "feature's captures, rates recomputed from the sums</small></h2>"
        f"{feature_table(metrics, anchors)}"
        '<h2 id="compare">Comparison<small>one bar per feature</small></h2>'
        f"{comparison_charts(metrics)}"
        f"{_study_figures_html(results)}"
        '<h2 id="features">Features, captures and connections<small>each connection of the device, '
        "data side; greyed: not the configured server, not in the metrics</small></h2>"
        '<div class="filter"><label for="flow-filter">Filter connections</label>'
        '<input id="flow-filter" type="search" placeholder="host name, address, port, request\u2026"></div>'
        f"{sections}"
        f'<footer>tcpscope {esc(__version__)} \u00b7 labels (SNI, ALPN, TLS version, HTTP Host and request) are '
        "read from the captures with tshark and shown as sent.</footer>"
        "</main>"
        f'<script type="application/json" id="tcpscope-data">{script_json(data)}</script>'
        f"<script>{JS}</script>"
        "</body></html>\n"
    )


def build_index(
    results: str | Path,
    captures: Sequence[CaptureRef],
    out: str | Path | None = None,
    metrics_path: str | Path | None = None,
) -> Path:
    """Write results/index.html from results/metrics.tsv and every capture's outputs."""
    results = Path(results)
    out = Path(out) if out else results / "index.html"
    metrics_path = Path(metrics_path) if metrics_path else results / "metrics.tsv"
    metrics = read_feature_metrics(metrics_path) if metrics_path.is_file() else pl.DataFrame({"feature": []}, schema={"feature": pl.Utf8})
    views = [load_capture(results, ref) for ref in captures]
    page = render_index(metrics, views, results=out.parent)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(page, encoding="utf-8")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out
