# SPDX-License-Identifier: Apache-2.0
"""Type stubs of the compiled module pymargin._core (private; use the pymargin package)."""

import enum
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

__version__: str

def price_batch(
    model: int,
    n: int,
    underlying: np.ndarray,
    strike: np.ndarray,
    time: np.ndarray,
    vol: np.ndarray,
    rate: np.ndarray,
    carry: np.ndarray,
    is_call: np.ndarray,
    outputs: tuple[np.ndarray | None, ...],
    threads: int,
    outputs_are_scratch: bool = False,
) -> None: ...
def implied_vol_batch(
    model: int,
    n: int,
    price: np.ndarray,
    underlying: np.ndarray,
    strike: np.ndarray,
    time: np.ndarray,
    rate: np.ndarray,
    carry: np.ndarray,
    is_call: np.ndarray,
    out: np.ndarray,
    threads: int,
) -> None: ...
def simd_level() -> str: ...
def aggregate(risk: np.ndarray, index: np.ndarray, size: np.ndarray, out: np.ndarray) -> None: ...
def scaled_vectors(
    risk: np.ndarray,
    index: np.ndarray,
    size: np.ndarray,
    inverse: np.ndarray,
    scale: np.ndarray,
    edge: np.ndarray | None,
    n_std: int,
    out: np.ndarray,
    vectors: np.ndarray | None = None,
) -> None: ...
def revalue(
    kind: np.ndarray,
    settlement: np.ndarray,
    is_call: np.ndarray,
    underlying: np.ndarray,
    strike: np.ndarray,
    forward: np.ndarray,
    vol: np.ndarray,
    time: np.ndarray,
    rate: np.ndarray,
    move: np.ndarray,
    vol_state: np.ndarray,
    vol_rules: np.ndarray,
    n_underlyings: int,
    out: np.ndarray,
    threads: int,
    vol_scale: np.ndarray | None = None,
) -> None: ...
def batch_margin(
    risk: np.ndarray,
    pair: np.ndarray,
    expiry: np.ndarray,
    delta: np.ndarray,
    value: np.ndarray,
    offsets: np.ndarray,
    instrument: np.ndarray,
    amount: np.ndarray,
    collateral: np.ndarray,
    n_std: int,
    pairs: int,
    expiries: int,
    pnl_offset: float,
    cap: np.ndarray,
    damp: np.ndarray | None,
    roll_k: np.ndarray,
    mm_factor: float,
    delta_limit: np.ndarray | None,
    threads: int,
    venue: dict[str, Any] = ...,
) -> dict[str, np.ndarray]: ...
def batch_standard(
    terms: np.ndarray,
    value: np.ndarray,
    offsets: np.ndarray,
    instrument: np.ndarray,
    amount: np.ndarray,
    collateral: np.ndarray,
    threads: int,
) -> dict[str, np.ndarray]: ...
def batch_sensitivity(
    underlying: np.ndarray,
    bucket: np.ndarray,
    delta_usd: np.ndarray,
    weighted_vega: np.ndarray,
    pnl_up: np.ndarray,
    pnl_down: np.ndarray,
    value: np.ndarray,
    offsets: np.ndarray,
    instrument: np.ndarray,
    amount: np.ndarray,
    collateral: np.ndarray,
    tenor_corr: np.ndarray,
    delta_corr: float,
    vega_corr: float,
    delta_rw: np.ndarray,
    threads: int,
) -> dict[str, np.ndarray]: ...
def batch_span(
    risk: np.ndarray,
    commodity: np.ndarray,
    tier: np.ndarray,
    delta: np.ndarray,
    option: np.ndarray,
    value: np.ndarray,
    offsets: np.ndarray,
    instrument: np.ndarray,
    amount: np.ndarray,
    collateral: np.ndarray,
    commodities: list[tuple[int, np.ndarray, float, np.ndarray, np.ndarray]],
    spread_legs: np.ndarray,
    spread_terms: np.ndarray,
    threads: int,
) -> dict[str, np.ndarray]: ...
def scenario_margin(
    rules: np.ndarray,
    pnl: np.ndarray,
    weight: np.ndarray | None,
    damp: np.ndarray | None,
    cap: np.ndarray,
    net_delta: np.ndarray,
    gross_delta: np.ndarray,
    delta_price: np.ndarray,
    floor: np.ndarray,
    pnl_offset: np.ndarray,
    unhedged_delta: np.ndarray,
    hedged_delta: np.ndarray,
    set: np.ndarray,
    sets: int,
    roll_k: np.ndarray,
    expiry_delta: np.ndarray,
    im_addon: float,
    mm_addon: float,
) -> dict[str, Any]: ...
def standard_margin(
    rule: np.ndarray,
    size: np.ndarray,
    im_base: np.ndarray,
    im_per_unit: np.ndarray,
    mm_base: np.ndarray,
    mm_per_unit: np.ndarray,
    price: np.ndarray,
    im_otm_base: np.ndarray,
    im_floor: np.ndarray,
    mm: np.ndarray,
    call: np.ndarray,
    strike: np.ndarray,
    index: np.ndarray,
    mark: np.ndarray,
    extra: Any = None,
) -> tuple[np.ndarray, np.ndarray]: ...
def derive_pm_margin(
    params: np.ndarray,
    spot_shock: np.ndarray,
    vol: np.ndarray,
    dampening: np.ndarray,
    scalars: np.ndarray,
    seconds: np.ndarray,
    forward_fixed: np.ndarray,
    forward_variable: np.ndarray,
    rate: np.ndarray,
    confidence: np.ndarray,
    option_offsets: np.ndarray,
    strike: np.ndarray,
    option_vol: np.ndarray,
    amount: np.ndarray,
    call: np.ndarray,
    collateral_value: np.ndarray,
    collateral_confidence: np.ndarray,
    mm_haircut: np.ndarray,
    im_haircut: np.ndarray,
    risk_cancelling: np.ndarray,
) -> dict[str, Any]: ...
def batch_derive(
    params: np.ndarray,
    spot_shock: np.ndarray,
    vol: np.ndarray,
    dampening: np.ndarray,
    market: np.ndarray,
    seconds: np.ndarray,
    forward_fixed: np.ndarray,
    forward_variable: np.ndarray,
    rate: np.ndarray,
    confidence: np.ndarray,
    perp: np.ndarray,
    expiry: np.ndarray,
    strike: np.ndarray,
    option_vol: np.ndarray,
    call: np.ndarray,
    offsets: np.ndarray,
    instrument: np.ndarray,
    amount: np.ndarray,
    collateral: np.ndarray,
    threads: int,
) -> dict[str, np.ndarray]: ...
def strategy_requirements(
    kind: np.ndarray,
    offsets: np.ndarray,
    quantity: np.ndarray,
    stock: np.ndarray,
    call: np.ndarray,
    otc: np.ndarray,
    strike: np.ndarray,
    price: np.ndarray,
    underlying: np.ndarray,
    multiplier: np.ndarray,
    months: np.ndarray,
    rates: np.ndarray,
    strict: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]: ...
