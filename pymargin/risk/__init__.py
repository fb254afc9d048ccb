# SPDX-License-Identifier: Apache-2.0
"""Risk layer: scenario sets, scenario revaluation (risk arrays) and Greeks aggregation.

Imports the foundation modules and :mod:`pymargin.market`. ``pymargin.risk.revalue`` and the
other names of :mod:`pymargin.risk.revaluation` are re-exported here (``pm.risk`` was a module
before the package layout). See ``docs/architecture.md``.
"""

from .revaluation import *  # noqa: F403
from .revaluation import __all__ as _revaluation_all

__all__ = list(_revaluation_all)
