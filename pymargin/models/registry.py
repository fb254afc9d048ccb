# SPDX-License-Identifier: Apache-2.0
"""The entry point: ``pymargin.margin(portfolio, market, model=...)``."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..enums import DeltaShock
from ..exceptions import InputTypeError, InvalidInputError
from ..extras import optional
from ..market.market import Market
from ..market.portfolio import Portfolio
from .deribit_pm import DeribitPMParams, DeribitPMResult, deribit_pm_margin
from .deribit_standard import DeribitStandardParams, deribit_standard_margin
from .deribit_xpm import DeribitXPMResult, deribit_xpm_margin
from .paradex_pm import paradex_pm_margin
from .params import later_than
from .scan import finra_kwargs, finra_pm_margin

__all__ = ["MarginModel", "MarginResult", "margin"]


class MarginModel(enum.Enum):
    """The margin models :func:`margin` applies."""

    DERIBIT_PM = "deribit_pm"  # segregated portfolio margin (S:PM), per settlement currency
    DERIBIT_XPM = "deribit_xpm"  # cross portfolio margin (X:PM), one USD risk matrix
    DERIBIT_STANDARD = "deribit_standard"  # per-position standard margin (S:SM)
    PARADEX_PM = "paradex_pm"  # SCAN-24 and the minimum delta requirement, USDC
    SPAN16 = "span16"  # CME SPAN classic: scan risk, spreads, credits, short option minimum
    FINRA_PM = "finra_pm"  # +-15 % x 10 points with the per-contract minimum, USD
    DELTA_MARGIN = "delta_margin"  # Greek-netting (SIMM-like) delta, vega and curvature, USD
    SCENARIO_GRID = "scenario_grid"  # any grid venue from its parameter file (params=), USD
    DERIVE_PM = "derive_pm"  # Derive's PMRM_2: scenarios, skew shocks, contingencies, USDC


@dataclass
class MarginResult:
    """IM and MM with the breakdown that explains them, in ``currency`` units.

    A book whose positions settle in several currencies under a segregated model (Deribit
    S:PM, S:SM) is one margin group per settlement currency: ``groups`` holds each group's
    result in its own units, and the totals here are their sum in USD (each at its index).
    ``parameters`` says which parameter version each part of the model came from; ``notes``
    what a reader must know about that choice."""

    model: MarginModel
    currency: str
    initial_margin: float
    maintenance_margin: float
    components: dict[str, float]
    worst_scenario: str
    scenario_labels: list[str]
    scenario_pnl: np.ndarray
    details: Any
    groups: dict[str, MarginResult] = field(default_factory=dict)
    parameters: str = ""
    notes: list[str] = field(default_factory=list)

    def explain(self) -> str:
        return str(self.details.explain())

    def summary(self) -> dict[str, Any]:
        """The figures as plain data (JSON-ready): model, currency, IM, MM, components, worst
        scenario, parameters and notes, and the same for each margin group."""
        return {
            "model": self.model.value,
            "currency": self.currency,
            "initial_margin": self.initial_margin,
            "maintenance_margin": self.maintenance_margin,
            "components": dict(self.components),
            "worst_scenario": self.worst_scenario,
            "parameters": self.parameters,
            "notes": list(self.notes),
            "groups": {c: g.summary() for c, g in self.groups.items()},
        }

    def to_frame(self) -> Any:
        """Per-scenario P&L as a pandas DataFrame (pandas is imported here only)."""
        pd = optional("pandas", "venue")

        return pd.DataFrame({"scenario": self.scenario_labels, "pnl": self.scenario_pnl})

    def plot(self, ax: Any = None, pair: str | None = None) -> Any:
        """The risk matrix as a heatmap, worst cell outlined (Deribit PM results; matplotlib
        is imported here only). See also :mod:`pymargin.reporting.plots`."""
        from ..plotting import plot_risk_matrix

        return plot_risk_matrix(self, ax, pair)


def margin(
    portfolio: Portfolio | dict[str, float],
    market: Market,
    model: MarginModel = MarginModel.DERIBIT_PM,
    *,
    params: Any = None,
    currency: str | None = None,
    collateral: dict[str, float] | None = None,
    mmp_margin: float = 0.0,
    open_orders_margin: float = 0.0,
    spot_margin: float = 0.0,
    params_version: str | None = None,
    delta_shock: DeltaShock = DeltaShock.REFUSE,
) -> MarginResult:
    """Margin of ``portfolio`` under ``model`` (see :class:`MarginModel`).

    ``params``: the model's parameter set (DeribitPMParams for the Deribit PM models,
    DeribitStandardParams, SpanParams; a version string for Paradex). None: the shipped
    version in force at the market's valuation time (for Deribit PM, block by block: each pair
    and currency from the newest version dated on or before it), or ``params_version`` when
    given (one shipped version for every block). ``currency`` picks one settlement currency
    of the segregated models; without it a book settling in several is margined per
    settlement currency, totals in USD (:attr:`MarginResult.groups`);
    ``collateral`` (currency -> balance) enters X:PM's risk matrix. ``mmp_margin``,
    ``open_orders_margin`` and ``spot_margin`` are the order-book parts of Deribit's IM: inputs,
    since they come from the order book, not from the risk matrix."""
    if not isinstance(model, MarginModel):
        raise InputTypeError("use a pymargin.MarginModel member", "model")
    if not isinstance(delta_shock, DeltaShock):
        raise InputTypeError("use a pymargin.DeltaShock member", "delta_shock")
    if delta_shock is DeltaShock.UNVERIFIED and model is not MarginModel.DERIBIT_PM:
        raise InvalidInputError(
            "the unverified delta shock is offered for Deribit S:PM", "delta_shock"
        )
    if currency is not None and not isinstance(currency, str):
        raise InputTypeError("must be a currency name", "currency")
    if isinstance(portfolio, Portfolio):
        pf = portfolio
    elif isinstance(portfolio, Mapping):
        pf = Portfolio.sized(portfolio)  # names checked by the market's table, once
    else:
        raise InputTypeError("expected a Portfolio or a mapping of name to size", "portfolio")
    if not pf.positions:
        raise InvalidInputError("no positions", "positions")
    if params_version is not None:
        params = _versioned(model, market, pf, params, params_version)
    extras = {
        "mmp_margin": mmp_margin,
        "open_orders_margin": open_orders_margin,
        "spot_margin": spot_margin,
    }
    if model in (MarginModel.DERIBIT_PM, MarginModel.DERIBIT_STANDARD) and currency is None:
        ccys = _settlement_currencies(pf, market)
        if len(ccys) > 1:
            if any(extras.values()):
                raise InvalidInputError(
                    "the order-book margins belong to one settlement currency: pass currency=",
                    "currency",
                )

            def one(sub: Portfolio, c: str) -> MarginResult:
                if model is MarginModel.DERIBIT_PM:
                    return _deribit_pm(sub, market, params, c, extras, delta_shock)
                return _deribit_standard(sub, market, params, c)

            return _by_settlement(model, pf, market, ccys, one)
    if model is MarginModel.DERIBIT_PM:
        return _deribit_pm(pf, market, params, currency, extras, delta_shock)
    if model is MarginModel.DERIBIT_XPM:
        return _deribit_xpm(pf, market, params, collateral, extras)
    if model is MarginModel.DERIBIT_STANDARD:
        return _deribit_standard(pf, market, params, currency)
    if model is MarginModel.PARADEX_PM:
        return _paradex(pf, market, params)
    if model is MarginModel.FINRA_PM:
        return _finra(pf, market, params)
    if model is MarginModel.DELTA_MARGIN:
        return _delta_margin(pf, market, params)
    if model is MarginModel.SCENARIO_GRID:
        return _grid(pf, market, params)
    if model is MarginModel.DERIVE_PM:
        return _derive(pf, market, params)
    return _span(pf, market, params)


def _settlement_currencies(pf: Portfolio, market: Market) -> list[str]:
    """The positions' settlement currencies (lower case), in order of first appearance."""
    table = market.table
    rows = table.rows(list(pf.positions))  # first: it may add the instruments to the table
    codes = table.column("settlement_currency")[rows]
    return list(dict.fromkeys(table.codes[int(c)] for c in codes))


