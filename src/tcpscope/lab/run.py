"""Run one scenario end to end: topology, relay, traffic, tcpdump, truth; always cleans up."""

from __future__ import annotations

import json
import os
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from tcpscope.lab import CLIENT_IP
from tcpscope.lab.netns import create_topology, ns_cmd, run
from tcpscope.lab.scenarios import BULK_LISTEN, CHAT, Scenario, scenarios
from tcpscope.lab.truth import build_truth, truth_summary


@dataclass
class RunResult:
    """Files written by one scenario run."""

    pcap: Path
    server_pcap: Path | None
    relay_log: Path
    truth: Path
    truth_flows: Path
    kernel_drops: int = 0  # packets tcpdump reported as dropped by the kernel (0 expected)
    tag: str = ""  # the run's namespace/device tag (names tsl-TAG-c, tsl-TAG-s)


def _wait_line(p: subprocess.Popen[bytes], stream: str, needle: bytes, timeout: float) -> None:
    """Read `stream` of `p` until a line containing `needle` appears; raise on timeout or exit."""
    f = getattr(p, stream)
    sel = selectors.DefaultSelector()
    sel.register(f, selectors.EVENT_READ)
    end = time.monotonic() + timeout
    seen = b""
    try:
        while time.monotonic() < end:
            if not sel.select(max(0.0, end - time.monotonic())):
                continue
            line = f.readline()
            if not line:
                raise RuntimeError(f"{p.args!r} ended before {needle!r}: {seen[-500:]!r}")
            seen += line
            if needle in line:
                return
        raise RuntimeError(f"timeout waiting for {needle!r} from {p.args!r}")
    finally:
        sel.close()


def _tcpdump_drops(p: subprocess.Popen[bytes]) -> int:
    """Kernel drop count from a stopped tcpdump's stderr summary (-1 when not reported)."""
    assert p.stderr is not None
    for line in p.stderr.read().decode(errors="replace").splitlines():
        if "dropped by kernel" in line:
            return int(line.split()[0])
    return -1


