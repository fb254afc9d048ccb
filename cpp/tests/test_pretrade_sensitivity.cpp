// SPDX-License-Identifier: Apache-2.0
// The pre-trade engine under the Greek-netting model (Model::kSensitivity): its IM against
// models::sensitivity_margin of the book's sensitivities assembled here, each side of the
// open orders filled; incremental == recompute with market updates; check() against doing
// it; snapshots; what it refuses.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "pretrade_universe.hpp"
#include "pymargin/engine/pretrade.hpp"
#include "pymargin/kernel/revalue.hpp"
#include "pymargin/models/sensitivity_margin.hpp"
#include "pymargin/pricing/black.hpp"

namespace pe = pymargin::engine;
namespace sc = pymargin::scenarios;

namespace {

// USDC-settled BTC and ETH options over three expiries, futures and perpetuals; parameters
// of pymargin/data/models/delta_margin (risk weights 16 % / 18 %, vega 50 %, five buckets).
using SensUniverse = pretrade_test::EngineUniverse;
using pretrade_test::make;

SensUniverse make_sens_universe() {
  SensUniverse u;
  u.index = {65000.0, 3400.0};
  u.cfg.model = pe::Model::kSensitivity;
  u.cfg.max_accounts = 16;
  pe::SensitivityConfig& s = u.cfg.sensitivity;
  s.bucket_days = {7, 30, 90, 180, 100000};
  const double mids[5] = {3.5, 18.5, 60, 135, 365};
  for (double a : mids) {
    for (double b : mids) s.tenor_corr.push_back(std::exp(-0.5 * std::fabs(std::log(a / b))));
  }
  s.delta_corr = 0.825;
  s.vega_corr = 0.75;
  s.delta_rw = {0.16, 0.18};
  s.vega_rw = {0.5, 0.5};
  pe::CurrencyParams usdc;
  usdc.usd_settled = true;
  u.cfg.currencies = {usdc};
  pretrade_test::add_usd_chain(u, {5, 40, 150}, 0.8, 1.21, 1.0002);
  return u;
}

// The model of a book assembled from its definition: per underlying the USD delta (Black
// forward delta x F; 1 x F for futures), the vega per vol point x 100 x vol x its weight in
// the option's tenor bucket, and the P&L revalued at +-the risk weight.
double reference_im(const SensUniverse& u, const std::map<std::int32_t, double>& book) {
  const pe::SensitivityConfig& s = u.cfg.sensitivity;
  const std::size_t B = s.bucket_days.size();
  double delta[2] = {}, up[2] = {}, down[2] = {};
  std::vector<double> vega(2 * B, 0.0);
  bool held[2] = {false, false};
  for (const auto& [i, q] : book) {
    const pe::InstrumentSpec& sp = u.spec[static_cast<std::size_t>(i)];
    const pe::InstrumentMarket& mk = u.market[static_cast<std::size_t>(i)];
    const auto und = static_cast<std::size_t>(sp.underlying);
    held[und] = true;
    if (sp.kind == 3) {
      const auto g = pymargin::pricing::black76_greeks(
          mk.forward, sp.strike, mk.time, mk.vol, mk.rate,
          sp.is_call ? pymargin::pricing::OptionType::kCall : pymargin::pricing::OptionType::kPut);
      delta[und] += q * g.delta_forward * mk.forward;
      std::size_t b = 0;
      while (b + 1 < B && s.bucket_days[b] < mk.time * 365.0) ++b;
      vega[und * B + b] += q * s.vega_rw[und] * g.vega * mk.vol;
    } else {
      delta[und] += q * mk.forward;
    }
    const std::int32_t zero = 0;
    const double moves[2] = {s.delta_rw[und], -s.delta_rw[und]};
    const std::int8_t states[2] = {0, 0};
    const sc::VolShockRule unchanged{};
    pymargin::kernel::InstrumentView iv{1,        &sp.kind,   &sp.settlement, &sp.is_call,
                                        &zero,    &sp.strike, &mk.forward,    &mk.vol,
                                        &mk.time, &mk.rate};
    sc::ScenarioView sv{2, 1, moves, states, &unchanged};
    double row[2];
    EXPECT_TRUE(pymargin::kernel::revalue(iv, sv, row, 1).ok());
    up[und] += q * row[0];
    down[und] += q * row[1];
  }
  std::vector<double> wd, wv, hu, hd, du, rw;
  for (std::size_t k = 0; k < 2; ++k) {
    if (!held[k]) continue;
    wd.push_back(s.delta_rw[k] * delta[k]);
    wv.insert(wv.end(), vega.begin() + static_cast<std::ptrdiff_t>(k * B),
              vega.begin() + static_cast<std::ptrdiff_t>((k + 1) * B));
    hu.push_back(up[k]);
    hd.push_back(down[k]);
    du.push_back(delta[k]);
    rw.push_back(s.delta_rw[k]);
  }
  if (wd.empty()) return 0.0;
  pymargin::models::SensitivityInputs x;
  x.underlyings = wd.size();
  x.buckets = B;
  x.weighted_delta = wd.data();
  x.weighted_vega = wv.data();
  x.tenor_corr = s.tenor_corr.data();
  x.delta_corr = s.delta_corr;
  x.vega_corr = s.vega_corr;
  x.pnl_up = hu.data();
  x.pnl_down = hd.data();
  x.delta_usd = du.data();
  x.risk_weight = rw.data();
  pymargin::models::SensitivityMargin r;
  EXPECT_TRUE(pymargin::models::sensitivity_margin(x, &r).ok());
  return r.initial_margin;
}

void expect_bitwise(const pe::GroupMargin& a, const pe::GroupMargin& b, const char* where) {
  EXPECT_EQ(a.initial_margin, b.initial_margin) << where;
  EXPECT_EQ(a.maintenance_margin, b.maintenance_margin) << where;
  EXPECT_EQ(a.equity, b.equity) << where;
}

}  // namespace

