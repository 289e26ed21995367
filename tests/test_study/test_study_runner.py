"""The study runner on a tiny synthetic CamVid-format set: steps run in order, a finished step is
skipped by a rerun, an interrupted training resumes from its checkpoint, a report step measures
trained checkpoints, and bad specs fail before any work."""
import json
import os
import os.path as osp

import pytest

from mmeffseg.apis import read_config
from mmeffseg.study import Study, run_study
from mmeffseg.testing import make_camvid_like
from mmeffseg.utils.output_files import write_json

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
SEGMENTER = osp.join(ROOT, 'configs', 'segmenter', 'segmenter_vit-t_mask_1xb8-3k_camvid-360x480.py')

# A two-layer, 32-wide Segmenter on 32x32 crops: seconds per step on a CPU.
TINY_CONFIG = f"""
_base_ = [{SEGMENTER!r}]
crop_size = (32, 32)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(img_size=crop_size, embed_dims=32, num_layers=2, num_heads=2),
    decode_head=dict(in_channels=32, channels=32, embed_dims=32, num_heads=2, num_layers=1))
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        dataset=dict(pipeline=[
                            dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
                            dict(type='RandomCrop', crop_size=crop_size),
                            dict(type='PackSegInputs')]))
val_dataloader = dict(num_workers=0)
test_dataloader = dict(num_workers=0)
max_iters = 2
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False, begin=0, end=100)]
train_cfg = dict(max_iters=max_iters, val_interval=100)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=1))
"""


@pytest.fixture
def study_setup(tmp_path, monkeypatch):
    data = tmp_path / 'camvid'
    make_camvid_like(str(data))
    monkeypatch.setenv('CAMVID_ROOT', str(data))
    (tmp_path / 'tiny.py').write_text(TINY_CONFIG)
    return tmp_path


def _spec(tmp_path, steps: str, name='spec.py') -> str:
    path = tmp_path / name
    path.write_text(f'work_root = {str(tmp_path / "work")!r}\nthreads = 1\n'
                    f'_tiny = {str(tmp_path / "tiny.py")!r}\nsteps = {steps}\n')
    return str(path)


TWO_STEPS = """[
    dict(name='base', kind='train', config=_tiny, seed=0),
    dict(name='finetune', kind='train', config=_tiny, load_from='@base', seed=1),
]"""


def test_two_steps_then_rerun_skips_finished(study_setup):
    tmp = study_setup
    spec = _spec(tmp, TWO_STEPS)
    lines = []
    results = run_study(spec, log=lines.append)
    assert set(results) == {'base', 'finetune'}
    base, ft = results['base'], results['finetune']
    assert base['iters'] == 2 and osp.isfile(base['checkpoint'])
    # The second step started from the first one's weights.
    assert ft['load_from'] == base['checkpoint']
    assert ft['checkpoint'].startswith(str(tmp / 'work' / 'finetune'))
    mtime = os.path.getmtime(tmp / 'work' / 'base' / 'result.json')

    lines.clear()
    again = run_study(spec, log=lines.append)
    assert again == results
    assert sum('finished earlier: skipped' in line for line in lines) == 2
    assert os.path.getmtime(tmp / 'work' / 'base' / 'result.json') == mtime


def test_interrupted_training_resumes_from_its_checkpoint(study_setup):
    tmp = study_setup
    spec = _spec(tmp, "[dict(name='base', kind='train', config=_tiny)]")
    first = run_study(spec, log=lambda m: None)['base']
    assert first['iters'] == 2
    # An interrupt after iteration 2 of a longer run: checkpoints are there, no result yet,
    # and the inputs it started with are those of the longer run.
    os.remove(tmp / 'work' / 'base' / 'result.json')
    spec3 = _spec(tmp, "[dict(name='base', kind='train', config=_tiny, "
                  "cfg_options={'train_cfg.max_iters': 3})]", name='spec3.py')
    study3 = Study(read_config(spec3), spec3)
    write_json(str(tmp / 'work' / 'base' / 'started.json'),
               study3.fingerprint(study3.steps[0], {}, run='interrupted run'))
    lines = []
    resumed = run_study(spec3, log=lines.append)['base']
    assert any('resuming from' in line and 'iter_2.pth' in line for line in lines)
    assert resumed['iters'] == 3
    with open(tmp / 'work' / 'base' / 'run.log') as f:
        log = f.read()
    assert 'Resuming from' in log or 'resumed' in log.lower()


def test_report_step_measures_trained_checkpoints(study_setup):
    tmp = study_setup
    steps = """[
    dict(name='base', kind='train', config=_tiny),
    dict(name='eval', kind='report', num_images=1, repeats=1, warmup=0,
         cfg_options={'test_evaluator.type': 'ClassIoUMetric'},
         models=[dict(name='baseline', config=_tiny, checkpoint='@base'),
                 dict(name='shallow', config=_tiny, checkpoint='@base',
                      cfg_options={'model.test_cfg.mode': 'whole'})]),
]"""
    summary = (f"summary = dict(json={str(tmp / 'out' / 's.json')!r}, "
               f"markdown={str(tmp / 'out' / 's.md')!r}, figures={str(tmp / 'out' / 'fig')!r})")
    spec = _spec(tmp, steps)
    with open(spec, 'a') as f:
        f.write(summary + '\n')
    results = run_study(spec, log=lambda m: None)
    report = results['eval']['report']
    rows = report['rows']
    assert [r['study_name'] for r in rows] == ['baseline', 'shallow']
    assert all(r['checkpoint'] == results['base']['checkpoint'] for r in rows)
    metrics = rows[0]['metrics']
    assert 'mIoU' in metrics and 'IoU.sky' in metrics and 'IoU.bicyclist' in metrics
    # The derived config of the second model is the exact config it was evaluated with.
    assert osp.isfile(tmp / 'work' / 'eval' / 'configs' / 'shallow.py')
    assert rows[0]['cost']['flops']['full']['mean'] > 0
    with open(tmp / 'work' / 'eval' / 'result.json') as f:
        assert json.load(f)['report']['rows'][1]['study_name'] == 'shallow'


