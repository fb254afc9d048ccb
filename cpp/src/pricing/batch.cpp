// SPDX-License-Identifier: Apache-2.0
#include "pymargin/pricing/batch.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <thread>
#include <utility>
#include <vector>

#include "../common/thread_pool.hpp"
#include "batch_internal.hpp"

namespace pymargin::pricing {

namespace detail {
namespace {

KernelSet choose_kernels() noexcept {
  const char* cap = std::getenv("PYMARGIN_SIMD");
  auto allowed = [cap](const char* level) {
    if (cap == nullptr || *cap == '\0') return true;
    static const char* order[] = {"scalar", "sse2", "avx2", "avx512"};
    int cap_rank = 3, level_rank = 0;
    for (int i = 0; i < 4; ++i) {
      if (std::strcmp(cap, order[i]) == 0) cap_rank = i;
      if (std::strcmp(level, order[i]) == 0) level_rank = i;
    }
    return level_rank <= cap_rank;
  };
#if PYMARGIN_HAVE_X86_KERNELS
  __builtin_cpu_init();
  if (allowed("avx512") && __builtin_cpu_supports("avx512f") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512bw")) {
    return kernels_avx512();
  }
  if (allowed("avx2") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    return kernels_avx2();
  }
  if (allowed("sse2")) return kernels_sse2();
#else
  (void)allowed;
#endif
  return kernels_scalar();
}

const KernelSet& kernels() noexcept {
  static const KernelSet set = choose_kernels();  // thread-safe static init
  return set;
}

// Exact (tail-precise) recomputation of one row through the scalar functions.
void exact_row(const BatchInputs& in, const BatchOutputs& out, std::size_t i) noexcept {
  const OptionType type = in.is_call[i] ? OptionType::kCall : OptionType::kPut;
  const double u = in.underlying[i];
  const double k = in.strike[i];
  const double t = in.time[i];
  const double v = in.vol[i];
  const double r = in.rate[i];
  const bool greeks = out.delta || out.delta_forward || out.gamma || out.vega || out.theta ||
                      out.rho || out.vanna || out.volga;
  if (!greeks) {
    double p = 0.0;
    switch (in.model) {
      case Model::kBsm:
        p = bsm_price(u, k, t, v, r, in.carry[i], type);
        break;
      case Model::kInverse:
        p = inverse_price(u, k, t, v, r, type);
        break;
      default:
        p = black76_price(u, k, t, v, r, type);
    }
    if (out.price) out.price[i] = p;
    return;
  }
  Greeks g;
  switch (in.model) {
    case Model::kBsm:
      g = bsm_greeks(u, k, t, v, r, in.carry[i], type);
      break;
    case Model::kInverse:
      g = inverse_greeks(u, k, t, v, r, type);
      break;
    default:
      g = black76_greeks(u, k, t, v, r, type);
  }
  if (out.price) out.price[i] = g.price;
  if (out.delta) out.delta[i] = g.delta;
  if (out.delta_forward) out.delta_forward[i] = g.delta_forward;
  if (out.gamma) out.gamma[i] = g.gamma;
  if (out.vega) out.vega[i] = g.vega;
  if (out.theta) out.theta[i] = g.theta;
  if (out.rho) out.rho[i] = g.rho;
  if (out.vanna) out.vanna[i] = g.vanna;
  if (out.volga) out.volga[i] = g.volga;
}

static_assert(kScreenMaxRateTime == kMaxRateTime, "the kernels' screen and validate agree");

// Fast screen of rows [begin, end): true if every value is in its domain. One pass over the
// rows (the selected instruction set's screen kernel) a block at a time, a broadcast value
// filled into a block buffer once, a strided column copied.
bool all_valid(const BatchInputs& in, std::size_t begin, std::size_t end) noexcept {
  const bool bsm = in.model == Model::kBsm;
  static constexpr double kZero = 0.0;
  const Column<double> carry = bsm ? in.carry : Column<double>{&kZero, 0};
  const Column<double>* cols[6] = {&in.underlying, &in.strike, &in.time, &in.vol, &in.rate, &carry};
  alignas(64) double buf[6][kBlock];
  for (int c = 0; c < 6; ++c) {
    if (cols[c]->stride == 0) std::fill(buf[c], buf[c] + kBlock, cols[c]->data[0]);
  }
  const ScreenFn screen = kernels().screen;
  for (std::size_t b0 = begin; b0 < end; b0 += kBlock) {
    const std::size_t n = std::min(kBlock, end - b0);
    const double* p[6];
    for (int c = 0; c < 6; ++c) {
      const Column<double>& col = *cols[c];
      if (col.stride == 0) {
        p[c] = buf[c];
      } else if (col.stride == 1) {
        p[c] = col.data + b0;
      } else {
        for (std::size_t j = 0; j < n; ++j) buf[c][j] = col[b0 + j];
        p[c] = buf[c];
      }
    }
    if (screen(n, bsm, p[0], p[1], p[2], p[3], p[4], p[5]) != 0.0) return false;
  }
  if (in.is_call.stride == 0) return in.is_call.data[0] <= 1;
  unsigned bad = 0;
  for (std::size_t i = begin; i < end; ++i) bad |= in.is_call[i] > 1;
  return bad == 0;
}

// The first offending row of [begin, end), in row order, with its field.
Status first_invalid(const BatchInputs& in, std::size_t begin, std::size_t end) noexcept {
  for (std::size_t i = begin; i < end; ++i) {
    const double q = in.model == Model::kBsm ? in.carry[i] : 0.0;
    Status st = validate_black_inputs(in.underlying[i], in.strike[i], in.time[i], in.vol[i],
                                      in.rate[i], q, i);
    if (!st.ok()) return st;
    if (in.is_call[i] > 1) return Status::invalid("option_type", i, "must be 0 (put) or 1 (call)");
  }
  return Status::success();
}

Status check_columns(const BatchInputs& in) noexcept {
  struct Named {
    const Column<double>* col;
    const char* name;
  };
  const Named cols[] = {{&in.underlying, "underlying"},
                        {&in.strike, "strike"},
                        {&in.time, "time"},
                        {&in.vol, "vol"},
                        {&in.rate, "rate"}};
  for (const auto& c : cols) {
    if (c.col->data == nullptr) return Status::bad_argument(c.name, "missing input column");
  }
  if (in.model == Model::kBsm && in.carry.data == nullptr) {
    return Status::bad_argument("carry", "missing input column");
  }
  if (in.is_call.data == nullptr) return Status::bad_argument("option_type", "missing column");
  return Status::success();
}

// A block's view of an input column: the caller's memory for a full contiguous block, a
// buffer filled once per range for a broadcast value, otherwise a copy padded to a multiple
// of kLanes rows with a harmless value (see kLanes).
class BlockColumn {
 public:
  BlockColumn(const Column<double>& c, double* buffer, double pad)
      : col_(c), buf_(buffer), pad_(pad) {
    if (c.stride == 0) std::fill(buf_, buf_ + kBlock, c.data[0]);
  }
  const double* at(std::size_t begin, std::size_t n) const noexcept {
    if (col_.stride == 0) return buf_;
    if (col_.stride == 1 && n == kBlock) return col_.data + begin;
    for (std::size_t j = 0; j < n; ++j) buf_[j] = col_[begin + j];
    for (std::size_t j = n; j < padded(n); ++j) buf_[j] = pad_;
    return buf_;
  }