TEST(PreTradeSensitivity, MarginIsTheModelOfTheBookWithEachSideOfOrdersFilled) {
  SensUniverse u = make_sens_universe();
  auto eng = make(u);
  ASSERT_EQ(eng->scenarios(), 8u);  // delta, five buckets, P&L at +-RW
  std::int64_t a = -1;
  ASSERT_TRUE(eng->add_account(&a).ok());
  ASSERT_EQ(eng->deposit(a, 0, 1e7), pe::Reason::kNone);
  std::mt19937_64 rng(17);
  std::map<std::int32_t, double> pos, buys, sells;
  const auto n = static_cast<std::int32_t>(u.spec.size());
  for (int k = 0; k < 40; ++k) {
    const auto i = static_cast<std::int32_t>(rng() % static_cast<std::uint64_t>(n));
    const double q = 0.5 + static_cast<double>(rng() % 6);
    const pe::Side side = (rng() & 1) ? pe::Side::kBuy : pe::Side::kSell;
    if (k % 3 == 0) {
      ASSERT_EQ(eng->add_order(a, k, i, side, q), pe::Reason::kNone);
      (side == pe::Side::kBuy ? buys : sells)[i] += q;
    } else {
      ASSERT_EQ(eng->apply_fill(a, -1, i, side, q, 100.0), pe::Reason::kNone);
      pos[i] += side == pe::Side::kBuy ? q : -q;
    }
  }
  std::map<std::int32_t, double> with_buys = pos, with_sells = pos;
  for (const auto& [i, q] : buys) with_buys[i] += q;
  for (const auto& [i, q] : sells) with_sells[i] -= q;
  const double im0 = reference_im(u, pos);
  const double im = std::max({im0, reference_im(u, with_buys), reference_im(u, with_sells)});
  const pe::GroupMargin g = eng->margin(a, 0);
  EXPECT_NEAR(g.initial_margin, im, 1e-10 * im);
  EXPECT_NEAR(g.maintenance_margin, im0, 1e-10 * im0);
  EXPECT_GT(im0, 0.0);
  expect_bitwise(g, eng->margin_from_scratch(a, 0), "book");
}

TEST(PreTradeSensitivity, IncrementalStateEqualsRecomputeAndChecksEqualDoingIt) {
  SensUniverse u = make_sens_universe();
  auto eng = make(u);
  std::vector<std::int64_t> acct(4);
  for (auto& a : acct) {
    ASSERT_TRUE(eng->add_account(&a).ok());
    ASSERT_EQ(eng->deposit(a, 0, 1e7), pe::Reason::kNone);
  }
  std::mt19937_64 rng(23);
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  std::vector<std::vector<std::int64_t>> open(acct.size());
  std::int64_t next_id = 1;
  const auto n = static_cast<std::int32_t>(u.spec.size());
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
    if (step % 71 == 0) expect_bitwise(eng->margin(a, 0), eng->margin_from_scratch(a, 0), "stream");
  }
  for (std::int64_t a : acct)
    expect_bitwise(eng->margin(a, 0), eng->margin_from_scratch(a, 0), "end");
}

TEST(PreTradeSensitivity, SnapshotsRoundTripAndBadConfigurationsAreRefused) {
  SensUniverse u = make_sens_universe();
  auto eng = make(u);
  std::int64_t a = -1;
  ASSERT_TRUE(eng->add_account(&a).ok());
  ASSERT_EQ(eng->deposit(a, 0, 1e6), pe::Reason::kNone);
  for (std::int32_t i = 0; i < 30; i += 3) {
    ASSERT_EQ(eng->apply_fill(a, -1, i, pe::Side::kSell, 1.5, 80.0), pe::Reason::kNone);
  }
  ASSERT_EQ(eng->add_order(a, 9, 40, pe::Side::kBuy, 2.0), pe::Reason::kNone);
  const std::string bytes = eng->snapshot();
  std::unique_ptr<pe::PreTradeEngine> back;
  const pymargin::Status st = pe::PreTradeEngine::restore(bytes, &back);
  ASSERT_TRUE(st.ok()) << st.field << ": " << st.message;
  EXPECT_EQ(back->model(), pe::Model::kSensitivity);
  expect_bitwise(back->margin(a, 0), eng->margin(a, 0), "restored");
  EXPECT_EQ(back->snapshot(), bytes);
  auto refused = [](const SensUniverse& v, const char* field) {
    std::unique_ptr<pe::PreTradeEngine> e;
    const pymargin::Status s = pe::PreTradeEngine::create(v.cfg, v.spec, v.market, v.index, &e);
    EXPECT_FALSE(s.ok()) << field;
    EXPECT_EQ(std::string(s.field), field);
  };
  {
    SensUniverse v = make_sens_universe();
    v.spec[0].settlement = 1;
    refused(v, "settlement");
  }
  {
    SensUniverse v = make_sens_universe();
    v.cfg.sensitivity.bucket_days[2] = 20;  // not increasing
    refused(v, "sensitivity.bucket_days");
  }
  {
    SensUniverse v = make_sens_universe();
    v.cfg.sensitivity.tenor_corr.pop_back();
    refused(v, "sensitivity.tenor_corr");
  }
  {
    SensUniverse v = make_sens_universe();
    v.cfg.sensitivity.delta_rw[1] = 0.0;
    refused(v, "sensitivity.delta_rw");
  }
}
