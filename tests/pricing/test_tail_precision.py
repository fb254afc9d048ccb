"""Far-out-of-the-money precision against a 50-digit mpmath reference.

Bound: relative error <= 64*eps + 8*eps*(1 + h^2), h = ln(F/K)/(vol*sqrt(T)).  The h^2
term is the unavoidable conditioning of the price w.r.t. rounding of the
inputs (d ln V / d ln K ~ h^2 in the tail); 64 ulp is the budget of the batch kernels'
two-term formula, which they use only where the out-of-the-money value is at least 1/16 of
its larger term (elsewhere they switch to cancellation-free series).
"""

import math

import mpmath as mp
import numpy as np
import pytest
from scipy.special import erf, ndtr

import pymargin as pm

EPS = np.finfo(float).eps
mp.mp.dps = 50


def _N(x):
    return mp.erfc(-x / mp.sqrt(2)) / 2


def _mp_black76(F, K, T, v, r, is_call):
    F, K, T, v, r = (a if isinstance(a, mp.mpf) else mp.mpf(float(a)) for a in (F, K, T, v, r))
    s = v * mp.sqrt(T)
    d1 = (mp.log(F / K) + s * s / 2) / s
    d2 = d1 - s
    if is_call:
        val = F * _N(d1) - K * _N(d2)
    else:
        val = K * _N(-d2) - F * _N(-d1)
    return mp.exp(-r * T) * val


def _mp_vega(F, K, T, v, r):
    F, K, T, v, r = (mp.mpf(float(a)) for a in (F, K, T, v, r))
    s = v * mp.sqrt(T)
    d1 = (mp.log(F / K) + s * s / 2) / s
    return mp.exp(-r * T) * F * mp.npdf(d1) * mp.sqrt(T)


def _tail_inputs(n, seed, hmin, hmax):
    """OTM options (calls with K > F, puts with K < F) with |h| in [hmin, hmax]."""
    rng = np.random.default_rng(seed)
    T = 10 ** rng.uniform(-4, 1, n)
    v = rng.uniform(0.05, 3.0, n)
    s = v * np.sqrt(T)
    s = np.minimum(s, 3.0)
    v = s / np.sqrt(T)
    habs = rng.uniform(hmin, hmax, n)
    is_call = rng.integers(0, 2, n).astype(bool)
    h = np.where(is_call, -habs, habs)  # call OTM: F < K -> h < 0
    F = 10 ** rng.uniform(-2, 6, n)
    K = F * np.exp(-h * s)
    r = rng.uniform(-0.02, 0.1, n)
    return F, K, T, v, r, is_call


def _reference(F, K, T, v, r, cp):
    return np.array([float(_mp_black76(*a)) for a in zip(F, K, T, v, r, cp)])


def _check(got, ref, F, K, T, v, label, extra=0.0):
    h = np.log(F / K) / (v * np.sqrt(T))
    # 64 ulp for the batch kernels' cancellation budget (rows whose out-of-the-money value is
    # at least 1/16 of its larger term), plus the conditioning of the price in its inputs.
    bound = 64 * EPS + 8 * EPS * (1 + h * h) + extra
    rel = np.abs(got - ref) / ref
    bad = rel > bound
    w = int(np.argmax(rel / bound))
    assert not bad.any(), (
        f"{label}: {bad.sum()} of {len(rel)} exceed 64*eps + 8*eps*(1+h^2); worst rel={rel[w]:.3e} "
        f"= {rel[w] / bound[w]:.2f} x bound (h={h[w]:.2f}) at F={float(F[w])!r} K={float(K[w])!r} "
        f"T={float(T[w])!r} v={float(v[w])!r}"
    )


@pytest.fixture(scope="module")
def tail_set():
    F, K, T, v, r, cp = _tail_inputs(600, 123, 1.0, 37.5)
    ref = _reference(F, K, T, v, r, cp)
    keep = (ref > 1e-300) & (ref < 1e300)
    return tuple(a[keep] for a in (F, K, T, v, r, cp)) + (ref[keep],)


def test_reference_set_covers_down_to_1e_minus_300(tail_set):
    ref = tail_set[-1]
    assert ref.min() < 1e-280 and (ref < 1e-100).sum() > 100


