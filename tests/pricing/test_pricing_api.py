"""API-contract tests for pymargin's batch pricing functions.

Expected values come from an independent numpy/scipy textbook implementation
(``_ref_black76`` / ``_ref_bsm`` below) in moderate regimes where it is
accurate to ~1e-14 relative, never from pymargin itself -- except in clearly
labelled consistency tests (threads, out=, finite differences of pymargin's
own price, parity).
"""

import math

import numpy as np
import pytest
from scipy.special import ndtr

import pymargin as pm

RTOL = 1e-12


# ---------------------------------------------------------------- reference
def _ref_black76(F, K, T, v, r, is_call):
    F, K, T, v, r, is_call = np.broadcast_arrays(
        *(np.asarray(a, dtype=float) for a in (F, K, T, v, r)), np.asarray(is_call, dtype=bool)
    )
    s = v * np.sqrt(T)
    d1 = (np.log(F / K) + 0.5 * s * s) / s
    d2 = d1 - s
    df = np.exp(-r * T)
    call = df * (F * ndtr(d1) - K * ndtr(d2))
    put = df * (K * ndtr(-d2) - F * ndtr(-d1))
    return np.where(is_call, call, put)


def _ref_bsm(S, K, T, v, r, q, is_call):
    S, T, r, q = (np.asarray(a, dtype=float) for a in (S, T, r, q))
    F = S * np.exp((r - q) * T)
    return _ref_black76(F, K, T, v, r, is_call)


def _grid(n=64, seed=1):
    rng = np.random.default_rng(seed)
    F = rng.uniform(50.0, 150.0, n)
    K = F * np.exp(rng.uniform(-0.4, 0.4, n))
    T = rng.uniform(0.05, 2.0, n)
    v = rng.uniform(0.1, 0.9, n)
    r = rng.uniform(-0.01, 0.08, n)
    q = rng.uniform(0.0, 0.05, n)
    cp = rng.integers(0, 2, n).astype(bool)
    return F, K, T, v, r, q, cp


# ---------------------------------------------------------------- basics
def test_option_type_enum():
    assert int(pm.OptionType.CALL) == 1
    assert int(pm.OptionType.PUT) == 0
    assert pm.OptionType.CALL == 1 and pm.OptionType.PUT == 0


def test_simd_level():
    assert pm.simd_level() in {"avx512", "avx2", "sse2", "scalar"}


def test_exception_hierarchy():
    assert issubclass(pm.PymarginError, Exception)
    assert issubclass(pm.InvalidInputError, pm.PymarginError)
    assert issubclass(pm.InvalidInputError, ValueError)
    assert issubclass(pm.NoSolutionError, pm.InvalidInputError)
    assert issubclass(pm.InputTypeError, pm.PymarginError)
    assert issubclass(pm.InputTypeError, TypeError)


@pytest.mark.parametrize("fn", ["black76", "bsm", "inverse"])
def test_values_match_textbook_formula(fn):
    F, K, T, v, r, q, cp = _grid(200)
    if fn == "black76":
        got = pm.black76_price(F, K, T, v, r, cp)
        want = _ref_black76(F, K, T, v, r, cp)
    elif fn == "bsm":
        got = pm.bsm_price(F, K, T, v, r, q, cp)
        want = _ref_bsm(F, K, T, v, r, q, cp)
    else:
        got = pm.inverse_price(F, K, T, v, r, cp)
        want = _ref_black76(F, K, T, v, r, cp) / F
    assert isinstance(got, np.ndarray) and got.dtype == np.float64
    np.testing.assert_allclose(got, want, rtol=1e-11, atol=0)


