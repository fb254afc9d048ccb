// SPDX-License-Identifier: Apache-2.0
// CME SPAN (classic, 16 scenarios) per combined commodity, with the intra-commodity spread
// charge, the inter-commodity spread credit and the short option minimum (CME's SPAN overview
// and "SPAN components" pages; the Python module pymargin.models.span and tests/models/test_span.py
// cite them):
//
//   scan risk   = max(0, largest loss of the weighted scenario P&L)
//   time risk   = mean loss of scenarios 1-2 (price unchanged, vol up / down)
//   price risk  = max(0, max over the 7 paired scenarios of their mean loss - time risk)
//   intra       = per tier pair, in priority order, min(|delta_t1|, |delta_t2|) x rate where the
//                 tiers' remaining deltas have opposite signs (each pair consumes what it uses)
//   inter       = per spread, in order, n = min(|dA| / a, |dB| / b) where the commodities'
//                 remaining net deltas have opposite signs; each leg credited rate x n x its
//                 ratio x its weighted price risk (price risk / |net delta|)
//   requirement = max(scan + intra - inter, short_option_minimum x short options, 0)
#pragma once

#include <cstddef>
#include <cstdint>

#include "pymargin/error.hpp"

namespace pymargin::models {

inline constexpr std::size_t kSpanScenarios = 16;
inline constexpr std::size_t kSpanMaxTiers = 32;

struct SpanCommodity {
  const double* pnl = nullptr;         // [16] weighted scenario P&L, gains positive
  std::size_t tiers = 0;               // <= kSpanMaxTiers
  const double* tier_delta = nullptr;  // [tiers] net delta per expiry tier
  double short_options = 0.0;          // number of short options
  double short_option_minimum = 0.0;   // per short option
  std::size_t intra_pairs = 0;
  const std::int32_t* intra_tiers = nullptr;  // [2 x intra_pairs]: tier, tier
  const double* intra_rates = nullptr;        // [intra_pairs] per unit of delta spread
};

struct SpanInterSpread {
  std::int32_t a = 0, b = 0;  // commodity indices
  double ratio_a = 1.0, ratio_b = 1.0;
  double rate = 0.0;  // 0 .. 1
};

struct SpanRequirement {
  double scan_risk = 0.0;
  double price_risk = 0.0;
  double time_risk = 0.0;
  double intra_charge = 0.0;
  double inter_credit = 0.0;
  double short_option_minimum = 0.0;
  double requirement = 0.0;
  std::int32_t worst_scenario = 0;
  double net_delta = 0.0;
  double unspread_delta = 0.0;  // what the inter-commodity spreads left of the net delta
};

// A scanning-based spread (CME's "scanning-based" inter-commodity spread, evaluated before the
// intra-commodity spreads): the legs' risk arrays for the quantity moved into the spread,
// losses positive, [legs x 16]; per scenario j, value_j = the legs' losses + gain_allowance x
// their gains (a gain is a negative entry), and the spread's risk = max(0, max_j value_j).
// values[16] receives each scenario's value. No allocation, no exception.
Status scanning_spread(const double* legs, std::size_t n_legs, double gain_allowance,
                       double* values, double* risk) noexcept;

// Every input is checked first (finite, rates and minimums >= 0, tiers and legs in range); on
// error nothing is written. No allocation, no exception.
Status span_requirement(const SpanCommodity* commodities, std::size_t n,
                        const SpanInterSpread* spreads, std::size_t m,
                        SpanRequirement* out) noexcept;

}  // namespace pymargin::models
