# SPDX-License-Identifier: Apache-2.0
"""A local margin service (FastAPI; ``pymargin serve``): Deribit's ``private/pme/simulate``
as JSON-RPC, in the venue's request and response shapes, and REST endpoints for margin under
any model, what-if orders against a persistent pre-trade engine per account, stress tests and
VaR.

* Bad input gets HTTP 400 with a typed body, ``{"error": {"type", "field", "row",
  "reason"}}`` (JSON-RPC: ``{"error": {"code": -32602, "message", "data"}}``), never a 500.
* Bodies over ``max_body`` bytes are refused with 413 before they are read.
* With ``api_key`` set, every endpoint but ``/health`` needs the ``X-API-Key`` header
  (compared in constant time).
* Each request is logged as one JSON line: method, path, status, milliseconds, account.
* Accounts are independent: each has its own positions, collateral and pre-trade engine,
  behind its own lock; no state is shared between accounts.
"""

import dataclasses
import hmac
import json
import logging
import math
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import __version__
from ..accounts.engine import (
    PreTradeEngine,
    Reason,
    Side,
    book_at_marks,
    engine_amount,
    mark_fill_price,
)
from ..analytics.stress import StressScenario, stress_test
from ..exceptions import InvalidInputError, PymarginError
from ..extras import optional
from ..market.market import Market
from ..market.portfolio import Portfolio
from ..models.deribit_pm import DeribitPMParams, DeribitPMResult, deribit_pm_margin
from ..models.registry import MarginModel, margin
from .verify import simulate_inputs

__all__ = ["AccountState", "ServiceState", "create_app", "simulate_response"]

LOG = logging.getLogger("pymargin.service")


@dataclass
class AccountState:
    """One account: its positions (coins), collateral, the order-book margins the venue adds
    (MMP, open orders) and, once asked for, its pre-trade engine."""

    positions: dict[str, float]
    collateral: dict[str, float] = field(default_factory=dict)
    mmp_margin: float = 0.0
    open_orders_margin: float = 0.0
    # futures' average entry prices (their P&L is equity); the marks when the service started
    # for positions given without one
    entry: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    engine: Any = None
    engine_account: int = -1


@dataclass
class ServiceState:
    market: Market
    accounts: dict[str, AccountState]
    params: DeribitPMParams | None = None  # None: the versions in force

    def __post_init__(self) -> None:
        for acct in self.accounts.values():
            for name in acct.positions:
                if name not in acct.entry and _is_future(name):
                    acct.entry[name] = mark_fill_price(self.market, name)

    def add(self, name: str, acct: AccountState) -> None:
        """Adds an account (its futures entered at today's marks unless given)."""
        for inst in acct.positions:
            if inst not in acct.entry and _is_future(inst):
                acct.entry[inst] = mark_fill_price(self.market, inst)
        self.accounts[name] = acct

    @classmethod
    def from_simulate(cls, payload: Any, account: str = "default") -> "ServiceState":
        """The market, parameters and account of a ``pme/simulate`` response: the service
        then answers that request with that response."""
        params, market, book, _, extras = simulate_inputs(payload)
        acct = AccountState(
            dict(book),
            mmp_margin=extras["mmp_margin"],
            open_orders_margin=extras["open_orders_margin"],
        )
        return cls(market, {account: acct}, params)


def _vectors(v: Mapping[str, Mapping[str, np.ndarray]]) -> dict[str, dict[str, list[float]]]:
    return {k: {s: [float(x) for x in e] for s, e in d.items()} for k, d in v.items()}


def simulate_response(
    r: DeribitPMResult, market: Market, positions: Mapping[str, float]
) -> dict[str, Any]:
    """A ``pme/simulate`` result in Deribit's shape from pymargin's result."""
    table = market.table
    names = list(positions)
    rows = table.rows(names)
    unds = table.code_names(table.column("underlying")[rows])
    index = {u.lower(): market.index_price(u) for u in sorted(unds)}
    ticker = {}
    for n in names:
        mark = market.marks.get(n)
        und = table.codes[int(table.take([n], "underlying")[1][0])]
        entry: dict[str, float] = {"index_price": market.index_price(und)}
        if mark is not None and mark.mark_price is not None:
            entry["mark_price"] = mark.mark_price
        ticker[n] = entry
    return {
        "model_params": r.params.raw,
        "margins": r.margins_dict(),
        "aggregated_risk_vectors": _vectors(r.aggregated_risk_vectors),
        "pre_aggregated_risk_vectors": _vectors(r.pre_aggregated_risk_vectors),
        "initial_risk_vectors": _vectors({n: r.initial_risk_vectors[n] for n in names}),
        "portfolio": {"currency": {}, "position": dict(positions)},
        "index_price": index,
        "ticker": ticker,
    }


