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


@pytest.mark.parametrize('k', [1, 3, 5])
def test_inplace_writes_the_input(k):
    x = torch.randn(2, 4, 9, 6)
    expected = F.max_pool2d(x, k, stride=1, padding=k // 2)
    kept = x.clone()
    assert torch.equal(max_filter2d(x, k), expected)
    assert torch.equal(x, kept)  # not in place by default
    out = max_filter2d(x, k, inplace=True)
    assert out.data_ptr() == x.data_ptr() and torch.equal(x, expected)


def test_non_contiguous_input():
    x = torch.randn(2, 6, 5, 7).permute(0, 3, 1, 2)  # a channel-last view, as the FPN's maps
    assert torch.equal(max_filter2d(x), F.max_pool2d(x, 3, stride=1, padding=1))


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


def test_lpe_inplace_filters_its_input_at_inference_only():
    lpe = LightPixelEmbedding(8, norm_cfg=dict(type='GN', num_groups=2), inplace=True)
    ref = LightPixelEmbedding(8, norm_cfg=dict(type='GN', num_groups=2))
    x = torch.randn(2, 8, 6, 10)
    expected = ref(x)
    with torch.no_grad():
        out = lpe(x.clone())
        kept = x.clone()
        lpe(x)
    assert torch.equal(out, expected)
    assert torch.equal(x, F.max_pool2d(kept, 3, stride=1, padding=1))
    leaf = kept.clone().requires_grad_()
    lpe(leaf).sum().backward()  # training: PyTorch's pool, the input is left alone
    assert torch.equal(leaf.detach(), kept) and leaf.grad is not None
