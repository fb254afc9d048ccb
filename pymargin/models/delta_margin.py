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

import math
from dataclasses import dataclass

import numpy as np

from ..exceptions import InvalidInputError
from ..instruments import InstrumentKind
from ..market import Market
from ..portfolio import Portfolio
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


def _finite(x: np.ndarray | float, what: str) -> None:
    if not np.all(np.isfinite(x)):
        raise InvalidInputError(
            f"{what} is not finite (prices or sizes beyond floating point)", "portfolio"
        )


def _quad(w: np.ndarray, m: np.ndarray | None, corr: float, what: str) -> float:
    """sqrt(w' m w) (``m`` given) or sqrt(sum w^2 + corr ((sum w)^2 - sum w^2)), computed on
    w scaled to its largest entry (no overflow of the squares); a non-finite result is
    refused."""
    _finite(w, what)
    s = float(np.max(np.abs(w))) if w.size else 0.0
    if s == 0.0:
        return 0.0
    v = w / s
    if m is not None:
        total = float(v @ m @ v)
    else:
        total = float(v @ v) + corr * (float(v.sum()) ** 2 - float(v @ v))
    with np.errstate(over="ignore"):
        out = float(np.float64(s) * np.sqrt(max(total, 0.0)))
    _finite(out, what)
    return out


def _cross(ws: np.ndarray, corr: float) -> float:
    return _quad(ws, None, corr, "delta margin")


def delta_margin(
    portfolio: Portfolio | dict[str, float],
    market: Market,
    params: DeltaMarginParams | None = None,
) -> DeltaMarginResult:
    """The Greek-netting margin of ``portfolio`` in USD (see the module docstring)."""
    from ..greeks import portfolio_greeks
    from ..var import _underlyings, scenario_pnl

    pf = portfolio if isinstance(portfolio, Portfolio) else Portfolio(dict(portfolio))
    p = params or DeltaMarginParams.load()
    unds = _underlyings(pf, market)
    for u in unds:
        if u not in p.delta_rw:
            raise ModelParameterError(f"no risk weights for {u}", "underlyings")
    g = portfolio_greeks(pf, market)
    table = market.table
    rows = table.rows(list(pf.positions))
    col = table.column
    # Delta.
    with np.errstate(over="ignore", invalid="ignore"):
        ws_delta = np.array([p.delta_rw[u] * g.by_underlying[u]["delta_usd"] for u in unds])
    dm = _cross(ws_delta, p.delta_corr)
    # Vega per tenor bucket: vega per 1.00 of vol times vol (a 100 % relative move).
    opt = col("kind")[rows] == int(InstrumentKind.OPTION)
    days = col("time")[rows] * 365.0
    vols = col("vol")[rows]
    mids = np.array(p.mid_days)
    rho = np.exp(-p.tenor_decay * np.abs(np.log(mids[:, None] / mids[None, :])))
    ws_vega: dict[str, list[float]] = {}
    kb, sb = [], []
    for u in unds:
        w = np.zeros(len(mids))
        for k in range(len(pf.positions)):
            if not opt[k] or g.underlying[k] != u:
                continue
            bucket = min(int(np.searchsorted(p.bucket_days, days[k], side="left")), len(mids) - 1)
            with np.errstate(over="ignore", invalid="ignore"):
                w[bucket] += p.vega_rw[u] * g.position["vega"][k] * 100.0 * vols[k]
        ws_vega[u] = w.tolist()
        k_b = _quad(w, rho, 0.0, f"vega margin of {u}")
        kb.append(k_b)
        with np.errstate(over="ignore", invalid="ignore"):
            s_b = float(w.sum())
        _finite(s_b, f"net vega of {u}")
        sb.append(min(max(s_b, -k_b), k_b))
    kb_arr, sb_arr = np.array(kb), np.array(sb)
    # sum K_b^2 + rho ((sum S_b)^2 - sum S_b^2), scaled like _quad
    scale = float(np.max(np.abs(kb_arr))) if kb_arr.size else 0.0
    if scale == 0.0:
        vm = 0.0
    else:
        kn, sn = kb_arr / scale, sb_arr / scale
        tot = float(kn @ kn) + p.vega_corr * (float(sn.sum()) ** 2 - float(sn @ sn))
        with np.errstate(over="ignore"):
            vm = float(np.float64(scale) * np.sqrt(max(tot, 0.0)))
        _finite(vm, "vega margin")
    # Curvature by full revaluation at +-RW.
    curv: dict[str, float] = {}
    for k_u, u in enumerate(unds):
        rw = p.delta_rw[u]
        spot = np.zeros((2, len(unds)))
        spot[0, k_u], spot[1, k_u] = rw, -rw
        with np.errstate(over="ignore", invalid="ignore"):
            pnl = scenario_pnl(pf, market, unds, spot)
            d = g.by_underlying[u]["delta_usd"]
            parts = np.array([-(pnl[0] - d * rw), -(pnl[1] + d * rw)])
        _finite(parts, f"curvature of {u}")  # max() would drop a NaN silently
        curv[u] = max(0.0, float(parts[0]), float(parts[1]))
    cm = float(sum(curv.values()))
    with np.errstate(over="ignore"):
        total = float(np.float64(dm) + vm + cm)
    if not math.isfinite(total):
        raise InvalidInputError("margin is not finite", "portfolio")
    return DeltaMarginResult(
        total, total, dm, vm, cm, dict(zip(unds, ws_delta.tolist())), ws_vega, curv
    )
