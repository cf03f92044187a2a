"""tcpscope's segment classes against the lab's ground truth (docs/lab.md, `tcpscope.lab.score`).

For every bundled capture with a truth file, at the client vantage (`NAME.pcap`) and at the server
vantage (`NAME.server.pcap`), with the real decoder and analysis:

* per-class F1 >= 0.97 for `retransmission`, `reordered` and `spurious_retransmission` wherever
  the class has at least 10 true members in that capture; the same on all captures pooled;
* per flow direction, tcpscope's `flows.loss_rate` within 5 % (relative) of the truth's
  (true retransmissions / (new + retransmission + reordered), docs/metrics.md) where the
  direction has at least 20 data packets and true loss, and exactly 0 wherever the truth has no
  loss (any size: no granularity excuse there).

Every truth row must match exactly one data segment (`score.match` raises otherwise).
"""

from __future__ import annotations

import csv
import shutil
from functools import cache
from pathlib import Path

import polars as pl
import pytest

from tcpscope.analysis import analyze
from tcpscope.decode import decode_capture
from tcpscope.lab.__main__ import main as lab_main
from tcpscope.lab.score import (
    F1_CLASSES,
    F1_MIN,
    F1_MIN_SUPPORT,
    LOSS_MIN_PACKETS,
    LOSS_REL_TOL,
    Score,
    ScoreError,
    match,
    misclassified,
    pooled,
    score,
)

ROOT = Path(__file__).resolve().parents[1]
PCAP = ROOT / "pcap"
TRUTH = ROOT / "tests" / "fixtures" / "truth"
CAPTURES_TSV = ROOT / "config" / "captures.tsv"

# Bounds that fail today, each with the reason (misclassified frames and diagnosis); strict, so a
# fix turns the xfail into a failure that asks for the entry to be removed. Keys: test case ids.
# (Empty since the lab holds reordered packets by time with a 2 ms gap: reorderings of a few
# microseconds inside a burst, which the receiver's SACK compression hides from any sender-side
# observer, are no longer produced; docs/classification.md 'What a capture point cannot see'.)
KNOWN: dict[str, str] = {}


def _params(cases: list[tuple], ids: list[str]) -> list:
    return [pytest.param(*c, id=i, marks=[pytest.mark.xfail(strict=True, reason=KNOWN[i])] if i in KNOWN else [])
            for c, i in zip(cases, ids)]


def _devices() -> dict[str, str]:
    with CAPTURES_TSV.open() as fh:
        return {Path(r["capture"]).stem: r["device"] for r in csv.DictReader(fh, delimiter="\t")}


def _names() -> list[str]:
    """Every bundled capture that has a truth file (client and server vantage points)."""
    return sorted(p.name.removesuffix(".truth.parquet") for p in TRUTH.glob("*.truth.parquet")
                  if (PCAP / (p.name.removesuffix(".truth.parquet") + ".pcap")).exists())


NAMES = _names()


@cache
def _score(name: str) -> Score:
    device = _devices()[name.removesuffix(".server")]
    an = analyze(decode_capture(PCAP / f"{name}.pcap").packets, device=device)
    return score(an.segments, pl.read_parquet(TRUTH / f"{name}.truth.parquet"), an.flows)


def _f1_cases() -> list[tuple[str, str]]:
    out = []
    for name in NAMES:
        t = pl.read_parquet(TRUTH / f"{name}.truth.parquet", columns=["truth"])
        for c in F1_CLASSES:
            if (t["truth"] == c).sum() >= F1_MIN_SUPPORT:
                out.append((name, c))
    return out


def _pooled_classes() -> list[str]:
    t = pl.concat([pl.read_parquet(TRUTH / f"{n}.truth.parquet", columns=["truth"]) for n in NAMES])
    return [c for c in F1_CLASSES if (t["truth"] == c).sum() >= F1_MIN_SUPPORT]


