"""Portfolios: positions in instruments (size in units of the underlying coin; < 0 = short)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .exceptions import InvalidInputError
from .files import FileInputError, csv_records, load_json, open_file
from .instruments import Instrument, parse_instrument, parse_instruments

__all__ = ["Portfolio", "position_sizes"]


def position_sizes(names: list[str], values: list[Any]) -> np.ndarray:
    """Position sizes as float64, refusing anything but finite int/float (bool included) with
    the row named; one vectorised check on the normal path."""
    if not set(map(type, values)) <= {float, int, np.float64}:
        for row, v in enumerate(values):
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.number)):
                raise InvalidInputError(f"size of {names[row]} must be a number", "size", row)
    sizes = np.array(values, dtype=np.float64)
    bad = ~np.isfinite(sizes)
    if bad.any():
        row = int(np.argmax(bad))
        raise InvalidInputError(f"size of {names[row]} must be finite", "size", row)
    return sizes


@dataclass(frozen=True)
class Portfolio:
    """Validated positions: ``positions`` maps instrument names to sizes (coin units)."""

    positions: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        pos = dict(self.positions)
        names = list(pos)
        parse_instruments(names)  # typed error for malformed names (parses are cached)
        sizes = position_sizes(names, list(pos.values()))
        object.__setattr__(self, "positions", dict(zip(names, sizes.tolist())))

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
