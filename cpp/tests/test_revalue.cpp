// SPDX-License-Identifier: Apache-2.0
// The revaluation kernel against its definition, instrument kind by kind.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "pymargin/kernel/aggregate.hpp"
#include "pymargin/kernel/revalue.hpp"
#include "pymargin/pricing/black.hpp"
#include "pymargin/scenarios/scenario_set.hpp"

namespace pm = pymargin;
using pm::kernel::Kind;
using pm::kernel::Settlement;

namespace {

pm::scenarios::VolShockRule deribit_like_rule() {
  pm::scenarios::VolShockRule r;
  r.range_up = 0.5;
  r.range_down = 0.25;
  r.min_vol_up = 0.5;
  return r;
}

}  // namespace

// (30/DTE)^p with p = 0.30 below 30 days and 0.13 from 30 days, the up shock floored at the
// absolute min_vol_up and the down shock at 0 (functional form published by Paradex/Derive
// and used by Deribit's parameter names; see docs/methodology.md, Deribit S:PM).
TEST(VolShock, RelativeRuleWithTenorScalingAndFloors) {
  const auto r = deribit_like_rule();
  EXPECT_DOUBLE_EQ(pm::scenarios::shocked_vol(r, 0.8, 30.0, +1), 0.8 * 1.5);
  EXPECT_DOUBLE_EQ(pm::scenarios::shocked_vol(r, 0.8, 30.0, -1), 0.8 * 0.75);
  EXPECT_DOUBLE_EQ(pm::scenarios::shocked_vol(r, 0.8, 30.0, 0), 0.8);
  EXPECT_NEAR(pm::scenarios::shocked_vol(r, 0.8, 7.0, +1),
              0.8 * (1 + 0.5 * std::pow(30.0 / 7.0, 0.30)), 1e-15);
  EXPECT_NEAR(pm::scenarios::shocked_vol(r, 0.8, 365.0, -1),
              0.8 * (1 - 0.25 * std::pow(30.0 / 365.0, 0.13)), 1e-15);
  // DTE floored at one day; vol-up floored at 50 %; vol-down never negative.
  EXPECT_DOUBLE_EQ(pm::scenarios::shocked_vol(r, 0.8, 0.01, +1),
                   pm::scenarios::shocked_vol(r, 0.8, 1.0, +1));
  EXPECT_DOUBLE_EQ(pm::scenarios::shocked_vol(r, 0.2, 30.0, +1), 0.5);
  auto steep = r;
  steep.range_down = 1.0;
  EXPECT_EQ(pm::scenarios::shocked_vol(steep, 0.8, 1.0, -1), 0.0);
}

