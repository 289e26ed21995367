"""Held-out check: ALGM (``batch_policy='min'``) against the authors' released merge functions.

The released code (github.com/tue-mps/algm-segmenter, ``algm/algm/local_merge.py`` and
``global_merge.py``) is not part of this repository. Point ``ALGM_RELEASE_DIR`` at a checkout's
``algm/algm`` folder (needs ``einops``) to run this test; it is skipped otherwise. The release's
local stage calls ``tensor.cuda(device)``; on a CPU that call is redirected to ``.to(device)``.

It runs the same host blocks twice: once with mmeffseg's reducers, once with the released
functions in their place (merging between the attention and the MLP of blocks 1 and 5, as
their patch does), and compares token counts, merge groups and the restored features.
"""
import importlib.util
import os
from pathlib import Path

import pytest
import torch

from mmeffseg.models.backbones import ReducerViT
from mmeffseg.models.token_reducers import run_attention, run_ffn

RELEASE = os.environ.get('ALGM_RELEASE_DIR')
pytestmark = pytest.mark.skipif(
    not RELEASE or not (Path(RELEASE) / 'global_merge.py').exists(),
    reason='set ALGM_RELEASE_DIR to the released algm/algm folder to compare with it')

VIT = dict(img_size=(128, 128), patch_size=16, embed_dims=64, num_layers=6, num_heads=2,
           mlp_ratio=2, final_norm=True, with_cls_token=True, out_indices=(5, ),
           output_merged=True)
TAU = 0.9


def _release(name):
    pytest.importorskip('einops')
    spec = importlib.util.spec_from_file_location(f'algm_release_{name}',
                                                  Path(RELEASE) / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _images(batch):
    g = torch.Generator().manual_seed(1)
    images = torch.randn(batch, 3, 128, 128, generator=g)
    images[:, :, :32] = 0.5  # flat regions merge locally, more in image 0 than in the others
    images[0, :, :64] = 0.5
    if batch > 1:
        images[1, :, :, 96:] = -0.5
    # Faint noise everywhere: exactly equal scores would leave the choice among tied windows
    # / pairs to each implementation's sort order.
    return images + 0.05 * torch.randn(images.shape, generator=g)


def _reference(vit, inputs, local, global_):
    batch = inputs.shape[0]
    x, hw = vit.patch_embed(inputs)
    x = torch.cat((vit.cls_token.expand(batch, -1, -1), x), dim=1)
    x = vit._pos_embeding(x, hw, vit.pos_embed)
    source, size = None, None
    for i, layer in enumerate(vit.layers):
        if i in (0, 4):
            x = run_attention(layer, x)
            merge = local.conditional_pooling(x, TAU, (2, 2)) if i == 0 else \
                global_.turbo_matching(x, 5, source, True)
            source = local.merge_source(merge, x, source)
            x, size = local.merge_wavg(merge, x, size)
            x = run_ffn(layer, x)
        else:
            x = layer(x)
    x = vit.norm1(x)
    return x, source[:, :, 1:].argmax(1)  # tokens, and the token holding every patch


@pytest.mark.parametrize('batch', [1, 3])
def test_same_merges_as_the_release(batch, monkeypatch):
    local, global_ = _release('local_merge'), _release('global_merge')
    if not torch.cuda.is_available():
        original = torch.Tensor.cuda
        monkeypatch.setattr(
            torch.Tensor, 'cuda',
            lambda self, device=None, **kw: self.to(device) if str(device) == 'cpu' else
            original(self, device, **kw))
    torch.manual_seed(0)
    vit = ReducerViT(reducers=[
        dict(type='LocalWindowMerge', layer=0, tau=TAU, batch_policy='min'),
        dict(type='GlobalBipartiteMerge', layer=4, batch_policy='min')], **VIT)
    vit.eval()  # mmseg's VisionTransformer.train() returns None: no chaining
    inputs = _images(batch)
    with torch.no_grad():
        ours = vit(inputs)[0]
        ref_x, ref_map = _reference(vit, inputs, local, global_)
    book = ours.book
    assert book.counts == [ref_x.shape[1]] * batch
    assert book.counts[0] < 1 + 64 - 3  # both stages merged something
    for b in range(batch):
        ours_groups = book.index_map[b][:, None] == book.index_map[b][None]
        ref_groups = ref_map[b][:, None] == ref_map[b][None]
        assert torch.equal(ours_groups, ref_groups)
    ref_full = ref_x.gather(1, ref_map[..., None].expand(-1, -1, ref_x.shape[-1]))
    assert (book.restore(ours.tokens) - ref_full).abs().max() <= 1e-4
