"""Builders shared by the tests (and by anyone checking the tools without real data)."""
from .synthetic_camvid import make_camvid_like

__all__ = ['make_camvid_like']
