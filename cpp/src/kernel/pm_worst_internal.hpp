// The Deribit S:PM worst case of one pair's scenario vector, shared by the pre-trade engine
// and the batch margin kernel (one definition, so both charge the same).
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

// The lowest entry itself (not floored at zero) and its index, with the model's tie-breaks:
// among equal lowest entries a standard one in a bucket's unchanged-vol slot (index % 3 == 1),
// else the first.
inline double pm_lowest_entry(const double* v, std::size_t n_std, double offset, double cap,
                              const double* damp, std::int32_t* at) noexcept {
  double low = std::numeric_limits<double>::infinity();
  bool preferred = false;
  for (std::size_t j = 0; j < n_std + 8; ++j) {
    const bool standard = j < n_std;
    const double x = pm_entry(v[j], offset, cap, standard ? 0.0 : damp[j - n_std]);
    const bool pref = standard && j % 3 == 1;
    if (x < low || (x == low && pref && !preferred)) {
      low = x;
      *at = static_cast<std::int32_t>(j);
      preferred = pref;
    }
  }
  return low;
}

inline double round9(double x) noexcept { return std::nearbyint(x * 1e9) / 1e9; }

}  // namespace pymargin::kernel::detail
