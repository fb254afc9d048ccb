// SPDX-License-Identifier: Apache-2.0
// Model-free properties: put-call parity, no-arbitrage bounds, monotonicity, and the identities
// linking the three models.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "pymargin/pricing/black.hpp"

namespace pm = pymargin::pricing;
using pm::OptionType;

TEST(Invariants, ParityBoundsAndMonotonicity) {
  std::mt19937_64 rng(20261126);
  std::uniform_real_distribution<double> lm(-1.5, 1.5), lt(-5.0, 1.0), vol(0.0, 2.5),
      rate(-0.02, 0.1);
  for (int i = 0; i < 20000; ++i) {
    const double f = 100.0;
    const double k = f * std::exp(lm(rng));
    const double t = std::pow(10.0, lt(rng));
    const double v = vol(rng);
    const double r = rate(rng);
    const double df = std::exp(-r * t);
    const double c = pm::black76_price(f, k, t, v, r, OptionType::kCall);
    const double p = pm::black76_price(f, k, t, v, r, OptionType::kPut);
    const double scale = df * std::max(f, k);
    ASSERT_NEAR(c - p, df * (f - k), 4e-15 * scale) << i;
    ASSERT_GE(c, df * std::max(f - k, 0.0) * (1 - 1e-15));
    ASSERT_GE(p, df * std::max(k - f, 0.0) * (1 - 1e-15));
    ASSERT_LE(c, df * f);
    ASSERT_LE(p, df * k);
    // Higher vol is worth more; a higher strike makes a call cheaper.
    ASSERT_GE(pm::black76_price(f, k, t, v * 1.01 + 1e-3, r, OptionType::kCall), c);
    ASSERT_LE(pm::black76_price(f, k * 1.01, t, v, r, OptionType::kCall), c);
  }
}

TEST(Invariants, ModelsAgreeThroughTheirDefinitions) {
  const double s = 100, k = 110, t = 0.8, v = 0.55, r = 0.04, q = 0.015;
  const double f = s * std::exp((r - q) * t);
  for (OptionType type : {OptionType::kCall, OptionType::kPut}) {
    EXPECT_DOUBLE_EQ(pm::bsm_price(s, k, t, v, r, q, type), pm::black76_price(f, k, t, v, r, type));
    EXPECT_DOUBLE_EQ(pm::inverse_price(f, k, t, v, r, type) * f,
                     pm::black76_price(f, k, t, v, r, type));
    // Coin delta is the USD delta minus the coin premium (Deribit's stated rule).
    const auto coin = pm::inverse_greeks(f, k, t, v, r, type);
    const auto usd = pm::black76_greeks(f, k, t, v, r, type);
    EXPECT_NEAR(coin.delta, usd.delta - coin.price, 1e-15);
  }
}
