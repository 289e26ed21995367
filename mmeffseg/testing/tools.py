"""The repository's command-line tools as modules, so tests can call their ``main``."""
import importlib.util
import os.path as osp
from types import ModuleType


def tools_dir() -> str:
    """``tools/`` of the source checkout, or of the installed package (``.mim/tools``)."""
    package = osp.dirname(osp.dirname(osp.abspath(__file__)))
    checkout = osp.join(osp.dirname(package), 'tools')
    return checkout if osp.isdir(checkout) else osp.join(package, '.mim', 'tools')


def load_tool(path: str) -> ModuleType:
    """Import ``tools/<path>`` (e.g. ``'analysis_tools/get_flops.py'``) as a fresh module."""
    file = osp.join(tools_dir(), path)
    name = '_tool_' + osp.splitext(path)[0].replace('/', '_')
    spec = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
