"""ALGM + token pruning: ALGM's merging, then per-layer selectors on the merged tokens.

Uses the project's real config (Segmenter ViT-T, 256x256 embedded-data variant, random
weights): the config resolves to the intended reducers, everything switched off is mmseg's
Segmenter, merged tokens are then pruned (fewer tokens run, fewer FLOPs than ALGM alone), and a
training step carries the keep-ratio loss and trains the selectors.
"""
import copy
import os.path as osp

import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

import mmeffseg  # noqa: F401  (registers the modules)
from mmeffseg.analysis import count_macs
from mmeffseg.models.detectors import attach_aux_losses
from mmeffseg.models.token_reducers import TokenSelector, set_token_pruning

HERE = osp.dirname(osp.dirname(osp.abspath(__file__)))
REPO = osp.dirname(osp.dirname(HERE))
NAME = 'segmenter_vit-t_mask_1xb4-200i_embedded-semantic-256x256.py'
PROJECT = osp.join(HERE, 'configs', 'algm-token-pruning_' + NAME)
ALGM = osp.join(REPO, 'configs', 'algm', 'algm_' + NAME)
SEGMENTER = osp.join(REPO, 'configs', 'segmenter', NAME)
SIZE = 256


def _build(path: str, options: dict = None):
    from mmseg.registry import MODELS
    cfg = Config.fromfile(path)
    if options:
        cfg.merge_from_dict(options)
    with DefaultScope.overwrite_default_scope('mmseg'):
        return MODELS.build(copy.deepcopy(cfg.model))


def _samples(batch_size: int = 2, num_classes: int = 133):
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    samples = []
    for _ in range(batch_size):
        s = SegDataSample(metainfo=dict(img_shape=(SIZE, SIZE), ori_shape=(SIZE, SIZE),
                                        pad_shape=(SIZE, SIZE)))
        s.gt_sem_seg = PixelData(data=torch.randint(0, num_classes, (1, SIZE, SIZE)))
        samples.append(s)
    return samples


def _smooth_images(batch_size: int = 2) -> torch.Tensor:
    # Smooth images: neighbouring patches look alike, so ALGM merges some of them.
    g = torch.Generator().manual_seed(0)
    coarse = torch.randn(batch_size, 3, 4, 4, generator=g)
    return torch.nn.functional.interpolate(coarse, size=(SIZE, SIZE), mode='bilinear')


def test_config_resolves_to_merge_then_prune():
    cfg = Config.fromfile(PROJECT)
    reducers = [(r['type'], r['layer']) for r in cfg.model.backbone.reducers]
    assert reducers == [('LocalWindowMerge', 0), ('GlobalBipartiteMerge', 4)] + [
        ('TokenSelector', i) for i in range(6, 12)]
    assert cfg.custom_hooks == [dict(type='AuxiliaryLossHook')]
    model = _build(PROJECT)
    selectors = [m for m in model.modules() if isinstance(m, TokenSelector)]
    assert [s.keep_target for s in selectors] == [0.7, 0.7, 0.49, 0.49, 0.343, 0.343]


def test_everything_switched_off_is_segmenter():
    base = _build(SEGMENTER)
    base.init_weights()
    ours = _build(PROJECT, {'model.backbone.reducers.0.tau': 1.01,
                            'model.backbone.reducers.1.threshold': 1.01})
    result = ours.load_state_dict(base.state_dict(), strict=False)
    assert result.missing_keys and all('.scorer.' in k for k in result.missing_keys)
    assert set_token_pruning(ours, keep_all=True) == 6
    base.eval()
    ours.eval()
    x = _smooth_images()
    with torch.no_grad():
        ref = base(x, _samples(), mode='tensor')
        out = ours(x, _samples(), mode='tensor')
    assert ref.shape == out.shape and (ref - out).abs().max().item() <= 1e-5


def test_merged_tokens_are_pruned_and_cost_less_than_algm_alone():
    algm = _build(ALGM).eval()
    ours = _build(PROJECT).eval()
    ours.load_state_dict(algm.state_dict(), strict=False)
    # Random selectors are not decisive; sample their decisions (about half kept).
    set_token_pruning(ours, test_decision='gumbel')
    x = _smooth_images(batch_size=1)
    torch.manual_seed(0)
    macs_algm = count_macs(algm, algm, x, _samples(1), mode='tensor').total('paper')
    macs_ours = count_macs(ours, ours, x, _samples(1), mode='tensor').total('paper')
    counts = [int(c[0]) for c in ours.backbone.last_book.block_counts]
    num_patches = (SIZE // 16) ** 2
    assert counts[0] < num_patches + 1  # ALGM's local merge before block 1
    assert max(counts[6:]) < counts[5]  # selectors run fewer tokens through blocks 7..12
    assert macs_ours < macs_algm


def test_training_step_has_keep_ratio_loss_and_trains_selectors():
    model = _build(PROJECT)
    model.init_weights()
    attach_aux_losses(model)
    model.train()
    losses = model(_smooth_images(), _samples(), mode='loss')
    assert 'decode.loss_ce' in losses and 'loss_keep_ratio' in losses
    assert ('keep_ratio_l6' in losses) and 0.0 <= float(losses['keep_ratio_l6']) <= 1.0
    total = sum(v for k, v in losses.items() if k.startswith(('decode.loss', 'loss_')))
    total.backward()
    selectors = [m for m in model.modules() if isinstance(m, TokenSelector)]
    assert all(any(p.grad is not None and p.grad.abs().sum() > 0 for p in s.parameters())
               for s in selectors)
    # ALGM merged too (per image: the images of the batch keep their own counts)
    assert max(model.backbone.last_book.counts) - 1 < (SIZE // 16) ** 2
