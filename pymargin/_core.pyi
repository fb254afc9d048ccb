"""Type stubs of the compiled module pymargin._core (private; use the pymargin package)."""

import numpy as np

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
) -> None: ...

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
