# SPDX-License-Identifier: Apache-2.0
"""Derive portfolio margin (the venue's "PMRM_2" risk manager), one account of one market.

The model is the core's (``pymargin/models/derive_pm.hpp``; docs/models/derive_pm.md gives it
term by term). Parameters are dated files (pymargin/data/models/derive_pm/) or any
:class:`DerivePMParams`; Derive publishes 139 portfolio cases with its contracts, and the test
suite reproduces every one the venue's own test runs (tests/models/test_derive_pm.py).

Two ways in:

* :func:`derive_pm_account` takes the venue's own inputs: spot, each expiry's forward (fixed
  and variable parts), rate and feed confidence, options with their vols, cash, the perpetual
  and collateral (as the venue values them);
* :func:`pymargin.models.derive_market.derive_pm_margin` takes a pymargin portfolio and
  market: USDC-settled options and the linear perpetual of one underlying, vols from the
  market's marks, forwards and rates from the market, every feed at full confidence, a stable
  price of 1, and the perpetual's P&L booked (its value 0 at the mark).

Requirements are reported as pymargin reports them (IM and MM >= 0, what the account must
hold); Derive's own "margin" is the surplus ``mark_to_market - requirement``.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from .. import _core
from ..exceptions import InvalidInputError
from .params import (
    ModelParameterError,
    available_versions,
    load_params,
    number,
    version_in_force,
)

__all__ = [
    "DeriveCollateral",
    "DeriveMarginResult",
    "DerivePMParams",
    "DeriveScenario",
    "DeriveVolShock",
    "derive_pm_account",
]

# The core's parameter order (DeriveParams); the file's keys are these names.
_PARAM_ORDER = (
    "vol_range_up",
    "vol_range_down",
    "short_term_power",
    "long_term_power",
    "dte_floor_days",
    "min_vol_up",
    "im_factor",
    "mm_factor",
    "short_rate_mult",
    "long_rate_mult",
    "short_rate_add",
    "long_rate_add",
    "short_static_discount",
    "long_static_discount",
    "basis_spot_up",
    "basis_spot_down",
    "basis_add",
    "basis_mult",
    "peg_loss_threshold",
    "peg_loss_factor",
    "confidence_threshold",
    "confidence_margin",
    "mm_perp",
    "im_perp",
    "mm_option",
    "im_option",
    "linear_cap",
    "abs_cap",
    "linear_cbase",
    "abs_cbase",
    "min_k_star",
    "width_scale",
    "vol_param_static",
    "vol_param_scale",
)
# The bounds Derive's setters enforce (docs/models/derive_pm.md, "Parameters").
_BOUNDS: dict[str, tuple[float, float]] = {
    "vol_range_up": (0, 10),
    "vol_range_down": (0, 10),
    "short_term_power": (-10, 10),
    "long_term_power": (-10, 10),
    "dte_floor_days": (0, 400),
    "min_vol_up": (0, 20),
    "im_factor": (0.5, 10),
    "mm_factor": (0.1, 10),
    "short_rate_mult": (0, 10),
    "long_rate_mult": (0, 10),
    "short_rate_add": (0, 10),
    "long_rate_add": (0, 10),
    "short_static_discount": (0, 4),
    "long_static_discount": (0, 4),
    "basis_spot_up": (1, 3),
    "basis_spot_down": (0, 1),
    "basis_add": (0, 20),
    "basis_mult": (0, 20),
    "peg_loss_threshold": (0, 100),
    "peg_loss_factor": (0, 10),
    "confidence_threshold": (0, 1),
    "confidence_margin": (0, 20),
    "mm_perp": (0, 3),
    "im_perp": (0, 3),
    "mm_option": (0, 2),
    "im_option": (0, 2),
    "linear_cap": (-10, 10),
    "abs_cap": (-10, 10),
    "linear_cbase": (-10, 10),
    "abs_cbase": (-10, 10),
    "min_k_star": (0, 10),
    "width_scale": (0, 10),
    "vol_param_static": (0, 10),
    "vol_param_scale": (-20, 20),
}


class DeriveVolShock(enum.IntEnum):
    """A scenario's vol state: unchanged, shocked up or down, or one of the two skew shocks
    (LINEAR tilts the smile, ABS lifts both wings; both leave spot unchanged)."""

    NONE = 0
    UP = 1
    DOWN = 2
    LINEAR = 3
    ABS = 4


@dataclass(frozen=True)
class DeriveScenario:
    spot_shock: float  # multiplier: 1.18 is +18 %
    vol: DeriveVolShock
    dampening: float = 1.0

    @property
    def label(self) -> str:
        if self.vol in (DeriveVolShock.LINEAR, DeriveVolShock.ABS):
            what = f"skew {self.vol.name.lower()}"
        else:
            move = f"{self.spot_shock - 1.0:+.1%}".replace(".0%", "%")
            vol = {DeriveVolShock.UP: " vol up", DeriveVolShock.DOWN: " vol down"}.get(self.vol, "")
            what = f"{move}{vol}"
        return what if self.dampening == 1.0 else f"{what} (dampening {self.dampening:g})"


_VOL_NAMES = {"none": 0, "up": 1, "down": 2, "linear": 3, "abs": 4}


@dataclass(frozen=True)
class DerivePMParams:
    """A Derive PM parameter set: ``values`` holds every name of the model (see the file
    format in docs/models/derive_pm.md; ``dte_floor_days`` in days) and ``scenarios`` the
    scenario list in the venue's order."""

    values: Mapping[str, float]
    scenarios: tuple[DeriveScenario, ...]
    version: str = ""
    source: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        for name in _PARAM_ORDER:
            lo, hi = _BOUNDS[name]
            number(dict(self.values), name, "parameters", lo, hi)
        extra = set(self.values) - set(_PARAM_ORDER)
        if extra:
            raise ModelParameterError(f"unknown parameter(s) {sorted(extra)}", "parameters")
        if not 1 <= len(self.scenarios) <= 40:
            raise ModelParameterError("1 to 40 scenarios", "scenarios")
        for kind in (DeriveVolShock.LINEAR, DeriveVolShock.ABS):
            if sum(s.vol is kind for s in self.scenarios) > 1:
                raise ModelParameterError(f"at most one {kind.name} scenario", "scenarios")
        for row, s in enumerate(self.scenarios):
            if not (math.isfinite(s.spot_shock) and s.spot_shock >= 0):
                raise ModelParameterError("spot shock must be finite and >= 0", f"scenarios[{row}]")
            if not math.isfinite(s.dampening):
                raise ModelParameterError("dampening must be finite", f"scenarios[{row}]")
            skew = s.vol in (DeriveVolShock.LINEAR, DeriveVolShock.ABS)
            if skew and s.spot_shock != 1.0:
                raise ModelParameterError(
                    "a skew scenario has no spot shock (1.0)", f"scenarios[{row}]"
                )

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> DerivePMParams:
        """From a parameter file's JSON: ``{"model": "derive_pm", "version", "source",
        "notes": [...], "parameters": {name: number}, "scenarios": [[spot_shock, "up", 1.0],
        ...]}``."""
        if doc.get("model") != "derive_pm":
            raise ModelParameterError("expected model 'derive_pm'", "model")
        params = doc.get("parameters")
        if not isinstance(params, dict):
            raise ModelParameterError("must be a mapping of name to number", "parameters")
        rows = doc.get("scenarios")
        if not isinstance(rows, list):
            raise ModelParameterError("must be a list of [spot_shock, vol, dampening]", "scenarios")
        scen = []
        for row, s in enumerate(rows):
            ok = isinstance(s, list) and len(s) == 3 and str(s[1]).lower() in _VOL_NAMES
            if not ok:
                raise ModelParameterError(
                    "expected [spot_shock, none|up|down|linear|abs, dampening]",
                    f"scenarios[{row}]",
                )
            shock = number({"v": s[0]}, "v", f"scenarios[{row}].spot_shock")
            damp = number({"v": s[2]}, "v", f"scenarios[{row}].dampening")
            scen.append(DeriveScenario(shock, DeriveVolShock(_VOL_NAMES[str(s[1]).lower()]), damp))
        notes = doc.get("notes", [])
        return cls(
            dict(params),
            tuple(scen),
            str(doc.get("version", "")),
            str(doc.get("source", "")),
            tuple(str(n) for n in notes),
        )

    @classmethod
    def load(cls, version: str | None = None) -> DerivePMParams:
        """A shipped version (default: the newest)."""
        return cls.from_document(load_params("derive_pm", version))

    @classmethod
    def in_force(cls, when: datetime) -> DerivePMParams:
        """The shipped version in force at ``when``."""
        return cls.load(version_in_force("derive_pm", when, available_versions("derive_pm")))

    def _core_scenarios(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        scen = self.scenarios
        return (
            np.array([x.spot_shock for x in scen]),
            np.array([int(x.vol) for x in scen], dtype=np.uint8),
            np.array([x.dampening for x in scen]),
        )

    def _core_params(self) -> np.ndarray:
        v = dict(self.values)
        v["dte_floor_days"] = math.floor(v["dte_floor_days"] * 86_400.0)  # whole seconds
        return np.array([v[k] for k in _PARAM_ORDER], dtype=np.float64)


@dataclass(frozen=True)
class DeriveCollateral:
    """A collateral balance as the venue values it: ``value`` in the stable coin (amount x
    price / stable price); risk-cancelling collateral moves with spot in the scenarios."""

    value: float
    mm_haircut: float = 0.0
    im_haircut: float = 0.0
    risk_cancelling: bool = False
    confidence: float = 1.0


@dataclass(frozen=True)
class DeriveMarginResult:
    """One account under Derive PM. ``initial_margin`` and ``maintenance_margin`` are the
    requirements; ``mark_to_market`` the account value (cash, perpetual value, options,
    collateral); the venue's margin figure is ``mark_to_market - requirement`` (>= 0 passes).
    ``worst_loss`` is min(0, basis contingency, every scenario P&L); ``worst_scenario`` its
    label ("basis contingency" when that binds)."""

    initial_margin: float
    maintenance_margin: float
    mark_to_market: float
    option_value: float
    collateral_value: float
    worst_loss: float
    basis_contingency: float
    mm_contingency: float
    im_contingency: float
    im_factor: float
    worst_scenario: str
    labels: list[str]
    scenario_pnl: np.ndarray
    version: str = ""

    @property
    def initial_surplus(self) -> float:
        return self.mark_to_market - self.initial_margin

    @property
    def maintenance_surplus(self) -> float:
        return self.mark_to_market - self.maintenance_margin

    def explain(self) -> str:
        return (
            f"Derive PM: worst loss {self.worst_loss:,.2f} ({self.worst_scenario}), "
            f"basis contingency {self.basis_contingency:,.2f}; IM = {self.im_factor:g} x "
            f"{-self.worst_loss:,.2f} + contingencies {self.mm_contingency:,.2f} (MM) + "
            f"{self.im_contingency:,.2f} (IM) = {self.initial_margin:,.2f}; MM = "
            f"{self.maintenance_margin:,.2f}; mark-to-market {self.mark_to_market:,.2f}"
        )


def _finite(v: Any, what: str, row: int | None = None, lo: float = -math.inf) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise InvalidInputError("must be a number", what, row)
    if not (math.isfinite(v) and v >= lo):
        raise InvalidInputError(f"must be finite and >= {lo:g}", what, row)
    return float(v)


def derive_pm_account(
    params: DerivePMParams,
    *,
    spot: float,
    options: Sequence[tuple[float, float, bool, float, float]] = (),
    expiries: Mapping[float, tuple[float, float, float, float]] | None = None,
    cash: float = 0.0,
    perp: tuple[float, float, float] | None = None,
    collaterals: Sequence[DeriveCollateral] = (),
    spot_confidence: float = 1.0,
    perp_confidence: float = 1.0,
    stable_price: float = 1.0,
) -> DeriveMarginResult:
    """One account in the venue's own terms.

    ``options``: (seconds to expiry, strike, is_call, amount, vol) in the account's balance
    order; ``expiries`` maps each seconds-to-expiry to (forward_fixed, forward_variable, rate,
    confidence), the forward split as the venue's feed splits it (fixed: the part the
    settlement average has already fixed); ``perp``: (position, mark price, unrealised P&L +
    funding). Errors name the field and row; nothing is computed on bad input."""
    if not isinstance(params, DerivePMParams):
        raise InvalidInputError("expected DerivePMParams", "params")
    expiries = dict(expiries or {})
    by_expiry: dict[float, list[tuple[float, float, float, bool]]] = {}
    for row, o in enumerate(options):
        if not (isinstance(o, tuple) and len(o) == 5):
            raise InvalidInputError(
                "expected (seconds, strike, is_call, amount, vol)", "options", row
            )
        sec = _finite(o[0], "options.seconds", row, 0.0)
        strike = _finite(o[1], "options.strike", row, 0.0)
        amount = _finite(o[3], "options.amount", row)
        vol = _finite(o[4], "options.vol", row, 0.0)
        if sec not in expiries:
            raise InvalidInputError(f"no forward for the expiry {sec:g} s out", "expiries", row)
        by_expiry.setdefault(sec, []).append((strike, vol, amount, bool(o[2])))
    # The venue stores each expiry's options in reverse balance order (it matters only to
    # the naked-short count when three or more options share a strike).
    secs = list(by_expiry)
    legs = [leg for s in secs for leg in reversed(by_expiry[s])]
    offsets = np.zeros(len(secs) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(by_expiry[s]) for s in secs])
    ex = np.array([expiries[s] for s in secs], dtype=np.float64).reshape(len(secs), 4)
    for row, (ff, fv, r, c) in enumerate(ex):
        if not all(math.isfinite(x) for x in (ff, fv, r, c)):
            raise InvalidInputError("forward, rate and confidence must be finite", "expiries", row)
    pos, price, value = perp if perp is not None else (0.0, 0.0, 0.0)
    scalars = np.array(
        [
            _finite(spot, "spot"),
            _finite(spot_confidence, "spot_confidence"),
            _finite(stable_price, "stable_price"),
            _finite(cash, "cash"),
            _finite(pos, "perp.position"),
            _finite(price, "perp.price"),
            _finite(perp_confidence, "perp_confidence"),
            _finite(value, "perp.value"),
        ]
    )
    for row, c in enumerate(collaterals):
        if not isinstance(c, DeriveCollateral):
            raise InvalidInputError("expected DeriveCollateral", "collaterals", row)
    scen = params.scenarios
    out = _core.derive_pm_margin(
        params._core_params(),
        *params._core_scenarios(),
        scalars,
        np.array(secs, dtype=np.float64),
        np.ascontiguousarray(ex[:, 0]),
        np.ascontiguousarray(ex[:, 1]),
        np.ascontiguousarray(ex[:, 2]),
        np.ascontiguousarray(ex[:, 3]),
        offsets,
        np.array([leg[0] for leg in legs], dtype=np.float64),
        np.array([leg[1] for leg in legs], dtype=np.float64),
        np.array([leg[2] for leg in legs], dtype=np.float64),
        np.array([leg[3] for leg in legs], dtype=np.uint8),
        np.array([c.value for c in collaterals], dtype=np.float64),
        np.array([c.confidence for c in collaterals], dtype=np.float64),
        np.array([c.mm_haircut for c in collaterals], dtype=np.float64),
        np.array([c.im_haircut for c in collaterals], dtype=np.float64),
        np.array([c.risk_cancelling for c in collaterals], dtype=np.uint8),
    )
    labels = [s.label for s in scen]
    worst = int(out["worst"])
    return DeriveMarginResult(
        float(out["initial_margin"]),
        float(out["maintenance_margin"]),
        float(out["mark_to_market"]),
        float(out["option_value"]),
        float(out["collateral_value"]),
        float(out["worst_loss"]),
        float(out["basis_contingency"]),
        float(out["mm_contingency"]),
        float(out["im_contingency"]),
        float(out["im_factor"]),
        labels[worst] if worst < len(labels) else "basis contingency",
        labels,
        np.asarray(out["scenario_pnl"]),
        params.version,
    )
