# SPDX-License-Identifier: Apache-2.0
"""Aevo's portfolio margin as a grid parameter file (pymargin/data/grids/aevo_pm_2022-07-29.json)
against the worked example Aevo's docs print (Portfolio Margin, example 1.2, 29 July 2022: ETH
at 1,300, the 26 August 2022 expiry): long 1 ETH-26AUG22-1500-C (IV 50 %, mark 15.09), short
1 ETH-26AUG22-1700-C (IV 70 %, mark 10.92); each scenario's P&L per leg as printed, scenario
margin 4.52 (scenario 9), floor margin 13 (one net short strike at 0.01 ETH), maintenance
17.52, initial 21.90. The printed P&L is rounded to the cent."""

from __future__ import annotations

from datetime import datetime, timezone
from importlib import resources

import numpy as np
import pytest

import pymargin as pm
from pymargin.models.grid_file import GridModel, grid_model_margin

LONG, SHORT = "ETH_USDC-26AUG22-1500-C", "ETH_USDC-26AUG22-1700-C"
# scenarios 1..15: spot +20 %, +10 %, 0, -10 %, -20 %, each with IV +50, 0, -25 points
PRINTED_LONG = [
    185.10,
    102.73,
    63.76,
    113.65,
    35.54,
    -0.36,
    59.07,
    0.00,
    -14.41,
    21.74,
    -12.44,
    -15.09,
    -0.17,
    -14.87,
    -15.09,
]
PRINTED_SHORT = [
    -141.30,
    -57.08,
    -18.57,
    -87.66,
    -19.80,
    3.61,
    -47.25,
    0.00,
    9.88,
    -19.46,
    8.11,
    10.85,
    -2.55,
    10.46,
    10.92,
]


def model() -> GridModel:
    path = resources.files("pymargin") / "data" / "grids" / "aevo_pm_2022-07-29.json"
    return GridModel.load(str(path))


def market() -> pm.Market:
    t0 = datetime(2022, 7, 29, 8, tzinfo=timezone.utc)
    return pm.Market(
        t0,
        {"ETH_USD": 1_300.0},
        {
            LONG: pm.Mark(underlying_price=1_300.0, mark_iv=0.50),
            SHORT: pm.Mark(underlying_price=1_300.0, mark_iv=0.70),
        },
    )


def test_each_leg_scenario_pnl_is_the_printed_one():
    from pymargin.risk.revaluation import summed_pnl

    m, mk = model(), market()
    for name, size, printed in ((LONG, 1.0, PRINTED_LONG), (SHORT, -1.0, PRINTED_SHORT)):
        rows = mk.table.rows([name])
        pnl = summed_pnl(mk, rows, np.array([size]), m.assets["ETH"].scenarios)
        assert np.allclose(pnl, printed, atol=0.006), (name, np.round(pnl, 2))
        # the grid's entries: losses as they are (x 1.25 for IM), gains not credited
        r = grid_model_margin({name: size}, mk, m)
        want = np.minimum(pnl, 0.0) * m.im_multiplier
        assert np.allclose(r.weighted_pnl["ETH"], want, rtol=1e-12, atol=1e-12)


def test_bull_call_spread_margins_as_printed():
    r = grid_model_margin({LONG: 1.0, SHORT: -1.0}, market(), model())
    assert r.per_underlying["ETH"]["scan_loss"] == pytest.approx(4.52, abs=0.006)
    assert r.worst_scenario.startswith("ETH +0%") or "vol down" in r.worst_scenario
    assert r.short_option_floor == pytest.approx(13.0, rel=1e-15)
    assert r.maintenance_margin == pytest.approx(17.52, abs=0.006)
    assert r.initial_margin == pytest.approx(1.25 * r.maintenance_margin, rel=1e-14)
    assert r.initial_margin == pytest.approx(21.90, abs=0.01)


def test_the_floor_nets_calls_and_puts_at_a_strike():
    m = model()
    put = "ETH_USDC-26AUG22-1500-P"
    mk = market()
    mk = pm.Market(
        mk.valuation_time,
        dict(mk.index),
        {**mk.marks, put: pm.Mark(underlying_price=1_300.0, mark_iv=0.5)},
    )
    # short 2 puts and long 1 call at 1500: one net short contract there
    r = grid_model_margin({put: -2.0, LONG: 1.0}, mk, m)
    assert r.short_option_floor == pytest.approx(0.01 * 1_300.0)


def _chain_market() -> tuple[pm.Market, list[str]]:
    names = [f"ETH_USDC-26AUG22-{k}-{cp}" for k in (1100, 1300, 1500, 1700) for cp in "CP"]
    names += [f"ETH_USDC-30SEP22-{k}-{cp}" for k in (1300, 1500) for cp in "CP"]
    mk = market()
    marks = dict(mk.marks)
    for n in names:
        marks.setdefault(n, pm.Mark(underlying_price=1_300.0, mark_iv=0.6))
    return pm.Market(mk.valuation_time, dict(mk.index), marks), names


