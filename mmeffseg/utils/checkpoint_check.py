"""Refuse checkpoints that do not fit a model, with one error naming the file, the key and the fix.

mmengine's ``load_checkpoint`` only logs missing/unexpected keys, so a wrong checkpoint would
otherwise be used silently with random weights in the places that did not match. Recipes that
start from a smaller model (a gate added to a frozen parent, reducers added to a ViT) name the
prefixes they expect to be missing (or unexpected, or reshaped); those are allowed and logged,
nothing else.
"""
import os.path as osp
from typing import Dict, List, Sequence

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.runner.checkpoint import _load_checkpoint

_FIX = ('Fix: use the config the checkpoint was trained with, convert the checkpoint to this '
        'model, or (for a recipe that starts from a smaller model) allow the expected prefixes.')


def _state_dict(checkpoint) -> dict:
    if isinstance(checkpoint, dict) and 'state_dict' in checkpoint:
        checkpoint = checkpoint['state_dict']
    # Checkpoints saved from a DDP-wrapped model carry a 'module.' prefix.
    return {k[7:] if k.startswith('module.') else k: v for k, v in checkpoint.items()}


def read_checkpoint(path: str) -> dict:
    """Read a checkpoint file (or URL) on the CPU.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file cannot be read as a checkpoint (corrupt, truncated, empty, or not a
            state dict), naming the file and the fix.
    """
    if not path.startswith(('http://', 'https://')) and not osp.isfile(path):
        raise FileNotFoundError(
            f'Checkpoint not found: {path}. Train one with tools/train.py (it is saved in the '
            f'work dir) or pass the right path.')
    try:
        checkpoint = _load_checkpoint(path, map_location='cpu')
    except Exception as err:  # torch raises several types for a damaged file
        raise ValueError(
            f'Checkpoint {path} cannot be read ({type(err).__name__}: {err}); the file is '
            f'corrupt, truncated or not a torch checkpoint. Fix: copy or download it again, '
            f'or pass the .pth a tools/train.py run saved.') from err
    state = checkpoint.get('state_dict', checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict) or not all(isinstance(k, str) for k in state) or (
            state and not any(isinstance(v, torch.Tensor) for v in state.values())):
        raise ValueError(
            f'Checkpoint {path} holds no state dict (a {type(checkpoint).__name__} of '
            f'{_describe(checkpoint)}); pass the .pth a tools/train.py run saved.')
    return checkpoint


def _describe(obj) -> str:
    if isinstance(obj, dict):
        return f'keys {sorted(map(str, obj))[:5]}'
    return repr(obj)[:60]


def _outside(keys: List[str], allowed: Sequence[str]) -> List[str]:
    return [k for k in keys if not k.startswith(tuple(allowed))]


def check_checkpoint_fits(model: nn.Module,
                          path: str,
                          allow_missing: Sequence[str] = (),
                          allow_unexpected: Sequence[str] = (),
                          allow_mismatch: Sequence[str] = ()) -> dict:
    """Check that the checkpoint at ``path`` has exactly the model's parameters and shapes.

    Args:
        model (nn.Module): The model the weights are for (a wrapper's ``module`` is used).
        path (str): Checkpoint file or URL.
        allow_missing (Sequence[str]): Key prefixes of the model the checkpoint may lack
            (e.g. ``('gate.',)`` when a gate is trained on a frozen parent).
        allow_unexpected (Sequence[str]): Key prefixes the checkpoint may have that the model
            has not.
        allow_mismatch (Sequence[str]): Key prefixes whose shape may differ (e.g. a deformable
            attention resized for fewer levels); such keys are not loaded and keep the model's
            own values, as missing ones do.

    Returns:
        dict: the checkpoint as read (``state_dict`` and ``meta`` when saved by mmengine).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file is not a readable checkpoint, or a key outside the allowed
            prefixes is missing, unexpected, or has another shape.
    """
    if hasattr(model, 'module'):
        model = model.module
    checkpoint = read_checkpoint(path)
    check_state_dict_fits(model.state_dict(), _state_dict(checkpoint), f'Checkpoint {path}',
                          allow_missing, allow_unexpected, allow_mismatch)
    return checkpoint


def check_state_dict_fits(own: dict,
                          ckpt: dict,
                          source: str,
                          allow_missing: Sequence[str] = (),
                          allow_unexpected: Sequence[str] = (),
                          allow_mismatch: Sequence[str] = ()) -> Dict[str, List[str]]:
    """The check of :func:`check_checkpoint_fits` on state dicts already in memory.

    Args:
        own (dict): The model's state dict.
        ckpt (dict): The weights to load into it.
        source (str): What the weights are, for messages (e.g. ``'Checkpoint x.pth'``).
        allow_missing, allow_unexpected, allow_mismatch: as :func:`check_checkpoint_fits`.

    Returns:
        dict: the allowed ``missing``, ``unexpected`` and ``reshaped`` key lists.

    Raises:
        ValueError: a key outside the allowed prefixes is missing, unexpected, or has
            another shape.
    """
    missing = [k for k in own if k not in ckpt]
    bad = _outside(missing, allow_missing)
    if bad:
        raise ValueError(f'{source} does not fit the model: key "{bad[0]}" is '
                         f'missing ({len(bad)} missing in all). {_FIX}')
    unexpected = [k for k in ckpt if k not in own]
    bad = _outside(unexpected, allow_unexpected)
    if bad:
        raise ValueError(f'{source} does not fit the model: key "{bad[0]}" is '
                         f'not in the model ({len(bad)} unexpected in all). {_FIX}')
    mismatched = []
    for key, value in own.items():
        other = ckpt.get(key)
        if isinstance(other, torch.Tensor) and other.shape != value.shape:
            if key.startswith(tuple(allow_mismatch)):
                mismatched.append(key)
                continue
            raise ValueError(
                f'{source} does not fit the model: key "{key}" has shape '
                f'{tuple(other.shape)} in the checkpoint but {tuple(value.shape)} in the '
                f'model. {_FIX}')
    for label, keys in (('missing', missing), ('unexpected', unexpected),
                        ('reshaped (not loaded)', mismatched)):
        if keys:
            print_log(f'{source}: {len(keys)} {label} key(s) under the allowed '
                      f'prefixes, e.g. {keys[0]}', logger='current')
    return dict(missing=missing, unexpected=unexpected, reshaped=mismatched)


def load_checked_checkpoint(model: nn.Module,
                            path: str,
                            allow_missing: Sequence[str] = (),
                            allow_unexpected: Sequence[str] = (),
                            allow_mismatch: Sequence[str] = ()) -> dict:
    """Gate the checkpoint with :func:`check_checkpoint_fits`, then load its weights.

    Keys under ``allow_missing`` (and reshaped keys under ``allow_mismatch``) keep the model's
    own values. The checkpoint's ``meta`` (class
    names, palette) becomes ``model.dataset_meta`` as mmdet's ``init_detector`` does.

    Returns:
        dict: the checkpoint as read.
    """
    checkpoint = check_checkpoint_fits(model, path, allow_missing, allow_unexpected,
                                       allow_mismatch)
    target = model.module if hasattr(model, 'module') else model
    own = target.state_dict()
    target.load_state_dict({k: v for k, v in _state_dict(checkpoint).items()
                            if k in own and v.shape == own[k].shape}, strict=False)
    meta = checkpoint.get('meta', {}) if isinstance(checkpoint, dict) else {}
    if isinstance(meta, dict) and meta.get('dataset_meta'):
        target.dataset_meta = meta['dataset_meta']
    return checkpoint
