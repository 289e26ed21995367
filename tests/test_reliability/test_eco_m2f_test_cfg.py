"""ECO-M2F refuses unknown test_cfg keys with the closest known key (issue 14)."""
import pytest

from mmeffseg.testing.tiny_eco_m2f import build_tiny, tiny_mask2former_cfg
from mmeffseg.testing.tiny_eco_m2f_segmentor import build_tiny_seg

MMDET_TEST_CFG = tiny_mask2former_cfg()['test_cfg']


@pytest.mark.parametrize('typo, suggestion', [
    ('exit_layer', 'exit_layers'),
    ('exitlayers', 'exit_layers'),
    ('panoptic_onn', 'panoptic_on'),
])
def test_mmdet_host_refuses_misspelt_key(typo, suggestion):
    with pytest.raises(ValueError, match=rf"EcoM2F: unknown test_cfg key '{typo}'; did you mean "
                                         rf"'{suggestion}'"):
        build_tiny(test_cfg=dict(MMDET_TEST_CFG, **{typo: 3}))


def test_mmdet_host_accepts_its_keys_and_the_exit():
    model = build_tiny(test_cfg=dict(MMDET_TEST_CFG, exit_layers=3))
    assert model.inference_exit() == 3


def test_mmseg_host_refuses_misspelt_key():
    with pytest.raises(ValueError, match=r"EcoM2FSegmentor: unknown test_cfg key 'mod'; did you "
                                         r"mean 'mode'"):
        build_tiny_seg(test_cfg=dict(mod='whole'))
    with pytest.raises(ValueError, match=r"unknown test_cfg key 'panoptic_on'.*known keys"):
        build_tiny_seg(test_cfg=dict(mode='whole', panoptic_on=True))  # an mmdet key
    assert build_tiny_seg(test_cfg=dict(mode='whole', exit_layers=2)).inference_exit() == 2
