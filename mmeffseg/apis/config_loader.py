"""Read a config by any name an OpenMMLab user types: the one place mmeffseg reads configs.

Accepted names, in the order they are tried:

* a path to a config file;
* ``mmdet::...`` / ``mmseg::...`` (a package's own configs, through mmengine's ``get_config``) and
  ``mmeffseg::<folder>/<file>.py`` (mmeffseg's configs);
* a config file name (``algm_segmenter_vit-t_mask_8xb1-160k_ade20k-512x512.py``, ``.py``
  optional) found in mmeffseg's ``configs/`` or ``projects/*/configs/``, as ``mim`` finds it.
"""
import glob
import os.path as osp
from typing import List, Optional

from mmengine.config import Config
from mmengine.registry import init_default_scope

from .cfg_options import check_cfg_options

FAMILIES = ('mmdet', 'mmseg')
_PACKAGE_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def config_dirs() -> List[str]:
    """mmeffseg's config folders: the installed ``.mim/configs`` or the source checkout's."""
    mim = osp.join(_PACKAGE_ROOT, '.mim', 'configs')
    repo = osp.dirname(_PACKAGE_ROOT)
    roots = [mim] if osp.isdir(mim) else [osp.join(repo, 'configs')]
    roots += sorted(glob.glob(osp.join(repo, 'projects', '*', 'configs')))
    return [r for r in roots if osp.isdir(r)]


def _find_by_name(name: str) -> List[str]:
    file_name = osp.basename(name) if name.endswith('.py') else f'{osp.basename(name)}.py'
    hits = []
    for root in config_dirs():
        hits += glob.glob(osp.join(root, '**', file_name), recursive=True)
    return sorted(set(osp.realpath(h) for h in hits))


def resolve_config_path(name: str) -> str:
    """The config file a name stands for (``mmdet::`` / ``mmseg::`` names are returned as is).

    Raises:
        FileNotFoundError: naming what was looked for and where, with the accepted forms.
    """
    if osp.isfile(name):
        return name
    forms = ("a path to a .py config, a config file name from mmeffseg's configs/ (e.g. "
             "algm_segmenter_vit-t_mask_8xb1-160k_ade20k-512x512.py), or 'mmdet::...' / "
             "'mmseg::...' / 'mmeffseg::...' names")
    if '::' in name:
        package, _, rel = name.partition('::')
        if package in FAMILIES:
            return name
        if package != 'mmeffseg':
            raise FileNotFoundError(f'Config {name!r}: unknown package {package!r}; pass {forms}')
        for root in config_dirs():
            if osp.isfile(osp.join(root, rel)):
                return osp.join(root, rel)
        raise FileNotFoundError(f'Config {name!r} not found under {config_dirs()}; pass {forms}')
    hits = _find_by_name(name) if osp.dirname(name) == '' else []
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:
        raise FileNotFoundError(f'Config name {name!r} is ambiguous: {hits}; pass the path')
    raise FileNotFoundError(f'Config file not found: {name} (no such file, and no config of that '
                            f'name in {config_dirs()}); pass {forms}')


def model_family(cfg: Config) -> str:
    """``'mmdet'`` or ``'mmseg'``: which package's registries and data structures the config uses.

    Raises:
        ValueError: the config's ``default_scope`` is neither.
    """
    scope = cfg.get('default_scope')
    if scope not in FAMILIES:
        raise ValueError(
            f'{cfg.filename}: default_scope is {scope!r}; mmeffseg tools run mmdet or mmseg '
            f'configs. Inherit from an mmdet:: or mmseg:: config (which sets default_scope) or '
            f'set default_scope in the config.')
    return scope


def read_config(name: str,
                cfg_options: Optional[dict] = None,
                allow_new_keys: bool = False) -> Config:
    """Read any config (a model config or a fragment such as a dataset base) by name.

    Args:
        name (str): a path, a config file name or a ``package::`` name (see the module doc).
        cfg_options (dict, optional): overrides, as ``--cfg-options`` gives them.
        allow_new_keys (bool): let ``cfg_options`` add new top-level keys (with a warning);
            by default they are refused (see :mod:`.cfg_options`).

    Raises:
        FileNotFoundError: the config cannot be found (naming the accepted forms).
        ValueError: an override adds a new top-level key (naming it and the closest key).
    """
    import mmeffseg  # noqa: F401  (registers modules and the mmeffseg:: prefix with mmengine)

    path = resolve_config_path(name)
    if '::' in path:
        from mmengine.hub import get_config
        try:
            cfg = get_config(path)
        except (FileNotFoundError, ValueError) as err:
            raise FileNotFoundError(f'Config {name!r} could not be found in the installed '
                                    f'package: {err}') from err
    else:
        cfg = Config.fromfile(path)
    if cfg_options:
        check_cfg_options(cfg, cfg_options, allow_new_keys)
        cfg.merge_from_dict(cfg_options)
    return cfg


def load_config(name: str,
                cfg_options: Optional[dict] = None,
                allow_new_keys: bool = False) -> Config:
    """Read a model config of the mmdet or mmseg family (arguments as :func:`read_config`).

    Returns the config with its family's default scope made current; raises a ValueError when
    it has no ``model`` or belongs to neither family.
    """
    cfg = read_config(name, cfg_options, allow_new_keys)
    if 'model' not in cfg:
        raise ValueError(f'Config {name!r} has no `model`; pass a model config, not a base '
                         f'fragment.')
    init_default_scope(model_family(cfg))
    return cfg