def test_scalar_inputs_return_0d_array_and_scalar_module_floats():
    got = pm.black76_price(100.0, 110.0, 0.5, 0.3, 0.02, pm.OptionType.CALL)
    assert isinstance(got, np.ndarray) and got.shape == ()
    want = float(_ref_black76(100.0, 110.0, 0.5, 0.3, 0.02, True))
    assert math.isclose(float(got), want, rel_tol=RTOL)
    s = pm.scalar.black76_price(100.0, 110.0, 0.5, 0.3, 0.02, True)
    assert isinstance(s, float) and math.isclose(s, want, rel_tol=RTOL)
    s2 = pm.scalar.bsm_price(100.0, 110.0, 0.5, 0.3, 0.02, 0.01, False)
    assert math.isclose(
        s2, float(_ref_bsm(100.0, 110.0, 0.5, 0.3, 0.02, 0.01, False)), rel_tol=RTOL
    )
    s3 = pm.scalar.inverse_price(100.0, 110.0, 0.5, 0.3, 0.0, True)
    assert math.isclose(s3, want / 100.0 * math.exp(0.02 * 0.5), rel_tol=1e-11)
    g = pm.scalar.black76_greeks(100.0, 110.0, 0.5, 0.3, 0.02, True)
    assert isinstance(g, tuple) and len(g) == 9 and all(isinstance(x, float) for x in g)
    assert math.isclose(g[0], want, rel_tol=RTOL)
    iv = pm.scalar.black76_implied_vol(want, 100.0, 110.0, 0.5, 0.02, True)
    assert isinstance(iv, float) and math.isclose(iv, 0.3, rel_tol=1e-10)


def test_scalar_greeks_equal_batch_greeks():
    F, K, T, v, r, q, cp = _grid(16)
    g = pm.black76_greeks(F, K, T, v, r, cp)
    fields = ("price", "delta", "delta_forward", "gamma", "vega", "theta", "rho", "vanna", "volga")
    for i in range(len(F)):
        tup = pm.scalar.black76_greeks(F[i], K[i], T[i], v[i], r[i], bool(cp[i]))
        for name, x in zip(fields, tup):
            assert math.isclose(x, getattr(g, name)[i], rel_tol=1e-13, abs_tol=1e-300), name


# ---------------------------------------------------------------- broadcasting / shapes
def test_broadcasting_shapes():
    F = np.array([90.0, 100.0, 110.0])[:, None]  # (3,1)
    K = np.array([95.0, 100.0, 105.0, 120.0])  # (4,)
    got = pm.black76_price(F, K, 1.0, 0.25)
    assert got.shape == (3, 4)
    np.testing.assert_allclose(got, _ref_black76(F, K, 1.0, 0.25, 0.0, True), rtol=RTOL)
    g = pm.black76_greeks(F, K, 1.0, 0.25)
    for name in (
        "price",
        "delta",
        "delta_forward",
        "gamma",
        "vega",
        "theta",
        "rho",
        "vanna",
        "volga",
    ):
        assert getattr(g, name).shape == (3, 4), name


def test_lists_and_python_scalars_accepted():
    got = pm.bsm_price([100.0, 101.0], 100.0, [0.5, 1.0], 0.2, 0.01, 0.0, True)
    assert got.shape == (2,)
    np.testing.assert_allclose(
        got, _ref_bsm([100.0, 101.0], 100.0, [0.5, 1.0], 0.2, 0.01, 0.0, True), rtol=RTOL
    )


def test_3d_broadcast_and_default_option_type_is_call():
    F = np.full((2, 1, 3), 100.0)
    T = np.array([0.25, 0.5])[:, None, None]
    v = np.array([[0.2], [0.3]])  # (2,1)
    got = pm.black76_price(F, 105.0, T, v)
    assert got.shape == (2, 2, 3)
    np.testing.assert_allclose(got, _ref_black76(F, 105.0, T, v, 0.0, True), rtol=RTOL)


def test_mismatched_shapes_raise_value_error():
    with pytest.raises(ValueError):
        pm.black76_price(np.ones(3) * 100, np.ones(4) * 100, 1.0, 0.2)
    with pytest.raises(pm.InvalidInputError):
        pm.black76_price(np.ones(3) * 100, np.ones(4) * 100, 1.0, 0.2)


# ---------------------------------------------------------------- dtype errors
@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.int32])
def test_wrong_numpy_dtype_raises_input_type_error(dtype):
    F = np.array([100, 101, 102], dtype=dtype)
    with pytest.raises(pm.InputTypeError):
        pm.black76_price(F, 100.0, 1.0, 0.2)
    with pytest.raises(TypeError):
        pm.black76_price(100.0, 100.0, 1.0, np.array([0.2, 0.3], dtype=np.float32))


