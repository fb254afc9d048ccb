// SPDX-License-Identifier: Apache-2.0
// Batch pricing over columns: the same mathematics as black.hpp, over arrays, vectorised and
// multi-threaded. Inputs are columns with an element stride (0 broadcasts one value to every
// row, 1 is contiguous); outputs are contiguous arrays of n doubles, or null when not wanted.
//
// Every input row is validated before anything is written: on bad input the outputs are left
// untouched and the Status names the field and the first bad row.
//
// The vectorised path evaluates the textbook two-term form with the platform's vector math
// (glibc libmvec, chosen at run time among SSE2/AVX2/AVX-512 builds) wherever that form is
// exact to ~1e-14 relative: rows where the out-of-the-money value is not much smaller than its
// larger term. Every other row (far wings, T = 0 or vol = 0, tiny prices) is recomputed by the
// scalar, tail-exact functions of black.hpp. Results agree with the scalar functions to 1e-13.
#pragma once

#include <cstddef>
#include <cstdint>

#include "pymargin/error.hpp"
#include "pymargin/pricing/black.hpp"

namespace pymargin::pricing {

template <class T>
struct Column {
  const T* data = nullptr;
  std::ptrdiff_t stride = 1;  // in elements; 0 broadcasts data[0]
  T operator[](std::size_t i) const noexcept {
    return data[static_cast<std::ptrdiff_t>(i) * stride];
  }
};

enum class Model : std::uint8_t {
  kBlack76 = 0,  // underlying = forward
  kBsm = 1,      // underlying = spot, carry = dividend yield q
  kInverse = 2   // underlying = forward; prices and Greeks in coin (see black.hpp)
};

struct BatchInputs {
  Model model = Model::kBlack76;
  std::size_t n = 0;
  Column<double> underlying;
  Column<double> strike;
  Column<double> time;
  Column<double> vol;
  Column<double> rate;
  Column<double> carry;          // BSM only; ignored otherwise (may be null)
  Column<std::uint8_t> is_call;  // 1 call, 0 put
};

struct BatchOutputs {
  double* price = nullptr;
  double* delta = nullptr;
  double* delta_forward = nullptr;
  double* gamma = nullptr;
  double* vega = nullptr;
  double* theta = nullptr;
  double* rho = nullptr;
  double* vanna = nullptr;
  double* volga = nullptr;
};

// Checks every row; returns the first problem found.
Status validate(const BatchInputs& in) noexcept;

// Prices (and the requested Greeks) of every row. threads <= 0: use all hardware threads
// (small batches run on the calling thread). Every input is validated before any output is
// written. With outputs_are_scratch = true (for callers that discard the outputs on error,
// e.g. freshly allocated result arrays) the kernels check each row as they compute it,
// saving the validation pass; on error the outputs are then partly written.
// The Status is the same either way: the first bad row.
Status price_batch(const BatchInputs& in, const BatchOutputs& out, int threads,
                   bool outputs_are_scratch = false) noexcept;

// The vector instruction set the batch kernels dispatched to ("avx512", "avx2", "sse2",
// "scalar"). The environment variable PYMARGIN_SIMD (one of those names) caps it, for
// bit-reproducible runs across machines.
const char* simd_level() noexcept;

}  // namespace pymargin::pricing
