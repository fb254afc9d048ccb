# SPDX-License-Identifier: Apache-2.0
"""The scenario-margin model of the C++ core (``pymargin/models/scenario_margin.hpp``): the one
implementation of the grid models (Deribit portfolio margin, segregated and cross, Paradex
SCAN-24, the FINRA/Cboe grid, SPAN scan risk). Each venue is a set of :class:`ModelRules` and
per-group constants; the venue modules of this package assemble them and explain the result.

Per group (positions summed into one scenario P&L vector) and per set of groups::

    entry_j   = weight_j x D_j(C(v_j))      C: gains credited at the group's pnl_offset, capped
                                            D_j: magnitude reduced by damp_j, not past zero
    set_j     = sum of the set's group entries
    loss      = max(0, -min_j set_j)        (ties: the model's preferred entry, else the first)
    min_delta = sum of (unhedged |net| + hedged (gross - |net|) / 2) x delta_price, with
                each group's own factors
    charge    = max(loss, floor, min_delta)

    worst = sum of charges; roll = sum_e roll_k_e |expiry_delta_e|
    RMM = R(worst) + roll; IM = R(RMM + im_addon); MM = mm_factor x RMM + mm_addon

with R rounding to 1e-9 where the venue rounds (Deribit), the identity elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .. import _core
from ..exceptions import InvalidInputError

__all__ = ["ModelRules", "PerGroup", "ScenarioMarginResult", "scenario_margin"]

# A per-group term: one number for every group, or one value per group.
PerGroup = float | Sequence[float] | np.ndarray


@dataclass(frozen=True)
class ModelRules:
    """The rules of a scenario model that are not per group (see the module docstring).
    ``tie_*``: among equal lowest entries prefer index j < tie_standard with
    j % tie_period == tie_slot (Deribit: a bucket's unchanged-vol entry); tie_period 0: the
    first lowest entry."""

    mm_factor: float = 1.0
    round_worst: bool = False
    tie_standard: int = 0
    tie_period: int = 0
    tie_slot: int = 0

    def as_array(self) -> np.ndarray:
        return np.array(
            [
                0.0,  # unused: the gain credit and the delta factors are per group
                0.0,
                0.0,
                self.mm_factor,
                1.0 if self.round_worst else 0.0,
                self.tie_standard,
                self.tie_period,
                self.tie_slot,
            ],
            dtype=np.float64,
        )


@dataclass(frozen=True)
class ScenarioMarginResult:
    """The model's figures: account totals, then per set (``loss``, ``lowest`` entry and its
    scenario ``at``, ``min_delta``, ``floor``, ``charge``) and the entries as counted
    (``set_entries`` [sets x scenarios], ``group_entries`` [groups x scenarios])."""

    worst: float
    roll: float
    rmm: float
    initial_margin: float
    maintenance_margin: float
    loss: np.ndarray
    lowest: np.ndarray
    at: np.ndarray
    min_delta: np.ndarray
    floor: np.ndarray
    charge: np.ndarray
    set_entries: np.ndarray
    group_entries: np.ndarray


def _column(x: PerGroup | None, n: int, name: str, default: float) -> np.ndarray:
    """A per-group column: None (the default for every group), one number for every group,
    or one value per group."""
    if x is None:
        return np.full(n, default)
    if np.ndim(x) == 0:
        return np.full(n, float(x))  # type: ignore[arg-type]  # a 0-d value
    a = np.ascontiguousarray(np.asarray(x, dtype=np.float64))
    if a.shape != (n,):
        raise InvalidInputError(f"must have {n} entries, one per group", name)
    return a


def scenario_margin(
    rules: ModelRules,
    pnl: np.ndarray,
    *,
    sets: Sequence[int] | np.ndarray | None = None,
    weight: np.ndarray | None = None,
    damp: np.ndarray | None = None,
    cap: PerGroup | None = None,
    net_delta: PerGroup | None = None,
    gross_delta: PerGroup | None = None,
    delta_price: PerGroup | None = None,
    floor: PerGroup | None = None,
    pnl_offset: PerGroup = 0.0,
    unhedged_delta: PerGroup = 0.0,
    hedged_delta: PerGroup = 0.0,
    roll_k: Sequence[float] | np.ndarray = (),
    expiry_delta: Sequence[float] | np.ndarray = (),
    im_addon: float = 0.0,
    mm_addon: float = 0.0,
) -> ScenarioMarginResult:
    """The model over margin groups: ``pnl`` [groups x scenarios] (settlement currency),
    ``sets`` the set of each group (default: a set per group), the per-group terms (default:
    no weight, no dampener, no cap, no delta terms, no floor; each a number for every group
    or one value per group) and the roll shock's factor and
    net delta per expiry. Computed in C++; bad input raises a typed error naming the field and
    the group."""
    p = np.ascontiguousarray(np.asarray(pnl, dtype=np.float64))
    if p.ndim != 2:
        raise InvalidInputError("must be a (groups, scenarios) array", "pnl")
    g = p.shape[0]
    if sets is None:
        s = np.arange(g, dtype=np.int32)
    else:
        s = np.ascontiguousarray(np.asarray(sets), dtype=np.int32)
        if s.shape != (g,):
            raise InvalidInputError(f"must have {g} entries, one per group", "sets")
    n_sets = int(s.max()) + 1 if g else 0

    def grid(x: np.ndarray | None, name: str) -> np.ndarray | None:
        if x is None:
            return None
        a = np.ascontiguousarray(np.asarray(x, dtype=np.float64))
        if a.shape != p.shape:
            raise InvalidInputError(f"must have the shape of pnl {p.shape}", name)
        return a

    try:
        r = _core.scenario_margin(
            rules.as_array(),
            p,
            grid(weight, "weight"),
            grid(damp, "damp"),
            _column(cap, g, "cap", np.inf),
            _column(net_delta, g, "net_delta", 0.0),
            _column(gross_delta, g, "gross_delta", 0.0),
            _column(delta_price, g, "delta_price", 0.0),
            _column(floor, g, "floor", 0.0),
            _column(pnl_offset, g, "pnl_offset", 0.0),
            _column(unhedged_delta, g, "unhedged_delta", 0.0),
            _column(hedged_delta, g, "hedged_delta", 0.0),
            s,
            n_sets,
            np.ascontiguousarray(np.asarray(roll_k, dtype=np.float64)),
            np.ascontiguousarray(np.asarray(expiry_delta, dtype=np.float64)),
            float(im_addon),
            float(mm_addon),
        )
    except InvalidInputError as e:
        if e.field == "pnl" and e.index is not None:  # say what it means for the caller
            raise InvalidInputError(
                "the scenario P&L is not finite (positions or collateral too large to value)",
                "scenario",
                e.index,
            ) from None
        raise
    return ScenarioMarginResult(
        float(r["worst"]),
        float(r["roll"]),
        float(r["rmm"]),
        float(r["initial_margin"]),
        float(r["maintenance_margin"]),
        r["loss"],
        r["lowest"],
        r["at"],
        r["min_delta"],
        r["floor"],
        r["charge"],
        r["set_entries"],
        r["group_entries"],
    )
