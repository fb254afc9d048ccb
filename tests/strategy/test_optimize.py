"""Margin optimisation: the programmes equal the ordinary engine, the LP optimum is verified by
re-margining and is never beaten by feasible trades, constraints hold, protection caps losses."""

import math

import numpy as np
import pytest

import pymargin as pm
from pymargin.analytics.stress import StressScenario
from pymargin.analytics.var import scenario_pnl
from pymargin.exceptions import InvalidInputError, NoSolutionError
from pymargin.market.bundled import demo_market
from pymargin.models.params import ModelCoverageError
from pymargin.risk.revaluation import mark_values
from pymargin.strategy.costs import CostModel
from pymargin.strategy.optimize import (
    Objective,
    default_candidates,
    margin_program,
    minimize_margin,
    protect,
    put_overlay_candidates,
)

M = demo_market("BTC")
BOOK = {"BTC-26DEC25-100000-C": -10.0, "BTC-26DEC25-85000-P": -10.0, "BTC-27MAR26-90000-C": 5.0}
CANDS = [
    "BTC-PERPETUAL",
    "BTC-26DEC25",
    "BTC-27MAR26",
    "BTC-26DEC25-80000-P",
    "BTC-26DEC25-110000-C",
    "BTC-26DEC25-75000-P",
]
LINEAR_BOOK = {"BTC_USDC-26DEC25-100000-C": -2.0, "BTC_USDC-PERPETUAL": 1.0}
LINEAR_CANDS = ["BTC_USDC-26DEC25-90000-P", "BTC_USDC-PERPETUAL", "BTC_USDC-27MAR26-110000-C"]


@pytest.mark.parametrize(
    "model, book, cands",
    [
        (pm.MarginModel.DERIBIT_PM, BOOK, CANDS),
        (pm.MarginModel.PARADEX_PM, LINEAR_BOOK, LINEAR_CANDS),
        (pm.MarginModel.FINRA_PM, BOOK, CANDS),
        (pm.MarginModel.FINRA_PM, LINEAR_BOOK, LINEAR_CANDS),
    ],
)
def test_programme_equals_the_engine_on_random_trades(model, book, cands):
    prog = margin_program(book, M, cands, model)
    rng = np.random.default_rng(5)
    for x in [np.zeros(len(cands))] + [rng.normal(0, 8, len(cands)) for _ in range(25)]:
        engine = prog.verified_margin(x)
        # S:PM rounds to 9 decimals; the others are compared to 1e-12 relative
        assert prog.margin(x) == pytest.approx(engine, rel=1e-12, abs=2e-9)


def test_unsupported_models_and_bad_inputs_are_typed():
    with pytest.raises(ModelCoverageError):
        margin_program(BOOK, M, CANDS, pm.MarginModel.DERIBIT_STANDARD)
    with pytest.raises(InvalidInputError):
        margin_program(BOOK, M, [], pm.MarginModel.DERIBIT_PM)
    with pytest.raises(InvalidInputError):
        margin_program(BOOK, M, ["BTC-XYZ"], pm.MarginModel.DERIBIT_PM)
    with pytest.raises(InvalidInputError) as e:
        minimize_margin(BOOK, M, CANDS, max_buy={"BTC-PERPETUAL": -1.0})
    assert e.value.field == "max_buy"
    with pytest.raises(InvalidInputError) as e:
        minimize_margin(BOOK, M, CANDS, max_buy={"ETH-PERPETUAL": 1.0})
    assert e.value.field == "max_buy"


def test_closing_a_lone_position_is_the_optimum():
    r = minimize_margin({"BTC-PERPETUAL": -3.0}, M, ["BTC-PERPETUAL"])
    assert r.trades == pytest.approx({"BTC-PERPETUAL": 3.0})
    assert r.verified_margin == 0.0 and r.margin_before > 0


def test_the_optimum_is_verified_and_not_beaten_by_feasible_trades():
    limit = 20.0
    r = minimize_margin(BOOK, M, CANDS, max_buy=limit, max_sell=limit)
    assert r.verified_margin == pytest.approx(r.margin_after, rel=1e-9, abs=2e-9)
    assert r.verified_margin < 0.2 * r.margin_before
    prog = margin_program(BOOK, M, CANDS)
    x_opt = np.array([r.trades.get(c, 0.0) for c in CANDS])
    assert np.all(np.abs(x_opt) <= limit + 1e-7)
    rng = np.random.default_rng(11)
    for _ in range(300):  # random trades and small moves around the optimum
        x = np.clip(rng.uniform(-limit, limit, len(CANDS)), -limit, limit)
        assert prog.margin(x) >= r.margin_after - 1e-9
        y = np.clip(x_opt + rng.normal(0, 0.3, len(CANDS)), -limit, limit)
        assert prog.margin(y) >= r.margin_after - 1e-9


