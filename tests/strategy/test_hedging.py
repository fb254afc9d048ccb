"""Hedging: fees against the venues' published examples, delta hedges that reach the target,
drift bands, the analytic cost of re-hedging against its Monte Carlo simulation, minimum-variance
and mean-variance hedges against direct computations."""

import math
from datetime import datetime, timezone

import numpy as np
import pytest

import pymargin as pm
from pymargin.exceptions import InvalidInputError
from pymargin.market.bundled import demo_market
from pymargin.market.market import Mark, Market
from pymargin.pricing import black76_greeks, inverse_price
from pymargin.strategy.costs import CostModel, FeeSchedule, demo_quotes
from pymargin.strategy.hedging import (
    BandPolicy,
    CovarianceEstimator,
    TimePolicy,
    compare_policies,
    delta_hedge,
    drift,
    hedging_cost,
    mean_variance_frontier,
    min_variance_hedge,
    simulate_rebalancing,
)

M = demo_market("BTC")
CALL = {"BTC-26DEC25-92000-C": -10.0}


def test_deribit_published_fee_examples():
    """Deribit's 'Fees' article (support.deribit.com/hc/en-us/articles/25944746248989): a
    $50,000 BTC perpetual trade at $100,000 pays 0.05 % of 0.5 BTC = 0.00025 BTC; a BTC option
    pays 0.0003 BTC per contract, capped at 12.5 % of its price."""
    t = datetime(2025, 12, 5, tzinfo=timezone.utc)
    mkt = Market(
        t,
        {"BTC_USD": 100_000.0},
        {
            "BTC-PERPETUAL": Mark(mark_price=100_000.0),
            "BTC-26DEC25-100000-C": Mark(underlying_price=100_000.0, mark_iv=0.5),
            "BTC-26DEC25-300000-C": Mark(underlying_price=100_000.0, mark_iv=0.5),
        },
    )
    cm = CostModel(option_half_spread=0.0, future_half_spread=0.0, option_min_half_spread=0.0)
    assert cm.trade_cost(mkt, {"BTC-PERPETUAL": 0.5}, "btc").fees == pytest.approx(0.00025)
    assert cm.trade_cost(mkt, {"BTC-PERPETUAL": -0.5}, "usd").fees == pytest.approx(25.0)
    atm = cm.trade_cost(mkt, {"BTC-26DEC25-100000-C": 2.0}, "btc").fees
    assert atm == pytest.approx(0.0006)
    far = cm.trade_cost(mkt, {"BTC-26DEC25-300000-C": 1.0}, "btc").fees
    t_exp = (datetime(2025, 12, 26, 8, tzinfo=timezone.utc) - t).total_seconds() / (365 * 86400)
    price = float(inverse_price(100_000.0, 300_000.0, t_exp, 0.5, 0.0, True))
    assert price < 0.0024  # so the cap binds
    assert far == pytest.approx(0.125 * price, rel=1e-12)


def test_fee_schedules_carry_their_sources():
    for venue in ("deribit", "paradex"):
        s = FeeSchedule.load(venue)
        assert s.source.startswith(("Deribit", "Paradex")) and "https://" in s.source
    quotes = demo_quotes("BTC")
    assert len(quotes) > 400 and all(b <= a for b, a in quotes.values())
    with pytest.raises(InvalidInputError):
        CostModel(option_half_spread=1.5)


def test_delta_hedge_reaches_the_target_and_is_sorted_by_cost():
    book = {"BTC-26DEC25-92000-C": -10.0, "BTC-27MAR26-100000-P": 5.0}
    sug = delta_hedge(book, M, target=1.5, funding_rate=0.1)
    assert [s.cost for s in sug] == sorted(s.cost for s in sug)
    index = M.index_price("BTC_USD")
    for s in sug:
        after = dict(book)
        after[s.instrument] = after.get(s.instrument, 0.0) + s.size
        g = pm.greeks.portfolio_greeks(after, M).by_underlying["BTC_USD"]
        assert g["delta_usd"] / index == pytest.approx(1.5, abs=1e-9)
    perp = next(s for s in sug if s.instrument == "BTC-PERPETUAL")
    notional = abs(perp.size) * M.table.column("forward")[M.table.rows(["BTC-PERPETUAL"])][0]
    assert perp.fees == pytest.approx(0.0005 * notional)
    assert perp.carry == pytest.approx(perp.size * notional / abs(perp.size) * 0.1 * 7 / 365)


