"""Cross portfolio margin (X:PM), collateral and account figures under the four Deribit modes.

X:PM's combination rules are pymargin's construction from Deribit's published parameter names
(see pymargin/models/deribit_xpm.py); these tests check each step against a hand computation
from the parameter values, not against the code's own output.
"""

from datetime import datetime, timezone

import numpy as np
import pytest

import pymargin as pm
from pymargin.models import DeribitPMParams, deribit_pm_margin, deribit_xpm_margin

T0 = datetime(2026, 2, 15, 12, tzinfo=timezone.utc)
ETH = 3040.0


def _eth_market():
    return pm.Market(T0, {"ETH_USD": ETH, "BTC_USD": 70_000.0})


def test_cross_currency_hedge_is_credited_at_each_currencys_pnl_offset():
    """Long 10 ETH of the inverse perpetual, short 10 ETH of the USDC one, 2026-02 parameters
    (pnl_offset eth 0.6, usd 0.4; range 18 %): at -18 % the ETH leg loses 10 S 0.18 USD and the
    USDC leg's gain counts at 0.4; at +18 % the reverse at 0.6. Worst = 0.6 x 10 S 0.18. Roll
    shock: each leg's floor (eth 0.005, usd 0.01) x 10 ETH x S."""
    p = DeribitPMParams.load("2026-02-15")
    x = deribit_xpm_margin({"ETH-PERPETUAL": 10.0, "ETH_USDC-PERPETUAL": -10.0}, _eth_market(), p)
    leg = 10 * ETH * 0.18
    assert x.worst_case == pytest.approx(0.6 * leg, rel=1e-12)
    assert x.worst_case_bucket["bucket"] == 1  # the -18 % bucket
    assert x.roll_shock == pytest.approx((0.005 + 0.01) * 10 * ETH, rel=1e-12)
    assert x.risk_matrix_margin == pytest.approx(round(0.6 * leg, 9) + x.roll_shock, rel=1e-12)
    assert x.maintenance_margin == pytest.approx(0.8 * x.risk_matrix_margin, rel=1e-15)
    # Segregated, the two legs cannot offset: each currency's own worst case.
    seg_eth = deribit_pm_margin({"ETH-PERPETUAL": 10.0}, _eth_market(), p)
    seg_usd = deribit_pm_margin({"ETH_USDC-PERPETUAL": -10.0}, _eth_market(), p, currency="usdc")
    assert seg_eth.worst_case * ETH + seg_usd.worst_case > x.worst_case


def test_coin_pnl_is_valued_at_the_shocked_price():
    """An inverse-only account: X:PM's USD vector is S:PM's coin vector times S (1 + m)."""
    p = DeribitPMParams.load("2024-06-17")
    m = pm.Market(T0, {"BTC_USD": 70_000.0}, {"BTC-27MAR26": pm.Mark(mark_price=71_000.0)})
    pos = {"BTC-27MAR26": -3.0, "BTC-PERPETUAL": 1.0}
    seg = deribit_pm_margin(pos, m, p)
    x = deribit_xpm_margin(pos, m, p)
    moves = np.repeat(np.arange(-4, 5) * 0.16 / 4, 3)
    coin = seg.pre_aggregated_risk_vectors["btc_btc"]["standard"]
    usd = np.where(coin > 0, 0.0, coin * 70_000.0 * (1 + moves))  # pnl_offset 0: gains count 0
    np.testing.assert_allclose(x.currency_vectors["btc_usd/btc"]["standard"], usd, rtol=1e-13)


def test_collateral_moves_with_its_price_as_equity_side_impact_says():
    p = DeribitPMParams.load("2024-06-17")  # btc: both, usd: none
    m = pm.Market(T0, {"BTC_USD": 70_000.0})
    x = deribit_xpm_margin({}, m, p, {"BTC": 2.0, "USDC": 10_000.0})
    assert x.worst_case == pytest.approx(2.0 * 70_000.0 * 0.16, rel=1e-12)  # 2 BTC at -16 %
    # A short perpetual hedges the balance: nothing left at risk but the roll shock.
    hedged = deribit_xpm_margin({"BTC-PERPETUAL": -2.0}, m, p, {"BTC": 2.0})
    assert hedged.worst_case == pytest.approx(0.0, abs=1e-9)
    assert hedged.roll_shock == pytest.approx(0.01 * 2.0 * 70_000.0, rel=1e-12)
    with pytest.raises(pm.InvalidInputError) as e:
        deribit_xpm_margin({}, m, p, {"BTC": -1.0})
    assert (e.value.field, e.value.index) == ("collateral", 0)


