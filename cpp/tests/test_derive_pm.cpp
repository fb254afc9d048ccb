// SPDX-License-Identifier: Apache-2.0
// Derive portfolio margin in the core on a book small enough to follow by hand (an option at
// expiry, so worth its intrinsic value; a perpetual; risk-cancelling collateral), and the
// refusals. The venue's 139 published portfolio cases run in tests/models/test_derive_pm.py.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "pymargin/kernel/batch_margin.hpp"
#include "pymargin/models/derive_pm.hpp"

namespace pmm = pymargin::models;

namespace {

pmm::DeriveParams params(const pmm::DeriveScenario* s, std::size_t n) {
  pmm::DeriveParams q;
  q.dte_floor_seconds = 86'400.0;
  q.mm_factor = 0.8;
  q.im_factor = 1.0;
  q.mm_perp = 0.03;
  q.im_perp = 0.01;
  q.mm_option = 0.003;
  q.im_option = 0.002;
  q.basis_spot_up = 1.045;
  q.basis_spot_down = 0.955;
  q.basis_add = 0.5;
  q.basis_mult = 2.0;
  q.confidence_threshold = 0.55;
  q.confidence_margin = 1.0;
  q.min_k_star = 0.01;
  q.scenarios = s;
  q.n_scenarios = n;
  return q;
}

}  // namespace

TEST(DerivePM, HandWorkedBook) {
  const pmm::DeriveScenario s[] = {{1.1, pmm::DeriveVolShock::kNone, 1.0},
                                   {0.9, pmm::DeriveVolShock::kNone, 1.0},
                                   {0.8, pmm::DeriveVolShock::kNone, 0.5}};
  const pmm::DeriveParams q = params(s, 3);
  const pmm::DeriveOption call{90.0, 0.5, -1.0, true};  // short 1 call, K 90, at expiry
  const pmm::DeriveExpiry e{0.0, 0.0, 100.0, 0.0, 1.0, 0, 1};
  const pmm::DeriveCollateral c{1000.0, 1.0, 0.1, 0.05, true};
  pmm::DerivePortfolio p;
  p.spot = 100.0;
  p.perp_position = 2.0;
  p.perp_price = 101.0;
  p.perp_value = 5.0;
  p.expiries = &e;
  p.n_expiries = 1;
  p.options = &call;
  p.n_options = 1;
  p.collaterals = &c;
  p.n_collaterals = 1;
  double pnl[3];
  pmm::DeriveMargin r;
  ASSERT_TRUE(pmm::derive_pm_margin(p, q, pnl, &r).ok());
  // option -max(100 s - 90, 0) against -10; perpetual 2 (s - 1) 101; collateral 1000 (s - 1)
  EXPECT_NEAR(pnl[0], -10.0 + 20.2 + 100.0, 1e-12);
  EXPECT_NEAR(pnl[1], 10.0 - 20.2 - 100.0, 1e-12);
  EXPECT_NEAR(pnl[2], 0.5 * (10.0 - 40.4 - 200.0), 1e-12);
  EXPECT_NEAR(r.basis_contingency, -4.5 * 0.5, 1e-12);  // the up move's -4.5, add factor 0.5
  EXPECT_EQ(r.worst, 2u);
  EXPECT_NEAR(r.worst_loss, -115.2, 1e-12);
  EXPECT_NEAR(r.mm_contingency, 6.0 + 0.3 + 100.0, 1e-12);  // perp, naked short, haircut
  EXPECT_NEAR(r.im_contingency, 2.0 + 0.2 + 50.0, 1e-12);
  EXPECT_NEAR(r.maintenance_margin, 0.8 * 115.2 + 106.3, 1e-12);
  EXPECT_NEAR(r.initial_margin, 115.2 + 106.3 + 52.2, 1e-12);
  EXPECT_NEAR(r.mark_to_market, 5.0 - 10.0 + 1000.0, 1e-12);
}

