"""Memory hygiene for the analysis processes: hand freed column buffers back to the OS."""

from __future__ import annotations

import ctypes
import sys

M_MMAP_THRESHOLD = -3  # mallopt parameter (glibc malloc.h)
MMAP_THRESHOLD = 1 << 20


def return_freed_memory() -> bool:
    """Serve every allocation of 1 MiB or more with its own mapping (glibc `mallopt`), so that
    freeing it returns the memory to the OS at once. Returns whether it was applied.

    glibc raises its mmap threshold each time a mapped block is freed, up to 32 MiB; after the
    decoder frees the file buffer, per-packet temporaries (12 MB per column of 1.5M packets)
    come from the heap, where blocks freed between live ones stay resident: 160 MiB of a
    1.47M-packet run's peak (docs/speed.md). Not glibc (or no Linux): nothing to do, False.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
