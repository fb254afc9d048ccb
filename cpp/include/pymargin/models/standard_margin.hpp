// SPDX-License-Identifier: Apache-2.0
// Deribit standard margin (S:SM / X:SM): each position carries its own IM and MM, and the
// account's requirement is their sum (no offsets between positions). Two rules cover the
// published tables (the dated parameter files in pymargin/data/models/deribit_standard cite
// each):
//
//   size-scaled (perpetuals and futures): IM = |q| (im_base + im_per_unit |q|) x price,
//     MM = |q| (mm_base + mm_per_unit |q|) x price, with q in coins and price the coin's value
//     in the settlement currency (the index for linear contracts, 1 for inverse ones);
//   inverse option (per option, in coin; mark = the option's mark in coin, S = the index,
//     OTM = max(0, K - S) for calls, max(0, S - K) for puts): a long position needs nothing
//     beyond its premium; short call IM = max(im_otm_base - OTM / S, im_floor) + mark,
//     MM = mm + mark; short put MM = max(mm, mm x mark) + mark,
//     IM = max(max(im_otm_base - OTM / S, im_floor) + mark, MM); both times |q|;
//   option (the shape venues publish for linear and coin-settled options; per unit of size, u
//     the unit price (the index for USD-settled options, 1 for coin-settled ones), R the price
//     OTM is measured against (the index, or the expiry's forward), MF the tier factor):
//     MM = max(mm u, mm mark) MF + mark + liquidation_fee u,
//     IM = max(im_otm_base - OTM / R, im_floor) MF u + im_premium, at least MM for puts
//     (mm_floor 1), for every short (2) or never (0); longs need nothing beyond their premium.
#pragma once

#include <cstddef>
#include <cstdint>

#include "pymargin/error.hpp"

namespace pymargin::models {

enum class StandardRule : std::uint8_t { kSizeScaled = 0, kInverseOption = 1, kOption = 2 };

struct StandardPosition {
  StandardRule rule = StandardRule::kSizeScaled;
  double size = 0.0;  // signed, coins (options: units of one coin)
  // size-scaled
  double im_base = 0.0, im_per_unit = 0.0, mm_base = 0.0, mm_per_unit = 0.0;
  double price = 1.0;  // settlement units per coin
  // inverse option
  double im_otm_base = 0.0, im_floor = 0.0, mm = 0.0;
  bool call = true;
  double strike = 0.0, index = 0.0, mark = 0.0;  // USD, USD, coin
  // option (the generic shape)
  double unit = 1.0;             // u: settlement units per unit of moneyness
  double reference = 0.0;        // R: OTM is measured against it (0: the index)
  double tier_factor = 1.0;      // MF
  double liquidation_fee = 0.0;  // a fraction of u, in MM
  double im_premium = -1.0;      // the premium IM adds (< 0: the mark)
  std::uint8_t mm_floor = 1;     // IM >= MM for: 0 no short, 1 short puts, 2 every short
};

struct StandardMargin {
  double initial_margin = 0.0;
  double maintenance_margin = 0.0;
};

// One position's IM and MM, its inputs already checked (check_standard_position): the
// function standard_margin applies to each position, and the pre-trade engine to each term.
StandardMargin standard_position(const StandardPosition& p) noexcept;
// The checks standard_margin makes of position i (finite size, rates >= 0, prices > 0).
Status check_standard_position(const StandardPosition& p, std::size_t i) noexcept;

// Per-position IM and MM into out[n]. Every input is checked first (finite, rates >= 0,
// prices > 0, marks >= 0); on error nothing is written and the Status names the field and
// the position. No allocation, no exception.
Status standard_margin(const StandardPosition* positions, std::size_t n,
                       StandardMargin* out) noexcept;

}  // namespace pymargin::models
