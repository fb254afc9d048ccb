// SPDX-License-Identifier: Apache-2.0
// Batch margin of a whole venue: 1,000,000 accounts averaging 20 positions over 2,000
// instruments with 35-entry risk rows, on 1 and 2 threads (the Python benchmark,
// benchmarks/batch_margin.py, runs the same shape on the real chain next to scipy.sparse).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <random>
#include <vector>

#include "pymargin/kernel/batch_margin.hpp"

namespace pk = pymargin::kernel;

namespace {

struct Venue {
  std::vector<double> risk, delta, value, cap{0.5}, damp = std::vector<double>(8, 0.01), roll_k,
                                                    limit{300.0}, collateral, amount;
  std::vector<std::int32_t> pair, expiry, instrument;
  std::vector<std::int64_t> offsets{0};
};

const Venue& venue() {
  static const Venue v = [] {
    Venue w;
    std::mt19937_64 rng(7);
    std::normal_distribution<double> pnl(0.0, 0.02);
    std::uniform_int_distribution<int> exp(0, 9), inst(0, 1999), count(1, 39);
    std::uniform_real_distribution<double> coll(0.5, 20.0);
    const double sizes[6] = {-2, -1, -0.5, 0.5, 1, 2};
    for (int i = 0; i < 2000; ++i) {
      for (int j = 0; j < 35; ++j) w.risk.push_back(pnl(rng));
      w.pair.push_back(0);
      w.expiry.push_back(exp(rng));
      w.delta.push_back(pnl(rng) * 20.0);
      w.value.push_back(std::abs(pnl(rng)));
    }
    w.roll_k.assign(10, 0.01);
    for (int a = 0; a < 1000000; ++a) {
      const int n = count(rng);
      for (int p = 0; p < n; ++p) {
        w.instrument.push_back(inst(rng));
        w.amount.push_back(sizes[rng() % 6]);
      }
      w.offsets.push_back(static_cast<std::int64_t>(w.instrument.size()));
      w.collateral.push_back(coll(rng));
    }
    return w;
  }();
  return v;
}

// Times a batch kernel, kernel(accounts, outputs, threads), over the venue's accounts on
// state.range(0) threads; a refusal aborts (the inputs are valid).
template <class Kernel>
void time_kernel(benchmark::State& state, const Kernel& kernel) {
  const Venue& v = venue();
  pk::BatchAccounts acc{v.collateral.size(), v.offsets.data(), v.instrument.data(), v.amount.data(),
                        v.collateral.data()};
  const std::size_t n = v.collateral.size();
  std::vector<double> im(n), mm(n), eq(n), ratio(n);
  std::vector<std::int8_t> status(n);
  std::vector<std::int32_t> worst(n), group(n);  // as the Python binding asks for them
  pk::BatchOutputs out{im.data(),     mm.data(),    eq.data(),   ratio.data(),
                       status.data(), worst.data(), group.data()};
  for (auto _ : state) {
    if (!kernel(acc, out, static_cast<int>(state.range(0))).ok()) std::abort();
    benchmark::DoNotOptimize(im.data());
  }
}

void time_batch(benchmark::State& state, const pk::BatchModel& m, const pk::BatchInstruments& in) {
  time_kernel(state, [&](const pk::BatchAccounts& acc, const pk::BatchOutputs& out, int t) {
    return pk::batch_margin(m, in, acc, out, t);
  });
}

void BM_BatchMargin1MAccounts(benchmark::State& state) {
  const Venue& v = venue();
  pk::BatchModel m;
  m.pairs = 1;
  m.expiries = 10;
  m.cap = v.cap.data();
  m.damp = v.damp.data();
  m.roll_k = v.roll_k.data();
  m.delta_limit = v.limit.data();
  pk::BatchInstruments in{
      2000, 35, v.risk.data(), v.pair.data(), v.expiry.data(), v.delta.data(), v.value.data()};
  time_batch(state, m, in);
  state.counters["positions"] = static_cast<double>(v.instrument.size());
}
BENCHMARK(BM_BatchMargin1MAccounts)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

// The same venue under other grid models, on the same positions: rows cut to the venue's
// scenario count. Paradex-shaped: 24 weighted scenarios and the minimum delta. FINRA-shaped:
// 10 scenarios and the per-contract minimum.
void run_other(benchmark::State& state, std::size_t stride, bool paradex) {
  const Venue& v = venue();
  std::vector<double> risk;
  for (std::size_t i = 0; i < 2000; ++i) {
    risk.insert(risk.end(), v.risk.begin() + static_cast<std::ptrdiff_t>(i * 35),
                v.risk.begin() + static_cast<std::ptrdiff_t>(i * 35 + stride));
  }
  const std::vector<double> weight(stride, 0.5), price{70000.0}, unhedged{0.02}, hedged{0.01},
      floor(2000, 0.375), zero_roll(10, 0.0), cap{1e300};
  pk::BatchModel m;
  m.n_std = stride;
  m.pairs = 1;
  m.expiries = 10;
  m.cap = cap.data();
  m.roll_k = zero_roll.data();
  m.mm_factor = paradex ? 0.5 : 1.0;
  m.round_worst = false;
  m.tie_period = 0;
  if (paradex) {
    m.weight = weight.data();
    m.delta_price = price.data();
    m.unhedged_delta = unhedged.data();
    m.hedged_delta = hedged.data();
  }
  pk::BatchInstruments in{
      2000, stride, risk.data(), v.pair.data(), v.expiry.data(), v.delta.data(), v.value.data()};
  if (!paradex) {
    in.floor_long = floor.data();
    in.floor_short = floor.data();
  }
  time_batch(state, m, in);
}
void BM_BatchMargin1MAccountsParadex(benchmark::State& state) { run_other(state, 24, true); }
void BM_BatchMargin1MAccountsFinra(benchmark::State& state) { run_other(state, 10, false); }
BENCHMARK(BM_BatchMargin1MAccountsParadex)
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_BatchMargin1MAccountsFinra)
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Deribit X:PM on the same positions: the first 1,000 instruments settle in BTC, the rest in
// USDC (two groups of one pair, summed before the worst case, each its own roll expiries);
// every account holds its collateral in BTC (shocked with the price) and 10,000 USDC.
void BM_BatchMargin1MAccountsCross(benchmark::State& state) {
  const Venue& v = venue();
  std::vector<std::int32_t> group(2000), expiry(2000), ccy(2000);
  for (std::size_t i = 0; i < 2000; ++i) {
    group[i] = ccy[i] = i < 1000 ? 0 : 1;
    expiry[i] = v.expiry[i] + 10 * group[i];
  }
  const std::vector<double> cap{2e7, 1e6}, offsets{0.6, 0.4}, damp(16, 0.01), roll_k(20, 650.0),
      limit{300.0, 300.0}, price{65000.0, 1.0}, haircut{0.0, 0.0};
  std::vector<double> move(2 * 35, 0.0), balance;
  for (std::size_t j = 0; j < 35; ++j)
    move[j] = 65000.0 * 0.04 * (static_cast<double>(j % 9) - 4.0);
  balance.reserve(2 * v.collateral.size());
  for (double c : v.collateral) {
    balance.push_back(c);
    balance.push_back(1e4);
  }
  const std::vector<std::int32_t> group_set{0, 0}, shock{0, -1};
  const std::vector<std::uint8_t> side{1, 0};
  pk::BatchModel m;
  m.pairs = 2;
  m.expiries = 20;
  m.cap = cap.data();
  m.pnl_offsets = offsets.data();
  m.damp = damp.data();
  m.roll_k = roll_k.data();
  m.delta_limit = limit.data();
  pk::BatchInstruments in{
      2000, 35, v.risk.data(), group.data(), expiry.data(), v.delta.data(), v.value.data()};
  pk::BatchCross x;
  x.sets = 1;
  x.group_set = group_set.data();
  x.currencies = 2;
  x.currency = ccy.data();
  x.balance = balance.data();
  x.price = price.data();
  x.haircut = haircut.data();
  x.shock_group = shock.data();
  x.side = side.data();
  x.coin_move = move.data();
  time_kernel(state, [&](const pk::BatchAccounts& acc, const pk::BatchOutputs& out, int t) {
    return pk::batch_margin(m, in, acc, out, t, &x);
  });
}
BENCHMARK(BM_BatchMargin1MAccountsCross)
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The same positions under SPAN: two combined commodities (instruments split between them),
// three expiry tiers each with three intra-commodity tier pairs, half the instruments options
// (short option minimum), one inter-commodity spread; 16-entry rows.
void BM_BatchMargin1MAccountsSpan(benchmark::State& state) {
  const Venue& v = venue();
  std::vector<double> risk;
  std::vector<std::int32_t> commodity(2000), tier(2000);
  std::vector<std::uint8_t> option(2000);
  for (std::size_t i = 0; i < 2000; ++i) {
    risk.insert(risk.end(), v.risk.begin() + static_cast<std::ptrdiff_t>(i * 35),
                v.risk.begin() + static_cast<std::ptrdiff_t>(i * 35 + 16));
    commodity[i] = static_cast<std::int32_t>(i % 2);
    tier[i] = static_cast<std::int32_t>(v.expiry[i] % 3);
    option[i] = static_cast<std::uint8_t>(i % 4 < 2);
  }
  std::vector<double> weight(16, 1.0);
  weight[14] = weight[15] = 0.35;
  const std::int32_t intra_tiers[6] = {0, 1, 1, 2, 0, 2};
  const double intra_rates[3] = {300.0, 200.0, 500.0};
  pk::BatchSpanCommodity c{3, weight.data(), 100.0, 3, intra_tiers, intra_rates};
  const pk::BatchSpanCommodity comm[2] = {c, c};
  const std::int32_t legs[2] = {0, 1};
  const double terms[3] = {1.0, 30.0, 0.5};
  const pk::BatchSpanModel m{2, comm, 1, legs, terms};
  const pk::BatchSpanInstruments in{2000,           risk.data(),   commodity.data(), tier.data(),
                                    v.delta.data(), option.data(), v.value.data()};
  time_kernel(state, [&](const pk::BatchAccounts& acc, const pk::BatchOutputs& out, int t) {
    return pk::batch_span(m, in, acc, out, t);
  });
}
BENCHMARK(BM_BatchMargin1MAccountsSpan)
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The same positions under Deribit standard margin: half the instruments inverse options
// (the option rule with its mark), half size-scaled futures.
void BM_BatchMargin1MAccountsStandard(benchmark::State& state) {
  const Venue& v = venue();
  std::vector<pymargin::models::StandardPosition> terms(2000);
  for (std::size_t i = 0; i < 2000; ++i) {
    auto& p = terms[i];
    if (i % 2 == 0) {
      p.rule = pymargin::models::StandardRule::kInverseOption;
      p.im_otm_base = 0.15;
      p.im_floor = 0.1;
      p.mm = 0.075;
      p.call = i % 4 == 0;
      p.strike = 40000.0 + 25.0 * static_cast<double>(i);
      p.index = 65000.0;
      p.mark = std::abs(v.value[i]);
    } else {
      p.im_base = 0.02;
      p.im_per_unit = 5e-5;
      p.mm_base = 0.015;
      p.mm_per_unit = 5e-5;
    }
  }
  const pk::BatchStandardInstruments in{2000, terms.data(), v.value.data()};
  time_kernel(state, [&](const pk::BatchAccounts& acc, const pk::BatchOutputs& out, int t) {
    return pk::batch_standard(in, acc, out, t);
  });
}
BENCHMARK(BM_BatchMargin1MAccountsStandard)
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The same positions under the Greek-netting model: two underlyings, six tenor buckets.
void BM_BatchMargin1MAccountsSensitivity(benchmark::State& state) {
  const Venue& v = venue();
  std::vector<std::int32_t> und(2000), bucket(2000);
  std::vector<double> dusd(2000), wvega(2000), up(2000), down(2000);
  for (std::size_t i = 0; i < 2000; ++i) {
    und[i] = static_cast<std::int32_t>(i % 2);
    bucket[i] = i % 3 == 0 ? -1 : static_cast<std::int32_t>(v.expiry[i] % 6);
    dusd[i] = v.delta[i] * 65000.0;
    wvega[i] = std::abs(v.risk[i * 35]) * 1000.0;
    up[i] = v.risk[i * 35 + 1] * 65000.0;
    down[i] = v.risk[i * 35 + 2] * 65000.0;
  }
  std::vector<double> rho(36);
  for (std::size_t k = 0; k < 6; ++k) {
    for (std::size_t l = 0; l < 6; ++l) rho[k * 6 + l] = k == l ? 1.0 : 0.7;
  }
  const double rw[2] = {0.16, 0.2};
  const pk::BatchSensitivityModel m{2, 6, rho.data(), 0.5, 0.4, rw};
  const pk::BatchSensitivityInstruments in{2000,         und.data(), bucket.data(), dusd.data(),
                                           wvega.data(), up.data(),  down.data(),   v.value.data()};
  time_kernel(state, [&](const pk::BatchAccounts& acc, const pk::BatchOutputs& out, int t) {
    return pk::batch_sensitivity(m, in, acc, out, t);
  });
}
BENCHMARK(BM_BatchMargin1MAccountsSensitivity)
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
