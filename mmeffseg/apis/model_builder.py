"""Build a config's model for inference and analysis, in the shape of mmseg's ``init_model``.

The one place mmeffseg's tools build a model and load weights: the checkpoint passes the strict
gate of :mod:`mmeffseg.utils.checkpoint_check` first, so no tool measures random weights while
naming a checkpoint.
"""
import copy
import logging
from typing import Optional, Sequence, Union

import torch.nn as nn
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope

from mmeffseg.utils.checkpoint_check import load_checked_checkpoint
from .cfg_options import check_cfg_options
from .config_loader import load_config, model_family


def _strip_pretrained(node):
    # The model is either loaded from a checkpoint or measured from scratch (weights do not
    # change a static model's cost); drop every pointer to pretrained weights so that
    # init_weights() never downloads.
    if isinstance(node, dict):
        if node.get('type') == 'Pretrained':
            return None
        out = type(node)()
        for key, value in node.items():
            if key == 'pretrained' and isinstance(value, str):
                out[key] = None
            elif key == 'init_cfg' and isinstance(value, dict) \
                    and value.get('type') == 'Pretrained':
                out[key] = None
            else:
                out[key] = _strip_pretrained(value)
        return out
    if isinstance(node, list):
        return [_strip_pretrained(v) for v in node]
    return node


def _init_weights_quietly(model: nn.Module) -> None:
    # init_weights logs one INFO line per parameter; keep the tools' output readable.
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        model.init_weights()
    finally:
        logger.setLevel(level)


def build_model(cfg: Union[str, Config],
                checkpoint: Optional[str] = None,
                device: str = 'cpu',
                cfg_options: Optional[dict] = None,
                allow_missing: Sequence[str] = (),
                allow_unexpected: Sequence[str] = ()) -> nn.Module:
    """Build ``cfg.model`` in eval mode on ``device``, with weights from ``checkpoint``.

    Without a checkpoint, weights are initialised from scratch (pretrained pointers removed).
    SyncBN layers are reverted to BN so that the model runs in one process. ``model.cfg`` is the
    config, as with mmdet's ``init_detector``.

    Args:
        cfg (str | Config): a loaded config, or any name :func:`load_config` accepts.
        checkpoint (str, optional): weights; refused unless every key fits the model.
        device (str): ``'cpu'`` or ``'cuda[:N]'``.
        cfg_options (dict, optional): overrides, when ``cfg`` is a name.
        allow_missing (Sequence[str]): key prefixes the checkpoint may lack (logged).
        allow_unexpected (Sequence[str]): key prefixes the checkpoint may add (logged).

    Raises:
        FileNotFoundError: the config or the checkpoint does not exist.
        ValueError: the checkpoint is unreadable or does not fit the model (naming the key).
    """
    from mmengine.model.utils import revert_sync_batchnorm
    from mmengine.registry import MODELS

    if isinstance(cfg, str):
        cfg = load_config(cfg, cfg_options)
    elif cfg_options:
        check_cfg_options(cfg, cfg_options)
        cfg = copy.deepcopy(cfg)
        cfg.merge_from_dict(cfg_options)
    check_device(device)
    init_default_scope(model_family(cfg))
    model = MODELS.build(_strip_pretrained(copy.deepcopy(cfg.model)))
    if checkpoint is not None:
        load_checked_checkpoint(model, checkpoint, allow_missing, allow_unexpected)
    elif hasattr(model, 'init_weights'):
        _init_weights_quietly(model)
    model = revert_sync_batchnorm(model)
    model.cfg = cfg
    return model.to(device).eval()


def check_device(name: str) -> str:
    """Validate a device string (``cpu``, ``cuda``, ``cuda:1``); return it.

    Raises:
        ValueError: an unknown device, or CUDA asked for where there is none.
    """
    import torch
    if not (name == 'cpu' or name.startswith('cuda')):
        raise ValueError(f"Unknown device {name!r}; use 'cpu' or 'cuda[:N]'")
    if name.startswith('cuda') and not torch.cuda.is_available():
        raise ValueError(f'Device {name!r} requested but CUDA is not available; use --device cpu')
    return name
