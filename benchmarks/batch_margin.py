"""Batch margin of a whole venue: 1,000,000 accounts averaging 20 positions over 2,000 BTC
instruments (the bundled real chain's 676 options, more strikes on its smile, the futures and
the perpetual), Deribit S:PM with 35 scenarios, on the machine's cores; next to the same
computation written with scipy.sparse (accounts x instruments CSR matrix times the risk rows)
and numpy (credit, dampener, worst entry, roll shock) in the same run; then the liquidation
cascade of the whole venue from a price shock (square-root impact, ADV = the venue's gross
open interest unless --adv is given: a venue this size trades about its open interest daily).

Usage: python benchmarks/batch_margin.py [--accounts 1000000] [--positions 20] [--threads 2]
       [--repeats 3] [--shock -0.10]
"""

from __future__ import annotations

import argparse
import time

from timing import machine

import numpy as np  # isort: skip  (after timing pins numpy's threads to one)
import scipy.sparse as sp  # isort: skip

from pymargin.accounts.batch import batch_margin_csr, venue_risk
from pymargin.accounts.cascade import ImpactModel, liquidation_cascade
from pymargin.market.bundled import demo_market, load_demo_chain
from pymargin.models import DeribitPMParams


def universe(n: int) -> list[str]:
    chain = load_demo_chain("BTC")
    names = list(dict.fromkeys(chain.name))
    stems = sorted({"-".join(x.split("-")[:2]) for x in names})
    extra, step = [], 250
    while len(names) + len(extra) < n - len(stems) - 1:
        for stem in stems:
            ks = [float(x.split("-")[2]) for x in names if x.startswith(stem + "-")]
            for k in np.arange(min(ks), max(ks), step):
                for cp in ("C", "P"):
                    name = f"{stem}-{int(k)}-{cp}"
                    if name not in names and name not in extra:
                        extra.append(name)
        step //= 2
    futures = [s for s in stems if s in demo_market("BTC").marks]
    return (names + extra)[: n - len(futures) - 1] + futures + ["BTC-PERPETUAL"]


