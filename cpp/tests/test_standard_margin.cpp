// SPDX-License-Identifier: Apache-2.0
// Deribit standard margin in the core, on Deribit's published examples (the same sources as
// tests/models/test_deribit_standard.py): the inverse futures' size-scaled table
// (test.deribit.com/pages/docs/futures: IM 2 % rising 0.5 % per 100 BTC, 25 BTC -> 0.53125 BTC,
// 350 BTC -> 13.125 BTC; MM 1.5 % rising likewise) and the short-option formula's worked case
// (S 10,000, K 9,000, mark 0.025 BTC: short call IM 0.175 / MM 0.100, short put 0.125 / 0.100).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "pymargin/models/standard_margin.hpp"

namespace pmm = pymargin::models;

TEST(StandardMargin, InverseFuturesSizeScaledTable) {
  for (const double size : {25.0, -350.0}) {
    pmm::StandardPosition p;
    p.size = size;
    p.im_base = 0.02;
    p.im_per_unit = 0.00005;
    p.mm_base = 0.015;
    p.mm_per_unit = 0.00005;
    pmm::StandardMargin m;
    ASSERT_TRUE(pmm::standard_margin(&p, 1, &m).ok());
    const double q = std::fabs(size);
    EXPECT_DOUBLE_EQ(m.initial_margin, q == 25.0 ? 0.53125 : 13.125);
    EXPECT_DOUBLE_EQ(m.maintenance_margin, q * (0.015 + 0.00005 * q));
  }
}

TEST(StandardMargin, ShortOptionsFormula) {
  pmm::StandardPosition p[3];
  for (auto& x : p) {
    x.rule = pmm::StandardRule::kInverseOption;
    x.size = -1.0;
    x.im_otm_base = 0.15;
    x.im_floor = 0.10;
    x.mm = 0.075;
    x.strike = 9000.0;
    x.index = 10000.0;
    x.mark = 0.025;
  }
  p[1].call = false;
  p[2].size = 3.0;  // long: nothing beyond the premium
  pmm::StandardMargin m[3];
  ASSERT_TRUE(pmm::standard_margin(p, 3, m).ok());
  EXPECT_NEAR(m[0].initial_margin, 0.175, 1e-15);
  EXPECT_NEAR(m[0].maintenance_margin, 0.100, 1e-15);
  EXPECT_NEAR(m[1].initial_margin, 0.125, 1e-15);
  EXPECT_NEAR(m[1].maintenance_margin, 0.100, 1e-15);
  EXPECT_EQ(m[2].initial_margin, 0.0);
  EXPECT_EQ(m[2].maintenance_margin, 0.0);
}

TEST(StandardMargin, BadInputIsRefusedBeforeAnythingIsWritten) {
  pmm::StandardPosition p[2];
  p[0].size = 1.0;
  p[1].rule = pmm::StandardRule::kInverseOption;
  p[1].size = -1.0;
  p[1].strike = 9000.0;
  p[1].index = 10000.0;
  p[1].mark = std::numeric_limits<double>::quiet_NaN();
  pmm::StandardMargin m[2];
  m[0].initial_margin = -7.0;
  const pymargin::Status st = pmm::standard_margin(p, 2, m);
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.index, 1u);
  EXPECT_EQ(m[0].initial_margin, -7.0);
  p[1].mark = 0.0;
  p[0].size = 1e200;  // |q| (a + b |q|) overflows
  p[0].im_per_unit = 1.0;
  EXPECT_FALSE(pmm::standard_margin(p, 2, m).ok());
  EXPECT_EQ(m[0].initial_margin, -7.0);
}

// The generic option shape (StandardRule::kOption) on Bybit's published example (help centre,
// "Initial and Maintenance Margin Calculation (Options)", 2023-12-04): a short 31,000 call,
// index 30,000, mark 300, MM 3 % and a 0.2 % liquidation fee: MM 900 + 300 + 60 = 1,260 USDC.
TEST(StandardMargin, VenueOptionShapeBybitExample) {
  pmm::StandardPosition p;
  p.rule = pmm::StandardRule::kOption;
  p.size = -1.0;
  p.call = true;
  p.strike = 31000.0;
  p.index = 30000.0;
  p.unit = 30000.0;
  p.mark = 300.0;
  p.im_otm_base = 0.15;
  p.im_floor = 0.10;
  p.mm = 0.03;
  p.liquidation_fee = 0.002;
  p.mm_floor = 2;
  pmm::StandardMargin m;
  ASSERT_TRUE(pmm::standard_margin(&p, 1, &m).ok());
  EXPECT_DOUBLE_EQ(m.maintenance_margin, 1260.0);
  EXPECT_DOUBLE_EQ(m.initial_margin, 3800.0);  // max(4,500 - 1,000, 3,000) + 300
  p.tier_factor = 0.0;
  EXPECT_STREQ(pmm::standard_margin(&p, 1, &m).field, "tier_factor");
}
