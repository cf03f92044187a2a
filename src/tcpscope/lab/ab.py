"""Class A/B between two source trees: classify the same captures with each, list every data
segment whose class changed, and say whether it moved to its lab truth or away from it.

A rule change is kept only when this count says so (docs/lab.md): the F1 bounds of a set hide
changes that cancel, and captures without truth (the public corpus) still show what moved. Each
tree runs in its own processes (`ab_worker`, with PYTHONPATH at the tree's `src`), so a git
revision is measured with its own code, not with the code `ab` itself runs from.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from tcpscope.errors import TcpscopeError
from tcpscope.lab import CLIENT_IP
from tcpscope.atomic import write_parquet
from tcpscope.lab.score import ScoreError, match

CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap", ".pcap.gz", ".pcapng.gz")
SEGMENT_SCHEMA = {
    "capture": pl.String, "frame": pl.Int64, "src": pl.String, "sport": pl.Int64, "dst": pl.String,
    "dport": pl.Int64, "seq": pl.Int64, "len": pl.Int64, "ip_id": pl.Int64, "seg_class": pl.String,
    "seg_basis": pl.String, "error": pl.String,
}
# how a changed class moved, against the truth label
TO_TRUTH, AWAY, STILL_WRONG, NO_TRUTH = "to truth", "away from truth", "wrong both times", "no truth"


class AbError(TcpscopeError):
    """The A/B cannot run: a revision git does not know, no capture, a worker that died."""


@dataclass
class Tree:
    """One side of the A/B: a directory holding the `tcpscope` package, and what to call it.
    `tree_id` is set for a git revision's tree, so its classes can be cached."""

    label: str
    src: Path
    tree_id: str | None = None  # git tree id of a revision's src/ (commits that leave src alone share it)


def working_tree() -> Tree:
    """The tree this process imports tcpscope from (the checkout, when installed editable)."""
    import tcpscope

    return Tree("working tree", Path(tcpscope.__file__).resolve().parent.parent)


def _git(repo: Path, args: list[str], why: str) -> bytes:
    """`git -C repo ARGS`'s output; AbError naming the repository and `why` when git fails."""
    try:
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise AbError(f"{repo}: {why}") from e


def tree_from_rev(repo: Path, rev: str, into: Path) -> Tree:
    """`rev`'s `src/` from the git repository `repo`, extracted (git archive) to `into/<tree id>`
    (the git tree id of its src/, shared by commits that leave src alone) unless an earlier run
    left it there complete: kept, its numba cache saves the JIT compile (half a minute) the first
    import of a fresh tree costs."""
    sha = _git(repo, ["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"],
               f"git does not know the revision {rev!r}").decode().strip()
    no_src = f"revision {rev} has no src/ directory"
    tree_id = _git(repo, ["rev-parse", "--verify", "--quiet", f"{sha}:src"], no_src).decode().strip()
    root = into / tree_id
    if not (root / ".complete").is_file():
        tar = _git(repo, ["archive", "--format=tar", sha, "src"], no_src)
        shutil.rmtree(root, ignore_errors=True)
        with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
            tf.extractall(root, filter="data")
        (root / ".complete").touch()
    src = root / "src"
    if not (src / "tcpscope" / "__init__.py").is_file():
        raise AbError(f"{repo}: revision {rev} has no src/tcpscope package")
    return Tree(f"{rev} ({sha[:10]})", src, tree_id)


def tree_from_dir(path: Path) -> Tree:
    """A source tree on disk: a checkout (holding `src/tcpscope`) or its `src` (holding `tcpscope`)."""
    for src in (path / "src", path):
        if (src / "tcpscope" / "__init__.py").is_file():
            return Tree(str(path), src.resolve())
    raise AbError(f"{path}: neither it nor its src/ holds a tcpscope package")


def tree(spec: str, repo: Path, into: Path) -> Tree:
    """A directory's tree when `spec` names a directory, else the git revision's (tree_from_rev)."""
    return tree_from_dir(Path(spec)) if Path(spec).is_dir() else tree_from_rev(repo, spec, into)


