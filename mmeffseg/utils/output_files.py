"""Where the tools put their results: folders probed before any work, files written atomically.

A tool that measures or tests for minutes must not find out at the end that it cannot write, and
a failed write (full disk, interrupt) must not leave a truncated file where a good one was: every
table, report and JSON goes to a temporary file in the same folder first and is then renamed
over the target (``os.replace`` is atomic on one file system).
"""
import contextlib
import json
import os
import os.path as osp
import tempfile
from typing import Any, Iterator

__all__ = ['prepare_output_dir', 'prepare_output_file', 'atomic_output', 'write_text_atomic',
           'write_json']


def prepare_output_dir(path: str, what: str = 'output directory') -> str:
    """Create ``path`` (and parents) and check that a file can be written there; return it.

    Raises:
        OSError: naming ``what``, the path and the fix (read-only, not a folder, no space...).
    """
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix='.write_probe_'):
            pass
    except OSError as err:
        raise type(err)(err.errno, f'{what} {path} is not writable ({err.strerror or err}); '
                        f'pass a folder you can write to (nothing has been run yet)') from err
    return path


def prepare_output_file(path: str, what: str = '--out') -> str:
    """Probe the folder of an output file before any work (see :func:`prepare_output_dir`)."""
    prepare_output_dir(osp.dirname(osp.abspath(path)), f'{what} folder')
    return path


@contextlib.contextmanager
def atomic_output(path: str) -> Iterator[str]:
    """Yield a temporary path next to ``path`` to write to; rename it to ``path`` on success.

    The temporary name keeps ``path``'s extension (matplotlib picks the format from it). On any
    error the temporary file is removed, ``path`` keeps its previous content, and an ``OSError``
    is re-raised naming ``path``.
    """
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    base, ext = osp.splitext(osp.basename(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f'.{base}.', suffix=f'.tmp{ext}')
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as err:
        _remove(tmp)
        raise type(err)(err.errno, f'could not write {path} ({err.strerror or err}); its '
                        f'previous content, if any, is unchanged') from err
    except BaseException:
        _remove(tmp)
        raise


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.remove(path)


def write_text_atomic(path: str, text: str) -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_output`)."""
    with atomic_output(path) as tmp, open(tmp, 'w') as f:
        f.write(text)


def write_json(path: str, payload: Any) -> None:
    """Write ``payload`` as indented JSON to ``path`` atomically, creating the folder."""
    write_text_atomic(path, json.dumps(payload, indent=2, default=str))
