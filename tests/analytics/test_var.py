"""VaR / ES, estimators and backtests against published worked examples, and the full-
revaluation methods against their definitions.

Sources: Hull, Options, Futures and Other Derivatives, 11th ed. (OFOD): section 22.3 (two-asset
linear model, pp. 522-524), Table 22.4 (historical simulation, 500 scenarios), Examples 23.1-23.3
(EWMA, GARCH(1,1), EWMA covariance); Jorion, Value at Risk, ch. 6 question 10 (Kupiec and
Christoffersen statistics, 6 exceptions in 252 days, as worked in the bionicturtle forum);
Cornish-Fisher quantiles as pinned by the mir.stat library's unit tests; Ledoit-Wolf as printed
in scikit-learn's ledoit_wolf documentation example.
"""

import math

import numpy as np
import pytest

import pymargin as pm
from pymargin import var
from pymargin.cli.demo import demo_portfolios
from pymargin.market.bundled import demo_market


def test_hull_two_asset_linear_model():
    """$10M Microsoft (2 %/day) and $5M AT&T (1 %/day), correlation 0.3, 10-day 99 %:
    VaR 1,471,300 / 367,800 / 1,620,100, benefit 219,000; ES AT&T 421,400, both 1,856,100
    (Hull's printed Microsoft ES, 1,687,000, used a rounded quantile: the exact is 1,685,629)."""
    cov = np.array([[0.02**2, 0.3 * 0.02 * 0.01], [0.3 * 0.02 * 0.01, 0.01**2]])
    v_ms, es_ms, _ = var.normal_var_es([10e6], cov[:1, :1], 0.99, 10)
    v_att, es_att, _ = var.normal_var_es([5e6], cov[1:, 1:], 0.99, 10)
    v_both, es_both, _ = var.normal_var_es([10e6, 5e6], cov, 0.99, 10)
    assert (round(v_ms, -2), round(v_att, -2), round(v_both, -2)) == (1471300, 367800, 1620100)
    assert round(v_ms + v_att - v_both, -3) == 219000
    assert round(es_att, -2) == 421400 and round(es_both, -2) == 1856100
    assert es_ms == pytest.approx(1685629, abs=1)


def test_hull_historical_simulation_table():
    """500 scenarios; the five largest losses 922.484, 858.423, 653.541, 490.215, 422.291
    ($000s): 99 % VaR = the fifth, 422.291; ES = their average, 669.391."""
    top = [
        922.484,
        858.423,
        653.541,
        490.215,
        422.291,
        362.733,
        360.532,
        353.788,
        323.505,
        305.216,
        245.151,
        241.561,
        231.269,
        230.626,
        229.683,
    ]
    rest = np.linspace(-200.0, 220.0, 500 - len(top))
    pnl = -np.concatenate([top, rest])
    v, es, j = var.var_es(pnl, 0.99)
    assert v == pytest.approx(422.291) and j == 4
    assert es == pytest.approx(669.391, abs=5e-4)


def test_cornish_fisher_quantiles():
    assert var.cornish_fisher_quantile(0.99, 0.1, 0.0) == pytest.approx(2.396116, abs=1e-6)
    assert var.cornish_fisher_quantile(0.99, 0.1, 1.0) == pytest.approx(2.629904, abs=1e-6)
    assert var.cornish_fisher_quantile(0.99, 0.1, -1.0) == pytest.approx(2.162328, abs=1e-6)
    assert var.cornish_fisher_quantile(0.01, 0.1, 1.0) == pytest.approx(-2.482841, abs=1e-6)
    assert var.cornish_fisher_quantile(0.5, 1.0, 0.0) == pytest.approx(-0.1666667, abs=1e-7)


def test_jorion_kupiec_and_christoffersen():
    lr, p = var.kupiec_pof(6, 252, 0.01)
    assert lr == pytest.approx(3.498, abs=1e-3) and p > 0.05
    # n00 = 244, n01 = 2, n10 = 2, n11 = 4: two runs of three exceptions.
    hits = np.array([0] * 100 + [1, 1, 1] + [0] * 100 + [1, 1, 1] + [0] * 47)
    lr_ind, p_ind = var.christoffersen_independence(hits)
    assert lr_ind == pytest.approx(25.837, abs=1e-3) and p_ind < 1e-5
    assert var.kupiec_pof(15, 1000, 0.01)[0] == pytest.approx(2.189, abs=1e-3)  # Hull RMFI 9.14


def test_hull_ewma_garch_and_ewma_covariance():
    assert math.sqrt(var.ewma_variance_update(0.01**2, 0.02, 0.9)) == pytest.approx(
        0.011402, abs=1e-6
    )
    v = var.garch11_update(0.016**2, 0.01, 0.000002, 0.13, 0.86)
    assert v == pytest.approx(0.00023516, abs=1e-10)
    c0 = np.array([[0.01**2, 0.6 * 0.01 * 0.02], [0.6 * 0.01 * 0.02, 0.02**2]])
    c1 = var.ewma_cov_update(c0, [0.005, 0.025], 0.95)
    assert c1[0, 0] == pytest.approx(0.00009625) and c1[1, 1] == pytest.approx(0.00041125)
    assert c1[0, 1] == pytest.approx(0.00012025)
    assert c1[0, 1] / math.sqrt(c1[0, 0] * c1[1, 1]) == pytest.approx(0.6044, abs=1e-4)


