"""ALGM's published function, fact by fact, on small hand-made inputs.

1. the global stage splits the whole sequence, CLS included, into A (even positions) and
   B (odd positions); A merges into B; the CLS token (position 0, in A) never merges;
2. after the local stage the tokens are [CLS, merged windows in descending window score,
   unmerged tokens in raster order];
3. in a batch (``batch_policy='min'``) the automatic threshold is one value: the mean over
   images of each image's mean best similarity plus the mean over images of each image's
   std divided by the layer number; every image merges the batch minimum.
"""
import torch
import torch.nn.functional as F

from mmeffseg.models.token_reducers import (GlobalBipartiteMerge, LocalWindowMerge,
                                            TokenBookkeeping)


def _basis(n=16):
    return torch.eye(n)


def _unit(v):
    return F.normalize(v, dim=-1)


def test_global_parity_over_whole_sequence_cls_in_a():
    e = _basis()
    # Sequence positions: 0 = CLS (A), 1 (B), 2 (A), 3 (B), 4 (A), ...
    x = torch.stack([e[1], e[1], e[1], e[3], e[4], e[5], e[6], e[7], e[8]])[None]
    # CLS duplicates position 1 but never merges; position 2 (A) duplicates position 1 (B).
    book = TokenBookkeeping(1, (2, 4))
    src, dst = GlobalBipartiteMerge(layer=4, threshold=0.99).assign(x, book)
    assert src[0].tolist() == [2] and dst[0].tolist() == [1]
    # The patch-only split (A = patches 0, 2, ... = positions 1, 3, ...) would have made
    # position 1 a source instead: position 2 must be the source here.
    y = book.merge(x, src, dst)
    assert torch.equal(y[0, 0], x[0, 0]) and y.shape[1] == 8
    assert book.index_map[0, :2].tolist() == [1, 1]


def test_global_odd_position_never_a_source():
    e = _basis()
    # Position 3 (B) duplicates position 1 (B): B tokens do not merge with each other.
    x = torch.stack([e[0], e[1], e[2], e[1], e[4], e[5], e[6], e[7], e[8]])[None]
    src, _ = GlobalBipartiteMerge(layer=4, threshold=0.99).assign(x, TokenBookkeeping(1, (2, 4)))
    assert src[0].numel() == 0


def test_local_order_cls_then_windows_by_score_then_raster():
    e = _basis(20)
    grid = e[:16].clone().reshape(4, 4, -1)  # all orthogonal: no window merges
    grid[2:4, 2:4] = e[16]  # window 3 (patches 10, 11, 14, 15): score 1
    for k, (r, c) in enumerate([(0, 2), (0, 3), (1, 2), (1, 3)]):  # window 1: score ~0.99
        grid[r, c] = _unit(e[17] + 0.1 * e[k])
    x = torch.cat([e[19][None], grid.reshape(16, -1)])[None]
    block = _identity_block()
    book = TokenBookkeeping(1, (4, 4))
    with torch.no_grad():
        y = LocalWindowMerge(tau=0.95)(block, x, book)
    # CLS, window 3 (higher score), window 1, then patches 0, 1, 4, 5, 8, 9, 12, 13.
    expected = {10: 1, 11: 1, 14: 1, 15: 1, 2: 2, 3: 2, 6: 2, 7: 2,
                0: 3, 1: 4, 4: 5, 5: 6, 8: 7, 9: 8, 12: 9, 13: 10}
    assert book.index_map[0].tolist() == [expected[p] for p in range(16)]
    assert torch.allclose(y[0, 1], e[16]) and torch.equal(y[0, 0], x[0, 0])
    assert torch.allclose(y[0, 3], x[0, 1])
    assert book.sizes[0].tolist() == [1, 4, 4] + [1] * 8


