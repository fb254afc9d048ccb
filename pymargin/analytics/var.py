# SPDX-License-Identifier: Apache-2.0
"""Value at Risk and Expected Shortfall: historical simulation (plain and filtered), parametric
delta-normal and delta-gamma (Cornish-Fisher), and Monte Carlo with correlated normal or
Student-t shocks; covariance estimators (sample, EWMA, Ledoit-Wolf); backtests (Kupiec's
proportion of failures, Christoffersen's independence).

Scenario P&L always comes from full revaluation by the C++ kernel (every option repriced on the
moved spot and the scaled implied vol), in USD: the change of each position's USD value (an
inverse option worth V coin: V' S' - V S; an inverse future: its coin P&L at the moved
index). VaR and ES are positive numbers (losses), with one definition throughout
(:mod:`pymargin.analytics.tail`, docs/methodology.md):

* on a sample of n equally likely outcomes (historical and Monte Carlo), VaR at confidence c
  is the k-th largest loss, k = ceil(n (1 - c)) (the empirical quantile, no interpolation;
  Hull's rule), and ES is the mean of the k largest losses;
* under a continuous distribution (the parametric methods), VaR is the c-quantile of the loss
  and ES the mean loss beyond it, the limit of the same rule as n grows.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np

from ..exceptions import InputTypeError, InvalidInputError
from ..market.history import JointMoves, joint_moves
from ..market.market import Market
from ..market.portfolio import Portfolio, as_portfolio
from ..risk.pnl import coins_of, portfolio_underlyings, scenario_pnl
from .backtest import backtest_var, christoffersen_independence, kupiec_pof
from .tail import check_confidence, var_es

__all__ = [
    "ShockDistribution",
    "VaRMethod",
    "VaRResult",
    "VolFilter",
    "backtest_var",
    "christoffersen_independence",
    "cornish_fisher_quantile",
    "delta_gamma_moments",
    "ewma_cov",
    "ewma_cov_update",
    "ewma_variance_update",
    "garch11_fit",
    "garch11_update",
    "historical_var",
    "kupiec_pof",
    "ledoit_wolf",
    "monte_carlo_var",
    "normal_var_es",
    "parametric_var",
    "sample_cov",
    "scenario_pnl",
    "var_es",
]

_N = NormalDist()


class ShockDistribution(enum.Enum):
    """The law of Monte Carlo shocks (both scaled to the same covariance)."""

    NORMAL = "normal"
    STUDENT_T = "t"


def _check_horizon(horizon_days: Any) -> int:
    if (
        isinstance(horizon_days, bool)
        or not isinstance(horizon_days, (int, np.integer))
        or horizon_days < 1
    ):
        raise InvalidInputError("must be an integer >= 1 (days)", "horizon_days")
    return int(horizon_days)


def _check_cov(cov: Any, n: int, *, definite: bool = False) -> np.ndarray:
    """A finite, symmetric, positive semi-definite (``definite``: positive definite) n x n
    covariance, or a typed error naming ``cov``."""
    try:
        c = np.array(cov, dtype=np.float64, ndmin=2)
    except (TypeError, ValueError):
        raise InputTypeError("must be a matrix of numbers", "cov") from None
    if c.shape != (n, n):
        raise InvalidInputError(f"must be {n} x {n}, got {c.shape}", "cov")
    if not np.isfinite(c).all():
        raise InvalidInputError("must be finite", "cov", int(np.argmax(~np.isfinite(c).ravel())))
    if not np.allclose(c, c.T, rtol=1e-10, atol=0.0):
        raise InvalidInputError("must be symmetric", "cov")
    low = float(np.linalg.eigvalsh(c).min()) if n else 0.0
    scale = float(np.abs(c).max()) if n else 0.0
    if low < -1e-12 * scale or (definite and not low > 0):
        what = "positive definite" if definite else "positive semi-definite"
        raise InvalidInputError(f"must be {what}", "cov")
    return c


def check_monte_carlo(
    paths: Any, confidence: Any, dist: Any, dof: Any, seed: Any = 0
) -> ShockDistribution:
    """The Monte Carlo arguments checked before any path is drawn (shared with
    pymargin.analytics.distributed); ``dist`` as the enum (its value strings are accepted)."""
    check_confidence(confidence)
    if isinstance(paths, bool) or not isinstance(paths, int) or paths < 100:
        raise InvalidInputError("must be an integer >= 100", "paths")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InvalidInputError("must be an integer >= 0", "seed")
    try:
        law = ShockDistribution(dist)
    except ValueError:
        raise InvalidInputError(
            "a pymargin.analytics.var.ShockDistribution (NORMAL or STUDENT_T)", "dist"
        ) from None
    if law is ShockDistribution.STUDENT_T and not (
        isinstance(dof, (int, float)) and math.isfinite(dof) and dof > 2
    ):
        raise InvalidInputError("must be finite and > 2 (finite variance)", "dof")
    return law


class VolFilter(enum.Enum):
    """How filtered historical simulation estimates each day's volatility."""

    EWMA = "ewma"  # RiskMetrics exponentially weighted, decay ``lam``
    GARCH = "garch"  # GARCH(1,1) fitted by maximum likelihood


