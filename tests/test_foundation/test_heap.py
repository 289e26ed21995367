"""Keeping freed memory in the heap: a large tensor allocated again reuses the freed pages."""
import ctypes.util
import subprocess
import sys

import pytest

# Allocates and frees a 64 MB tensor (above glibc's largest mmap threshold, 32 MB) three times,
# then prints the minor page faults of the next allocation (the kernel zeroing fresh pages) and
# whether the heap is kept.
_SCRIPT = """
import resource, sys
import torch
from mmeffseg.utils.heap import freed_memory_kept, keep_freed_memory
if sys.argv[1] == 'kept':
    keep_freed_memory()
for _ in range(3):  # glibc settles its heap within the first allocations (a warm-up)
    x = torch.ones(16 * 2**20)
    del x
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
x = torch.ones(16 * 2**20)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before, freed_memory_kept())
"""


def _allocation_faults(mode: str):
    out = subprocess.run([sys.executable, '-c', _SCRIPT, mode], capture_output=True, text=True,
                         check=True).stdout.split()
    return int(out[0]), out[1] == 'True'


@pytest.mark.skipif(not sys.platform.startswith('linux') or ctypes.util.find_library('c') is None,
                    reason="glibc's malloc only")
def test_freed_memory_is_reused_without_page_faults():
    faults, kept = _allocation_faults('system')
    # glibc's default: the freed 64 MB went back to the OS, 16,384 pages fault in again.
    assert not kept and faults > 8000
    faults, kept = _allocation_faults('kept')
    assert kept and faults < 1000


def test_not_kept_unless_asked():
    from mmeffseg.utils.heap import freed_memory_kept
    assert freed_memory_kept() is False
