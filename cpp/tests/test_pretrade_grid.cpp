// SPDX-License-Identifier: Apache-2.0
// The pre-trade engine under a grid model (Model::kScenarioGrid): its margin against the
// core's scenario-margin model applied to independently revalued books, incremental ==
// recompute over random streams, check() against doing it, snapshots (and version 2), and
// the configuration it refuses.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "pretrade_universe.hpp"
#include "pymargin/engine/pretrade.hpp"
#include "pymargin/kernel/revalue.hpp"
#include "pymargin/models/scenario_margin.hpp"
#include "pymargin/pricing/black.hpp"

namespace pe = pymargin::engine;
namespace sc = pymargin::scenarios;

namespace {

// Two underlyings with different grids: BTC a Paradex-shaped grid (moves +-15 % in 5 %
// steps with vol up and down, the edges vol up only, and weighted tail moves; relative vol
// shock; minimum delta factors), ETH a 7-scenario grid with an additive vol shock, half of
// the gains credited and a per-contract minimum. USDC-settled linear options, futures and
// perpetuals, one margin group.
using GridUniverse = pretrade_test::EngineUniverse;
using pretrade_test::make;

pe::GridAsset btc_asset() {
  pe::GridAsset a;
  for (int k = -3; k <= 3; ++k) {
    for (int vs : {1, -1}) {
      if (std::abs(k) == 3 && vs == -1) continue;
      a.moves.push_back(0.05 * k);
      a.vol_states.push_back(static_cast<std::int8_t>(vs));
      a.weights.push_back(1.0);
    }
  }
  const double tail_moves[] = {-0.66, -0.5, -0.33, -0.25, 0.25, 0.5, 1.0, 2.0};
  const double tail_weights[] = {0.24, 0.32, 0.48, 0.5, 0.5, 0.3, 0.15, 0.08};
  for (int k = 0; k < 8; ++k) {
    a.moves.push_back(tail_moves[k]);
    a.vol_states.push_back(1);
    a.weights.push_back(tail_weights[k]);
  }
  a.vol_rule.kind = sc::VolShockKind::kRelative;
  a.vol_rule.range_up = 0.45;
  a.vol_rule.range_down = 0.3;
  a.vol_rule.min_vol_up = 0.4;
  a.unhedged_delta = 0.02;
  a.hedged_delta = 0.01;
  return a;
}

pe::GridAsset eth_asset() {
  pe::GridAsset a;
  a.moves = {-0.2, -0.2, 0.0, 0.0, 0.2, 0.2, -0.5};
  a.vol_states = {1, -1, 1, -1, 1, -1, 1};
  a.weights = {1, 1, 1, 1, 1, 1, 0.3};
  a.vol_rule.kind = sc::VolShockKind::kAdditive;
  a.vol_rule.range_up = 0.1;
  a.vol_rule.range_down = 0.05;
  a.pnl_offset = 0.5;
  return a;
}

// strike_floor: the short-option floor of the ETH options (a fraction of the index per unit
// net short at a strike, calls and puts netted), as a venue with an IM multiplier sets it.
GridUniverse make_grid_universe(double strike_floor = 0.0) {
  GridUniverse u;
  u.index = {65000.0, 3400.0};
  u.cfg.model = pe::Model::kScenarioGrid;
  u.cfg.mm_factor = 0.5;
  u.cfg.max_accounts = 64;
  u.cfg.grid.assets = {btc_asset(), eth_asset()};
  pe::CurrencyParams usdc;
  usdc.usd_settled = true;
  u.cfg.currencies = {usdc};
  // ETH: a minimum of 25 USD per 10-coin contract
  pretrade_test::add_usd_chain(u, {4, 25, 80}, 0.7, 1.31, 1.0001, {0.0, 2.5});
  for (pe::InstrumentSpec& sp : u.spec) {
    if (sp.kind == 3 && sp.underlying == 1) sp.strike_floor = strike_floor;
  }
  return u;
}

// The margin of a book under the grid model, assembled here from its definition: each
// underlying's instruments revalued over its own grid, P&L summed per underlying, the
// scenario-margin model applied with a group and a set per underlying (weights, gain credit,
// net and gross delta at the index, the summed minimum charges), then the short-option
// floor added: per (underlying, expiry, strike) the options' net of amount x strike_floor,
// its shorts at the index. Amounts per instrument.
double reference_rmm(const GridUniverse& u, const std::map<std::int32_t, double>& book) {
  std::vector<pymargin::models::GroupView> groups;
  std::vector<std::vector<double>> pnl(u.cfg.grid.assets.size());
  std::vector<double> net(2, 0.0), gross(2, 0.0), floor(2, 0.0);
  std::vector<bool> held(2, false);
  std::map<std::tuple<std::int32_t, std::int64_t, double>, double> at_strike;
  for (const auto& [i, q] : book) {
    const pe::InstrumentSpec& sp = u.spec[static_cast<std::size_t>(i)];
    if (sp.strike_floor > 0.0)
      at_strike[{sp.underlying, sp.expiry_id, sp.strike}] += q * sp.strike_floor;
    const pe::InstrumentMarket& mk = u.market[static_cast<std::size_t>(i)];
    const auto und = static_cast<std::size_t>(sp.underlying);
    const pe::GridAsset& ga = u.cfg.grid.assets[und];
    const std::size_t ns = ga.moves.size();
    const std::int32_t zero = 0;
    pymargin::kernel::InstrumentView iv{1,        &sp.kind,   &sp.settlement, &sp.is_call,
                                        &zero,    &sp.strike, &mk.forward,    &mk.vol,
                                        &mk.time, &mk.rate};
    sc::ScenarioView sv{ns, 1, ga.moves.data(), ga.vol_states.data(), &ga.vol_rule};
    std::vector<double> row(ns);
    EXPECT_TRUE(pymargin::kernel::revalue(iv, sv, row.data(), 1).ok());
    if (pnl[und].empty()) pnl[und].assign(ns, 0.0);
    for (std::size_t j = 0; j < ns; ++j) pnl[und][j] += q * row[j];
    const double delta = sp.kind == 3 ? pymargin::pricing::black76_greeks(
                                            mk.forward, sp.strike, mk.time, mk.vol, mk.rate,
                                            sp.is_call ? pymargin::pricing::OptionType::kCall
                                                       : pymargin::pricing::OptionType::kPut)
                                            .delta_forward
                                      : 1.0;
    net[und] += q * delta;
    gross[und] += std::fabs(q * delta);
    floor[und] += std::fabs(q) * sp.floor_long;
    held[und] = true;
  }
  double rmm = 0.0;
  for (std::size_t und = 0; und < 2; ++und) {
    if (!held[und]) continue;
    const pe::GridAsset& ga = u.cfg.grid.assets[und];
    pymargin::models::GroupView g;
    g.pnl = pnl[und].data();
    g.weight = ga.weights.data();
    g.pnl_offset = ga.pnl_offset;
    g.cap = INFINITY;
    g.net_delta = net[und];
    g.gross_delta = gross[und];
    g.delta_price = u.index[und];
    g.unhedged_delta = ga.unhedged_delta;
    g.hedged_delta = ga.hedged_delta;
    g.floor = floor[und];
    pymargin::models::SetResult set;
    pymargin::models::MarginResult res;
    std::vector<double> entries(ga.moves.size());
    pymargin::models::ModelRules rules;
    rules.mm_factor = u.cfg.mm_factor;
    EXPECT_TRUE(pymargin::models::scenario_margin(rules, ga.moves.size(), 1, &g, 1, 0, nullptr,
                                                  nullptr, 0.0, 0.0, &set, &res, entries.data())
                    .ok());
    rmm += res.rmm;
  }
  for (const auto& [key, t] : at_strike) {
    rmm += std::max(0.0, -t) * u.index[static_cast<std::size_t>(std::get<0>(key))];
  }
  return rmm;
}

void expect_bitwise(const pe::GroupMargin& a, const pe::GroupMargin& b, const char* where) {
  EXPECT_EQ(a.initial_margin, b.initial_margin) << where;
  EXPECT_EQ(a.maintenance_margin, b.maintenance_margin) << where;
  EXPECT_EQ(a.equity, b.equity) << where;
  EXPECT_EQ(a.worst_case, b.worst_case) << where;
  EXPECT_EQ(a.roll_shock, 0.0) << where;
}

}  // namespace

