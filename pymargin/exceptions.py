"""Exception types raised by pymargin.

Every error about an input names the argument (``field``) and, where it concerns one element,
the first offending flat index (``index``). Each class also derives from the matching builtin,
so ``except ValueError`` keeps working.
"""

from __future__ import annotations

__all__ = ["InputTypeError", "InvalidInputError", "NoSolutionError", "PymarginError"]


class PymarginError(Exception):
    """Base class of all pymargin errors."""

    def __init__(self, message: str, field: str | None = None, index: int | None = None):
        self.field = field
        self.index = index
        self.reason = message
        where = ""
        if field:
            where = field if index is None else f"{field}[{index}]"
            where += ": "
        super().__init__(where + message)


class InvalidInputError(PymarginError, ValueError):
    """A value is outside the function's domain (NaN, infinite, negative vol, ...)
    or arrays do not broadcast together."""


class NoSolutionError(InvalidInputError):
    """No solution exists, e.g. an option price below its intrinsic value or at or above its
    no-arbitrage maximum given to an implied-volatility solver."""


class InputTypeError(PymarginError, TypeError):
    """An argument has the wrong type or dtype (pymargin never copies a float32 or int64 array
    silently into float64), or an ``out=`` array is unusable."""
