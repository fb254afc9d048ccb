# SPDX-License-Identifier: Apache-2.0
"""Positions from a trade log: each instrument's position, average entry price, realised and
unrealised P&L, fees and perpetual funding, so an account can be built from its fills.

Units follow Deribit's trade log (``private/get_user_trades_by_currency``): ``amount`` is USD
notional for inverse (coin-settled) futures and perpetuals, coins for everything else;
``price`` is USD per coin for futures, the premium per coin in the settlement currency for
options.

* **Average entry.** Adding to a position averages the entry weighted by amount: arithmetic
  for linear contracts and options, **harmonic** for inverse futures (their P&L is linear in
  1/price, so the entry that keeps it is the USD-weighted harmonic mean). Reducing leaves it;
  a trade through zero opens the rest at its price.
* **Realised P&L** of a reduction, in the settlement currency: linear ``q (exit - entry)``,
  inverse ``N (1/entry - 1/exit)`` (N: the USD amount closed), options
  ``q (exit - entry)`` in premium.
* **Unrealised P&L** at a market's marks, by the same formulas.
* **Fees** (``fee``, in ``fee_currency``) and **funding** (records of ``type`` ``funding``
  with an ``amount`` in the settlement currency, as the transaction log books perpetual
  funding) are summed per currency.
* **Cash**: what the log moved into or out of the balance, per currency: options' premiums,
  futures' realised P&L, funding and fees. :meth:`Ledger.account` adds it to the collateral;
  the account then values options at their marks and futures from their entry prices.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import InvalidInputError, PymarginError
from ..market.instruments import InstrumentKind, Settlement, parse_instrument
from ..market.market import Market
from ..market.portfolio import Portfolio
from .account import Account

__all__ = ["Ledger", "PositionLedger", "ledger_from_trades", "mark_of"]


@dataclass
class PositionLedger:
    """One instrument: signed ``amount`` (USD for inverse futures, coins otherwise), average
    entry price, realised P&L, funding, in ``currency`` (the settlement currency)."""

    instrument: str
    currency: str
    inverse_future: bool
    amount: float = 0.0
    average_price: float = math.nan
    realised_pnl: float = 0.0
    funding: float = 0.0
    trades: int = 0
    # what the trades moved into or out of the balance: options' premiums paid and
    # received, futures' realised P&L, funding
    cash: float = 0.0

    def unrealised_pnl(self, mark: float) -> float:
        """P&L of the open position at ``mark`` (same unit as ``price``)."""
        if self.amount == 0.0:
            return 0.0
        if self.inverse_future:
            return self.amount * (1.0 / self.average_price - 1.0 / mark)
        return self.amount * (mark - self.average_price)

    def coins(self, price: float) -> float:
        """The position in coins of the underlying (inverse futures: the USD amount at
        ``price``), as pymargin's positions count it."""
        return self.amount / price if self.inverse_future else self.amount


@dataclass
class Ledger:
    positions: dict[str, PositionLedger] = field(default_factory=dict)
    fees: dict[str, float] = field(default_factory=dict)

    def realised(self) -> dict[str, float]:
        """Realised P&L plus funding less fees, per settlement currency."""
        out: dict[str, float] = {}
        for p in self.positions.values():
            out[p.currency] = out.get(p.currency, 0.0) + p.realised_pnl + p.funding
        for c, f in self.fees.items():
            out[c] = out.get(c, 0.0) - f
        return out

    def unrealised(self, market: Market) -> dict[str, float]:
        """Unrealised P&L at the market's marks (futures: their forward; options: their
        mark), per settlement currency."""
        out: dict[str, float] = {}
        for name, p in self.positions.items():
            if p.amount == 0.0:
                continue
            out[p.currency] = out.get(p.currency, 0.0) + p.unrealised_pnl(mark_of(market, name))
        return out

    def cash(self) -> dict[str, float]:
        """What the trade log moved into (> 0) or out of the balance, per currency: options'
        premiums, futures' realised P&L, funding, fees."""
        out: dict[str, float] = {}
        for p in self.positions.values():
            out[p.currency] = out.get(p.currency, 0.0) + p.cash
        for c, f in self.fees.items():
            out[c] = out.get(c, 0.0) - f
        return out

    def account(self, market: Market, collateral: Mapping[str, float]) -> Account:
        """The account: open positions in coins at the market (options valued at their mark
        by the account), ``collateral`` plus the log's cash flows per currency, futures' entry
        prices for their unrealised P&L. Refused when a balance would go negative."""
        balances = {k.upper(): float(v) for k, v in collateral.items()}
        for c, v in self.cash().items():
            balances[c.upper()] = balances.get(c.upper(), 0.0) + v
        for c, v in balances.items():
            if not (math.isfinite(v) and v >= 0):
                raise InvalidInputError(
                    f"the {c} balance after the trade log is {v:g}", "collateral"
                )
        book: dict[str, float] = {}
        entry: dict[str, float] = {}
        for name, p in self.positions.items():
            if p.amount == 0.0:
                continue
            inst = parse_instrument(name)
            f = market.underlying_price(inst)
            book[name] = p.coins(f)
            if inst.kind is not InstrumentKind.OPTION:
                entry[name] = p.average_price
        return Account(Portfolio(book), balances, entry)


