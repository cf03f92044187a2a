"""Stage timings in rule logs: the format benchmarks/workflow_time.py reads, and a process age
that is neither negative nor off by the boot-time rounding."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import time

import pytest

from tcpscope.timing import seconds_since_start, stage


def test_stage_logs_its_duration(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="tcpscope.timing"), stage("decode"):
        time.sleep(0.05)
    (line,) = [r.getMessage() for r in caplog.records]
    m = re.fullmatch(r"stage decode ([0-9.]+) s", line)
    assert m and 0.05 <= float(m.group(1)) < 5


def test_seconds_since_start_of_a_fresh_process() -> None:
    if sys.platform != "linux":
        pytest.skip("reads /proc")
    code = "import time; time.sleep(0.3); from tcpscope.timing import seconds_since_start as s; print(s())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    age = float(out.stdout)
    assert 0.3 <= age < 5  # slept 0.3 s; a boot-time rounding error would show up to 1 s more or less
    assert seconds_since_start() is not None