TEST(Revalue, EveryKindMatchesItsDefinition) {
  // Instruments: inverse future, linear perpetual, inverse call, linear put, inverse spot.
  const std::vector<std::uint8_t> kind{1, 2, 3, 3, 0};
  const std::vector<std::uint8_t> settle{1, 0, 1, 0, 1};
  const std::vector<std::uint8_t> call{0, 0, 1, 0, 0};
  const std::vector<std::int32_t> und{0, 0, 0, 1, 0};
  const std::vector<double> strike{0, 0, 70000, 3000, 0};
  const std::vector<double> fwd{65000, 64900, 65500, 3400, 64950};
  const std::vector<double> vol{0, 0, 0.55, 0.7, 0};
  const std::vector<double> time{0, 0, 10.0 / 365, 45.0 / 365, 0};
  const std::vector<double> rate{0, 0, 0, 0, 0};
  pm::kernel::InstrumentView iv;
  iv.n = kind.size();
  iv.kind = kind.data();
  iv.settlement = settle.data();
  iv.is_call = call.data();
  iv.underlying = und.data();
  iv.strike = strike.data();
  iv.forward = fwd.data();
  iv.vol = vol.data();
  iv.time = time.data();
  iv.rate = rate.data();
  // Scenarios over two underlyings: moves and vol states.
  const std::vector<double> move{-0.16, -0.18, 0.0, 0.0, 0.12, 0.08, 5.0, -0.66};
  const std::vector<std::int8_t> vstate{-1, 0, +1, +1};
  const std::vector<pm::scenarios::VolShockRule> rules{deribit_like_rule(), deribit_like_rule()};
  pm::scenarios::ScenarioView sv;
  sv.n = vstate.size();
  sv.m = 2;
  sv.move = move.data();
  sv.vol_state = vstate.data();
  sv.rules = rules.data();
  std::vector<double> risk(iv.n * sv.n, -1.0);
  ASSERT_TRUE(pm::kernel::revalue(iv, sv, risk.data(), 2).ok());
  for (std::size_t j = 0; j < sv.n; ++j) {
    const double m0 = move[j * 2];
    const double m1 = move[j * 2 + 1];
    EXPECT_DOUBLE_EQ(risk[0 * sv.n + j], m0 / (1 + m0));  // inverse future, coin
    EXPECT_DOUBLE_EQ(risk[1 * sv.n + j], 64900 * m0);     // linear perpetual, USD
    EXPECT_EQ(risk[4 * sv.n + j], 0.0);                   // coin balance in coin
    const double v_call = pm::scenarios::shocked_vol(rules[0], 0.55, 10.0, vstate[j]);
    const double want_call = pm::pricing::inverse_price(65500 * (1 + m0), 70000, 10.0 / 365, v_call,
                                                        0, pm::pricing::OptionType::kCall) -
                             pm::pricing::inverse_price(65500, 70000, 10.0 / 365, 0.55, 0,
                                                        pm::pricing::OptionType::kCall);
    EXPECT_NEAR(risk[2 * sv.n + j], want_call, 1e-15 + 1e-13 * std::fabs(want_call)) << j;
    const double v_put = pm::scenarios::shocked_vol(rules[1], 0.7, 45.0, vstate[j]);
    const double want_put =
        pm::pricing::black76_price(3400 * (1 + m1), 3000, 45.0 / 365, v_put, 0,
                                   pm::pricing::OptionType::kPut) -
        pm::pricing::black76_price(3400, 3000, 45.0 / 365, 0.7, 0, pm::pricing::OptionType::kPut);
    EXPECT_NEAR(risk[3 * sv.n + j], want_put, 1e-11 + 1e-13 * std::fabs(want_put)) << j;
  }
}

