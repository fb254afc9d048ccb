// SPDX-License-Identifier: Apache-2.0
// The pre-trade engine under Deribit X:PM (Model::kDeribitCross): one USD margin group per
// account over coin- and USDC-settled books, the coins' equity shocked with their price.
// (pytest tests/accounts/test_engine_models.py compares the engine with pymargin's X:PM of the same
// book, built independently from the market.)
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "pretrade_universe.hpp"

namespace pe = pymargin::engine;
using pretrade_test::EngineUniverse;
using pretrade_test::make;

namespace {

// BTC and ETH (underlyings 0 and 1), currencies BTC (0), ETH (1), USDC (2). BTC: inverse
// options over two expiries, an inverse future and the perpetual; ETH: the inverse
// perpetual; USDC: linear BTC options and the linear BTC perpetual.
EngineUniverse cross_universe(double btc_haircut = 0.0) {
  EngineUniverse u;
  u.cfg.model = pe::Model::kDeribitCross;
  u.cfg.max_accounts = 16;
  u.cfg.pairs = {pe::PairParams{}, pe::PairParams{}};
  u.index = {65000.0, 3200.0};
  pe::CurrencyParams btc;
  btc.coin_underlying = 0;
  btc.equity_side = pe::EquitySide::kBoth;
  btc.haircut = btc_haircut;
  btc.pnl_offset = 0.6;  // the 2026-02-15 coin and USD parameters (pymargin/data/models)
  btc.max_offsetable_pnl = 2e7;
  pe::CurrencyParams eth = btc;
  eth.coin_underlying = 1;
  eth.haircut = 0.0;
  pe::CurrencyParams usdc;
  usdc.usd_settled = true;
  usdc.annualised_move_risk = 0.10;
  usdc.extended_dampener = 25000.0;
  usdc.pnl_offset = 0.4;
  usdc.max_offsetable_pnl = 1e6;
  u.cfg.currencies = {btc, eth, usdc};
  for (const double d : {9.0, 37.0}) {
    const double f = 65000.0 * (1 + 0.0004 * d);
    for (double m = 0.7; m <= 1.31; m += 0.1) {
      for (std::uint8_t call = 0; call <= 1; ++call) {
        const double k = std::round(65000.0 * m);
        const double vol = 0.5 + 0.3 * std::fabs(m - 1);
        u.spec.push_back({3, 1, call, 0, 0, k, static_cast<std::int64_t>(d)});
        u.market.push_back({f, vol, d / 365.0, 0.0});
        u.spec.push_back({3, 0, call, 0, 2, k, static_cast<std::int64_t>(d)});
        u.market.push_back({f, vol, d / 365.0, 0.0});
      }
    }
    u.spec.push_back({1, 1, 0, 0, 0, 0.0, static_cast<std::int64_t>(d)});
    u.market.push_back({f, 0.0, d / 365.0, 0.0});
  }
  u.spec.push_back({2, 1, 0, 0, 0, 0.0, -1});  // BTC-PERPETUAL (USD amounts)
  u.market.push_back({65010.0, 0.0, 0.0, 0.0});
  u.spec.push_back({2, 1, 0, 1, 1, 0.0, -1});  // ETH-PERPETUAL
  u.market.push_back({3201.0, 0.0, 0.0, 0.0});
  u.spec.push_back({2, 0, 0, 0, 2, 0.0, -1});  // BTC_USDC-PERPETUAL
  u.market.push_back({65005.0, 0.0, 0.0, 0.0});
  return u;
}

double amount_for(const EngineUniverse& u, std::int32_t i, double coins) {
  const pe::InstrumentSpec& s = u.spec[static_cast<std::size_t>(i)];
  const double f = u.market[static_cast<std::size_t>(i)].forward;
  return (s.kind != 3 && s.settlement == 1) ? coins * f : coins;  // inverse futures: USD
}

void expect_equal(const pe::GroupMargin& inc, const pe::GroupMargin& ref, const char* where) {
  EXPECT_EQ(inc.initial_margin, ref.initial_margin) << where;
  EXPECT_EQ(inc.maintenance_margin, ref.maintenance_margin) << where;
  EXPECT_EQ(inc.equity, ref.equity) << where;
  EXPECT_EQ(inc.available_funds, ref.available_funds) << where;
  EXPECT_EQ(inc.roll_shock, ref.roll_shock) << where;
  EXPECT_EQ(inc.worst_case, ref.worst_case) << where;
  EXPECT_EQ(inc.delta_shock_exceeded, ref.delta_shock_exceeded) << where;
}

std::int32_t find(const EngineUniverse& u, std::uint8_t kind, std::uint8_t settlement,
                  std::int32_t currency, std::uint8_t call = 0, double strike = 0.0) {
  for (std::size_t i = 0; i < u.spec.size(); ++i) {
    const pe::InstrumentSpec& s = u.spec[i];
    if (s.kind == kind && s.settlement == settlement && s.currency == currency &&
        s.is_call == call && (strike == 0.0 || s.strike == strike)) {
      return static_cast<std::int32_t>(i);
    }
  }
  return -1;
}

}  // namespace

