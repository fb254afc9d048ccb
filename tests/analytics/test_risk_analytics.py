"""Greeks aggregation, the Greek-netting margin model, stress tests and liquidation risk,
each against its definition: Greeks against finite differences of the full-revaluation P&L,
stress moves against the bundled closes, reverse stress and liquidation roots against the
equations they solve."""

import math

import numpy as np
import pytest

import pymargin as pm
from pymargin import liquidation, stress
from pymargin.analytics.var import scenario_pnl
from pymargin.cli.demo import demo_portfolios
from pymargin.market.bundled import demo_market
from pymargin.market.history import SeriesKind, load_series
from pymargin.models.delta_margin import DeltaMarginParams, delta_margin
from pymargin.risk.greeks import combine, portfolio_greeks

M = demo_market("BTC")
BOOKS = {p.name: p for p in demo_portfolios()}


def test_portfolio_greeks_agree_with_finite_differences_of_full_revaluation():
    pf = BOOKS["market-maker book"].portfolio
    g = portfolio_greeks(pf, M).total("BTC_USD")
    h = 1e-4
    spot = np.array([[h], [-h], [0.0]])
    p_up, p_dn, p_0 = scenario_pnl(pf, M, ("BTC_USD",), spot)
    assert g["delta_usd"] == pytest.approx((p_up - p_dn) / (2 * h), rel=2e-4)
    assert g["gamma_1pct"] == pytest.approx((p_up - 2 * p_0 + p_dn) / h**2 / 100, rel=2e-3)
    # theta: one hour later, scaled to a day (theta moves within a day on short expiries)
    from datetime import timedelta

    later = M.valuation_time + timedelta(hours=1)

    def usd_value(when):
        total = 0.0
        for n, q in pf.positions.items():
            inst = pm.parse_instrument(n)
            if inst.kind is not pm.InstrumentKind.OPTION:
                continue
            fwd = M.underlying_price(inst)
            total += (
                q
                * fwd
                * pm.inverse_price(
                    fwd,
                    inst.strike,
                    inst.time_to_expiry(when),
                    M.implied_vol(inst),
                    0.0,
                    inst.option_type == pm.OptionType.CALL,
                )
            )
        return total

    assert g["theta"] == pytest.approx(
        (usd_value(later) - usd_value(M.valuation_time)) * 24, rel=2e-3
    )
    by_k = portfolio_greeks(pf, M).by_strike
    assert sum(v["vega"] for v in by_k.values()) == pytest.approx(g["vega"])
    by_t = portfolio_greeks(pf, M).by_tenor
    assert sum(v["delta_usd"] for v in by_t.values()) == pytest.approx(g["delta_usd"])
    both = combine([portfolio_greeks(pf, M), portfolio_greeks(pf, M)])
    assert both["BTC_USD"]["vanna"] == pytest.approx(2 * g["vanna"])


def test_delta_margin_components():
    p = DeltaMarginParams.load()
    perp = delta_margin({"BTC-PERPETUAL": 2.0}, M, p)
    f = M.table.column("forward")[M.table.rows(["BTC-PERPETUAL"])][0]
    assert perp.delta_margin == pytest.approx(0.16 * 2.0 * f, rel=1e-12)
    assert perp.vega_margin == 0.0 and perp.curvature_margin == pytest.approx(0.0, abs=1e-6)
    # Long BTC against short ETH offsets at the delta correlation.
    eth_m = demo_market("ETH")
    both = pm.Market(M.valuation_time, {**M.index, **eth_m.index}, {})
    r = delta_margin({"BTC-PERPETUAL": 1.0, "ETH-PERPETUAL": -30.0}, both, p)
    a, b = 0.16 * M.index["BTC_USD"], -0.18 * 30 * eth_m.index["ETH_USD"]
    assert r.delta_margin == pytest.approx(math.sqrt(a * a + b * b + 2 * 0.825 * a * b), rel=1e-12)
    # A short strangle: curvature (gamma) dominates, delta is small.
    s = delta_margin(BOOKS["short strangle"].portfolio, M, p)
    assert s.curvature_margin > s.vega_margin > s.delta_margin
    res = pm.margin(BOOKS["short strangle"].portfolio, M, pm.MarginModel.DELTA_MARGIN)
    assert res.initial_margin == pytest.approx(s.initial_margin)


