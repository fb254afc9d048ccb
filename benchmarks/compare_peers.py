#!/usr/bin/env python3
"""Compare pymargin with the usual Python alternatives, in one process.

Usage: python benchmarks/compare_peers.py [--n 1000000] [--repeats 7] [--json out.json]

Throughput is M options/s, best and median of `repeats` interleaved rounds (every
implementation of a task called once per round, in turn; benchmarks/timing.py states the
rules), one core unless stated: ratios compare pymargin threads=1 with single-threaded peers,
and pymargin threads=2 is reported beside them. The numpy/scipy baselines are written as a
careful user would: every buffer allocated once, ufuncs with ``out=``. Peers are optional;
each import is guarded. Accuracy is max relative error against a 50-digit mpmath reference on
2,000 random inputs and 200 extreme tail inputs (prices 1e-300..1e-20).
"""

import argparse
import json
import math
import platform
import sys
import time

from timing import ScipyBlack, interleaved, machine

import numpy as np  # isort: skip  (after timing pins numpy's threads to one)

import pymargin as pm

try:
    from scipy.special import ndtr
except ImportError:  # pragma: no cover
    ndtr = None
try:
    import py_vollib_vectorized as pvv
except Exception:  # pragma: no cover
    pvv = None
try:
    import QuantLib as ql
except ImportError:  # pragma: no cover
    ql = None
try:
    import numba
except ImportError:  # pragma: no cover
    numba = None
try:
    import py_lets_be_rational as plbr
except ImportError:  # pragma: no cover
    plbr = None
try:
    import lets_be_rational as lbr
except ImportError:  # pragma: no cover
    lbr = None
try:
    import mpmath as mp
except ImportError:  # pragma: no cover
    mp = None
try:
    import pyfeng as pf
except Exception:  # pragma: no cover
    pf = None


# ----------------------------------------------------------------------------- inputs
def make_inputs(n, seed=0):
    rng = np.random.default_rng(seed)
    F = rng.uniform(50.0, 150.0, n)
    K = F * np.exp(rng.uniform(-0.5, 0.5, n))
    T = rng.uniform(1 / 365, 2.0, n)
    v = rng.uniform(0.2, 1.5, n)
    r = np.full(n, 0.0)
    cp = rng.integers(0, 2, n).astype(bool)
    return F, K, T, v, r, cp


def best_of(fn, repeats):
    """Best seconds of ``repeats`` calls after a warm-up (the slow per-option loops only)."""
    fn()  # warm-up (JIT, caches)
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def scipy_price(F, K, T, v, r, cp):
    """The formula as a numpy user first writes it (for the accuracy comparison)."""
    s = v * np.sqrt(T)
    d1 = (np.log(F / K) + 0.5 * s * s) / s
    d2 = d1 - s
    df = np.exp(-r * T)
    return df * np.where(cp, F * ndtr(d1) - K * ndtr(d2), K * ndtr(-d2) - F * ndtr(-d1))


FOUR_GREEKS = pm.Greek.PRICE | pm.Greek.DELTA | pm.Greek.GAMMA | pm.Greek.VEGA | pm.Greek.THETA


if numba is not None:

    @numba.njit(parallel=False, fastmath=False, cache=False)
    def _nb_price(F, K, T, v, r, cp, out):
        for i in range(F.shape[0]):
            s = v[i] * math.sqrt(T[i])
            d1 = (math.log(F[i] / K[i]) + 0.5 * s * s) / s
            d2 = d1 - s
            df = math.exp(-r[i] * T[i])
            if cp[i]:
                out[i] = df * (
                    F[i] * 0.5 * math.erfc(-d1 / math.sqrt(2.0))
                    - K[i] * 0.5 * math.erfc(-d2 / math.sqrt(2.0))
                )
            else:
                out[i] = df * (
                    K[i] * 0.5 * math.erfc(d2 / math.sqrt(2.0))
                    - F[i] * 0.5 * math.erfc(d1 / math.sqrt(2.0))
                )
        return out

    @numba.njit(parallel=False, fastmath=False, cache=False)
    def _nb_greeks(F, K, T, v, r, cp, p, de, ga, ve, th):
        for i in range(F.shape[0]):
            sq = math.sqrt(T[i])
            s = v[i] * sq
            d1 = (math.log(F[i] / K[i]) + 0.5 * s * s) / s
            d2 = d1 - s
            df = math.exp(-r[i] * T[i])
            n1 = 0.5 * math.erfc(-d1 / math.sqrt(2.0))
            n2 = 0.5 * math.erfc(-d2 / math.sqrt(2.0))
            pdf = math.exp(-0.5 * d1 * d1) / math.sqrt(2 * math.pi)
            if cp[i]:
                p[i] = df * (F[i] * n1 - K[i] * n2)
                de[i] = df * n1
            else:
                p[i] = df * (K[i] * (1 - n2) - F[i] * (1 - n1))
                de[i] = df * (n1 - 1)
            ga[i] = df * pdf / (F[i] * s)
            ve[i] = df * F[i] * pdf * sq
            th[i] = -df * F[i] * pdf * v[i] / (2 * sq) + r[i] * p[i]


