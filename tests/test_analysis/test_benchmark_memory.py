"""The benchmark's peak memory per model and part (CPU: growth of the process's peak RSS).

Measured in a fresh process, as the benchmark tool runs: in a long-lived test process the
allocator may hand back pages it already holds, so a fresh allocation need not grow the RSS.
"""
import json
import subprocess
import sys

import pytest
import torch

from mmeffseg.analysis.timing import _MemoryProbe

SCRIPT = r'''
import json
import torch
import torch.nn as nn
from mmeffseg.analysis import benchmark_model, format_benchmark


class Allocates(nn.Module):
    """Touches ``mb`` MiB of fresh memory during its forward."""

    def __init__(self, mb):
        super().__init__()
        self.mb = mb

    def forward(self, x):
        if self.mb:
            big = torch.ones(self.mb * 2**18)  # float32: mb MiB, written (resident)
            x = x + big[:1].sum()
        return x


class Toy(nn.Module):

    def __init__(self):
        super().__init__()
        self.backbone = Allocates(96)
        self.decode_head = Allocates(0)

    def _forward(self, inputs, data_samples=None):
        return self.decode_head(self.backbone(inputs))


batches = [dict(inputs=torch.zeros(1, 3, 2, 2), data_samples=[object()])]
result = benchmark_model(Toy().eval(), batches, warmup=1, repeats=2,
                         parts=['backbone', 'decode_head'])
print(json.dumps(dict(whole=result['peak_memory_mb'],
                      backbone=result['parts']['backbone']['peak_memory_mb'],
                      head=result['parts']['decode_head']['peak_memory_mb'],
                      table='peak MB' in format_benchmark(result))))
'''


@pytest.mark.skipif(not _MemoryProbe(torch.device('cpu')).available,
                    reason='needs /proc/self/clear_refs (Linux) for the peak RSS')
def test_peak_memory_per_model_and_part():
    out = subprocess.run([sys.executable, '-c', SCRIPT], capture_output=True, text=True,
                         check=True).stdout
    peaks = json.loads(out.strip().splitlines()[-1])
    assert 80 <= peaks['whole'] <= 200
    assert 80 <= peaks['backbone'] <= 200
    assert peaks['head'] < 20
    assert peaks['table']


def test_cpu_growth_of_zero_is_reported_as_not_measurable():
    # A whole forward in a process that already holds the pages (e.g. after training) shows no
    # RSS growth: that is "not measurable", never "0 MB".
    from mmeffseg.analysis.timing import _ModelSeries
    batch = dict(inputs=torch.zeros(1, 3, 4, 4), data_samples=[None])
    series = _ModelSeries(torch.nn.Identity(), [batch], ['x'], 'tensor')
    assert series._megabytes([0, None]) is None and series._megabytes([]) is None
    assert series._megabytes([2**20, 3 * 2**20]) == 3.0
