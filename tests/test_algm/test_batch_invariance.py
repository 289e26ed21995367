"""Batch invariance of every token reducer: an image gets in a batch what it gets alone.

With ``batch_policy='per_image'`` (merging) and pruning's packed sparse blocks, each image of a
batch keeps its own token count; its merge groups / keep masks, token counts per block and
outputs must equal those of the same image run alone, for batches of mixed content and
mixed padding. (ECO-M2F's per-image exits are tested with ECO-M2F.)
"""
import pytest
import torch
from mmseg.registry import MODELS

import mmeffseg  # noqa: F401  (registers the modules)
from mmeffseg.models.backbones import ReducerViT
from mmeffseg.models.token_reducers import TokenSelector

EMBED = 32
VIT = dict(img_size=(64, 64), patch_size=8, embed_dims=EMBED, num_layers=4, num_heads=2,
           mlp_ratio=2, final_norm=True, with_cls_token=True, out_indices=(1, 3))
SELECTORS = [dict(type='TokenSelector', layer=i, embed_dims=EMBED, prune_layers=[2, 3],
                  keep_targets=[0.7, 0.5]) for i in (2, 3)]


def _algm(policy):
    return [dict(type='LocalWindowMerge', layer=0, tau=0.9, batch_policy=policy),
            dict(type='GlobalBipartiteMerge', layer=1, batch_policy=policy)]


REDUCERS = {
    'algm': _algm('per_image'),
    'pruning': [dict(s, layer=s['layer'] - 1, prune_layers=[1, 2]) for s in SELECTORS],
    'algm+pruning': _algm('per_image') + SELECTORS,
}


def _images():
    """Mixed content and padding: flat regions merge a lot, noise little; zero padding."""
    g = torch.Generator().manual_seed(3)
    noise = torch.randn(3, 64, 64, generator=g)
    flat = torch.zeros(3, 64, 64)
    flat[:, :32] = 1.0
    flat[:, 32:, 40:] = -1.0
    padded = torch.randn(3, 64, 64, generator=g)
    padded[:, 40:] = 0.0  # an image padded at the bottom
    padded[:, :, 48:] = 0.0  # and on the right
    return torch.stack([noise, flat, padded])


def _host(reducers, **kwargs):
    torch.manual_seed(0)
    host = ReducerViT(reducers=reducers, **dict(VIT, **kwargs))
    host.init_weights()
    with torch.no_grad():  # visible changes per block, mixed keep decisions
        for p in host.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    host.eval()
    return host


def _run(host, images):
    with torch.no_grad():
        outs = host(images)
    counts = torch.stack(host.last_book.block_counts, dim=1)  # (B, blocks)
    keeps = [m.last_keep_mask.clone() for m in host.reducers if isinstance(m, TokenSelector)]
    return outs, counts, host.last_book.index_map.clone(), keeps, list(host.last_book.counts)


@pytest.mark.parametrize('name', sorted(REDUCERS))
def test_image_alone_equals_image_in_batch(name):
    host = _host(REDUCERS[name])
    images = _images()
    outs, counts, index_map, keeps, final = _run(host, images)
    assert len({tuple(c.tolist()) for c in counts}) == 3, 'test needs different counts'
    for i in range(3):
        outs_i, counts_i, map_i, keeps_i, _ = _run(host, images[i:i + 1])
        assert counts_i[0].tolist() == counts[i].tolist()
        assert torch.equal(map_i[0], index_map[i])  # same merge groups, same token order
        for o, o_i in zip(outs, outs_i):
            assert (o[i] - o_i[0]).abs().max() <= 1e-4
        for k, k_i in zip(keeps, keeps_i):
            if k.shape[0] == 3:  # rectangular batch: row i
                assert torch.equal(k[i], k_i[0])
            else:  # packed: image i's stretch of patch tokens (pruning keeps the counts)
                sizes = [c - 1 for c in final]
                start = sum(sizes[:i])
                assert torch.equal(k[0, start:start + sizes[i]], k_i[0])


def test_min_policy_holds_images_at_the_batch_minimum():
    host = _host(_algm('min'))
    images = _images()
    counts = _run(host, images)[1]
    assert len({tuple(c.tolist()) for c in counts}) == 1  # rectangular
    alone = [_run(host, images[i:i + 1])[1][0] for i in range(3)]
    assert any(a.tolist() != counts[0].tolist() for a in alone)


def test_segmenter_head_on_packed_tokens_equals_alone():
    host = _host(_algm('per_image'), output_merged=True, out_indices=(3, ))
    head = MODELS.build(dict(type='MergedSegmenterMaskTransformerHead', in_channels=EMBED,
                             channels=EMBED, num_classes=5, num_layers=1, num_heads=2,
                             embed_dims=EMBED, dropout_ratio=0.0))
    head.eval()
    images = _images()
    with torch.no_grad():
        merged = host(images)
        assert merged[0].book.packed
        masks = head(merged)
        for i in range(3):
            alone = head(host(images[i:i + 1]))
            assert (masks[i] - alone[0]).abs().max() <= 1e-4
