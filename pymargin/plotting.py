# SPDX-License-Identifier: Apache-2.0
"""Drawing (matplotlib, imported lazily by :func:`pyplot`): the risk matrix as a heatmap, Greeks
by expiry and strike, P&L distributions, liquidation surfaces, margin before and after an
optimisation, hedging cost against frequency. Each function draws a result it is given on
``ax`` (a new figure when None) and returns the axes (or figure); it computes nothing, so the
result classes of every layer can offer ``.plot()`` through it. Plots that compute (the P&L
profile across spot) are in :mod:`pymargin.reporting.plots`, which re-exports these."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .exceptions import InvalidInputError
from .extras import optional

if TYPE_CHECKING:
    from .models.registry import MarginResult
    from .risk.greeks import PortfolioGreeks

__all__ = [
    "plot_cost_frequency",
    "plot_greeks",
    "plot_liquidation_surface",
    "plot_margin_before_after",
    "plot_pnl_distribution",
    "plot_risk_matrix",
    "pyplot",
]

VOL_STATE_LABELS = ("vol up", "vol unchanged", "vol down")


def pyplot() -> Any:
    """matplotlib.pyplot (Agg unless a backend is chosen), or a MissingDependencyError naming
    the extra to install."""
    matplotlib = optional("matplotlib", "report")
    matplotlib.use("Agg", force=False)
    return optional("matplotlib.pyplot", "report")


def plot_risk_matrix(result: MarginResult, ax: Any = None, pair: str | None = None) -> Any:
    """Deribit PM's standard risk matrix of one pair (price buckets x vol states, after the
    pnl_offset credit) as a heatmap; the worst cell is outlined."""
    details = result.details
    vectors = getattr(details, "aggregated_risk_vectors", None)
    if not vectors:
        raise InvalidInputError("needs a Deribit PM result (MarginModel.DERIBIT_PM)", "result")
    key = pair or next(iter(vectors))
    if key not in vectors:
        raise InvalidInputError(f"no risk matrix for {key!r}; have {sorted(vectors)}", "pair")
    std = np.asarray(vectors[key]["standard"])
    buckets = std.size // 3
    grid = std.reshape(buckets, 3).T  # rows: vol states, columns: price buckets
    labels = details.scenario_labels[key][: std.size : 3]
    moves = [lab.split(" ")[1] for lab in labels]  # "BTC -16% vol up": the move
    plt = pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 2.8))
    lim = float(np.abs(grid).max()) or 1.0
    im = ax.imshow(grid, cmap="RdYlGn", vmin=-lim, vmax=lim, aspect="auto")
    ax.set_xticks(range(buckets), moves, fontsize=8)
    ax.set_yticks(range(3), VOL_STATE_LABELS, fontsize=8)
    for r in range(3):
        for c in range(buckets):
            ax.text(c, r, f"{grid[r, c]:.3g}", ha="center", va="center", fontsize=7)
    worst = np.unravel_index(int(np.argmin(grid)), grid.shape)
    ax.add_patch(
        plt.Rectangle(
            (worst[1] - 0.5, worst[0] - 0.5), 1, 1, fill=False, edgecolor="black", linewidth=2.5
        )
    )
    coin = labels[0].split(" ")[0] if labels else key
    where = (
        f"{coin}, {result.currency.upper()}-settled"
        if result.currency != "usd"
        else f"{coin}, cross (USD)"
    )
    ax.set_title(f"{where} risk matrix, worst cell outlined", fontsize=9)
    ax.figure.colorbar(im, ax=ax, fraction=0.03)
    return ax


def plot_greeks(greeks: PortfolioGreeks, fig: Any = None) -> Any:
    """Delta (USD), cash gamma and vega by expiry, and vega by strike, as bars."""
    plt = pyplot()
    if fig is None:
        fig = plt.figure(figsize=(9, 5.5))
    axes = fig.subplots(2, 2)
    exp = [f"{u.split('_')[0]} {e}" for (u, e) in greeks.by_expiry]
    vals = list(greeks.by_expiry.values())
    for ax, field, title in (
        (axes[0, 0], "delta_usd", "delta (USD) by expiry"),
        (axes[0, 1], "gamma_1pct", "gamma: delta USD change per 1 %"),
        (axes[1, 0], "vega", "vega (USD per vol point) by expiry"),
    ):
        ax.bar(range(len(exp)), [v[field] for v in vals], color="tab:blue")
        ax.set_xticks(range(len(exp)), exp, rotation=45, ha="right", fontsize=7)
        ax.set_title(title, fontsize=9)
        ax.axhline(0, color="grey", linewidth=0.5)
    strikes: dict[float, float] = {}
    for name, v in zip(greeks.instruments, greeks.position["vega"]):
        parts = name.split("-")
        if len(parts) == 4:
            k = float(parts[2].replace("d", "."))
            strikes[k] = strikes.get(k, 0.0) + float(v)
    ax = axes[1, 1]
    if strikes:
        ks = sorted(strikes)
        ax.bar(range(len(ks)), [strikes[k] for k in ks], color="tab:orange")
        ax.set_xticks(range(len(ks)), [f"{k:g}" for k in ks], rotation=45, ha="right", fontsize=7)
    ax.set_title("vega by strike", fontsize=9)
    ax.axhline(0, color="grey", linewidth=0.5)
    fig.tight_layout()
    return fig


def plot_pnl_distribution(result: Any, ax: Any = None) -> Any:
    """Histogram of a VaR result's scenario P&L with -VaR and -ES marked."""
    if result.pnl is None:
        raise InvalidInputError("this VaR method has no P&L sample (parametric)", "result")
    plt = pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3.5))
    ax.hist(result.pnl, bins=80, color="tab:blue", alpha=0.8)
    ax.axvline(
        -result.var, color="tab:red", label=f"VaR {result.confidence:.1%}: {result.var:,.0f}"
    )
    ax.axvline(-result.es, color="black", linestyle="--", label=f"ES: {result.es:,.0f}")
    ax.set_xlabel(f"P&L over {result.horizon_days} day(s), USD")
    ax.set_ylabel("scenarios")
    ax.set_title(f"{result.method.value} P&L distribution", fontsize=9)
    ax.legend(fontsize=8)
    return ax


