"""Per-flow labels (TLS SNI/ALPN/version, HTTP Host and request line) through pyshark,
the host-pattern match, and labelling that degrades to a warning instead of failing."""

from __future__ import annotations

import json
import os
import shutil
import stat
import time
from pathlib import Path

import polars as pl
import pytest

from labelgen import Connection, http_request, self_signed, tls_records, write_pcap
from tcpscope.analysis import analyze
from tcpscope.decode import decode_capture
from tcpscope.labels import LABEL_COLUMNS, flow_labels, host_matches, join_labels, match_host
from tcpscope.pipeline import analyze_capture

DEVICE = "192.168.2.2"
EVIL = "<script>alert(1)</script>"
needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")


@pytest.fixture(scope="module")
def labelled_pcap(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three connections: TLS 1.3 with SNI + ALPN (full handshake), a bare ClientHello whose
    SNI is markup, and plain HTTP on 8080."""
    tmp = tmp_path_factory.mktemp("labels")
    cert = self_signed(tmp) if shutil.which("openssl") else None
    return write_pcap(
        tmp / "labelled.pcap",
        [
            Connection(DEVICE, 40000, "203.0.113.10", 443, tls_records("im.qpic.cn", ["h2", "http/1.1"], cert)),
            Connection(DEVICE, 40001, "203.0.113.11", 443, tls_records(EVIL)),
            Connection(
                DEVICE, 40002, "198.51.100.20", 8080,
                [(True, http_request("Up.Example.org:8080", "/upload?a=<b>", "POST")),
                 (False, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")],
            ),
        ],
    )


def _segments(path: Path) -> pl.DataFrame:
    return analyze(decode_capture(path).packets, device=DEVICE).segments


@needs_tshark
@needs_openssl
def test_labels_per_flow(labelled_pcap: Path) -> None:
    warnings: list[str] = []
    labels = flow_labels(labelled_pcap, _segments(labelled_pcap), warnings=warnings)
    assert warnings == []
    rows = {r["flow_id"]: r for r in labels.iter_rows(named=True)}
    assert set(rows) == {0, 1, 2}
    assert rows[0]["sni"] == "im.qpic.cn"
    assert rows[0]["alpn"] == "h2,http/1.1"
    assert rows[0]["tls_version"] == "TLS 1.3"  # from the ServerHello
    assert rows[0]["http_host"] is None
    assert rows[1]["sni"] == EVIL  # exactly as sent: escaping is the display's job
    assert rows[1]["tls_version"] == "TLS 1.3"  # highest offered, no ServerHello
    assert rows[2]["sni"] is None
    assert rows[2]["http_host"] == "Up.Example.org:8080"
    assert rows[2]["http_request"] == "POST /upload?a=<b> HTTP/1.1"


@needs_tshark
def test_pipeline_joins_labels_and_matches_host(labelled_pcap: Path, tmp_path: Path) -> None:
    result = analyze_capture(labelled_pcap, tmp_path, device=DEVICE, host="*.qpic.CN")
    flows = pl.read_parquet(tmp_path / "flows.parquet")
    assert set(LABEL_COLUMNS) <= set(flows.columns)
    assert flows.height == result.flows.height
    matched = flows.group_by("flow_id").agg(pl.col("matched").all()).sort("flow_id")
    assert matched["matched"].to_list() == [True, False, False]
    # the HTTP Host is matched without its port, case-insensitively
    analyze_capture(labelled_pcap, tmp_path / "http", device=DEVICE, host="up.example.ORG")
    again = pl.read_parquet(tmp_path / "http" / "flows.parquet")
    assert again.group_by("flow_id").agg(pl.col("matched").all()).sort("flow_id")["matched"].to_list() == [
        False, False, True,
    ]
    info = json.loads((tmp_path / "capture.json").read_text())
    assert info["warnings"] == []


def test_host_pattern() -> None:
    assert host_matches("*.qpic.cn", "im.QPIC.cn")
    assert host_matches("*.qpic.cn", "a.b.qpic.cn.")
    assert not host_matches("*.qpic.cn", "qpic.cn")
    assert host_matches("api.example.org", "api.example.org:443")
    assert host_matches("v6", "[v6]:80") and not host_matches("*", None)
    flows = pl.DataFrame({"flow_id": [0, 1], "matched": [True, False], "sni": ["a.qpic.cn", "a.qpic.cn"]})
    assert match_host(flows, "*.qpic.cn")["matched"].to_list() == [True, False]  # never widens
    assert match_host(flows, None).equals(flows)


def _fake_tshark(directory: Path, body: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "tshark"
    path.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "-v" ]; then echo "TShark (Wireshark) 4.0.17"; exit 0; fi\n' + body
    )
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_no_tshark_gives_null_labels_and_one_warning(labelled_pcap: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TCPSCOPE_TSHARK", str(tmp_path / "nowhere" / "tshark"))
    analyze_capture(labelled_pcap, tmp_path, device=DEVICE)
    flows = pl.read_parquet(tmp_path / "flows.parquet")
    for c in LABEL_COLUMNS:
        assert flows[c].null_count() == flows.height
    warnings = json.loads((tmp_path / "capture.json").read_text())["warnings"]
    assert len(warnings) == 1 and "tshark not found" in warnings[0]


def test_tshark_crash_is_a_warning(labelled_pcap: Path, tmp_path: Path) -> None:
    fake = _fake_tshark(tmp_path / "bin", 'echo "tshark: boom" >&2; exit 2\n')
    warnings: list[str] = []
    labels = flow_labels(labelled_pcap, _segments(labelled_pcap), tshark=str(fake), warnings=warnings)
    assert labels.is_empty() and set(LABEL_COLUMNS) <= set(labels.columns)
    assert len(warnings) == 1 and "tshark failed" in warnings[0]


def test_tshark_timeout_is_a_warning_and_kills_tshark(labelled_pcap: Path, tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    fake = _fake_tshark(tmp_path / "bin", f'echo $$ > {pidfile}; exec sleep 60\n')
    warnings: list[str] = []
    start = time.monotonic()
    labels = flow_labels(labelled_pcap, _segments(labelled_pcap), tshark=str(fake), timeout=1.5,
                         warnings=warnings)
    assert time.monotonic() - start < 20
    assert labels.is_empty()
    assert len(warnings) == 1 and "longer than 1.5 s" in warnings[0]
    pid = int(pidfile.read_text())
    for _ in range(50):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        status = Path(f"/proc/{pid}/stat").read_text().split()[2] if Path(f"/proc/{pid}/stat").exists() else "X"
        if status == "Z":
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"tshark (pid {pid}) still running after the timeout")


def test_join_labels_on_empty_flows() -> None:
    flows = pl.DataFrame(schema={"flow_id": pl.Null, "matched": pl.Null})
    out = join_labels(flows, pl.DataFrame(schema={"flow_id": pl.UInt32}))
    assert set(LABEL_COLUMNS) <= set(out.columns) and out.height == 0


def test_captures_table_host_column(tmp_path: Path) -> None:
    from tcpscope.config import captures_frame, load_captures
    from tcpscope.errors import ConfigError

    (tmp_path / "pcap").mkdir()
    for name in ("a.pcap", "b.pcap"):
        (tmp_path / "pcap" / name).write_bytes(b"")
    table = tmp_path / "t.tsv"
    table.write_text(
        "capture\tfeature\tdevice\tserver\tport\tdirection\thost\n"
        "a.pcap\tpics\t192.168.2.2\t\t443\tdown\t*.qpic.cn\n"
        "b.pcap\ttext\t192.168.2.2\t\t\t\t\n"
    )
    caps = load_captures(table, tmp_path / "pcap")
    assert caps["a"].host == "*.qpic.cn" and caps["b"].host is None
    assert captures_frame(caps)["host"].to_list() == ["*.qpic.cn", None]
    table.write_text(
        "capture\tfeature\tdevice\thost\n"
        "a.pcap\tpics\t192.168.2.2\t<script>\n"
    )
    with pytest.raises(ConfigError, match=r"row 1 \(line 2\), column 'host': '<script>' is not a host name pattern"):
        load_captures(table, tmp_path / "pcap")


def test_every_report_output_has_a_caption() -> None:
    """Every report() of the workflow names a caption file that exists (snakemake --report)."""
    import re

    rules = Path(__file__).resolve().parents[1] / "workflow" / "rules"
    found = 0
    for smk in rules.glob("*.smk"):
        text = smk.read_text()
        starts = [m.end() for m in re.finditer(r"\breport\(", text)]
        for start, end in zip(starts, [*starts[1:], len(text)]):
            cap = re.search(r'caption="([^"]+)"', text[start:end])
            assert cap, f"{smk.name}: report() without caption"
            assert (rules / cap.group(1)).resolve().is_file(), f"{smk.name}: {cap.group(1)} missing"
            found += 1
    assert found >= 6
