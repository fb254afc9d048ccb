"""SPAN classic and FINRA/Cboe portfolio margin on risk arrays.

SPAN: McMillan, Options as a Strategic Investment, ch. 34 (pp. 668-671): 16-scenario risk
arrays of an S&P 500 future and a Dec 410 call at $500/point (printed rounded to $10, gains
positive; the extreme rows are printed already weighted by 35 %); printed requirements: long
future 10,000, long call 3,990; the covered write's printed array is future - call.
FINRA/Cboe: Cboe's 2007 strategy vs portfolio margin table: a long straddle of 200 contracts
requires 7,500 = 200 x $0.375 x 100 (the per-contract minimum binds).
"""

import numpy as np
import pytest

from pymargin.models.scan import finra_grid, finra_pm_requirement, span16, span_scan_risk

FUTURE = [
    0,
    0,
    3330,
    3330,
    -3330,
    -3330,
    6670,
    6670,
    -6670,
    -6670,
    10000,
    10000,
    -10000,
    -10000,
    7000,
    -7000,
]
CALL = [
    460,
    -610,
    2640,
    1730,
    -1270,
    -2340,
    5210,
    4540,
    -2540,
    -3430,
    8060,
    7640,
    -3380,
    -3990,
    3130,
    -1500,
]


def test_span_mcmillan_example():
    arrays = np.array([FUTURE, CALL], dtype=float)
    w = np.ones(16)  # the printed extreme rows are already weighted
    assert span_scan_risk(arrays, np.array([1.0, 0.0]), w) == 10_000
    assert span_scan_risk(arrays, np.array([0.0, 1.0]), w) == 3_990
    assert span_scan_risk(arrays, np.array([1.0, -1.0]), w) == 6_620  # covered write


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
    # Long straddle, 200 contracts, losses smaller than the minimum: 200 x 0.375 x 100.
    assert (
        finra_pm_requirement(np.array([500.0, -2000.0, 300.0]), np.array([100, 100]), 100) == 7_500
    )
    assert finra_pm_requirement(np.array([-9000.0]), np.array([10]), 100) == 9_000
