// SPDX-License-Identifier: Apache-2.0
#include "pymargin/kernel/revalue.hpp"

#include <algorithm>
#include <cmath>
#include <string_view>
#include <thread>

#include "../common/thread_pool.hpp"
#include <vector>

#include "../pricing/batch_internal.hpp"
#include "../pricing/normal_internal.hpp"
#include "pymargin/pricing/black.hpp"

namespace pymargin::kernel {

namespace {

constexpr double kDaysPerYear = 365.0;

// Revalues instruments [begin, end). Futures, perpetuals and spot directly; options a block
// of kGridOptions at a time (same underlying) by the vector grid kernel (batch_internal.hpp),
// which reuses each option's terms across scenarios (ln(F/K), the three shocked total vols
// and their reciprocals, sqrt(F/K)) and each scenario's across options (ln(1 + m),
// sqrt(1 + m), 1/(1 + m)), so that a cell costs one exponential, two divisions and one
// polynomial with its divided difference. Current values come from the same kernel in the
// unmoved scenario, so an unmoved, unshocked scenario's P&L is exactly 0. Cells the grid kernel
// flags (cancellation, underflow) are recomputed by the exact path (normalised_block: series, then
// the scalar tail-exact functions).
constexpr std::size_t kGridOptions = 32;  // a multiple of pricing::detail::kGridLanes
constexpr std::size_t kOptionCols = 17;   // per-option arrays of a GridBlock (s, inv_s: 3 each)

// Per scenario and underlying u: ln(1 + m), sqrt(1 + m), 1/sqrt(1 + m), 1 + m, 1/(1 + m), the
// vol scale and its reciprocal, each ns long, at terms + (u * 7 + k) * ns.
constexpr std::size_t kMoveTerms = 7;

std::size_t work_doubles(std::size_t ns) {
  return kOptionCols * kGridOptions + ns * kGridOptions + 4 * pricing::detail::kBlock + ns;
}

// The options of one underlying waiting for the grid kernel (up to kGridOptions), their
// per-option terms in the columns of a GridBlock, and the buffers of the exact path: all in
// the caller's `work` (work_doubles(ns) doubles), nothing allocated.
class OptionGrid {
 public:
  OptionGrid(double* work, const scenarios::ScenarioView& scen, const double* terms,
             double* risk) noexcept
      : scen_(scen), terms_(terms), risk_(risk), ns_(scen.n) {
    namespace pd = pricing::detail;
    for (std::size_t c = 0; c < kOptionCols; ++c) col_[c] = work + c * kGridOptions;
    flag_ = work + kOptionCols * kGridOptions;
    ex_xa_ = flag_ + ns_ * kGridOptions;
    ex_sv_ = ex_xa_ + pd::kBlock;
    ex_bv_ = ex_sv_ + pd::kBlock;
    ex_vg_ = ex_bv_ + pd::kBlock;
    flag_count_ = ex_vg_ + pd::kBlock;  // ns
  }

  // Adds option i (its terms under the three vol states, with the tenor multiplier `mult`),
  // flushing first when the block is full or holds another underlying.
  void add(const InstrumentView& inst, std::size_t i, double mult) noexcept;
  // Revalues the waiting options: current values, then every scenario (flagged cells exactly).
  void flush() noexcept;

 private:
  double* x0() const noexcept { return col_[0]; }     // ln(F/K)
  double* s3() const noexcept { return col_[1]; }     // cols 1..3: total vol per vol state
  double* is3() const noexcept { return col_[4]; }    // cols 4..6: their reciprocals
  double* rq() const noexcept { return col_[7]; }     // sqrt(F/K)
  double* riq() const noexcept { return col_[8]; }    // sqrt(K/F)
  double* amp() const noexcept { return col_[9]; }    // df sqrt(F K) or df sqrt(K/F)
  double* dfa() const noexcept { return col_[10]; }   // discount factor
  double* tha() const noexcept { return col_[11]; }   // +1 call, -1 put
  double* inva() const noexcept { return col_[12]; }  // 1 inverse, 0 linear
  double* fa() const noexcept { return col_[13]; }
  double* ka() const noexcept { return col_[14]; }
  double* kfa() const noexcept { return col_[15]; }   // K/F
  double* base() const noexcept { return col_[16]; }  // current value

