"""Margin models: named, versioned parameter sets (data files) and the models that use them."""

from .deribit_pm import DeribitPMParams, DeribitPMResult, deribit_pm_margin
from .params import ModelCoverageError, ModelParameterError, available_versions, load_params

__all__ = [
    "DeribitPMParams",
    "DeribitPMResult",
    "ModelCoverageError",
    "ModelParameterError",
    "available_versions",
    "deribit_pm_margin",
    "load_params",
]