def test_a_derivative_free_search_does_not_beat_the_lp():
    from scipy.optimize import minimize

    prog = margin_program(BOOK, M, CANDS)
    r = minimize_margin(BOOK, M, CANDS, max_buy=20.0, max_sell=20.0)
    found = minimize(
        prog.margin,
        np.zeros(len(CANDS)),
        method="Powell",
        bounds=[(-20.0, 20.0)] * len(CANDS),
        options={"maxfev": 20000, "xtol": 1e-8, "ftol": 1e-12},
    )
    assert r.margin_after <= found.fun + 1e-9


def test_delta_range_budget_and_lots_hold():
    r = minimize_margin(
        BOOK, M, CANDS, max_buy=20.0, max_sell=20.0, delta_range=(0.5, 1.0), lot=0.1
    )
    after = pm.greeks.portfolio_greeks(r.positions_after, M).by_underlying["BTC_USD"]
    coin_delta = after["delta_usd"] / M.index_price("BTC_USD")
    # the programme measures delta as the S:PM model does (forward delta); both agree here
    assert 0.5 - 1e-6 <= r.delta_after["BTC_USD"] <= 1.0 + 1e-6
    assert coin_delta == pytest.approx(r.delta_after["BTC_USD"], abs=0.02)
    for q in r.trades.values():
        assert abs(q / 0.1 - round(q / 0.1)) < 1e-9
    relaxed = minimize_margin(BOOK, M, CANDS, max_buy=20.0, max_sell=20.0, delta_range=(0.5, 1.0))
    assert r.verified_margin >= relaxed.margin_after - 1e-9
    # budget: the cash the trade uses, computed here from marks and unit costs
    budget = 0.01
    b = minimize_margin(BOOK, M, CANDS, max_buy=20.0, max_sell=20.0, budget=budget)
    costs = CostModel().unit_costs(M, CANDS, "btc")
    prog = margin_program(BOOK, M, CANDS)
    x = np.array([b.trades.get(c, 0.0) for c in CANDS])
    cash = float(prog.value @ x + costs @ np.abs(x))
    assert cash <= budget + 1e-7
    unconstrained = minimize_margin(BOOK, M, CANDS, max_buy=20.0, max_sell=20.0)
    assert b.verified_margin >= unconstrained.margin_after - 1e-9


def test_margin_plus_cost_trades_less():
    a = minimize_margin(BOOK, M, CANDS, max_buy=20.0, max_sell=20.0)
    b = minimize_margin(
        BOOK, M, CANDS, max_buy=20.0, max_sell=20.0, objective=Objective.MARGIN_PLUS_COST
    )
    assert b.verified_margin + b.trading_cost <= a.verified_margin + a.trading_cost + 1e-9
    assert b.verified_margin >= a.verified_margin - 1e-9


def test_infeasible_constraints_raise():
    with pytest.raises(NoSolutionError):
        minimize_margin(BOOK, M, ["BTC-PERPETUAL"], max_buy=1.0, max_sell=1.0, delta_range=(50, 60))


def test_default_candidates_cover_the_listed_chain():
    names = default_candidates(M)
    assert "BTC-PERPETUAL" in names and len(names) > 300
    r = minimize_margin({"BTC-26DEC25-100000-C": -10.0}, M, names, max_buy=10.0, max_sell=10.0)
    assert r.verified_margin == pytest.approx(r.margin_after, abs=2e-9)


# --- protection ---------------------------------------------------------------------------------

CRASHES = [
    StressScenario("-10%", {"BTC_USD": -0.10}, {"BTC_USD": 1.2}),
    StressScenario("-20%", {"BTC_USD": -0.20}, {"BTC_USD": 1.5}),
    StressScenario("-35%", {"BTC_USD": -0.35}, {"BTC_USD": 1.8}),
]
LONG_BOOK = {"BTC-PERPETUAL": 20.0, "BTC-26DEC25-100000-C": -10.0}


def _usd_mark(trades):
    """USD mark value of option positions, from the snapshot's columns and the pricer."""
    table = M.table
    names = list(trades)
    rows = table.rows(names)
    cols = [table.column(c)[rows] for c in ("forward", "strike", "time", "vol")]
    coin = pm.inverse_price(*cols, 0.0, table.column("is_call")[rows].astype(bool))
    return float(np.array(list(trades.values())) @ coin) * M.index_price("BTC_USD")


