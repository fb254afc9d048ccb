"""Pre-trade check latency from Python (pymargin.PreTradeEngine.check), p50 and p99 over many
single calls, for accounts of 10, 100 and 1,000 positions on the bundled real BTC chain
(Deribit, 2025-12-05; 676 options and the perpetual), under each model the engine runs:
Deribit S:PM and standard margin on the inverse chain; Deribit X:PM on the inverse chain and
its options' USDC-settled twins together (BTC and USDC collateral); Paradex, FINRA, the
Greek-netting model, SPAN and the example grid venue on the same strikes as USDC-settled
linear options. Next
to it, the full recompute an engine without incremental state needs per order (the account
re-margined with the order added, by deribit_pm_margin or pm.margin, risk arrays kept per
snapshot as any engine would keep them), in the same run.

Usage: python benchmarks/pretrade_latency.py [--calls 20000] [--model deribit_pm ...]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import pymargin as pm
from pymargin.accounts.engine import PreTradeEngine, Side
from pymargin.market.bundled import demo_market
from pymargin.models import DeribitPMParams, deribit_pm_margin

GRID_FILE = Path(__file__).resolve().parents[1] / "tests/data/grid_models/example_venue.json"
MODELS = {
    "deribit_pm": (pm.MarginModel.DERIBIT_PM, None),
    "deribit_xpm": (pm.MarginModel.DERIBIT_XPM, None),
    "deribit_standard": (pm.MarginModel.DERIBIT_STANDARD, None),
    "paradex_pm": (pm.MarginModel.PARADEX_PM, None),
    "finra_pm": (pm.MarginModel.FINRA_PM, None),
    "delta_margin": (pm.MarginModel.DELTA_MARGIN, None),
    "span16": (pm.MarginModel.SPAN16, "span"),
    "scenario_grid": (pm.MarginModel.SCENARIO_GRID, str(GRID_FILE)),
    "derive_pm": (pm.MarginModel.DERIVE_PM, None),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--calls", type=int, default=20000)
    ap.add_argument("--model", nargs="*", choices=sorted(MODELS), default=list(MODELS))
    a = ap.parse_args()
    for key in a.model:
        run(key, a.calls)


def _span_params() -> object:
    """SPAN has no published parameters for these instruments: the test suite's BTC set."""
    from pymargin.models.span import SpanParams

    doc = {
        "version": "benchmark",
        "source": "tests/accounts/test_engine_models.py",
        "commodities": {
            "BTC_USD": {
                "price_scan": 0.2,
                "vol_scan": 0.1,
                "tier_days": [14, 60],
                "intra_rates": [[0, 1, 300.0], [1, 2, 200.0], [0, 2, 500.0]],
                "short_option_minimum": 150.0,
            }
        },
    }
    return SpanParams.from_document(doc)


