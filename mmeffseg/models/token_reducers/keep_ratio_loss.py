"""Keep-ratio loss and keep-schedule validation for token pruning.

The pruning paper (arXiv 2306.07050) constrains, per pruned layer ``l``, the mean of the 0/1 keep
mask over the batch and the tokens towards a target ``rho_l``:
``loss = weight * mean_l (mean(m_l) - rho_l) ** 2``. Only the batch mean is constrained, so the
keep ratio of each image may vary; a per-image variant, ``mean_i (mean(m_l,i) - rho_l) ** 2``,
constrains every image instead.
"""
from typing import List, Optional, Sequence

from torch import Tensor

# Paper defaults: blocks 4..12 of 12 (0-based 3..11), three layers per target level.
DEFAULT_PRUNE_LAYERS = tuple(range(3, 12))
DEFAULT_KEEP_TARGETS = (0.7, ) * 3 + (0.49, ) * 3 + (0.343, ) * 3


def validate_keep_schedule(prune_layers: Sequence[int], keep_targets: Sequence[float],
                           num_layers: Optional[int] = None) -> List[float]:
    """Check a pruning schedule and return the targets as floats.

    Args:
        prune_layers (Sequence[int]): 0-based indices of the blocks that have a selector.
        keep_targets (Sequence[float]): Keep-ratio target of each pruned block, same order.
        num_layers (int, optional): Number of blocks of the ViT, to check that every pruned
            block exists. Defaults to None (not checked here; the host checks each reducer).

    Returns:
        list[float]: The keep targets.

    Raises:
        ValueError: If the lengths differ, a target lies outside (0, 1], a layer repeats or a
            layer does not exist.
    """
    prune_layers = list(prune_layers)
    keep_targets = list(keep_targets)
    if len(prune_layers) == 0:
        raise ValueError('prune_layers is empty: give the 0-based indices of the pruned blocks, '
                         f'e.g. {list(DEFAULT_PRUNE_LAYERS)}.')
    if len(keep_targets) != len(prune_layers):
        raise ValueError(
            f'keep_targets has {len(keep_targets)} values but there are {len(prune_layers)} '
            f'pruned layers {prune_layers}: give exactly one keep target per pruned layer.')
    for layer, rho in zip(prune_layers, keep_targets):
        if not isinstance(rho, (int, float)) or not 0.0 < float(rho) <= 1.0:
            raise ValueError(f'keep target {rho!r} of layer {layer} is outside (0, 1]: a keep '
                             'ratio is the fraction of tokens kept, e.g. 0.7.')
    if len(set(prune_layers)) != len(prune_layers):
        raise ValueError(f'prune_layers {prune_layers} names a layer twice: one selector per '
                         'layer.')
    for layer in prune_layers:
        out_of_range = (not isinstance(layer, int) or layer < 0
                        or (num_layers is not None and layer >= num_layers))
        if out_of_range:
            bound = f'0..{num_layers - 1}' if num_layers is not None else '>= 0'
            raise ValueError(f'pruned layer {layer!r} does not exist: layers are 0-based '
                             f'block indices ({bound}).')
    return [float(rho) for rho in keep_targets]


def keep_ratio_loss(keep: Tensor, target: float, per_image: bool = False) -> Tensor:
    """Squared distance between the keep ratio of one layer and its target.

    Args:
        keep (Tensor): Keep mask of shape (B, N), 0/1 values that may carry straight-through
            gradients.
        target (float): The keep-ratio target ``rho`` in (0, 1].
        per_image (bool): If True, average the squared error of every image's own keep ratio;
            otherwise (paper) square the error of the batch mean. Defaults to False.

    Returns:
        Tensor: A scalar loss (unweighted).
    """
    if keep.dim() != 2:
        raise ValueError(f'keep mask must have shape (B, N), got {tuple(keep.shape)}.')
    if per_image:
        return (keep.mean(dim=1) - target).pow(2).mean()
    return (keep.mean() - target).pow(2)


def mean_keep_ratio(keep: Tensor) -> Tensor:
    """Per-image fraction of kept tokens of a (B, N) mask, as floats (no gradient)."""
    return keep.detach().float().mean(dim=1)


__all__ = [
    'DEFAULT_PRUNE_LAYERS', 'DEFAULT_KEEP_TARGETS', 'validate_keep_schedule', 'keep_ratio_loss',
    'mean_keep_ratio'
]