class VaRMethod(enum.Enum):
    HISTORICAL = "historical"
    FILTERED_HISTORICAL = "filtered_historical"
    DELTA_NORMAL = "delta_normal"
    DELTA_GAMMA = "delta_gamma_cornish_fisher"
    MONTE_CARLO = "monte_carlo"


@dataclass
class VaRResult:
    """VaR and ES (USD, positive = loss) with the scenario at the VaR quantile and the worst."""

    method: VaRMethod
    confidence: float
    horizon_days: int
    var: float
    es: float
    scenario: str = ""
    worst: str = ""
    pnl: np.ndarray | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def plot(self, ax: Any = None) -> Any:
        """The P&L distribution with VaR and ES marked (matplotlib imported here only)."""
        from ..plotting import plot_pnl_distribution

        return plot_pnl_distribution(self, ax)


# --- historical simulation --------------------------------------------------------------------


def historical_var(
    portfolio: Portfolio | dict[str, float],
    market: Market,
    *,
    confidence: float = 0.99,
    horizon_days: int = 1,
    start: str | None = None,
    end: str | None = None,
    filtered: VolFilter | None = None,
    lam: float = 0.94,
    moves: JointMoves | None = None,
    threads: int | None = None,
) -> VaRResult:
    """Historical simulation: the portfolio fully revalued on every historical joint move of
    spot and implied vol (DVOL ratio; 1 before DVOL exists) over ``horizon_days`` days.
    ``filtered=VolFilter.EWMA`` (RiskMetrics, ``lam``) or ``VolFilter.GARCH`` (GARCH(1,1)
    fitted by maximum likelihood) rescales each day's spot log return by current / then
    volatility."""
    pf = as_portfolio(portfolio)
    unds = portfolio_underlyings(pf, market)
    if moves is None:
        jm = joint_moves(coins_of(unds), horizon_days=horizon_days, start=start, end=end)
    else:
        jm = _moves_for(moves, coins_of(unds), horizon_days)
    horizon_days = jm.horizon_days
    spot, vol = jm.spot, jm.vol
    method = VaRMethod.HISTORICAL
    details: dict[str, Any] = {"observations": len(jm.dates)}
    if filtered is not None:
        if not isinstance(filtered, VolFilter):
            raise InputTypeError("a pymargin.analytics.var.VolFilter (EWMA or GARCH)", "filtered")
        method = VaRMethod.FILTERED_HISTORICAL
        r = np.log1p(spot)
        scale = np.empty_like(r)
        for k in range(r.shape[1]):
            if filtered is VolFilter.EWMA:
                sig = _ewma_vol(r[:, k], lam)
            else:
                params = garch11_fit(r[:, k])
                sig = _garch_vol(r[:, k], *params)
                details[f"garch_{jm.coins[k]}"] = params
            scale[:, k] = sig[-1] / sig[:-1]
        spot = np.expm1(r * scale)
    pnl = scenario_pnl(pf, market, unds, spot, vol, threads=threads)
    var, es, j = var_es(pnl, confidence)
    worst = int(np.argmin(pnl))
    return VaRResult(
        method,
        confidence,
        horizon_days,
        var,
        es,
        f"{jm.dates[j]} ({describe_shock(jm.coins, spot[j], vol[j])})",
        f"{jm.dates[worst]} ({describe_shock(jm.coins, spot[worst], vol[worst])})",
        pnl,
        details,
    )


