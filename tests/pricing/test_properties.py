"""Hypothesis property tests: no-arbitrage bounds, parity, monotonicity, round trips."""

import math
import warnings

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

# When a property fails, hypothesis' pytest plugin imports hypothesis.extra._patching -> libcst,
# which emits a DeprecationWarning (mypy_extensions.TypedDict); under the project's
# filterwarnings=error that turns a test failure into an INTERNALERROR that aborts the session.
# Pre-import it here with that warning silenced.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import hypothesis.extra._patching  # noqa: F401
    except Exception:  # libcst missing or incompatible: the plugin then skips patching
        pass

import pymargin as pm

EPS = np.finfo(float).eps
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

forward = st.floats(1e-2, 1e6)
log_moneyness = st.floats(-2.0, 2.0)
time = st.floats(1e-4, 10.0)
vol = st.floats(0.01, 3.0)
rate = st.floats(-0.05, 0.2)
div = st.floats(0.0, 0.15)
is_call = st.booleans()


def _val(x):
    return np.asarray(x).item()


@SETTINGS
@given(forward, log_moneyness, time, vol, rate)
def test_put_call_parity(F, m, T, v, r):
    K = F * math.exp(m)
    c = _val(pm.black76_price(F, K, T, v, r, True))
    p = _val(pm.black76_price(F, K, T, v, r, False))
    assert abs((c - p) - math.exp(-r * T) * (F - K)) <= 1e-13 * math.exp(-r * T) * (F + K)


@SETTINGS
@given(forward, log_moneyness, time, vol, rate, div)
def test_bsm_parity(S, m, T, v, r, q):
    K = S * math.exp(m)
    c = _val(pm.bsm_price(S, K, T, v, r, q, True))
    p = _val(pm.bsm_price(S, K, T, v, r, q, False))
    want = S * math.exp(-q * T) - K * math.exp(-r * T)
    assert abs((c - p) - want) <= 1e-13 * (S + K)


@SETTINGS
@given(forward, log_moneyness, time, vol, rate, is_call)
def test_no_arbitrage_bounds(F, m, T, v, r, call):
    K = F * math.exp(m)
    df = math.exp(-r * T)
    price = _val(pm.black76_price(F, K, T, v, r, call))
    intrinsic = df * max((F - K) if call else (K - F), 0.0)
    upper = df * (F if call else K)
    slack = 4 * EPS * df * (F + K)
    assert intrinsic - slack <= price <= upper + slack
    assert price >= 0.0


@SETTINGS
@given(forward, log_moneyness, time, st.floats(0.01, 2.0), st.floats(1.0001, 1.5), is_call)
def test_monotone_increasing_in_vol(F, m, T, v, factor, call):
    K = F * math.exp(m)
    lo = _val(pm.black76_price(F, K, T, v, 0.0, call))
    hi = _val(pm.black76_price(F, K, T, v * factor, 0.0, call))
    assert hi >= lo * (1 - 8 * EPS)


@SETTINGS
@given(forward, log_moneyness, time, vol, st.floats(1.0001, 1.5))
def test_monotone_in_strike(F, m, T, v, factor):
    K = F * math.exp(m)
    c1 = _val(pm.black76_price(F, K, T, v, 0.0, True))
    c2 = _val(pm.black76_price(F, K * factor, T, v, 0.0, True))
    p1 = _val(pm.black76_price(F, K, T, v, 0.0, False))
    p2 = _val(pm.black76_price(F, K * factor, T, v, 0.0, False))
    tol = 8 * EPS * (F + K * factor)
    assert c2 <= c1 + tol  # calls decrease in strike
    assert p2 >= p1 - tol  # puts increase in strike
    # and the slope is bounded by the discount factor (no-arbitrage): |dC/dK| <= 1
    assert c1 - c2 <= K * (factor - 1) + tol


@SETTINGS
@given(forward, log_moneyness, time, vol, st.floats(1.0001, 1.5))
def test_call_convex_in_strike(F, m, T, v, factor):
    K = F * math.exp(m)
    h = K * (factor - 1)
    a, b, c = (_val(pm.black76_price(F, k, T, v, 0.0, True)) for k in (K, K + h, K + 2 * h))
    assert a - 2 * b + c >= -16 * EPS * (F + K)


@SETTINGS
@given(forward, st.floats(-1.5, 1.5), st.floats(1e-3, 5.0), st.floats(0.02, 2.5), rate, is_call)
def test_price_iv_price_round_trip(F, m, T, v, r, call):
    K = F * math.exp(m)
    price = _val(pm.black76_price(F, K, T, v, r, call))
    g = pm.black76_greeks(F, K, T, v, r, call)
    vega = _val(g.vega)
    df = math.exp(-r * T)
    intrinsic = df * max((F - K) if call else (K - F), 0.0)
    # only where the time value is resolvable in double precision
    assume(price - intrinsic > 1e-10 * price and vega > 1e-12 * price and price > 1e-290)
    iv = _val(pm.black76_implied_vol(price, F, K, T, r, call))
    assert abs(iv - v) <= 1e-9 * v + 32 * EPS * price / vega
    again = _val(pm.black76_price(F, K, T, iv, r, call))
    h = math.log(F / K) / (v * math.sqrt(T))  # d ln V / d ln vol ~ h^2 in the wings
    assert abs(again - price) <= 64 * EPS * price * (1 + h * h)


@SETTINGS
@given(
    st.floats(1e3, 2e5), st.floats(-1.0, 1.0), st.floats(1e-3, 2.0), st.floats(0.1, 2.0), is_call
)
def test_inverse_round_trip_and_parity(F, m, T, v, call):
    K = F * math.exp(m)
    coin = _val(pm.inverse_price(F, K, T, v, 0.0, call))
    other = _val(pm.inverse_price(F, K, T, v, 0.0, not call))
    c, p = (coin, other) if call else (other, coin)
    assert abs((c - p) - (F - K) / F) <= 1e-13 * (1 + K / F)
    g = pm.inverse_greeks(F, K, T, v, 0.0, call)
    vega = _val(g.vega)
    intrinsic = max((F - K) if call else (K - F), 0.0) / F
    assume(coin - intrinsic > 1e-10 * coin and vega > 1e-12 * coin and coin > 1e-290)
    iv = _val(pm.inverse_implied_vol(coin, F, K, T, 0.0, call))
    assert abs(iv - v) <= 1e-9 * v + 32 * EPS * coin / vega


@SETTINGS
@given(forward, log_moneyness, time, vol, rate, is_call)
def test_greeks_signs(F, m, T, v, r, call):
    g = pm.black76_greeks(F, F * math.exp(m), T, v, r, call)
    assert _val(g.gamma) >= 0 and _val(g.vega) >= 0
    d = _val(g.delta)
    df = math.exp(-r * T)
    if call:
        assert -1e-15 <= d <= df * (1 + 1e-15)
    else:
        assert -df * (1 + 1e-15) <= d <= 1e-15
