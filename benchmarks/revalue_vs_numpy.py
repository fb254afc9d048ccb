"""Risk arrays of 1,000 inverse BTC options under 33 scenarios (11 spot moves x 3 vol states),
pymargin's revaluation kernel against the same computation written the way a user would in
numpy/scipy (vectorised Black-76 over the option x scenario grid), in one process.

Usage: python benchmarks/revalue_vs_numpy.py [--options 1000] [--repeats 20]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.special import ndtr

import pymargin._core as core


def numpy_risk(F, K, T, v, cp, moves, vstate, up, dn, floor_up):
    """Inverse-option risk arrays with numpy/scipy: Black-76 / F' per cell, minus today's."""
    dte = np.maximum(T * 365.0, 1.0)
    mult = (30.0 / dte) ** np.where(dte < 30.0, 0.30, 0.13)
    vol_up = np.maximum(v * (1 + up * mult), floor_up)
    vol_dn = np.maximum(v * (1 - dn * mult), 0.0)
    vols = np.stack([vol_dn, v, vol_up], axis=1)[:, vstate + 1]  # (n, s)
    Fs = F[:, None] * (1.0 + moves[None, :])
    th = np.where(cp, 1.0, -1.0)[:, None]

    def coin_value(f, vol):
        s = vol * np.sqrt(T)[:, None]
        d1 = np.log(f / K[:, None]) / s + 0.5 * s
        d2 = d1 - s
        return th * (f * ndtr(th * d1) - K[:, None] * ndtr(th * d2)) / f

    return coin_value(Fs, vols) - coin_value(F[:, None], v[:, None])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--options", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=20)
    a = ap.parse_args()
    n = a.options
    rng = np.random.default_rng(1)
    F = np.full(n, 93_000.0)
    K = rng.uniform(50_000, 150_000, n)
    T = rng.choice([21, 56, 112, 203], n) / 365.0
    v = rng.uniform(0.4, 0.8, n)
    cp = rng.random(n) < 0.5
    moves = np.repeat(np.linspace(-0.16, 0.16, 11), 3)
    vstate = np.tile(np.array([1, 0, -1], dtype=np.int8), 11)
    rules = np.array([[0, 0.5, 0.25, 0.5, 0.0, 0.30, 0.13, 30.0, 30.0, 1.0]])
    out = np.empty((n, moves.size))
    args = (
        np.full(n, 3, np.uint8),
        np.ones(n, np.uint8),
        cp.astype(np.uint8),
        np.zeros(n, np.int32),
        K,
        F,
        v,
        T,
        np.zeros(n),
        moves[:, None].copy(),
        vstate,
        rules,
        1,
        out,
    )

    def best(fn):
        b = np.inf
        for _ in range(a.repeats):
            t = time.perf_counter()
            fn()
            b = min(b, time.perf_counter() - t)
        return b

    t1 = best(lambda: core.revalue(*args, 1))
    t2 = best(lambda: core.revalue(*args, 2))
    tn = best(lambda: numpy_risk(F, K, T, v, cp, moves, vstate.astype(int), 0.5, 0.25, 0.5))
    ref = numpy_risk(F, K, T, v, cp, moves, vstate.astype(int), 0.5, 0.25, 0.5)
    core.revalue(*args, 1)
    scale = np.abs(ref).max()
    print(f"{n} options x {moves.size} scenarios = {n * moves.size:,} revaluations")
    print(f"  pymargin 1 thread   {t1 * 1e3:8.3f} ms  ({n * moves.size / t1 / 1e6:6.1f} M/s)")
    print(f"  pymargin 2 threads  {t2 * 1e3:8.3f} ms")
    print(f"  numpy + scipy       {tn * 1e3:8.3f} ms  -> pymargin is {tn / t1:.1f}x faster")
    print(f"  max |difference| / max |P&L| = {np.abs(out - ref).max() / scale:.2e}")


if __name__ == "__main__":
    main()
