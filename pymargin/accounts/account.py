# SPDX-License-Identifier: Apache-2.0
"""Accounts: positions plus collateral, and what a venue reports on them (equity, margin
balance, IM, MM, available funds, ratios) under each of Deribit's four margin modes, side by
side so the capital a mode saves is visible.

Deribit combines collateral (segregated per currency, or cross: pooled in USD) with the margin
model (standard or portfolio): S:SM, X:SM, S:PM, X:PM (Deribit's
support pages on margin modes). Isolated margin (ISO), as Bybit, OKX and Binance offer it for
futures and perpetuals, gives each such position its own collateral and its own liquidation
price: a position's IM and MM are its standard margin alone, its collateral is what the account
allots to it (by default its IM, the least it can be opened with), and it is liquidated when
that collateral plus its own P&L falls to its MM, whatever the rest of the account holds.
Options stay in the cross pool, as at those venues. Conventions used here:

* equity of a currency = its balance + the value of the options that settle in it (long
  positive, short negative; coin value per coin for inverse options, USD for linear ones) + the
  unrealised P&L of futures and perpetuals when their average entry price is given (inverse:
  q (F/E - 1) coin for q coin of exposure at the current price F; linear: q (F - E));
* margin balance = equity; under cross collateral the currencies' equities are valued in USD
  at the index and positive equity is reduced by the currency's haircut (PM parameters);
* available funds = margin balance - IM; IM ratio = IM / margin balance, MM ratio likewise
  (Deribit's "maintenance margin ratio"; liquidation starts at 100 %).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..exceptions import InvalidInputError
from ..market.instruments import InstrumentKind, Settlement
from ..market.market import Market
from ..market.portfolio import Portfolio
from ..models.deribit_pm import DeribitPMParams, deribit_pm_margin
from ..models.deribit_standard import DeribitStandardParams, deribit_standard_margin
from ..models.deribit_xpm import deribit_xpm_margin
from ..models.params import ModelCoverageError, ModelParameterError
from ..pricing import black76_price, inverse_price

__all__ = [
    "Account",
    "AccountSummary",
    "MarginMode",
    "account_summary",
    "compare_margin_modes",
    "held_sizes",
    "marked",
    "moved_account",
]


class MarginMode(enum.Enum):
    """Account margin modes: Deribit's four, collateral segregated (S) or cross (X) with
    standard (SM) or portfolio (PM) margin, and isolated margin (ISO: each future and perpetual
    with its own collateral and liquidation price; see the module docstring)."""

    SEGREGATED_STANDARD = "S:SM"
    CROSS_STANDARD = "X:SM"
    SEGREGATED_PORTFOLIO = "S:PM"
    CROSS_PORTFOLIO = "X:PM"
    ISOLATED = "ISO"


@dataclass(frozen=True)
class Account:
    """Positions and collateral. ``collateral`` maps currencies (``"BTC"``, ``"USDC"``) to
    balances (>= 0, in the currency's units); ``average_price`` optionally maps futures and
    perpetuals to their average entry price (for unrealised P&L); ``isolated_margin``
    optionally maps futures and perpetuals to the collateral allotted to them under isolated
    margin (in their settlement currency; default: their IM)."""

    portfolio: Portfolio
    collateral: dict[str, float] = field(default_factory=dict)
    average_price: dict[str, float] = field(default_factory=dict)
    isolated_margin: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.portfolio, Portfolio):
            object.__setattr__(self, "portfolio", Portfolio(dict(self.portfolio)))
        clean: dict[str, float] = {}
        for row, (ccy, bal) in enumerate(dict(self.collateral).items()):
            if isinstance(bal, bool) or not isinstance(bal, (int, float)):
                raise InvalidInputError(f"balance of {ccy} must be a number", "collateral", row)
            if not math.isfinite(bal) or bal < 0:
                raise InvalidInputError(
                    f"balance of {ccy} must be finite and >= 0", "collateral", row
                )
            clean[str(ccy).lower()] = float(bal)
        object.__setattr__(self, "collateral", clean)
        for row, (name, price) in enumerate(dict(self.average_price).items()):
            if name not in self.portfolio.positions:
                raise InvalidInputError(f"{name} is not a position", "average_price", row)
            if isinstance(price, bool) or not isinstance(price, (int, float)):
                raise InvalidInputError("must be a number", "average_price", row)
            if not (math.isfinite(price) and price > 0):
                raise InvalidInputError("must be finite and > 0", "average_price", row)
        for row, (name, amount) in enumerate(dict(self.isolated_margin).items()):
            if name not in self.portfolio.positions:
                raise InvalidInputError(f"{name} is not a position", "isolated_margin", row)
            if isinstance(amount, bool) or not isinstance(amount, (int, float)):
                raise InvalidInputError("must be a number", "isolated_margin", row)
            if not (math.isfinite(amount) and amount >= 0):
                raise InvalidInputError("must be finite and >= 0", "isolated_margin", row)


def marked(account: Account, market: Market) -> Account:
    """The account with every futures and perpetual position that has no average price
    booked at its current mark, so that a later (moved) market shows their P&L in equity."""
    prices = dict(account.average_price)
    names = [n for n in account.portfolio.positions if n not in prices]
    if names:
        table = market.table
        rows = table.rows(names)
        kinds = table.column("kind")[rows]
        fwd = table.column("forward")[rows]
        for n, k, f in zip(names, kinds, fwd):
            if k in (InstrumentKind.FUTURE, InstrumentKind.PERPETUAL):
                prices[n] = float(f)
    return Account(
        account.portfolio, dict(account.collateral), prices, dict(account.isolated_margin)
    )


def held_sizes(sizes: Mapping[str, float], market: Market, moved: Market) -> dict[str, float]:
    """Position sizes in coin at ``market`` as they stand on ``moved``, the same market after a
    move: inverse futures and perpetuals are contracts of fixed USD notional, so their size in
    coin becomes q F / F' (F, F' their marks before and after), which keeps their coin P&L at
    q F (1/E - 1/F') and their margin on the exposure they have after the move, as the core's
    scenario revaluation does. Everything else keeps its size."""
    names = list(sizes)
    if not names:
        return {}
    _, kind, settle, f_before = market.table.take(names, "kind", "settlement", "forward")
    _, f_after = moved.table.take(names, "forward")
    futures = np.isin(kind, (int(InstrumentKind.FUTURE), int(InstrumentKind.PERPETUAL)))
    scale = np.where(futures & (settle == int(Settlement.INVERSE)), f_before / f_after, 1.0)
    return {n: float(sizes[n]) * float(f) for n, f in zip(names, scale)}


def moved_account(account: Account, market: Market, moved: Market) -> Account:
    """``account`` (sizes in coin at ``market``) as it stands on ``moved`` (see
    :func:`held_sizes`)."""
    positions = account.portfolio.positions
    if not positions:
        return account
    return Account(
        Portfolio(held_sizes(positions, market, moved)),
        dict(account.collateral),
        dict(account.average_price),
        dict(account.isolated_margin),
    )


@dataclass
class AccountSummary:
    """An account under one margin mode. Totals are in USD; ``per_currency`` holds each
    settlement currency's figures in its own units (segregated modes) with keys equity,
    margin_balance, initial_margin, maintenance_margin, available_funds."""

    mode: MarginMode
    equity_usd: float
    margin_balance_usd: float
    initial_margin_usd: float
    maintenance_margin_usd: float
    available_funds_usd: float
    initial_margin_ratio: float
    maintenance_margin_ratio: float
    per_currency: dict[str, dict[str, float]]
    details: Any = None

    def as_row(self) -> dict[str, Any]:
        return {
            "mode": self.mode.value,
            "equity_usd": self.equity_usd,
            "margin_balance_usd": self.margin_balance_usd,
            "initial_margin_usd": self.initial_margin_usd,
            "maintenance_margin_usd": self.maintenance_margin_usd,
            "available_funds_usd": self.available_funds_usd,
            "im_ratio": self.initial_margin_ratio,
            "mm_ratio": self.maintenance_margin_ratio,
        }


def _equity(account: Account, market: Market) -> dict[str, float]:
    """Equity per currency (lower case), in the currency's units."""
    eq = dict(account.collateral)
    names = list(account.portfolio.positions)
    if not names:
        return eq
    table = market.table
    rows = table.rows(names)
    sizes = np.array(list(account.portfolio.positions.values()))
    col = table.column
    kind, settle = col("kind")[rows], col("settlement")[rows]
    value = np.zeros(len(rows))
    opt = kind == int(InstrumentKind.OPTION)
    if opt.any():
        r = rows[opt]
        args = (col("forward")[r], col("strike")[r], col("time")[r], col("vol")[r], col("rate")[r])
        calls = col("is_call")[r].astype(bool)
        inv = settle[opt] == int(Settlement.INVERSE)
        value[opt] = np.where(inv, inverse_price(*args, calls), black76_price(*args, calls))
    for k, name in enumerate(names):
        entry = account.average_price.get(name)
        if entry is not None and kind[k] in (InstrumentKind.FUTURE, InstrumentKind.PERPETUAL):
            f = col("forward")[rows[k]]
            value[k] = f / entry - 1.0 if settle[k] == Settlement.INVERSE else f - entry
    ccy = col("settlement_currency")[rows]
    for c in np.unique(ccy):
        name = table.codes[int(c)]
        eq[name] = eq.get(name, 0.0) + float(sizes[ccy == c] @ value[ccy == c])
    return eq


def account_summary(
    account: Account,
    market: Market,
    mode: MarginMode = MarginMode.SEGREGATED_PORTFOLIO,
    *,
    pm_params: DeribitPMParams | None = None,
    sm_params: DeribitStandardParams | None = None,
) -> AccountSummary:
    """Equity, margin balance, IM, MM, available funds and ratios of ``account`` under
    ``mode`` (see the module docstring for the conventions). PM modes need parameters that
    cover every currency involved (``pm_params``; by default the newest shipped set that
    does)."""
    if not isinstance(mode, MarginMode):
        raise InvalidInputError("use a pymargin.MarginMode member", "mode")
    positions = account.portfolio.positions
    equity = _equity(account, market)
    table = market.table
    names = list(positions)
    rows = table.rows(names) if names else np.zeros(0, np.int64)
    ccy_of = [table.codes[int(c)] for c in table.column("settlement_currency")[rows]]
    ccys = sorted(set(ccy_of) | set(account.collateral))
    price = {c: market.usd_price(c) for c in ccys}
    im: dict[str, float] = dict.fromkeys(ccys, 0.0)
    mm: dict[str, float] = dict.fromkeys(ccys, 0.0)
    details: Any = None
    if mode in (MarginMode.SEGREGATED_STANDARD, MarginMode.CROSS_STANDARD, MarginMode.ISOLATED):
        per = deribit_standard_margin(positions, market, sm_params) if positions else []
        for p in per:
            im[p.currency.lower()] += p.initial_margin
            mm[p.currency.lower()] += p.maintenance_margin
        details = per
        if mode is MarginMode.ISOLATED:
            return _isolated_summary(account, market, per, equity, im, mm, price, sm_params)
    elif mode is MarginMode.SEGREGATED_PORTFOLIO:
        details = {}
        for c in sorted(set(ccy_of)):
            sub = {n: positions[n] for n, cc in zip(names, ccy_of) if cc == c}
            params = pm_params or _pm_params_for(market, sub, {c})
            r = deribit_pm_margin(sub, market, params, currency=c)
            im[c], mm[c] = r.initial_margin, r.maintenance_margin
            details[c] = r
    usd_equity = sum(equity.get(c, 0.0) * price[c] for c in ccys)
    if mode in (MarginMode.SEGREGATED_STANDARD, MarginMode.SEGREGATED_PORTFOLIO):
        per_ccy = {
            c: {
                "equity": equity.get(c, 0.0),
                "margin_balance": equity.get(c, 0.0),
                "initial_margin": im[c],
                "maintenance_margin": mm[c],
                "available_funds": equity.get(c, 0.0) - im[c],
            }
            for c in ccys
        }
        balance_usd = usd_equity
        initial_margin_usd = sum(im[c] * price[c] for c in ccys)
        maintenance_margin_usd = sum(mm[c] * price[c] for c in ccys)
    else:
        params = pm_params or _pm_params_for(market, positions, set(ccys))
        haircut = {}
        for c in ccys:
            cp = params.currency_params(c)
            if cp is None:
                raise ModelParameterError(f"no haircut for currency {c!r}", "model_params.currency")
            haircut[c] = cp.haircut
        balance_usd = sum(
            equity.get(c, 0.0) * price[c] * (1.0 - haircut[c] if equity.get(c, 0.0) > 0 else 1.0)
            for c in ccys
        )
        if mode is MarginMode.CROSS_STANDARD:
            initial_margin_usd = sum(im[c] * price[c] for c in ccys)
            maintenance_margin_usd = sum(mm[c] * price[c] for c in ccys)
        else:
            x = deribit_xpm_margin(positions, market, params, account.collateral)
            initial_margin_usd, maintenance_margin_usd, details = (
                x.initial_margin,
                x.maintenance_margin,
                x,
            )
        per_ccy = {c: {"equity": equity.get(c, 0.0)} for c in ccys}
    return AccountSummary(
        mode,
        usd_equity,
        balance_usd,
        initial_margin_usd,
        maintenance_margin_usd,
        balance_usd - initial_margin_usd,
        _ratio(initial_margin_usd, balance_usd),
        _ratio(maintenance_margin_usd, balance_usd),
        per_ccy,
        details,
    )


def _isolated_summary(
    account: Account,
    market: Market,
    per: list[Any],
    equity: dict[str, float],
    im: dict[str, float],
    mm: dict[str, float],
    price: dict[str, float],
    sm_params: DeribitStandardParams | None,
) -> AccountSummary:
    """ISO: every future and perpetual on its own collateral (``details``: the
    :class:`~pymargin.accounts.isolated.IsolatedPosition` list); the rest of each currency's
    equity is the cross pool, which carries the options' margin. Available funds are the
    pools' equity less their IM: allotted collateral and isolated P&L are not available."""
    from .isolated import isolated_positions

    iso = isolated_positions(account, market, per, sm_params)
    pool_mm = dict(mm)
    per_ccy: dict[str, dict[str, float]] = {}
    for c in equity:
        mine = [p for p in iso if p.currency.lower() == c]
        pool_equity = equity[c] - sum(p.equity for p in mine)
        pool_im = im[c] - sum(p.initial_margin for p in mine)
        pool_mm[c] = mm[c] - sum(p.maintenance_margin for p in mine)
        per_ccy[c] = {
            "equity": equity[c],
            "margin_balance": equity[c],
            "initial_margin": im[c],
            "maintenance_margin": mm[c],
            "isolated_collateral": sum(p.collateral for p in mine),
            "pool_equity": pool_equity,
            "available_funds": pool_equity - pool_im,
        }
    ratios = [_ratio(p.maintenance_margin, p.equity) for p in iso]
    ratios += [_ratio(pool_mm[c], per_ccy[c]["pool_equity"]) for c in per_ccy]
    balance = sum(equity[c] * price[c] for c in equity)
    initial = sum(im[c] * price[c] for c in im)
    return AccountSummary(
        MarginMode.ISOLATED,
        balance,
        balance,
        initial,
        sum(mm[c] * price[c] for c in mm),
        sum(per_ccy[c]["available_funds"] * price[c] for c in per_ccy),
        _ratio(initial, balance),
        max(ratios, default=0.0),
        per_ccy,
        iso,
    )


def _ratio(margin: float, balance: float) -> float:
    if margin == 0.0:
        return 0.0
    return margin / balance if balance > 0 else math.inf


def _pm_params_for(
    market: Market, positions: Mapping[str, float], currencies: set[str]
) -> DeribitPMParams:
    """The Deribit PM parameters in force at the market's valuation time for the positions'
    pairs and ``currencies``."""
    table = market.table
    rows = table.rows(list(positions)) if positions else np.zeros(0, np.int64)
    pairs = table.code_names(table.column("pair")[rows])
    return DeribitPMParams.in_force(market.valuation_time, pairs, currencies)


def compare_margin_modes(
    account: Account,
    market: Market,
    *,
    pm_params: DeribitPMParams | None = None,
    sm_params: DeribitStandardParams | None = None,
) -> dict[MarginMode, AccountSummary | str]:
    """The account under each mode (:class:`MarginMode`); a mode whose model does not cover
    the positions maps to the reason (text) instead of a summary."""
    out: dict[MarginMode, AccountSummary | str] = {}
    for mode in MarginMode:
        try:
            out[mode] = account_summary(
                account, market, mode, pm_params=pm_params, sm_params=sm_params
            )
        except (ModelParameterError, ModelCoverageError) as e:
            out[mode] = str(e)
    return out
