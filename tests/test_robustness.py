"""Nothing crashes, nothing is lost, nothing is trusted.

* the decoder under hypothesis: random bytes, truncated headers, absurd record lengths, pcapng
  block lengths that lie, IPv4 IHL < 20, TCP data offsets past the packet: a result whose counts
  add up, or a CaptureError; memory never sized from a length field (RSS of a subprocess);
* the tshark fallback for link types the decoder does not read (PPP, synthesised), equal to what
  tshark sees, and `decoder` in capture.json;
* every corpus capture through `tcpscope analyze` (subprocess) and through the workflow with
  `--keep-going`, plus a broken and a PPP capture: results or a one-line reason, never a traceback;
  the broken capture is a `failed` row of the metric tables; skipped counts reach the metrics;
* config errors stop `snakemake -n` before any job, naming the row and the column.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpus import CORPUS, MANIFEST, corpus, needs_corpus
from tcpscope.config import capture_name
from tcpscope.decode import PACKETS_SCHEMA, decode_capture
from tcpscope.decode.fallback import tshark_path
from tcpscope.decode.fileformat import walk
from tcpscope.errors import CaptureError, UnsupportedLinkTypeError

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TSHARK = tshark_path()
needs_tshark = pytest.mark.skipif(TSHARK is None, reason="tshark not installed")

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


# ---------------------------------------------------------------------------------------------
# Tiny writers (independent of the corpus).


def pcap(records: list[bytes], linktype: int = 101, snaplen: int = 262144, caplens: list[int] | None = None) -> bytes:
    """A little-endian µs pcap of the given frames (record caplen overridable: a length that lies)."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype)]
    for i, data in enumerate(records):
        cap = caplens[i] if caplens else len(data)
        out.append(struct.pack("<IIII", 1_600_000_000 + i, i, cap, len(data)) + data)
    return b"".join(out)


def block(btype: int, body: bytes, length: int | None = None) -> bytes:
    """One little-endian pcapng block; `length` replaces the leading length field (a lie)."""
    body += b"\0" * (-len(body) % 4)
    n = len(body) + 12
    return struct.pack("<II", btype, n if length is None else length) + body + struct.pack("<I", n)


def pcapng(frames: list[bytes], linktype: int = 101, lie: tuple[int, int] | None = None) -> bytes:
    """SHB, one IDB and one EPB per frame; lie = (EPB index, leading length to write)."""
    out = [block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)), block(1, struct.pack("<HHI", linktype, 0, 0))]
    for i, data in enumerate(frames):
        body = struct.pack("<IIIII", 0, 0, i, len(data), len(data)) + data
        out.append(block(6, body, lie[1] if lie and lie[0] == i else None))
    return b"".join(out)


