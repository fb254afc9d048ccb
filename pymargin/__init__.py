"""pymargin: portfolio-margining risk engine for crypto derivatives.

This release provides the pricing foundation: exact, fast European option prices, Greeks and
implied volatilities (Black-76, Black-Scholes-Merton and inverse/coin-settled options) over
numpy arrays, backed by an embeddable C++ core.
"""

from __future__ import annotations

from . import _core, models, risk
from ._core import scalar, simd_level
from .enums import Greek, OptionType
from .exceptions import InputTypeError, InvalidInputError, NoSolutionError, PymarginError
from .instruments import (
    Instrument,
    InstrumentKind,
    InvalidInstrumentError,
    Settlement,
    parse_instrument,
)
from .margin import MarginModel, MarginResult, margin
from .market import Mark, Market, MarketDataError
from .portfolio import Portfolio
from .pricing import (
    Greeks,
    black76_greeks,
    black76_implied_vol,
    black76_price,
    bsm_greeks,
    bsm_implied_vol,
    bsm_price,
    inverse_greeks,
    inverse_implied_vol,
    inverse_price,
)

__version__: str = _core.__version__

__all__ = [
    "Greek",
    "Greeks",
    "InputTypeError",
    "Instrument",
    "InstrumentKind",
    "InvalidInputError",
    "InvalidInstrumentError",
    "MarginModel",
    "MarginResult",
    "Mark",
    "Market",
    "MarketDataError",
    "NoSolutionError",
    "OptionType",
    "Portfolio",
    "PymarginError",
    "Settlement",
    "__version__",
    "black76_greeks",
    "black76_implied_vol",
    "black76_price",
    "bsm_greeks",
    "bsm_implied_vol",
    "bsm_price",
    "inverse_greeks",
    "inverse_implied_vol",
    "inverse_price",
    "margin",
    "models",
    "parse_instrument",
    "risk",
    "scalar",
    "simd_level",
]
