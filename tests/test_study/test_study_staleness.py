"""A finished step whose inputs changed after it ran is stale: the runner names what changed,
refuses to run by default, and with ``rerun_stale`` moves the stale work dir aside and reruns the
step and every step referring to it; results written before fingerprints are adopted; paths from
environment variables do not count; the summary marks stale steps. Training is replaced by a
fake step kind that writes a checkpoint file (no model is built)."""
import glob
import json
import os
import os.path as osp

import pytest

from mmeffseg.study import StaleStepsError, run_study
from mmeffseg.study import fingerprint as fingerprint_module
from mmeffseg.study import steps as steps_module

# Config files as written: a base, and a config on it and on an mmseg:: base, with a path from
# an environment variable.
BASE = 'x = 1\n'
MODEL = ("_base_ = ['./base.py', 'mmseg::_base_/default_runtime.py']\n"
         "data_root = '{{$CAMVID_ROOT:data/camvid}}'\n"
         "train_cfg = dict(max_iters=1)\n")
STEPS = """[
    dict(name='base', kind='train', config=_model, seed=0, est_minutes=3),
    dict(name='ft', kind='train', config=_model, load_from='@base', seed=1,
         cfg_options={'x': 2}),
    dict(name='pics', kind='command', outputs=dict(out='{work_dir}/out.txt'),
         args=['-c', _copy, '@ft', _images + '/a.png', '{work_dir}/out.txt']),
    dict(name='other', kind='train', config=_model, seed=3),
]"""


@pytest.fixture
def study(tmp_path, monkeypatch):
    """A spec of four steps (``ft`` starts from ``base``, ``pics`` reads ``ft``'s checkpoint,
    ``other`` is independent) and the list of steps the fake training ran."""
    monkeypatch.setenv('CAMVID_ROOT', str(tmp_path / 'camvid'))
    (tmp_path / 'base.py').write_text(BASE)
    (tmp_path / 'model.py').write_text(MODEL)
    copy = "import shutil, sys; shutil.copy(sys.argv[1], sys.argv[3])"
    spec = tmp_path / 'spec.py'
    spec.write_text(f"work_root = {str(tmp_path / 'work')!r}\n"
                    f"_model = {str(tmp_path / 'model.py')!r}\n"
                    f"_copy = {copy!r}\n"
                    "_images = '{{$CAMVID_ROOT:data/camvid}}/images'\n"
                    f"steps = {STEPS}\n"
                    f"summary = dict(json={str(tmp_path / 's.json')!r}, "
                    f"markdown={str(tmp_path / 's.md')!r}, figures={str(tmp_path / 'fig')!r})\n")
    ran = []

    def fake_train(study, step, work_dir, progress):
        ran.append(step['name'])
        checkpoint = osp.join(work_dir, 'iter_1.pth')
        with open(checkpoint, 'w') as f:
            f.write(f"{step['name']} run {len(ran)}")
        load_from = study.resolve(step.get('load_from'))
        # What the real training step records (a legacy result is compared with it).
        options = dict(steps_module.train_options(study, step), load_from=load_from)
        return dict(config=step['config'], checkpoint=checkpoint, iters=1,
                    load_from=load_from, cfg_options=options, val_curve=[])

    monkeypatch.setitem(steps_module.STEP_KINDS, 'train', fake_train)
    return dict(root=tmp_path, spec=str(spec), ran=ran, work=tmp_path / 'work')


def _run(study, **kwargs):
    lines = []
    run_study(study['spec'], log=lines.append, **kwargs)
    return lines


def _edit_spec(study, old: str, new: str) -> None:
    text = open(study['spec']).read()
    assert old in text
    with open(study['spec'], 'w') as f:
        f.write(text.replace(old, new))


def _result(study, name: str) -> dict:
    with open(study['work'] / name / 'result.json') as f:
        return json.load(f)


