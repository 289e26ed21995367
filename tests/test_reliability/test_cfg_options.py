"""--cfg-options never adds a new top-level key silently (a typo would be ignored by the run)."""
import pytest
from mmengine.config import Config

from mmeffseg.apis import build_model, read_config


@pytest.fixture
def config(tmp_path) -> str:
    path = tmp_path / 'tiny.py'
    path.write_text("default_scope = 'mmseg'\n"
                    "model = dict(type='EncoderDecoder')\n"
                    "train_cfg = dict(type='IterBasedTrainLoop', max_iters=100)\n"
                    "test_cfg = dict(type='TestLoop')\n")
    return str(path)


def test_misspelt_top_level_key_is_refused_with_the_closest_key(config):
    with pytest.raises(ValueError) as err:
        read_config(config, {'trian_cfg.max_iters': 2})
    msg = str(err.value)
    assert "'trian_cfg'" in msg and "did you mean 'train_cfg'" in msg and 'tiny.py' in msg
    assert '--cfg-options-allow-new' in msg


def test_new_key_without_a_close_match_is_refused(config):
    with pytest.raises(ValueError, match=r"'zzz' is not a key of .*tiny\.py\."):
        read_config(config, {'zzz': 1})


def test_allow_new_warns_and_adds_the_key(config):
    with pytest.warns(UserWarning, match="did you mean 'train_cfg'"):
        cfg = read_config(config, {'trian_cfg.max_iters': 2}, allow_new_keys=True)
    assert cfg.trian_cfg.max_iters == 2 and cfg.train_cfg.max_iters == 100


@pytest.mark.parametrize('key', ['train_cfg.max_iters', 'resume', 'load_from', 'randomness.seed',
                                 'load_from_missing_ok', 'env_cfg.cudnn_benchmark'])
def test_existing_runner_and_mmeffseg_keys_are_accepted(config, key):
    cfg = read_config(config, {key: 3})
    assert cfg[key.split('.')[0]] is not None


def test_build_model_refuses_a_new_key_on_a_loaded_config():
    cfg = Config(dict(model=dict(type='Linear'), default_scope='mmengine'))
    with pytest.raises(ValueError, match="'modle'.*did you mean 'model'"):
        build_model(cfg, cfg_options={'modle.in_features': 2})


def test_efficiency_report_refuses_a_new_key_before_any_work(tmp_path):
    import os.path as osp
    from mmeffseg.analysis.efficiency_report import ReportOptions, run_efficiency_report
    repo = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    m2f = osp.join(repo, 'configs/mask2former/mask2former_r18-lite_1xb2-300i_embedded-panoptic.py')
    logs = []
    with pytest.raises(ValueError, match="'tset_dataloader'.*did you mean 'test_dataloader'"):
        run_efficiency_report(
            m2f, [], ReportOptions(cfg_options={'tset_dataloader.dataset.indices': 1},
                                   shape=(64, 64)), log=logs.append)
    assert logs == []
