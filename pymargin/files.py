# SPDX-License-Identifier: Apache-2.0
"""Reading input files strictly: text (UTF-8 with or without a BOM), JSON (bounded depth and
integer size) and CSV (every row as wide as the header, balanced quotes). Errors name the file
and, where there is one, the field and the row. The lowest layer of input handling: it
imports nothing of pymargin but its exceptions, so the portfolio and the CLI loaders share it.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from .exceptions import FileInputError, InvalidInputError

__all__ = [
    "MAX_JSON_DEPTH",
    "FileInputError",
    "csv_number",
    "csv_records",
    "csv_table",
    "load_json",
    "open_file",
    "read_text",
]


MAX_JSON_DEPTH = 64  # venue payloads nest a handful of levels; deeper is not an input


def read_text(path: Path) -> str:
    """The file as text: UTF-8, with or without the byte-order mark Excel writes; an empty
    file, unreadable bytes or an OS error are refused naming the file."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise FileInputError(str(path), e.strerror or "cannot be read") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise FileInputError(str(path), f"not UTF-8 text (byte {e.start})") from None
    if not text.strip():
        raise FileInputError(str(path), "empty file")
    return text


def _json_int(s: str) -> int | float:
    # More digits than any double holds: a float (inf beyond 1.8e308, refused downstream as
    # non-finite with its field and row), never int() past Python's int-string limit.
    return int(s) if len(s) <= 300 else float(s)


def _depth_ok(doc: Any) -> bool:
    stack = [(doc, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, (dict, list)):
            if d > MAX_JSON_DEPTH:
                return False
            stack.extend((x, d + 1) for x in (v.values() if isinstance(v, dict) else v))
    return True


def load_json(path: Path) -> Any:
    text = read_text(path)
    try:
        doc = json.loads(text, parse_int=_json_int)
    except json.JSONDecodeError as e:
        raise FileInputError(
            str(path), f"not valid JSON (line {e.lineno}, column {e.colno})"
        ) from None
    except RecursionError:
        doc = None
        deep = True
    else:
        deep = not _depth_ok(doc)
    if deep:
        raise FileInputError(str(path), f"JSON nested more than {MAX_JSON_DEPTH} levels deep")
    return doc


def csv_table(path: Path) -> tuple[list[str], list[list[str]]]:
    """A CSV file's header and rows, strictly: every row has the header's number of fields
    (an unquoted thousands separator, ``-1,500``, is refused, not read as -1), quotes
    balance, no column name twice; blank lines are skipped. Rows count from 0, the first line
    after the header."""
    text = read_text(path)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    out: list[list[str]] = []
    try:
        for rec in reader:
            if not rec or (len(rec) == 1 and not rec[0].strip()):
                continue
            if header is None:
                header = rec
                for k, h in enumerate(header):
                    if h in header[:k]:
                        raise FileInputError(
                            str(path), InvalidInputError(f"column {h!r} twice", "header", k)
                        )
                continue
            if len(rec) != len(header):
                raise FileInputError(
                    str(path),
                    InvalidInputError(
                        f"{len(rec)} fields where the header has {len(header)} (line "
                        f"{reader.line_num}; quote a value that contains a comma)",
                        "row",
                        len(out),
                    ),
                )
            out.append(rec)
    except csv.Error as e:
        raise FileInputError(
            str(path),
            InvalidInputError(
                f"malformed CSV at line {reader.line_num}: {e} (an unbalanced quote?)",
                "row",
                len(out),
            ),
        ) from None
    assert header is not None  # the text is not blank
    return header, out


def csv_records(path: Path) -> list[dict[str, str]]:
    """A CSV file as records (header names -> cells); see :func:`csv_table`."""
    header, rows = csv_table(path)
    return [dict(zip(header, r)) for r in rows]


def open_file(path: str | Path) -> Path:
    p = Path(path)
    if not p.is_file():
        raise FileInputError(str(path), "no such file" if not p.exists() else "not a file")
    return p


def csv_number(r: dict[str, Any], key: str | None, row: int) -> float | None:
    """A record's cell as a finite number, or None when the cell is empty (or pandas' missing
    value); anything else is a typed error naming the field and the row."""
    import math

    v = None if key is None else r.get(key)
    if v in (None, "") or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, str):
        v = v.strip()
        if not v:
            return None
    if isinstance(v, bool):
        raise InvalidInputError(f"not a number: {v!r}", str(key), row)
    try:
        x = float(v)
    except OverflowError:  # an int beyond any double
        raise InvalidInputError("must be finite", str(key), row) from None
    except (TypeError, ValueError):
        shown = repr(v)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise InvalidInputError(f"not a number: {shown}", str(key), row) from None
    if not math.isfinite(x):
        raise InvalidInputError("must be finite", str(key), row)
    return x
