// SPDX-License-Identifier: Apache-2.0
// The textbook Black-76 call/put formula, vectorised with glibc's libmvec for AVX-512 and
// nothing else: no input validation, no cancellation control, no tail handling, no discounting.
// It is not exact far out of the money and it is not part of pymargin; the benchmark uses it
// only as a ceiling: what the hardware gives for the bare two-erfc formula.
#include <cmath>
#include <cstddef>

extern "C" {
#pragma omp declare simd notinbranch
double erfc(double) noexcept;
#pragma omp declare simd notinbranch
double log(double) noexcept;
}

void textbook_black76(std::size_t n, const double* __restrict f, const double* __restrict k,
                      const double* __restrict t, const double* __restrict v,
                      const double* __restrict call, double* __restrict out) noexcept {
#pragma omp simd
  for (std::size_t i = 0; i < n; ++i) {
    const double s = v[i] * std::sqrt(t[i]);
    const double d1 = log(f[i] / k[i]) / s + 0.5 * s;
    const double d2 = d1 - s;
    const double th = call[i];
    out[i] = th * (f[i] * 0.5 * erfc(-th * d1 * 0.7071067811865476) -
                   k[i] * 0.5 * erfc(-th * d2 * 0.7071067811865476));
  }
}