TEST(PreTradeCross, IncrementalStateEqualsRecomputeAndChecksEqualDoingIt) {
  EngineUniverse u = cross_universe(0.02);
  auto eng = make(u);
  ASSERT_NE(eng, nullptr);
  std::vector<std::int64_t> acct(4);
  for (auto& a : acct) {
    ASSERT_TRUE(eng->add_account(&a).ok());
    ASSERT_EQ(eng->deposit(a, 0, 40.0), pe::Reason::kNone);
    ASSERT_EQ(eng->deposit(a, 1, 300.0), pe::Reason::kNone);
    ASSERT_EQ(eng->deposit(a, 2, 2e6), pe::Reason::kNone);
  }
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  std::vector<std::vector<std::int64_t>> open(acct.size());
  std::int64_t next_id = 1;
  const auto n = static_cast<std::int32_t>(u.spec.size());
  for (int step = 0; step < 6000; ++step) {
    const std::size_t k = rng() % acct.size();
    const std::int64_t a = acct[k];
    const double r = u01(rng);
    const auto i = static_cast<std::int32_t>(rng() % static_cast<std::uint64_t>(n));
    const pe::Side side = u01(rng) < 0.5 ? pe::Side::kBuy : pe::Side::kSell;
    const double amount = amount_for(u, i, 0.1 + 3 * u01(rng));
    if (r < 0.3) {
      const pe::CheckResult c = eng->check(a, i, side, amount);
      ASSERT_EQ(eng->add_order(a, next_id, i, side, amount), pe::Reason::kNone);
      const pe::GroupMargin after = eng->margin(a, c.currency);
      EXPECT_NEAR(c.im_after, after.initial_margin, 1e-9 * (1 + after.initial_margin));
      EXPECT_NEAR(c.available_after, after.available_funds, 1e-9 * (1 + std::fabs(after.equity)));
      open[k].push_back(next_id++);
    } else if (r < 0.45 && !open[k].empty()) {
      const std::size_t j = rng() % open[k].size();
      ASSERT_EQ(eng->cancel_order(a, open[k][j]), pe::Reason::kNone);
      open[k].erase(open[k].begin() + static_cast<std::ptrdiff_t>(j));
    } else if (r < 0.85) {
      const pe::InstrumentSpec& s = u.spec[static_cast<std::size_t>(i)];
      const double price =
          s.kind == 3 ? (s.settlement == 1 ? 0.01 + 0.05 * u01(rng) : 500 + 3000 * u01(rng))
                      : u.market[static_cast<std::size_t>(i)].forward * (0.98 + 0.04 * u01(rng));
      ASSERT_EQ(eng->apply_fill(a, -1, i, side, amount, price), pe::Reason::kNone);
    } else if (r < 0.9) {
      ASSERT_EQ(eng->deposit(a, static_cast<std::int32_t>(rng() % 3), 1.0 + u01(rng)),
                pe::Reason::kNone);
    } else if (r < 0.95) {
      // a withdrawal is accepted exactly when it leaves available funds >= 0
      const auto c = static_cast<std::int32_t>(rng() % 3);
      const pe::GroupMargin before = eng->margin(a, c);
      const pe::Reason why = eng->withdraw(a, c, 0.5);
      const pe::GroupMargin after = eng->margin(a, c);
      if (why == pe::Reason::kNone) {
        EXPECT_GE(after.available_funds, 0.0);
      } else {
        EXPECT_EQ(why, pe::Reason::kInsufficientFunds);
        expect_equal(after, before, "refused withdrawal");
      }
    } else {
      const double f = 1.0 + 0.02 * (u01(rng) - 0.5);
      const double g = 1.0 + 0.03 * (u01(rng) - 0.5);
      for (std::size_t j = 0; j < u.market.size(); ++j) {
        u.market[j].forward *= u.spec[j].underlying == 0 ? f : g;
        if (u.market[j].vol > 0) u.market[j].vol *= 1.0 + 0.05 * (u01(rng) - 0.5);
      }
      u.index[0] *= f;
      u.index[1] *= g;
      ASSERT_TRUE(eng->on_market_update(u.market, u.index).ok());
    }
    if (step % 53 == 0) {
      expect_equal(eng->margin(a, 0), eng->margin_from_scratch(a, 0), "stream");
    }
  }
  for (std::int64_t a : acct) {
    const pe::GroupMargin g = eng->margin(a, 2);
    EXPECT_GT(g.initial_margin, 0.0);
    expect_equal(g, eng->margin_from_scratch(a, 2), "end");
    // One group: every currency reads the same USD figures.
    expect_equal(eng->margin(a, 0), g, "currency 0");
    expect_equal(eng->margin(a, 1), g, "currency 1");
  }
}

