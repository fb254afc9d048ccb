"""Paradex portfolio margin. Source: Paradex docs, Portfolio Margin
(docs.paradex.trade/risk/portfolio-margin; tradeparadex/paradex-docs
fern/pages/risk-system/portfolio-margin.mdx @ 0db52d96): its one worked example (Minimum Delta
Requirement) and its scenario table."""

from datetime import datetime, timezone

import numpy as np
import pytest

import pymargin as pm
from pymargin.models.paradex_pm import paradex_pm_margin, paradex_scenarios
from pymargin.models.params import load_params

T0 = datetime(2026, 6, 1, 8, tzinfo=timezone.utc)


def test_scenario_table_matches_the_docs():
    scen, w = paradex_scenarios(load_params("paradex_pm"), "BTC")
    assert scen.n == 24
    std = scen.move[:16, 0]
    assert (
        std[0] == 0.16
        and std[-1] == -0.16
        and set(np.round(std, 2)) == {0.16, 0.12, 0.08, 0.04, 0.0, -0.04, -0.08, -0.12, -0.16}
    )
    assert list(scen.vol_state[:3]) == [1, 1, -1]  # the +16 % edge: vol up only
    np.testing.assert_allclose(w[16:], [0.18, 0.36, 0.24, 0.12, 0.06, 0.04, 0.03, 0.024])
    assert (w[:16] == 1).all()


def test_linear_perpetual_scan_and_mmr():
    # Long 1 BTC_USDC perp at 70,000: the worst weighted loss is the -16 % move (11,200 USD:
    # the -66 % and -33 % tails weigh 0.18 x 46,200 = 8,316 and 0.36 x 23,100 = 8,316).
    mkt = pm.Market(T0, {"BTC_USD": 70_000.0}, {"BTC_USDC-PERPETUAL": pm.Mark(mark_price=70_000.0)})
    r = paradex_pm_margin({"BTC_USDC-PERPETUAL": 1.0}, mkt)
    assert r.scan_risk == pytest.approx(11_200.0, rel=1e-12)
    assert r.min_delta_requirement == pytest.approx(1_400.0)
    assert r.initial_margin == pytest.approx(11_200.0) and r.maintenance_margin == pytest.approx(
        5_600.0
    )
    assert "SCAN" in r.explain()


def test_hedged_book_falls_back_to_min_delta():
    mkt = pm.Market(
        T0,
        {"BTC_USD": 70_000.0},
        {
            "BTC_USDC-PERPETUAL": pm.Mark(mark_price=70_000.0),
            "BTC_USDC-26JUN26-70000-C": pm.Mark(underlying_price=70_000.0, mark_iv=0.5),
        },
    )
    r = paradex_pm_margin({"BTC_USDC-PERPETUAL": 1.0, "BTC_USDC-26JUN26-70000-C": -0.0}, mkt)
    assert r.initial_margin >= r.min_delta_requirement
    with pytest.raises(pm.InvalidInputError):
        paradex_pm_margin({"BTC_USDC-PERPETUAL": 1.0, "ETH_USDC-PERPETUAL": 1.0}, mkt)


def test_coin_settled_positions_are_refused():
    from datetime import datetime, timezone

    mkt = pm.Market(datetime(2026, 1, 5, tzinfo=timezone.utc), {"BTC_USD": 90_000.0})
    with pytest.raises(pm.InvalidInputError) as e:
        paradex_pm_margin({"BTC_USDC-PERPETUAL": 1.0, "BTC-PERPETUAL": 1.0}, mkt)
    assert (e.value.field, e.value.index) == ("instrument", 1)


def test_an_account_over_several_underlyings_is_charged_per_underlying():
    # The venue's page defines SCAN and the minimum delta on one underlying; an account of BTC
    # and ETH perps is charged each underlying's own max(SCAN, min delta), summed.
    mkt = pm.Market(
        T0,
        {"BTC_USD": 70_000.0, "ETH_USD": 2_000.0},
        {
            "BTC_USDC-PERPETUAL": pm.Mark(mark_price=70_000.0),
            "ETH_USDC-PERPETUAL": pm.Mark(mark_price=2_000.0),
        },
    )
    btc = paradex_pm_margin({"BTC_USDC-PERPETUAL": 1.0}, mkt)
    eth = paradex_pm_margin({"ETH_USDC-PERPETUAL": -10.0}, mkt)
    both = paradex_pm_margin({"BTC_USDC-PERPETUAL": 1.0, "ETH_USDC-PERPETUAL": -10.0}, mkt)
    assert both.initial_margin == pytest.approx(btc.initial_margin + eth.initial_margin, rel=1e-15)
    assert both.maintenance_margin == pytest.approx(
        btc.maintenance_margin + eth.maintenance_margin, rel=1e-15
    )
    assert set(both.per_underlying) == {"BTC", "ETH"}
    assert both.worst_scenario.startswith("BTC ")  # BTC is charged the most
    assert len(both.labels) == len(both.weighted_pnl) == 48
    assert "ETH" in both.explain()


def test_the_2026_08_scenario_tables_are_the_published_ones():
    # Paradex docs, portfolio-margin.mdx @ 9b82a75 (2026-08-20), the HYPE/CL tab: spot
    # +-28 % in 7 % steps with vol +64 % / -35.2 % (the edges vol up only), tails -66 %,
    # -33 %, +50 %, +100 % ... +500 % at vol +64 % weighted 30, 50, 40, 20, 10, 7, 5, 4 %;
    # Min Vol Shock Up 60 %; BTC unchanged since 2026-05-25.
    from pymargin.models.params import load_params

    doc = load_params("paradex_pm", "2026-08")
    scen, w = paradex_scenarios(doc, "HYPE")
    spot = [28, 21, 21, 14, 14, 7, 7, 0, 0, -7, -7, -14, -14, -21, -21, -28]
    spot += [-66, -33, 50, 100, 200, 300, 400, 500]
    assert np.allclose(scen.move[:, 0] * 100, spot)
    up = [1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1] + [1] * 8
    assert list(scen.vol_state) == up
    assert np.allclose(w * 100, [100] * 16 + [30, 50, 40, 20, 10, 7, 5, 4])
    rule = scen.rules[0]
    assert (rule.range_up, rule.range_down, rule.min_vol_up) == (0.64, 0.352, 0.60)
    old, new = load_params("paradex_pm", "2026-05-25"), doc
    assert old["assets"]["BTC"] == new["assets"]["BTC"]