def scanning_spread(legs: np.ndarray, gain_allowance: float) -> tuple[np.ndarray, float]: ...
def span_requirement(
    pnl: np.ndarray,
    tier_offsets: np.ndarray,
    tier_delta: np.ndarray,
    short_options: np.ndarray,
    short_option_minimum: np.ndarray,
    intra_offsets: np.ndarray,
    intra_tiers: np.ndarray,
    intra_rates: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    ratio_a: np.ndarray,
    ratio_b: np.ndarray,
    rate: np.ndarray,
) -> dict[str, np.ndarray]: ...
def sensitivity_margin(
    weighted_delta: np.ndarray,
    weighted_vega: np.ndarray,
    tenor_corr: np.ndarray,
    delta_corr: float,
    vega_corr: float,
    pnl_up: np.ndarray,
    pnl_down: np.ndarray,
    delta_usd: np.ndarray,
    risk_weight: np.ndarray,
) -> dict[str, Any]: ...

class scalar:  # a submodule at run time
    @staticmethod
    def black76_price(
        forward: float,
        strike: float,
        time: float,
        vol: float,
        rate: float = 0.0,
        is_call: bool = True,
    ) -> float: ...
    @staticmethod
    def black76_greeks(
        forward: float,
        strike: float,
        time: float,
        vol: float,
        rate: float = 0.0,
        is_call: bool = True,
    ) -> tuple[float, float, float, float, float, float, float, float, float]: ...
    @staticmethod
    def bsm_price(
        spot: float,
        strike: float,
        time: float,
        vol: float,
        rate: float = 0.0,
        dividend: float = 0.0,
        is_call: bool = True,
    ) -> float: ...
    @staticmethod
    def bsm_greeks(
        spot: float,
        strike: float,
        time: float,
        vol: float,
        rate: float = 0.0,
        dividend: float = 0.0,
        is_call: bool = True,
    ) -> tuple[float, float, float, float, float, float, float, float, float]: ...
    @staticmethod
    def inverse_price(
        forward: float,
        strike: float,
        time: float,
        vol: float,
        rate: float = 0.0,
        is_call: bool = True,
    ) -> float: ...
    @staticmethod
    def inverse_greeks(
        forward: float,
        strike: float,
        time: float,
        vol: float,
        rate: float = 0.0,
        is_call: bool = True,
    ) -> tuple[float, float, float, float, float, float, float, float, float]: ...
    @staticmethod
    def black76_implied_vol(
        price: float,
        forward: float,
        strike: float,
        time: float,
        rate: float = 0.0,
        is_call: bool = True,
    ) -> float: ...
    @staticmethod
    def inverse_implied_vol(
        price: float,
        forward: float,
        strike: float,
        time: float,
        rate: float = 0.0,
        is_call: bool = True,
    ) -> float: ...
    @staticmethod
    def bsm_implied_vol(
        price: float,
        spot: float,
        strike: float,
        time: float,
        rate: float = 0.0,
        dividend: float = 0.0,
        is_call: bool = True,
    ) -> float: ...

