// SPDX-License-Identifier: Apache-2.0
// The Deribit S:PM worst case of one pair's scenario vector for the pre-trade engine's check
// path, on the scenario-margin model's definition of an entry (the batch kernel and
// pm.margin() run that model itself), and Deribit's rounding.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "pymargin/models/scenario_margin.hpp"

namespace pymargin::kernel::detail {

// One aggregated entry as the model counts it: the scenario-margin model's own definition.
inline double pm_entry(double v, double offset, double cap, double damp) noexcept {
  return models::credited_entry(v, offset, cap, damp);
}

// The 8 extended entries follow n_std standard ones; returns the most negative entry as a
// positive loss (0 when none is negative). Plain comparisons: inputs are finite.
inline double pm_worst(const double* v, std::size_t n_std, double offset, double cap,
                       const double* damp) noexcept {
  double low = 0.0;
  for (std::size_t j = 0; j < n_std; ++j) {
    const double x = pm_entry(v[j], offset, cap, 0.0);
    low = x < low ? x : low;
  }
  for (std::size_t k = 0; k < 8; ++k) {
    const double y = pm_entry(v[n_std + k], offset, cap, damp[k]);
    low = y < low ? y : low;
  }
  return -low;
}

// Rounded to 9 decimals. From 1e15 on a double's resolution is coarser than 1e-9, so x is
// already the nearest double to its rounding, and scaling by 1e9 could only overflow (x above
// 1.8e299 would become inf).
inline double round9(double x) noexcept {
  return std::fabs(x) < 1e15 ? std::nearbyint(x * 1e9) / 1e9 : x;
}

}  // namespace pymargin::kernel::detail
