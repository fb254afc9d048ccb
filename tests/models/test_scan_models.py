"""SPAN classic and FINRA/Cboe portfolio margin on risk arrays: the scenario grids and the
requirement's rules. The published examples (McMillan's SPAN arrays, Cboe's straddle) are
golden cases in tests/golden/ (span_scan_risk.json, finra_pm.json)."""

import numpy as np
import pytest

from pymargin.models.scan import finra_grid, finra_pm_requirement, span16, span_scan_risk


def test_span16_grid_is_cmes_table():
    scen, w = span16("ES_USD", 0.04, 0.05)
    assert scen.n == 16
    np.testing.assert_allclose(
        scen.move[:, 0] / 0.04,
        [0, 0, 1 / 3, 1 / 3, -1 / 3, -1 / 3, 2 / 3, 2 / 3, -2 / 3, -2 / 3, 1, 1, -1, -1, 2, -2],
    )
    assert list(scen.vol_state) == [1, -1] * 7 + [0, 0]
    assert list(w) == [1.0] * 14 + [0.35, 0.35]
    arrays = np.array([[0.0] * 14 + [-100.0, 100.0]])
    assert span_scan_risk(arrays, np.array([1.0]), w) == pytest.approx(35.0)
    assert (
        span_scan_risk(arrays, np.array([1.0]), w, short_option_minimum=50, short_options=2) == 100
    )


def test_finra_grid_and_per_contract_minimum():
    g = finra_grid("SPX_USD")
    np.testing.assert_allclose(
        g.move[:, 0], [-0.15, -0.12, -0.09, -0.06, -0.03, 0.03, 0.06, 0.09, 0.12, 0.15]
    )
    # The published straddle (the minimum binds) is a golden case (tests/golden/finra_pm.json).
    assert finra_pm_requirement(np.array([-9000.0]), np.array([10]), 100) == 9_000
