"""What the benchmark scripts share: running one command and measuring its wall time and peak RSS.

Imported by the scripts next to it (`python benchmarks/NAME.py` puts this directory on sys.path).
"""

from __future__ import annotations

import os
import resource
import subprocess
import tempfile
import time

GNU_TIME = "/usr/bin/time"


def timed(cmd: list[str]) -> tuple[float, float]:
    """Run `cmd` to completion; (wall seconds, peak RSS MB of that command). A failure raises
    RuntimeError with the command and the end of its stderr.

    The peak comes from GNU time (Debian package `time`) when installed: a child forked from
    this Python process would inherit its resident pages into ru_maxrss. Without it, the figure
    is an upper bound that includes the calling (small, stdlib-only) process.
    """
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        full = [GNU_TIME, "-f", "%M", "-o", rss.name, *cmd] if os.access(GNU_TIME, os.X_OK) else cmd
        t0 = time.perf_counter()
        r = subprocess.run(full, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wall = time.perf_counter() - t0
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed with {r.returncode}: {r.stderr[-2000:]}")
        if full is cmd:
            return wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        return wall, int(rss.read().split()[-1]) / 1024