void margin_is_the_model_of_the_book(double strike_floor) {
  GridUniverse u = make_grid_universe(strike_floor);
  auto eng = make(u);
  ASSERT_EQ(eng->model(), pe::Model::kScenarioGrid);
  ASSERT_EQ(eng->scenarios(), 20u);  // the larger grid (BTC); ETH padded with weight-0 entries
  std::int64_t a = -1;
  ASSERT_TRUE(eng->add_account(&a).ok());
  ASSERT_EQ(eng->deposit(a, 0, 1e6), pe::Reason::kNone);
  std::mt19937_64 rng(11);
  std::map<std::int32_t, double> pos, buys, sells;
  const auto n = static_cast<std::int32_t>(u.spec.size());
  for (int k = 0; k < 60; ++k) {
    const auto i = static_cast<std::int32_t>(rng() % static_cast<std::uint64_t>(n));
    const double q = 0.5 + static_cast<double>(rng() % 8);
    const pe::Side side = (rng() & 1) ? pe::Side::kBuy : pe::Side::kSell;
    if (k % 3 == 0) {
      ASSERT_EQ(eng->add_order(a, k, i, side, q), pe::Reason::kNone);
      (side == pe::Side::kBuy ? buys : sells)[i] += q;
    } else {
      ASSERT_EQ(eng->apply_fill(a, -1, i, side, q, 100.0), pe::Reason::kNone);
      pos[i] += side == pe::Side::kBuy ? q : -q;
    }
  }
  auto with = [&](const std::map<std::int32_t, double>& orders, double sign) {
    std::map<std::int32_t, double> b = pos;
    for (const auto& [i, q] : orders) b[i] += sign * q;
    return b;
  };
  const double rmm0 = reference_rmm(u, pos);
  const double im =
      std::max({rmm0, reference_rmm(u, with(buys, 1.0)), reference_rmm(u, with(sells, -1.0))});
  const pe::GroupMargin g = eng->margin(a, 0);
  EXPECT_NEAR(g.initial_margin, im, 1e-11 * im);
  EXPECT_NEAR(g.maintenance_margin, 0.5 * rmm0, 1e-11 * rmm0);
  EXPECT_NEAR(g.worst_case, rmm0, 1e-11 * rmm0);
  EXPECT_GT(g.initial_margin, 0.0);
  expect_bitwise(g, eng->margin_from_scratch(a, 0), "book");
}