def test_historical_scenarios_are_the_bundled_moves():
    scen = {s.name: s for s in stress.historical_scenarios()}
    btc = load_series("BTC", SeriesKind.SPOT)
    assert scen["COVID crash"].moves["BTC_USD"] == pytest.approx(
        btc.at("2020-03-12") / btc.at("2020-03-11") - 1
    )
    assert scen["COVID crash"].vol_scale == {}  # no DVOL before 2021-03-24
    dvol = load_series("ETH", SeriesKind.DVOL)
    assert scen["FTX collapse"].vol_scale["ETH_USD"] == pytest.approx(
        dvol.at("2022-11-09") / dvol.at("2022-11-07")
    )
    res = stress.stress_test(BOOKS["short strangle"].portfolio, M)
    assert [p for _, p in res] == sorted(p for _, p in res)


def test_reverse_stress_solves_its_equation():
    pf = BOOKS["short strangle"].portfolio
    eq = 300_000.0
    r = stress.reverse_stress(pf, M, eq, vol_beta=1.0)
    m = r["move"]
    pnl = scenario_pnl(pf, M, ("BTC_USD",), np.array([[m]]), np.array([[math.exp(-m)]]))[0]
    assert pnl == pytest.approx(-eq, rel=1e-6)
    inside = scenario_pnl(
        pf, M, ("BTC_USD",), np.array([[0.9 * m]]), np.array([[math.exp(-0.9 * m)]])
    )[0]
    assert inside > -eq  # smaller moves do not exhaust it
    assert stress.reverse_stress({"BTC-PERPETUAL": 0.01}, M, 1e9)["move"] is None


def test_liquidation_roots_and_status():
    acct = pm.Account(BOOKS["short strangle"].portfolio, {"BTC": 5.0})
    roots = liquidation.distance_to_liquidation(acct, M, vol_scales=(1.0,), points=41)[1.0]
    assert len(roots) == 2 and roots[0] < 0 < roots[1]
    marked = pm.account.marked(acct, M)
    for r in roots:
        moved = M.shifted({"BTC_USD": r}, {"BTC_USD": 1.0})
        s = pm.account_summary(marked, moved)
        assert s.margin_balance_usd == pytest.approx(s.maintenance_margin_usd, rel=1e-4)
    assert liquidation.margin_status(acct, M).status is liquidation.LiquidationStatus.HEALTHY
    thin = pm.Account(BOOKS["short strangle"].portfolio, {"BTC": 1.2})
    assert liquidation.margin_status(thin, M).status is liquidation.LiquidationStatus.MARGIN_CALL
    broke = pm.Account(BOOKS["short strangle"].portfolio, {"BTC": 0.5})
    assert liquidation.margin_status(broke, M).status is liquidation.LiquidationStatus.LIQUIDATION
    surf = liquidation.liquidation_surface(acct, M, np.array([-0.4, 0.0, 0.4]), np.array([1.0]))
    assert surf["mm_ratio"][0, 1] < 1 <= surf["mm_ratio"][0, 0]


def test_venue_stress_counts_accounts_under_maintenance():
    accts = [pm.Account(p.portfolio, p.collateral) for p in BOOKS.values() if p.coin == "BTC"]
    covid = next(s for s in stress.historical_scenarios() if s.name == "COVID crash")
    r = stress.stress_accounts(accts, M, covid)
    assert r["under_maintenance"] == sum(a["under_maintenance"] for a in r["accounts"])
    assert r["total_shortfall"] == pytest.approx(sum(a["shortfall"] for a in r["accounts"]))
    lev = r["accounts"][4]  # 3 BTC long perp on 0.5 BTC: wiped out by -37 %
    assert lev["under_maintenance"] and lev["equity_after"] < 0 and lev["shortfall"] > 0
