"""Monte Carlo VaR with full revaluation: a 1,000-option BTC portfolio on the bundled real chain
(the 676 marked options and 324 smile-interpolated strikes, random sizes) over 100,000 joint
paths of spot and implied vol (covariance from the bundled history), on one core; next to the
same computation in numpy/scipy (vectorised Black-76 over path chunks) in the same run.

Usage: python benchmarks/var_monte_carlo.py [--paths 100000] [--threads 1]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from margin_full_path import account  # the same 1,000-option book
from scipy.special import ndtr

from pymargin import var
from pymargin.demo import demo_market


def numpy_pnl(f, k, t, v, cp, size, index, spot, vol, chunk=2000):
    """USD P&L of inverse options: (V' S' - V S), Black-76 coin values, path chunks."""
    th = np.where(cp, 1.0, -1.0)

    def coin(fw, vv):
        s = vv * np.sqrt(t)
        d1 = np.log(fw / k) / s + 0.5 * s
        return th * (fw * ndtr(th * d1) - k * ndtr(th * (d1 - s))) / fw

    v0 = coin(f, v)
    out = np.empty(len(spot))
    for a in range(0, len(spot), chunk):
        m = spot[a : a + chunk, :1]
        w = vol[a : a + chunk, :1]
        s1 = index * (1.0 + m)
        v1 = coin(f[None, :] * (1.0 + m), v[None, :] * w)
        out[a : a + chunk] = (v1 * s1 - v0[None, :] * index) @ size
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--paths", type=int, default=100_000)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    market = demo_market()
    book = account(np.random.default_rng(5))
    t0 = time.perf_counter()
    res = var.monte_carlo_var(book, market, paths=a.paths, seed=7, threads=a.threads)
    t_ours = time.perf_counter() - t0

    # The same paths and the same P&L with numpy/scipy.
    jm = var.joint_moves(("BTC",), start="2021-03-25", require_vol=True)
    chol = np.linalg.cholesky(var.sample_cov(jm.log_returns()))
    rng = np.random.default_rng(7)
    x = rng.standard_normal((a.paths, 2)) @ chol.T
    spot, vol = np.expm1(x[:, :1]), np.exp(x[:, 1:])
    table = market.table
    rows = table.rows(list(book))
    col = table.column
    size = np.array(list(book.values()))
    t0 = time.perf_counter()
    pnl_np = numpy_pnl(
        col("forward")[rows],
        col("strike")[rows],
        col("time")[rows],
        col("vol")[rows],
        col("is_call")[rows].astype(bool),
        size,
        market.index["BTC_USD"],
        spot,
        vol,
    )
    t_np = time.perf_counter() - t0
    v_np, es_np, _ = var.var_es(pnl_np, 0.99)
    print(f"Monte Carlo VaR, {len(book)} options x {a.paths:,} paths (full revaluation)")
    print(
        f"  pymargin ({a.threads} thread): {t_ours:6.2f} s  VaR99 {res.var:,.0f} ES {res.es:,.0f}"
    )
    print(f"  numpy/scipy:          {t_np:6.2f} s  VaR99 {v_np:,.0f} ES {es_np:,.0f}")
    print(
        f"  pymargin is {t_np / t_ours:.1f}x faster; "
        f"max |P&L difference| {np.abs(res.pnl - pnl_np).max():.2e} USD "
        f"(of a largest |P&L| {np.abs(pnl_np).max():,.0f})"
    )


if __name__ == "__main__":
    main()
