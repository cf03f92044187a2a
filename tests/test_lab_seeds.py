"""`python -m tcpscope.lab seeds`: many seeds' sets verified and summed up (tcpscope.lab.verify).

Sets are made of the committed captures and truth files (seed sets made by the lab itself are
checked in tests/lab/test_lab_e2e.py, as root)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from tcpscope.lab.__main__ import main as lab_main
from tcpscope.lab.verify import (
    SetResult,
    VerifyError,
    basis_precision,
    parse_seeds,
    pooled_over_seeds,
    pooled_report,
    verify_set,
)

ROOT = Path(__file__).resolve().parents[1]
PCAP = ROOT / "pcap"
TRUTH = ROOT / "tests" / "fixtures" / "truth"


def test_parse_seeds_reads_numbers_and_ranges_once_each() -> None:
    assert parse_seeds("2,5-7, 122 ,6") == [2, 5, 6, 7, 122]
    assert parse_seeds("9") == [9]


@pytest.mark.parametrize("bad", ["", "a", "5-", "7-5", "1,,2", "3.5"])
def test_parse_seeds_names_what_it_cannot_read(bad: str) -> None:
    with pytest.raises(VerifyError, match="is not a seed or a range"):
        parse_seeds(bad)


def _set(d: Path, names: list[str], resend_called_new: str | None = None) -> None:
    """A complete set in `d`: the named bundled captures and their truth, and a captures.tsv
    (what marks a set complete). With `resend_called_new`, that capture's first true
    retransmission is called `new` in its truth, so the classifier disagrees on a segment the
    capture shows plainly."""
    d.mkdir(parents=True)
    for n in names:
        (d / f"{n}.pcap").symlink_to(PCAP / f"{n}.pcap")
        t = pl.read_parquet(TRUTH / f"{n}.truth.parquet")
        if n == resend_called_new:
            frame = t.filter(pl.col("truth") == "retransmission")["frame"][0]
            t = t.with_columns(truth=pl.when(pl.col("frame") == frame).then(pl.lit("new")).otherwise(pl.col("truth")))
        t.write_parquet(d / f"{n}.truth.parquet")
    (d / "captures.tsv").write_text("capture\n" + "".join(f"{n}.pcap\n" for n in names))


def test_seeds_gives_each_seed_a_verdict_and_sums_them_up(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Seed 1 holds the bundled upload and download as committed (every bound holds); seed 2 the
    same with one re-send's truth altered (a classifier error); seed 3 was never made."""
    names = ["post_moments", "receive_picture"]
    _set(tmp_path / "seed1", names)
    _set(tmp_path / "seed2", names, resend_called_new="post_moments")
    assert verify_set(tmp_path / "seed1", tmp_path / "seed1", "192.168.2.2").ok
    code = lab_main(["seeds", "1-3", "--dir", str(tmp_path), "--no-make"])
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert code == 2  # seed 3 could not be verified
    one = next(ln for ln in lines if ln.startswith("seed 1 "))
    assert one.endswith("pass")
    two = next(i for i, ln in enumerate(lines) if ln.startswith("seed 2 "))
    assert lines[two].endswith("fail, on the classifier's errors")
    assert lines[two + 1].split()[0] == "error" and "post_moments" in lines[two + 1]
    assert "post_moments frame" in lines[two + 2] and "new taken for retransmission (-)" in lines[two + 2]
    assert "seed 3     not made (--no-make)" in out
    assert "1 of 2 sets pass every bound" in out
    assert "0 fail only on segments the capture held no evidence for: none" in out
    assert "1 fail on the classifier's own errors: 2" in out
    assert "1 not verified (no complete set): 3" in out
    # pooled over both sets: each capture name once, and the one miss listed as the classifier's
    assert "pooled over 2 sets (F1 >= 0.97 where a class has >= 10 true members" in out
    assert any(ln.split()[:2] == ["post_moments", "2"] for ln in lines)
    assert "      1 the classifier's (or not yet explained):" in out
    assert any(ln.strip().startswith("seed 2 post_moments frame") and ln.endswith("new taken for retransmission")
               for ln in lines)
    assert lines[-1].startswith("python -m tcpscope.lab explain DIR/seedN/CAPTURE.pcap FRAME")
    # what the hint says works on the missed segment: the frame is marked, with its truth
    frame = lines[two + 2].split("post_moments frame ")[1].split(":")[0]
    assert lab_main(["explain", str(tmp_path / "seed2" / "post_moments.pcap"), frame]) == 0
    marked = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith(">")]
    assert len(marked) == 1 and marked[0].split()[1] == frame and marked[0].split()[-3:] == [
        "retransmission", "resent", "new"]  # class, the rule that set it, truth
    # without the missing seed, a failing set makes the exit code 1, and seed 1 alone 0
    assert lab_main(["seeds", "1,2", "--dir", str(tmp_path), "--no-make"]) == 1
    assert lab_main(["seeds", "1", "--dir", str(tmp_path), "--no-make"]) == 0


