// SPDX-License-Identifier: Apache-2.0
// The margin of one 1,000-position account from cached risk arrays under each grid model:
// the positions' rows summed into the group's scenario vector (the kernel's gather-sum), then the
// core's scenario-margin model. Deribit S:PM: 35 entries, credit, cap, dampener, roll shock
// over 10 expiries, rounding. Paradex-shaped: 24 weighted entries and the minimum delta.
// FINRA-shaped: 10 entries and the per-contract minimum.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <vector>

#include "batch_internal.hpp"
#include "pymargin/models/scenario_margin.hpp"

namespace pmm = pymargin::models;

namespace {

struct Account {
  std::vector<double> rows, size, delta;
  std::vector<std::int32_t> expiry;
};

Account account(std::size_t positions, std::size_t ns) {
  Account a;
  std::mt19937_64 rng(11);
  std::normal_distribution<double> pnl(0.0, 0.02);
  for (std::size_t p = 0; p < positions; ++p) {
    for (std::size_t j = 0; j < ns; ++j) a.rows.push_back(pnl(rng));
    a.size.push_back(static_cast<double>(static_cast<int>(rng() % 7) - 3) + 0.5);
    a.delta.push_back(pnl(rng) * 20.0);
    a.expiry.push_back(static_cast<std::int32_t>(rng() % 10));
  }
  return a;
}

void run(benchmark::State& state, std::size_t ns, int model, bool per_position = false) {
  const std::size_t positions = 1000;
  const Account a = account(positions, ns);
  std::vector<double> v(ns), damp(ns, 0.0), weight(ns, 0.5), set_entries(ns);
  for (std::size_t j = ns > 8 ? ns - 8 : 0; j < ns; ++j) damp[j] = 0.001;
  std::vector<double> roll_k(10, 0.01), net(10);
  pmm::ModelRules rules;
  pmm::GroupView g;
  g.pnl = v.data();
  if (model == 0) {  // Deribit S:PM
    rules.round_worst = true;
    rules.mm_factor = 0.8;
    rules.tie_standard = ns - 8;
    rules.tie_period = 3;
    rules.tie_slot = 1;
    g.damp = damp.data();
    g.pnl_offset = 0.5;
    g.cap = 0.05;
  } else if (model == 1) {  // Paradex-shaped
    rules.mm_factor = 0.5;
    g.weight = weight.data();
    g.unhedged_delta = 0.02;
    g.hedged_delta = 0.01;
    g.delta_price = 70000.0;
  }
  const auto gather_sum = pymargin::pricing::detail::selected_gather_sum();
  const auto axpy = pymargin::pricing::detail::selected_axpy();
  for (auto _ : state) {
    std::fill(net.begin(), net.end(), 0.0);
    double gross = 0.0, netd = 0.0, contracts = 0.0;
    // The positions' rows summed in registers (the same bits as one axpy per position), or,
    // for comparison, the plain loop: one axpy per position into the vector in memory.
    if (per_position) {
      std::fill(v.begin(), v.end(), 0.0);
      for (std::size_t p = 0; p < positions; ++p) {
        axpy(ns, a.size[p], a.rows.data() + p * ns, v.data());
      }
    } else {
      gather_sum(ns, positions, a.rows.data(), ns, nullptr, a.size.data(), v.data());
    }
    for (std::size_t p = 0; p < positions; ++p) {
      const double d = a.size[p] * a.delta[p];
      net[static_cast<std::size_t>(a.expiry[p])] += d;
      netd += d;
      gross += std::abs(d);
      contracts += std::abs(a.size[p]);
    }
    g.net_delta = netd;
    g.gross_delta = gross;
    if (model == 2) g.floor = 0.375 * contracts;
    pmm::SetResult set;
    pmm::MarginResult out;
    const bool roll = model == 0;
    const auto st = pmm::scenario_margin(rules, ns, 1, &g, 1, roll ? 10 : 0, roll_k.data(),
                                         net.data(), 0.0, 0.0, &set, &out, set_entries.data());
    if (!st.ok()) std::abort();
    benchmark::DoNotOptimize(out);
  }
}

// Deribit X:PM: the account's positions in two settlement currencies of one pair (two groups
// summed into one set before the worst case, each with its credit, cap and dampener), the
// coin group carrying the BTC equity's move; roll shock over 20 (group, expiry) entries.
void BM_Margin1000PositionsDeribitXPM(benchmark::State& state) {
  const std::size_t positions = 1000, ns = 35;
  const Account a = account(positions, ns);
  std::vector<double> v(2 * ns), damp(ns, 0.0), set_entries(ns), move(ns);
  for (std::size_t j = ns - 8; j < ns; ++j) damp[j] = 0.001;
  for (std::size_t j = 0; j < ns; ++j) move[j] = 0.04 * (static_cast<double>(j % 9) - 4.0);
  std::vector<double> roll_k(20, 0.01), net(20);
  pmm::ModelRules rules;
  rules.round_worst = true;
  rules.mm_factor = 0.8;
  rules.tie_standard = ns - 8;
  rules.tie_period = 3;
  rules.tie_slot = 1;
  pmm::GroupView g[2];
  for (int k = 0; k < 2; ++k) {
    g[k].pnl = v.data() + static_cast<std::size_t>(k) * ns;
    g[k].damp = damp.data();
    g[k].pnl_offset = k == 0 ? 0.6 : 0.4;
    g[k].cap = 1e6;
  }
  const auto gather_sum = pymargin::pricing::detail::selected_gather_sum();
  const std::size_t half = positions / 2;
  const double equity = 3.0;
  for (auto _ : state) {
    std::fill(net.begin(), net.end(), 0.0);
    gather_sum(ns, half, a.rows.data(), ns, nullptr, a.size.data(), v.data());
    gather_sum(ns, positions - half, a.rows.data() + half * ns, ns, nullptr, a.size.data() + half,
               v.data() + ns);
    for (std::size_t j = 0; j < ns; ++j) v[j] += equity * move[j];
    for (std::size_t p = 0; p < positions; ++p) {
      const std::size_t e = static_cast<std::size_t>(a.expiry[p]) + (p < half ? 0 : 10);
      net[e] += a.size[p] * a.delta[p];
    }
    pmm::SetResult set;
    pmm::MarginResult out;
    const auto st = pmm::scenario_margin(rules, ns, 2, g, 1, 20, roll_k.data(), net.data(), 0.0,
                                         0.0, &set, &out, set_entries.data());
    if (!st.ok()) std::abort();
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_Margin1000PositionsDeribitXPM)->Unit(benchmark::kMicrosecond);

void BM_Margin1000PositionsDeribitPM(benchmark::State& s) { run(s, 35, 0); }
void BM_Margin1000PositionsParadex(benchmark::State& s) { run(s, 24, 1); }
void BM_Margin1000PositionsFinra(benchmark::State& s) { run(s, 10, 2); }
// The same with the sums done one axpy per position (the plain loop; same bits).
void BM_Margin1000PositionsDeribitPMPlainLoop(benchmark::State& s) { run(s, 35, 0, true); }
void BM_Margin1000PositionsParadexPlainLoop(benchmark::State& s) { run(s, 24, 1, true); }
void BM_Margin1000PositionsFinraPlainLoop(benchmark::State& s) { run(s, 10, 2, true); }
BENCHMARK(BM_Margin1000PositionsDeribitPM)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Margin1000PositionsDeribitPMPlainLoop)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Margin1000PositionsParadexPlainLoop)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Margin1000PositionsFinraPlainLoop)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Margin1000PositionsParadex)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Margin1000PositionsFinra)->Unit(benchmark::kMicrosecond);

}  // namespace
