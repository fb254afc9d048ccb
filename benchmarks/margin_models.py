"""pm.margin() end to end for a 1,000-option account under every scenario model, on the bundled
real BTC chain (Deribit, 2025-12-05; the 676 marked options plus 324 at strikes between them,
as in margin_full_path.py). Deribit S:PM and X:PM margin the inverse options; Paradex, FINRA
and the example grid venue (tests/data/grid_models/example_venue.json) the same strikes as
USDC-settled linear options.

Two timings per model, best and median of --repeats, interleaved model by model:

* first: the snapshot's instrument table exists but its kept risk arrays are dropped before
  each run, so the call revalues the book (what the first margin of a book on a new
  snapshot costs);
* kept: the same call again on the snapshot (the table keeps each instrument's risk arrays
  per scenario set: a second book, a what-if or an optimisation step on the same snapshot).

Both run on the default thread count of pm.margin (every core).

Usage: python benchmarks/margin_models.py [--repeats 200]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from margin_full_path import account

import pymargin as pm
from pymargin.market.bundled import demo_market

GRID = str(Path(__file__).resolve().parents[1] / "tests/data/grid_models/example_venue.json")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=200)
    a = ap.parse_args()
    market = demo_market()
    inverse = account(np.random.default_rng(5))
    linear = {k.replace("BTC-", "BTC_USDC-", 1): v for k, v in inverse.items()}
    cases = [
        ("Deribit S:PM", pm.MarginModel.DERIBIT_PM, inverse, None, {}),
        ("Deribit X:PM", pm.MarginModel.DERIBIT_XPM, inverse, None, {"collateral": {"BTC": 50}}),
        ("Paradex PM", pm.MarginModel.PARADEX_PM, linear, None, {}),
        ("FINRA grid", pm.MarginModel.FINRA_PM, linear, None, {}),
        ("grid file", pm.MarginModel.SCENARIO_GRID, linear, GRID, {}),
    ]
    calls = []
    for _, model, book, params, kw in cases:

        def call(model=model, book=book, params=params, kw=kw) -> None:
            pm.margin(book, market, model, params=params, **kw)

        call()  # the table's rows exist: parse and value once per snapshot
        calls.append(call)
    first = [[] for _ in cases]
    kept = [[] for _ in cases]
    for _ in range(a.repeats):  # interleaved: model after model, each repeat
        for k, call in enumerate(calls):
            market.table.drop_risk_arrays()
            t0 = time.perf_counter()
            call()
            first[k].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            call()
            kept[k].append(time.perf_counter() - t0)
    print(f"pm.margin(), {len(inverse)}-option account, best / median of {a.repeats} (ms)")
    print(f"  {'model':14s} {'first on the snapshot':>24s} {'risk arrays kept':>20s}")
    for (name, *_), f, k in zip(cases, first, kept):
        print(
            f"  {name:14s} {min(f) * 1e3:10.3f} / {np.median(f) * 1e3:6.3f}"
            f"      {min(k) * 1e3:8.3f} / {np.median(k) * 1e3:6.3f}"
        )


if __name__ == "__main__":
    main()
