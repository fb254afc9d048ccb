# SPDX-License-Identifier: Apache-2.0
"""A Greek-netting margin model (``delta_margin``): charges on net delta, vega by tenor bucket
and curvature (gamma) per underlying, aggregated with correlations in the structure of ISDA
SIMM, parameters in a dated file (pymargin/data/models/delta_margin/; its ``source`` says where
each number comes from). It sits next to the scenario models so that a user can see what a
sensitivity-based model charges for the same book.

* Delta: WS_b = RW_b x delta_usd_b per underlying b; DeltaMargin = sqrt(sum_b WS_b^2 +
  sum_(b != c) rho WS_b WS_c) (long BTC offsets short ETH at the delta correlation).
* Vega: WS_bk = VRW_b x sum over options of vega (USD per 1.00 of vol) x vol, per tenor bucket
  k; K_b = sqrt(sum_kl rho_kl WS_bk WS_bl), rho_kl = exp(-decay |ln(T_k/T_l)|);
  VegaMargin = sqrt(sum_b K_b^2 + sum_(b != c) rho_v S_b S_c), S_b = sum_k WS_bk clamped to
  +-K_b.
* Curvature: per underlying the loss beyond delta at +-RW_b, by full revaluation (the
  kernel): CVR_b = max(0, -(PnL(+RW) - delta RW), -(PnL(-RW) + delta RW)); summed.
* IM = delta + vega + curvature margin (USD); MM = IM (the model has no separate level).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _core
from ..exceptions import InvalidInputError
from ..market.instruments import InstrumentKind
from ..market.market import Market
from ..market.portfolio import Portfolio, as_portfolio
from .params import ModelParameterError, load_params, number

__all__ = ["DeltaMarginParams", "DeltaMarginResult", "delta_margin"]


@dataclass(frozen=True)
class DeltaMarginParams:
    delta_rw: dict[str, float]
    vega_rw: dict[str, float]
    bucket_days: tuple[float, ...]
    mid_days: tuple[float, ...]
    tenor_decay: float
    delta_corr: float
    vega_corr: float
    version: str = ""
    source: str = ""

    @classmethod
    def load(cls, version: str | None = None) -> DeltaMarginParams:
        doc = load_params("delta_margin", version)
        unds = doc.get("underlyings")
        if not isinstance(unds, dict) or not unds:
            raise ModelParameterError("missing or empty", "underlyings")
        drw = {u: number(b, "delta_risk_weight", f"underlyings.{u}", 0, 1) for u, b in unds.items()}
        vrw = {u: number(b, "vega_risk_weight", f"underlyings.{u}", 0, 5) for u, b in unds.items()}
        days = doc.get("tenor_buckets_days")
        mids = doc.get("tenor_mid_days")
        if (
            not isinstance(days, list)
            or not isinstance(mids, list)
            or len(days) != len(mids)
            or not all(isinstance(d, (int, float)) and d > 0 for d in days + mids)
            or sorted(days) != days
        ):
            raise ModelParameterError(
                "increasing positive day counts, one mid each", "tenor_buckets_days"
            )
        return cls(
            drw,
            vrw,
            tuple(float(d) for d in days),
            tuple(float(d) for d in mids),
            number(doc, "tenor_decay", "delta_margin", 0, 10),
            number(doc, "delta_correlation", "delta_margin", -1, 1),
            number(doc, "vega_correlation", "delta_margin", -1, 1),
            str(doc.get("version", "")),
            str(doc.get("source", "")),
        )


@dataclass
class DeltaMarginResult:
    initial_margin: float
    maintenance_margin: float
    delta_margin: float
    vega_margin: float
    curvature_margin: float
    weighted_delta: dict[str, float]
    weighted_vega: dict[str, list[float]]
    curvature: dict[str, float]

    def explain(self) -> str:
        return (
            f"Greek-netting margin {self.initial_margin:,.2f} USD = delta "
            f"{self.delta_margin:,.2f} + vega {self.vega_margin:,.2f} + curvature "
            f"{self.curvature_margin:,.2f} (weighted deltas {self.weighted_delta})."
        )


def tenor_correlation(p: DeltaMarginParams) -> np.ndarray:
    """The correlation between tenor buckets: exp(-decay |ln(mid_k / mid_l)|)."""
    mids = np.array(p.mid_days)
    return np.exp(-p.tenor_decay * np.abs(np.log(mids[:, None] / mids[None, :])))


def vega_bucket(p: DeltaMarginParams, days: float) -> int:
    """The tenor bucket of an option ``days`` from expiry (the last bucket beyond the ends)."""
    return min(int(np.searchsorted(p.bucket_days, days, side="left")), len(p.mid_days) - 1)


def delta_margin(
    portfolio: Portfolio | dict[str, float],
    market: Market,
    params: DeltaMarginParams | None = None,
) -> DeltaMarginResult:
    """The Greek-netting margin of ``portfolio`` in USD (see the module docstring)."""
    from ..risk.greeks import portfolio_greeks
    from ..risk.pnl import portfolio_underlyings, scenario_pnl

    pf = as_portfolio(portfolio)
    p = params or DeltaMarginParams.load()
    unds = portfolio_underlyings(pf, market)
    for u in unds:
        if u not in p.delta_rw:
            raise ModelParameterError(f"no risk weights for {u}", "underlyings")
    g = portfolio_greeks(pf, market)
    table = market.table
    rows = table.rows(list(pf.positions))
    col = table.column
    # The inputs of the core's model: weighted sensitivities, the tenor correlation, and the
    # revalued P&L at +-RW per underlying (the kernel); the aggregation is the core's
    # (pymargin/models/sensitivity_margin.hpp).
    with np.errstate(over="ignore", invalid="ignore"):
        ws_delta = np.array([p.delta_rw[u] * g.by_underlying[u]["delta_usd"] for u in unds])
    opt = col("kind")[rows] == int(InstrumentKind.OPTION)
    days = col("time")[rows] * 365.0
    vols = col("vol")[rows]
    mids = np.array(p.mid_days)
    rho = tenor_correlation(p)
    ws_vega: dict[str, list[float]] = {}
    vega_rows = []
    for u in unds:
        w = np.zeros(len(mids))
        for k in range(len(pf.positions)):
            if not opt[k] or g.underlying[k] != u:
                continue
            bucket = vega_bucket(p, days[k])
            with np.errstate(over="ignore", invalid="ignore"):
                w[bucket] += p.vega_rw[u] * g.position["vega"][k] * 100.0 * vols[k]
        ws_vega[u] = w.tolist()
        vega_rows.append(w)
    up, down = [], []
    for k_u, u in enumerate(unds):
        rw = p.delta_rw[u]
        spot = np.zeros((2, len(unds)))
        spot[0, k_u], spot[1, k_u] = rw, -rw
        with np.errstate(over="ignore", invalid="ignore"):
            pnl = scenario_pnl(pf, market, unds, spot)
        up.append(float(pnl[0]))
        down.append(float(pnl[1]))
    try:
        r = _core.sensitivity_margin(
            ws_delta.astype(np.float64),
            np.ascontiguousarray(np.array(vega_rows).reshape(len(unds), len(mids))),
            np.ascontiguousarray(rho),
            p.delta_corr,
            p.vega_corr,
            np.array(up),
            np.array(down),
            np.array([g.by_underlying[u]["delta_usd"] for u in unds], dtype=np.float64),
            np.array([p.delta_rw[u] for u in unds]),
        )
    except InvalidInputError as e:  # name the underlying
        if e.index is not None and e.index < len(unds):
            raise InvalidInputError(f"{unds[e.index]}: {e.reason}", "portfolio") from None
        raise InvalidInputError(e.reason, "portfolio") from None
    total = float(r["initial_margin"])
    dm, vm, cm = (float(r[k]) for k in ("delta_margin", "vega_margin", "curvature_margin"))
    curv = dict(zip(unds, (float(x) for x in r["curvature"])))
    return DeltaMarginResult(
        total, total, dm, vm, cm, dict(zip(unds, ws_delta.tolist())), ws_vega, curv
    )
