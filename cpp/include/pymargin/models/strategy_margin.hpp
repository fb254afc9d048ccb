// SPDX-License-Identifier: Apache-2.0
// Strategy-based margin (Reg T as Cboe's margin rules set it and US brokers apply it): the
// requirement of one strategy, a group of option and stock legs. docs/models/strategy_margin.md
// gives each rule with its source (Cboe Margin Manual, 2021); in short, per contract of
// multiplier m and with U the underlying, K the strike, P the option price:
//
//   long option: P m, or 75 % of it with more than 9 months left (listed, marginable);
//   naked short: (P + max(rate U - OTM, minimum X)) m, X = U for calls, K for puts;
//   spread (any limited-risk group, the "maximum potential loss" rule): min(the shorts'
//     naked requirements, the worst loss of the legs' intrinsic values at each strike) + the
//     longs' cost; each option type long and short in equal number, no short outliving the
//     longs;
//   short straddle / strangle: the larger naked requirement + the other side's price;
//   stock and its hedges (covered call and put, protective put, collar, conversion, reverse
//   conversion, long call against short stock, European long box): the manual's formulas,
//   initial and maintenance.
//
// Requirements are gross (they include the cost of long legs and, for short stock, the sale
// proceeds); `proceeds` is what the short legs bring in. Every input is checked first; no
// allocation, no exception.
#pragma once

#include <cstddef>
#include <cstdint>

#include "pymargin/error.hpp"

namespace pymargin::models {

enum class StrategyKind : std::uint8_t {
  kLongOption = 0,
  kNakedShort = 1,
  kSpread = 2,
  kShortStraddle = 3,
  kLongStock = 4,
  kShortStock = 5,
  kCoveredCall = 6,         // long stock, short call
  kCoveredPut = 7,          // short stock, short put
  kProtectivePut = 8,       // long stock, long put
  kCollar = 9,              // long stock, long put, short call
  kConversion = 10,         // long stock, long put, short call, one strike
  kReverseConversion = 11,  // short stock, long call, short put, one strike
  kLongCallShortStock = 12,
  kLongBoxEuropean = 13,  // long call K1, short call K2, long put K2, short put K1
};
inline constexpr std::uint8_t kStrategyKinds = 14;

struct StrategyLeg {
  double quantity = 0.0;  // signed: contracts for options, shares for stock
  bool stock = false;
  bool call = true;
  bool otc = false;       // an OTC option (its long side keeps 75 % of intrinsic value only)
  double strike = 0.0;
  double price = 0.0;     // per unit of the underlying (an option's premium, a share's price)
  double underlying = 0.0;
  double multiplier = 100.0;
  double months = 0.0;    // to expiry
};

struct StrategyRates {
  double rate = 0.20;      // naked short: 20 % of the underlying (15 % broad-based index)
  double minimum = 0.10;   // ... at least 10 % of the underlying (calls) or strike (puts)
  double long_fraction = 0.75;  // long options with more than long_months left
  double long_months = 9.0;
  bool long_marginable = true;  // equity / equity-based underlyings
  double stock_initial = 0.50;
  double stock_maintenance = 0.25;
  double short_stock_maintenance = 0.30;  // plus 100 % of the value; $5 a share at least
  double hedge_fraction = 0.10;           // of the strike, for hedged stock
};

struct StrategyRequirement {
  double initial = 0.0;
  double maintenance = 0.0;
  double proceeds = 0.0;
};

// The requirement of one strategy made of legs[n] (see StrategyKind for the legs each takes,
// in any order). A group that is not that strategy is refused (Status names the field).
Status strategy_requirement(StrategyKind kind, const StrategyLeg* legs, std::size_t n,
                            const StrategyRates& rates, StrategyRequirement* out) noexcept;

}  // namespace pymargin::models
