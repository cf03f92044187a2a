"""End-to-end Snakemake workflow: full build on two small captures, incremental dry run
after adding a third, and the lint/format checks of the workflow sources."""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from tcpscope.config import capture_name
from tcpscope.figures import figure_names

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "captures"
BIN = Path(sys.executable).parent
HEADER = ["capture", "feature", "device", "server", "port", "direction"]

# Small public captures (../shared/captures) with their device addresses.
SHARED_ROWS = [
    ["zeek_tcp_missing-syn.pcap", "web download", "141.42.64.125", "125.190.109.199", "80", "down"],
    ["pcpp_one_tcp_stream_max_seq.pcap", "web upload", "10.0.0.1", "", "", ""],
    ["zeek_http-vlan-0.pcap", "web download", "141.142.228.5", "", "", "down"],
]
PER_CAPTURE_RULES = {"filter", "analyze", "capture_metrics", "figures"}

pytestmark = pytest.mark.slow


def _rows_and_sources() -> tuple[list[list[str]], Path]:
    """Three (capture table row, source dir): the shared captures when present, else the
    first three rows of the bundled table."""
    if all((SHARED / r[0]).is_file() for r in SHARED_ROWS):
        return SHARED_ROWS, SHARED
    table = REPO / "config" / "captures.tsv"
    if table.is_file():
        with open(table, newline="") as fh:
            rows = [r for r in csv.DictReader(fh, delimiter="\t") if r.get("capture")]
        picked = [[r.get(c, "") or "" for c in HEADER] for r in rows[:3]]
        if len(picked) == 3 and all((REPO / "pcap" / r[0]).is_file() for r in picked):
            return picked, REPO / "pcap"
    pytest.skip("no captures: neither ../shared/captures nor pcap/ + config/captures.tsv")


def _write_table(path: Path, rows: list[list[str]]) -> None:
    path.write_text("\n".join("\t".join(r) for r in [HEADER, *rows]) + "\n")


def _snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    chromium = shutil.which("chromium")
    if chromium and "BROWSER_PATH" not in env:
        env["BROWSER_PATH"] = chromium
    proc = subprocess.run(
        [str(BIN / "snakemake"), *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        stdin=subprocess.DEVNULL,
    )
    if check and proc.returncode != 0:
        logs = "\n".join(f"== {p}\n{p.read_text()}" for p in workdir.glob("results/**/*.log"))
        pytest.fail(
            f"snakemake {' '.join(args)} exited {proc.returncode}\n"
            f"{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}\n{logs[-6000:]}"
        )
    return proc


@pytest.fixture(scope="module")
def workflow_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[list[str]], Path]:
    rows, source = _rows_and_sources()
    work = tmp_path_factory.mktemp("workflow")
    shutil.copy(REPO / "Snakefile", work / "Snakefile")
    shutil.copy(REPO / "config.yaml", work / "config.yaml")
    shutil.copytree(
        REPO / "workflow", work / "workflow", ignore=shutil.ignore_patterns("__pycache__")
    )
    (work / "pcap").mkdir()
    (work / "config").mkdir()
    for row in rows[:2]:
        shutil.copy(source / row[0], work / "pcap" / row[0])
    _write_table(work / "config" / "captures.tsv", rows[:2])
    return work, rows, source


def _dry_run_jobs(output: str) -> set[tuple[str, str | None]]:
    """(rule, capture wildcard or None) of every job a `snakemake -n` listing shows."""
    jobs: set[tuple[str, str | None]] = set()
    blocks = re.split(r"^(?:local)?rule (\w+):$", output, flags=re.M)
    for rule, body in zip(blocks[1::2], blocks[2::2]):
        m = re.search(r"^\s+wildcards: .*?\bcapture=([^,\s]+)", body, flags=re.M)
        jobs.add((rule, m.group(1) if m else None))
    return jobs


def test_full_build_then_incremental(workflow_dir: tuple[Path, list[list[str]], Path]) -> None:
    work, rows, source = workflow_dir
    _snakemake(work, "--cores", "2")

    results = work / "results"
    for row in rows[:2]:
        d = results / capture_name(row[0])
        names = [
            "filtered.pcap",
            "packets.txt",
            "segments.parquet",
            "flows.parquet",
            "stalls.parquet",
            "capture.json",
            "metrics.tsv",
        ]
        names += [f"figures/{n}.{ext}" for n in figure_names() for ext in ("png", "html")]
        for name in names:
            assert (d / name).is_file() and (d / name).stat().st_size > 0, d / name
        for n in figure_names():
            assert (d / "figures" / f"{n}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert pl.read_parquet(d / "segments.parquet").height > 0
        assert (d / "packets.txt").read_text().strip()

    metrics = pl.read_csv(results / "metrics.tsv", separator="\t")
    features = list(dict.fromkeys(r[1] for r in rows[:2]))
    assert metrics["feature"].to_list() == features  # one row per feature, table order
    for rec in metrics.iter_rows(named=True):
        assert rec["captures"] == sum(r[1] == rec["feature"] for r in rows[:2])
        assert rec["flows"] >= 1 and rec["packets"] > 0 and rec["data_packets"] > 0
        assert rec["bytes"] > 0 and rec["counted_packets"] <= rec["data_packets"]
        assert rec["direction"] in ("up", "down", "mixed")
        for rate in ("loss_rate", "reorder_rate"):
            assert rec[rate] is not None and 0.0 <= rec[rate] <= 1.0
        assert rec["loss_rate"] == pytest.approx(rec["retransmissions"] / rec["counted_packets"])
        assert rec["throughput_bps"] is None or rec["throughput_bps"] > 0
    md = (results / "metrics.md").read_text().splitlines()
    assert sum(line.startswith("| ") for line in md) == 2 + len(features)
    assert (results / "stalls.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"  # docs/stalls.md
    assert (results / "stalls.html").stat().st_size > 0

    # nothing left to do
    assert "Nothing to be done" in _snakemake(work, "-n").stdout

    # one more capture: only its jobs and the aggregate run
    third = rows[2]
    shutil.copy(source / third[0], work / "pcap" / third[0])
    _write_table(work / "config" / "captures.tsv", rows)
    jobs = _dry_run_jobs(_snakemake(work, "-n").stdout)
    new = capture_name(third[0])
    aggregate = {("metrics", None), ("stall_figure", None), ("index", None), ("all", None)}
    assert jobs == {(r, new) for r in PER_CAPTURE_RULES} | aggregate

    _snakemake(work, "--cores", "2")
    metrics = pl.read_csv(results / "metrics.tsv", separator="\t")
    assert metrics["feature"].to_list() == list(dict.fromkeys(r[1] for r in rows))
    assert metrics["captures"].sum() == 3


def test_bad_table_fails_before_any_job(
    workflow_dir: tuple[Path, list[list[str]], Path], tmp_path: Path
) -> None:
    work, rows, _ = workflow_dir
    bad = tmp_path / "bad.tsv"
    _write_table(bad, [rows[0], [rows[1][0], "x", "10.0.0.999", "", "", ""]])
    proc = _snakemake(work, "-n", "--config", f"captures={bad}", check=False)
    assert proc.returncode != 0
    assert f"{bad}: row 2 (line 3), column 'device'" in proc.stdout + proc.stderr


def test_lint_is_clean(workflow_dir: tuple[Path, list[list[str]], Path]) -> None:
    work, _, _ = workflow_dir
    proc = _snakemake(work, "--lint", check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Lints for" not in proc.stdout + proc.stderr


def test_snakefmt_is_clean() -> None:
    proc = subprocess.run(
        [str(BIN / "snakefmt"), "--check", "Snakefile", "workflow"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
