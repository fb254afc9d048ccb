// SPDX-License-Identifier: Apache-2.0
// The Greek-netting batch kernel (pymargin/kernel/batch_margin.hpp): per account the summed
// sensitivities of each underlying it holds, then the core's sensitivity_margin.
#include <algorithm>
#include <cmath>
#include <vector>

#include "batch_internal.hpp"
#include "pymargin/kernel/batch_margin.hpp"

namespace pymargin::kernel {

namespace {

// Per-thread sums, sized once: per underlying its delta, vega by bucket and P&L at +-RW.
struct SensScratch {
  std::vector<double> delta, vega, up, down;  // [U], [U x B], [U], [U]
  std::vector<unsigned char> used;
  std::vector<std::int32_t> touched;
  // the held underlyings' inputs, contiguous for the model
  std::vector<double> w_delta, w_vega, h_up, h_down, h_delta, h_rw, curvature;
};

}  // namespace

namespace {

// The model's terms and every instrument's underlying, bucket and sensitivities checked.
Status check_sensitivity_batch(const BatchSensitivityModel& m,
                               const BatchSensitivityInstruments& in) noexcept {
  const std::size_t U = m.underlyings;
  const std::size_t B = m.buckets;
  if (U == 0 || B == 0 || B > models::kMaxSensitivityBuckets || !m.tenor_corr || !m.delta_rw) {
    return Status::bad_argument("model", "underlyings, 1 to 64 buckets, correlations, weights");
  }
  for (std::size_t u = 0; u < U; ++u) {
    if (!(std::isfinite(m.delta_rw[u]) && m.delta_rw[u] >= 0.0)) {
      return Status::invalid("delta_rw", u, "must be finite and >= 0");
    }
  }
  if (in.n > 0 && (!in.underlying || !in.bucket || !in.delta_usd || !in.weighted_vega ||
                   !in.pnl_up || !in.pnl_down || !in.value)) {
    return Status::bad_argument("instruments", "missing column");
  }
  for (std::size_t i = 0; i < in.n; ++i) {
    if (in.underlying[i] < 0 || static_cast<std::size_t>(in.underlying[i]) >= U) {
      return Status::invalid("underlying", i, "no such underlying");
    }
    if (in.bucket[i] < -1 || in.bucket[i] >= static_cast<std::int32_t>(B)) {
      return Status::invalid("bucket", i, "no such tenor bucket");
    }
    const double v[] = {in.delta_usd[i], in.weighted_vega[i], in.pnl_up[i], in.pnl_down[i],
                        in.value[i]};
    for (double x : v) {
      if (!std::isfinite(x)) return Status::invalid("sensitivities", i, "must be finite");
    }
  }
  return Status::success();
}

// Account a: its positions' sensitivities summed per underlying (in the model's underlying
// order), the model evaluated, the margin written (IM = MM; NaN when not covered).
void margin_account(const BatchSensitivityModel& m, const BatchSensitivityInstruments& in,
                    const BatchAccounts& acc, const BatchOutputs& out, std::size_t a,
                    SensScratch& s) noexcept {
  const std::size_t B = m.buckets;
  double equity = acc.collateral[a];
  for (auto p = acc.offsets[a]; p < acc.offsets[a + 1]; ++p) {
    const auto i = static_cast<std::size_t>(acc.instrument[p]);
    const double q = acc.amount[p];
    const auto u = static_cast<std::size_t>(in.underlying[i]);
    if (!s.used[u]) {
      s.used[u] = 1;
      s.touched.push_back(static_cast<std::int32_t>(u));
      s.delta[u] = s.up[u] = s.down[u] = 0.0;
      std::fill(s.vega.begin() + static_cast<std::ptrdiff_t>(u * B),
                s.vega.begin() + static_cast<std::ptrdiff_t>((u + 1) * B), 0.0);
    }
    s.delta[u] += q * in.delta_usd[i];
    if (in.bucket[i] >= 0)
      s.vega[u * B + static_cast<std::size_t>(in.bucket[i])] += q * in.weighted_vega[i];
    s.up[u] += q * in.pnl_up[i];
    s.down[u] += q * in.pnl_down[i];
    equity += q * in.value[i];
  }
  std::sort(s.touched.begin(), s.touched.end());  // the model's underlying order
  std::size_t k = 0;
  for (std::int32_t u32 : s.touched) {
    const auto u = static_cast<std::size_t>(u32);
    s.w_delta[k] = m.delta_rw[u] * s.delta[u];
    std::copy(s.vega.begin() + static_cast<std::ptrdiff_t>(u * B),
              s.vega.begin() + static_cast<std::ptrdiff_t>((u + 1) * B),
              s.w_vega.begin() + static_cast<std::ptrdiff_t>(k * B));
    s.h_up[k] = s.up[u];
    s.h_down[k] = s.down[u];
    s.h_delta[k] = s.delta[u];
    s.h_rw[k] = m.delta_rw[u];
    s.used[u] = 0;
    ++k;
  }
  s.touched.clear();
  models::SensitivityInputs x;
  x.underlyings = k;
  x.buckets = B;
  x.weighted_delta = s.w_delta.data();
  x.weighted_vega = s.w_vega.data();
  x.tenor_corr = m.tenor_corr;
  x.delta_corr = m.delta_corr;
  x.vega_corr = m.vega_corr;
  x.pnl_up = s.h_up.data();
  x.pnl_down = s.h_down.data();
  x.delta_usd = s.h_delta.data();
  x.risk_weight = s.h_rw.data();
  models::SensitivityMargin r;
  const Status st =
      k == 0 ? Status::success() : models::sensitivity_margin(x, &r, s.curvature.data());
  const double im = st.ok() ? r.initial_margin : NAN;  // not covered when not ok
  detail::write_account(out, acc, a, im, im, equity, -1);   // IM = MM
}

}  // namespace

Status batch_sensitivity(const BatchSensitivityModel& m, const BatchSensitivityInstruments& in,
                         const BatchAccounts& acc, const BatchOutputs& out, int threads) noexcept {
  const std::size_t U = m.underlyings;
  const std::size_t B = m.buckets;
  Status checked = check_sensitivity_batch(m, in);
  if (!checked.ok()) return checked;
  checked = detail::check_accounts(acc, in.n, out, nullptr);
  if (!checked.ok()) return checked;
  if (acc.n == 0) return Status::success();
  const std::size_t nthreads = detail::batch_threads(acc, threads);
  std::vector<SensScratch> scratch;
  try {
    scratch.resize(nthreads);
    for (auto& s : scratch) {
      s.delta.assign(U, 0.0);
      s.vega.assign(U * B, 0.0);
      s.up.assign(U, 0.0);
      s.down.assign(U, 0.0);
      s.used.assign(U + 64, 0);
      s.touched.reserve(U + 16);
      for (auto* v : {&s.w_delta, &s.h_up, &s.h_down, &s.h_delta, &s.h_rw, &s.curvature}) {
        v->assign(U + 8, 0.0);
      }
      s.w_vega.assign(U * B + 8, 0.0);
    }
  } catch (...) {
    return Status::bad_argument("accounts", "not enough memory for the scratch buffers");
  }
  auto range = [&](std::size_t t, std::size_t begin, std::size_t end) noexcept {
    for (std::size_t a = begin; a < end; ++a) margin_account(m, in, acc, out, a, scratch[t]);
  };
  detail::run_split(acc, nthreads, range);
  return Status::success();
}

}  // namespace pymargin::kernel
