// SPDX-License-Identifier: Apache-2.0
// Shared by the pre-trade model tests: a model's inputs, the engine made from them and a
// USD-settled chain to trade.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <random>
#include <vector>

#include "pymargin/engine/pretrade.hpp"

namespace pretrade_test {

namespace pe = pymargin::engine;

struct EngineUniverse {
  pe::EngineConfig cfg;
  std::vector<pe::InstrumentSpec> spec;
  std::vector<pe::InstrumentMarket> market;
  std::vector<double> index;
};

// The engine of `u`; a failed create is a test failure (and a null engine).
inline std::unique_ptr<pe::PreTradeEngine> make(const EngineUniverse& u) {
  std::unique_ptr<pe::PreTradeEngine> e;
  const pymargin::Status st = pe::PreTradeEngine::create(u.cfg, u.spec, u.market, u.index, &e);
  EXPECT_TRUE(st.ok()) << st.field << "[" << st.index << "]: " << st.message;
  return e;
}

// Per underlying of u.index, USD-settled in currency 0: for each expiry (days) calls and puts
// struck at the index times lo, lo + 0.1, ... up to hi (vol 0.5 + 0.3 |m - 1|) and a future at
// a forward of 4 bp a day; then a perpetual at the index times perp_basis. floor[u]: the
// per-unit minimum charge of every instrument of underlying u (none when empty).
inline void add_usd_chain(EngineUniverse& u, std::initializer_list<double> days, double lo,
                          double hi, double perp_basis, const std::vector<double>& floor = {}) {
  for (std::size_t k = 0; k < u.index.size(); ++k) {
    const auto und = static_cast<std::int32_t>(k);
    const double s0 = u.index[k];
    const double fl = floor.empty() ? 0.0 : floor[k];
    auto push = [&](pe::InstrumentSpec sp, const pe::InstrumentMarket& mk) {
      sp.floor_long = sp.floor_short = fl;
      u.spec.push_back(sp);
      u.market.push_back(mk);
    };
    for (const double d : days) {
      const double f = s0 * (1 + 0.0004 * d);
      for (double m = lo; m <= hi; m += 0.1) {
        for (std::uint8_t call = 0; call <= 1; ++call) {
          push({3, 0, call, und, 0, std::round(s0 * m), static_cast<std::int64_t>(d)},
               {f, 0.5 + 0.3 * std::fabs(m - 1), d / 365.0, 0.0});
        }
      }
      push({1, 0, 0, und, 0, 0.0, static_cast<std::int64_t>(d)}, {f, 0.0, d / 365.0, 0.0});
    }
    push({2, 0, 0, und, 0, 0.0, -1}, {s0 * perp_basis, 0.0, 0.0, 0.0});
  }
}

// Every figure of two group margins equal to the bit (incremental state against recompute).
inline void expect_same_margin(const pe::GroupMargin& a, const pe::GroupMargin& b,
                               const char* where) {
  EXPECT_EQ(a.initial_margin, b.initial_margin) << where;
  EXPECT_EQ(a.maintenance_margin, b.maintenance_margin) << where;
  EXPECT_EQ(a.equity, b.equity) << where;
  EXPECT_EQ(a.worst_case, b.worst_case) << where;
  EXPECT_EQ(a.roll_shock, b.roll_shock) << where;
}

// A random stream over `accounts` accounts of group 0, each funded with `deposit`: checks
// (each compared with resting the order: IM and available funds after), cancels, fills of
// resting orders (partial or whole), fills without one, and market updates made by
// move(u, u01) from u's inputs. Incremental state is compared with a recompute every 89 steps
// and for every account at the end. Amounts 0.1 .. 0.1 + max_amount, prices 50 .. 150.
template <class Move>
void random_stream(EngineUniverse& u, pe::PreTradeEngine& eng, std::size_t accounts, double deposit,
                   int steps, std::uint64_t seed, double max_amount, Move move) {
  std::vector<std::int64_t> acct(accounts);
  for (auto& a : acct) {
    ASSERT_TRUE(eng.add_account(&a).ok());
    ASSERT_EQ(eng.deposit(a, 0, deposit), pe::Reason::kNone);
  }
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uni(0.0, 1.0);
  auto u01 = [&]() { return uni(rng); };
  struct Open {
    std::int64_t id;
    std::int32_t i;
    pe::Side side;
    double left;
  };
  std::vector<std::vector<Open>> open(acct.size());
  std::int64_t next_id = 1;
  const auto n = static_cast<std::int32_t>(u.spec.size());
  for (int step = 0; step < steps; ++step) {
    const std::size_t k = rng() % acct.size();
    const std::int64_t a = acct[k];
    const double r = u01();
    const auto i = static_cast<std::int32_t>(rng() % static_cast<std::uint64_t>(n));
    const pe::Side side = u01() < 0.5 ? pe::Side::kBuy : pe::Side::kSell;
    const double amount = 0.1 + max_amount * u01();
    if (r < 0.35) {
      const pe::CheckResult c = eng.check(a, i, side, amount);
      ASSERT_EQ(eng.add_order(a, next_id, i, side, amount), pe::Reason::kNone);
      const pe::GroupMargin after = eng.margin(a, 0);
      EXPECT_NEAR(c.im_after, after.initial_margin, 1e-9 * (1 + after.initial_margin));
      EXPECT_NEAR(c.available_after, after.available_funds, 1e-9 * (1 + std::fabs(after.equity)));
      open[k].push_back({next_id++, i, side, amount});
    } else if (r < 0.5 && !open[k].empty()) {
      const std::size_t j = rng() % open[k].size();
      ASSERT_EQ(eng.cancel_order(a, open[k][j].id), pe::Reason::kNone);
      open[k].erase(open[k].begin() + static_cast<std::ptrdiff_t>(j));
    } else if (r < 0.7 && !open[k].empty()) {  // a fill of a resting order, partial or whole
      const std::size_t j = rng() % open[k].size();
      Open& o = open[k][j];
      const double q = u01() < 0.5 ? o.left : o.left * u01();
      if (!(q > 0.0)) continue;
      ASSERT_EQ(eng.apply_fill(a, o.id, o.i, o.side, q, 50.0 + 100 * u01()), pe::Reason::kNone);
      o.left -= q;
      if (o.left <= 1e-9 * (o.left + q))
        open[k].erase(open[k].begin() + static_cast<std::ptrdiff_t>(j));
    } else if (r < 0.96) {
      ASSERT_EQ(eng.apply_fill(a, -1, i, side, amount, 50.0 + 100 * u01()), pe::Reason::kNone);
    } else {
      move(u, u01);
      ASSERT_TRUE(eng.on_market_update(u.market, u.index).ok());
    }
    if (step % 89 == 0)
      expect_same_margin(eng.margin(a, 0), eng.margin_from_scratch(a, 0), "stream");
  }
  for (std::int64_t a : acct) {
    expect_same_margin(eng.margin(a, 0), eng.margin_from_scratch(a, 0), "end");
  }
}

}  // namespace pretrade_test
