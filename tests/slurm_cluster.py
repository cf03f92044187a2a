"""A real single-node SLURM cluster for tests, from Debian's packages, without systemd.

`slurm_cluster(workdir)` is a context manager that starts, as child processes of the
test (each kept by its PID, in the foreground so the PID is the daemon's):

    munged      own key and socket (AuthInfo=socket=... in the SLURM configs)
    mariadbd    own data directory, 127.0.0.1 on a free port (accounting database)
    slurmdbd    accounting daemon (sacct, the SLURM executor plugin's status query)
    slurmctld   controller
    slurmd      the one compute node (this machine: its CPUs, at least 4, and its
                memory less 1 GB)

and stops every one of them by its PID in the reverse order, in a `finally`, also when
starting failed half way or the test failed. Jobs run as root on the node
(`SlurmUser=root`, `SlurmdUser=root`, `ProctrackType=proctrack/linuxproc`: no cgroups,
`TaskPlugin=task/none`). The job steps of snakemake's SLURM plugin clear `SLURM_CONF`,
so `slurm.conf` (and `slurmdbd.conf`) are written to /etc/slurm; a file already there
is moved aside and put back afterwards. Ports are free ports picked at start, so a
SLURM or MariaDB already running on the machine is left alone.

`ensure_slurm()` installs the Debian packages when they are missing (root, apt-get;
not when TCPSCOPE_SKIP_APT=1) and returns why a cluster cannot be had, or None.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

PACKAGES = ["slurm-wlm", "slurm-client", "slurmdbd", "munge", "mariadb-server", "mariadb-client"]
BINARIES = [
    "munged", "munge", "mariadbd", "mariadb-install-db", "mariadb", "slurmdbd", "slurmctld",
    "slurmd", "sbatch", "squeue", "sacct", "sacctmgr", "scontrol", "scancel", "sinfo",
]
SBIN = ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
ETC = Path("/etc/slurm")
# one cluster at a time on a machine (they share /etc/slurm): test sessions queue here
LOCK = Path("/tmp/tcpscope-slurm-cluster.lock")
CLUSTER = "tcpscopetest"
PARTITION = "tcpscope"
NODE = "tcpscope-node"


def _which(name: str) -> str | None:
    path = os.pathsep.join([os.environ.get("PATH", ""), *SBIN])
    return shutil.which(name, path=path)


def missing_binaries() -> list[str]:
    return [b for b in BINARIES if _which(b) is None]


def ensure_slurm(timeout: float = 900) -> str | None:
    """None when a cluster can be started here; else the reason why not (to skip)."""
    if os.name != "posix" or os.geteuid() != 0:
        return "needs root (runs SLURM daemons and writes /etc/slurm)"
    if not missing_binaries():
        return None
    if os.environ.get("TCPSCOPE_SKIP_APT") == "1":
        return f"missing {missing_binaries()} and TCPSCOPE_SKIP_APT=1"
    apt = _which("apt-get")
    if apt is None:
        return f"missing {missing_binaries()} and no apt-get"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        for cmd in (
            [apt, "update", "-q"],
            [apt, "install", "-y", "-q", "--no-install-recommends", *PACKAGES],
        ):
            proc = subprocess.run(
                cmd, env=env, capture_output=True, text=True, timeout=timeout,
                stdin=subprocess.DEVNULL,
            )
            if proc.returncode != 0:
                return f"{' '.join(cmd)} failed: {proc.stderr[-500:]}"
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"apt-get failed: {exc}"
    missing = missing_binaries()
    return f"still missing after apt-get: {missing}" if missing else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class ClusterError(RuntimeError):
    """Starting the cluster failed (the message holds the daemon logs' tails)."""


@dataclass
class SlurmCluster:
    """A running cluster: where its files are and how to reach it."""

    root: Path
    partition: str = PARTITION
    cluster: str = CLUSTER
    cpus: int = 1
    mem_mb: int = 1000
    pids: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def run(self, *cmd: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        """A SLURM client command against this cluster."""
        exe = _which(cmd[0]) or cmd[0]
        proc = subprocess.run(
            [exe, *cmd[1:]], capture_output=True, text=True, timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        if check and proc.returncode != 0:
            raise ClusterError(f"{' '.join(cmd)}: exit {proc.returncode}: {proc.stderr}{proc.stdout}")
        return proc

    def logs(self, tail: int = 3000) -> str:
        """The tails of the daemons' logs, for a failure message."""
        parts = []
        for log in sorted(self.root.glob("*.log")):
            parts.append(f"== {log.name}\n{log.read_text(errors='replace')[-tail:]}")
        return "\n".join(parts)


def _node_line(cpus: int, mem_mb: int) -> str:
    return (
        f"NodeName={NODE} NodeHostname={socket.gethostname()} NodeAddr=127.0.0.1 "
        f"CPUs={cpus} RealMemory={mem_mb} State=UNKNOWN"
    )


def _mem_total_mb() -> int:
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    return 4096


def _wait(what: str, ok, timeout: float, cluster: SlurmCluster, procs: dict) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, proc in procs.items():
            if proc.poll() is not None:
                raise ClusterError(
                    f"{name} exited ({proc.returncode}) while waiting for {what}\n{cluster.logs()}"
                )
        try:
            if ok():
                return
        except (OSError, subprocess.SubprocessError):
            pass
        time.sleep(0.2)
    raise ClusterError(f"timed out ({timeout:.0f} s) waiting for {what}\n{cluster.logs()}")


def _stop(name: str, proc: subprocess.Popen, grace: float = 15) -> None:
    """SIGTERM the daemon we started (by its PID), SIGKILL it after `grace` seconds."""
    if proc.poll() is not None:
        return
    try:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass


@contextmanager
def slurm_cluster(
    root: Path, start_timeout: float = 60, cpus: int | None = None
) -> Iterator[SlurmCluster]:
    """Start munged, MariaDB, slurmdbd, slurmctld and slurmd; yield; stop them all.

    The node offers `cpus` CPUs (default: the machine's, at least 4: workflow jobs
    mostly start Python and read files, so a small machine runs 4 at once well)."""
    root = Path(root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    for d in ("state", "spool", "db", "backup"):
        (root / d).mkdir(exist_ok=True)
    cpus = cpus or max(4, os.cpu_count() or 1)
    mem_mb = max(1000, _mem_total_mb() - 1024)
    cluster = SlurmCluster(root=root, cpus=cpus, mem_mb=mem_mb)
    procs: dict[str, subprocess.Popen] = {}
    moved: list[tuple[Path, Path]] = []  # (our file in /etc/slurm, backup of the old one)
    lock = open(LOCK, "w")  # noqa: SIM115 - held until the cluster is down
    fcntl.flock(lock, fcntl.LOCK_EX)
    created_etc = not ETC.exists()
    started = time.monotonic()
    t = started

    def spawn(name: str, cmd: list[str]) -> None:
        out = open(root / f"{name}.out", "w")  # noqa: SIM115 - closed with the process
        procs[name] = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        out.close()
        cluster.pids[name] = procs[name].pid

    def lap(name: str) -> None:
        nonlocal t
        now = time.monotonic()
        cluster.timings[name] = round(now - t, 2)
        t = now

    def install_conf(name: str, text: str, mode: int) -> None:
        ETC.mkdir(parents=True, exist_ok=True)
        target = ETC / name
        backup = root / "backup" / name
        if target.exists() or target.is_symlink():
            shutil.move(str(target), str(backup))
        moved.append((target, backup))
        target.write_text(text)
        os.chmod(target, mode)

    try:
        # munge: own key and socket
        key = root / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o600)
        sock = root / "munge.sock"
        spawn("munged", [
            _which("munged"), "--foreground", "--force", "--num-threads=10", f"--socket={sock}",
            f"--key-file={key}", f"--pid-file={root / 'munged.pid'}",
            f"--log-file={root / 'munged.log'}", f"--seed-file={root / 'munged.seed'}",
        ])
        _wait("munged", sock.exists, 10, cluster, procs)
        lap("munged")

        # MariaDB: own data directory, loopback TCP port
        db_port = _free_port()
        db_sock = root / "mysql.sock"
        proc = subprocess.run(
            [_which("mariadb-install-db"), "--no-defaults", f"--datadir={root / 'db'}",
             "--user=root", "--auth-root-authentication-method=normal", "--skip-test-db"],
            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        )
        if proc.returncode != 0:
            raise ClusterError(f"mariadb-install-db: {proc.stdout[-2000:]}{proc.stderr[-2000:]}")
        lap("mariadb-install-db")
        spawn("mariadbd", [
            _which("mariadbd"), "--no-defaults", f"--datadir={root / 'db'}", "--user=root",
            f"--socket={db_sock}", f"--port={db_port}", "--bind-address=127.0.0.1",
            f"--pid-file={root / 'mariadbd.pid'}", f"--log-error={root / 'mariadbd.log'}",
            "--innodb-buffer-pool-size=128M", "--skip-name-resolve",
        ])
        _wait("mariadbd", lambda: db_sock.exists() and _port_open(db_port), start_timeout,
              cluster, procs)
        password = os.urandom(12).hex()
        sql = (
            f"CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY '{password}';"
            "GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"
        )
        cluster.run("mariadb", "--no-defaults", f"--socket={db_sock}", "-uroot", "-e", sql)
        lap("mariadbd")

        # SLURM configuration in /etc/slurm (the plugin's job steps clear SLURM_CONF)
        ctld_port, slurmd_port, dbd_port = _free_port(), _free_port(), _free_port()
        host = socket.gethostname()
        auth = f"AuthType=auth/munge\nAuthInfo=socket={sock}\n"
        install_conf("slurmdbd.conf", auth + f"""\
DbdHost={host}
DbdAddr=127.0.0.1
DbdPort={dbd_port}
SlurmUser=root
LogFile={root / 'slurmdbd.log'}
PidFile={root / 'slurmdbd.pid'}
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort={db_port}
StorageUser=slurm
StoragePass={password}
StorageLoc=slurm_acct_db
""", 0o600)
        install_conf("slurm.conf", auth + f"""\
ClusterName={CLUSTER}
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
CredType=cred/munge
StateSaveLocation={root / 'state'}
SlurmdSpoolDir={root / 'spool'}
SlurmctldPidFile={root / 'slurmctld.pid'}
SlurmdPidFile={root / 'slurmd.pid'}
SlurmctldLogFile={root / 'slurmctld.log'}
SlurmdLogFile={root / 'slurmd.log'}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=1
ReturnToService=2
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
MinJobAge=300
SlurmdParameters=config_overrides
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort={dbd_port}
AccountingStoragePass={sock}
{_node_line(cpus, mem_mb)}
PartitionName={PARTITION} Nodes={NODE} Default=YES MaxTime=INFINITE State=UP
""", 0o644)

        spawn("slurmdbd", [_which("slurmdbd"), "-D"])
        _wait("slurmdbd", lambda: _port_open(dbd_port), start_timeout, cluster, procs)
        last: list[str] = []

        def registered() -> bool:
            add = cluster.run("sacctmgr", "-i", "add", "cluster", CLUSTER, check=False)
            listed = cluster.run("sacctmgr", "-n", "-P", "list", "cluster", check=False)
            last[:] = [add.stdout + add.stderr + listed.stdout + listed.stderr]
            return add.returncode == 0 or CLUSTER in listed.stdout

        try:
            _wait("the cluster in the accounting database", registered, start_timeout,
                  cluster, procs)
        except ClusterError as exc:
            raise ClusterError(f"{exc}\nsacctmgr: {last}") from None
        lap("slurmdbd")

        spawn("slurmctld", [_which("slurmctld"), "-D", "-i"])
        _wait("slurmctld", lambda: cluster.run("scontrol", "ping", check=False).returncode == 0
              and "UP" in cluster.run("scontrol", "ping", check=False).stdout,
              start_timeout, cluster, procs)
        lap("slurmctld")
        spawn("slurmd", [_which("slurmd"), "-D", "-N", NODE])

        def node_idle() -> bool:
            state = cluster.run("sinfo", "-h", "-n", NODE, "-o", "%T", check=False).stdout
            return state.strip().rstrip("*") in ("idle", "mixed")

        _wait("the node to be idle", node_idle, start_timeout, cluster, procs)
        lap("slurmd")
        cluster.timings["start"] = round(time.monotonic() - started, 2)
        yield cluster
    finally:
        stopped = time.monotonic()
        if "slurmctld" in procs and procs["slurmctld"].poll() is None:
            try:  # no job of ours outlives the cluster
                cluster.run("scancel", "--full", f"--partition={PARTITION}", check=False,
                            timeout=10)
            except (OSError, subprocess.SubprocessError):
                pass
        for name in reversed(list(procs)):
            _stop(name, procs[name])
        for target, backup in reversed(moved):
            target.unlink(missing_ok=True)
            if backup.exists():
                shutil.move(str(backup), str(target))
        if created_etc:
            shutil.rmtree(ETC, ignore_errors=True)
        cluster.timings["stop"] = round(time.monotonic() - stopped, 2)
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()