class ScipyMargin:
    """What a competent user writes: the accounts x instruments matrix in CSR, its product with
    the risk rows and the model in numpy, a block of accounts at a time (the block's results
    stay in cache), every block buffer allocated once and reused, ufuncs with ``out=``."""

    def __init__(self, risk, offsets, inst, amount, block: int = 16384) -> None:
        n_acc, n_inst = len(offsets) - 1, len(risk.instruments)
        self.risk = risk
        self.m = sp.csr_matrix((amount, inst, offsets), shape=(n_acc, n_inst))
        self.d = sp.csr_matrix(
            (amount * risk.delta[inst], risk.expiry[inst], offsets),
            shape=(n_acc, len(risk.roll_k)),
        )
        self.block = block
        ns = risk.rows.shape[1]
        self.c = np.empty((block, ns))
        self.e = np.empty((block, ns - risk.n_std))
        self.net = np.empty((block, len(risk.roll_k)))
        self.lo = np.empty(block)
        self.lo2 = np.empty(block)
        self.roll = np.empty(block)

    def __call__(self, collateral, im, mm, equity):
        r, n_std = self.risk, self.risk.n_std
        n = self.m.shape[0]
        for a in range(0, n, self.block):
            b = min(n, a + self.block)
            k = b - a
            v = self.m[a:b] @ r.rows  # scipy.sparse has no out=: one block-sized result
            c, e, lo, lo2, roll = self.c[:k], self.e[:k], self.lo[:k], self.lo2[:k], self.roll[:k]
            np.multiply(v, r.pnl_offset, out=c)  # gains credited, capped; losses in full
            np.minimum(c, r.cap[0], out=c)
            np.copyto(c, v, where=v <= 0)
            ext = c[:, n_std:]
            np.abs(ext, out=e)  # extended entries dampened in magnitude, not past zero
            np.subtract(e, r.damp[0], out=e)
            np.maximum(e, 0.0, out=e)
            np.copysign(e, ext, out=e)
            np.min(c[:, :n_std], axis=1, out=lo)
            np.min(e, axis=1, out=lo2)
            np.minimum(lo, lo2, out=lo)
            np.negative(lo, out=lo)
            np.maximum(lo, 0.0, out=lo)  # the worst case
            net = self.d[a:b].toarray(out=self.net[:k])
            np.abs(net, out=net)
            np.matmul(net, r.roll_k, out=roll)
            np.round(lo, 9, out=lo)
            np.add(lo, roll, out=lo)  # RMM
            np.round(lo, 9, out=im[a:b])  # IM: Deribit's RMM rounded to 1e-9
            np.multiply(lo, 0.8, out=mm[a:b])
        np.add(collateral, self.m @ r.value, out=equity)
        return im, mm, equity


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--accounts", type=int, default=1_000_000)
    ap.add_argument("--positions", type=int, default=20)
    ap.add_argument("--instruments", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3, help="interleaved timing rounds")
    ap.add_argument("--shock", type=float, default=-0.10, help="cascade shock")
    ap.add_argument("--adv", type=float, default=None, help="cascade ADV, coins")
    a = ap.parse_args()
    market = demo_market("BTC")
    names = universe(a.instruments)
    t0 = time.perf_counter()
    risk = venue_risk(market, names, DeribitPMParams.load("2024-06-17"))
    t_risk = time.perf_counter() - t0
    rng = np.random.default_rng(3)
    counts = rng.integers(1, 2 * a.positions, a.accounts)
    offsets = np.zeros(a.accounts + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    nnz = int(offsets[-1])
    inst = rng.integers(0, len(names), nnz).astype(np.int32)
    amount = rng.choice([-2.0, -1.0, -0.5, 0.5, 1.0, 2.0], nnz)
    collateral = rng.uniform(0.5, 20.0, a.accounts)
    # Rounds of the three, interleaved; best and median of each. scipy.sparse's product and
    # numpy's elementwise model run on one thread, so the ratio is taken at one thread.
    scipy_margin = ScipyMargin(risk, offsets, inst, amount)
    im_np, mm_np, eq_np = (np.empty(a.accounts) for _ in range(3))
    times: dict[str, list[float]] = {"n": [], "one": [], "scipy": []}
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        out = batch_margin_csr(risk, offsets, inst, amount, collateral, threads=a.threads)
        times["n"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        batch_margin_csr(risk, offsets, inst, amount, collateral, threads=1)
        times["one"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        im, _, equity = scipy_margin(collateral, im_np, mm_np, eq_np)
        times["scipy"].append(time.perf_counter() - t0)
    t = {k: (min(v), float(np.median(v))) for k, v in times.items()}
    diff = np.abs(im - out["initial_margin"]).max()
    print(machine())
    print(
        f"{a.accounts:,} accounts, {nnz:,} positions ({nnz / a.accounts:.1f} per account), "
        f"{len(names):,} instruments, {risk.rows.shape[1]} scenarios"
    )
    print(f"  risk rows for the universe (revaluation, once):  {t_risk * 1e3:8.1f} ms")
    print(f"  best / median of {a.repeats} interleaved rounds, s")
    print(f"  pymargin batch margin, {a.threads} threads:   {t['n'][0]:7.3f} / {t['n'][1]:7.3f}")
    print(f"  pymargin batch margin, 1 thread:     {t['one'][0]:7.3f} / {t['one'][1]:7.3f}")
    print(
        f"  scipy.sparse product + numpy model, in place, 1 thread: {t['scipy'][0]:7.3f} / "
        f"{t['scipy'][1]:7.3f} -> pymargin on 1 thread is {t['scipy'][0] / t['one'][0]:.1f}x "
        f"(best) / {t['scipy'][1] / t['one'][1]:.1f}x (median) faster"
    )
    print(
        f"  max |IM difference| {diff:.2e} (of a largest IM {out['initial_margin'].max():.3f});"
        f" accounts under maintenance: {(out['status'] == 2).sum():,}"
    )
    t0 = time.perf_counter()
    adv = a.adv or float(np.abs(amount).sum())
    cas = liquidation_cascade(
        market,
        names,
        offsets,
        inst,
        amount,
        collateral,
        a.shock,
        impact=ImpactModel(adv=adv),
        threads=a.threads,
    )
    t_cas = time.perf_counter() - t0
    print(
        f"  liquidation cascade from a {a.shock:+.0%} shock (ADV {adv:,.0f} coins):"
        f" {len(cas.rounds)} rounds{'' if cas.converged else ' (not converged)'} in"
        f" {t_cas:.2f} s; final move {cas.final_move:+.2%} (amplification"
        f" {cas.amplification:.2f}x), {int(cas.liquidated.sum()):,} accounts liquidated,"
        f" shortfall {cas.shortfall:,.2f} {risk.currency}"
    )


if __name__ == "__main__":
    main()