# ---------------------------------------------------------------- out=
def test_out_written_in_place_and_returned():
    F, K, T, v, r, q, cp = _grid(50)
    out = np.full(50, -1.0)
    res = pm.black76_price(F, K, T, v, r, cp, out=out)
    assert np.shares_memory(res, out)
    np.testing.assert_allclose(out, _ref_black76(F, K, T, v, r, cp), rtol=1e-11)
    out2 = np.full(50, -1.0)
    res2 = pm.inverse_implied_vol(out / F, F, K, T, r, cp, out=out2)
    assert np.shares_memory(res2, out2)
    np.testing.assert_allclose(out2, v, rtol=1e-9)


def test_out_2d_broadcast_shape():
    out = np.zeros((3, 4))
    res = pm.bsm_price(
        np.array([[90.0], [100.0], [110.0]]), np.array([80.0, 95, 105, 120]), 1.0, 0.3, out=out
    )
    assert np.shares_memory(res, out) and res.shape == (3, 4)
    assert np.all(out > 0)


@pytest.mark.parametrize(
    "bad_out",
    [
        np.zeros(5, dtype=np.float32),  # wrong dtype
        np.zeros(4),  # wrong shape
        np.zeros(10)[::2],  # right shape, not contiguous
        np.zeros((5, 1)),  # wrong ndim
    ],
    ids=["float32", "shape", "noncontig", "ndim"],
)
def test_bad_out_raises_input_type_error(bad_out):
    before = bad_out.copy()
    with pytest.raises(pm.InputTypeError):
        pm.black76_price(np.full(5, 100.0), 100.0, 1.0, 0.2, out=bad_out)
    np.testing.assert_array_equal(bad_out, before)


# ---------------------------------------------------------------- option_type forms
def test_option_type_forms_are_equivalent():
    F, K, T, v, r, _, cp = _grid(40)
    want = _ref_black76(F, K, T, v, r, cp)
    forms = [cp, cp.astype(np.int64), cp.astype(np.int32), cp.astype(np.uint8), cp.astype(np.int8)]
    for form in forms:
        np.testing.assert_allclose(
            pm.black76_price(F, K, T, v, r, form), want, rtol=1e-11, err_msg=str(form.dtype)
        )
    call = pm.black76_price(F, K, T, v, r, pm.OptionType.CALL)
    np.testing.assert_array_equal(call, pm.black76_price(F, K, T, v, r, True))
    put = pm.black76_price(F, K, T, v, r, pm.OptionType.PUT)
    np.testing.assert_array_equal(put, pm.black76_price(F, K, T, v, r, False))
    np.testing.assert_allclose(put, _ref_black76(F, K, T, v, r, False), rtol=1e-11)
    np.testing.assert_array_equal(call, pm.black76_price(F, K, T, v, r, np.True_))


def test_option_type_integer_array_not_0_or_1_rejected():
    with pytest.raises(pm.InvalidInputError) as ei:
        pm.black76_price(np.full(4, 100.0), 100.0, 1.0, 0.2, 0.0, np.array([1, 0, 2, 1]))
    assert ei.value.field == "option_type"
    assert ei.value.index == 2


# ---------------------------------------------------------------- threads
@pytest.mark.parametrize("kind", ["black76", "bsm", "inverse"])
def test_threads_1_and_2_bitwise_identical(kind):
    rng = np.random.default_rng(7)
    n = 200_003  # odd size: exercises the SIMD tail and uneven chunking
    F = rng.uniform(10, 1000, n)
    K = F * np.exp(rng.uniform(-1, 1, n))
    T = rng.uniform(1e-4, 3, n)
    v = rng.uniform(0.05, 2.0, n)
    cp = rng.integers(0, 2, n).astype(bool)
    f = getattr(pm, kind + "_price")
    g = getattr(pm, kind + "_greeks")
    args = (F, K, T, v, 0.01) + ((0.005,) if kind == "bsm" else ()) + (cp,)
    p1, p2, pn = f(*args, threads=1), f(*args, threads=2), f(*args, threads=None)
    np.testing.assert_array_equal(p1, p2)
    np.testing.assert_array_equal(p1, pn)
    g1, g2 = g(*args, threads=1), g(*args, threads=2)
    for name in (
        "price",
        "delta",
        "delta_forward",
        "gamma",
        "vega",
        "theta",
        "rho",
        "vanna",
        "volga",
    ):
        np.testing.assert_array_equal(getattr(g1, name), getattr(g2, name), err_msg=name)
    ivf = getattr(pm, kind + "_implied_vol")
    iv_args = (p1,) + args[:3] + args[4:]
    np.testing.assert_array_equal(ivf(*iv_args, threads=1), ivf(*iv_args, threads=2))