def test_a_result_records_its_fingerprint_and_an_unchanged_rerun_skips(study):
    _run(study)
    assert study['ran'] == ['base', 'ft', 'other']
    fp = _result(study, 'ft')['fingerprint']
    parts = fp['parts']
    assert {'spec', 'package mmseg', '@base'} <= set(parts)
    assert any(k.startswith('config ') and k.endswith('base.py') for k in parts)
    # The spec entry as fingerprinted: no estimate, the path from CAMVID_ROOT as a placeholder.
    assert 'est_minutes' not in _result(study, 'base')['fingerprint']['spec_entry']
    assert _result(study, 'pics')['fingerprint']['spec_entry']['args'][3] == \
        '{{$CAMVID_ROOT}}/images/a.png'
    lines = _run(study)
    assert study['ran'] == ['base', 'ft', 'other']
    assert sum('finished earlier: skipped' in line for line in lines) == 4
    assert not any('] stale' in line for line in lines)


def test_an_edited_base_config_makes_the_step_and_its_dependants_stale(study):
    _run(study)
    before = {n: _result(study, n) for n in ('base', 'ft', 'pics', 'other')}
    (study['root'] / 'base.py').write_text('x = 5\n')
    with pytest.raises(StaleStepsError) as err:
        _run(study)
    message = str(err.value)
    assert f"base (config {study['root'] / 'base.py'} changed)" in message
    assert 'ft (config' in message and 'pics (refers to @ft, which is stale)' in message
    assert '--rerun-stale' in message and 'Nothing was run' in message
    # Nothing ran, nothing was written.
    assert study['ran'] == ['base', 'ft', 'other']
    assert {n: _result(study, n) for n in before} == before
    # Restoring the input makes them current again.
    (study['root'] / 'base.py').write_text(BASE)
    _run(study)
    assert study['ran'] == ['base', 'ft', 'other']


def test_rerun_stale_moves_the_work_dirs_aside_and_reruns_dependants_in_order(study):
    _run(study)
    old_ft = _result(study, 'ft')
    (study['root'] / 'model.py').write_text(MODEL + 'y = 1\n')
    lines = _run(study, rerun_stale=True)
    # 'other' uses the same config: stale as well; each step after the ones it refers to.
    assert study['ran'] == ['base', 'ft', 'other'] * 2
    for name in ('base', 'ft', 'pics', 'other'):
        (aside, ) = glob.glob(str(study['work'] / f'{name}.stale-*'))
        assert osp.basename(aside)[len(name) + 7:].replace('-', '').isdigit()
        assert osp.isfile(osp.join(aside, 'result.json'))  # kept, not deleted
    with open(glob.glob(str(study['work'] / 'ft.stale-*'))[0] + '/result.json') as f:
        assert json.load(f) == old_ft
    # The new ft started from the new base, and pics copied the new ft checkpoint.
    new_ft = _result(study, 'ft')
    assert new_ft['load_from'] == _result(study, 'base')['checkpoint']
    assert (study['work'] / 'pics' / 'out.txt').read_text() == 'ft run 5'
    assert any('[ft] stale:' in line and 'model.py changed' in line for line in lines)
    # Now current: a further run does nothing.
    _run(study)
    assert len(study['ran']) == 6


def test_a_changed_spec_entry_names_the_key_and_cosmetic_keys_do_not_count(study):
    _run(study)
    # An estimate is not an input.
    _edit_spec(study, 'est_minutes=3', 'est_minutes=30')
    _run(study)
    assert study['ran'] == ['base', 'ft', 'other']
    _edit_spec(study, "cfg_options={'x': 2}", "cfg_options={'x': 3}")
    with pytest.raises(StaleStepsError) as err:
        _run(study)
    assert "ft (spec entry changed: cfg_options ({'x': 2} -> {'x': 3}))" in str(err.value)
    lines = _run(study, rerun_stale=True)
    # Only ft and what refers to it: base and other are current.
    assert study['ran'] == ['base', 'ft', 'other', 'ft']
    assert any('[pics] stale: refers to @ft, which is stale' in line for line in lines)
    assert glob.glob(str(study['work'] / 'pics.stale-*'))
    assert not glob.glob(str(study['work'] / 'base.stale-*'))
    _edit_spec(study, 'seed=3', 'seed=4')
    with pytest.raises(StaleStepsError, match=r'other \(spec entry changed: seed \(3 -> 4\)\)'):
        _run(study)


