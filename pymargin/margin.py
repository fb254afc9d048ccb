"""The entry point: ``pymargin.margin(portfolio, market, model=...)``."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import numpy as np

from .exceptions import InputTypeError, InvalidInputError
from .market import Market
from .models.deribit_pm import DeribitPMParams, DeribitPMResult, deribit_pm_margin
from .models.deribit_standard import DeribitStandardParams, deribit_standard_margin
from .portfolio import Portfolio

__all__ = ["MarginModel", "MarginResult", "margin"]


class MarginModel(enum.Enum):
    DERIBIT_PM = "deribit_pm"
    DERIBIT_STANDARD = "deribit_standard"


@dataclass
class MarginResult:
    """IM and MM with the breakdown that explains them, in ``currency`` units."""

    model: MarginModel
    currency: str
    initial_margin: float
    maintenance_margin: float
    components: dict[str, float]
    worst_scenario: str
    scenario_labels: list[str]
    scenario_pnl: np.ndarray
    details: Any

    def explain(self) -> str:
        return str(self.details.explain())

    def to_frame(self) -> Any:
        """Per-scenario P&L as a pandas DataFrame (pandas is imported here only)."""
        import pandas as pd  # type: ignore[import-untyped]

        return pd.DataFrame({"scenario": self.scenario_labels, "pnl": self.scenario_pnl})


def margin(
    portfolio: Portfolio | dict[str, float],
    market: Market,
    model: MarginModel = MarginModel.DERIBIT_PM,
    *,
    params: Any = None,
    currency: str | None = None,
    mmp_margin: float = 0.0,
    open_orders_margin: float = 0.0,
    spot_margin: float = 0.0,
) -> MarginResult:
    """Margin of ``portfolio`` under ``model`` (see :class:`MarginModel`). ``mmp_margin``,
    ``open_orders_margin`` and ``spot_margin`` are the order-book parts of Deribit's IM: inputs,
    since they come from the order book, not from the risk matrix."""
    if not isinstance(model, MarginModel):
        raise InputTypeError("use a pymargin.MarginModel member", "model")
    pf = portfolio if isinstance(portfolio, Portfolio) else Portfolio(dict(portfolio))
    if model is MarginModel.DERIBIT_PM:
        if params is not None and not isinstance(params, DeribitPMParams):
            raise InputTypeError("expected DeribitPMParams", "params")
        r: DeribitPMResult = deribit_pm_margin(
            pf.positions,
            market,
            params,
            currency=currency,
            mmp_margin=mmp_margin,
            open_orders_margin=open_orders_margin,
            spot_margin=spot_margin,
        )
        labels: list[str] = []
        pnl: list[float] = []
        for key, vec in r.aggregated_risk_vectors.items():
            names = r.scenario_labels[key]
            std = vec["standard"]
            ext = vec["extended"]
            labels += [f"{key} {n}" for n in names]
            pnl += list(std) + list(ext)
        b = r.worst_case_bucket
        worst = f"{b['source']} #{b['index']}"
        components = {
            "worst_case": r.worst_case,
            "roll_shock": r.roll_shock,
            "delta_shock": r.delta_shock,
            "correlation_contingency": r.correlation_contingency,
            "risk_matrix_margin": r.risk_matrix_margin,
            "mmp_margin": r.mmp_margin,
            "open_orders_margin": r.open_orders_margin,
            "spot_margin": r.spot_margin,
        }
        return MarginResult(
            model,
            r.currency,
            r.initial_margin,
            r.maintenance_margin,
            components,
            worst,
            labels,
            np.asarray(pnl),
            r,
        )
    if params is not None and not isinstance(params, DeribitStandardParams):
        raise InputTypeError("expected DeribitStandardParams", "params")
    per = deribit_standard_margin(pf.positions, market, params)
    ccys = {p.currency for p in per}
    if currency is None and len(ccys) > 1:
        raise InvalidInputError(f"positions settle in {sorted(ccys)}: pass currency=", "currency")
    want = (currency or ccys.pop()).upper()
    chosen = [p for p in per if p.currency.upper() == want]
    components = {p.instrument: p.initial_margin for p in chosen}
    return MarginResult(
        model,
        want.lower(),
        sum(p.initial_margin for p in chosen),
        sum(p.maintenance_margin for p in chosen),
        components,
        "",
        [],
        np.zeros(0),
        _StandardDetails(chosen),
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
