# SPDX-License-Identifier: Apache-2.0
"""Portfolios: positions in instruments (size in units of the underlying coin; < 0 = short)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import FileInputError, InvalidInputError
from ..files import csv_records, load_json, open_file
from .instruments import Instrument, parse_instrument, parse_instruments

__all__ = ["CheckedPositions", "Portfolio", "as_portfolio", "position_arrays", "position_sizes"]


def position_sizes(names: list[str], values: list[Any]) -> np.ndarray:
    """Position sizes as float64, refusing anything but finite int/float (bool included) with
    the row named; one vectorised check on the normal path."""
    return _sizes(names, values, set(map(type, values)))


def _sizes(names: list[str], values: list[Any], types: set[type]) -> np.ndarray:
    if not types <= {float, int, np.float64}:
        for row, v in enumerate(values):
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.number)):
                raise InvalidInputError(f"size of {names[row]} must be a number", "size", row)
    sizes = np.array(values, dtype=np.float64)
    bad = ~np.isfinite(sizes)
    if bad.any():
        row = int(np.argmax(bad))
        raise InvalidInputError(f"size of {names[row]} must be finite", "size", row)
    return sizes


class CheckedPositions(dict[str, float]):
    """The positions of a :class:`Portfolio`: checked once, so read-only (build a new
    Portfolio to change them); they carry their sizes as a read-only float64 array, which
    the models take without checking again (:func:`position_arrays`)."""

    def __init__(self, positions: dict[str, float], sizes: np.ndarray) -> None:
        super().__init__(positions)
        sizes.flags.writeable = False
        self.sizes = sizes

    def _read_only(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("a Portfolio's positions are read-only: build a new Portfolio")

    __setitem__ = __delitem__ = _read_only
    pop = popitem = clear = update = setdefault = _read_only
    __ior__ = _read_only

    def __reduce__(self) -> tuple[Any, ...]:
        return (CheckedPositions, (dict(self), np.array(self.sizes)))


def position_arrays(positions: Mapping[str, float]) -> tuple[list[str], np.ndarray]:
    """The names and sizes (float64) of ``positions``: a Portfolio's as they were checked,
    any other mapping checked here (typed errors naming the row)."""
    if type(positions) is CheckedPositions:
        return list(positions), positions.sizes
    if not isinstance(positions, Mapping):
        raise InvalidInputError("positions must be a mapping of name to size", "positions")
    names = list(positions)
    return names, position_sizes(names, list(positions.values()))


@dataclass(frozen=True)
class Portfolio:
    """Validated positions: ``positions`` maps instrument names to sizes (coin units); they
    are read-only once checked."""

    positions: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._check(parse_names=True)

    @classmethod
    def sized(cls, positions: Mapping[str, float]) -> Portfolio:
        """A portfolio whose sizes are checked here and whose names are checked where they
        are valued: every margin model looks each name up in the market's instrument table,
        which parses it once per snapshot and raises the same typed error (field
        ``instrument``, the row) before anything is computed. What :func:`pymargin.models.registry`
        builds from a dict, so that a large book is not parsed twice."""
        self = cls.__new__(cls)
        object.__setattr__(self, "positions", positions)
        self._check(parse_names=False)
        return self

    def _check(self, *, parse_names: bool) -> None:
        if type(self.positions) is CheckedPositions:
            return  # checked when it was built
        if not isinstance(self.positions, Mapping):
            raise InvalidInputError("positions must be a mapping of name to size", "positions")
        pos = dict(self.positions)
        names = list(pos)
        if parse_names:  # else the market's table checks them where they are valued
            parse_instruments(names)  # typed error for malformed names (parses are cached)
        values = list(pos.values())
        types = set(map(type, values))
        sizes = _sizes(names, values, types)
        if not types <= {float}:  # ints and numpy floats become floats
            pos = dict(zip(names, sizes.tolist()))
        object.__setattr__(self, "positions", CheckedPositions(pos, sizes))

    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, Any]]) -> Portfolio:
        """From rows with ``instrument`` and ``size`` fields (summing repeated instruments)."""
        pos: dict[str, float] = {}
        for row, rec in enumerate(records):
            if not isinstance(rec, Mapping) or "instrument" not in rec or "size" not in rec:
                raise InvalidInputError("needs 'instrument' and 'size'", "record", row)
            if not isinstance(rec["instrument"], str):
                raise InvalidInputError("must be an instrument name", "instrument", row)
            name = rec["instrument"]
            if isinstance(rec["size"], bool):
                raise InvalidInputError("not a number: a boolean", "size", row)
            try:
                size = float(rec["size"])
            except (TypeError, ValueError, OverflowError):
                raise InvalidInputError(
                    f"not a finite number: {rec['size']!r:.60}", "size", row
                ) from None
            if not math.isfinite(size):
                raise InvalidInputError("must be finite", "size", row)
            try:
                parse_instrument(name)
            except InvalidInputError as e:
                raise type(e)(e.reason, "instrument", row) from None
            pos[name] = pos.get(name, 0.0) + size
        return cls(pos)

    @classmethod
    def from_csv(cls, path: str | Path) -> Portfolio:
        """An ``instrument,size`` CSV, read strictly (see :func:`pymargin.files.csv_table`:
        a row wider than the header, as an unquoted ``-1,500``, is refused naming the row)."""
        # File-level problems name the file (FileInputError); a bad record keeps its own
        # error class with its field and row.
        return cls.from_records(csv_records(open_file(path)))

    @classmethod
    def from_json(cls, path: str | Path) -> Portfolio:
        """A JSON list of {"instrument", "size"} objects, or an object name -> size."""
        doc = load_json(open_file(path))
        if isinstance(doc, dict):
            return cls.from_records({"instrument": k, "size": v} for k, v in doc.items())
        if isinstance(doc, list):
            return cls.from_records(doc)
        raise FileInputError(
            str(path),
            InvalidInputError("expected a list of positions or a name -> size object", "json"),
        )

    @classmethod
    def from_dataframe(cls, df: Any) -> Portfolio:
        """From a pandas DataFrame with ``instrument`` and ``size`` columns."""
        return cls.from_records(df.to_dict("records"))

    def instruments(self) -> list[Instrument]:
        return [parse_instrument(n) for n in self.positions]


def as_portfolio(portfolio: Portfolio | Mapping[str, float]) -> Portfolio:
    """A :class:`Portfolio` as it is, a mapping of instrument name to size as a new one."""
    return portfolio if isinstance(portfolio, Portfolio) else Portfolio(dict(portfolio))
