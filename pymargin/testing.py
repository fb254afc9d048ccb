# SPDX-License-Identifier: Apache-2.0
"""Helpers for testing code built on pymargin: field-by-field comparison of margin results with
tolerances that name the field that differs, and hypothesis strategies for option inputs and
portfolios. ``hypothesis`` is imported only by the strategies (it is a test dependency).

This module sits above every layer (it may build inputs from any of them).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, is_dataclass
from typing import Any

from .exceptions import InputTypeError

__all__ = ["assert_fields_close", "assert_margin_close", "black_inputs", "portfolios"]


def _fields(obj: Any) -> Mapping[str, Any]:
    if isinstance(obj, Mapping):
        return obj
    if is_dataclass(obj) and not isinstance(obj, type):
        return asdict(obj)
    if hasattr(obj, "_asdict"):
        return obj._asdict()
    raise InputTypeError("a mapping, dataclass or named tuple of results", "actual")


def assert_fields_close(
    actual: Any,
    expected: Mapping[str, float],
    tolerance: Mapping[str, Mapping[str, float]] | None = None,
    *,
    rtol: float = 1e-12,
    atol: float = 0.0,
    where: str = "",
) -> None:
    """Each field of ``expected`` equals the same field of ``actual`` within its tolerance:
    ``tolerance[field]`` may give ``abs`` and ``rel`` (defaults ``atol`` and ``rtol``); the test
    is |a - e| <= abs + rel |e|. NaN never passes. Raises AssertionError naming every field
    that differs, with both values."""
    got = _fields(actual)
    bad = []
    for name, want in expected.items():
        if name not in got:
            bad.append(f"{name}: missing")
            continue
        tol = (tolerance or {}).get(name, {})
        a, e = float(got[name]), float(want)
        limit = tol.get("abs", atol) + tol.get("rel", rtol) * abs(e)
        if not (math.isfinite(a) and abs(a - e) <= limit):
            bad.append(f"{name}: {a!r} against {e!r} (tolerance {limit:.3g})")
    if bad:
        raise AssertionError((f"{where}: " if where else "") + "; ".join(bad))


def assert_margin_close(actual: Any, expected: Any, *, rtol: float = 1e-12, atol: float = 0.0):
    """Two margin results agree: initial and maintenance margin, and every component the
    expected one has (``components`` of a :class:`pymargin.MarginResult`), within
    ``rtol``/``atol``; the model and currency are equal."""
    for attr in ("model", "currency"):
        if getattr(expected, attr, None) != getattr(actual, attr, None):
            raise AssertionError(
                f"{attr}: {getattr(actual, attr, None)!r} against {getattr(expected, attr, None)!r}"
            )
    want = {
        "initial_margin": expected.initial_margin,
        "maintenance_margin": expected.maintenance_margin,
    }
    got = {"initial_margin": actual.initial_margin, "maintenance_margin": actual.maintenance_margin}
    for k, v in getattr(expected, "components", {}).items():
        want[f"components.{k}"] = v
        got[f"components.{k}"] = getattr(actual, "components", {}).get(k, math.nan)
    assert_fields_close(got, want, rtol=rtol, atol=atol)


def black_inputs(
    *, max_abs_log_moneyness: float = 3.0, min_time: float = 1e-4, max_time: float = 5.0
) -> Any:
    """A hypothesis strategy of Black-76 inputs ``(forward, strike, time, vol, is_call)``:
    forwards from 1e-3 to 1e6, log-moneyness within the bound, vols from 1 % to 300 %."""
    from hypothesis import strategies as st

    def build(f: float, x: float, t: float, v: float, call: bool) -> tuple[float, ...]:
        return (f, f * math.exp(x), t, v, call)

    return st.builds(
        build,
        st.floats(1e-3, 1e6),
        st.floats(-max_abs_log_moneyness, max_abs_log_moneyness),
        st.floats(min_time, max_time),
        st.floats(0.01, 3.0),
        st.booleans(),
    )


def portfolios(instruments: list[str], *, max_positions: int = 8, max_size: float = 50.0) -> Any:
    """A hypothesis strategy of portfolios (instrument name -> nonzero size) over
    ``instruments``, e.g. ``list(market.marks)``."""
    from hypothesis import strategies as st

    from .market.portfolio import Portfolio

    sizes = st.floats(-max_size, max_size).filter(lambda q: abs(q) > 1e-6)
    return st.dictionaries(
        st.sampled_from(instruments), sizes, min_size=1, max_size=max_positions
    ).map(Portfolio)
