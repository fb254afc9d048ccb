// The Deribit S:PM worst case of one pair's scenario vector, shared by the pre-trade engine
// and the batch margin kernel (one definition, so both charge the same).
#pragma once

#include <cmath>
#include <cstddef>

namespace pymargin::kernel::detail {

// Gains credited at `offset` up to `cap`, the 8 extended entries (after n_std standard ones)
// reduced in magnitude by damp[k], not past zero; returns the most negative entry as a
// positive loss (0 when none is negative). Plain comparisons: inputs are finite.
inline double pm_worst(const double* v, std::size_t n_std, double offset, double cap,
                       const double* damp) noexcept {
  double low = 0.0;
  for (std::size_t j = 0; j < n_std; ++j) {
    const double credited = v[j] * offset;
    const double x = v[j] > 0.0 ? (credited < cap ? credited : cap) : v[j];
    low = x < low ? x : low;
  }
  for (std::size_t k = 0; k < 8; ++k) {
    const double raw = v[n_std + k];
    const double credited = raw * offset;
    const double x = raw > 0.0 ? (credited < cap ? credited : cap) : raw;
    const double shrunk = std::fabs(x) - damp[k];
    const double mag = shrunk > 0.0 ? shrunk : 0.0;
    const double y = x < 0.0 ? -mag : mag;
    low = y < low ? y : low;
  }
  return -low;
}

inline double round9(double x) noexcept { return std::nearbyint(x * 1e9) / 1e9; }

}  // namespace pymargin::kernel::detail
