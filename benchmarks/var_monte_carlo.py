"""Monte Carlo VaR with full revaluation: a 1,000-option BTC portfolio on the bundled real chain
(the 676 marked options and 324 smile-interpolated strikes, random sizes) over 100,000 joint
paths of spot and implied vol (covariance from the bundled history), on one core; next to the
same computation in numpy/scipy written well (path chunks through preallocated option x path
buffers, ufuncs with ``out=``, the sizes summed by one matrix-vector product per chunk; the
chunk size the fastest of several), in interleaved rounds, best and median of each
(benchmarks/timing.py states the rules).

Usage: python benchmarks/var_monte_carlo.py [--paths 100000] [--threads 1] [--repeats 3]
"""

from __future__ import annotations

import argparse

from timing import InverseGrid, base_value, fmt, interleaved, machine, ratio

import numpy as np  # isort: skip  (after timing pins numpy's threads)

from margin_full_path import account  # the same 1,000-option book  # isort: skip

from pymargin import var
from pymargin.market.bundled import demo_market


class NumpyPnl:
    """USD P&L per path of inverse options held in ``size``: sum_i q_i (V'_i S' - V_i S), with
    V' the Black-76 coin value at the path's forward and vol, S' the path's index."""

    def __init__(self, f, k, t, v, cp, size, index, chunk: int) -> None:
        self.f, self.k, self.t, self.v, self.size, self.index = f, k, t, v, size, index
        self.th = np.where(cp, 1.0, -1.0)[:, None]
        self.base = index * float(size @ base_value(f, k, t, v, cp))
        self.chunk = chunk
        self.grid = InverseGrid(len(f), chunk)
        self.values = np.empty((len(f), chunk))
        self.q = np.empty(chunk)

    def __call__(self, spot: np.ndarray, vol: np.ndarray, out: np.ndarray) -> np.ndarray:
        g, c = self.grid, self.chunk
        for a in range(0, len(spot), c):
            m, w = spot[a : a + c, 0], vol[a : a + c, 0]
            k = len(m)
            if k < c:  # the last, short chunk: views of the buffers
                g = InverseGrid(len(self.f), k)
            np.multiply(self.f[:, None], 1.0 + m[None, :], out=g.fs)
            np.multiply(self.v[:, None], w[None, :], out=g.vol)
            vals = self.values[:, :k]
            g.value(self.k, self.t, self.th, vals)
            q = self.q[:k]
            np.matmul(self.size, vals, out=q)  # sum_i q_i V'_i per path
            np.multiply(q, self.index * (1.0 + m), out=out[a : a + k])
            out[a : a + k] -= self.base
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--paths", type=int, default=100_000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    market = demo_market()
    book = account(np.random.default_rng(5))

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
    inputs = (
        col("forward")[rows],
        col("strike")[rows],
        col("time")[rows],
        col("vol")[rows],
        col("is_call")[rows].astype(bool),
        size,
        market.index["BTC_USD"],
    )
    pnl_np = np.empty(a.paths)
    # a competent user tunes the chunk: the fastest of a few, chosen before the timed rounds
    chunks = {c: NumpyPnl(*inputs, chunk=c) for c in (128, 512, 2048)}
    tune = interleaved({str(c): lambda f=f: f(spot, vol, pnl_np) for c, f in chunks.items()}, 1)
    chunk = int(min(tune, key=lambda c: tune[c][0]))
    numpy_pnl = chunks[chunk]

    res: list = []
    t = interleaved(
        {
            "ours": lambda: res.append(
                var.monte_carlo_var(book, market, paths=a.paths, seed=7, threads=a.threads)
            ),
            "numpy": lambda: numpy_pnl(spot, vol, pnl_np),
        },
        a.repeats,
    )
    r = res[-1]
    v_np, es_np, _ = var.var_es(pnl_np, 0.99)
    print(machine())
    print(f"Monte Carlo VaR, {len(book)} options x {a.paths:,} paths (full revaluation)")
    print(f"  best / median of {a.repeats}, interleaved, in s")
    print(
        f"  pymargin ({a.threads} thread): {fmt(t['ours'], 1)}  VaR99 {r.var:,.0f} ES {r.es:,.0f}"
    )
    print(
        f"  numpy/scipy, in place, chunks of {chunk} paths, 1 thread: {fmt(t['numpy'], 1)}  "
        f"VaR99 {v_np:,.0f} ES {es_np:,.0f}"
    )
    print(f"  pymargin is {ratio(t['numpy'], t['ours'])} faster")
    print(
        f"  max |P&L difference| {np.abs(r.pnl - pnl_np).max():.2e} USD "
        f"(of a largest |P&L| {np.abs(pnl_np).max():,.0f})"
    )


if __name__ == "__main__":
    main()