TEST(PreTradeGrid, MarginIsTheScenarioModelOfTheBookWithEachSideOfOrdersFilled) {
  margin_is_the_model_of_the_book(0.0);
}

// Aevo's terms: 0.01 of the index per net short contract x its IM multiplier 1.25.
TEST(PreTradeGrid, WithStrikeFloorsTheMarginIsStillTheModelOfTheBook) {
  margin_is_the_model_of_the_book(0.0125);
}

// The short-option floor by hand: calls and puts net at a strike, each strike on its own,
// checks equal resting the order, incremental equals recompute.
TEST(PreTradeGrid, TheShortOptionFloorNetsCallsAndPutsPerStrike) {
  const double sf = 0.0125;
  GridUniverse u = make_grid_universe(sf);
  auto eng = make(u);
  std::int64_t a = -1;
  ASSERT_TRUE(eng->add_account(&a).ok());
  ASSERT_EQ(eng->deposit(a, 0, 1e6), pe::Reason::kNone);
  const std::int32_t put = 46 + 6, call = 46 + 7;  // ETH, first expiry, strike 3400
  ASSERT_EQ(u.spec[put].is_call, 0);
  ASSERT_EQ(u.spec[call].is_call, 1);
  ASSERT_EQ(u.spec[put].strike, u.spec[call].strike);
  ASSERT_EQ(u.spec[put].strike, 3400.0);
  ASSERT_EQ(eng->apply_fill(a, -1, put, pe::Side::kSell, 2.0, 100.0), pe::Reason::kNone);
  ASSERT_EQ(eng->apply_fill(a, -1, call, pe::Side::kBuy, 1.0, 100.0), pe::Reason::kNone);
  GridUniverse plain = make_grid_universe(0.0);
  const std::map<std::int32_t, double> book = {{put, -2.0}, {call, 1.0}};
  // one net short contract at 3400: sf x 3400 on top of the charge
  EXPECT_NEAR(eng->margin(a, 0).worst_case, reference_rmm(plain, book) + sf * 3400.0, 1e-9);
  // a long call at the next strike does not offset the short at 3400
  const std::int32_t call_up = 46 + 9;
  ASSERT_EQ(u.spec[call_up].strike, 3740.0);
  ASSERT_EQ(eng->apply_fill(a, -1, call_up, pe::Side::kBuy, 3.0, 10.0), pe::Reason::kNone);
  const std::map<std::int32_t, double> book2 = {{put, -2.0}, {call, 1.0}, {call_up, 3.0}};
  EXPECT_NEAR(eng->margin(a, 0).worst_case, reference_rmm(plain, book2) + sf * 3400.0, 1e-9);
  // a buy order of 1 call at 3400 flattens the strike in the buy state; a sell order of 2
  // calls at 3740 leaves it long 1 (no floor there), a sell of 0.5 puts takes 3400 to -1.5
  for (const auto& [i, side, q] :
       {std::tuple{call, pe::Side::kBuy, 1.0}, std::tuple{call_up, pe::Side::kSell, 2.0},
        std::tuple{put, pe::Side::kSell, 0.5}}) {
    const pe::CheckResult c = eng->check(a, i, side, q);
    ASSERT_EQ(eng->add_order(a, 100 + i, i, side, q), pe::Reason::kNone);
    EXPECT_NEAR(c.im_after, eng->margin(a, 0).initial_margin, 1e-9);
    expect_bitwise(eng->margin(a, 0), eng->margin_from_scratch(a, 0), "orders");
  }
  std::map<std::int32_t, double> buy = book2, sell = book2;
  buy[call] += 1.0;
  sell[call_up] -= 2.0;
  sell[put] -= 0.5;
  EXPECT_NEAR(reference_rmm(u, buy), reference_rmm(plain, buy), 1e-9);  // flat at 3400
  EXPECT_NEAR(reference_rmm(u, sell), reference_rmm(plain, sell) + sf * 1.5 * 3400.0, 1e-9);
  const double im =
      std::max({reference_rmm(u, book2), reference_rmm(u, buy), reference_rmm(u, sell)});
  EXPECT_NEAR(eng->margin(a, 0).initial_margin, im, 1e-9);
  // the snapshot keeps the strike floors
  std::unique_ptr<pe::PreTradeEngine> back;
  ASSERT_TRUE(pe::PreTradeEngine::restore(eng->snapshot(), &back).ok());
  expect_bitwise(back->margin(a, 0), eng->margin(a, 0), "restored");
  EXPECT_EQ(back->instrument(static_cast<std::size_t>(put)).strike_floor, sf);
}

