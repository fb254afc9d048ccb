// SPDX-License-Identifier: Apache-2.0
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

// Deribit portfolio margin's position vectors over cached risk arrays: for position p (row
// index[p], size qty[p]) the terms t_s = risk * qty, from entry n_std on also x scale[s -
// n_std] and, for an inverse position (inverse[p] != 0, when `edge` is given), x edge[s -
// n_std], each product rounded in that order; out[s] = the sum of t_s over the positions in
// order (the numpy model's operations, so the same bits); vectors (optional, [n_positions x
// n_scenarios]) receives each t. Checks indices and sizes first; nothing is written on error.
Status scaled_vectors(const double* risk, std::size_t n_instruments, std::size_t n_scenarios,
                      std::size_t n_std, const std::int64_t* index, const double* qty,
                      const std::uint8_t* inverse, std::size_t n_positions, const double* scale,
                      const double* edge, double* out, double* vectors) noexcept;

}  // namespace pymargin::kernel
