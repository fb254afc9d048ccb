// SPDX-License-Identifier: Apache-2.0
// The pre-trade engine under Derive portfolio margin (Model::kDerive): its margin against the
// core's derive_pm_margin of the same book laid out independently (options grouped by expiry,
// the perpetual's position and mark), with each side of the open orders filled; incremental
// == recompute over random streams with market updates; check() against doing it; snapshots;
// and what the engine refuses.
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
#include "pymargin/models/derive_pm.hpp"

namespace pe = pymargin::engine;
namespace pmm = pymargin::models;

namespace {

constexpr double kYear = 31'536'000.0;

// Derive's parameter values as shipped (pymargin/data/models/derive_pm/2025-05-01.json), with
// a scenario set of the same shape: spot +-18 % in 4.5 % steps with vol up, unchanged and
// down, damped tails, and the two skew scenarios.
pe::EngineConfig derive_config(std::size_t underlyings) {
  pe::EngineConfig cfg;
  cfg.model = pe::Model::kDerive;
  cfg.max_accounts = 64;
  pe::CurrencyParams usdc;
  usdc.usd_settled = true;
  cfg.currencies = {usdc};
  pmm::DeriveParams& q = cfg.derive.params;
  q.vol_range_up = 0.5;
  q.vol_range_down = 0.3;
  q.short_term_power = 0.3;
  q.long_term_power = 0.13;
  q.dte_floor_seconds = 86'400.0;
  q.min_vol_up = 0.4;
  q.im_factor = 1.0;
  q.mm_factor = 0.8;
  q.short_rate_add = q.long_rate_add = 0.16;
  q.short_static_discount = 0.95;
  q.long_static_discount = 1.05;
  q.basis_spot_up = 1.045;
  q.basis_spot_down = 0.955;
  q.basis_add = 0.5;
  q.basis_mult = 2.0;
  q.peg_loss_threshold = 0.99;
  q.peg_loss_factor = 4.0;
  q.confidence_threshold = 0.55;
  q.confidence_margin = 1.0;
  q.mm_perp = 0.03;
  q.im_perp = 0.01;
  q.mm_option = 0.003;
  q.im_option = 0.002;
  q.linear_cap = q.abs_cap = 0.25;
  q.linear_cbase = q.abs_cbase = -0.1;
  q.min_k_star = 0.01;
  q.width_scale = 4.0;
  q.vol_param_static = 0.6;
  auto& sc = cfg.derive.scenarios;
  for (int k = 4; k >= -4; --k) {
    for (auto v :
         {pmm::DeriveVolShock::kUp, pmm::DeriveVolShock::kNone, pmm::DeriveVolShock::kDown}) {
      sc.push_back({1.0 + 0.045 * k, v, 1.0});
    }
  }
  sc.push_back({0.34, pmm::DeriveVolShock::kUp, 0.35});
  sc.push_back({1.5, pmm::DeriveVolShock::kUp, 0.3});
  sc.push_back({6.0, pmm::DeriveVolShock::kUp, 0.03});
  sc.push_back({1.0, pmm::DeriveVolShock::kLinear, 1.0});
  sc.push_back({1.0, pmm::DeriveVolShock::kAbs, 1.0});
  cfg.derive.underlyings = underlyings;
  return cfg;
}

using Universe = pretrade_test::EngineUniverse;
using pretrade_test::make;

// ETH at 3,000 (and BTC at 65,000 when two): per underlying two expiries (7 and 40 days, whole
// seconds) of calls and puts at 0.8 .. 1.2 x index, one forward and rate per expiry, vols by
// moneyness; then the perpetual.
Universe make_derive_universe(std::size_t underlyings = 1) {
  Universe u;
  u.cfg = derive_config(underlyings);
  const double spots[] = {3000.0, 65000.0};
  for (std::size_t k = 0; k < underlyings; ++k) {
    const double s0 = spots[k];
    u.index.push_back(s0);
    const auto und = static_cast<std::int32_t>(k);
    for (const double days : {7.0, 40.0}) {
      const double f = s0 * (1 + 0.0003 * days);
      for (double m = 0.8; m <= 1.2001; m += 0.1) {
        for (std::uint8_t call = 0; call <= 1; ++call) {
          u.spec.push_back(
              {3, 0, call, und, 0, std::round(s0 * m), static_cast<std::int64_t>(days)});
          u.market.push_back({f, 0.55 + 0.4 * std::fabs(m - 1.0), days * 86'400.0 / kYear, 0.04});
        }
      }
    }
    u.spec.push_back({2, 0, 0, und, 0, 0.0, -1});
    u.market.push_back({s0 * 1.0002, 0.0, 0.0, 0.0});
  }
  return u;
}

// derive_pm_margin of the book (amount per instrument) on underlying `und` of `u`, cash 0:
// the options laid out by expiry in instrument order, the perpetual's position and mark.
pmm::DeriveMargin reference(const Universe& u, const std::map<std::int32_t, double>& book,
                            std::int32_t und) {
  pmm::DeriveParams q = u.cfg.derive.params;
  q.scenarios = u.cfg.derive.scenarios.data();
  q.n_scenarios = u.cfg.derive.scenarios.size();
  std::map<std::int64_t, std::vector<std::int32_t>> by_expiry;
  pmm::DerivePortfolio p;
  p.spot = u.index[static_cast<std::size_t>(und)];
  for (const auto& [i, amount] : book) {
    const pe::InstrumentSpec& sp = u.spec[static_cast<std::size_t>(i)];
    if (sp.underlying != und || amount == 0.0) continue;  // the venue holds no flat position
    if (sp.kind == 2) {
      p.perp_position += amount;
      p.perp_price = u.market[static_cast<std::size_t>(i)].forward;
    } else {
      by_expiry[sp.expiry_id].push_back(i);
    }
  }
  std::vector<pmm::DeriveExpiry> ex;
  std::vector<pmm::DeriveOption> opts;
  for (const auto& [id, members] : by_expiry) {
    const pe::InstrumentMarket& mk = u.market[static_cast<std::size_t>(members[0])];
    pmm::DeriveExpiry e;
    e.seconds = std::round(mk.time * kYear);
    e.forward_variable = mk.forward;
    e.rate = mk.rate;
    e.first_option = opts.size();
    for (std::int32_t i : members) {
      const pe::InstrumentSpec& sp = u.spec[static_cast<std::size_t>(i)];
      opts.push_back(
          {sp.strike, u.market[static_cast<std::size_t>(i)].vol, book.at(i), sp.is_call != 0});
    }
    e.end_option = opts.size();
    ex.push_back(e);
  }
  p.expiries = ex.data();
  p.n_expiries = ex.size();
  p.options = opts.data();
  p.n_options = opts.size();
  std::vector<double> pnl(q.n_scenarios);
  pmm::DeriveMargin r;
  EXPECT_TRUE(pmm::derive_pm_margin(p, q, pnl.data(), &r).ok());
  return r;
}

double reference_im(const Universe& u, const std::map<std::int32_t, double>& book) {
  double im = 0.0;
  for (std::size_t und = 0; und < u.index.size(); ++und) {
    im += reference(u, book, static_cast<std::int32_t>(und)).initial_margin;
  }
  return im;
}
double reference_mm(const Universe& u, const std::map<std::int32_t, double>& book) {
  double mm = 0.0;
  for (std::size_t und = 0; und < u.index.size(); ++und) {
    mm += reference(u, book, static_cast<std::int32_t>(und)).maintenance_margin;
  }
  return mm;
}

void margin_is_the_model_of_the_book(std::size_t underlyings, std::uint64_t seed) {
  Universe u = make_derive_universe(underlyings);
  auto eng = make(u);
  ASSERT_EQ(eng->model(), pe::Model::kDerive);
  std::int64_t a = -1;
  ASSERT_TRUE(eng->add_account(&a).ok());
  ASSERT_EQ(eng->deposit(a, 0, 1e7), pe::Reason::kNone);
  std::mt19937_64 rng(seed);
  std::map<std::int32_t, double> pos, buys, sells;
  const auto n = static_cast<std::int32_t>(u.spec.size());
  double cash = 1e7;
  for (int k = 0; k < 40; ++k) {
    const auto i = static_cast<std::int32_t>(rng() % static_cast<std::uint64_t>(n));
    const double q = 0.5 + static_cast<double>(rng() % 6);
    const pe::Side side = (rng() & 1) ? pe::Side::kBuy : pe::Side::kSell;
    if (k % 4 == 0) {
      ASSERT_EQ(eng->add_order(a, k, i, side, q), pe::Reason::kNone);
      (side == pe::Side::kBuy ? buys : sells)[i] += q;
    } else {
      const double price = u.spec[static_cast<std::size_t>(i)].kind == 2 ? 3001.0 : 40.0;
      ASSERT_EQ(eng->apply_fill(a, -1, i, side, q, price), pe::Reason::kNone);
      const double signed_q = side == pe::Side::kBuy ? q : -q;
      pos[i] += signed_q;
      cash -= signed_q * price;
    }
  }
  auto with = [&](const std::map<std::int32_t, double>& orders, double sign) {
    std::map<std::int32_t, double> b = pos;
    for (const auto& [i, q] : orders) b[i] += sign * q;
    return b;
  };
  const double im = std::max(
      {reference_im(u, pos), reference_im(u, with(buys, 1.0)), reference_im(u, with(sells, -1.0))});
  const pe::GroupMargin g = eng->margin(a, 0);
  EXPECT_NEAR(g.initial_margin, im, 1e-11 * im);
  const double mm = reference_mm(u, pos);
  EXPECT_NEAR(g.maintenance_margin, mm, 1e-11 * mm);
  EXPECT_GT(g.initial_margin, g.maintenance_margin);
  // equity: Derive's mark to market (cash, options at the model's value, the perpetual's
  // unrealised P&L), with this book's cash
  double mtm = cash;
  for (std::size_t und = 0; und < underlyings; ++und) {
    std::map<std::int32_t, double> opts;
    for (const auto& [i, q] : pos) {
      const pe::InstrumentSpec& sp = u.spec[static_cast<std::size_t>(i)];
      if (sp.underlying != static_cast<std::int32_t>(und)) continue;
      if (sp.kind == 2) {
        mtm += q * u.market[static_cast<std::size_t>(i)].forward;
      } else {
        opts[i] = q;
      }
    }
    if (!opts.empty()) mtm += reference(u, opts, static_cast<std::int32_t>(und)).option_value;
  }
  EXPECT_NEAR(g.equity, mtm, 1e-9 * std::fabs(mtm));
  pretrade_test::expect_same_margin(g, eng->margin_from_scratch(a, 0), "book");
}

}  // namespace

TEST(PreTradeDerive, MarginIsTheModelOfTheBookWithEachSideOfOrdersFilled) {
  for (std::uint64_t seed = 1; seed <= 6; ++seed) margin_is_the_model_of_the_book(1, seed);
}

TEST(PreTradeDerive, EachUnderlyingIsADerivePortfolioOfItsOwn) {
  for (std::uint64_t seed = 11; seed <= 14; ++seed) margin_is_the_model_of_the_book(2, seed);
}

// Naked shorts by hand: a short call and a long put at one strike net there; a lone short
// put counts whole. The contingencies are the model's: MM option rate x naked x spot.
TEST(PreTradeDerive, NakedShortsNetAtTheStrike) {
  Universe u = make_derive_universe();
  auto eng = make(u);
  std::int64_t a = -1;
  ASSERT_TRUE(eng->add_account(&a).ok());
  ASSERT_EQ(eng->deposit(a, 0, 1e6), pe::Reason::kNone);
  const std::int32_t put = 4, call = 5;  // 7 days, strike 3,000
  ASSERT_EQ(u.spec[put].strike, 3000.0);
  ASSERT_EQ(u.spec[call].is_call, 1);
  ASSERT_EQ(eng->apply_fill(a, -1, call, pe::Side::kSell, 3.0, 80.0), pe::Reason::kNone);
  ASSERT_EQ(eng->apply_fill(a, -1, put, pe::Side::kBuy, 1.0, 70.0), pe::Reason::kNone);
  const pmm::DeriveMargin r = reference(u, {{call, -3.0}, {put, 1.0}}, 0);
  // 2 naked contracts at 3,000 with spot 3,000
  EXPECT_NEAR(r.mm_contingency, 2.0 * 3000.0 * 0.003, 1e-9);
  EXPECT_NEAR(eng->margin(a, 0).maintenance_margin, r.maintenance_margin, 1e-9);
  EXPECT_NEAR(eng->margin(a, 0).initial_margin, r.initial_margin, 1e-9);
}

TEST(PreTradeDerive, IncrementalEqualsRecomputeAndChecksEqualDoingIt) {
  Universe u = make_derive_universe(2);
  auto eng = make(u);
  // market updates: the indices within +-1 %, each expiry's one forward, vols within +-2.5 %
  pretrade_test::random_stream(u, *eng, 4, 5e7, 6000, 7, 4.0, [](Universe& x, auto& u01) {
    for (double& s : x.index) s *= 1.0 + 0.02 * (u01() - 0.5);
    for (std::size_t i = 0; i < x.spec.size(); ++i) {
      const double s0 = x.index[static_cast<std::size_t>(x.spec[i].underlying)];
      const bool option = x.spec[i].kind == 3;
      const double days = option ? static_cast<double>(x.spec[i].expiry_id) : 0.0;
      x.market[i].forward = option ? s0 * (1 + 0.0003 * days) : s0 * 1.0002;
      if (x.market[i].vol > 0) x.market[i].vol *= 1.0 + 0.05 * (u01() - 0.5);
    }
  });
  const std::vector<std::int64_t> acct = {0, 1, 2, 3};
  // the snapshot restores every account exactly
  std::unique_ptr<pe::PreTradeEngine> back;
  const pymargin::Status st = pe::PreTradeEngine::restore(eng->snapshot(), &back);
  ASSERT_TRUE(st.ok()) << st.field << ": " << st.message;
  EXPECT_EQ(back->model(), pe::Model::kDerive);
  for (std::int64_t a : acct)
    pretrade_test::expect_same_margin(back->margin(a, 0), eng->margin(a, 0), "restored");
  EXPECT_EQ(back->snapshot(), eng->snapshot());
}

TEST(PreTradeDerive, WhatTheModelDoesNotCoverIsRefusedByName) {
  auto refused = [](const Universe& u, const char* field) {
    std::unique_ptr<pe::PreTradeEngine> e;
    const pymargin::Status st = pe::PreTradeEngine::create(u.cfg, u.spec, u.market, u.index, &e);
    EXPECT_FALSE(st.ok()) << field;
    EXPECT_EQ(std::string(st.field), field);
    EXPECT_EQ(e, nullptr);
  };
  {
    Universe u = make_derive_universe();
    u.spec.push_back({1, 0, 0, 0, 0, 0.0, 30});  // a dated future
    u.market.push_back({3010.0, 0.0, 30.0 / 365.0, 0.0});
    refused(u, "kind");
  }
  {
    Universe u = make_derive_universe();
    u.spec[0].settlement = 1;  // an inverse option
    refused(u, "settlement");
  }
  {
    Universe u = make_derive_universe();
    u.market[3].forward *= 1.001;  // two forwards in one expiry
    refused(u, "market");
  }
  {
    Universe u = make_derive_universe();
    u.cfg.derive.params.mm_factor = std::numeric_limits<double>::quiet_NaN();
    refused(u, "params");
  }
  {
    Universe u = make_derive_universe();
    u.cfg.derive.scenarios.resize(62, u.cfg.derive.scenarios[0]);
    refused(u, "derive.scenarios");
  }
  {
    Universe u = make_derive_universe();
    u.cfg.derive.scenarios[3].spot_shock = 1.2;
    u.cfg.derive.scenarios[3].vol = pmm::DeriveVolShock::kLinear;  // a skew with a spot move
    refused(u, "scenarios.spot_shock");
  }
  {
    Universe u = make_derive_universe();
    u.spec[2].strike_floor = 0.01;  // a grid term
    refused(u, "strike_floor");
  }
  // a market update with two forwards in one expiry changes nothing
  Universe u = make_derive_universe();
  auto eng = make(u);
  std::int64_t a = -1;
  ASSERT_TRUE(eng->add_account(&a).ok());
  ASSERT_EQ(eng->deposit(a, 0, 1e5), pe::Reason::kNone);
  ASSERT_EQ(eng->apply_fill(a, -1, 3, pe::Side::kSell, 2.0, 50.0), pe::Reason::kNone);
  const pe::GroupMargin before = eng->margin(a, 0);
  u.market[2].forward *= 1.01;
  EXPECT_FALSE(eng->on_market_update(u.market, u.index).ok());
  pretrade_test::expect_same_margin(eng->margin(a, 0), before, "refused update");
}
