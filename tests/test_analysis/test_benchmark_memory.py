"""The benchmark's peak memory per model and part (CPU: growth of the process's peak RSS)."""
import pytest
import torch
import torch.nn as nn

from mmeffseg.analysis import benchmark_model, format_benchmark
from mmeffseg.analysis.timing import _MemoryProbe


class _Allocates(nn.Module):
    """Touches ``mb`` MiB of fresh memory during its forward."""

    def __init__(self, mb: int) -> None:
        super().__init__()
        self.mb = mb

    def forward(self, x):
        if self.mb:
            big = torch.ones(self.mb * 2**18)  # float32: mb MiB, written (resident)
            x = x + big[:1].sum()
        return x


class _Toy(nn.Module):

    def __init__(self):
        super().__init__()
        self.backbone = _Allocates(96)
        self.decode_head = _Allocates(0)

    def _forward(self, inputs, data_samples=None):
        return self.decode_head(self.backbone(inputs))


@pytest.mark.skipif(not _MemoryProbe(torch.device('cpu')).available,
                    reason='needs /proc/self/clear_refs (Linux) for the peak RSS')
def test_peak_memory_per_model_and_part():
    batches = [dict(inputs=torch.zeros(1, 3, 2, 2), data_samples=[object()])]
    result = benchmark_model(_Toy().eval(), batches, warmup=1, repeats=2,
                             parts=['backbone', 'decode_head'])
    assert 80 <= result['peak_memory_mb'] <= 200
    assert 80 <= result['parts']['backbone']['peak_memory_mb'] <= 200
    assert result['parts']['decode_head']['peak_memory_mb'] < 20
    assert 'peak MB' in format_benchmark(result)