# ---------------------------------------------------------------- Greeks
def test_greeks_properties():
    F, K, T, v, r, _, cp = _grid(30)
    g = pm.black76_greeks(F, K, T, v, r, cp)
    np.testing.assert_allclose(g.vega_per_point, g.vega / 100.0, rtol=1e-15)
    np.testing.assert_allclose(g.theta_per_day, g.theta / 365.0, rtol=1e-15)
    np.testing.assert_allclose(g.price, _ref_black76(F, K, T, v, r, cp), rtol=1e-11)
    # Black-76: delta_forward equals delta (dV/dF); vega > 0; gamma > 0
    np.testing.assert_allclose(g.delta_forward, g.delta, rtol=1e-14)
    assert np.all(g.vega > 0) and np.all(g.gamma > 0)


def _fd_check(price_fn, greeks, base, bumps, rtol, atol):
    """Central finite differences of pymargin's own price (consistency test)."""
    for field, (arg, h, order, sign) in bumps.items():
        up = dict(base)
        dn = dict(base)
        hh = h * np.maximum(np.abs(base[arg]), 1.0) if arg in ("F", "S") else h
        up[arg] = base[arg] + hh
        dn[arg] = base[arg] - hh
        if order == 1:
            fd = (price_fn(**up) - price_fn(**dn)) / (2 * hh)
        else:
            fd = (price_fn(**up) - 2 * price_fn(**base) + price_fn(**dn)) / (hh * hh)
        np.testing.assert_allclose(
            sign * getattr(greeks, field), fd, rtol=rtol, atol=atol, err_msg=field
        )


def _grid_fd():
    F, K, T, v, r, q, cp = _grid(300, seed=11)
    return F, K, T, v, r, q, cp


def test_black76_greeks_vs_finite_differences():
    F, K, T, v, r, _, cp = _grid_fd()

    def price(F, K, T, v, r, cp):
        return pm.black76_price(F, K, T, v, r, cp)

    def delta(F, K, T, v, r, cp):
        return pm.black76_greeks(F, K, T, v, r, cp).delta

    base = dict(F=F, K=K, T=T, v=v, r=r, cp=cp)
    g = pm.black76_greeks(F, K, T, v, r, cp)
    bumps = {
        "delta": ("F", 1e-5, 1, 1),
        "vega": ("v", 1e-5, 1, 1),
        "theta": ("T", 1e-6, 1, -1),  # theta = -dV/dT
        "rho": ("r", 1e-6, 1, 1),
    }
    _fd_check(price, g, base, bumps, rtol=1e-6, atol=1e-8)
    _fd_check(price, g, base, {"gamma": ("F", 1e-4, 2, 1)}, rtol=2e-4, atol=1e-7)
    _fd_check(price, g, base, {"volga": ("v", 1e-4, 2, 1)}, rtol=1e-4, atol=1e-5)
    _fd_check(delta, g, base, {"vanna": ("v", 1e-5, 1, 1)}, rtol=1e-6, atol=1e-8)
    # rho of Black-76 is -T*V (discounting only)
    np.testing.assert_allclose(g.rho, -T * g.price, rtol=1e-12, atol=1e-300)


