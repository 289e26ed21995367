"""max_filter2d equals PyTorch's stride-1 max-pool; LPE uses it at inference only."""
import pytest
import torch
import torch.nn.functional as F

from mmeffseg.models.pixel_decoders import LightPixelEmbedding
from mmeffseg.ops import max_filter2d


@pytest.mark.parametrize('k', [1, 3, 5])
@pytest.mark.parametrize('hw', [(7, 5), (1, 1), (2, 9)])
def test_equals_max_pool(k, hw):
    x = torch.randn(2, 3, *hw) - 5.0  # all negative: padding must never win
    assert torch.equal(max_filter2d(x, k), F.max_pool2d(x, k, stride=1, padding=k // 2))


@pytest.mark.parametrize('k', [0, 2, -3])
def test_bad_kernel(k):
    with pytest.raises(ValueError, match='positive odd'):
        max_filter2d(torch.zeros(1, 1, 4, 4), k)


def test_lpe_same_in_training_and_inference():
    lpe = LightPixelEmbedding(8, norm_cfg=dict(type='GN', num_groups=2))
    x = torch.randn(2, 8, 6, 10, requires_grad=True)
    train_out = lpe(x)
    train_out.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    with torch.no_grad():
        assert torch.equal(lpe(x), train_out.detach())