if numba is not None:

    @numba.njit(fastmath=False, cache=False)
    def _nb_greeks1(F, K, T, v, r, call):
        """One option's price and four Greeks (a scalar call, as a user's own njit)."""
        sq = math.sqrt(T)
        s = v * sq
        d1 = (math.log(F / K) + 0.5 * s * s) / s
        d2 = d1 - s
        df = math.exp(-r * T)
        n1 = 0.5 * math.erfc(-d1 / math.sqrt(2.0))
        n2 = 0.5 * math.erfc(-d2 / math.sqrt(2.0))
        pdf = math.exp(-0.5 * d1 * d1) / math.sqrt(2 * math.pi)
        if call:
            p = df * (F * n1 - K * n2)
            de = df * n1
        else:
            p = df * (K * (1 - n2) - F * (1 - n1))
            de = df * (n1 - 1)
        return p, de, df * pdf / (F * s), df * F * pdf * sq, -df * F * pdf * v / (2 * sq) + r * p


def ql_price_loop(F, K, T, v, r, cp):
    out = np.empty(len(F))
    call, put = ql.Option.Call, ql.Option.Put
    for i in range(len(F)):
        payoff = ql.PlainVanillaPayoff(call if cp[i] else put, float(K[i]))
        sd = float(v[i]) * math.sqrt(float(T[i]))
        bc = ql.BlackCalculator(payoff, float(F[i]), sd, math.exp(-float(r[i]) * float(T[i])))
        out[i] = bc.value()
    return out


def ql_greeks_loop(F, K, T, v, r, cp):
    out = np.empty((len(F), 5))
    call, put = ql.Option.Call, ql.Option.Put
    for i in range(len(F)):
        t = float(T[i])
        payoff = ql.PlainVanillaPayoff(call if cp[i] else put, float(K[i]))
        bc = ql.BlackCalculator(
            payoff, float(F[i]), float(v[i]) * math.sqrt(t), math.exp(-float(r[i]) * t)
        )
        out[i] = (
            bc.value(),
            bc.deltaForward(),
            bc.gammaForward(),
            bc.vega(t),
            bc.theta(float(F[i]), t),
        )
    return out


def python_erf_black76(F, K, T, v, r, is_call):
    s = v * math.sqrt(T)
    d1 = (math.log(F / K) + 0.5 * s * s) / s
    d2 = d1 - s
    N = lambda x: 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))  # noqa: E731
    df = math.exp(-r * T)
    return df * (F * N(d1) - K * N(d2)) if is_call else df * (K * N(-d2) - F * N(-d1))


def python_erf_greeks(F, K, T, v, r, is_call):
    sq = math.sqrt(T)
    s = v * sq
    d1 = (math.log(F / K) + 0.5 * s * s) / s
    d2 = d1 - s
    df = math.exp(-r * T)
    N = lambda x: 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))  # noqa: E731
    pdf = math.exp(-0.5 * d1 * d1) / math.sqrt(2 * math.pi)
    price = df * (F * N(d1) - K * N(d2)) if is_call else df * (K * N(-d2) - F * N(-d1))
    delta = df * (N(d1) if is_call else N(d1) - 1)
    return (
        price,
        delta,
        df * pdf / (F * s),
        df * F * pdf * sq,
        -df * F * pdf * v / (2 * sq) + r * price,
    )


# ----------------------------------------------------------------------------- mpmath reference
def mp_black76(F, K, T, v, r, is_call):
    F, K, T, v, r = (mp.mpf(float(x)) for x in (F, K, T, v, r))
    s = v * mp.sqrt(T)
    d1 = (mp.log(F / K) + s * s / 2) / s
    d2 = d1 - s
    N = lambda x: mp.erfc(-x / mp.sqrt(2)) / 2  # noqa: E731
    val = F * N(d1) - K * N(d2) if is_call else K * N(-d2) - F * N(-d1)
    return float(mp.exp(-r * T) * val)