def test_a_new_package_version_makes_steps_on_its_configs_stale(study, monkeypatch):
    _run(study)
    monkeypatch.setattr(fingerprint_module, '_package_version', lambda package: '99.0')
    with pytest.raises(StaleStepsError, match=r'base \(mmseg version \S+ -> 99\.0\)'):
        _run(study)


def test_a_rerun_referenced_step_makes_its_dependants_stale(study):
    """Rerunning a step with the same inputs (its result removed by hand) gives a new
    checkpoint: what was made from the old one is stale."""
    _run(study)
    os.remove(study['work'] / 'base' / 'result.json')
    with pytest.raises(StaleStepsError, match=r'ft \(refers to @base, which has no result now\)'):
        _run(study)
    lines = _run(study, rerun_stale=True)
    assert study['ran'] == ['base', 'ft', 'other', 'base', 'ft']
    # Judged when its turn came, after base was rerun.
    assert any('ft] stale (refers to @base, which was rerun): moved aside' in line
               for line in lines)
    assert any('pics] stale (refers to @ft, which was rerun)' in line for line in lines)


def _edit_result(study, name: str, **changes) -> None:
    """Rewrite a step's result with some keys changed (None: removed)."""
    result = dict(_result(study, name), **changes)
    with open(study['work'] / name / 'result.json', 'w') as f:
        json.dump({k: v for k, v in result.items() if v is not None}, f)


def _strip_fingerprints(study) -> None:
    """Make every result look written by the runner before fingerprints."""
    for name in ('base', 'ft', 'pics', 'other'):
        _edit_result(study, name, fingerprint=None)


def test_legacy_results_are_adopted_then_changes_are_caught(study):
    _run(study)
    _strip_fingerprints(study)
    lines = _run(study)
    assert study['ran'] == ['base', 'ft', 'other']
    legacy = [line for line in lines if 'without a fingerprint' in line]
    assert len(legacy) == 1 and legacy[0].endswith('base, ft, pics, other')
    assert _result(study, 'pics')['fingerprint']['run'].startswith('legacy ')
    # Adopted once: a further run neither adopts nor reruns.
    assert not any('without a fingerprint' in line for line in _run(study))
    _edit_spec(study, "cfg_options={'x': 2}", "cfg_options={'x': 3}")
    with pytest.raises(StaleStepsError, match=r'ft \(spec entry changed: cfg_options'):
        _run(study)


def test_legacy_results_made_from_a_rerun_step_are_rerun_as_well(study):
    """Legacy ``ft`` and ``pics`` were made from ``base``'s earlier run: stale when the study
    starts (``base`` has no result), they must still be rerun after ``base`` has been, although
    without fingerprints they would look current again then."""
    _run(study)
    _strip_fingerprints(study)
    os.remove(study['work'] / 'base' / 'result.json')
    lines = _run(study, rerun_stale=True)
    assert study['ran'] == ['base', 'ft', 'other', 'base', 'ft']
    assert any('ft] stale (' in line and 'moved aside' in line for line in lines)
    assert glob.glob(str(study['work'] / 'pics.stale-*'))
    assert 'fingerprint' in _result(study, 'pics')
    assert not any('ft] finished earlier' in line for line in lines)


def test_a_legacy_result_older_than_what_it_was_made_from_is_stale(study):
    _run(study)
    _strip_fingerprints(study)
    _edit_result(study, 'ft', finished='2000-01-01 00:00:00')
    with pytest.raises(StaleStepsError, match=r'ft \(refers to @base, which finished at \S+ '
                       r'\S+, after it \(2000-01-01 00:00:00\)\)'):
        _run(study)


def test_a_legacy_training_started_from_another_step_is_stale(study):
    """The spec changed which step ``ft`` starts from before fingerprints were recorded."""
    _run(study)
    _strip_fingerprints(study)
    _edit_result(study, 'ft', load_from=str(study['work'] / 'earlier' / 'iter_1.pth'))
    with pytest.raises(StaleStepsError, match=r'ft \(started from \S+/earlier/iter_1.pth \(step '
                       r'earlier\), the spec now starts it from @base'):
        _run(study)


