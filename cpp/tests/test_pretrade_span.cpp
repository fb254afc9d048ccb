// SPDX-License-Identifier: Apache-2.0
// The pre-trade engine under SPAN (Model::kSpan): incremental == recompute over random
// streams with market updates, check() against doing it, snapshots, what it refuses. (The
// margin itself is checked against pymargin.models.span.span_margin from Python,
// tests/accounts/test_engine_models.py, whose assembly is independent of the engine's.)
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "pretrade_universe.hpp"
#include "pymargin/engine/pretrade.hpp"

namespace pe = pymargin::engine;

namespace {

using SpanUniverse = pretrade_test::EngineUniverse;
using pretrade_test::make;

SpanUniverse make_span_universe() {
  SpanUniverse u;
  u.index = {65000.0, 3400.0};
  u.cfg.model = pe::Model::kSpan;
  u.cfg.max_accounts = 16;
  pe::SpanCommodityConfig btc;
  btc.price_scan = 0.2;
  btc.vol_scan = 0.1;
  btc.tier_days = {30, 120};
  btc.intra_tiers = {1, 2, 0, 1, 0, 2};
  btc.intra_rates = {300.0, 500.0, 700.0};
  btc.short_option_minimum = 100.0;
  pe::SpanCommodityConfig eth;
  eth.price_scan = 0.25;
  eth.vol_scan = 0.12;
  eth.tier_days = {30};
  eth.intra_tiers = {0, 1};
  eth.intra_rates = {20.0};
  eth.short_option_minimum = 5.0;
  u.cfg.span.commodities = {btc, eth};
  u.cfg.span.spread_legs = {0, 1};
  u.cfg.span.spread_terms = {1.0, 30.0, 0.5};
  pe::CurrencyParams usdc;
  usdc.usd_settled = true;
  u.cfg.currencies = {usdc};
  pretrade_test::add_usd_chain(u, {5, 60, 150}, 0.8, 1.21, 1.0002);
  return u;
}

void expect_bitwise(const pe::GroupMargin& a, const pe::GroupMargin& b, const char* where) {
  EXPECT_EQ(a.initial_margin, b.initial_margin) << where;
  EXPECT_EQ(a.maintenance_margin, b.maintenance_margin) << where;
  EXPECT_EQ(a.equity, b.equity) << where;
}

}  // namespace

TEST(PreTradeSpan, IncrementalStateEqualsRecomputeAndChecksEqualDoingIt) {
  SpanUniverse u = make_span_universe();
  auto eng = make(u);
  ASSERT_EQ(eng->scenarios(), 19u);  // 16 scenarios, then up to three tiers
  std::vector<std::int64_t> acct(4);
  for (auto& a : acct) {
    ASSERT_TRUE(eng->add_account(&a).ok());
    ASSERT_EQ(eng->deposit(a, 0, 1e7), pe::Reason::kNone);
  }
  std::mt19937_64 rng(29);
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  std::vector<std::vector<std::int64_t>> open(acct.size());
  std::int64_t next_id = 1;
  const auto n = static_cast<std::int32_t>(u.spec.size());
  bool charged = false;
  for (int step = 0; step < 8000; ++step) {
    const std::size_t k = rng() % acct.size();
    const std::int64_t a = acct[k];
    const double r = u01(rng);
    const auto i = static_cast<std::int32_t>(rng() % static_cast<std::uint64_t>(n));
    const pe::Side side = u01(rng) < 0.5 ? pe::Side::kBuy : pe::Side::kSell;
    const double amount = 0.1 + 4 * u01(rng);
    if (r < 0.35) {
      const pe::CheckResult c = eng->check(a, i, side, amount);
      ASSERT_EQ(eng->add_order(a, next_id, i, side, amount), pe::Reason::kNone);
      const pe::GroupMargin after = eng->margin(a, 0);
      EXPECT_NEAR(c.im_after, after.initial_margin, 1e-9 * (1 + after.initial_margin));
      open[k].push_back(next_id++);
      charged = charged || after.initial_margin > 0.0;
    } else if (r < 0.5 && !open[k].empty()) {
      const std::size_t j = rng() % open[k].size();
      ASSERT_EQ(eng->cancel_order(a, open[k][j]), pe::Reason::kNone);
      open[k].erase(open[k].begin() + static_cast<std::ptrdiff_t>(j));
    } else if (r < 0.97) {
      ASSERT_EQ(eng->apply_fill(a, -1, i, side, amount, 50.0), pe::Reason::kNone);
    } else {
      for (std::size_t und = 0; und < 2; ++und) u.index[und] *= 1.0 + 0.02 * (u01(rng) - 0.5);
      for (std::size_t x = 0; x < u.spec.size(); ++x) {
        u.market[x].forward = u.index[static_cast<std::size_t>(u.spec[x].underlying)] *
                              (1 + 0.0004 * u.market[x].time * 365);
        if (u.market[x].vol > 0) u.market[x].vol *= 1.0 + 0.05 * (u01(rng) - 0.5);
      }
      ASSERT_TRUE(eng->on_market_update(u.market, u.index).ok());
    }
    if (step % 67 == 0) expect_bitwise(eng->margin(a, 0), eng->margin_from_scratch(a, 0), "stream");
  }
  EXPECT_TRUE(charged);
  for (std::int64_t a : acct)
    expect_bitwise(eng->margin(a, 0), eng->margin_from_scratch(a, 0), "end");
}

