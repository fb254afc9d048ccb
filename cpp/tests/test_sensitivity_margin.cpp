// SPDX-License-Identifier: Apache-2.0
// The Greek-netting model in the core, term by term on a hand-worked two-underlying book.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "pymargin/models/sensitivity_margin.hpp"

namespace pmm = pymargin::models;

TEST(SensitivityMargin, EachTermByHand) {
  const double ws_delta[2] = {3.0, -4.0};
  // Two tenor buckets, correlation 0.5 between them.
  const double ws_vega[4] = {1.0, 1.0, -1.0, 0.0};
  const double rho[4] = {1.0, 0.5, 0.5, 1.0};
  const double up[2] = {-10.0, 5.0}, down[2] = {-2.0, 5.0}, delta[2] = {100.0, 0.0},
               rw[2] = {0.1, 0.2};
  pmm::SensitivityInputs in;
  in.underlyings = 2;
  in.buckets = 2;
  in.weighted_delta = ws_delta;
  in.weighted_vega = ws_vega;
  in.tenor_corr = rho;
  in.delta_corr = 0.5;
  in.vega_corr = 0.2;
  in.pnl_up = up;
  in.pnl_down = down;
  in.delta_usd = delta;
  in.risk_weight = rw;
  pmm::SensitivityMargin m;
  double cvr[2];
  ASSERT_TRUE(pmm::sensitivity_margin(in, &m, cvr).ok());
  // delta: sqrt(9 + 16 + 0.5 x 2 x (3 x -4)) = sqrt(13)
  EXPECT_NEAR(m.delta_margin, std::sqrt(13.0), 1e-15);
  // K_1 = sqrt(1 + 1 + 2 x 0.5) = sqrt(3), S_1 = 2 clamped to sqrt(3); K_2 = 1, S_2 = -1:
  // vega = sqrt(3 + 1 + 0.2 x ((sqrt 3 - 1)^2 - (3 + 1)))
  const double s = std::sqrt(3.0);
  EXPECT_NEAR(m.vega_margin, std::sqrt(4.0 + 0.2 * ((s - 1.0) * (s - 1.0) - 4.0)), 1e-14);
  // curvature: max(0, -(-10 - 10), -(-2 + 10)) = 20; the second underlying gains: 0
  EXPECT_EQ(cvr[0], 20.0);
  EXPECT_EQ(cvr[1], 0.0);
  EXPECT_NEAR(m.initial_margin, m.delta_margin + m.vega_margin + 20.0, 1e-13);
}

TEST(SensitivityMargin, NonFiniteInputsAreRefused) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double ws_delta[1] = {nan}, ws_vega[1] = {0.0}, rho[1] = {1.0}, z[1] = {0.0}, rw[1] = {0.1};
  pmm::SensitivityInputs in;
  in.underlyings = 1;
  in.buckets = 1;
  in.weighted_delta = ws_delta;
  in.weighted_vega = ws_vega;
  in.tenor_corr = rho;
  in.pnl_up = z;
  in.pnl_down = z;
  in.delta_usd = z;
  in.risk_weight = rw;
  pmm::SensitivityMargin m;
  m.initial_margin = -7.0;
  EXPECT_FALSE(pmm::sensitivity_margin(in, &m).ok());
  EXPECT_EQ(m.initial_margin, -7.0);
}
