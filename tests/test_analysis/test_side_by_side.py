"""Models measured side by side: weight-sharing variants, per-image counts by hand, one
interleaved timing per batch size, keep ratios of pruning layers (no timed assertions)."""
import pytest
import torch
import torch.nn as nn

from mmeffseg.analysis import (backbone_dynamic_stats, collect_dynamic_stats, dynamic_figures,
                               measure_side_by_side, model_variants, summarize_dynamic_stats)


class _Keep(nn.Module):
    """Like a pruning selector: leaves the share of tokens each image kept on itself."""

    def __init__(self, keep: float = 1.0):
        super().__init__()
        self.keep = keep
        self.last_keep_ratio = None

    def forward(self, x):
        self.last_keep_ratio = torch.full((x.shape[0], ), self.keep)
        return x


class _Toy(nn.Module):
    """``depth`` 4x4 linear layers (16 multiply-adds an image each) and a 4->2 head (8)."""

    def __init__(self, depth: int = 1):
        super().__init__()
        self.backbone = nn.ModuleList(nn.Linear(4, 4, bias=False) for _ in range(depth))
        self.backbone.append(_Keep())
        self.decode_head = nn.Linear(4, 2, bias=False)

    def extract_feat(self, inputs):
        x = inputs.flatten(1)[:, :4]
        for layer in self.backbone:
            x = layer(x)
        return x

    def _forward(self, inputs, data_samples=None):
        return self.decode_head(self.extract_feat(inputs))


def _batches(batch_size: int, count: int = 2):
    return [dict(inputs=torch.ones(batch_size, 3, 2, 2), data_samples=[None] * batch_size)
            for _ in range(count)]


def _set_keep(model: _Toy, keep: float) -> None:
    model.backbone[-1].keep = keep


def test_variants_share_the_weights_but_not_the_settings():
    model = _Toy(2).eval()
    variants = model_variants(model, {k: lambda m, k=k: _set_keep(m, k) for k in (0.25, 0.5)})
    assert list(variants) == [0.25, 0.5]
    for keep, variant in variants.items():
        assert variant is not model and variant.backbone[-1].keep == keep
        assert variant.backbone[0].weight is model.backbone[0].weight
    assert model.backbone[-1].keep == 1.0  # the model itself is unchanged
    with torch.no_grad():
        model.backbone[0].weight.mul_(2)  # one set of weights: a change reaches every copy
    assert torch.equal(variants[0.5].backbone[0].weight, model.backbone[0].weight)


def test_counts_per_image_and_one_timing_per_batch_size(capsys):
    models = dict(one=_Toy(1).eval(), three=_Toy(3).eval())
    rows = measure_side_by_side(models, _batches(1), {1: _batches(1), 2: _batches(2)},
                                dict(backbone='backbone', head='decode_head'), ['backbone'],
                                warmup=0, repeats=2, progress=False)
    assert list(rows) == ['one', 'three']
    for name, depth in (('one', 1), ('three', 3)):
        cost = rows[name]['cost']
        assert cost['backbone_gflops'] == pytest.approx(16 * depth / 1e9)
        assert cost['head_gflops'] == pytest.approx(8 / 1e9)
        assert cost['gflops'] == pytest.approx((16 * depth + 8) / 1e9)
        assert cost['keep_ratio_per_layer'] == [1.0]
        timing = rows[name]['timing']
        assert set(timing) == {'1', '2'}
        # the parts asked for are timed in the tracked series
        assert all(t['throughput'] > 0 and t['backbone_median'] >= 0 for t in timing.values())
    assert capsys.readouterr().out == ''  # progress=False


def test_cost_only_or_timing_only():
    model = _Toy(1).eval()
    variants = model_variants(model, {k: lambda m, k=k: _set_keep(m, k) for k in (0.25, 0.5)})
    rows = measure_side_by_side(variants, _batches(1), progress=False)
    assert [rows[k]['cost']['keep_ratio_per_layer'] for k in (0.25, 0.5)] == [[0.25], [0.5]]
    assert all('timing' not in row for row in rows.values())
    rows = measure_side_by_side(dict(m=model), timing_batches={2: _batches(2)}, warmup=0,
                                repeats=1, progress=False)
    assert set(rows['m']) == {'timing'} and 'backbone_median' not in rows['m']['timing']['2']


def test_bad_requests_fail_clearly():
    model = _Toy(1).eval()
    with pytest.raises(ValueError, match='at least one model'):
        measure_side_by_side({}, _batches(1))
    with pytest.raises(ValueError, match='Nothing to measure'):
        measure_side_by_side(dict(m=model))
    with pytest.raises(ValueError, match='No batch of 4'):
        measure_side_by_side(dict(m=model), timing_batches={4: []}, progress=False)


def test_keep_ratios_over_images():
    model = _Toy(1).eval()
    traces = []
    for keep in (0.2, 0.6):
        _set_keep(model, keep)
        model.extract_feat(torch.ones(2, 3, 2, 2))
        traces.append(collect_dynamic_stats(model))
    assert traces[0] == {'backbone.1': {'keep_ratio': pytest.approx([0.2, 0.2])}}
    summary = summarize_dynamic_stats(traces)['backbone.1']
    assert summary['num_images'] == 4
    assert summary['mean_keep_ratio'] == pytest.approx(0.4)
    assert (summary['min_keep_ratio'], summary['max_keep_ratio']) == pytest.approx((0.2, 0.6))
    figures = dynamic_figures(backbone_dynamic_stats(model, _batches(1, 3)))
    assert figures['keep_ratio_per_layer'] == pytest.approx([0.6])
    assert figures['tokens_per_block'] is None and figures['mean_exit'] is None
    with pytest.raises(ValueError, match='No batches'):
        backbone_dynamic_stats(model, [])
