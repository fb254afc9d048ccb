// SPDX-License-Identifier: Apache-2.0
// The pre-trade engine under Deribit standard margin (Model::kStandard): its IM and MM against
// models::standard_margin of the book's positions (each side of the open orders filled),
// incremental == recompute over random streams with market updates, check() against doing
// it, the venue's marks, snapshots, and what it refuses.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "pretrade_universe.hpp"
#include "pymargin/engine/pretrade.hpp"
#include "pymargin/models/standard_margin.hpp"
#include "pymargin/pricing/black.hpp"

namespace pe = pymargin::engine;
namespace pmm = pymargin::models;

namespace {

// BTC inverse options and futures (margin group 0, BTC), the BTC_USDC linear perpetual
// (group 1, USDC). Rates of pymargin/data/models/deribit_standard/2025-12-01.json.
using StdUniverse = pretrade_test::EngineUniverse;
using pretrade_test::make;

StdUniverse make_std_universe() {
  StdUniverse u;
  u.index = {65000.0};
  u.cfg.model = pe::Model::kStandard;
  u.cfg.standard_underlyings = 1;
  u.cfg.max_accounts = 16;
  pe::CurrencyParams btc;
  pe::CurrencyParams usdc;
  usdc.usd_settled = true;
  u.cfg.currencies = {btc, usdc};
  const double days[3] = {2, 30, 90};
  for (int e = 0; e < 3; ++e) {
    const double f = 65000.0 * (1 + 0.0004 * days[e]);
    for (double k = 50000; k <= 80000; k += 5000) {
      for (std::uint8_t call = 0; call <= 1; ++call) {
        pe::InstrumentSpec s{3, 1, call, 0, 0, k, static_cast<std::int64_t>(days[e])};
        s.standard.rule = 1;
        s.standard.im_otm_base = 0.15;
        s.standard.im_floor = 0.1;
        s.standard.mm = 0.075;
        u.spec.push_back(s);
        u.market.push_back({f, 0.5 + 0.2 * std::fabs(k / f - 1), days[e] / 365.0, 0.0});
      }
    }
    pe::InstrumentSpec fut{1, 1, 0, 0, 0, 0.0, static_cast<std::int64_t>(days[e])};
    fut.standard = {0, 0, 0.02, 5e-5, 0.015, 5e-5, 0, 0, 0};
    u.spec.push_back(fut);
    u.market.push_back({f, 0.0, days[e] / 365.0, 0.0});
  }
  pe::InstrumentSpec perp{2, 1, 0, 0, 0, 0.0, -1};
  perp.standard = {0, 0, 0.02, 5e-5, 0.015, 5e-5, 0, 0, 0};
  u.spec.push_back(perp);
  u.market.push_back({65010.0, 0.0, 0.0, 0.0});
  pe::InstrumentSpec lin{2, 0, 0, 0, 1, 0.0, -1};  // BTC_USDC-PERPETUAL, rates per coin
  lin.standard = {0, 1, 0.02, 5e-5, 0.01, 5e-5, 0, 0, 0};
  u.spec.push_back(lin);
  u.market.push_back({65005.0, 0.0, 0.0, 0.0});
  return u;
}

// IM and MM of currency group c of a book (engine amounts: USD for inverse futures) by the
// model's own function, each position assembled here from its instrument and the market.
pmm::StandardMargin reference(const StdUniverse& u, const std::map<std::int32_t, double>& book,
                              std::int32_t c) {
  std::vector<pmm::StandardPosition> pos;
  for (const auto& [i, amount] : book) {
    const pe::InstrumentSpec& s = u.spec[static_cast<std::size_t>(i)];
    if (s.currency != c) continue;
    const pe::InstrumentMarket& m = u.market[static_cast<std::size_t>(i)];
    pmm::StandardPosition p;
    p.rule =
        s.standard.rule == 1 ? pmm::StandardRule::kInverseOption : pmm::StandardRule::kSizeScaled;
    const bool inverse_future = s.kind != 3 && s.settlement == 1;
    p.size = inverse_future ? amount / m.forward : amount;
    p.im_base = s.standard.im_base;
    p.im_per_unit = s.standard.im_per_unit;
    p.mm_base = s.standard.mm_base;
    p.mm_per_unit = s.standard.mm_per_unit;
    p.price = s.standard.price_at_index ? u.index[0] : 1.0;
    p.im_otm_base = s.standard.im_otm_base;
    p.im_floor = s.standard.im_floor;
    p.mm = s.standard.mm;
    p.call = s.is_call != 0;
    p.strike = s.strike;
    p.index = u.index[0];
    if (s.kind == 3) {
      p.mark = std::isnan(m.mark) ? pymargin::pricing::inverse_price(
                                        m.forward, s.strike, m.time, m.vol, m.rate,
                                        s.is_call ? pymargin::pricing::OptionType::kCall
                                                  : pymargin::pricing::OptionType::kPut)
                                  : m.mark;
    }
    pos.push_back(p);
  }
  std::vector<pmm::StandardMargin> out(pos.size());
  EXPECT_TRUE(pmm::standard_margin(pos.data(), pos.size(), out.data()).ok());
  pmm::StandardMargin sum;
  for (const auto& x : out) {
    sum.initial_margin += x.initial_margin;
    sum.maintenance_margin += x.maintenance_margin;
  }
  return sum;
}

double amount_of(const StdUniverse& u, std::int32_t i, double coins) {
  const pe::InstrumentSpec& s = u.spec[static_cast<std::size_t>(i)];
  return (s.kind != 3 && s.settlement == 1) ? coins * 65000.0 : coins;
}

void expect_bitwise(const pe::GroupMargin& a, const pe::GroupMargin& b, const char* where) {
  EXPECT_EQ(a.initial_margin, b.initial_margin) << where;
  EXPECT_EQ(a.maintenance_margin, b.maintenance_margin) << where;
  EXPECT_EQ(a.equity, b.equity) << where;
  EXPECT_EQ(a.worst_case, b.worst_case) << where;
}

}  // namespace

