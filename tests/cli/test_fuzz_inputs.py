"""Fuzzing every input parser with hypothesis: malformed input must end in pymargin's typed
errors (InvalidInputError / InputTypeError, which name the field), never in a crash or an
exception from deep inside (KeyError, TypeError, AttributeError, IndexError, ...)."""

import json
import math
import string
import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pymargin as pm
import pymargin.accounts.engine as pm_engine
from pymargin.accounts.engine import PreTradeEngine
from pymargin.cli.inputs import read_collateral, read_market, read_positions
from pymargin.market import adapters
from pymargin.market.bundled import demo_market
from pymargin.models import DeribitPMParams

TYPED = (pm.PymarginError,)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

name_chars = st.sampled_from(list(string.ascii_uppercase + string.digits + "-_.Dd CP"))
names = st.one_of(
    st.text(name_chars, max_size=30),
    st.text(max_size=30),
    st.builds(
        lambda b, d, m, y, k, cp: f"{b}-{d}{m}{y}-{k}-{cp}",
        st.sampled_from(["BTC", "ETH", "SOL_USDC", "X", ""]),
        st.integers(-5, 40),
        st.sampled_from(["JAN", "FEB", "DEC", "XYZ", "dec"]),
        st.integers(-1, 120),
        st.one_of(st.integers(-10, 10**6).map(str), st.text(max_size=4)),
        st.sampled_from(["C", "P", "X", ""]),
    ),
)
json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
KEYS = [
    "instrument_name",
    "mark_price",
    "mark_iv",
    "underlying_price",
    "index_price",
    "estimated_delivery_price",
    "creation_timestamp",
    "timestamp",
    "size",
    "size_currency",
    "kind",
    "strike",
    "contract_size",
    "expiration_timestamp",
    "currency",
    "balance",
    "symbol",
    "side",
    "contracts",
    "contractSize",
    "markPrice",
    "id",
]
records = st.dictionaries(st.sampled_from(KEYS), st.one_of(json_scalars, names), max_size=8)
payloads = st.one_of(
    json_values,
    st.lists(records, max_size=4),
    st.builds(lambda r: {"result": r}, st.lists(records, max_size=4)),
    st.builds(lambda r: {"result": r}, records),
)


def _typed(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except TYPED:
        return None


@FUZZ
@given(names)
def test_instrument_names(name):
    _typed(pm.parse_instrument, name)


@FUZZ
@given(payloads)
def test_deribit_payloads(payload):
    _typed(adapters.market_from_deribit, payload)
    _typed(adapters.portfolio_from_deribit, payload)
    _typed(adapters.instruments_from_deribit, payload)
    _typed(adapters.collateral_from_deribit, payload)


@FUZZ
@given(st.one_of(st.lists(records, max_size=4), json_values))
def test_ccxt_structures(payload):
    _typed(adapters.portfolio_from_ccxt, payload)
    _typed(adapters.instruments_from_ccxt, payload)


@FUZZ
@given(
    st.lists(st.lists(st.one_of(names, st.text(max_size=8)), min_size=0, max_size=3), max_size=5),
    st.sampled_from([".csv", ".json"]),
)
def test_position_files(tmp_path_factory, rows, suffix):
    p = tmp_path_factory.mktemp("fuzz") / f"pos{suffix}"
    if suffix == ".csv":
        p.write_text("instrument,size\n" + "\n".join(",".join(r) for r in rows))
    else:
        p.write_text(json.dumps(rows))
    _typed(read_positions, p)


@FUZZ
@given(json_values)
def test_json_market_and_params_files(tmp_path_factory, doc):
    p = tmp_path_factory.mktemp("fuzz") / "market.json"
    p.write_text(json.dumps(doc))
    _typed(read_market, str(p))
    _typed(DeribitPMParams.from_model_params, doc)


@FUZZ
@given(st.text(max_size=40))
def test_collateral_specs(spec):
    if "=" in spec:
        _typed(read_collateral, spec)


_ENGINE = None


def _engine():
    global _ENGINE
    if _ENGINE is None:
        m = demo_market("BTC")
        _ENGINE = PreTradeEngine(m, list(m.marks)[:40], DeribitPMParams.load("2024-06-17"))
        acct = _ENGINE.add_account({"BTC": 1.0})
        _ENGINE.fill(acct, list(m.marks)[3], pm_engine.Side.SELL, 1.0, 0.01)
    return _ENGINE


@FUZZ
@given(st.binary(max_size=300), st.integers(0, 2000), st.binary(min_size=1, max_size=8))
def test_engine_snapshots(junk, cut, flip):
    _typed(PreTradeEngine.restore, junk)
    good = _engine().snapshot()
    at = cut % len(good)
    damaged = good[:at] + bytes(b ^ 0x5A for b in flip) + good[at + len(flip) :]
    if damaged != good:
        _typed(PreTradeEngine.restore, damaged)
    _typed(PreTradeEngine.restore, good[:at])


def _fnv1a(data: bytes) -> int:
    h = 1469598103934665603
    for b in data:
        h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


def _resealed(wrapper: bytes, core: bytes) -> bytes:
    """The snapshot with its core checksum recomputed (FNV-1a is public: a hostile user can)."""
    payload = core[24:-8]
    return wrapper + core[:24] + payload + struct.pack("<Q", _fnv1a(payload))


# Structure-aware: overwrite one aligned field of the core payload with a value a hostile
# user would pick (huge counts, negative ids, NaN, inf, huge doubles), re-seal, restore.
_FIELD_VALUES = st.one_of(
    st.sampled_from([0, 1, 2**31 - 1, 2**31, 2**32, 2**40, 2**63 - 1, 2**64 - 1]).map(
        lambda v: struct.pack("<Q", v)
    ),
    st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -1e308, 5e-324, -1.0, 0.0]).map(
        lambda v: struct.pack("<d", v)
    ),
    st.sampled_from([-1, 2**31 - 1, -(2**31)]).map(lambda v: struct.pack("<i", v)),
    st.binary(min_size=1, max_size=8),
)


@FUZZ
@given(st.integers(0, 10**6), _FIELD_VALUES, st.booleans())
def test_engine_snapshots_resealed(at, value, aligned):
    good = _engine().snapshot()
    n = struct.unpack("<I", good[8:12])[0]
    wrapper, core = good[: 16 + n], good[16 + n :]
    payload_len = len(core) - 24 - 8
    pos = at % max(payload_len - len(value), 1)
    if aligned:
        pos -= pos % 4
    payload = core[24:-8]
    mutated = payload[:pos] + value + payload[pos + len(value) :]
    engine = _typed(PreTradeEngine.restore, _resealed(wrapper, core[:24] + mutated + core[-8:]))
    if engine is not None:  # accepted: then every figure is finite and equals a recompute
        for acct in range(engine._core.accounts):
            for ccy in engine.currencies:
                g = engine.margin(acct, ccy)
                assert math.isfinite(g.equity) and math.isfinite(g.initial_margin)
                assert g == engine.margin_from_scratch(acct, ccy)
