"""Output locations are probed before any work; a failed write loses nothing and leaves no part.

The session runs as root (chmod does not stop writes), so read-only and full-disk cases are
monkeypatched to raise the OSError the kernel would (EROFS, ENOSPC), or use a path below a file.
"""
import errno
import json
import os
import os.path as osp
import sys

import pytest

from mmeffseg.analysis import cli_args
from mmeffseg.testing import load_tool
from mmeffseg.utils import output_files
from mmeffseg.utils.output_files import (atomic_output, prepare_output_dir, write_json,
                                         write_text_atomic)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _tool(name: str):
    return load_tool(name)


def _full_disk_open(real_open):
    class _Full:

        def __init__(self, f):
            self.f = f

        def write(self, text):
            self.f.write(text[:10])  # part of it reached the disk, then no space
            raise OSError(errno.ENOSPC, 'No space left on device')

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    return lambda path, mode='r', *a, **kw: _Full(real_open(path, mode, *a, **kw)) \
        if 'w' in mode else real_open(path, mode, *a, **kw)


def _leftovers(folder) -> list:
    return sorted(n for n in os.listdir(folder) if n.startswith('.'))


def test_full_disk_keeps_the_previous_json_and_leaves_no_part(tmp_path, monkeypatch):
    target = tmp_path / 'report.json'
    write_json(str(target), dict(rows=[1, 2, 3]))
    monkeypatch.setattr(output_files, 'open', _full_disk_open(open), raising=False)
    with pytest.raises(OSError) as err:
        write_json(str(target), dict(rows=[4]))
    assert err.value.errno == errno.ENOSPC and str(target) in str(err.value)
    assert json.loads(target.read_text()) == dict(rows=[1, 2, 3])
    assert _leftovers(tmp_path) == []


def test_full_disk_on_a_new_table_leaves_no_empty_file(tmp_path, monkeypatch):
    target = tmp_path / 'table.md'
    monkeypatch.setattr(output_files, 'open', _full_disk_open(open), raising=False)
    with pytest.raises(OSError, match='table.md'):
        write_text_atomic(str(target), '| a | b |\n')
    assert os.listdir(tmp_path) == []


def test_interrupted_write_leaves_the_old_file(tmp_path):
    target = tmp_path / 'report.png'
    target.write_bytes(b'old picture')
    with pytest.raises(KeyboardInterrupt):
        with atomic_output(str(target)) as tmp:
            assert tmp.endswith('.png')  # matplotlib picks the format from it
            open(tmp, 'wb').write(b'half a')
            raise KeyboardInterrupt
    assert target.read_bytes() == b'old picture' and _leftovers(tmp_path) == []


def test_one_json_writer(tmp_path):
    # The cost tools' write_json is the atomic one (one helper, not two).
    assert cli_args.write_json is write_json
    write_json(str(tmp_path / 'a' / 'b.json'), dict(x=1))
    assert json.loads((tmp_path / 'a' / 'b.json').read_text()) == dict(x=1)


def test_read_only_output_dir_is_named(tmp_path, monkeypatch):
    def read_only(path, exist_ok=False):
        raise OSError(errno.EROFS, 'Read-only file system')
    monkeypatch.setattr(output_files.os, 'makedirs', read_only)
    with pytest.raises(OSError) as err:
        prepare_output_dir(str(tmp_path / 'ro'), '--out-dir')
    assert err.value.errno == errno.EROFS
    assert '--out-dir' in str(err.value) and str(tmp_path / 'ro') in str(err.value)


def test_output_dir_below_a_file_is_named(tmp_path):
    (tmp_path / 'file').write_text('x')
    with pytest.raises(OSError, match=r'--out .*file/sub is not writable'):
        prepare_output_dir(str(tmp_path / 'file' / 'sub'), '--out')


def test_probe_leaves_nothing_behind(tmp_path):
    prepare_output_dir(str(tmp_path / 'new'))
    assert os.listdir(tmp_path / 'new') == []


def test_efficiency_report_probes_out_dir_before_any_work(tmp_path, monkeypatch, capsys):
    tool = _tool('analysis_tools/efficiency_report.py')
    ran = []
    monkeypatch.setattr(tool, 'run_efficiency_report', lambda *a, **kw: ran.append(a))
    (tmp_path / 'file').write_text('x')
    out_dir = str(tmp_path / 'file' / 'report')
    with pytest.raises(OSError, match=out_dir):
        tool.main(['--baseline', 'b.py', '--out-dir', out_dir])
    assert ran == []  # nothing measured or trained


def test_efficiency_report_prints_the_table_before_writing(tmp_path, monkeypatch, capsys):
    tool = _tool('analysis_tools/efficiency_report.py')
    monkeypatch.setattr(tool, 'run_efficiency_report', lambda *a, **kw: dict(seconds=1))
    monkeypatch.setattr(tool, 'report_markdown', lambda report: '| the table |')

    def full(report, out_dir):
        raise OSError(errno.ENOSPC, f'could not write {out_dir}/report.json')
    monkeypatch.setattr(tool, 'write_report', full)
    with pytest.raises(OSError, match='report.json'):
        tool.main(['--baseline', 'b.py', '--out-dir', str(tmp_path / 'out')])
    assert '| the table |' in capsys.readouterr().out


def test_test_tool_probes_out_before_building_the_runner(tmp_path, monkeypatch):
    tool = _tool('test.py')
    built = []
    monkeypatch.setattr(tool, 'build_runner', lambda cfg: built.append(cfg))
    (tmp_path / 'file').write_text('x')
    out = str(tmp_path / 'file' / 'preds.pkl')
    (tmp_path / 'model.pth').write_bytes(b'')  # read only after the runner is built
    monkeypatch.setattr(sys, 'argv', [
        'test.py', 'mask2former_r18-lite_1xb2-300i_embedded-panoptic.py',
        str(tmp_path / 'model.pth'),
        '--work-dir', str(tmp_path / 'work'), '--out', out])
    with pytest.raises(OSError, match=r'--out .*file is not writable'):
        tool.main()
    assert built == []


@pytest.mark.parametrize('tool', ['analysis_tools/get_flops.py', 'analysis_tools/benchmark.py'])
def test_cost_tools_probe_out_before_any_work(tmp_path, monkeypatch, tool):
    module = _tool(tool)

    def never(*args, **kwargs):
        raise AssertionError('the model was built before --out was probed')

    # the tools build through cli_args.prepare_inputs, which probes --out before prepare
    monkeypatch.setattr('mmeffseg.analysis.cli_args.prepare', never)
    (tmp_path / 'file').write_text('x')
    bad = str(tmp_path / 'file' / 'flops.json')
    with pytest.raises(OSError, match='--out folder .*file'):
        module.main(['configs/segmenter/segmenter_vit-t_mask_8xb1-160k_ade20k-512x512.py',
                     '--shape', '64', '64', '--out', bad])