TEST(PreTradeStandard, MarginIsTheStandardModelOfTheBookWithEachSideOfOrdersFilled) {
  StdUniverse u = make_std_universe();
  // The venue's marks for half of the options; the model's value for the rest.
  for (std::size_t i = 0; i < u.spec.size(); i += 2) {
    if (u.spec[i].kind == 3) u.market[i].mark = 0.004 + 0.001 * static_cast<double>(i % 7);
  }
  auto eng = make(u);
  ASSERT_EQ(eng->scenarios(), 0u);
  std::int64_t a = -1;
  ASSERT_TRUE(eng->add_account(&a).ok());
  ASSERT_EQ(eng->deposit(a, 0, 100.0), pe::Reason::kNone);
  ASSERT_EQ(eng->deposit(a, 1, 1e6), pe::Reason::kNone);
  std::mt19937_64 rng(21);
  std::map<std::int32_t, double> pos, buys, sells;
  const auto n = static_cast<std::int32_t>(u.spec.size());
  for (int k = 0; k < 50; ++k) {
    const auto i = static_cast<std::int32_t>(rng() % static_cast<std::uint64_t>(n));
    const double q = amount_of(u, i, 0.5 + static_cast<double>(rng() % 6));
    const pe::Side side = (rng() & 1) ? pe::Side::kBuy : pe::Side::kSell;
    if (k % 3 == 0) {
      ASSERT_EQ(eng->add_order(a, k, i, side, q), pe::Reason::kNone);
      (side == pe::Side::kBuy ? buys : sells)[i] += q;
    } else {
      ASSERT_EQ(eng->apply_fill(a, -1, i, side, q,
                                u.spec[static_cast<std::size_t>(i)].kind == 3 ? 0.01 : 65000.0),
                pe::Reason::kNone);
      pos[i] += side == pe::Side::kBuy ? q : -q;
    }
  }
  for (std::int32_t c = 0; c < 2; ++c) {
    std::map<std::int32_t, double> with_buys = pos, with_sells = pos;
    for (const auto& [i, q] : buys) with_buys[i] += q;
    for (const auto& [i, q] : sells) with_sells[i] -= q;
    const pmm::StandardMargin p0 = reference(u, pos, c);
    const double im = std::max({p0.initial_margin, reference(u, with_buys, c).initial_margin,
                                reference(u, with_sells, c).initial_margin});
    const pe::GroupMargin g = eng->margin(a, c);
    EXPECT_NEAR(g.initial_margin, im, 1e-12 * im) << c;
    EXPECT_NEAR(g.maintenance_margin, p0.maintenance_margin, 1e-12 * p0.maintenance_margin) << c;
    EXPECT_GT(g.initial_margin, 0.0);
    expect_bitwise(g, eng->margin_from_scratch(a, c), "book");
  }
}

