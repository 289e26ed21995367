"""Token selector: dynamic token pruning with reactivation (arXiv 2306.07050, WACV 2024).

A small MLP in front of a ViT block decides, per token, whether the block processes it. Pruned
tokens are not discarded: they keep their features and go back into the feature map, and since
every selector scores all tokens afresh, a token pruned at one block may come back later.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import print_log
from torch import Tensor

from mmeffseg.registry import TOKEN_REDUCERS
from mmeffseg.utils.config_values import check_number
from .base_token_reducer import BaseTokenReducer
from .block_ops import run_attention, run_block, run_ffn
from .keep_ratio_loss import (DEFAULT_KEEP_TARGETS, DEFAULT_PRUNE_LAYERS, keep_ratio_loss,
                              validate_keep_schedule)
from .token_bookkeeping import TokenBookkeeping

# Key in the bookkeeping's reducer_state of the previous selector's keep mask, used only by
# the nested-mask option (a token once pruned stays pruned).
_NESTED_STATE = 'pruning_keep_mask'
_TEST_DECISIONS = ('threshold', 'gumbel')


@TOKEN_REDUCERS.register_module()
class TokenSelector(BaseTokenReducer):
    """Per-token keep/prune decision in front of one ViT block.

    Scores: ``LayerNorm(C) -> Linear(C, C/4) -> GELU -> Linear(C/4, 2) -> log-softmax``; class
    0 means keep. Prefix (CLS) tokens are always kept and are not counted in keep ratios.

    * Training: a hard Gumbel-softmax sample (straight-through gradients) gives a 0/1 mask
      ``m``; the block runs on all tokens with the pruned ones masked out as keys/values, and
      ``x <- m * block(x) + (1 - m) * x``. The keep-ratio loss pulls the mean of ``m`` towards
      this layer's target.
    * Inference: deterministic, keep iff ``p_keep > threshold`` (0.5); Gumbel sampling only with
      ``test_decision='gumbel'``. The kept tokens are gathered, run through the block and
      scattered back; with several images per batch, each image keeps its own tokens, packed
      without padding (per-token work on all of them at once, attention within each image).
    * At least one patch token per image is always kept.

    The schedule (which blocks have a selector and their targets) is given to every selector, so
    its consistency is checked when the model is built, e.g. in a config::

        prune_layers = [3, 4, 5, 6, 7, 8, 9, 10, 11]
        keep_targets = [0.7] * 3 + [0.49] * 3 + [0.343] * 3
        selector = dict(type='TokenSelector', embed_dims=384, prune_layers=prune_layers,
                        keep_targets=keep_targets)
        reducers = [dict(selector, layer=i) for i in prune_layers]

    Args:
        layer (int): 0-based index of the block this selector gates; must be in
            ``prune_layers``.
        embed_dims (int): Token channels C of the ViT.
        prune_layers (Sequence[int]): All pruned blocks of the model (0-based). Defaults to
            blocks 4..12 of 12, i.e. ``range(3, 12)``.
        keep_targets (Sequence[float]): Keep-ratio target per pruned block, in (0, 1]. Defaults to
            0.7 x3, 0.49 x3, 0.343 x3.
        loss_weight (float): Weight of the keep-ratio loss averaged over the pruned layers (each
            selector contributes ``loss_weight / len(prune_layers)`` times its squared error, and
            the host sums them). Defaults to 4.0.
        per_image_loss (bool): Constrain each image's keep ratio instead of the batch mean.
            Defaults to False.
        nested (bool): A token pruned by an earlier selector stays pruned (the paper's ablation;
            switches reactivation off). Defaults to False.
        tau (float): Gumbel-softmax temperature. Defaults to 1.0.
        test_decision (str): ``'threshold'`` (deterministic) or ``'gumbel'`` (sampled, as the
            released code did). Defaults to ``'threshold'``.
        threshold (float): Keep iff ``p_keep > threshold`` at inference. Defaults to 0.5.
        keep_all (bool): Switch pruning off: the block runs on all tokens as in the dense model
            (no loss). Defaults to False.
        hidden_ratio (int): C divided by the hidden width of the MLP. Defaults to 4.
    """

    def __init__(self,
                 layer: int,
                 embed_dims: int,
                 prune_layers: Sequence[int] = DEFAULT_PRUNE_LAYERS,
                 keep_targets: Sequence[float] = DEFAULT_KEEP_TARGETS,
                 loss_weight: float = 4.0,
                 per_image_loss: bool = False,
                 nested: bool = False,
                 tau: float = 1.0,
                 test_decision: str = 'threshold',
                 threshold: float = 0.5,
                 keep_all: bool = False,
                 hidden_ratio: int = 4) -> None:
        super().__init__(layer)
        targets = validate_keep_schedule(prune_layers, keep_targets)
        prune_layers = list(prune_layers)
        if layer not in prune_layers:
            raise ValueError(f'TokenSelector at layer {layer} is not in prune_layers '
                             f'{prune_layers}: add it there (with its keep target) or move the '
                             'selector.')
        if isinstance(hidden_ratio, bool) or not isinstance(hidden_ratio, int) \
                or hidden_ratio < 1:
            raise ValueError(f'TokenSelector: hidden_ratio must be an int >= 1, got '
                             f'{hidden_ratio!r}.')
        if not isinstance(embed_dims, int) or embed_dims < hidden_ratio:
            raise ValueError(f'TokenSelector: embed_dims must be an int >= {hidden_ratio} (the '
                             f'ViT\'s channels), got {embed_dims!r}.')
        if test_decision not in _TEST_DECISIONS:
            raise ValueError(f'TokenSelector: test_decision {test_decision!r} is not one of '
                             f'{_TEST_DECISIONS}.')
        threshold, tau, loss_weight = (
            check_number(v, k, 'TokenSelector')
            for k, v in (('threshold', threshold), ('tau', tau), ('loss_weight', loss_weight)))
        if not 0.0 <= threshold < 1.0:
            raise ValueError(f'TokenSelector: threshold {threshold!r} must be in [0, 1).')
        if tau <= 0:
            raise ValueError(f'TokenSelector: Gumbel temperature tau must be > 0, got {tau!r}.')
        if loss_weight < 0:
            raise ValueError(f'TokenSelector: loss_weight must be >= 0, got {loss_weight!r}.')
        self.embed_dims = embed_dims
        self.prune_layers = prune_layers
        self.keep_target = targets[prune_layers.index(layer)]
        self.loss_weight = float(loss_weight)
        self.num_pruned_layers = len(prune_layers)
        self.per_image_loss = per_image_loss
        self.nested = nested
        self.tau = float(tau)
        self.test_decision = test_decision
        self.threshold = float(threshold)
        self.keep_all = keep_all

        hidden = embed_dims // hidden_ratio
        self.scorer = nn.Sequential(
            nn.LayerNorm(embed_dims), nn.Linear(embed_dims, hidden), nn.GELU(),
            nn.Linear(hidden, 2), nn.LogSoftmax(dim=-1))

        self._train_keep: Optional[Tensor] = None
        self._train_image_ratios: Optional[Tensor] = None
        self._warned_unused_loss = False
        # Statistics of the last forward, for tools: per-image keep ratio (B,) and mask (B, N).
        self.last_keep_ratio: Optional[Tensor] = None
        self.last_keep_mask: Optional[Tensor] = None

    def check_config(self, num_layers: int, grid_shape: Optional[Tuple[int, int]],
                     embed_dims: Optional[int] = None) -> None:
        """Every pruned layer of the schedule must exist in the host, and the scorer must be
        sized for the host's channels."""
        validate_keep_schedule(self.prune_layers, [self.keep_target] * len(self.prune_layers),
                               num_layers)
        if embed_dims is not None and embed_dims != self.embed_dims:
            raise ValueError(self._embed_dims_error(embed_dims))

    def extra_repr(self) -> str:
        return (f'layer={self.layer}, keep_target={self.keep_target}, nested={self.nested}, '
                f'test_decision={self.test_decision!r}, keep_all={self.keep_all}')

    # ------------------------------------------------------------------ decisions
    def keep_log_probs(self, tokens: Tensor) -> Tensor:
        """Log-probabilities (B, N, 2) of keep (class 0) and prune (class 1)."""
        if tokens.shape[-1] != self.embed_dims:
            raise ValueError(self._embed_dims_error(tokens.shape[-1]))
        return self.scorer(tokens)

    def _embed_dims_error(self, channels: int) -> str:
        return (f'TokenSelector at layer {self.layer} was built for embed_dims='
                f'{self.embed_dims} but the tokens have {channels} channels: set embed_dims to '
                "the ViT's.")

    def _decide(self, log_probs: Tensor, sample: bool, book: TokenBookkeeping) -> Tensor:
        """Keep mask (patch layout) as floats; straight-through gradients when sampled."""
        if sample:
            keep = F.gumbel_softmax(log_probs, tau=self.tau, hard=True, dim=-1)[..., 0]
        else:
            keep = (log_probs[..., 0].exp() > self.threshold).to(log_probs.dtype)
        return self._ensure_one(keep, log_probs, book)

    # -------------------------------------------------------------------- forward
    def forward(self, block: nn.Module, x: Tensor, book: TokenBookkeeping) -> Tensor:
        """Run ``block`` on the tokens this selector keeps; pruned tokens keep their features.

        Args:
            block (nn.Module): The mmseg ``TransformerEncoderLayer`` of this layer.
            x (Tensor): Tokens (B, N, C), prefix (CLS) first, or packed (1, T, C) after
                per-image merging (see :class:`TokenBookkeeping`).
            book (TokenBookkeeping): Per-forward bookkeeping.

        Returns:
            Tensor: Tokens in the layout of ``x``.
        """
        self._train_keep = None
        prefix = book.num_prefix
        patches = book.patch_tokens(x)
        if self.keep_all:
            self.last_keep_mask = patches.new_ones(patches.shape[:2])
            self.last_keep_ratio = self._image_ratios(self.last_keep_mask, book)
            return run_block(block, x, attn_bias=book.attention_bias(),
                             counts=book.attention_counts())

        log_probs = self.keep_log_probs(patches)
        sample = self.training or self.test_decision == 'gumbel'
        keep = self._decide(log_probs, sample, book)
        if self.nested:
            previous = book.reducer_state.get(_NESTED_STATE)
            if previous is not None:
                if previous.shape != keep.shape:
                    raise ValueError(
                        f'TokenSelector (nested=True) at layer {self.layer}: the tokens changed '
                        f'since the previous selector ({tuple(previous.shape)} -> '
                        f'{tuple(keep.shape)}); nested masks need no merging between the '
                        'pruned blocks')
                keep = keep * previous
                keep = self._ensure_one(keep, log_probs, book)
            book.reducer_state[_NESTED_STATE] = keep.detach()

        self.last_keep_mask = keep.detach()
        self.last_keep_ratio = self._image_ratios(keep.detach(), book)
        book.set_block_counts(book.per_image_sum(keep.detach()).round().long() + prefix)
        self._record(book, keep)

        keep_all_tokens = book.with_prefix(keep, 1.0)
        if self.training:
            self._train_keep = keep
            self._train_image_ratios = self._image_ratios(keep, book)
            self._warn_if_loss_unused()
            return self._masked_forward(block, x, keep_all_tokens, book)
        return self._sparse_forward(block, x, keep_all_tokens > 0.5, book)

    @staticmethod
    def _image_ratios(keep: Tensor, book: TokenBookkeeping) -> Tensor:
        """(B,) every image's keep ratio over its patch tokens (differentiable)."""
        patches = book.counts_tensor() - book.num_prefix
        return book.per_image_sum(keep.float()) / patches.to(keep.device).float()

    @staticmethod
    def _ensure_one(keep: Tensor, log_probs: Tensor, book: TokenBookkeeping) -> Tensor:
        """Never prune every token of an image: force its most likely token back in.

        Adding a detached correction keeps the straight-through gradient of that token.
        """
        empty = (book.per_image_sum(keep.detach()) == 0).nonzero()[:, 0].tolist()
        if not empty:
            return keep
        scores = log_probs[..., 0].detach().reshape(-1)
        patch_counts = [c - book.num_prefix for c in book.counts]
        starts = [sum(patch_counts[:b]) for b in range(len(patch_counts))]
        best = torch.zeros_like(scores)
        for b in empty:
            best[starts[b] + int(scores[starts[b]:starts[b] + patch_counts[b]].argmax())] = 1
        best = best.reshape(keep.shape).to(keep.dtype)
        return keep + (best * (1 - keep)).detach()

    @staticmethod
    def _masked_forward(block: nn.Module, x: Tensor, keep: Tensor,
                        book: TokenBookkeeping) -> Tensor:
        """Training: all tokens run, pruned ones are no keys and keep their old features."""
        pruned_keys = keep.detach() < 0.5
        counts = book.attention_counts()
        y = run_attention(block, x, key_padding_mask=pruned_keys, attn_bias=book.attention_bias(),
                          counts=counts)
        y = run_ffn(block, y, counts=counts)
        m = keep.unsqueeze(-1)
        return m * y + (1 - m) * x

    @staticmethod
    def _sparse_forward(block: nn.Module, x: Tensor, keep: Tensor,
                        book: TokenBookkeeping) -> Tensor:
        """Inference: gather the kept tokens, run the block on them only, scatter back.

        The kept tokens of all images are packed without padding (each image keeps its own
        count); per-token work runs once on all of them, attention within each image.
        """
        flat = book.flatten(x)
        run_idx = keep.reshape(-1).nonzero()[:, 0]  # image by image, original order
        counts = book.per_image_sum(
            keep.reshape(-1)[book.patch_positions()].float()).round().long() + book.num_prefix
        tokens = flat[run_idx].unsqueeze(0)
        bias = book.attention_bias()
        if bias is not None:
            bias = bias.reshape(-1)[run_idx].unsqueeze(0)
        out = run_block(block, tokens, attn_bias=bias, counts=counts.tolist())
        return book.shape_like_tokens(flat.index_copy(0, run_idx, out[0]))

    def _record(self, book: TokenBookkeeping, keep: Tensor) -> None:
        # For the token visualisation tool: which patches this layer keeps.
        if getattr(book, 'record_stages', False):
            book.stages.append(
                dict(name='prune', layer=self.layer, index_map=book.index_map.detach().clone(),
                     num_tokens=book.counts[0], keep_mask=keep.detach().clone()))

    # --------------------------------------------------------------------- losses
    def aux_losses(self) -> Dict[str, Tensor]:
        """Keep-ratio loss of the last training forward, plus its keep ratio for logging.

        Returns:
            dict[str, Tensor]: ``loss_keep_ratio`` (this layer's share of the weighted mean over
            the pruned layers; the host sums the shares) and ``keep_ratio_l{layer}`` (logged,
            not a loss). Empty outside training.
        """
        if self._train_keep is None:
            return {}
        keep = self._train_keep
        if keep.shape[0] == len(self._train_image_ratios):
            loss = keep_ratio_loss(keep, self.keep_target, per_image=self.per_image_loss)
        elif self.per_image_loss:  # packed tokens: per-image ratios from the bookkeeping
            loss = (self._train_image_ratios - self.keep_target).pow(2).mean()
        else:
            loss = (keep.mean() - self.keep_target).pow(2)
        share = self.loss_weight / self.num_pruned_layers
        return {
            'loss_keep_ratio': loss * share,
            f'keep_ratio_l{self.layer}': keep.detach().mean(),
        }

    def _warn_if_loss_unused(self) -> None:
        if self.loss_weight > 0 and not self._warned_unused_loss and not getattr(
                self, 'aux_losses_consumed', False):
            self._warned_unused_loss = True
            print_log(
                'TokenSelector: training without anyone collecting the keep-ratio loss; add '
                "custom_hooks = [dict(type='AuxiliaryLossHook')] to the config (or call "
                'mmeffseg.models.detectors.attach_aux_losses(model)).',
                logger='current', level=30)