def tcp_ip(payload: bytes = b"", *, ihl: int = 5, doff: int = 5, total: int | None = None, proto: int = 6,
           tcp_bytes: int | None = None, sport: int = 40000, seq: int = 1000) -> bytes:
    """An IPv4 packet (raw IP link type) with a TCP header of data offset `doff` (words); `total`
    overrides the IP total length, `tcp_bytes` cuts the TCP header after that many bytes."""
    opts = b"\x01" * (doff * 4 - 20) if doff >= 5 else b""
    tcp = struct.pack(">HHIIBBHHH", sport, 80, seq, 7, (doff & 0xF) << 4, 0x18, 512, 0, 0) + opts
    if tcp_bytes is not None:
        tcp = tcp[:tcp_bytes]
    ip_opts = b"\x01" * max(0, ihl * 4 - 20)
    body = tcp + payload
    tot = 20 + len(ip_opts) + len(body) if total is None else total
    head = struct.pack(">BBHHHBBH4s4s", 0x40 | (ihl & 0xF), 0, tot & 0xFFFF, 1, 0, 64, proto, 0,
                       bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
    return head + ip_opts + body


def decode_bytes(tmp: Path, data: bytes, name: str = "x.pcap"):
    """Decode `data` written to a file: the Decoded result, or the CaptureError raised."""
    p = tmp / name
    p.write_bytes(data)
    try:
        return decode_capture(p, fallback=False)
    except CaptureError as exc:
        assert str(exc).startswith(str(p)), exc  # names the file
        assert "\n" not in str(exc)  # one line
        return exc


def consistent(d) -> None:
    """Every frame is a TCP packet or counted as skipped; the table has the exact schema."""
    if isinstance(d, CaptureError):
        return
    assert d.info.frames == d.info.tcp_packets + sum(d.info.skipped.values())
    assert d.packets.height == d.info.tcp_packets
    assert list(d.packets.schema.items()) == list(PACKETS_SCHEMA.items())


# ---------------------------------------------------------------------------------------------
# Hypothesis: the decoder never raises anything but CaptureError, and its counts add up.


@FUZZ
@given(prefix=st.sampled_from([b"", b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1",
                               b"\x0a\x0d\x0d\x0a", b"\x1f\x8b"]),
       data=st.binary(max_size=600))
def test_random_bytes(tmp_path_factory, prefix: bytes, data: bytes) -> None:
    """Random bytes behind every magic (pcap both orders, ns, pcapng, gzip): a result or a CaptureError."""
    consistent(decode_bytes(tmp_path_factory.mktemp("rnd"), prefix + data))


@FUZZ
@given(cut=st.integers(0, 430), ng=st.booleans())
def test_truncated_anywhere(tmp_path_factory, cut: int, ng: bool) -> None:
    """A valid capture cut at any byte: the whole records before the cut, cut_off set unless the cut
    falls on a record boundary; a cut inside the file header is a CaptureError."""
    frames = [tcp_ip(b"x" * k, seq=1000 + 10 * k) for k in range(5)]
    whole = pcapng(frames) if ng else pcap(frames)
    # (end offset of each packet record, header bytes before the first record)
    head = len(pcapng([])) if ng else 24
    ends = [len(pcapng(frames[:k])) if ng else len(pcap(frames[:k])) for k in range(1, len(frames) + 1)]
    bounds = [28, head, *ends] if ng else [head, *ends]  # pcapng: the SHB is 28 bytes
    cut = min(cut, len(whole))
    d = decode_bytes(tmp_path_factory.mktemp("cut"), whole[:cut])
    consistent(d)
    if cut < (4 if ng else 24):  # no magic, or a pcap file header cut short
        assert isinstance(d, CaptureError)
        return
    assert not isinstance(d, CaptureError), d
    assert d.info.frames == sum(e <= cut for e in ends)
    assert d.info.cut_off == (cut not in bounds)
    assert d.info.tcp_packets == d.info.frames  # every whole record is a whole TCP packet


@FUZZ
@given(lengths=st.lists(st.one_of(st.integers(0, 2**32 - 1), st.sampled_from([0, 1, 15, 16, 2**31, 2**32 - 1])),
                        min_size=3, max_size=3),
       snaplen=st.sampled_from([0, 68, 65535, 2**31, 2**32 - 1]))
def test_absurd_record_lengths(tmp_path_factory, lengths: list[int], snaplen: int) -> None:
    """pcap record headers with any captured length (and any snaplen): CaptureError, a cut-off file,
    or fewer frames; never an allocation sized from the field (checked by RSS below)."""
    frames = [tcp_ip(b"ab"), tcp_ip(b"cd"), tcp_ip(b"ef")]
    d = decode_bytes(tmp_path_factory.mktemp("len"), pcap(frames, snaplen=snaplen, caplens=lengths))
    consistent(d)


@FUZZ
@given(which=st.integers(0, 2), length=st.integers(0, 2**32 - 1))
def test_pcapng_block_length_lies(tmp_path_factory, which: int, length: int) -> None:
    """An EPB whose leading length field holds any value: a CaptureError naming the frame, a cut-off
    file that keeps the frames before it, or (the true length) the whole file."""
    frames = [tcp_ip(b"a" * k) for k in range(3)]
    true = len(block(6, struct.pack("<IIIII", 0, 0, which, len(frames[which]), len(frames[which])) + frames[which]))
    d = decode_bytes(tmp_path_factory.mktemp("ng"), pcapng(frames, lie=(which, length)), "x.pcapng")
    consistent(d)
    if length == true:
        assert not isinstance(d, CaptureError) and d.info.frames == 3
    elif isinstance(d, CaptureError):
        assert d.frame == which + 1
    else:
        assert d.info.cut_off and d.info.frames == which


@FUZZ
@given(ihl=st.integers(0, 4))
def test_ipv4_header_length_below_20(tmp_path_factory, ihl: int) -> None:
    """IHL < 5 words: the frame is skipped as malformed and counted, the others are decoded."""
    frames = [tcp_ip(b"ok"), tcp_ip(b"bad", ihl=ihl), tcp_ip(b"ok2")]
    d = decode_bytes(tmp_path_factory.mktemp("ihl"), pcap(frames))
    consistent(d)
    assert d.info.skipped["malformed"] == 1 and d.packets["frame"].to_list() == [1, 3]


@FUZZ
@given(doff=st.integers(0, 15), payload=st.integers(0, 30), cut=st.one_of(st.none(), st.integers(0, 80)))
def test_tcp_data_offset_beyond_packet(tmp_path_factory, doff: int, payload: int, cut: int | None) -> None:
    """Any TCP data offset against the IP length and the captured bytes: kept with the payload length
    from IP (options cut -> opts_complete false), or skipped as malformed / truncated, and counted."""
    good = tcp_ip(b"z" * payload)  # a doff-5 header: the IP length covers 20 + payload TCP bytes
    pkt = bytearray(good)
    pkt[20 + 12] = (doff << 4) & 0xF0
    frame = bytes(pkt) if cut is None else bytes(pkt[:cut])
    d = decode_bytes(tmp_path_factory.mktemp("doff"), pcap([frame]))
    consistent(d)
    h = doff * 4
    if cut is not None and cut < 20 + 16:
        assert d.info.skipped["truncated"] == 1
    elif h < 20 or h > 20 + payload:
        assert d.info.skipped["malformed"] == 1  # header longer than the IP length says
    else:
        row = d.packets.row(0, named=True)
        assert row["len"] == 20 + payload - h
        assert row["opts_complete"] == (len(frame) >= 20 + h)


# ---------------------------------------------------------------------------------------------
# Memory stays bounded: no buffer sized from a length field (peak RSS of a fresh process).

RSS = r"""
import resource, sys
from pathlib import Path
from tcpscope.decode import decode_capture
from tcpscope.errors import CaptureError
paths = sys.argv[1:]
def run(p):
    try:
        return decode_capture(p, fallback=False).info.to_dict()
    except CaptureError as e:
        return str(e)
run(paths[0])  # compile / load the kernels, import everything
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
for p in paths[1:]:
    print(run(p))
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print("RSS_KB", after - before)
"""


def test_memory_bounded_by_file_not_by_length_fields(tmp_path: Path) -> None:
    """A pcap record claiming 4 GB, a 4 GB snaplen with a 4 GB record, a pcapng block of 2^31 bytes,
    an EPB claiming 4 GB of captured data: each in a file of a few hundred bytes; the peak RSS of the
    process grows by less than 64 MB (ru_maxrss)."""
    frames = [tcp_ip(b"x" * 10), tcp_ip(b"y" * 10)]
    files = {
        "warm.pcap": pcap(frames),
        "caplen4g.pcap": pcap(frames, caplens=[len(frames[0]), 2**32 - 1]),
        "snap4g.pcap": pcap(frames, snaplen=2**32 - 1, caplens=[2**32 - 16, len(frames[1])]),
        "block2g.pcapng": pcapng(frames, lie=(1, 2**31)),
        "block4g.pcapng": pcapng(frames, lie=(0, 2**32 - 4)),
    }
    epb = bytearray(pcapng(frames))
    pos = epb.find(struct.pack("<IIIII", 0, 0, 1, len(frames[1]), len(frames[1])))
    epb[pos + 12:pos + 16] = struct.pack("<I", 2**32 - 1)  # EPB captured length
    files["epbcap4g.pcapng"] = bytes(epb)
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        assert len(data) < 1000
    r = subprocess.run([sys.executable, "-c", RSS, *(str(tmp_path / n) for n in files)], capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    lines = r.stdout.strip().splitlines()
    grew_kb = int(lines[-1].split()[1])
    assert grew_kb < 64 * 1024, r.stdout
    out = dict(zip(list(files)[1:], lines[:-1]))
    assert "frame 2: record length 4294967295 exceeds the limit" in out["caplen4g.pcap"]
    assert "'cut_off': True" in out["snap4g.pcap"] and "'frames': 0" in out["snap4g.pcap"]
    assert "'cut_off': True" in out["block2g.pcapng"] and "'frames': 1" in out["block2g.pcapng"]
    assert "'cut_off': True" in out["block4g.pcapng"] and "'frames': 0" in out["block4g.pcapng"]
    assert "frame 2: packet block captured length 4294967295 exceeds the block length" in out["epbcap4g.pcapng"]


# ---------------------------------------------------------------------------------------------
# Hypothesis again, under numba's bounds checking: an out-of-bounds read would raise IndexError.


@pytest.mark.slow
def test_properties_under_bounds_checking(tmp_path: Path) -> None:
    """The hypothesis tests above, re-run with NUMBA_BOUNDSCHECK=1 (fresh kernel cache)."""
    if os.environ.get("NUMBA_BOUNDSCHECK") == "1":
        pytest.skip("already under bounds checking")
    env = {**os.environ, "NUMBA_BOUNDSCHECK": "1", "NUMBA_CACHE_DIR": str(tmp_path / "nbcache"),
           "PYTHONDONTWRITEBYTECODE": "1"}
    names = ["test_random_bytes", "test_truncated_anywhere", "test_absurd_record_lengths",
             "test_pcapng_block_length_lies", "test_ipv4_header_length_below_20", "test_tcp_data_offset_beyond_packet"]
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", __file__,
                        "-k", " or ".join(names)], cwd=REPO, capture_output=True, text=True, env=env, timeout=1800)
    assert r.returncode == 0, r.stdout[-5000:] + r.stderr[-2000:]
    assert f"{len(names)} passed" in r.stdout, r.stdout[-2000:]