TEST(PreTradeStandard, IncrementalStateEqualsRecomputeAndChecksEqualDoingIt) {
  StdUniverse u = make_std_universe();
  auto eng = make(u);
  std::vector<std::int64_t> acct(4);
  for (auto& a : acct) {
    ASSERT_TRUE(eng->add_account(&a).ok());
    ASSERT_EQ(eng->deposit(a, 0, 500.0), pe::Reason::kNone);
    ASSERT_EQ(eng->deposit(a, 1, 5e6), pe::Reason::kNone);
  }
  std::mt19937_64 rng(8);
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  struct Open {
    std::int64_t id;
    std::int32_t i;
    pe::Side side;
    double left;
  };
  std::vector<std::vector<Open>> open(acct.size());
  std::int64_t next_id = 1;
  const auto n = static_cast<std::int32_t>(u.spec.size());
  for (int step = 0; step < 15000; ++step) {
    const std::size_t k = rng() % acct.size();
    const std::int64_t a = acct[k];
    const double r = u01(rng);
    const auto i = static_cast<std::int32_t>(rng() % static_cast<std::uint64_t>(n));
    const pe::Side side = u01(rng) < 0.5 ? pe::Side::kBuy : pe::Side::kSell;
    const double amount = amount_of(u, i, 0.1 + 4 * u01(rng));
    const double price = u.spec[static_cast<std::size_t>(i)].kind == 3 ? 0.02 : 65000.0;
    const std::int32_t c = u.spec[static_cast<std::size_t>(i)].currency;
    if (r < 0.35) {
      const pe::CheckResult chk = eng->check(a, i, side, amount);
      ASSERT_EQ(eng->add_order(a, next_id, i, side, amount), pe::Reason::kNone);
      const pe::GroupMargin after = eng->margin(a, c);
      EXPECT_NEAR(chk.im_after, after.initial_margin, 1e-9 * (1 + after.initial_margin));
      open[k].push_back({next_id++, i, side, amount});
    } else if (r < 0.5 && !open[k].empty()) {
      const std::size_t j = rng() % open[k].size();
      ASSERT_EQ(eng->cancel_order(a, open[k][j].id), pe::Reason::kNone);
      open[k].erase(open[k].begin() + static_cast<std::ptrdiff_t>(j));
    } else if (r < 0.7 && !open[k].empty()) {
      const std::size_t j = rng() % open[k].size();
      Open& o = open[k][j];
      const double q = u01(rng) < 0.5 ? o.left : o.left * u01(rng);
      if (!(q > 0.0)) continue;
      const double px = u.spec[static_cast<std::size_t>(o.i)].kind == 3 ? 0.02 : 65000.0;
      ASSERT_EQ(eng->apply_fill(a, o.id, o.i, o.side, q, px), pe::Reason::kNone);
      o.left -= q;
      if (o.left <= 1e-9 * (o.left + q))
        open[k].erase(open[k].begin() + static_cast<std::ptrdiff_t>(j));
    } else if (r < 0.97) {
      ASSERT_EQ(eng->apply_fill(a, -1, i, side, amount, price), pe::Reason::kNone);
    } else {
      const double f = 1.0 + 0.03 * (u01(rng) - 0.5);
      u.index[0] *= f;
      for (auto& m : u.market) {
        m.forward *= f;
        if (m.vol > 0) m.vol *= 1.0 + 0.05 * (u01(rng) - 0.5);
      }
      ASSERT_TRUE(eng->on_market_update(u.market, u.index).ok());
    }
    if (step % 83 == 0) {
      for (std::int32_t cc = 0; cc < 2; ++cc) {
        expect_bitwise(eng->margin(a, cc), eng->margin_from_scratch(a, cc), "stream");
      }
    }
  }
  for (std::int64_t a : acct) {
    for (std::int32_t c = 0; c < 2; ++c) {
      expect_bitwise(eng->margin(a, c), eng->margin_from_scratch(a, c), "end");
    }
  }
}

