import pytest
import torch

from mmeffseg.models.backbones.reducer_vit import ReducerViT
from mmeffseg.models.token_reducers import TokenSelector, set_token_pruning

from _pruning_tiny import (EMBED, PRUNE_LAYERS, TARGETS, VIT, build_pair, force_log_probs,
                           selector_cfgs)


def _max_diff(outs_a, outs_b):
    return max((a - b).abs().max().item() for a, b in zip(outs_a, outs_b))


@pytest.mark.parametrize('with_cls_token', [True, False])
def test_keep_all_reproduces_dense(with_cls_token):
    dense, pruned = build_pair(with_cls_token=with_cls_token)
    set_token_pruning(pruned, keep_all=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert _max_diff(dense(x), pruned(x)) <= 1e-5
        # Also through the gather/scatter path: threshold 0 keeps every token.
        set_token_pruning(pruned, keep_all=False, threshold=0.0)
        for sel in pruned.reducers:
            sel.scorer[3].bias.data = torch.tensor([5.0, -5.0])
        assert _max_diff(dense(x), pruned(x)) <= 1e-5


def test_training_keep_all_reproduces_dense():
    dense, pruned = build_pair()
    set_token_pruning(pruned, keep_all=True)
    dense.train()
    pruned.train()
    x = torch.randn(2, 3, 64, 64)
    assert _max_diff(dense(x), pruned(x)) <= 1e-5
    assert pruned.aux_losses == {}


def test_pruning_changes_outputs_and_pruned_tokens_keep_features():
    _, pruned = build_pair(with_cls_token=False)
    x = torch.randn(1, 3, 64, 64)
    keep = torch.zeros(1, 64, dtype=torch.bool)
    keep[0, ::3] = True
    # Only the last block prunes; capture its input (the output of block 2) with a hook.
    for sel in pruned.reducers:
        sel.keep_all = sel.layer != 3
    force_log_probs(pruned.reducers[2], keep)
    captured = {}
    handle = pruned.layers[2].register_forward_hook(lambda m, i, o: captured.update(x=o))
    with torch.no_grad():
        out = pruned(x)[-1]
    handle.remove()
    # final_norm follows the last block: compare through the same norm.
    before = pruned.norm1(captured['x'])
    out_tokens = out.flatten(2).transpose(1, 2)
    assert torch.allclose(out_tokens[0, ~keep[0]], before[0, ~keep[0]], atol=1e-6)
    assert not torch.allclose(out_tokens[0, keep[0]], before[0, keep[0]], atol=1e-3)
    assert pruned.reducers[2].last_keep_ratio.item() == pytest.approx(keep.float().mean().item())
    assert pruned.last_book.block_counts[3].tolist() == [int(keep.sum())]


@pytest.mark.parametrize('with_cls_token', [True, False])
def test_sparse_inference_equals_masked_training_path(with_cls_token):
    """Gather/run/scatter at inference gives what the masked block computes in training."""
    _, pruned = build_pair(with_cls_token=with_cls_token)
    torch.manual_seed(1)
    x = torch.randn(3, 3, 64, 64)
    masks = [torch.rand(3, 64) < r for r in (0.8, 0.5, 0.3)]
    masks[1][2] = False  # an image whose tokens are all pruned: one must come back
    for sel, keep in zip(pruned.reducers, masks):
        force_log_probs(sel, keep)
    with torch.no_grad():
        sparse = pruned(x)
        sparse_masks = [sel.last_keep_mask.clone() for sel in pruned.reducers]
        # Same decisions through the training path: with log-probabilities of 0 / -1e4 the
        # hard Gumbel samples are exactly these masks.
        for sel, keep in zip(pruned.reducers, sparse_masks):
            def fixed(tokens, keep=keep):
                kept = keep > 0
                return torch.stack([torch.where(kept, 0.0, -1e4),
                                    torch.where(kept, -1e4, 0.0)], dim=-1)
            sel.keep_log_probs = fixed
        pruned.train()
        masked = pruned(x)
    assert sparse_masks[1][2].sum() == 1
    for sel, keep in zip(pruned.reducers, sparse_masks):
        assert torch.equal(sel.last_keep_mask, keep)
    assert _max_diff(sparse, masked) <= 1e-5


def test_batched_inference_equals_single_images():
    _, pruned = build_pair()
    torch.manual_seed(2)
    for sel in pruned.reducers:
        sel.scorer[3].weight.data.normal_(0, 2.0)
    x = torch.randn(3, 3, 64, 64)
    with torch.no_grad():
        batched = pruned(x)
        ratios = torch.stack([sel.last_keep_ratio for sel in pruned.reducers])
        single = [pruned(x[i:i + 1]) for i in range(3)]
    # Images keep different numbers of tokens, so the batch path pads.
    assert len(set(ratios[1].tolist())) > 1
    for i in range(3):
        assert _max_diff([o[i:i + 1] for o in batched], single[i]) <= 1e-5


def test_reactivation_and_nested_masks():
    x = torch.randn(1, 3, 64, 64)
    first = torch.zeros(1, 64, dtype=torch.bool)
    first[0, :32] = True
    second = torch.zeros(1, 64, dtype=torch.bool)
    second[0, 16:48] = True  # tokens 32..47 were pruned at layer 1 and come back
    for nested in (False, True):
        _, pruned = build_pair(nested=nested)
        force_log_probs(pruned.reducers[0], first)
        force_log_probs(pruned.reducers[1], second)
        with torch.no_grad():
            pruned(x)
        kept = pruned.reducers[1].last_keep_mask[0].bool()
        if nested:
            assert torch.equal(kept, first[0] & second[0])
        else:
            assert torch.equal(kept, second[0])
            assert kept[32:48].all() and not first[0, 32:48].any()


def test_at_least_one_token_per_image():
    _, pruned = build_pair(with_cls_token=False)
    for sel in pruned.reducers:
        sel.scorer[3].bias.data = torch.tensor([-50.0, 50.0])
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        out = pruned(x)
    assert all(torch.isfinite(o).all() for o in out)
    for sel in pruned.reducers:
        assert sel.last_keep_mask.sum(dim=1).tolist() == [1.0, 1.0]
    pruned.train()
    out = pruned(x)
    assert all(torch.isfinite(o).all() for o in out)
    assert pruned.reducers[0].last_keep_mask.sum(dim=1).tolist() == [1.0, 1.0]


def test_training_gradients_and_keep_ratio_loss():
    _, pruned = build_pair()
    pruned.train()
    x = torch.randn(2, 3, 64, 64)
    out = pruned(x)
    losses = pruned.aux_losses
    masks = [sel.last_keep_mask for sel in pruned.reducers]
    expected = 4.0 * sum((m.mean() - t)**2 for m, t in zip(masks, TARGETS)) / len(TARGETS)
    assert losses['loss_keep_ratio'].item() == pytest.approx(expected.item(), rel=1e-5)
    for layer, m in zip(PRUNE_LAYERS, masks):
        assert losses[f'keep_ratio_l{layer}'].item() == pytest.approx(m.mean().item())
    # Straight-through: the task output reaches every selector's MLP ...
    out[-1].sum().backward(retain_graph=True)
    for sel in pruned.reducers[:2]:
        assert sel.scorer[3].weight.grad.abs().sum() > 0
    # ... and the keep-ratio loss alone does too.
    pruned.zero_grad()
    losses['loss_keep_ratio'].backward()
    assert pruned.reducers[0].scorer[1].weight.grad.abs().sum() > 0
    # Evaluation: deterministic, no loss.
    pruned.eval()
    with torch.no_grad():
        a, b = pruned(x), pruned(x)
    assert _max_diff(a, b) == 0 and pruned.aux_losses == {}


def test_gumbel_test_decision_is_explicit():
    _, pruned = build_pair()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        pruned(x)
        det = [sel.last_keep_mask.clone() for sel in pruned.reducers]
        set_token_pruning(pruned, test_decision='gumbel')
        torch.manual_seed(0)
        pruned(x)
        sampled = [sel.last_keep_mask.clone() for sel in pruned.reducers]
    assert any(not torch.equal(a, b) for a, b in zip(det, sampled))


def test_host_build_time_errors():
    with pytest.raises(ValueError, match='layer'):
        ReducerViT(reducers=[dict(type='TokenSelector', layer=4, embed_dims=EMBED,
                                  prune_layers=[4], keep_targets=[0.5])], **VIT)
    # A schedule naming a block the 4-block ViT does not have.
    with pytest.raises(ValueError, match='does not exist'):
        ReducerViT(reducers=[dict(type='TokenSelector', layer=1, embed_dims=EMBED,
                                  prune_layers=[1, 7], keep_targets=[0.5, 0.5])], **VIT)
    with pytest.raises(ValueError, match='one keep target per pruned layer'):
        ReducerViT(reducers=selector_cfgs(keep_targets=[0.5, 0.5]), **VIT)
    with pytest.raises(ValueError, match='outside'):
        ReducerViT(reducers=selector_cfgs(keep_targets=[0.5, 0.5, 1.5]), **VIT)


def test_embed_dims_mismatch_is_clear():
    # Caught when the host is built, not at the first forward.
    with pytest.raises(ValueError, match=f'embed_dims=16 but the tokens have {EMBED} channels'):
        ReducerViT(reducers=selector_cfgs(embed_dims=16), **VIT)
    # A selector used without a host still checks the tokens it gets.
    selector = ReducerViT(reducers=selector_cfgs(), **VIT).reducers[0]
    with pytest.raises(ValueError, match=f'embed_dims={EMBED} but the tokens have 7 channels'):
        selector.keep_log_probs(torch.randn(1, 4, 7))


def test_records_keep_masks_for_visualisation():
    _, pruned = build_pair()
    pruned.record_stages = True
    with torch.no_grad():
        pruned(torch.randn(1, 3, 64, 64))
    stages = [s for s in pruned.last_book.stages if s['name'] == 'prune']
    assert [s['layer'] for s in stages] == PRUNE_LAYERS
    assert stages[0]['keep_mask'].shape == (1, 64)
    assert isinstance(pruned.reducers[0], TokenSelector)
