# SPDX-License-Identifier: Apache-2.0
"""What the margin command adds to the figures: the nearest scenarios, the margin if the coins
stop moving together, and the attribution per position, as JSON fields and as tables."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from ..analytics.attribution import MarginAttribution, ScenarioRanking


def ranking_json(r: ScenarioRanking | None) -> dict[str, Any]:
    if r is None:
        return {}
    return {
        "top_scenarios": [{"scenario": s, "loss": v} for s, v in r.top],
        "gap_to_next": r.gap,
        "coins_together": r.together,
        "coins_independent": r.independent,
        "worst_loss_per_coin": r.per_coin,
    }


def attribution_json(a: MarginAttribution | None) -> dict[str, Any]:
    if a is None:
        return {}
    return {"by_position": a.rows(), "unallocated": a.unallocated}


def print_ranking(con: Console, r: ScenarioRanking, unit: str) -> None:
    t = Table(title=f"Nearest scenarios (loss, {unit})", title_justify="left")
    t.add_column("scenario")
    t.add_column("loss", justify="right")
    for s, v in r.top:
        t.add_row(s, f"{v:,.6g} {unit}")
    con.print(t)
    con.print(f"gap from the binding scenario to the next: {r.gap:,.6g} {unit}", highlight=False)
    if r.together is not None and r.independent is not None:
        coins = " + ".join(f"{c} {v:,.6g}" for c, v in r.per_coin.items())
        con.print(
            f"worst loss with the coins moving together (one joint scenario): "
            f"{r.together:,.6g} {unit}; each coin at its own worst ({coins}): "
            f"{r.independent:,.6g} {unit}",
            highlight=False,
        )


def print_attribution(con: Console, a: MarginAttribution) -> None:
    unit = a.currency.upper()
    t = Table(title=f"IM by position ({unit})", title_justify="left")
    for col in ("instrument", "size", "contribution", "share", "marginal IM"):
        t.add_column(col, justify="left" if col == "instrument" else "right")
    for r in a.rows():
        t.add_row(
            r["instrument"] + (" *" if r["at_kink"] else ""),
            f"{r['size']:+g}",
            f"{r['contribution']:+,.6g} {unit}",
            f"{r['share']:+.1%}",
            f"{r['marginal']:+,.6g} {unit}",
        )
    t.add_row("not allocated", "", f"{a.unallocated:+,.3g} {unit}", "", "")
    t.add_row("initial margin", "", f"{a.initial_margin:,.6g} {unit}", "100.0%", "")
    con.print(t)
    con.print(
        "contribution: the position's part of IM (size x dIM/dsize; the parts sum to IM); "
        "marginal IM: IM less IM without the position"
        + (
            "; * the binding scenario changes with this position's size"
            if any(p.at_kink for p in a.positions)
            else ""
        ),
        highlight=False,
    )
