// SPDX-License-Identifier: Apache-2.0
#include "pymargin/models/sensitivity_margin.hpp"

#include <cmath>

#include "../common/minmax.hpp"

namespace pymargin::models {

namespace {

using pymargin::detail::max_of;
using pymargin::detail::min_of;

bool finite_all(const double* v, std::size_t n) noexcept {
  for (std::size_t j = 0; j < n; ++j) {
    if (!std::isfinite(v[j])) return false;
  }
  return true;
}

double max_abs(const double* v, std::size_t n) noexcept {
  double s = 0.0;
  for (std::size_t j = 0; j < n; ++j) s = max_of(s, std::fabs(v[j]));
  return s;
}

// sqrt(sum w^2 + corr ((sum w)^2 - sum w^2)) on w / max|w|.
double cross(const double* w, std::size_t n, double corr) noexcept {
  const double s = max_abs(w, n);
  if (s == 0.0) return 0.0;
  double sq = 0.0, sum = 0.0;
  for (std::size_t j = 0; j < n; ++j) {
    const double v = w[j] / s;
    sq += v * v;
    sum += v;
  }
  return s * std::sqrt(max_of(sq + corr * (sum * sum - sq), 0.0));
}

// sqrt(w' rho w) on w / max|w|.
double within(const double* w, std::size_t k, const double* rho) noexcept {
  const double s = max_abs(w, k);
  if (s == 0.0) return 0.0;
  // The quotients once each (k <= kMaxSensitivityBuckets), not once per matrix element: the
  // same values, so the same bits, at a k-th of the divisions.
  double ws[kMaxSensitivityBuckets];
  for (std::size_t b = 0; b < k; ++b) ws[b] = w[b] / s;
  double total = 0.0;
  for (std::size_t a = 0; a < k; ++a) {
    double row = 0.0;
    for (std::size_t b = 0; b < k; ++b) row += rho[a * k + b] * ws[b];
    total += ws[a] * row;
  }
  return s * std::sqrt(max_of(total, 0.0));
}

}  // namespace

Status sensitivity_margin(const SensitivityInputs& in, SensitivityMargin* out,
                          double* curvature) noexcept {
  if (out == nullptr) return Status::bad_argument("out", "missing");
  const std::size_t U = in.underlyings;
  const std::size_t K = in.buckets;
  if (K > kMaxSensitivityBuckets) return Status::bad_argument("buckets", "at most 64");
  if (U > 0 && (!in.weighted_delta || !in.weighted_vega || !in.pnl_up || !in.pnl_down ||
                !in.delta_usd || !in.risk_weight)) {
    return Status::bad_argument("inputs", "missing column");
  }
  if (K > 0 && in.tenor_corr == nullptr) return Status::bad_argument("tenor_corr", "missing");
  if (!(in.delta_corr >= -1.0 && in.delta_corr <= 1.0 && in.vega_corr >= -1.0 &&
        in.vega_corr <= 1.0)) {
    return Status::bad_argument("correlation", "must be in [-1, 1]");
  }
  if (!finite_all(in.tenor_corr, K * K)) return Status::bad_argument("tenor_corr", "not finite");
  for (std::size_t b = 0; b < U; ++b) {
    const double v[] = {in.weighted_delta[b], in.pnl_up[b], in.pnl_down[b], in.delta_usd[b],
                        in.risk_weight[b]};
    if (!finite_all(v, 5) || !finite_all(in.weighted_vega + b * K, K)) {
      return Status::invalid("sensitivities", b, "not finite (prices or sizes beyond range)");
    }
  }
  SensitivityMargin m;
  m.delta_margin = cross(in.weighted_delta, U, in.delta_corr);
  // Vega: per underlying K_b and the clamped S_b, then across underlyings on the K_b scale.
  // Each K_b is computed once and kept for the second pass (up to kKept underlyings; beyond,
  // recomputed: the same value either way).
  constexpr std::size_t kKept = 64;
  double kept[kKept];
  double k_scale = 0.0;
  for (std::size_t b = 0; b < U; ++b) {
    const double k_b = within(in.weighted_vega + b * K, K, in.tenor_corr);
    if (b < kKept) kept[b] = k_b;
    k_scale = max_of(k_scale, k_b);
  }
  if (k_scale > 0.0) {
    double kk = 0.0, s_sum = 0.0, s_sq = 0.0;
    for (std::size_t b = 0; b < U; ++b) {
      const double* w = in.weighted_vega + b * K;
      const double k_b = b < kKept ? kept[b] : within(w, K, in.tenor_corr);
      double s_b = 0.0;
      for (std::size_t j = 0; j < K; ++j) s_b += w[j];
      s_b = min_of(max_of(s_b, -k_b), k_b);
      const double kn = k_b / k_scale;
      const double sn = s_b / k_scale;
      kk += kn * kn;
      s_sum += sn;
      s_sq += sn * sn;
    }
    m.vega_margin = k_scale * std::sqrt(max_of(kk + in.vega_corr * (s_sum * s_sum - s_sq), 0.0));
  }
  double cm = 0.0;
  for (std::size_t b = 0; b < U; ++b) {
    const double rw = in.risk_weight[b];
    const double d = in.delta_usd[b];
    const double up = -(in.pnl_up[b] - d * rw);
    const double down = -(in.pnl_down[b] + d * rw);
    if (!(std::isfinite(up) && std::isfinite(down))) {
      return Status::invalid("curvature", b, "not finite");
    }
    cm += max_of(0.0, max_of(up, down));
  }
  m.curvature_margin = cm;
  m.initial_margin = m.delta_margin + m.vega_margin + m.curvature_margin;
  const double v[] = {m.delta_margin, m.vega_margin, m.curvature_margin, m.initial_margin};
  if (!finite_all(v, 4)) return Status::bad_argument("margin", "not finite");
  *out = m;
  if (curvature != nullptr) {
    for (std::size_t b = 0; b < U; ++b) {
      const double rw = in.risk_weight[b];
      const double d = in.delta_usd[b];
      curvature[b] = max_of(0.0, max_of(-(in.pnl_up[b] - d * rw), -(in.pnl_down[b] + d * rw)));
    }
  }
  return Status::success();
}

}  // namespace pymargin::models