TEST(PreTradeCross, ACoinBalanceHedgesAsFarAsItsGainsAreCreditedAndHaircutsCutTheEquity) {
  // Short 1 BTC of the USDC perpetual (forward 65,005) with 1 BTC in the wallet (index
  // 65,000), by hand from the construction: at +16 % the perpetual loses 10,400.8 and the
  // coin gains 10,400, credited at BTC's pnl_offset 0.6: -4,160.8; at -16 % the coin loses
  // 10,400 and the perpetual's 10,400.8 gain is credited at USDC's 0.4: -6,239.68, the worst
  // case (the extended entries are dampened to nothing). Roll shock: 0.01 x 1 coin x 65,000.
  EngineUniverse u = cross_universe(0.1);
  const std::int32_t perp = find(u, 2, 0, 2);
  ASSERT_GE(perp, 0);
  auto eng = make(u);
  std::int64_t a = -1;
  ASSERT_TRUE(eng->add_account(&a).ok());
  ASSERT_EQ(eng->deposit(a, 2, 1e5), pe::Reason::kNone);
  ASSERT_EQ(eng->apply_fill(a, -1, perp, pe::Side::kSell, 1.0, 65005.0), pe::Reason::kNone);
  const pe::GroupMargin naked = eng->margin(a, 2);
  EXPECT_NEAR(naked.worst_case, 10400.8, 1e-6);
  EXPECT_NEAR(naked.roll_shock, 650.0, 1e-9);
  ASSERT_EQ(eng->deposit(a, 0, 1.0), pe::Reason::kNone);
  const pe::GroupMargin covered = eng->margin(a, 0);
  EXPECT_NEAR(covered.worst_case, 6239.68, 1e-6);
  EXPECT_NEAR(covered.initial_margin, 6239.68 + 650.0, 1e-6);
  EXPECT_NEAR(covered.maintenance_margin, 0.8 * (6239.68 + 650.0), 1e-6);
  // Equity: USDC one to one, the BTC balance at the index less its 10 % haircut.
  EXPECT_NEAR(covered.equity - naked.equity, 65000.0 * 0.9, 1e-6);
  expect_equal(covered, eng->margin_from_scratch(a, 1), "covered");

  // With the coin's equity not shocked (equity_side none) the balance hedges nothing.
  EngineUniverse flat = cross_universe(0.1);
  flat.cfg.currencies[0].equity_side = pe::EquitySide::kNone;
  auto eng2 = make(flat);
  std::int64_t b = -1;
  ASSERT_TRUE(eng2->add_account(&b).ok());
  ASSERT_EQ(eng2->deposit(b, 2, 1e5), pe::Reason::kNone);
  ASSERT_EQ(eng2->apply_fill(b, -1, perp, pe::Side::kSell, 1.0, 65005.0), pe::Reason::kNone);
  ASSERT_EQ(eng2->deposit(b, 0, 1.0), pe::Reason::kNone);
  EXPECT_EQ(eng2->margin(b, 0).worst_case, naked.worst_case);

  // Only the coin's gains (an offset currency): at -16 % the coin's loss does not count, the
  // perpetual's gain is credited: no loss there; at +16 % -4,160.8 is the worst case.
  EngineUniverse up = cross_universe(0.1);
  up.cfg.currencies[0].equity_side = pe::EquitySide::kPositive;
  auto eng3 = make(up);
  std::int64_t c = -1;
  ASSERT_TRUE(eng3->add_account(&c).ok());
  ASSERT_EQ(eng3->deposit(c, 2, 1e5), pe::Reason::kNone);
  ASSERT_EQ(eng3->apply_fill(c, -1, perp, pe::Side::kSell, 1.0, 65005.0), pe::Reason::kNone);
  ASSERT_EQ(eng3->deposit(c, 0, 1.0), pe::Reason::kNone);
  EXPECT_NEAR(eng3->margin(c, 0).worst_case, 4160.8, 1e-6);
}

