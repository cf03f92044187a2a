"""Per-capture and per-feature metric tables (pure functions over polars frames).

`capture_metrics` keeps, for one capture, the sending side of each connection that
carries the feature's data (see `docs/metrics.md`), with the decoder's skipped-packet
counts so a reader sees what was not analysed. `feature_metrics` merges those rows into
one row per feature: sums of counts, rates recomputed from the summed counts.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import polars as pl

from tcpscope.classes import CAUSES as STALL_CAUSES

#: Data-segment classes whose sum is the rate denominator (`counted_packets`): every data
#: segment except spurious retransmissions, network duplicates, keepalives, window probes.
COUNTED_CLASSES: tuple[str, ...] = ("n_new", "n_retransmission", "n_reordered")
#: Data-segment classes left out of the rate denominator.
EXCLUDED_CLASSES: tuple[str, ...] = (
    "n_spurious_retransmission",
    "n_network_duplicate",
    "n_keepalive",
    "n_window_probe",
)
COUNT_COLUMNS: tuple[str, ...] = (
    "n_new",
    "n_retransmission",
    "n_spurious_retransmission",
    "n_reordered",
    "n_network_duplicate",
    "n_keepalive",
    "n_window_probe",
)
#: Stall columns (docs/stalls.md): per connection in `flows`, summed per feature.
STALL_TIME_COLUMNS: tuple[str, ...] = ("stall_time_s", *(f"stall_s_{c}" for c in STALL_CAUSES))
SKIP_REASONS: tuple[str, ...] = (
    "non_ip",
    "non_tcp",
    "truncated",
    "malformed",
    "unsupported_linktype",
)

#: Columns and types of the per-capture table (`results/{capture}/metrics.tsv`).
CAPTURE_SCHEMA: dict[str, pl.DataType] = {
    "capture": pl.Utf8(),
    "feature": pl.Utf8(),
    "direction": pl.Utf8(),
    "flow_id": pl.Int64(),
    "client": pl.Utf8(),
    "client_port": pl.Int64(),
    "server": pl.Utf8(),
    "server_port": pl.Int64(),
    "sender": pl.Utf8(),
    "start_t": pl.Float64(),
    "duration_s": pl.Float64(),
    "handshake_seen": pl.Boolean(),
    "handshake_rtt_ms": pl.Float64(),
    "packets": pl.Int64(),
    "data_packets": pl.Int64(),
    "counted_packets": pl.Int64(),
    "bytes": pl.Int64(),
    "bytes_sent": pl.Int64(),
    "transfer_s": pl.Float64(),
    "throughput_bps": pl.Float64(),
    **{c: pl.Int64() for c in COUNT_COLUMNS},
    "n_retransmission_inferred": pl.Int64(),
    "loss_rate": pl.Float64(),
    "reorder_rate": pl.Float64(),
    "rtt_min_ms": pl.Float64(),
    "rtt_median_ms": pl.Float64(),
    "rtt_p95_ms": pl.Float64(),
    "rtt_samples": pl.Int64(),
    "syn_mss": pl.Int64(),
    "syn_wscale": pl.Int64(),
    "syn_sackok": pl.Boolean(),
    "syn_ts": pl.Boolean(),
    "frames": pl.Int64(),
    "tcp_packets": pl.Int64(),
    **{f"skipped_{r}": pl.Int64() for r in SKIP_REASONS},
    "cut_off": pl.Boolean(),
    "stalls": pl.Int64(),
    "stall_ratio": pl.Float64(),
    **{c: pl.Float64() for c in STALL_TIME_COLUMNS},
    "status": pl.Utf8(),
    "error": pl.Utf8(),
}

#: Columns and types of the per-feature table (`results/metrics.tsv`), in order.
FEATURE_SCHEMA: dict[str, pl.DataType] = {
    "feature": pl.Utf8(),
    "direction": pl.Utf8(),
    "captures": pl.Int64(),
    "flows": pl.Int64(),
    "packets": pl.Int64(),
    "data_packets": pl.Int64(),
    "bytes": pl.Int64(),
    "duration_s": pl.Float64(),
    "throughput_bps": pl.Float64(),
    "loss_rate": pl.Float64(),
    "reorder_rate": pl.Float64(),
    "retransmissions": pl.Int64(),
    "retransmissions_inferred": pl.Int64(),
    "spurious_retransmissions": pl.Int64(),
    "reordered": pl.Int64(),
    "rtt_median_ms": pl.Float64(),
    "rtt_p95_ms": pl.Float64(),
    "syn_mss": pl.Int64(),
    "syn_wscale": pl.Int64(),
    "syn_sackok": pl.Boolean(),
    "syn_ts": pl.Boolean(),
    "counted_packets": pl.Int64(),
    "network_duplicates": pl.Int64(),
    "keepalives": pl.Int64(),
    "window_probes": pl.Int64(),
    "rtt_min_ms": pl.Float64(),
    "rtt_samples": pl.Int64(),
    "handshake_rtt_ms": pl.Float64(),
    "frames": pl.Int64(),
    "tcp_packets": pl.Int64(),
    **{f"skipped_{r}": pl.Int64() for r in SKIP_REASONS},
    "cut_off_captures": pl.Int64(),
    "stalls": pl.Int64(),
    "stall_ratio": pl.Float64(),
    **{c: pl.Float64() for c in STALL_TIME_COLUMNS},
    "status": pl.Utf8(),
    "failed_captures": pl.Int64(),
    "errors": pl.Utf8(),
}

#: Columns a table written by an older tcpscope may lack: they read as empty.
_LATER_COLUMNS = frozenset(
    {"status", "error", "failed_captures", "errors", "n_retransmission_inferred", "retransmissions_inferred"}
)

_SYN = ("syn_mss", "syn_wscale", "syn_sackok", "syn_ts")


def _info_columns(info: dict[str, Any]) -> dict[str, Any]:
    skipped = info.get("skipped") or {}
    cols: dict[str, Any] = {
        "frames": info.get("frames"),
        "tcp_packets": info.get("tcp_packets"),
    }
    for reason in SKIP_REASONS:
        cols[f"skipped_{reason}"] = int(skipped.get(reason, 0) or 0)
    cols["cut_off"] = bool(info.get("cut_off", False))
    # a capture the workflow could not decode (pipeline.write_failure): no counts, the reason
    cols["status"] = str(info.get("status") or "ok")
    error = info.get("error")
    cols["error"] = " ".join(str(error).split()) if error else None  # one line, no tab (TSV)
    if cols["status"] == "failed":
        cols.update(frames=None, tcp_packets=None, cut_off=None)
    return cols


def _ratio(num: pl.Expr, den: pl.Expr) -> pl.Expr:
    return pl.when(den > 0).then(num.cast(pl.Float64) / den.cast(pl.Float64)).otherwise(None)


def _empty_row(capture: str, feature: str, info_cols: dict[str, Any]) -> pl.DataFrame:
    """The one row of a capture without data connections (or that failed): zero counts."""
    empty: dict[str, Any] = {c: None for c in CAPTURE_SCHEMA}
    empty.update({c: 0 for c in ("packets", "data_packets", "counted_packets", "bytes")})
    empty.update({c: 0 for c in ("bytes_sent", "rtt_samples", "n_retransmission_inferred", *COUNT_COLUMNS)})
    empty.update(capture=capture, feature=feature, **info_cols)
    return pl.DataFrame([empty], schema=CAPTURE_SCHEMA)


def capture_metrics(
    flows: pl.DataFrame, capture: str, feature: str, info: dict[str, Any]
) -> pl.DataFrame:
    """Per-capture metric rows: the data-carrying side of each connection of the device.

    For a connection whose `direction` is `up` the row whose sender is the device is kept,
    for `down` the row whose sender is not the device. Connections without the device are
    dropped. The device's SYN options are taken from the device's own row whatever the
    direction. `info` is the decoder's capture.json: its frame and skipped counts are added
    to every row. A capture without any such connection gives one row with a null
    `flow_id` and zero counts, so it still counts as a capture and shows its skipped counts.
    """
    info_cols = _info_columns(info)
    if info_cols["status"] == "failed" or flows.height == 0:  # failed: one row with its reason
        return _empty_row(capture, feature, info_cols)
    device_flows = flows.filter(pl.col("sender_is_device").fill_null(False)).select(
        "flow_id", *_SYN
    )
    data = flows.filter(
        pl.col("flow_id").is_in(device_flows["flow_id"].implode())
        & pl.col("matched").fill_null(True)  # the configured server / port, when given
        & (
            ((pl.col("direction") == "up") & pl.col("sender_is_device").fill_null(False))
            | ((pl.col("direction") == "down") & ~pl.col("sender_is_device").fill_null(False))
        )
    )
    data = data.drop([c for c in _SYN if c in data.columns]).join(
        device_flows, on="flow_id", how="left"
    )
    if data.height == 0:
        return _empty_row(capture, feature, info_cols)

    counted = pl.sum_horizontal([pl.col(c).cast(pl.Int64) for c in COUNTED_CLASSES])
    transfer = pl.when((pl.col("throughput_bps") > 0) & (pl.col("bytes") > 0)).then(
        pl.col("bytes").cast(pl.Float64) * 8.0 / pl.col("throughput_bps")
    )
    out = (
        data.sort("flow_id")
        .with_columns(
            pl.lit(capture).alias("capture"),
            pl.lit(feature).alias("feature"),
            counted.alias("counted_packets"),
            transfer.otherwise(None).alias("transfer_s"),
            **{k: pl.lit(v) for k, v in info_cols.items()},
        )
        .with_columns(
            _ratio(pl.col("n_retransmission"), pl.col("counted_packets")).alias("loss_rate"),
            _ratio(pl.col("n_reordered"), pl.col("counted_packets")).alias("reorder_rate"),
        )
    )
    # flows written before stall detection have no stall columns: leave them empty
    out = out.with_columns(pl.lit(None).alias(c) for c in ("stalls", "stall_ratio", *STALL_TIME_COLUMNS)
                           if c not in out.columns)
    # flows written before `seg_basis` have no inferred count either
    if "n_retransmission_inferred" not in out.columns:
        out = out.with_columns(n_retransmission_inferred=pl.lit(None))
    missing = [c for c in CAPTURE_SCHEMA if c not in out.columns]
    if missing:
        raise ValueError(f"flows frame lacks columns {missing} (see docs/design.md)")
    return out.select([pl.col(c).cast(t) for c, t in CAPTURE_SCHEMA.items()])


def _weighted_median(values: list[float], weights: list[int]) -> float | None:
    pairs = sorted((v, w) for v, w in zip(values, weights) if v is not None and w and w > 0)
    if not pairs:
        return None
    half = sum(w for _, w in pairs) / 2.0
    acc = 0
    for value, weight in pairs:
        acc += weight
        if acc >= half:
            return value
    return pairs[-1][0]


def _mode(values: list[Any]) -> Any:
    present = [v for v in values if v is not None]
    if not present:
        return None
    counts = Counter(present)
    best = max(counts.values())
    return min(v for v, n in counts.items() if n == best)


def _sum(values: list[Any]) -> int:
    return int(sum(v for v in values if v is not None))


def _stall_columns(col: dict[str, list[Any]]) -> dict[str, Any]:
    """Summed stall counts and times; stall_ratio = summed stall time / summed lifetime."""
    if not any(v is not None for v in col["stalls"]):
        return {c: None for c in ("stalls", "stall_ratio", *STALL_TIME_COLUMNS)}
    times = {c: float(sum(v for v in col[c] if v is not None)) for c in STALL_TIME_COLUMNS}
    life = sum(d for d, n in zip(col["duration_s"], col["stalls"]) if d is not None and n is not None)
    return {
        "stalls": _sum(col["stalls"]),
        "stall_ratio": times["stall_time_s"] / life if life > 0 else None,
        **times,
    }


def _status_columns(per_cap: pl.DataFrame) -> dict[str, Any]:
    """`ok` / `partial` / `failed` (every capture failed), the failed count, `capture: reason; ...`."""
    status = per_cap["status"].fill_null("ok").to_list()
    failed = [(c, e) for c, s, e in zip(per_cap["capture"], status, per_cap["error"]) if s == "failed"]
    return {
        "status": "ok" if not failed else ("failed" if len(failed) == len(status) else "partial"),
        "failed_captures": len(failed),
        "errors": "; ".join(f"{c}: {e or 'failed'}" for c, e in failed) or None,
    }


def feature_metrics(per_capture: pl.DataFrame) -> pl.DataFrame:
    """One row per feature from the concatenated per-capture tables (definitions in
    docs/metrics.md): counts are summed, rates recomputed from the sums, RTT pooled."""
    rows: list[dict[str, Any]] = []
    for feature in per_capture["feature"].unique(maintain_order=True).to_list():
        part = per_capture.filter(pl.col("feature") == feature)
        flows = part.filter(pl.col("flow_id").is_not_null())
        col = {c: flows[c].to_list() for c in flows.columns}
        directions = sorted({d for d in col["direction"] if d is not None})
        per_cap = part.unique("capture", keep="first", maintain_order=True)

        counted = _sum(col["counted_packets"])
        retx, reord = _sum(col["n_retransmission"]), _sum(col["n_reordered"])
        timed = [(b, t) for b, t in zip(col["bytes"], col["transfer_s"]) if t is not None]
        transfer = sum(t for _, t in timed)
        p95 = [v for v in col["rtt_p95_ms"] if v is not None]
        rtt_min = [v for v in col["rtt_min_ms"] if v is not None]
        hs = sorted(v for v in col["handshake_rtt_ms"] if v is not None)
        row: dict[str, Any] = {
            "feature": feature,
            "direction": (
                directions[0] if len(directions) == 1 else ("mixed" if directions else None)
            ),
            "captures": per_cap.height,
            "flows": flows.height,
            "packets": _sum(col["packets"]),
            "data_packets": _sum(col["data_packets"]),
            "bytes": _sum(col["bytes"]),
            "duration_s": float(sum(v for v in col["duration_s"] if v is not None)),
            "throughput_bps": (sum(b for b, _ in timed) * 8.0 / transfer) if transfer > 0 else None,
            "loss_rate": retx / counted if counted > 0 else None,
            "reorder_rate": reord / counted if counted > 0 else None,
            "retransmissions": retx,
            "retransmissions_inferred": (
                _sum(col["n_retransmission_inferred"])
                if any(v is not None for v in col.get("n_retransmission_inferred", []))
                else None
            ),
            "spurious_retransmissions": _sum(col["n_spurious_retransmission"]),
            "reordered": reord,
            "rtt_median_ms": _weighted_median(col["rtt_median_ms"], col["rtt_samples"]),
            "rtt_p95_ms": max(p95) if p95 else None,
            **{c: _mode(col[c]) for c in _SYN},
            "counted_packets": counted,
            "network_duplicates": _sum(col["n_network_duplicate"]),
            "keepalives": _sum(col["n_keepalive"]),
            "window_probes": _sum(col["n_window_probe"]),
            "rtt_min_ms": min(rtt_min) if rtt_min else None,
            "rtt_samples": _sum(col["rtt_samples"]),
            "handshake_rtt_ms": (
                hs[len(hs) // 2]
                if len(hs) % 2
                else ((hs[len(hs) // 2 - 1] + hs[len(hs) // 2]) / 2 if hs else None)
            ),
            "frames": _sum(per_cap["frames"].to_list()),
            "tcp_packets": _sum(per_cap["tcp_packets"].to_list()),
            **{f"skipped_{r}": _sum(per_cap[f"skipped_{r}"].to_list()) for r in SKIP_REASONS},
            "cut_off_captures": int(per_cap["cut_off"].fill_null(False).sum()),
            **_stall_columns(col),
            **_status_columns(per_cap),
        }
        rows.append(row)
    return pl.DataFrame(rows, schema=FEATURE_SCHEMA)


def _read_table(path: str | Path, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    frame = pl.read_csv(path, separator="\t", schema_overrides=schema, null_values=[""], infer_schema_length=0)
    # a table written before the stall columns existed: they read as empty
    frame = frame.with_columns(pl.lit(None).alias(c) for c in schema
                               if c not in frame.columns and ("stall" in c or c in _LATER_COLUMNS))
    return frame.select([pl.col(c).cast(t) for c, t in schema.items()])


def read_capture_metrics(path: str | Path) -> pl.DataFrame:
    """Read a per-capture TSV written by `write_tsv`, with the column types restored."""
    return _read_table(path, CAPTURE_SCHEMA)


def read_feature_metrics(path: str | Path) -> pl.DataFrame:
    """Read the per-feature TSV (`results/metrics.tsv`), with the column types restored."""
    return _read_table(path, FEATURE_SCHEMA)


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_tsv(frame: pl.DataFrame, path: str | Path) -> None:
    """Tab-separated, header row, empty cell for null, full float precision."""
    _atomic_write(Path(path), frame.write_csv(separator="\t", null_value="", quote_style="never"))


def _cell(value: Any, column: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if column.endswith("_rate"):
            text = f"{value:.6f}"
        elif column.endswith("_bps"):
            text = f"{value:.0f}"
        elif column.endswith(("_ms", "_s")):
            text = f"{value:.3f}"
        else:
            text = f"{value:.6g}"
    else:
        text = str(value)
    return escape_markdown(text)


def escape_markdown(text: str) -> str:
    """Make text safe inside a Markdown table cell: `|` escaped, line breaks as spaces."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def to_markdown(frame: pl.DataFrame) -> str:
    """A GitHub-flavoured Markdown table: rates to 6 decimals, times to 3, bps whole."""
    header = "| " + " | ".join(escape_markdown(c) for c in frame.columns) + " |"
    rule = (
        "| "
        + " | ".join("---:" if frame.schema[c].is_numeric() else "---" for c in frame.columns)
        + " |"
    )
    lines = [header, rule]
    for row in frame.iter_rows():
        lines.append("| " + " | ".join(_cell(v, c) for v, c in zip(row, frame.columns)) + " |")
    return "\n".join(lines) + "\n"


def write_markdown(frame: pl.DataFrame, path: str | Path, title: str | None = None) -> None:
    """Write `frame` as a Markdown table, under a `# title` heading when given."""
    text = to_markdown(frame)
    if title:
        text = f"# {escape_markdown(title)}\n\n{text}"
    _atomic_write(Path(path), text)
