"""Score a segment classification against lab truth: matching, confusion matrix, per-class F1, loss rates.

Pure functions over polars frames. `segments` is any table with the identifying columns
(`src`, `sport`, `dst`, `dport`, raw `seq`, `len`, `ip_id`), the capture `frame` and a
`seg_class` column: tcpscope's `Analysis.segments`, or another tool's labels put in the same
shape (`benchmarks/compare_tshark.py`). `truth` is a `<capture>.truth.parquet` table
(docs/lab.md). Every truth row must match exactly one data segment and every data segment
exactly one truth row; anything else raises `ScoreError` listing the rows, never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from tcpscope.errors import TcpscopeError
from tcpscope.classes import CLASS_NAMES

KEY = ["src", "sport", "dst", "dport", "seq", "len", "ip_id"]
CLASSES = CLASS_NAMES  # the classifier's classes, in its order
# what a data segment without a class is called in the tables (a bug in the classifier if it shows up)
UNCLASSIFIED = "unclassified"


class ScoreError(TcpscopeError):
    """Truth and segments do not pair up one to one: names the unmatched rows."""


@dataclass
class Score:
    """Everything `score` computes for one capture (or a pool of captures)."""

    matched: pl.DataFrame
    confusion: pl.DataFrame
    classes: pl.DataFrame
    loss: pl.DataFrame | None = None


def _key_frame(df: pl.DataFrame, order: str) -> pl.DataFrame:
    """Cast the identifying columns to one schema and number repeated keys by occurrence (0, 1, ...)."""
    out = df.with_columns(
        pl.col("src").cast(pl.Utf8),
        pl.col("dst").cast(pl.Utf8),
        pl.col("sport").cast(pl.Int64),
        pl.col("dport").cast(pl.Int64),
        pl.col("seq").cast(pl.Int64),
        pl.col("len").cast(pl.Int64),
        pl.col("ip_id").cast(pl.Int64),
    ).sort(order, maintain_order=True)
    return out.with_columns(_occ=pl.int_range(pl.len()).over(KEY))


def _describe(df: pl.DataFrame, cols: list[str], limit: int = 20) -> str:
    rows = df.select([c for c in cols if c in df.columns]).head(limit)
    lines = [", ".join(f"{k}={v}" for k, v in r.items()) for r in rows.iter_rows(named=True)]
    more = f"\n  ... and {df.height - limit} more" if df.height > limit else ""
    return "\n  ".join([""] + lines) + more


def match(segments: pl.DataFrame, truth: pl.DataFrame) -> pl.DataFrame:
    """Pair every truth row with its data segment (same key; the n-th occurrence with the n-th).

    Returns one row per truth row, in truth (frame) order: the key, `frame` (the segment's),
    `truth_frame`, `truth`, `pred` (the segment's `seg_class`, `unclassified` when null),
    `dir`, `at_sender`, and the segment's `flow_id`/`from_client` and `seg_basis` when present.
    Raises `ScoreError` when a truth row has no segment or a data segment (len > 0) has no truth row.
    """
    wanted = ("frame", "flow_id", "from_client", "seg_class", "seg_basis", "ts_ns")
    seg_cols = [c for c in wanted if c in segments.columns]
    segs = _key_frame(
        segments.filter(pl.col("len") > 0).select(*KEY, *seg_cols).with_row_index("_seg_row"), "_seg_row"
    )
    tr_cols = [c for c in ("frame", "truth", "dir", "at_sender", "rel_seq", "relay_action", "held") if c in truth.columns]
    tr = _key_frame(truth.select(*KEY, *tr_cols).with_row_index("_tr_row"), "_tr_row")
    tr = tr.rename({"frame": "truth_frame"}) if "frame" in tr.columns else tr
    on = [*KEY, "_occ"]
    joined = tr.join(segs, on=on, how="full", nulls_equal=True, coalesce=True)
    missing_seg = joined.filter(pl.col("_seg_row").is_null())
    missing_truth = joined.filter(pl.col("_tr_row").is_null())
    if missing_seg.height or missing_truth.height:
        parts = []
        if missing_seg.height:
            parts.append(
                f"{missing_seg.height} truth rows match no data segment:"
                + _describe(missing_seg, ["truth_frame", *KEY, "truth"])
            )
        if missing_truth.height:
            parts.append(
                f"{missing_truth.height} data segments match no truth row:"
                + _describe(missing_truth, ["frame", *KEY, "seg_class"])
            )
        raise ScoreError("\n".join(parts))
    out = joined.sort("_tr_row").with_columns(
        pred=pl.col("seg_class").fill_null(UNCLASSIFIED) if "seg_class" in joined.columns else pl.lit(UNCLASSIFIED)
    )
    return out.drop("_tr_row", "_seg_row", "_occ", "seg_class", strict=False)


def _ordered_labels(labels: set[str]) -> list[str]:
    known = [c for c in CLASSES if c in labels]
    return known + sorted(labels - set(CLASSES))


def confusion(matched: pl.DataFrame) -> pl.DataFrame:
    """Confusion matrix: one row per true class (`truth`), one column per predicted class, counts."""
    labels = _ordered_labels(set(matched["truth"].unique()) | set(matched["pred"].unique()))
    counts = {(t, p): n for t, p, n in matched.group_by("truth", "pred").len().iter_rows()}
    rows_present = [c for c in labels if c in set(matched["truth"].unique())]
    data: dict[str, list] = {"truth": rows_present}
    for p in labels:
        data[p] = [counts.get((t, p), 0) for t in rows_present]
    return pl.DataFrame(data, schema={"truth": pl.Utf8, **{p: pl.UInt32 for p in labels}})


def class_scores(matched: pl.DataFrame, classes: list[str] | None = None) -> pl.DataFrame:
    """Per class: `support` (true members), `predicted`, `tp`, `precision`, `recall`, `f1`.

    Precision is null when nothing was predicted as the class, recall when it has no true
    member, F1 = 2 tp / (2 tp + fp + fn) is null only when both are zero.
    """
    labels = classes or _ordered_labels(set(matched["truth"].unique()) | set(matched["pred"].unique()))
    rows = []
    for c in labels:
        t = matched["truth"] == c
        p = matched["pred"] == c
        support, predicted, tp = int(t.sum()), int(p.sum()), int((t & p).sum())
        rows.append(
            {
                "class": c,
                "support": support,
                "predicted": predicted,
                "tp": tp,
                "precision": tp / predicted if predicted else None,
                "recall": tp / support if support else None,
                "f1": 2 * tp / (support + predicted) if support + predicted else None,
            }
        )
    schema = {"class": pl.Utf8, "support": pl.Int64, "predicted": pl.Int64, "tp": pl.Int64,
              "precision": pl.Float64, "recall": pl.Float64, "f1": pl.Float64}
    return pl.DataFrame(rows, schema=schema)


def loss_rates(matched: pl.DataFrame, flows: pl.DataFrame) -> pl.DataFrame:
    """Per flow and sending side: truth vs tcpscope loss rate, with the relative error.

    Both use the definition of docs/metrics.md and `flows.loss_rate` (flowstats):
    retransmissions / counted packets, counted = new + retransmission + reordered (spurious
    re-sends and the other classes count on neither side). `truth_loss_rate` comes from the
    truth labels, `loss_rate` from `flows`. `rel_err` = |loss_rate - truth_loss_rate| /
    truth_loss_rate (null when the truth is 0; then `abs_err` tells).
    """
    per = matched.group_by("flow_id", "from_client").agg(
        src=pl.col("src").first(),
        sport=pl.col("sport").first(),
        dst=pl.col("dst").first(),
        dport=pl.col("dport").first(),
        dir=pl.col("dir").first(),
        at_sender=pl.col("at_sender").first(),
        truth_data_packets=pl.len().cast(pl.Int64),
        truth_counted=pl.col("truth").is_in(LOSS_COUNTED).sum().cast(pl.Int64),
        truth_retransmission=(pl.col("truth") == "retransmission").sum().cast(pl.Int64),
    )
    f = flows.select(
        pl.col("flow_id").cast(pl.UInt32),
        "from_client",
        pl.col("data_packets").cast(pl.Int64),
        (pl.col("n_new") + pl.col("n_retransmission") + pl.col("n_reordered")).cast(pl.Int64).alias("counted"),
        pl.col("n_retransmission").cast(pl.Int64).alias("retransmission"),
        "loss_rate",
    )
    out = per.with_columns(pl.col("flow_id").cast(pl.UInt32)).join(f, on=["flow_id", "from_client"], how="left")
    out = out.with_columns(
        truth_loss_rate=pl.when(pl.col("truth_counted") > 0).then(
            pl.col("truth_retransmission") / pl.col("truth_counted")
        ),
    ).with_columns(
        abs_err=(pl.col("loss_rate") - pl.col("truth_loss_rate")).abs(),
        rel_err=pl.when(pl.col("truth_loss_rate") > 0).then(
            (pl.col("loss_rate") - pl.col("truth_loss_rate")).abs() / pl.col("truth_loss_rate")
        ),
    )
    return out.sort("flow_id", "from_client", descending=[False, True])


def score(segments: pl.DataFrame, truth: pl.DataFrame, flows: pl.DataFrame | None = None) -> Score:
    """Match, then confusion matrix, per-class scores and (with `flows`) the loss-rate table."""
    m = match(segments, truth)
    return Score(
        matched=m,
        confusion=confusion(m),
        classes=class_scores(m),
        loss=loss_rates(m, flows) if flows is not None and "flow_id" in m.columns else None,
    )


def pooled(matched: list[pl.DataFrame]) -> Score:
    """Scores over several captures: confusion and per-class scores of all matched rows together."""
    cols = ["truth", "pred"]
    m = pl.concat([x.select(cols) for x in matched]) if matched else pl.DataFrame(schema={c: pl.Utf8 for c in cols})
    return Score(matched=m, confusion=confusion(m), classes=class_scores(m))


# The bounds the classification must meet against the truth (issue "ground-truth lab"; tests/test_truth.py
# asserts them on the committed fixtures, `python -m tcpscope.lab verify DIR` on any regenerated set).
F1_MIN = 0.97  # per class and capture, and pooled
F1_MIN_SUPPORT = 10  # ... wherever the class has at least this many true members
F1_CLASSES = ("retransmission", "reordered", "spurious_retransmission")
LOSS_REL_TOL = 0.05  # per flow direction with true loss and at least LOSS_MIN_PACKETS data packets
LOSS_MIN_PACKETS = 20  # (and exactly 0 wherever the truth has no loss, whatever the size)
LOSS_COUNTED = ("new", "retransmission", "reordered")  # the classes a loss rate divides by (docs/metrics.md)


@dataclass
class Check:
    """One bound on one capture (or on the pool): what, whether it held, and the figures."""

    capture: str
    bound: str
    ok: bool
    detail: str
    cls: str | None = None  # the class an F1 bound is about
    flow: tuple[str, int, str, int] | None = None  # the (src, sport, dst, dport) a loss bound is about


def bound_checks(name: str, s: Score) -> list[Check]:
    """Every bound that applies to one capture's score (F1 per class, loss rate per flow direction)."""
    out = []
    for r in s.classes.filter(pl.col("class").is_in(F1_CLASSES) & (pl.col("support") >= F1_MIN_SUPPORT)).iter_rows(
        named=True
    ):
        f1 = f"F1 {r['f1']:.3f} (support {r['support']})"
        out.append(Check(name, f"F1 {r['class']}", r["f1"] >= F1_MIN, f1, cls=r["class"]))
    for r in (s.loss if s.loss is not None else pl.DataFrame()).iter_rows(named=True):
        where = f"flow {r['flow_id']} {r['src']}:{r['sport']}>{r['dst']}:{r['dport']}"
        flow = (r["src"], r["sport"], r["dst"], r["dport"])
        got = f"{r['retransmission']} vs {r['truth_retransmission']} true retransmissions of {r['truth_data_packets']}"
        if r["truth_retransmission"] == 0:
            ok = r["retransmission"] == 0 and not r["loss_rate"]
            out.append(Check(name, f"loss 0 {where}", ok, got, flow=flow))
        elif r["truth_data_packets"] >= LOSS_MIN_PACKETS:
            ok = r["rel_err"] is not None and r["rel_err"] <= LOSS_REL_TOL
            err = "n/a" if r["rel_err"] is None else f"{r['rel_err']:.3f}"
            out.append(Check(name, f"loss {where}", ok, f"{got}; relative error {err}", flow=flow))
    return out


def pooled_checks(p: Score) -> list[Check]:
    """The pooled F1 bounds."""
    rows = p.classes.filter(pl.col("class").is_in(F1_CLASSES) & (pl.col("support") >= F1_MIN_SUPPORT))
    return [
        Check("pooled", f"F1 {r['class']}", r["f1"] >= F1_MIN, f"F1 {r['f1']:.3f} (support {r['support']})", cls=r["class"])
        for r in rows.iter_rows(named=True)
    ]


def misclassified(matched: pl.DataFrame) -> pl.DataFrame:
    """The matched rows whose prediction differs from the truth, in frame order."""
    return matched.filter(pl.col("truth") != pl.col("pred"))


# ---- text output -----------------------------------------------------------------------------


def _fmt(v: object, digits: int = 3) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def table_text(df: pl.DataFrame, digits: int = 3) -> str:
    """A plain fixed-width text table (no polars box drawing), right-aligned numbers."""
    cols = df.columns
    body = [[_fmt(v, digits) for v in r] for r in df.iter_rows()]
    width = [max([len(c)] + [len(r[i]) for r in body]) for i, c in enumerate(cols)]
    numeric = [df[c].dtype.is_numeric() for c in cols]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if n else c.ljust(w) for c, w, n in zip(cells, width, numeric)).rstrip()

    return "\n".join([line(cols), line(["-" * w for w in width])] + [line(r) for r in body])


SHORT = {
    "new": "new",
    "retransmission": "retrans",
    "spurious_retransmission": "spurious",
    "reordered": "reord",
    "network_duplicate": "netdup",
    "keepalive": "kalive",
    "window_probe": "wprobe",
    UNCLASSIFIED: "unclass",
}


def confusion_text(conf: pl.DataFrame) -> str:
    """The confusion matrix with short class names (rows: truth, columns: predicted)."""
    renamed = conf.rename({c: SHORT.get(c, c) for c in conf.columns if c != "truth"})
    renamed = renamed.with_columns(pl.col("truth").replace(SHORT)).rename({"truth": "truth \\ pred"})
    return table_text(renamed)


def loss_text(loss: pl.DataFrame) -> str:
    """The loss-rate table: one line per flow and sending side."""
    shown = loss.select(
        "flow_id",
        flow=pl.format("{}:{} > {}:{}", "src", "sport", "dst", "dport"),
        vantage=pl.when(pl.col("at_sender")).then(pl.lit("sender")).otherwise(pl.lit("receiver")),
        data=pl.col("truth_data_packets"),
        true_cnt=pl.col("truth_counted"),
        cnt=pl.col("counted"),
        true_rtx=pl.col("truth_retransmission"),
        rtx=pl.col("retransmission"),
        truth_loss=pl.col("truth_loss_rate"),
        loss=pl.col("loss_rate"),
        rel_err=pl.col("rel_err"),
    )
    return table_text(shown, digits=4)


def report_text(s: Score, title: str = "") -> str:
    """Confusion matrix, per-class table and loss-rate table as text."""
    parts = []
    if title:
        parts.append(title)
    parts += ["confusion matrix (rows: truth, columns: tcpscope)", confusion_text(s.confusion), ""]
    parts += ["per-class scores", table_text(s.classes), ""]
    if s.loss is not None:
        parts += ["loss rate per flow direction (retransmissions / counted = new + retransmission + reordered)", loss_text(s.loss), ""]
    return "\n".join(parts)
