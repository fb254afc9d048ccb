// SPDX-License-Identifier: Apache-2.0
// Private interface between the batch driver (batch.cpp) and the vector kernels
// (batch_kernel.cpp, compiled once per instruction set).
#pragma once

#include <cstddef>
#include <cmath>
#include <cstdint>

namespace pymargin::pricing::detail {

inline constexpr std::size_t kBlock = 256;
// Kernels take row counts that are multiples of kLanes (callers pad with harmless rows), so
// that no row is left to a scalar remainder loop: a row's result never depends on its position.
inline constexpr std::size_t kLanes = 8;
inline constexpr std::size_t padded(std::size_t n) { return (n + kLanes - 1) / kLanes * kLanes; }
// The grid kernel runs two vectors of options per pass (their long dependency chains, a
// division after a polynomial, overlap): its option counts are multiples of kGridLanes.
inline constexpr std::size_t kGridLanes = 16;

// One block of rows, inputs copied contiguous. `call` holds +1 / -1.
struct KernelBlock {
  std::size_t n = 0;
  int model = 0;  // pricing::Model
  const double* underlying = nullptr;
  const double* strike = nullptr;
  const double* time = nullptr;
  const double* vol = nullptr;
  const double* rate = nullptr;
  const double* carry = nullptr;
  const double* call = nullptr;
  // Every row has rate 0 (and carry 0 under BSM): the kernels skip exp(-r T) and exp((r-q) T).
  bool zero_rates = false;
  // The direct kernels screen each row's inputs (flag + 2 outside the domain); false when the
  // caller has validated them already, so the check is not done twice.
  bool screen = true;
  // Outputs, contiguous, kBlock long. The greeks kernel fills all of them; the price kernel
  // only `price`. `flag` is set to nonzero for rows the caller must recompute exactly; the
  // direct kernels add 2 for a row whose inputs are outside the domain (validate's rules).
  double* price = nullptr;
  double* delta = nullptr;
  double* delta_forward = nullptr;
  double* gamma = nullptr;
  double* vega = nullptr;
  double* theta = nullptr;
  double* rho = nullptr;
  double* vanna = nullptr;
  double* volga = nullptr;
  double* flag = nullptr;
  double* flag_count = nullptr;  // ns: flagged cells per scenario
};

// Scenario revaluation of a block of options on one underlying (kernel/revalue.cpp): every
// (scenario, option) cell's value minus the option's current value. Options run across the
// vector lanes, scenarios in the outer loop.
struct GridBlock {
  std::size_t n = 0;   // options, a multiple of kGridLanes
  std::size_t ns = 0;  // scenarios
  // Per option, n each.
  const double* x0 = nullptr;     // ln(F/K)
  const double* s = nullptr;      // 3 rows of s_stride: total vol vol' sqrt(T), states -1, 0, +1
  const double* inv_s = nullptr;  // the same layout: 1/s
  std::size_t s_stride = 0;
  const double* root_q = nullptr;    // sqrt(F/K)
  const double* root_iq = nullptr;   // sqrt(K/F)
  const double* amp = nullptr;       // df sqrt(F K) (linear), df sqrt(K/F) (inverse)
  const double* df = nullptr;        // discount factor
  const double* th = nullptr;        // +1 call, -1 put
  const double* inv = nullptr;       // 1 inverse (value / F'), 0 linear
  const double* fwd = nullptr;       // F
  const double* strike = nullptr;    // K
  const double* k_over_f = nullptr;  // K/F
  const double* base = nullptr;      // current value, subtracted
  // Per scenario, ns each: the underlying's move m as ln(1 + m), sqrt(1 + m),
  // 1/sqrt(1 + m), 1 + m, 1/(1 + m), and the vol state (-1, 0, +1).
  const double* log1p = nullptr;
  const double* sq = nullptr;
  const double* isq = nullptr;
  const double* q1 = nullptr;
  const double* iq1 = nullptr;
  const signed char* state = nullptr;
  const double* vscale = nullptr;   // per scenario: vol multiplier (1 without continuous shocks)
  const double* ivscale = nullptr;  // its reciprocal
  // Outputs: option i's value change in scenario j at out[row[i] + j]; nonzero flag[j n + i]
  // for the cells the caller must recompute exactly.
  double* out = nullptr;
  const std::int64_t* row = nullptr;
  double* flag = nullptr;
  double* flag_count = nullptr;  // ns: flagged cells per scenario
};

inline constexpr double kScreenMaxRateTime = 700.0;  // pricing::kMaxRateTime (batch.cpp checks)

// 1.0 if a row's inputs are in the pricing domain (validate_black_inputs' rules), else 0.0;
// NaN fails every compare. Ternaries on doubles so that vector kernels keep 64-bit lanes.
// `bsm` adds the carry's rules (other models have carry 0).
template <bool Bsm>
inline double inputs_ok(double u, double k, double t, double v, double r, double q) noexcept {
  constexpr double kMax = 1.7976931348623157e308;
  double ok = (u > 0.0) ? 1.0 : 0.0;
  ok = (u <= kMax) ? ok : 0.0;
  ok = (k > 0.0) ? ok : 0.0;
  ok = (k <= kMax) ? ok : 0.0;
  ok = (t >= 0.0) ? ok : 0.0;
  ok = (t <= kMax) ? ok : 0.0;
  ok = (v >= 0.0) ? ok : 0.0;
  ok = (v <= kMax) ? ok : 0.0;
  ok = (std::fabs(r) <= kMax) ? ok : 0.0;
  ok = (std::fabs(r * t) <= kScreenMaxRateTime) ? ok : 0.0;
  if constexpr (Bsm) {
    ok = (std::fabs(q) <= kMax) ? ok : 0.0;
    ok = (std::fabs((r - q) * t) <= kScreenMaxRateTime) ? ok : 0.0;
  }
  return ok;
}

using KernelFn = void (*)(const KernelBlock&) noexcept;
// Number of rows of [0, n) outside the domain (inputs_ok), over contiguous columns.
using ScreenFn = double (*)(std::size_t n, bool bsm, const double* u, const double* k,
                            const double* t, const double* v, const double* r,
                            const double* q) noexcept;
using GridFn = std::size_t (*)(const GridBlock&) noexcept;  // returns the flagged count
// y[0..n) += a x[0..n) (the pre-trade engine's aggregation of risk rows).
using AxpyFn = void (*)(std::size_t n, double a, const double* x, double* y) noexcept;
// out[0..ns) = sum over p < count of w[p] x row(p), row(p) = rows + (idx ? idx[p] : p) x stride,
// summed in position order lane by lane from 0: the same bits as zeroing out and running
// axpy(ns, w[p], row(p), out) for p = 0, 1, ...; faster (the sums stay in registers).
using GatherSumFn = void (*)(std::size_t ns, std::size_t count, const double* rows,
                             std::size_t stride, const std::int32_t* idx, const double* w,
                             double* out) noexcept;
// (n, |x|, s, b out, db/ds out, flag out): normalised out-of-the-money call values.
using NormalisedFn = void (*)(std::size_t, const double*, const double*, double*, double*,
                              double*) noexcept;

struct KernelSet {
  KernelFn price;  // direct formula, flags rows it cannot do exactly
  KernelFn greeks;
  KernelFn series_price;  // small-t series, for the rows the direct kernels flagged
  KernelFn series_greeks;
  KernelFn first;  // the greeks kernel without rho, vanna and volga (left alone)
  KernelFn series_first;
  NormalisedFn normalised;         // b(-|x|, s) and db/ds, direct formula, flags as above
  NormalisedFn normalised_series;  // the same by the small-t series
  GridFn grid;                     // scenario revaluation, flags as the direct kernels
  AxpyFn axpy;
  GatherSumFn gather_sum;
  ScreenFn screen;
  const char* name;
};

// b(-|x|, s) and db/ds for n <= kBlock rows, exact to ~1e-14: vector kernels, the series for
// what the direct formula flags, the scalar functions of black.hpp for the rest. All four
// arrays hold kBlock elements; rows n .. padded(n) of x_abs and s are overwritten (padding).
void normalised_block(std::size_t n, double* x_abs, double* s, double* b, double* vega) noexcept;

// Runs the grid kernel of the selected instruction set.
std::size_t grid_revalue(const GridBlock& g) noexcept;
// The axpy of the selected instruction set.
AxpyFn selected_axpy() noexcept;
// The gather-sum of the selected instruction set.
GatherSumFn selected_gather_sum() noexcept;

// Defined once per compiled instruction set (see CMakeLists.txt).
KernelSet kernels_scalar() noexcept;
KernelSet kernels_sse2() noexcept;
KernelSet kernels_avx2() noexcept;
KernelSet kernels_avx512() noexcept;

}  // namespace pymargin::pricing::detail
