# SPDX-License-Identifier: Apache-2.0
"""SPAN on an exchange's own risk-parameter file (CME's XML layout).

* CME's scanning-based spread example (CME Group, "Spread calculations",
  cmegroup.com/clearing/margins/spread-calc.html): +2 30-year and -3 10-year Treasury futures
  in a 70 % spread; each scenario's value = the losing leg's loss - 70 % of the other leg's gain;
  printed values 0, 0, 152.80, 152.80, 946.70, 946.70, 307.20, 307.20, 1,893.30, 1,893.30,
  460, 460, 2,840, 2,840, 455.40, 2,811.60, requirement 2,840 (margined apart: 6,200 + 4,800).
  The page prints both legs of scenarios 15 and 16 as losses; its results imply opposite signs
  (a gain on one leg), which is how tests/data/span/cme_scanning_spread_example.xml lays them.
* tests/data/span/synthetic_span_file.xml: our own file (not an exchange's) in the same layout;
  the expected figures are worked out by hand in each test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pymargin import _core
from pymargin.exceptions import FileInputError, InvalidInputError
from pymargin.models.span_file import read_span_file, span_file_margin

DATA = Path(__file__).parents[1] / "data" / "span"
CME_VALUES = [
    0,
    0,
    152.8,
    152.8,
    946.7,
    946.7,
    307.2,
    307.2,
    1893.3,
    1893.3,
    460,
    460,
    2840,
    2840,
    455.4,
    2811.6,
]


def test_cme_scanning_spread_scenario_by_scenario():
    thirty = np.array(
        [
            0,
            0,
            -2066,
            -2066,
            2066,
            2066,
            -4134,
            -4134,
            4134,
            4134,
            -6200,
            -6200,
            6200,
            6200,
            -6138,
            6138,
        ],
        dtype=float,
    )  # +2 contracts, losses positive
    ten = np.array(
        [
            0,
            0,
            1599,
            1599,
            -1599,
            -1599,
            3201,
            3201,
            -3201,
            -3201,
            4800,
            4800,
            -4800,
            -4800,
            4752,
            -4752,
        ],
        dtype=float,
    )  # -3 contracts
    values, risk = _core.scanning_spread(np.ascontiguousarray(np.stack([thirty, ten])), 0.70)
    assert np.allclose(values, CME_VALUES, atol=1e-9)
    assert risk == pytest.approx(2840.0, abs=1e-9)


def test_cme_example_through_the_file():
    span = read_span_file(DATA / "cme_scanning_spread_example.xml")
    r = span_file_margin({"CBT:ZB:FUT:202603": 2, "CBT:ZN:FUT:202603": -3}, span)
    (s,) = r.scanning_spreads
    assert s.spreads == 1 and s.gain_allowance == 0.70 and s.legs == ["ZB", "ZN"]
    assert np.allclose(s.values, CME_VALUES, atol=1e-9)
    assert r.maintenance_margin == pytest.approx(2840.0, abs=1e-9)
    # margined apart (no spread forms with one leg): the outright rates 2 x 3,100 and 3 x 1,600
    assert span_file_margin({"CBT:ZB:FUT:202603": 2}, span).maintenance_margin == 6200.0
    assert span_file_margin({"CBT:ZN:FUT:202603": -3}, span).maintenance_margin == 4800.0
    # two longs form no spread
    both_long = span_file_margin({"CBT:ZB:FUT:202603": 2, "CBT:ZN:FUT:202603": 3}, span)
    assert both_long.scanning_spreads == [] and both_long.maintenance_margin == 6200.0 + 4800.0


def test_synthetic_file_scan_intra_inter_and_initial():
    span = read_span_file(DATA / "synthetic_span_file.xml")
    assert span.date == "20250115" and span.clearing_org == "TSTCH"
    r = span_file_margin(
        {"TST:ABC:FUT:202503": 3, "TST:ABC:FUT:202506": -1, "TST:XYZ:FUT:202503": -2}, span
    )
    abc, xyz = r.per_commodity["ABC"], r.per_commodity["XYZ"]
    # ABC: +2 net futures, scan range 300 a contract: scan 600, price risk 600, WPR 300;
    # calendar: tier 1 +3 against tier 2 -1, one spread at 60
    assert (abc["scan_risk"], abc["intra_charge"]) == pytest.approx((600.0, 60.0))
    # XYZ: -2 at 500 a contract: scan 1,000, WPR 500; inter 1:1 at 40 %: 2 spreads
    assert xyz["scan_risk"] == pytest.approx(1000.0)
    assert (abc["inter_credit"], xyz["inter_credit"]) == pytest.approx(
        (2 * 300 * 0.4, 2 * 500 * 0.4)
    )
    assert r.maintenance_margin == pytest.approx(420.0 + 600.0)
    # initial: ABC's rate 2 is 110 % of rate 1 (adjRate); XYZ has none
    assert r.initial_margin == pytest.approx(420.0 * 1.10 + 600.0)


def test_short_option_minimum_and_net_option_value():
    span = read_span_file(DATA / "synthetic_span_file.xml")
    r = span_file_margin({"TST:ABCO:OOF:202503:C:130": -1}, span)
    abc = r.per_commodity["ABC"]
    # the short call's worst scenario loses 7.60, below the minimum of 10 a short option;
    # the option is worth 0.20 x 10 to the seller's debit: requirement 10 + 2
    assert abc["scan_risk"] == pytest.approx(7.6)
    assert abc["short_option_minimum"] == pytest.approx(10.0)
    assert r.net_option_value == pytest.approx(-2.0)
    assert r.maintenance_margin == pytest.approx(12.0)


def test_bad_files_and_positions_are_named(tmp_path):
    span = read_span_file(DATA / "synthetic_span_file.xml")
    with pytest.raises(InvalidInputError) as e:
        span_file_margin({"TST:ABC:FUT:202503": 1, "TST:ABC:FUT:209912": 1}, span)
    assert (e.value.field, e.value.index) == ("contract", 1)
    with pytest.raises(InvalidInputError) as e:
        span_file_margin({"TST:ABC:FUT:202503": float("nan")}, span)
    assert e.value.field == "quantity"
    bad = tmp_path / "bad.xml"
    bad.write_text(
        "<spanFile><pointInTime><clearingOrg><exchange><exch>X</exch><futPf>"
        "<pfId>1</pfId><pfCode>A</pfCode><fut><pe>1</pe><ra><r>1</r><a>1</a></ra>"
        "</fut></futPf></exchange></clearingOrg></pointInTime></spanFile>"
    )
    with pytest.raises(FileInputError, match="16 values"):
        read_span_file(bad)
    broken = tmp_path / "broken.xml"
    broken.write_text("<spanFile><pointInTime>")
    with pytest.raises(FileInputError, match="well-formed"):
        read_span_file(broken)


def test_cli_span_file_runs_the_example(tmp_path):
    import json
    import subprocess
    import sys

    root = Path(__file__).parents[2]
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pymargin",
            "span-file",
            str(root / "examples" / "span_positions.csv"),
            "--file",
            str(root / "examples" / "span_file_synthetic.xml"),
            "--json",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    )
    r = json.loads(out.stdout)
    want = span_file_margin(
        {
            "TST:ABC:FUT:202503": 3,
            "TST:ABC:FUT:202506": -1,
            "TST:XYZ:FUT:202503": -2,
            "TST:ABCO:OOF:202503:C:130": -1,
        },
        read_span_file(root / "examples" / "span_file_synthetic.xml"),
    )
    assert r["maintenance_margin"] == pytest.approx(want.maintenance_margin, rel=1e-15)
