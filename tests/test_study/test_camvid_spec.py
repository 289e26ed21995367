"""The CamVid study spec resolves without running it: every step's config and tool exist, every
'@step' reference points to an earlier step that produces what is asked of it, every
cfg_options key exists in the config it overrides, and every start checkpoint a step loads fits
the model it trains (with the prefixes its config declares) or evaluates (exactly)."""
import os.path as osp

import pytest
import torch

from mmeffseg.apis import read_config
from mmeffseg.apis.model_builder import build_model
from mmeffseg.study import Study
from mmeffseg.study.study_runner import step_references
from mmeffseg.testing import load_tool
from mmeffseg.utils import check_checkpoint_fits
from mmeffseg.utils.start_checkpoint import load_from_allowances

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
SPEC = osp.join(ROOT, 'configs', 'study', 'camvid.py')


@pytest.fixture(scope='module')
def study(tmp_path_factory):
    return Study(read_config(SPEC), SPEC, str(tmp_path_factory.mktemp('work')), ROOT)


def _models(step: dict):
    """``(config, cfg_options, checkpoint ref)`` of each model a step trains or evaluates."""
    if step['kind'] == 'train':
        yield step['config'], dict(step.get('cfg_options') or {}), step.get('load_from')
    elif step['kind'] == 'report':
        for model in step['models']:
            options = dict(step.get('cfg_options') or {}, **(model.get('cfg_options') or {}))
            yield model['config'], options, model['checkpoint']


def _has_key(cfg, key: str) -> bool:
    node = cfg.to_dict()
    for part in key.split('.'):
        if isinstance(node, (list, tuple)) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return False
    return True


def test_the_steps_after_the_segmenter_host_are_there(study):
    names = [s['name'] for s in study.steps]
    # Steps 6-8 come after step 5, in dependency order (the constructor checks the refs).
    assert names.index('mask2former') < names.index('m2f_control_s0') < names.index('proscale_ft')
    gates = [n for n in names if n.startswith('ecom2f_gate_')]
    assert len(gates) >= 3
    for name in ['m2f_control_s1', 'ecom2f_parent', 'ecom2f_table', 'mask2former_methods',
                 'algm_pruning_ft', 'algm_token_pruning', 'proscale_ecom2f_parent',
                 'proscale_ecom2f_table', 'proscale_ecom2f']:
        assert name in names
    assert all(study.estimate(s) > 0 for s in study.steps)


def test_references_point_to_earlier_steps_that_produce_the_key(study):
    index = {s['name']: i for i, s in enumerate(study.steps)}
    seen = 0
    for i, step in enumerate(study.steps):
        refs = step_references(step)
        assert all(name for name, _ in refs), step['name']  # every '@' names a step
        for name, key in refs:
            assert index[name] < i, f'{step["name"]} refers to the later step {name}'
            source = study.steps[index[name]]
            if key:  # '@step:key': a command step's declared output
                assert source['kind'] == 'command' and key in source.get('outputs', {})
            else:  # '@step': a checkpoint, written by a training step
                assert source['kind'] == 'train', f'{step["name"]}: @{name} has no checkpoint'
            seen += 1
    assert seen > 50


def test_configs_tools_and_cfg_options_exist(study):
    checked = 0
    for step in study.steps:
        if step['kind'] == 'command':
            tool = osp.join(ROOT, step['args'][0])
            assert osp.isfile(tool), tool
            for arg in step['args'][1:]:
                if isinstance(arg, str) and arg.endswith('.py'):
                    assert osp.isfile(osp.join(ROOT, arg)), arg
        for config, options, _ in _models(step):
            path = osp.join(ROOT, config)
            assert osp.isfile(path), f"{step['name']}: {config}"
            cfg = read_config(path)
            for key in options:
                assert _has_key(cfg, key), f"{step['name']}: {key} is not a key of {config}"
                checked += 1
    assert checked > 40


def _checkpoint_of(config: str, tmp_path, saved: dict) -> str:
    """A checkpoint with the keys and shapes ``config``'s model saves (random weights)."""
    if config not in saved:
        model = build_model(read_config(osp.join(ROOT, config)))
        path = str(tmp_path / f'{len(saved)}.pth')
        torch.save(dict(state_dict=model.state_dict()), path)
        saved[config] = path
    return saved[config]


def test_every_start_checkpoint_fits_the_model_it_starts(study, tmp_path):
    """What tools/train.py's gate and the efficiency report check before any work: a training
    step's start checkpoint fits with the prefixes its config allows (ECO-M2F's new gate, the new
    selectors), a report's checkpoint exactly; a start converted by a command step (PRO-SCALE's
    from step 5) is checked in the next test."""
    trained_by = {s['name']: s['config'] for s in study.steps if s['kind'] == 'train'}
    pairs = set()
    for step in study.steps:
        for config, _, ref in _models(step):
            if isinstance(ref, str) and ref.startswith('@') and ':' not in ref \
                    and trained_by[ref[1:]] != config:
                pairs.add((trained_by[ref[1:]], config, step['kind'] == 'train'))
    # The fine-tunes from steps 1 and 5 and the projects' starts all differ from their source.
    assert len(pairs) >= 8
    saved = {}
    for source, config, allow in sorted(pairs):
        cfg = read_config(osp.join(ROOT, config))
        missing, unexpected, mismatch = load_from_allowances(cfg) if allow else ([], [], [])
        model = build_model(cfg)
        check_checkpoint_fits(model, _checkpoint_of(source, tmp_path, saved), missing, unexpected,
                              mismatch)


def test_converted_start_checkpoints_fit_the_model_they_start(study, tmp_path):
    """A training step that starts from a command step's converted checkpoint
    ('@proscale_init:checkpoint'): the converter, run on a checkpoint shaped like its source
    step's, writes one that fits the training config with only the config's missing prefixes
    (no reshaped or unexpected key allowed)."""
    steps = {s['name']: s for s in study.steps}
    converter = load_tool('model_converters/mask2former_to_proscale.py')
    checked, saved = 0, {}
    for step in study.steps:
        ref = step.get('load_from') if step['kind'] == 'train' else None
        if not (isinstance(ref, str) and ':' in ref):
            continue
        name, _, key = ref[1:].partition(':')
        command = steps[name]
        assert command['args'][0] == 'tools/model_converters/mask2former_to_proscale.py'
        tool_config, source_ref, dst = command['args'][1:4]
        assert tool_config == step['config'] and command['outputs'][key] == dst
        source = steps[source_ref[1:]]
        assert source['kind'] == 'train'
        out = str(tmp_path / f'{name}.pth')
        assert converter.main([osp.join(ROOT, tool_config),
                               _checkpoint_of(source['config'], tmp_path, saved), out]) == 0
        cfg = read_config(osp.join(ROOT, step['config']))
        missing, unexpected, mismatch = load_from_allowances(cfg)
        assert unexpected == [] and mismatch == [] and missing
        check_checkpoint_fits(build_model(cfg), out, missing)
        checked += 1
    assert checked >= 1
