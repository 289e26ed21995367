"""ALGM stage 2: global bipartite merging with an automatic threshold (arXiv 2406.09936)."""
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F

from mmeffseg.registry import TOKEN_REDUCERS
from .base_merge_reducer import BaseMergeReducer
from .batch_policy import merge_counts
from .token_bookkeeping import TokenBookkeeping


@TOKEN_REDUCERS.register_module()
class GlobalBipartiteMerge(BaseMergeReducer):
    """ALGM's global merging: ToMe-style bipartite matching over the whole image, once.

    Runs inside its block, after the attention residual add and before the MLP, on the
    residual-stream features of the current (possibly already locally merged) tokens. As in
    the released code, the **whole sequence, CLS included**, is split alternately: set A =
    even positions (the CLS token at position 0 is in A and never merges), set B = odd
    positions. Each A token finds its most cosine-similar B token, and every A token whose
    best similarity is >= the threshold merges into that partner (several A tokens may merge
    into one B token; size-weighted averages). The automatic threshold is
    ``mean + std / layer_number`` of the A tokens' best similarities (CLS excluded).

    Batches (``batch_policy``): ``'min'`` is the released code: one threshold for the whole
    batch (the mean over images of each image's mean, plus the mean over images of each
    image's std divided by ``layer_number``) and every image merges the batch minimum of its
    eligible count (its most similar pairs). ``'per_image'``: each image its own threshold and
    count, exactly what it gets alone (the tokens become packed).

    Args:
        layer (int): 0-based block index. ALGM merges in block 5 (ViT-L: block 7), i.e.
            ``layer=4`` (``layer=6``). Default: 4.
        threshold (float, optional): None for the automatic threshold; a number for a fixed
            one (``> 1`` switches the stage off). Default: None.
        layer_number (int, optional): Divisor of the std in the automatic threshold; the
            paper uses the 1-based block number. None means ``layer + 1``. Default: None.
        batch_policy (str): ``'per_image'`` or ``'min'`` (see above). Default: 'per_image'.
        proportional_attn (bool): Make every later block add ``log(size)`` to its attention
            logits (off in the released ALGM). Default: False.
    """

    scope = 'token_reducer.global_bipartite_merge'
    stage_name = 'global'

    def __init__(self,
                 layer: int = 4,
                 threshold: Optional[float] = None,
                 layer_number: Optional[int] = None,
                 batch_policy: str = 'per_image',
                 proportional_attn: bool = False) -> None:
        super().__init__(layer, batch_policy, proportional_attn)
        if threshold is not None and (isinstance(threshold, bool)
                                      or not isinstance(threshold, (int, float))):
            raise ValueError(f'GlobalBipartiteMerge: threshold must be None (automatic) or a '
                             f'number (> 1 switches the stage off), got {threshold!r}')
        if layer_number is None:
            layer_number = layer + 1
        if isinstance(layer_number, bool) or not isinstance(layer_number, int) \
                or layer_number < 1:
            raise ValueError(f'GlobalBipartiteMerge: layer_number must be a positive int, got '
                             f'{layer_number!r}')
        self.threshold = None if threshold is None else float(threshold)
        self.layer_number = layer_number

    @property
    def enabled(self) -> bool:
        return self.threshold is None or self.threshold <= 1.0

    @staticmethod
    def best_matches(tokens: torch.Tensor, num_prefix: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """Every A token's best cosine similarity and its B partner, for one image.

        Args:
            tokens (Tensor): One image's current tokens (N, C), prefix included.
            num_prefix (int): Leading tokens that never merge.

        Returns:
            tuple[Tensor, Tensor]: ``best`` (N_A,) with -inf for prefix A tokens, and
            ``partner`` (N_A,) long, indices into B (B token j is sequence position 2j + 1).
        """
        metric = F.normalize(tokens, dim=-1)
        scores = metric[0::2] @ metric[1::2].T
        scores[:(num_prefix + 1) // 2] = float('-inf')  # prefix A tokens: never sources
        scores[:, :num_prefix // 2] = float('-inf')  # prefix B tokens: never destinations
        return scores.max(dim=-1)

    def assign(self, x: torch.Tensor,
               book: TokenBookkeeping) -> Tuple[List[torch.Tensor], List[torch.Tensor]]:
        """Decide the merges: per image, source and destination indices (1-D) in its sequence."""
        prefix = book.num_prefix
        first_a = (prefix + 1) // 2  # A tokens before it are prefix tokens
        matches = [self.best_matches(tokens, prefix) for tokens in book.split(x)]
        empty = x.new_zeros(0, dtype=torch.long)
        if any(best.numel() - first_a < 2 for best, _ in matches):
            # Too few tokens for the statistics: nothing merges in this image (nor, under the
            # batch-minimum rule, in the batch).
            if self.batch_policy == 'min' or all(
                    best.numel() - first_a < 2 for best, _ in matches):
                return [empty] * book.batch_size, [empty] * book.batch_size
        if self.threshold is not None:
            thr = [self.threshold] * len(matches)
        else:
            stats = [(best[first_a:].mean(), best[first_a:].std()) if best.numel() - first_a
                     >= 2 else (best.new_tensor(2.0), best.new_tensor(0.0))
                     for best, _ in matches]
            if self.batch_policy == 'min':
                mean = torch.stack([m for m, _ in stats]).mean()
                std = torch.stack([s for _, s in stats]).mean()
                thr = [mean + std / self.layer_number] * len(matches)
            else:
                thr = [m + s / self.layer_number for m, s in stats]
        eligible = [best >= t for (best, _), t in zip(matches, thr)]
        nums = merge_counts(torch.stack([e.sum() for e in eligible]), self.batch_policy)
        src, dst = [], []
        for (best, partner), ok, num in zip(matches, eligible, nums):
            chosen = best.masked_fill(~ok, float('-inf')).topk(num).indices
            src.append(2 * chosen)
            dst.append(2 * partner[chosen] + 1)
        return src, dst

    def extra_repr(self) -> str:
        return (f'layer={self.layer}, threshold={self.threshold or "auto"}, '
                f'layer_number={self.layer_number}, batch_policy={self.batch_policy!r}, '
                f'proportional_attn={self.proportional_attn}')