def test_bsm_greeks_vs_finite_differences():
    S, K, T, v, r, q, cp = _grid_fd()

    def price(S, K, T, v, r, q, cp):
        return pm.bsm_price(S, K, T, v, r, q, cp)

    def delta(S, K, T, v, r, q, cp):
        return pm.bsm_greeks(S, K, T, v, r, q, cp).delta

    base = dict(S=S, K=K, T=T, v=v, r=r, q=q, cp=cp)
    g = pm.bsm_greeks(S, K, T, v, r, q, cp)
    bumps = {
        "delta": ("S", 1e-5, 1, 1),
        "vega": ("v", 1e-5, 1, 1),
        "theta": ("T", 1e-6, 1, -1),
        "rho": ("r", 1e-6, 1, 1),  # q held fixed
    }
    _fd_check(price, g, base, bumps, rtol=1e-6, atol=1e-8)
    _fd_check(price, g, base, {"gamma": ("S", 1e-4, 2, 1)}, rtol=2e-4, atol=1e-7)
    _fd_check(price, g, base, {"volga": ("v", 1e-4, 2, 1)}, rtol=1e-4, atol=1e-5)
    _fd_check(delta, g, base, {"vanna": ("v", 1e-5, 1, 1)}, rtol=1e-6, atol=1e-8)
    # delta_forward = dV/dF with F = S e^{(r-q)T}
    np.testing.assert_allclose(g.delta_forward, g.delta * np.exp(-(r - q) * T), rtol=1e-12)


def test_inverse_greeks_vs_finite_differences():
    F, K, T, v, r, _, cp = _grid_fd()
    F = F * 600.0  # BTC-like levels
    K = K * 600.0
    r = np.zeros_like(r)

    def price(F, K, T, v, r, cp):
        return pm.inverse_price(F, K, T, v, r, cp)

    def usd(F, K, T, v, r, cp):
        return pm.black76_price(F, K, T, v, r, cp)

    def coin_delta(F, K, T, v, r, cp):
        return pm.inverse_greeks(F, K, T, v, r, cp).delta

    base = dict(F=F, K=K, T=T, v=v, r=r, cp=cp)
    g = pm.inverse_greeks(F, K, T, v, r, cp)
    gu = pm.black76_greeks(F, K, T, v, r, cp)
    np.testing.assert_allclose(g.price, _ref_black76(F, K, T, v, r, cp) / F, rtol=1e-11)
    # Deribit convention: coin delta = USD delta - coin price; it is F * d(coin price)/dF
    np.testing.assert_allclose(g.delta_forward, gu.delta, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(g.delta, gu.delta - g.price, rtol=1e-11, atol=1e-13)
    hh = 1e-5 * F
    fd_coin = (price(**{**base, "F": F + hh}) - price(**{**base, "F": F - hh})) / (2 * hh)
    np.testing.assert_allclose(g.delta, F * fd_coin, rtol=1e-6, atol=1e-8)
    fd_usd = (usd(**{**base, "F": F + hh}) - usd(**{**base, "F": F - hh})) / (2 * hh)
    np.testing.assert_allclose(g.delta_forward, fd_usd, rtol=1e-6, atol=1e-8)
    # gamma = d(coin delta)/dF
    fd_g = (coin_delta(**{**base, "F": F + hh}) - coin_delta(**{**base, "F": F - hh})) / (2 * hh)
    np.testing.assert_allclose(g.gamma, fd_g, rtol=1e-5, atol=1e-12)
    # vanna = d(coin delta)/dvol
    fd_va = (coin_delta(**{**base, "v": v + 1e-5}) - coin_delta(**{**base, "v": v - 1e-5})) / 2e-5
    np.testing.assert_allclose(g.vanna, fd_va, rtol=1e-6, atol=1e-8)
    # vega/theta/rho/volga are USD values / F
    for name in ("vega", "theta", "rho", "volga"):
        np.testing.assert_allclose(
            getattr(g, name), getattr(gu, name) / F, rtol=1e-12, atol=1e-300, err_msg=name
        )
    fd_vega = (price(**{**base, "v": v + 1e-5}) - price(**{**base, "v": v - 1e-5})) / 2e-5
    np.testing.assert_allclose(g.vega, fd_vega, rtol=1e-6, atol=1e-10)


# ---------------------------------------------------------------- parity / edge values
def test_put_call_parity_black76_bsm_inverse():
    F, K, T, v, r, q, _ = _grid(500, seed=3)
    c = pm.black76_price(F, K, T, v, r, True)
    p = pm.black76_price(F, K, T, v, r, False)
    assert np.all(np.abs((c - p) - np.exp(-r * T) * (F - K)) <= 1e-12 * (F + K))
    c = pm.bsm_price(F, K, T, v, r, q, True)
    p = pm.bsm_price(F, K, T, v, r, q, False)
    assert np.all(np.abs((c - p) - (F * np.exp(-q * T) - K * np.exp(-r * T))) <= 1e-12 * (F + K))
    c = pm.inverse_price(F, K, T, v, 0.0, True)
    p = pm.inverse_price(F, K, T, v, 0.0, False)
    np.testing.assert_allclose(c - p, (F - K) / F, rtol=1e-11, atol=1e-12)


def test_zero_time_or_zero_vol_gives_discounted_intrinsic():
    F = np.array([90.0, 100.0, 110.0, 90.0, 100.0, 110.0])
    K = 100.0
    cp = np.array([True, True, True, False, False, False])
    intrinsic = np.where(cp, np.maximum(F - K, 0), np.maximum(K - F, 0))
    np.testing.assert_array_equal(pm.black76_price(F, K, 0.0, 0.3, 0.05, cp), intrinsic)
    got = pm.black76_price(F, K, 1.0, 0.0, 0.05, cp)
    np.testing.assert_allclose(got, math.exp(-0.05) * intrinsic, rtol=1e-15, atol=0)
    np.testing.assert_allclose(
        pm.inverse_price(F, K, 0.0, 0.7, 0.0, cp), intrinsic / F, rtol=1e-15, atol=0
    )


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "field,bad",
    [
        ("vol", np.nan),
        ("vol", -0.1),
        ("vol", np.inf),
        ("strike", 0.0),
        ("strike", -1.0),
        ("forward", 0.0),
        ("forward", np.nan),
        ("time", -1e-9),
        ("rate", np.nan),
    ],
)
def test_invalid_input_names_field_and_index_and_leaves_out_untouched(field, bad):
    n = 8
    args = dict(
        forward=np.full(n, 100.0),
        strike=np.full(n, 100.0),
        time=np.full(n, 0.5),
        vol=np.full(n, 0.3),
        rate=np.full(n, 0.01),
    )
    args[field] = args[field].copy()
    args[field][3] = bad
    args[field][6] = bad  # first bad flat row is 3
    out = np.full(n, 42.0)
    with pytest.raises(pm.InvalidInputError) as ei:
        pm.black76_price(
            args["forward"], args["strike"], args["time"], args["vol"], args["rate"], True, out=out
        )
    assert ei.value.field == field
    assert ei.value.index == 3
    assert isinstance(ei.value, ValueError)
    np.testing.assert_array_equal(out, 42.0)


