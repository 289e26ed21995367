"""train.py's start checkpoint: load_from through the strict gate, with the config's allow-lists.

Each test is one case of issue 14: a checkpoint that does not fit, is damaged or is missing is
refused before any iteration, with a message naming the file (and the key or the earlier step).
"""
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config

from mmeffseg.utils import start_checkpoint as sc


class _Net(nn.Module):

    def __init__(self, with_reducer: bool = True) -> None:
        super().__init__()
        self.backbone = nn.Module()
        self.backbone.stem = nn.Linear(4, 4)
        if with_reducer:
            self.backbone.reducers = nn.ModuleList([nn.Linear(4, 2)])
        self.head = nn.Linear(4, 3)


def _runner(model=None):
    return SimpleNamespace(model=model or _Net())


def _cfg(tmp_path, **kw) -> Config:
    path = tmp_path / 'stage2.py'
    path.write_text('# the stage-2 config\n')
    return Config(dict(work_dir=str(tmp_path / 'work'), **kw), filename=str(path))


def _save(tmp_path, model, name='dense.pth') -> str:
    path = str(tmp_path / name)
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return path


def test_dense_checkpoint_into_pruned_model_is_refused_without_allow_list(tmp_path):
    ckpt = _save(tmp_path, _Net(with_reducer=False))
    cfg = _cfg(tmp_path, load_from=ckpt)
    with pytest.raises(ValueError, match=r'backbone\.reducers\.0\.weight.*missing') as err:
        sc.gate_start_checkpoint(_runner(), cfg)
    assert ckpt in str(err.value)


def test_allow_listed_missing_prefix_is_accepted_and_printed(tmp_path, monkeypatch):
    logged = []
    monkeypatch.setattr(sc, 'print_log', lambda msg, **kw: logged.append(msg))
    ckpt = _save(tmp_path, _Net(with_reducer=False))
    cfg = _cfg(tmp_path, load_from=ckpt, load_from_missing_ok=['backbone.reducers.'])
    sc.gate_start_checkpoint(_runner(), cfg)
    assert any('backbone.reducers.' in m and 'load_from_missing_ok' in m for m in logged)


def test_allow_list_does_not_cover_other_missing_keys(tmp_path):
    dense = _Net(with_reducer=False)
    dense.head = nn.Identity()  # the head is missing too: not what the recipe allows
    ckpt = _save(tmp_path, dense)
    cfg = _cfg(tmp_path, load_from=ckpt, load_from_missing_ok=['backbone.reducers.'])
    with pytest.raises(ValueError, match=r'head\.(weight|bias)'):
        sc.gate_start_checkpoint(_runner(), cfg)


def test_unexpected_keys_refused_unless_allowed(tmp_path):
    bigger = _Net()
    bigger.gate = nn.Linear(4, 1)
    ckpt = _save(tmp_path, bigger)
    with pytest.raises(ValueError, match=r'gate\.weight.*not in the model'):
        sc.gate_start_checkpoint(_runner(), _cfg(tmp_path, load_from=ckpt))
    sc.gate_start_checkpoint(_runner(),
                             _cfg(tmp_path, load_from=ckpt, load_from_unexpected_ok=['gate.']))


def test_shape_mismatch_names_the_key(tmp_path):
    other = _Net()
    other.head = nn.Linear(4, 7)
    ckpt = _save(tmp_path, other)
    with pytest.raises(ValueError, match=r'head\.weight.*shape \(7, 4\).*\(3, 4\)'):
        sc.gate_start_checkpoint(_runner(), _cfg(tmp_path, load_from=ckpt))


def test_declared_reshaped_prefix_keeps_its_own_values_and_the_rest_loads(
        tmp_path, monkeypatch):
    """PRO-SCALE's case: layers resized for fewer levels than the start checkpoint's."""
    from mmeffseg.utils import load_checked_checkpoint
    logged = []
    monkeypatch.setattr(sc, 'print_log', lambda msg, **kw: logged.append(msg))
    other = _Net()
    other.head = nn.Linear(4, 7)
    ckpt = _save(tmp_path, other)
    cfg = _cfg(tmp_path, load_from=ckpt, load_from_mismatch_ok=['head.'])
    sc.gate_start_checkpoint(_runner(), cfg)
    assert any("['head.']" in m and 'load_from_mismatch_ok' in m for m in logged)
    model = _Net()
    head = model.head.weight.detach().clone()
    load_checked_checkpoint(model, ckpt, allow_mismatch=['head.'])
    assert torch.equal(model.head.weight, head)
    assert torch.equal(model.backbone.stem.weight, other.backbone.stem.weight)
    # The allowance covers its prefix only.
    with pytest.raises(ValueError, match=r'head\.weight.*shape'):
        sc.gate_start_checkpoint(
            _runner(), _cfg(tmp_path, load_from=ckpt, load_from_mismatch_ok=['backbone.']))


