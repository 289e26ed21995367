"""Step B tool: single process, 2-process (torchrun, gloo) and resume give the same table."""
import importlib.util
import json
import os
import os.path as osp
import socket
import subprocess
import sys

import pytest
import torch

from mmeffseg.models.gates import ExitQualityTable
from mmeffseg.testing.synthetic_coco_panoptic import TEST_PIPELINE, make_panoptic_dataset
from mmeffseg.testing.tiny_eco_m2f import EXITS, build_tiny, tiny_mask2former_cfg

TOOL = osp.join('tools', 'ecom2f', 'build_quality_table.py')


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    from mmengine.config import Config
    tmp = tmp_path_factory.mktemp('stepb')
    dataset = make_panoptic_dataset(str(tmp / 'data'))
    cfg = Config(dict(
        default_scope='mmdet',
        custom_imports=dict(imports=['mmeffseg'], allow_failed_imports=False),
        model=tiny_mask2former_cfg(),
        train_dataloader=dict(dataset=dict(dataset, pipeline=[])),
        test_dataloader=dict(dataset=dict(dataset, pipeline=TEST_PIPELINE))))
    cfg_path = str(tmp / 'tiny_ecom2f.py')
    cfg.dump(cfg_path)
    ckpt = str(tmp / 'parent.pth')
    torch.save(dict(state_dict=build_tiny(seed=0).state_dict()), ckpt)
    return tmp, cfg_path, ckpt


def _tool(repo_root):
    spec = importlib.util.spec_from_file_location('build_quality_table',
                                                  osp.join(repo_root, TOOL))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def _run_in_process(args, repo_root, capsys):
    """Run the tool's main() here: saves a torch/mmdet import per run."""
    _tool(repo_root).main(args)
    return capsys.readouterr().out


def _write_partial(path, repo_root, args, rows, exits=EXITS):
    """A partial file as an interrupted run of the tool with ``args`` leaves it."""
    tool = _tool(repo_root)
    header = tool.run_header(tool.parse_args(args), exits)
    with open(path, 'w') as f:
        f.write(json.dumps(dict(header=header)) + '\n')
        for row in rows:
            f.write(row if isinstance(row, str) else json.dumps(row) + '\n')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _run_torchrun(args, repo_root, nproc=2):
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=repo_root)
    cmd = [sys.executable, '-m', 'torch.distributed.run', f'--nproc_per_node={nproc}',
           f'--master_port={_free_port()}', TOOL] + args + ['--launcher', 'pytorch']
    res = subprocess.run(cmd, cwd=repo_root, env=env, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]