 private:
  Column<double> col_;
  double* buf_;
  double pad_;
};

// Kernel input columns, in this order: underlying, strike, time, vol, rate, carry, call (+-1),
// and the padding row (an at-the-money option, T = 1, vol 20 %, no rates; never read back).
constexpr std::size_t kInputs = 7;
constexpr double kPadRow[kInputs] = {1.0, 1.0, 1.0, 0.2, 0.0, 0.0, 1.0};

void point_inputs_at(KernelBlock& b, const double* const (&cols)[kInputs]) noexcept {
  b.underlying = cols[0];
  b.strike = cols[1];
  b.time = cols[2];
  b.vol = cols[3];
  b.rate = cols[4];
  b.carry = cols[5];
  b.call = cols[6];
}

// Points a kernel block's Greek outputs at eight block-sized buffers.
void point_greeks_at(KernelBlock& b, double (*g)[kBlock]) noexcept {
  b.delta = g[0];
  b.delta_forward = g[1];
  b.gamma = g[2];
  b.vega = g[3];
  b.theta = g[4];
  b.rho = g[5];
  b.vanna = g[6];
  b.volga = g[7];
}

// True if any of x[0..n) is nonzero (NaN included): the OR of the bits without the sign bit,
// integer operations that gcc vectorises on any instruction set (a compare per element, or a
// double sum, would be a serial chain).
inline bool any_nonzero(const double* x, std::size_t n) noexcept {
  std::uint64_t bits = 0;
  for (std::size_t j = 0; j < n; ++j) {
    std::uint64_t b;
    std::memcpy(&b, x + j, sizeof(b));
    bits |= b << 1;
  }
  return bits != 0;
}

// True if every row of the block has rate 0 (and carry 0 under BSM): the kernels then skip
// the discount and growth exponentials.
bool block_zero_rates(const double* r, const double* q, std::size_t n, bool bsm) noexcept {
  return !any_nonzero(r, n) && !(bsm && any_nonzero(q, n));
}

// The rows of a block the direct kernel flagged, their indices in idx (returns how many).
// Flags are 0, 1 (recompute exactly), 2 or 3 (outside the domain: *bad is set). Groups of
// kLanes rows without a flag (most of them: a few percent of rows are flagged on typical
// chains) are skipped by one test of their bits; the others are compacted branch-free.
std::size_t flagged_rows(const double* flag, std::size_t n, std::size_t* idx,
                         unsigned* bad) noexcept {
  std::size_t m = 0;
  for (std::size_t c0 = 0; c0 < n; c0 += kLanes) {
    const std::size_t c1 = std::min(n, c0 + kLanes);
    if (!any_nonzero(flag + c0, c1 - c0)) continue;
    for (std::size_t j = c0; j < c1; ++j) {
      idx[m] = j;
      m += flag[j] != 0.0;
      *bad |= flag[j] >= 2.0;
    }
  }
  return m;
}

// The m flagged rows of the block at b0 again: compacted, through the series kernel, and
// what it cannot do either through the scalar exact path; results written to `out`.
void redo_flagged(const BatchInputs& in, const BatchOutputs& out, const KernelBlock& blk,
                  const double* const (&cols)[kInputs], const std::size_t* idx, std::size_t m,
                  std::size_t b0, const KernelSet& ks, bool higher) noexcept {
  const bool greeks = out.delta || out.delta_forward || out.gamma || out.vega || out.theta ||
                      out.rho || out.vanna || out.volga;
  alignas(64) double ccols[kInputs][kBlock], cflag[kBlock], cprice[kBlock];
  alignas(64) double cg[8][kBlock];
  for (std::size_t col = 0; col < kInputs; ++col) {
    for (std::size_t p = 0; p < m; ++p) ccols[col][p] = cols[col][idx[p]];
    for (std::size_t p = m; p < padded(m); ++p) ccols[col][p] = kPadRow[col];
  }
  const double* const compact[kInputs] = {ccols[0], ccols[1], ccols[2], ccols[3],
                                          ccols[4], ccols[5], ccols[6]};
  KernelBlock sb = blk;
  sb.n = padded(m);
  point_inputs_at(sb, compact);
  sb.flag = cflag;
  sb.price = cprice;
  if (greeks) {
    point_greeks_at(sb, cg);
    (higher ? ks.series_greeks : ks.series_first)(sb);
  } else {
    ks.series_price(sb);
  }
  double* const dst[9] = {out.price, out.delta, out.delta_forward, out.gamma, out.vega,
                          out.theta, out.rho,   out.vanna,         out.volga};
  const double* src[9] = {cprice, cg[0], cg[1], cg[2], cg[3], cg[4], cg[5], cg[6], cg[7]};
  for (std::size_t p = 0; p < m; ++p) {
    const std::size_t row = b0 + idx[p];
    if (cflag[p] != 0.0) {
      exact_row(in, out, row);
      continue;
    }
    if (out.price) out.price[row] = cprice[p];
    if (greeks) {
      for (int g2 = 1; g2 < 9; ++g2) {
        if (dst[g2]) dst[g2][row] = src[g2][p];
      }
    }
  }
}

// Computes rows [begin, end). With `check`, each block's inputs are screened as the direct
// kernel computes it (the kernel flags rows outside the domain) and the first bad row stops
// the range; the block's results may already be in the outputs, which the caller discards.
Status run_range(const BatchInputs& in, const BatchOutputs& out, std::size_t begin, std::size_t end,
                 bool check) noexcept {
  const KernelSet& ks = kernels();
  const bool greeks = out.delta || out.delta_forward || out.gamma || out.vega || out.theta ||
                      out.rho || out.vanna || out.volga;
  // Without rho, vanna and volga the kernels skip them (and their divisions).
  const bool higher = out.rho || out.vanna || out.volga;
  const KernelFn greeks_kernel = higher ? ks.greeks : ks.first;
  alignas(64) double bu[kBlock], bk[kBlock], bt[kBlock], bv[kBlock], br[kBlock], bq[kBlock],
      c[kBlock], flag[kBlock], price[kBlock];
  static constexpr double kZero = 0.0;
  const BlockColumn cu_col(in.underlying, bu, kPadRow[0]);
  const BlockColumn ck_col(in.strike, bk, kPadRow[1]);
  const BlockColumn ct_col(in.time, bt, kPadRow[2]);
  const BlockColumn cv_col(in.vol, bv, kPadRow[3]);
  const BlockColumn cr_col(in.rate, br, kPadRow[4]);
  const BlockColumn cq_col(in.model == Model::kBsm ? in.carry : Column<double>{&kZero, 0}, bq,
                           kPadRow[5]);
  alignas(64) double g[8][kBlock];
  std::size_t idx[kBlock];
  double* const dst[9] = {out.price, out.delta, out.delta_forward, out.gamma, out.vega,
                          out.theta, out.rho,   out.vanna,         out.volga};
  for (std::size_t b0 = begin; b0 < end; b0 += kBlock) {
    const std::size_t n = std::min(kBlock, end - b0);
    const double* u = cu_col.at(b0, n);
    const double* k = ck_col.at(b0, n);
    const double* t = ct_col.at(b0, n);
    const double* v = cv_col.at(b0, n);
    const double* r = cr_col.at(b0, n);
    const double* q = cq_col.at(b0, n);
    const std::size_t n_pad = padded(n);
    unsigned bad_type = 0;
    for (std::size_t j = 0; j < n; ++j) {
      const std::uint8_t type = in.is_call[b0 + j];
      bad_type |= type > 1;
      c[j] = type ? 1.0 : -1.0;
    }
    for (std::size_t j = n; j < n_pad; ++j) c[j] = kPadRow[6];
    const double* const cols[kInputs] = {u, k, t, v, r, q, c};
    KernelBlock blk;
    blk.n = n_pad;
    blk.model = static_cast<int>(in.model);
    blk.zero_rates = block_zero_rates(r, q, n_pad, in.model == Model::kBsm);
    blk.screen = check;  // validated before otherwise
    point_inputs_at(blk, cols);
    blk.flag = flag;
    // Price straight into the caller's array when that is all that is asked for (full
    // blocks only: the kernels write padded row counts).
    const bool direct_out = out.price && !greeks && n == kBlock;
    blk.price = direct_out ? out.price + b0 : price;
    if (greeks) {
      point_greeks_at(blk, g);
      greeks_kernel(blk);
    } else {
      ks.price(blk);
    }
    // Rows the direct formula could not do exactly: compact them and run the series kernel;
    // what it cannot do either goes to the scalar exact path. Rows flagged 2 or more are
    // outside the domain (only possible when the inputs were not validated before).
    // Flags are 0, 1 (recompute exactly), 2 or 3 (outside the domain). Groups of kLanes
    // rows without a flag (most of them: a few percent of rows are flagged on typical
    // chains) are skipped by one test of their bits; the others are compacted branch-free.
    unsigned bad = 0;
    const std::size_t m = flagged_rows(flag, n, idx, &bad);
    if (check && (bad != 0 || bad_type != 0)) {
      // The kernel's screen refuses exactly what first_invalid does (ctest
      // Batch.DomainScreen); should they ever disagree, the block is still refused: a flagged
      // row is never priced.
      Status st = first_invalid(in, b0, b0 + n);
      if (st.ok()) st = Status::invalid("inputs", b0, "outside the pricing domain");
      return st;
    }
    if (greeks) {
      const double* src[9] = {price, g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7]};
      for (int c2 = 0; c2 < 9; ++c2) {
        if (dst[c2]) std::memcpy(dst[c2] + b0, src[c2], n * sizeof(double));
      }
    } else if (out.price && !direct_out) {
      std::memcpy(out.price + b0, price, n * sizeof(double));
    }
    if (m > 0) redo_flagged(in, out, blk, cols, idx, m, b0, ks, higher);
  }
  return Status::success();
}

}  // namespace

std::size_t grid_revalue(const GridBlock& g) noexcept { return kernels().grid(g); }
AxpyFn selected_axpy() noexcept { return kernels().axpy; }
GatherSumFn selected_gather_sum() noexcept { return kernels().gather_sum; }

void normalised_block(std::size_t n, double* x_abs, double* s, double* b, double* vega) noexcept {
  const KernelSet& ks = kernels();
  alignas(64) double flag[kBlock], cx[kBlock], cs[kBlock], cb[kBlock], cv[kBlock], cf[kBlock];
  std::size_t idx[kBlock];
  for (std::size_t j = n; j < padded(n); ++j) {
    x_abs[j] = 1.0;
    s[j] = 0.2;
  }
  ks.normalised(padded(n), x_abs, s, b, vega, flag);
  std::size_t m = 0;
  for (std::size_t j = 0; j < n; ++j) {
    idx[m] = j;
    m += flag[j] != 0.0;
  }
  if (m == 0) return;
  for (std::size_t p = 0; p < m; ++p) {
    cx[p] = x_abs[idx[p]];
    cs[p] = s[idx[p]];
  }
  for (std::size_t p = m; p < padded(m); ++p) {
    cx[p] = 1.0;
    cs[p] = 0.2;
  }
  ks.normalised_series(padded(m), cx, cs, cb, cv, cf);
  for (std::size_t p = 0; p < m; ++p) {
    const std::size_t j = idx[p];
    if (cf[p] == 0.0) {
      b[j] = cb[p];
      vega[j] = cv[p];
    } else {
      b[j] = normalised_time_value(-x_abs[j], s[j]);
      vega[j] = normalised_vega(-x_abs[j], s[j]);
    }
  }
}

}  // namespace detail