def _by_settlement(
    model: MarginModel,
    pf: Portfolio,
    market: Market,
    currencies: list[str],
    one: Callable[[Portfolio, str], MarginResult],
) -> MarginResult:
    """A segregated model over a book settling in several currencies: one margin group per
    settlement currency, each under its own parameters, summed in USD at the index."""
    table = market.table
    names = list(pf.positions)
    rows = table.rows(names)
    codes = table.column("settlement_currency")[rows]
    groups: dict[str, MarginResult] = {}
    usd: dict[str, float] = {}
    for c in currencies:
        want = table.code_of(c)
        sub = Portfolio.sized({n: pf.positions[n] for n, k in zip(names, codes) if k == want})
        groups[c] = one(sub, c)
        usd[c] = market.usd_price(c)
    im = sum(g.initial_margin * usd[c] for c, g in groups.items())
    mm = sum(g.maintenance_margin * usd[c] for c, g in groups.items())
    binding = max(groups, key=lambda c: groups[c].initial_margin * usd[c])
    components = {
        f"{c.upper()} group IM (USD)": g.initial_margin * usd[c] for c, g in groups.items()
    }
    labels = [f"{x} ({c.upper()} group)" for c, g in groups.items() for x in g.scenario_labels]
    pnl = [g.scenario_pnl * usd[c] for c, g in groups.items()]
    return MarginResult(
        model,
        "usd",
        float(im),
        float(mm),
        components,
        f"{groups[binding].worst_scenario} ({binding.upper()} group)"
        if groups[binding].worst_scenario
        else "",
        labels,
        np.concatenate(pnl) if pnl else np.zeros(0),
        _GroupDetails(groups, usd),
        groups,
        "; ".join(f"{c.upper()}: {g.parameters}" for c, g in groups.items() if g.parameters),
        [n for g in groups.values() for n in g.notes],
    )


