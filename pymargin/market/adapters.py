# SPDX-License-Identifier: Apache-2.0
"""Data adapters: positions, markets and accounts from venue payloads and ccxt structures.

Deribit (JSON-RPC responses as the API documents them, either the whole response or its
``result``):

* ``public/get_book_summary_by_currency`` and ``public/ticker`` -> :func:`market_from_deribit`
  (mark price, mark IV in percent, underlying price, index / estimated delivery price, the
  payload's ``creation_timestamp`` / ``timestamp`` as valuation time);
* ``public/get_instruments`` -> :func:`instruments_from_deribit` (contract size, checked
  against the name);
* ``private/get_positions`` -> :func:`portfolio_from_deribit` (``size`` is USD for futures and
  perpetuals, coin for options; futures use ``size_currency``, the coin amount);
* ``private/get_account_summary`` (one currency or the ``summaries`` list) ->
  :func:`collateral_from_deribit`;
* ``private/pme/simulate`` -> :func:`diff_pme_simulate` (ours against the venue's, line by line)
  and :meth:`DeribitPMParams.from_model_params` for its ``model_params``.

ccxt (unified structures): ``fetch_positions`` entries -> :func:`portfolio_from_ccxt`,
``load_markets`` entries -> :func:`instruments_from_ccxt` (Deribit symbols such as
``BTC/USD:BTC-251226-100000-C`` map to venue names through ``id`` or the symbol itself).

Every adapter refuses malformed input with :class:`InvalidInputError` naming the field and the
row (``result[3].mark_iv``), never a KeyError from deep inside.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, TypeGuard

from ..exceptions import InvalidInputError
from .instruments import Instrument, InstrumentKind, parse_instrument
from .market import Mark, Market
from .portfolio import Portfolio

__all__ = [
    "collateral_from_deribit",
    "diff_pme_simulate",
    "instruments_from_ccxt",
    "instruments_from_deribit",
    "market_from_deribit",
    "portfolio_from_ccxt",
    "portfolio_from_deribit",
]


def _result(payload: Any, what: str) -> Any:
    """The ``result`` of a JSON-RPC response, or the payload itself."""
    if isinstance(payload, Mapping) and "result" in payload:
        if payload.get("error"):
            raise InvalidInputError(f"the response is an error: {payload['error']!r}", "error")
        return payload["result"]
    if isinstance(payload, Mapping) and "error" in payload:
        raise InvalidInputError(f"the response is an error: {payload['error']!r}", "error")
    return payload


def _rows(payload: Any, what: str) -> list[Mapping[str, Any]]:
    res = _result(payload, what)
    if isinstance(res, Mapping):
        res = [res]
    if not isinstance(res, list):
        raise InvalidInputError(f"expected a list of {what}", "result")
    for row, r in enumerate(res):
        if not isinstance(r, Mapping):
            raise InvalidInputError(f"expected an object ({what})", "result", row)
    return res


def _is_number(v: Any) -> TypeGuard[float]:
    """A finite int or float (bool refused; an int too large for a double is not a number)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    try:
        return math.isfinite(float(v))
    except OverflowError:
        return False


def _num(
    r: Mapping[str, Any], key: str, row: int, *, positive: bool = False, optional: bool = False
) -> float | None:
    v = r.get(key)
    if v is None:
        if optional:
            return None
        raise InvalidInputError("missing", f"result.{key}", row)
    if not _is_number(v):
        raise InvalidInputError(f"must be a finite number, got {v!r}", f"result.{key}", row)
    if positive and v <= 0:
        raise InvalidInputError(f"must be > 0, got {v!r}", f"result.{key}", row)
    return float(v)


def _str(r: Mapping[str, Any], key: str, row: int) -> str:
    v = r.get(key)
    if not isinstance(v, str) or not v:
        raise InvalidInputError(f"must be a non-empty string, got {v!r}", f"result.{key}", row)
    return v


def _instrument(name: str, row: int, field: str) -> Instrument:
    try:
        return parse_instrument(name)
    except InvalidInputError as e:
        raise InvalidInputError(f"{name!r}: {e.reason}", field, row) from None