def mark_of(market: Market, name: str) -> float:
    """The price a position is marked at: futures at their forward, options at their mark."""
    inst = parse_instrument(name)
    if inst.kind is not InstrumentKind.OPTION:
        return market.underlying_price(inst)
    mark = market.marks.get(name)
    if mark is None or mark.mark_price is None:
        raise InvalidInputError(f"{name} has no mark price in the market", "instrument")
    return mark.mark_price


def _number(r: Mapping[str, Any], key: str, row: int, *, positive: bool = False) -> float:
    v = r.get(key)
    x = float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else math.nan
    if not math.isfinite(x) or (positive and not x > 0):
        what = "a finite number > 0" if positive else "a finite number"
        raise InvalidInputError(f"must be {what}, got {v!r}", key, row)
    return x


def ledger_from_trades(records: Sequence[Mapping[str, Any]]) -> Ledger:
    """The ledger of a trade log, in time order as given: fills (``instrument_name``,
    ``direction`` buy/sell, ``amount``, ``price``, optionally ``fee`` and ``fee_currency``) and
    funding records (``type`` = ``funding``, ``instrument_name``, ``amount``). A Deribit
    ``get_user_trades_by_currency`` result (its ``trades``) is accepted as is. A bad record is
    refused naming its row and field, before anything is booked."""
    if isinstance(records, Mapping):
        res = records.get("result", records)
        records = res.get("trades", res) if isinstance(res, Mapping) else res
    if not isinstance(records, Sequence) or isinstance(records, (str, bytes)):
        raise InvalidInputError("a list of trades", "trades")
    checked = []
    for row, r in enumerate(records):  # every record checked before any is booked
        if not isinstance(r, Mapping):
            raise InvalidInputError("a trade is an object", "trades", row)
        name = r.get("instrument_name")
        if not isinstance(name, str):
            raise InvalidInputError("missing", "instrument_name", row)
        try:
            inst = parse_instrument(name)
        except PymarginError as e:
            raise InvalidInputError(e.reason, "instrument_name", row) from None
        if r.get("type") == "funding":
            if inst.kind is not InstrumentKind.PERPETUAL:
                raise InvalidInputError("funding is paid on perpetuals", "instrument_name", row)
            checked.append((inst, None, _number(r, "amount", row), 0.0, 0.0, ""))
            continue
        side = r.get("direction")
        if side not in ("buy", "sell"):
            raise InvalidInputError(f"buy or sell, got {side!r}", "direction", row)
        amount = _number(r, "amount", row, positive=True)
        price = _number(r, "price", row, positive=inst.kind is not InstrumentKind.OPTION)
        if price < 0:
            raise InvalidInputError("an option premium is >= 0", "price", row)
        fee = _number(r, "fee", row) if "fee" in r else 0.0
        fee_ccy = r.get("fee_currency", inst.settlement_currency)
        if not isinstance(fee_ccy, str):
            raise InvalidInputError("must be a currency name", "fee_currency", row)
        checked.append((inst, side == "buy", amount, price, fee, fee_ccy.lower()))
    ledger = Ledger()
    for inst, buy, amount, price, fee, fee_ccy in checked:
        p = ledger.positions.get(inst.name)
        if p is None:
            inverse = (
                inst.kind is not InstrumentKind.OPTION and inst.settlement is Settlement.INVERSE
            )
            p = ledger.positions[inst.name] = PositionLedger(
                inst.name, inst.settlement_currency.lower(), inverse
            )
        if buy is None:
            p.funding += amount
            p.cash += amount
            continue
        before = p.realised_pnl
        _book(p, amount if buy else -amount, price)
        if p.inverse_future or inst.kind is not InstrumentKind.OPTION:
            p.cash += p.realised_pnl - before  # futures settle their P&L as it is realised
        else:
            p.cash -= (amount if buy else -amount) * price  # an option's premium changes hands
        if fee:
            ledger.fees[fee_ccy] = ledger.fees.get(fee_ccy, 0.0) + fee
    return ledger


def _book(p: PositionLedger, trade: float, price: float) -> None:
    """Books ``trade`` (signed) at ``price`` (module docstring)."""
    p.trades += 1
    old = p.amount
    if old == 0.0 or old * trade > 0.0:  # opening or adding
        new = old + trade
        if old == 0.0:
            p.average_price = price
        elif p.inverse_future:
            p.average_price = new / (old / p.average_price + trade / price)
        else:
            p.average_price = (old * p.average_price + trade * price) / new
        p.amount = new
        return
    closed = min(abs(trade), abs(old)) * (1.0 if old > 0 else -1.0)  # signed like the position
    if p.inverse_future:
        p.realised_pnl += closed * (1.0 / p.average_price - 1.0 / price)
    else:
        p.realised_pnl += closed * (price - p.average_price)
    p.amount = old + trade
    if abs(trade) > abs(old):  # through zero: the rest opens at this price
        p.average_price = price
    elif p.amount == 0.0:
        p.average_price = math.nan
