"""Stage timings written to the log, so a run can say where its time went (benchmarks/workflow_time.py)."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger("tcpscope.timing")

PREFIX = "stage"  # log lines read "stage NAME SECONDS s"


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Log how long the block took, as `stage NAME SECONDS s` at INFO."""
    t0 = time.perf_counter()
    try:
        yield
    finally:
        log.info("%s %s %.3f s", PREFIX, name, time.perf_counter() - t0)


def seconds_since_start() -> float | None:
    """Seconds since this process started (Linux /proc, 10 ms resolution; None elsewhere).

    Both readings count from boot, so no wall-clock boot time (whole seconds in /proc/stat)
    enters: psutil's create_time() is off by up to a second that way."""
    try:
        with open("/proc/self/stat", encoding="ascii") as fh:
            start_ticks = int(fh.read().rsplit(")", 1)[1].split()[19])  # field 22, starttime
        with open("/proc/uptime", encoding="ascii") as fh:
            uptime = float(fh.read().split()[0])
        return max(0.0, uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return None


def log_startup() -> None:
    """Log the time from this process's start to now (interpreter, Snakemake's script preamble,
    imports) as the stage `startup`."""
    secs = seconds_since_start()
    if secs is not None:
        log.info("%s startup %.3f s", PREFIX, secs)
