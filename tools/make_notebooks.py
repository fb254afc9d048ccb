# SPDX-License-Identifier: Apache-2.0
"""Writes the three notebooks of notebooks/ from the cells below, outputs stripped (they are
executed in CI by nbmake, never committed with outputs). Run from the repository root after
editing a cell: python tools/make_notebooks.py"""

from __future__ import annotations

from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]

DESK = [
    ("md", """# A desk's margin and what-if, on a book across coins

The bundled mixed book holds BTC options and a perpetual (settled in BTC), ETH options (settled
in ETH), and a linear BTC perpetual (settled in USDC). The market is `demo:MIXED`, built from the
bundled chains as described in `pymargin.market.bundled.mixed_demo_market`. It is a demo
market, not a record of any one moment."""),
    ("code", """import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

import pymargin as pm
from pymargin.market.bundled import mixed_demo_market

market = mixed_demo_market()
book = pm.Portfolio.from_csv("../examples/mixed_book.csv")
pd.Series(book.positions, name="size")"""),
    ("md", """## Margin, one group per settlement currency

Under Deribit's segregated portfolio margin, each settlement currency is its own margin group,
with its own parameters. The total is in USD, at the index."""),
    ("code", """res = pm.margin(book, market)
print(f"IM {res.initial_margin:,.0f} USD, MM {res.maintenance_margin:,.0f} USD")
print("parameters:", res.parameters)
for note in res.notes:
    print("note:", note)
pd.DataFrame(
    {c: {"IM": g.initial_margin, "MM": g.maintenance_margin, "unit": g.currency.upper(),
         "worst scenario": g.worst_scenario} for c, g in res.groups.items()}
).T"""),
    ("code", """fig, axes = plt.subplots(len(res.groups), 1, figsize=(8, 2.8 * len(res.groups)))
for ax, g in zip(axes, res.groups.values()):
    g.plot(ax=ax)
fig.tight_layout()"""),
    ("md", """## What drives it

Each position's contribution to IM (the contributions sum to IM), and its marginal IM (IM
less IM without it)."""),
    ("code", """attribution = pm.margin_attribution(book, market)
table = pd.DataFrame(attribution.rows()).set_index("instrument")
print(f"not allocated: {attribution.unallocated:+.3g} USD")
assert abs(table["contribution"].sum() + attribution.unallocated - res.initial_margin) < 1e-6
table"""),
    ("code", """table["contribution"].sort_values().plot.barh(figsize=(7, 3), title="IM contribution (USD)");"""),
    ("code", """ranking = pm.scenario_ranking(res, 5)
print(f"gap from the binding scenario to the next: {ranking.gap:,.0f} USD")
print(f"coins together: {ranking.together:,.0f} USD; each at its own worst: {ranking.independent:,.0f} USD")
pd.DataFrame(ranking.top, columns=["scenario", "loss (USD)"])"""),
    ("md", """## What-if

The incremental IM of a trade, and the same order through the pre-trade engine (BTC group,
collateral 5 BTC)."""),
    ("code", """trade = {"BTC-26DEC25-90000-P": -2.0}
inc = pm.incremental_margin(book, market, trade)
print(f"IM {inc.before:,.0f} -> {inc.after:,.0f} USD: the trade needs {inc.change:+,.0f} USD")

from pymargin.accounts.engine import Side

table = market.table
_, settles = table.take(list(book.positions), "settlement_currency")
btc = table.code_of("btc")
btc_book = {n: s for n, s, c in zip(book.positions, book.positions.values(), settles) if c == btc}
names = [*btc_book, "BTC-26DEC25-90000-P"]
engine = pm.PreTradeEngine(market, names)
account = engine.add_account({"btc": 5.0})
for name, size in btc_book.items():
    inst = pm.parse_instrument(name)
    forward = market.underlying_price(inst)
    inverse_future = inst.kind is not pm.InstrumentKind.OPTION
    amount = abs(size) * (forward if inverse_future else 1.0)  # the engine counts USD for those
    price = forward if inverse_future else market.marks[name].mark_price
    engine.fill(account, name, Side.BUY if size > 0 else Side.SELL, amount, price)
check = engine.check(account, "BTC-26DEC25-90000-P", Side.SELL, 2.0)
print(f"accept: {check.accept}; IM {check.im_before:.6f} -> {check.im_after:.6f} BTC, "
      f"available after {check.available_after:.6f} BTC")"""),
    ("md", """## The same book under every mode"""),
    ("code", """modes = pm.compare_margin_modes(pm.Account(book, {"btc": 5.0, "eth": 100.0, "usdc": 50_000.0}), market)
pd.DataFrame({m.value: (s.as_row() if not isinstance(s, str) else {"not covered": s}) for m, s in modes.items()}).T"""),
]