def market_from_deribit(*payloads: Any, valuation_time: datetime | None = None) -> Market:
    """A market snapshot from book summaries and/or tickers (several payloads, e.g. options and
    futures, or BTC and ETH, may be given). Mark IVs come in percent (Deribit's unit)."""
    marks: dict[str, Mark] = {}
    index: dict[str, float] = {}
    stamps: list[int] = []
    for payload in payloads:
        for row, r in enumerate(_rows(payload, "book summaries or tickers")):
            name = _str(r, "instrument_name", row)
            inst = _instrument(name, row, "result.instrument_name")
            iv = _num(r, "mark_iv", row, optional=True)
            if iv is not None and not iv > 0:
                raise InvalidInputError("must be > 0 (percent)", "result.mark_iv", row)
            mark = _num(r, "mark_price", row, optional=True)
            if mark is not None and inst.kind is not InstrumentKind.OPTION and not mark > 0:
                raise InvalidInputError("a future's mark must be > 0", "result.mark_price", row)
            if mark is not None and mark < 0:
                raise InvalidInputError("must be >= 0", "result.mark_price", row)
            marks[name] = Mark(
                mark_price=mark,
                underlying_price=_num(r, "underlying_price", row, positive=True, optional=True),
                mark_iv=None if iv is None else iv / 100.0,
            )
            idx = _num(r, "index_price", row, positive=True, optional=True)
            if idx is None:
                idx = _num(r, "estimated_delivery_price", row, positive=True, optional=True)
            if idx is not None:
                index.setdefault(inst.underlying, idx)
            ts = r.get("timestamp", r.get("creation_timestamp"))
            if ts is not None:
                if isinstance(ts, bool) or not isinstance(ts, int) or ts <= 0:
                    raise InvalidInputError(
                        "must be milliseconds since 1970", "result.timestamp", row
                    )
                stamps.append(ts)
    if not marks:
        raise InvalidInputError("no instruments in the payloads", "result")
    if valuation_time is None:
        if not stamps:
            raise InvalidInputError(
                "the payloads carry no timestamp: pass valuation_time=", "valuation_time"
            )
        valuation_time = datetime.fromtimestamp(max(stamps) / 1000.0, tz=timezone.utc)
    if not index:
        raise InvalidInputError(
            "no index_price / estimated_delivery_price in the payloads", "result.index_price"
        )
    return Market(valuation_time, index, marks)


def instruments_from_deribit(payload: Any) -> list[Instrument]:
    """Instruments of ``public/get_instruments``, with the venue's contract size; the payload's
    kind, strike, option type and expiry must agree with the name."""
    out = []
    for row, r in enumerate(_rows(payload, "instruments")):
        name = _str(r, "instrument_name", row)
        size = _num(r, "contract_size", row, positive=True)
        assert size is not None
        try:
            inst = parse_instrument(name, size)
        except InvalidInputError as e:
            raise InvalidInputError(
                f"{name!r}: {e.reason}", "result.instrument_name", row
            ) from None
        kind = r.get("kind")
        if not isinstance(kind, str):
            raise InvalidInputError(f"not an instrument kind: {kind!r}", "result.kind", row)
        want = {
            "future": (InstrumentKind.FUTURE, InstrumentKind.PERPETUAL),
            "option": (InstrumentKind.OPTION,),
            "spot": (InstrumentKind.SPOT,),
        }
        if kind not in want or inst.kind not in want[kind]:
            raise InvalidInputError(f"kind {kind!r} does not match {name!r}", "result.kind", row)
        if inst.kind is InstrumentKind.OPTION:
            strike = _num(r, "strike", row, positive=True)
            if strike is None or abs(strike - float(inst.strike or 0)) > 1e-9 * strike:
                raise InvalidInputError(
                    f"strike {strike} does not match {name!r}", "result.strike", row
                )
        exp = r.get("expiration_timestamp")
        if inst.expiry is not None and exp is not None:
            if not isinstance(exp, int) or abs(exp - inst.expiry.timestamp() * 1000) > 1:
                raise InvalidInputError(
                    f"expiration {exp!r} does not match {name!r}",
                    "result.expiration_timestamp",
                    row,
                )
        out.append(inst)
    return out


def portfolio_from_deribit(payload: Any) -> Portfolio:
    """Positions of ``private/get_positions`` (signed; zero positions dropped) in coin units:
    options by ``size``, futures and perpetuals by ``size_currency`` (their ``size`` is USD)."""
    pos: dict[str, float] = {}
    for row, r in enumerate(_rows(payload, "positions")):
        name = _str(r, "instrument_name", row)
        inst = _instrument(name, row, "result.instrument_name")
        if inst.kind is InstrumentKind.OPTION:
            size = _num(r, "size", row)
        else:
            size = _num(r, "size_currency", row, optional=True)
            if size is None:
                usd = _num(r, "size", row)
                mark = _num(r, "mark_price", row, positive=True)
                assert usd is not None and mark is not None
                size = usd / mark if inst.settlement.name == "INVERSE" else usd
        assert size is not None
        if size != 0.0:
            pos[name] = pos.get(name, 0.0) + size
    return Portfolio({k: v for k, v in pos.items() if v != 0.0})  # rows that net to zero too


