#include "pymargin/kernel/batch_margin.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <thread>
#include <vector>

#include "../pricing/batch_internal.hpp"
#include "pm_worst_internal.hpp"

namespace pymargin::kernel {

namespace {

// Per-thread working memory. The buffers written once per position (pair vectors, pair and
// expiry net deltas) sit in one allocation with a cache line of padding at each end, so two
// threads never write to the same line.
constexpr std::size_t kPad = 8;  // doubles: 64 bytes

struct Scratch {
  std::vector<double> store;        // pad | v [pairs x stride] | pair_delta [pairs] | net | pad
  double* v = nullptr;
  double* pair_delta = nullptr;     // [pairs] net coin delta
  double* net = nullptr;            // [expiries]
  std::vector<unsigned char> pair_used;
  std::vector<std::int32_t> pairs_touched;
  std::vector<unsigned char> exp_used;
  std::vector<std::int32_t> exps_touched;
};

void run_range(const BatchModel& m, const BatchInstruments& in, const BatchAccounts& acc,
               const BatchOutputs& out, std::size_t begin, std::size_t end, Scratch& s,
               pricing::detail::AxpyFn axpy) noexcept {
  const std::size_t stride = in.stride;
  for (std::size_t a = begin; a < end; ++a) {
    double equity = acc.collateral[a];
    const auto p0 = static_cast<std::size_t>(acc.offsets[a]);
    const auto p1 = static_cast<std::size_t>(acc.offsets[a + 1]);
    for (std::size_t p = p0; p < p1; ++p) {
      const auto i = static_cast<std::size_t>(acc.instrument[p]);
      const double q = acc.amount[p];
      const auto u = static_cast<std::size_t>(in.pair[i]);
      double* v = s.v + u * stride;
      if (!s.pair_used[u]) {
        s.pair_used[u] = 1;
        s.pairs_touched.push_back(static_cast<std::int32_t>(u));
        std::fill(v, v + stride, 0.0);
        s.pair_delta[u] = 0.0;
      }
      axpy(stride, q, in.risk + i * stride, v);
      s.pair_delta[u] += q * in.delta[i];
      const auto e = static_cast<std::size_t>(in.expiry[i]);
      if (!s.exp_used[e]) {
        s.exp_used[e] = 1;
        s.exps_touched.push_back(static_cast<std::int32_t>(e));
        s.net[e] = 0.0;
      }
      s.net[e] += q * in.delta[i];
      equity += q * in.value[i];
    }
    // Pairs and expiries in first-touch order: the sums do not depend on the thread split.
    // The worst scenario is the lowest entry over the pairs (the first pair on a tie), as
    // the model reports it.
    double worst = 0.0;
    double lowest = std::numeric_limits<double>::infinity();
    std::int32_t worst_at = -1;
    bool covered = true;
    unsigned finite = 1;  // the vectors themselves: the lowest entry skips a NaN
    for (std::int32_t u : s.pairs_touched) {
      const auto uu = static_cast<std::size_t>(u);
      const double* v = s.v + uu * stride;
      for (std::size_t j = 0; j < stride; ++j) {
        finite &= static_cast<unsigned>(std::fabs(v[j]) <= std::numeric_limits<double>::max());
      }
      std::int32_t at = -1;
      const double low =
          detail::pm_lowest_entry(v, m.n_std, m.pnl_offset, m.cap[uu], m.damp + uu * 8, &at);
      worst += low < 0.0 ? -low : 0.0;
      if (low < lowest) {
        lowest = low;
        worst_at = at;
      }
      if (m.delta_limit != nullptr && !(std::fabs(s.pair_delta[uu]) <= m.delta_limit[uu])) {
        covered = false;
      }
      s.pair_used[uu] = 0;
    }
    s.pairs_touched.clear();
    double roll = 0.0;
    for (std::int32_t e : s.exps_touched) {
      const auto ee = static_cast<std::size_t>(e);
      roll += m.roll_k[ee] * std::fabs(s.net[ee]);
      s.exp_used[ee] = 0;
    }
    s.exps_touched.clear();
    const double rmm = detail::round9(worst) + roll;
    const double mm = m.mm_factor * rmm;
    // Not covered: beyond the delta-shock threshold (the model's formula is unpublished), or
    // sums that overflow (inputs are finite, their sums need not be). NaN margins, never
    // reported healthy.
    if (!covered ||
        !(finite != 0 && std::isfinite(rmm) && std::isfinite(mm) && std::isfinite(equity))) {
      const double nan = std::numeric_limits<double>::quiet_NaN();
      out.initial_margin[a] = nan;
      out.maintenance_margin[a] = nan;
      out.equity[a] = equity;
      out.ratio[a] = nan;
      out.status[a] = 3;
      if (out.worst_index != nullptr) out.worst_index[a] = worst_at;
      continue;
    }
    out.initial_margin[a] = rmm;
    out.maintenance_margin[a] = mm;
    out.equity[a] = equity;
    out.ratio[a] = equity > 0.0 ? mm / equity
                   : mm > 0.0   ? std::numeric_limits<double>::infinity()
                                : 0.0;
    out.status[a] = static_cast<std::int8_t>(mm > 0.0 && mm >= equity   ? 2
                                             : rmm > 0.0 && rmm >= equity ? 1
                                                                         : 0);
    if (out.worst_index != nullptr) out.worst_index[a] = worst_at;
  }
}

}  // namespace

Status batch_margin(const BatchModel& m, const BatchInstruments& in, const BatchAccounts& acc,
                    const BatchOutputs& out, int threads) noexcept {
  if (in.stride != m.n_std + 8) return Status::bad_argument("risk", "rows must be n_std + 8 long");
  if (m.pairs == 0 || m.expiries == 0) return Status::bad_argument("model", "pairs, expiries");
  if (in.n > 0 && (!in.risk || !in.pair || !in.expiry || !in.delta || !in.value)) {
    return Status::bad_argument("instruments", "missing column");
  }
  if (!m.cap || !m.damp || !m.roll_k) return Status::bad_argument("model", "missing column");
  if (m.delta_limit != nullptr) {
    for (std::size_t u = 0; u < m.pairs; ++u) {
      if (!(m.delta_limit[u] >= 0.0)) return Status::invalid("delta_limit", u, "must be >= 0");
    }
  }
  if (!(m.pnl_offset >= 0.0 && m.pnl_offset <= 1.0)) {
    return Status::bad_argument("pnl_offset", "must be in [0, 1]");
  }
  for (std::size_t i = 0; i < in.n; ++i) {
    if (in.pair[i] < 0 || static_cast<std::size_t>(in.pair[i]) >= m.pairs) {
      return Status::invalid("pair", i, "no such pair");
    }
    if (in.expiry[i] < 0 || static_cast<std::size_t>(in.expiry[i]) >= m.expiries) {
      return Status::invalid("expiry", i, "no such expiry index");
    }
    if (!std::isfinite(in.delta[i]) || !std::isfinite(in.value[i])) {
      return Status::invalid("delta", i, "delta and value must be finite");
    }
    for (std::size_t j = 0; j < in.stride; ++j) {
      if (!std::isfinite(in.risk[i * in.stride + j])) {
        return Status::invalid("risk", i, "must be finite");
      }
    }
  }
  if (acc.n > 0 && (!acc.offsets || !acc.collateral)) {
    return Status::bad_argument("accounts", "missing offsets or collateral");
  }
  if (acc.n > 0 && acc.offsets[0] != 0) return Status::invalid("offsets", 0, "must start at 0");
  for (std::size_t a = 0; a < acc.n; ++a) {
    if (acc.offsets[a + 1] < acc.offsets[a]) {
      return Status::invalid("offsets", a + 1, "must not decrease");
    }
    if (!std::isfinite(acc.collateral[a])) return Status::invalid("collateral", a, "not finite");
  }
  const auto nnz = static_cast<std::size_t>(acc.n > 0 ? acc.offsets[acc.n] : 0);
  if (nnz > 0 && (!acc.instrument || !acc.amount)) {
    return Status::bad_argument("accounts", "missing instrument or amount");
  }
  for (std::size_t p = 0; p < nnz; ++p) {
    if (acc.instrument[p] < 0 || static_cast<std::size_t>(acc.instrument[p]) >= in.n) {
      return Status::invalid("instrument", p, "no such instrument");
    }
    if (!std::isfinite(acc.amount[p])) return Status::invalid("amount", p, "must be finite");
  }
  if (acc.n > 0 && (!out.initial_margin || !out.maintenance_margin || !out.equity ||
                    !out.ratio || !out.status)) {
    return Status::bad_argument("out", "missing output column");
  }
  if (acc.n == 0) return Status::success();
  std::size_t nthreads = threads > 0 ? static_cast<std::size_t>(threads)
                                     : std::max(1u, std::thread::hardware_concurrency());
  nthreads = std::min(nthreads, std::max<std::size_t>(1, acc.n / 1024));
  std::vector<Scratch> scratch;
  try {
    scratch.resize(nthreads);
    for (auto& s : scratch) {
      s.store.assign(2 * kPad + m.pairs * in.stride + m.pairs + m.expiries, 0.0);
      s.v = s.store.data() + kPad;
      s.pair_delta = s.v + m.pairs * in.stride;
      s.net = s.pair_delta + m.pairs;
      // the small buffers get a cache line of spare tail: the next allocation (maybe another
      // thread's) never shares a line with their used part
      s.pair_used.assign(m.pairs + 64, 0);
      s.pairs_touched.reserve(m.pairs + 16);
      s.exp_used.assign(m.expiries + 64, 0);
      s.exps_touched.reserve(m.expiries + 16);
    }
  } catch (...) {
    return Status::bad_argument("accounts", "not enough memory for the scratch buffers");
  }
  const pricing::detail::AxpyFn axpy = pricing::detail::selected_axpy();
  if (nthreads == 1) {
    run_range(m, in, acc, out, 0, acc.n, scratch[0], axpy);
    return Status::success();
  }
  // Balanced by positions, not accounts.
  std::vector<std::size_t> cut(nthreads + 1, acc.n);
  cut[0] = 0;
  for (std::size_t t = 1; t < nthreads; ++t) {
    const auto target = static_cast<std::int64_t>(nnz * t / nthreads);
    cut[t] = static_cast<std::size_t>(
        std::lower_bound(acc.offsets, acc.offsets + acc.n, target) - acc.offsets);
  }
  std::vector<std::thread> pool;
  std::size_t started = 0;
  try {
    pool.reserve(nthreads - 1);
    for (std::size_t t = 1; t < nthreads; ++t) {
      pool.emplace_back([&, t] {
        run_range(m, in, acc, out, cut[t], cut[t + 1], scratch[t], axpy);
      });
      started = t;
    }
  } catch (...) {
    // could not start a thread: this one does the rest
  }
  run_range(m, in, acc, out, cut[0], cut[1], scratch[0], axpy);
  for (std::size_t t = started + 1; t < nthreads; ++t) {
    run_range(m, in, acc, out, cut[t], cut[t + 1], scratch[t], axpy);
  }
  for (auto& th : pool) th.join();
  return Status::success();
}

}  // namespace pymargin::kernel
