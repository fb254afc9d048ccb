# SPDX-License-Identifier: Apache-2.0
"""The optimize command's candidates per margin group and what it prints: what the trade
frees, what it costs and the premium, each with a sign and a verb a reader cannot misread."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from ..exceptions import InvalidInputError
from ..market.instruments import Settlement
from ..market.market import Market
from ..market.portfolio import Portfolio
from ..models.registry import MarginModel
from ..strategy.optimize import OptimizationResult
from ..strategy.programs import default_candidates

_SEGREGATED = (MarginModel.DERIBIT_PM, MarginModel.DERIBIT_STANDARD)


def group_candidates(
    pf: Portfolio,
    market: Market,
    model: MarginModel,
    given: list[str] | None,
    min_days: float,
) -> list[tuple[str | None, Portfolio, list[str]]]:
    """(settlement currency, its positions, its candidates) per margin group: one group per
    settlement currency under a segregated model, else the whole book; default candidates are
    the listed instruments of the group's underlyings and settlement kind, expiring at least
    ``min_days`` out."""
    if not (min_days >= 0 and min_days < 3650):
        raise InvalidInputError("must be in [0, 3650) days", "--min-days")
    table = market.table
    names = list(pf.positions)
    if not names:
        raise InvalidInputError("no positions", "positions")
    rows = table.rows(names)
    ccy = [table.codes[int(c)] for c in table.column("settlement_currency")[rows]]
    und = [table.codes[int(c)] for c in table.column("underlying")[rows]]
    kind = [int(k) for k in table.column("settlement")[rows]]
    if model in _SEGREGATED and len(set(ccy)) > 1:
        if given is not None:
            raise InvalidInputError(
                "a book in several settlement currencies is optimised per group: leave out "
                "--candidates, or pass one group's positions",
                "candidates",
            )
        keys = list(dict.fromkeys(ccy))
    else:
        keys = [None]  # type: ignore[list-item]
    out: list[tuple[str | None, Portfolio, list[str]]] = []
    for c in keys:
        sel = [k for k in range(len(names)) if c is None or ccy[k] == c]
        book = Portfolio.sized({names[k]: pf.positions[names[k]] for k in sel})
        if given is not None:
            out.append((c, book, given))
            continue
        kinds = {kind[k] for k in sel}
        if len(kinds) != 1:
            raise InvalidInputError(
                "positions are both coin- and USDC-settled under one margin group: pass "
                "--candidates",
                "candidates",
            )
        settle = Settlement(kinds.pop())
        cands: list[str] = []
        for u in dict.fromkeys(und[k] for k in sel):
            cands += default_candidates(market, u, min_days=min_days, settlement=settle)
        out.append((c, book, list(dict.fromkeys(cands))))
    return out


def result_json(model: MarginModel, r: OptimizationResult, n: int, fractional: bool) -> dict:
    return {
        "model": model.value,
        "currency": r.currency,
        "margin_before": r.margin_before,
        "margin_after": r.margin_after,
        "verified_margin": r.verified_margin,
        "margin_freed": r.margin_released,
        "trading_cost": r.trading_cost,
        "premium_paid": r.premium,
        "trades": r.trades,
        "whole_contracts": not fractional,
        "delta_after": r.delta_after,
        "candidates": n,
        "status": r.status,
        "seconds": r.solve_seconds,
    }


def print_result(
    con: Console, model: MarginModel, r: OptimizationResult, n: int, fractional: bool
) -> None:
    ccy = r.currency.upper()
    tab = Table(
        title=f"Margin-minimising trade ({model.value}, {ccy} group; buy +, sell -)",
        title_justify="left",
    )
    tab.add_column("instrument")
    tab.add_column("trade", justify="right")
    for k, v in sorted(r.trades.items(), key=lambda kv: -abs(kv[1])):
        tab.add_row(k, f"{'buy' if v > 0 else 'sell'} {abs(v):,.4g}")
    if not r.trades:
        tab.add_row("no trade lowers the objective", "")
    con.print(tab)
    freed = r.margin_released
    con.print(
        f"initial margin {r.margin_before:,.6g} {ccy} now, {r.verified_margin:,.6g} {ccy} after "
        f"the trade: it {'frees' if freed >= 0 else 'adds'} {abs(freed):,.6g} {ccy}",
        highlight=False,
    )
    prem = r.premium
    con.print(
        f"premium: you {'pay' if prem > 0 else 'receive'} {abs(prem):,.6g} {ccy} at mark (value "
        f"exchanged, not lost); trading cost (fees and half-spread): {r.trading_cost:,.6g} "
        f"{ccy}, paid",
        highlight=False,
    )
    con.print(
        f"{n} candidates; {'any size' if fractional else 'whole contracts'}; solved in "
        f"{r.solve_seconds:.2f} s ({r.status})",
        highlight=False,
    )