TEST(PreTradeStandard, ALongOptionNeedsNothingAndAShortOneItsRuleAndMark) {
  StdUniverse u = make_std_universe();
  const std::int32_t call = 9;  // first expiry, strike 70,000, call
  ASSERT_EQ(u.spec[call].kind, 3);
  ASSERT_EQ(u.spec[call].is_call, 1);
  ASSERT_EQ(u.spec[call].strike, 70000.0);
  u.market[call].mark = 0.0123;  // the venue's mark (coin)
  auto eng = make(u);
  std::int64_t a = -1;
  ASSERT_TRUE(eng->add_account(&a).ok());
  ASSERT_EQ(eng->deposit(a, 0, 10.0), pe::Reason::kNone);
  ASSERT_EQ(eng->apply_fill(a, -1, call, pe::Side::kBuy, 2.0, 0.0123), pe::Reason::kNone);
  EXPECT_EQ(eng->margin(a, 0).initial_margin, 0.0);
  ASSERT_EQ(eng->apply_fill(a, -1, call, pe::Side::kSell, 5.0, 0.0123), pe::Reason::kNone);
  // Short 3 calls 5,000 out of the money at index 65,000: IM = 3 x (max(0.15 - 5000/65000,
  // 0.1) + mark) = 3 x (0.1 + mark) (the floor binds), MM = 3 x (0.075 + mark): Deribit's
  // inverse-option rule.
  const pe::GroupMargin g = eng->margin(a, 0);
  EXPECT_NEAR(g.initial_margin, 3.0 * (0.1 + 0.0123), 1e-15);
  EXPECT_NEAR(g.maintenance_margin, 3.0 * (0.075 + 0.0123), 1e-15);
}

TEST(PreTradeStandard, SnapshotsRoundTripAndBadTermsAreRefused) {
  StdUniverse u = make_std_universe();
  u.market[3].mark = 0.02;
  auto eng = make(u);
  std::int64_t a = -1;
  ASSERT_TRUE(eng->add_account(&a).ok());
  ASSERT_EQ(eng->deposit(a, 0, 50.0), pe::Reason::kNone);
  for (std::int32_t i = 0; i < 20; ++i) {
    ASSERT_EQ(eng->apply_fill(a, -1, i, pe::Side::kSell, amount_of(u, i, 1.5), 0.01),
              pe::Reason::kNone);
  }
  ASSERT_EQ(eng->add_order(a, 7, 44, pe::Side::kBuy, 20000.0), pe::Reason::kNone);
  const std::string bytes = eng->snapshot();
  std::unique_ptr<pe::PreTradeEngine> back;
  const pymargin::Status st = pe::PreTradeEngine::restore(bytes, &back);
  ASSERT_TRUE(st.ok()) << st.field << ": " << st.message;
  EXPECT_EQ(back->model(), pe::Model::kStandard);
  expect_bitwise(back->margin(a, 0), eng->margin(a, 0), "restored");
  EXPECT_EQ(back->snapshot(), bytes);
  auto refused = [](const StdUniverse& v, const char* field) {
    std::unique_ptr<pe::PreTradeEngine> e;
    const pymargin::Status s = pe::PreTradeEngine::create(v.cfg, v.spec, v.market, v.index, &e);
    EXPECT_FALSE(s.ok()) << field;
    EXPECT_EQ(std::string(s.field), field);
    EXPECT_EQ(e, nullptr);
  };
  {
    StdUniverse v = make_std_universe();
    v.spec[0].standard.rule = 0;  // an inverse option under the size-scaled rule
    refused(v, "standard");
  }
  {
    StdUniverse v = make_std_universe();
    v.spec[44].standard.im_base = -0.01;
    refused(v, "rates");
  }
  {
    StdUniverse v = make_std_universe();
    v.market[2].mark = -1.0;
    refused(v, "mark");
  }
  {
    StdUniverse v = make_std_universe();
    v.cfg.standard_underlyings = 0;
    refused(v, "standard_underlyings");
  }
  {
    StdUniverse v = make_std_universe();
    v.cfg.model = pe::Model::kDeribitPortfolio;  // standard terms under another model
    v.cfg.pairs.push_back(pe::PairParams{});
    refused(v, "standard");
  }
}
