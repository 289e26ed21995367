"""What a study step was run with: its fingerprint, recorded in its ``result.json``.

A fingerprint is a dict of named parts (each a short string) plus one hash over them, so a reader
sees *what* changed, not only that something did:

* ``'spec'``: the step's spec entry without its cosmetic keys (:data:`COSMETIC_KEYS`; the entry
  itself is kept under ``spec_entry`` to name the changed keys). Values that an environment
  variable placeholder of the spec (``{{$CAMVID_ROOT:...}}``) resolved to are written back as
  ``{{$VAR}}``, so the same spec on another machine gives the same fingerprint.
* ``'config <path>'``: the text of each config file the step uses and of its ``_base_`` chain
  (paths relative to the repository root when inside it). Placeholders stay as written.
* ``'package mmseg'`` / ``'package mmdet'``: the installed version, for ``mmseg::`` /
  ``mmdet::`` bases (their files live in the installed package).
* ``'@step'``: the referenced step's recorded fingerprint hash and run id: a referenced step that
  was rerun, even with the same inputs, changes this part, and a change of its inputs
  propagates to everything that refers to it.

Not fingerprinted: the repository's code (tools, models), the data, the spec-level ``threads``
and the environment (machine settings, not inputs of a step's definition).
"""
import hashlib
import json
import os
import os.path as osp
import re
import time
import uuid
from typing import Dict, List, Optional, Tuple

from mmengine.config import Config

from mmeffseg.apis.config_loader import FAMILIES, resolve_config_path

# Keys that do not change a step's result: the estimate, and what only the summary reads from
# the spec when it writes the tables and figures (titles, labels, which model is the reference,
# the noise band, curves and views).
COSMETIC_KEYS = frozenset({'est_minutes', 'title', 'reference', 'noise', 'noise_from', 'part',
                           'curve', 'curve_label', 'versus_curve', 'views'})
# Keys of a report's ``models`` entries that only the summary reads.
COSMETIC_MODEL_KEYS = frozenset({'label'})

# mmengine's placeholder syntax (``Config._substitute_env_variables``).
_ENV_RE = re.compile(r'\{\{[\'\"]?\s*\$(\w+)\s*\:\s*(\S*?)\s*[\'\"]?\}\}')


