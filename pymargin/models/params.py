# SPDX-License-Identifier: Apache-2.0
"""Versioned parameter files of the margin models (pymargin/data/models/<model>/<version>.json)."""

from __future__ import annotations

import copy
import functools
import json
import math
from datetime import date, datetime
from importlib import resources
from typing import Any

from ..exceptions import ModelCoverageError, ModelParameterError

__all__ = [
    "ModelCoverageError",
    "ModelParameterError",
    "available_versions",
    "later_than",
    "load_params",
    "number",
    "version_date",
    "version_in_force",
]


def _dir(model: str):
    return resources.files("pymargin") / "data" / "models" / model


@functools.lru_cache(maxsize=64)
def _versions(model: str) -> tuple[str, ...]:
    d = _dir(model)
    if not d.is_dir():
        raise ModelParameterError(f"no parameter files for model {model!r}", "model")
    return tuple(sorted(p.name[:-5] for p in d.iterdir() if p.name.endswith(".json")))


def available_versions(model: str) -> list[str]:
    """The dated parameter versions shipped for ``model``, oldest first."""
    return list(_versions(model))


@functools.lru_cache(maxsize=64)
def _document(model: str, version: str) -> dict[str, Any]:
    # The shipped files are package data: read and parsed once per process.
    with (_dir(model) / f"{version}.json").open("r", encoding="utf-8") as fh:
        doc: dict[str, Any] = json.load(fh)
    return doc


def version_date(version: str) -> date:
    """The date a version comes into force: its name, ``YYYY-MM-DD`` or ``YYYY-MM`` (the first
    of the month)."""
    try:
        if len(version) == 7:
            return date.fromisoformat(version + "-01")
        return date.fromisoformat(version)
    except ValueError:
        raise ModelParameterError(
            f"a version is named by its date (YYYY-MM-DD or YYYY-MM), not {version!r}", "version"
        ) from None


def version_in_force(model: str, when: datetime, candidates: list[str] | None = None) -> str:
    """The version of ``model`` in force at ``when`` (the newest dated on or before it) among
    ``candidates`` (default: every shipped version); the oldest candidate when all are later.
    Callers that accept a later version say so (:func:`later_than`)."""
    versions = sorted(candidates if candidates is not None else available_versions(model))
    if not versions:
        raise ModelParameterError(f"no parameter versions of {model}", "version")
    day = when.date()
    earlier = [v for v in versions if version_date(v) <= day]
    return earlier[-1] if earlier else versions[0]


def later_than(version: str, when: datetime) -> bool:
    """True when ``version`` dates from after ``when`` (it was not yet in force)."""
    return version_date(version) > when.date()


def load_params(model: str, version: str | None = None) -> dict[str, Any]:
    """The raw parameter document of ``model`` at ``version`` (default: the newest); a copy
    of its own for the caller."""
    versions = available_versions(model)
    if version is None:
        version = versions[-1]
    if version not in versions:
        raise ModelParameterError(
            f"unknown version {version!r} of {model}; have {', '.join(versions)}", "version"
        )
    return copy.deepcopy(_document(model, version))


def number(
    block: dict[str, Any], key: str, path: str, lo: float = -math.inf, hi: float = math.inf
) -> float:
    """A required finite number in [lo, hi] from a parameter block."""
    if not isinstance(block, dict):
        raise ModelParameterError("must be a mapping", path)
    if key not in block:
        raise ModelParameterError("missing", f"{path}.{key}")
    v = block[key]
    try:
        finite = not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v)
    except OverflowError:  # an int beyond any double
        finite = False
    if not finite:
        raise ModelParameterError(f"must be a finite number, got {v!r}", f"{path}.{key}")
    if not lo <= v <= hi:
        raise ModelParameterError(f"must be in [{lo}, {hi}], got {v!r}", f"{path}.{key}")
    return float(v)
