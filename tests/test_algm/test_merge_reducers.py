"""ALGM's two reducers: local window merging and global bipartite merging."""
import pytest
import torch
import torch.nn.functional as F
from mmseg.models.backbones.vit import TransformerEncoderLayer

from mmeffseg.models.token_reducers import (GlobalBipartiteMerge, LocalWindowMerge,
                                            TokenBookkeeping)
from mmeffseg.registry import build_token_reducer


def _orthogonal(n, channels=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(channels, channels, generator=g))
    return q[:n]


def test_local_odd_grid_merges_only_full_windows():
    h, w = 3, 5  # windows cover rows 0-1, cols 0-3; row 2 and col 4 stay unmerged
    basis = _orthogonal(16)
    patches = basis[:h * w].clone()
    same = basis[15]
    grid = patches.view(h, w, -1)
    grid[0:2, 0:2] = same            # window (0, 0): identical tokens, score 1
    grid[2, :] = same                # leftover row, identical but must not merge
    grid[:, 4] = same                # leftover column
    x = torch.cat([same[None], patches]).unsqueeze(0)  # CLS identical too: never merged
    book = TokenBookkeeping(1, (h, w))
    reducer = LocalWindowMerge(layer=0, tau=0.9)
    src, dst = reducer.assign(x, book)
    assert sorted(src[0].tolist()) == [2, 6, 7]  # patches 1, 5, 6 (+1 for CLS)
    assert dst[0].tolist() == [1, 1, 1]
    y = book.merge(x, src, dst)
    assert y.shape[1] == 1 + h * w - 3
    assert book.restore(y).shape == (1, h * w, 16)
    assert book.sizes[0].tolist().count(4.0) == 1


def test_local_window_score_is_offdiagonal_mean():
    reducer = LocalWindowMerge(tau=0.5)
    patches = torch.randn(1, 4, 8)
    scores, index = reducer.window_scores(patches, (2, 2))
    unit = F.normalize(patches[0], dim=-1)
    gram = unit @ unit.T
    expected = (gram.sum() - gram.trace()) / 12
    assert torch.allclose(scores[0, 0], expected, atol=1e-6)
    assert index.tolist() == [[0, 1, 2, 3]]


def test_local_min_policy_uses_minimum_count():
    basis = _orthogonal(16)
    img0 = basis[:16].clone().view(4, 4, -1)
    img0[0:2, 0:2] = basis[0]  # score 1: the window image 0 merges first
    for k, (r, c) in enumerate([(2, 2), (2, 3), (3, 2), (3, 3)]):
        img0[r, c] = basis[1] + 0.1 * basis[4 + k]  # score 1 / 1.01 ~ 0.99
    img1 = basis[:16].clone().view(4, 4, -1)
    img1[0:2, 2:4] = basis[3]
    x = torch.stack([img0.reshape(16, -1), img1.reshape(16, -1)])
    book = TokenBookkeeping(2, (4, 4), num_prefix=0)
    src, dst = LocalWindowMerge(tau=0.95, batch_policy='min').assign(x, book)
    assert [s.numel() for s in src] == [3, 3]
    assert dst[0].tolist() == [0, 0, 0]  # image 0: its best window (score exactly 1)
    assert dst[1].tolist() == [2, 2, 2]


def test_local_switched_off_and_bad_config():
    block = TransformerEncoderLayer(embed_dims=16, num_heads=2, feedforward_channels=32).eval()
    x = torch.zeros(1, 17, 16)  # all tokens identical: everything would merge
    book = TokenBookkeeping(1, (4, 4))
    with torch.no_grad():
        y = LocalWindowMerge(tau=1.01)(block, x, book)
        assert torch.equal(y, block(x))
    assert book.is_full_grid
    with pytest.raises(ValueError, match='larger than'):
        LocalWindowMerge(window_size=4).check_config(12, (3, 8))
    with pytest.raises(ValueError, match='window_size'):
        LocalWindowMerge(window_size=1)
    with pytest.raises(ValueError, match='tau'):
        LocalWindowMerge(tau='high')
    # Local merging must see the full grid.
    book.merge(x, torch.tensor([[2]]), torch.tensor([[1]]))
    with pytest.raises(ValueError, match='full token grid'):
        LocalWindowMerge(tau=0.5).assign(x[:, :16], book)