// The grid kernel (one exponential and two polynomials per cell, cells flagged for the exact
// path where it would lose digits) against the scalar tail-exact pricer, cell by cell, over
// random linear and inverse calls and puts: expiries from 1 hour to 3 years, vols 5 % to 300 %,
// strikes from 1/8 to 8 times the forward, rates to 10 %, and a scenario set with moves from
// -90 % to +500 % in all three vol states, including a tenor rule that shocks vols down to 0.
// Each cell's value must match to a relative 4 eps (1 + h^2 + |h|/s) (the condition number
// of the Black value in its inputs, h = x/s, as in the batch-kernel test), floored at 1e-13;
// the P&L to that tolerance of both values it subtracts. Run per instruction set by CTest.
TEST(Revalue, GridKernelMatchesTheExactPricerCellByCell) {
  const std::size_t n = 3000;
  std::mt19937_64 rng(20261126);
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  std::vector<std::uint8_t> kind(n, 3), settle(n), call(n);
  std::vector<std::int32_t> und(n);
  std::vector<double> strike(n), fwd(n), vol(n), time(n), rate(n);
  for (std::size_t i = 0; i < n; ++i) {
    settle[i] = static_cast<std::uint8_t>(u01(rng) < 0.5);
    call[i] = static_cast<std::uint8_t>(u01(rng) < 0.5);
    und[i] = static_cast<std::int32_t>(i / 1000 % 2);  // runs of one underlying
    fwd[i] = und[i] == 0 ? 93000.0 : 3100.0;
    strike[i] = fwd[i] * std::exp(std::log(8.0) * (2.0 * u01(rng) - 1.0));
    vol[i] = 0.05 * std::exp(std::log(60.0) * u01(rng));
    time[i] = std::exp(std::log(1.0 / (24 * 365)) + std::log(3.0 * 24 * 365) * u01(rng));
    rate[i] = u01(rng) < 0.3 ? 0.0 : 0.1 * u01(rng);
  }
  pm::kernel::InstrumentView iv{n,           kind.data(),   settle.data(), call.data(),
                                und.data(),  strike.data(), fwd.data(),    vol.data(),
                                time.data(), rate.data()};
  std::vector<double> move;
  std::vector<std::int8_t> vstate;
  for (double m : {-0.9, -0.5, -0.16, -0.04, -1e-9, 0.0, 1e-9, 0.04, 0.16, 0.5, 1.0, 5.0}) {
    for (int vs : {-1, 0, 1}) {
      move.push_back(m);
      move.push_back(-m / (1 + m));  // the other underlying moves the other way
      vstate.push_back(static_cast<std::int8_t>(vs));
    }
  }
  pm::scenarios::VolShockRule harsh = deribit_like_rule();
  harsh.range_down = 1.0;  // shocks short-dated vols down to 0 (floor)
  harsh.min_vol_down = 0.0;
  const std::vector<pm::scenarios::VolShockRule> rules{deribit_like_rule(), harsh};
  pm::scenarios::ScenarioView sv{vstate.size(), 2, move.data(), vstate.data(), rules.data()};
  std::vector<double> risk(n * sv.n);
  ASSERT_TRUE(pm::kernel::revalue(iv, sv, risk.data(), 2).ok());
  constexpr double eps = 2.220446049250313e-16;
  auto value = [&](std::size_t i, double f, double v) {
    const auto type = call[i] ? pm::pricing::OptionType::kCall : pm::pricing::OptionType::kPut;
    return settle[i] ? pm::pricing::inverse_price(f, strike[i], time[i], v, rate[i], type)
                     : pm::pricing::black76_price(f, strike[i], time[i], v, rate[i], type);
  };
  auto tol = [&](std::size_t i, double f, double v) {
    const double s = v * std::sqrt(time[i]);
    if (!(s > 0.0)) return 1e-13;
    const double h = std::log(f / strike[i]) / s;
    return std::fmax(1e-13, 4 * eps * (1 + h * h + std::fabs(h) / s));
  };
  std::size_t checked = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double v0 = value(i, fwd[i], vol[i]);
    const double tol0 = tol(i, fwd[i], vol[i]) * v0;
    for (std::size_t j = 0; j < sv.n; ++j) {
      const double m = move[j * 2 + static_cast<std::size_t>(und[i])];
      const double f = fwd[i] * (1 + m);
      const double vj = pm::scenarios::shocked_vol(rules[static_cast<std::size_t>(und[i])], vol[i],
                                                   time[i] * 365.0, vstate[j]);
      const double want = value(i, f, vj);
      const double got = risk[i * sv.n + j] + v0;
      ASSERT_NEAR(got, want, tol(i, f, vj) * want + tol0 + 1e-300)
          << "option " << i << " scenario " << j << " F " << f << " K " << strike[i] << " T "
          << time[i] << " vol " << vj << (settle[i] ? " inverse" : " linear");
      if (m == 0.0 && vstate[j] == 0) {
        EXPECT_EQ(risk[i * sv.n + j], 0.0) << "unmoved scenario of option " << i;
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, n * sv.n);
}

// Continuous vol scenarios (historical and Monte Carlo): every vol of an underlying scaled by
// the scenario's factor, after the vol state's shock; checked cell by cell like the grid.
TEST(Revalue, VolScaleMovesEveryVolOfItsUnderlying) {
  const std::size_t n = 500;
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  std::vector<std::uint8_t> kind(n, 3), settle(n), call(n);
  std::vector<std::int32_t> und(n, 0);
  std::vector<double> strike(n), fwd(n, 60000.0), vol(n), time(n), rate(n, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    settle[i] = static_cast<std::uint8_t>(i % 2);
    call[i] = static_cast<std::uint8_t>(u01(rng) < 0.5);
    strike[i] = 60000.0 * std::exp(0.8 * (2.0 * u01(rng) - 1.0));
    vol[i] = 0.2 + u01(rng);
    time[i] = (1.0 + 300.0 * u01(rng)) / 365.0;
  }
  pm::kernel::InstrumentView iv{n,           kind.data(),   settle.data(), call.data(),
                                und.data(),  strike.data(), fwd.data(),    vol.data(),
                                time.data(), rate.data()};
  std::vector<double> move, scale;
  std::vector<std::int8_t> vstate;
  for (int j = 0; j < 40; ++j) {
    move.push_back(0.6 * (u01(rng) - 0.5));
    scale.push_back(std::exp(0.8 * (u01(rng) - 0.5)));
    vstate.push_back(static_cast<std::int8_t>(j % 3 - 1));
  }
  const auto rule = deribit_like_rule();
  pm::scenarios::ScenarioView sv{vstate.size(), 1, move.data(), vstate.data(), &rule, scale.data()};
  std::vector<double> risk(n * sv.n);
  ASSERT_TRUE(pm::kernel::revalue(iv, sv, risk.data(), 1).ok());
  for (std::size_t i = 0; i < n; ++i) {
    const auto type = call[i] ? pm::pricing::OptionType::kCall : pm::pricing::OptionType::kPut;
    auto value = [&](double f, double v) {
      return settle[i] ? pm::pricing::inverse_price(f, strike[i], time[i], v, 0.0, type)
                       : pm::pricing::black76_price(f, strike[i], time[i], v, 0.0, type);
    };
    const double v0 = value(60000.0, vol[i]);
    for (std::size_t j = 0; j < sv.n; ++j) {
      const double vj =
          pm::scenarios::shocked_vol(rule, vol[i], time[i] * 365.0, vstate[j]) * scale[j];
      const double want = value(60000.0 * (1 + move[j]), vj) - v0;
      EXPECT_NEAR(risk[i * sv.n + j], want, 1e-12 * (std::fabs(want) + v0) + 1e-300)
          << i << " " << j;
    }
  }
  scale[3] = 0.0;
  EXPECT_STREQ(pm::kernel::revalue(iv, sv, risk.data(), 1).field, "vol_scale");
}

TEST(Revalue, BadInputIsRefusedBeforeWriting) {
  const std::vector<std::uint8_t> kind{3};
  const std::vector<std::uint8_t> settle{1};
  const std::vector<std::uint8_t> call{1};
  const std::vector<std::int32_t> und{0};
  const std::vector<double> strike{70000}, fwd{65500}, vol{-0.1}, time{0.1}, rate{0};
  pm::kernel::InstrumentView iv{1,           kind.data(),   settle.data(), call.data(),
                                und.data(),  strike.data(), fwd.data(),    vol.data(),
                                time.data(), rate.data()};
  const std::vector<double> move{0.1};
  const std::vector<std::int8_t> vstate{0};
  const pm::scenarios::VolShockRule rule = deribit_like_rule();
  pm::scenarios::ScenarioView sv{1, 1, move.data(), vstate.data(), &rule};
  double risk = 7.0;
  pm::Status st = pm::kernel::revalue(iv, sv, &risk, 1);
  EXPECT_EQ(st.code, pm::StatusCode::kInvalidInput);
  EXPECT_STREQ(st.field, "vol");
  EXPECT_EQ(risk, 7.0);
  const std::vector<double> bad_move{-1.5};
  const std::vector<double> ok_vol{0.5};
  iv.vol = ok_vol.data();
  sv.move = bad_move.data();
  st = pm::kernel::revalue(iv, sv, &risk, 1);
  EXPECT_STREQ(st.field, "move");
  EXPECT_EQ(risk, 7.0);
}

TEST(Aggregate, SumsScaledRowsAndRefusesBadRows) {
  const std::vector<double> risk{1, 2, 3, 10, 20, 30, -1, -2, -3};  // 3 instruments x 3
  const std::vector<std::int64_t> index{2, 0, 2};
  const std::vector<double> qty{1.5, -2.0, 0.5};
  std::vector<double> out(3, 99.0);
  ASSERT_TRUE(
      pm::kernel::aggregate(risk.data(), 3, 3, index.data(), qty.data(), 3, out.data()).ok());
  EXPECT_EQ(out, (std::vector<double>{-4.0, -8.0, -12.0}));
  const std::vector<std::int64_t> bad{0, 3};
  std::vector<double> untouched(3, 7.0);
  const pm::Status st =
      pm::kernel::aggregate(risk.data(), 3, 3, bad.data(), qty.data(), 2, untouched.data());
  EXPECT_STREQ(st.field, "index");
  EXPECT_EQ(st.index, 1u);
  EXPECT_EQ(untouched, (std::vector<double>(3, 7.0)));
}

// Deribit PM's scaled position vectors: each term the product of the row, the size, the
// extended scale and (inverse positions) the edge factor, rounded in that order, summed in
// position order; the per-position vectors the same terms. Written here as the numpy model
// does it (vectors *= size; ext *= scale; ext *= edge), compared bit for bit.
TEST(Aggregate, ScaledVectorsAreTheModelsProductsSummedInOrder) {
  constexpr std::size_t kN = 7, kStd = 4, kExt = 3;
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::vector<double> risk(5 * kN);
  for (double& x : risk) x = u(rng) * std::exp(20.0 * u(rng));
  const std::vector<std::int64_t> index{4, 0, 2, 4};
  const std::vector<double> qty{1.3, -0.7, 2.9, -1e-3};
  const std::vector<std::uint8_t> inverse{1, 0, 1, 0};
  const std::vector<double> scale{0.24, 0.48, 0.32}, edge{0.29, 0.57, 1.28};
  std::vector<double> want_v(index.size() * kN), want(kN, 0.0);
  for (std::size_t p = 0; p < index.size(); ++p) {
    for (std::size_t s = 0; s < kN; ++s) {
      double t = risk[static_cast<std::size_t>(index[p]) * kN + s] * qty[p];
      if (s >= kStd) {
        t = t * scale[s - kStd];
        t = t * (inverse[p] ? edge[s - kStd] : 1.0);
      }
      want_v[p * kN + s] = t;
    }
  }
  for (std::size_t p = 0; p < index.size(); ++p) {
    for (std::size_t s = 0; s < kN; ++s) want[s] += want_v[p * kN + s];
  }
  std::vector<double> out(kN, 9.0), vectors(index.size() * kN, 9.0);
  ASSERT_TRUE(pm::kernel::scaled_vectors(risk.data(), 5, kN, kStd, index.data(), qty.data(),
                                         inverse.data(), index.size(), scale.data(), edge.data(),
                                         out.data(), vectors.data())
                  .ok());
  EXPECT_EQ(out, want);
  EXPECT_EQ(vectors, want_v);
  static_assert(kN == kStd + kExt);
  // A bad row or size is refused before anything is written.
  const std::vector<std::int64_t> bad{0, 5};
  std::vector<double> untouched(kN, 7.0);
  const pm::Status st =
      pm::kernel::scaled_vectors(risk.data(), 5, kN, kStd, bad.data(), qty.data(), inverse.data(),
                                 2, scale.data(), edge.data(), untouched.data(), nullptr);
  EXPECT_STREQ(st.field, "index");
  EXPECT_EQ(st.index, 1u);
  EXPECT_EQ(untouched, std::vector<double>(kN, 7.0));
}
