"""Client and server network namespaces joined by two TUN devices (the relay sits between them)."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field

from tcpscope.lab import CLIENT_IP, SERVER_IPS
from tcpscope.lab.tun import open_tun

PREFIX = "tsl-"


def run(cmd: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing output; raise with its stderr when it fails and `check`."""
    p = subprocess.run(cmd, capture_output=True, text=True)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.strip()}")
    return p


def ns_cmd(ns: str, cmd: list[str]) -> list[str]:
    """Prefix `cmd` so that it runs inside namespace `ns`."""
    return ["ip", "netns", "exec", ns, *cmd]


@dataclass
class Topology:
    """Names, addresses and the TUN fds of one lab instance (fds are handed to the relay)."""

    tag: str
    client_ns: str
    server_ns: str
    client_dev: str
    server_dev: str
    client_ip: str = CLIENT_IP
    server_ips: tuple[str, ...] = SERVER_IPS
    client_fd: int = -1
    server_fd: int = -1
    created: list[str] = field(default_factory=list)

    def close_fds(self) -> None:
        """Close this process's copies of the TUN fds (the relay keeps its own)."""
        for attr in ("client_fd", "server_fd"):
            fd = getattr(self, attr)
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
                setattr(self, attr, -1)

    def destroy(self) -> None:
        """Delete the namespaces this topology created (TUN devices vanish with their last fd)."""
        self.close_fds()
        for ns in reversed(self.created):
            run(["ip", "netns", "del", ns], check=False)
        self.created.clear()


def _configure(ns: str, dev: str, addrs: list[str], route: str) -> None:
    """Bring up lo and `dev` in `ns` with /32 addresses, MTU 1500, no IPv6, and one route."""
    run(ns_cmd(ns, ["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]), check=False)
    run(ns_cmd(ns, ["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"]), check=False)
    run(ns_cmd(ns, ["ip", "link", "set", "lo", "up"]))
    run(ns_cmd(ns, ["ip", "link", "set", dev, "mtu", "1500"]))
    for a in addrs:
        run(ns_cmd(ns, ["ip", "addr", "add", f"{a}/32", "dev", dev]))
    run(ns_cmd(ns, ["ip", "link", "set", dev, "up"]))
    run(ns_cmd(ns, ["ip", "route", "add", route, "dev", dev]))


def create_topology(tag: str, server_ips: tuple[str, ...] = SERVER_IPS) -> Topology:
    """Create namespaces tsl-TAG-c/-s and TUN devices tsl-TAG-c/-s moved into them; clean up on failure."""
    topo = Topology(
        tag=tag,
        client_ns=f"{PREFIX}{tag}-c",
        server_ns=f"{PREFIX}{tag}-s",
        client_dev=f"{PREFIX}{tag}c",
        server_dev=f"{PREFIX}{tag}s",
        server_ips=server_ips,
    )
    try:
        for ns in (topo.client_ns, topo.server_ns):
            run(["ip", "netns", "add", ns])
            topo.created.append(ns)
        topo.client_fd = open_tun(topo.client_dev)
        topo.server_fd = open_tun(topo.server_dev)
        run(["ip", "link", "set", topo.client_dev, "netns", topo.client_ns])
        run(["ip", "link", "set", topo.server_dev, "netns", topo.server_ns])
        _configure(topo.client_ns, topo.client_dev, [topo.client_ip], "default")
        _configure(topo.server_ns, topo.server_dev, list(server_ips), f"{topo.client_ip}/32")
    except BaseException:
        topo.destroy()
        raise
    return topo


def lab_available() -> str | None:
    """Return why the lab cannot run here (not root, no /dev/net/tun, no `ip`/`tcpdump`), or None."""
    import shutil

    if os.geteuid() != 0:
        return "needs root"
    try:
        for line in open("/proc/self/status"):
            need = 1 << 12 | 1 << 21  # CAP_NET_ADMIN, CAP_SYS_ADMIN
            if line.startswith("CapEff:") and int(line.split()[1], 16) & need != need:
                return "no CAP_NET_ADMIN/CAP_SYS_ADMIN"
    except OSError:
        pass
    if not os.path.exists("/dev/net/tun"):
        return "no /dev/net/tun"
    for tool in ("ip", "tcpdump"):
        if shutil.which(tool) is None:
            return f"{tool} missing"
    return None
