// SPDX-License-Identifier: Apache-2.0
// Google Benchmark suite of the pricing kernels: batch price, price + Greeks, implied vol, the
// scalar calls, and the pieces of the batch path (validation, direct kernel, series kernel).
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "batch_internal.hpp"
#include "pymargin/pricing/batch.hpp"
#include "pymargin/kernel/aggregate.hpp"
#include "pymargin/kernel/revalue.hpp"
#include "pymargin/pricing/implied_vol.hpp"
#include "pymargin/scenarios/scenario_set.hpp"

namespace pm = pymargin::pricing;
namespace det = pymargin::pricing::detail;

namespace {

// Realistic option-chain inputs: ln(K/F) in [-0.5, 0.5], T from 1 day to 2 years
// (log-uniform), vol 20 % to 150 %, calls and puts.
struct Inputs {
  std::vector<double> f, k, t, v, r, price;
  std::vector<std::uint8_t> call;
  // uniform_t: T uniform in [1 day, 2 years] instead (benchmarks/compare_peers.py's inputs).
  explicit Inputs(std::size_t n, bool uniform_t = false)
      : f(n, 100.0), k(n), t(n), v(n), r(n, 0.0), price(n), call(n) {
    std::mt19937_64 rng(42);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    for (std::size_t i = 0; i < n; ++i) {
      k[i] = 100.0 * std::exp(u(rng) - 0.5);
      t[i] = uniform_t ? 1.0 / 365.0 + u(rng) * (2.0 - 1.0 / 365.0)
                       : std::exp(std::log(1.0 / 365.0) + u(rng) * std::log(730.0));
      v[i] = 0.2 + 1.3 * u(rng);
      call[i] = u(rng) < 0.5;
    }
  }
  pm::BatchInputs batch() const {
    pm::BatchInputs in;
    in.n = f.size();
    in.underlying = {f.data(), 1};
    in.strike = {k.data(), 1};
    in.time = {t.data(), 1};
    in.vol = {v.data(), 1};
    in.rate = {r.data(), 1};
    in.is_call = {call.data(), 1};
    return in;
  }
};

const Inputs& inputs() {
  static const Inputs in(1 << 20);
  return in;
}

void BM_Validate(benchmark::State& state) {
  const auto in = inputs().batch();
  for (auto _ : state) benchmark::DoNotOptimize(pm::validate(in));
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(in.n));
}

const Inputs& peer_inputs() {
  static const Inputs in(1 << 20, true);
  return in;
}

// Prices; range(1) = 1 for compare_peers.py's inputs (T uniform, fewer rows off the direct
// formula) instead of the log-uniform chain; range(2) = 1 with outputs_are_scratch (inputs
// checked as they are computed instead of in a pass of their own).
void BM_Price(benchmark::State& state) {
  const auto in = (state.range(1) ? peer_inputs() : inputs()).batch();
  std::vector<double> price(in.n);
  pm::BatchOutputs out;
  out.price = price.data();
  const bool scratch = state.range(2) != 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(pm::price_batch(in, out, state.range(0), scratch));
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(in.n));
}

void BM_PriceGreeks(benchmark::State& state) {
  const auto in = (state.range(1) ? peer_inputs() : inputs()).batch();
  std::vector<double> p(in.n), d(in.n), g(in.n), v(in.n), th(in.n);
  pm::BatchOutputs out;
  out.price = p.data();
  out.delta = d.data();
  out.gamma = g.data();
  out.vega = v.data();
  out.theta = th.data();
  const bool scratch = state.range(2) != 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(pm::price_batch(in, out, state.range(0), scratch));
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(in.n));
}

// The direct and the series kernels alone, on every row (contiguous blocks).
template <bool Series>
void BM_Kernel(benchmark::State& state) {
  const Inputs& d = inputs();
  const pm::BatchInputs in = d.batch();
  static const det::KernelSet& ks = *new det::KernelSet(det::kernels_avx512());
  std::vector<double> q(det::kBlock, 0.0), c(det::kBlock), p(det::kBlock), fl(det::kBlock);
  for (auto _ : state) {
    for (std::size_t b0 = 0; b0 + det::kBlock <= in.n; b0 += det::kBlock) {
      for (std::size_t j = 0; j < det::kBlock; ++j) c[j] = d.call[b0 + j] ? 1.0 : -1.0;
      det::KernelBlock blk;
      blk.n = det::kBlock;
      blk.underlying = d.f.data() + b0;
      blk.strike = d.k.data() + b0;
      blk.time = d.t.data() + b0;
      blk.vol = d.v.data() + b0;
      blk.rate = d.r.data() + b0;
      blk.carry = q.data();
      blk.call = c.data();
      blk.price = p.data();
      blk.flag = fl.data();
      (Series ? ks.series_price : ks.price)(blk);
      benchmark::DoNotOptimize(p.data());
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(in.n));
}

// range(1) = 1: compare_peers.py's inputs, as BM_Price.
void BM_ImpliedVol(benchmark::State& state) {
  const Inputs& d = state.range(1) ? peer_inputs() : inputs();
  const pm::BatchInputs in = d.batch();
  std::vector<double> price(in.n), vol(in.n);
  pm::BatchOutputs out;
  out.price = price.data();
  pm::price_batch(in, out, 1);
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        pm::implied_vol_batch(in, {price.data(), 1}, vol.data(), state.range(0)));
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(in.n));
}

