"""Keep freed memory in the process's heap, so that repeated forwards reuse it (glibc only).

By default glibc's malloc serves a large allocation (above a threshold that adapts to what was
freed, at most 32 MB) that its heap has no free room for with fresh pages from the OS, and gives
them back when it is freed (as it trims a heap whose free top grows past a threshold). A
large model then page-faults its big activations in anew on every forward: mmdet's R50
Mask2Former at 1024x1024 on CPU takes 675,585 minor page faults per forward (2.6 GB of pages
zeroed by the kernel; `tools/analysis_tools/benchmark.py` with `--shape 1024 1024 --no-parts
--cpu-deform-attn gather`, 1 thread), how many fall into a part depends on what ran before it,
and its time swings with them. That time has no FLOPs behind it, and a long-running server that
uses jemalloc, tcmalloc or these settings does not pay it. With the heap kept, the same forwards
take 0 faults after a warm-up forward (same command with ``--keep-freed-memory``).

The setting is process-wide and cannot be undone; peak-memory figures then read n/a on CPU
(the warm-up already grew the heap to its peak).
"""
import ctypes
import ctypes.util

# mallopt parameters (glibc's malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
# the largest value mallopt takes (a C int): freed memory up to 2 GB at the heap's top is kept
_NEVER_TRIM = 2**31 - 1

_kept = False


def keep_freed_memory() -> None:
    """Make glibc's malloc serve every allocation from the heap and keep what is freed
    (``M_MMAP_MAX = 0``, ``M_TRIM_THRESHOLD`` at its maximum), for the rest of the process.

    Raises:
        ValueError: Where the C library is not glibc (nothing was changed), or where glibc
            refuses a setting (not seen; the heap is then not recorded as kept); the run should
            go on without the option.
    """
    global _kept
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6').mallopt
    except (OSError, AttributeError):
        mallopt = None
    if mallopt is None or mallopt(_M_MMAP_MAX, 0) != 1:
        raise ValueError('keeping freed memory needs glibc\'s malloc (Linux); run without '
                         '--keep-freed-memory (or preload jemalloc / tcmalloc instead)')
    if mallopt(_M_TRIM_THRESHOLD, _NEVER_TRIM) != 1:
        raise ValueError('glibc refused M_TRIM_THRESHOLD; run without --keep-freed-memory')
    _kept = True


def freed_memory_kept() -> bool:
    """Whether :func:`keep_freed_memory` was applied in this process (timing results record
    it: their figures depend on it)."""
    return _kept
