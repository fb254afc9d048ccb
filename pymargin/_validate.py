# SPDX-License-Identifier: Apache-2.0
"""Argument checks shared across the package (typed errors naming the field and the row)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .exceptions import InputTypeError, InvalidInputError

__all__ = ["float_array", "index_array", "real_number"]


def real_number(value: Any, name: str, index: int | None = None) -> float:
    """A real number (bool and strings refused) as float, or a typed error naming ``name``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise InputTypeError(f"must be a number, got {type(value).__name__}", name, index)
    return float(value)


def index_array(x: Any, field: str, hi: int) -> np.ndarray:
    """Integer indices in [0, hi], checked before any cast (no wrap-around, no truncation)."""
    a = np.asarray(x)
    if a.ndim != 1 or (a.size and a.dtype.kind not in "iu"):
        raise InputTypeError("must be a 1-D array of integers", field)
    if a.size and (a.min() < 0 or a.max() > hi):  # two reductions; the mask only on error
        bad = (a < 0) | (a > hi)
        raise InvalidInputError(f"must be in [0, {hi}]", field, int(np.argmax(bad)))
    return a


def float_array(x: Any, field: str) -> np.ndarray:
    try:
        a = np.ascontiguousarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputTypeError("must be numbers", field) from None
    if a.ndim != 1:
        raise InputTypeError("must be 1-D", field)
    return a
