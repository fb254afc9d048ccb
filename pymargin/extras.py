# SPDX-License-Identifier: Apache-2.0
"""Optional dependencies, imported when a feature needs them: pandas, pyarrow and dask for the
venue batch (`pip install 'pymargin[venue]'`), matplotlib for plots and reports
(`[report]`), scipy for the optimiser (`[optimize]`). A missing one is a
:class:`~pymargin.exceptions.MissingDependencyError` naming the extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

from .exceptions import MissingDependencyError

__all__ = ["optional"]


def optional(module: str, extra: str) -> ModuleType:
    """``module`` imported, or a MissingDependencyError saying ``pip install 'pymargin[extra]'``."""
    try:
        return importlib.import_module(module)
    except ImportError:
        top = module.split(".")[0]
        raise MissingDependencyError(
            f"{top} is not installed: pip install 'pymargin[{extra}]'", top
        ) from None
