// SPDX-License-Identifier: Apache-2.0
#include "pymargin/kernel/aggregate.hpp"

#include <cmath>

namespace pymargin::kernel {

namespace {

// Every position's row index within the risk arrays, and its size finite.
Status check_positions(std::size_t n_instruments, const std::int64_t* index, const double* qty,
                       std::size_t n_positions) noexcept {
  for (std::size_t p = 0; p < n_positions; ++p) {
    if (index[p] < 0 || static_cast<std::size_t>(index[p]) >= n_instruments) {
      return Status::invalid("index", p, "no such instrument row in the risk arrays");
    }
    if (!std::isfinite(qty[p])) return Status::invalid("size", p, "not finite");
  }
  return Status::success();
}

}  // namespace

Status aggregate(const double* risk, std::size_t n_instruments, std::size_t n_scenarios,
                 const std::int64_t* index, const double* qty, std::size_t n_positions,
                 double* out) noexcept {
  if (n_positions > 0 && (index == nullptr || qty == nullptr)) {
    return Status::bad_argument("positions", "missing index or size column");
  }
  if (n_scenarios > 0 && out == nullptr) return Status::bad_argument("out", "missing output");
  const Status st = check_positions(n_instruments, index, qty, n_positions);
  if (!st.ok()) return st;
  for (std::size_t s = 0; s < n_scenarios; ++s) out[s] = 0.0;
  for (std::size_t p = 0; p < n_positions; ++p) {
    const double q = qty[p];
    const double* row = risk + static_cast<std::size_t>(index[p]) * n_scenarios;
    for (std::size_t s = 0; s < n_scenarios; ++s) out[s] += q * row[s];
  }
  return Status::success();
}

Status scaled_vectors(const double* risk, std::size_t n_instruments, std::size_t n_scenarios,
                      std::size_t n_std, const std::int64_t* index, const double* qty,
                      const std::uint8_t* inverse, std::size_t n_positions, const double* scale,
                      const double* edge, double* out, double* vectors) noexcept {
  if (n_std > n_scenarios) return Status::bad_argument("n_std", "more than the scenarios");
  if (n_positions > 0 && (index == nullptr || qty == nullptr || inverse == nullptr)) {
    return Status::bad_argument("positions", "missing index, size or inverse column");
  }
  if (n_scenarios > n_std && scale == nullptr) return Status::bad_argument("scale", "missing");
  if (n_scenarios > 0 && out == nullptr) return Status::bad_argument("out", "missing output");
  const Status st = check_positions(n_instruments, index, qty, n_positions);
  if (!st.ok()) return st;
  for (std::size_t s = 0; s < n_scenarios; ++s) out[s] = 0.0;
  const std::size_t n_ext = n_scenarios - n_std;
  for (std::size_t p = 0; p < n_positions; ++p) {
    const double q = qty[p];
    const double* row = risk + static_cast<std::size_t>(index[p]) * n_scenarios;
    double* v = vectors != nullptr ? vectors + p * n_scenarios : nullptr;
    for (std::size_t s = 0; s < n_std; ++s) {
      const double t = row[s] * q;
      if (v) v[s] = t;
      out[s] += t;
    }
    const bool at_edge = edge != nullptr && inverse[p] != 0;
    for (std::size_t k = 0; k < n_ext; ++k) {
      double t = row[n_std + k] * q;
      t *= scale[k];
      if (at_edge) t *= edge[k];
      if (v) v[n_std + k] = t;
      out[n_std + k] += t;
    }
  }
  return Status::success();
}

}  // namespace pymargin::kernel