  pricing::detail::GridBlock block_terms(std::size_t n) const noexcept;
  // The grid kernel over g's scenarios, then the cells it flagged by the exact path.
  void run(pricing::detail::GridBlock& g, std::size_t n) noexcept;
  void exact(const pricing::detail::GridBlock& g) noexcept;

  const scenarios::ScenarioView& scen_;
  const double* terms_;
  double* risk_;
  std::size_t ns_;
  double* col_[kOptionCols];
  double* flag_;
  double* flag_count_;
  std::size_t index_[kGridOptions];
  std::size_t count_ = 0;
  int underlying_ = -1;
  std::int64_t row_offset_[kGridOptions];
  double zero_[kGridOptions];
  // Flagged cells waiting for the exact path (a kBlock at a time).
  double* ex_xa_;
  double* ex_sv_;
  double* ex_bv_;
  double* ex_vg_;
  std::size_t ex_slot_[pricing::detail::kBlock];
  std::size_t ex_scen_[pricing::detail::kBlock];
  std::size_t ex_filled_ = 0;
};

void OptionGrid::add(const InstrumentView& inst, std::size_t i, double mult) noexcept {
  namespace pd = pricing::detail;
  const int u = inst.underlying[i];
  if (count_ == kGridOptions || (count_ > 0 && underlying_ != u)) flush();
  const std::size_t o = count_;
  const bool inverse = inst.settlement[i] == static_cast<std::uint8_t>(Settlement::kInverse);
  const double f = inst.forward[i];
  const double k = inst.strike[i];
  const double t = inst.time[i];
  const double rt = inst.rate[i] * t;
  const double df = rt == 0.0 ? 1.0 : std::exp(-rt);
  const double sqrt_t = std::sqrt(t);
  const scenarios::VolShockRule& rule = scen_.rules[u];
  for (int vs = -1; vs <= 1; ++vs) {
    const double sv = scenarios::apply_vol_shock(rule, inst.vol[i], mult, vs) * sqrt_t;
    s3()[static_cast<std::size_t>(vs + 1) * kGridOptions + o] = sv;
    is3()[static_cast<std::size_t>(vs + 1) * kGridOptions + o] = 1.0 / sv;
  }
  x0()[o] = pd::log_moneyness(f, k);
  rq()[o] = std::sqrt(f / k);
  riq()[o] = std::sqrt(k / f);
  amp()[o] = inverse ? df * riq()[o] : df * std::sqrt(f) * std::sqrt(k);
  dfa()[o] = df;
  tha()[o] = inst.is_call[i] ? 1.0 : -1.0;
  inva()[o] = inverse ? 1.0 : 0.0;
  fa()[o] = f;
  ka()[o] = k;
  kfa()[o] = k / f;
  index_[o] = i;
  underlying_ = u;
  ++count_;
}

pricing::detail::GridBlock OptionGrid::block_terms(std::size_t n) const noexcept {
  pricing::detail::GridBlock g;
  g.n = n;
  g.x0 = x0();
  g.s = s3();
  g.s_stride = kGridOptions;
  g.inv_s = is3();
  g.root_q = rq();
  g.root_iq = riq();
  g.amp = amp();
  g.df = dfa();
  g.th = tha();
  g.inv = inva();
  g.fwd = fa();
  g.strike = ka();
  g.k_over_f = kfa();
  g.flag = flag_;
  g.flag_count = flag_count_;
  return g;
}

// The waiting flagged cells by the exact path, the formula as in the grid kernel.
void OptionGrid::exact(const pricing::detail::GridBlock& g) noexcept {
  if (ex_filled_ == 0) return;
  pricing::detail::normalised_block(ex_filled_, ex_xa_, ex_sv_, ex_bv_, ex_vg_);
  for (std::size_t c = 0; c < ex_filled_; ++c) {
    const std::size_t o = ex_slot_[c];
    const std::size_t j = ex_scen_[c];
    const double inverse = inva()[o];
    const double unit = inverse != 0.0 ? g.isq[j] : g.sq[j];
    const double fwd_value =
        inverse != 0.0 ? 1.0 - kfa()[o] * g.iq1[j] : fa()[o] * g.q1[j] - ka()[o];
    const double itv = tha()[o] * fwd_value;
    const double intrinsic = dfa()[o] * (itv > 0.0 ? itv : 0.0);
    g.out[g.row[o] + static_cast<std::int64_t>(j)] =
        (amp()[o] * unit * ex_bv_[c] + intrinsic) - g.base[o];
  }
  ex_filled_ = 0;
}

void OptionGrid::run(pricing::detail::GridBlock& g, std::size_t n) noexcept {
  std::size_t flagged = pricing::detail::grid_revalue(g);
  for (std::size_t j = 0; j < g.ns && flagged > 0; ++j) {
    if (flag_count_[j] == 0.0) continue;
    const std::size_t st = static_cast<std::size_t>(g.state[j] + 1);
    for (std::size_t o = 0; o < count_; ++o) {
      if (flag_[j * n + o] == 0.0) continue;
      ex_xa_[ex_filled_] = std::fabs(x0()[o] + g.log1p[j]);
      ex_sv_[ex_filled_] = s3()[st * kGridOptions + o] * g.vscale[j];
      ex_slot_[ex_filled_] = o;
      ex_scen_[ex_filled_] = j;
      if (++ex_filled_ == pricing::detail::kBlock) exact(g);
    }
  }
  exact(g);
}

void OptionGrid::flush() noexcept {
  namespace pd = pricing::detail;
  if (count_ == 0) return;
  static constexpr double kUnmoved[2] = {0.0, 1.0};  // ln(1 + 0); and sqrt(1 + 0) etc.
  static constexpr std::int8_t kUnshocked = 0;
  const std::size_t n = (count_ + pd::kGridLanes - 1) / pd::kGridLanes * pd::kGridLanes;
  for (std::size_t o = count_; o < n; ++o) {  // padding lanes repeat option 0
    for (std::size_t c = 0; c < kOptionCols; ++c) col_[c][o] = col_[c][0];
  }
  pd::GridBlock g = block_terms(n);
  // Current values first: the same kernel in the unmoved, unshocked scenario, so that a
  // scenario without a move or shock gives a P&L of exactly 0.
  for (std::size_t o = 0; o < n; ++o) {  // padding lanes too: they need their base
    row_offset_[o] = static_cast<std::int64_t>(o);
    zero_[o] = 0.0;
  }
  g.ns = 1;
  g.log1p = kUnmoved;
  g.sq = kUnmoved + 1;
  g.isq = kUnmoved + 1;
  g.q1 = kUnmoved + 1;
  g.iq1 = kUnmoved + 1;
  g.vscale = kUnmoved + 1;
  g.ivscale = kUnmoved + 1;
  g.state = &kUnshocked;
  g.base = zero_;
  g.out = base();
  g.row = row_offset_;
  run(g, n);
  // The exact path fixes flagged cells of real options only: padding lanes (copies of
  // option 0) take option 0's corrected base, or a flagged base (tiny vol) left NaN there
  // would be written into option 0's row by the padding lanes below.
  for (std::size_t o = count_; o < n; ++o) base()[o] = base()[0];
  // Then every scenario. Padding lanes repeat option 0 (its row, its values).
  for (std::size_t o = 0; o < count_; ++o) {
    row_offset_[o] = static_cast<std::int64_t>(index_[o] * ns_);
  }
  for (std::size_t o = count_; o < n; ++o) row_offset_[o] = row_offset_[0];
  const double* mt = terms_ + static_cast<std::size_t>(underlying_) * kMoveTerms * ns_;
  g.ns = ns_;
  g.log1p = mt;
  g.sq = mt + ns_;
  g.isq = mt + 2 * ns_;
  g.q1 = mt + 3 * ns_;
  g.iq1 = mt + 4 * ns_;
  g.vscale = mt + 5 * ns_;
  g.ivscale = mt + 6 * ns_;
  g.state = scen_.vol_state;
  g.base = base();
  g.out = risk_;
  run(g, n);
  count_ = 0;
}

// The tenor multiplier of the vol shock per (underlying, days to expiry): a chain has a
// handful of expiries, so the last few are remembered (a pow each).
class TenorCache {
 public:
  double get(const scenarios::VolShockRule& rule, int u, double dte) noexcept {
    for (std::size_t c = 0; c < kSize; ++c) {
      if (dte_[c] == dte && und_[c] == u) return mult_[c];
    }
    const double mult = scenarios::tenor_multiplier(rule, dte);
    dte_[next_] = dte;
    und_[next_] = u;
    mult_[next_] = mult;
    next_ = (next_ + 1) % kSize;
    return mult;
  }

