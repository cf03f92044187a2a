"""`python -m tcpscope.lab ab`: the class A/B between two source trees (tcpscope.lab.ab).

The end-to-end test runs the real workers on bundled captures with the working tree against a
copy of it whose classifier is broken on purpose (it calls every reordered segment new), so the
expected changes are known before the A/B runs: exactly the segments the working tree calls
reordered, each moved to or away from its truth as the truth file says."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from tcpscope.analysis import analyze
from tcpscope.decode import decode_capture
from tcpscope.lab import CLIENT_IP
from tcpscope.lab.ab import (
    AWAY,
    NO_TRUTH,
    SEGMENT_SCHEMA,
    STILL_WRONG,
    TO_TRUTH,
    AbError,
    compare,
    find_captures,
    transitions,
    tree_from_dir,
    tree_from_rev,
    truth_file,
)
from tcpscope.lab.score import match

ROOT = Path(__file__).resolve().parents[1]
PCAP = ROOT / "pcap"
TRUTH = ROOT / "tests" / "fixtures" / "truth"
CAPTURES = [PCAP / "download_moments.pcap", PCAP / "receive_text.pcap"]

# appended to the copy's analysis.py: every segment the real classifier calls reordered becomes new
BREAK_REORDERED = '''

_real_analyze = analyze


def analyze(*args, **kwargs):
    an = _real_analyze(*args, **kwargs)
    cls = pl.when(pl.col("seg_class") == "reordered").then(pl.lit("new")).otherwise(pl.col("seg_class"))
    return Analysis(an.segments.with_columns(seg_class=cls), an.flows)
'''


def _segs(rows: list[tuple], capture: str = "c.pcap") -> pl.DataFrame:
    """Worker output for `rows` of (frame, seg_class, seg_basis)."""
    df = pl.DataFrame(
        {"frame": [r[0] for r in rows], "seg_class": [r[1] for r in rows], "seg_basis": [r[2] for r in rows]},
        schema={"frame": pl.Int64, "seg_class": pl.String, "seg_basis": pl.String},
    ).with_columns(capture=pl.lit(capture), error=pl.lit(None, pl.String))
    return pl.concat([pl.DataFrame(schema=SEGMENT_SCHEMA), df], how="diagonal_relaxed")


def _truth(rows: list[tuple], capture: str = "c.pcap") -> pl.DataFrame:
    return pl.DataFrame({"capture": [capture] * len(rows), "frame": [r[0] for r in rows],
                         "truth": [r[1] for r in rows]}, schema={"capture": pl.String, "frame": pl.Int64,
                                                                 "truth": pl.String})


def test_compare_names_how_each_changed_class_moved() -> None:
    old = _segs([(1, "new", "a"), (2, "new", "a"), (3, "retransmission", "b"), (4, "reordered", "c"),
                 (5, "new", "a"), (6, "new", "a"), (7, "reordered", "x")])
    new = _segs([(1, "new", "a"), (2, "reordered", "c"), (3, "spurious_retransmission", "d"),
                 (4, "retransmission", "b"), (5, "new", "z"), (6, "reordered", "c"), (7, "reordered", "x")])
    truth = _truth([(1, "new"), (2, "reordered"), (3, "retransmission"), (4, "new"), (5, "new"), (7, "reordered")])
    got = compare(old, new, truth)
    assert got.select("frame", "moved").rows() == [
        (2, TO_TRUTH), (3, AWAY), (4, STILL_WRONG), (6, NO_TRUTH), (5, None)]
    assert got.filter(pl.col("frame") == 5).select("old_basis", "new_basis").row(0) == ("a", "z")
    t = transitions(got)
    assert t.filter(pl.col("old_class") == "new", pl.col("new_class") == "reordered").select(
        "segments", TO_TRUTH, NO_TRUTH).row(0) == (2, 1, 1)
    assert t["segments"].sum() == 4  # the basis-only change is not a class transition


def test_a_tree_without_bases_changes_no_basis() -> None:
    old = _segs([(1, "new", None), (2, "new", None)])
    new = _segs([(1, "new", "above_highest"), (2, "reordered", "passed")])
    assert compare(old, new, _truth([])).select("frame", "moved").rows() == [(2, NO_TRUTH)]


def test_compare_leaves_out_a_capture_a_tree_failed_on() -> None:
    old = pl.concat([_segs([(1, "new", "a")]), _segs([(1, "new", "a")], "bad.pcap")])
    failed = pl.DataFrame({"capture": ["bad.pcap"], "error": ["ValueError: broken"]})
    new = pl.concat([_segs([(1, "reordered", "c")]), failed], how="diagonal_relaxed")
    got = compare(old, new, _truth([(1, "reordered")]))
    assert got.select("capture", "frame", "moved").rows() == [("c.pcap", 1, TO_TRUTH)]


def test_compare_refuses_segments_only_one_tree_has() -> None:
    with pytest.raises(AbError, match="c.pcap frame 2"):
        compare(_segs([(1, "new", "a"), (2, "new", "a")]), _segs([(1, "new", "a")]), _truth([]))


def test_captures_and_truth_files_are_found(tmp_path: Path) -> None:
    (tmp_path / "set" / "sub").mkdir(parents=True)
    for name in ("a.pcap", "sub/b.pcapng", "notes.txt", "a.truth.parquet"):
        (tmp_path / "set" / name).write_bytes(b"")
    assert find_captures([tmp_path / "set"]) == [tmp_path / "set" / "a.pcap", tmp_path / "set" / "sub" / "b.pcapng"]
    assert truth_file(tmp_path / "set" / "a.pcap", []) == tmp_path / "set" / "a.truth.parquet"
    assert truth_file(PCAP / "receive_text.pcap", [tmp_path, TRUTH]) == TRUTH / "receive_text.truth.parquet"
    assert truth_file(tmp_path / "set" / "sub" / "b.pcapng", [TRUTH]) is None
    with pytest.raises(AbError, match="no such capture"):
        find_captures([tmp_path / "missing"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(AbError, match="no capture"):
        find_captures([tmp_path / "empty"])


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout.strip()


def test_a_revision_is_extracted_once_and_an_unknown_one_is_named(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "src" / "tcpscope").mkdir(parents=True)
    (repo / "src" / "tcpscope" / "__init__.py").write_text("VERSION = 1\n")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    sha, tree_id = _git(repo, "rev-parse", "HEAD"), _git(repo, "rev-parse", "HEAD:src")
    t = tree_from_rev(repo, "HEAD", tmp_path / "trees")
    assert t.tree_id == tree_id and t.src == tmp_path / "trees" / tree_id / "src"
    assert t.label == f"HEAD ({sha[:10]})"
    assert (t.src / "tcpscope" / "__init__.py").read_text() == "VERSION = 1\n"
    (t.src / "tcpscope" / "kept").write_text("")  # a second call reuses the extracted tree
    assert (tree_from_rev(repo, sha[:8], tmp_path / "trees").src / "tcpscope" / "kept").is_file()
    (repo / "README").write_text("docs only\n")  # a commit that leaves src alone shares the tree
    _git(repo, "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "two")
    assert tree_from_rev(repo, "HEAD", tmp_path / "trees").src == t.src
    with pytest.raises(AbError, match="does not know the revision 'nope'"):
        tree_from_rev(repo, "nope", tmp_path / "trees")
    with pytest.raises(AbError, match="holds a tcpscope package"):
        tree_from_dir(tmp_path / "trees")


@pytest.fixture(scope="module")
def broken_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the working tree's src whose classifier calls every reordered segment new (copied
    with its numba cache, which stays valid: the compiled modules are unchanged)."""
    import tcpscope

    src = tmp_path_factory.mktemp("broken") / "src"
    shutil.copytree(Path(tcpscope.__file__).parent, src / "tcpscope")
    with open(src / "tcpscope" / "analysis.py", "a") as f:
        f.write(BREAK_REORDERED)
    return src