def test_drift_flags_greeks_outside_their_bands():
    d = drift(CALL, M, {pm.Greek.DELTA: (0.0, 1.0), ("BTC_USD", pm.Greek.VEGA): (0.0, 1e9)})
    by = {x.greek: x for x in d}
    assert by[pm.Greek.DELTA].breached and by[pm.Greek.DELTA].value < -1.0
    assert not by[pm.Greek.VEGA].breached and by[pm.Greek.VEGA].excess == 0.0
    with pytest.raises(pm.InputTypeError):
        drift(CALL, M, {pm.Greek.RHO: (0.0, 1.0)})


def test_leland_cost_and_hedge_error_match_their_closed_forms():
    """hedging_cost against the formulas written out here from the option's own gamma."""
    vol, days, hours = 0.5, 2.0, 2.0
    est = hedging_cost(CALL, M, TimePolicy(hours), realised_vol=vol, horizon_days=days)
    rows = M.table.rows(["BTC-26DEC25-92000-C"])
    f, k, t, v = (M.table.column(c)[rows][0] for c in ("forward", "strike", "time", "vol"))
    s = M.index_price("BTC_USD")
    g = black76_greeks(f, k, t, v, 0.0, True, which=pm.Greek.GAMMA).gamma
    coin_gamma = -10.0 * float(g) * (f / s)  # inverse option: d2(USD value)/dS2 = k Gamma_B
    assert est.coin_gamma == pytest.approx(coin_gamma, rel=1e-9)
    frac = CostModel().unit_costs(M, ["BTC-PERPETUAL"], "usd")[0] / s
    dt = hours / 8760.0
    trades = days * 24 / hours - 1
    want = frac * abs(coin_gamma) * s * s * vol * math.sqrt(2 * dt / math.pi) * trades
    assert est.expected_cost == pytest.approx(want, rel=1e-12)
    err = abs(coin_gamma) * s * s * vol * vol * math.sqrt(days / 365 * dt / 2)
    assert est.hedge_error_std == pytest.approx(err, rel=1e-12)


@pytest.mark.parametrize("policy", [TimePolicy(1.0), TimePolicy(4.0), BandPolicy(0.5)])
def test_simulated_rebalancing_agrees_with_the_analytic_cost(policy):
    r = simulate_rebalancing(CALL, M, policy, realised_vol=0.5, horizon_days=1.0, paths=4000)
    a = r.analytic
    assert abs(r.cost_mean - a.expected_cost) <= 4 * r.cost_se + 0.03 * a.expected_cost
    assert r.hedge_error_std == pytest.approx(a.hedge_error_std, rel=0.06)
    assert r.trades_mean == pytest.approx(a.expected_trades, rel=0.05)


@pytest.mark.parametrize("policy", [TimePolicy(1.0), BandPolicy(0.5)])
def test_square_root_slippage_in_the_analytic_cost_matches_the_simulation(policy):
    from pymargin.accounts.cascade import ImpactModel

    cm = CostModel(impact=ImpactModel(adv=200.0))
    r = simulate_rebalancing(CALL, M, policy, realised_vol=0.5, paths=4000, costs=cm)
    a = r.analytic
    plain = hedging_cost(CALL, M, policy, realised_vol=0.5, monitor_hours=1 / 12)
    assert a.expected_slippage > 0.3 * a.expected_cost
    assert a.expected_cost == pytest.approx(plain.expected_cost + a.expected_slippage)
    assert abs(r.cost_mean - a.expected_cost) <= 4 * r.cost_se + 0.03 * a.expected_cost


def test_more_frequent_hedging_costs_more_and_leaves_less_risk():
    sims = compare_policies(
        CALL, M, [TimePolicy(h) for h in (0.5, 2.0, 8.0)], realised_vol=0.5, paths=1500
    )
    costs = [s.cost_mean for s in sims]
    errors = [s.hedge_error_std for s in sims]
    assert costs == sorted(costs, reverse=True)
    assert errors == sorted(errors)
    # a perpetual in the book adds only linear P&L: hedged away, the error is unchanged
    with_perp = simulate_rebalancing(
        {**CALL, "BTC-PERPETUAL": 3.0}, M, TimePolicy(2.0), realised_vol=0.5, paths=1500
    )
    assert with_perp.hedge_error_std == pytest.approx(sims[1].hedge_error_std, rel=1e-9)