Status validate(const BatchInputs& in) noexcept {
  Status st = detail::check_columns(in);
  if (!st.ok()) return st;
  if (detail::all_valid(in, 0, in.n)) return st;
  return detail::first_invalid(in, 0, in.n);
}

namespace detail {
namespace {

// Runs rows [0, n) on up to `threads` threads of the persistent pool (whole blocks per thread,
// so that each writes disjoint cache lines). Ranges are in row order and each reports its own
// first bad row: the first error wins.
Status run_all(const BatchInputs& in, const BatchOutputs& out, int threads, bool check) noexcept {
  constexpr std::size_t kMinPerThread = 16384;
  constexpr std::size_t kMaxThreads = 64;
  std::size_t nthreads = threads > 0 ? static_cast<std::size_t>(threads)
                                     : std::max(1u, std::thread::hardware_concurrency());
  nthreads = std::min(nthreads, std::max<std::size_t>(1, in.n / kMinPerThread));
  if (nthreads <= 1) return run_range(in, out, 0, in.n, check);
  const std::size_t blocks = (in.n + kBlock - 1) / kBlock;
  std::pair<std::size_t, std::size_t> ranges[kMaxThreads];
  Status results[kMaxThreads];
  nthreads = std::min(nthreads, kMaxThreads);
  std::size_t first_block = 0;
  for (std::size_t w = 0; w < nthreads; ++w) {
    const std::size_t nb = blocks / nthreads + (w < blocks % nthreads ? 1 : 0);
    ranges[w] = {first_block * kBlock, std::min(in.n, (first_block + nb) * kBlock)};
    first_block += nb;
  }
  auto task = [&](std::size_t w) noexcept {
    results[w] = run_range(in, out, ranges[w].first, ranges[w].second, check);
  };
  pymargin::detail::parallel_for(nthreads, task);
  for (std::size_t w = 0; w < nthreads; ++w) {
    if (!results[w].ok()) return results[w];
  }
  return Status::success();
}

}  // namespace
}  // namespace detail

Status price_batch(const BatchInputs& in, const BatchOutputs& out, int threads,
                   bool outputs_are_scratch) noexcept {
  Status st = detail::check_columns(in);
  if (!st.ok() || in.n == 0) return st;
  // Outputs the caller discards on error are written as the rows are computed, the kernels
  // screening each block's inputs as they load them. Otherwise every row is screened first
  // (one pass, about a tenth of the pricing time) so that nothing is written on error.
  // Results computed into scratch and copied out would avoid that pass but measured slower
  // with Greeks: several fresh column-sized buffers per call are returned to the system
  // between calls and faulted in again.
  if (!outputs_are_scratch) {
    st = validate(in);
    if (!st.ok()) return st;
  }
  return detail::run_all(in, out, threads, outputs_are_scratch);
}

const char* simd_level() noexcept { return detail::kernels().name; }

}  // namespace pymargin::pricing
