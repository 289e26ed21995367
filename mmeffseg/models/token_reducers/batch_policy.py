"""How many tokens each image of a batch merges: its own count, or the batch minimum."""
from typing import List

import torch

BATCH_POLICIES = ('per_image', 'min')


def check_batch_policy(owner: str, policy: str) -> str:
    """Fail early, naming the owner and the accepted values, on an unknown policy."""
    if policy not in BATCH_POLICIES:
        raise ValueError(f'{owner}: batch_policy must be one of {BATCH_POLICIES} (per_image: '
                         f'every image merges what it would merge alone, tokens packed; min: '
                         f'the released ALGM, every image merges the batch minimum), got '
                         f'{policy!r}')
    return policy


def merge_counts(eligible: torch.Tensor, policy: str) -> List[int]:
    """Per image, how many of its eligible tokens / windows it merges.

    Args:
        eligible (Tensor): Long (B,), what each image could merge on its own.
        policy (str): ``'per_image'`` (each its own) or ``'min'`` (the batch minimum, the
            released ALGM's rule, which keeps the batch rectangular).

    Returns:
        list[int]: The number of merges per image.
    """
    counts = [int(c) for c in eligible.tolist()]
    if policy == 'min':
        return [min(counts)] * len(counts)
    return counts
