"""Builders shared by the tests (and by anyone checking the tools without real data)."""
from .synthetic_camvid import make_camvid_like
from .tools import load_tool

__all__ = ['make_camvid_like', 'load_tool']
