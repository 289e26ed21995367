"""Checks of single config values, so a wrong type fails at build time naming its key.

A number written in quotes (``temperature='0.1'``) otherwise fails later with a bare
``TypeError`` and no key; a float where a count is meant (``level_schedule=[3, 2.5]``) would be
truncated by ``int()`` without a word.
"""
import numbers

__all__ = ['check_number', 'check_int']


def check_number(value, name: str, owner: str) -> float:
    """``value`` as a float; a string (``threshold='0.5'``) or a bool is refused by name.

    Raises:
        ValueError: naming ``owner``, the key ``name`` and the value.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f'{owner}: {name} must be a number, got {value!r} '
                         f'({type(value).__name__}); write it without quotes in the config.')
    return float(value)


def check_int(value, name: str, owner: str) -> int:
    """``value`` as an int; a float (even ``2.0``), a string or a bool is refused by name.

    Raises:
        ValueError: naming ``owner``, the key ``name`` and the value.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f'{owner}: {name} must be an integer, got {value!r} '
                         f'({type(value).__name__}); write a whole number without quotes.')
    return int(value)
