// SPDX-License-Identifier: Apache-2.0
#include "pymargin/scenarios/scenario_set.hpp"

#include <cmath>

namespace pymargin::scenarios {

double tenor_multiplier(const VolShockRule& rule, double dte_days) noexcept {
  if (rule.kind == VolShockKind::kAdditive) return 1.0;
  const double dte = std::fmax(dte_days, rule.dte_floor_days);
  const double p = dte < rule.power_switch_days ? rule.short_power : rule.long_power;
  return std::pow(rule.reference_days / dte, p);
}

double apply_vol_shock(const VolShockRule& rule, double vol, double mult, int vol_state) noexcept {
  if (vol_state == 0) return vol;
  if (rule.kind == VolShockKind::kAdditive) {
    if (vol_state > 0) return std::fmax(vol + rule.range_up, rule.min_vol_up);
    return std::fmax(vol - rule.range_down, rule.min_vol_down);
  }
  if (vol_state > 0) return std::fmax(vol * (1.0 + rule.range_up * mult), rule.min_vol_up);
  return std::fmax(vol * (1.0 - rule.range_down * mult), rule.min_vol_down);
}

double shocked_vol(const VolShockRule& rule, double vol, double dte_days, int vol_state) noexcept {
  if (vol_state == 0) return vol;
  return apply_vol_shock(rule, vol, tenor_multiplier(rule, dte_days), vol_state);
}

Status validate(const ScenarioView& s) noexcept {
  if (s.n > 0 && (s.move == nullptr || s.vol_state == nullptr)) {
    return Status::bad_argument("scenarios", "missing move or vol_state column");
  }
  if (s.m > 0 && s.rules == nullptr) return Status::bad_argument("vol_rules", "missing");
  for (std::size_t j = 0; j < s.n; ++j) {
    for (std::size_t u = 0; u < s.m; ++u) {
      const double mv = s.move[j * s.m + u];
      if (!std::isfinite(mv) || !(mv > -1.0)) {
        return Status::invalid("move", j, "must be finite and > -1 (a price cannot go below 0)");
      }
    }
    if (s.vol_state[j] < -1 || s.vol_state[j] > 1) {
      return Status::invalid("vol_state", j, "must be -1, 0 or +1");
    }
    if (s.vol_scale != nullptr) {
      for (std::size_t u = 0; u < s.m; ++u) {
        const double v = s.vol_scale[j * s.m + u];
        if (!std::isfinite(v) || !(v > 0.0)) {
          return Status::invalid("vol_scale", j, "must be finite and > 0");
        }
      }
    }
  }
  for (std::size_t u = 0; u < s.m; ++u) {
    const VolShockRule& r = s.rules[u];
    const double vals[] = {r.range_up,          r.range_down,     r.min_vol_up,
                           r.min_vol_down,      r.short_power,    r.long_power,
                           r.power_switch_days, r.reference_days, r.dte_floor_days};
    for (double v : vals) {
      if (!std::isfinite(v) || v < 0.0) {
        return Status::invalid("vol_rules", u, "parameters must be finite and >= 0");
      }
    }
    if (r.kind == VolShockKind::kRelative && r.range_down > 1.0) {
      return Status::invalid("vol_rules", u, "relative range_down must be <= 1");
    }
    if (!(r.dte_floor_days > 0.0))
      return Status::invalid("vol_rules", u, "dte_floor_days must be > 0");
  }
  return Status::success();
}

}  // namespace pymargin::scenarios
