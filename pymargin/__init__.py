# SPDX-License-Identifier: Apache-2.0
"""pymargin: portfolio-margining risk engine for crypto derivatives.

Exact, fast European option prices, Greeks and implied volatilities (Black-76,
Black-Scholes-Merton and inverse/coin-settled options) over numpy arrays; scenario revaluation
(risk arrays) in an embeddable C++ core; the published margin models of the venues (Deribit
standard, segregated and cross portfolio margin, Paradex, SPAN, FINRA/Cboe) on portfolios and
accounts.
"""

from __future__ import annotations

try:
    from . import _core
except ImportError as _e:  # pragma: no cover - exercised in a clone without a build
    raise ImportError(
        "pymargin's C++ extension (pymargin._core) is not built here: this is a source tree. "
        "Install the package (pip install .), or for development an editable build: "
        "pip install --no-build-isolation -e . (README, Development)"
    ) from _e

from . import models, risk
from ._core import scalar, simd_level
from .accounts import account, liquidation
from .accounts.account import (
    Account,
    AccountSummary,
    MarginMode,
    account_summary,
    compare_margin_modes,
)
from .accounts.engine import PreTradeEngine
from .accounts.fills import Ledger, ledger_from_trades
from .analytics import stress, var
from .analytics.attribution import incremental_margin, margin_attribution, scenario_ranking
from .enums import DeltaShock, Greek, OptionType
from .exceptions import InputTypeError, InvalidInputError, NoSolutionError, PymarginError
from .market import history
from .market.instruments import (
    Instrument,
    InstrumentKind,
    InvalidInstrumentError,
    Settlement,
    parse_instrument,
)
from .market.market import Mark, Market, MarketDataError
from .market.portfolio import Portfolio
from .models.registry import MarginModel, MarginResult, margin
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
from .risk import greeks
from .risk.revaluation import revalue
from .risk.scenarios import ScenarioSet, VolShockKind, VolShockRule, VolState
from .strategy import costs, crossvenue, hedging, optimize

__version__: str = _core.__version__

__all__ = [
    "Account",
    "AccountSummary",
    "DeltaShock",
    "Greek",
    "Greeks",
    "InputTypeError",
    "Instrument",
    "InstrumentKind",
    "InvalidInputError",
    "InvalidInstrumentError",
    "Ledger",
    "MarginMode",
    "MarginModel",
    "MarginResult",
    "Mark",
    "Market",
    "MarketDataError",
    "NoSolutionError",
    "OptionType",
    "Portfolio",
    "PreTradeEngine",
    "PymarginError",
    "ScenarioSet",
    "Settlement",
    "VolShockKind",
    "VolShockRule",
    "VolState",
    "__version__",
    "account",
    "account_summary",
    "black76_greeks",
    "black76_implied_vol",
    "black76_price",
    "bsm_greeks",
    "bsm_implied_vol",
    "bsm_price",
    "compare_margin_modes",
    "costs",
    "crossvenue",
    "greeks",
    "hedging",
    "history",
    "incremental_margin",
    "inverse_greeks",
    "inverse_implied_vol",
    "inverse_price",
    "ledger_from_trades",
    "liquidation",
    "margin",
    "margin_attribution",
    "models",
    "optimize",
    "parse_instrument",
    "revalue",
    "risk",
    "scalar",
    "scenario_ranking",
    "simd_level",
    "stress",
    "var",
]
