# SPDX-License-Identifier: Apache-2.0
"""The margin monitor of ``pymargin serve``: a web page (``GET /``) listing the accounts with
their margin, margin ratio, status and distance to liquidation; the selected account's risk
matrix and binding scenario; what-if order entry; all updating as marks move (server-sent
events on ``GET /events``, fired by ``POST /market``).

Figures are the venue's: each account's IM includes its MMP and open-order margins, in its
settlement currency (an account across several settlement currencies shows USD totals)."""

import asyncio
import math
import threading
from importlib import resources
from typing import Any

from ..accounts.account import Account, account_summary, held_sizes
from ..accounts.liquidation import distance_to_liquidation
from ..exceptions import InvalidInputError
from ..market.portfolio import Portfolio
from ..models.deribit_pm import deribit_pm_margin
from ..models.registry import margin

__all__ = ["account_row", "add_monitor"]


def account_row(state: Any, name: str) -> dict[str, Any]:
    """One account's line of the monitor."""
    acct = state.accounts[name]
    with acct.lock:
        book = dict(acct.positions)
        coll = dict(acct.collateral)
        mmp, oo = acct.mmp_margin, acct.open_orders_margin
        entry = dict(acct.entry)
    if not book:
        return {"account": name, "currency": "", "positions": 0, "status": "flat"}
    market = state.market
    account = Account(Portfolio(book), coll, {k: v for k, v in entry.items() if k in book})
    summary = account_summary(account, market, pm_params=state.params)
    table = market.table
    _, ccy = table.take(list(book), "settlement_currency")
    ccys = sorted(table.code_names(ccy))
    if len(ccys) == 1:
        c = ccys[0]
        r = deribit_pm_margin(
            book, market, state.params, currency=c, mmp_margin=mmp, open_orders_margin=oo
        )
        equity = summary.per_currency.get(c, {}).get("equity", 0.0)
        im, mm, unit, worst = r.initial_margin, r.maintenance_margin, c, r.worst_scenario
    else:
        res = margin(Portfolio(book), market, params=state.params)
        equity, unit, worst = summary.equity_usd, "usd", res.worst_scenario
        im, mm = res.initial_margin, res.maintenance_margin
    ratio = mm / equity if equity > 0 else (math.inf if mm > 0 else 0.0)
    # healthy only on a positive test of finite figures: a NaN never reads as healthy
    if not all(math.isfinite(x) for x in (im, mm, equity)):
        status = "not covered"
    elif mm > 0 and mm >= equity:
        status = "liquidation"
    elif im > 0 and im >= equity:
        status = "margin call"
    else:  # all finite, neither margin reaches the equity
        status = "healthy"
    roots = distance_to_liquidation(account, market, vol_scales=(1.0,), points=41, lo=-0.8, hi=1.5)[
        1.0
    ]
    move = min(roots, key=abs) if roots else None
    return {
        "account": name,
        "currency": unit,
        "positions": len(book),
        "equity": equity,
        "initial_margin": im,
        "maintenance_margin": mm,
        "margin_ratio": ratio if math.isfinite(ratio) else None,
        "status": status,
        "liquidation_move": move,
        "worst_scenario": worst,
    }


def _matrix(state: Any, name: str) -> dict[str, Any]:
    acct = state.accounts[name]
    with acct.lock:
        book = dict(acct.positions)
    if not book:
        return {"groups": []}
    res = margin(Portfolio(book), state.market, params=state.params)
    groups = []
    for c, g in (res.groups or {res.currency: res}).items():
        d = g.details
        for key, vec in d.aggregated_risk_vectors.items():
            std = [float(x) for x in vec["standard"]]
            labels = d.scenario_labels[key][: len(std)]
            groups.append(
                {
                    "group": f"{c.upper()} {key.split('_')[0].upper()}",
                    "moves": [lab.split(" ")[1] for lab in labels[::3]],
                    "vol_states": ["vol up", "vol unchanged", "vol down"],
                    "cells": [std[k::3] for k in range(3)],
                    "worst": g.worst_scenario,
                    "unit": g.currency.upper(),
                }
            )
    return {"groups": groups}


def add_monitor(app: Any, state: Any, fastapi: Any, responses: Any) -> None:
    """Adds the page, ``/accounts``, the risk matrix, ``/market`` and ``/events``."""
    version = {"n": 0}
    lock = threading.Lock()
    Request = fastapi.Request
    page = (resources.files("pymargin") / "data" / "monitor.html").read_text(encoding="utf-8")

    @app.get("/", response_class=responses.HTMLResponse)
    def index() -> str:
        """The margin monitor (a web page)."""
        return page

    @app.get("/accounts")
    def accounts() -> list[dict[str, Any]]:
        """Every account's margin, ratio, status and distance to liquidation."""
        return [account_row(state, n) for n in sorted(state.accounts)]

    @app.get("/accounts/{account}/matrix")
    def matrix(account: str) -> dict[str, Any]:
        """The account's standard risk matrix per margin group and pair (after credits)."""
        if account not in state.accounts:
            raise InvalidInputError(f"no account {account!r}", "account")
        return _matrix(state, account)

    @app.post("/market")
    def move_market(update: dict[str, Any]) -> dict[str, Any]:
        """Moves the marks: ``{"shift": {"BTC_USD": -0.05}, "vol_scale": {"BTC_USD": 1.2}}``
        (relative spot moves, implied-vol factors). Every engine is rebuilt on the new marks
        and the page is told."""
        shift = update.get("shift", {})
        vols = update.get("vol_scale", {})
        for what, d, lo in (("shift", shift, -1.0), ("vol_scale", vols, 0.0)):
            if not isinstance(d, dict):
                raise InvalidInputError("must be an object of underlying to number", what)
            for row, (k, v) in enumerate(d.items()):
                ok = not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v)
                if not (ok and v > lo and k in state.market.index):
                    raise InvalidInputError(
                        f"{k}: a finite number > {lo:g}, on a known index", what, row
                    )
        with lock:
            before = state.market
            state.market = before.shifted(shift, vols)
            for acct in state.accounts.values():
                with acct.lock:
                    # inverse futures keep their USD notional: their coin size follows the mark
                    acct.positions = held_sizes(acct.positions, before, state.market)
                    acct.engine = None  # rebuilt on the new marks when next asked
            version["n"] += 1
        return {"version": version["n"], "index": state.market.index}

    @app.get("/events")
    async def events(request: Request) -> Any:  # type: ignore[valid-type]
        """Server-sent events: one ``data: <version>`` line each time the market moves."""

        async def stream() -> Any:
            seen = -1
            while not await request.is_disconnected():  # type: ignore[attr-defined]
                if version["n"] != seen:
                    seen = version["n"]
                    yield f"data: {seen}\n\n"
                await asyncio.sleep(0.1)

        return responses.StreamingResponse(stream(), media_type="text/event-stream")
