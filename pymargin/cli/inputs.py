# SPDX-License-Identifier: Apache-2.0
"""Reading positions, markets, collateral and parameter sets from files, in every format the
command line accepts. Each reader raises :class:`InvalidInputError` naming the file, the field
and the row of bad input.

Positions: CSV (``instrument,size``), JSON (``{name: size}`` or ``[{"instrument", "size"}]``),
a Deribit ``private/get_positions`` response, or a list of ccxt unified positions.
Markets: ``deribit:BTC`` / ``deribit:ETH`` / ``deribit:all`` (the venue now), a snapshot
folder (``pymargin fetch``), ``demo:BTC`` / ``demo:ETH`` (the bundled real chains),
``demo:MIXED`` (both at one time, pymargin.market.bundled.mixed_demo_market), a chain CSV
(``instrument_name, mark_iv_pct, underlying_price`` and optionally ``mark_price_*``,
``index_price``, ``snapshot_utc``), or Deribit book-summary / ticker responses (JSON).
Collateral: ``BTC=1.5,USDC=2000`` or a Deribit ``get_account_summary`` response file.
Parameters: a pymargin model file or a Deribit ``pme/simulate`` response (its
``model_params``).
"""

from __future__ import annotations

import math
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..exceptions import FileInputError, InvalidInputError, PymarginError
from ..files import csv_number, csv_records, load_json, open_file
from ..market.adapters import (
    collateral_from_deribit,
    market_from_deribit,
    portfolio_from_ccxt,
    portfolio_from_deribit,
)
from ..market.market import Mark, Market
from ..market.portfolio import Portfolio
from ..models.deribit_pm import DeribitPMParams

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


def _positions_from_records(records: list[Any]) -> tuple[Portfolio, dict[str, int]]:
    """Positions from ``instrument`` / ``size`` records, and the first row of each name."""
    first: dict[str, int] = {}
    for row, rec in enumerate(records):
        if not isinstance(rec, dict):
            raise InvalidInputError(
                "expected an object with 'instrument' and 'size'", "record", row
            )
        name, size = rec.get("instrument"), rec.get("size")
        if "instrument" in rec and (not isinstance(name, str) or not name.strip()):
            raise InvalidInputError(f"must be an instrument name, got {name!r}", "instrument", row)
        if isinstance(size, bool) or (size is not None and not isinstance(size, (int, float, str))):
            raise InvalidInputError(f"not a number: {_short(size)}", "size", row)
        if isinstance(name, str):
            first.setdefault(name, row)
    return Portfolio.from_records(records), first


def _short(v: Any, n: int = 60) -> str:
    """``repr`` of a value, cut to ``n`` characters (error messages stay one short line)."""
    try:
        r = repr(v)
    except RecursionError:  # pragma: no cover - depth is bounded at load
        r = type(v).__name__
    return r if len(r) <= n else r[: n - 3] + "..."


def read_positions(path: str | Path) -> Portfolio:
    return read_positions_with_rows(path)[0]


def read_positions_with_rows(path: str | Path) -> tuple[Portfolio, dict[str, int]]:
    """Positions and each instrument's first row in the file (to name it in later errors). A
    venue snapshot folder (``pymargin fetch --positions``) gives the account's positions."""
    from ..live.snapshot import is_snapshot, read_snapshot

    if is_snapshot(path):
        snap = read_snapshot(path)
        if snap.positions is None:
            raise FileInputError(str(path), "the snapshot has no positions (fetch --positions)")
        return snap.positions, {}
    p = open_file(path)
    try:
        if p.suffix.lower() == ".csv":
            return _positions_from_records(csv_records(p))
        doc = load_json(p)
        if isinstance(doc, dict) and ("result" in doc or "error" in doc):
            pf = portfolio_from_deribit(doc)
            res = doc.get("result")
            rows = res if isinstance(res, list) else [res]
        elif isinstance(doc, list) and doc and isinstance(doc[0], dict) and "contracts" in doc[0]:
            pf = portfolio_from_ccxt(doc)
            rows = doc
        elif isinstance(doc, dict):
            return _positions_from_records([{"instrument": k, "size": v} for k, v in doc.items()])
        elif isinstance(doc, list):
            return _positions_from_records(doc)
        else:
            raise InvalidInputError("expected a list of positions or a name -> size object", "json")
        first: dict[str, int] = {}
        for row, r in enumerate(rows):
            if isinstance(r, dict) and isinstance(r.get("instrument_name"), str):
                first.setdefault(r["instrument_name"], row)
        for k, n in enumerate(pf.positions):
            first.setdefault(n, k)
        return pf, first
    except FileInputError:
        raise
    except PymarginError as e:
        raise FileInputError(str(path), e) from None


