// SPDX-License-Identifier: Apache-2.0
// Implied volatility: round trips over the whole domain, the two-iteration claim, textbook
// examples and the no-arbitrage errors.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "pymargin/pricing/implied_vol.hpp"

namespace pm = pymargin::pricing;
using pm::OptionType;

// Hull, OFOD 11th ed., section 15.11: c = 1.875, S = 21, K = 20, r = 0.1, T = 0.25 -> 0.235.
TEST(ImpliedVol, HullExample) {
  double v = 0;
  ASSERT_TRUE(pm::bsm_implied_vol(1.875, 21, 20, 0.25, 0.1, 0.0, OptionType::kCall, &v).ok());
  EXPECT_NEAR(v, 0.235, 5e-4);
}

// Round trip s -> b(x, s) -> s over |x| up to 10 and s from 1e-3 to 10, with the number of
// Householder iterations. The attainable accuracy of s is set by the conditioning of b:
// ds/s = (db/b) * b / (s b'), so the error is compared with eps times that factor.
TEST(ImpliedVol, NormalisedRoundTripInTwoIterations) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> ux(-10.0, 10.0), us(-3.0, 1.0);
  int worst_iterations = 0;
  double worst_scaled = 0.0;
  for (int i = 0; i < 50000; ++i) {
    const double x = ux(rng);
    const double s = std::pow(10.0, us(rng));
    const OptionType type = (i % 2) ? OptionType::kCall : OptionType::kPut;
    const double beta = pm::normalised_black(x, s, type);
    const double tv = pm::normalised_time_value(x, s);
    if (!(tv > 1e-300)) continue;  // time value below double range: no information left
    double s_back = 0;
    int it = 0;
    ASSERT_TRUE(pm::implied_normalised_vol(beta, x, type, &s_back, &it).ok());
    worst_iterations = std::max(worst_iterations, it);
    // conditioning of s in beta: |d ln s / d ln beta| = beta / (s vega)
    const double cond = beta / (s * pm::normalised_vega(x, s));
    const double scaled =
        std::fabs(s_back / s - 1.0) / (std::numeric_limits<double>::epsilon() * (1.0 + cond));
    worst_scaled = std::max(worst_scaled, scaled);
    ASSERT_LE(scaled, 64.0) << "x=" << x << " s=" << s << " back=" << s_back << " it=" << it;
  }
  EXPECT_LE(worst_iterations, 2);
  RecordProperty("worst_scaled_error", std::to_string(worst_scaled));
}

TEST(ImpliedVol, PriceRoundTripExtremes) {
  struct Case {
    double f, k, t, v;
  };
  const Case cases[] = {{100, 10000, 1.0, 0.1245},  // price ~ 3e-299
                        {100, 1.0, 0.5, 0.3},       // deep ITM call / far OTM put
                        {100, 100, 1e-8, 0.2},      // near expiry ATM
                        {100, 100, 4.0, 2.0},       // towards the upper bound
                        {100, 101, 1.0 / 365, 0.01}};
  for (const Case& c : cases) {
    for (OptionType type : {OptionType::kCall, OptionType::kPut}) {
      const double p = pm::black76_price(c.f, c.k, c.t, c.v, 0.0, type);
      const double intrinsic = std::max(pm::sign(type) * (c.f - c.k), 0.0);
      if (!(p - intrinsic > 1e-12 * p)) continue;  // time value lost next to the intrinsic
      double v = 0;
      ASSERT_TRUE(pm::black76_implied_vol(p, c.f, c.k, c.t, 0.0, type, &v).ok());
      EXPECT_NEAR(v / c.v, 1.0, 1e-9) << c.f << " " << c.k << " " << c.t;
    }
  }
}

TEST(ImpliedVol, ArbitrageViolationsAreErrorsNotNaN) {
  double v = -1;
  auto st = pm::black76_implied_vol(9.0, 110, 100, 1.0, 0.0, OptionType::kCall, &v);
  EXPECT_EQ(st.code, pymargin::StatusCode::kNoSolution);
  EXPECT_STREQ(st.field, "price");
  st = pm::black76_implied_vol(110.0, 110, 100, 1.0, 0.0, OptionType::kCall, &v);
  EXPECT_EQ(st.code, pymargin::StatusCode::kNoSolution);
  st = pm::black76_implied_vol(std::nan(""), 110, 100, 1.0, 0.0, OptionType::kCall, &v);
  EXPECT_EQ(st.code, pymargin::StatusCode::kInvalidInput);
  st = pm::black76_implied_vol(5.0, 110, 100, 0.0, 0.0, OptionType::kCall, &v);
  EXPECT_EQ(st.code, pymargin::StatusCode::kInvalidInput);
  EXPECT_STREQ(st.field, "time");
  EXPECT_EQ(v, -1);  // never written on error
  // A zero time value has vol 0.
  ASSERT_TRUE(pm::black76_implied_vol(0.0, 90, 100, 1.0, 0.0, OptionType::kCall, &v).ok());
  EXPECT_EQ(v, 0.0);
}
