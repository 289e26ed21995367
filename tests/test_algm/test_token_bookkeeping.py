"""Tests of the shared token bookkeeping (sizes, index map, restore, gather/scatter)."""
import pytest
import torch

from mmeffseg.models.token_reducers import TokenBookkeeping


def _tokens(batch, hw, channels=3, prefix=1, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, prefix + hw[0] * hw[1], channels, generator=g)


def test_initial_state_and_identity_restore():
    book = TokenBookkeeping(2, (3, 4), num_prefix=1)
    x = _tokens(2, (3, 4))
    assert book.sizes.shape == (2, 13) and torch.all(book.sizes == 1)
    assert book.index_map.tolist()[0] == list(range(1, 13))
    assert torch.equal(book.restore(x), x[:, 1:])
    assert torch.equal(book.restore(x[:, 1:]), x[:, 1:])
    assert book.restore_map(x).shape == (2, 3, 3, 4)


def test_merge_size_weighted_average_and_restore():
    book = TokenBookkeeping(1, (2, 3), num_prefix=1)
    x = _tokens(1, (2, 3))
    # Merge patches 1, 2 (seq idx 2, 3) into patch 0 (seq idx 1).
    y = book.merge(x, torch.tensor([[2, 3]]), torch.tensor([[1, 1]]))
    assert y.shape == (1, 5, 3)
    expected = x[0, 1:4].mean(0)
    assert torch.allclose(y[0, 1], expected, atol=1e-6)
    assert book.sizes.tolist() == [[1, 3, 1, 1, 1]]
    assert book.index_map.tolist() == [[1, 1, 1, 2, 3, 4]]
    # Second merge: patch 5 (now token 4) joins the size-3 token: weights 3 and 1.
    z = book.merge(y, torch.tensor([[4]]), torch.tensor([[1]]))
    expected2 = (3 * expected + x[0, 6]) / 4
    assert torch.allclose(z[0, 1], expected2, atol=1e-6)
    assert book.sizes.tolist() == [[1, 4, 1, 1]]
    full = book.restore(z)
    assert full.shape == (1, 6, 3)
    for patch, token in enumerate([1, 1, 1, 2, 3, 1]):
        assert torch.equal(full[0, patch], z[0, token])
    # CLS token untouched.
    assert torch.equal(z[:, 0], x[:, 0])


def test_merge_per_image_assignments():
    book = TokenBookkeeping(2, (1, 4), num_prefix=0)
    x = _tokens(2, (1, 4), prefix=0)
    y = book.merge(x, torch.tensor([[0], [3]]), torch.tensor([[1], [2]]))
    assert torch.allclose(y[0, 0], (x[0, 0] + x[0, 1]) / 2)
    assert torch.allclose(y[1, 2], (x[1, 2] + x[1, 3]) / 2)
    assert book.index_map.tolist() == [[0, 0, 1, 2], [0, 1, 2, 2]]


def test_merge_gradients_flow():
    book = TokenBookkeeping(1, (2, 2), num_prefix=1)
    x = _tokens(1, (2, 2)).requires_grad_()
    y = book.merge(x, torch.tensor([[2]]), torch.tensor([[1]]))
    book.restore(y).sum().backward()
    assert x.grad is not None and torch.all(x.grad[0, 1:] != 0)


def test_merge_bad_input():
    book = TokenBookkeeping(1, (2, 2), num_prefix=1)
    x = _tokens(1, (2, 2))
    with pytest.raises(ValueError, match='CLS'):
        book.merge(x, torch.tensor([[0]]), torch.tensor([[1]]))
    with pytest.raises(ValueError, match='disjoint'):
        book.merge(x, torch.tensor([[1, 2]]), torch.tensor([[2, 3]]))
    with pytest.raises(ValueError, match='repeated'):
        book.merge(x, torch.tensor([[2, 2]]), torch.tensor([[1, 1]]))
    with pytest.raises(ValueError, match='do not match'):
        book.merge(x[:, :3], torch.tensor([[2]]), torch.tensor([[1]]))
    with pytest.raises(ValueError, match='restore'):
        book.restore(x[:, :2])
    with pytest.raises(ValueError, match='grid'):
        TokenBookkeeping(1, (0, 2))


