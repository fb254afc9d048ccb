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

__all__ = [
    "FileInputError",
    "market_from_frame",
    "market_from_records",
    "read_collateral",
    "read_market",
    "read_params",
    "read_positions",
    "read_venues",
]


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
    return market_from_records(rows, valuation_time)


def market_from_frame(df: Any, valuation_time: datetime | None = None) -> Market:
    """A market from a pandas DataFrame of a chain (the columns of :func:`market_from_records`)."""
    return market_from_records(df.to_dict("records"), valuation_time)


def market_from_records(
    rows: list[dict[str, Any]], valuation_time: datetime | None = None
) -> Market:
    """A market from chain rows: ``instrument_name``; ``mark_iv_pct`` (percent) or
    ``mark_iv`` (per 1.00); ``underlying_price``; optionally a ``mark_price*`` column,
    ``index_price`` and ``snapshot_utc`` (ISO, UTC; else ``valuation_time`` is required).
    Without an index price, the nearest expiry's underlying price stands in."""
    if not rows:
        raise InvalidInputError("no rows", "rows")
    marks: dict[str, Mark] = {}
    index: dict[str, float] = {}
    stamp = None
    for row, r in enumerate(rows):
        name = r.get("instrument_name")
        if not isinstance(name, str) or not name:
            raise InvalidInputError("missing", "instrument_name", row)
        pct = _float(r, "mark_iv_pct", row)
        frac = _float(r, "mark_iv", row)
        iv = pct / 100.0 if pct is not None else frac
        fwd = _float(r, "underlying_price", row)
        price_key = next((k for k in r if isinstance(k, str) and k.startswith("mark_price")), None)
        price = _float(r, price_key, row)
        marks[name] = Mark(price, fwd, iv)
        base = name.split("-")[0].split("_")[0]
        idx = _float(r, "index_price", row)
        if idx is not None:
            index.setdefault(f"{base}_USD", idx)
        snap = r.get("snapshot_utc")
        if snap is not None and str(snap) not in ("", "NaT", "nan", "None") and stamp is None:
            try:
                parsed = datetime.fromisoformat(str(snap))
            except ValueError:
                raise InvalidInputError("not an ISO time", "snapshot_utc", row) from None
            # an offset is honoured; a naive time is UTC
            stamp = (
                parsed.astimezone(timezone.utc)
                if parsed.tzinfo is not None
                else parsed.replace(tzinfo=timezone.utc)
            )
    when = valuation_time or stamp
    if when is None:
        raise InvalidInputError("no snapshot_utc column: pass a valuation time", "time")
    if not index:
        first = min(rows, key=lambda r: str(r.get("expiry_utc", "")))
        base = str(first["instrument_name"]).split("-")[0].split("_")[0]
        fwd0 = _float(first, "underlying_price", 0)
        if fwd0 is None:
            raise InvalidInputError("no index_price and no underlying_price", "index_price")
        index[f"{base}_USD"] = fwd0
    return Market(when, index, marks)


def _float(r: dict[str, Any], key: str | None, row: int) -> float | None:
    # Empty cells and pandas' missing values (NaN objects, not the text "nan") are absent.
    if (
        key is None
        or r.get(key) in (None, "")
        or (isinstance(r.get(key), float) and math.isnan(r[key]))
    ):
        return None
    if isinstance(r[key], bool):
        raise InvalidInputError(f"not a number: {r[key]!r}", key, row)
    try:
        v = float(r[key])
    except (TypeError, ValueError):
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


def read_venues(path: str | Path) -> tuple[list[Any], list[Any]]:
    """A cross-venue file: ``{"accounts": [{"name", "model" ("deribit-pm", "paradex-pm",
    "finra-pm", "deribit-xpm", ...), "currency", "positions" {instrument: size}, "collateral"
    {currency: amount}, "haircuts" {currency: fraction}}, ...], "placements": [{"name",
    "size", "venues" {venue: instrument}}, ...]}`` (placements optional)."""
    from .crossvenue import Placement, VenueAccount
    from .margin import MarginModel

    p = _open(path)
    doc = _load_json(p)
    try:
        if not isinstance(doc, dict) or not isinstance(doc.get("accounts"), list):
            raise InvalidInputError("expected an object with an 'accounts' list", "accounts")
        accounts = []
        for row, a in enumerate(doc["accounts"]):
            if not isinstance(a, dict) or "name" not in a or "model" not in a:
                raise InvalidInputError("each account needs 'name' and 'model'", "accounts", row)
            try:
                model = MarginModel(str(a["model"]).replace("-", "_"))
            except ValueError:
                raise InvalidInputError(
                    f"unknown model {a['model']!r}", "accounts.model", row
                ) from None
            for key in ("positions", "collateral", "haircuts"):
                if not isinstance(a.get(key, {}), dict):
                    raise InvalidInputError("must be an object", f"accounts.{key}", row)
            accounts.append(
                VenueAccount(
                    str(a["name"]),
                    model,
                    {str(k): v for k, v in a.get("positions", {}).items()},
                    {str(k).upper(): v for k, v in a.get("collateral", {}).items()},
                    {str(k).upper(): v for k, v in a.get("haircuts", {}).items()},
                    currency=a.get("currency"),
                )
            )
        places = []
        raw_places = doc.get("placements") or []
        if not isinstance(raw_places, list):
            raise InvalidInputError("must be a list", "placements")
        for row, q in enumerate(raw_places):
            if not isinstance(q, dict) or not {"name", "size", "venues"} <= set(q):
                raise InvalidInputError(
                    "each placement needs 'name', 'size' and 'venues'", "placements", row
                )
            if not isinstance(q["size"], (int, float)) or not isinstance(q["venues"], dict):
                raise InvalidInputError("size a number, venues an object", "placements", row)
            places.append(Placement(str(q["name"]), float(q["size"]), dict(q["venues"])))
    except FileInputError:
        raise
    except PymarginError as e:
        raise FileInputError(str(path), e) from None
    return accounts, places