# ---------------------------------------------------------------------------------------------
# The tshark fallback: PPP (link type 9) is a link type tshark dissects and the decoder does not.

PPP = 9


def to_ppp(frames: list[tuple[int, int, bytes]]) -> list[tuple[int, int, bytes]]:
    """Replace each Ethernet header with a PPP one (ff 03 + protocol: IPv4 0x0021, IPv6 0x0057, else LCP)."""
    out = []
    for ts, orig, data in frames:
        et = struct.unpack(">H", data[12:14])[0]
        hdr = struct.pack(">BBH", 0xFF, 0x03, {0x0800: 0x0021, 0x86DD: 0x0057}.get(et, 0xC021))
        out.append((ts, orig - 14 + len(hdr), hdr + data[14:]))
    return out


def write_ppp(src: Path, dst: Path) -> Path:
    """The Ethernet capture `src` re-encoded as a PPP pcap at `dst`."""
    rec = walk(src)
    assert list(rec.if_linktype) == [1]
    frames = [(int(t), int(o), bytes(rec.buf[a:a + c]))
              for t, o, a, c in zip(rec.ts_ns, rec.origlen, rec.offset, rec.caplen)]
    parts = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, PPP)]
    for ts, orig, data in to_ppp(frames):
        sec, ns = divmod(ts, 10**9)
        parts.append(struct.pack("<IIII", sec, ns // 1000, len(data), orig) + data)
    dst.write_bytes(b"".join(parts))
    return dst


def tshark_view(path: Path) -> list[tuple[int, ...]]:
    """(frame, sport, dport, seq, ack, len, flags, win) of every frame tshark shows as TCP."""
    fields = ["frame.number", "tcp.srcport", "tcp.dstport", "tcp.seq_raw", "tcp.ack_raw", "tcp.len", "tcp.flags",
              "tcp.window_size_value"]
    cmd = [TSHARK, "-n", "-r", str(path), "-Y", "tcp && !icmp && !icmpv6", "-T", "fields", "-E", "occurrence=f",
           "-o", "tcp.desegment_tcp_streams:FALSE"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return [tuple(int(v, 0) for v in line.split("\t")) for line in out.splitlines()]


@needs_corpus
@needs_tshark
@pytest.mark.parametrize("name", ["ndpi_iphone.pcap", "zeek_ftp_ipv6.pcap", "zeek_tcp_timestamp.pcap",
                                  "zeek_http_206_example_b.pcap"])
def test_fallback_equals_tshark_and_decoder(tmp_path: Path, name: str) -> None:
    """A PPP capture (IPv4 with SACK, IPv6, UDP/ARP frames, 96-byte snaplen) decodes through tshark to
    the packets tshark shows, and to what the decoder reads from the Ethernet original; the skipped
    counts agree; capture.json says decoder `tshark`."""
    src = corpus(name)
    p = write_ppp(src, tmp_path / "ppp.pcap")
    with pytest.raises(UnsupportedLinkTypeError, match=r"ppp\.pcap: frame 1: unsupported link type 9"):
        decode_capture(p, fallback=False)
    d = decode_capture(p)
    orig = decode_capture(src)
    assert d.info.decoder == "tshark" and orig.info.decoder == "tcpscope"
    assert list(d.packets.schema.items()) == list(PACKETS_SCHEMA.items())
    from polars.testing import assert_frame_equal

    assert_frame_equal(orig.packets.drop("linktype"), d.packets.drop("linktype"))
    assert set(d.packets["linktype"].to_list()) == {PPP} and d.info.linktypes == [PPP]
    assert d.info.skipped == orig.info.skipped and d.info.frames == orig.info.frames
    view = d.packets.select("frame", "sport", "dport", "seq", "ack", "len", "flags", "win").rows()
    assert view == tshark_view(p)
    assert any("decoded through tshark" in w for w in d.info.warnings)
    d.info.write_json(tmp_path / "capture.json")
    assert json.loads((tmp_path / "capture.json").read_text())["decoder"] == "tshark"


@needs_tshark
def test_fallback_unknown_to_tshark_too(tmp_path: Path) -> None:
    """A link type tshark has no IP dissector for (USB, 189): the decoder's one-line error, saying so."""
    p = tmp_path / "usb.pcap"
    p.write_bytes(pcap([b"\x00" * 64, b"\x01" * 64], linktype=189))
    with pytest.raises(UnsupportedLinkTypeError, match=r"usb\.pcap: frame 1: unsupported link type 189; tshark finds"):
        decode_capture(p)


def test_fallback_needs_tshark(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without tshark the unsupported link type is the decoder's CaptureError, as before."""
    import tcpscope.decode.fallback as fb

    monkeypatch.setattr(fb, "tshark_path", lambda: None)
    p = tmp_path / "ppp.pcap"
    p.write_bytes(pcap([b"\xff\x03\x00\x21" + tcp_ip(b"a")], linktype=PPP))
    with pytest.raises(UnsupportedLinkTypeError, match=r"ppp\.pcap: frame 1: unsupported link type 9$"):
        decode_capture(p)


@needs_tshark
def test_fallback_filter_and_cli(tmp_path: Path) -> None:
    """`tcpscope filter` and `tcpscope analyze` on a PPP capture: tshark's frames, the decoder's listing."""
    frames = [b"\xff\x03\x00\x21" + tcp_ip(b"q" * k, sport=40000 + k % 2, seq=5000 + k) for k in range(6)]
    frames.append(b"\xff\x03\xc0\x21" + b"\x01\x01\x00\x04")  # LCP: non-IP
    p = tmp_path / "ppp.pcap"
    p.write_bytes(pcap(frames, linktype=PPP))
    r = run_cli("filter", str(p), "--device", "10.0.0.1", "-o", str(tmp_path / "f.pcap"), "--text",
                str(tmp_path / "f.txt"))
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert len((tmp_path / "f.txt").read_text().splitlines()) == 6
    assert walk(tmp_path / "f.pcap").offset.size == 6 and list(walk(tmp_path / "f.pcap").if_linktype) == [PPP]
    r = run_cli("analyze", str(p), "-o", str(tmp_path / "out"), "--device", "10.0.0.1")
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    info = json.loads((tmp_path / "out" / "capture.json").read_text())
    assert info["decoder"] == "tshark" and info["tcp_packets"] == 6 and info["skipped"]["non_ip"] == 1
    assert "6 TCP packets (decoded through tshark)" in r.stderr


# ---------------------------------------------------------------------------------------------
# The CLI on every corpus capture and on broken files: results or one line, never a traceback.


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "tcpscope"), *args], capture_output=True, text=True, timeout=900,
                          stdin=subprocess.DEVNULL)


@needs_corpus
@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MANIFEST) or ["(no corpus)"])
def test_cli_on_corpus(tmp_path: Path, name: str) -> None:
    """`tcpscope analyze` on each corpus capture: exit 0, all outputs, counts that add up."""
    r = run_cli("analyze", str(corpus(name)), "-o", str(tmp_path))
    assert "Traceback" not in r.stderr, r.stderr
    assert r.returncode == 0, r.stderr
    info = json.loads((tmp_path / "capture.json").read_text())
    assert info["status"] == "ok" and info["decoder"] == "tcpscope"
    assert info["frames"] == info["tcp_packets"] + sum(info["skipped"].values())
    for out in ("segments.parquet", "flows.parquet", "stalls.parquet"):
        assert (tmp_path / out).is_file()
    assert pl.read_parquet(tmp_path / "segments.parquet").height == info["tcp_packets"]