TEST(PreTradeGrid, TheMinimumTermsBindWhereTheyShould) {
  GridUniverse u = make_grid_universe();
  auto eng = make(u);
  std::int64_t a = -1;
  ASSERT_TRUE(eng->add_account(&a).ok());
  ASSERT_EQ(eng->deposit(a, 0, 1e6), pe::Reason::kNone);
  // Long and short the same BTC perpetual amount in two expiries' futures: no scenario loss
  // to speak of, gross delta 20, net ~0: the hedged minimum delta binds,
  // 0.01 x (gross - |net|) / 2 x 65000.
  const std::int32_t btc_fut_0 = 14, btc_fut_1 = 29;
  ASSERT_EQ(u.spec[btc_fut_0].kind, 1);
  ASSERT_EQ(u.spec[btc_fut_1].kind, 1);
  ASSERT_EQ(eng->apply_fill(a, -1, btc_fut_0, pe::Side::kBuy, 10.0, 65100.0), pe::Reason::kNone);
  ASSERT_EQ(eng->apply_fill(a, -1, btc_fut_1, pe::Side::kSell, 10.0, 65700.0), pe::Reason::kNone);
  const double scan = reference_rmm(u, {{btc_fut_0, 10.0}, {btc_fut_1, -10.0}});
  EXPECT_NEAR(eng->margin(a, 0).worst_case, scan, 1e-9);
  EXPECT_NEAR(scan, 0.01 * 20.0 / 2.0 * 65000.0, 1e-6);  // the minimum delta is the charge
  // ETH: one 10-coin option contract's worth of a deep OTM option: the per-contract minimum
  // (2.5 per coin) binds over a tiny scan loss.
  std::int64_t b = -1;
  ASSERT_TRUE(eng->add_account(&b).ok());
  ASSERT_EQ(eng->deposit(b, 0, 1e6), pe::Reason::kNone);
  const std::int32_t eth_call = 46 + 13;  // ETH, first expiry, strike 1.3 x 3400, call
  ASSERT_EQ(u.spec[eth_call].underlying, 1);
  ASSERT_EQ(u.spec[eth_call].is_call, 1);
  ASSERT_EQ(eng->apply_fill(b, -1, eth_call, pe::Side::kBuy, 10.0, 0.5), pe::Reason::kNone);
  EXPECT_DOUBLE_EQ(eng->margin(b, 0).worst_case, 25.0);
}

