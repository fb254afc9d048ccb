"""Every model case in tests/golden/: inputs, expected outputs with per-field tolerances, and the
published source each reproduces (a file per model; the file's ``source`` cites it). One test
walks them all; a new case is a JSON entry, no code."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pymargin.models.paradex_pm import min_delta_requirement
from pymargin.models.scan import finra_pm_requirement, span16, span_scan_risk
from pymargin.models.span import CommodityRisk, InterSpread, span_requirement
from pymargin.testing import assert_fields_close

GOLDEN = Path(__file__).resolve().parent / "golden"


def _span_futures(commodities, spreads):
    """SPAN of futures whose outright scan risk per contract is the tier's rate: a future
    loses its rate at a full price move (CME's 16 scenarios, the extremes weighted 35 %)."""
    scan = 0.25  # a power of two: the fractions below are exact
    scen, weights = span16("X_USD", scan, 0.0)
    fractions = scen.move[:, 0] / scan
    risks = []
    for c in commodities:
        outright = np.asarray(c["outright"], float)
        pos = np.asarray(c["positions"], float)
        pnl = (pos @ (fractions[None, :] * outright[:, None])) * weights
        rates = {(int(a), int(b)): float(r) for a, b, r in c.get("intra_rates", [])}
        risks.append(CommodityRisk(c["name"], pnl, pos, intra_rates=rates))
    result = span_requirement(risks, [InterSpread(*s) for s in spreads])
    fields = ("scan_risk", "intra_charge", "inter_credit", "requirement")
    return {f: sum(getattr(r, f) for r in result.values()) for f in fields}


RUNNERS = {
    "span_scan_risk": lambda arrays, positions, weights: {
        "scan_risk": span_scan_risk(
            np.asarray(arrays, float), np.asarray(positions, float), np.asarray(weights, float)
        )
    },
    "span_futures": _span_futures,
    "finra_requirement": lambda pnl, contracts, multiplier: {
        "requirement": finra_pm_requirement(np.asarray(pnl), np.asarray(contracts), multiplier)
    },
    "paradex_min_delta": lambda deltas, spot, unhedged, hedged: {
        "requirement": min_delta_requirement(np.asarray(deltas), spot, unhedged, hedged)
    },
}


def _cases():
    for path in sorted(GOLDEN.glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        assert doc.get("source"), f"{path.name}: every golden file cites its source"
        for case in doc["cases"]:
            yield pytest.param(case, id=f"{path.stem}: {case['name']}")


@pytest.mark.parametrize("case", list(_cases()))
def test_golden_case(case):
    got = RUNNERS[case["kind"]](**case["inputs"])
    assert_fields_close(got, case["expected"], case.get("tolerance"), where=case["name"])


def test_the_golden_directory_is_not_empty_and_every_kind_has_a_runner():
    kinds = {
        c["kind"]
        for p in GOLDEN.glob("*.json")
        for c in json.loads(p.read_text(encoding="utf-8"))["cases"]
    }
    assert kinds and kinds <= set(RUNNERS)