def test_local_merges_in_block_between_attention_and_mlp():
    torch.manual_seed(0)
    block = TransformerEncoderLayer(embed_dims=16, num_heads=2, feedforward_channels=32).eval()
    x = torch.randn(1, 1, 16).expand(1, 17, 16).clone()  # identical tokens
    book = TokenBookkeeping(1, (4, 4))
    with torch.no_grad():
        y = LocalWindowMerge(tau=0.9)(block, x, book)
    assert y.shape == (1, 5, 16)  # CLS + one token per window
    assert [c for c in book.sizes[0].tolist()] == [1, 4, 4, 4, 4]


def test_global_auto_threshold():
    basis = _orthogonal(8)
    # Sequence: CLS at 0, patches at 1..8. A = positions 0 (CLS), 2, 4, 6, 8; B = 1, 3, 5, 7.
    # Patch 1 (position 2, in A) duplicates patch 6 (position 7, in B).
    patches = basis.clone()
    patches[1] = patches[6]
    x = torch.cat([torch.randn(1, 16), patches]).unsqueeze(0)
    book = TokenBookkeeping(1, (2, 4))
    reducer = GlobalBipartiteMerge(layer=4)
    assert reducer.layer_number == 5
    # Best similarities of the A tokens (CLS excluded): [1, 0, 0, 0]; threshold
    # 0.25 + 0.5 / 5 = 0.35: only position 2 merges.
    src, dst = reducer.assign(x, book)
    assert [s.tolist() for s in src] == [[2]] and [d.tolist() for d in dst] == [[7]]
    y = book.merge(x, src, dst)
    assert y.shape[1] == 8 and book.index_map[0, 1] == book.index_map[0, 6]
    # Fixed threshold above 1: switched off.
    off = GlobalBipartiteMerge(layer=4, threshold=1.5)
    assert not off.enabled


def test_global_several_a_into_one_b_and_batch_min():
    # No prefix: A = positions 0, 2, 4, 6; B = 1, 3, 5, 7.
    basis = _orthogonal(8)
    img0 = basis.clone()
    img0[0] = img0[1]
    img0[2] = img0[1]  # A0 and A1 both duplicate B0
    img1 = basis.clone()
    img1[4] = img1[5]
    x = torch.stack([img0, img1])
    book = TokenBookkeeping(2, (2, 4), num_prefix=0)
    src, dst = GlobalBipartiteMerge(layer=4, threshold=0.99, batch_policy='min').assign(x, book)
    assert [s.numel() for s in src] == [1, 1]  # image 1 can merge only one: batch minimum
    y = book.merge(x, src, dst)
    assert y.shape == (2, 7, 16)
    book2 = TokenBookkeeping(1, (2, 4), num_prefix=0)
    src, dst = GlobalBipartiteMerge(layer=4, threshold=0.99).assign(x[:1], book2)
    assert sorted(src[0].tolist()) == [0, 2] and dst[0].tolist() == [1, 1]
    y = book2.merge(x[:1], src, dst)
    assert book2.sizes[0].tolist()[0] == 3


def test_registry_build_and_bad_values():
    r = build_token_reducer(dict(type='LocalWindowMerge', layer=0, tau=0.9))
    assert isinstance(r, LocalWindowMerge) and r.tau == 0.9
    r = build_token_reducer(dict(type='GlobalBipartiteMerge', layer=6))
    assert r.layer_number == 7
    with pytest.raises(ValueError, match='layer_number'):
        GlobalBipartiteMerge(layer=4, layer_number=0)
    with pytest.raises(ValueError, match='threshold'):
        GlobalBipartiteMerge(layer=4, threshold='auto')
