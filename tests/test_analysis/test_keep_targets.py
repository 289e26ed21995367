"""Pruning layers report the share they were trained to keep next to the share they kept."""
import pytest
import torch
import torch.nn as nn

from mmeffseg.analysis import collect_dynamic_stats, dynamic_figures, summarize_dynamic_stats


class _Selector(nn.Module):
    def __init__(self, kept, target=None):
        super().__init__()
        self.last_keep_ratio = torch.tensor(kept)
        if target is not None:
            self.keep_target = target


def _model(*selectors):
    return nn.Sequential(*selectors)


def test_targets_follow_keep_ratios_layer_by_layer():
    model = _model(_Selector([0.72, 0.70], 0.7), _Selector([0.5, 0.4], 0.49))
    trace = collect_dynamic_stats(model)
    assert trace['0'] == {'keep_ratio': pytest.approx([0.72, 0.70]),
                          'keep_target': [0.7, 0.7]}
    figures = dynamic_figures(summarize_dynamic_stats([trace, trace]))
    assert figures['keep_target_per_layer'] == pytest.approx([0.7, 0.49])
    assert figures['keep_ratio_per_layer'] == pytest.approx([0.71, 0.45])


def test_no_targets_unless_every_pruning_layer_has_one():
    # A list with a hole would pair targets with the wrong layers.
    partial = _model(_Selector([0.7], 0.7), _Selector([0.5]))
    figures = dynamic_figures(summarize_dynamic_stats([collect_dynamic_stats(partial)]))
    assert figures['keep_ratio_per_layer'] == pytest.approx([0.7, 0.5])
    assert figures['keep_target_per_layer'] is None
    dense = dynamic_figures(summarize_dynamic_stats([collect_dynamic_stats(nn.Linear(2, 2))]))
    assert dense['keep_target_per_layer'] is None and dense['keep_ratio_per_layer'] is None
