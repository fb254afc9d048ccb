// SPDX-License-Identifier: Apache-2.0
// SPAN in the core on CME's published worked examples (CME Group, "Spread calculations",
// cmegroup.com/clearing/margins/spread-calc.html, rates "for example purposes only"): months
// M2, M3, M4 with outright rates 500, 500, 750 and intra charges M2/M3 200, M2/M4 50,
// M3/M4 0 give 200, 300 and 250 USD; 2 corn (1,750) against 1 soybean (2,500) at 2:1 with a
// 55 % credit give 6,000 gross, 3,300 credit, 2,700 net.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "pymargin/models/span.hpp"

namespace pmm = pymargin::models;

namespace {

// CME's scenario price fractions, the +-2 extremes counted at 35 %.
const double kFrac[16] = {0,       0,       1. / 3, 1. / 3, -1. / 3, -1. / 3, 2. / 3, 2. / 3,
                          -2. / 3, -2. / 3, 1,      1,      -1,      -1,      2,      -2};

std::vector<double> futures_pnl(const std::vector<double>& outright,
                                const std::vector<double>& position) {
  std::vector<double> pnl(16, 0.0);
  for (std::size_t j = 0; j < 16; ++j) {
    for (std::size_t t = 0; t < outright.size(); ++t)
      pnl[j] += position[t] * kFrac[j] * outright[t];
    if (j >= 14) pnl[j] *= 0.35;
  }
  return pnl;
}

}  // namespace

TEST(Span, CmeIntraCommoditySpreadExamples) {
  const std::vector<double> outright{500.0, 500.0, 750.0};
  const std::int32_t tiers[6] = {0, 1, 0, 2, 1, 2};
  const double rates[3] = {200.0, 50.0, 0.0};
  const int legs[3][2] = {{0, 1}, {0, 2}, {1, 2}};
  const double want[3] = {200.0, 300.0, 250.0};
  for (int k = 0; k < 3; ++k) {
    std::vector<double> pos(3, 0.0);
    pos[static_cast<std::size_t>(legs[k][0])] = 1.0;
    pos[static_cast<std::size_t>(legs[k][1])] = -1.0;
    const std::vector<double> pnl = futures_pnl(outright, pos);
    pmm::SpanCommodity c;
    c.pnl = pnl.data();
    c.tiers = 3;
    c.tier_delta = pos.data();
    c.intra_pairs = 3;
    c.intra_tiers = tiers;
    c.intra_rates = rates;
    pmm::SpanRequirement r;
    ASSERT_TRUE(pmm::span_requirement(&c, 1, nullptr, 0, &r).ok());
    EXPECT_NEAR(r.requirement, want[k], 1e-9) << k;
  }
}

TEST(Span, CmeInterCommodityCreditExample) {
  const std::vector<double> corn_pos{2.0}, soy_pos{-1.0};
  const std::vector<double> corn = futures_pnl({1750.0}, corn_pos);
  const std::vector<double> soy = futures_pnl({2500.0}, soy_pos);
  pmm::SpanCommodity c[2];
  c[0].pnl = corn.data();
  c[0].tiers = 1;
  c[0].tier_delta = corn_pos.data();
  c[1].pnl = soy.data();
  c[1].tiers = 1;
  c[1].tier_delta = soy_pos.data();
  const pmm::SpanInterSpread s{0, 1, 2.0, 1.0, 0.55};
  pmm::SpanRequirement r[2];
  ASSERT_TRUE(pmm::span_requirement(c, 2, &s, 1, r).ok());
  EXPECT_NEAR(r[0].scan_risk + r[1].scan_risk, 6000.0, 1e-9);
  EXPECT_NEAR(r[0].inter_credit + r[1].inter_credit, 3300.0, 1e-9);
  EXPECT_NEAR(r[0].requirement + r[1].requirement, 2700.0, 1e-9);
  // A spread naming a commodity that is not there is refused before anything is written.
  const pmm::SpanInterSpread bad{0, 2, 2.0, 1.0, 0.55};
  r[0].requirement = -7.0;
  EXPECT_FALSE(pmm::span_requirement(c, 2, &bad, 1, r).ok());
  EXPECT_EQ(r[0].requirement, -7.0);
}

// CME's scanning-based spread example (CME Group, "Spread calculations",
// cmegroup.com/clearing/margins/spread-calc.html): +2 30-year against -3 10-year Treasury
// futures at a 70 % gain allowance; scenario 13 gives 6,200 - 0.7 x 4,800 = 2,840, the
// requirement (scenarios 15 and 16 with the signs the page's results imply).
TEST(Span, CmeScanningSpreadExample) {
  const double legs[32] = {0,     0,    -2066, -2066, 2066, 2066, -4134, -4134, 4134, 4134,  -6200,
                           -6200, 6200, 6200,  -6138, 6138, 0,    0,     1599,  1599, -1599, -1599,
                           3201,  3201, -3201, -3201, 4800, 4800, -4800, -4800, 4752, -4752};
  const double printed[16] = {0,      0,      152.8, 152.8, 946.7, 946.7, 307.2, 307.2,
                              1893.3, 1893.3, 460,   460,   2840,  2840,  455.4, 2811.6};
  double values[16];
  double risk = 0.0;
  ASSERT_TRUE(pymargin::models::scanning_spread(legs, 2, 0.70, values, &risk).ok());
  for (int j = 0; j < 16; ++j) EXPECT_NEAR(values[j], printed[j], 1e-9) << j;
  EXPECT_NEAR(risk, 2840.0, 1e-9);
  EXPECT_FALSE(pymargin::models::scanning_spread(legs, 2, 1.5, values, &risk).ok());
}
