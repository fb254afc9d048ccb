#include "pymargin/pricing/batch.hpp"

#include <algorithm>
#include <cmath>
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

// Branch-free screen of a column: true if every value passes. Comparisons with NaN are false,
// so NaN fails every test.
enum class Rule { kPositive, kNonNegative, kFinite };

template <Rule R>
inline bool good(double x) noexcept {
  constexpr double kMax = std::numeric_limits<double>::max();
  if constexpr (R == Rule::kPositive) return (x > 0.0) & (x <= kMax);
  if constexpr (R == Rule::kNonNegative) return (x >= 0.0) & (x <= kMax);
  return (x >= -kMax) & (x <= kMax);
}

template <Rule R>
bool column_ok(const Column<double>& c, std::size_t n) noexcept {
  if (c.stride == 0) return good<R>(c.data[0]);
  double bad = 0.0;  // a double count: the form gcc vectorises
  if (c.stride == 1) {
    const double* p = c.data;
    for (std::size_t i = 0; i < n; ++i) bad += good<R>(p[i]) ? 0.0 : 1.0;
  } else {
    for (std::size_t i = 0; i < n; ++i) bad += good<R>(c[i]) ? 0.0 : 1.0;
  }
  return bad == 0.0;
}

template <class T>
inline Column<T> sub_column(const Column<T>& c, std::size_t begin) noexcept {
  return {c.stride == 0 ? c.data : c.data + static_cast<std::ptrdiff_t>(begin) * c.stride,
          c.stride};
}