def _loss_after(res, book):
    """Each scenario's loss of book + overlay marked to market, recomputed by full revaluation:
    the overlay's P&L less what buying it lost (premium paid - its mark value)."""
    combined = dict(book)
    for k, v in res.trades.items():
        combined[k] = combined.get(k, 0.0) + v
    unds = ("BTC_USD",)
    spot = np.array([[s.moves["BTC_USD"]] for s in CRASHES])
    vol = np.array([[s.vol_scale["BTC_USD"]] for s in CRASHES])
    lost_on_entry = res.premium - _usd_mark(res.trades)
    assert lost_on_entry == pytest.approx(res.execution_cost, rel=1e-9)
    assert 0 < lost_on_entry < res.premium
    return -scenario_pnl(combined, M, unds, spot, vol) + lost_on_entry


def test_protection_caps_every_crash_loss():
    cap = 100_000.0
    res = protect(LONG_BOOK, M, CRASHES, cap)
    assert max(res.loss_before.values()) > cap
    recomputed = _loss_after(res, LONG_BOOK)
    assert np.all(recomputed <= cap + 1e-6 * cap)
    np.testing.assert_allclose(recomputed, list(res.loss_after.values()), rtol=1e-9)


def test_protection_is_no_dearer_than_any_single_structure():
    cap = 100_000.0
    res = protect(LONG_BOOK, M, CRASHES, cap)
    structures = put_overlay_candidates(M)
    unds = ("BTC_USD",)
    spot = np.array([[s.moves["BTC_USD"]] for s in CRASHES])
    vol = np.array([[s.vol_scale["BTC_USD"]] for s in CRASHES])
    base = scenario_pnl(LONG_BOOK, M, unds, spot, vol)
    cm = CostModel()
    cheapest = math.inf
    for _name, legs in structures:
        pnl = sum(q * scenario_pnl({leg: 1.0}, M, unds, spot, vol) for leg, q in legs.items())
        names = list(legs)
        qty = np.array(list(legs.values()))
        execution = float(np.abs(qty) @ cm.unit_costs(M, names, "usd"))
        prem = float(qty @ mark_values(M, names, True)) + execution
        gain = pnl - execution
        need = -(base + cap)  # shortfall to cover per scenario (> 0 where the cap binds)
        if np.any((need > 0) & (gain <= 0)):
            continue
        n = max(float(np.max(np.where(need > 0, need / np.where(gain > 0, gain, 1), 0.0))), 0.0)
        cheapest = min(cheapest, n * prem)
    assert res.premium <= cheapest * (1 + 1e-9)


def test_protection_that_cannot_be_reached_raises():
    with pytest.raises(NoSolutionError):
        protect(
            LONG_BOOK,
            M,
            CRASHES,
            0.0,
            structures=[("one put", {"BTC-26DEC25-80000-P": 1.0})],
            max_count=1.0,
        )


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"delta_range": (0.5,)}, "delta_range"),
        ({"delta_range": "0:1"}, "delta_range"),
        ({"delta_range": (float("nan"), 1.0)}, "delta_range"),
        ({"delta_range": {"BTC": (0.5, 0.6)}}, "delta_range"),
        ({"max_buy": "x"}, "max_buy"),
        ({"budget": "1"}, "budget"),
        ({"budget": float("inf")}, "budget"),
        ({"lot": math.inf}, "lot"),
        ({"lot": {"BTC-PERPETUAL": 0.1}}, "lot"),
        ({"time_limit": 0}, "time_limit"),
    ],
)
def test_bad_optimiser_arguments_are_typed_errors(kwargs, field):
    with pytest.raises(pm.PymarginError) as e:
        minimize_margin(BOOK, M, CANDS, **kwargs)
    assert e.value.field.startswith(field)


def test_bad_protection_arguments_are_typed_errors():
    one = [("p", {"BTC-26DEC25-80000-P": 1.0})]
    for kwargs, field in (
        ({"costs": "x"}, "costs"),
        ({"max_count": float("nan")}, "max_count"),
        ({"structures": [("p", {"BTC-26DEC25-80000-P": float("nan")})]}, "structures"),
        ({"structures": [("p", {})]}, "structures"),
    ):
        with pytest.raises(pm.PymarginError) as e:
            protect(LONG_BOOK, M, CRASHES, 1e5, **({"structures": one} | kwargs))
        assert e.value.field == field


def test_linear_default_candidates_are_usdc_twins():
    from pymargin.market.instruments import Settlement

    names = default_candidates(M, settlement=Settlement.LINEAR)
    assert names[0] == "BTC_USDC-PERPETUAL" and all(n.startswith("BTC_USDC-") for n in names)
    r = minimize_margin(
        LINEAR_BOOK, M, names[:80], pm.MarginModel.PARADEX_PM, max_buy=5.0, max_sell=5.0
    )
    assert r.verified_margin == pytest.approx(r.margin_after, rel=1e-9, abs=1e-6)
    assert r.verified_margin < r.margin_before