def _series(name: str) -> tuple[object, ...] | None:
    """An option's series (base, quote, settlement, expiry); None for other instruments or a
    name that does not parse (the market check names those)."""
    from ..exceptions import PymarginError
    from ..market.instruments import InstrumentKind, parse_instrument

    try:
        inst = parse_instrument(name)
    except PymarginError:
        return None
    if inst.kind is not InstrumentKind.OPTION:
        return None
    return (inst.base, inst.quote, inst.settlement, inst.expiry)


def unlisted_options(names: list[str], market: Market) -> list[str]:
    """The options among ``names`` the market has no mark for (valued from its smile)."""
    return [n for n in names if n not in market.marks and _series(n) is not None]


def check_positions(
    pf: Portfolio,
    market: Market,
    path: str | Path,
    first_row: dict[str, int] | None = None,
    *,
    allow_unlisted: bool = False,
) -> list[str]:
    """Every position can be valued in ``market`` (not expired, marks there); an error names
    the positions file and the instrument's row in it. An option the market does not list in
    a series it does list (another strike of ``BTC-26DEC25``, say) is refused unless
    ``allow_unlisted``: an unknown strike is usually a typo, and the smile would value it
    without a word. Returns every option valued from the smile rather than its own mark (the
    commands say which)."""
    names = list(pf.positions)
    try:
        market.table.rows(names)
    except PymarginError as e:
        if e.index is None or not 0 <= e.index < len(names):
            raise FileInputError(str(path), e) from None
        name = names[e.index]
        row = (first_row or {}).get(name, e.index)
        reason = e.reason if name in e.reason else f"{name}: {e.reason}"
        raise FileInputError(str(path), type(e)(reason, e.field or "instrument", row)) from None
    unlisted = unlisted_options(names, market)
    listed_series = {_series(m) for m in market.marks} - {None}
    typos = [n for n in unlisted if _series(n) in listed_series]
    if typos and not allow_unlisted:
        name = typos[0]
        row = (first_row or {}).get(name, names.index(name))
        raise FileInputError(
            str(path),
            InvalidInputError(
                f"{name} is not listed in the market (a typo?); pymargin --allow-unlisted "
                "values it from the smile",
                "instrument",
                row,
            ),
        )
    return unlisted


def read_market(spec: str, valuation_time: datetime | None = None) -> Market:
    if spec.lower().startswith("deribit:"):  # the venue now (DERIBIT_BASE_URL: another host)
        from ..live.deribit import DERIBIT_MAINNET, DeribitClient
        from ..live.snapshot import live_market

        base = os.environ.get("DERIBIT_BASE_URL", DERIBIT_MAINNET)
        with DeribitClient(base, log=lambda text: print(text, file=sys.stderr)) as client:
            return live_market(client, spec.split(":", 1)[1])
    from ..live.snapshot import is_snapshot, read_snapshot

    if is_snapshot(spec):  # a saved snapshot: replayed at its own fetch time
        return read_snapshot(spec).market
    if spec.lower().startswith("demo:"):
        from ..market.bundled import demo_market, mixed_demo_market

        coin = spec.split(":", 1)[1].upper()
        if coin == "MIXED":
            return mixed_demo_market()
        if coin not in ("BTC", "ETH"):
            raise InvalidInputError("demo markets are demo:BTC, demo:ETH and demo:MIXED", "market")
        return demo_market(coin)
    p = open_file(spec)
    try:
        if p.suffix.lower() == ".csv":
            return _market_from_chain_csv(p, valuation_time)
        doc = load_json(p)
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


def _market_from_chain_csv(path: Path, valuation_time: datetime | None) -> Market:
    return market_from_records(csv_records(path), valuation_time)


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
        if not isinstance(r, dict):
            raise InvalidInputError("expected a record (an object)", "rows", row)
        name = r.get("instrument_name")
        if not isinstance(name, str) or not name:
            raise InvalidInputError(
                f"missing or not a string: {_short(name)}", "instrument_name", row
            )
        if name in marks:
            raise InvalidInputError(f"{name} appears twice", "instrument_name", row)
        pct = csv_number(r, "mark_iv_pct", row)
        frac = csv_number(r, "mark_iv", row)
        iv = pct / 100.0 if pct is not None else frac
        fwd = csv_number(r, "underlying_price", row)
        price_key = next((k for k in r if isinstance(k, str) and k.startswith("mark_price")), None)
        price = csv_number(r, price_key, row)
        marks[name] = Mark(price, fwd, iv)
        base = name.split("-")[0].split("_")[0]
        idx = csv_number(r, "index_price", row)
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
        fwd0 = csv_number(first, "underlying_price", 0)
        if fwd0 is None:
            raise InvalidInputError("no index_price and no underlying_price", "index_price")
        index[f"{base}_USD"] = fwd0
    return Market(when, index, marks)


