# SPDX-License-Identifier: Apache-2.0
"""pymargin against the venue's own ``private/pme/simulate``: the response carries everything
the model needs (its parameters, the account's positions, the index and the marks), so
pymargin margins exactly those inputs and the two answers are compared line by line
(:func:`pymargin.market.adapters.diff_pme_simulate`)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ..exceptions import InvalidInputError
from ..market.adapters import diff_pme_simulate
from ..market.market import Mark, Market
from ..models.deribit_pm import DeribitPMParams, DeribitPMResult, deribit_pm_margin

__all__ = ["Verification", "simulate_inputs", "verify_simulate"]


def _result(payload: Any) -> Mapping[str, Any]:
    res = payload.get("result", payload) if isinstance(payload, Mapping) else payload
    if isinstance(res, Mapping) and isinstance(res.get("response"), Mapping):
        res = res["response"].get("result", res["response"])  # a saved request/response pair
    if not isinstance(res, Mapping):
        raise InvalidInputError("not a pme/simulate result", "result")
    for key in ("model_params", "margins", "portfolio", "index_price", "ticker"):
        if not isinstance(res.get(key), Mapping):
            raise InvalidInputError("missing or not a mapping", f"result.{key}")
    return res


def _number(v: Any, field: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise InvalidInputError(f"must be a finite number, got {v!r}", field)
    return float(v)


def simulate_inputs(
    payload: Any,
) -> tuple[DeribitPMParams, Market, dict[str, float], str, dict[str, float]]:
    """From a ``pme/simulate`` response: the parameters, the market (index, marks; options'
    mark IV and underlying price when the ticker gives them), the positions, the currency and
    the order-book margins it added (MMP, open orders, spot)."""
    res = _result(payload)
    mp = res["model_params"]
    params = DeribitPMParams.from_model_params(dict(mp), "pme/simulate response")
    stamp = _number(mp.get("general", {}).get("timestamp"), "result.model_params.general.timestamp")
    when = datetime.fromtimestamp(stamp / 1000.0, tz=timezone.utc)
    index = {
        k.upper(): _number(v, f"result.index_price.{k}") for k, v in res["index_price"].items()
    }
    marks = {}
    for name, t in res["ticker"].items():
        if not isinstance(t, Mapping):
            raise InvalidInputError("must be a mapping", f"result.ticker.{name}")
        iv = t.get("mark_iv")
        und = t.get("underlying_price")
        marks[name] = Mark(
            mark_price=_number(t.get("mark_price"), f"result.ticker.{name}.mark_price"),
            underlying_price=None
            if und is None
            else _number(und, f"result.ticker.{name}.underlying_price"),
            mark_iv=None if iv is None else _number(iv, f"result.ticker.{name}.mark_iv") / 100.0,
        )
    positions = res["portfolio"].get("position")
    if not isinstance(positions, Mapping) or not positions:
        raise InvalidInputError("no positions", "result.portfolio.position")
    book = {str(k): _number(v, f"result.portfolio.position.{k}") for k, v in positions.items()}
    ((currency, m),) = res["margins"].items() if len(res["margins"]) == 1 else (("", None),)
    if not currency or not isinstance(m, Mapping):
        raise InvalidInputError("one currency's margins expected", "result.margins")
    details = m.get("initial_margin_details", {})
    extras = {
        k: _number(details.get(k, 0.0), f"result.margins.{currency}.initial_margin_details.{k}")
        for k in ("mmp_margin", "open_orders_margin", "spot_margin")
    }
    return params, Market(when, index, marks), book, str(currency), extras


@dataclass
class Verification:
    """pymargin's margin of the simulated account and its differences from the venue's."""

    ours: DeribitPMResult
    venue_initial_margin: float
    venue_maintenance_margin: float
    differences: list[str]

    @property
    def agrees(self) -> bool:
        return not self.differences


def verify_simulate(payload: Any, *, rel: float = 1e-9) -> Verification:
    """Margins the inputs of a ``pme/simulate`` response with pymargin and compares, line by
    line (margins, worst case and its bucket, roll shock, every risk vector entry)."""
    params, market, book, currency, extras = simulate_inputs(payload)
    ours = deribit_pm_margin(
        book,
        market,
        params,
        currency=currency,
        mmp_margin=extras["mmp_margin"],
        open_orders_margin=extras["open_orders_margin"],
        spot_margin=extras["spot_margin"],
    )
    res = _result(payload)
    m = res["margins"][currency]
    diffs = diff_pme_simulate({"result": res}, ours, rel=rel)
    return Verification(
        ours,
        _number(m.get("initial_margin"), f"result.margins.{currency}.initial_margin"),
        _number(m.get("maintenance_margin"), f"result.margins.{currency}.maintenance_margin"),
        diffs,
    )
