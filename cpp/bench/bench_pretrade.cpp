// SPDX-License-Identifier: Apache-2.0
// Pre-trade engine benchmarks: check() latency (p50, p99 as counters) and throughput for
// accounts of 10, 100 and 1,000 positions; the full recompute an engine without incremental
// state would do per order, in the same run; a market update re-aggregating 100,000 accounts.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "pymargin/engine/pretrade.hpp"

namespace pe = pymargin::engine;

namespace {

// A venue-sized BTC universe: 2,000 inverse options over 10 expiries and 200 strikes, the
// futures and the perpetual (group 0, BTC); Deribit's 2024-06-17 parameters.
struct Venue {
  pe::EngineConfig cfg;
  std::vector<pe::InstrumentSpec> spec;
  std::vector<pe::InstrumentMarket> market;
  std::vector<double> index{65000.0};
};

Venue make_venue(std::size_t max_accounts) {
  Venue v;
  v.cfg.max_accounts = max_accounts;
  v.cfg.pairs.push_back(pe::PairParams{});
  v.cfg.currencies.push_back(pe::CurrencyParams{});
  const double days[10] = {1, 2, 3, 7, 14, 21, 45, 80, 108, 200};
  for (int e = 0; e < 10; ++e) {
    const double f = 65000.0 * (1 + 0.0004 * days[e]);
    for (int k = 0; k < 100; ++k) {
      const double strike = 30000.0 + 1000.0 * k;
      for (std::uint8_t call = 0; call <= 1; ++call) {
        v.spec.push_back({3, 1, call, 0, 0, strike, static_cast<std::int64_t>(days[e])});
        v.market.push_back({f, 0.4 + 0.3 * std::fabs(std::log(strike / f)), days[e] / 365.0, 0});
      }
    }
    v.spec.push_back({1, 1, 0, 0, 0, 0.0, static_cast<std::int64_t>(days[e])});
    v.market.push_back({f, 0.0, days[e] / 365.0, 0.0});
  }
  v.spec.push_back({2, 1, 0, 0, 0, 0.0, -1});
  v.market.push_back({65010.0, 0.0, 0.0, 0.0});
  return v;
}

std::unique_ptr<pe::PreTradeEngine> make_engine(const Venue& v) {
  std::unique_ptr<pe::PreTradeEngine> e;
  if (!pe::PreTradeEngine::create(v.cfg, v.spec, v.market, v.index, &e).ok()) std::abort();
  return e;
}

// An account of `positions` option positions (mixed long/short), well collateralised.
void fill_account(pe::PreTradeEngine& eng, std::int64_t a, std::size_t positions,
                  std::size_t n_inst, std::mt19937_64& rng) {
  eng.deposit(a, 0, 1e4);
  for (std::size_t p = 0; p < positions; ++p) {
    const auto i = static_cast<std::int32_t>(rng() % (n_inst - 11));
    const pe::Side side = (rng() & 1) ? pe::Side::kBuy : pe::Side::kSell;
    eng.apply_fill(a, -1, i, side, 0.1 + static_cast<double>(rng() % 50) / 10.0, 0.01);
  }
}

void fill_grid_account(pe::PreTradeEngine& eng, std::int64_t a, std::size_t positions,
                       std::size_t n_inst, std::mt19937_64& rng);

// An engine on v with one account filled by `fill` (fill_account: the inverse venue's BTC
// account; fill_grid_account: a USD account), and the generator that filled it, to go on with.
struct Booked {
  std::unique_ptr<pe::PreTradeEngine> eng;
  std::int64_t a = -1;
  std::mt19937_64 rng{1};
};
Booked booked(const Venue& v, std::size_t positions,
              void (*fill)(pe::PreTradeEngine&, std::int64_t, std::size_t, std::size_t,
                           std::mt19937_64&)) {
  Booked b;
  b.eng = make_engine(v);
  b.eng->add_account(&b.a);
  fill(*b.eng, b.a, positions, v.spec.size(), b.rng);
  return b;
}

// Times single checks of random instruments and sides (p50 and p99 as counters).
void time_checks(benchmark::State& state, const pe::PreTradeEngine& eng, std::int64_t a,
                 std::size_t n_inst, std::mt19937_64& rng) {
  std::vector<std::int32_t> inst(4096);
  for (auto& i : inst) i = static_cast<std::int32_t>(rng() % n_inst);
  std::size_t k = 0;
  std::vector<double> ns;
  ns.reserve(1 << 20);
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    pe::CheckResult r =
        eng.check(a, inst[k & 4095], (k & 1) ? pe::Side::kBuy : pe::Side::kSell, 1.0);
    const auto t1 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(r);
    if (ns.size() < ns.capacity()) {
      ns.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count());
    }
    ++k;
  }
  std::sort(ns.begin(), ns.end());
  if (!ns.empty()) {
    state.counters["p50_ns"] = ns[ns.size() / 2];
    state.counters["p99_ns"] = ns[ns.size() * 99 / 100];
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_Check(benchmark::State& state) {
  const Venue v = make_venue(4);
  Booked b = booked(v, static_cast<std::size_t>(state.range(0)), fill_account);
  time_checks(state, *b.eng, b.a, v.spec.size(), b.rng);
}
BENCHMARK(BM_Check)->Arg(10)->Arg(100)->Arg(1000);

// Throughput without the per-call clock reads.
void BM_CheckThroughput(benchmark::State& state) {
  const auto positions = static_cast<std::size_t>(state.range(0));
  Venue v = make_venue(4);
  auto eng = make_engine(v);
  std::int64_t a = -1;
  eng->add_account(&a);
  std::mt19937_64 rng(2);
  fill_account(*eng, a, positions, v.spec.size(), rng);
  std::vector<std::int32_t> inst(4096);
  for (auto& i : inst) i = static_cast<std::int32_t>(rng() % v.spec.size());
  std::size_t k = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(eng->check(a, inst[k & 4095], pe::Side::kSell, 1.0));
    ++k;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CheckThroughput)->Arg(100);

// What an engine without incremental state does per order: re-aggregate the account from its
// positions (risk arrays cached, no revaluation) and re-run the model.
void BM_FullRecomputePerOrder(benchmark::State& state) {
  const Venue v = make_venue(4);
  Booked b = booked(v, static_cast<std::size_t>(state.range(0)), fill_account);
  for (auto _ : state) benchmark::DoNotOptimize(b.eng->margin_from_scratch(b.a, 0));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FullRecomputePerOrder)->Arg(10)->Arg(100)->Arg(1000);

// Rests an order and cancels it, per iteration (two state changes).
void add_cancel_loop(benchmark::State& state, pe::PreTradeEngine& eng, std::int64_t a,
                     std::int64_t id) {
  for (auto _ : state) {
    const auto i = static_cast<std::int32_t>(id % 50);
    if (eng.add_order(a, id, i, pe::Side::kSell, 0.5) != pe::Reason::kNone) std::abort();
    if (eng.cancel_order(a, id) != pe::Reason::kNone) std::abort();
    ++id;
  }
  state.SetItemsProcessed(state.iterations() * 2);
}

// A state change on an account of N positions: an order rested and cancelled (two changes,
// each re-aggregating the account and checking it finite).
void BM_AddCancelOrder(benchmark::State& state) {
  const Venue v = make_venue(4);
  Booked b = booked(v, static_cast<std::size_t>(state.range(0)), fill_account);
  add_cancel_loop(state, *b.eng, b.a, 0);
}
BENCHMARK(BM_AddCancelOrder)->Arg(10)->Arg(100)->Arg(1000);

// A market maker's cancel: N orders resting in the account's one slot; each iteration rests
// one more and cancels it (the cancel re-sums that side's order vector exactly).
void BM_AddCancelAmongOrders(benchmark::State& state) {
  const auto orders = static_cast<std::size_t>(state.range(0));
  Venue v = make_venue(4);
  auto eng = make_engine(v);
  std::int64_t a = -1;
  eng->add_account(&a);
  eng->deposit(a, 0, 1e6);
  std::mt19937_64 rng(3);
  for (std::size_t k = 0; k < orders; ++k) {
    const auto i = static_cast<std::int32_t>(rng() % (v.spec.size() - 11));
    const pe::Side side = (k & 1) ? pe::Side::kBuy : pe::Side::kSell;
    if (eng->add_order(a, static_cast<std::int64_t>(k), i, side, 0.5) != pe::Reason::kNone) {
      std::abort();
    }
  }
  add_cancel_loop(state, *eng, a, static_cast<std::int64_t>(orders));
}
BENCHMARK(BM_AddCancelAmongOrders)->Arg(10)->Arg(100)->Arg(1000);

// A fill on an existing position of an account of N positions (the position's slot is
// re-summed exactly), then the opposite fill.
void BM_FillExisting(benchmark::State& state) {
  const auto positions = static_cast<std::size_t>(state.range(0));
  Venue v = make_venue(4);
  auto eng = make_engine(v);
  std::int64_t a = -1;
  eng->add_account(&a);
  std::mt19937_64 rng(4);
  fill_account(*eng, a, positions, v.spec.size(), rng);
  eng->apply_fill(a, -1, 0, pe::Side::kBuy, 1.0, 0.01);
  for (auto _ : state) {
    if (eng->apply_fill(a, -1, 0, pe::Side::kBuy, 0.5, 0.01) != pe::Reason::kNone) std::abort();
    if (eng->apply_fill(a, -1, 0, pe::Side::kSell, 0.5, 0.01) != pe::Reason::kNone) std::abort();
  }
  state.SetItemsProcessed(state.iterations() * 2);
}
BENCHMARK(BM_FillExisting)->Arg(10)->Arg(100)->Arg(1000);

// New marks and vols for the whole universe: risk arrays recomputed once per instrument, then
// 100,000 accounts of 20 positions re-aggregated, on one core.
void BM_MarketUpdate100kAccounts(benchmark::State& state) {
  const std::size_t accounts = static_cast<std::size_t>(state.range(0));
  Venue v = make_venue(accounts);
  auto eng = make_engine(v);
  std::mt19937_64 rng(5);
  for (std::size_t k = 0; k < accounts; ++k) {
    std::int64_t a = -1;
    eng->add_account(&a);
    fill_account(*eng, a, 20, v.spec.size(), rng);
  }
  double bump = 1.0;
  for (auto _ : state) {
    bump = bump > 1.0 ? 0.999 : 1.001;
    for (auto& m : v.market) m.forward *= bump;
    v.index[0] *= bump;
    if (!eng->on_market_update(v.market, v.index).ok()) std::abort();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(accounts));
}
BENCHMARK(BM_MarketUpdate100kAccounts)
    ->Arg(1)
    ->Arg(100000)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(10);

// --- grid models -----------------------------------------------------------------------------
// The same venue size under a grid model (Model::kScenarioGrid): 2,000 USDC-settled linear
// options, the futures and the perpetual. Model 1 is Paradex-shaped (24 scenarios: +-15 % in
// 5 % steps with vol up and down, the edges vol up only, 8 weighted tail moves; minimum delta
// on net and gross delta), model 2 FINRA-shaped (10 moves over +-15 %, vol unchanged, a
// per-contract minimum per unit held).
Venue make_grid_venue(int model, std::size_t max_accounts) {
  Venue v;
  v.cfg.model = pe::Model::kScenarioGrid;
  v.cfg.max_accounts = max_accounts;
  pe::GridAsset a;
  if (model == 1) {
    for (int k = -3; k <= 3; ++k) {
      for (int vs : {1, -1}) {
        if (std::abs(k) == 3 && vs == -1) continue;
        a.moves.push_back(0.05 * k);
        a.vol_states.push_back(static_cast<std::int8_t>(vs));
        a.weights.push_back(1.0);
      }
    }
    const double tail[8] = {-0.66, -0.5, -0.33, -0.25, 0.25, 0.5, 1.0, 2.0};
    for (double m : tail) {
      a.moves.push_back(m);
      a.vol_states.push_back(1);
      a.weights.push_back(0.3);
    }
    a.vol_rule.range_up = 0.45;
    a.vol_rule.range_down = 0.3;
    a.vol_rule.min_vol_up = 0.4;
    a.unhedged_delta = 0.02;
    a.hedged_delta = 0.01;
    v.cfg.mm_factor = 0.5;
  } else {
    for (int k = -5; k <= 5; ++k) {
      if (k == 0) continue;
      a.moves.push_back(0.03 * k);
      a.vol_states.push_back(0);
      a.weights.push_back(1.0);
    }
    a.vol_rule.kind = pymargin::scenarios::VolShockKind::kAdditive;
    v.cfg.mm_factor = 1.0;
  }
  v.cfg.grid.assets.push_back(a);
  pe::CurrencyParams usdc;
  usdc.usd_settled = true;
  v.cfg.currencies.push_back(usdc);
  const double floor = model == 2 ? 0.375 : 0.0;
  const double days[10] = {1, 2, 3, 7, 14, 21, 45, 80, 108, 200};
  for (int e = 0; e < 10; ++e) {
    const double f = 65000.0 * (1 + 0.0004 * days[e]);
    for (int k = 0; k < 100; ++k) {
      const double strike = 30000.0 + 1000.0 * k;
      for (std::uint8_t call = 0; call <= 1; ++call) {
        pe::InstrumentSpec s{3, 0, call, 0, 0, strike, static_cast<std::int64_t>(days[e])};
        s.floor_long = s.floor_short = floor;
        v.spec.push_back(s);
        v.market.push_back({f, 0.4 + 0.3 * std::fabs(std::log(strike / f)), days[e] / 365.0, 0});
      }
    }
    pe::InstrumentSpec fut{1, 0, 0, 0, 0, 0.0, static_cast<std::int64_t>(days[e])};
    fut.floor_long = fut.floor_short = floor;
    v.spec.push_back(fut);
    v.market.push_back({f, 0.0, days[e] / 365.0, 0.0});
  }
  pe::InstrumentSpec perp{2, 0, 0, 0, 0, 0.0, -1};
  perp.floor_long = perp.floor_short = floor;
  v.spec.push_back(perp);
  v.market.push_back({65010.0, 0.0, 0.0, 0.0});
  return v;
}

void fill_grid_account(pe::PreTradeEngine& eng, std::int64_t a, std::size_t positions,
                       std::size_t n_inst, std::mt19937_64& rng) {
  eng.deposit(a, 0, 1e9);
  for (std::size_t p = 0; p < positions; ++p) {
    const auto i = static_cast<std::int32_t>(rng() % (n_inst - 11));
    const pe::Side side = (rng() & 1) ? pe::Side::kBuy : pe::Side::kSell;
    if (eng.apply_fill(a, -1, i, side, 0.1 + static_cast<double>(rng() % 50) / 10.0, 500.0) !=
        pe::Reason::kNone) {
      std::abort();
    }
  }
}

// check() latency under a grid model; args: positions, model (1 Paradex-shaped, 2 FINRA-shaped).
void BM_CheckGrid(benchmark::State& state) {
  const Venue v = make_grid_venue(static_cast<int>(state.range(1)), 4);
  Booked b = booked(v, static_cast<std::size_t>(state.range(0)), fill_grid_account);
  time_checks(state, *b.eng, b.a, v.spec.size(), b.rng);
}
BENCHMARK(BM_CheckGrid)->Args({10, 1})->Args({1000, 1})->Args({10, 2})->Args({1000, 2});

// The recompute an engine without incremental state would do per order, same grid models.
void BM_FullRecomputePerOrderGrid(benchmark::State& state) {
  const Venue v = make_grid_venue(static_cast<int>(state.range(1)), 4);
  Booked b = booked(v, static_cast<std::size_t>(state.range(0)), fill_grid_account);
  for (auto _ : state) benchmark::DoNotOptimize(b.eng->margin_from_scratch(b.a, 0));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FullRecomputePerOrderGrid)->Args({1000, 1})->Args({1000, 2});

// Deribit standard margin (Model::kStandard) on the inverse venue of make_venue: options under
// the inverse-option rule, futures and the perpetual size-scaled (2025-12-01 rates).
Venue make_standard_venue(std::size_t max_accounts) {
  Venue v = make_venue(max_accounts);
  v.cfg.model = pe::Model::kStandard;
  v.cfg.pairs.clear();
  v.cfg.standard_underlyings = 1;
  for (auto& s : v.spec) {
    if (s.kind == 3) {
      s.standard.rule = 1;
      s.standard.im_otm_base = 0.15;
      s.standard.im_floor = 0.1;
      s.standard.mm = 0.075;
    } else {
      s.standard = {0, 0, 0.02, 5e-5, 0.015, 5e-5, 0, 0, 0};
    }
  }
  return v;
}

// check() latency under Deribit standard margin, accounts of N positions.
void BM_CheckStandard(benchmark::State& state) {
  const Venue v = make_standard_venue(4);
  Booked b = booked(v, static_cast<std::size_t>(state.range(0)), fill_account);
  time_checks(state, *b.eng, b.a, v.spec.size(), b.rng);
}
BENCHMARK(BM_CheckStandard)->Arg(10)->Arg(1000);

// The recompute per order without incremental state, same model.
void BM_FullRecomputePerOrderStandard(benchmark::State& state) {
  const Venue v = make_standard_venue(4);
  Booked b = booked(v, static_cast<std::size_t>(state.range(0)), fill_account);
  for (auto _ : state) benchmark::DoNotOptimize(b.eng->margin_from_scratch(b.a, 0));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FullRecomputePerOrderStandard)->Arg(1000);

// The Greek-netting model (Model::kSensitivity) on the linear venue of make_grid_venue: five
// tenor buckets, the risk weights of pymargin/data/models/delta_margin.
Venue make_sensitivity_venue(std::size_t max_accounts) {
  Venue v = make_grid_venue(1, max_accounts);
  v.cfg.model = pe::Model::kSensitivity;
  v.cfg.grid.assets.clear();
  pe::SensitivityConfig& s = v.cfg.sensitivity;
  s.bucket_days = {7, 30, 90, 180, 100000};
  const double mids[5] = {3.5, 18.5, 60, 135, 365};
  for (double a : mids) {
    for (double b : mids) s.tenor_corr.push_back(std::exp(-0.5 * std::fabs(std::log(a / b))));
  }
  s.delta_corr = 0.825;
  s.vega_corr = 0.75;
  s.delta_rw = {0.16};
  s.vega_rw = {0.5};
  return v;
}

void BM_CheckSensitivity(benchmark::State& state) {
  const Venue v = make_sensitivity_venue(4);
  Booked b = booked(v, static_cast<std::size_t>(state.range(0)), fill_grid_account);
  time_checks(state, *b.eng, b.a, v.spec.size(), b.rng);
}
BENCHMARK(BM_CheckSensitivity)->Arg(10)->Arg(1000);

// SPAN (Model::kSpan) on the linear venue of make_grid_venue: three tiers with their
// intra-commodity rates, the short option minimum, one day of look-ahead.
Venue make_span_venue(std::size_t max_accounts) {
  Venue v = make_grid_venue(1, max_accounts);
  v.cfg.model = pe::Model::kSpan;
  v.cfg.grid.assets.clear();
  pe::SpanCommodityConfig c;
  c.price_scan = 0.2;
  c.vol_scan = 0.1;
  c.tier_days = {14, 60};
  c.intra_tiers = {0, 1, 1, 2, 0, 2};
  c.intra_rates = {300.0, 200.0, 500.0};
  c.short_option_minimum = 150.0;
  v.cfg.span.commodities = {c};
  return v;
}

void BM_CheckSpan(benchmark::State& state) {
  const Venue v = make_span_venue(4);
  Booked b = booked(v, static_cast<std::size_t>(state.range(0)), fill_grid_account);
  time_checks(state, *b.eng, b.a, v.spec.size(), b.rng);
}
BENCHMARK(BM_CheckSpan)->Arg(10)->Arg(1000);

}  // namespace

