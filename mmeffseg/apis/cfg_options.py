"""``--cfg-options`` that would add a new top-level key are refused: a typo must not be ignored.

``--cfg-options trian_cfg.max_iters=2`` merges into a new ``trian_cfg`` section that nothing
reads, and the run uses the config's full schedule. A top-level key is accepted when the config
has it, when mmengine's Runner reads it (``resume``, ``load_from``, ``randomness``, ...), or when
it is one of mmeffseg's own keys; anything else is an error naming the key and the closest
existing one, unless new keys are allowed explicitly (``--cfg-options-allow-new``).
"""
import difflib
import inspect
import warnings
from typing import Optional

from mmengine.config import Config

__all__ = ['known_top_level_keys', 'check_cfg_options']

# Top-level keys read by mmengine / mmdet / mmseg tools although no Runner argument names them.
_TOOL_KEYS = ('runner_type', 'model_wrapper_cfg', 'find_unused_parameters', 'compile',
              'strategy', 'custom_imports', 'tta_model', 'tta_pipeline', 'work_dir', 'cfg')


def known_top_level_keys(cfg: Config) -> set:
    """The top-level keys an override may set: the config's, the Runner's and mmeffseg's."""
    from mmengine.runner import Runner

    from mmeffseg.utils.start_checkpoint import START_CHECKPOINT_KEYS
    runner_args = set(inspect.signature(Runner.__init__).parameters) - {'self'}
    return set(cfg.keys()) | runner_args | set(_TOOL_KEYS) | set(START_CHECKPOINT_KEYS)


def check_cfg_options(cfg: Config, options: Optional[dict], allow_new: bool = False) -> None:
    """Refuse overrides whose top-level key the config does not have.

    Args:
        cfg (Config): The config before the overrides are merged.
        options (dict, optional): ``--cfg-options`` as parsed (dotted keys).
        allow_new (bool): Only warn about new keys (``--cfg-options-allow-new``).

    Raises:
        ValueError: naming the new key, the closest existing key and the fix.
    """
    if not options:
        return
    known = known_top_level_keys(cfg)
    new = sorted({key.split('.')[0] for key in options} - known)
    for key in new:
        msg = f'--cfg-options {_option(options, key)}: {key!r} is not a key of {cfg.filename}'
        close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
        msg += f"; did you mean {close[0]!r}?" if close else '.'
        if allow_new:
            warnings.warn(f'{msg} Adding it as a new key (--cfg-options-allow-new).')
            continue
        raise ValueError(f'{msg} A new top-level key would be ignored by the run. Fix: correct '
                         f'the spelling, or pass --cfg-options-allow-new to add it on purpose.')


def _option(options: dict, top: str) -> str:
    first = next(k for k in options if k.split('.')[0] == top)
    return f'{first}={options[first]!r}'