def _versioned(model: MarginModel, market: Market, pf: Portfolio, params: Any, version: str) -> Any:
    """The shipped parameters of ``version`` for ``model`` (``params_version=``)."""
    if params is not None:
        raise InvalidInputError("give params or params_version, not both", "params_version")
    if not isinstance(version, str):
        raise InputTypeError("must be a version name (its date)", "params_version")
    if model in (MarginModel.DERIBIT_PM, MarginModel.DERIBIT_XPM):
        table = market.table
        rows = table.rows(list(pf.positions))
        return DeribitPMParams.in_force(  # checks that the version covers the book
            market.valuation_time,
            table.code_names(table.column("pair")[rows]),
            table.code_names(table.column("settlement_currency")[rows]),
            version=_known("deribit_pm", version),
        )
    if model is MarginModel.DERIBIT_STANDARD:
        return DeribitStandardParams.load(_known("deribit_standard", version))
    if model is MarginModel.PARADEX_PM:
        return _known("paradex_pm", version)
    if model is MarginModel.DERIVE_PM:
        from .derive_pm import DerivePMParams

        return DerivePMParams.load(_known("derive_pm", version))
    raise InvalidInputError(
        f"{model.value} takes its parameters from a file (params=), not a shipped version",
        "params_version",
    )


def _known(model: str, version: str) -> str:
    from .params import load_params

    load_params(model, version)  # the typed error naming the shipped versions
    return version


def _grid(pf: Portfolio, market: Market, params: Any) -> MarginResult:
    from pathlib import Path

    from .grid_file import GridModel, grid_model_margin

    if params is None:
        raise InvalidInputError(
            "a grid model needs its parameter file (params=path, document or GridModel)",
            "params",
        )
    if not isinstance(params, (GridModel, str, Path, dict)):
        raise InputTypeError(
            "expected a parameter file path, its document or a GridModel", "params"
        )
    r = grid_model_margin(pf.positions, market, params)
    return MarginResult(
        MarginModel.SCENARIO_GRID,
        "usd",
        r.initial_margin,
        r.maintenance_margin,
        {f"{b} {k}": v for b, d in r.per_underlying.items() for k, v in d.items()},
        r.worst_scenario,
        [x for xs in r.labels.values() for x in xs],
        np.concatenate(list(r.weighted_pnl.values())),
        r,
    )


def _delta_margin(pf: Portfolio, market: Market, params: Any) -> MarginResult:
    from .delta_margin import DeltaMarginParams, delta_margin

    _check_params(params, DeltaMarginParams, "DeltaMarginParams")
    r = delta_margin(pf, market, params)
    return MarginResult(
        MarginModel.DELTA_MARGIN,
        "usd",
        r.initial_margin,
        r.maintenance_margin,
        {"delta": r.delta_margin, "vega": r.vega_margin, "curvature": r.curvature_margin},
        "",
        [],
        np.zeros(0),
        r,
    )


