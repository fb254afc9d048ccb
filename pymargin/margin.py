"""The entry point: ``pymargin.margin(portfolio, market, model=...)``."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import numpy as np

from .exceptions import InputTypeError
from .market import Market
from .models.deribit_pm import DeribitPMParams, DeribitPMResult, deribit_pm_margin
from .portfolio import Portfolio

__all__ = ["MarginModel", "MarginResult", "margin"]


class MarginModel(enum.Enum):
    DERIBIT_PM = "deribit_pm"


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
        import pandas as pd

        return pd.DataFrame({"scenario": self.scenario_labels, "pnl": self.scenario_pnl})


def margin(
    portfolio: Portfolio | dict[str, float],
    market: Market,
    model: MarginModel = MarginModel.DERIBIT_PM,
    *,
    params: Any = None,
    currency: str | None = None,
    **extras: float,
) -> MarginResult:
    """Margin of ``portfolio`` under ``model`` (see :class:`MarginModel`). ``extras`` are the
    model's order-book inputs (Deribit PM: ``mmp_margin``, ``open_orders_margin``,
    ``spot_margin``)."""
    if not isinstance(model, MarginModel):
        raise InputTypeError("use a pymargin.MarginModel member", "model")
    pf = portfolio if isinstance(portfolio, Portfolio) else Portfolio(dict(portfolio))
    if model is MarginModel.DERIBIT_PM:
        if params is not None and not isinstance(params, DeribitPMParams):
            raise InputTypeError("expected DeribitPMParams", "params")
        r: DeribitPMResult = deribit_pm_margin(
            pf.positions, market, params, currency=currency, **extras
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
    raise InputTypeError(f"model {model} is not available", "model")  # pragma: no cover