// Deribit X:PM (Model::kDeribitCross) on the inverse venue of make_venue plus its 2,000
// options as USDC-settled linear twins: one USD margin group over BTC and USDC, the BTC
// equity shocked; the 2024-06-17 BTC and 2026-02-15 USD currency parameters.
Venue make_cross_venue(std::size_t max_accounts) {
  Venue v = make_venue(max_accounts);
  v.cfg.model = pe::Model::kDeribitCross;
  pe::CurrencyParams& btc = v.cfg.currencies[0];
  btc.coin_underlying = 0;
  btc.equity_side = pe::EquitySide::kBoth;
  btc.pnl_offset = 0.6;
  btc.max_offsetable_pnl = 2e7;
  pe::CurrencyParams usdc;
  usdc.usd_settled = true;
  usdc.annualised_move_risk = 0.10;
  usdc.extended_dampener = 25000.0;
  usdc.pnl_offset = 0.4;
  usdc.max_offsetable_pnl = 1e6;
  v.cfg.currencies.push_back(usdc);
  const std::size_t n = v.spec.size();
  for (std::size_t i = 0; i < n; ++i) {
    if (v.spec[i].kind != 3) continue;
    pe::InstrumentSpec s = v.spec[i];
    s.settlement = 0;
    s.currency = 1;
    v.spec.push_back(s);
    v.market.push_back(v.market[i]);
  }
  return v;
}