def test_seeds_does_not_take_a_half_made_set_for_a_complete_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A set directory without captures.tsv (a make that stopped midway) is not verified."""
    _set(tmp_path / "seed4", ["receive_picture"])
    (tmp_path / "seed4" / "captures.tsv").unlink()
    assert lab_main(["seeds", "4", "--dir", str(tmp_path), "--no-make"]) == 2
    assert "seed 4     not made (--no-make)" in capsys.readouterr().out


def test_seeds_rejects_a_bad_seed_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert lab_main(["seeds", "9-2", "--dir", str(tmp_path), "--no-make"]) == 2
    assert "error: seeds '9-2': '9-2' is not a seed or a range like 5-9" in capsys.readouterr().err


def _result(truth: list[str], pred: list[str], dirs: list[str], big: list[bool] | None = None) -> SetResult:
    basis = {"new": "above_highest", "retransmission": "resent", "reordered": "filled_hole_early"}
    matched = pl.DataFrame({"truth": truth, "pred": pred, "dir": dirs, "big": big or [True] * len(dirs),
                            "basis": [basis[p] for p in pred]})
    misses = matched.filter(pl.col("truth") != pl.col("pred")).with_columns(
        capture=pl.lit("x"), frame=pl.int_range(1, pl.len() + 1), reason=pl.lit(None, dtype=pl.String)
    )
    return SetResult(["x"], [], [], {"x": matched}, misses)


def test_pooled_over_seeds_scores_each_capture_name_over_every_set() -> None:
    """Two seeds' sets of capture `x`: 12 true retransmissions (6 each), one called new in the
    second set; 8 reorderings all right (under the 10 members a bound needs). F1 and loss rates
    are those of the pooled segments, not averages of the sets'. A small flow direction (under
    the 20 data segments the loss bound needs) leaves the loss rates out."""
    one = _result(["retransmission"] * 6 + ["reordered"] * 4 + ["new"] * 40, ["retransmission"] * 6 + ["reordered"] * 4
                  + ["new"] * 40, ["c2s"] * 50)
    two = _result(["retransmission"] * 6 + ["reordered"] * 4 + ["new"] * 40 + ["retransmission", "new"],
                  ["retransmission"] * 5 + ["new"] + ["reordered"] * 4 + ["new"] * 42, ["c2s"] * 52,
                  [True] * 50 + [False] * 2)
    row = pooled_over_seeds({1: one, 2: two}).row(0, named=True)
    assert (row["capture"], row["sets"]) == ("x", 2)
    assert row["retransmission_support"] == 13 and row["retransmission_f1"] == pytest.approx(2 * 11 / (13 + 11))
    assert row["reordered_support"] == 8 and row["reordered_f1"] == 1.0
    assert row["c2s_truth_loss"] == pytest.approx(12 / 100) and row["c2s_loss"] == pytest.approx(11 / 100)
    assert row["s2c_truth_loss"] is None and row["s2c_loss"] is None
    text = pooled_report({1: one, 2: two})
    assert "0.917* (13)" in text  # F1 below 0.97 on a class with 13 members: marked
    assert "- (8)" in text  # too few members for a bound
    assert text.splitlines()[2].rstrip().endswith("0.1100 vs 0.1200*  -")  # no s2c flow direction at all
    assert "0.1100 vs 0.1200*" in text  # 8 % off the truth's loss rate: marked
    assert "2 of 102 data segments missed over the 2 sets" in text
    lines = [ln.strip() for ln in text.splitlines()]
    own = lines.index("2 the classifier's (or not yet explained):")
    assert lines[own + 1:own + 3] == [
        "seed 2 x frame 1: retransmission taken for new", "seed 2 x frame 2: retransmission taken for new"
    ]
    assert lines[own + 3] == "calls by basis (seg_basis: the rule that set the class) over the 2 sets:"


def test_basis_precision_counts_each_rules_calls_against_the_truth() -> None:
    """Per class and basis: the calls, those the truth backs, and what the others truly were."""
    one = _result(["retransmission"] * 6 + ["reordered"] * 2 + ["new"] * 40,
                  ["retransmission"] * 6 + ["new"] * 42, ["c2s"] * 48)
    two = _result(["new", "retransmission", "retransmission"], ["retransmission"] * 3, ["c2s"] * 3)
    rows = {(r["class"], r["basis"]): r for r in basis_precision({1: one, 2: two}).iter_rows(named=True)}
    assert set(rows) == {("new", "above_highest"), ("retransmission", "resent")}
    new = rows[("new", "above_highest")]
    assert (new["calls"], new["right"], new["wrong"]) == (42, 40, "reordered 2")
    assert new["precision"] == pytest.approx(40 / 42)
    resent = rows[("retransmission", "resent")]
    assert (resent["calls"], resent["right"], resent["wrong"]) == (9, 8, "new 1")
    text = pooled_report({1: one, 2: two})
    assert ["new", "above_highest", "42", "40", "0.9524", "reordered", "2"] in [ln.split() for ln in text.splitlines()]