def _why(s: Score, cls: str) -> str:
    bad = misclassified(s.matched).filter((pl.col("truth") == cls) | (pl.col("pred") == cls))
    rows = bad.select("frame", "src", "sport", "dst", "dport", "seq", "len", "truth", "pred").iter_rows()
    return "; ".join(f"frame {r[0]} {r[1]}:{r[2]}>{r[3]}:{r[4]} seq {r[5]} len {r[6]}: truth {r[7]}, tcpscope {r[8]}"
                     for r in rows)


def test_bundled_captures_have_truth() -> None:
    """Every bundled scenario at both vantage points: the phone's side and the server's."""
    clients = [n for n in NAMES if not n.endswith(".server")]
    assert len(clients) >= 8
    assert sorted(n for n in NAMES if n.endswith(".server")) == sorted(f"{n}.server" for n in clients)


@pytest.mark.parametrize("name", NAMES)
def test_every_truth_row_matches_one_segment(name: str) -> None:
    s = _score(name)
    t = pl.read_parquet(TRUTH / f"{name}.truth.parquet")
    assert s.matched.height == t.height
    # the occurrence-order join pairs the same frames the truth file names
    assert (s.matched["frame"] == s.matched["truth_frame"]).all()


def test_match_pairs_repeated_keys_by_occurrence() -> None:
    key = {"src": "10.0.0.1", "sport": 1, "dst": "10.0.0.2", "dport": 2, "seq": 100, "len": 10, "ip_id": 7}
    segs = pl.DataFrame([{**key, "frame": 3, "seg_class": "new"}, {**key, "frame": 9, "seg_class": "network_duplicate"}])
    truth = pl.DataFrame([{**key, "frame": 3, "truth": "new"}, {**key, "frame": 9, "truth": "new"}])
    m = match(segs, truth)
    assert m.select("truth_frame", "frame", "pred").rows() == [(3, 3, "new"), (9, 9, "network_duplicate")]
    with pytest.raises(ScoreError, match="1 truth rows match no data segment"):
        match(segs.head(1), truth)
    with pytest.raises(ScoreError, match="1 data segments match no truth row"):
        match(segs, truth.head(1))


@pytest.mark.parametrize(("name", "cls"), _params(_f1_cases(), [f"{n}-{c}" for n, c in _f1_cases()]))
def test_class_f1(name: str, cls: str) -> None:
    s = _score(name)
    row = s.classes.filter(pl.col("class") == cls).row(0, named=True)
    assert row["support"] >= F1_MIN_SUPPORT
    assert row["f1"] >= F1_MIN, f"{name} {cls}: F1 {row['f1']:.3f} (support {row['support']}); {_why(s, cls)}"


@pytest.mark.parametrize("cls", _params([(c,) for c in _pooled_classes()], [f"pooled-{c}" for c in _pooled_classes()]))
def test_pooled_class_f1(cls: str) -> None:
    p = pooled([_score(n).matched for n in NAMES])
    row = p.classes.filter(pl.col("class") == cls).row(0, named=True)
    bad = {n: _why(_score(n), cls) for n in NAMES if _why(_score(n), cls)}
    assert row["f1"] >= F1_MIN, f"pooled {cls}: F1 {row['f1']:.3f} (support {row['support']}); {bad}"


def _loss_cases() -> list[tuple[str, str]]:
    """(capture, flow direction) pairs under a bound, from the truth files alone (no analysis at collection)."""
    out = []
    for name in NAMES:
        t = pl.read_parquet(TRUTH / f"{name}.truth.parquet", columns=["src", "sport", "dst", "dport", "truth"])
        per = t.group_by("src", "sport", "dst", "dport").agg(
            n=pl.len(), rtx=(pl.col("truth") == "retransmission").sum()
        ).sort("src", "sport", "dst", "dport")
        for r in per.iter_rows(named=True):
            if r["rtx"] == 0 or r["n"] >= LOSS_MIN_PACKETS:
                out.append((name, f"{r['src']}:{r['sport']}>{r['dst']}:{r['dport']}"))
    return out


