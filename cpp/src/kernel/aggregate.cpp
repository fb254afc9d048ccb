#include "pymargin/kernel/aggregate.hpp"

#include <cmath>

namespace pymargin::kernel {

Status aggregate(const double* risk, std::size_t n_instruments, std::size_t n_scenarios,
                 const std::int64_t* index, const double* qty, std::size_t n_positions,
                 double* out) noexcept {
  if (n_positions > 0 && (index == nullptr || qty == nullptr)) {
    return Status::bad_argument("positions", "missing index or size column");
  }
  if (n_scenarios > 0 && out == nullptr) return Status::bad_argument("out", "missing output");
  for (std::size_t p = 0; p < n_positions; ++p) {
    if (index[p] < 0 || static_cast<std::size_t>(index[p]) >= n_instruments) {
      return Status::invalid("index", p, "no such instrument row in the risk arrays");
    }
    if (!std::isfinite(qty[p])) return Status::invalid("size", p, "not finite");
  }
  for (std::size_t s = 0; s < n_scenarios; ++s) out[s] = 0.0;
  for (std::size_t p = 0; p < n_positions; ++p) {
    const double q = qty[p];
    const double* row = risk + static_cast<std::size_t>(index[p]) * n_scenarios;
    for (std::size_t s = 0; s < n_scenarios; ++s) out[s] += q * row[s];
  }
  return Status::success();
}

}  // namespace pymargin::kernel