TEST(PreTradeCross, AWithdrawalThatWouldRaiseTheRequirementPastEquityIsRefused) {
  // 10 BTC in the wallet against 10 BTC short of the USDC perpetual: worst case 62,396.8
  // (ten times the example above). Withdrawing 9.5 BTC removes the hedge: at +16 % the
  // perpetual's 104,008 loss against 5,200 x 0.6 of coin gain, beyond the 32,500 USD left.
  EngineUniverse u = cross_universe();
  const std::int32_t perp = find(u, 2, 0, 2);
  ASSERT_GE(perp, 0);
  auto eng = make(u);
  std::int64_t a = -1;
  ASSERT_TRUE(eng->add_account(&a).ok());
  ASSERT_EQ(eng->deposit(a, 0, 10.0), pe::Reason::kNone);
  ASSERT_EQ(eng->apply_fill(a, -1, perp, pe::Side::kSell, 10.0, 65005.0), pe::Reason::kNone);
  const pe::GroupMargin hedged = eng->margin(a, 0);
  EXPECT_NEAR(hedged.worst_case, 62396.8, 1e-5);
  EXPECT_EQ(eng->withdraw(a, 0, 9.5), pe::Reason::kInsufficientFunds);
  expect_equal(eng->margin(a, 0), hedged, "refused");
  expect_equal(eng->margin(a, 0), eng->margin_from_scratch(a, 0), "refused, recomputed");
  EXPECT_EQ(eng->withdraw(a, 0, 0.1), pe::Reason::kNone);
  const pe::GroupMargin after = eng->margin(a, 0);
  EXPECT_GE(after.available_funds, 0.0);
  // 9.9 BTC: at -16 % -9.9 x 10,400 + 0.4 x 104,008 = -61,356.8 (the coin was the loss)
  EXPECT_NEAR(after.worst_case, 61356.8, 1e-5);
  expect_equal(after, eng->margin_from_scratch(a, 0), "withdrawn");
}

TEST(PreTradeCross, SnapshotsRoundTripAndBadConfigurationsAreRefused) {
  EngineUniverse u = cross_universe(0.05);
  auto eng = make(u);
  std::int64_t a = -1;
  ASSERT_TRUE(eng->add_account(&a).ok());
  ASSERT_EQ(eng->deposit(a, 0, 3.0), pe::Reason::kNone);
  ASSERT_EQ(eng->deposit(a, 2, 5e4), pe::Reason::kNone);
  ASSERT_EQ(eng->apply_fill(a, -1, 0, pe::Side::kSell, 2.0, 0.01), pe::Reason::kNone);
  ASSERT_EQ(eng->add_order(a, 1, find(u, 2, 1, 1), pe::Side::kBuy, 3000.0), pe::Reason::kNone);
  std::unique_ptr<pe::PreTradeEngine> back;
  ASSERT_TRUE(pe::PreTradeEngine::restore(eng->snapshot(), &back).ok());
  EXPECT_EQ(back->model(), pe::Model::kDeribitCross);
  expect_equal(back->margin(a, 0), eng->margin(a, 0), "restored");
  EXPECT_EQ(back->snapshot(), eng->snapshot());

  auto refused = [](const EngineUniverse& bad, const char* field) {
    std::unique_ptr<pe::PreTradeEngine> e;
    const pymargin::Status st =
        pe::PreTradeEngine::create(bad.cfg, bad.spec, bad.market, bad.index, &e);
    EXPECT_FALSE(st.ok()) << field;
    EXPECT_EQ(std::string(st.field), field);
    EXPECT_EQ(e, nullptr);
  };
  EngineUniverse no_coin = cross_universe();
  no_coin.cfg.currencies[1].coin_underlying = -1;
  refused(no_coin, "currencies.coin_underlying");
  EngineUniverse priced_stable = cross_universe();
  priced_stable.cfg.currencies[2].coin_underlying = 0;
  refused(priced_stable, "currencies.coin_underlying");
  EngineUniverse haircut = cross_universe(1.5);
  refused(haircut, "currencies.haircut");
  EngineUniverse side = cross_universe();
  side.cfg.currencies[0].equity_side = static_cast<pe::EquitySide>(7);
  refused(side, "currencies.equity_side");
}
