"""The workflow on a real single-node SLURM cluster (tests/slurm_cluster.py) through
snakemake's SLURM executor and the project's profiles/slurm, with one capture split into
shards, gives the same tables as a local run without shards.

Needs root (the daemons, /etc/slurm); installs Debian's slurm-wlm, munge, slurmdbd and
mariadb-server when missing (apt-get); skipped when that cannot be done."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from slurm_cluster import ensure_slurm, slurm_cluster
from tcpscope.config import capture_name
from tcpscope.figures import figure_names

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# bundled captures; the SLURM run splits the largest, send_video (2 connections, which
# land in different shards of 3), and no other
CAPTURES = ["send_text.pcap", "receive_text.pcap", "send_video.pcap"]
SHARDED = "send_video"
SHARDS = 3

pytestmark = [pytest.mark.slurm, pytest.mark.slow]


def _snakemake(work: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop("SLURM_CONF", None)
    chromium = shutil.which("chromium")
    if chromium and "BROWSER_PATH" not in env:
        env["BROWSER_PATH"] = chromium
    return subprocess.run(
        [str(BIN / "snakemake"), *args], cwd=work, env=env, capture_output=True, text=True,
        timeout=timeout, stdin=subprocess.DEVNULL,
    )


def _fail(proc: subprocess.CompletedProcess, work: Path, results: str, extra: str = "") -> None:
    logs = "\n".join(
        f"== {p}\n{p.read_text(errors='replace')[-3000:]}"
        for p in [*(work / results).glob("**/*.log"), *work.glob(".snakemake/slurm_logs/**/*.log")]
    )
    pytest.fail(
        f"snakemake exited {proc.returncode}\n{proc.stdout[-5000:]}\n{proc.stderr[-8000:]}\n"
        f"{logs[-12000:]}\n{extra}"
    )


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    reason = ensure_slurm()
    if reason:
        pytest.skip(f"no SLURM cluster: {reason}")
    table = REPO / "config" / "captures.tsv"
    if not table.is_file() or not all((REPO / "pcap" / c).is_file() for c in CAPTURES):
        pytest.skip("bundled captures missing")
    work = tmp_path_factory.mktemp("slurm-workflow")
    for name in ("Snakefile", "config.yaml"):
        shutil.copy(REPO / name, work / name)
    for name in ("workflow", "profiles"):
        shutil.copytree(REPO / name, work / name, ignore=shutil.ignore_patterns("__pycache__"))
    (work / "pcap").mkdir()
    (work / "config").mkdir()
    with open(table, newline="") as fh:
        reader = csv.DictReader(fh, delimiter="\t")
        header = reader.fieldnames or []
        rows = [r for r in reader if r.get("capture") in CAPTURES]
    assert [r["capture"] for r in rows] == [c for c in CAPTURES if c in {r["capture"] for r in rows}]
    with open(work / "config" / "captures.tsv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header, delimiter="\t", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    for r in rows:
        shutil.copy(REPO / "pcap" / r["capture"], work / "pcap" / r["capture"])
    return work


def _tables(results: Path) -> dict[str, Path]:
    """Every file of a run the comparison covers: Parquet tables, capture.json, metrics."""
    files = {}
    for path in sorted(results.rglob("*")):
        rel = path.relative_to(results)
        if "logs" in rel.parts or "figures" in rel.parts or "shards" in rel.parts:
            continue
        if path.suffix in (".parquet", ".tsv", ".md", ".json"):
            files[str(rel)] = path
    return files


def _targets(results: str) -> list[str]:
    """Every per-capture output (tables, filtered capture, figures) and the per-feature
    metrics: what the comparison covers; the study-wide page and figures are left out."""
    out = [f"{results}/metrics.tsv", f"{results}/metrics.md"]
    for capture in CAPTURES:
        d = f"{results}/{capture_name(capture)}"
        out += [f"{d}/packets.txt", f"{d}/filtered.pcap", f"{d}/metrics.tsv"]
        out += [f"{d}/figures/{n}.{ext}" for n in figure_names() for ext in ("png", "html")]
    return out


def test_slurm_run_equals_local_run(work: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    t0 = time.monotonic()
    local = _snakemake(work, "--cores", "2", "--config", "results=res_local", "--",
                       *_targets("res_local"))
    if local.returncode != 0:
        _fail(local, work, "res_local")
    t_local = time.monotonic() - t0

    sizes = {c: (work / "pcap" / c).stat().st_size for c in CAPTURES}
    big = sizes.pop(f"{SHARDED}.pcap")
    assert big > max(sizes.values())
    threshold_mb = (big + max(sizes.values())) / 2 / 1e6  # only SHARDED is above it

    cluster_dir = tmp_path_factory.mktemp("slurm-cluster")
    with slurm_cluster(cluster_dir) as cluster:
        if cluster.mem_mb < 3000:  # figures ask for 2 GB (Chromium): they would wait for ever
            pytest.skip(f"node of {cluster.mem_mb} MB: too small for the figures' 2 GB jobs")
        t1 = time.monotonic()
        proc = _snakemake(
            work,
            "--workflow-profile", "profiles/slurm",
            "--config", "results=res_slurm", f"shard_above_mb={threshold_mb}",
            f"shards={SHARDS}",
            "--slurm-no-account",
            "--slurm-init-seconds-before-status-checks", "2",
            "--slurm-keep-successful-logs",
            # a node of this machine's size: one CPU per job keeps the run short
            "--set-resources", *(f"{r}:cpus_per_task=1" for r in
                                 ("analyze", "shard_split", "shard_merge", "figures")),
            "--jobs", str(cluster.cpus),
            "--", *_targets("res_slurm"),
        )
        t_slurm = time.monotonic() - t1
        if proc.returncode != 0:
            _fail(proc, work, "res_slurm", cluster.logs())
        acct = cluster.run(
            "sacct", "-a", "-P", "-n", "-X", "-o", "JobID,JobName,State,ReqMem,Elapsed"
        ).stdout
        steps = cluster.run("sacct", "-a", "-P", "-n", "-o", "JobID,MaxRSS,Elapsed").stdout
        timings = dict(cluster.timings)
    print(f"cluster start/stop {timings}; local run {t_local:.0f} s, SLURM run {t_slurm:.0f} s")
    print(acct)
    print(steps)

    # every job ran as a SLURM job and completed
    jobs = [line.split("|") for line in acct.splitlines() if line.strip()]
    assert jobs and all(j[2] == "COMPLETED" for j in jobs), acct
    log = proc.stdout + proc.stderr
    for rule in ("shard_split", "shard_analyze", "shard_merge", "analyze", "figures"):
        assert f"rule {rule}:" in log or f"localrule {rule}:" in log, rule
    assert len(jobs) >= 4 * len(CAPTURES)
    assert f"{SHARDS} shards merged" in (
        work / "res_slurm" / SHARDED / "logs" / "shard_merge.log"
    ).read_text()
    # the shards were temporary
    assert not (work / "res_slurm" / SHARDED / "shards").exists() or not any(
        (work / "res_slurm" / SHARDED / "shards").rglob("*.parquet")
    )

    local_files = _tables(work / "res_local")
    slurm_files = _tables(work / "res_slurm")
    assert set(local_files) == set(slurm_files)
    assert {f"{SHARDED}/segments.parquet", f"{SHARDED}/flows.parquet", "metrics.tsv"} <= set(
        local_files
    )
    for rel, path in local_files.items():
        other = slurm_files[rel]
        if path.suffix == ".parquet":
            assert_frame_equal(pl.read_parquet(path), pl.read_parquet(other), check_exact=True)
        elif path.suffix == ".json":
            assert json.loads(path.read_text()) == json.loads(other.read_text()), rel
        else:
            assert path.read_text() == other.read_text(), rel
    # the figures are there (their bytes may differ)
    local_figs = sorted(p.relative_to(work / "res_local") for p in (work / "res_local").glob("*/figures/*"))
    slurm_figs = sorted(p.relative_to(work / "res_slurm") for p in (work / "res_slurm").glob("*/figures/*"))
    assert local_figs and local_figs == slurm_figs