// Naked shorts are the net short contracts per strike. A zero amount or an instrument given
// twice must not cancel a short (the venue's pairing of the first option of a strike with the
// later ones would: a zero put before a short call at its strike left the call covered).
TEST(DerivePM, NakedShortsNetPerStrikeWhateverTheLayout) {
  const pmm::DeriveScenario s[] = {{1.0, pmm::DeriveVolShock::kNone, 1.0}};
  const pmm::DeriveParams q = params(s, 1);
  auto contingency = [&](std::vector<pmm::DeriveOption> opts) {
    const pmm::DeriveExpiry e{86'400.0 * 7, 0.0, 100.0, 0.0, 1.0, 0, opts.size()};
    pmm::DerivePortfolio p;
    p.spot = 100.0;
    p.expiries = &e;
    p.n_expiries = 1;
    p.options = opts.data();
    p.n_options = opts.size();
    double pnl[1];
    pmm::DeriveMargin r;
    EXPECT_TRUE(pmm::derive_pm_margin(p, q, pnl, &r).ok());
    return r.mm_contingency / (100.0 * q.mm_option);  // naked contracts
  };
  EXPECT_DOUBLE_EQ(contingency({{90.0, 0.5, -1.0, true}}), 1.0);
  EXPECT_DOUBLE_EQ(contingency({{90.0, 0.5, 0.0, false}, {90.0, 0.5, -1.0, true}}), 1.0);
  EXPECT_DOUBLE_EQ(
      contingency({{90.0, 0.5, 1.0, false}, {90.0, 0.5, -1.0, false}, {90.0, 0.5, -1.0, true}}),
      1.0);
  // the venue's own layouts: a long put covers a short call at its strike, partly
  EXPECT_DOUBLE_EQ(contingency({{90.0, 0.5, 0.4, false}, {90.0, 0.5, -1.0, true}}), 0.6);
  EXPECT_DOUBLE_EQ(contingency({{90.0, 0.5, -2.0, false}, {90.0, 0.5, -1.0, true}}), 3.0);
  EXPECT_DOUBLE_EQ(contingency({{90.0, 0.5, -2.0, false}, {95.0, 0.5, 3.0, true}}), 2.0);
}

// A scenario's P&L that overflows is refused, never passed over: a deep in-the-money call
// held in 1.5e306 contracts is worth 1.485e308 (finite), at +50 % its value overflows, and a
// dampening of 0 turns that infinity into NaN, which the minimum over scenarios would skip
// (leaving a finite IM of 7.5e307 from the -50 % scenario).
TEST(DerivePM, AnOverflowingScenarioIsRefused) {
  const pmm::DeriveScenario s[] = {{1.5, pmm::DeriveVolShock::kNone, 0.0},
                                   {0.5, pmm::DeriveVolShock::kNone, 1.0}};
  const pmm::DeriveParams q = params(s, 2);
  const pmm::DeriveOption call{1.0, 0.5, 1.5e306, true};
  const pmm::DeriveExpiry e{86'400.0, 0.0, 100.0, 0.0, 1.0, 0, 1};
  pmm::DerivePortfolio p;
  p.spot = 100.0;
  p.expiries = &e;
  p.n_expiries = 1;
  p.options = &call;
  p.n_options = 1;
  double pnl[2];
  pmm::DeriveMargin r;
  r.initial_margin = -1.0;
  const pymargin::Status st = pmm::derive_pm_margin(p, q, pnl, &r);
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(std::string(st.field), "portfolio");
  EXPECT_TRUE(std::isnan(pnl[0]));
  EXPECT_EQ(r.initial_margin, -1.0);  // not written
}

TEST(DerivePM, BadInputIsNamedAndNothingIsWritten) {
  const pmm::DeriveScenario s[] = {{1.1, pmm::DeriveVolShock::kNone, 1.0}};
  pmm::DeriveParams q = params(s, 1);
  pmm::DeriveOption o[] = {{90.0, 0.5, -1.0, true},
                           {95.0, 0.5, std::numeric_limits<double>::quiet_NaN(), true}};
  const pmm::DeriveExpiry e{86'400.0, 0.0, 100.0, 0.0, 1.0, 0, 2};
  pmm::DerivePortfolio p;
  p.spot = 100.0;
  p.expiries = &e;
  p.n_expiries = 1;
  p.options = o;
  p.n_options = 2;
  double pnl[1] = {42.0};
  pmm::DeriveMargin r;
  r.initial_margin = 42.0;
  pymargin::Status st = pmm::derive_pm_margin(p, q, pnl, &r);
  EXPECT_EQ(st.code, pymargin::StatusCode::kInvalidInput);
  EXPECT_STREQ(st.field, "options.amount");
  EXPECT_EQ(st.index, 1u);
  EXPECT_EQ(pnl[0], 42.0);
  EXPECT_EQ(r.initial_margin, 42.0);
  o[1].amount = 1.0;
  const pmm::DeriveScenario skew[] = {{1.18, pmm::DeriveVolShock::kLinear, 1.0}};
  q = params(skew, 1);  // the venue refuses a skew scenario that also moves spot
  st = pmm::derive_pm_margin(p, q, pnl, &r);
  EXPECT_STREQ(st.field, "scenarios.spot_shock");
  const pmm::DeriveScenario ok[] = {{1.0, pmm::DeriveVolShock::kLinear, 1.0}};
  q = params(ok, 1);
  q.min_k_star = 0.0;  // k* = 0: the skew multiplier would divide by zero
  st = pmm::derive_pm_margin(p, q, pnl, &r);
  EXPECT_STREQ(st.field, "min_k_star");
  q.min_k_star = 0.01;
  EXPECT_TRUE(pmm::derive_pm_margin(p, q, pnl, &r).ok());
}

// The batch kernel lays each account out as the venue stores it and runs the same model: an
// account holding the hand-worked book (perpetual, short call at expiry, cash) gives its
// figures; an account with cash only needs nothing.
TEST(DerivePM, BatchIsTheModelPerAccount) {
  const pmm::DeriveScenario s[] = {{1.1, pmm::DeriveVolShock::kNone, 1.0},
                                   {0.9, pmm::DeriveVolShock::kNone, 1.0},
                                   {0.8, pmm::DeriveVolShock::kNone, 0.5}};
  const pmm::DeriveParams q = params(s, 3);
  const pmm::DeriveExpiry e{0.0, 0.0, 100.0, 0.0, 1.0, 0, 0};
  pymargin::kernel::BatchDeriveMarket m;
  m.params = &q;
  m.expiries = &e;
  m.n_expiries = 1;
  m.spot = 100.0;
  m.perp_price = 101.0;
  const std::uint8_t perp[] = {1, 0};
  const std::int32_t expiry[] = {-1, 0};
  const double strike[] = {0.0, 90.0}, vol[] = {0.0, 0.5};
  const std::uint8_t call[] = {0, 1};
  pymargin::kernel::BatchDeriveInstruments in{2, perp, expiry, strike, vol, call};
  const std::int64_t offsets[] = {0, 2, 2};
  const std::int32_t instrument[] = {1, 0};
  const double amount[] = {-1.0, 2.0}, collateral[] = {1000.0, 50.0};
  pymargin::kernel::BatchAccounts acc{2, offsets, instrument, amount, collateral};
  double im[2], mm[2], eq[2], ratio[2];
  std::int8_t status[2];
  std::int32_t worst[2];
  pymargin::kernel::BatchOutputs out{im, mm, eq, ratio, status, worst, nullptr};
  ASSERT_TRUE(pymargin::kernel::batch_derive(m, in, acc, out, 1).ok());
  // the hand-worked book with cash for collateral: the worst scenario is -20 % damped by half,
  // option +10 and perpetual 2 x (-0.2) x 101: -15.2; contingencies 6 + 0.3
  EXPECT_NEAR(mm[0], 0.8 * 15.2 + 6.3, 1e-12);
  EXPECT_NEAR(im[0], 15.2 + 6.3 + 2.0 + 0.2, 1e-12);
  EXPECT_EQ(worst[0], 2);
  EXPECT_NEAR(eq[0], 1000.0 - 10.0, 1e-12);
  EXPECT_EQ(im[1], 0.0);
  EXPECT_EQ(mm[1], 0.0);
  EXPECT_EQ(eq[1], 50.0);
  // the accounts' add-ons (every batch kernel adds them the same way before the status)
  const double im_add[] = {1.0, 60.0}, mm_add[] = {0.5, 50.0};
  acc.im_addon = im_add;
  acc.mm_addon = mm_add;
  ASSERT_TRUE(pymargin::kernel::batch_derive(m, in, acc, out, 1).ok());
  EXPECT_NEAR(im[0], 15.2 + 6.3 + 2.0 + 0.2 + 1.0, 1e-12);
  EXPECT_NEAR(mm[0], 0.8 * 15.2 + 6.3 + 0.5, 1e-12);
  EXPECT_EQ(status[1], 2);  // MM 50 >= equity 50: liquidation
  const double bad[] = {0.0, -1.0};
  acc.mm_addon = bad;
  const pymargin::Status st = pymargin::kernel::batch_derive(m, in, acc, out, 1);
  EXPECT_STREQ(st.field, "mm_addon");
  EXPECT_EQ(st.index, 1u);
}