// Positions on both sides of the venue (inverse options in group BTC, linear twins in USDC).
void fill_cross_account(pe::PreTradeEngine& eng, std::int64_t a, std::size_t positions,
                        std::size_t n_inst, std::mt19937_64& rng) {
  eng.deposit(a, 0, 1e4);
  eng.deposit(a, 1, 1e9);
  for (std::size_t p = 0; p < positions; ++p) {
    const auto i = static_cast<std::int32_t>(rng() % n_inst);
    const pe::InstrumentSpec& s = eng.instrument(static_cast<std::size_t>(i));
    const pe::Side side = (rng() & 1) ? pe::Side::kBuy : pe::Side::kSell;
    const double amount = 0.1 + static_cast<double>(rng() % 50) / 10.0;
    const double q = s.kind == 3 ? amount : amount * 65000.0;  // inverse futures: USD
    const double price = s.kind != 3 ? 65000.0 : s.settlement == 1 ? 0.01 : 500.0;
    if (eng.apply_fill(a, -1, i, side, q, price) != pe::Reason::kNone) std::abort();
  }
}

void BM_CheckCross(benchmark::State& state) {
  const Venue v = make_cross_venue(4);
  Booked b = booked(v, static_cast<std::size_t>(state.range(0)), fill_cross_account);
  time_checks(state, *b.eng, b.a, v.spec.size(), b.rng);
}
BENCHMARK(BM_CheckCross)->Arg(10)->Arg(1000);

