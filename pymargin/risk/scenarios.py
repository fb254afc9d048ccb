# SPDX-License-Identifier: Apache-2.0
"""Scenario sets: price moves per underlying and vol states, with per-underlying vol-shock
rules, as data (the revaluation kernel applies them; margin models read their labels)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np

from ..exceptions import InvalidInputError

__all__ = ["ScenarioSet", "VolShockKind", "VolShockRule", "VolState"]


class VolState(enum.IntEnum):
    DOWN = -1
    UNCHANGED = 0
    UP = 1


class VolShockKind(enum.IntEnum):
    RELATIVE = 0  # vol * (1 +/- range * (30/DTE)^p), up floored at min_vol_up, down at min_vol_down
    ADDITIVE = 1  # vol +/- range (absolute vol points as fractions)


@dataclass(frozen=True)
class VolShockRule:
    """How a vol state turns an implied vol into a shocked one for one underlying. DTE in
    calendar days, floored at ``dte_floor_days``; p = ``short_power`` below
    ``power_switch_days`` days, ``long_power`` from there."""

    kind: VolShockKind = VolShockKind.RELATIVE
    range_up: float = 0.0
    range_down: float = 0.0
    min_vol_up: float = 0.0
    min_vol_down: float = 0.0
    short_power: float = 0.30
    long_power: float = 0.13
    power_switch_days: float = 30.0
    reference_days: float = 30.0
    dte_floor_days: float = 1.0

    def as_row(self) -> list[float]:
        return [
            float(self.kind),
            self.range_up,
            self.range_down,
            self.min_vol_up,
            self.min_vol_down,
            self.short_power,
            self.long_power,
            self.power_switch_days,
            self.reference_days,
            self.dte_floor_days,
        ]


_VOL_WORDS = {1: "up", 0: "unchanged", -1: "down"}


def scenario_label(
    underlying: str, move: float, vol_state: int | None = None, weight: float = 1.0
) -> str:
    """A scenario's name, the same in every model, table, file and plot: the coin, its
    relative price move in percent, the vol state (``"BTC -16% vol up"``; models without a
    vol shock leave it out) and the weight the model counts it at when not 1."""
    coin = underlying.split("_")[0].upper()
    text = f"{coin} {'0' if move == 0 else f'{move * 100:+.4g}'}%"
    if vol_state is not None:
        text += f" vol {_VOL_WORDS[int(vol_state)]}"
    return text if weight == 1 else f"{text} (weight {weight:g})"


@dataclass(frozen=True)
class ScenarioSet:
    """``n`` scenarios over the underlyings ``underlyings``: ``move[j, u]`` is the relative
    price move of underlying ``u`` in scenario ``j``, ``vol_state[j]`` its vol state.
    ``group[j]`` and ``label[j]`` name the part of the model a scenario belongs to (e.g.
    ``"standard"`` / ``"extended"``); ``weight[j]`` is the fraction of the scenario's P&L the
    model counts (SPAN's 35 % cover of the extreme moves, Paradex's tail weights; 1 by
    default); ``vol_scale[j, u]`` (optional) multiplies every implied vol of underlying ``u``
    in scenario ``j`` after the vol state's shock (continuous vol moves of historical and
    Monte Carlo scenarios). Built-in sets: ``models.deribit_pm.deribit_grid``, ``models.paradex_pm.
    paradex_scenarios`` (SCAN-24), ``models.scan.span16``, ``models.scan.finra_grid``."""

    underlyings: tuple[str, ...]
    move: np.ndarray
    vol_state: np.ndarray
    rules: tuple[VolShockRule, ...]
    group: tuple[str, ...] = field(default=())
    label: tuple[str, ...] = field(default=())
    weight: np.ndarray | None = None
    vol_scale: np.ndarray | None = None

    def __post_init__(self) -> None:
        move = np.ascontiguousarray(self.move, dtype=np.float64)
        raw = np.asarray(self.vol_state)
        if raw.dtype.kind not in "biuf" or not np.isin(raw, (-1, 0, 1)).all():
            first = (
                int(np.argmax(~np.isin(raw, (-1, 0, 1)).ravel())) if raw.dtype.kind in "biuf" else 0
            )
            raise InvalidInputError("must be -1, 0 or 1 (VolState)", "vol_state", first)
        vs = np.ascontiguousarray(raw, dtype=np.int8)
        object.__setattr__(self, "move", move)
        object.__setattr__(self, "vol_state", vs)
        if move.ndim != 2 or move.shape[1] != len(self.underlyings):
            raise InvalidInputError("must have shape (scenarios, underlyings)", "move")
        if vs.shape != (move.shape[0],):
            raise InvalidInputError("must have one entry per scenario", "vol_state")
        if len(self.rules) != len(self.underlyings):
            raise InvalidInputError("one rule per underlying", "rules")
        bad = np.flatnonzero(~np.isfinite(move).all(axis=1) | (move <= -1.0).any(axis=1))
        if bad.size:
            raise InvalidInputError("moves must be finite and > -1", "move", int(bad[0]))
        if not self.group:
            object.__setattr__(self, "group", ("",) * len(vs))
        w = np.ones(len(vs)) if self.weight is None else np.array(self.weight, dtype=np.float64)
        if not self.label:
            names = (
                tuple(
                    scenario_label(self.underlyings[0], move[j, 0], vs[j], w[j])
                    for j in range(len(vs))
                )
                if len(self.underlyings) == 1 and w.shape == (len(vs),)
                else tuple(str(j) for j in range(len(vs)))
            )
            object.__setattr__(self, "label", names)
        if w.shape != (len(vs),) or not (np.isfinite(w) & (w >= 0)).all():
            raise InvalidInputError("one finite weight >= 0 per scenario", "weight")
        w.flags.writeable = False
        object.__setattr__(self, "weight", w)
        if self.vol_scale is not None:
            vs = np.ascontiguousarray(self.vol_scale, dtype=np.float64)
            if vs.shape != move.shape:
                raise InvalidInputError("must have shape (scenarios, underlyings)", "vol_scale")
            bad = np.flatnonzero(~(np.isfinite(vs) & (vs > 0)).all(axis=1))
            if bad.size:
                raise InvalidInputError(
                    "vol scales must be finite and > 0", "vol_scale", int(bad[0])
                )
            vs.flags.writeable = False
            object.__setattr__(self, "vol_scale", vs)

    @property
    def n(self) -> int:
        return int(self.vol_state.shape[0])

    def rules_array(self) -> np.ndarray:
        """The rules as the kernel takes them, one row per underlying (built once; read only)."""
        rows = self.__dict__.get("_rules_array")
        if rows is None:
            rows = np.array([r.as_row() for r in self.rules], dtype=np.float64)
            rows.flags.writeable = False
            object.__setattr__(self, "_rules_array", rows)
        return rows