def token_selectors(model: nn.Module) -> List[TokenSelector]:
    """Every :class:`TokenSelector` in ``model``, in block order."""
    return sorted((m for m in model.modules() if isinstance(m, TokenSelector)),
                  key=lambda s: s.layer)


def set_token_pruning(model: nn.Module,
                      keep_all: Optional[bool] = None,
                      test_decision: Optional[str] = None,
                      threshold: Optional[float] = None) -> int:
    """Change the decision settings of every :class:`TokenSelector` in ``model``.

    E.g. ``set_token_pruning(model, keep_all=True)`` turns the pruned model back into the dense
    one (same weights), for comparisons.

    Args:
        model (nn.Module): Any model containing selectors.
        keep_all (bool, optional): New ``keep_all``; unchanged if None.
        test_decision (str, optional): New ``test_decision``; unchanged if None.
        threshold (float, optional): New ``threshold``; unchanged if None.

    Returns:
        int: The number of selectors changed.
    """
    if test_decision is not None and test_decision not in _TEST_DECISIONS:
        raise ValueError(f'test_decision {test_decision!r} is not one of {_TEST_DECISIONS}.')
    if threshold is not None and not 0.0 <= check_number(threshold, 'threshold',
                                                         'set_token_pruning') < 1.0:
        raise ValueError(f'threshold {threshold!r} must be in [0, 1).')
    selectors = token_selectors(model)
    for selector in selectors:
        if keep_all is not None:
            selector.keep_all = keep_all
        if test_decision is not None:
            selector.test_decision = test_decision
        if threshold is not None:
            selector.threshold = float(threshold)
    return len(selectors)