def plot_liquidation_surface(surface: dict[str, Any], ax: Any = None) -> Any:
    """The maintenance-margin ratio over spot moves x vol factors
    (:func:`pymargin.accounts.liquidation.liquidation_surface`), the liquidation boundary (ratio 1)
    drawn as a contour."""
    plt = pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3.5))
    moves = np.asarray(surface["moves"]) * 100
    vols = np.asarray(surface["vol_scales"])
    ratio = np.minimum(np.asarray(surface["mm_ratio"], dtype=float), 3.0)
    im = ax.pcolormesh(moves, vols, ratio, cmap="RdYlGn_r", vmin=0, vmax=2, shading="auto")
    if (ratio >= 1).any() and (ratio < 1).any():
        ax.contour(moves, vols, ratio, levels=[1.0], colors="black", linewidths=1.5)
    ax.set_xlabel("spot move (%)")
    ax.set_ylabel("implied vol factor")
    ax.set_title("maintenance margin / margin balance (>= 1: liquidation)", fontsize=9)
    ax.figure.colorbar(im, ax=ax, fraction=0.03)
    return ax


def plot_margin_before_after(result: Any, ax: Any = None) -> Any:
    """IM before and after an optimiser's trade (an ``OptimizationResult``), with the trading
    cost stacked on the after bar."""
    plt = pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 3.5))
    ccy = result.currency.upper()
    ax.bar(
        ["before", "after"],
        [result.margin_before, result.verified_margin],
        color=["#999999", "#1f77b4"],
    )
    ax.bar(
        ["after"],
        [result.trading_cost],
        bottom=[result.verified_margin],
        color="#d62728",
        label="trading cost",
    )
    ax.set_ylabel(f"initial margin ({ccy})")
    ax.set_title(f"{result.model.name}: {result.margin_released:,.4g} {ccy} released", fontsize=9)
    ax.legend(fontsize=8)
    return ax


def plot_cost_frequency(simulations: Any, fig: Any = None) -> Any:
    """Rebalancing policies (``compare_policies`` results) in two panels: the expected cost of
    the time policies against their rebalancing interval (simulated with 2 standard errors,
    analytic as a line), and every policy's cost against the hedge error it leaves."""
    plt = pyplot()
    if fig is None:
        fig = plt.figure(figsize=(10, 4))
    ax1, ax2 = fig.subplots(1, 2)
    timed = sorted(
        (s for s in simulations if s.policy.startswith("every")),
        key=lambda s: float(s.policy.split()[1]),
    )
    if timed:
        hours = [float(s.policy.split()[1]) for s in timed]
        ax1.errorbar(
            hours,
            [s.cost_mean for s in timed],
            yerr=[2 * s.cost_se for s in timed],
            fmt="o",
            ms=4,
            label="simulated",
        )
        ax1.plot(hours, [s.analytic.expected_cost for s in timed], "k-", lw=1, label="analytic")
        ax1.set_xscale("log")
        ax1.minorticks_off()
        ax1.set_xticks(hours, [f"{h:g}" for h in hours])
        ax1.set_xlabel("rebalancing interval (hours)")
        ax1.set_ylabel("expected rebalancing cost (USD)")
        ax1.legend(fontsize=8)
    ax1.set_title("cost against rebalancing frequency", fontsize=9)
    for s in simulations:
        ax2.errorbar(s.hedge_error_std, s.cost_mean, yerr=2 * s.cost_se, fmt="o", ms=4)
        ax2.plot(s.analytic.hedge_error_std, s.analytic.expected_cost, "kx", ms=6)
        ax2.annotate(
            s.policy,
            (s.hedge_error_std, s.cost_mean),
            fontsize=7,
            xytext=(4, 4),
            textcoords="offset points",
        )
    ax2.set_xlabel("hedge error std (USD)")
    ax2.set_ylabel("expected rebalancing cost (USD)")
    ax2.set_title("cost against residual risk (o simulated, x analytic)", fontsize=9)
    fig.tight_layout()
    return fig
