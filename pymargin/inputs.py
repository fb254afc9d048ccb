"""Reading positions, markets, collateral and parameter sets from files, in every format the
command line accepts. Each reader raises :class:`InvalidInputError` naming the file, the field
and the row of bad input.

Positions: CSV (``instrument,size``), JSON (``{name: size}`` or ``[{"instrument", "size"}]``),
a Deribit ``private/get_positions`` response, or a list of ccxt unified positions.
Markets: ``demo:BTC`` / ``demo:ETH`` (the bundled real chains), a chain CSV
(``instrument_name, mark_iv_pct, underlying_price`` and optionally ``mark_price_*``,
``index_price``, ``snapshot_utc``), or Deribit book-summary / ticker responses (JSON).
Collateral: ``BTC=1.5,USDC=2000`` or a Deribit ``get_account_summary`` response file.
Parameters: a pymargin model file or a Deribit ``pme/simulate`` response (its
``model_params``).
"""

from __future__ import annotations

import csv
import json
import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .adapters import (
    collateral_from_deribit,
    market_from_deribit,
    portfolio_from_ccxt,
    portfolio_from_deribit,
)
from .exceptions import InvalidInputError, PymarginError
from .market import Mark, Market
from .models.deribit_pm import DeribitPMParams
from .portfolio import Portfolio

__all__ = ["FileInputError", "read_collateral", "read_market", "read_params", "read_positions"]


class FileInputError(InvalidInputError):
    """Bad input in a file: ``path`` is the file; ``field`` and ``index`` locate the value."""

    def __init__(self, path: str, inner: PymarginError | str) -> None:
        self.path = path
        if isinstance(inner, PymarginError):
            super().__init__(inner.reason, inner.field, inner.index)
        else:
            super().__init__(inner)

    def __str__(self) -> str:
        return f"{self.path}: {super().__str__()}"


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise FileInputError(
            str(path), f"not valid JSON (line {e.lineno}, column {e.colno})"
        ) from None


def _open(path: str | Path) -> Path:
    p = Path(path)
    if not p.is_file():
        raise FileInputError(str(path), "no such file")
    return p


def read_positions(path: str | Path) -> Portfolio:
    p = _open(path)
    try:
        if p.suffix.lower() == ".csv":
            return Portfolio.from_csv(p)
        doc = _load_json(p)
        if isinstance(doc, dict) and ("result" in doc or "error" in doc):
            return portfolio_from_deribit(doc)
        if isinstance(doc, list) and doc and isinstance(doc[0], dict) and "contracts" in doc[0]:
            return portfolio_from_ccxt(doc)
        return Portfolio.from_json(p)
    except FileInputError:
        raise
    except PymarginError as e:
        raise FileInputError(str(path), e) from None
    except (UnicodeDecodeError, csv.Error) as e:
        raise FileInputError(str(path), f"unreadable: {e}") from None


def read_market(spec: str, valuation_time: datetime | None = None) -> Market:
    if spec.lower().startswith("demo:"):
        from .demo import demo_market

        coin = spec.split(":", 1)[1].upper()
        if coin not in ("BTC", "ETH"):
            raise InvalidInputError("demo markets are demo:BTC and demo:ETH", "market")
        return demo_market(coin)
    p = _open(spec)
    try:
        if p.suffix.lower() == ".csv":
            return _market_from_chain_csv(p, valuation_time)
        doc = _load_json(p)
        payloads = (
            doc
            if isinstance(doc, list) and doc and isinstance(doc[0], dict) and ("result" in doc[0])
            else [doc]
        )
        return market_from_deribit(*payloads, valuation_time=valuation_time)
    except FileInputError:
        raise
    except PymarginError as e:
        raise FileInputError(spec, e) from None
    except (UnicodeDecodeError, csv.Error) as e:
        raise FileInputError(spec, f"unreadable: {e}") from None


def _market_from_chain_csv(path: Path, valuation_time: datetime | None) -> Market:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise InvalidInputError("no rows", "csv")
    marks: dict[str, Mark] = {}
    index: dict[str, float] = {}
    stamp = None
    for row, r in enumerate(rows):
        name = r.get("instrument_name")
        if not name:
            raise InvalidInputError("missing", "instrument_name", row)
        iv = _float(r, "mark_iv_pct", row)
        fwd = _float(r, "underlying_price", row)
        price_key = next((k for k in r if k and k.startswith("mark_price")), None)
        price = _float(r, price_key, row) if price_key and r.get(price_key) else None
        marks[name] = Mark(price, fwd, None if iv is None else iv / 100.0)
        base = name.split("-")[0].split("_")[0]
        if r.get("index_price"):
            index[f"{base}_USD"] = _float(r, "index_price", row) or 0.0
        if r.get("snapshot_utc") and stamp is None:
            try:
                stamp = datetime.fromisoformat(r["snapshot_utc"]).replace(tzinfo=timezone.utc)
            except ValueError:
                raise InvalidInputError("not an ISO time", "snapshot_utc", row) from None
    when = valuation_time or stamp
    if when is None:
        raise InvalidInputError("the chain has no snapshot_utc column: pass --time", "time")
    if not index:
        first = min(rows, key=lambda r: r.get("expiry_utc", ""))
        base = first["instrument_name"].split("-")[0].split("_")[0]
        index[f"{base}_USD"] = _float(first, "underlying_price", 0) or 0.0
    return Market(when, index, marks)


def _float(r: dict[str, Any], key: str | None, row: int) -> float | None:
    if key is None or r.get(key) in (None, ""):
        return None
    try:
        v = float(r[key])
    except ValueError:
        raise InvalidInputError(f"not a number: {r[key]!r}", key, row) from None
    if not math.isfinite(v):
        raise InvalidInputError("must be finite", key, row)
    return v


def read_collateral(spec: str | None) -> dict[str, float]:
    """``BTC=1.5,USDC=2000`` or a Deribit account-summary response file."""
    if not spec:
        return {}
    if "=" not in spec:
        p = _open(spec)
        try:
            return collateral_from_deribit(_load_json(p))
        except FileInputError:
            raise
        except PymarginError as e:
            raise FileInputError(spec, e) from None
    out: dict[str, float] = {}
    for row, part in enumerate(spec.split(",")):
        ccy, _, amount = part.partition("=")
        try:
            value = float(amount)
        except ValueError:
            raise InvalidInputError(f"not a number: {amount!r}", "collateral", row) from None
        if not ccy.strip() or not math.isfinite(value) or value < 0:
            raise InvalidInputError("expected CURRENCY=amount >= 0", "collateral", row)
        out[ccy.strip().upper()] = value
    return out


def read_params(path: str | None) -> DeribitPMParams | None:
    """A Deribit PM parameter set: a pymargin model file, or a ``pme/simulate`` response."""
    if not path:
        return None
    p = _open(path)
    doc = _load_json(p)
    try:
        if isinstance(doc, dict) and "response" in doc:
            doc = doc["response"]
        if isinstance(doc, dict) and "result" in doc:
            doc = doc["result"]
        if not isinstance(doc, dict) or "model_params" not in doc:
            raise InvalidInputError("no model_params block", "model_params")
        return DeribitPMParams.from_model_params(doc["model_params"], str(p))
    except PymarginError as e:
        raise FileInputError(str(path), e) from None
