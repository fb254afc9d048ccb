# SPDX-License-Identifier: Apache-2.0
"""The tail of a P&L sample: VaR and Expected Shortfall by the empirical-quantile rule used
everywhere in pymargin (VaR = the k-th largest loss, k = ceil(n (1 - confidence)); ES = the
mean of the k largest losses), and the check of a confidence level."""

from __future__ import annotations

import math

import numpy as np

from ..exceptions import InvalidInputError

__all__ = ["check_confidence", "var_es"]


def check_confidence(confidence: float) -> None:
    if not (isinstance(confidence, float) and 0.5 <= confidence < 1.0):
        raise InvalidInputError("must be a float in [0.5, 1)", "confidence")


def var_es(pnl: np.ndarray, confidence: float) -> tuple[float, float, int]:
    """VaR and ES of a P&L sample (each outcome equally likely): VaR = the k-th largest loss
    with k = ceil(n (1 - confidence)) (the empirical quantile, no interpolation), ES = the
    average of the k largest losses. Returns (VaR, ES, index of the VaR outcome)."""
    check_confidence(confidence)
    x = np.asarray(pnl, dtype=np.float64)
    if x.ndim != 1 or x.size == 0 or not np.isfinite(x).all():
        raise InvalidInputError("must be a non-empty finite 1-D sample", "pnl")
    k = max(1, math.ceil(x.size * (1.0 - confidence) - 1e-9))
    order = np.argsort(x, kind="stable")
    tail = order[:k]
    return float(-x[tail[-1]]), float(-x[tail].mean()), int(tail[-1])
