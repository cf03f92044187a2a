"""results/index.html (tcpscope.report): escaping of untrusted labels, content, and the
page in headless Chromium (no console error, every feature in the table, screenshot)."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
from pathlib import Path

import polars as pl
import pytest

import browser
from labelgen import Connection, http_request, tls_records, write_pcap
from tcpscope.metrics import capture_metrics, feature_metrics, write_tsv
from tcpscope.pipeline import analyze_capture
from tcpscope.report import CaptureRef, build_index, script_json

DEVICE = "192.168.2.2"
EVIL_SNI = "<script>alert(1)</script>"
EVIL_FEATURE = 'send <img src=x onerror="alert(2)"> & co'
needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
needs_chromium = pytest.mark.skipif(browser.CHROMIUM is None, reason="chromium not installed")


def _results(tmp: Path) -> tuple[Path, list[CaptureRef]]:
    """A small results directory as the workflow lays it out (without figures): two
    captures, two features; one SNI and one feature name are markup."""
    pcap = tmp / "pcap"
    pcap.mkdir()
    write_pcap(pcap / "tls.pcap", [
        Connection(DEVICE, 40000, "203.0.113.10", 443, tls_records("im.qpic.cn", ["h2", "http/1.1"])),
        Connection(DEVICE, 40001, "203.0.113.11", 443, tls_records(EVIL_SNI)),
    ])
    write_pcap(pcap / "http.pcap", [
        Connection(DEVICE, 40002, "198.51.100.20", 8080,
                   [(True, http_request("up.example.org", '/u?q="><svg onload=alert(3)>', "POST")),
                    (False, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")]),
    ])
    results = tmp / "results"
    refs = [
        CaptureRef("tls", EVIL_FEATURE, "tls.pcap", DEVICE, None, None, None, "up"),
        CaptureRef("http", "download", "http.pcap", DEVICE, "198.51.100.20", 8080, "*.example.org", "auto"),
    ]
    per_capture = []
    for ref in refs:
        out = results / ref.name
        analyze_capture(pcap / ref.capture, out, device=DEVICE, server=ref.server, port=ref.port,
                        direction=ref.direction, host=ref.host)
        flows = pl.read_parquet(out / "flows.parquet")
        info = json.loads((out / "capture.json").read_text())
        table = capture_metrics(flows, ref.name, ref.feature, info)
        write_tsv(table, out / "metrics.tsv")
        per_capture.append(table)
        (out / "filtered.pcap").write_bytes((pcap / ref.capture).read_bytes())
    write_tsv(feature_metrics(pl.concat(per_capture, how="diagonal_relaxed")), results / "metrics.tsv")
    return results, refs


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[CaptureRef]]:
    results, refs = _results(tmp_path_factory.mktemp("report"))
    build_index(results, refs)
    return results, refs


def test_script_json_cannot_break_out() -> None:
    text = script_json({"a": "</script><!-- & \u2028"})
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == {"a": "</script><!-- & \u2028"}


@needs_tshark
def test_untrusted_labels_are_escaped(built: tuple[Path, list[CaptureRef]]) -> None:
    results, _ = built
    page = (results / "index.html").read_text(encoding="utf-8")
    assert EVIL_SNI not in page
    assert "<img src=x" not in page and "<svg onload" not in page
    assert html.escape(EVIL_SNI) in page  # shown, as text
    assert "im.qpic.cn" in page and "up.example.org" in page
    # only the page's own two script elements
    assert len(re.findall(r"<script\b", page, flags=re.I)) == 2
    data = re.search(r'<script type="application/json" id="tcpscope-data">(.*?)</script>', page, re.S)
    assert data is not None
    parsed = json.loads(data.group(1))
    assert EVIL_SNI in {c["sni"] for c in parsed["connections"]}
    assert [f["feature"] for f in parsed["features"]] == [EVIL_FEATURE, "download"]
    # links: each capture's files, relative to results/
    assert 'href="tls/filtered.pcap"' in page and 'href="http/metrics.tsv"' in page
    # nothing is fetched from anywhere
    assert not re.search(r'(?:src|href)="(?:https?:)?//', page)


@needs_tshark
def test_host_pattern_counts_only_matching_connections(built: tuple[Path, list[CaptureRef]]) -> None:
    results, _ = built
    metrics = pl.read_csv(results / "metrics.tsv", separator="\t")
    assert metrics.filter(pl.col("feature") == "download")["flows"].item() == 1


@needs_chromium
@needs_tshark
def test_page_in_headless_chromium(built: tuple[Path, list[CaptureRef]], tmp_path: Path) -> None:
    results, refs = built
    page = results / "index.html"
    loaded = browser.load(page)
    assert loaded.console == [], loaded.console
    assert 'data-ready="1"' in loaded.dom  # the inline script ran to its end
    table = re.search(r'<table class="metrics sortable" id="feature-table">(.*?)</table>', loaded.dom, re.S)
    assert table is not None
    rows = re.findall(r'<th scope="row" class="txt" data-v="([^"]*)"', table.group(1))
    assert [html.unescape(r) for r in rows] == [EVIL_FEATURE, "download"]
    assert "alert(" not in "".join(re.findall(r"<script\b[^>]*>", loaded.dom))

    # #sort=COLUMN:desc sorts on load (the same code as a click on the header)
    by_name = browser.load(page, "#sort=feature:asc")
    assert by_name.console == [], by_name.console
    rows = re.findall(r'<th scope="row" class="txt" data-v="([^"]*)"', by_name.dom)
    assert [html.unescape(r) for r in rows] == sorted([EVIL_FEATURE, "download"], key=str.lower)
    assert re.search(r'<th [^>]*data-key="feature"[^>]*aria-sort="ascending"', by_name.dom)

    out = Path(os.environ.get("TCPSCOPE_ARTIFACTS", tmp_path)) / "index-test.png"
    shot = browser.screenshot(page, out)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