def _moves_for(moves: JointMoves, coins: tuple[str, ...], horizon_days: int) -> JointMoves:
    """User-given joint moves with their columns in the portfolio's coin order; every coin
    of the portfolio must be there, and the horizon_days must be the moves' own."""
    if not isinstance(moves, JointMoves):
        raise InputTypeError("expected pymargin.market.history.JointMoves", "moves")
    missing = [c for c in coins if c not in moves.coins]
    if missing:
        raise InvalidInputError(f"no history for {missing} in the moves given", "moves")
    if horizon_days not in (1, moves.horizon_days):
        raise InvalidInputError(
            f"the moves are {moves.horizon_days}-day moves, not {horizon_days}-day", "horizon_days"
        )
    cols = [moves.coins.index(c) for c in coins]
    return dataclasses.replace(moves, coins=coins, spot=moves.spot[:, cols], vol=moves.vol[:, cols])


def describe_shock(coins: tuple[str, ...], spot: np.ndarray, vol: np.ndarray) -> str:
    return ", ".join(f"{c} {s:+.1%} vol x{v:.2f}" for c, s, v in zip(coins, spot, vol))


def _ewma_vol(r: np.ndarray, lam: float) -> np.ndarray:
    """sigma_t for t = 0..T: sigma_t^2 = lam sigma_(t-1)^2 + (1 - lam) r_(t-1)^2, seeded with
    the sample variance; element T is the forecast for the next day."""
    if not 0.0 < lam < 1.0:
        raise InvalidInputError("must be in (0, 1)", "lam")
    var = np.empty(len(r) + 1)
    var[0] = float(np.var(r))
    for t in range(len(r)):
        var[t + 1] = lam * var[t] + (1.0 - lam) * r[t] * r[t]
    return np.sqrt(var)


def _garch_vol(r: np.ndarray, omega: float, alpha: float, beta: float) -> np.ndarray:
    var = np.empty(len(r) + 1)
    var[0] = omega / max(1.0 - alpha - beta, 1e-12)
    for t in range(len(r)):
        var[t + 1] = omega + alpha * r[t] * r[t] + beta * var[t]
    return np.sqrt(var)


def garch11_fit(r: np.ndarray) -> tuple[float, float, float]:
    """GARCH(1,1) (omega, alpha, beta) by Gaussian maximum likelihood with variance targeting
    (omega = sample variance x (1 - alpha - beta)): a grid over (alpha, beta), all evaluated at
    once, then two finer grids around the best point."""
    x = np.asarray(r, dtype=np.float64)
    if x.ndim != 1 or x.size < 50 or not np.isfinite(x).all():
        raise InvalidInputError("needs at least 50 finite returns", "returns")
    v = float(np.var(x))
    a_lo, a_hi, b_lo, b_hi = 0.001, 0.4, 0.5, 0.999
    best = (0.05, 0.9)
    for _ in range(3):
        a = np.linspace(a_lo, a_hi, 40)
        b = np.linspace(b_lo, b_hi, 40)
        aa, bb = np.meshgrid(a, b, indexing="ij")
        ok = aa + bb < 0.9999
        aa, bb = aa[ok], bb[ok]
        om = v * (1.0 - aa - bb)
        var = np.full(aa.shape, v)
        ll = np.zeros(aa.shape)
        for t in range(x.size):
            ll -= 0.5 * (np.log(var) + x[t] * x[t] / var)
            var = om + aa * x[t] * x[t] + bb * var
        i = int(np.argmax(ll))
        best = (float(aa[i]), float(bb[i]))
        da, db = (a_hi - a_lo) / 20, (b_hi - b_lo) / 20
        a_lo, a_hi = max(best[0] - da, 1e-4), best[0] + da
        b_lo, b_hi = max(best[1] - db, 0.0), min(best[1] + db, 0.9999)
    return v * (1.0 - best[0] - best[1]), best[0], best[1]


