"""Base class of the token reducers that :class:`ReducerViT` runs inside its blocks."""
from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn

from .block_ops import run_attention, run_block, run_ffn
from .token_bookkeeping import TokenBookkeeping


class BaseTokenReducer(nn.Module):
    """A reducer owns how one ViT block runs: it may merge, prune or gather tokens inside it.

    The host backbone calls ``reducer(block, x, book)`` instead of ``block(x)`` at the
    reducer's layer. Subclasses implement :meth:`forward` with the shared helpers
    :func:`run_attention` / :func:`run_ffn` (so no reducer copies the block's code) and record
    what they changed in the :class:`TokenBookkeeping` ``book``.

    Args:
        layer (int): 0-based index of the block this reducer runs, in [0, num_layers).
    """

    def __init__(self, layer: int) -> None:
        super().__init__()
        if not isinstance(layer, int) or isinstance(layer, bool):
            raise ValueError(f'{type(self).__name__}: layer must be an int (0-based block '
                             f'index), got {layer!r}')
        self.layer = layer

    def forward(self, block: nn.Module, x: torch.Tensor,
                book: TokenBookkeeping) -> torch.Tensor:
        """Run ``block`` on tokens ``x`` (B, N, C), reducing them; return the new tokens."""
        raise NotImplementedError

    def check_config(self, num_layers: int, grid_shape: Optional[Tuple[int, int]],
                     embed_dims: Optional[int] = None) -> None:
        """Build-time check against the host (called by the backbone after building).

        Args:
            num_layers (int): Number of blocks of the host.
            grid_shape (tuple[int, int], optional): Patch grid of the host's ``img_size``.
            embed_dims (int, optional): Channels of the host's tokens.

        Raises:
            ValueError: When this reducer cannot work in that host.
        """

    def aux_losses(self) -> Dict[str, torch.Tensor]:
        """Auxiliary losses of the last forward (e.g. a keep-ratio loss); none by default."""
        return {}

    def extra_repr(self) -> str:
        return f'layer={self.layer}'


__all__ = ['BaseTokenReducer', 'run_attention', 'run_ffn', 'run_block']