class Side(enum.IntEnum):
    """An order's side (the C++ engine's Side)."""

    BUY = 0
    SELL = 1

class Reason(enum.IntEnum):
    """Why the engine refused a request (the C++ engine's Reason; ACCEPTED when it did not)."""

    ACCEPTED = 0
    INSUFFICIENT_FUNDS = 1
    UNKNOWN_ACCOUNT = 2
    UNKNOWN_INSTRUMENT = 3
    BAD_SIZE = 4
    DELTA_SHOCK_NOT_MODELLED = 5
    UNKNOWN_ORDER = 6
    DUPLICATE_ORDER = 7
    BAD_PRICE = 8
    NON_FINITE_STATE = 9

class PreTradeEngine:
    """The C++ pre-trade engine (see pymargin.accounts.engine.PreTradeEngine for the Python API)."""

    def __init__(
        self,
        buckets: int,
        mm_factor: float,
        pairs: npt.NDArray[np.float64],
        currencies: npt.NDArray[np.float64],
        max_accounts: int,
        kind: npt.NDArray[np.uint8],
        settlement: npt.NDArray[np.uint8],
        is_call: npt.NDArray[np.uint8],
        underlying: npt.NDArray[np.int32],
        currency: npt.NDArray[np.int32],
        strike: npt.NDArray[np.float64],
        expiry_id: npt.NDArray[np.int64],
        forward: npt.NDArray[np.float64],
        vol: npt.NDArray[np.float64],
        time: npt.NDArray[np.float64],
        rate: npt.NDArray[np.float64],
        index: npt.NDArray[np.float64],
        cross: bool = False,
    ) -> None: ...
    @staticmethod
    def grid(
        mm_factor: float,
        max_accounts: int,
        currencies: npt.NDArray[np.float64],
        moves: list[npt.NDArray[np.float64]],
        vol_states: list[npt.NDArray[np.int8]],
        weights: list[npt.NDArray[np.float64]],
        rules: npt.NDArray[np.float64],
        terms: npt.NDArray[np.float64],
        kind: npt.NDArray[np.uint8],
        settlement: npt.NDArray[np.uint8],
        is_call: npt.NDArray[np.uint8],
        underlying: npt.NDArray[np.int32],
        currency: npt.NDArray[np.int32],
        strike: npt.NDArray[np.float64],
        expiry_id: npt.NDArray[np.int64],
        floor_long: npt.NDArray[np.float64],
        floor_short: npt.NDArray[np.float64],
        strike_floor: npt.NDArray[np.float64],
        forward: npt.NDArray[np.float64],
        vol: npt.NDArray[np.float64],
        time: npt.NDArray[np.float64],
        rate: npt.NDArray[np.float64],
        index: npt.NDArray[np.float64],
    ) -> PreTradeEngine: ...
    @staticmethod
    def derive(
        max_accounts: int,
        currencies: npt.NDArray[np.float64],
        params: npt.NDArray[np.float64],
        spot_shock: npt.NDArray[np.float64],
        scenario_vol: npt.NDArray[np.uint8],
        dampening: npt.NDArray[np.float64],
        kind: npt.NDArray[np.uint8],
        settlement: npt.NDArray[np.uint8],
        is_call: npt.NDArray[np.uint8],
        underlying: npt.NDArray[np.int32],
        currency: npt.NDArray[np.int32],
        strike: npt.NDArray[np.float64],
        expiry_id: npt.NDArray[np.int64],
        forward: npt.NDArray[np.float64],
        vol: npt.NDArray[np.float64],
        time: npt.NDArray[np.float64],
        rate: npt.NDArray[np.float64],
        index: npt.NDArray[np.float64],
    ) -> PreTradeEngine: ...
    @staticmethod
    def span(
        max_accounts: int,
        currencies: npt.NDArray[np.float64],
        commodities: list[tuple[Any, ...]],
        spread_legs: npt.NDArray[np.int32],
        spread_terms: npt.NDArray[np.float64],
        kind: npt.NDArray[np.uint8],
        settlement: npt.NDArray[np.uint8],
        is_call: npt.NDArray[np.uint8],
        underlying: npt.NDArray[np.int32],
        currency: npt.NDArray[np.int32],
        strike: npt.NDArray[np.float64],
        expiry_id: npt.NDArray[np.int64],
        forward: npt.NDArray[np.float64],
        vol: npt.NDArray[np.float64],
        time: npt.NDArray[np.float64],
        rate: npt.NDArray[np.float64],
        index: npt.NDArray[np.float64],
    ) -> PreTradeEngine: ...
    @staticmethod
    def sensitivity(
        max_accounts: int,
        currencies: npt.NDArray[np.float64],
        bucket_days: npt.NDArray[np.float64],
        tenor_corr: npt.NDArray[np.float64],
        delta_corr: float,
        vega_corr: float,
        delta_rw: npt.NDArray[np.float64],
        vega_rw: npt.NDArray[np.float64],
        kind: npt.NDArray[np.uint8],
        settlement: npt.NDArray[np.uint8],
        is_call: npt.NDArray[np.uint8],
        underlying: npt.NDArray[np.int32],
        currency: npt.NDArray[np.int32],
        strike: npt.NDArray[np.float64],
        expiry_id: npt.NDArray[np.int64],
        forward: npt.NDArray[np.float64],
        vol: npt.NDArray[np.float64],
        time: npt.NDArray[np.float64],
        rate: npt.NDArray[np.float64],
        index: npt.NDArray[np.float64],
    ) -> PreTradeEngine: ...
    @staticmethod
    def standard(
        max_accounts: int,
        currencies: npt.NDArray[np.float64],
        underlyings: int,
        kind: npt.NDArray[np.uint8],
        settlement: npt.NDArray[np.uint8],
        is_call: npt.NDArray[np.uint8],
        underlying: npt.NDArray[np.int32],
        currency: npt.NDArray[np.int32],
        strike: npt.NDArray[np.float64],
        expiry_id: npt.NDArray[np.int64],
        terms: npt.NDArray[np.float64],
        forward: npt.NDArray[np.float64],
        vol: npt.NDArray[np.float64],
        time: npt.NDArray[np.float64],
        rate: npt.NDArray[np.float64],
        mark: npt.NDArray[np.float64],
        index: npt.NDArray[np.float64],
    ) -> PreTradeEngine: ...
    @property
    def model(self) -> int: ...
    def add_account(self) -> int: ...
    def set_result_labels(
        self, result_type: type[tuple[Any, ...]], reasons: tuple[Any, ...], groups: tuple[str, ...]
    ) -> None: ...
    def check(self, account: int, instrument: int, side: int, amount: float) -> Any: ...
    def fast_check(
        self, names: dict[str, int], side_type: type, fallback: Any
    ) -> Callable[[int, str | int, Any, float], Any]: ...
    def check_many(
        self,
        account: int,
        instruments: npt.NDArray[np.int32],
        sides: npt.NDArray[np.uint8],
        amounts: npt.NDArray[np.float64],
    ) -> dict[str, npt.NDArray[Any]]: ...
    def add_order(
        self, account: int, order_id: int, instrument: int, side: int, amount: float
    ) -> int: ...
    def cancel_order(self, account: int, order_id: int) -> int: ...
    def apply_fill(
        self, account: int, order_id: int, instrument: int, side: int, amount: float, price: float
    ) -> int: ...
    def deposit(self, account: int, currency: int, amount: float) -> int: ...
    def withdraw(self, account: int, currency: int, amount: float) -> int: ...
    def on_market_update(
        self,
        forward: npt.NDArray[np.float64],
        vol: npt.NDArray[np.float64],
        time: npt.NDArray[np.float64],
        rate: npt.NDArray[np.float64],
        index: npt.NDArray[np.float64],
        mark: npt.NDArray[np.float64] | None = None,
    ) -> None: ...
    def margin(
        self, account: int, currency: int
    ) -> tuple[float, float, float, float, float, float, bool]: ...
    def margin_from_scratch(
        self, account: int, currency: int
    ) -> tuple[float, float, float, float, float, float, bool]: ...
    def snapshot(self) -> bytes: ...
    @staticmethod
    def restore(data: bytes) -> PreTradeEngine: ...
    def instrument_specs(self) -> dict[str, np.ndarray]: ...
    @property
    def scenarios(self) -> int: ...
    @property
    def accounts(self) -> int: ...
    @property
    def instruments(self) -> int: ...