def test_black76_tail_relative_error(tail_set):
    F, K, T, v, r, cp, ref = tail_set
    got = pm.black76_price(F, K, T, v, r, cp, threads=1)
    _check(got, ref, F, K, T, v, "black76")


def test_bsm_tail_relative_error(tail_set):
    F, K, T, v, r, cp, _ = tail_set
    q = np.full_like(F, 0.03)
    S = F * np.exp(
        -(r - q) * T
    )  # pick S so that the forward is (close to) F, then reference on the exact forward
    Fx = [
        mp.mpf(float(s)) * mp.exp((mp.mpf(float(rr)) - mp.mpf(0.03)) * mp.mpf(float(t)))
        for s, rr, t in zip(S, r, T)
    ]
    ref = np.array(
        [float(_mp_black76(f, k, t, vv, rr, c)) for f, k, t, vv, rr, c in zip(Fx, K, T, v, r, cp)]
    )
    got = pm.bsm_price(S, K, T, v, r, q, cp)
    Ff = np.array([float(f) for f in Fx])

    # bsm must form F = S*exp((r-q)T) in floating point: a relative error of ~2 eps in F is
    # amplified by the elasticity |F dV/dF / V| (large for short-dated OTM options).
    def elasticity(f, k, t, vv, rr, c):
        f, k, t, vv, rr = (mp.mpf(x) for x in (f, k, t, float(vv), float(rr)))
        sd = vv * mp.sqrt(t)
        d1 = (mp.log(f / k) + sd * sd / 2) / sd
        dv_df = mp.exp(-rr * t) * (_N(d1) if c else -_N(-d1))
        return abs(float(f * dv_df / _mp_black76(f, k, t, vv, rr, c)))

    elast = np.array(
        [
            elasticity(f, float(k), float(t), vv, rr, c)
            for f, k, t, vv, rr, c in zip(Fx, K, T, v, r, cp)
        ]
    )
    _check(got, ref, Ff, K, T, v, "bsm", extra=4 * EPS * elast)


def test_inverse_tail_relative_error(tail_set):
    F, K, T, v, r, cp, _ = tail_set
    ref = np.array(
        [
            float(_mp_black76(f, k, t, vv, 0, c) / mp.mpf(float(f)))
            for f, k, t, vv, c in zip(F, K, T, v, cp)
        ]
    )
    keep = ref > 1e-300
    got = pm.inverse_price(F, K, T, v, 0.0, cp)
    _check(got[keep], ref[keep], F[keep], K[keep], T[keep], v[keep], "inverse")


def test_scalar_tail_matches_reference(tail_set):
    F, K, T, v, r, cp, ref = tail_set
    got = np.array(
        [pm.scalar.black76_price(*map(float, a[:5]), bool(a[5])) for a in zip(F, K, T, v, r, cp)]
    )
    _check(got, ref, F, K, T, v, "scalar.black76")


@pytest.mark.parametrize(
    "F,K,T,v,is_call",
    [
        (100.0, 1e16, 1.0, 1.0, True),  # h ~ -36.8
        (1e-8, 1.0, 1.0, 5.0, True),  # tiny forward, h ~ -3.7
        (1e5, 1e-2, 1.0, 0.5, False),  # deep OTM put, h ~ 32
        (100.0, 110.0, 1e-4, 0.3, True),  # ~50 minutes, h ~ -32
        (1.0, 1.0 + 1e-12, 1e-12, 0.2, True),  # essentially ATM, tiny T
    ],
)
def test_extreme_single_inputs(F, K, T, v, is_call):
    ref = float(_mp_black76(F, K, T, v, 0.0, is_call))
    got = np.asarray(pm.black76_price(F, K, T, v, 0.0, is_call)).item()
    h = math.log(F / K) / (v * math.sqrt(T))
    assert ref > 1e-300
    assert abs(got - ref) <= 8 * EPS * (1 + h * h) * ref, (got, ref)


def test_random_moderate_inputs_full_precision():
    rng = np.random.default_rng(99)
    n = 500
    F = rng.uniform(1, 1000, n)
    K = F * np.exp(rng.uniform(-1, 1, n))
    T = rng.uniform(0.01, 5, n)
    v = rng.uniform(0.05, 1.5, n)
    r = rng.uniform(-0.01, 0.1, n)
    cp = rng.integers(0, 2, n).astype(bool)
    ref = _reference(F, K, T, v, r, cp)
    got = pm.black76_price(F, K, T, v, r, cp)
    _check(got, ref, F, K, T, v, "moderate")


