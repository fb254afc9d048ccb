// SPDX-License-Identifier: Apache-2.0
// Far-out-of-the-money precision. References: mpmath at 50 significant digits on the exact
// double inputs (tests/reference/black_tail_mpmath.py regenerates them). The textbook
// N(d1)/N(d2) formula returns 0 or garbage for most of these rows.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "pymargin/pricing/black.hpp"

namespace pm = pymargin::pricing;

namespace {
struct TailRow {
  double f, k, t, v, r;
  bool call;
  double expected;
};

const TailRow kRows[] = {
    {100, 10000.0, 1.0, 0.2, 0.0, true, 1.105730479669918454e-116},
    {100, 400, 0.25, 0.1, 0.0, true, 6.1212818321753386213e-170},
    {100, 1, 0.5, 0.3, 0.05, false, 7.9632042921605974965e-106},
    {1, 1e-06, 1.0, 0.4, 0, false, 1.1906189793824706115e-266},
    {100, 300, 1.0, 0.25, 0.0, true, 0.000049770532937021049334},
    {100, 120, 0.0027397260273972603, 0.5, 0.0, true, 6.4345892719988823013e-13},
    {100, 100.01, 0.0001, 0.3, 0, true, 0.1147551041974531052},
    {100, 99.99, 1e-06, 0.2, 0, true, 0.013955579067300650113},
    {100, 60, 0.02, 0.5, 0.01, false, 1.8427767815419426231e-13},
    {100, 100, 1e-12, 0.3, 0, true, 0.000011968268412042934894},
    {100, 150, 0.01, 0.3, 0, true, 1.7034505258200586663e-42},
    {100, 10000, 1.0, 0.1245, 0.0, true, 2.8521655812348244674e-299},
    {10000.0, 100, 1.0, 0.1238, 0.0, false, 1.1982368599765984886e-302},
};

// The price's own sensitivity to a relative change of its inputs (its condition number) is
// about 1 + h^2, h = ln(F/K) / (sigma sqrt T): even exact arithmetic on inputs rounded to
// double cannot do better than a few ulp times that. We require 8 ulp times it.
double allowed_error(const TailRow& row) {
  const double s = row.v * std::sqrt(row.t);
  const double h = std::log(row.f / row.k) / s;
  return 8.0 * std::numeric_limits<double>::epsilon() * (1.0 + h * h);
}
}  // namespace

TEST(TailPrecision, Black76MatchesMpmath) {
  for (const TailRow& row : kRows) {
    const auto type = row.call ? pm::OptionType::kCall : pm::OptionType::kPut;
    const double got = pm::black76_price(row.f, row.k, row.t, row.v, row.r, type);
    const double rel = std::fabs(got / row.expected - 1.0);
    EXPECT_LE(rel, allowed_error(row))
        << "F=" << row.f << " K=" << row.k << " T=" << row.t << " v=" << row.v << " got " << got;
  }
}

TEST(TailPrecision, WellConditionedRowsAreExactToAFewUlp) {
  // Rows with |h| <= 3 must be within 16 ulp whatever the internal path.
  for (const TailRow& row : kRows) {
    const double s = row.v * std::sqrt(row.t);
    if (std::fabs(std::log(row.f / row.k) / s) > 3.0) continue;
    const auto type = row.call ? pm::OptionType::kCall : pm::OptionType::kPut;
    const double got = pm::black76_price(row.f, row.k, row.t, row.v, row.r, type);
    EXPECT_LE(std::fabs(got / row.expected - 1.0), 16 * std::numeric_limits<double>::epsilon())
        << "K=" << row.k << " T=" << row.t;
  }
}

TEST(TailPrecision, ExactIntrinsicAtZeroTimeOrVol) {
  using pm::OptionType;
  EXPECT_EQ(pm::black76_price(110, 100, 0.0, 0.3, 0.0, OptionType::kCall), 10.0);
  EXPECT_EQ(pm::black76_price(90, 100, 0.0, 0.3, 0.0, OptionType::kCall), 0.0);
  EXPECT_EQ(pm::black76_price(90, 100, 1.0, 0.0, 0.0, OptionType::kPut), 10.0);
  EXPECT_EQ(pm::black76_price(100, 100, 0.0, 0.3, 0.0, OptionType::kPut), 0.0);
  // Discounted intrinsic: DF (F - K), exactly as exp(-rT) * 10 rounds.
  EXPECT_EQ(pm::black76_price(110, 100, 2.0, 0.0, 0.05, OptionType::kCall),
            std::exp(-0.05 * 2.0) * 10.0);
  // Tiny but positive time value is never rounded to the intrinsic.
  const double p = pm::black76_price(110, 100, 1e-8, 0.2, 0.0, OptionType::kCall);
  EXPECT_EQ(p, 10.0);  // time value ~1e-3000: below double resolution next to 10
  const double otm = pm::black76_price(100, 101, 1e-4, 0.2, 0.0, OptionType::kCall);
  EXPECT_GT(otm, 0.0);
}

TEST(TailPrecision, NormalisedFunctionHasNoCancellationNearTheMoney) {
  // b(0, s) = erf(s / (2 sqrt 2)) exactly; at s = 1e-10 the two-term form loses ~10 digits.
  for (double s : {1e-10, 1e-6, 1e-3, 0.1, 1.0, 10.0}) {
    const double want = std::erf(s / (2.0 * std::sqrt(2.0)));
    EXPECT_NEAR(pm::normalised_time_value(0.0, s) / want, 1.0, 4e-16);
  }
}
