"""Deribit portfolio margin of a 1,000-option BTC account on the bundled real chain
(Deribit, 2025-12-05): the 676 marked options plus 324 options at strikes between them, whose
vols come from the smile of their expiry. Each timing is the best and the median of --repeats,
the cases of a group interleaved (one call of each per round):

* cold: a fresh Market snapshot, so every instrument is parsed and valued first (once per
  snapshot in real use);
* warm: the snapshot's instrument table exists, its kept risk arrays dropped before each
  run: revaluation (35 scenarios) + the whole model (aggregation, worst case, roll shock, IM,
  MM), through deribit_pm_margin and through pm.margin (the Portfolio checks included);
* kept: the same calls again on the snapshot, whose risk arrays the table keeps per
  instrument and scenario set (a second book, a what-if or an optimisation step on the same
  snapshot);
* cached: margin from risk arrays already computed (the pre-trade situation):
  pymargin.risk.revaluation.aggregate over the account's rows, and the same with numpy.

The warm path is compared with the same computation written the way a user would in
numpy/scipy: vectorised Black-76 risk arrays over the scenario grid, the size-weighted sum and
the worst entry.

Usage: python benchmarks/margin_full_path.py [--repeats 50]
"""

from __future__ import annotations

import argparse
import itertools

from timing import InverseGrid, fmt, interleaved, machine, ratio

import numpy as np  # isort: skip  (after timing pins numpy's threads to one)

import pymargin as pm
from pymargin.market.bundled import demo_market, load_demo_chain
from pymargin.models import DeribitPMParams, deribit_pm_margin


def account(rng: np.random.Generator) -> dict[str, float]:
    chain = load_demo_chain()
    names = list(chain.name)
    extra = []
    for e in sorted(set(chain.expiry)):
        ks = sorted({k for k, x in zip(chain.strike, chain.expiry) if x == e})
        stem = next(n for n, x in zip(chain.name, chain.expiry) if x == e).split("-")[1]
        for a, b in itertools.pairwise(ks):
            mid = round((a + b) / 2)
            if mid not in ks:
                extra.append(f"BTC-{stem}-{mid}-{'C' if len(extra) % 2 else 'P'}")
    names += extra[: 1000 - len(names)]
    sizes = rng.uniform(0.1, 5.0, len(names)) * rng.choice([-1.0, 1.0], len(names))
    return dict(zip(names, sizes.round(1).tolist()))


class NumpyMargin:
    """The core of the model by numpy/scipy, written well: the risk arrays under the grid into
    preallocated buffers (benchmarks/timing.py, InverseGrid), the size-weighted sum, the worst
    entry."""

    def __init__(self, n: int, s: int) -> None:
        self.grid = InverseGrid(n, s)
        self.risk = np.empty((n, s))
        self.pnl = np.empty(s)

    def __call__(self, f, k, t, v, cp, size, moves, vstate, up, dn, floor_up) -> float:
        self.grid.deribit(f, k, t, v, cp, moves, vstate, up, dn, floor_up, self.risk)
        np.matmul(size, self.risk, out=self.pnl)
        return float(-self.pnl.min())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=50)
    a = ap.parse_args()
    rng = np.random.default_rng(5)
    positions = account(rng)
    params = DeribitPMParams.load("2024-06-17")
    market = demo_market()
    res = deribit_pm_margin(positions, market, params, threads=1)
    cold = interleaved(
        {"cold": lambda: deribit_pm_margin(positions, demo_market(), params, threads=1)}, 5
    )["cold"]
    drop = market.table.drop_risk_arrays
    # Cached: a venue's risk arrays (the account's rows within them) and the aggregation.
    table = market.table
    rows = table.rows(list(positions))
    scen = pm.models.deribit_pm.pair_scenarios("BTC_USD", params.pairs["btc_usd"], 4)
    risk = pm.risk.risk_arrays_for_rows(market, np.arange(len(table)), scen)
    size = np.array(list(positions.values()))
    out = np.empty(scen.n)
    col = table.column
    pp = params.pairs["btc_usd"]
    args = (
        col("forward")[rows],
        col("strike")[rows],
        col("time")[rows],
        col("vol")[rows],
        col("is_call")[rows].astype(bool),
        size,
        scen.move[:, 0],
        scen.vol_state.astype(int),
        pp.volatility_range_up,
        pp.volatility_range_down,
        pp.min_volatility_for_shock_up,
    )
    numpy_margin = NumpyMargin(len(positions), scen.n)
    t = interleaved(
        {
            "warm": (lambda: deribit_pm_margin(positions, market, params, threads=1), drop),
            "warm2": (lambda: deribit_pm_margin(positions, market, params, threads=2), drop),
            "pm": (lambda: pm.margin(positions, market), drop),
            # kept: the same call just before (untimed), so its risk arrays are in the table
            "kept": (kept := lambda: deribit_pm_margin(positions, market, params, threads=1), kept),
            "pm_kept": (pm_kept := lambda: pm.margin(positions, market), pm_kept),
            "numpy": lambda: numpy_margin(*args),
        },
        a.repeats,
    )
    # numpy two ways: fancy indexing (a fresh gather each call) and with its buffers reused
    # (the account's rows gathered in place, then one product); the faster is the baseline
    gathered = np.empty((len(rows), scen.n))
    pnl = np.empty(scen.n)

    def numpy_cached() -> float:
        np.take(risk, rows, axis=0, out=gathered)
        return float(np.matmul(size, gathered, out=pnl).min())

    c = interleaved(
        {
            "aggregate": lambda: pm.risk.aggregate(risk, rows, size, out=out).min(),
            "numpy": lambda: (size @ risk[rows]).min(),
            "numpy_out": numpy_cached,
        },
        a.repeats * 20,
    )

    n = len(positions)
    print(machine())
    print(f"Deribit PM, {n}-option BTC account on the 2025-12-05 chain, {scen.n} scenarios")
    print(
        f"  IM {res.initial_margin:.6f} BTC, MM {res.maintenance_margin:.6f} BTC, worst "
        f"{res.worst_case_bucket}"
    )
    print(f"  best / median of {a.repeats}, interleaved, in ms")
    print(f"  cold (fresh snapshot: parse + value {n} instruments, then margin) {fmt(cold)}")
    print(f"  warm (revaluation + whole model), 1 thread  {fmt(t['warm'])}")
    print(f"  warm, 2 threads                             {fmt(t['warm2'])}")
    print(f"  warm, pm.margin (default threads)           {fmt(t['pm'])}")
    print(f"  kept risk arrays, deribit_pm_margin         {fmt(t['kept'])}")
    print(f"  kept risk arrays, pm.margin                 {fmt(t['pm_kept'])}")
    print(
        f"  numpy/scipy risk arrays (in place) + worst entry, 1 thread {fmt(t['numpy'])} -> "
        f"the whole model on 1 thread is {ratio(t['numpy'], t['warm'])} faster"
    )
    print(
        f"  cached risk arrays, best / median of {a.repeats * 20} in us: "
        f"pymargin.risk.revaluation.aggregate + min {fmt(c['aggregate'], 1e6)}, "
        f"numpy size @ risk[rows] {fmt(c['numpy'], 1e6)}, numpy take(out=) + "
        f"matmul(out=) {fmt(c['numpy_out'], 1e6)}"
    )


if __name__ == "__main__":
    main()