def test_single_distributed_and_resume_agree(setup, repo_root, capsys):
    tmp, cfg, ckpt = setup
    single, dist2, resumed = (str(tmp / n) for n in ('single.json', 'dist.json', 'res.json'))
    # mIoU: a random parent scores 0 PQ everywhere, but varied mIoU, a sharper comparison.
    single_pq = str(tmp / 'single_pq.json')
    out = _run_in_process([cfg, ckpt, '--out', single, single_pq, '--metric', 'miou', 'pq'],
                          repo_root, capsys)
    assert '5 images x exits [2, 3, 4, 5, 6] (miou, pq)' in out
    pq = ExitQualityTable(single_pq, EXITS)  # validates values in [0, 1]
    assert pq.metadata['metric'] == 'pq' and len(pq) == 5
    table = json.load(open(single))
    assert list(table['quality']) == ['100', '101', '102', '103', '104']
    assert table['metadata']['metric'] == 'miou'
    values = [v for row in table['quality'].values() for v in row]
    assert all(0.0 <= v <= 1.0 for v in values)
    assert len(set(values)) > 1  # not a constant table
    ExitQualityTable(single, EXITS)
    assert not [p for p in os.listdir(tmp) if '.part' in p]  # partial files cleaned up

    _run_torchrun([cfg, ckpt, '--out', dist2, '--metric', 'miou'], repo_root)
    assert open(dist2, 'rb').read() == open(single, 'rb').read()  # byte-identical

    # Interrupted in one process, resumed in two: the same bytes again.
    other = str(tmp / 'other.json')
    _write_partial(other + '.part0.jsonl', repo_root, [cfg, ckpt, '--out', other, '--metric',
                                                       'miou'],
                   [dict(img_id=int(i), quality=dict(miou=table['quality'][i]))
                    for i in ('100', '103')])
    _run_torchrun([cfg, ckpt, '--out', other, '--metric', 'miou'], repo_root)
    assert json.load(open(other))['quality'] == table['quality']
    assert not [p for p in os.listdir(tmp) if p.startswith('other.json.part')]

    # Resume: an interrupted run left two finished images (one with a marker value that
    # must survive, proving it was not recomputed) and a truncated line.
    _write_partial(resumed + '.part0.jsonl', repo_root,
                   [cfg, ckpt, '--out', resumed, '--metric', 'miou'],
                   [dict(img_id=101, quality=dict(miou=[0.123] * 5)),
                    dict(img_id=103, quality=dict(miou=table['quality']['103'])),
                    dict(img_id=102, quality=dict(pq=[0.5] * 5)),  # no miou: redone
                    '{"img_id": 104, "qual'])
    out = _run_in_process([cfg, ckpt, '--out', resumed, '--metric', 'miou'], repo_root,
                          capsys)
    assert '2 done before' in out
    res = json.load(open(resumed))['quality']
    assert res['101'] == [0.123] * 5
    assert {k: v for k, v in res.items() if k != '101'} == \
        {k: v for k, v in table['quality'].items() if k != '101'}

    # An existing table is not overwritten silently.
    with pytest.raises(FileExistsError, match='--overwrite'):
        _run_in_process([cfg, ckpt, '--out', single], repo_root, capsys)
    with pytest.raises(SystemExit):  # one --out per metric
        _run_in_process([cfg, ckpt, '--out', str(tmp / 'a.json'), '--metric', 'pq', 'miou'],
                        repo_root, capsys)


def test_pq_metric_subset_of_exits(setup, repo_root, capsys):
    tmp, cfg, ckpt = setup
    out = str(tmp / 'pq.json')
    _run_in_process([cfg, ckpt, '--out', out, '--limit', '2', '--exits', '2', '6'],
                    repo_root, capsys)
    table = ExitQualityTable(out, (2, 6))  # validates values in [0, 1]
    assert table.ids == ['100', '101'] and table.metadata['metric'] == 'pq'


def test_missing_checkpoint(setup, repo_root, capsys):
    tmp, cfg, _ = setup
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        _run_in_process([cfg, str(tmp / 'nope.pth'), '--out', str(tmp / 'x.json')],
                        repo_root, capsys)


# ---------------------------------------------------------------- provenance (issue 14)
def _partial_args(tmp, cfg, ckpt, name):
    out = str(tmp / name)
    return out, [cfg, ckpt, '--out', out, '--metric', 'miou', '--limit', '2']


@pytest.mark.parametrize('change, field', [
    (['--exits', '2', '6'], 'exits'),
    (['--cfg-options', 'model.panoptic_head.num_queries=8'], 'cfg_options'),
    (['--metric', 'pq'], 'metrics'),
    (['--limit', '3'], 'limit'),
])
def test_resume_refuses_partial_of_other_settings(setup, repo_root, capsys, change, field):
    tmp, cfg, ckpt = setup
    out, args = _partial_args(tmp, cfg, ckpt, f'mixed_{field}.json')
    _write_partial(out + '.part0.jsonl', repo_root, args,
                   [dict(img_id=100, quality=dict(miou=[0.5] * 5))])
    with pytest.raises(ValueError, match=rf'{out}\.part0\.jsonl was made with {field}='):
        _run_in_process(args + change, repo_root, capsys)
    assert not osp.exists(out)  # nothing mixed, nothing written