def run(key: str, calls: int) -> None:
    model, grid_params = MODELS[key]
    if grid_params == "span":
        grid_params = _span_params()
    market = demo_market()
    cross = model is pm.MarginModel.DERIBIT_XPM
    deribit = cross or model in (pm.MarginModel.DERIBIT_PM, pm.MarginModel.DERIBIT_STANDARD)
    portfolio = cross or model is pm.MarginModel.DERIBIT_PM
    params = DeribitPMParams.load("2024-06-17") if portfolio else grid_params
    names = [*market.marks, "BTC-PERPETUAL"]
    if model in (pm.MarginModel.DERIBIT_STANDARD, pm.MarginModel.DERIVE_PM):
        # options and the perpetual (Deribit's inverse futures have no rates, Derive lists none)
        names = [n for n in names if n.count("-") == 3 or n == "BTC-PERPETUAL"]
    if cross:  # the USDC-settled twins of the options next to the inverse chain
        twins = [n.replace("BTC-", "BTC_USDC-", 1) for n in names if n.count("-") == 3]
        names = [*names[:-1], *twins, names[-1]]
    if not deribit:
        names = [n.replace("BTC-", "BTC_USDC-", 1) for n in names]
    eng = PreTradeEngine(market, names, params, model=model)
    ccy = "BTC" if deribit else "USDC"
    collateral = {"BTC": 1e4, "USDC": 1e9} if cross else {ccy: 1e4 if deribit else 1e9}
    rng = np.random.default_rng(9)
    options = names[:-1]
    print(f"{model.name}: {len(names)} instruments, {eng.scenarios} scenarios; check() from Python")
    for positions in (10, 100, 1000):
        acct = eng.add_account(collateral)
        held = rng.choice(options, min(positions, len(options)), replace=False)
        book = {}
        for name in held:
            q = float(rng.choice([-2.0, -1.0, 1.0, 2.0]))
            eng.fill(acct, str(name), Side.BUY if q > 0 else Side.SELL, abs(q), 0.01)
            book[str(name)] = q
        extra = positions - len(held)  # more positions than the chain has options: perp lots
        if extra > 0:
            perp = names[-1]
            if deribit:
                eng.fill(acct, perp, Side.BUY, 1000.0 * extra, 92_000.0)
                book[perp] = 1000.0 * extra / market.underlying_price(pm.parse_instrument(perp))
            else:
                eng.fill(acct, perp, Side.BUY, 0.01 * extra, 92_000.0)
                book[perp] = 0.01 * extra
        picks = [str(x) for x in rng.choice(options, calls)]
        handles = [eng.handle(x) for x in picks]
        lat = np.empty(calls)
        lat_h = np.empty(calls)
        check = eng.check
        for k, (name, h) in enumerate(zip(picks, handles)):  # by name and by handle, in turn
            t0 = time.perf_counter_ns()
            check(acct, name, Side.SELL, 1.0)
            t1 = time.perf_counter_ns()
            check(acct, h, Side.SELL, 1.0)
            t2 = time.perf_counter_ns()
            lat[k] = t1 - t0
            lat_h[k] = t2 - t1
        harr = np.array(handles, dtype=np.int32)
        sells = np.ones(len(picks), np.uint8)
        ones = np.ones(len(picks))
        batch_t0 = time.perf_counter()
        eng.check_many(acct, picks, [Side.SELL] * len(picks), ones)
        per_batch = (time.perf_counter() - batch_t0) / len(picks)
        batch_t0 = time.perf_counter()
        eng.check_many(acct, harr, sells, ones)
        per_batch_h = (time.perf_counter() - batch_t0) / len(picks)
        # The alternative: re-margin the account with the order added, from scratch.
        reps = 20 if positions <= 100 else 5

        def full_margin(b: dict[str, float]) -> None:
            if model is pm.MarginModel.DERIBIT_PM:
                deribit_pm_margin(b, market, params, threads=1)
            elif cross:
                pm.margin(b, market, model, params=params, collateral=collateral)
            else:
                pm.margin(b, market, model, params=params)

        full_margin(book)  # warm caches
        times = []
        for k in range(reps):
            trial = dict(book)
            trial[picks[k]] = trial.get(picks[k], 0.0) - 1.0
            t0 = time.perf_counter()
            full_margin(trial)
            times.append(time.perf_counter() - t0)
        full = float(np.median(times))  # the median, as the check's p50 it is set against
        p50, p99 = np.percentile(lat, [50, 99]) / 1e3
        h50, h99 = np.percentile(lat_h, [50, 99]) / 1e3
        print(
            f"  {positions:5d} positions: p50 {p50:.2f} us, p99 {p99:.2f} us; by handle p50 "
            f"{h50:.2f} us, p99 {h99:.2f} us; check_many {per_batch * 1e6:.2f} us per order "
            f"(handles {per_batch_h * 1e6:.3f}); full recompute per order, median "
            f"{full * 1e3:.2f} ms (timed differently from the check: no ratio)"
        )


if __name__ == "__main__":
    main()