def find_captures(paths: list[Path]) -> list[Path]:
    """The capture files named, and those under the directories named (recursively), sorted."""
    found: set[Path] = set()
    for p in paths:
        if p.is_dir():
            found |= {f for f in p.rglob("*") if f.is_file() and f.name.endswith(CAPTURE_SUFFIXES)}
        elif p.is_file():
            found.add(p)
        else:
            raise AbError(f"{p}: no such capture file or directory")
    if not found:
        raise AbError(f"no capture ({', '.join(CAPTURE_SUFFIXES)}) in {', '.join(map(str, paths))}")
    return sorted(found)


def _stem(capture: Path) -> str:
    name = capture.name
    for suf in sorted(CAPTURE_SUFFIXES, key=len, reverse=True):
        if name.endswith(suf):
            return name.removesuffix(suf)
    return capture.stem


def truth_file(capture: Path, truth_dirs: list[Path]) -> Path | None:
    """`<stem>.truth.parquet` beside the capture (a lab set's layout), else in a truth directory."""
    for d in [capture.parent, *truth_dirs]:
        f = d / f"{_stem(capture)}.truth.parquet"
        if f.is_file():
            return f
    return None


def _chunks(captures: list[Path], n: int) -> list[list[Path]]:
    """`n` lists of about equal bytes: largest capture first, each to the lightest list."""
    lists: list[list[Path]] = [[] for _ in range(max(1, n))]
    weight = [0] * len(lists)
    for c in sorted(captures, key=lambda p: p.stat().st_size, reverse=True):
        i = weight.index(min(weight))
        lists[i].append(c)
        weight[i] += c.stat().st_size
    return [sorted(x) for x in lists if x]


def _run_worker(tree: Tree, jobs: list[tuple[str, str | None]], work: Path, tag: str) -> pl.DataFrame:
    jobs_json, out = work / f"{tag}.json", work / f"{tag}.parquet"
    jobs_json.write_text(json.dumps([(str(Path(c).resolve()), c, device) for c, device in jobs]))
    code = (Path(__file__).parent / "ab_worker.py").read_text()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tree.src), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, "-c", code, str(jobs_json), str(out)], cwd=work, env=env, capture_output=True, text=True
    )
    if proc.returncode != 0 or not out.is_file():
        tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
        raise AbError(f"the {tree.label} worker failed (exit {proc.returncode}):\n{tail}")
    df = pl.read_parquet(out)
    return pl.concat([pl.DataFrame(schema=SEGMENT_SCHEMA), df], how="diagonal_relaxed").select(list(SEGMENT_SCHEMA))