def test_a_legacy_training_that_disagrees_with_the_spec_is_stale_not_adopted(study):
    """A legacy training result records its config, options and iterations: a spec or config
    changed before the first run of this runner is caught from them."""
    _run(study)
    _strip_fingerprints(study)
    _edit_spec(study, 'seed=3', 'seed=4')
    with pytest.raises(StaleStepsError) as err:
        _run(study)
    assert ("other (was trained with cfg_options {'randomness.seed': 3}, the spec now gives "
            "{'randomness.seed': 4})") in str(err.value)
    # The others agree with the spec: adopted.
    assert all('fingerprint' in _result(study, n) for n in ('base', 'ft', 'pics'))
    assert 'fingerprint' not in _result(study, 'other')
    _edit_spec(study, 'seed=4', 'seed=3')
    (study['root'] / 'model.py').write_text(MODEL.replace('max_iters=1', 'max_iters=2'))
    with pytest.raises(StaleStepsError, match=r'other \(trained 1 iterations, its config now '
                       r'says 2\)'):
        _run(study)


def test_paths_from_environment_variables_do_not_make_steps_stale(study, monkeypatch):
    _run(study)
    # Another machine: the data elsewhere, and a config read from the data root's default.
    monkeypatch.setenv('CAMVID_ROOT', '/somewhere/else/camvid')
    lines = _run(study)
    assert study['ran'] == ['base', 'ft', 'other']
    assert sum('finished earlier: skipped' in line for line in lines) == 4
    monkeypatch.delenv('CAMVID_ROOT')
    _run(study)
    assert study['ran'] == ['base', 'ft', 'other']


def test_summary_only_runs_nothing_and_marks_stale_steps(study):
    _run(study)
    (study['root'] / 'base.py').write_text('x = 5\n')
    _run(study, summary_only=True)
    assert study['ran'] == ['base', 'ft', 'other']
    data = json.loads((study['root'] / 's.json').read_text())
    assert set(data['stale']) == {'base', 'ft', 'pics', 'other'}
    assert data['steps']['ft']['stale'][0].endswith('base.py changed')
    md = (study['root'] / 's.md').read_text()
    assert '**Stale steps**' in md and '| ft **(STALE)** |' in md
    assert '* `pics`: refers to @ft, which is stale' in md
    # Once the input is restored, the summary shows nothing stale.
    (study['root'] / 'base.py').write_text(BASE)
    _run(study, summary_only=True)
    data = json.loads((study['root'] / 's.json').read_text())
    assert data['stale'] == {} and 'STALE' not in (study['root'] / 's.md').read_text()


def test_an_interrupted_run_is_resumed_only_with_the_inputs_it_started_with(study):
    """A step's work dir records the inputs it started with; an interrupted run (no result, its
    checkpoints left) whose inputs changed since is moved aside instead of resumed."""
    _run(study)
    assert 'parts' in json.loads((study['work'] / 'ft' / 'started.json').read_text())
    os.remove(study['work'] / 'ft' / 'result.json')  # interrupted: checkpoints, no result
    lines = _run(study, rerun_stale=True)
    assert not any('interrupted run' in line for line in lines)
    assert not glob.glob(str(study['work'] / 'ft.interrupted-*'))
    os.remove(study['work'] / 'ft' / 'result.json')
    _edit_spec(study, "cfg_options={'x': 2}", "cfg_options={'x': 3}")
    lines = _run(study, rerun_stale=True)
    (line, ) = [line for line in lines if 'interrupted run' in line]
    assert "[ft] an interrupted run started with other inputs (spec entry changed: cfg_options" \
        in line and line.endswith('starting anew')
    (aside, ) = glob.glob(str(study['work'] / 'ft.interrupted-*'))
    assert osp.isfile(osp.join(aside, 'iter_1.pth'))  # nothing deleted
    assert _result(study, 'ft')['fingerprint']['spec_entry']['cfg_options'] == {'x': 3}