def _identity_block():
    """A block whose attention and MLP add nothing: the merge is all that happens."""
    from mmseg.models.backbones.vit import TransformerEncoderLayer
    block = TransformerEncoderLayer(embed_dims=20, num_heads=2, feedforward_channels=8).eval()
    with torch.no_grad():
        block.attn.attn.out_proj.weight.zero_()
        block.attn.attn.out_proj.bias.zero_()
        block.ffn.layers[1].weight.zero_()
        block.ffn.layers[1].bias.zero_()
    return block


def _threshold_batch():
    """Two images of CLS + 8 tokens: A = positions 2, 4, 6, 8; B = 1, 3, 5, 7 = e0..e3."""
    e = _basis()
    b_tokens = [e[0], e[1], e[2], e[3]]
    img0_a = [e[0], _unit(e[1] + 0.1 * e[8]), _unit(e[2] + 0.2 * e[9]), _unit(e[3] + e[4])]
    img1_a = [e[0], _unit(e[1] + e[5]), _unit(e[2] + 1.02 * e[6]), e[7]]
    images = []
    for a_tokens in (img0_a, img1_a):
        seq = [e[15]]
        for a, b in zip(a_tokens, b_tokens):
            seq += [b, a]
        images.append(torch.stack(seq))
    return torch.stack(images)


def test_batch_threshold_is_one_value_and_count_is_batch_minimum():
    x = _threshold_batch()
    layer_number = 5
    best = []
    for img in x:
        b, _ = GlobalBipartiteMerge.best_matches(img, 1)
        best.append(b[1:])  # A tokens without CLS
    # Hand values: image 0 best = [1, .995, .981, .707], image 1 = [1, .707, .700, 0].
    assert torch.allclose(best[0], torch.tensor([1.0, 0.99504, 0.98058, 0.70711]), atol=1e-4)
    means = torch.stack([b.mean() for b in best])
    stds = torch.stack([b.std() for b in best])
    batch_thr = means.mean() + stds.mean() / layer_number  # 0.818
    per_image_thr = means + stds / layer_number  # 0.949 and 0.687
    assert [int((b >= batch_thr).sum()) for b in best] == [3, 1]
    assert [int((b >= t).sum()) for b, t in zip(best, per_image_thr)] == [3, 3]

    paper = GlobalBipartiteMerge(layer=4, batch_policy='min')
    src, dst = paper.assign(x, TokenBookkeeping(2, (2, 4)))
    # One batch threshold: image 1 has 1 eligible pair, so both merge exactly 1 (the most
    # similar one, position 2 into 1). Per-image thresholds would have allowed 3 each.
    assert [s.tolist() for s in src] == [[2], [2]] and [d.tolist() for d in dst] == [[1], [1]]

    per_image = GlobalBipartiteMerge(layer=4, batch_policy='per_image')
    src, dst = per_image.assign(x, TokenBookkeeping(2, (2, 4)))
    assert [sorted(s.tolist()) for s in src] == [[2, 4, 6], [2, 4, 6]]
    # Alone, each image merges what it merges in the per-image batch.
    for i in range(2):
        alone, _ = per_image.assign(x[i:i + 1], TokenBookkeeping(1, (2, 4)))
        assert sorted(alone[0].tolist()) == sorted(src[i].tolist())


def test_local_batch_minimum_under_min_policy_only():
    e = _basis()
    img0 = e[:16].clone().reshape(4, 4, -1)
    img0[0:2, 0:2] = e[0]
    img0[2:4, 2:4] = e[1]
    img1 = e[:16].clone().reshape(4, 4, -1)
    img1[0:2, 2:4] = e[3]
    x = torch.stack([img0.reshape(16, -1), img1.reshape(16, -1)])
    src, _ = LocalWindowMerge(tau=0.95, batch_policy='min').assign(
        x, TokenBookkeeping(2, (4, 4), num_prefix=0))
    assert [s.numel() for s in src] == [3, 3]
    src, _ = LocalWindowMerge(tau=0.95, batch_policy='per_image').assign(
        x, TokenBookkeeping(2, (4, 4), num_prefix=0))
    assert [s.numel() for s in src] == [6, 3]
