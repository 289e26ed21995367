"""mmeffseg.apis: one loader for every config name, and a strict checkpoint gate."""
import os.path as osp

import pytest
import torch
from mmengine.runner import save_checkpoint

from mmeffseg.apis import build_model, load_config, model_family, resolve_config_path

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SEG_NAME = 'segmenter_vit-t_mask_1xb4-200i_embedded-semantic-256x256.py'
SEG = osp.join(REPO, 'configs', 'segmenter', SEG_NAME)
# A Segmenter small enough to build in a fraction of a second.
TINY = {
    'model.backbone.embed_dims': 32, 'model.backbone.num_layers': 2,
    'model.backbone.num_heads': 2, 'model.decode_head.in_channels': 32,
    'model.decode_head.channels': 32, 'model.decode_head.embed_dims': 32,
    'model.decode_head.num_layers': 1, 'model.decode_head.num_heads': 2
}


@pytest.mark.parametrize('name', [SEG, SEG_NAME, SEG_NAME[:-3], f'mmeffseg::segmenter/{SEG_NAME}'],
                         ids=['path', 'file-name', 'name-without-py', 'mmeffseg-prefix'])
def test_every_config_name_reads_the_same_file(name):
    assert osp.realpath(resolve_config_path(name)) == osp.realpath(SEG)
    cfg = load_config(name, {'train_cfg.max_iters': 3})
    assert cfg.train_cfg.max_iters == 3 and model_family(cfg) == 'mmseg'


def test_project_config_found_by_name():
    name = 'algm-token-pruning_segmenter_vit-t_mask_1xb4-200i_embedded-semantic-256x256.py'
    assert 'projects' in resolve_config_path(name)


def test_mmseg_package_name():
    cfg = load_config('mmseg::segmenter/segmenter_vit-t_mask_8xb1-160k_ade20k-512x512.py')
    assert cfg.model.type == 'EncoderDecoder' and model_family(cfg) == 'mmseg'


@pytest.mark.parametrize('name,match', [
    ('no_such_config.py', 'not found: no_such_config.py'),
    ('mmfoo::a/b.py', "unknown package 'mmfoo'"),
    ('mmeffseg::segmenter/nothere.py', 'nothere.py.*not found'),
])
def test_unknown_names_fail_with_the_accepted_forms(name, match):
    with pytest.raises(FileNotFoundError, match=match):
        load_config(name)


def test_fragment_and_foreign_scope_refused(tmp_path):
    with pytest.raises(ValueError, match='has no `model`'):
        load_config(osp.join(REPO, 'configs/_base_/datasets/embedded_coco_semantic.py'))
    other = tmp_path / 'other.py'
    other.write_text("model = dict(type='X')\ndefault_scope = 'mmpretrain'\n")
    with pytest.raises(ValueError, match="other.py: default_scope is 'mmpretrain'"):
        load_config(str(other))


@pytest.fixture(scope='module')
def tiny_ckpt(tmp_path_factory):
    model = build_model(SEG, cfg_options=TINY)
    path = str(tmp_path_factory.mktemp('ckpt') / 'tiny.pth')
    save_checkpoint({'state_dict': model.state_dict(),
                     'meta': {'dataset_meta': {'classes': ('a', 'b')}}}, path)
    return model, path


def test_checkpoint_loaded_and_model_ready(tiny_ckpt):
    saved, path = tiny_ckpt
    model = build_model(SEG, path, cfg_options=TINY)
    assert not model.training and model.cfg.model.backbone.embed_dims == 32
    assert model.dataset_meta == {'classes': ('a', 'b')}
    for key, value in saved.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key


def test_checkpoint_of_another_model_refused(tiny_ckpt):
    _, path = tiny_ckpt
    wider = dict(TINY, **{'model.decode_head.num_classes': 7})
    with pytest.raises(ValueError, match=r'tiny\.pth.*shape'):
        build_model(SEG, path, cfg_options=wider)


def test_allowed_missing_prefix_keeps_own_weights(tmp_path, tiny_ckpt):
    saved, _ = tiny_ckpt
    state = {k: v for k, v in saved.state_dict().items() if not k.startswith('decode_head.')}
    path = str(tmp_path / 'backbone_only.pth')
    torch.save({'state_dict': state}, path)
    with pytest.raises(ValueError, match=r'backbone_only\.pth.*decode_head\..*missing'):
        build_model(SEG, path, cfg_options=TINY)
    model = build_model(SEG, path, cfg_options=TINY, allow_missing=['decode_head.'])
    key = 'backbone.patch_embed.projection.weight'
    assert torch.equal(model.state_dict()[key], saved.state_dict()[key])


def test_allowed_unexpected_prefix(tmp_path, tiny_ckpt):
    saved, _ = tiny_ckpt
    path = str(tmp_path / 'extra.pth')
    torch.save({'state_dict': dict(saved.state_dict(), **{'gate.w': torch.zeros(1)})}, path)
    with pytest.raises(ValueError, match='gate.w.*not in the model'):
        build_model(SEG, path, cfg_options=TINY)
    build_model(SEG, path, cfg_options=TINY, allow_unexpected=['gate.'])


@pytest.mark.parametrize('content', [b'', b'not a checkpoint at all', 'list'],
                         ids=['empty', 'garbage', 'not-a-state-dict'])
def test_corrupt_or_foreign_file_named(tmp_path, content):
    path = tmp_path / 'bad.pth'
    if content == 'list':
        torch.save([1, 2, 3], path)
    else:
        path.write_bytes(content)
    with pytest.raises(ValueError, match=r'bad\.pth.*(cannot be read|no state dict)'):
        build_model(SEG, str(path), cfg_options=TINY)


def test_truncated_checkpoint_named(tmp_path, tiny_ckpt):
    _, good = tiny_ckpt
    path = tmp_path / 'truncated.pth'
    with open(good, 'rb') as f:
        path.write_bytes(f.read()[:2000])
    with pytest.raises(ValueError, match=r'truncated\.pth.*cannot be read.*corrupt'):
        build_model(SEG, str(path), cfg_options=TINY)
