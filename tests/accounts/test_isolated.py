# SPDX-License-Identifier: Apache-2.0
"""Isolated margin and the liquidation of a position on its own collateral, against the
contract arithmetic solved by hand (no pymargin code on the expected side)."""

from __future__ import annotations

import math
import subprocess
import sys
from datetime import datetime, timezone

import pytest

import pymargin as pm
from pymargin.accounts.account import moved_account
from pymargin.accounts.liquidation import nearest_liquidation

T0 = datetime(2025, 12, 5, 1, 0, tzinfo=timezone.utc)
S = 90_000.0
# Deribit standard margin rates of the shipped file (deribit_standard/2025-12-01.json)
LIN = {"a": 0.02, "b": 5e-05, "c": 0.01, "d": 5e-05}  # BTC_USDC linear perpetual
INV = {"a": 0.02, "b": 5e-05, "c": 0.015, "d": 5e-05}  # BTC inverse futures


def market(s: float = S) -> pm.Market:
    return pm.Market(T0, {"BTC_USD": s})


def test_linear_short_liquidates_where_its_collateral_plus_pnl_meets_mm():
    q, allotted = -2.0, 10_000.0
    acct = pm.Account(
        pm.Portfolio({"BTC_USDC-PERPETUAL": q}),
        {"USDC": 50_000.0},
        isolated_margin={"BTC_USDC-PERPETUAL": allotted},
    )
    s = pm.account_summary(acct, market(), pm.MarginMode.ISOLATED)
    (p,) = s.details
    rate = abs(q) * (LIN["c"] + LIN["d"] * abs(q))  # MM = rate x P, in USDC
    # allotted + q (P - S) = rate P  =>  P = (allotted - q S) / (rate - q)
    expected = (allotted - q * S) / (rate - q)
    assert p.liquidation_price == pytest.approx(expected, rel=1e-10)
    assert p.initial_margin == pytest.approx(abs(q) * (LIN["a"] + LIN["b"] * abs(q)) * S)
    # the rest of the USDC is the pool: the allotted collateral is not available
    assert s.per_currency["usdc"]["available_funds"] == pytest.approx(50_000.0 - allotted)


def test_inverse_long_keeps_its_usd_notional_as_the_price_falls():
    notional = 180_000.0  # USD contracts, 2 BTC at 90,000
    q = notional / S
    acct = pm.Account(pm.Portfolio({"BTC-PERPETUAL": q}), {"BTC": 1.0})
    s = pm.account_summary(acct, market(), pm.MarginMode.ISOLATED)
    (p,) = s.details
    allotted = q * (INV["a"] + INV["b"] * q)  # default: its IM, in BTC
    assert p.collateral == pytest.approx(allotted, rel=1e-14)
    # coin equity allotted + N (1/S - 1/P) = MM = x (c + d x), x = N / P coins:
    # with y = 1/P: d N^2 y^2 + (c + 1) N y - (allotted + N / S) = 0
    a, b, c = INV["d"] * notional**2, (INV["c"] + 1.0) * notional, -(allotted + notional / S)
    y = (-b + math.sqrt(b * b - 4 * a * c)) / (2 * a)
    assert p.liquidation_price == pytest.approx(1.0 / y, rel=1e-10)
    assert p.liquidation_move == pytest.approx(1.0 / y / S - 1.0, abs=1e-10)


def test_isolated_profit_is_not_available_and_cross_modes_see_the_same_totals():
    acct = pm.Account(
        pm.Portfolio({"BTC_USDC-PERPETUAL": 1.0}),
        {"USDC": 20_000.0},
        average_price={"BTC_USDC-PERPETUAL": 80_000.0},
    )
    modes = pm.compare_margin_modes(acct, market())
    iso, sm = modes[pm.MarginMode.ISOLATED], modes[pm.MarginMode.SEGREGATED_STANDARD]
    assert iso.initial_margin_usd == pytest.approx(sm.initial_margin_usd, rel=1e-15)
    assert iso.equity_usd == pytest.approx(30_000.0)  # 20,000 + 10,000 of P&L
    assert sm.available_funds_usd == pytest.approx(30_000.0 - sm.initial_margin_usd)
    assert iso.available_funds_usd == pytest.approx(20_000.0 - iso.initial_margin_usd)


