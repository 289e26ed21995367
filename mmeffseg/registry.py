"""Registries of mmeffseg.

Modules that mmdet / mmseg configs name directly (pixel decoders, encoders, backbones, heads,
detectors, segmentors) register into ``mmdet.registry.MODELS`` / ``mmseg.registry.MODELS`` so an
ordinary mmdet or mmseg config can use them. Pieces that only mmeffseg modules build (token
reducers, gates) live in registries of mmeffseg's own;
:func:`build_token_reducer` and :func:`build_gate` build them whatever the current default scope
is (mmdet, mmseg or mmeffseg).

Every default a module builds for itself (the pixel decoder's encoder, the encoder's TRC) goes
through :func:`build_nested_model`, which resolves types in mmeffseg's own ``MODELS`` (a child of
mmdet's, so it also sees mmdet's and mmengine's modules). Without it, a pixel decoder named
``'mmdet.EfficientMSDeformAttnPixelDecoder'`` inside an mmseg config would look its encoder up
in mmseg's registry (the caller's default scope) and fail.
"""
from typing import Union

import torch.nn as nn
from mmdet.registry import MODELS as MMDET_MODELS
from mmengine.config import ConfigDict
from mmengine.registry import DefaultScope, Registry
from mmseg.registry import MODELS as MMSEG_MODELS

# Root registries of their own (mmengine allows one child per scope under a parent, and these are
# only ever built by mmeffseg modules, through the builders below).
TOKEN_REDUCERS = Registry(
    'token reducer', scope='mmeffseg', locations=['mmeffseg.models.token_reducers'])
GATES = Registry('gate', scope='mmeffseg', locations=['mmeffseg.models.gates'])
# mmeffseg's scope in the model registry tree: looks up its own names, then mmdet's, mmengine's.
MODELS = Registry('model', parent=MMDET_MODELS, scope='mmeffseg', locations=['mmeffseg.models'])


def _build_in_own_scope(registry: Registry, cfg: Union[dict, ConfigDict]) -> nn.Module:
    # Registry.build switches to the *current* default scope's registry (mmdet's or mmseg's
    # MODELS), which cannot see mmeffseg's own registries; build in mmeffseg's scope instead.
    with DefaultScope.overwrite_default_scope('mmeffseg'):
        return registry.build(cfg)


def build_token_reducer(cfg: Union[dict, ConfigDict]) -> nn.Module:
    """Build a token reducer from any default scope."""
    return _build_in_own_scope(TOKEN_REDUCERS, cfg)


def build_gate(cfg: Union[dict, ConfigDict]) -> nn.Module:
    """Build a gating module from any default scope."""
    return _build_in_own_scope(GATES, cfg)


def build_nested_model(cfg: Union[dict, ConfigDict]) -> nn.Module:
    """Build a module that an mmeffseg module builds for itself, from any default scope.

    Types resolve in mmeffseg's scope (mmeffseg, then mmdet, then mmengine); a scoped type
    (``'mmseg.Foo'``) still resolves in the scope it names.
    """
    return _build_in_own_scope(MODELS, cfg)


def register_mmdet_and_mmseg(cls):
    """Class decorator: register a module in both mmdet's and mmseg's ``MODELS``.

    For pieces (e.g. the plain-ViT host) that configs of both families name.
    """
    MMDET_MODELS.register_module(module=cls)
    MMSEG_MODELS.register_module(module=cls)
    return cls


__all__ = [
    'TOKEN_REDUCERS', 'GATES', 'MODELS', 'MMDET_MODELS', 'MMSEG_MODELS', 'build_token_reducer',
    'build_gate', 'build_nested_model', 'register_mmdet_and_mmseg'
]
