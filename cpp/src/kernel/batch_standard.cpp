// SPDX-License-Identifier: Apache-2.0
// The standard-margin batch kernel (pymargin/kernel/batch_margin.hpp): every account's IM and
// MM as the sum of its positions' (the core's standard_position per position).
#include <cmath>

#include "batch_internal.hpp"
#include "pymargin/kernel/batch_margin.hpp"

namespace pymargin::kernel {

Status batch_standard(const BatchStandardInstruments& in, const BatchAccounts& acc,
                      const BatchOutputs& out, int threads) noexcept {
  if (in.n > 0 && (in.terms == nullptr || in.value == nullptr)) {
    return Status::bad_argument("instruments", "missing column");
  }
  for (std::size_t i = 0; i < in.n; ++i) {
    Status st = models::check_standard_position(in.terms[i], i);
    if (!st.ok()) return st;
    if (!std::isfinite(in.value[i])) return Status::invalid("value", i, "not finite");
  }
  Status checked = detail::check_accounts(acc, in.n, out, nullptr);
  if (!checked.ok()) return checked;
  if (acc.n == 0) return Status::success();
  auto range = [&](std::size_t, std::size_t begin, std::size_t end) noexcept {
    for (std::size_t a = begin; a < end; ++a) {
      double im = 0.0, mm = 0.0;
      double equity = acc.collateral[a];
      for (auto p = acc.offsets[a]; p < acc.offsets[a + 1]; ++p) {
        const auto i = static_cast<std::size_t>(acc.instrument[p]);
        models::StandardPosition x = in.terms[i];
        x.size = acc.amount[p];
        const models::StandardMargin m = models::standard_position(x);
        im += m.initial_margin;
        mm += m.maintenance_margin;
        equity += acc.amount[p] * in.value[i];
      }
      detail::write_account(out, acc, a, im, mm, equity, -1);
    }
  };
  detail::run_split(acc, detail::batch_threads(acc, threads), range);
  return Status::success();
}

}  // namespace pymargin::kernel