def collateral_from_deribit(payload: Any) -> dict[str, float]:
    """Balances per currency from ``private/get_account_summary`` (a summary, a list, or the
    ``summaries`` of ``get_account_summaries``)."""
    res = _result(payload, "account summaries")
    if isinstance(res, Mapping) and isinstance(res.get("summaries"), list):
        res = res["summaries"]
    out: dict[str, float] = {}
    for row, r in enumerate(_rows(res, "account summaries")):
        ccy = _str(r, "currency", row).upper()
        bal = _num(r, "balance", row)
        assert bal is not None
        if bal < 0:
            raise InvalidInputError(
                "a negative balance cannot be collateral", "result.balance", row
            )
        out[ccy] = bal
    return out


def diff_pme_simulate(payload: Any, ours: Any, *, rel: float = 1e-9) -> list[str]:
    """Compares a ``private/pme/simulate`` response with our :class:`DeribitPMResult` for the
    same portfolio, field by field (margins, worst case and its bucket, roll shock, every
    aggregated and per-instrument risk vector entry). Returns the differences (empty: equal to
    ``rel`` relative, or 1e-12 absolute)."""
    res = _result(payload, "pme/simulate")
    if not isinstance(res, Mapping) or not isinstance(res.get("margins"), Mapping):
        raise InvalidInputError("not a pme/simulate result (no margins)", "result.margins")
    diffs: list[str] = []

    def close(a: float, b: float) -> bool:
        return abs(a - b) <= max(rel * max(abs(a), abs(b)), 1e-12)

    m = res["margins"].get(ours.currency)
    if not isinstance(m, Mapping):
        return [f"margins.{ours.currency}: missing in the venue's response"]
    for key, val in (
        ("initial_margin", ours.initial_margin),
        ("maintenance_margin", ours.maintenance_margin),
    ):
        venue = m.get(key)
        if not _is_number(venue) or not close(float(venue), val):
            diffs.append(f"margins.{ours.currency}.{key}: venue {venue!r}, ours {val!r}")
    details = m.get("initial_margin_details") or {}
    det = details.get("risk_matrix_margin_details") if isinstance(details, Mapping) else None
    if not isinstance(det, Mapping):
        det = {}
    for key, val in (("worst_case", ours.worst_case), ("roll_shock", ours.roll_shock)):
        venue = det.get(key)
        if venue is None:
            continue
        if not _is_number(venue):
            raise InvalidInputError(f"not a number: {venue!r}", f"risk_matrix_margin_details.{key}")
        if not close(float(venue), val):
            diffs.append(f"risk_matrix_margin_details.{key}: venue {venue!r}, ours {val!r}")
    bucket = det.get("worst_case_bucket")
    if isinstance(bucket, Mapping):
        for key in ("index", "side", "source", "bucket"):
            if key in bucket and bucket[key] != ours.worst_case_bucket.get(key):
                diffs.append(
                    f"worst_case_bucket.{key}: venue {bucket[key]!r}, "
                    f"ours {ours.worst_case_bucket.get(key)!r}"
                )
    for section, mine in (
        ("aggregated_risk_vectors", ours.aggregated_risk_vectors),
        ("initial_risk_vectors", ours.initial_risk_vectors),
    ):
        vectors = res.get(section) or {}
        if not isinstance(vectors, Mapping):
            raise InvalidInputError("must be an object", section)
        for key, vec in vectors.items():
            if key not in mine:
                diffs.append(f"{section}.{key}: not in ours")
                continue
            if not isinstance(vec, Mapping):
                raise InvalidInputError("must be an object", f"{section}.{key}")
            for part in ("standard", "extended"):
                venue_v = vec.get(part) or []
                if not isinstance(venue_v, list) or not all(map(_is_number, venue_v)):
                    raise InvalidInputError("must be a list of numbers", f"{section}.{key}.{part}")
                ours_v = list(mine[key][part])
                if len(venue_v) != len(ours_v):
                    diffs.append(
                        f"{section}.{key}.{part}: {len(venue_v)} entries, ours {len(ours_v)}"
                    )
                    continue
                for j, (a, b) in enumerate(zip(venue_v, ours_v)):
                    if not close(float(a), float(b)):
                        diffs.append(f"{section}.{key}.{part}[{j}]: venue {a!r}, ours {b!r}")
    return diffs