def test_min_variance_hedge_equals_the_regression_on_the_same_history():
    book = {"BTC-26DEC25-92000-C": -10.0}
    hedges = ["BTC-PERPETUAL"]
    mv = min_variance_hedge(book, M, hedges, estimator=CovarianceEstimator.SAMPLE)
    from pymargin.analytics.var import scenario_pnl
    from pymargin.market.history import joint_moves

    jm = joint_moves(("BTC",))
    y = scenario_pnl(book, M, ("BTC_USD",), jm.spot, jm.vol)
    x = scenario_pnl({"BTC-PERPETUAL": 1.0}, M, ("BTC_USD",), jm.spot, jm.vol)
    beta = np.cov(x, y, ddof=1)[0, 1] / np.var(x, ddof=1)
    assert mv.sizes["BTC-PERPETUAL"] == pytest.approx(-beta, rel=1e-9)
    resid = y - beta * x
    assert mv.std_after == pytest.approx(np.std(resid, ddof=1), rel=1e-9)
    assert 0 < mv.variance_reduction < 1
    perp_only = min_variance_hedge({"BTC-PERPETUAL": 3.0}, M, hedges)
    assert perp_only.sizes["BTC-PERPETUAL"] == pytest.approx(-3.0, rel=1e-9)
    assert perp_only.std_after < 1e-6 * perp_only.std_before
    # other estimators: the same formula on their covariance
    from pymargin.analytics.var import ewma_cov, ledoit_wolf

    z = np.column_stack([y, x])
    for est, cov in (
        (CovarianceEstimator.LEDOIT_WOLF, ledoit_wolf(z)[0]),
        (CovarianceEstimator.EWMA, ewma_cov(z - z.mean(axis=0))),
    ):
        h = min_variance_hedge(book, M, hedges, estimator=est)
        assert h.sizes["BTC-PERPETUAL"] == pytest.approx(-cov[0, 1] / cov[1, 1], rel=1e-9)


def test_mean_variance_frontier_is_a_parabola_around_the_minimum():
    book = {"BTC-26DEC25-92000-C": -10.0}
    hedges = ["BTC-PERPETUAL", "BTC-27MAR26"]
    fr = mean_variance_frontier(book, M, hedges, {"BTC-PERPETUAL": 20.0, "BTC-27MAR26": -5.0})
    j = int(np.argmin(fr.std))
    assert fr.std[j] == pytest.approx(fr.min_variance.std_after, rel=1e-6)
    assert np.all(np.diff(fr.mean) > 0)
    assert np.all(np.diff(fr.std[: j + 1]) < 0) and np.all(np.diff(fr.std[j:]) > 0)
    # var = var_min + (m - m0)^2 / a on the frontier
    var = fr.std**2
    m0 = fr.mean[j]
    a = (fr.mean[-1] - m0) ** 2 / (var[-1] - var[j])
    np.testing.assert_allclose(var, var[j] + (fr.mean - m0) ** 2 / a, rtol=1e-6)


def test_bad_hedging_arguments_are_typed_errors():
    for call, field in (
        (lambda: delta_hedge(CALL, M, target={"BTC": 5.0}), "target"),
        (lambda: delta_hedge(CALL, M, horizon_days="1"), "horizon_days"),
        (lambda: drift(CALL, M, {("BTC", pm.Greek.DELTA): (0, 1)}), "targets"),
        (lambda: drift(CALL, M, {pm.Greek.DELTA: (0,)}), "targets"),
        (
            lambda: simulate_rebalancing(
                CALL, M, TimePolicy(1.0), realised_vol=0.5, target=float("nan")
            ),
            "target",
        ),
        (
            lambda: simulate_rebalancing(CALL, M, TimePolicy(0.01), realised_vol=0.5),
            "interval_hours",
        ),
        (lambda: hedging_cost(CALL, M, TimePolicy(1.0), realised_vol=float("nan")), "realised_vol"),
    ):
        with pytest.raises(pm.PymarginError) as e:
            call()
        assert e.value.field == field


def test_duplicate_hedge_instruments_count_once():
    sug = delta_hedge(CALL, M, instruments=["BTC-PERPETUAL", "BTC-26DEC25", "BTC-PERPETUAL"])
    assert sorted(s.instrument for s in sug) == ["BTC-26DEC25", "BTC-PERPETUAL"]