def test_textbook_numpy_formula_fails_in_the_tail(tail_set):
    """Documentation of *why* the tail matters: what users typically write.

    * with erf (0.5*(1+erf(x/sqrt2))) the result is exactly 0 (or 100 % wrong)
      once the price is below ~1e-17 of the forward;
    * with scipy.special.ndtr the subtraction F*N(d1) - K*N(d2) cancels and
      misses the bound on many points.
    """
    F, K, T, v, r, cp, ref = tail_set
    s = v * np.sqrt(T)
    d1 = np.log(F / K) / s + s / 2
    d2 = d1 - s
    df = np.exp(-r * T)
    sign = np.where(cp, 1.0, -1.0)

    def cdf_erf(x):
        return 0.5 * (1 + erf(x / np.sqrt(2)))

    naive_erf = df * sign * (F * cdf_erf(sign * d1) - K * cdf_erf(sign * d2))
    tiny = ref / F < 1e-20
    assert tiny.sum() > 50
    assert np.mean(naive_erf[tiny] == 0.0) > 0.9  # a zero price for (nearly) every deep-tail point
    assert np.all(np.abs(naive_erf[tiny] - ref[tiny]) >= 0.99 * ref[tiny])  # and never a right one

    naive_ndtr = df * sign * (F * ndtr(sign * d1) - K * ndtr(sign * d2))
    h = np.log(F / K) / s
    rel = np.abs(naive_ndtr - ref) / ref
    assert np.any(rel > 8 * EPS * (1 + h * h))
    # while pymargin meets it everywhere (asserted in test_black76_tail_relative_error)


# ------------------------------------------------------------ implied vol in extreme regimes
def _iv_roundtrip(F, K, T, v, is_call, r=0.0):
    price = _mp_black76(F, K, T, v, r, is_call)
    p = float(price)
    assert p > 0
    iv = np.asarray(pm.black76_implied_vol(p, F, K, T, r, is_call)).item()
    # conditioning: |dv| <~ (rounding of p) / vega; allow 16 ulps of p plus 1e-12 relative
    vega = float(_mp_vega(F, K, T, v, r))
    tol = 16 * EPS * p / vega + 1e-12 * v
    assert abs(iv - v) <= tol, (iv, v, tol)
    return iv


@pytest.mark.parametrize(
    "F,K,T,v,is_call",
    [
        (100.0, 1e12, 1.0, 1.0, True),  # deep OTM call, price ~1e-150
        (100.0, 1e15, 1.0, 1.0, True),  # price ~1e-250
        (1e4, 1e-3, 0.5, 0.8, False),  # deep OTM put
        (100.0, 101.0, 1e-6, 0.3, True),  # half a minute to expiry
        (100.0, 99.9, 1e-7, 0.5, False),
        (100.0, 100.0, 1e-10, 0.2, True),  # ATM, tiny T
        (100.0, 130.0, 1.0, 5.0, True),  # very high vol (s = 5)
        (100.0, 70.0, 2.0, 3.0, False),
        (9000.0, 36000.0, 0.6, 1.8, True),  # BTC-like wing
    ],
)
def test_implied_vol_extreme_round_trip(F, K, T, v, is_call):
    _iv_roundtrip(F, K, T, v, is_call)


def test_implied_vol_extreme_random_batch():
    F, K, T, v, r, cp = _tail_inputs(200, 7, 0.0, 30.0)
    p = _reference(F, K, T, v, r, cp)
    keep = (p > 1e-290) & (v * np.sqrt(T) < 4)
    F, K, T, v, r, cp, p = (a[keep] for a in (F, K, T, v, r, cp, p))
    iv = pm.black76_implied_vol(p, F, K, T, r, cp)
    vega = np.array([float(_mp_vega(*a)) for a in zip(F, K, T, v, r)])
    tol = 16 * EPS * p / vega + 1e-12 * v
    assert np.all(np.abs(iv - v) <= tol), np.max(np.abs(iv - v) / tol)
    # inverse: coin prices
    pc = p * np.exp(r * T) / F
    ivc = pm.inverse_implied_vol(pc, F, K, T, 0.0, cp)
    assert np.all(np.abs(ivc - v) <= tol + 16 * EPS * v)