def test_bad_isolated_margin_is_refused_with_field_and_row():
    with pytest.raises(pm.InvalidInputError) as e:
        pm.Account(pm.Portfolio({"BTC-PERPETUAL": 1.0}), isolated_margin={"BTC-PERPETUAL": -1})
    assert (e.value.field, e.value.index) == ("isolated_margin", 0)
    with pytest.raises(pm.InvalidInputError) as e:
        pm.Account(
            pm.Portfolio({"BTC-PERPETUAL": 1.0}),
            isolated_margin={"BTC-PERPETUAL": 0.1, "X": float("nan")},
        )
    assert (e.value.field, e.value.index) == ("isolated_margin", 1)
    call = "BTC-27MAR26-100000-C"
    m = pm.Market(T0, {"BTC_USD": S}, {call: pm.Mark(mark_iv=0.5, underlying_price=S)})
    acct = pm.Account(pm.Portfolio({call: -1.0}), {"BTC": 1.0}, isolated_margin={call: 0.1})
    with pytest.raises(pm.InvalidInputError) as e:
        pm.account_summary(acct, m, pm.MarginMode.ISOLATED)
    assert e.value.field == "isolated_margin"
    with pytest.raises(pm.InvalidInputError):
        pm.liquidation.distance_to_liquidation(acct, m, mode=pm.MarginMode.ISOLATED)


def test_a_moved_market_keeps_inverse_futures_usd_notional():
    """After a move the coin P&L of N USD of inverse perpetual bought at E is N (1/E - 1/F'),
    and its size in coin is N / F' (it was read as the same coin size before)."""
    e, notional = 80_000.0, 90_000.0
    acct = pm.Account(
        pm.Portfolio({"BTC-PERPETUAL": notional / S}),
        {"BTC": 1.0},
        average_price={"BTC-PERPETUAL": e},
    )
    moved = market().shifted({"BTC_USD": -0.2})
    held = moved_account(acct, market(), moved)
    assert held.portfolio.positions["BTC-PERPETUAL"] == pytest.approx(notional / (0.8 * S))
    s = pm.account_summary(held, moved, pm.MarginMode.SEGREGATED_STANDARD)
    pnl = notional * (1.0 / e - 1.0 / (0.8 * S))
    assert s.per_currency["btc"]["equity"] == pytest.approx(1.0 + pnl, rel=1e-13)


def test_account_liquidation_of_an_inverse_long_matches_the_contract_arithmetic():
    """distance_to_liquidation under S:SM with the whole balance behind one inverse long:
    coin equity B + N (1/S - 1/P) = MM(N / P) (the bug this guards: the coin size held fixed
    through the move)."""
    notional, balance = 450_000.0, 1.0
    acct = pm.Account(pm.Portfolio({"BTC-PERPETUAL": notional / S}), {"BTC": balance})
    move = nearest_liquidation(acct, market(), pm.MarginMode.SEGREGATED_STANDARD)
    a, b, c = INV["d"] * notional**2, (INV["c"] + 1.0) * notional, -(balance + notional / S)
    y = (-b + math.sqrt(b * b - 4 * a * c)) / (2 * a)
    assert move == pytest.approx(1.0 / y / S - 1.0, abs=2e-6)


def test_cli_compare_shows_every_mode_with_what_each_saves(tmp_path):
    book = tmp_path / "book.csv"
    book.write_text("instrument,size\nBTC-PERPETUAL,1\nBTC_USDC-PERPETUAL,-1\n")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pymargin",
            "compare",
            str(book),
            "-m",
            "demo:BTC",
            "--collateral",
            "BTC=1,USDC=20000",
            "--isolated-margin",
            "BTC_USDC-PERPETUAL=5000",
            "--json",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    )
    import json

    rows = json.loads(out.stdout)
    venues = rows.pop("other_venues")
    assert set(rows) == {m.value for m in pm.MarginMode}
    everything = [r for r in [*rows.values(), *venues.values()] if isinstance(r, dict)]
    costliest = max(r["initial_margin_usd"] for r in everything)
    for r in everything:
        assert r["saves_usd"] == pytest.approx(costliest - r["initial_margin_usd"])
    # the FINRA grid covers this book; Derive takes no inverse perpetual and says so
    assert isinstance(venues["FINRA PM"], dict) and isinstance(venues["Derive PM"], str)
    iso = {p["instrument"]: p for p in rows["ISO"]["isolated"]}
    assert iso["BTC_USDC-PERPETUAL"]["collateral"] == 5000.0
    assert rows["ISO"]["liquidation_move"] < 0  # the inverse long on its IM goes first
