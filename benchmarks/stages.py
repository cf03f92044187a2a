#!/usr/bin/env python3
"""Where one `tcpscope analyze` run spends its time, in one process: imports, the first call of
the compiled kernels (numba start-up and cache loading), then each stage of
`pipeline.analyze_capture` as `tcpscope.timing` logs it (decode, analysis, labels, stalls,
write), and the peak RSS after each.

The capture is analysed twice: the first run pays the one-off costs (kernel loading), the
second shows the steady per-capture cost.

    python benchmarks/stages.py CAPTURE
"""

from __future__ import annotations

import logging
import re
import resource
import sys
import tempfile
import time

T0 = time.perf_counter()
from tcpscope import pipeline  # noqa: E402 - timed: this is the import cost
from tcpscope.memory import return_freed_memory  # noqa: E402

T_IMPORT = time.perf_counter() - T0


class _Stages(logging.Handler):
    """Collects `stage NAME S s` records with the peak RSS when each was logged."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[str, float, float]] = []

    def emit(self, record: logging.LogRecord) -> None:
        m = re.fullmatch(r"stage (\w+) ([0-9.]+) s", record.getMessage())
        if m:
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            self.rows.append((m.group(1), float(m.group(2)), peak))


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    return_freed_memory()  # as the CLI and the rule scripts do
    handler = _Stages()
    log = logging.getLogger("tcpscope.timing")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    print(f"imports (tcpscope.pipeline and what it pulls in): {T_IMPORT:.2f} s")
    for label in ("first run (kernels loaded from the numba cache)", "second run"):
        handler.rows.clear()
        with tempfile.TemporaryDirectory(prefix="tcpscope-stages-") as out:
            t = time.perf_counter()
            pipeline.analyze_capture(sys.argv[1], out)
            total = time.perf_counter() - t
        print(f"{label}: {total:.2f} s")
        for name, secs, peak in handler.rows:
            print(f"  {name:<10} {secs:6.2f} s   peak RSS so far {peak:6.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
