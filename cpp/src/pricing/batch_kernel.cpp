// SPDX-License-Identifier: Apache-2.0
// Vector kernels of the batch pricer. This file is compiled several times, once per
// instruction set (PYMARGIN_KERNEL_ISA = scalar | sse2 | avx2 | avx512), each with its own
// -m flags; batch.cpp picks one at run time. No fast-math mode: only -fno-math-errno and
// -fopenmp-simd, and the redeclarations below, which let gcc call glibc's vector math (libmvec)
// for exp, log and erfc.
//
// Two kernels per instruction set, both branch-free over a block of rows:
//  * the direct kernel evaluates the two-term Black formula on the out-of-the-money side (plus
//    the exact intrinsic value); that is exact to ~1e-14 where the out-of-the-money value is
//    not much smaller than its larger term, and it flags every other row (cancellation ratio
//    above kMaxCancellation, values near underflow, s = 0);
//  * the series kernel, run by the driver on the flagged rows only, takes the time value from
//    the small-t series of black.cpp (positive terms, no cancellation) and flags the rows
//    outside its domain (t > 0.15, a t > 2, underflow), which the scalar path then handles.
// Inputs were validated before.
#include <array>
#include <utility>
#include <cmath>
#include <cstring>
#include <cstddef>

#include "batch_internal.hpp"
#include "normal_internal.hpp"

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

// The direct formula's relative error is about R ulp of erfc, R = larger term / result (the
// cancellation): rows with R above kMaxCancellation are flagged.
constexpr double kMaxCancellation = 16.0;
constexpr double kTiny = 1e-280;  // below: exact path (erfc near its underflow)
constexpr double kSeriesMaxT = 0.15;

// Normalised out-of-the-money time value b(-|x|, s) from the small-t series, branch-free:
// b = 2/sqrt(2 pi) exp(-(h^2+t^2)/2) sum_k t^(2k+1) I_(2k+1)(h) / (2k+1)!, h = -|x|/s, t = s/2,
// with I_0 = Y(h) = N(h)/phi(h), I_1 = 1 + h Y (see black.cpp). *ok is 1 where the series is
// valid and exact (t <= 0.15, a t <= 2 or a < 3, no underflow).
inline double series_time_value(double x_abs, double s, double* ok, double* gauss_out) noexcept {
  const double t = 0.5 * s;
  const double a = x_abs / s;  // a = -h
  const double as = a * s;
  const double a_lo = ((x_abs - as) - prod_err(a, s, as)) / s;  // x/s = a + a_lo, exactly
  const double h = -a;
  // Gaussian factors: e^{-a^2/2} by exp with its argument carried exactly to first order, and
  // e^{-t^2/2} by its Taylor series (t <= 0.15 where the result is used).
  const double aa = a * a;
  const double aa_err = prod_err(a, a, aa) + 2.0 * a * a_lo;
  const double ea = exp(-0.5 * aa);
  const double tt = t * t;
  const double y = 0.5 * tt;  // e^{-y} to y^8/8! (< 1e-18 relative for y <= 0.0113)
  const double et =
      1.0 -
      y * (1.0 - y * 0.5 *
                     (1.0 - y * (1.0 / 3.0) *
                                (1.0 - y * 0.25 *
                                           (1.0 - y * 0.2 *
                                                      (1.0 - y * (1.0 / 6.0) *
                                                                 (1.0 - y * (1.0 / 7.0) *
                                                                            (1.0 - y * 0.125)))))));
  const double gauss = ea * (1.0 - 0.5 * aa_err) * et;  // exp(-(h^2 + t^2)/2)
  // I_0 = Y(h), I_1 = 1 + h Y for a < 2.5: N(h)/phi(h), erfc's argument rounding corrected.
  const double w = a * kInvSqrt2Hi;
  const double w_err = prod_err(a, kInvSqrt2Hi, w) + a * kInvSqrt2Lo + a_lo * kInvSqrt2Hi;
  const double cdf = 0.5 * erfc(w) - 0.5 * kTwoOverSqrtPi * ea * w_err;
  const double pdf = kInvSqrt2Pi * ea * (1.0 - 0.5 * aa_err);
  const double y_small = cdf / pdf;
  const double i1_small = 1.0 + h * y_small;
  // a >= 2.5: c = 1/Y - a from the Chebyshev fit; Y = 1/(a + c), I_1 = c Y. Rows beyond
  // a = 40 underflow and are flagged below, so the clamp never changes a used value.
  double a_fit = a < 2.5 ? 2.5 : a;
  a_fit = a_fit > 40.0 ? 40.0 : a_fit;
  const double c = mills_tail_fit(1.0 / a_fit);
  const double y_large = 1.0 / (a + c);
  const double small = a < 2.5 ? 1.0 : 0.0;
  double i_prev = small * y_small + (1.0 - small) * y_large;
  double i_cur = small * i1_small + (1.0 - small) * (c * y_large);
  // sum_k t^(2k+1) I_(2k+1) / (2k+1)!, a fixed 8 terms (n = 1 .. 15): ample for t <= 0.15.
  constexpr double kInvPair[8] = {1.0 / 6.0,   1.0 / 20.0,  1.0 / 42.0,  1.0 / 72.0,
                                  1.0 / 110.0, 1.0 / 156.0, 1.0 / 210.0, 1.0 / 272.0};
  double term_scale = t;
  double sum = 0.0;
#pragma GCC unroll 8
  for (int m = 0; m < 8; ++m) {
    const double n = 2.0 * m + 1.0;
    sum += term_scale * i_cur;
    term_scale *= tt * kInvPair[m];
    const double i_next = h * i_cur + n * i_prev;
    i_prev = i_next;
    i_cur = h * i_next + (n + 1.0) * i_cur;
  }
  const double valid =
      (t <= kSeriesMaxT) & ((a < 3.0) | (a * t <= 2.0)) & (aa < 1200.0) & (s > 0.0) & (x_abs > 0.0);
  *ok = valid;
  *gauss_out = gauss;
  return 2.0 * kInvSqrt2Pi * gauss * sum;
}

