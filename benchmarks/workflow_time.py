#!/usr/bin/env python3
"""Where the time of a whole workflow run goes: Snakemake, start-up, decode, analysis, figures.

Copies the workflow (Snakefile, workflow/, config.yaml, config/, pcap/) into a scratch
directory, times `snakemake -n` (building the DAG) and a full `snakemake --cores N` there, then
reads every job's `benchmark:` file (wall seconds per job) and the `stage NAME S s` lines the
rule scripts log (tcpscope.timing) and prints, per rule and per stage, the seconds spent.

    python benchmarks/workflow_time.py [--cores 4] [--keep DIR]

"Snakemake and scheduling" is the run's wall time minus the time some job was running: the DAG,
job start-up by Snakemake and waiting between jobs. "startup" is each job's time from process
start to its rule's main(): interpreter, Snakemake's script preamble and imports; "outside the
script" is the rest of the job's benchmark time (Snakemake's job wrapper, process exit).
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STAGE = re.compile(r"^INFO stage (\w+) ([0-9.]+) s$", re.M)
BENCH = re.compile(r"(?:^|/)logs/(\w+)(?:\.\w+)?\.benchmark\.tsv$")


def copy_workflow(work: Path) -> None:
    """The files a run needs, in `work` (results start empty)."""
    for name in ("Snakefile", "config.yaml"):
        shutil.copy(REPO / name, work / name)
    for name in ("workflow", "config", "pcap"):
        shutil.copytree(REPO / name, work / name, ignore=shutil.ignore_patterns("__pycache__"))


def snakemake(work: Path, *args: str) -> float:
    """Run snakemake in `work`; its wall seconds."""
    exe = shutil.which("snakemake") or str(Path(sys.executable).parent / "snakemake")
    t0 = time.perf_counter()
    r = subprocess.run([exe, *args], cwd=work, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit(f"workflow_time: snakemake {' '.join(args)} failed:\n{r.stderr[-4000:]}")
    return wall


def read_jobs(results: Path) -> list[tuple[str | None, float, float]]:
    """(rule, wall seconds, end time) of every job, from its benchmark file (read once): the file is
    written when the job ends, so its mtime is the end."""
    jobs = []
    for path in results.rglob("*.benchmark.tsv"):
        m = BENCH.search(path.as_posix())
        with open(path, newline="") as fh:
            rows = list(csv.DictReader(fh, delimiter="\t"))
        if rows:
            jobs.append((m.group(1) if m else None, float(rows[0]["s"]), path.stat().st_mtime))
    return jobs


def job_seconds(jobs: list[tuple[str | None, float, float]]) -> dict[str, list[float]]:
    """Wall seconds of every job, by rule."""
    out: dict[str, list[float]] = defaultdict(list)
    for rule, secs, _ in jobs:
        if rule is not None:
            out[rule].append(secs)
    return out


def stage_seconds(results: Path) -> dict[tuple[str, str], float]:
    """Seconds per (rule, stage) summed over jobs, from the rule logs."""
    out: dict[tuple[str, str], float] = defaultdict(float)
    for log in results.rglob("logs/*.log"):
        for name, secs in STAGE.findall(log.read_text(errors="replace")):
            out[(log.name.split(".")[0], name)] += float(secs)
    return out


def busy_seconds(jobs: list[tuple[str | None, float, float]]) -> float:
    """Time during which at least one job ran: the length of the union of the jobs' [start, end]."""
    busy, cur_s, cur_e = 0.0, 0.0, None
    for start, end in sorted((end - secs, end) for _, secs, end in jobs):
        if cur_e is None or start > cur_e:
            busy += 0.0 if cur_e is None else cur_e - cur_s
            cur_s, cur_e = start, end
        else:
            cur_e = max(cur_e, end)
    return busy + (0.0 if cur_e is None else cur_e - cur_s)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cores", type=int, default=4)
    p.add_argument("--keep", type=Path, help="run in this (new) directory and keep it")
    args = p.parse_args()
    tmp = None
    if args.keep:
        args.keep.mkdir(parents=True)
        work = args.keep
    else:
        tmp = tempfile.TemporaryDirectory(prefix="tcpscope-wf-")
        work = Path(tmp.name)
    try:
        copy_workflow(work)
        env_note = f"{os.cpu_count()} CPUs"
        dry = snakemake(work, "-n", "--quiet")
        wall = snakemake(work, "--cores", str(args.cores))
        results = work / "results"
        found = read_jobs(results)
        jobs = job_seconds(found)
        stages = stage_seconds(results)
        busy = busy_seconds(found)
    finally:
        if tmp is not None:
            tmp.cleanup()
    total_jobs = sum(sum(v) for v in jobs.values())
    print(f"snakemake --cores {args.cores} on pcap/ ({env_note}): wall {wall:.1f} s; "
          f"dry run (DAG) {dry:.1f} s; job seconds {total_jobs:.1f}; "
          f"Snakemake and scheduling (wall - busy) {wall - busy:.1f} s")
    print(f"{'rule':<16} {'jobs':>4} {'sum s':>7} {'mean s':>7}   stages (sum s over the rule's jobs)")
    for rule, secs in sorted(jobs.items(), key=lambda kv: -sum(kv[1])):
        parts = [(name, s) for (r, name), s in stages.items() if r == rule and name != "main"]
        main_s = stages.get((rule, "main"), 0.0)
        inside = sum(s for name, s in parts if name != "startup")
        text = "  ".join(f"{name} {s:.1f}" for name, s in sorted(parts, key=lambda x: -x[1]))
        if main_s:
            text += f"  other in main {max(0.0, main_s - inside):.1f}"
        startup = stages.get((rule, "startup"), 0.0)
        if main_s or startup:
            text += f"  outside the script {max(0.0, sum(secs) - startup - main_s):.1f}"
        print(f"{rule:<16} {len(secs):>4} {sum(secs):>7.1f} {sum(secs) / len(secs):>7.2f}   {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
