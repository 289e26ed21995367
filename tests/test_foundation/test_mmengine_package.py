"""`import mmeffseg` makes `mmeffseg::` names work in mmengine, a user's `_base_` included.

mmengine finds a package's configs under its installed `.mim/`; a source checkout has none, so the
tests point mmengine at a package folder whose `.mim/` links to this checkout.
"""
import os
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.config import config as mmengine_config

import mmeffseg  # noqa: F401
from mmeffseg.apis import build_model, load_config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
ALGM = 'algm/algm_segmenter_vit-t_mask_1xb4-200i_embedded-semantic-256x256.py'
M2F = 'mask2former/mask2former_r18-lite_1xb2-300i_embedded-panoptic.py'


@pytest.fixture
def installed_package(tmp_path, monkeypatch):
    package = tmp_path / 'site' / 'mmeffseg'
    mim = package / '.mim'
    mim.mkdir(parents=True)
    for name in ('configs', 'model-index.yml'):
        os.symlink(osp.join(REPO, name), mim / name)
    monkeypatch.setattr(mmengine_config, 'get_installed_path', lambda name: str(package)
                        if name == 'mmeffseg' else _real_installed_path(name))
    return str(package)


def _real_installed_path(name):
    from mmengine.utils import get_installed_path
    return get_installed_path(name)


def _scopes(node, found):
    if isinstance(node, dict):
        if '_scope_' in node:
            found.add(node['_scope_'])
        for value in node.values():
            _scopes(value, found)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _scopes(value, found)
    return found


def _user_config(tmp_path, base, body=''):
    folder = tmp_path / 'elsewhere'
    folder.mkdir(exist_ok=True)
    path = folder / 'my_config.py'
    path.write_text(f"_base_ = ['mmeffseg::{base}']\n{body}\n")
    return str(path)


@pytest.mark.parametrize('base,family', [(ALGM, 'mmseg'), (M2F, 'mmdet')], ids=['algm', 'm2f'])
def test_user_config_inherits_mmeffseg_base(tmp_path, installed_package, base, family):
    path = _user_config(tmp_path, base, 'train_cfg = dict(max_iters=5)')
    cfg = Config.fromfile(path)
    assert cfg.train_cfg.max_iters == 5 and cfg.default_scope == family
    # No object is left tagged with a scope that has no registries.
    assert _scopes(cfg.to_dict(), set()) <= {family}
    assert cfg.model.get('_scope_') == family


def test_user_config_builds_with_the_tools_loader(tmp_path, installed_package):
    body = 'model = dict(decode_head=dict(num_classes=3))'
    model = build_model(load_config(_user_config(tmp_path, ALGM, body)))
    assert model.decode_head.num_classes == 3
    assert type(model.backbone).__name__ == 'ReducerViT'
    assert len(model.backbone.reducers) > 0


def test_package_prefix_without_base(installed_package):
    cfg = load_config(f'mmeffseg::{ALGM}')
    assert cfg.model.backbone.type == 'ReducerViT'


def test_fragment_base_takes_the_users_scope(tmp_path, installed_package):
    path = _user_config(tmp_path, '_base_/datasets/embedded_coco_semantic.py',
                        "default_scope = 'mmseg'")
    cfg = Config.fromfile(path)
    assert 'mmeffseg' not in _scopes(cfg.to_dict(), set())