// N(tho d1), N(tho d2) for the out-of-the-money side tho (+1 when x < 0), with d1,2 and
// e^{-d1^2/2}: the direct kernel's probabilities, exact to a few ulp far in the tail.
struct OtmProbabilities {
  double d1, d2, tho, g1, pa, pb;
};

__attribute__((always_inline)) inline OtmProbabilities otm_probabilities(double x, double s,
                                                                         double quot) noexcept {
  // d1,2 = x/s +/- s/2 in double-double, so that the rounding of erfc's argument can be
  // corrected to first order: erfc(w + dw) = erfc(w) - 2/sqrt(pi) e^{-w^2} dw. Without it the
  // relative error of N(d) grows like d^2 ulp.
  // Divisions are the slowest vector operations: one reciprocal of s serves all. hq need
  // not be the correctly rounded x/s, since hq + hq_lo carries the exact residual.
  const double inv_s = 1.0 / s;
  const double hq = x * inv_s;
  const double hq_lo = ((x - hq * s) - prod_err(hq, s, hq * s)) * inv_s;
  const double half_s = 0.5 * s;
  const double d1 = hq + half_s;
  const double d1_lo = two_sum_err(hq, half_s, d1) + hq_lo;
  const double d2 = hq - half_s;
  const double d2_lo = two_sum_err(hq, -half_s, d2) + hq_lo;
  const double tho = x < 0.0 ? 1.0 : -1.0;  // sign of the out-of-the-money option
  const double w1 = d1 * kInvSqrt2Hi;
  const double w1_lo = prod_err(d1, kInvSqrt2Hi, w1) + d1_lo * kInvSqrt2Hi + d1 * kInvSqrt2Lo;
  const double w2 = d2 * kInvSqrt2Hi;
  const double w2_lo = prod_err(d2, kInvSqrt2Hi, w2) + d2_lo * kInvSqrt2Hi + d2 * kInvSqrt2Lo;
  const double g1 = exp(-0.5 * d1 * d1);  // e^{-d1^2/2}; e^{-d2^2/2} = g1 F/K
  const double g2 = g1 * quot;
  // N(tho d) = erfc(-tho w)/2, argument -tho (w + w_lo).
  const double pa = 0.5 * erfc(-tho * w1) + 0.5 * kTwoOverSqrtPi * g1 * tho * w1_lo;
  const double pb = 0.5 * erfc(-tho * w2) + 0.5 * kTwoOverSqrtPi * g2 * tho * w2_lo;
  return {d1, d2, tho, g1, pa, pb};
}