def _cache_key(tree: Tree, jobs: list[tuple[str, str | None]]) -> str:
    h = hashlib.sha256(tree.tree_id.encode() if tree.tree_id else b"")
    for capture, device in jobs:
        st = Path(capture).stat()
        h.update(f"{capture}\0{device}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:24]


def classify(
    tree: Tree,
    captures: list[Path],
    devices: dict[Path, str | None],
    jobs: int = 1,
    cache: Path | None = None,
    log: Callable[[str], None] | None = None,
) -> pl.DataFrame:
    """Every data segment of every capture as `tree` classifies it (SEGMENT_SCHEMA; a capture the
    tree failed on is one row with `error`). A revision's result is kept in `cache` when given,
    keyed by its tree id and each capture's path, size and time, and reused."""
    job = {c: (str(c), devices.get(c)) for c in captures}
    cached = cache / f"{_cache_key(tree, list(job.values()))}.parquet" if cache is not None and tree.tree_id else None
    if cached is not None and cached.is_file():
        if log:
            log(f"{tree.label}: {len(captures)} captures from the cache {cached}")
        return pl.read_parquet(cached)
    with tempfile.TemporaryDirectory(prefix="tcpscope-ab-") as tmp:
        # the smallest capture first, alone: a tree's first run JIT-compiles (numba) and caches the
        # result, which the parallel workers then load instead of compiling once each
        first = min(captures, key=lambda p: (p.stat().st_size, str(p)))
        rest = [c for c in captures if c != first]
        frames = [_run_worker(tree, [job[first]], Path(tmp), "first")]
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = [
                pool.submit(_run_worker, tree, [job[c] for c in part], Path(tmp), f"w{i}")
                for i, part in enumerate(_chunks(rest, jobs))
            ]
            df = pl.concat(frames + [f.result() for f in futures])
    df = df.sort("capture", "frame", nulls_last=True)
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        write_parquet(df, cached)
    if log:
        log(f"{tree.label}: {len(captures)} captures classified")
    return df


def truth_labels(segments: pl.DataFrame, truth_files: dict[str, Path]) -> tuple[pl.DataFrame, dict[str, str]]:
    """`capture`, `frame`, `truth` for every data segment of the captures that have a truth file;
    and, per capture whose segments do not pair up with its truth one to one, why."""
    parts, errors = [], {}
    for capture, f in sorted(truth_files.items()):
        segs = segments.filter(pl.col("capture") == capture, pl.col("error").is_null())
        if segs.is_empty():
            continue
        try:
            m = match(segs, pl.read_parquet(f))
        except (ScoreError, OSError, pl.exceptions.PolarsError) as e:
            errors[capture] = f"{f}: {str(e).splitlines()[0]}"
            continue
        parts.append(m.select(capture=pl.lit(capture), frame=pl.col("frame").cast(pl.Int64), truth=pl.col("truth")))
    schema = {"capture": pl.String, "frame": pl.Int64, "truth": pl.String}
    return (pl.concat(parts) if parts else pl.DataFrame(schema=schema)), errors


def compare(old: pl.DataFrame, new: pl.DataFrame, truth: pl.DataFrame) -> pl.DataFrame:
    """One row per data segment whose class or basis differs between the trees, over the captures
    both classified: `capture`, `frame`, `old_class`, `new_class`, `old_basis`, `new_basis`,
    `truth` (null without truth) and `moved`: TO_TRUTH, AWAY, STILL_WRONG, NO_TRUTH, or null when
    only the basis changed (counted only where both trees name one); class changes first. A segment
    one tree has and the other has not raises AbError."""
    failed = pl.concat([old, new]).filter(pl.col("error").is_not_null())["capture"].unique()
    keep = ["capture", "frame", "seg_class", "seg_basis"]
    both = ~pl.col("capture").is_in(failed.implode())  # a failed capture's only row is its error
    o = old.filter(both).select(keep, _o=True)
    n = new.filter(both).select(keep, _n=True)
    j = o.join(n, on=["capture", "frame"], how="full", coalesce=True, suffix="_new")
    one_sided = j.filter(pl.col("_o").is_null() | pl.col("_n").is_null())
    if one_sided.height:
        r = one_sided.row(0, named=True)
        raise AbError(
            f"{one_sided.height} data segments are in one tree's table only (first: {r['capture']} frame "
            f"{r['frame']}): the trees decode the captures differently, so their classes cannot be paired"
        )
    j = j.rename({"seg_class": "old_class", "seg_class_new": "new_class",
                  "seg_basis": "old_basis", "seg_basis_new": "new_basis"})
    basis_moved = pl.col("old_basis").is_not_null() & pl.col("new_basis").is_not_null() & (
        pl.col("old_basis") != pl.col("new_basis"))  # a tree from before seg_basis has none: not a change
    changed = j.drop("_o", "_n").filter(pl.col("old_class").ne_missing(pl.col("new_class")) | basis_moved)
    changed = changed.join(truth, on=["capture", "frame"], how="left")
    moved = (
        pl.when(pl.col("old_class").eq_missing(pl.col("new_class"))).then(pl.lit(None, pl.String))
        .when(pl.col("truth").is_null()).then(pl.lit(NO_TRUTH))
        .when(pl.col("new_class") == pl.col("truth")).then(pl.lit(TO_TRUTH))
        .when(pl.col("old_class") == pl.col("truth")).then(pl.lit(AWAY))
        .otherwise(pl.lit(STILL_WRONG))
    )
    return changed.with_columns(moved=moved).sort(pl.col("moved").is_null(), "capture", "frame")


@dataclass
class AbResult:
    """What `run_ab` found: the changed segments, and what was compared."""

    old: Tree
    new: Tree
    captures: int
    segments: int
    with_truth: int
    changed: pl.DataFrame
    failed: dict[str, str]  # capture -> which tree failed on it, and why (or why its truth did not pair)


def run_ab(
    old: Tree,
    new: Tree,
    captures: list[Path],
    truth_dirs: list[Path],
    device: str | None = None,
    jobs: int = 1,
    cache: Path | None = None,
    log: Callable[[str], None] | None = None,
) -> AbResult:
    """Classify `captures` with both trees and compare. The device is `device` when given, else the
    lab's client for a capture that has a truth file, else none (tcpscope guesses it)."""
    truths = {c: truth_file(c, truth_dirs) for c in captures}
    devices = {c: device or (CLIENT_IP if truths[c] else None) for c in captures}
    a = classify(old, captures, devices, jobs, cache, log)
    b = classify(new, captures, devices, jobs, cache, log)
    failed: dict[str, str] = {}
    for side, df in ((old, a), (new, b)):
        for cap, err in df.filter(pl.col("error").is_not_null()).select("capture", "error").iter_rows():
            failed[cap] = f"{failed[cap]}; " if cap in failed else ""
            failed[cap] += f"{side.label}: {err}"
    labels, truth_errors = truth_labels(b, {str(c): t for c, t in truths.items() if t is not None})
    for cap, why in truth_errors.items():
        failed.setdefault(cap, f"truth: {why}")
    ok = [str(c) for c in captures if str(c) not in failed]
    a, b = (df.filter(pl.col("capture").is_in(ok)) for df in (a, b))
    labels = labels.filter(pl.col("capture").is_in(ok))
    changed = compare(a, b, labels)
    return AbResult(old, new, len(ok), b.filter(pl.col("error").is_null()).height, labels.height, changed, failed)


def transitions(changed: pl.DataFrame) -> pl.DataFrame:
    """Changed classes counted by (old class, new class), each split by how it moved."""
    c = changed.filter(pl.col("moved").is_not_null())
    if c.is_empty():
        return pl.DataFrame(schema={"old_class": pl.String, "new_class": pl.String, "segments": pl.UInt32})
    wide = c.group_by("old_class", "new_class").agg(
        segments=pl.len(),
        **{m: (pl.col("moved") == m).sum() for m in (TO_TRUTH, AWAY, STILL_WRONG, NO_TRUTH)},
    )
    return wide.sort("segments", "old_class", "new_class", descending=[True, False, False])


def ab_report(res: AbResult, limit: int = 50) -> str:
    """The A/B as text: what was compared, the counts by how classes moved, the transitions, and
    the changed segments (first `limit`)."""
    from tcpscope.lab.score import table_text

    ch = res.changed
    moved = ch.filter(pl.col("moved").is_not_null())
    count = {m: moved.filter(pl.col("moved") == m).height for m in (TO_TRUTH, AWAY, STILL_WRONG, NO_TRUTH)}
    lines = [
        f"old: {res.old.label}  ({res.old.src})",
        f"new: {res.new.label}  ({res.new.src})",
        f"{res.captures} captures, {res.segments:,} data segments ({res.with_truth:,} with a truth label)",
        f"classes changed: {moved.height} ({count[TO_TRUTH]} to their truth, {count[AWAY]} away from it, "
        f"{count[STILL_WRONG]} wrong both times, {count[NO_TRUTH]} without truth)",
        f"bases changed, class kept: {ch.height - moved.height}",
    ]
    if res.failed:
        lines.append(f"left out, failed in a tree or unpaired with truth: {len(res.failed)}")
        lines += [f"  {cap}: {why}" for cap, why in sorted(res.failed.items())]
    if moved.height:
        lines += ["", table_text(transitions(ch))]
    if ch.height and limit > 0:
        shown = ch.head(limit).select("capture", "frame", "old_class", "new_class", "truth", "moved",
                                      "old_basis", "new_basis")
        lines += ["", table_text(shown)]
    if ch.height > max(limit, 0):
        lines.append(f"... and {ch.height - max(limit, 0)} more (--out writes them all)")
    return "\n".join(lines)
