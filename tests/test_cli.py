"""The `tcpscope` command line on a bundled capture: tables written, summary true to them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import polars as pl

REPO = Path(__file__).resolve().parents[1]


def _tcpscope(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tcpscope.cli", *args], capture_output=True, text=True, timeout=600)


def test_analyze_writes_tables_and_prints_their_numbers(tmp_path: Path) -> None:
    r = _tcpscope("analyze", str(REPO / "pcap" / "send_video.pcap"), "-o", str(tmp_path), "--device", "192.168.2.2")
    assert r.returncode == 0, r.stderr
    for name in ("segments.parquet", "flows.parquet", "stalls.parquet", "capture.json"):
        assert (tmp_path / name).is_file()
    flows = pl.read_parquet(tmp_path / "flows.parquet")
    up = flows.filter(pl.col("sender_is_device") & (pl.col("direction") == "up")).sort("bytes").row(-1, named=True)
    assert up["n_retransmission"] > 50  # the 900 ms blackout of the lab scenario
    # the printed row of that flow carries the same numbers as the table
    line = next(ln for ln in r.stdout.splitlines() if f":{up['client_port']} > " in ln)
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[2] == "up" and cells[3] == "client"
    assert int(cells[5]) == up["data_packets"] and int(cells[8]) == up["n_retransmission"]


def test_direction_and_server_override_the_guess(tmp_path: Path) -> None:
    cap = str(REPO / "pcap" / "receive_video.pcap")
    r = _tcpscope("analyze", cap, "-o", str(tmp_path), "--device", "192.168.2.2", "--direction", "up")
    assert r.returncode == 0, r.stderr
    flows = pl.read_parquet(tmp_path / "flows.parquet")
    assert set(flows["direction"].drop_nulls()) == {"up"}


def test_help_lists_the_options() -> None:
    r = _tcpscope("analyze", "--help")
    assert r.returncode == 0
    for option in ("--device", "--server", "--port", "--direction", "--host", "--stall-floor-ms", "-o"):
        assert option in r.stdout


def test_stall_floor_option(tmp_path: Path) -> None:
    """`--stall-floor-ms` reaches the stall detector: with a 1 s floor only the gaps longer than
    1 s of the default run stay stalls (the chat's idle gaps), each with a threshold of 1 s."""
    cap = str(REPO / "pcap" / "send_text.pcap")
    base, high = tmp_path / "default", tmp_path / "high"
    assert _tcpscope("analyze", cap, "-o", str(base), "--device", "192.168.2.2").returncode == 0
    r = _tcpscope("analyze", cap, "-o", str(high), "--device", "192.168.2.2", "--stall-floor-ms", "1000")
    assert r.returncode == 0, r.stderr
    every, long = pl.read_parquet(base / "stalls.parquet"), pl.read_parquet(high / "stalls.parquet")
    assert 0 < long.height < every.height
    assert long["end_frame"].to_list() == every.filter(pl.col("duration_s") > 1.0)["end_frame"].to_list()
    assert (long["threshold_s"] >= 1.0).all()
    bad = _tcpscope("analyze", cap, "-o", str(tmp_path / "x"), "--stall-floor-ms", "-5")
    assert bad.returncode == 2 and "not a duration in ms" in bad.stderr and "Traceback" not in bad.stderr


def test_bad_address_is_one_line(tmp_path: Path) -> None:
    r = _tcpscope("analyze", str(REPO / "pcap" / "send_text.pcap"), "-o", str(tmp_path), "--device", "10.0.0.300")
    assert r.returncode == 2 and "not an IP address" in r.stderr and "Traceback" not in r.stderr