def test_ab_finds_exactly_the_changed_classes_and_how_they_moved(broken_tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "changed.parquet"
    proc = subprocess.run(
        [sys.executable, "-m", "tcpscope.lab", "ab", str(broken_tree), *map(str, CAPTURES), "--truth", str(TRUTH),
         "--out", str(out), "--jobs", "2"],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    expected = []
    for c in CAPTURES:
        segs = analyze(decode_capture(c).packets, device=CLIENT_IP).segments
        m = match(segs, pl.read_parquet(TRUTH / f"{c.stem}.truth.parquet"))
        expected += [(str(c), f, t) for f, p, t in m.select("frame", "pred", "truth").iter_rows() if p == "reordered"]
    assert len(expected) >= 5  # download_moments has 6 truly reordered segments
    got = pl.read_parquet(out)
    assert got.select("capture", "frame", "truth").rows() == sorted(expected)
    assert set(got["old_class"]) == {"new"} and set(got["new_class"]) == {"reordered"}
    want_moved = [TO_TRUTH if t == "reordered" else AWAY if t == "new" else STILL_WRONG for _, _, t in sorted(expected)]
    assert got["moved"].to_list() == want_moved
    n_to = want_moved.count(TO_TRUTH)
    n = sum(pl.read_parquet(TRUTH / f"{c.stem}.truth.parquet").height for c in CAPTURES)
    assert f"2 captures, {n:,} data segments ({n:,} with a truth label)" in proc.stdout
    assert f"classes changed: {len(expected)} ({n_to} to their truth, {want_moved.count(AWAY)} away" in proc.stdout


def test_ab_names_a_revision_git_does_not_know(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "tcpscope.lab", "ab", "no-such-rev", str(CAPTURES[1])],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2
    assert "does not know the revision 'no-such-rev'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_capture_a_tree_fails_on_is_left_out_and_named(tmp_path: Path) -> None:
    """A tree whose analysis raises: each capture is named with that tree's error, none compared."""
    import tcpscope

    src = tmp_path / "failing" / "src"
    shutil.copytree(Path(tcpscope.__file__).parent, src / "tcpscope")
    with open(src / "tcpscope" / "analysis.py", "a") as f:
        f.write("\n\ndef analyze(*args, **kwargs):\n    raise ValueError('no analysis in this tree')\n")
    proc = subprocess.run(
        [sys.executable, "-m", "tcpscope.lab", "ab", str(src), str(CAPTURES[1]), "--truth", str(TRUTH)],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "0 captures, 0 data segments" in proc.stdout
    assert f"\n  {CAPTURES[1]}: {src}: ValueError: no analysis in this tree\n" in proc.stdout + "\n"
