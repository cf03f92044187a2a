#!/usr/bin/env python3
"""Make a large real capture: one bulk TCP transfer between two network namespaces.

Linux TCP over a veth pair, a `tbf` rate limit on the sender, random drops with an
nftables `numgen random` rule at the receiver, tcpdump with a short snap length at the
sender. Needs root, iproute2, nftables, tcpdump and ethtool (offloads are turned off so
the capture holds wire-sized segments). Addresses are from 198.18.0.0/15 (RFC 2544
benchmarking), inside namespaces this script creates and removes.

    python benchmarks/make_bulk_capture.py --out /tmp/bulk.pcap --megabytes 1400
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

NS_A, NS_B = "tsb-snd", "tsb-rcv"
ADDR_A, ADDR_B = "198.18.0.1", "198.18.0.2"
PORT = 5201

SENDER = """
import socket, sys
n = int(sys.argv[1]); chunk = b"x" * 65536
s = socket.create_connection(("{b}", {port}))
sent = 0
while sent < n:
    s.sendall(chunk); sent += len(chunk)
s.shutdown(socket.SHUT_WR); s.recv(1); s.close()
"""

RECEIVER = """
import socket
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("{b}", {port})); srv.listen(1); print("ready", flush=True)
c, _ = srv.accept()
while c.recv(1 << 20):
    pass
c.close()
"""


def sh(*cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run a command, raising with its stderr on failure."""
    r = subprocess.run(cmd, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {r.stderr.strip()}")
    return r


def setup(rate: str, loss_per_mille: int) -> None:
    """Two namespaces joined by veth, tbf on the sender, random drops at the receiver."""
    teardown()
    sh("ip", "netns", "add", NS_A)
    sh("ip", "netns", "add", NS_B)
    sh("ip", "link", "add", "tsb-a", "netns", NS_A, "type", "veth", "peer", "name", "tsb-b", "netns", NS_B)
    for ns, dev, addr in ((NS_A, "tsb-a", ADDR_A), (NS_B, "tsb-b", ADDR_B)):
        sh("ip", "-n", ns, "addr", "add", f"{addr}/30", "dev", dev)
        sh("ip", "-n", ns, "link", "set", dev, "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "netns", "exec", ns, "ethtool", "-K", dev, "tso", "off", "gso", "off", "gro", "off", check=False)
    sh("ip", "netns", "exec", NS_A, "tc", "qdisc", "add", "dev", "tsb-a", "root", "tbf",
       "rate", rate, "burst", "64kb", "latency", "20ms")
    rules = (
        "add table inet tsb\n"
        "add chain inet tsb in { type filter hook input priority 0; }\n"
        f"add rule inet tsb in ip saddr {ADDR_A} tcp dport {PORT} numgen random mod 1000 < {loss_per_mille} drop\n"
    )
    subprocess.run(["ip", "netns", "exec", NS_B, "nft", "-f", "-"], input=rules, text=True, check=True)


def teardown() -> None:
    """Remove the namespaces (and with them the veth pair and rules)."""
    for ns in (NS_A, NS_B):
        sh("ip", "netns", "del", ns, check=False)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True, help="pcap to write")
    p.add_argument("--megabytes", type=int, default=1400, help="bytes to transfer (default 1400 MB)")
    p.add_argument("--rate", default="400mbit", help="tbf rate at the sender (default 400mbit)")
    p.add_argument("--loss", type=int, default=2, help="random drops per thousand at the receiver (default 2)")
    p.add_argument("--snaplen", type=int, default=128)
    args = p.parse_args()
    if os.geteuid() != 0:
        print("make_bulk_capture: needs root (network namespaces)", file=sys.stderr)
        return 2
    setup(args.rate, args.loss)
    dump = None
    try:
        rcv = subprocess.Popen(["ip", "netns", "exec", NS_B, sys.executable, "-c",
                                RECEIVER.format(b=ADDR_B, port=PORT)], stdout=subprocess.PIPE, text=True)
        assert rcv.stdout is not None and rcv.stdout.readline().strip() == "ready"
        dump = subprocess.Popen(["ip", "netns", "exec", NS_A, "tcpdump", "-i", "tsb-a", "-s", str(args.snaplen),
                                 "-U", "-w", str(args.out), "tcp"], stderr=subprocess.PIPE, text=True)
        assert dump.stderr is not None
        dump.stderr.readline()  # "listening on ..."
        t0 = time.time()
        sh("ip", "netns", "exec", NS_A, sys.executable, "-c", SENDER.format(b=ADDR_B, port=PORT),
           str(args.megabytes * 1_000_000))
        rcv.wait(timeout=60)
        time.sleep(0.5)
        print(f"transfer: {args.megabytes} MB in {time.time() - t0:.1f} s", file=sys.stderr)
    finally:
        if dump is not None:
            dump.send_signal(signal.SIGINT)
            dump.wait(timeout=30)
        teardown()
    print(f"{args.out}: {args.out.stat().st_size / 1e6:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
