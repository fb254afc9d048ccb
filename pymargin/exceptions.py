# SPDX-License-Identifier: Apache-2.0
"""Exception types raised by pymargin.

Every error about an input names the argument (``field``) and, where it concerns one element,
the first offending flat index (``index``). Each class also derives from the matching builtin,
so ``except ValueError`` keeps working. Every exception class of the package is defined here;
the modules that raise them import them from here (their old homes still re-export them).
"""

from __future__ import annotations

__all__ = [
    "FileInputError",
    "InputTypeError",
    "InvalidInputError",
    "InvalidInstrumentError",
    "MarketDataError",
    "MissingDependencyError",
    "ModelCoverageError",
    "ModelParameterError",
    "NoSolutionError",
    "PymarginError",
]


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


class FileInputError(InvalidInputError):
    """Bad input in a file: ``path`` is the file; ``field`` and ``index`` locate the value."""

    def __init__(self, path: str, inner: PymarginError | str) -> None:
        self.path = path
        if isinstance(inner, PymarginError):
            super().__init__(inner.reason, inner.field, inner.index)
        else:
            super().__init__(inner)

    def __str__(self) -> str:
        return f"{self.path}: {super().__str__()}"


class ModelParameterError(InvalidInputError):
    """A parameter set with a missing, mistyped or out-of-range field (``field`` is its path)."""


class ModelCoverageError(PymarginError, NotImplementedError):
    """The portfolio reaches a part of a venue's model whose formula is not published, so
    pymargin refuses to guess (the message says which part and why)."""


class MarketDataError(InvalidInputError):
    """Market data missing or unusable for an instrument (no mark, no vol, NaN, ...)."""


class InvalidInstrumentError(InvalidInputError):
    """An instrument name or definition that cannot be understood."""


class MissingDependencyError(PymarginError, ImportError):
    """An optional dependency a feature needs is not installed; the message names the extra
    that installs it (``pip install 'pymargin[venue]'``)."""