def _check_params(params: Any, kind: type, name: str) -> None:
    if params is not None and not isinstance(params, kind):
        raise InputTypeError(f"expected {name}", "params")


def _deribit_pm(
    pf: Portfolio,
    market: Market,
    params: Any,
    currency: str | None,
    extras: dict[str, float],
    shock: DeltaShock = DeltaShock.REFUSE,
) -> MarginResult:
    _check_params(params, DeribitPMParams, "DeribitPMParams")
    r: DeribitPMResult = deribit_pm_margin(
        pf.positions,
        market,
        params,
        currency=currency,
        mmp_margin=extras["mmp_margin"],
        open_orders_margin=extras["open_orders_margin"],
        spot_margin=extras["spot_margin"],
        delta_shock=shock,
    )
    labels: list[str] = []
    pnl: list[np.ndarray] = []
    for key, vec in r.aggregated_risk_vectors.items():
        labels += r.scenario_labels[key]
        pnl += [vec["standard"], vec["extended"]]
    components = {
        "worst_case": r.worst_case,
        "roll_shock": r.roll_shock,
        "delta_shock": r.delta_shock,
        "correlation_contingency": r.correlation_contingency,
        "risk_matrix_margin": r.risk_matrix_margin,
        **{k: getattr(r, k) for k in extras},
    }
    notes = list(r.params.notes)
    if shock is DeltaShock.UNVERIFIED:
        notes.append(
            f"delta shock {r.delta_shock:.9g} {r.currency.upper()}: UNVERIFIED, the formula of "
            "a public re-implementation (Deribit publishes the parameters, not the formula)"
        )
    return MarginResult(
        MarginModel.DERIBIT_PM,
        r.currency,
        r.initial_margin,
        r.maintenance_margin,
        components,
        r.worst_scenario,
        labels,
        np.concatenate(pnl),
        r,
        parameters=r.params.version_text(),
        notes=notes,
    )


def _deribit_xpm(
    pf: Portfolio,
    market: Market,
    params: Any,
    collateral: dict[str, float] | None,
    extras: dict[str, float],
) -> MarginResult:
    _check_params(params, DeribitPMParams, "DeribitPMParams")
    x: DeribitXPMResult = deribit_xpm_margin(
        pf.positions,
        market,
        params,
        collateral,
        mmp_margin=extras["mmp_margin"],
        open_orders_margin=extras["open_orders_margin"],
        spot_margin=extras["spot_margin"],
    )
    labels: list[str] = []
    pnl: list[np.ndarray] = []
    for pair, vec in x.aggregated_risk_vectors.items():
        labels += x.scenario_labels[pair]
        pnl += [vec["standard"], vec["extended"]]
    return MarginResult(
        MarginModel.DERIBIT_XPM,
        "usd",
        x.initial_margin,
        x.maintenance_margin,
        {
            "worst_case": x.worst_case,
            "roll_shock": x.roll_shock,
            "risk_matrix_margin": x.risk_matrix_margin,
            **{k: getattr(x, k) for k in extras},
        },
        x.worst_scenario,
        labels,
        np.concatenate(pnl) if pnl else np.zeros(0),
        x,
        parameters=x.params.version_text(),
        notes=list(x.params.notes),
    )


def _deribit_standard(
    pf: Portfolio, market: Market, params: Any, currency: str | None
) -> MarginResult:
    _check_params(params, DeribitStandardParams, "DeribitStandardParams")
    if params is None:
        params = DeribitStandardParams.in_force(market.valuation_time)
    per = deribit_standard_margin(pf.positions, market, params)
    ccys = {p.currency.upper() for p in per}
    if currency is None and len(ccys) > 1:
        raise InvalidInputError(f"positions settle in {sorted(ccys)}: pass currency=", "currency")
    want = (currency or next(iter(ccys))).upper()
    if want not in ccys:
        raise InvalidInputError(
            f"no position settles in {want} (they settle in {sorted(ccys)})", "currency"
        )
    chosen = [p for p in per if p.currency.upper() == want]
    components = {p.instrument: p.initial_margin for p in chosen}
    return MarginResult(
        MarginModel.DERIBIT_STANDARD,
        want.lower(),
        float(sum(p.initial_margin for p in chosen)),
        float(sum(p.maintenance_margin for p in chosen)),
        components,
        "",
        [],
        np.zeros(0),
        _StandardDetails(chosen),
        parameters=params.version,
    )