void BM_FullRecomputePerOrderCross(benchmark::State& state) {
  const Venue v = make_cross_venue(4);
  Booked b = booked(v, static_cast<std::size_t>(state.range(0)), fill_cross_account);
  for (auto _ : state) benchmark::DoNotOptimize(b.eng->margin_from_scratch(b.a, 0));
}
BENCHMARK(BM_FullRecomputePerOrderCross)->Arg(1000);

// --- Derive PM and a grid venue's short-option floor -------------------------------------------

namespace {

// Derive PM (Model::kDerive) on the venue of make_grid_venue: 2,000 USDC-settled options over
// 10 expiries and the perpetual; Derive's 2025-05-01 parameter values with a scenario set of
// the same shape (spot +-18 % in 4.5 % steps x vol up, unchanged, down; three damped tails;
// the two skew scenarios: 32).
Venue make_derive_venue(std::size_t max_accounts) {
  Venue v = make_grid_venue(1, max_accounts);
  v.cfg.model = pe::Model::kDerive;
  v.cfg.grid.assets.clear();
  v.cfg.derive.underlyings = 1;
  pymargin::models::DeriveParams& q = v.cfg.derive.params;
  q.vol_range_up = 0.5;
  q.vol_range_down = 0.3;
  q.short_term_power = 0.3;
  q.long_term_power = 0.13;
  q.dte_floor_seconds = 86'400.0;
  q.min_vol_up = 0.4;
  q.mm_factor = 0.8;
  q.short_rate_add = q.long_rate_add = 0.16;
  q.short_static_discount = 0.95;
  q.long_static_discount = 1.05;
  q.basis_spot_up = 1.045;
  q.basis_spot_down = 0.955;
  q.basis_add = 0.5;
  q.basis_mult = 2.0;
  q.mm_perp = 0.03;
  q.im_perp = 0.01;
  q.mm_option = 0.003;
  q.im_option = 0.002;
  q.linear_cap = q.abs_cap = 0.25;
  q.linear_cbase = q.abs_cbase = -0.1;
  q.min_k_star = 0.01;
  q.width_scale = 4.0;
  q.vol_param_static = 0.6;
  using V = pymargin::models::DeriveVolShock;
  for (int k = 4; k >= -4; --k) {
    for (V s : {V::kUp, V::kNone, V::kDown})
      v.cfg.derive.scenarios.push_back({1 + 0.045 * k, s, 1});
  }
  v.cfg.derive.scenarios.push_back({0.34, V::kUp, 0.35});
  v.cfg.derive.scenarios.push_back({1.5, V::kUp, 0.3});
  v.cfg.derive.scenarios.push_back({6.0, V::kUp, 0.03});
  v.cfg.derive.scenarios.push_back({1.0, V::kLinear, 1.0});
  v.cfg.derive.scenarios.push_back({1.0, V::kAbs, 1.0});
  std::vector<pe::InstrumentSpec> spec;
  std::vector<pe::InstrumentMarket> market;
  for (std::size_t i = 0; i < v.spec.size(); ++i) {
    if (v.spec[i].kind == 1) continue;  // Derive lists no dated futures
    pe::InstrumentSpec s = v.spec[i];
    s.floor_long = s.floor_short = 0.0;
    spec.push_back(s);
    pe::InstrumentMarket m = v.market[i];
    m.time = std::round(m.time * 31'536'000.0) / 31'536'000.0;
    market.push_back(m);
  }
  v.spec = std::move(spec);
  v.market = std::move(market);
  return v;
}

// A Derive account of `positions` option positions and the book as (instrument, amount).
struct DeriveBook {
  std::unique_ptr<pe::PreTradeEngine> eng;
  std::int64_t a = -1;
  std::vector<std::pair<std::int32_t, double>> held;
};
DeriveBook derive_book(const Venue& v, std::size_t positions) {
  DeriveBook b;
  b.eng = make_engine(v);
  b.eng->add_account(&b.a);
  b.eng->deposit(b.a, 0, 1e9);
  std::mt19937_64 rng(3);
  std::vector<double> amount(v.spec.size(), 0.0);
  for (std::size_t p = 0; p < positions; ++p) {
    const auto i = static_cast<std::int32_t>(rng() % (v.spec.size() - 1));
    const double q = (rng() & 1 ? 1.0 : -1.0) * (0.1 + static_cast<double>(rng() % 50) / 10.0);
    if (b.eng->apply_fill(b.a, -1, i, q > 0 ? pe::Side::kBuy : pe::Side::kSell, std::fabs(q),
                          500.0) != pe::Reason::kNone) {
      std::abort();
    }
    amount[static_cast<std::size_t>(i)] += q;
  }
  for (std::size_t i = 0; i < amount.size(); ++i) {
    if (amount[i] != 0.0) b.held.push_back({static_cast<std::int32_t>(i), amount[i]});
  }
  return b;
}

// check() of a sell of 1 on each held option in turn (no per-call clock: throughput).
void BM_CheckDerive(benchmark::State& state) {
  const Venue v = make_derive_venue(4);
  DeriveBook b = derive_book(v, static_cast<std::size_t>(state.range(0)));
  std::size_t k = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        b.eng->check(b.a, b.held[k % b.held.size()].first, pe::Side::kSell, 1.0));
    ++k;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CheckDerive)->Arg(10)->Arg(100)->Arg(1000);