@pytest.mark.parametrize('steps, match', [
    ("[dict(name='a', kind='train', config=_tiny, load_from='@b')]", 'not an earlier step'),
    ("[dict(name='a', kind='fly', config=_tiny)]", "kind 'fly'"),
    ("[dict(name='a', kind='train', config=_tiny), dict(name='a', kind='train', config=_tiny)]",
     'used twice'),
    ('[]', 'no `steps`'),
])
def test_bad_spec_fails_before_work(study_setup, steps, match):
    tmp = study_setup
    with pytest.raises(ValueError, match=match):
        run_study(_spec(tmp, steps), log=lambda m: None)
    assert not (tmp / 'work').exists()


def test_failed_step_names_its_log_and_keeps_earlier_results(study_setup):
    tmp = study_setup
    steps = """[
    dict(name='base', kind='train', config=_tiny),
    dict(name='broken', kind='train', config=_tiny,
         cfg_options={'model.backbone.type': 'NoSuchBackbone'}),
]"""
    with pytest.raises(RuntimeError, match=r"(?s)step 'broken' failed .*run\.log"):
        run_study(_spec(tmp, steps), log=lambda m: None)
    assert (tmp / 'work' / 'base' / 'result.json').is_file()
    assert not (tmp / 'work' / 'broken' / 'result.json').exists()


def test_summary_lists_finished_and_pending_steps(study_setup):
    """The summary is rebuilt from result files alone: a report's table, ratios to the
    reference, the figure, and the steps not run yet."""
    tmp = study_setup
    steps = """[
    dict(name='base', kind='train', config=_tiny),
    dict(name='eval', kind='report', num_images=1, repeats=1, warmup=0, reference='b2',
         noise=['b1', 'b2'],
         models=[dict(name='b1', config=_tiny, checkpoint='@base'),
                 dict(name='b2', label='second', config=_tiny, checkpoint='@base')]),
    dict(name='later', kind='train', config=_tiny, load_from='@base'),
]"""
    spec = _spec(tmp, steps)
    with open(spec, 'a') as f:
        f.write(f"summary = dict(json={str(tmp / 's.json')!r}, markdown={str(tmp / 's.md')!r}, "
                f"figures={str(tmp / 'fig')!r}, title='Tiny')\n")
    run_study(spec, only=['base', 'eval'], log=lambda m: None)
    with open(tmp / 's.json') as f:
        data = json.load(f)
    assert data['pending'] == ['later']
    rows = data['reports']['eval']['rows']
    assert data['reports']['eval']['reference'] == 'b2'
    # Same checkpoint, same config: equal quality and FLOPs, ratio 1 to the reference.
    assert rows[0]['quality'] == rows[1]['quality']
    assert rows[0]['gflops_ratio'] == pytest.approx(1.0)
    assert data['reports']['eval']['noise']['spread'] == pytest.approx(0.0)
    md = (tmp / 's.md').read_text()
    assert '# Tiny' in md and '| second |' in md and 'Pending steps: later' in md
    assert (tmp / 'fig' / 'eval.png').is_file()


def test_command_step_outputs_feed_later_steps(study_setup):
    """A `command` step (ECO-M2F's Step B table, in the CamVid spec) records its declared
    outputs; a later step reads one as '@step:key'; a missing output fails the step."""
    tmp = study_setup
    write = "import sys; open(sys.argv[1], 'w').write(sys.argv[2])"
    copy = "import shutil, sys; shutil.copy(sys.argv[1], sys.argv[2])"
    steps = f"""[
    dict(name='table', kind='command', args=['-c', {write!r}, '{{work_dir}}/t.json', 'q'],
         outputs=dict(table='{{work_dir}}/t.json')),
    dict(name='use', kind='command', args=['-c', {copy!r}, '@table:table', '{{work_dir}}/c.json'],
         outputs=dict(copy='{{work_dir}}/c.json')),
    dict(name='broken', kind='command', args=['-c', 'pass'],
         outputs=dict(table='{{work_dir}}/never.json')),
]"""
    with pytest.raises(RuntimeError, match=r"step 'broken': -c ended without writing"):
        run_study(_spec(tmp, steps), log=lambda m: None)
    work = tmp / 'work'
    with open(work / 'table' / 'result.json') as f:
        assert json.load(f)['table'] == str(work / 'table' / 't.json')
    with open(work / 'use' / 'result.json') as f:
        assert json.load(f)['args'][2] == str(work / 'table' / 't.json')
    assert (work / 'use' / 'c.json').read_text() == 'q'
    assert not (work / 'broken' / 'result.json').exists()