@pytest.mark.parametrize(("name", "direction"), _params(_loss_cases(), [f"{n}-{d}" for n, d in _loss_cases()]))
def test_loss_rate(name: str, direction: str) -> None:
    """Within 5 % of the truth (>= 20 data packets, true loss > 0); exactly 0 wherever the truth has no loss."""
    a, b = direction.split(">")
    (src, sport), (dst, dport) = a.rsplit(":", 1), b.rsplit(":", 1)
    rows = _score(name).loss.filter(
        (pl.col("src") == src) & (pl.col("sport") == int(sport)) & (pl.col("dst") == dst) & (pl.col("dport") == int(dport))
    )
    assert rows.height >= 1
    for r in rows.iter_rows(named=True):
        where = (f"{name} flow {r['flow_id']} {direction}: tcpscope {r['retransmission']} vs "
                 f"{r['truth_retransmission']} true retransmissions of {r['truth_data_packets']} data packets")
        if r["truth_retransmission"] == 0:
            assert r["retransmission"] == 0 and not r["loss_rate"], where
        else:
            assert r["truth_data_packets"] >= LOSS_MIN_PACKETS
            assert r["rel_err"] <= LOSS_REL_TOL, f"{where}: relative error {r['rel_err']:.3f}"


def test_score_cli_prints_the_three_tables(capsys: pytest.CaptureFixture[str]) -> None:
    assert lab_main(["score", str(PCAP / "receive_picture.pcap"), str(TRUTH / "receive_picture.truth.parquet")]) == 0
    out = capsys.readouterr().out
    assert "confusion matrix" in out and "per-class scores" in out and "loss rate per flow direction" in out
    assert lab_main(["score", str(PCAP / "receive_picture.pcap"), str(TRUTH / "send_text.truth.parquet")]) == 1
    assert "match no data segment" in capsys.readouterr().err


def test_verify_cli_checks_every_bound_on_the_fixtures(capsys: pytest.CaptureFixture[str]) -> None:
    """`python -m tcpscope.lab verify` (what a regenerated seed is checked with) passes on the
    committed fixtures and checks as many F1 bounds as the tests above, plus the pooled ones."""
    assert lab_main(["verify", str(PCAP), "--truth", str(TRUTH)]) == 0
    out = capsys.readouterr().out
    lines = [ln for ln in out.splitlines() if ln.startswith(("ok", "FAIL"))]
    assert not [ln for ln in lines if ln.startswith("FAIL")]
    f1 = [ln for ln in lines if " F1 " in ln and not ln.split()[1] == "pooled"]
    assert len(f1) == len(_f1_cases())
    assert sum(1 for ln in lines if ln.split()[1] == "pooled") == len(_pooled_classes())
    assert sum(1 for ln in lines if " loss " in ln) == len(_loss_cases())


def test_verify_cli_names_the_segments_a_failed_bound_missed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With the truth of one bundled capture altered (a re-send of `post_moments` called new),
    `verify` fails the bounds that touches and names the segment under each, with no evidence
    reason (the capture shows the re-send plainly)."""
    name = "post_moments"
    shutil.copy(PCAP / f"{name}.pcap", tmp_path / f"{name}.pcap")
    t = pl.read_parquet(TRUTH / f"{name}.truth.parquet")
    resent = t.filter(pl.col("truth") == "retransmission")["frame"][0]
    t = t.with_columns(truth=pl.when(pl.col("frame") == resent).then(pl.lit("new")).otherwise(pl.col("truth")))
    t.write_parquet(tmp_path / f"{name}.truth.parquet")
    assert lab_main(["verify", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    fail = [ln for ln in out.splitlines() if ln.startswith("FAIL")]
    assert any("F1 retransmission" in ln for ln in fail)
    assert out.count(f"{name} frame {resent}: new taken for retransmission (-)") == len(fail)
    last = out.rstrip().splitlines()[-2:]
    assert last[0] == ("0 of the %d that fail do so only on segments the capture held no evidence for "
                       "(docs/lab.md)" % len(fail))
    assert last[1].startswith("python -m tcpscope.lab explain ")