def _digest(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def env_placeholders(spec_path: str) -> List[Tuple[str, str]]:
    """``(resolved value, '{{$VAR}}')`` of each environment placeholder in the spec file,
    longest value first (empty values are skipped: they cannot be told apart in a string)."""
    with open(spec_path, encoding='utf-8') as f:
        found = _ENV_RE.findall(f.read())
    pairs = {(os.environ.get(var, default), f'{{{{${var}}}}}') for var, default in found}
    return sorted((p for p in pairs if p[0]), key=lambda p: -len(p[0]))


def _unresolve(value, placeholders: List[Tuple[str, str]]):
    if isinstance(value, str):
        for resolved, placeholder in placeholders:
            value = value.replace(resolved, placeholder)
        return value
    if isinstance(value, dict):
        return {k: _unresolve(v, placeholders) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_unresolve(v, placeholders) for v in value]
    return value


def spec_entry(step: dict, placeholders: List[Tuple[str, str]]) -> dict:
    """The step's spec entry as fingerprinted: cosmetic keys dropped, placeholders restored."""
    entry = {k: v for k, v in step.items() if k not in COSMETIC_KEYS}
    if isinstance(entry.get('models'), (list, tuple)):
        entry['models'] = [{k: v for k, v in m.items() if k not in COSMETIC_MODEL_KEYS}
                           if isinstance(m, dict) else m for m in entry['models']]
    return json.loads(json.dumps(_unresolve(entry, placeholders), default=str))


def step_configs(step: dict) -> List[str]:
    """The config files a step uses, as the spec names them: a training's ``config``, each
    report model's ``config``, a command's ``.py`` arguments after the tool."""
    if step['kind'] == 'train':
        configs = [step['config']]
    elif step['kind'] == 'report':
        configs = [m['config'] for m in step.get('models', [])]
    else:
        configs = [a for a in step.get('args', [])[1:]
                   if isinstance(a, str) and a.endswith('.py') and not a.startswith('@')]
    return list(dict.fromkeys(configs))


def _package_version(package: str) -> str:
    import importlib
    return str(getattr(importlib.import_module(package), '__version__', 'unknown'))


def config_parts(config: str, repo_root: str) -> Dict[str, str]:
    """``{'config <path>': text digest}`` of a config and its ``_base_`` chain, and
    ``{'package <name>': version}`` for ``mmdet::`` / ``mmseg::`` files."""
    parts: Dict[str, str] = {}

    def visit(name: str) -> None:
        package = name.partition('::')[0] if '::' in name else None
        if package in FAMILIES:
            parts[f'package {package}'] = _package_version(package)
            return
        path = name if osp.isabs(name) else osp.join(repo_root, name)
        if package is not None or not osp.isfile(path):
            path = resolve_config_path(name)
        path = osp.normpath(osp.abspath(path))
        rel = osp.relpath(path, repo_root)
        key = 'config ' + (path if rel.startswith('..') else rel)
        if key in parts:
            return
        with open(path, encoding='utf-8') as f:
            parts[key] = _digest(f.read())
        for base in Config._get_base_files(path):
            visit(base if '::' in base or osp.isabs(base)
                  else osp.join(osp.dirname(path), base))

    visit(config)
    return parts


def reference_part(result: Optional[dict]) -> str:
    """A referenced step's part: its recorded fingerprint hash and run id (``'not finished'``
    when it has no result)."""
    if result is None:
        return 'not finished'
    recorded = result.get('fingerprint') or {}
    return f"{recorded.get('hash', 'legacy')} run {run_id(result)}"


def run_id(result: dict) -> str:
    """The id of the run that wrote a result: the one recorded, or, for a result written
    before fingerprints, its finish time (stable, so adopting it twice gives the same id)."""
    recorded = result.get('fingerprint') or {}
    return recorded.get('run') or f"legacy {result.get('finished', '?')}"


def new_run_id() -> str:
    """A fresh run id: when the run started and a random suffix (two runs in one second
    differ)."""
    return f"{time.strftime('%Y-%m-%d %H:%M:%S')} {uuid.uuid4().hex[:8]}"


def make_fingerprint(step: dict, repo_root: str, placeholders: List[Tuple[str, str]],
                     references: Dict[str, Optional[dict]], run: Optional[str] = None) -> dict:
    """The fingerprint of a step from its spec entry, its configs and the results it refers to.

    Args:
        step (dict): The step's spec entry.
        repo_root (str): The repository the config paths are relative to.
        placeholders (list): :func:`env_placeholders` of the spec.
        references (dict): ``{name: result or None}`` of each step it refers to.
        run (str, optional): The run id to record (None: filled in when recorded).
    """
    entry = spec_entry(step, placeholders)
    parts = {'spec': _digest(entry)}
    for config in step_configs(step):
        parts.update(config_parts(config, repo_root))
    for name, result in references.items():
        parts[f'@{name}'] = reference_part(result)
    return dict(parts=parts, hash=_digest(parts), spec_entry=entry, run=run)


def describe_changes(recorded: dict, current: dict) -> List[str]:
    """What differs between a recorded and a current fingerprint, one phrase per part."""
    old, new = recorded.get('parts', {}), current['parts']
    reasons = []
    for key in list(old) + [k for k in new if k not in old]:
        if old.get(key) == new.get(key):
            continue
        if key == 'spec':
            before, after = recorded.get('spec_entry') or {}, current['spec_entry']
            keys = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
            changed = ', '.join(f'{k} ({before.get(k)!r} -> {after.get(k)!r})'
                                if len(repr(before.get(k)) + repr(after.get(k))) < 80 else k
                                for k in keys)
            reasons.append(f'spec entry changed: {changed or "(details not recorded)"}')
        elif key.startswith('@'):
            if key not in new:
                reasons.append(f'no longer refers to {key}')
            elif key not in old:
                reasons.append(f'now refers to {key}')
            elif new[key] == 'not finished':
                reasons.append(f'refers to {key}, which has no result now')
            else:
                reasons.append(f'refers to {key}, which was rerun')
        elif key.startswith('package '):
            reasons.append(f'{key[8:]} version {old.get(key)} -> {new.get(key)}')
        elif key not in new:
            reasons.append(f'{key} no longer used')
        elif key not in old:
            reasons.append(f'{key} now used')
        else:
            reasons.append(f'{key} changed')
    return reasons
