// SPDX-License-Identifier: Apache-2.0
// Full revaluation of instruments under a scenario set: risk arrays of P&L per unit position,
// in each instrument's settlement currency, instrument x scenario.
//
// Unit position: one unit of the underlying (one coin): 1 BTC of a BTC future, perpetual or
// option. Conventions per kind and settlement (F = the instrument's current underlying price,
// m = the scenario's move of its underlying, F' = F (1 + m)):
//   linear future / perpetual / spot   F' - F                         (quote currency, USD)
//   inverse future / perpetual          m / (1 + m)                     (coin: a position worth
//                                       1 coin now, i.e. F USD of inverse contracts, gains
//                                       F (1/F - 1/F') coin)
//   linear option                       V(F', vol') - V(F, vol)          (USD, Black-76)
//   inverse option                      V(F', vol')/F' - V(F, vol)/F     (coin)
// vol' is the scenario's vol state applied through the underlying's VolShockRule with
// DTE = time x 365 days. Inverse spot (a coin balance measured in coin) has no coin P&L.
#pragma once

#include <cstddef>
#include <cstdint>

#include "pymargin/error.hpp"
#include "pymargin/scenarios/scenario_set.hpp"

namespace pymargin::kernel {

enum class Kind : std::uint8_t { kSpot = 0, kFuture = 1, kPerpetual = 2, kOption = 3 };
enum class Settlement : std::uint8_t { kLinear = 0, kInverse = 1 };

// Non-owning structure-of-arrays view of n instruments and their current market state.
struct InstrumentView {
  std::size_t n = 0;
  const std::uint8_t* kind = nullptr;        // Kind
  const std::uint8_t* settlement = nullptr;  // Settlement
  const std::uint8_t* is_call = nullptr;     // options: 1 call, 0 put
  const std::int32_t* underlying = nullptr;  // index of the underlying in the scenario set
  const double* strike = nullptr;            // options
  const double* forward = nullptr;           // current underlying price of the instrument
  const double* vol = nullptr;               // options: current implied vol
  const double* time = nullptr;              // options: years to expiry (>= 0)
  const double* rate = nullptr;              // options: discount rate
};

Status validate(const InstrumentView& inst, std::size_t n_underlyings) noexcept;

// Current value per unit position in the settlement currency (0 for futures and perpetuals,
// whose value is their P&L). values: n doubles.
Status current_values(const InstrumentView& inst, double* values) noexcept;

// risk: n x scenarios.n doubles, row-major (instrument-major). Checks everything first; on
// error nothing is written. threads: the most threads to use (<= 0: every core); fewer run when
// the grid is too small for another thread to pay for waking it (16,384 cells per thread).
Status revalue(const InstrumentView& inst, const scenarios::ScenarioView& scen, double* risk,
               int threads) noexcept;

}  // namespace pymargin::kernel
