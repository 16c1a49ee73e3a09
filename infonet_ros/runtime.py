"""Process-level settings for fast CPU inference.

``tune_malloc()``: a forward pass allocates and frees a few dozen temporaries of 0.1-1 MB.
glibc serves blocks above its mmap threshold (128 KiB at start) with fresh ``mmap`` pages
and gives freed heap tops back to the kernel, so every call page-faults its working memory
in again: on a 2-core VM this was ~30 % of an InfoNet call (28 pairs, N = 1000) and half of
a scatter. Raising the mmap threshold to its maximum (32 MiB) and the trim threshold keeps
that memory in the process (its footprint stays at the peak working set, tens of MiB).

It changes the whole process's allocator, so the library never does it on import: the node,
the bag tools, the demo and the benchmarks call it; library users may. A no-op where the C
library is not glibc, and where ``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_`` are
set (the user's choice wins).
"""

from __future__ import annotations

import ctypes
import os
import platform

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 2**20   # glibc's upper limit on 64-bit systems
TRIM_THRESHOLD = 256 * 2**20

_done: bool | None = None


def tune_malloc() -> bool:
    """Keep freed memory for reuse (see the module docstring). True if applied; idempotent."""
    global _done
    if _done is not None:
        return _done
    _done = False
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    if any(k in os.environ for k in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _done = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _done