def tail_inputs(n, seed=3):
    """OTM options whose mpmath price lies in [1e-300, 1e-20]."""
    rng = np.random.default_rng(seed)
    rows = []
    while len(rows) < n:
        T = 10 ** rng.uniform(-3, 0.5)
        s = min(rng.uniform(0.05, 2.5) * math.sqrt(T), 2.5)
        v = s / math.sqrt(T)
        h = rng.uniform(7, 37)
        call = bool(rng.integers(0, 2))
        F = 10 ** rng.uniform(0, 5)
        K = F * math.exp(h * s if call else -h * s)
        p = mp_black76(F, K, T, v, 0.0, call)
        if 1e-300 <= p <= 1e-20:
            rows.append((F, K, T, v, 0.0, call, p))
    a = np.array(rows, dtype=object)
    return tuple(np.array(a[:, i], dtype=float) for i in range(5)) + (
        a[:, 5].astype(bool),
        a[:, 6].astype(float),
    )


# ----------------------------------------------------------------------------- main
def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, default=1_000_000, help="batch size (default 1e6)")
    ap.add_argument(
        "--n-loop", type=int, default=20_000, help="size for per-option Python loops (QuantLib)"
    )
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--json", metavar="PATH", help="write results as JSON")
    ap.add_argument("--no-accuracy", action="store_true")
    args = ap.parse_args(argv)

    n, R = args.n, args.repeats
    F, K, T, v, r, cp = make_inputs(n)
    flag = np.where(cp, "c", "p")
    res = {
        "meta": {
            "n": n,
            "repeats": R,
            "python": sys.version.split()[0],
            "machine": platform.machine(),
            "simd_level": pm.simd_level(),
            "pymargin": getattr(pm, "__version__", "?"),
        },
        "throughput": {},
        "latency_us": {},
        "accuracy": {},
    }
    thr = res["throughput"]

    res["errors"] = {}
    cases: dict = {}  # task -> implementation -> (workload, options per call)

    def rec(task, impl, work, count):
        """A task's implementation: ``work()`` values ``count`` options. It is warmed up (JIT,
        caches) here; a peer that fails is reported, not fatal."""
        try:
            work()
        except Exception as e:  # e.g. py_vollib_vectorized vs. newer numba
            res["errors"][f"{task} / {impl}"] = (
                f"{type(e).__name__}: {str(e).splitlines()[0][:120]}"
            )
            return
        cases.setdefault(task, {})[impl] = (work, count)

    # ---- price
    out = np.empty(n)
    for th in (1, 2):
        rec(
            "price",
            f"pymargin t={th}",
            lambda th=th: pm.black76_price(F, K, T, v, r, cp, out=out, threads=th),
            n,
        )
    sb = ScipyBlack(n)
    if ndtr is not None:
        rec("price", "numpy+scipy ndtr, in place", lambda: sb.price(F, K, T, v, r, cp, out), n)
    if pf is not None:
        bsm = pf.Bsm(v, intr=0.0, is_fwd=True)
        sign = np.where(cp, 1, -1)
        rec("price", "pyfeng Bsm (forward)", lambda: bsm.price(K, F, T, cp=sign), n)
    if pvv is not None:
        rec(
            "price",
            "py_vollib_vectorized",
            lambda: pvv.vectorized_black(flag, F, K, T, r, v, return_as="numpy"),
            n,
        )
    if numba is not None:
        cpu8 = cp.astype(np.uint8)
        rec(
            "price",
            "numba njit (erfc)",
            lambda: _nb_price(F, K, T, v, r, cpu8, out),
            n,
        )
    if ql is not None:
        m = min(args.n_loop, n)
        rec(
            "price",
            "QuantLib BlackCalculator loop",
            lambda m=m: ql_price_loop(F[:m], K[:m], T[:m], v[:m], r[:m], cp[:m]),
            m,
        )

    # ---- price + 4 greeks
    for th in (1, 2):
        rec(
            "price+4 greeks",
            f"pymargin t={th}",
            lambda th=th: pm.black76_greeks(F, K, T, v, r, cp, which=FOUR_GREEKS, threads=th),
            n,
        )
    gbufs = [np.empty(n) for _ in range(5)]
    if ndtr is not None:
        rec(
            "price+4 greeks",
            "numpy+scipy ndtr, in place",
            lambda: sb.greeks(F, K, T, v, r, cp, *gbufs),
            n,
        )
    if pf is not None:

        def pyfeng_greeks():
            bsm.price(K, F, T, cp=sign)
            bsm.delta(K, F, T, cp=sign)
            bsm.gamma(K, F, T, cp=sign)
            bsm.vega(K, F, T, cp=sign)
            bsm.theta(K, F, T, cp=sign)

        rec("price+4 greeks", "pyfeng Bsm (forward)", pyfeng_greeks, n)
    if pvv is not None:

        def pvv_greeks():
            pvv.vectorized_black(flag, F, K, T, r, v, return_as="numpy")
            pvv.get_all_greeks(flag, F, K, T, r, v, model="black", return_as="dict")

        rec("price+4 greeks", "py_vollib_vectorized", pvv_greeks, n)
    if numba is not None:
        bufs = [np.empty(n) for _ in range(5)]
        rec(
            "price+4 greeks",
            "numba njit (erfc)",
            lambda: _nb_greeks(F, K, T, v, r, cpu8, *bufs),
            n,
        )
    if ql is not None:
        m = min(args.n_loop, n)
        rec(
            "price+4 greeks",
            "QuantLib BlackCalculator loop",
            lambda m=m: ql_greeks_loop(F[:m], K[:m], T[:m], v[:m], r[:m], cp[:m]),
            m,
        )

    # ---- implied vol (prices from pymargin at threads=1; all solvers get the same inputs)
    prices = pm.black76_price(F, K, T, v, r, cp)
    iv_out = np.empty(n)
    for th in (1, 2):
        rec(
            "implied vol",
            f"pymargin t={th}",
            lambda th=th: pm.black76_implied_vol(prices, F, K, T, r, cp, out=iv_out, threads=th),
            n,
        )
    if pvv is not None:
        rec(
            "implied vol",
            "py_vollib_vectorized",
            lambda: pvv.vectorized_implied_volatility_black(
                prices, F, K, r, T, flag, return_as="numpy"
            ),
            n,
        )
    m = min(args.n_loop * 5, n)
    for name, mod in (("py_lets_be_rational loop", plbr), ("lets_be_rational loop", lbr)):
        if mod is None:
            continue

        def loop(mod=mod, m=m):
            for i in range(m):
                df = math.exp(-r[i] * T[i])
                mod.implied_volatility_from_a_transformed_rational_guess(
                    prices[i] / df, F[i], K[i], T[i], 1.0 if cp[i] else -1.0
                )

        rec("implied vol", name, loop, m)
    if pf is not None:
        rec(
            "implied vol",
            "pyfeng Bsm.impvol (forward)",
            lambda: pf.Bsm(0.5, intr=0.0, is_fwd=True).impvol(prices, K, F, T, cp=sign),
            n,
        )

    # ---- the timed rounds: per task, every implementation once per round, in turn
    for task, impls in cases.items():
        t = interleaved({impl: work for impl, (work, _) in impls.items()}, R)
        for impl, (best, median) in t.items():
            count = impls[impl][1]
            thr.setdefault(task, {})[impl] = (count / best / 1e6, count / median / 1e6)

    # ---- scalar latency from Python (microseconds per call)
    lat = res["latency_us"]
    args1 = (100.0, 105.0, 0.5, 0.3, 0.01)

    calls: dict = {}  # name -> (loop of reps calls, reps)

    def per_call(name, fn, reps=20000):
        # Results are discarded as a caller in a loop would; includes the lambda's own call.
        def loop():
            for _ in range(reps):
                fn()

        loop()  # warm-up (JIT)
        calls[name] = (loop, reps)

    per_call("pymargin scalar.black76_greeks", lambda: pm.scalar.black76_greeks(*args1, True))
    per_call("pymargin scalar.black76_price", lambda: pm.scalar.black76_price(*args1, True))
    per_call("pymargin batch black76_greeks (n=1)", lambda: pm.black76_greeks(*args1, True), 5000)
    per_call("python math.erf price+greeks", lambda: python_erf_greeks(*args1, True))
    if numba is not None:
        per_call("numba njit price+4 greeks (one call)", lambda: _nb_greeks1(*args1, True))
    try:
        from py_vollib.black import black as pv_black
        from py_vollib.black.greeks.analytical import delta as pv_delta
        from py_vollib.black.greeks.analytical import gamma as pv_gamma
        from py_vollib.black.greeks.analytical import theta as pv_theta
        from py_vollib.black.greeks.analytical import vega as pv_vega

        F0, K0, T0, v0, r0 = args1
        per_call(
            "py_vollib scalar price+4 greeks",
            lambda: (
                pv_black("c", F0, K0, T0, r0, v0),
                pv_delta("c", F0, K0, T0, r0, v0),
                pv_gamma("c", F0, K0, T0, r0, v0),
                pv_vega("c", F0, K0, T0, r0, v0),
                pv_theta("c", F0, K0, T0, r0, v0),
            ),
            5000,
        )
    except Exception as e:
        res["errors"]["latency / py_vollib scalar"] = (
            f"{type(e).__name__}: {str(e).splitlines()[0][:120]}"
        )
    if ql is not None:
        per_call(
            "QuantLib BlackCalculator price+4 greeks",
            lambda: ql_greeks_loop([100.0], [105.0], [0.5], [0.3], [0.01], [True]),
            5000,
        )
    t = interleaved({name: loop for name, (loop, _) in calls.items()}, max(3, R))
    for name, (best, median) in t.items():
        reps = calls[name][1]
        lat[name] = (best / reps * 1e6, median / reps * 1e6)

    # ---- accuracy vs mpmath
    if mp is not None and not args.no_accuracy:
        mp.mp.dps = 50
        acc = res["accuracy"]
        sets = {}
        Fa, Ka, Ta, va, ra, cpa = make_inputs(2000, seed=42)
        ra = np.random.default_rng(5).uniform(-0.01, 0.08, 2000)
        refa = np.array([mp_black76(*x) for x in zip(Fa, Ka, Ta, va, ra, cpa)])
        sets["random (2000)"] = (Fa, Ka, Ta, va, ra, cpa, refa)
        sets["tail 1e-300..1e-20 (200)"] = tail_inputs(200)
        for sname, (Fa, Ka, Ta, va, ra, cpa, refa) in sets.items():
            flg = np.where(cpa, "c", "p")
            impls = {
                "pymargin": lambda: pm.black76_price(Fa, Ka, Ta, va, ra, cpa),
                "numpy+scipy ndtr": lambda: scipy_price(Fa, Ka, Ta, va, ra, cpa),
                "python math.erf": lambda: np.array(
                    [python_erf_black76(*x) for x in zip(Fa, Ka, Ta, va, ra, cpa)]
                ),
            }
            if pvv is not None:
                impls["py_vollib_vectorized"] = lambda: pvv.vectorized_black(
                    flg, Fa, Ka, Ta, ra, va, return_as="numpy"
                )
            if numba is not None:
                impls["numba njit (erfc)"] = lambda: _nb_price(
                    Fa, Ka, Ta, va, ra, cpa.astype(np.uint8), np.empty(len(Fa))
                )
            if ql is not None:
                impls["QuantLib BlackCalculator"] = lambda: ql_price_loop(Fa, Ka, Ta, va, ra, cpa)
            for iname, f in impls.items():
                try:
                    got = np.asarray(f(), dtype=float).reshape(-1)
                    rel = np.abs(got - refa) / refa
                    rel = np.where(np.isfinite(rel), rel, np.inf)
                    acc.setdefault(sname, {})[iname] = float(rel.max())
                except Exception as e:  # pragma: no cover
                    acc.setdefault(sname, {})[iname] = f"error: {type(e).__name__}"

    # ---- report
    meta = res["meta"]
    print(machine())
    print(
        f"pymargin {meta['pymargin']}  simd={meta['simd_level']}  n={n:,}  best / median of "
        f"{R} interleaved rounds"
    )
    for task, d in thr.items():
        base = d.get("pymargin t=1")
        print(f"\n{task}")
        cols = f"{'M opt/s (best / median)':>24s} {'pymargin t=1 / this':>22s}"
        print(f"  {'implementation':34s} {cols}")
        for impl, (b, m) in d.items():
            rb, rm = (base[0] / b, base[1] / m) if base else (float("nan"),) * 2
            print(f"  {impl:34s} {b:11.3f} / {m:10.3f} {rb:10.2f} / {rm:9.2f}")
        if "pymargin t=2" in d:
            print(
                f"  threads 2 vs 1 scaling: {d['pymargin t=2'][0] / d['pymargin t=1'][0]:.2f}x"
                f" (best) / {d['pymargin t=2'][1] / d['pymargin t=1'][1]:.2f}x (median)"
            )
    print("\nscalar call latency from Python (us/call, best / median)")
    for k, (b, m) in lat.items():
        print(f"  {k:44s} {b:8.3f} / {m:8.3f}")
    if res["accuracy"]:
        print("\naccuracy: max relative error vs mpmath (50 digits)")
        for sname, d in res["accuracy"].items():
            print(f"  {sname}")
            for iname, e in d.items():
                print(f"    {iname:32s} {e if isinstance(e, str) else format(e, '.3e')}")
    if res["errors"]:
        print("\npeers that could not be timed")
        for k, e in res["errors"].items():
            print(f"  {k}: {e}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=2, default=str)
        print(f"\nwrote {args.json}")
    return res


if __name__ == "__main__":
    main()