void BM_ScalarGreeks(benchmark::State& state) {
  double k = 95.0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(pm::black76_greeks(100.0, k, 0.5, 0.3, 0.01, pm::OptionType::kCall));
    k = k < 105.0 ? k + 0.01 : 95.0;
  }
  state.SetItemsProcessed(state.iterations());
}

// One implied vol at a time (the scalar entry point), over a chain's strikes.
void BM_ScalarImpliedVol(benchmark::State& state) {
  std::vector<double> k(64), p(64);
  for (std::size_t i = 0; i < k.size(); ++i) {
    k[i] = 80.0 + 0.6 * static_cast<double>(i);
    p[i] = pm::black76_price(100.0, k[i], 0.5, 0.6, 0.01, pm::OptionType::kCall);
  }
  std::size_t i = 0;
  for (auto _ : state) {
    double v = 0.0;
    benchmark::DoNotOptimize(
        pm::black76_implied_vol(p[i], 100.0, k[i], 0.5, 0.01, pm::OptionType::kCall, &v));
    benchmark::DoNotOptimize(v);
    i = (i + 1) & 63;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ScalarImpliedVol);

#if PYMARGIN_BENCH_CEILING
}  // namespace
void textbook_black76(std::size_t n, const double* f, const double* k, const double* t,
                      const double* v, const double* call, double* out) noexcept;
namespace {

// Ceiling: the bare textbook formula (see textbook_ceiling.cpp), AVX-512, no checks.
void BM_TextbookCeiling(benchmark::State& state) {
  const Inputs& d = inputs();
  const std::size_t n = d.f.size();
  std::vector<double> call(n), out(n);
  for (std::size_t i = 0; i < n; ++i) call[i] = d.call[i] ? 1.0 : -1.0;
  for (auto _ : state) {
    textbook_black76(n, d.f.data(), d.k.data(), d.t.data(), d.v.data(), call.data(), out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(n));
}
BENCHMARK(BM_TextbookCeiling)->Unit(benchmark::kMillisecond);
#endif

// Risk arrays: 1,000 BTC options (4 expiries, 1-9 months, strikes 50k-150k, vol 40-80 %,
// inverse) x the Deribit grid (9 moves x 3 vol states + 8 extended moves = 35 scenarios).
void BM_RevalueDeribitGrid(benchmark::State& state) {
  const std::size_t n = 1000;
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<std::uint8_t> kind(n, 3), settle(n, 1), call(n);
  std::vector<std::int32_t> und(n, 0);
  std::vector<double> strike(n), fwd(n, 93000.0), vol(n), time(n), rate(n, 0.0);
  const double expiries[4] = {21.0 / 365, 56.0 / 365, 112.0 / 365, 203.0 / 365};
  for (std::size_t i = 0; i < n; ++i) {
    call[i] = i % 2;
    strike[i] = 50000.0 + 100000.0 * u(rng);
    vol[i] = 0.4 + 0.4 * u(rng);
    time[i] = expiries[i % 4];
  }
  std::vector<double> move;
  std::vector<std::int8_t> vstate;
  for (int k = -4; k <= 4; ++k) {
    for (int vs : {1, 0, -1}) {
      move.push_back(k * 0.16 / 4);
      vstate.push_back(static_cast<std::int8_t>(vs));
    }
  }
  for (double big : {-0.66, -0.33, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0}) {
    move.push_back(big);
    vstate.push_back(1);
  }
  pymargin::scenarios::VolShockRule rule;
  rule.range_up = 0.5;
  rule.range_down = 0.25;
  rule.min_vol_up = 0.5;
  pymargin::kernel::InstrumentView iv{n,           kind.data(),   settle.data(), call.data(),
                                      und.data(),  strike.data(), fwd.data(),    vol.data(),
                                      time.data(), rate.data()};
  pymargin::scenarios::ScenarioView sv{vstate.size(), 1, move.data(), vstate.data(), &rule};
  std::vector<double> risk(n * sv.n);
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        pymargin::kernel::revalue(iv, sv, risk.data(), static_cast<int>(state.range(0))));
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(n * sv.n));
}
BENCHMARK(BM_RevalueDeribitGrid)->Arg(1)->Arg(2)->Unit(benchmark::kMicrosecond)->UseRealTime();