 private:
  static constexpr std::size_t kSize = 8;
  double dte_[kSize] = {-1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0};  // no option has < 0
  int und_[kSize] = {-1, -1, -1, -1, -1, -1, -1, -1};
  double mult_[kSize] = {1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0};
  std::size_t next_ = 0;
};

// Revalues instruments [begin, end): futures, perpetuals and spot directly, options through
// the grid (a block of one underlying at a time).
void revalue_range(const InstrumentView& inst, const scenarios::ScenarioView& scen,
                   const double* terms, double* risk, std::size_t begin, std::size_t end,
                   double* work) noexcept {
  const std::size_t ns = scen.n;
  OptionGrid grid(work, scen, terms, risk);
  TenorCache tenors;
  for (std::size_t i = begin; i < end; ++i) {
    const auto kind = static_cast<Kind>(inst.kind[i]);
    const bool inverse = inst.settlement[i] == static_cast<std::uint8_t>(Settlement::kInverse);
    const int u = inst.underlying[i];
    if (kind != Kind::kOption) {
      const double f = inst.forward[i];
      double* row = risk + i * ns;
      for (std::size_t j = 0; j < ns; ++j) {
        const double m = scen.move[j * scen.m + static_cast<std::size_t>(u)];
        if (kind == Kind::kSpot && inverse) {
          row[j] = 0.0;
        } else {
          row[j] = inverse ? m / (1.0 + m) : f * m;
        }
      }
      continue;
    }
    grid.add(inst, i, tenors.get(scen.rules[u], u, inst.time[i] * kDaysPerYear));
  }
  grid.flush();
}

}  // namespace

Status validate(const InstrumentView& inst, std::size_t n_underlyings) noexcept {
  if (inst.n == 0) return Status::success();
  if (!inst.kind || !inst.settlement || !inst.underlying || !inst.forward) {
    return Status::bad_argument("instruments", "missing kind, settlement, underlying or forward");
  }
  for (std::size_t i = 0; i < inst.n; ++i) {
    if (inst.kind[i] > static_cast<std::uint8_t>(Kind::kOption)) {
      return Status::invalid("kind", i, "unknown instrument kind");
    }
    if (inst.settlement[i] > static_cast<std::uint8_t>(Settlement::kInverse)) {
      return Status::invalid("settlement", i, "unknown settlement");
    }
    if (inst.underlying[i] < 0 || static_cast<std::size_t>(inst.underlying[i]) >= n_underlyings) {
      return Status::invalid("underlying", i, "no such underlying in the scenario set");
    }
    if (!std::isfinite(inst.forward[i]) || !(inst.forward[i] > 0.0)) {
      return Status::invalid("forward", i, "must be finite and > 0");
    }
    if (inst.kind[i] == static_cast<std::uint8_t>(Kind::kOption)) {
      if (!inst.strike || !inst.vol || !inst.time || !inst.rate || !inst.is_call) {
        return Status::bad_argument("instruments", "options need strike, vol, time, rate, is_call");
      }
      Status st = pricing::validate_black_inputs(inst.forward[i], inst.strike[i], inst.time[i],
                                                 inst.vol[i], inst.rate[i], 0.0, i);
      if (!st.ok()) {
        if (st.field == std::string_view("underlying")) st.field = "forward";
        return st;
      }
      if (inst.is_call[i] > 1) return Status::invalid("is_call", i, "must be 0 or 1");
    }
  }
  return Status::success();
}

Status current_values(const InstrumentView& inst, double* values) noexcept {
  Status st = validate(inst, ~std::size_t{0});
  if (!st.ok()) return st;
  for (std::size_t i = 0; i < inst.n; ++i) {
    if (inst.kind[i] != static_cast<std::uint8_t>(Kind::kOption)) {
      values[i] = inst.kind[i] == static_cast<std::uint8_t>(Kind::kSpot) &&
                          inst.settlement[i] == static_cast<std::uint8_t>(Settlement::kLinear)
                      ? inst.forward[i]
                      : 0.0;
      continue;
    }
    const auto type = inst.is_call[i] ? pricing::OptionType::kCall : pricing::OptionType::kPut;
    values[i] = inst.settlement[i] == static_cast<std::uint8_t>(Settlement::kInverse)
                    ? pricing::inverse_price(inst.forward[i], inst.strike[i], inst.time[i],
                                             inst.vol[i], inst.rate[i], type)
                    : pricing::black76_price(inst.forward[i], inst.strike[i], inst.time[i],
                                             inst.vol[i], inst.rate[i], type);
  }
  return Status::success();
}

Status revalue(const InstrumentView& inst, const scenarios::ScenarioView& scen, double* risk,
               int threads) noexcept {
  Status st = scenarios::validate(scen);
  if (!st.ok()) return st;
  st = validate(inst, scen.m);
  if (!st.ok()) return st;
  if (inst.n == 0 || scen.n == 0) return st;
  if (risk == nullptr) return Status::bad_argument("risk", "missing output");
  // Threads: at most as asked (threads <= 0: the pool's workers and this one), each with at
  // least kCellsPerThread cells and 64 instruments. The grid is cut into several tasks per
  // thread, taken in turn: waking a sleeping worker costs about what 17,000 cells take (0.1 ms
  // on a 2-core VM), and meanwhile this thread goes on through the tasks, so a worker that
  // comes late takes only what is left and asking for more threads is not slower than one.
  constexpr std::size_t kCellsPerThread = 16384;
  std::size_t nthreads =
      threads > 0 ? static_cast<std::size_t>(threads) : detail::pool_workers() + 1;
  nthreads = std::min(nthreads, std::max<std::size_t>(1, inst.n * scen.n / kCellsPerThread));
  nthreads = std::min(nthreads, std::max<std::size_t>(1, inst.n / 64));
  const std::size_t per_thread = work_doubles(scen.n);
  const std::size_t ns = scen.n;
  const std::size_t tasks =
      nthreads <= 1 ? 1 : std::max(nthreads, std::min(8 * nthreads, inst.n / 32));
  std::vector<double> work;
  std::vector<double> terms;
  try {
    work.resize(tasks * per_thread);
    terms.resize(scen.m * kMoveTerms * ns);
  } catch (...) {
    return Status::bad_argument("scenarios", "not enough memory for the work buffers");
  }
  for (std::size_t u = 0; u < scen.m; ++u) {
    double* mt = terms.data() + u * kMoveTerms * ns;
    for (std::size_t j = 0; j < ns; ++j) {
      const double m = scen.move[j * scen.m + u];
      const double root = std::sqrt(1.0 + m);
      mt[j] = std::log1p(m);
      mt[ns + j] = root;
      mt[2 * ns + j] = 1.0 / root;
      mt[3 * ns + j] = 1.0 + m;
      mt[4 * ns + j] = 1.0 / (1.0 + m);
      const double vs = scen.vol_scale != nullptr ? scen.vol_scale[j * scen.m + u] : 1.0;
      mt[5 * ns + j] = vs;
      mt[6 * ns + j] = 1.0 / vs;
    }
  }
  const double* lm = terms.data();
  if (nthreads <= 1) {
    revalue_range(inst, scen, lm, risk, 0, inst.n, work.data());
    return st;
  }
  // The instruments in nthreads chunks, run by this thread and the pool's workers (a row's
  // result does not depend on its chunk).
  const std::size_t chunk = (inst.n + tasks - 1) / tasks;
  auto task = [&](std::size_t t) noexcept {
    const std::size_t b = std::min(inst.n, t * chunk);
    const std::size_t e = std::min(inst.n, b + chunk);
    revalue_range(inst, scen, lm, risk, b, e, work.data() + t * per_thread);
  };
  detail::parallel_for(tasks, task);
  return st;
}

}  // namespace pymargin::kernel