// Core of the kernels: Black-76 on the forward. Writes price and the flag; G = 1 also the
// first-order Greeks and theta (delta, delta_forward, gamma, vega, theta), G = 2 also rho,
// vanna and volga (model-specific adjustments included). G = 1 leaves those three outputs
// alone and skips their divisions.
// Rates = false: every row has r = 0 (and q = 0 under BSM), so the discount and growth factors
// are 1 and their exponentials are skipped; the values are the same bits as with Rates = true.
// The direct kernel (Series = false) also screens its inputs as it loads them (see
// KernelBlock::flag): the check costs a few compares on values already in registers instead
// of a separate pass over the block.
template <int G, int M, bool Series, bool Rates, bool Screen>
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

  // n is a multiple of kLanes (the caller pads): every row is computed by the same vector
  // code, whatever its position, so results do not depend on how rows are grouped.
  for (std::size_t c0 = 0; c0 < n; c0 += kLanes) {
    PM_SIMD
    for (std::size_t i = c0; i < c0 + kLanes; ++i) {
      const double T = tt[i];
      const double r = rr[i];
      const double q = qq[i];
      double growth = 1.0;
      if constexpr (bsm && Rates) growth = exp((r - q) * T);
      const double F = u[i] * growth;
      const double K = kk[i];
      const double sig = vv[i];
      const double th = cc[i];
      const double sqrt_t = std::sqrt(T);
      const double s = sig * sqrt_t;
      const double quot = F / K;
      const double qk = quot * K;
      const double x = log(quot) + ((F - qk) - prod_err(quot, K, qk)) / F;  // F/K rounding
      const OtmProbabilities n = otm_probabilities(x, s, quot);
      const double d1 = n.d1, d2 = n.d2, tho = n.tho, g1 = n.g1, pa = n.pa, pb = n.pb;
      const double big = F * pa;
      double otm;
      double exact;
      if constexpr (Series) {
        double gauss_unused;
        otm =
            std::sqrt(F) * std::sqrt(K) * series_time_value(std::fabs(x), s, &exact, &gauss_unused);
      } else {
        otm = tho * (big - K * pb);
        exact = (otm * kMaxCancellation >= big) & (otm >= kTiny * (F + K)) ? 1.0 : 0.0;
      }
      const double fwd_value = th * (F - K);
      const double intrinsic = fwd_value > 0.0 ? fwd_value : 0.0;  // not fmax: a libm call
      double df = 1.0;
      if constexpr (Rates) df = exp(-r * T);
      const double p = df * (otm + intrinsic);
      if constexpr (Series || !Screen) {
        flag[i] = 1.0 - exact;
      } else {
        const double ok = inputs_ok<bsm>(u[i], K, T, sig, r, q);  // the domain screen
        // 1: recompute exactly; 2 or 3: a row outside the domain (the caller reports it).
        flag[i] = (1.0 - exact) + 2.0 * (1.0 - ok);
      }
      if constexpr (G == 0) {
        if constexpr (inverse) {
          price[i] = p / F;
        } else {
          price[i] = p;
        }
      } else {
        const double same = 0.5 * (1.0 + th * tho);  // 1 if the option is the OTM one
        const double n_d1 = same * pa + (1.0 - same) * (1.0 - pa);  // N(th d1)
        const double n_d2 = same * pb + (1.0 - same) * (1.0 - pb);  // N(th d2)
        const double pdf1 = kInvSqrt2Pi * g1;
        const double delta_f = df * th * n_d1;
        const double gamma_f = df * pdf1 / (F * s);
        const double vega = df * F * pdf1 * sqrt_t;
        const double theta76 = r * p - df * F * pdf1 * sig / (2.0 * sqrt_t);
        if constexpr (inverse) {
          const double c = p / F;
          price[i] = c;
          o_delta[i] = delta_f - c;
          o_delta_f[i] = delta_f;
          o_gamma[i] = gamma_f - (delta_f - c) / F;
          o_vega[i] = vega / F;
          o_theta[i] = theta76 / F;
          if constexpr (G == 2) {
            const double vanna_f = -vega * d2 / (F * s);
            const double volga = vega * d1 * d2 / sig;
            o_rho[i] = -T * c;
            o_vanna[i] = vanna_f - vega / F;
            o_volga[i] = volga / F;
          }
        } else {
          price[i] = p;
          o_delta[i] = delta_f * growth;
          o_delta_f[i] = delta_f;
          o_gamma[i] = gamma_f * growth * growth;
          o_vega[i] = vega;
          o_theta[i] = theta76 - bsm_on * delta_f * F * (r - q);
          if constexpr (G == 2) {
            const double vanna_f = -vega * d2 / (F * s);
            const double volga = vega * d1 * d2 / sig;
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
  }
}

template <int G, bool Series, bool Rates, bool Screen>
void dispatch_rates(const KernelBlock& b) noexcept {
  switch (b.model) {
    case 1:
      run<G, 1, Series, Rates, Screen>(b);
      break;
    case 2:
      run<G, 2, Series, Rates, Screen>(b);
      break;
    default:
      run<G, 0, Series, Rates, Screen>(b);
  }
}

// The series kernels never screen (they run on rows the direct kernel already passed).
template <int G, bool Series>
void dispatch_model(const KernelBlock& b) noexcept {
  const bool screen = !Series && b.screen;
  if (b.zero_rates) {
    if (screen) {
      dispatch_rates<G, Series, false, !Series>(b);
    } else {
      dispatch_rates<G, Series, false, false>(b);
    }
  } else if (screen) {
    dispatch_rates<G, Series, true, !Series>(b);
  } else {
    dispatch_rates<G, Series, true, false>(b);
  }
}

// Normalised out-of-the-money call value b(-|x|, s) and its vega db/ds, for the implied-vol
// solver. Same two paths as the price kernels: Series = false is the two-term formula (with
// erfc's arguments corrected, flagging rows with more than kMaxCancellation cancellation),
// Series = true the small-t series.
template <bool Series>
void run_normalised(std::size_t n, const double* __restrict xa, const double* __restrict ss,
                    double* __restrict bo, double* __restrict vo,
                    double* __restrict flag) noexcept {
  for (std::size_t c0 = 0; c0 < n; c0 += kLanes) {
    PM_SIMD
    for (std::size_t i = c0; i < c0 + kLanes; ++i) {
      const double x_abs = xa[i];
      const double s = ss[i];
      double b;
      double gauss;
      double exact;
      if constexpr (Series) {
        b = series_time_value(x_abs, s, &exact, &gauss);
      } else {
        const double inv_s = 1.0 / s;
        const double hq = -x_abs * inv_s;
        const double hq_lo = ((-x_abs - hq * s) - prod_err(hq, s, hq * s)) * inv_s;
        const double half_s = 0.5 * s;
        const double d1 = hq + half_s;
        const double d1_lo = two_sum_err(hq, half_s, d1) + hq_lo;
        const double d2 = hq - half_s;
        const double d2_lo = two_sum_err(hq, -half_s, d2) + hq_lo;
        const double u1 = d1 * kInvSqrt2Hi;
        const double u1_lo = prod_err(d1, kInvSqrt2Hi, u1) + d1_lo * kInvSqrt2Hi + d1 * kInvSqrt2Lo;
        const double u2 = d2 * kInvSqrt2Hi;
        const double u2_lo = prod_err(d2, kInvSqrt2Hi, u2) + d2_lo * kInvSqrt2Hi + d2 * kInvSqrt2Lo;
        const double ehalf = exp(-0.5 * x_abs);  // e^{x/2}
        const double g1 = exp(-0.5 * d1 * d1);
        const double g2 = g1 * ehalf * ehalf;  // e^{-d2^2/2} = e^{-d1^2/2} e^{x}
        // N(d) = erfc(-(u + u_lo))/2 = erfc(-u)/2 + e^{-u^2} u_lo / sqrt(pi)
        const double n1 = 0.5 * erfc(-u1) + 0.5 * kTwoOverSqrtPi * g1 * u1_lo;
        const double n2 = 0.5 * erfc(-u2) + 0.5 * kTwoOverSqrtPi * g2 * u2_lo;
        const double big = ehalf * n1;
        b = big - n2 / ehalf;
        gauss = g1 * ehalf;  // e^{-(h^2 + t^2)/2}
        exact = (b * kMaxCancellation >= big) & (b >= kTiny) ? 1.0 : 0.0;
      }
      bo[i] = b;
      vo[i] = kInvSqrt2Pi * gauss;
      flag[i] = 1.0 - exact;
    }
  }
}

void normalised_kernel(std::size_t n, const double* xa, const double* s, double* b, double* v,
                       double* flag) noexcept {
  run_normalised<false>(n, xa, s, b, v, flag);
}
void normalised_series_kernel(std::size_t n, const double* xa, const double* s, double* b,
                              double* v, double* flag) noexcept {
  run_normalised<true>(n, xa, s, b, v, flag);
}

// The fit's constants (normal_internal.hpp): kappa, the largest argument, and the map
// t = (2u + 1 - hi)/(1 + hi), hi = (40 - 4)/(40 + 4), of the fit's variable u.
constexpr double kK = kMillsRatioKappa;
constexpr double kMaxA = kMillsRatioMaxA;
constexpr double kHi = (kMaxA - kK) / (kMaxA + kK);
constexpr double kTwoOverSpan = 2.0 / (1.0 + kHi);
constexpr double kShift = (1.0 - kHi) / (1.0 + kHi);
constexpr double kDeltaScale = 2.0 * kK * kTwoOverSpan;

// One cell of the grid kernel (below): the normalised out-of-the-money value b(-a, s) without
// erfc, given s, 1/s and ehalf = e^{-a/2}. *ok is 1 where the value is exact, 0 where the
// exact path must recompute the cell (cancellation, tiny values, beyond the fit, s <= 0).
// Always inlined into the vector loop; scalar arguments only, so it vectorises as before.
__attribute__((always_inline)) inline double mills_otm_value(double a, double s, double inv_s,
                                                             double ehalf, double* ok) noexcept {
  const double t = 0.5 * s;
  const double h = a * inv_s;
  const double hs = h * s;
  const double h_lo = ((a - hs) - prod_err(h, s, hs)) * inv_s;  // a/s = h + h_lo
  const double hh = h * h;
  const double tt = t * t;
  const double sum = hh + tt;
  const double sum_err =
      two_sum_err(hh, tt, sum) + prod_err(h, h, hh) + 2.0 * h * h_lo + prod_err(t, t, tt);
  const double gauss = kInvSqrt2Pi * exp(-0.5 * sum) * (1.0 - 0.5 * sum_err);
  const double d1_neg = h - t;  // -d1
  const double a1_raw = std::fabs(d1_neg);
  const double a1 = a1_raw < kMaxA ? a1_raw : kMaxA;
  const double a2 = (h + t) < kMaxA ? (h + t) : kMaxA;
  const double itm = d1_neg < 0.0 ? 1.0 : 0.0;
  const double p1 = a1 + kK;
  const double p2 = a2 + kK;
  const double r = 1.0 / (p1 * p2);
  // Mapped variables t1, t2 of the fit; t2 - t1 from a2 - a1 (= s, or 2h when d1 > 0)
  // directly: u2 - u1 = 2 kappa (a2 - a1) / (p1 p2).
  const double da = itm != 0.0 ? 2.0 * h : s;
  const double t1 = ((a1 - kK) * p2 * r) * kTwoOverSpan + kShift;
  const double delta = (kDeltaScale * da) * r;
  const ValueAndSlope fit = mills_ratio_fit_dd(t1, delta);
  const double g1 = fit.value;
  const double dg = fit.slope;
  const double g2 = mul_add(delta, dg, g1);
  const double c1 = g1 * p2 * r;
  const double c2 = g2 * p1 * r;
  const double dd1 = a1 + c1;
  const double dd2 = a2 + c2;
  const double rd = 1.0 / (dd1 * dd2);
  // d1 <= 0: D2 - D1 = s + c2 - c1 = s + ((g2 - g1) p1 - g1 s) / (p1 p2), between 0.64 s
  // and s: no cancellation, nothing to flag.
  const double spread = s + (delta * dg * p1 - g1 * s) * r;
  const double b_otm = gauss * spread * rd;
  const double b_itm = ehalf - gauss * (dd1 + dd2) * rd;
  const double b = itm != 0.0 ? b_itm : b_otm;
  // Ternaries on doubles only: a bool expression would bring 32-bit lanes into the loop
  // and double the vectorisation factor past the 8 rows of a pass.
  const double ok_itm = ehalf <= kMaxCancellation * b_itm ? 1.0 : 0.0;
  const double ok_sel = itm != 0.0 ? ok_itm : 1.0;
  // Where the Gaussian factor underflows to 0 the value is exact (e^{-a/2}, or 0 as the
  // correctly rounded value below 5e-324); otherwise tiny values and arguments beyond the
  // fit go to the exact path.
  const double ok_tiny = b >= kTiny ? ok_sel : 0.0;
  const double ok_fit = h + t < kMaxA ? ok_tiny : 0.0;
  const double ok_under = gauss == 0.0 ? 1.0 : ok_fit;
  *ok = s > 0.0 ? ok_under : 0.0;
  return b;
}

// Scenario revaluation (GridBlock): for each cell, the normalised out-of-the-money value
// b(-a, s), a = |x|, x = ln(F/K) + ln(1 + m), without erfc. With h = a/s, t = s/2 and
// G = exp(-(h^2 + t^2)/2)/sqrt(2 pi) (so that e^{-a/2} phi(d1) = e^{a/2} phi(d2) = G),
// N(d) = phi(d) Y(d) and Y(-a) = 1/D(a), D = a + c(a), c from one polynomial (normal_internal.hpp):
//   d1 = t - h <= 0:  b = G (Y(d1) - Y(d2)) = G (D2 - D1) / (D1 D2)
//   d1 > 0:           b = e^{-a/2} - G (Y(-d1) + Y(d2)) = e^{-a/2} - G (D1 + D2) / (D1 D2)
// with a1 = |h - t|, a2 = h + t. D2 - D1 = s + c2 - c1 is formed from the divided difference of
// the polynomial, so the first case never cancels; the second cancels near the money at small s,
// and those cells (ratio above kMaxCancellation) are flagged for the exact path, as are tiny
// values, arguments beyond the fit, and s <= 0. The exponential's argument is carried to first
// order (as gauss_factor); Y needs no such care (its relative condition number is below 1).
// Per cell: one exponential, two divisions, one polynomial with its divided difference.
std::size_t grid_kernel(const GridBlock& g) noexcept {
  const std::size_t n = g.n;
  const double* __restrict x0 = g.x0;
  const double* __restrict rq = g.root_q;
  const double* __restrict riq = g.root_iq;
  const double* __restrict amp = g.amp;
  const double* __restrict dfa = g.df;
  const double* __restrict tha = g.th;
  const double* __restrict inva = g.inv;
  const double* __restrict fa = g.fwd;
  const double* __restrict ka = g.strike;
  const double* __restrict kfa = g.k_over_f;
  const double* __restrict base = g.base;
  const std::int64_t* __restrict rows = g.row;
  double* __restrict risk = g.out;
  double flagged = 0.0;
  for (std::size_t j = 0; j < g.ns; ++j) {
    const double lj = g.log1p[j];
    const double sqj = g.sq[j];
    const double isqj = g.isq[j];
    const double q1j = g.q1[j];
    const double iq1j = g.iq1[j];
    const double vsj = g.vscale[j];
    const double ivsj = g.ivscale[j];
    const std::size_t st = static_cast<std::size_t>(g.state[j] + 1);
    const double* __restrict sa = g.s + st * g.s_stride;
    const double* __restrict isa = g.inv_s + st * g.s_stride;
    double* __restrict flag = g.flag + j * n;
    double lane_flags[kGridLanes] = {};
    // One cell; the pass below runs two of them, kLanes rows apart, so that two independent
    // vectors are in flight (each waits on a division after its polynomial).
    auto cell = [&](std::size_t i, std::size_t lane) __attribute__((always_inline)) {
      const double x = x0[i] + lj;
      const double a = std::fabs(x);
      const double s = sa[i] * vsj;  // exact when vsj = 1
      const double inv_s = isa[i] * ivsj;
      const double ehalf = x >= 0.0 ? riq[i] * isqj : rq[i] * sqj;  // e^{-a/2}
      double ok;
      const double b = mills_otm_value(a, s, inv_s, ehalf, &ok);
      const double inverse = inva[i];
      const double unit = inverse * isqj + (1.0 - inverse) * sqj;
      const double fwd_value =
          inverse * (1.0 - kfa[i] * iq1j) + (1.0 - inverse) * (fa[i] * q1j - ka[i]);
      const double itv = tha[i] * fwd_value;
      const double intrinsic = dfa[i] * (itv > 0.0 ? itv : 0.0);
      risk[rows[i] + static_cast<std::int64_t>(j)] = (amp[i] * unit * b + intrinsic) - base[i];
      flag[i] = 1.0 - ok;
      lane_flags[lane] += 1.0 - ok;
    };
    for (std::size_t c0 = 0; c0 < n; c0 += kGridLanes) {
      PM_SIMD
      for (std::size_t i = c0; i < c0 + kLanes; ++i) {
        cell(i, i - c0);
        cell(i + kLanes, i - c0 + kLanes);
      }
    }
    double count = 0.0;
    for (double f : lane_flags) count += f;
    g.flag_count[j] = count;
    flagged += count;
  }
  return static_cast<std::size_t>(flagged);
}

// Each element is one multiply and one add (no contraction: -ffp-contract=off), so every
// instruction set gives the same bits.
void axpy_kernel(std::size_t n, double a, const double* __restrict x,
                 double* __restrict y) noexcept {
  PM_SIMD
  for (std::size_t j = 0; j < n; ++j) y[j] += a * x[j];
}

// out[j] = sum over p of w[p] x rows[r_p * stride + j], r_p = idx ? idx[p] : p, for j < ns:
// the positions summed in order, lane by lane, from 0 (the same bits as axpy of each row
// into a zeroed vector, position after position). Blocks of 32, 16, 8 and 4 lanes are kept in
// registers across all positions (the sum streams the rows once instead of reloading and
// storing the vector per position); the last ns % 4 lanes go through a 4-lane block whose
// rows are copied into a zero-padded buffer (nothing is read past a row's end).
// GCC vector types: 8 and 4 doubles, whatever the instruction set splits them into; loads
// through memcpy (unaligned). Passed by reference only (no vector ABI across calls).
typedef double GatherV8 __attribute__((vector_size(64)));
typedef double GatherV4 __attribute__((vector_size(32)));

// One pass over the positions with K8 8-lane sums, then (H4) a 4-lane sum, then T (< 4)
// scalar sums, all independent chains kept in registers.
template <std::size_t K8, bool H4, std::size_t T>
void gather_block(std::size_t count, const double* __restrict rows, std::size_t stride,
                  const std::int32_t* __restrict idx, const double* __restrict w,
                  double* __restrict out) noexcept {
  GatherV8 acc[K8 > 0 ? K8 : 1];
  for (auto& x : acc) x = GatherV8{} * 0.0;
  GatherV4 acc4 = GatherV4{} * 0.0;
  double tail[T > 0 ? T : 1] = {};
  for (std::size_t p = 0; p < count; ++p) {
    const double* r = rows + (idx ? static_cast<std::size_t>(idx[p]) : p) * stride;
    const double a = w[p];
    for (std::size_t k = 0; k < K8; ++k) {
      GatherV8 v;
      std::memcpy(&v, r + 8 * k, sizeof(v));
      acc[k] += a * v;
    }
    if constexpr (H4) {
      GatherV4 v;
      std::memcpy(&v, r + 8 * K8, sizeof(v));
      acc4 += a * v;
    }
    for (std::size_t j = 0; j < T; ++j) tail[j] += a * r[8 * K8 + (H4 ? 4 : 0) + j];
  }
  if constexpr (K8 > 0) std::memcpy(out, acc, K8 * sizeof(GatherV8));
  if constexpr (H4) std::memcpy(out + 8 * K8, &acc4, sizeof(acc4));
  for (std::size_t j = 0; j < T; ++j) out[8 * K8 + (H4 ? 4 : 0) + j] = tail[j];
}

using GatherBlockFn = void (*)(std::size_t, const double*, std::size_t, const std::int32_t*,
                               const double*, double*) noexcept;

template <std::size_t K8, bool H4, std::size_t... T>
constexpr std::array<GatherBlockFn, 4> gather_row(std::index_sequence<T...>) {
  return {&gather_block<K8, H4, T>...};
}

// Indexed by [K8][H4][T]: every last pass a width up to 39 can need.
template <std::size_t... K>
constexpr std::array<std::array<std::array<GatherBlockFn, 4>, 2>, 5> gather_table(
    std::index_sequence<K...>) {
  return {{{{gather_row<K, false>(std::make_index_sequence<4>{}),
             gather_row<K, true>(std::make_index_sequence<4>{})}}...}};
}

constexpr auto kGatherBlocks = gather_table(std::make_index_sequence<5>{});

void gather_sum_kernel(std::size_t ns, std::size_t count, const double* __restrict rows,
                       std::size_t stride, const std::int32_t* __restrict idx,
                       const double* __restrict w, double* __restrict out) noexcept {
  std::size_t j0 = 0;
  // Full passes of 32 lanes while more than 39 remain, then one pass for the rest.
  while (ns - j0 > 39) {
    gather_block<4, false, 0>(count, rows + j0, stride, idx, w, out + j0);
    j0 += 32;
  }
  const std::size_t rest = ns - j0;
  if (rest == 0) return;
  kGatherBlocks[rest / 8][(rest % 8) / 4][rest % 4](count, rows + j0, stride, idx, w, out + j0);
}

template <bool Bsm>
double screen_rows(std::size_t n, const double* __restrict u, const double* __restrict k,
                   const double* __restrict t, const double* __restrict v,
                   const double* __restrict r, const double* __restrict q) noexcept {
  double bad = 0.0;  // counts 0/1 values: exact in any order
#if PYMARGIN_USE_LIBMVEC
#pragma omp simd reduction(+ : bad)
#endif
  for (std::size_t i = 0; i < n; ++i) {
    bad += 1.0 - inputs_ok<Bsm>(u[i], k[i], t[i], v[i], r[i], Bsm ? q[i] : 0.0);
  }
  return bad;
}

double screen_kernel(std::size_t n, bool bsm, const double* u, const double* k, const double* t,
                     const double* v, const double* r, const double* q) noexcept {
  return bsm ? screen_rows<true>(n, u, k, t, v, r, q) : screen_rows<false>(n, u, k, t, v, r, q);
}

void price_kernel(const KernelBlock& b) noexcept { dispatch_model<0, false>(b); }
void greeks_kernel(const KernelBlock& b) noexcept { dispatch_model<2, false>(b); }
void first_kernel(const KernelBlock& b) noexcept { dispatch_model<1, false>(b); }
void series_price_kernel(const KernelBlock& b) noexcept { dispatch_model<0, true>(b); }
void series_greeks_kernel(const KernelBlock& b) noexcept { dispatch_model<2, true>(b); }
void series_first_kernel(const KernelBlock& b) noexcept { dispatch_model<1, true>(b); }

}  // namespace

KernelSet PYMARGIN_KERNEL_FACTORY() noexcept {
  return {
      &price_kernel,       &greeks_kernel,       &series_price_kernel, &series_greeks_kernel,
      &first_kernel,       &series_first_kernel, &normalised_kernel,   &normalised_series_kernel,
      &grid_kernel,        &axpy_kernel,         &gather_sum_kernel,   &screen_kernel,
      PYMARGIN_KERNEL_NAME};
}

}  // namespace pymargin::pricing::detail