def _paradex(pf: Portfolio, market: Market, params: Any) -> MarginResult:
    if params is not None and not isinstance(params, str):
        raise InputTypeError("expected a Paradex parameter version (str)", "params")
    r = paradex_pm_margin(pf.positions, market, version=params)
    return MarginResult(
        MarginModel.PARADEX_PM,
        "usdc",
        r.initial_margin,
        r.maintenance_margin,
        {"scan_risk": r.scan_risk, "min_delta_requirement": r.min_delta_requirement},
        r.worst_scenario,
        r.labels,
        r.weighted_pnl,
        r,
        parameters=r.version,
    )


def _derive(pf: Portfolio, market: Market, params: Any) -> MarginResult:
    from .derive_market import derive_pm_margin
    from .derive_pm import DerivePMParams

    if isinstance(params, str):
        params = DerivePMParams.load(_known("derive_pm", params))
    _check_params(params, DerivePMParams, "DerivePMParams")
    by_date = params is None
    used = params or DerivePMParams.in_force(market.valuation_time)
    r = derive_pm_margin(pf.positions, market, used)
    notes = list(used.notes)
    if by_date and later_than(used.version, market.valuation_time):
        notes.append(f"no Derive PM version was in force then: the earliest ({used.version}) used")
    notes += [
        "a pymargin market has no oracle confidences or stable-coin price: taken as 1, so no "
        "confidence contingency or peg loss is charged"
    ]
    return MarginResult(
        MarginModel.DERIVE_PM,
        "usdc",
        r.initial_margin,
        r.maintenance_margin,
        {
            "worst_loss": r.worst_loss,
            "basis_contingency": r.basis_contingency,
            "mm_contingency": r.mm_contingency,
            "im_contingency": r.im_contingency,
        },
        r.worst_scenario,
        r.labels,
        r.scenario_pnl,
        r,
        parameters=r.version,
        notes=notes,
    )


def _finra(pf: Portfolio, market: Market, params: Any) -> MarginResult:
    r = finra_pm_margin(pf.positions, market, **finra_kwargs(params))
    labels = [n for names in r.labels.values() for n in names]
    return MarginResult(
        MarginModel.FINRA_PM,
        "usd",
        r.initial_margin,
        r.maintenance_margin,
        {u: d["requirement"] for u, d in r.per_underlying.items()},
        r.worst,
        labels,
        np.concatenate(list(r.pnl.values())),
        r,
    )


def _span(pf: Portfolio, market: Market, params: Any) -> MarginResult:
    from .span import SpanParams, span_margin

    _check_params(params, SpanParams, "SpanParams")
    r = span_margin(pf.positions, market, params)
    used: SpanParams = params  # span_margin refused None
    return MarginResult(
        MarginModel.SPAN16,
        "usd",
        r.initial_margin,
        r.maintenance_margin,
        r.components,
        r.worst_scenario,
        r.labels,
        r.scenario_pnl,
        r,
        parameters=used.version,
        notes=["illustrative SPAN parameters (bundled example), not a clearing house's"]
        if used.version == "example"
        else [],
    )


@dataclass
class _StandardDetails:
    positions: list[Any]

    def explain(self) -> str:
        lines = ["Standard margin: the sum of each position's own requirement (no offsets)."]
        for p in self.positions:
            lines.append(
                f"  {p.instrument} {p.size:+g}: IM {p.initial_margin:.9g}, "
                f"MM {p.maintenance_margin:.9g} {p.currency}"
            )
        return "\n".join(lines)


@dataclass
class _GroupDetails:
    groups: dict[str, MarginResult]
    usd: dict[str, float]

    def explain(self) -> str:
        lines = [
            "One margin group per settlement currency, each under its own parameters; the "
            "total is their sum in USD at the index."
        ]
        for c, g in self.groups.items():
            lines.append(
                f"{c.upper()} group: IM {g.initial_margin:,.9g} {c.upper()} = "
                f"{g.initial_margin * self.usd[c]:,.2f} USD (at {self.usd[c]:,.2f} USD per "
                f"{c.upper()})"
            )
            lines += ["  " + x for x in g.explain().splitlines()]
        return "\n".join(lines)