# --- ccxt ---------------------------------------------------------------------------------

_CCXT = re.compile(
    r"^(?P<base>[A-Z0-9]+)/(?P<quote>[A-Z]+):(?P<settle>[A-Z]+)"
    r"(?:-(?P<date>\d{6})(?:-(?P<strike>[0-9.]+)-(?P<cp>[CP]))?)?$"
)
_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]


def _deribit_name(symbol: str, row: int, field: str) -> str:
    """ccxt's unified Deribit symbol -> the venue's instrument name."""
    m = _CCXT.match(symbol)
    if not m:
        raise InvalidInputError(f"{symbol!r} is not a ccxt derivative symbol", field, row)
    base, settle = m["base"], m["settle"]
    prefix = base if settle == base else f"{base}_{settle}"
    if m["date"] is None:
        return f"{prefix}-PERPETUAL"
    yy, mm, dd = m["date"][:2], int(m["date"][2:4]), int(m["date"][4:])
    if not 1 <= mm <= 12:
        raise InvalidInputError(f"no month {mm} in {symbol!r}", field, row)
    stem = f"{prefix}-{dd}{_MONTHS[mm - 1]}{yy}"
    if m["strike"] is None:
        return stem
    strike = m["strike"]
    strike = strike.rstrip("0").rstrip(".") if "." in strike else strike
    return f"{stem}-{strike.replace('.', 'd')}-{m['cp']}"


def _ccxt_name(r: Mapping[str, Any], row: int) -> str:
    ident = r.get("id")
    if isinstance(ident, str) and ident:
        try:
            parse_instrument(ident)
            return ident
        except InvalidInputError:
            pass
    symbol = r.get("symbol")
    if not isinstance(symbol, str):
        raise InvalidInputError("missing symbol", "symbol", row)
    return _deribit_name(symbol, row, "symbol")


def portfolio_from_ccxt(positions: Sequence[Mapping[str, Any]]) -> Portfolio:
    """ccxt unified positions (``fetch_positions``): ``contracts`` x ``contractSize`` coins,
    signed by ``side`` (long / short). Inverse futures' contracts are USD (Deribit's 10 USD
    contracts with contractSize 10): converted to coin at ``markPrice``."""
    if not isinstance(positions, Sequence) or isinstance(positions, (str, bytes)):
        raise InvalidInputError("expected a list of ccxt positions", "positions")
    pos: dict[str, float] = {}
    for row, r in enumerate(positions):
        if not isinstance(r, Mapping):
            raise InvalidInputError("expected an object", "positions", row)
        name = _deribit_name(_str(r, "symbol", row), row, "symbol")
        inst = _instrument(name, row, "symbol")
        contracts = _num(r, "contracts", row)
        csize = _num(r, "contractSize", row, positive=True, optional=True) or 1.0
        side = r.get("side")
        if side not in ("long", "short"):
            raise InvalidInputError(f"must be 'long' or 'short', got {side!r}", "side", row)
        assert contracts is not None
        amount = abs(contracts) * csize * (1.0 if side == "long" else -1.0)
        if inst.kind is not InstrumentKind.OPTION and inst.settlement.name == "INVERSE":
            mark = _num(r, "markPrice", row, positive=True)
            assert mark is not None
            amount /= mark
        if amount != 0.0:
            pos[name] = pos.get(name, 0.0) + amount
    return Portfolio(pos)


def instruments_from_ccxt(
    markets: Sequence[Mapping[str, Any]] | Mapping[str, Any],
) -> list[Instrument]:
    """ccxt unified markets (``load_markets()`` values, or the dict itself)."""
    if isinstance(markets, Mapping):
        rows = list(markets.values())
    elif isinstance(markets, Sequence) and not isinstance(markets, (str, bytes)):
        rows = list(markets)
    else:
        raise InvalidInputError("expected ccxt markets (a list or a dict)", "markets")
    out = []
    for row, r in enumerate(rows):
        if not isinstance(r, Mapping):
            raise InvalidInputError("expected an object", "markets", row)
        name = _ccxt_name(r, row)
        size = _num(r, "contractSize", row, positive=True, optional=True) or 1.0
        try:
            out.append(parse_instrument(name, size))
        except InvalidInputError as e:
            raise InvalidInputError(f"{name!r}: {e.reason}", "symbol", row) from None
    return out
