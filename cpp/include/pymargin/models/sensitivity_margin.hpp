// SPDX-License-Identifier: Apache-2.0
// The Greek-netting margin model (pymargin.models.delta_margin; the structure of ISDA SIMM):
// charges on weighted net delta, weighted vega by tenor bucket and curvature per underlying,
// aggregated with correlations. With WS_b the weighted delta of underlying b, WS_bk its
// weighted vega in tenor bucket k and rho_kl the tenor correlation:
//
//   delta     = sqrt(sum_b WS_b^2 + delta_corr sum_(b != c) WS_b WS_c)
//   K_b       = sqrt(sum_kl rho_kl WS_bk WS_bl),  S_b = sum_k WS_bk clamped to [-K_b, K_b]
//   vega      = sqrt(sum_b K_b^2 + vega_corr sum_(b != c) S_b S_c)
//   curvature = sum_b max(0, -(PnL(+RW_b) - delta_b RW_b), -(PnL(-RW_b) + delta_b RW_b))
//   IM = MM = delta + vega + curvature
//
// Quadratic forms are evaluated on weights scaled to their largest entry (no overflow of the
// squares); a result that is not finite is an error.
#pragma once

#include <cstddef>

#include "pymargin/error.hpp"

namespace pymargin::models {

struct SensitivityInputs {
  std::size_t underlyings = 0;
  std::size_t buckets = 0;
  const double* weighted_delta = nullptr;  // [underlyings]
  const double* weighted_vega = nullptr;   // [underlyings x buckets]
  const double* tenor_corr = nullptr;      // [buckets x buckets], symmetric, unit diagonal
  double delta_corr = 0.0;                 // between underlyings, -1 .. 1
  double vega_corr = 0.0;
  // curvature, per underlying: the revalued P&L at +RW and -RW, the USD delta, RW
  const double* pnl_up = nullptr;
  const double* pnl_down = nullptr;
  const double* delta_usd = nullptr;
  const double* risk_weight = nullptr;
};

struct SensitivityMargin {
  double delta_margin = 0.0;
  double vega_margin = 0.0;
  double curvature_margin = 0.0;
  double initial_margin = 0.0;
};

// `curvature` (optional, [underlyings]) receives each CVR_b. Inputs are checked first; on error
// nothing is written. No allocation (up to kMaxSensitivityBuckets tenor buckets), no exception.
inline constexpr std::size_t kMaxSensitivityBuckets = 64;
Status sensitivity_margin(const SensitivityInputs& in, SensitivityMargin* out,
                          double* curvature = nullptr) noexcept;

}  // namespace pymargin::models