def test_resumed_checkpoint_must_fit_exactly_despite_allow_list(tmp_path):
    ckpt = _save(tmp_path, _Net(with_reducer=False))
    cfg = _cfg(tmp_path, load_from=ckpt, resume=True,
               load_from_missing_ok=['backbone.reducers.'])
    with pytest.raises(ValueError, match='reducers'):
        sc.gate_start_checkpoint(_runner(), cfg)


@pytest.mark.parametrize('value', ['backbone.reducers.', [3], ['']], ids=['str', 'int', 'empty'])
def test_allow_list_must_be_a_list_of_prefixes(tmp_path, value):
    cfg = _cfg(tmp_path, load_from_missing_ok=value)
    with pytest.raises(ValueError, match='load_from_missing_ok must be a list'):
        sc.load_from_allowances(cfg)


def _damaged(tmp_path, kind: str) -> str:
    path = tmp_path / f'{kind}.pth'
    good = _save(tmp_path, _Net(), 'good.pth')
    if kind == 'empty':
        path.write_bytes(b'')
    elif kind == 'truncated':
        path.write_bytes(open(good, 'rb').read()[:200])
    elif kind == 'corrupt':
        path.write_bytes(b'\x00garbage\xff' * 50)
    elif kind == 'text':
        path.write_text('this is a README, not weights\n')
    elif kind == 'not_a_state_dict':
        torch.save(['a', 'list'], str(path))
    elif kind == 'strings_only':
        torch.save({'state_dict': {'a': 'b'}}, str(path))
    return str(path)


@pytest.mark.parametrize(
    'kind', ['empty', 'truncated', 'corrupt', 'text', 'not_a_state_dict', 'strings_only'])
def test_damaged_load_from_names_the_file_and_the_fix(tmp_path, kind):
    path = _damaged(tmp_path, kind)
    with pytest.raises(ValueError) as err:
        sc.gate_start_checkpoint(_runner(), _cfg(tmp_path, load_from=path))
    msg = str(err.value)
    assert path in msg and ('tools/train.py' in msg or 'copy or download' in msg)


def test_missing_load_from_names_the_earlier_recipe_step(tmp_path):
    step = 'python tools/train.py configs/token_pruning/mask-rcnn_vit-t-sfp_1xb2-40i_coco128.py'
    cfg = _cfg(tmp_path, load_from=str(tmp_path / 'dense' / 'iter_40.pth'),
               load_from_made_by=step)
    with pytest.raises(FileNotFoundError) as err:
        sc.resolve_start_checkpoint(cfg)
    msg = str(err.value)
    assert 'iter_40.pth' in msg and step in msg and 'stage2.py' in msg


def test_missing_load_from_without_recipe_hint_still_says_how(tmp_path):
    cfg = _cfg(tmp_path, load_from=str(tmp_path / 'nope.pth'))
    with pytest.raises(FileNotFoundError, match=r'nope\.pth.*load_from=PATH'):
        sc.resolve_start_checkpoint(cfg)


def test_existing_load_from_passes_the_early_check(tmp_path):
    ckpt = _save(tmp_path, _Net())
    cfg = _cfg(tmp_path, load_from=ckpt)
    sc.resolve_start_checkpoint(cfg)
    assert cfg.load_from == ckpt and not cfg.get('resume')


def test_damaged_resume_checkpoint_is_named(tmp_path):
    path = _damaged(tmp_path, 'truncated')
    cfg = _cfg(tmp_path, load_from=path, resume=True)
    sc.resolve_start_checkpoint(cfg)  # it exists ...
    with pytest.raises(ValueError, match='corrupt, truncated') as err:
        sc.gate_start_checkpoint(_runner(), cfg)  # ... but cannot be read
    assert path in str(err.value)


def test_checkpoint_saved_from_a_ddp_model_fits(tmp_path):
    net = _Net()
    path = str(tmp_path / 'ddp.pth')
    torch.save({'state_dict': {f'module.{k}': v for k, v in net.state_dict().items()}}, path)
    sc.gate_start_checkpoint(_runner(), _cfg(tmp_path, load_from=path))
    wrapped = SimpleNamespace(model=SimpleNamespace(module=_Net()))  # a DDP-wrapped runner
    sc.gate_start_checkpoint(wrapped, _cfg(tmp_path, load_from=path))