def read_collateral(spec: str | None) -> dict[str, float]:
    """``BTC=1.5,USDC=2000`` or a Deribit account-summary response file."""
    if not spec:
        return {}
    if "=" not in spec:
        p = open_file(spec)
        try:
            return collateral_from_deribit(load_json(p))
        except FileInputError:
            raise
        except PymarginError as e:
            raise FileInputError(spec, e) from None
    out: dict[str, float] = {}
    for row, (ccy, value) in enumerate(parse_pairs(spec, "collateral")):
        if not math.isfinite(value) or value < 0:
            raise InvalidInputError("expected CURRENCY=amount >= 0", "collateral", row)
        out[ccy.upper()] = value
    return out


def parse_pairs(spec: str, field: str, *, fold_case: bool = True) -> list[tuple[str, float]]:
    """``KEY=number,KEY=number`` as (key, value) pairs, keys stripped; a key given twice
    (case-blind when ``fold_case``) is refused naming both entries, never last-one-wins."""
    out: list[tuple[str, float]] = []
    seen: dict[str, int] = {}
    for row, part in enumerate(spec.split(",")):
        key, eq, amount = part.partition("=")
        key = key.strip()
        if not eq or not key:
            raise InvalidInputError(f"expected KEY=number, got {_short(part)}", field, row)
        try:
            value = float(amount)
        except ValueError:
            raise InvalidInputError(f"not a number: {_short(amount)}", field, row) from None
        norm = key.upper() if fold_case else key
        if norm in seen:
            raise InvalidInputError(
                f"{key} given twice (entries {seen[norm]} and {row})", field, row
            )
        seen[norm] = row
        out.append((key, value))
    return out


def parse_order(spec: str, row: int, market: Market) -> tuple[str, bool, float]:
    """``INSTRUMENT:buy|sell:AMOUNT`` as (instrument, buy?, amount in the engine's unit).

    One unit convention with the positions files: amounts are coins of the underlying. An
    inverse future or perpetual needs its unit written (``1BTC`` coins, ``90000USD`` USD
    notional; the engine counts USD, Deribit's unit), because a bare ``1`` is 1 coin in a
    positions file and 1 USD at Deribit's API, a 90,000x difference. Other instruments trade
    in coins: ``5`` or ``5BTC``."""
    import re

    from ..market.instruments import InstrumentKind, Settlement, parse_instrument

    parts = spec.split(":")
    if len(parts) != 3 or parts[1].lower() not in ("buy", "sell"):
        raise InvalidInputError(f"expected INSTRUMENT:buy|sell:AMOUNT, got {spec!r}", "order", row)
    name = parts[0]
    # a number (exponent optional: "10ETH" is 10 ETH, not 10e...), then an optional unit
    m = re.fullmatch(
        r"\s*([+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*", parts[2]
    )
    try:
        amount = float(m.group(1)) if m else float("nan")
    except ValueError:
        amount = float("nan")
    if m is None or not math.isfinite(amount) or amount <= 0:
        raise InvalidInputError(
            f"the amount must be a finite number > 0 with an optional unit, got {parts[2]!r}",
            "order",
            row,
        )
    unit = m.group(2).upper()
    try:  # the instrument can be valued in this market (not expired, marked)
        market.table.rows([name])
    except PymarginError as e:
        why = e.reason if name in e.reason else f"{name}: {e.reason}"
        raise InvalidInputError(why, "order", row) from None
    inst = parse_instrument(name)
    coin = inst.underlying.split("_")[0].upper()
    inverse_future = (
        inst.kind is not InstrumentKind.OPTION and inst.settlement is Settlement.INVERSE
    )
    if inverse_future:
        if unit == coin:
            amount *= market.underlying_price(inst)  # coins -> USD notional at the forward
        elif unit != "USD":
            raise InvalidInputError(
                f"{name} needs the amount's unit: {parts[2].strip()}{coin} (coins) or "
                f"{parts[2].strip()}USD (USD notional)",
                "order",
                row,
            )
    elif unit not in ("", coin):
        raise InvalidInputError(f"{name} trades in {coin} (coins), not {unit}", "order", row)
    return name, parts[1].lower() == "buy", amount