def test_the_pre_trade_engine_carries_the_multiplier_and_the_floor():
    """The engine's margin of a book, with each side of its open orders filled, is
    grid_model_margin's (the IM multiplier and the per-strike floor included); a check is
    what resting the order does; a snapshot keeps both terms."""
    from pymargin.accounts.engine import PreTradeEngine, Side

    mk, names = _chain_market()
    m = model()
    eng = PreTradeEngine(mk, names, m, model=pm.MarginModel.SCENARIO_GRID)
    rng = np.random.default_rng(8)
    floored = 0
    for _ in range(12):
        acct = eng.add_account({"USDC": 5_000.0})
        book: dict[str, float] = {}
        for k in rng.choice(len(names), size=int(rng.integers(1, 6)), replace=False):
            q = float(rng.choice([-3, -2, -1, 1, 2]))
            eng.fill(acct, names[k], Side.BUY if q > 0 else Side.SELL, abs(q), 20.0)
            book[names[k]] = q
        want = grid_model_margin(book, mk, m)
        floored += want.short_option_floor > 0
        got = eng.margin(acct, "usdc")
        assert got.initial_margin == pytest.approx(want.initial_margin, rel=1e-12, abs=1e-9)
        assert got.maintenance_margin == pytest.approx(want.maintenance_margin, rel=1e-12)
        # an order that changes a strike's net: the check equals resting it, and the IM is the
        # larger of the book and the book with the order filled
        name = names[int(rng.integers(len(names)))]
        c = eng.check(acct, name, Side.SELL, 2.0)
        eng.add_order(acct, 1, name, Side.SELL, 2.0)
        filled = dict(book)
        filled[name] = filled.get(name, 0.0) - 2.0
        im = max(want.initial_margin, grid_model_margin(filled, mk, m).initial_margin)
        after = eng.margin(acct, "usdc")
        assert c.im_after == pytest.approx(after.initial_margin, rel=1e-12)
        assert after.initial_margin == pytest.approx(im, rel=1e-12)
        assert after == eng.margin_from_scratch(acct, "usdc")
    assert floored >= 4  # the floor is exercised
    back = PreTradeEngine.restore(eng.snapshot())
    for acct in range(12):
        assert back.margin(acct, "usdc") == eng.margin(acct, "usdc")


def test_the_worked_example_through_the_engine():
    """Aevo's example 1.2 (bull call spread) in the engine: maintenance 17.52, initial
    21.90 as printed (to the cent the example rounds to)."""
    from pymargin.accounts.engine import PreTradeEngine, Side

    eng = PreTradeEngine(market(), [LONG, SHORT], model(), model=pm.MarginModel.SCENARIO_GRID)
    acct = eng.add_account({"USDC": 100.0})
    eng.fill(acct, LONG, Side.BUY, 1.0, 15.09)
    eng.fill(acct, SHORT, Side.SELL, 1.0, 10.92)
    g = eng.margin(acct, "usdc")
    assert g.maintenance_margin == pytest.approx(17.52, abs=0.006)
    assert g.initial_margin == pytest.approx(21.90, abs=0.01)


def test_the_venue_batch_carries_the_multiplier_and_the_floor_account_by_account():
    import pandas as pd

    from pymargin.accounts.batch import batch_margin

    names = [f"ETH_USDC-26AUG22-{k}-{cp}" for k in (1100, 1300, 1500, 1700) for cp in "CP"]
    mk = market()
    marks = dict(mk.marks)
    for n in names:
        marks.setdefault(n, pm.Mark(underlying_price=1_300.0, mark_iv=0.6))
    mk = pm.Market(mk.valuation_time, dict(mk.index), marks)
    rng = np.random.default_rng(3)
    rows, cash = [], []
    for a in range(30):
        for k in rng.choice(len(names), size=int(rng.integers(1, 5)), replace=False):
            rows.append((f"a{a}", names[k], float(rng.choice([-3, -2, -1, 1, 2]))))
        cash.append((f"a{a}", float(rng.uniform(0, 2_000))))
    res = batch_margin(
        pd.DataFrame(rows, columns=["account", "instrument", "size"]),
        pd.DataFrame(cash, columns=["account", "amount"]),
        mk,
        model(),
        model=pm.MarginModel.SCENARIO_GRID,
    )
    floored = 0
    for k, acct in enumerate(res.accounts):
        book: dict[str, float] = {}
        for a, inst, size in rows:
            if a == acct:
                book[inst] = book.get(inst, 0.0) + size
        want = grid_model_margin(book, mk, model())
        floored += want.short_option_floor > 0
        assert res.initial_margin[k] == pytest.approx(want.initial_margin, rel=1e-12, abs=1e-9)
        assert res.maintenance_margin[k] == pytest.approx(
            want.maintenance_margin, rel=1e-12, abs=1e-9
        )
    assert floored > 10  # the floor is exercised