def test_invalid_bsm_spot_and_dividend_fields():
    with pytest.raises(pm.InvalidInputError) as ei:
        pm.bsm_price(np.array([100.0, -5.0]), 100.0, 1.0, 0.2)
    assert ei.value.field == "spot" and ei.value.index == 1
    with pytest.raises(pm.InvalidInputError) as ei:
        pm.bsm_price(100.0, 100.0, 1.0, 0.2, 0.0, np.array([0.0, 0.0, np.inf]))
    assert ei.value.field == "dividend" and ei.value.index == 2


def test_error_index_is_flat_broadcast_row():
    vol = np.full((2, 3), 0.2)
    vol[1, 1] = np.nan  # flat index 4
    with pytest.raises(pm.InvalidInputError) as ei:
        pm.black76_price(np.full((2, 3), 100.0), 100.0, 1.0, vol)
    assert ei.value.field == "vol" and ei.value.index == 4


def test_greeks_and_iv_validate_inputs_too():
    with pytest.raises(pm.InvalidInputError) as ei:
        pm.inverse_greeks(np.array([1e4, 1e4]), np.array([1e4, np.nan]), 0.1, 0.5)
    assert ei.value.field == "strike" and ei.value.index == 1
    with pytest.raises(pm.InvalidInputError) as ei:
        pm.black76_implied_vol(np.array([5.0, np.nan]), 100.0, 100.0, 1.0)
    assert ei.value.field == "price" and ei.value.index == 1


