"""A venue defined only by a parameter file (pymargin.models.grid_file), computed by the core's
scenario-margin model: the Paradex parameters written as a grid file give Paradex's margins,
and a hypothetical venue's margins equal the formula worked out here in numpy from the same
risk arrays (an independent evaluation: credit, weights, minimum delta, per-contract minimum,
maintenance fraction)."""

import json
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

import pymargin as pm
from pymargin.models.grid_file import GridModel, grid_model_margin
from pymargin.models.paradex_pm import paradex_pm_margin
from pymargin.models.params import ModelParameterError

DATA = Path(__file__).parents[1] / "data" / "grid_models"
T0 = datetime(2026, 6, 1, 8, tzinfo=timezone.utc)


BOOKS = [
    {"BTC_USDC-PERPETUAL": 1.0},
    {"BTC_USDC-26JUN26-80000-C": -3.0, "BTC_USDC-PERPETUAL": 1.5},
    {"BTC_USDC-26JUN26-60000-P": -2.0, "BTC_USDC-26JUN26-70000-C": 1.0},
    {"ETH_USDC-26JUN26-2200-C": -10.0, "ETH_USDC-PERPETUAL": 4.0},
    {
        "BTC_USDC-26JUN26-70000-P": 2.0,
        "ETH_USDC-26JUN26-1800-P": -25.0,
        "ETH_USDC-PERPETUAL": -3.0,
    },
]


@pytest.mark.parametrize("book", BOOKS)
def test_paradex_written_as_a_grid_file_gives_paradex_margins(book, usdc_market):
    mkt = usdc_market
    want = paradex_pm_margin(book, mkt, version="2026-05-25")
    got = grid_model_margin(book, mkt, DATA / "paradex_as_grid.json")
    assert got.initial_margin == pytest.approx(want.initial_margin, rel=1e-12)
    assert got.maintenance_margin == pytest.approx(want.maintenance_margin, rel=1e-12)


def _by_hand(book: dict[str, float], mkt: pm.Market, doc: dict) -> tuple[float, float]:
    """The grid formula in numpy, from the risk arrays of the same scenarios."""
    from pymargin.models.vectors import coin_deltas

    model = GridModel.from_document(doc)
    im = 0.0
    for base, a in doc["assets"].items():
        names = [n for n in book if n.startswith(f"{base}_")]
        if not names:
            continue
        q = np.array([book[n] for n in names])
        scen = model.assets[base].scenarios
        risk = pm.risk.risk_arrays([pm.parse_instrument(n) for n in names], mkt, scen)
        pnl = q @ risk
        w = np.array([s[2] for s in a["scenarios"]])
        offset = a.get("pnl_offset", 0.0)
        credited = np.where(pnl > 0, pnl * offset, pnl) * w
        loss = max(0.0, -credited.min())
        deltas = coin_deltas(mkt, mkt.table.rows(names)) * q
        net, gross = abs(deltas.sum()), np.abs(deltas).sum()
        spot = mkt.index_price(f"{base}_USD")
        min_delta = (
            a.get("unhedged_delta_factor", 0.0) * net
            + a.get("hedged_delta_factor", 0.0) * (gross - net) / 2
        ) * spot
        floor = a.get("minimum_per_contract", 0.0) * np.abs(q).sum()
        im += max(loss, min_delta, floor)
    return im, doc["mm_fraction"] * im


@pytest.mark.parametrize("book", BOOKS)
def test_a_hypothetical_venue_defined_by_its_file_alone(book, usdc_market):
    mkt = usdc_market
    doc = json.loads((DATA / "example_venue.json").read_text())
    want_im, want_mm = _by_hand(book, mkt, doc)
    got = grid_model_margin(book, mkt, DATA / "example_venue.json")
    assert got.initial_margin == pytest.approx(want_im, rel=1e-12, abs=1e-9)
    assert got.maintenance_margin == pytest.approx(want_mm, rel=1e-12, abs=1e-9)
    via_margin = pm.margin(book, mkt, pm.MarginModel.SCENARIO_GRID, params=doc)
    assert via_margin.initial_margin == got.initial_margin
    assert "Example venue" in got.explain()


def test_bad_grid_files_name_the_field(tmp_path):
    doc = json.loads((DATA / "example_venue.json").read_text())
    doc["assets"]["BTC"]["scenarios"][3] = [0.1, "sideways", 1.0]
    with pytest.raises(ModelParameterError) as e:
        GridModel.from_document(doc)
    assert e.value.field == "assets.BTC.scenarios[3]"
    doc = json.loads((DATA / "example_venue.json").read_text())
    doc["assets"]["ETH"]["pnl_offset"] = 2.0
    with pytest.raises(ModelParameterError) as e:
        GridModel.from_document(doc)
    assert e.value.field == "assets.ETH.pnl_offset"
    p = tmp_path / "bad.json"
    p.write_text('{"model": "scenario_grid"')
    with pytest.raises(pm.InvalidInputError):
        GridModel.load(p)
    with pytest.raises(ModelParameterError):  # an underlying the file does not cover
        grid_model_margin({"SOL_USDC-PERPETUAL": 1.0}, _sol_market(), DATA / "example_venue.json")


def _sol_market() -> pm.Market:
    return pm.Market(T0, {"SOL_USD": 150.0}, {"SOL_USDC-PERPETUAL": pm.Mark(mark_price=150.0)})


def test_a_parameter_file_is_read_once_per_version_of_the_file(tmp_path):
    import json
    import os

    from pymargin.models.grid_file import GridModel

    src = Path(__file__).parents[1] / "data/grid_models/example_venue.json"
    doc = json.loads(src.read_text())
    path = tmp_path / "venue.json"
    path.write_text(json.dumps(doc))
    first = GridModel.load(path)
    assert GridModel.load(path) is first  # unchanged file: the checked model again
    doc["mm_fraction"] = 0.25
    path.write_text(json.dumps(doc) + " ")
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    again = GridModel.load(path)
    assert again is not first and again.mm_fraction == 0.25
    with pytest.raises(ValueError):
        again.assets["BTC"].weights[0] = 2.0  # shared, so read-only