# --- covariance estimators --------------------------------------------------------------------


def sample_cov(x: np.ndarray) -> np.ndarray:
    """Sample covariance of observations ``x[t, k]`` (divisor T - 1)."""
    a = _obs(x)
    return np.atleast_2d(np.cov(a, rowvar=False, ddof=1))


def ewma_cov(x: np.ndarray, lam: float = 0.94) -> np.ndarray:
    """RiskMetrics EWMA covariance of zero-mean observations, the latest weighted most:
    C = (1 - lam) sum_t lam^(T-1-t) x_t x_t^T, normalised by the weights' sum."""
    a = _obs(x)
    if not 0.0 < lam < 1.0:
        raise InvalidInputError("must be in (0, 1)", "lam")
    w = lam ** np.arange(a.shape[0] - 1, -1, -1)
    w = w / w.sum()
    return (a * w[:, None]).T @ a


def ledoit_wolf(x: np.ndarray) -> tuple[np.ndarray, float]:
    """Ledoit and Wolf's (2004) shrinkage of the sample covariance towards a scaled identity:
    returns (shrunk covariance, shrinkage intensity in [0, 1])."""
    a = _obs(x)
    t, p = a.shape
    y = a - a.mean(axis=0)
    s = y.T @ y / t
    mu = float(np.trace(s)) / p
    d2 = float(np.sum((s - mu * np.eye(p)) ** 2))
    b2 = float(sum(np.sum((np.outer(v, v) - s) ** 2) for v in y)) / (t * t)
    delta = 0.0 if d2 == 0 else min(b2, d2) / d2
    return delta * mu * np.eye(p) + (1.0 - delta) * s, delta


def _obs(x: np.ndarray) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[0] < 2 or a.shape[1] < 1 or not np.isfinite(a).all():
        raise InvalidInputError(
            "needs at least 2 finite observations (rows) of at least one variable", "x"
        )
    return a


# --- parametric ------------------------------------------------------------------------------


def normal_var_es(
    exposures: np.ndarray, cov: np.ndarray, confidence: float = 0.99, horizon_days: int = 1
) -> tuple[float, float, float]:
    """Linear (delta-normal) VaR and ES of positions with value ``exposures`` (USD per unit
    relative move) and daily return covariance ``cov``: sd = sqrt(e' C e h), VaR = z sd,
    ES = sd phi(z)/(1 - confidence). Returns (VaR, ES, sd)."""
    check_confidence(confidence)
    horizon_days = _check_horizon(horizon_days)
    e = np.atleast_1d(np.asarray(exposures, dtype=np.float64))
    if not np.isfinite(e).all():
        raise InvalidInputError("must be finite", "exposures", int(np.argmax(~np.isfinite(e))))
    c = _check_cov(cov, e.size)
    sd = math.sqrt(max(float(e @ c @ e), 0.0) * horizon_days)
    z = _N.inv_cdf(confidence)
    return z * sd, sd * _N.pdf(z) / (1.0 - confidence), sd


def ewma_variance_update(prev_var: float, ret: float, lam: float = 0.94) -> float:
    """One RiskMetrics step: lam prev_var + (1 - lam) ret^2."""
    return lam * prev_var + (1.0 - lam) * ret * ret