TEST(PreTradeSpan, SnapshotsRoundTripAndBadConfigurationsAreRefused) {
  SpanUniverse u = make_span_universe();
  auto eng = make(u);
  std::int64_t a = -1;
  ASSERT_TRUE(eng->add_account(&a).ok());
  ASSERT_EQ(eng->deposit(a, 0, 1e6), pe::Reason::kNone);
  for (std::int32_t i = 0; i < 60; i += 4) {
    ASSERT_EQ(eng->apply_fill(a, -1, i, pe::Side::kSell, 1.5, 80.0), pe::Reason::kNone);
  }
  ASSERT_EQ(eng->add_order(a, 9, 40, pe::Side::kBuy, 2.0), pe::Reason::kNone);
  EXPECT_GT(eng->margin(a, 0).initial_margin, 0.0);
  const std::string bytes = eng->snapshot();
  std::unique_ptr<pe::PreTradeEngine> back;
  const pymargin::Status st = pe::PreTradeEngine::restore(bytes, &back);
  ASSERT_TRUE(st.ok()) << st.field << ": " << st.message;
  EXPECT_EQ(back->model(), pe::Model::kSpan);
  expect_bitwise(back->margin(a, 0), eng->margin(a, 0), "restored");
  EXPECT_EQ(back->snapshot(), bytes);
  auto refused = [](const SpanUniverse& v, const char* field) {
    std::unique_ptr<pe::PreTradeEngine> e;
    const pymargin::Status s = pe::PreTradeEngine::create(v.cfg, v.spec, v.market, v.index, &e);
    EXPECT_FALSE(s.ok()) << field;
    EXPECT_EQ(std::string(s.field), field);
  };
  {
    SpanUniverse v = make_span_universe();
    v.spec[0].settlement = 1;
    refused(v, "settlement");
  }
  {
    SpanUniverse v = make_span_universe();
    v.cfg.span.commodities[0].intra_tiers[1] = 7;  // no such tier
    refused(v, "span.intra_rates");
  }
  {
    SpanUniverse v = make_span_universe();
    v.cfg.span.spread_legs[1] = 0;  // a spread of a commodity with itself
    refused(v, "span.spreads");
  }
  {
    SpanUniverse v = make_span_universe();
    v.cfg.span.commodities[1].price_scan = 0.0;
    refused(v, "span.commodities");
  }
}
