"""model-index.yml and the metafiles: every config listed once, as mim and mmengine read them."""
import glob
import os.path as osp

import pytest
import yaml

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _index():
    with open(osp.join(REPO, 'model-index.yml')) as f:
        return yaml.safe_load(f)['Import']


def _models(metafile):
    with open(osp.join(REPO, metafile)) as f:
        return yaml.safe_load(f)['Models']


# Config folders that hold no model config: bases, and study specs (lists of steps that name
# the model configs of the other folders).
NOT_MODEL_FOLDERS = ('_base_', 'study')


def test_one_metafile_per_config_folder():
    folders = sorted(osp.basename(d) for d in glob.glob(osp.join(REPO, 'configs', '*'))
                     if osp.basename(d) not in NOT_MODEL_FOLDERS)
    assert sorted(_index()) == [f'configs/{d}/metafile.yml' for d in folders]


@pytest.mark.parametrize('metafile', _index())
def test_metafile_lists_each_config_once_and_only_real_ones(metafile):
    folder = osp.dirname(metafile)
    models = _models(metafile)
    configs = [m['Config'] for m in models]
    on_disk = sorted(osp.relpath(p, REPO) for p in glob.glob(osp.join(REPO, folder, '*.py')))
    assert sorted(configs) == on_disk
    for model in models:
        assert model['Name'] == osp.splitext(osp.basename(model['Config']))[0]
        # No checkpoint is published: a Weights URL would send mim to download nothing.
        assert 'Weights' not in model
        flops = model.get('Metadata', {}).get('FLOPs (G)')
        assert flops is None or (flops > 0 and 'Input Size' in model['Metadata'])


def test_mim_reads_the_index():
    search = pytest.importorskip('mim.commands.search')
    from modelindex.load_model_index import load
    table = search.convert2df(load(osp.join(REPO, 'model-index.yml')))
    algm = search.filter_by_models(table, ['algm']).index.tolist()
    assert algm and all(name.startswith('algm_') for name in algm)
    assert 'flops(G)' in table.columns


def test_study_folder_holds_no_model_config():
    from mmengine.config import Config
    for path in glob.glob(osp.join(REPO, 'configs', 'study', '*.py')):
        spec = Config.fromfile(path)
        assert 'model' not in spec and spec.steps, path