// What a venue without the engine does per order: the model itself (the core's
// derive_pm_margin) on the book with the order applied, the book laid out once beforehand and
// the order's amount changed in place (the layout's cost not counted: the baseline's best case).
void BM_DeriveModelPerOrder(benchmark::State& state) {
  const Venue v = make_derive_venue(4);
  DeriveBook b = derive_book(v, static_cast<std::size_t>(state.range(0)));
  pymargin::models::DeriveParams q = v.cfg.derive.params;
  q.scenarios = v.cfg.derive.scenarios.data();
  q.n_scenarios = v.cfg.derive.scenarios.size();
  std::vector<pymargin::models::DeriveOption> opts;
  std::vector<pymargin::models::DeriveExpiry> ex;
  std::vector<std::size_t> at(b.held.size());
  std::int64_t cur = -2;
  for (std::size_t h = 0; h < b.held.size(); ++h) {  // held is in instrument order: by expiry
    const auto i = static_cast<std::size_t>(b.held[h].first);
    const pe::InstrumentSpec& s = v.spec[i];
    if (s.expiry_id != cur) {
      if (!ex.empty()) ex.back().end_option = opts.size();
      cur = s.expiry_id;
      pymargin::models::DeriveExpiry e;
      e.seconds = std::round(v.market[i].time * 31'536'000.0);
      e.forward_variable = v.market[i].forward;
      e.rate = v.market[i].rate;
      e.first_option = opts.size();
      ex.push_back(e);
    }
    at[h] = opts.size();
    opts.push_back({s.strike, v.market[i].vol, b.held[h].second, s.is_call != 0});
  }
  ex.back().end_option = opts.size();
  pymargin::models::DerivePortfolio p;
  p.spot = v.index[0];
  p.expiries = ex.data();
  p.n_expiries = ex.size();
  p.options = opts.data();
  p.n_options = opts.size();
  std::vector<double> pnl(q.n_scenarios);
  pymargin::models::DeriveMargin r;
  std::size_t k = 0;
  for (auto _ : state) {
    const std::size_t h = k % b.held.size();
    opts[at[h]].amount -= 1.0;  // the sell of 1
    if (!pymargin::models::derive_pm_margin(p, q, pnl.data(), &r).ok()) std::abort();
    benchmark::DoNotOptimize(r);
    opts[at[h]].amount = b.held[h].second;
    ++k;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DeriveModelPerOrder)->Arg(10)->Arg(100)->Arg(1000);

// A grid venue with a short-option floor per strike (Aevo-shaped: the Paradex-shaped grid
// of make_grid_venue, 0.0125 of the index per net short contract): check() of a sell of 1.
void BM_CheckGridStrikeFloor(benchmark::State& state) {
  Venue v = make_grid_venue(1, 4);
  for (pe::InstrumentSpec& s : v.spec) {
    if (s.kind == 3) s.strike_floor = 0.0125;
  }
  Booked b = booked(v, static_cast<std::size_t>(state.range(0)), fill_grid_account);
  time_checks(state, *b.eng, b.a, v.spec.size(), b.rng);
}
BENCHMARK(BM_CheckGridStrikeFloor)->Arg(10)->Arg(1000);

}  // namespace