def test_resume_refuses_partial_of_other_checkpoint(setup, repo_root, capsys):
    tmp, cfg, ckpt = setup
    out, args = _partial_args(tmp, cfg, ckpt, 'other_ckpt.json')
    _write_partial(out + '.part0.jsonl', repo_root, args,
                   [dict(img_id=100, quality=dict(miou=[0.5] * 5))])
    retrained = str(tmp / 'retrained.pth')
    torch.save(dict(state_dict=build_tiny(seed=1).state_dict()), retrained)
    with pytest.raises(ValueError, match=r'other_ckpt\.json\.part0\.jsonl was made with '
                                         r'checkpoint='):
        _run_in_process([cfg, retrained] + args[2:], repo_root, capsys)
    # The same path, rewritten (a parent trained again): size/mtime differ, also refused.
    _write_partial(out + '.part0.jsonl', repo_root, [cfg, retrained] + args[2:],
                   [dict(img_id=100, quality=dict(miou=[0.5] * 5))])
    os.utime(retrained, (1, 1))
    with pytest.raises(ValueError, match='checkpoint='):
        _run_in_process([cfg, retrained] + args[2:], repo_root, capsys)


def test_headerless_partial_refused_and_overwrite_discards(setup, repo_root, capsys):
    tmp, cfg, ckpt = setup
    out, args = _partial_args(tmp, cfg, ckpt, 'headerless.json')
    with open(out + '.part1.jsonl', 'w') as f:  # an old tool's partial: rows, no header
        f.write(json.dumps(dict(img_id=100, quality=dict(miou=[0.123] * 5))) + '\n')
    with pytest.raises(ValueError, match=r'headerless\.json\.part1\.jsonl has no header'):
        _run_in_process(args, repo_root, capsys)
    text = _run_in_process(args + ['--overwrite'], repo_root, capsys)
    assert '0 done before' in text
    assert json.load(open(out))['quality']['100'] != [0.123] * 5  # recomputed, not reused
    assert not [p for p in os.listdir(tmp) if p.startswith('headerless.json.part')]


def test_table_records_dataset_and_checkpoint(setup, repo_root, capsys):
    tmp, cfg, ckpt = setup
    out, args = _partial_args(tmp, cfg, ckpt, 'provenance.json')
    _run_in_process(args, repo_root, capsys)
    meta = json.load(open(out))['metadata']
    assert meta['checkpoint_file']['path'] == osp.realpath(ckpt)
    assert meta['checkpoint_file']['size'] == os.path.getsize(ckpt)
    assert meta['dataset']['ann_file'].endswith('.json')
    assert set(meta['dataset']['data_prefix']) == {'img', 'seg'}


@pytest.mark.parametrize('limit', ['0', '-1'])
def test_limit_below_one_refused(setup, repo_root, capsys, limit):
    tmp, cfg, ckpt = setup
    out = str(tmp / 'limit.json')
    with pytest.raises(SystemExit):
        _run_in_process([cfg, ckpt, '--out', out, '--limit', limit], repo_root, capsys)
    assert '--limit' in capsys.readouterr().err and not osp.exists(out)


def test_exits_beyond_encoder_refused_before_build(setup, repo_root, capsys, monkeypatch):
    tmp, cfg, ckpt = setup
    out = str(tmp / 'deep.json')
    tool = _tool(repo_root)
    monkeypatch.setattr(tool, 'build', lambda *a: pytest.fail('model built before the check'))
    with pytest.raises(ValueError, match=r'--exits.*\[7\].*6 layers'):
        tool.main([cfg, ckpt, '--out', out, '--exits', '2', '7'])
    assert not [p for p in os.listdir(tmp) if p.startswith('deep.json')]


def test_unwritable_out_folder_refused_before_build(setup, repo_root, capsys, monkeypatch):
    tmp, cfg, ckpt = setup
    blocker = tmp / 'a_file'
    blocker.write_text('')
    tool = _tool(repo_root)
    monkeypatch.setattr(tool, 'build', lambda *a: pytest.fail('model built before the probe'))
    with pytest.raises(OSError, match=r'folder of --out .*a_file.* is not writable'):
        tool.main([cfg, ckpt, '--out', str(tmp / 'ok.json'), str(blocker / 't.json'),
                   '--metric', 'pq', 'miou'])
