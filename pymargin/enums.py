"""Enumerations used across the API (no stringly-typed choices)."""

from __future__ import annotations

import enum

__all__ = ["OptionType"]


class OptionType(enum.IntEnum):
    """Call or put. The integer values match a boolean ``is_call`` array (True = call)."""

    PUT = 0
    CALL = 1