def test_account_figures_under_the_four_modes():
    m = pm.Market(
        T0,
        {"BTC_USD": 70_000.0},
        {"BTC-27MAR26-80000-C": pm.Mark(mark_iv=0.55, underlying_price=71_000.0)},
    )
    acct = pm.Account(
        pm.Portfolio({"BTC-27MAR26-80000-C": -2.0, "BTC-PERPETUAL": 1.0}),
        {"BTC": 3.0, "USDC": 5_000.0},
        average_price={"BTC-PERPETUAL": 65_000.0},
    )
    call = pm.inverse_price(
        71_000.0,
        80_000.0,
        pm.parse_instrument("BTC-27MAR26-80000-C").time_to_expiry(T0),
        0.55,
        0.0,
        True,
    )
    unrealised = 70_000.0 / 65_000.0 - 1.0  # 1 BTC of inverse perp bought at 65,000
    equity_btc = 3.0 - 2.0 * call + unrealised
    s = pm.account_summary(acct, m, pm.MarginMode.SEGREGATED_PORTFOLIO)
    assert s.per_currency["btc"]["equity"] == pytest.approx(equity_btc, rel=1e-13)
    assert s.equity_usd == pytest.approx(equity_btc * 70_000.0 + 5_000.0, rel=1e-13)
    btc = s.per_currency["btc"]
    assert btc["available_funds"] == pytest.approx(btc["equity"] - btc["initial_margin"])
    assert s.initial_margin_ratio == pytest.approx(s.initial_margin_usd / s.margin_balance_usd)
    modes = pm.compare_margin_modes(acct, m)
    assert set(modes) == set(pm.MarginMode)
    for mode, summary in modes.items():
        assert not isinstance(summary, str), (mode, summary)
        # isolated P&L (the perpetual's, at 70,000 against 65,000) is not available elsewhere
        held = unrealised * 70_000.0 if mode is pm.MarginMode.ISOLATED else 0.0
        assert summary.available_funds_usd == pytest.approx(
            summary.margin_balance_usd - summary.initial_margin_usd - held, rel=1e-12
        )
    # Standard margin is the same per position whether collateral is segregated or pooled.
    assert modes[pm.MarginMode.CROSS_STANDARD].initial_margin_usd == pytest.approx(
        modes[pm.MarginMode.SEGREGATED_STANDARD].initial_margin_usd
    )


def test_bad_account_input_is_refused_with_field_and_row():
    with pytest.raises(pm.InvalidInputError) as e:
        pm.Account(pm.Portfolio({"BTC-PERPETUAL": 1.0}), {"BTC": 1.0, "USDC": float("nan")})
    assert (e.value.field, e.value.index) == ("collateral", 1)
    with pytest.raises(pm.InvalidInputError) as e:
        pm.Account(pm.Portfolio({"BTC-PERPETUAL": 1.0}), average_price={"ETH-PERPETUAL": 1.0})
    assert e.value.field == "average_price"


def test_interest_rates_reach_every_route_alike():
    """With market.rates set, the pre-trade engine, margin() and account_summary price options
    and roll-shock deltas with the same rate (a regression: the Python model used 0)."""
    import pymargin as pm
    from pymargin.accounts.account import Account, MarginMode, account_summary
    from pymargin.accounts.engine import PreTradeEngine, Side
    from pymargin.market.bundled import demo_market

    m0 = demo_market("BTC")
    m = pm.Market(m0.valuation_time, dict(m0.index), dict(m0.marks), {"BTC_USD": 0.10})
    call, usdc = "BTC-27MAR26-100000-C", "BTC_USDC-27MAR26-90000-C"
    eng = PreTradeEngine(m, [call, usdc])
    a = eng.add_account({"BTC": 1.0, "USDC": 100000.0})
    eng.fill(a, call, Side.SELL, 2.0, 0.05)
    eng.fill(a, usdc, Side.BUY, 1.0, 11000.0)
    r = pm.margin({call: -2.0}, m, pm.MarginModel.DERIBIT_PM)
    assert eng.margin(a, "btc").initial_margin == pytest.approx(r.initial_margin, abs=2e-9)
    assert r.components["roll_shock"] > 0
    acct = Account({call: -2.0, usdc: 1.0}, {"BTC": 1.0 + 0.10, "USDC": 100000.0 - 11000.0})
    s = account_summary(acct, m, MarginMode.SEGREGATED_PORTFOLIO)
    for c in ("btc", "usdc"):
        g = eng.margin(a, c)
        assert s.per_currency[c]["equity"] == pytest.approx(g.equity, rel=1e-12)
        assert s.per_currency[c]["initial_margin"] == pytest.approx(g.initial_margin, abs=2e-9)
