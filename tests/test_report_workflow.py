"""End to end: the workflow on bundled captures builds results/index.html (checked in
headless Chromium) and `snakemake --report` builds the Snakemake report."""

from __future__ import annotations

import csv
import html
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import browser

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
HEADER = ["capture", "feature", "device", "server", "port", "direction"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(browser.CHROMIUM is None, reason="chromium not installed"),
]


def _snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    if browser.CHROMIUM and "BROWSER_PATH" not in env:
        env["BROWSER_PATH"] = browser.CHROMIUM
    proc = subprocess.run(
        [str(BIN / "snakemake"), *args], cwd=workdir, env=env, capture_output=True, text=True,
        timeout=900, stdin=subprocess.DEVNULL,
    )
    if proc.returncode != 0:
        logs = "\n".join(f"== {p}\n{p.read_text()}" for p in workdir.glob("results/**/*.log"))
        pytest.fail(f"snakemake {' '.join(args)} exited {proc.returncode}\n{proc.stdout[-3000:]}\n"
                    f"{proc.stderr[-5000:]}\n{logs[-5000:]}")
    return proc


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, str]]]:
    table = REPO / "config" / "captures.tsv"
    if not table.is_file():
        pytest.skip("no bundled captures table")
    with open(table, newline="") as fh:
        rows = [r for r in csv.DictReader(fh, delimiter="\t") if r.get("capture")][:3]
    if len(rows) < 2 or not all((REPO / "pcap" / r["capture"]).is_file() for r in rows):
        pytest.skip("no bundled captures")
    work = tmp_path_factory.mktemp("report-workflow")
    shutil.copy(REPO / "Snakefile", work / "Snakefile")
    shutil.copy(REPO / "config.yaml", work / "config.yaml")
    shutil.copytree(REPO / "workflow", work / "workflow", ignore=shutil.ignore_patterns("__pycache__"))
    (work / "pcap").mkdir()
    (work / "config").mkdir()
    for r in rows:
        shutil.copy(REPO / "pcap" / r["capture"], work / "pcap" / r["capture"])
    (work / "config" / "captures.tsv").write_text(
        "\n".join("\t".join(x) for x in [HEADER, *[[r.get(c, "") or "" for c in HEADER] for r in rows]]) + "\n"
    )
    # only what the page needs (other rules of the workflow are tested in test_workflow.py)
    _snakemake(work, "--cores", "2", "results/index.html")
    return work, rows


def test_index_in_headless_chromium(built: tuple[Path, list[dict[str, str]]], tmp_path: Path) -> None:
    work, rows = built
    page = work / "results" / "index.html"
    assert page.is_file()
    loaded = browser.load(page)
    assert loaded.console == [], loaded.console  # also: every linked image was found
    assert 'data-ready="1"' in loaded.dom
    table = re.search(r'id="feature-table">(.*?)</table>', loaded.dom, re.S)
    assert table is not None
    shown = [html.unescape(x) for x in re.findall(r'<th scope="row" class="txt" data-v="([^"]*)"', table.group(1))]
    assert shown == list(dict.fromkeys(r["feature"] for r in rows))
    # every link to a result file points at a file that exists
    for target in set(re.findall(r'(?:href|src)="([^"#:]+)"', loaded.dom)):
        assert (page.parent / html.unescape(target)).is_file(), target
    out = Path(os.environ.get("TCPSCOPE_ARTIFACTS", tmp_path)) / "index-workflow.png"
    shot = browser.screenshot(page, out)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_snakemake_report(built: tuple[Path, list[dict[str, str]]]) -> None:
    work, _ = built
    _snakemake(work, "--cores", "2")  # the whole workflow: the report shows every output
    _snakemake(work, "--report", "report.html")
    report = work / "report.html"
    assert report.is_file() and report.stat().st_size > 10_000
    text = report.read_text(encoding="utf-8", errors="replace")
    assert "index.html" in text