VENUE = [
    ("md", """# An exchange risk team: every account, a stress, a liquidation cascade

The bundled venue (examples/venue_positions.csv, 200 accounts on the BTC chain) margined
under Deribit S:PM, then under a stressed market, then through a liquidation cascade."""),
    ("code", """import matplotlib
matplotlib.use("Agg")
import numpy as np
import pandas as pd

import pymargin as pm
from pymargin.accounts.batch import batch_margin, venue_input
from pymargin.accounts.cascade import ImpactKind, ImpactModel, liquidation_cascade
from pymargin.market.bundled import demo_market

market = demo_market("BTC")
positions = "../examples/venue_positions.csv"
collateral = "../examples/venue_collateral.csv"
now = batch_margin(positions, collateral, market)
frame = now.to_frame()
frame["status"].value_counts()"""),
    ("code", """frame.sort_values("mm_ratio", ascending=False).head(10)"""),
    ("md", """## A stress: BTC -20 %, implied vols x1.3

Every account re-margined on the moved market. The worst scenario of each account is named
as everywhere else."""),
    ("code", """stressed_market = market.shifted({"BTC_USD": -0.20}, {"BTC_USD": 1.3})
stressed = batch_margin(positions, collateral, stressed_market).to_frame()
moved = pd.crosstab(frame["status"], stressed["status"], rownames=["now"], colnames=["stressed"])
moved"""),
    ("code", """stressed["worst_scenario"].value_counts().head()"""),
    ("md", """## The liquidation cascade after a -8 % shock

Square-root impact against linear impact, and the amplification of the initial shock."""),
    ("code", """v = venue_input(positions, collateral)
runs = {}
for label, impact in {
    "square root": ImpactModel(),
    "linear, 20,000 BTC per 100 %": ImpactModel(ImpactKind.LINEAR, depth=20_000.0),
}.items():
    r = liquidation_cascade(market, v.instruments, v.offsets, v.instrument, v.amount, v.collateral,
                            -0.08, impact=impact)
    runs[label] = r
    print(f"{label}: final move {r.final_move:+.2%}, amplification {r.amplification:.2f}x, "
          f"{int(r.liquidated.sum())} accounts liquidated, shortfall {r.shortfall:.4f} BTC")
runs["square root"].plot();"""),
]

VAR = [
    ("md", """# VaR and Expected Shortfall, with a backtest

One definition throughout: VaR at confidence c is the k-th largest loss of the scenario
P&L, with k = ceil(n (1 - c)). ES is the mean of the k largest losses. The book is
revalued in full on every historical joint move of spot and implied vol (DVOL)."""),
    ("code", """import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import pymargin as pm
from pymargin.analytics.backtest import backtest_var
from pymargin.analytics.var import VolFilter, historical_var
from pymargin.market.bundled import demo_market

market = demo_market("BTC")
book = pm.Portfolio.from_csv("../examples/btc_book.csv")
plain = historical_var(book, market, confidence=0.99)
ewma = historical_var(book, market, confidence=0.99, filtered=VolFilter.EWMA)
for name, r in (("historical", plain), ("filtered (EWMA)", ewma)):
    print(f"{name}: VaR {r.var:,.0f} USD, ES {r.es:,.0f} USD over {len(r.pnl)} scenarios")"""),
    ("code", """# the definition, checked against the scenario P&L itself
losses = np.sort(-plain.pnl)[::-1]
k = int(np.ceil(len(losses) * (1 - 0.99)))
assert plain.var == losses[k - 1] and abs(plain.es - losses[:k].mean()) < 1e-6 * plain.es
plain.plot();"""),
    ("md", """## Backtest

Each day's VaR from the previous 250 days, against that day's P&L of today's book. Kupiec's
test checks the number of exceptions, Christoffersen's their independence."""),
    ("code", """bt = backtest_var(book, market, window=250, confidence=0.99, start="2022-01-01", end="2024-12-31")
print(f"{bt['exceptions']} exceptions in {bt['observations']} days (expected {bt['expected']:.1f})")
print(f"Kupiec LR {bt['kupiec'][0]:.2f} (p {bt['kupiec'][1]:.3f}); "
      f"Christoffersen LR {bt['christoffersen'][0]:.2f} (p {bt['christoffersen'][1]:.3f})")
fig, ax = plt.subplots(figsize=(9, 3))
ax.plot(bt["pnl"], lw=0.6, label="P&L")
ax.plot(-bt["var"], color="tab:red", lw=1, label="-VaR 99%")
hits = np.flatnonzero(bt["hits"])
ax.scatter(hits, bt["pnl"][hits], color="black", s=10, label="exceptions")
ax.legend(fontsize=8);"""),
]


def write(name: str, cells: list[tuple[str, str]]) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell(src) if kind == "md" else nbformat.v4.new_code_cell(src)
        for kind, src in cells
    ]
    for k, cell in enumerate(nb.cells):  # stable ids: regenerating changes nothing
        cell["id"] = f"{name[:12]}-{k}"
    nbformat.write(nb, ROOT / "notebooks" / f"{name}.ipynb")


if __name__ == "__main__":
    write("desk_margin_whatif", DESK)
    write("venue_stress_cascade", VENUE)
    write("var_backtest", VAR)
