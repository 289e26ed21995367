"""Builders shared by the tests (and by anyone checking the tools without real data)."""
from .synthetic_camvid import make_camvid_like
from .tiny_reducer_vit_config import write_tiny_reducer_vit_config
from .tools import load_tool

__all__ = ['make_camvid_like', 'load_tool', 'write_tiny_reducer_vit_config']