def _finite(v: Any, field_name: str, row: int | None = None) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise InvalidInputError(f"must be a finite number, got {v!r}", field_name, row)
    return float(v)


def _book(raw: Any, field_name: str) -> dict[str, float]:
    if not isinstance(raw, Mapping):
        raise InvalidInputError("must be an object of instrument name to size", field_name)
    out = {}
    for row, (k, v) in enumerate(raw.items()):
        if not isinstance(k, str) or not k:
            raise InvalidInputError("instrument names are strings", field_name, row)
        out[k] = _finite(v, field_name, row)
    return out


def _error_body(e: PymarginError) -> dict[str, Any]:
    return {
        "error": {
            "type": type(e).__name__,
            "field": e.field,
            "row": e.index,
            "reason": e.reason,
        }
    }


def create_app(
    state: ServiceState,
    *,
    api_key: str | None = None,
    max_body: int = 1_000_000,
) -> Any:
    """The service's ASGI app (run it with uvicorn; ``pymargin serve`` does)."""
    fastapi = optional("fastapi", "serve")
    responses = optional("fastapi.responses", "serve")
    exceptions = optional("fastapi.exceptions", "serve")
    JSONResponse = responses.JSONResponse
    Request = fastapi.Request

    app = fastapi.FastAPI(
        title="pymargin",
        version=__version__,
        description="Margin, what-if, stress and VaR; Deribit's private/pme/simulate locally.",
    )

    def account_of(name: str) -> AccountState:
        acct = state.accounts.get(name)
        if acct is None:
            raise InvalidInputError(f"no account {name!r}", "account")
        return acct

    @app.middleware("http")
    async def guard(request: Any, call_next: Any) -> Any:
        t0 = time.perf_counter()
        status = 500
        try:
            if api_key is not None and request.url.path != "/health":
                given = request.headers.get("x-api-key", "")
                if not hmac.compare_digest(given.encode(), api_key.encode()):
                    status = 401
                    return JSONResponse(
                        {
                            "error": {
                                "type": "Unauthorized",
                                "field": "X-API-Key",
                                "row": None,
                                "reason": "missing or wrong API key",
                            }
                        },
                        status_code=401,
                    )
            length = request.headers.get("content-length")
            if length is not None and (not length.isdigit() or int(length) > max_body):
                status = 413
                return JSONResponse(
                    {
                        "error": {
                            "type": "PayloadTooLarge",
                            "field": "body",
                            "row": None,
                            "reason": f"at most {max_body} bytes",
                        }
                    },
                    status_code=413,
                )
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            LOG.info(
                json.dumps(
                    {
                        "method": request.method,
                        "path": request.url.path,
                        "status": status,
                        "ms": round((time.perf_counter() - t0) * 1e3, 3),
                        "account": request.headers.get("x-account", ""),
                    }
                )
            )

    @app.exception_handler(PymarginError)
    async def typed(_: Any, e: PymarginError) -> Any:
        return JSONResponse(_error_body(e), status_code=400)

    @app.exception_handler(exceptions.RequestValidationError)
    async def invalid(_: Any, e: Any) -> Any:
        first = e.errors()[0] if e.errors() else {}
        loc = [str(x) for x in first.get("loc", []) if x != "body"]
        row = next((int(x) for x in loc if x.isdigit()), None)
        name = ".".join(x for x in loc if not x.isdigit()) or "body"
        return JSONResponse(
            {
                "error": {
                    "type": "InvalidInputError",
                    "field": name,
                    "row": row,
                    "reason": str(first.get("msg", "invalid")),
                }
            },
            status_code=400,
        )

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "version": __version__,
            "accounts": len(state.accounts),
            "valuation_time": state.market.valuation_time.isoformat(),
        }

    async def _rpc(request: Any, path_method: str | None) -> Any:
        try:
            body = json.loads(await request.body())
        except (ValueError, RecursionError):
            return JSONResponse(
                {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "parse error"}},
                status_code=400,
            )
        rid = body.get("id") if isinstance(body, dict) else None
        try:
            if not isinstance(body, dict):
                raise InvalidInputError("a JSON-RPC request object", "body")
            method = body.get("method", path_method)
            if method != "private/pme/simulate" or (path_method and method != path_method):
                raise InvalidInputError(f"unknown method {method!r}", "method")
            params = body.get("params", {})
            if not isinstance(params, dict):
                raise InvalidInputError("must be an object", "params")
            name = params.get("account", request.headers.get("x-account", "default"))
            acct = account_of(str(name))
            result = _simulate(acct, params)
            return JSONResponse({"jsonrpc": "2.0", "id": rid, "result": result})
        except PymarginError as e:
            return JSONResponse(
                {
                    "jsonrpc": "2.0",
                    "id": rid,
                    "error": {"code": -32602, "message": str(e), "data": _error_body(e)["error"]},
                },
                status_code=400,
            )

    def _simulate(acct: AccountState, params: dict[str, Any]) -> dict[str, Any]:
        currency = params.get("currency")
        if not isinstance(currency, str) or not currency.isalnum():
            raise InvalidInputError("a currency such as BTC", "params.currency")
        with acct.lock:
            book = dict(acct.positions)
            mmp, oo = acct.mmp_margin, acct.open_orders_margin
        if params.get("simulated_positions") is not None:
            for k, v in _book(params["simulated_positions"], "params.simulated_positions").items():
                book[k] = book.get(k, 0.0) + v
        book = {k: v for k, v in book.items() if v != 0.0}
        r = deribit_pm_margin(
            book,
            state.market,
            state.params,
            currency=currency.lower(),
            mmp_margin=mmp,
            open_orders_margin=oo,
        )
        return simulate_response(r, state.market, book)

    @app.post("/api/v2")
    async def rpc(request: Request) -> Any:  # type: ignore[valid-type]
        """JSON-RPC 2.0, Deribit's shape: ``private/pme/simulate``."""
        return await _rpc(request, None)

    @app.post("/api/v2/private/pme/simulate")
    async def rpc_simulate(request: Request) -> Any:  # type: ignore[valid-type]
        """``private/pme/simulate`` (JSON-RPC body; ``params.currency``, optionally
        ``params.simulated_positions`` and ``params.account``)."""
        return await _rpc(request, "private/pme/simulate")

    pydantic = optional("pydantic", "serve")

    class MarginRequest(pydantic.BaseModel):  # type: ignore[name-defined,unused-ignore,misc]
        positions: dict[str, float]
        model: str = "deribit_pm"
        currency: str | None = None
        collateral: dict[str, float] | None = None
        params_version: str | None = None

    @app.post("/margin")
    def margin_endpoint(req: MarginRequest) -> dict[str, Any]:
        """Margin of ``positions`` under ``model`` (a MarginModel value)."""
        try:
            model = MarginModel(req.model)
        except ValueError:
            raise InvalidInputError(f"one of {[m.value for m in MarginModel]}", "model") from None
        book = _book(req.positions, "positions")
        deribit = model in (MarginModel.DERIBIT_PM, MarginModel.DERIBIT_XPM)
        res = margin(
            Portfolio(book),
            state.market,
            model,
            params=state.params if deribit and req.params_version is None else None,
            currency=req.currency,
            collateral=req.collateral if model is MarginModel.DERIBIT_XPM else None,
            params_version=req.params_version,
        )
        return res.summary()

    class OrderRequest(pydantic.BaseModel):  # type: ignore[name-defined,unused-ignore,misc]
        instrument: str
        side: str
        amount: float
        price: float | None = None

    def engine_of(name: str) -> tuple[AccountState, Any]:
        acct = account_of(name)
        if acct.engine is None:
            names = list(dict.fromkeys([*acct.positions, *state.market.marks]))
            eng = PreTradeEngine(state.market, names, state.params)
            aid = eng.add_account({k.lower(): v for k, v in acct.collateral.items()})
            book_at_marks(eng, aid, acct.positions, state.market)
            acct.engine, acct.engine_account = eng, aid
        return acct, acct.engine

    def _order(req: OrderRequest) -> tuple[Any, float]:
        side = {"buy": Side.BUY, "sell": Side.SELL}.get(req.side.lower())
        if side is None:
            raise InvalidInputError("buy or sell", "side")
        amount = _finite(req.amount, "amount")
        if not amount > 0:
            raise InvalidInputError("must be > 0 (coins)", "amount")
        return side, engine_amount(state.market, req.instrument, amount)

    @app.post("/accounts/{account}/check")
    def check(account: str, req: OrderRequest) -> dict[str, Any]:
        """Could the account carry this order (coins)? Nothing changes."""
        side, amount = _order(req)
        acct, eng = engine_of(account)
        with acct.lock:
            r = eng.check(acct.engine_account, req.instrument, side, amount)
        out = r._asdict()
        out["reason"] = Reason(r.reason).name.lower()
        return out

    @app.post("/accounts/{account}/fill")
    def fill(account: str, req: OrderRequest) -> dict[str, Any]:
        """Books a fill (coins, at ``price`` or the mark) and returns the account's margin."""
        side, amount = _order(req)
        acct, eng = engine_of(account)
        price = (
            req.price if req.price is not None else mark_fill_price(state.market, req.instrument)
        )
        with acct.lock:
            eng.fill(acct.engine_account, req.instrument, side, amount, _finite(price, "price"))
            signed = req.amount if side is Side.BUY else -req.amount
            old = acct.positions.get(req.instrument, 0.0)
            acct.positions[req.instrument] = old + signed
            if _is_future(req.instrument):
                acct.entry[req.instrument] = _entry_after(
                    old, acct.entry.get(req.instrument, price), signed, price, req.instrument
                )
            m = eng.margin(acct.engine_account, _settlement(state.market, req.instrument))
        return dataclasses.asdict(m)

    @app.get("/accounts/{account}")
    def account_margin(account: str) -> dict[str, Any]:
        """The account's positions and its margin per settlement currency (pymargin.margin)."""
        acct = account_of(account)
        with acct.lock:
            book = dict(acct.positions)
        res = margin(Portfolio(book), state.market, params=state.params) if book else None
        return {
            "positions": book,
            "collateral": acct.collateral,
            "initial_margin": None if res is None else res.initial_margin,
            "maintenance_margin": None if res is None else res.maintenance_margin,
            "currency": None if res is None else res.currency,
        }

    class StressRequest(pydantic.BaseModel):  # type: ignore[name-defined,unused-ignore,misc]
        positions: dict[str, float]
        scenarios: list[dict[str, Any]] | None = None

    @app.post("/stress")
    def stress(req: StressRequest) -> list[dict[str, Any]]:
        """P&L (USD) under the scenarios (default: the historical and synthetic library)."""
        scen = None
        if req.scenarios is not None:
            scen = []
            for row, s in enumerate(req.scenarios):
                moves = _book(s.get("moves"), "scenarios.moves")
                if not all(m > -1 for m in moves.values()):
                    raise InvalidInputError("moves must be > -1", "scenarios.moves", row)
                scen.append(
                    StressScenario(
                        str(s.get("name", row)),
                        moves,
                        _book(s.get("vol_scale", {}), "scenarios.vol_scale"),
                    )
                )
        out = stress_test(Portfolio(_book(req.positions, "positions")), state.market, scen)
        return [{"name": s.name, "pnl_usd": p, "moves": s.moves} for s, p in out]

    class VarRequest(pydantic.BaseModel):  # type: ignore[name-defined,unused-ignore,misc]
        positions: dict[str, float]
        confidence: float = 0.99
        horizon_days: int = 1

    @app.post("/var")
    def var(req: VarRequest) -> dict[str, Any]:
        """Historical VaR and ES (USD) of ``positions``."""
        from ..analytics.var import historical_var

        r = historical_var(
            Portfolio(_book(req.positions, "positions")),
            state.market,
            confidence=req.confidence,
            horizon_days=req.horizon_days,
        )
        return {
            "var": r.var,
            "es": r.es,
            "confidence": r.confidence,
            "scenarios": 0 if r.pnl is None else len(r.pnl),
        }

    from .monitor import add_monitor

    add_monitor(app, state, fastapi, responses)
    return app


def _is_future(name: str) -> bool:
    from ..market.instruments import InstrumentKind, parse_instrument

    return parse_instrument(name).kind is not InstrumentKind.OPTION


def _entry_after(old: float, entry: float, trade: float, price: float, name: str) -> float:
    """The average entry price after ``trade`` coins at ``price``: unchanged when the trade
    reduces the position, the fill price when it flips it; a coin-weighted harmonic mean for
    inverse contracts (their P&L is in 1/price), arithmetic for linear ones."""
    from ..market.instruments import Settlement, parse_instrument

    new = old + trade
    if old == 0.0 or old * new < 0.0:
        return price
    if abs(new) < abs(old):
        return entry
    if parse_instrument(name).settlement is Settlement.INVERSE:
        return new / (old / entry + trade / price)
    return (old * entry + trade * price) / new


def _settlement(market: Market, name: str) -> str:
    _, ccy = market.table.take([name], "settlement_currency")
    return market.table.codes[int(ccy[0])]
