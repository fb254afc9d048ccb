"""Risk arrays of 1,000 inverse BTC options under 33 scenarios (11 spot moves x 3 vol states):
pymargin's revaluation kernel through its public API (``pymargin.revalue`` on plain arrays)
against the same computation in numpy/scipy written well
(vectorised over the option x scenario grid, every buffer allocated once, ufuncs with ``out=``:
benchmarks/timing.py, InverseGrid), both writing into preallocated output. The cases run in
interleaved rounds; each reports its best and median (benchmarks/timing.py states the rules).
The per-core ratio compares one thread with one thread; two threads are reported beside it.

Usage: python benchmarks/revalue_vs_numpy.py [--options 1000] [--repeats 200]
"""

from __future__ import annotations

import argparse

from timing import InverseGrid, fmt, interleaved, machine, ratio

import numpy as np  # isort: skip  (after timing pins numpy's threads)

import pymargin as pm


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--options", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=200)
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
    scen = pm.ScenarioSet(
        ("BTC_USD",),
        moves[:, None],
        vstate,
        (pm.VolShockRule(range_up=0.5, range_down=0.25, min_vol_up=0.5),),
    )
    out = np.empty((n, moves.size))
    kw = dict(
        strike=K, forward=F, vol=v, time=T, is_call=cp, settlement=pm.Settlement.INVERSE, out=out
    )
    grid = InverseGrid(n, moves.size)
    ref = np.empty_like(out)
    state = vstate.astype(np.int64)
    t = interleaved(
        {
            "one": lambda: pm.revalue(scen, **kw, threads=1),
            "two": lambda: pm.revalue(scen, **kw, threads=2),
            "numpy": lambda: grid.deribit(F, K, T, v, cp, moves, state, 0.5, 0.25, 0.5, ref),
        },
        a.repeats,
    )
    pm.revalue(scen, **kw, threads=1)
    grid.deribit(F, K, T, v, cp, moves, state, 0.5, 0.25, 0.5, ref)
    scale = np.abs(ref).max()
    cells = n * moves.size
    print(machine())
    print(f"{n} options x {moves.size} scenarios = {cells:,} revaluations")
    print(f"  best / median of {a.repeats}, interleaved, in ms")
    print(
        f"  pymargin, 1 thread   {fmt(t['one'])}  ({cells / t['one'][0] / 1e6:.0f} / "
        f"{cells / t['one'][1] / 1e6:.0f} M/s)"
    )
    print(f"  pymargin, 2 threads  {fmt(t['two'])}")
    print(f"  numpy + scipy, in place, 1 thread  {fmt(t['numpy'])}")
    print(f"  per core: pymargin is {ratio(t['numpy'], t['one'])} faster")
    print(f"  max |difference| / max |P&L| = {np.abs(out - ref).max() / scale:.2e}")


if __name__ == "__main__":
    main()