void incremental_equals_recompute(double strike_floor) {
  GridUniverse u = make_grid_universe(strike_floor);
  auto eng = make(u);
  // market updates: both indices within +-1 %, forwards at 4 bp a day, vols within +-2.5 %
  pretrade_test::random_stream(u, *eng, 5, 5e6, 20000, 5, 5.0, [](GridUniverse& x, auto& u01) {
    for (std::size_t und = 0; und < 2; ++und) x.index[und] *= 1.0 + 0.02 * (u01() - 0.5);
    for (std::size_t i = 0; i < x.spec.size(); ++i) {
      const double f = x.index[static_cast<std::size_t>(x.spec[i].underlying)];
      x.market[i].forward = f * (1 + 0.0004 * x.market[i].time * 365);
      if (x.market[i].vol > 0) x.market[i].vol *= 1.0 + 0.05 * (u01() - 0.5);
    }
  });
}

TEST(PreTradeGrid, IncrementalStateEqualsRecomputeAndChecksEqualDoingIt) {
  incremental_equals_recompute(0.0);
}

TEST(PreTradeGrid, WithStrikeFloorsIncrementalStillEqualsRecompute) {
  incremental_equals_recompute(0.0125);
}

TEST(PreTradeGrid, FillsOfRestingOrdersKeepTheNetsExact) {
  GridUniverse u = make_grid_universe();
  auto eng = make(u);
  std::int64_t a = -1;
  ASSERT_TRUE(eng->add_account(&a).ok());
  ASSERT_EQ(eng->deposit(a, 0, 1e6), pe::Reason::kNone);
  ASSERT_EQ(eng->add_order(a, 1, 3, pe::Side::kBuy, 0.3), pe::Reason::kNone);
  ASSERT_EQ(eng->add_order(a, 2, 3, pe::Side::kSell, 2.0), pe::Reason::kNone);
  ASSERT_EQ(eng->add_order(a, 3, 50, pe::Side::kSell, 4.0), pe::Reason::kNone);
  ASSERT_EQ(eng->apply_fill(a, 1, 3, pe::Side::kBuy, 0.1, 120.0), pe::Reason::kNone);
  expect_bitwise(eng->margin(a, 0), eng->margin_from_scratch(a, 0), "partial");
  ASSERT_EQ(eng->apply_fill(a, 1, 3, pe::Side::kBuy, 0.2, 120.0), pe::Reason::kNone);  // complete
  expect_bitwise(eng->margin(a, 0), eng->margin_from_scratch(a, 0), "complete");
  ASSERT_EQ(eng->apply_fill(a, 2, 3, pe::Side::kSell, 0.3, 130.0), pe::Reason::kNone);  // flat
  expect_bitwise(eng->margin(a, 0), eng->margin_from_scratch(a, 0), "flat");
  ASSERT_EQ(eng->cancel_order(a, 3), pe::Reason::kNone);
  const pe::GroupMargin g = eng->margin(a, 0);
  expect_bitwise(g, eng->margin_from_scratch(a, 0), "cancel");
  // What is left: the sell order of 1.7 in instrument 3 and a flat position.
  EXPECT_NEAR(g.initial_margin, reference_rmm(u, {{3, -1.7}}), 1e-9);
  EXPECT_EQ(g.worst_case, 0.0);
}

