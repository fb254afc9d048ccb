// SPDX-License-Identifier: Apache-2.0
// Scenario sets as data: each scenario moves every underlying's price by a relative amount and
// puts the implied vols in a vol state (down, unchanged, up) that a per-underlying vol-shock
// rule turns into shocked vols. Margin models add weights and tail transforms on top.
#pragma once

#include <cstddef>
#include <cstdint>

#include "pymargin/error.hpp"

namespace pymargin::scenarios {

enum class VolShockKind : std::uint8_t {
  kRelative = 0,  // sigma (1 +/- range * (30/DTE)^p), up floored at min_vol_up, down at 0
  kAdditive = 1   // sigma +/- points (down floored at min_vol_down)
};

// One underlying's vol-shock rule. DTE in days (calendar), floored at dte_floor_days.
struct VolShockRule {
  VolShockKind kind = VolShockKind::kRelative;
  double range_up = 0.0;  // relative: fraction; additive: vol points as a fraction
  double range_down = 0.0;
  double min_vol_up = 0.0;    // floor of the shocked-up vol (absolute vol)
  double min_vol_down = 0.0;  // floor of the shocked-down vol
  double short_power = 0.30;  // p for DTE < power_switch_days
  double long_power = 0.13;   // p for DTE >= power_switch_days
  double power_switch_days = 30.0;
  double reference_days = 30.0;  // the 30 in (30/DTE)^p
  double dte_floor_days = 1.0;
};

// Shocked vol for one vol state (-1 down, 0 unchanged, +1 up).
double shocked_vol(const VolShockRule& rule, double vol, double dte_days, int vol_state) noexcept;

// The same in two steps, for callers that shock many vols of one tenor: the tenor factor
// (reference/DTE)^p (1 for additive rules), then the shock. shocked_vol(rule, v, dte, state) ==
// apply_vol_shock(rule, v, tenor_multiplier(rule, dte), state), bit for bit.
double tenor_multiplier(const VolShockRule& rule, double dte_days) noexcept;
double apply_vol_shock(const VolShockRule& rule, double vol, double mult, int vol_state) noexcept;

// Non-owning view of a scenario set: n scenarios over m underlyings.
struct ScenarioView {
  std::size_t n = 0;             // scenarios
  std::size_t m = 0;             // underlyings
  const double* move = nullptr;  // [n x m] relative price move of each underlying, row-major
  const std::int8_t* vol_state = nullptr;  // [n] -1, 0, +1
  const VolShockRule* rules = nullptr;     // [m]
  // Optional [n x m]: every implied vol of underlying u scaled by vol_scale[j m + u] in
  // scenario j (historical and Monte Carlo scenarios move vols continuously), applied after
  // the vol state's shock. Null: 1.
  const double* vol_scale = nullptr;
};

Status validate(const ScenarioView& s) noexcept;

}  // namespace pymargin::scenarios
