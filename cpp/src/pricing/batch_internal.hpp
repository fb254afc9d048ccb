// Private interface between the batch driver (batch.cpp) and the vector kernels
// (batch_kernel.cpp, compiled once per instruction set).
#pragma once

#include <cstddef>

namespace pymargin::pricing::detail {

inline constexpr std::size_t kBlock = 256;
// Kernels take row counts that are multiples of kLanes (callers pad with harmless rows), so
// that no row is left to a scalar remainder loop: a row's result never depends on its position.
inline constexpr std::size_t kLanes = 8;
inline constexpr std::size_t padded(std::size_t n) { return (n + kLanes - 1) / kLanes * kLanes; }

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
  // Outputs, contiguous, kBlock long. The greeks kernel fills all of them; the price kernel
  // only `price`. `flag` is set to nonzero for rows the caller must recompute exactly.
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
};

using KernelFn = void (*)(const KernelBlock&) noexcept;
// (n, |x|, s, b out, db/ds out, flag out): normalised out-of-the-money call values.
using NormalisedFn = void (*)(std::size_t, const double*, const double*, double*, double*,
                              double*) noexcept;

struct KernelSet {
  KernelFn price;          // direct formula, flags rows it cannot do exactly
  KernelFn greeks;
  KernelFn series_price;   // small-t series, for the rows the direct kernels flagged
  KernelFn series_greeks;
  NormalisedFn normalised;         // b(-|x|, s) and db/ds, direct formula, flags as above
  NormalisedFn normalised_series;  // the same by the small-t series
  const char* name;
};

// b(-|x|, s) and db/ds for n <= kBlock rows, exact to ~1e-14: vector kernels, the series for
// what the direct formula flags, the scalar functions of black.hpp for the rest. All four
// arrays hold kBlock elements; rows n .. padded(n) of x_abs and s are overwritten (padding).
void normalised_block(std::size_t n, double* x_abs, double* s, double* b,
                      double* vega) noexcept;

// Defined once per compiled instruction set (see CMakeLists.txt).
KernelSet kernels_scalar() noexcept;
KernelSet kernels_sse2() noexcept;
KernelSet kernels_avx2() noexcept;
KernelSet kernels_avx512() noexcept;

}  // namespace pymargin::pricing::detail
