"""The margin optimiser on a 500-instrument candidate set: a market-maker book of short options
on the bundled Deribit BTC chain, candidates the perpetual, futures and options listed within
the chosen moneyness and expiry range. Times building the programme and solving it (LP, and the
MILP with 0.1-coin lots), verifies the answer with the ordinary engine, and compares with what a
user would otherwise do: scipy.optimize.minimize (Powell, derivative-free: the margin is not
differentiable) on the engine's margin, with the same bounds, for a fixed time (60 s).

Usage: python benchmarks/optimize_margin.py [--candidates 500] [--seed 1] [--max-size 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.optimize import minimize

import pymargin as pm
from pymargin.market.bundled import demo_market
from pymargin.strategy.optimize import (
    Objective,
    default_candidates,
    margin_program,
    minimize_margin,
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--candidates", type=int, default=500)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-size", type=float, default=2.0, help="coins per candidate and side")
    ap.add_argument("--milp-seconds", type=float, default=30.0)
    ap.add_argument("--powell-seconds", type=float, default=60.0)
    a = ap.parse_args()
    market = demo_market("BTC")
    names = default_candidates(market, max_days=400, moneyness=(0.4, 2.5))[: a.candidates]
    rng = np.random.default_rng(a.seed)
    options = [n for n in names if n.count("-") == 3]
    book = {
        n: float(rng.choice([-5.0, -2.0, -1.0, 1.0]))
        for n in rng.choice(options, 40, replace=False)
    }
    im0 = pm.margin(book, market).initial_margin
    print(f"book: {len(book)} options, IM {im0:.6f} BTC; candidates: {len(names)}")

    t0 = time.perf_counter()
    prog = margin_program(book, market, names)
    t_build = time.perf_counter() - t0
    best = np.inf
    for _ in range(3):
        t0 = time.perf_counter()
        r = minimize_margin(book, market, names, max_buy=a.max_size, max_sell=a.max_size)
        best = min(best, time.perf_counter() - t0)
    print(f"  programme built in {t_build * 1e3:.0f} ms")
    worst = 0.0
    for _ in range(200):  # the programme against the ordinary engine on random trades
        x = rng.normal(0, a.max_size, len(names)) * (rng.random(len(names)) < 0.1)
        engine = prog.verified_margin(x)
        worst = max(worst, abs(prog.margin(x) - engine) / max(engine, 1e-12))
    print(f"  programme vs engine on 200 random trades: max relative difference {worst:.1e}")
    print(
        f"  LP (HiGHS, then the cheapest trade at that margin): {best:.2f} s end to end,"
        f" IM {r.margin_after:.9f} -> engine {r.verified_margin:.9f} BTC"
        f" ({len(r.trades)} trades)"
    )
    t0 = time.perf_counter()
    ri = minimize_margin(
        book, market, names, max_buy=10.0, max_sell=10.0, lot=0.1, time_limit=a.milp_seconds
    )
    t_milp = time.perf_counter() - t0
    print(
        f"  MILP, 0.1-coin lots: {t_milp:.2f} s ({ri.status}), IM engine"
        f" {ri.verified_margin:.9f} BTC"
    )
    t0 = time.perf_counter()
    rc = minimize_margin(
        book,
        market,
        names,
        max_buy=a.max_size,
        max_sell=a.max_size,
        objective=Objective.MARGIN_PLUS_COST,
    )
    t_cost = time.perf_counter() - t0
    print(
        f"  LP, margin + trading cost: {t_cost:.2f} s, IM {rc.verified_margin:.6f} + cost"
        f" {rc.trading_cost:.6f} BTC ({len(rc.trades)} trades)"
    )

    budget = a.powell_seconds
    evals = 0
    best_seen = np.inf

    def engine_margin(x: np.ndarray) -> float:
        nonlocal evals, best_seen
        evals += 1
        pos = dict(book)
        for n, q in zip(names, x):
            if q:
                pos[n] = pos.get(n, 0.0) + float(q)
        pos = {k: v for k, v in pos.items() if v}
        if time.perf_counter() - t0 > budget:
            raise TimeoutError
        im = pm.margin(pos, market).initial_margin if pos else 0.0
        best_seen = min(best_seen, im)
        return im

    t0 = time.perf_counter()
    x0 = np.zeros(len(names))
    try:
        minimize(
            engine_margin,
            x0,
            method="Powell",
            bounds=[(-a.max_size, a.max_size)] * len(names),
            options={"maxfev": 10**7},
        )
    except TimeoutError:
        pass
    t_powell = time.perf_counter() - t0
    print(
        f"  scipy Powell on the engine's margin: {t_powell:.1f} s ({evals} margin calls),"
        f" stopped at IM {best_seen:.6f} BTC"
        f" (the LP: {r.verified_margin:.6f} BTC in {best:.2f} s)"
    )
    del prog


if __name__ == "__main__":
    main()
