// SPDX-License-Identifier: Apache-2.0
// Shared by the pre-trade model tests: a model's inputs, the engine made from them and a
// USD-settled chain to trade.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <memory>
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

}  // namespace pretrade_test