def test_implied_vol_no_solution():
    out = np.full(3, 7.0)
    # index 1: call price below intrinsic (F-K = 10, undiscounted r=0)
    with pytest.raises(pm.NoSolutionError) as ei:
        pm.black76_implied_vol(
            np.array([5.0, 9.0, 5.0]), np.array([100.0, 110.0, 100.0]), 100.0, 1.0, out=out
        )
    assert ei.value.index == 1 and ei.value.field == "price"
    np.testing.assert_array_equal(out, 7.0)
    # call price at the upper bound (= discounted forward) has no finite vol
    with pytest.raises(pm.NoSolutionError):
        pm.black76_implied_vol(100.0, 100.0, 90.0, 1.0)
    # coin call price >= 1 has no solution
    with pytest.raises(pm.NoSolutionError):
        pm.inverse_implied_vol(1.0, 50000.0, 40000.0, 0.5)
    assert issubclass(pm.NoSolutionError, ValueError)


@pytest.mark.parametrize("kind", ["black76", "bsm", "inverse"])
def test_implied_vol_round_trip_batch(kind):
    F, K, T, v, r, q, cp = _grid(400, seed=5)
    if kind == "black76":
        p = _ref_black76(F, K, T, v, r, cp)
        iv = pm.black76_implied_vol(p, F, K, T, r, cp)
    elif kind == "bsm":
        p = _ref_bsm(F, K, T, v, r, q, cp)
        iv = pm.bsm_implied_vol(p, F, K, T, r, q, cp)
    else:
        p = _ref_black76(F, K, T, v, 0.0, cp) / F
        iv = pm.inverse_implied_vol(p, F, K, T, 0.0, cp)
    # conditioning: an ulp-level error in p moves vol by ~eps*p/vega (large deep ITM)
    s = v * np.sqrt(T)
    d1 = np.log(F / K) / s + s / 2
    fwd = F * np.exp((r - q) * T) if kind == "bsm" else F
    d1 = np.log(fwd / K) / s + s / 2
    vega = np.exp(-r * T) * fwd * np.exp(-0.5 * d1 * d1) / np.sqrt(2 * np.pi) * np.sqrt(T)
    if kind == "inverse":
        vega = F * np.exp(-0.5 * d1 * d1) / np.sqrt(2 * np.pi) * np.sqrt(T) / F
    tol = 1e-10 * v + 16 * np.finfo(float).eps * p / vega
    assert np.all(np.abs(iv - v) <= tol), np.max(np.abs(iv - v) / tol)


def test_greek_selection_and_out_arrays_are_used_in_place():
    K = np.array([80.0, 100.0, 125.0])
    full = pm.black76_greeks(100.0, K, 0.5, 0.4, 0.01)
    which = pm.Greek.PRICE | pm.Greek.GAMMA | pm.Greek.VANNA
    part = pm.black76_greeks(100.0, K, 0.5, 0.4, 0.01, which=which)
    assert part.delta is None and part.vega is None and part.vega_per_point is None
    np.testing.assert_array_equal(part.price, full.price)
    np.testing.assert_array_equal(part.gamma, full.gamma)
    np.testing.assert_array_equal(part.vanna, full.vanna)
    bufs = pm.Greeks(
        *(
            np.full(3, -1.0) if name in ("price", "theta") else None
            for name in (
                "price",
                "delta",
                "delta_forward",
                "gamma",
                "vega",
                "theta",
                "rho",
                "vanna",
                "volga",
            )
        )
    )
    got = pm.black76_greeks(
        100.0, K, 0.5, 0.4, 0.01, which=pm.Greek.PRICE | pm.Greek.THETA, out=bufs
    )
    assert np.shares_memory(got.price, bufs.price) and np.shares_memory(got.theta, bufs.theta)
    np.testing.assert_array_equal(bufs.theta, full.theta)
    with pytest.raises(pm.InputTypeError) as e:
        pm.black76_greeks(100.0, K, 0.5, 0.4, which=pm.Greek.DELTA, out=bufs)  # no delta buffer
    assert e.value.field == "out.delta"
    with pytest.raises(pm.InputTypeError):
        pm.black76_greeks(100.0, K, 0.5, 0.4, which=3)


