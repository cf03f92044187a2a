"""Filter tests: the filtered capture opens in tshark/tcpdump with exactly the device's frames, bytes intact."""

from __future__ import annotations

import ipaddress
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tcpscope.decode import decode_capture
from tcpscope.decode.fileformat import walk
from tcpscope.errors import CaptureError
from tcpscope.filtering import filter_capture

from corpus import REPO, corpus, tshark_path  # noqa: F401 - shared helpers

TSHARK = tshark_path()
TCPDUMP = shutil.which("tcpdump")
needs_tshark = pytest.mark.skipif(TSHARK is None, reason="tshark not installed")


def tshark_rows(path: Path, *fields: str) -> list[list[str]]:
    """tshark -T fields output for every frame of path (raises if tshark cannot read the file)."""
    cmd = [TSHARK, "-n", "-r", str(path), "-T", "fields", "-E", "separator=\t"]
    for f in fields:
        cmd += ["-e", f]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return [line.split("\t") for line in r.stdout.splitlines()]


def expected_frames(path: Path, ips: set[str]) -> list[int]:
    """Frames whose outer IP src or dst is a device IP, according to tshark (first IP layer)."""
    out = []
    for num, s4, d4, s6, d6 in tshark_rows(path, "frame.number", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst"):
        src = (s4 or s6).split(",")[0]
        dst = (d4 or d6).split(",")[0]
        if src in ips or dst in ips:
            out.append(int(num))
    return out


def frame_bytes(path: Path, frames: list[int] | None = None) -> list[tuple[int, int, bytes]]:
    """(ts_ns, origlen, data) of the given 1-based frames (all when None), read with our walker."""
    rec = walk(path)
    idx = range(rec.offset.size) if frames is None else [f - 1 for f in frames]
    return [(int(rec.ts_ns[i]), int(rec.origlen[i]), bytes(rec.buf[rec.offset[i]:rec.offset[i] + rec.caplen[i]]))
            for i in idx]


CASES = [
    ("ndpi_iphone.pcap", ["192.168.2.17"], "pcap"),  # pcap with non-IP and UDP frames
    ("pcpp_pcapng-example.pcapng", ["127.0.0.1"], "pcapng"),  # two link types -> pcapng
    ("pcpp_pcapng-example.pcapng", ["130.217.250.13", "130.217.250.129"], "pcapng"),
    ("pcpp_pcapng-example.pcapng", ["2404:6800:8004:0::68"], "pcapng"),  # IPv6 device (non-canonical text)
    ("pcpp_nanosecs_big_endian.pcap", ["127.0.0.1"], "pcap"),  # big-endian ns pcap copied as is
]


@needs_tshark
@pytest.mark.parametrize(("name", "ips", "fmt"), CASES)
def test_filtered_capture_has_exactly_the_device_frames(tmp_path: Path, name: str, ips: list[str], fmt: str) -> None:
    """tshark reads the output; it holds exactly tshark's device frames, with original bytes and timestamps."""
    src = corpus(name)
    want = expected_frames(src, {str(ipaddress.ip_address(a)) for a in ips})
    assert 0 < len(want) < len(tshark_rows(src, "frame.number")) or name.startswith("pcpp_nano")
    out, txt = tmp_path / "dev.cap", tmp_path / "dev.txt"
    counts = filter_capture(src, ips, out, txt)
    assert counts["kept_frames"] == len(want)
    assert counts["format"] == fmt
    magic = out.read_bytes()[:4]
    assert (magic == b"\x0a\x0d\x0d\x0a") == (fmt == "pcapng")
    got = tshark_rows(out, "frame.number", "frame.time_epoch", "frame.len", "frame.cap_len")
    ref = {int(r[0]): r[1:] for r in tshark_rows(src, "frame.number", "frame.time_epoch", "frame.len", "frame.cap_len")}
    assert [r[1:] for r in got] == [ref[f] for f in want]
    assert frame_bytes(out) == frame_bytes(src, want)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dev.cap", "dev.txt"]


@pytest.mark.skipif(TCPDUMP is None, reason="tcpdump not installed")
@pytest.mark.parametrize("name", ["cs_tcp_retransmissions.pcapng", "ndpi_iphone.pcap", "tt_rawip.dmp.gz"])
def test_single_link_type_gives_classic_pcap_tcpdump_reads(tmp_path: Path, name: str) -> None:
    """One link type and one resolution -> classic pcap that tcpdump opens, one line per TCP frame."""
    out, txt = tmp_path / "f.pcap", tmp_path / "f.txt"
    counts = filter_capture(corpus(name), [], out, txt)
    assert counts["format"] == "pcap"
    assert out.read_bytes()[:4] in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    r = subprocess.run([TCPDUMP, "-n", "-r", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == counts["kept_frames"] == counts["tcp_packets"] == decode_capture(corpus(name)).info.tcp_packets
    assert all(" Flags [" in line for line in lines)


LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6,9} IP6? \S+\.(\d+) > \S+\.(\d+): Flags \[([FSRP.UEWN]+|none)\], "
    r"seq (\d+), ack (\d+), win (\d+)(, options \[[^\]]*\])?, length (\d+)$"
)


@pytest.mark.parametrize("name", ["ndpi_weibo.pcap", "pcpp_pcapng-example.pcapng", "zeek_ftp_ipv6.pcap"])
def test_text_listing_one_line_per_tcp_packet(tmp_path: Path, name: str) -> None:
    """The listing has one tcpdump-like line per kept TCP packet, with its ports, seq, ack, win and length."""
    src = corpus(name)
    pk = decode_capture(src).packets
    counts = filter_capture(src, [], tmp_path / "a.cap", tmp_path / "a.txt")
    lines = (tmp_path / "a.txt").read_text().splitlines()
    assert len(lines) == counts["tcp_packets"] == pk.height
    parsed = [LINE.match(line) for line in lines]
    assert all(parsed), [line for line, m in zip(lines, parsed) if not m][:3]
    got = [(int(m[1]), int(m[2]), int(m[4]), int(m[5]), int(m[6]), int(m[8])) for m in parsed]
    assert got == list(zip(*(pk[c].to_list() for c in ("sport", "dport", "seq", "ack", "win", "len"))))
    syn_lines = [line for line, f in zip(lines, pk["flags"].to_list()) if f & 0x12 == 0x12]
    assert syn_lines and all("Flags [S.]" in line and "mss " in line for line in syn_lines)


def test_failure_leaves_no_outputs(tmp_path: Path) -> None:
    """A capture that cannot be decoded leaves neither output nor temporary files behind."""
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(b"\x00" * 64)
    outdir = tmp_path / "out"
    outdir.mkdir()
    with pytest.raises(CaptureError, match="not a pcap or pcapng file"):
        filter_capture(bad, ["10.0.0.1"], outdir / "x.pcap", outdir / "x.txt")
    assert list(outdir.iterdir()) == []


def test_device_without_frames_gives_valid_empty_capture(tmp_path: Path) -> None:
    """A device that never appears: a valid capture with only the header and an empty listing."""
    src = corpus("cs_ppa1e_email-troubles.pcap")
    counts = filter_capture(src, ["203.0.113.9"], tmp_path / "e.pcap", tmp_path / "e.txt")
    assert counts["kept_frames"] == 0 and counts["frames"] == 360
    assert (tmp_path / "e.pcap").read_bytes() == src.read_bytes()[:24]
    assert (tmp_path / "e.txt").read_text() == ""
    assert walk(tmp_path / "e.pcap").offset.size == 0
    assert np.array_equal(walk(tmp_path / "e.pcap").if_linktype, [1])


def test_device_list_validation(tmp_path: Path) -> None:
    """None / empty device entries mean "no device" (all TCP frames); a non-address is a ConfigError."""
    from tcpscope.errors import ConfigError

    src = corpus("ndpi_iphone.pcap")
    a = filter_capture(src, [None, ""], tmp_path / "a.pcap", tmp_path / "a.txt")  # type: ignore[list-item]
    assert a["kept_frames"] == a["tcp_packets"] == 403 and a["device_ips"] == []
    with pytest.raises(ConfigError, match="'phone' is not an IP address"):
        filter_capture(src, ["phone"], tmp_path / "b.pcap", tmp_path / "b.txt")
    assert not (tmp_path / "b.pcap").exists()