def test_ledoit_wolf_matches_the_scikit_learn_example():
    rng = np.random.RandomState(0)
    x = rng.multivariate_normal(mean=[0, 0], cov=[[0.4, 0.2], [0.2, 0.8]], size=50)
    c, shrink = var.ledoit_wolf(x)
    assert shrink == pytest.approx(0.23, abs=5e-3)
    np.testing.assert_allclose(c, [[0.44, 0.16], [0.16, 0.80]], atol=5e-3)


def _strangle():
    return next(p for p in demo_portfolios() if p.name == "short strangle").portfolio


def test_full_revaluation_methods_agree_with_their_definitions():
    m = demo_market("BTC")
    pf = _strangle()
    hs = var.historical_var(pf, m, start="2021-01-01")
    # The sample is the portfolio revalued on each day's move: check one day by hand.
    jm = pm.history.joint_moves(("BTC",), start="2021-01-01")
    j = int(np.argmin(hs.pnl))
    moved = m.shifted({"BTC_USD": float(jm.spot[j, 0])}, {"BTC_USD": float(jm.vol[j, 0])})
    want = sum(
        q
        * (
            pm.inverse_price(
                moved.underlying_price(pm.parse_instrument(n)),
                pm.parse_instrument(n).strike,
                pm.parse_instrument(n).time_to_expiry(m.valuation_time),
                moved.implied_vol(pm.parse_instrument(n)),
                0.0,
                pm.parse_instrument(n).option_type == pm.OptionType.CALL,
            )
            * moved.index["BTC_USD"]
            - pm.inverse_price(
                m.underlying_price(pm.parse_instrument(n)),
                pm.parse_instrument(n).strike,
                pm.parse_instrument(n).time_to_expiry(m.valuation_time),
                m.implied_vol(pm.parse_instrument(n)),
                0.0,
                pm.parse_instrument(n).option_type == pm.OptionType.CALL,
            )
            * m.index["BTC_USD"]
        )
        for n, q in pf.positions.items()
    )
    assert hs.pnl[j] == pytest.approx(want, rel=1e-9)
    assert hs.var <= hs.es and hs.method is var.VaRMethod.HISTORICAL
    # Monte Carlo: more paths, same answer; Student-t tails are fatter than normal ones.
    mc = var.monte_carlo_var(pf, m, paths=40_000, seed=1)
    mc2 = var.monte_carlo_var(pf, m, paths=40_000, seed=2)
    assert mc.var == pytest.approx(mc2.var, rel=0.1)
    t = var.monte_carlo_var(
        pf, m, paths=40_000, seed=1, dist=var.ShockDistribution.STUDENT_T, dof=3
    )
    assert t.es > mc.es
    # Delta-gamma of a short strangle: negative skew, ES beyond VaR.
    dg = var.parametric_var(pf, m, gamma=True)
    assert dg.details["moments"]["skew"] < 0 and dg.es > dg.var > 0


def test_bad_inputs_name_the_field():
    m = demo_market("BTC")
    with pytest.raises(pm.InvalidInputError) as e:
        var.var_es(np.array([1.0, np.nan]), 0.99)
    assert e.value.field == "pnl"
    with pytest.raises(pm.InvalidInputError) as e:
        var.monte_carlo_var(_strangle(), m, paths=10)
    assert e.value.field == "paths"
    with pytest.raises(pm.InvalidInputError) as e:
        var.historical_var(_strangle(), m, confidence=1.5)
    assert e.value.field == "confidence"


def test_backtest_on_history_counts_exceptions_consistently():
    """A 250-day historical-simulation VaR on BTC's history since 2019 for a long perpetual:
    each day's exception is the day's revalued loss beyond the previous window's VaR; the
    statistics are the functions' on the hit sequence (21 exceptions in 2,240 days at 99 %,
    expected 22.4: Kupiec does not reject)."""
    m = demo_market("BTC")
    r = var.backtest_var({"BTC-PERPETUAL": 1.0}, m, start="2019-01-01")
    assert r["exceptions"] == int((r["pnl"] < -r["var"]).sum())
    assert r["kupiec"] == pytest.approx(var.kupiec_pof(r["exceptions"], r["observations"], 0.01))
    t = 100
    assert (
        r["var"][t]
        == var.var_es(
            var.scenario_pnl(
                {"BTC-PERPETUAL": 1.0},
                m,
                ("BTC_USD",),
                pm.history.joint_moves(("BTC",), start="2019-01-01").spot[t : t + 250],
            ),
            0.99,
        )[0]
    )
    assert r["kupiec"][1] > 0.05