def _stop(p: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM, timeout: float = 10) -> None:
    """Signal a child we started (by its pid) and wait; kill it if it does not exit."""
    if p is None or p.poll() is not None:
        return
    p.send_signal(sig)
    try:
        p.wait(timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def make_cert(d: Path) -> tuple[Path, Path]:
    """Self-signed EC certificate for the chat server, made with openssl at run time."""
    cert, key = d / "chat.crt", d / "chat.key"
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=tcpscope-lab"])
    return cert, key


def _tcpdump(ns: str, dev: str, out: Path) -> subprocess.Popen[bytes]:
    """Start tcpdump (raw IP, full packets, unbuffered writes) in `ns` and wait until it listens."""
    p = subprocess.Popen(ns_cmd(ns, ["tcpdump", "-i", dev, "-Z", "root", "-n", "-s", "0", "-B", "32768", "-U", "--immediate-mode",
                                     "-w", str(out), "ip"]),
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _wait_line(p, "stderr", b"listening on", 15)
    time.sleep(0.3)
    return p


def run_scenario(sc: Scenario, out_dir: str | Path, seed: int, truth_dir: str | Path | None = None,
                 server_capture: bool = False, capture_name: str | None = None,
                 timeout: float = 120) -> RunResult:
    """Run scenario `sc` with `seed`; write <name>.pcap (client vantage), the relay log and the truth."""
    out_dir = Path(out_dir)
    truth_dir = Path(truth_dir) if truth_dir is not None else out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    truth_dir.mkdir(parents=True, exist_ok=True)
    name = capture_name or sc.name
    pcap = out_dir / f"{name}.pcap"
    spcap = out_dir / f"{name}.server.pcap" if server_capture else None
    relay_log = truth_dir / f"{name}.relay.parquet"
    work = Path(tempfile.mkdtemp(prefix="tsl-"))
    os.chmod(work, 0o755)
    tag = secrets.token_hex(3)
    topo = None
    procs: dict[str, subprocess.Popen[bytes] | None] = {}
    kernel_drops = 0
    py = sys.executable
    try:
        cert, key = make_cert(work)
        topo = create_topology(tag)
        cfg = {"fd_client": topo.client_fd, "fd_server": topo.server_fd, "seed": seed,
               "c2s": sc.c2s.to_dict(), "s2c": sc.s2c.to_dict(), "log": str(work / "relay.parquet")}
        (work / "relay.json").write_text(json.dumps(cfg))
        procs["relay"] = subprocess.Popen([py, "-m", "tcpscope.lab.relay", str(work / "relay.json")],
                                          pass_fds=(topo.client_fd, topo.server_fd), stdout=subprocess.PIPE)
        _wait_line(procs["relay"], "stdout", b"READY", 30)
        topo.close_fds()
        sspec = {"bulk": BULK_LISTEN, "chat": [CHAT], "cert": str(cert), "key": str(key)}
        (work / "server.json").write_text(json.dumps(sspec))
        procs["server"] = subprocess.Popen(ns_cmd(topo.server_ns, [py, "-m", "tcpscope.lab.traffic", "server",
                                                                   str(work / "server.json")]),
                                           stdout=subprocess.PIPE)
        _wait_line(procs["server"], "stdout", b"READY", 30)
        cspec = {"pre": sc.pre, "main": sc.main, "cert": str(cert)}
        (work / "client.json").write_text(json.dumps(cspec))
        client = subprocess.Popen(ns_cmd(topo.client_ns, [py, "-m", "tcpscope.lab.traffic", "client",
                                                          str(work / "client.json")]),
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        procs["client"] = client
        _wait_line(client, "stdout", b"READY", 60)
        time.sleep(0.5)  # let the pre-phase ACKs settle before the capture starts
        procs["tcpdump"] = _tcpdump(topo.client_ns, topo.client_dev, pcap)
        if spcap is not None:
            procs["tcpdump_s"] = _tcpdump(topo.server_ns, topo.server_dev, spcap)
        assert client.stdin is not None
        client.stdin.write(b"GO\n")
        client.stdin.flush()
        client.stdin.close()
        rc = client.wait(timeout)
        if rc != 0:
            raise RuntimeError(f"{sc.name}: client exited with {rc}")
        time.sleep(1.0)  # closing handshakes
        for k in ("tcpdump", "tcpdump_s"):
            p = procs.pop(k, None)
            if p is not None:
                _stop(p, signal.SIGINT)
                drops = _tcpdump_drops(p)
                kernel_drops += drops if drops > 0 else 0
    finally:
        for k in ("tcpdump", "tcpdump_s", "client", "server"):
            _stop(procs.pop(k, None), signal.SIGINT if k.startswith("tcpdump") else signal.SIGTERM)
        _stop(procs.pop("relay", None))
        if topo is not None:
            topo.destroy()
    shutil.copy(work / "relay.parquet", relay_log)
    log = pl.read_parquet(relay_log)
    truth, flows = build_truth(pcap, log, "client", CLIENT_IP)
    tpath = truth_dir / f"{name}.truth.parquet"
    fpath = truth_dir / f"{name}.truth_flows.tsv"
    truth.write_parquet(tpath)
    flows.write_csv(fpath, separator="\t")
    if spcap is not None:
        st, _ = build_truth(spcap, log, "server", CLIENT_IP)
        st.write_parquet(truth_dir / f"{name}.server.truth.parquet")
    shutil.rmtree(work, ignore_errors=True)
    return RunResult(pcap, spcap, relay_log, tpath, fpath, kernel_drops, tag)


def make_set(out_dir: Path, truth_dir: Path, seed: int, names: list[str],
             log: Callable[[str], None] = print) -> list[RunResult]:
    """Run each named scenario with `seed` (at the server's side too where the scenario says so),
    again up to twice when tcpdump lost packets (its capture would then miss what the relay
    logged); `log` gets one line per capture."""
    out = []
    for n in names:
        sc = scenarios(seed)[n]
        for _attempt in range(3):
            res = run_scenario(sc, out_dir, seed, truth_dir, server_capture=sc.server_capture)
            if res.kernel_drops == 0:
                break
            log(f"{n}: tcpdump lost {res.kernel_drops} packets, running again")
        out.append(res)
        log(f"{res.pcap} ({res.pcap.stat().st_size} B): {truth_summary(res.truth)}")
    return out