def read_params(path: str | None) -> DeribitPMParams | None:
    """A Deribit PM parameter set: a pymargin model file, or a ``pme/simulate`` response."""
    if not path:
        return None
    p = open_file(path)
    doc = load_json(p)
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
    from ..models.registry import MarginModel
    from ..strategy.crossvenue import Placement, VenueAccount

    p = open_file(path)
    doc = load_json(p)
    try:
        if not isinstance(doc, dict) or not isinstance(doc.get("accounts"), list):
            raise InvalidInputError("expected an object with an 'accounts' list", "accounts")
        accounts = []
        seen: dict[str, int] = {}
        for row, a in enumerate(doc["accounts"]):
            if not isinstance(a, dict) or "name" not in a or "model" not in a:
                raise InvalidInputError("each account needs 'name' and 'model'", "accounts", row)
            name = a["name"]
            if isinstance(name, bool) or not isinstance(name, (str, int)) or not str(name):
                raise InvalidInputError(
                    f"must be a string, got {_short(name)}", "accounts.name", row
                )
            name = str(name)  # an id as written: "007" and 7 stay apart ("7" != "007")
            if name in seen:
                raise InvalidInputError(
                    f"{name!r} is also account {seen[name]}", "accounts.name", row
                )
            seen[name] = row
            if not isinstance(a["model"], str):
                raise InvalidInputError(
                    f"unknown model {_short(a['model'])}", "accounts.model", row
                )
            try:
                model = MarginModel(a["model"].replace("-", "_"))
            except ValueError:
                raise InvalidInputError(
                    f"unknown model {_short(a['model'])}", "accounts.model", row
                ) from None
            for key in ("positions", "collateral", "haircuts"):
                if not isinstance(a.get(key) or {}, dict):
                    raise InvalidInputError("must be an object", f"accounts.{key}", row)
            cur = a.get("currency")
            if cur is not None and not isinstance(cur, str):
                raise InvalidInputError(
                    f"must be a string, got {_short(cur)}", "accounts.currency", row
                )
            try:
                acct = VenueAccount(
                    name,
                    model,
                    dict(a.get("positions") or {}),
                    dict(a.get("collateral") or {}),  # duplicates refused case-blind there
                    dict(a.get("haircuts") or {}),
                    currency=cur,
                )
            except PymarginError as e:
                entry = f" (entry {e.index})" if e.index is not None else ""
                raise type(e)(
                    e.reason + entry, f"accounts.{e.field}" if e.field else "accounts", row
                ) from None
            accounts.append(acct)
        places = []
        raw_places = doc.get("placements") or []
        if not isinstance(raw_places, list):
            raise InvalidInputError("must be a list", "placements")
        seen_places: set[str] = set()
        for row, q in enumerate(raw_places):
            if not isinstance(q, dict) or not {"name", "size", "venues"} <= set(q):
                raise InvalidInputError(
                    "each placement needs 'name', 'size' and 'venues'", "placements", row
                )
            if isinstance(q["size"], bool) or not isinstance(q["size"], (int, float)):
                raise InvalidInputError(
                    f"must be a number, got {_short(q['size'])}", "placements.size", row
                )
            if not math.isfinite(q["size"]):
                raise InvalidInputError("must be finite", "placements.size", row)
            if not isinstance(q["venues"], dict) or not all(
                isinstance(v, str) and v for v in q["venues"].values()
            ):
                raise InvalidInputError(
                    "must be an object venue -> instrument name", "placements.venues", row
                )
            unknown = [v for v in q["venues"] if v not in seen]
            if unknown:
                raise InvalidInputError(
                    f"unknown venue {_short(unknown[0])}", "placements.venues", row
                )
            pname = q["name"]
            if not isinstance(pname, str) or not pname:
                raise InvalidInputError(
                    f"must be a string, got {_short(pname)}", "placements.name", row
                )
            if pname in seen_places:
                raise InvalidInputError(f"{pname!r} appears twice", "placements.name", row)
            seen_places.add(pname)
            places.append(Placement(pname, float(q["size"]), dict(q["venues"])))
    except FileInputError:
        raise
    except PymarginError as e:
        raise FileInputError(str(path), e) from None
    return accounts, places
