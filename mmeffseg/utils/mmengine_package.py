"""Make ``mmeffseg::`` config names work in mmengine, as ``mmdet::`` and ``mmseg::`` do.

Two things stand in the way, and :func:`register_with_mmengine` (run by ``import mmeffseg``)
removes both:

1. mmengine reads ``package::folder/file.py`` only for packages in its ``MODULE2PACKAGE`` table
   (``AssertionError: mmengine does not support to load mmeffseg config``). mmeffseg is added; the
   file is then found under the installed package's ``.mim/`` (``model-index.yml`` and
   ``configs/``), which ``pip install -e .`` / ``pip install .`` create.
2. mmengine tags every top-level object of a ``package::`` base with ``_scope_=package`` so that
   its types are looked up in that package's registries. mmeffseg has no registries of its own
   for them: an mmeffseg config is an mmdet- or mmseg-family config (its ``default_scope``), and
   every module it names is registered in mmdet's / mmseg's registries. The tag is therefore
   redirected to the base config's ``default_scope``; a base without one (a fragment) is left
   untagged, so its types resolve in the including config's scope.
"""
from mmengine.config import Config
from mmengine.config import utils as config_utils

PACKAGE = 'mmeffseg'


def _redirect_scope(original):

    def convert(cfg, scope=None, has_scope=True):
        if scope == PACKAGE and isinstance(cfg, dict):
            scope = cfg.get('default_scope', None)
        return original(cfg, scope, has_scope)

    convert.mmeffseg_redirect = True
    return convert


def register_with_mmengine() -> None:
    """Register ``mmeffseg::`` config names with mmengine (idempotent)."""
    config_utils.MODULE2PACKAGE.setdefault(PACKAGE, PACKAGE)
    config_utils.PKG2PROJECT.setdefault(PACKAGE, PACKAGE)
    current = Config.__dict__['_dict_to_config_dict'].__func__
    if not getattr(current, 'mmeffseg_redirect', False):
        Config._dict_to_config_dict = staticmethod(_redirect_scope(current))
