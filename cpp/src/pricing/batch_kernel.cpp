// Vector kernels of the batch pricer. This file is compiled several times, once per
// instruction set (PYMARGIN_KERNEL_ISA = scalar | sse2 | avx2 | avx512), each with its own
// -m flags; batch.cpp picks one at run time. No -ffast-math: only -fno-math-errno and
// -fopenmp-simd, and the redeclarations below, which let gcc call glibc's vector math (libmvec)
// for exp, log and erfc.
//
// The kernels evaluate the two-term Black formula on the out-of-the-money side (plus the exact
// intrinsic value), which is exact to ~1e-14 where the out-of-the-money value is not much
// smaller than its larger term. They flag every other row (ratio above kMaxCancellation,
// values near underflow, s = 0) for the scalar tail-exact path. Inputs were validated before.
#include <cmath>
#include <cstddef>

#include "batch_internal.hpp"

#if PYMARGIN_USE_LIBMVEC
extern "C" {
#pragma omp declare simd notinbranch
double exp(double) noexcept;
#pragma omp declare simd notinbranch
double log(double) noexcept;
#pragma omp declare simd notinbranch
double erfc(double) noexcept;
}
#define PM_SIMD _Pragma("omp simd")
#else
#define PM_SIMD
#endif

namespace pymargin::pricing::detail {
namespace {

constexpr double kMaxCancellation = 16.0;  // larger term / result, beyond: exact path
constexpr double kTiny = 1e-280;           // below: exact path (erfc near its underflow)
constexpr double kInvSqrt2 = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;

// Core of both kernels: Black-76 on the forward. Writes price and the flag; when G is true
// also the Greeks (model-specific adjustments included).
template <bool G, int M>
inline void run(const KernelBlock& b) noexcept {
  const std::size_t n = b.n;
  const double* __restrict u = b.underlying;
  const double* __restrict kk = b.strike;
  const double* __restrict tt = b.time;
  const double* __restrict vv = b.vol;
  const double* __restrict rr = b.rate;
  const double* __restrict qq = b.carry;
  const double* __restrict cc = b.call;
  double* __restrict price = b.price;
  double* __restrict flag = b.flag;
  double* __restrict o_delta = b.delta;
  double* __restrict o_delta_f = b.delta_forward;
  double* __restrict o_gamma = b.gamma;
  double* __restrict o_vega = b.vega;
  double* __restrict o_theta = b.theta;
  double* __restrict o_rho = b.rho;
  double* __restrict o_vanna = b.vanna;
  double* __restrict o_volga = b.volga;
  constexpr bool bsm = M == 1;
  constexpr bool inverse = M == 2;
  constexpr double bsm_on = bsm ? 1.0 : 0.0;

  PM_SIMD
  for (std::size_t i = 0; i < n; ++i) {
    const double T = tt[i];
    const double r = rr[i];
    const double q = qq[i];
    double growth = 1.0;
    if constexpr (bsm) growth = exp((r - q) * T);
    const double F = u[i] * growth;
    const double K = kk[i];
    const double sig = vv[i];
    const double th = cc[i];
    const double sqrt_t = std::sqrt(T);
    const double s = sig * sqrt_t;
    const double quot = F / K;
    const double x = log(quot) + std::fma(-quot, K, F) / K / quot;  // division rounding corrected
    const double d1 = x / s + 0.5 * s;
    const double d2 = d1 - s;
    const double tho = x < 0.0 ? 1.0 : -1.0;  // sign of the out-of-the-money option
    const double pa = 0.5 * erfc(-tho * d1 * kInvSqrt2);
    const double pb = 0.5 * erfc(-tho * d2 * kInvSqrt2);
    const double big = F * pa;
    const double otm = tho * (big - K * pb);
    const double fwd_value = th * (F - K);
    const double intrinsic = fwd_value > 0.0 ? fwd_value : 0.0;  // not fmax: a libm call
    const double df = exp(-r * T);
    const double p = df * (otm + intrinsic);
    flag[i] = (otm * kMaxCancellation >= big) & (otm >= kTiny * (F + K)) ? 0.0 : 1.0;
    if constexpr (!G) {
      if constexpr (inverse) {
        price[i] = p / F;
      } else {
        price[i] = p;
      }
    } else {
      const double same = 0.5 * (1.0 + th * tho);  // 1 if the option is the OTM one
      const double n_d1 = same * pa + (1.0 - same) * (1.0 - pa);  // N(th d1)
      const double n_d2 = same * pb + (1.0 - same) * (1.0 - pb);  // N(th d2)
      const double pdf1 = kInvSqrt2Pi * exp(-0.5 * d1 * d1);
      const double delta_f = df * th * n_d1;
      const double gamma_f = df * pdf1 / (F * s);
      const double vega = df * F * pdf1 * sqrt_t;
      const double theta76 = r * p - df * F * pdf1 * sig / (2.0 * sqrt_t);
      const double vanna_f = -vega * d2 / (F * s);
      const double volga = vega * d1 * d2 / sig;
      if constexpr (inverse) {
        const double c = p / F;
        price[i] = c;
        o_delta[i] = delta_f - c;
        o_delta_f[i] = delta_f;
        o_gamma[i] = gamma_f - (delta_f - c) / F;
        o_vega[i] = vega / F;
        o_theta[i] = theta76 / F;
        o_rho[i] = -T * c;
        o_vanna[i] = vanna_f - vega / F;
        o_volga[i] = volga / F;
      } else {
        price[i] = p;
        o_delta[i] = delta_f * growth;
        o_delta_f[i] = delta_f;
        o_gamma[i] = gamma_f * growth * growth;
        o_vega[i] = vega;
        o_theta[i] = theta76 - bsm_on * delta_f * F * (r - q);
        if constexpr (bsm) {
          o_rho[i] = th * K * T * df * n_d2;
        } else {
          o_rho[i] = -T * p;
        }
        o_vanna[i] = vanna_f * growth;
        o_volga[i] = volga;
      }
    }
  }
}

template <bool G>
void dispatch_model(const KernelBlock& b) noexcept {
  switch (b.model) {
    case 1:
      run<G, 1>(b);
      break;
    case 2:
      run<G, 2>(b);
      break;
    default:
      run<G, 0>(b);
  }
}

void price_kernel(const KernelBlock& b) noexcept { dispatch_model<false>(b); }
void greeks_kernel(const KernelBlock& b) noexcept { dispatch_model<true>(b); }

}  // namespace

KernelSet PYMARGIN_KERNEL_FACTORY() noexcept {
  return {&price_kernel, &greeks_kernel, PYMARGIN_KERNEL_NAME};
}

}  // namespace pymargin::pricing::detail
