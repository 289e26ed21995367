"""Base class of ECO-M2F's exit gates and the one place exit sets and ranges are checked."""
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor


def check_exits(exits: Sequence[int], owner: str) -> tuple:
    """Validate an exit set and return it as a tuple of ints.

    Args:
        exits (Sequence[int]): Numbers of encoder layers, strictly increasing, each >= 1.
        owner (str): Name used in the error message.

    Returns:
        tuple[int]: The exits.
    """
    try:
        out = tuple(int(e) for e in exits)
        ok = all(float(e) == int(e) for e in exits)
    except (TypeError, ValueError):
        out, ok = (), False
    if not ok or len(out) == 0 or out[0] < 1 or any(b <= a for a, b in zip(out, out[1:])):
        raise ValueError(f'{owner}: exits must be a non-empty, strictly increasing list of '
                         f'layer counts >= 1 (e.g. [2, 3, 4, 5, 6]), got {exits!r}.')
    return out


def check_exit_range(exits: Sequence[int], num_layers: int, owner: str,
                     lowest: int = 1) -> None:
    """Raise a ValueError when an exit lies outside ``lowest..num_layers``.

    The one range check for exits: of a gate or host at build time (``lowest=1``) and of the
    exits an encoder is asked to run (``lowest=0``: no layer at all is allowed there).

    Args:
        exits (Sequence[int]): Exits (layer counts).
        num_layers (int): Number of encoder layers (the deepest possible exit).
        owner (str): Name used in the error message.
        lowest (int): Smallest allowed exit. Defaults to 1.
    """
    exits = [int(e) for e in exits]
    bad = [e for e in exits if not lowest <= e <= num_layers]
    if bad:
        raise ValueError(f'{owner}: exits {bad} of {exits} go beyond {lowest}..{num_layers} (the '
                         f'encoder has {num_layers} layers); drop them or deepen the encoder.')


class BaseExitGate(BaseModule):
    """An exit gate chooses, per image, how many encoder layers run (ECO-M2F).

    Contract (what the encoder and the ECO-M2F hosts rely on):

    * ``exits``: the layer counts the logits stand for, strictly increasing, >= 1;
    * ``forward(tokens, valid_mask)``: logits (B, num_exits) from the encoder's coarsest-level
      input tokens (B, L, C); ``valid_mask`` (B, L) bool marks each image's own (unpadded)
      tokens, and the logits of an image must not depend on the others' or on padding;
    * ``logits_to_exits(logits)``: the chosen exits, a LongTensor (B,);
    * ``loss(logits, labels)``: the training loss on class indices into ``exits``;
    * ``check_config(num_layers)``: build-time check against the encoder it gates.

    Args:
        exits (Sequence[int]): Exits the logits stand for. Defaults to (2, 3, 4, 5, 6).
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self, exits: Sequence[int] = (2, 3, 4, 5, 6),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.exits = check_exits(exits, type(self).__name__)

    @property
    def num_exits(self) -> int:
        """Number of exits (classes) the gate chooses from."""
        return len(self.exits)

    def forward(self, tokens: Tensor, valid_mask: Optional[Tensor] = None) -> Tensor:
        """Exit logits (B, num_exits) from tokens (B, L, C); see the class docstring."""
        raise NotImplementedError

    def logits_to_exits(self, logits: Tensor) -> Tensor:
        """Turn logits into the chosen exits (numbers of layers), a LongTensor (B,)."""
        exits = torch.as_tensor(self.exits, dtype=torch.long, device=logits.device)
        return exits[logits.argmax(dim=1)]

    def loss(self, logits: Tensor, labels: Tensor) -> Tensor:
        """Cross-entropy on hard labels (class indices into ``exits``, not layer counts)."""
        return F.cross_entropy(logits, labels.to(logits.device))

    def check_config(self, num_layers: int) -> None:
        """Raise a ValueError when an exit goes beyond the encoder's ``num_layers``."""
        check_exit_range(self.exits, num_layers, type(self).__name__)