def test_scalar_fast_calls_equal_their_checked_binding_for_every_argument_form():
    # pm.scalar's calls take positional floats/ints and a bool without pybind11's dispatch;
    # keywords, other number types and refused inputs go to the checked binding (`_name`).
    s = pm.scalar
    fwd = ("black76_price", "black76_greeks", "inverse_price", "inverse_greeks")
    spot = ("bsm_price", "bsm_greeks")
    for name in fwd + spot:
        fast, checked = getattr(s, name), getattr(s, "_" + name)
        extra = (0.01, 0.02) if name in spot else (0.01,)
        for call in (True, False):
            args = (100.0, 105, 0.5, 0.3, *extra, call)
            assert fast(*args) == checked(*args)
        assert fast(100.0, 105.0, 0.5, 0.3) == checked(100.0, 105.0, 0.5, 0.3)
        assert fast(np.float64(100.0), 105.0, 0.5, 0.3) == checked(100.0, 105.0, 0.5, 0.3)
        kw = {"strike": 105.0, "time": 0.5, "vol": 0.3, "is_call": False}
        first = {"spot": 100.0} if name in spot else {"forward": 100.0}
        assert fast(**first, **kw) == checked(**first, **kw)
        with pytest.raises(pm.InvalidInputError):
            fast(-1.0, 105.0, 0.5, 0.3)
        with pytest.raises(pm.InvalidInputError):
            fast(100.0, 105.0, 0.5, float("nan"))
        with pytest.raises(TypeError):
            fast(100.0, 105.0, 0.5)
        with pytest.raises(TypeError):
            fast("100", 105.0, 0.5, 0.3)


def test_revalue_from_plain_arrays_is_the_table_path_and_checks_its_inputs():
    # pm.revalue: the grid kernel on plain arrays (no instrument table), the same numbers as
    # the market table's risk arrays of the same instruments.
    from pymargin.market.bundled import demo_market
    from pymargin.models.deribit_pm import DeribitPMParams, pair_scenarios
    from pymargin.risk.revaluation import risk_arrays_for_rows

    m = demo_market()
    p = DeribitPMParams.load("2024-06-17")
    scen = pair_scenarios("BTC_USD", p.pairs["btc_usd"], p.buckets_count)
    names = [n for n in m.marks if n.startswith("BTC-26DEC25")][:60] + ["BTC-PERPETUAL"]
    t = m.table
    rows = t.rows(names)
    col = t.column
    want = risk_arrays_for_rows(m, rows, scen)
    kw = dict(
        strike=col("strike")[rows],
        forward=col("forward")[rows],
        vol=col("vol")[rows],
        time=col("time")[rows],
        rate=col("rate")[rows],
        is_call=col("is_call")[rows],
        kind=col("kind")[rows],
        settlement=col("settlement")[rows],
    )
    got = pm.revalue(scen, **kw)
    np.testing.assert_array_equal(got, want)
    out = np.full_like(want, 7.0)
    assert pm.revalue(scen, **kw, out=out, threads=2) is out
    np.testing.assert_array_equal(out, want)
    # scalars broadcast: one inverse call at three strikes
    three = pm.revalue(
        scen,
        strike=[80e3, 90e3, 100e3],
        forward=90e3,
        vol=0.5,
        time=0.1,
        is_call=True,
        settlement=pm.Settlement.INVERSE,
    )
    assert three.shape == (3, scen.n) and (np.diff(three[:, 0]) != 0).all()
    bad = dict(kw, vol=np.where(np.arange(len(rows)) == 5, -0.1, kw["vol"]))
    out[:] = 7.0
    with pytest.raises(pm.InvalidInputError) as e:
        pm.revalue(scen, **bad, out=out)
    assert (e.value.field, e.value.index) == ("vol", 5)
    assert (out == 7.0).all()  # nothing written
    with pytest.raises(pm.InputTypeError):
        pm.revalue(scen, **dict(kw, kind=np.full(len(rows), 3.0)))
    with pytest.raises(pm.InputTypeError):
        pm.revalue(scen, **kw, out=np.empty((2, 2)))
    with pytest.raises(pm.InvalidInputError):
        pm.revalue(scen, **dict(kw, strike=[1.0, 2.0]))
    # an out= whose memory an input shares: the inputs are read as they were
    shared = np.empty((len(rows), scen.n))
    head = shared.reshape(-1)[: len(rows)]  # a contiguous view of out's first cells
    head[:] = kw["strike"]
    alias = dict(kw, strike=head)
    got = pm.revalue(scen, **alias, out=shared)
    np.testing.assert_array_equal(got, want)