def ewma_cov_update(prev_cov: np.ndarray, x: np.ndarray, lam: float = 0.94) -> np.ndarray:
    """One EWMA covariance step: lam C + (1 - lam) x x'."""
    v = np.asarray(x, dtype=np.float64)
    return lam * np.asarray(prev_cov, dtype=np.float64) + (1.0 - lam) * np.outer(v, v)


def garch11_update(prev_var: float, ret: float, omega: float, alpha: float, beta: float) -> float:
    """One GARCH(1,1) step: omega + alpha ret^2 + beta prev_var."""
    return omega + alpha * ret * ret + beta * prev_var


def parametric_var(
    portfolio: Portfolio | dict[str, float],
    market: Market,
    cov: np.ndarray | None = None,
    *,
    confidence: float = 0.99,
    horizon_days: int = 1,
    gamma: bool = False,
) -> VaRResult:
    """Delta-normal (``gamma=False``) or delta-gamma with the Cornish-Fisher quantile
    (``gamma=True``): the portfolio's USD delta and gamma per underlying against the covariance
    of daily log returns ``cov`` (default: sample covariance of the bundled history since
    2021), scaled by the horizon_days."""
    from ..risk.greeks import portfolio_greeks

    check_confidence(confidence)
    horizon_days = _check_horizon(horizon_days)
    pf = as_portfolio(portfolio)
    unds = portfolio_underlyings(pf, market)
    if cov is None:
        jm = joint_moves(coins_of(unds), start="2021-01-01")
        cov = sample_cov(np.log1p(jm.spot))
    sigma = _check_cov(cov, len(unds)) * horizon_days
    g = portfolio_greeks(pf, market)
    delta = np.array([g.by_underlying[u]["delta_usd"] for u in unds])
    gam = np.array([g.by_underlying[u]["gamma_1pct"] * 100.0 for u in unds])  # USD per (dS/S)^2
    z = _N.inv_cdf(1.0 - confidence)
    if not gamma:
        sd = math.sqrt(float(delta @ sigma @ delta))
        var = -z * sd
        es = sd * _N.pdf(z) / (1.0 - confidence)
        return VaRResult(
            VaRMethod.DELTA_NORMAL,
            confidence,
            horizon_days,
            var,
            es,
            details={"sd": sd, "delta_usd": delta},
        )
    mom = delta_gamma_moments(delta, gam, sigma)
    var = -_cf_quantile(mom, 1.0 - confidence)
    us = np.linspace(0.0, 1.0 - confidence, 2001)[1:]
    es = -float(np.mean([_cf_quantile(mom, u) for u in us]))
    return VaRResult(
        VaRMethod.DELTA_GAMMA,
        confidence,
        horizon_days,
        var,
        es,
        details={"moments": mom, "delta_usd": delta, "gamma_usd": gam},
    )


def delta_gamma_moments(delta: np.ndarray, gamma: np.ndarray, cov: np.ndarray) -> dict[str, float]:
    """Mean, sd, skewness and excess kurtosis of dP = delta.x + x.G.x/2, x ~ N(0, cov),
    G = diag(gamma) (single-underlying instruments have no cross gamma)."""
    d = np.atleast_1d(np.asarray(delta, dtype=np.float64))
    g = np.atleast_1d(np.asarray(gamma, dtype=np.float64))
    if g.shape != d.shape or not (np.isfinite(d).all() and np.isfinite(g).all()):
        raise InvalidInputError("delta and gamma: finite, one per underlying", "gamma")
    s = _check_cov(cov, d.size)
    gs = np.diag(g) @ s
    mean = 0.5 * float(np.trace(gs))
    var = float(d @ s @ d) + 0.5 * float(np.trace(gs @ gs))
    m3 = 3.0 * float(d @ s @ gs @ d) + float(np.trace(gs @ gs @ gs))
    k4 = 12.0 * float(d @ s @ gs @ gs @ d) + 3.0 * float(np.trace(gs @ gs @ gs @ gs))
    sd = math.sqrt(var)
    return {
        "mean": mean,
        "sd": sd,
        "skew": m3 / sd**3 if sd else 0.0,
        "kurt": k4 / sd**4 if sd else 0.0,
    }