BROKEN = {
    "garbage.pcap": b"this is not a capture at all",
    "empty.pcap": b"",
    "header_only.pcap": b"\xd4\xc3\xb2\xa1\x02\x00",
    "usb.pcap": pcap([b"\x00" * 40], linktype=189),
    "huge_record.pcap": pcap([tcp_ip(b"a")], caplens=[2**31]) + b"\0" * 64,
    "bad_block.pcapng": pcapng([tcp_ip(b"a"), tcp_ip(b"b")], lie=(0, 14)),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_cli_broken_files_one_line(tmp_path: Path, name: str) -> None:
    """Broken captures: exit status 2 and one line on stderr naming the file (and frame), no traceback,
    no output that looks complete."""
    p = tmp_path / name
    p.write_bytes(BROKEN[name])
    r = run_cli("analyze", str(p), "-o", str(tmp_path / "out"))
    assert "Traceback" not in r.stderr, r.stderr
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert r.returncode == 2, r.stderr
    assert len(lines) == 1 and lines[0].startswith(f"tcpscope: error: {p}"), r.stderr
    assert not (tmp_path / "out" / "capture.json").exists()


def test_cli_missing_file(tmp_path: Path) -> None:
    r = run_cli("analyze", str(tmp_path / "absent.pcap"), "-o", str(tmp_path / "out"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines() == [f"tcpscope: error: {tmp_path / 'absent.pcap'}: No such file or directory"]


# ---------------------------------------------------------------------------------------------
# The workflow: every corpus capture, a broken one and a PPP one, with --keep-going.


def snakemake(work: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    chromium = shutil.which("chromium")
    if chromium and "BROWSER_PATH" not in env:
        env["BROWSER_PATH"] = chromium
    return subprocess.run([str(BIN / "snakemake"), *args], cwd=work, env=env, capture_output=True, text=True,
                          timeout=3600, stdin=subprocess.DEVNULL)


def workflow_copy(work: Path) -> Path:
    """The Snakefile, config.yaml and workflow/ of the repository in `work`."""
    work.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "Snakefile", work / "Snakefile")
    shutil.copy(REPO / "config.yaml", work / "config.yaml")
    shutil.copytree(REPO / "workflow", work / "workflow", ignore=shutil.ignore_patterns("__pycache__"))
    (work / "pcap").mkdir(exist_ok=True)
    (work / "config").mkdir(exist_ok=True)
    return work


def busiest_ip(path: Path) -> str:
    """The address in most TCP packets of a capture (the 'device' of a corpus row)."""
    pk = decode_capture(path).packets
    if pk.height == 0:
        return "192.0.2.1"
    both = pl.concat([pk["src"], pk["dst"]])
    return both.value_counts(sort=True)[0, 0]


def sources() -> list[Path]:
    """Every corpus capture, else the bundled captures."""
    if CORPUS is not None:
        return [CORPUS / n for n in sorted(MANIFEST) if (CORPUS / n).is_file()]
    return sorted((REPO / "pcap").glob("*.pcap"))


@pytest.fixture(scope="module")
def keep_going_run(tmp_path_factory: pytest.TempPathFactory):
    """One `snakemake --cores 2 --keep-going` over every capture plus broken.pcap, cut.pcap and ppp.pcap."""
    work = workflow_copy(tmp_path_factory.mktemp("robust"))
    rows = []
    for src in sources():
        shutil.copy(src, work / "pcap" / src.name)
        rows.append([src.name, f"feature {src.name}", busiest_ip(src)])
    (work / "pcap" / "broken.pcap").write_bytes(b"\xd4\xc3\xb2\xa1" + b"\x02\x00\x04\x00" + b"\0" * 8 +
                                               struct.pack("<II", 65535, 147) + b"\0" * 32)  # link type 147
    rows.append(["broken.pcap", "broken feature", "10.0.0.1"])
    first = sources()[0]
    data = first.read_bytes()
    (work / "pcap" / "cut.pcap").write_bytes(data[: len(data) * 2 // 3])
    rows.append(["cut.pcap", "cut feature", busiest_ip(first)])
    ppp_src = (CORPUS / "ndpi_iphone.pcap") if CORPUS is not None else None
    if TSHARK and ppp_src is not None and ppp_src.is_file():
        write_ppp(ppp_src, work / "pcap" / "ppp.pcap")
        rows.append(["ppp.pcap", "ppp feature", busiest_ip(ppp_src)])
    (work / "config" / "captures.tsv").write_text(
        "\n".join("\t".join(r) for r in [["capture", "feature", "device"], *rows]) + "\n")
    proc = snakemake(work, "--cores", "2", "--keep-going", *targets(rows))
    return work, rows, proc


def targets(rows: list[list[str]]) -> list[str]:
    """Every per-capture output and the metric tables; the study page and stall figure too once
    their module is there (it is being written beside this work)."""
    import importlib.util

    from tcpscope.figures import figure_names

    out = ["results/metrics.tsv", "results/metrics.md"]
    if importlib.util.find_spec("tcpscope.figures.stalls") is not None:
        out += ["results/index.html", "results/stalls.png"]
    for r in rows:
        d = f"results/{capture_name(r[0])}"
        out += [f"{d}/packets.txt", f"{d}/filtered.pcap", f"{d}/metrics.tsv"]
        out += [f"{d}/figures/{n}.{ext}" for n in figure_names() for ext in ("png", "html")]
    return out


@pytest.mark.slow
def test_workflow_keep_going_marks_failed_capture(keep_going_run) -> None:
    """The run completes (exit 0) although broken.pcap cannot be decoded: every capture has its
    outputs, the broken one a failure marker, metrics.tsv a row per feature with broken marked failed."""
    work, rows, proc = keep_going_run
    logs = "\n".join(f"== {p}\n{p.read_text()[-1500:]}" for p in sorted(work.glob("results/**/*.log"))
                     if "Traceback" in p.read_text())
    assert proc.returncode == 0, proc.stderr[-6000:] + logs[-8000:]
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr[-6000:]
    res = work / "results"
    for r in rows:
        d = res / capture_name(r[0])
        for out in ("capture.json", "segments.parquet", "flows.parquet", "stalls.parquet",
                    "metrics.tsv", "filtered.pcap", "packets.txt"):
            assert (d / out).is_file(), d / out
    info = json.loads((res / "broken" / "capture.json").read_text())
    assert info["status"] == "failed" and "unsupported link type 147" in info["error"]
    assert "tshark finds no IP" in info["error"] or TSHARK is None
    assert (res / "broken" / "packets.txt").read_text().startswith("# capture failed: ")
    feat = pl.read_csv(res / "metrics.tsv", separator="\t", infer_schema_length=0)
    assert feat.height == len(rows)
    broken = feat.filter(pl.col("feature") == "broken feature").row(0, named=True)
    assert broken["status"] == "failed" and broken["failed_captures"] == "1"
    assert broken["errors"].startswith("broken: ") and "unsupported link type 147" in broken["errors"]
    ok = feat.filter(pl.col("feature") != "broken feature")
    assert ok["status"].to_list() == ["ok"] * ok.height
    per = pl.read_csv(res / "broken" / "metrics.tsv", separator="\t", infer_schema_length=0)
    assert per["status"].to_list() == ["failed"] and "unsupported link type 147" in per["error"][0]
    for r in rows:
        assert (res / capture_name(r[0]) / "figures" / "timeseq.png").is_file()


@pytest.mark.slow
def test_workflow_cut_and_fallback_captures(keep_going_run) -> None:
    """The cut-off capture is analysed with cut_off set; the PPP one through tshark."""
    work, rows, proc = keep_going_run
    assert proc.returncode == 0
    res = work / "results"
    cut = json.loads((res / "cut" / "capture.json").read_text())
    assert cut["status"] == "ok" and cut["cut_off"] and cut["warnings"]
    feat = pl.read_csv(res / "metrics.tsv", separator="\t", infer_schema_length=0)
    assert feat.filter(pl.col("feature") == "cut feature")["cut_off_captures"].to_list() == ["1"]
    if not any(r[0] == "ppp.pcap" for r in rows):
        pytest.skip("no tshark or no corpus: no PPP capture")
    info = json.loads((res / "ppp" / "capture.json").read_text())
    assert info["decoder"] == "tshark" and info["tcp_packets"] == 403
    assert walk(res / "ppp" / "filtered.pcap").offset.size > 0


@pytest.mark.slow
def test_workflow_skipped_counts_reach_metrics(keep_going_run) -> None:
    """Every skipped count of capture.json is in the capture's metrics.tsv and summed per feature."""
    work, rows, proc = keep_going_run
    assert proc.returncode == 0
    res = work / "results"
    feat = pl.read_csv(res / "metrics.tsv", separator="\t")
    seen_non_tcp = 0
    for r in rows:
        d = res / capture_name(r[0])
        info = json.loads((d / "capture.json").read_text())
        if info["status"] != "ok":
            continue
        per = pl.read_csv(d / "metrics.tsv", separator="\t")
        frow = feat.filter(pl.col("feature") == r[1]).row(0, named=True)
        for reason, n in info["skipped"].items():
            assert per[f"skipped_{reason}"].to_list() == [n] * per.height, (r[0], reason)
            assert frow[f"skipped_{reason}"] == n, (r[0], reason)
        assert frow["frames"] == info["frames"] and frow["tcp_packets"] == info["tcp_packets"]
        seen_non_tcp += info["skipped"]["non_tcp"]
    if CORPUS is not None:
        assert seen_non_tcp > 0  # ndpi captures carry UDP


# ---------------------------------------------------------------------------------------------
# Config errors stop the workflow before any job: the row and the column, no traceback.

GOOD_ROW = ["good.pcap", "f", "10.0.0.1", "", "", ""]
BAD_ROWS = [
    (["absent.pcap", "f", "10.0.0.1", "", "", ""], "capture", "file not found"),
    (["good.pcap", "f", "10.0.0.1", "", "", ""], "capture", "listed twice"),
    (["good.pcapng", "f", "10.0.0.1", "", "", ""], "capture", "same capture name 'good'"),
    (["sub/x.pcap", "f", "10.0.0.1", "", "", ""], "capture", "without a directory part"),
    (["x.pcap", "f", "10.0.0.300", "", "", ""], "device", "not an IPv4 or IPv6 address"),
    (["x.pcap", "f", "10.0.0.1", "fe80::zz", "", ""], "server", "not an IPv4 or IPv6 address"),
    (["x.pcap", "f", "10.0.0.1", "", "", "sideways"], "direction", "'sideways' is not one of"),
    (["x.pcap", "f", "10.0.0.1", "", "99999", ""], "port", "out of range"),
]


@pytest.fixture(scope="module")
def config_work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = workflow_copy(tmp_path_factory.mktemp("cfg"))
    for n in ("good.pcap", "good.pcapng", "x.pcap"):
        (work / "pcap" / n).write_bytes(pcap([tcp_ip(b"a")]))
    return work


@pytest.mark.parametrize("row,column,fragment", BAD_ROWS, ids=[f"{c}-{f[:16]}" for _, c, f in BAD_ROWS])
def test_config_errors_stop_the_workflow(config_work: Path, tmp_path: Path, row, column: str, fragment: str) -> None:
    """`snakemake -n` on a table with a bad row 2: non-zero exit, the row and column, no traceback, no job."""
    table = tmp_path / "bad.tsv"
    table.write_text("\n".join("\t".join(r) for r in [["capture", "feature", "device", "server", "port",
                                                        "direction"], GOOD_ROW, row]) + "\n")
    proc = snakemake(config_work, "-n", "--config", f"captures={table}")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert f"{table}: row 2 (line 3), column '{column}': " in out, out[-3000:]
    assert fragment in out, out[-3000:]
    assert "Traceback" not in out, out[-3000:]
    assert "Job stats" not in out and not (config_work / "results").exists()


@pytest.mark.slow
def test_workflow_failed_capture_in_shards(tmp_path: Path) -> None:
    """A broken capture analysed in shards (shard_above_mb=0.0001) gets the same failure marker, and a good
    one beside it its results: metrics.tsv has both, the broken one failed."""
    work = workflow_copy(tmp_path / "w")
    good = sorted((REPO / "pcap").glob("*.pcap"))[0] if CORPUS is None else corpus("zeek_tcp_missing-syn.pcap")
    shutil.copy(good, work / "pcap" / good.name)
    (work / "pcap" / "broken.pcapng").write_bytes(pcapng([tcp_ip(b"a"), tcp_ip(b"b")], lie=(1, 20)))
    rows = [["capture", "feature", "device"], [good.name, "good", busiest_ip(good)],
            ["broken.pcapng", "bad", "10.0.0.1"]]
    (work / "config" / "captures.tsv").write_text("\n".join("\t".join(r) for r in rows) + "\n")
    proc = snakemake(work, "results/metrics.tsv", "--cores", "2", "--keep-going", "--config", "shard_above_mb=0.0001",
                     "shards=2")
    assert proc.returncode == 0, proc.stderr[-6000:]
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "shard_split" in proc.stdout + proc.stderr  # both went through the shard rules
    feat = pl.read_csv(work / "results" / "metrics.tsv", separator="\t", infer_schema_length=0)
    assert feat["feature"].to_list() == ["good", "bad"]
    assert feat["status"].to_list() == ["ok", "failed"]
    assert "frame 2: pcapng block length 20 does not match its trailing copy" in feat["errors"][1]
    info = json.loads((work / "results" / "broken" / "capture.json").read_text())
    assert info["status"] == "failed" and info["error"] == feat["errors"][1].removeprefix("broken: ")


# ---------------------------------------------------------------------------------------------
# Failure markers and writers (fast, without snakemake).


def test_failure_marker_and_metrics_rows(tmp_path: Path) -> None:
    """write_failure: every output with the usual columns and no rows, capture.json failed with the
    reason; the per-capture row says failed; per feature: ok / partial / failed with the reasons."""
    from tcpscope.metrics import capture_metrics, feature_metrics, read_capture_metrics, write_tsv
    from tcpscope.pipeline import OUTPUTS, analyze_capture, write_failure

    bad = tmp_path / "bad.pcap"
    bad.write_bytes(BROKEN["bad_block.pcapng"])
    with pytest.raises(CaptureError) as err:
        decode_capture(bad)
    write_failure(bad, tmp_path / "bad", err.value)
    assert sorted(p.name for p in (tmp_path / "bad").iterdir()) == sorted(OUTPUTS)  # no temporary left
    info = json.loads((tmp_path / "bad" / "capture.json").read_text())
    assert info["status"] == "failed" and info["error"] == str(err.value) and "frame 1" in info["error"]
    segments = pl.read_parquet(tmp_path / "bad" / "segments.parquet")
    assert segments.height == 0 and {c: segments.schema[c] for c in PACKETS_SCHEMA} == PACKETS_SCHEMA
    flows = pl.read_parquet(tmp_path / "bad" / "flows.parquet")
    assert flows.height == 0 and "flow_id" in flows.columns

    good = tmp_path / "good.pcap"
    good.write_bytes(pcap([tcp_ip(b"hello", seq=1), tcp_ip(b"world", seq=6)]))
    analyze_capture(good, tmp_path / "good", device="10.0.0.1", labels=False)
    rows = [capture_metrics(pl.read_parquet(tmp_path / n / "flows.parquet"), n, f,
                            json.loads((tmp_path / n / "capture.json").read_text()))
            for n, f in [("good", "A"), ("bad", "A"), ("bad", "B")]]
    assert rows[1]["status"].to_list() == ["failed"] and rows[1]["error"].to_list() == [str(err.value)]
    assert rows[1]["frames"].to_list() == [None] and rows[0]["status"].to_list() == ["ok"]
    write_tsv(pl.concat(rows), tmp_path / "all.tsv")
    feat = feature_metrics(read_capture_metrics(tmp_path / "all.tsv"))
    assert feat.select("feature", "captures", "status", "failed_captures").rows() == [
        ("A", 2, "partial", 1), ("B", 1, "failed", 1)]
    assert feat["errors"].to_list() == [f"bad: {err.value}"] * 2


def test_failed_job_leaves_nothing_that_looks_complete(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure inside analyze_capture (after decoding) leaves no capture.json and no temporary files;
    a failing filter leaves neither of its outputs."""
    import tcpscope.pipeline as pipeline
    from tcpscope.filtering import filter_capture

    good = tmp_path / "good.pcap"
    good.write_bytes(pcap([tcp_ip(b"hello", seq=1)]))

    def boom(*_a, **_k):
        raise MemoryError("simulated")

    monkeypatch.setattr(pipeline, "write_parquet", lambda df, path: (_ for _ in ()).throw(OSError(28, "No space left")))
    with pytest.raises(OSError):
        pipeline.analyze_capture(good, tmp_path / "out", labels=False)
    assert list((tmp_path / "out").iterdir()) == []
    monkeypatch.undo()
    monkeypatch.setattr("tcpscope.filtering.listing", boom)
    with pytest.raises(MemoryError):
        filter_capture(good, ["10.0.0.1"], tmp_path / "f.pcap", tmp_path / "f.txt")
    assert not (tmp_path / "f.pcap").exists() and not (tmp_path / "f.txt").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_failed_rerun_withdraws_the_earlier_capture_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A rerun into a directory holding a complete earlier result removes its capture.json first:
    when the rerun fails (here in stall detection, while segments.parquet is being written beside
    it), no capture.json vouches for tables that are now a mix of two runs."""
    import tcpscope.pipeline as pipeline

    good = tmp_path / "good.pcap"
    good.write_bytes(pcap([tcp_ip(b"hello", seq=1)]))
    out = tmp_path / "out"
    pipeline.analyze_capture(good, out, labels=False)
    assert {p.name for p in out.iterdir()} == set(pipeline.OUTPUTS)

    def boom(*_a, **_k):
        raise MemoryError("simulated")

    monkeypatch.setattr(pipeline, "detect_stalls", boom)
    with pytest.raises(MemoryError):
        pipeline.analyze_capture(good, out, labels=False)
    assert not (out / "capture.json").exists()
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []  # no temporary left
