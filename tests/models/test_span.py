"""SPAN spread charges, inter-commodity credits and the short option minimum against published
worked examples, and the crypto-market path against its definition.

Sources:
* CME Group, "Spread calculations" (https://www.cmegroup.com/clearing/margins/spread-calc.html;
  rates "for example purposes only"): intra-commodity spreads between months M2, M3, M4 with
  outright rates 500, 500, 750 USD and intra charges M2/M3 200, M2/M4 50, M3/M4 0 give 200,
  300 and 250 USD; an inter-commodity spread of 2 corn (1,750 outright) against 1 soybean
  (2,500) at 2:1 and a 55 % credit gives 6,000 gross, 3,300 credit, 2,700 net.
* Solomon Exam Prep, Series 3, section 3.4.4.1 (inter-commodity spread margins): 2 long corn at
  900 and 1 short soybean at 2,100 with a 55 % credit: 3,900 x 0.45 = 1,755 USD.
"""

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

import pymargin as pm
from pymargin.models.scan import _SPAN_FRACTIONS
from pymargin.models.span import (
    CommodityRisk,
    InterSpread,
    SpanParams,
    span_margin,
    span_requirement,
)

# Scenario price fractions in CME's order, extremes +-2 counted at 35 %.
FRACTIONS = np.array([*_SPAN_FRACTIONS, 2.0, -2.0])
WEIGHTS = np.array([1.0] * 14 + [0.35] * 2)


def futures_pnl(outright_by_tier, position_by_tier):
    """Weighted scenario P&L of futures positions whose outright scan risk per contract is the
    tier's outright rate (a linear future loses its scan range at a full move)."""
    per_contract = FRACTIONS[None, :] * np.asarray(outright_by_tier, float)[:, None]
    return (np.asarray(position_by_tier, float) @ per_contract) * WEIGHTS


def test_same_sign_legs_form_no_spread_and_short_option_minimum_floors():
    corn = CommodityRisk("C", futures_pnl([900.0], [2.0]), np.array([2.0]))
    soy = CommodityRisk("S", futures_pnl([2100.0], [1.0]), np.array([1.0]))
    r = span_requirement([corn, soy], [InterSpread("C", "S", 2.0, 1.0, 0.55)])
    assert r["C"].inter_credit == 0.0 and r["S"].inter_credit == 0.0
    # A deep OTM short option: tiny scan loss, so the minimum (rate x shorts) binds.
    pnl = np.full(16, -1.0)
    c = CommodityRisk("X", pnl, np.array([-0.01]), short_options=20, short_option_minimum=50.0)
    assert span_requirement([c])["X"].requirement == 1000.0


T0 = datetime(2025, 12, 5, 9, tzinfo=timezone.utc)  # the conftest span_market's time


def test_crypto_calendar_spread_is_charged_per_delta_of_the_tier_pair(span_doc, span_market):
    m = span_market
    p = SpanParams.from_document(span_doc)
    # Long 2 BTC in the 21-day USDC future (tier 0), short 2 BTC in the 112-day one (tier 1).
    r = span_margin({"BTC_USDC-26DEC25": 2.0, "BTC_USDC-27MAR26": -2.0}, m, p)
    btc = r.per_commodity["BTC_USD"]
    assert btc.intra_charge == pytest.approx(2 * 500.0)
    # Scan risk: USD P&L of the two futures at +-20 % of their own prices, netted.
    assert btc.scan_risk == pytest.approx(2 * 0.2 * abs(91_800.0 - 90_500.0), rel=1e-12)
    assert r.initial_margin == pytest.approx(btc.scan_risk + btc.intra_charge, rel=1e-12)


def test_crypto_inter_commodity_credit_between_btc_and_eth(span_doc, span_market):
    m = span_market
    p = SpanParams.from_document(span_doc)
    r = span_margin({"BTC-26DEC25": 1.0, "ETH-PERPETUAL": -30.0}, m, p)
    btc, eth = r.per_commodity["BTC_USD"], r.per_commodity["ETH_USD"]
    # One spread (1 BTC : 30 ETH): each leg credited 50 % of its scan risk (futures only).
    assert btc.inter_credit == pytest.approx(0.5 * btc.scan_risk, rel=1e-12)
    assert eth.inter_credit == pytest.approx(0.5 * eth.scan_risk, rel=1e-12)
    assert r.initial_margin == pytest.approx(0.5 * (btc.scan_risk + eth.scan_risk), rel=1e-12)
    pos = {"BTC-26DEC25": 1.0, "ETH-PERPETUAL": -30.0}
    res = pm.margin(pos, m, pm.MarginModel.SPAN16, params=p)
    assert res.initial_margin == r.initial_margin


def test_span_parameters_are_validated_and_required(span_doc, span_market):
    bad = {
        **span_doc,
        "commodities": {"BTC_USD": {**span_doc["commodities"]["BTC_USD"], "price_scan": 2}},
    }
    with pytest.raises(pm.models.ModelParameterError) as e:
        SpanParams.from_document(bad)
    assert e.value.field == "commodities.BTC_USD.price_scan"
    with pytest.raises(pm.models.ModelParameterError):
        span_margin({"BTC-26DEC25": 1.0}, span_market, None)


def test_risk_arrays_look_ahead_one_day_with_time_decay(span_doc):
    # SPAN's risk arrays value each contract over a look-ahead (CME, "SPAN components": one
    # trading day, time decay included). A long option's unchanged-price scenario then loses
    # one day of time value; with look_ahead_days 0 it loses nothing.

    m = pm.Market(
        T0,
        {"BTC_USD": 90_000.0},
        {"BTC_USDC-26DEC25-90000-C": pm.Mark(underlying_price=90_000.0, mark_iv=0.5)},
    )
    import copy

    doc = copy.deepcopy(span_doc)
    book = {"BTC_USDC-26DEC25-90000-C": 1.0}
    r1 = span_margin(book, m, SpanParams.from_document(doc))
    doc["commodities"]["BTC_USD"]["look_ahead_days"] = 0
    r0 = span_margin(book, m, SpanParams.from_document(doc))
    inst = pm.parse_instrument("BTC_USDC-26DEC25-90000-C")
    t = inst.time_to_expiry(T0)
    up = 0.5 + span_doc["commodities"]["BTC_USD"]["vol_scan"]  # SPAN's vol shock is additive
    one_day = pm.black76_price(90_000.0, 90_000.0, t - 1 / 365, up) - pm.black76_price(
        90_000.0, 90_000.0, t, up
    )
    # Scenario 1 (unchanged price, vol up): the same shocked option, one day later.
    assert r1.scenario_pnl[0] - r0.scenario_pnl[0] == pytest.approx(float(one_day), rel=1e-9)
    assert r1.scenario_pnl[1] - r0.scenario_pnl[1] < 0
    assert float(one_day) < 0
    m_later = pm.Market(T0 + timedelta(days=1), m.index, m.marks)
    later = pm.black76_price(90_000.0, 90_000.0, inst.time_to_expiry(m_later.valuation_time), 0.5)
    assert float(later) == pytest.approx(
        float(pm.black76_price(90_000.0, 90_000.0, t - 1 / 365, 0.5)), rel=1e-12
    )