def cornish_fisher_quantile(u: float, skew: float, kurt: float) -> float:
    """The u-quantile of a standardised distribution with this skewness and excess kurtosis
    by the four-term Cornish-Fisher expansion."""
    if not (isinstance(u, (int, float)) and 0 < u < 1):
        raise InvalidInputError("must be in (0, 1)", "u")
    if not (math.isfinite(skew) and math.isfinite(kurt)):
        raise InvalidInputError("skewness and kurtosis must be finite", "skew")
    return _cf_quantile({"mean": 0.0, "sd": 1.0, "skew": skew, "kurt": kurt}, u)


def _cf_quantile(m: dict[str, float], u: float) -> float:
    z = _N.inv_cdf(u)
    s, k = m["skew"], m["kurt"]
    w = z + (z * z - 1) * s / 6 + (z**3 - 3 * z) * k / 24 - (2 * z**3 - 5 * z) * s * s / 36
    return m["mean"] + m["sd"] * w


# --- Monte Carlo ------------------------------------------------------------------------------


def monte_carlo_var(
    portfolio: Portfolio | dict[str, float],
    market: Market,
    cov: np.ndarray | None = None,
    *,
    paths: int = 100_000,
    confidence: float = 0.99,
    horizon_days: int = 1,
    dist: ShockDistribution = ShockDistribution.NORMAL,
    dof: float = 5.0,
    seed: int = 0,
    threads: int | None = None,
) -> VaRResult:
    """Monte Carlo with full revaluation: joint log moves of spot and implied vol per
    underlying, ``x ~ N(0, cov h)`` or a Student-t with ``dof`` degrees of freedom scaled to the
    same covariance; ``cov`` is 2k x 2k over [spot log returns, vol log changes] (default: the
    bundled history since 2021, where DVOL exists)."""
    law = check_monte_carlo(paths, confidence, dist, dof, seed)
    pf = as_portfolio(portfolio)
    unds, chol = mc_setup(pf, market, cov, horizon_days)
    k = len(unds)
    spot, vol = mc_shocks(chol, k, paths, law, dof, seed)
    pnl = scenario_pnl(pf, market, unds, spot, vol, threads=threads)
    var, es, j = var_es(pnl, confidence)
    worst = int(np.argmin(pnl))
    coins = coins_of(unds)
    return VaRResult(
        VaRMethod.MONTE_CARLO,
        confidence,
        horizon_days,
        var,
        es,
        f"path {j} ({describe_shock(coins, spot[j], vol[j])})",
        f"path {worst} ({describe_shock(coins, spot[worst], vol[worst])})",
        pnl,
        {"paths": paths, "dist": law.value},
    )


def mc_shocks(
    chol: np.ndarray, k: int, paths: int, dist: ShockDistribution, dof: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Joint spot moves and vol factors of the Monte Carlo paths (shared with
    pymargin.analytics.distributed, which must draw exactly the same paths)."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((paths, 2 * k))
    if dist is ShockDistribution.STUDENT_T:
        w = rng.chisquare(dof, size=(paths, 1))
        z = z * np.sqrt((dof - 2.0) / w)
    x = z @ chol.T
    return np.expm1(x[:, :k]), np.exp(x[:, k:])


def mc_setup(
    pf: Portfolio, market: Market, cov: np.ndarray | None, horizon_days: int
) -> tuple[tuple[str, ...], np.ndarray]:
    horizon_days = _check_horizon(horizon_days)
    unds = portfolio_underlyings(pf, market)
    k = len(unds)
    if cov is None:
        jm = joint_moves(coins_of(unds), start="2021-03-25", require_vol=True)
        cov = sample_cov(jm.log_returns())
    # [spot log returns, vol log changes] per underlying, underlyings sorted by name
    c = _check_cov(cov, 2 * k, definite=True) * horizon_days
    return unds, np.linalg.cholesky(c)
