"""tcpscope.memory: freed per-packet columns leave the process (glibc's mmap threshold fixed)."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

# The decoder's pattern: a large buffer freed (which raises glibc's dynamic mmap threshold),
# then column-sized temporaries allocated between small live objects and freed.
SCENARIO = """
import sys, numpy as np
from tcpscope.memory import return_freed_memory
def rss(): return int(open('/proc/self/statm').read().split()[1]) * 4096 / 2**20
applied = return_freed_memory() if sys.argv[1] == "1" else False
big = np.ones(20_000_000, np.uint8); del big
base = rss()
arrs, small = [], []
for _ in range(20):
    arrs.append(np.ones(1_500_000, np.int64))
    small.append(np.ones(1000, np.int64))
del arrs
print(applied, rss() - base)
"""


def _retained(apply: bool) -> tuple[bool, float]:
    out = subprocess.run([sys.executable, "-c", SCENARIO, "1" if apply else "0"], capture_output=True, text=True,
                         check=True).stdout.split()
    return out[0] == "True", float(out[1])


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc malloc only")
def test_freed_columns_return_to_the_os() -> None:
    applied, kept = _retained(True)
    assert applied
    assert kept < 20, f"{kept:.0f} MiB of freed columns still resident"
    # the scenario does exercise the problem: without the setting glibc keeps most of 229 MiB
    _, kept_default = _retained(False)
    assert kept_default > 100
