"""Numeric token-reducer settings given as strings are refused by key, not a bare TypeError."""
import pytest
import torch.nn as nn

from mmeffseg.models.token_reducers.global_bipartite_merge import GlobalBipartiteMerge
from mmeffseg.models.token_reducers.local_window_merge import LocalWindowMerge
from mmeffseg.models.token_reducers.token_selector import TokenSelector, set_token_pruning


@pytest.mark.parametrize('key,value', [('threshold', '0.5'), ('tau', '0.1'),
                                       ('loss_weight', '4'), ('threshold', True)])
def test_token_selector_names_the_key(key, value):
    with pytest.raises(ValueError, match=rf"TokenSelector: {key} must be a number, got "
                       rf"{value!r}"):
        TokenSelector(layer=3, embed_dims=16, **{key: value})


@pytest.mark.parametrize('value', [4.0, '4', 0])
def test_token_selector_integer_setting_refuses_non_integers(value):
    with pytest.raises(ValueError, match=rf'hidden_ratio must be an int >= 1, got {value!r}'):
        TokenSelector(layer=3, embed_dims=16, hidden_ratio=value)


def test_set_token_pruning_threshold_string():
    with pytest.raises(ValueError, match="threshold must be a number, got '0.5'"):
        set_token_pruning(nn.Identity(), threshold='0.5')


def test_merge_reducers_name_the_key():
    with pytest.raises(ValueError, match="LocalWindowMerge: tau must be a number"):
        LocalWindowMerge(layer=0, tau='0.9')
    with pytest.raises(ValueError, match="GlobalBipartiteMerge: threshold must be None"):
        GlobalBipartiteMerge(layer=4, threshold='0.9')


def test_numbers_still_accepted():
    selector = TokenSelector(layer=3, embed_dims=16, threshold=0, tau=2, loss_weight=1)
    assert (selector.threshold, selector.tau, selector.loss_weight) == (0.0, 2.0, 1.0)
    assert isinstance(selector.tau, float)


@pytest.mark.parametrize('schedule, bad', [([1, 2.5, 3], '2.5'), ([1, 2.0, 3], '2.0'),
                                           ([1, True, 3], 'True'), ([1, '2', 3], "'2'")])
def test_level_schedule_refuses_non_integers(schedule, bad):
    from mmeffseg.models.encoders import ScheduledDeformableEncoder
    from mmeffseg.testing.tiny_pixel_decoder import tiny_encoder
    with pytest.raises(ValueError, match=rf'ScheduledDeformableEncoder: level_schedule=.* entry '
                                         rf'must be an integer, got {bad}'):
        ScheduledDeformableEncoder(level_schedule=schedule, **tiny_encoder(3))


@pytest.mark.parametrize('value', ['0.1', None, True])
def test_token_recalibration_temperature_names_the_key(value):
    from mmeffseg.models.encoders.token_recalibration import TokenRecalibration
    with pytest.raises(ValueError, match=rf'TokenRecalibration: temperature must be a number, '
                                         rf'got {value!r}'):
        TokenRecalibration(embed_dims=16, temperature=value)
    assert TokenRecalibration(embed_dims=16, temperature=1).temperature == 1.0
