# SPDX-License-Identifier: Apache-2.0
"""Margin models: named, versioned parameter sets (data files) and the models that use them."""

from .deribit_pm import DeribitPMParams, DeribitPMResult, deribit_pm_margin
from .deribit_standard import DeribitStandardParams, PositionMargin, deribit_standard_margin
from .deribit_xpm import DeribitXPMResult, deribit_xpm_margin
from .paradex_pm import ParadexPMResult, paradex_pm_margin
from .params import ModelCoverageError, ModelParameterError, available_versions, load_params
from .scan import FinraPMResult, finra_pm_margin

__all__ = [
    "DeribitPMParams",
    "DeribitPMResult",
    "DeribitStandardParams",
    "DeribitXPMResult",
    "FinraPMResult",
    "ModelCoverageError",
    "ModelParameterError",
    "ParadexPMResult",
    "PositionMargin",
    "available_versions",
    "deribit_pm_margin",
    "deribit_standard_margin",
    "deribit_xpm_margin",
    "finra_pm_margin",
    "load_params",
    "paradex_pm_margin",
]