def test_empty_merge_is_identity():
    book = TokenBookkeeping(2, (2, 2))
    x = _tokens(2, (2, 2))
    empty = torch.zeros(2, 0, dtype=torch.long)
    assert book.merge(x, empty, empty) is x
    assert book.is_full_grid


def test_with_prefix_and_per_image_sum_in_both_layouts():
    book = TokenBookkeeping(2, (1, 3), num_prefix=1)
    keep = torch.tensor([[1., 0., 1.], [0., 0., 1.]])
    assert book.with_prefix(keep, 1.0).tolist() == [[1, 1, 0, 1], [1, 0, 0, 1]]
    assert book.per_image_sum(keep).tolist() == [2, 1]
    x = _tokens(2, (1, 3))
    book.merge(x, [torch.tensor([3]), torch.zeros(0, dtype=torch.long)],
               [torch.tensor([2]), torch.zeros(0, dtype=torch.long)])  # counts 3 and 4: packed
    packed_keep = torch.tensor([[1., 0., 0., 1., 1.]])
    assert book.with_prefix(packed_keep, 1.0).tolist() == [[1, 1, 0, 1, 0, 1, 1]]
    assert book.per_image_sum(packed_keep).tolist() == [1, 2]


def test_snapshot_is_frozen_and_proportional_bias():
    book = TokenBookkeeping(1, (2, 2))
    snap = book.snapshot()
    x = _tokens(1, (2, 2))
    book.merge(x, torch.tensor([[2]]), torch.tensor([[1]]))
    assert snap.num_tokens == 5 and book.num_tokens == 4
    assert book.attention_bias() is None
    book.proportional_attn = True
    assert torch.allclose(book.attention_bias(), torch.log(torch.tensor([[1., 2., 1., 1.]])))


def test_block_counts():
    book = TokenBookkeeping(2, (2, 2))
    book.end_block()
    book.set_block_counts(torch.tensor([3, 4]))
    book.end_block()
    assert [c.tolist() for c in book.block_counts] == [[5, 5], [3, 4]]


def test_per_image_merge_packs_tokens_and_restores_each_image():
    book = TokenBookkeeping(2, (1, 4), num_prefix=1)
    x = _tokens(2, (1, 4))
    # Image 0 merges two tokens, image 1 none: counts 3 and 5, packed (1, 8, C).
    y = book.merge(x, [torch.tensor([2, 4]), torch.tensor([], dtype=torch.long)],
                   [torch.tensor([1, 3]), torch.tensor([], dtype=torch.long)])
    assert book.counts == [3, 5] and book.packed and y.shape == (1, 8, 3)
    assert torch.allclose(y[0, 1], (x[0, 1] + x[0, 2]) / 2)
    assert torch.equal(y[0, 3:], x[1])
    assert book.index_map.tolist() == [[1, 1, 2, 2], [1, 2, 3, 4]]
    full = book.restore(y)
    assert full.shape == (2, 4, 3) and torch.equal(full[1], x[1, 1:])
    assert torch.equal(book.restore(book.patch_tokens(y)), full)
    assert torch.equal(book.prefix_tokens(y)[:, 0], x[:, 0])
    assert book.sizes.tolist() == [[1, 2, 2, 1, 1, 1, 1, 1]]
    with pytest.raises(ValueError, match='different numbers'):
        book.num_tokens


def test_reorder_moves_tokens_and_index_map():
    book = TokenBookkeeping(1, (1, 3), num_prefix=1)
    x = _tokens(1, (1, 3))
    y = book.reorder(x, [torch.tensor([0, 3, 1, 2])])
    assert torch.equal(y[0, 1], x[0, 3])
    assert book.index_map.tolist() == [[2, 3, 1]]
    assert torch.equal(book.restore(y), x[:, 1:])
    with pytest.raises(ValueError, match='permutation'):
        book.reorder(y, [torch.tensor([0, 1, 1, 2])])
