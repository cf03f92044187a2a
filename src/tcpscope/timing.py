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


def log_startup() -> None:
    """Log the time from this process's start to now (interpreter, Snakemake's script preamble,
    imports) as the stage `startup`."""
    try:
        import psutil

        started = psutil.Process(os.getpid()).create_time()
    except Exception:  # noqa: BLE001 - timing is informative only
        return
    log.info("%s startup %.3f s", PREFIX, max(0.0, time.time() - started))
