"""The cost of keeping a short option delta-hedged: the analytic estimates of
pymargin.strategy.hedging against the simulated rebalancing on the same Monte Carlo paths, for
time and band policies, with and without square-root slippage; and the time the simulation
takes.

Usage: python benchmarks/hedging_cost.py [--paths 4000] [--vol 0.5]
"""

from __future__ import annotations

import argparse
import time

from pymargin.accounts.cascade import ImpactModel
from pymargin.market.bundled import demo_market
from pymargin.strategy.costs import CostModel
from pymargin.strategy.hedging import BandPolicy, TimePolicy, compare_policies


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--paths", type=int, default=4000)
    ap.add_argument("--vol", type=float, default=0.5)
    a = ap.parse_args()
    market = demo_market("BTC")
    book = {"BTC-26DEC25-92000-C": -10.0}
    policies = [TimePolicy(0.5), TimePolicy(1.0), TimePolicy(4.0), BandPolicy(0.2), BandPolicy(0.5)]
    for label, costs in (
        ("fees + spread", CostModel()),
        ("fees + spread + sqrt slippage (ADV 200 BTC)", CostModel(impact=ImpactModel(adv=200.0))),
    ):
        t0 = time.perf_counter()
        sims = compare_policies(
            book, market, policies, realised_vol=a.vol, paths=a.paths, costs=costs
        )
        dt = time.perf_counter() - t0
        print(f"short 10 BTC-26DEC25-92000-C, 1 day at {a.vol:.0%} realised vol, {label}:")
        head = ("cost MC (2 se)", "analytic", "error MC", "analytic")
        print(f"  {'policy':<12} {head[0]:>18} {head[1]:>9} {head[2]:>9} {head[3]:>9}")
        for s in sims:
            print(
                f"  {s.policy:<12} {s.cost_mean:10.2f} +- {2 * s.cost_se:5.2f}"
                f" {s.analytic.expected_cost:9.2f} {s.hedge_error_std:9.1f}"
                f" {s.analytic.hedge_error_std:9.1f}"
            )
        print(f"  {len(policies)} policies x {a.paths} paths x 288 steps simulated in {dt:.2f} s")


if __name__ == "__main__":
    main()
