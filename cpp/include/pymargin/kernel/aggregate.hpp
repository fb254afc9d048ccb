// Aggregation of positions over cached risk arrays: an account's scenario P&L vector is the
// sum of its positions' rows scaled by their sizes. This is the whole cost of re-margining an
// account from cached risk arrays (plus the model's max and add-ons).
#pragma once

#include <cstddef>
#include <cstdint>

#include "pymargin/error.hpp"

namespace pymargin::kernel {

// out[s] = sum_p qty[p] * risk[index[p] * n_scenarios + s], for s < n_scenarios. risk holds
// n_instruments rows. Checks indices and sizes first; nothing is written on error.
Status aggregate(const double* risk, std::size_t n_instruments, std::size_t n_scenarios,
                 const std::int64_t* index, const double* qty, std::size_t n_positions,
                 double* out) noexcept;

}  // namespace pymargin::kernel
