// SPDX-License-Identifier: Apache-2.0
// Strategy-based margin in the core on the Cboe Margin Manual's printed examples (Cboe, Margin
// Manual, 2021; page numbers as printed): a short put (p. 28), a credit call spread (p. 42), a
// long put butterfly with unequal wings (p. 52), a collar's maintenance (p. 61), and a spread
// whose short outlives its long, which is refused (p. 42). The full set runs in
// tests/models/test_strategy_margin.py.
#include <gtest/gtest.h>

#include "pymargin/models/strategy_margin.hpp"

namespace pmm = pymargin::models;

namespace {
pmm::StrategyLeg option(double q, double price, double u, bool call, double k, double months) {
  pmm::StrategyLeg l;
  l.quantity = q;
  l.price = price;
  l.underlying = u;
  l.call = call;
  l.strike = k;
  l.months = months;
  return l;
}
pmm::StrategyLeg stock(double q, double price) {
  pmm::StrategyLeg l;
  l.quantity = q;
  l.price = price;
  l.underlying = price;
  l.stock = true;
  return l;
}
}  // namespace

TEST(StrategyMargin, CboeManualExamples) {
  const pmm::StrategyRates r;
  pmm::StrategyRequirement q;
  // p. 28: short 1 Sep 80 put at 2, stock at 95: 200 + max(1,900 - 1,500, 800) = 1,000
  const pmm::StrategyLeg sp = option(-1, 2.0, 95.0, false, 80.0, 3);
  ASSERT_TRUE(pmm::strategy_requirement(pmm::StrategyKind::kNakedShort, &sp, 1, r, &q).ok());
  EXPECT_DOUBLE_EQ(q.initial, 1000.0);
  EXPECT_DOUBLE_EQ(q.proceeds, 200.0);
  // p. 42: long 1 Nov 125 call at 3.80, short 1 Nov 120 call at 8.40: 500 + 380 = 880
  const pmm::StrategyLeg cs[] = {option(1, 3.80, 128.5, true, 125, 2),
                                 option(-1, 8.40, 128.5, true, 120, 2)};
  ASSERT_TRUE(pmm::strategy_requirement(pmm::StrategyKind::kSpread, cs, 2, r, &q).ok());
  EXPECT_NEAR(q.initial, 880.0, 1e-9);
  // p. 52: long 540 put at 5.60, short 2 550 puts at 7.20, long 555 put at 9.80: 500 + 1,540
  const pmm::StrategyLeg bf[] = {option(1, 5.60, 550, false, 540, 2),
                                 option(-2, 7.20, 550, false, 550, 2),
                                 option(1, 9.80, 550, false, 555, 2)};
  ASSERT_TRUE(pmm::strategy_requirement(pmm::StrategyKind::kSpread, bf, 3, r, &q).ok());
  EXPECT_NEAR(q.initial, 2040.0, 1e-9);
  // p. 61: long 100 at 31.75, long Dec 30 put, short Dec 35 call: min(300 + 175, 875) = 475
  const pmm::StrategyLeg co[] = {stock(100, 31.75), option(1, 0.0, 31.75, false, 30, 2),
                                 option(-1, 0.0, 31.75, true, 35, 2)};
  ASSERT_TRUE(pmm::strategy_requirement(pmm::StrategyKind::kCollar, co, 3, r, &q).ok());
  EXPECT_NEAR(q.maintenance, 475.0, 1e-9);
  // p. 42: long Mar 70 call, short Jun 70 call: the short outlives the long, no spread
  const pmm::StrategyLeg rc[] = {option(1, 5.0, 75, true, 70, 3), option(-1, 8.0, 75, true, 70, 6)};
  const pymargin::Status st = pmm::strategy_requirement(pmm::StrategyKind::kSpread, rc, 2, r, &q);
  EXPECT_FALSE(st.ok());
  EXPECT_STREQ(st.field, "months");
}
