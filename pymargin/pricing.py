# SPDX-License-Identifier: Apache-2.0
"""Option prices, Greeks and implied volatilities over numpy arrays.

Three models share one C++ kernel:

* ``black76_*``  Black-76 on a forward (futures options, or any option priced off a forward).
* ``bsm_*``      generalised Black-Scholes-Merton on spot with rate ``r`` and dividend yield
  (or carry deduction) ``q``: the Black-76 value on ``F = S exp((r - q) T)``.
* ``inverse_*``  coin-settled (inverse) options as Deribit lists them: the price in coin is the
  Black-76 USD value divided by the forward, and the Greeks are in coin (see :class:`Greeks`).

Arguments are numpy arrays or scalars, broadcast together. float64 arrays are used in place
(no copy); arrays of another dtype raise :class:`~pymargin.exceptions.InputTypeError` rather
than being copied silently. Results can be written into ``out=``. The computation runs in C++
with the GIL released, on ``threads`` threads (``None``: all cores).

Units: ``time`` in years, ``vol`` per 1.00 (0.5 = 50 %), ``rate`` continuously compounded.
Prices keep full relative precision far out of the money (down to ~1e-300) and are the exact
discounted intrinsic value at ``time == 0`` or ``vol == 0``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Union

import numpy as np
import numpy.typing as npt

from . import _core
from .enums import Greek, OptionType
from .exceptions import InputTypeError, InvalidInputError, PymarginError

__all__ = [
    "Greeks",
    "black76_greeks",
    "black76_implied_vol",
    "black76_price",
    "bsm_greeks",
    "bsm_implied_vol",
    "bsm_price",
    "inverse_greeks",
    "inverse_implied_vol",
    "inverse_price",
]

ArrayLike = Union[float, int, "npt.ArrayLike"]
OptionTypeLike = Union[OptionType, bool, "npt.ArrayLike"]

_BLACK76, _BSM, _INVERSE = 0, 1, 2
_ZERO = np.zeros(1)
MAX_THREADS = 1024  # more worker threads than this is a mistake, not a request

_GREEK_BITS = (
    Greek.PRICE,
    Greek.DELTA,
    Greek.DELTA_FORWARD,
    Greek.GAMMA,
    Greek.VEGA,
    Greek.THETA,
    Greek.RHO,
    Greek.VANNA,
    Greek.VOLGA,
)
_GREEK_FIELDS = (
    "price",
    "delta",
    "delta_forward",
    "gamma",
    "vega",
    "theta",
    "rho",
    "vanna",
    "volga",
)
_GREEK_INT_BITS = tuple(int(b) for b in _GREEK_BITS)


@dataclass(frozen=True)
class Greeks:
    """Price and first/second-order sensitivities, one array each (per 1.00 of the input).

    ``delta``: dV/dU, U the quoted underlying (the forward for Black-76, the spot for BSM).
    For inverse options it is the coin delta ``F dc/dF = Delta_usd - c`` (Deribit's rule).
    ``delta_forward``: dV/dF, the futures-hedge delta (BSM: ``exp(-rT) N(d1)`` for a call;
    inverse: the USD forward delta of the USD value). ``gamma``: d(delta)/dU.
    ``vega``: dV/dvol per 1.00 of vol (see :attr:`vega_per_point`). ``theta``: -dV/dT per year
    with the market held fixed (see :attr:`theta_per_day`). ``rho``: dV/dr per 1.00
    (Black-76: forward held; BSM: spot and ``q`` held). ``vanna``: d(delta)/dvol.
    ``volga``: d2V/dvol2. Inverse options: every value is in coin (USD Greek / F), except
    ``delta`` as above, ``gamma = d(coin delta)/dF`` and ``vanna = d(coin delta)/dvol``.

    Fields not selected with ``which=`` are ``None``.
    """

    price: np.ndarray | None
    delta: np.ndarray | None
    delta_forward: np.ndarray | None
    gamma: np.ndarray | None
    vega: np.ndarray | None
    theta: np.ndarray | None
    rho: np.ndarray | None
    vanna: np.ndarray | None
    volga: np.ndarray | None

    @property
    def vega_per_point(self) -> np.ndarray | None:
        """Vega per vol point (0.01 of vol)."""
        return None if self.vega is None else self.vega / 100.0

    @property
    def theta_per_day(self) -> np.ndarray | None:
        """Theta per calendar day (a 365-day year)."""
        return None if self.theta is None else self.theta / 365.0


def _as_float_array(value: Any, name: str) -> np.ndarray:
    if isinstance(value, np.ndarray):
        if value.dtype != np.float64:
            raise InputTypeError(
                f"expected a float64 array, got {value.dtype} (convert it explicitly)", name
            )
        return value
    if isinstance(value, (bool, np.bool_)):
        raise InputTypeError("expected a number, got a bool", name)
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputTypeError(f"expected numbers: {exc}", name) from None
    return arr


def _as_option_type(value: Any) -> np.ndarray:
    name = "option_type"
    if isinstance(value, (OptionType, bool, np.bool_, int, np.integer)):
        v = int(value)
        if v not in (0, 1):
            raise InvalidInputError("must be OptionType.CALL (1) or OptionType.PUT (0)", name)
        return np.array(v, dtype=np.uint8)
    if isinstance(value, str):
        raise InputTypeError("use pymargin.OptionType.CALL / PUT, not a string", name)
    arr = value if isinstance(value, np.ndarray) else np.asarray(value)
    if arr.dtype == np.bool_:
        return arr.view(np.uint8)
    if arr.dtype.kind in "iu":
        bad = np.flatnonzero((arr != 0) & (arr != 1))
        if bad.size:
            raise InvalidInputError(
                "must be OptionType.CALL (1) or OptionType.PUT (0)", name, int(bad[0])
            )
        return arr.astype(np.uint8)
    if arr.dtype == object:
        flat = [int(_as_option_type(v)) for v in arr.ravel()]
        return np.array(flat, dtype=np.uint8).reshape(arr.shape)
    raise InputTypeError(f"expected OptionType, bool or 0/1 integers, got dtype {arr.dtype}", name)


def threads_argument(threads: Any, field: str = "threads") -> int:
    """A ``threads=`` argument as the core takes it: None (or 0) for every core, else an
    integer in [1, MAX_THREADS]; anything else is a typed error naming ``field``."""
    if threads is None:
        return 0
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)):
        raise InputTypeError("threads must be None or a positive integer", field)
    if not 0 <= threads <= MAX_THREADS:
        raise InvalidInputError(f"threads must be in [0, {MAX_THREADS}] (0: every core)", field)
    return int(threads)


def _threads(threads: int | None) -> int:
    if threads is None:
        return 0
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)):
        raise InputTypeError("threads must be None or a positive integer", "threads")
    if not 1 <= threads <= MAX_THREADS:
        raise InvalidInputError(f"threads must be in [1, {MAX_THREADS}]", "threads")
    return int(threads)


def _own_index(
    e: PymarginError, shape: tuple[int, ...], own_shapes: dict[str, tuple[int, ...]]
) -> PymarginError:
    """An error about element ``e.index`` of a broadcast copy, re-indexed into the argument as
    the caller gave it (``own_shapes``: the shapes of the arguments that were broadcast)."""
    own = own_shapes.get(e.field or "")
    if own is None or e.index is None or not shape:
        return e
    pos = np.unravel_index(e.index, shape)
    lead = len(shape) - len(own)
    mine = tuple(0 if n == 1 else int(pos[lead + d]) for d, n in enumerate(own))
    idx = int(np.ravel_multi_index(mine, own)) if own else 0
    return type(e)(e.reason, e.field, idx)


@contextlib.contextmanager
def _indexed(shape: tuple[int, ...], own_shapes: dict[str, tuple[int, ...]]) -> Iterator[None]:
    try:
        yield
    except PymarginError as e:
        raise _own_index(e, shape, own_shapes) from None


_Broadcast = tuple[tuple[int, ...], dict[str, np.ndarray], dict[str, tuple[int, ...]]]


def _broadcast(named: dict[str, np.ndarray]) -> _Broadcast:
    try:
        shape = np.broadcast_shapes(*(a.shape for a in named.values()))
    except ValueError:
        shapes = ", ".join(f"{k}{a.shape}" for k, a in named.items())
        raise InvalidInputError(f"shapes do not broadcast together: {shapes}") from None
    size = math.prod(shape)
    out = {}
    own: dict[str, tuple[int, ...]] = {}  # the shapes of the arguments broadcast here
    for k, a in named.items():
        if a.size == 1 or a.shape == shape:
            out[k] = a
        elif a.ndim == 1 and len(shape) == 1:
            out[k] = a  # only reached when sizes differ; the core reports it
        else:
            # A genuine broadcast along some axis: materialised once (documented copy).
            out[k] = np.ascontiguousarray(np.broadcast_to(a, shape))
            own[k] = a.shape
        if out[k].size not in (1, size):
            raise InvalidInputError(f"has {out[k].size} elements, expected {size}", k)
    return shape, out, own


def _check_out(out: np.ndarray | None, shape: tuple[int, ...], name: str = "out") -> np.ndarray:
    if out is None:
        return np.empty(shape)
    if not isinstance(out, np.ndarray):
        raise InputTypeError("out must be a numpy array", name)
    if out.dtype != np.float64:
        raise InputTypeError(f"out must have dtype float64, got {out.dtype}", name)
    if out.shape != shape:
        raise InputTypeError(f"out has shape {out.shape}, expected {shape}", name)
    if not out.flags.c_contiguous:
        raise InputTypeError("out must be C-contiguous", name)
    if not out.flags.writeable:
        raise InputTypeError("out must be writeable", name)
    return out


def _overlapping(outs: Sequence[np.ndarray | None], inputs: Iterable[np.ndarray]) -> bool:
    """True if any output may share memory with any input (bounds test: cheap, and a false
    positive only costs a scratch copy)."""
    ins = [a for a in inputs if isinstance(a, np.ndarray)]
    return any(o is not None and any(np.may_share_memory(o, a) for a in ins) for o in outs)


def _distinct_outputs(named: Sequence[tuple[str, np.ndarray | None]]) -> None:
    """Two outputs in one array would overwrite each other: refused, naming both."""
    given = [(n, a) for n, a in named if a is not None]
    for i, (n1, a1) in enumerate(given):
        for n2, a2 in given[i + 1 :]:
            if np.shares_memory(a1, a2):
                raise InvalidInputError(f"shares memory with {n2}: give each output its own", n1)


def _market(
    model: int,
    underlying_name: str,
    underlying: Any,
    strike: Any,
    time: Any,
    vol: Any | None,
    rate: Any,
    dividend: Any,
    option_type: Any,
    extra: dict[str, Any] | None = None,
):
    named = {}
    if extra:
        named.update({k: _as_float_array(v, k) for k, v in extra.items()})
    named[underlying_name] = _as_float_array(underlying, underlying_name)
    named["strike"] = _as_float_array(strike, "strike")
    named["time"] = _as_float_array(time, "time")
    if vol is not None:
        named["vol"] = _as_float_array(vol, "vol")
    named["rate"] = _as_float_array(rate, "rate")
    if model == _BSM:
        named["dividend"] = _as_float_array(dividend, "dividend")
    named["option_type"] = _as_option_type(option_type)
    return _broadcast(named)


def _price(model: int, uname: str, u, k, t, v, r, q, ot, out, threads) -> np.ndarray:
    shape, a, own = _market(model, uname, u, k, t, v, r, q, ot)
    res = _check_out(out, shape)
    # An out= that overlaps an input (out=strike) would be overwritten while still being
    # read: the result goes through scratch and is copied in after a successful call.
    target = np.empty(shape) if out is not None and _overlapping([res], a.values()) else res
    with _indexed(shape, own):
        _price_core(
            model,
            target.size,
            a,
            uname,
            (target, None, None, None, None, None, None, None, None),
            threads,
            scratch=target is not out,
        )
    if target is not res:
        res[...] = target
    return res


def _price_core(
    model: int,
    n: int,
    a: dict[str, np.ndarray],
    uname: str,
    outs: tuple[Any, ...],
    threads: Any,
    scratch: bool,
) -> None:
    """``scratch``: the outputs are arrays of ours, dropped on error, so the core may check the
    inputs as it computes instead of in a pass of their own (the caller's ``out=`` is never
    written on error)."""
    _core.price_batch(
        model,
        n,
        a[uname],
        a["strike"],
        a["time"],
        a["vol"],
        a["rate"],
        a.get("dividend", _ZERO),
        a["option_type"],
        outs,
        _threads(threads),
        scratch,
    )


def _greeks(model: int, uname: str, u, k, t, v, r, q, ot, which, out, threads) -> Greeks:
    shape, a, own = _market(model, uname, u, k, t, v, r, q, ot)
    if not isinstance(which, Greek):
        raise InputTypeError("which must be a pymargin.Greek flag combination", "which")
    if out is not None and not isinstance(out, Greeks):
        raise InputTypeError("out must be a pymargin.Greeks holding the output arrays", "out")
    arrays: list[np.ndarray | None] = []
    mask = int(which)  # int bit tests: Flag's __and__ costs about a microsecond each
    for bit, name in zip(_GREEK_INT_BITS, _GREEK_FIELDS):
        if not mask & bit:
            arrays.append(None)
        elif out is None:
            arrays.append(np.empty(shape))
        else:
            buf = getattr(out, name)
            if buf is None:
                raise InputTypeError("no array given for a selected output", f"out.{name}")
            arrays.append(_check_out(buf, shape, f"out.{name}"))
    if all(x is None for x in arrays):
        raise InvalidInputError("selects nothing to compute", "which")
    if out is not None:
        _distinct_outputs([(f"out.{n}", x) for n, x in zip(_GREEK_FIELDS, arrays)])
    targets = arrays
    if out is not None and _overlapping(arrays, a.values()):
        targets = [None if x is None else np.empty(shape) for x in arrays]
    with _indexed(shape, own):
        _price_core(
            model,
            math.prod(shape),
            a,
            uname,
            tuple(targets),
            threads,
            scratch=targets is not arrays or out is None,
        )
    for dst, src in zip(arrays, targets):
        if dst is not None and src is not dst:
            dst[...] = src
    return Greeks(*arrays)


def _implied(model: int, uname: str, price, u, k, t, r, q, ot, out, threads) -> np.ndarray:
    shape, a, own = _market(model, uname, u, k, t, None, r, q, ot, extra={"price": price})
    res = _check_out(out, shape)
    # The core writes nothing on error; an out= overlapping an input goes through scratch.
    target = np.empty(shape) if out is not None and _overlapping([res], a.values()) else res
    with _indexed(shape, own):
        _core.implied_vol_batch(
            model,
            target.size,
            a["price"],
            a[uname],
            a["strike"],
            a["time"],
            a["rate"],
            a.get("dividend", _ZERO),
            a["option_type"],
            target,
            _threads(threads),
        )
    if target is not res:
        res[...] = target
    return res


def black76_price(
    forward: ArrayLike,
    strike: ArrayLike,
    time: ArrayLike,
    vol: ArrayLike,
    rate: ArrayLike = 0.0,
    option_type: OptionTypeLike = OptionType.CALL,
    *,
    out: np.ndarray | None = None,
    threads: int | None = None,
) -> np.ndarray:
    """Discounted Black-76 value ``exp(-rT) [theta (F N(theta d1) - K N(theta d2))]``."""
    return _price(
        _BLACK76, "forward", forward, strike, time, vol, rate, None, option_type, out, threads
    )


def black76_greeks(
    forward: ArrayLike,
    strike: ArrayLike,
    time: ArrayLike,
    vol: ArrayLike,
    rate: ArrayLike = 0.0,
    option_type: OptionTypeLike = OptionType.CALL,
    *,
    which: Greek = Greek.ALL,
    out: Greeks | None = None,
    threads: int | None = None,
) -> Greeks:
    """Black-76 price and Greeks (delta = dV/dF). ``which`` selects the outputs; ``out`` may
    hold preallocated float64 arrays for them."""
    return _greeks(
        _BLACK76,
        "forward",
        forward,
        strike,
        time,
        vol,
        rate,
        None,
        option_type,
        which,
        out,
        threads,
    )


def black76_implied_vol(
    price: ArrayLike,
    forward: ArrayLike,
    strike: ArrayLike,
    time: ArrayLike,
    rate: ArrayLike = 0.0,
    option_type: OptionTypeLike = OptionType.CALL,
    *,
    out: np.ndarray | None = None,
    threads: int | None = None,
) -> np.ndarray:
    """Black-76 implied vol of discounted prices (Jaeckel's "Let's Be Rational" method).

    Raises :class:`~pymargin.exceptions.NoSolutionError` naming the first price below the
    intrinsic value or at/above the no-arbitrage maximum; nothing is written then.
    A price equal to the intrinsic value has vol 0.
    """
    return _implied(
        _BLACK76, "forward", price, forward, strike, time, rate, None, option_type, out, threads
    )


def bsm_price(
    spot: ArrayLike,
    strike: ArrayLike,
    time: ArrayLike,
    vol: ArrayLike,
    rate: ArrayLike = 0.0,
    dividend: ArrayLike = 0.0,
    option_type: OptionTypeLike = OptionType.CALL,
    *,
    out: np.ndarray | None = None,
    threads: int | None = None,
) -> np.ndarray:
    """Generalised Black-Scholes-Merton value on spot with dividend yield ``q``
    (cost of carry ``b = r - q``)."""
    return _price(_BSM, "spot", spot, strike, time, vol, rate, dividend, option_type, out, threads)


def bsm_greeks(
    spot: ArrayLike,
    strike: ArrayLike,
    time: ArrayLike,
    vol: ArrayLike,
    rate: ArrayLike = 0.0,
    dividend: ArrayLike = 0.0,
    option_type: OptionTypeLike = OptionType.CALL,
    *,
    which: Greek = Greek.ALL,
    out: Greeks | None = None,
    threads: int | None = None,
) -> Greeks:
    """BSM price and Greeks: ``delta`` is the spot delta, ``delta_forward`` dV/dF."""
    return _greeks(
        _BSM, "spot", spot, strike, time, vol, rate, dividend, option_type, which, out, threads
    )


def bsm_implied_vol(
    price: ArrayLike,
    spot: ArrayLike,
    strike: ArrayLike,
    time: ArrayLike,
    rate: ArrayLike = 0.0,
    dividend: ArrayLike = 0.0,
    option_type: OptionTypeLike = OptionType.CALL,
    *,
    out: np.ndarray | None = None,
    threads: int | None = None,
) -> np.ndarray:
    """BSM implied vol (see :func:`black76_implied_vol`)."""
    return _implied(
        _BSM, "spot", price, spot, strike, time, rate, dividend, option_type, out, threads
    )


def inverse_price(
    forward: ArrayLike,
    strike: ArrayLike,
    time: ArrayLike,
    vol: ArrayLike,
    rate: ArrayLike = 0.0,
    option_type: OptionTypeLike = OptionType.CALL,
    *,
    out: np.ndarray | None = None,
    threads: int | None = None,
) -> np.ndarray:
    """Coin price of an inverse (coin-settled) option: Black-76 USD value / forward."""
    return _price(
        _INVERSE, "forward", forward, strike, time, vol, rate, None, option_type, out, threads
    )


def inverse_greeks(
    forward: ArrayLike,
    strike: ArrayLike,
    time: ArrayLike,
    vol: ArrayLike,
    rate: ArrayLike = 0.0,
    option_type: OptionTypeLike = OptionType.CALL,
    *,
    which: Greek = Greek.ALL,
    out: Greeks | None = None,
    threads: int | None = None,
) -> Greeks:
    """Coin-denominated Greeks of inverse options (see :class:`Greeks`)."""
    return _greeks(
        _INVERSE,
        "forward",
        forward,
        strike,
        time,
        vol,
        rate,
        None,
        option_type,
        which,
        out,
        threads,
    )


def inverse_implied_vol(
    price: ArrayLike,
    forward: ArrayLike,
    strike: ArrayLike,
    time: ArrayLike,
    rate: ArrayLike = 0.0,
    option_type: OptionTypeLike = OptionType.CALL,
    *,
    out: np.ndarray | None = None,
    threads: int | None = None,
) -> np.ndarray:
    """Implied vol from coin prices of inverse options (price_coin * F = USD value)."""
    return _implied(
        _INVERSE, "forward", price, forward, strike, time, rate, None, option_type, out, threads
    )
