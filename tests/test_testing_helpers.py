"""pymargin.testing: the comparison helpers name the field that differs, and the strategies
draw valid inputs (used here as a user of the package would)."""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import given, settings

import pymargin as pm
from pymargin.market.bundled import demo_market
from pymargin.testing import assert_fields_close, assert_margin_close, black_inputs, portfolios

MARKET = demo_market("BTC")
NAMES = [n for n in MARKET.marks if n.endswith("-C") or n.endswith("-P")][:40]


def test_assert_fields_close_names_the_field_and_refuses_nan():
    assert_fields_close({"a": 1.0, "b": 2.0}, {"a": 1.0, "b": 2.0 + 1e-13}, rtol=1e-12)
    with pytest.raises(AssertionError, match=r"b: 2\.1 against 2\.0"):
        assert_fields_close({"a": 1.0, "b": 2.1}, {"a": 1.0, "b": 2.0})
    with pytest.raises(AssertionError, match="a: nan"):
        assert_fields_close({"a": math.nan}, {"a": 1.0}, {"a": {"abs": 1e300}})


def test_assert_margin_close_compares_margins_and_components():
    r = pm.margin({NAMES[0]: -1.0, NAMES[1]: 2.0}, MARKET)
    assert_margin_close(r, r)
    bumped = dataclasses.replace(r, initial_margin=r.initial_margin * (1 + 1e-9))
    with pytest.raises(AssertionError, match="initial_margin"):
        assert_margin_close(bumped, r)


@settings(max_examples=60, deadline=None)
@given(black_inputs())
def test_black_inputs_give_prices_within_the_no_arbitrage_bounds(x):
    f, k, t, v, call = x
    p = float(pm.black76_price(f, k, t, v, 0.0, call))
    intrinsic = max(f - k, 0.0) if call else max(k - f, 0.0)
    assert intrinsic * (1 - 1e-12) <= p <= (f if call else k) * (1 + 1e-12)


@settings(max_examples=25, deadline=None)
@given(portfolios(NAMES, max_positions=5))
def test_portfolios_margin_to_finite_non_negative_figures(pf):
    r = pm.margin(pf, MARKET)
    assert math.isfinite(r.initial_margin) and r.initial_margin >= 0.0
