// SPDX-License-Identifier: Apache-2.0
// A matching-engine sketch: loads a BTC market (options, futures, the perpetual) and a few
// hundred accounts, then streams random orders through the pre-trade check. Accepted orders
// rest on the book; some fill, some are cancelled; the market moves every few thousand orders.
// Prints the decisions and the check latency percentiles.
//
//   matching_engine [orders]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <vector>

#include "pymargin/engine/pretrade.hpp"

namespace pe = pymargin::engine;

int main(int argc, char** argv) {
  const long orders = argc > 1 ? std::atol(argv[1]) : 100000;
  // Market: Deribit's BTC parameters (2024-06-17 values are the defaults), one BTC margin group.
  pe::EngineConfig cfg;
  cfg.pairs.push_back(pe::PairParams{});
  cfg.currencies.push_back(pe::CurrencyParams{});
  cfg.max_accounts = 500;
  std::vector<pe::InstrumentSpec> spec;
  std::vector<pe::InstrumentMarket> market;
  const double f0 = 65000.0;
  for (double days : {2.0, 9.0, 30.0, 93.0}) {
    const double f = f0 * (1 + 0.0004 * days);
    for (double k = 40000; k <= 100000; k += 2500) {
      for (std::uint8_t call = 0; call <= 1; ++call) {
        spec.push_back({3, 1, call, 0, 0, k, static_cast<std::int64_t>(days)});
        market.push_back({f, 0.45 + 0.25 * std::fabs(std::log(k / f)), days / 365.0, 0.0});
      }
    }
    spec.push_back({1, 1, 0, 0, 0, 0.0, static_cast<std::int64_t>(days)});
    market.push_back({f, 0.0, days / 365.0, 0.0});
  }
  spec.push_back({2, 1, 0, 0, 0, 0.0, -1});
  market.push_back({f0, 0.0, 0.0, 0.0});
  std::vector<double> index{f0};
  std::unique_ptr<pe::PreTradeEngine> engine;
  pymargin::Status st = pe::PreTradeEngine::create(cfg, spec, market, index, &engine);
  if (!st.ok()) {
    std::fprintf(stderr, "create: %s: %s\n", st.field, st.message);
    return 1;
  }
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<std::int64_t> accounts(400);
  for (auto& a : accounts) {
    engine->add_account(&a);
    engine->deposit(a, 0, 0.5 + 20.0 * u(rng));
  }
  const auto n = static_cast<std::int32_t>(spec.size());
  std::vector<double> latency_ns;
  latency_ns.reserve(static_cast<std::size_t>(orders));
  std::vector<std::vector<std::int64_t>> open(accounts.size());
  long accepted = 0, rejected_funds = 0, rejected_other = 0, fills = 0;
  std::int64_t next_id = 1;
  for (long k = 0; k < orders; ++k) {
    const std::size_t who = rng() % accounts.size();
    const std::int32_t i = static_cast<std::int32_t>(rng() % static_cast<std::uint64_t>(n));
    const pe::Side side = u(rng) < 0.5 ? pe::Side::kBuy : pe::Side::kSell;
    const bool future = spec[static_cast<std::size_t>(i)].kind != 3;
    const double amount = future ? 1000.0 * (1 + rng() % 50) : 0.1 * (1 + rng() % 30);
    const auto t0 = std::chrono::steady_clock::now();
    const pe::CheckResult r = engine->check(accounts[who], i, side, amount);
    const auto t1 = std::chrono::steady_clock::now();
    latency_ns.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count());
    if (!r.accept) {
      (r.reason == pe::Reason::kInsufficientFunds ? rejected_funds : rejected_other)++;
      continue;
    }
    ++accepted;
    engine->add_order(accounts[who], next_id, i, side, amount);
    if (u(rng) < 0.3) {  // trades at once
      const double price =
          future ? market[static_cast<std::size_t>(i)].forward : 0.001 + 0.05 * u(rng);
      engine->apply_fill(accounts[who], next_id, i, side, amount, price);
      ++fills;
    } else {
      open[who].push_back(next_id);
      if (open[who].size() > 20) {  // old quotes get cancelled
        engine->cancel_order(accounts[who], open[who].front());
        open[who].erase(open[who].begin());
      }
    }
    ++next_id;
    if (k % 5000 == 4999) {  // the market moves
      const double move = 1.0 + 0.01 * (u(rng) - 0.5);
      for (auto& m : market) m.forward *= move;
      index[0] *= move;
      if (!engine->on_market_update(market, index).ok()) return 1;
    }
  }
  std::sort(latency_ns.begin(), latency_ns.end());
  auto pct = [&](double p) {
    return latency_ns[static_cast<std::size_t>(p * (latency_ns.size() - 1))];
  };
  std::printf("%ld orders checked on %zu accounts, %zu instruments, %zu scenarios\n", orders,
              accounts.size(), spec.size(), engine->scenarios());
  std::printf("  accepted %ld (filled at once %ld), rejected for funds %ld, other %ld\n", accepted,
              fills, rejected_funds, rejected_other);
  std::printf("  check latency: p50 %.0f ns, p99 %.0f ns, p99.9 %.0f ns, max %.0f ns\n", pct(0.5),
              pct(0.99), pct(0.999), latency_ns.back());
  const pe::GroupMargin g = engine->margin(accounts[0], 0);
  std::printf("  account 0: equity %.4f BTC, IM %.4f, MM %.4f, available %.4f\n", g.equity,
              g.initial_margin, g.maintenance_margin, g.available_funds);
  return accepted > 0 && rejected_funds > 0 ? 0 : 1;
}