// Fast screen of rows [begin, end): true if every value is in its domain.
bool all_valid(const BatchInputs& in, std::size_t begin, std::size_t end) noexcept {
  const std::size_t n = end - begin;
  const bool bsm = in.model == Model::kBsm;
  const Column<double> r = sub_column(in.rate, begin);
  const Column<double> t = sub_column(in.time, begin);
  bool ok = column_ok<Rule::kPositive>(sub_column(in.underlying, begin), n) &&
            column_ok<Rule::kPositive>(sub_column(in.strike, begin), n) &&
            column_ok<Rule::kNonNegative>(sub_column(in.vol, begin), n) &&
            (!bsm || column_ok<Rule::kFinite>(sub_column(in.carry, begin), n));
  if (!ok) return false;
  // Time, rate and |r T| <= kMaxRateTime (and |(r - q) T| for BSM). Contiguous time and rate
  // are read once, together: the rate-time product costs no extra pass over memory.
  if (!bsm && r.stride == 1 && t.stride == 1) {
    unsigned ok_rt = 1;  // independent lanes (a double sum would be one serial chain)
    const double* rp = r.data;
    const double* tp = t.data;
    for (std::size_t i = 0; i < n; ++i) {
      ok_rt &= static_cast<unsigned>(good<Rule::kNonNegative>(tp[i])) &
               static_cast<unsigned>(good<Rule::kFinite>(rp[i])) &
               static_cast<unsigned>(std::fabs(rp[i] * tp[i]) <= kMaxRateTime);
    }
    if (ok_rt == 0) return false;
  } else {
    if (!(column_ok<Rule::kNonNegative>(t, n) && column_ok<Rule::kFinite>(r, n))) return false;
    const bool no_rates = r.stride == 0 && r.data[0] == 0.0 &&
                          (!bsm || (in.carry.stride == 0 && in.carry.data[0] == 0.0));
    if (!no_rates) {
      unsigned ok_rt = 1;
      for (std::size_t i = 0; i < n; ++i) {
        const double q = bsm ? in.carry[begin + i] : 0.0;
        ok_rt &= static_cast<unsigned>(std::fabs(r[i] * t[i]) <= kMaxRateTime) &
                 static_cast<unsigned>(std::fabs((r[i] - q) * t[i]) <= kMaxRateTime);
      }
      if (ok_rt == 0) return false;
    }
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
  const Named cols[] = {{&in.underlying, "underlying"}, {&in.strike, "strike"},
                        {&in.time, "time"},             {&in.vol, "vol"},
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

// Computes rows [begin, end). With `check`, each block's inputs are screened just before it is
// computed (while they are in cache) and the first bad row stops the range.
Status run_range(const BatchInputs& in, const BatchOutputs& out, std::size_t begin,
                 std::size_t end, bool check) noexcept {
  const KernelSet& ks = kernels();
  const bool greeks = out.delta || out.delta_forward || out.gamma || out.vega || out.theta ||
                      out.rho || out.vanna || out.volga;
  // Without rho, vanna and volga the kernels skip them (and their divisions).
  const bool higher = out.rho || out.vanna || out.volga;
  const KernelFn greeks_kernel = higher ? ks.greeks : ks.first;
  const KernelFn series_greeks_kernel = higher ? ks.series_greeks : ks.series_first;
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
  // Compacted flagged rows of a block, for the series kernel.
  alignas(64) double ccols[kInputs][kBlock], cflag[kBlock], cprice[kBlock];
  alignas(64) double cg[8][kBlock];
  std::size_t idx[kBlock];
  double* const dst[9] = {out.price, out.delta, out.delta_forward, out.gamma, out.vega,
                          out.theta, out.rho,   out.vanna,         out.volga};
  for (std::size_t b0 = begin; b0 < end; b0 += kBlock) {
    const std::size_t n = std::min(kBlock, end - b0);
    if (check && !all_valid(in, b0, b0 + n)) return first_invalid(in, b0, b0 + n);
    const double* u = cu_col.at(b0, n);
    const double* k = ck_col.at(b0, n);
    const double* t = ct_col.at(b0, n);
    const double* v = cv_col.at(b0, n);
    const double* r = cr_col.at(b0, n);
    const double* q = cq_col.at(b0, n);
    const std::size_t n_pad = padded(n);
    for (std::size_t j = 0; j < n; ++j) c[j] = in.is_call[b0 + j] ? 1.0 : -1.0;
    for (std::size_t j = n; j < n_pad; ++j) c[j] = kPadRow[6];
    const double* const cols[kInputs] = {u, k, t, v, r, q, c};
    KernelBlock blk;
    blk.n = n_pad;
    blk.model = static_cast<int>(in.model);
    point_inputs_at(blk, cols);
    blk.flag = flag;
    // Price straight into the caller's array when that is all that is asked for (full
    // blocks only: the kernels write padded row counts).
    const bool direct_out = out.price && !greeks && n == kBlock;
    blk.price = direct_out ? out.price + b0 : price;
    if (greeks) {
      point_greeks_at(blk, g);
      greeks_kernel(blk);
      const double* src[9] = {price, g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7]};
      for (int m = 0; m < 9; ++m) {
        if (dst[m]) std::memcpy(dst[m] + b0, src[m], n * sizeof(double));
      }
    } else {
      ks.price(blk);
      if (out.price && !direct_out) std::memcpy(out.price + b0, price, n * sizeof(double));
    }
    // Rows the direct formula could not do exactly: compact them and run the series kernel;
    // what it cannot do either goes to the scalar exact path.
    std::size_t m = 0;
    for (std::size_t j = 0; j < n; ++j) {  // branch-free: about a third of rows are flagged
      idx[m] = j;
      m += flag[j] != 0.0;
    }
    if (m == 0) continue;
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
      series_greeks_kernel(sb);
    } else {
      ks.series_price(sb);
    }
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
  return Status::success();
}


}  // namespace

std::size_t grid_revalue(const GridBlock& g) noexcept { return kernels().grid(g); }
AxpyFn selected_axpy() noexcept { return kernels().axpy; }
GatherSumFn selected_gather_sum() noexcept { return kernels().gather_sum; }

void normalised_block(std::size_t n, double* x_abs, double* s, double* b,
                      double* vega) noexcept {
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

Status price_batch(const BatchInputs& in, const BatchOutputs& out, int threads,
                   bool outputs_are_scratch) noexcept {
  // Checking everything first costs a pass over the inputs (memory-bound for large batches);
  // when the caller discards the outputs on error anyway, blocks are checked as they are
  // computed instead.
  Status st = outputs_are_scratch ? detail::check_columns(in) : validate(in);
  if (!st.ok() || in.n == 0) return st;
  const bool check = outputs_are_scratch;
  constexpr std::size_t kMinPerThread = 16384;
  constexpr std::size_t kMaxThreads = 64;
  std::size_t nthreads = threads > 0 ? static_cast<std::size_t>(threads)
                                     : std::max(1u, std::thread::hardware_concurrency());
  nthreads = std::min(nthreads, std::max<std::size_t>(1, in.n / kMinPerThread));
  if (nthreads <= 1) return detail::run_range(in, out, 0, in.n, check);
  // Chunks are whole blocks so that each thread writes disjoint cache lines; they run on the
  // persistent pool (this thread and its workers), no thread started per call.
  const std::size_t blocks = (in.n + detail::kBlock - 1) / detail::kBlock;
  std::pair<std::size_t, std::size_t> ranges[kMaxThreads];
  Status results[kMaxThreads];
  nthreads = std::min(nthreads, kMaxThreads);
  std::size_t first_block = 0;
  for (std::size_t w = 0; w < nthreads; ++w) {
    const std::size_t nb = blocks / nthreads + (w < blocks % nthreads ? 1 : 0);
    ranges[w] = {first_block * detail::kBlock, std::min(in.n, (first_block + nb) * detail::kBlock)};
    first_block += nb;
  }
  auto task = [&](std::size_t w) noexcept {
    results[w] = detail::run_range(in, out, ranges[w].first, ranges[w].second, check);
  };
  pymargin::detail::parallel_for(nthreads, task);
  // Ranges are in row order and each reports its own first bad row: the first error wins.
  for (std::size_t w = 0; w < nthreads; ++w) {
    if (!results[w].ok()) return results[w];
  }
  return st;
}

const char* simd_level() noexcept { return detail::kernels().name; }

}  // namespace pymargin::pricing
