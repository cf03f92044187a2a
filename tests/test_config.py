"""config.yaml and captures-table validation: good tables load, bad rows name row and column."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tcpscope.config import capture_name, captures_frame, load_captures, load_config
from tcpscope.errors import ConfigError

HEADER = "capture\tfeature\tdevice\tserver\tport\tdirection"
GOOD = [
    "send_video.pcap\tsend video\t192.168.2.2\t125.39.171.17\t443\tup",
    "recv_video.pcapng\treceive video\t192.168.2.2\t\t\tdown",
    "moments.pcap.gz\tmoments\tfe80::0001\t\t8080\t",
]


def write(tmp_path: Path, rows: list[str], files: list[str] | None = None) -> Path:
    pcap = tmp_path / "pcap"
    pcap.mkdir(exist_ok=True)
    for row in rows:
        name = row.split("\t")[0]
        if files is None and name and "/" not in name:
            (pcap / name).write_bytes(b"")
    for name in files or []:
        (pcap / name).write_bytes(b"")
    table = tmp_path / "captures.tsv"
    table.write_text("\n".join([HEADER, *rows]) + "\n")
    return table


def test_good_table_loads(tmp_path: Path) -> None:
    caps = load_captures(write(tmp_path, GOOD), tmp_path / "pcap")
    assert list(caps) == ["send_video", "recv_video", "moments"]
    sv = caps["send_video"]
    assert (sv.feature, sv.device, sv.server, sv.port, sv.direction) == (
        "send video",
        "192.168.2.2",
        "125.39.171.17",
        443,
        "up",
    )
    rv = caps["recv_video"]
    assert (rv.server, rv.port, rv.direction, rv.row) == (None, None, "down", 2)
    mo = caps["moments"]
    assert (mo.device, mo.port, mo.direction) == ("fe80::1", 8080, "auto")  # canonical IPv6
    assert mo.path == tmp_path / "pcap" / "moments.pcap.gz"
    frame = captures_frame(caps)
    assert frame.height == 3 and frame["port"].to_list() == [443, None, 8080]


def test_config_yaml_loads_relative_paths(tmp_path: Path) -> None:
    write(tmp_path, GOOD)
    (tmp_path / "config.yaml").write_text(
        "captures: captures.tsv\ncapture_dir: pcap\nresults: out\n"
    )
    cfg = load_config(tmp_path / "config.yaml")
    assert cfg.results == tmp_path / "out" and len(cfg.captures) == 3


def test_config_yaml_negative_stall_floor(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("captures: c.tsv\ncapture_dir: pcap\nresults: r\nstall_floor_ms: -1\n")
    with pytest.raises(ConfigError, match=r"config\.yaml: .*stall_floor_ms"):
        load_config(tmp_path / "config.yaml")


def test_config_yaml_unknown_key(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("captures: c.tsv\ncapture_dir: pcap\nresults: r\nx: 1\n")
    with pytest.raises(ConfigError, match=r"config\.yaml: .*'x'"):
        load_config(tmp_path / "config.yaml")


BAD = [
    # (row 2 replaced by, files to create, column, message fragment)
    ("missing.pcap\tf\t10.0.0.1\t\t\t", [], "capture", "file not found"),
    ("x.pcap\tf\t10.0.0.300\t\t\t", ["x.pcap"], "device", "not an IPv4 or IPv6 address"),
    ("x.pcap\tf\t10.0.0.1\tserver.example\t\t", ["x.pcap"], "server", "not an IPv4"),
    ("x.pcap\tf\t10.0.0.1\t\t\tsideways", ["x.pcap"], "direction", "'sideways' is not one of"),
    ("send_video.pcap\tf\t10.0.0.1\t\t\t", [], "capture", "listed twice"),
    (
        "send_video.pcapng\tf\t10.0.0.1\t\t\t",
        ["send_video.pcapng"],
        "capture",
        "same capture name 'send_video'",
    ),
    ("sub/x.pcap\tf\t10.0.0.1\t\t\t", [], "capture", "without a directory part"),
    ("x.pcap\tf\t10.0.0.1\t\t70000\t", ["x.pcap"], "port", "out of range"),
    ("x.pcap\tf\t10.0.0.1\t\t0\t", ["x.pcap"], "port", "out of range"),
    ("x.pcap\tf\t10.0.0.1\t\thttps\t", ["x.pcap"], "port", "not an integer"),
    ("x.pcap\tf\t\t\t\t", ["x.pcap"], "device", "required value is missing"),
    ("x.pcap\t\t10.0.0.1\t\t\t", ["x.pcap"], "feature", "required value is missing"),
]


@pytest.mark.parametrize("row,files,column,fragment", BAD, ids=[f"{b[2]}-{b[3][:20]}" for b in BAD])
def test_bad_row_names_row_and_column(
    tmp_path: Path, row: str, files: list[str], column: str, fragment: str
) -> None:
    table = write(tmp_path, [GOOD[0], row], files=["send_video.pcap", *files])
    with pytest.raises(ConfigError) as info:
        load_captures(table, tmp_path / "pcap")
    message = str(info.value)
    assert message.startswith(f"{table}: row 2 (line 3), column '{column}': "), message
    assert re.search(re.escape(fragment), message), message


def test_missing_column_and_empty_table(tmp_path: Path) -> None:
    table = tmp_path / "t.tsv"
    table.write_text("capture\tfeature\n")
    with pytest.raises(ConfigError, match=r"t\.tsv: header row: column 'device' is missing"):
        load_captures(table, tmp_path)
    table.write_text(HEADER + "\n")
    with pytest.raises(ConfigError, match="no captures listed"):
        load_captures(table, tmp_path)
    with pytest.raises(ConfigError, match="cannot read the captures table"):
        load_captures(tmp_path / "absent.tsv", tmp_path)


def test_capture_name() -> None:
    assert capture_name("wechat_send_video.pcap") == "wechat_send_video"
    assert capture_name("tt_zwnd.dmp.gz") == "tt_zwnd"
    assert capture_name("odd name (1).pcapng") == "odd_name__1_"