TEST(PreTradeGrid, SnapshotsRoundTrip) {
  GridUniverse u = make_grid_universe();
  auto eng = make(u);
  std::mt19937_64 rng(9);
  for (int k = 0; k < 3; ++k) {
    std::int64_t a = -1;
    ASSERT_TRUE(eng->add_account(&a).ok());
    ASSERT_EQ(eng->deposit(a, 0, 1e5 * (k + 1)), pe::Reason::kNone);
    for (int j = 0; j < 30; ++j) {
      const auto i = static_cast<std::int32_t>(rng() % u.spec.size());
      ASSERT_EQ(eng->apply_fill(a, -1, i, pe::Side::kSell, 0.5, 40.0), pe::Reason::kNone);
      ASSERT_EQ(eng->add_order(a, 100 * k + j, i, pe::Side::kBuy, 0.7), pe::Reason::kNone);
    }
  }
  const std::string bytes = eng->snapshot();
  std::unique_ptr<pe::PreTradeEngine> back;
  const pymargin::Status st = pe::PreTradeEngine::restore(bytes, &back);
  ASSERT_TRUE(st.ok()) << st.field << ": " << st.message;
  ASSERT_EQ(back->model(), pe::Model::kScenarioGrid);
  for (std::int64_t a = 0; a < 3; ++a) {
    expect_bitwise(back->margin(a, 0), eng->margin_from_scratch(a, 0), "restored");
  }
  EXPECT_EQ(back->snapshot(), bytes);
}

TEST(PreTradeGrid, BadConfigurationsAreRefusedNamingTheField) {
  auto refused = [](const GridUniverse& u, const char* field) {
    std::unique_ptr<pe::PreTradeEngine> e;
    const pymargin::Status st = pe::PreTradeEngine::create(u.cfg, u.spec, u.market, u.index, &e);
    EXPECT_FALSE(st.ok()) << field;
    EXPECT_EQ(std::string(st.field), field);
    EXPECT_EQ(e, nullptr);
  };
  {
    GridUniverse u = make_grid_universe();
    u.spec[0].settlement = 1;  // an inverse option: the grid's P&L is USD
    refused(u, "settlement");
  }
  {
    GridUniverse u = make_grid_universe();
    u.cfg.currencies[0].usd_settled = false;
    refused(u, "currencies");
  }
  {
    GridUniverse u = make_grid_universe();
    u.cfg.grid.assets[1].weights[2] = NAN;
    refused(u, "grid.assets.weights");
  }
  {
    GridUniverse u = make_grid_universe();
    u.cfg.grid.assets[0].vol_states.pop_back();
    refused(u, "grid.assets");
  }
  {
    GridUniverse u = make_grid_universe();
    u.cfg.grid.assets[0].moves[0] = -1.0;
    refused(u, "grid.assets.moves");
  }
  {
    GridUniverse u = make_grid_universe();
    u.spec[5].floor_short = -1.0;
    refused(u, "floor");
  }
  for (const double bad : {-0.01, std::nan(""), std::numeric_limits<double>::infinity()}) {
    GridUniverse u = make_grid_universe(0.0125);
    u.spec[50].strike_floor = bad;
    refused(u, "strike_floor");
  }
  {
    GridUniverse u = make_grid_universe();
    ASSERT_EQ(u.spec[14].kind, 1);
    u.spec[14].strike_floor = 0.01;  // a future: a short-option floor is for options
    refused(u, "strike_floor");
  }
  {
    GridUniverse u = make_grid_universe();
    u.cfg.grid.assets.pop_back();  // ETH instruments without an asset
    refused(u, "underlying");
  }
  {
    GridUniverse u = make_grid_universe();
    u.cfg.model = pe::Model::kDeribitPortfolio;  // Deribit S:PM has no per-unit minimum
    u.cfg.pairs.assign(2, pe::PairParams{});
    refused(u, "floor");
  }
  {
    GridUniverse u = make_grid_universe(0.0125);
    for (auto& sp : u.spec) sp.floor_long = sp.floor_short = 0.0;
    u.cfg.model = pe::Model::kDeribitPortfolio;  // nor a strike floor
    u.cfg.pairs.assign(2, pe::PairParams{});
    refused(u, "strike_floor");
  }
}