// A venue-sized universe: 2,000 instruments on two underlyings (BTC and ETH, inverse), 1,800
// options over 8 expiries from 1 day to 9 months with strikes from 0.3 to 3 times the forward,
// and 200 futures and perpetuals, under the Deribit grid (35 scenarios, both underlyings moved).
void BM_RevalueVenueUniverse(benchmark::State& state) {
  const std::size_t n = 2000;
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<std::uint8_t> kind(n), settle(n, 1), call(n);
  std::vector<std::int32_t> und(n);
  std::vector<double> strike(n), fwd(n), vol(n), time(n), rate(n, 0.0);
  const double days[8] = {1, 2, 7, 14, 28, 56, 112, 273};
  for (std::size_t i = 0; i < n; ++i) {
    und[i] = i < n / 2 ? 0 : 1;
    fwd[i] = und[i] == 0 ? 93000.0 : 3100.0;
    const bool option = i % 10 != 0;
    kind[i] = option ? 3 : static_cast<std::uint8_t>(1 + i % 20 / 10);
    call[i] = i % 2;
    strike[i] = option ? fwd[i] * std::exp(std::log(3.0) * (2.0 * u(rng) - 1.0)) : 0.0;
    vol[i] = option ? 0.35 + 0.5 * u(rng) : 0.0;
    time[i] = option ? days[(i / 25) % 8] / 365 : 0.0;
  }
  std::vector<double> move;
  std::vector<std::int8_t> vstate;
  for (int k = -4; k <= 4; ++k) {
    for (int vs : {1, 0, -1}) {
      move.push_back(k * 0.16 / 4);
      move.push_back(k * 0.20 / 4);
      vstate.push_back(static_cast<std::int8_t>(vs));
    }
  }
  for (double big : {-0.66, -0.33, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0}) {
    move.push_back(big);
    move.push_back(big);
    vstate.push_back(1);
  }
  std::vector<pymargin::scenarios::VolShockRule> rules(2);
  for (auto& rule : rules) {
    rule.range_up = 0.5;
    rule.range_down = 0.25;
    rule.min_vol_up = 0.5;
  }
  pymargin::kernel::InstrumentView iv{n,           kind.data(),   settle.data(), call.data(),
                                      und.data(),  strike.data(), fwd.data(),    vol.data(),
                                      time.data(), rate.data()};
  pymargin::scenarios::ScenarioView sv{vstate.size(), 2, move.data(), vstate.data(), rules.data()};
  std::vector<double> risk(n * sv.n);
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        pymargin::kernel::revalue(iv, sv, risk.data(), static_cast<int>(state.range(0))));
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(n * sv.n));
}
BENCHMARK(BM_RevalueVenueUniverse)->Arg(1)->Arg(2)->Unit(benchmark::kMicrosecond)->UseRealTime();

// Re-margining from cached risk arrays: a 1,000-position account over 2,000 instruments x 35
// scenarios (sum of scaled rows; the margin model's max over 35 entries is negligible).
void BM_Aggregate1000Positions(benchmark::State& state) {
  const std::size_t n_inst = 2000, n_scen = 35, n_pos = 1000;
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::vector<double> risk(n_inst * n_scen), qty(n_pos), out(n_scen);
  for (double& r : risk) r = u(rng);
  std::vector<std::int64_t> index(n_pos);
  for (std::size_t p = 0; p < n_pos; ++p) {
    index[p] = static_cast<std::int64_t>(rng() % n_inst);
    qty[p] = u(rng);
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(pymargin::kernel::aggregate(risk.data(), n_inst, n_scen, index.data(),
                                                         qty.data(), n_pos, out.data()));
  }
}
BENCHMARK(BM_Aggregate1000Positions)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK(BM_Validate)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Price)
    ->ArgsProduct({{1, 2}, {0, 1}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_PriceGreeks)
    ->ArgsProduct({{1, 2}, {0, 1}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_Kernel<false>)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Kernel<true>)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ImpliedVol)
    ->ArgsProduct({{1, 2}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_ScalarGreeks);
BENCHMARK_MAIN();