// A version-2 snapshot (before the model section) of a Deribit S:PM engine still restores:
// the version-3 bytes with the model byte, the empty grid section and the per-instrument
// minimum charges taken out are the version-2 layout.
TEST(PreTradeGrid, VersionTwoSnapshotsOfDeribitEnginesStillRestore) {
  pe::EngineConfig cfg;
  cfg.pairs.push_back(pe::PairParams{});
  cfg.currencies.push_back(pe::CurrencyParams{});
  cfg.max_accounts = 4;
  std::vector<pe::InstrumentSpec> spec = {{3, 1, 1, 0, 0, 70000.0, 7}, {2, 1, 0, 0, 0, 0.0, -1}};
  std::vector<pe::InstrumentMarket> mkt = {{65100.0, 0.5, 7 / 365.0, 0.0}, {65010.0, 0, 0, 0}};
  std::unique_ptr<pe::PreTradeEngine> eng;
  ASSERT_TRUE(pe::PreTradeEngine::create(cfg, spec, mkt, {65000.0}, &eng).ok());
  std::int64_t a = -1;
  ASSERT_TRUE(eng->add_account(&a).ok());
  ASSERT_EQ(eng->deposit(a, 0, 3.0), pe::Reason::kNone);
  ASSERT_EQ(eng->apply_fill(a, -1, 0, pe::Side::kSell, 2.0, 0.01), pe::Reason::kNone);
  ASSERT_EQ(eng->add_order(a, 1, 1, pe::Side::kBuy, 30000.0), pe::Reason::kNone);
  const std::string now = eng->snapshot();
  constexpr std::size_t head = 8 + 4 + 4 + 8;
  std::string payload = now.substr(head, now.size() - head - 8);
  // Version 5 payload: buckets i32 | mm f64 | model u8 | pairs (u64 + 64) | grid (u64) |
  // standard underlyings u64 | Greek-netting (4 empty vectors, 2 f64) | SPAN (3 empty
  // vectors) | Derive (34 f64, an empty vector, a u64) | currencies (u64 + 54 each: 41 of version
  // 2, 13 of X:PM terms) | max u64 | specs (u64 + 109 each: 27 of version 2, 16 of minimum charges,
  // 8 of the strike floor, 58 of standard terms) | market (u64 + 40 each: 32 of version 2 and the
  // mark) | the rest as in version 2.
  std::size_t at = 0;
  std::string out = payload.substr(at, 12);  // buckets, mm
  at += 12 + 1;                              // the model byte dropped
  out += payload.substr(at, 8 + 64);         // pairs
  at += 8 + 64 + 8 + 8 + 48 + 24 + 288;      // grid, standard, Greek-netting, SPAN, Derive dropped
  out += payload.substr(at, 8 + 41);         // currencies without their X:PM terms
  at += 8 + 41 + 13;
  out += payload.substr(at, 8 + 8);  // max accounts, spec count
  at += 8 + 8;
  for (std::size_t k = 0; k < spec.size(); ++k) out += payload.substr(at + k * 109, 27);
  at += spec.size() * 109;
  out += payload.substr(at, 8);  // market count
  at += 8;
  for (std::size_t k = 0; k < spec.size(); ++k) out += payload.substr(at + k * 40, 32);
  at += spec.size() * 40;
  out += payload.substr(at);
  std::string bytes = now.substr(0, head);
  const std::uint32_t two = 2;
  std::memcpy(&bytes[8], &two, 4);
  const std::uint64_t len = out.size();
  std::memcpy(&bytes[16], &len, 8);
  std::uint64_t h = 1469598103934665603ULL;
  for (char c : out) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  bytes += out;
  bytes.append(reinterpret_cast<const char*>(&h), 8);
  std::unique_ptr<pe::PreTradeEngine> back;
  const pymargin::Status st = pe::PreTradeEngine::restore(bytes, &back);
  ASSERT_TRUE(st.ok()) << st.field << ": " << st.message;
  EXPECT_EQ(back->model(), pe::Model::kDeribitPortfolio);
  EXPECT_EQ(back->margin(a, 0).initial_margin, eng->margin(a, 0).initial_margin);
  EXPECT_EQ(back->snapshot(), now);  // written back in the current version
}
