// SPDX-License-Identifier: Apache-2.0
// Private numerical helpers of the pricing layer: the normal distribution in the forms the
// normalised Black function needs, each written to avoid cancellation and underflow.
#pragma once

#include <cmath>

namespace pymargin::pricing::detail {

// a*b - fl(a*b), exactly. One instruction where the build targets FMA hardware; otherwise
// Dekker's splitting (ten flops, no call: a baseline x86-64 build would call libm's fma).
inline double prod_err(double a, double b, double p) noexcept {
#if defined(__FMA__)
  return std::fma(a, b, -p);
#else
  constexpr double kSplit = 134217729.0;  // 2^27 + 1
  const double ca = kSplit * a;
  const double a_hi = ca - (ca - a);
  const double a_lo = a - a_hi;
  const double cb = kSplit * b;
  const double b_hi = cb - (cb - b);
  const double b_lo = b - b_hi;
  return ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo;
#endif
}

// a*b + c: one rounding where the build targets FMA hardware, two otherwise (never a libm call).
inline double mul_add(double a, double b, double c) noexcept {
#if defined(__FMA__)
  return std::fma(a, b, c);
#else
  return a * b + c;
#endif
}

// a + b - fl(a + b), exactly (Knuth's two-sum).
inline double two_sum_err(double a, double b, double sum) noexcept {
  const double bv = sum - a;
  return (a - (sum - bv)) + (b - bv);
}

inline constexpr double kSqrt2Pi = 2.5066282746310005024;       // sqrt(2 pi)
inline constexpr double kInvSqrt2Pi = 0.39894228040143267794;   // 1/sqrt(2 pi)
inline constexpr double kInvSqrt2Hi = 0.70710678118654757;      // 1/sqrt(2) rounded
inline constexpr double kInvSqrt2Lo = -4.8336466567264567e-17;  // 1/sqrt(2) - kInvSqrt2Hi
inline constexpr double kTwoOverSqrtPi = 1.1283791670955125739;

// exp(-(h^2 + t^2)/2) where h = x/s is formed in double-double, so that the only rounding left
// is the final exp's: the squares, the quotient x/s and the sum are carried exactly to first
// order. This is the Gaussian factor of every far-out-of-the-money quantity.
inline double gauss_factor(double x, double s, double t) noexcept {
  const double h = x / s;
  // exp(-(h^2 + t^2)/2) underflows to 0 long before the correction terms matter; returning
  // early also keeps their products (Dekker splits of huge h) from overflowing into NaN.
  if (!(std::fabs(h) < 40.0 && t < 40.0)) return 0.0;
  const double hs = h * s;
  const double h_lo = ((x - hs) - prod_err(h, s, hs)) / s;  // x/s = h + h_lo to ~2^-106
  const double hh = h * h;
  const double hh_err = prod_err(h, h, hh) + 2.0 * h * h_lo;
  const double tt = t * t;
  const double tt_err = prod_err(t, t, tt);
  const double sum = hh + tt;
  const double bv = sum - hh;
  const double sum_err = (hh - (sum - bv)) + (tt - bv);  // two-sum
  const double err = sum_err + hh_err + tt_err;
  return std::exp(-0.5 * sum) * (1.0 - 0.5 * err);
}

// ln(F/K) with the rounding of the quotient corrected to first order: near the money the
// quotient's half-ulp error would otherwise be a large relative error of a tiny x.
inline double log_moneyness(double f, double k) noexcept {
  // The error term below splits k (Dekker) when the build has no FMA: scale huge arguments
  // by a power of two first (exact), so that the split cannot overflow.
  if (k > 0x1p900 || f > 0x1p900) {
    f *= 0x1p-600;
    k *= 0x1p-600;
  }
  const double q = f / k;
  const double qk = q * k;
  const double rem = ((f - qk) - prod_err(q, k, qk)) / k;  // f/k = q + rem to ~2^-106
  return std::log(q) + rem / q;
}

// Standard normal cdf N(z) = erfc(-z/sqrt 2)/2, with the rounding of -z/sqrt(2) corrected to
// first order so that far in the lower tail the result keeps a few-ulp relative accuracy
// (the rounding would otherwise cost ~z^2 ulp).
inline double norm_cdf(double z) noexcept {
  const double w = -z * kInvSqrt2Hi;
  const double w_err = prod_err(-z, kInvSqrt2Hi, w) - z * kInvSqrt2Lo;
  const double e = std::erfc(w);
  if (w > 26.6 || w < -6.0) return 0.5 * e;  // correction below the resolution or irrelevant
  return 0.5 * (e - kTwoOverSqrtPi * std::exp(-w * w) * w_err);
}

// Chebyshev series of g(u) = a c(a), u = 1/a in [1/40, 1/2.5], where c(a) = 1/Y(-a) - a is the
// tail of Laplace's continued fraction for the Mills ratio. Generated (and checked against
// mpmath) by tools/fit_mills_tail.py.
// max relative error of the fit (exact arithmetic): 4.49e-17
inline constexpr double kMillsTailCheb[25] = {
    9.1435126903870237e-1,   -9.9541350757026924e-2,  -1.1233298189018249e-2,
    3.6481972603923701e-3,   -3.3214823501260383e-4,  -4.9834840769733657e-5,
    2.233693651911612e-5,    -3.1467527814010101e-6,  -1.7887522275530476e-7,
    1.8650041644408411e-7,   -4.1060014510074356e-8,  2.0803192526434532e-9,
    1.5302148122673961e-9,   -5.632642684020577e-10,  8.5996992501412833e-11,
    5.478700540523894e-12,   -6.826367018735006e-12,  1.9012110787765532e-12,
    -2.1148193346221951e-13, -4.8735929537605673e-14, 3.068933599934063e-14,
    -7.6323692461805201e-15, 6.7193237273417132e-16,  2.8134130636975041e-16,
    -1.4805066521556041e-16,
};

// c(a) = 1/(a + 2/(a + 3/(a + ...))) for a >= 2.5: from the fit up to a = 40, from 12 terms of
// the continued fraction beyond (where it converges fast).
inline constexpr double kMillsFitLo = 1.0 / 40.0;
inline constexpr double kMillsFitHi = 1.0 / 2.5;

inline double mills_tail_fit(double u) noexcept {  // u = 1/a in [kMillsFitLo, kMillsFitHi]
  const double x = (2.0 * u - (kMillsFitLo + kMillsFitHi)) / (kMillsFitHi - kMillsFitLo);
  double b1 = 0.0;
  double b2 = 0.0;
#pragma GCC unroll 24
  for (int j = 24; j >= 1; --j) {
    const double b0 = 2.0 * x * b1 - b2 + kMillsTailCheb[j];
    b2 = b1;
    b1 = b0;
  }
  return (x * b1 - b2 + kMillsTailCheb[0]) * u;
}

inline double mills_tail(double a) noexcept {
  if (a > 40.0) {
    double tail = a;
    for (int k = 12; k >= 2; --k) tail = a + k / tail;
    return 1.0 / tail;
  }
  return mills_tail_fit(1.0 / a);
}

// Y(z) = N(z) / phi(z) for z <= 0 (the Mills ratio of -z), accurate to a few ulp for all z <= 0:
// N/phi in closed form while that is exact enough (|z| < 2.5), 1/(a + c(a)) beyond.
inline double mills_y(double z) noexcept {
  const double a = -z;
  if (a < 2.5) {
    const double zz = z * z;
    const double zz_err = prod_err(z, z, zz);
    const double phi = kInvSqrt2Pi * std::exp(-0.5 * zz) * (1.0 - 0.5 * zz_err);
    return norm_cdf(z) / phi;
  }
  return 1.0 / (a + mills_tail(a));
}

// The Mills-ratio tail c(a) = 1/Y(-a) - a over the whole range a in [0, 40] as one polynomial,
// for the scenario-revaluation kernel (no erfc call, no branch): g(u) = c(a) (a + 4) with
// u = (a - 4)/(a + 4) in [-1, 9/11], in powers of t = (2u + 1 - 9/11)/(1 + 9/11), evaluated by
// Estrin's scheme. Generated (and checked against mpmath) by tools/fit_mills_ratio.py.
// max relative error of the fit (exact arithmetic): 1.1e-17
// max relative error of the Estrin evaluation in double: 4.94e-16
inline constexpr double kMillsRatioPoly[27] = {
    1.9155918901490921,     -1.1392617175382553,   3.1113260754495617e-1,  9.0190338257070465e-2,
    -1.0183778326273803e-1, 8.1239842728197742e-3, 2.4472242550027767e-2,  -7.7958583705490203e-3,
    -5.0470938913970911e-3, 3.014663986373198e-3,  8.7793647616165156e-4,  -9.2644324188004935e-4,
    -1.1027379427415833e-4, 2.5053762683592773e-4, 8.3338814999577092e-8,  -6.1274333260995466e-5,
    6.3158797137140547e-6,  1.3555324114563459e-5, -2.9190492407340977e-6, -2.6566822500721837e-6,
    9.6318086260721106e-7,  4.380745479641796e-7,  -2.5140451729962966e-7, -5.4132668071083372e-8,
    4.7057809864969183e-8,  3.7111727813954736e-9, -4.6097389937723983e-9,
};

inline constexpr double kMillsRatioKappa = 4.0;
inline constexpr double kMillsRatioMaxA = 40.0;

// g for u = (a - 4)/(a + 4), a in [0, 40] (c(a) = g / (a + 4)), as a function of the fit's
// variable t (see kMillsRatioPoly):
struct ValueAndSlope {
  double value;
  double slope;
};

__attribute__((always_inline)) inline ValueAndSlope mills_ratio_fit_dd(double t1,
                                                                       double delta) noexcept {
  const double* c = kMillsRatioPoly;
  const double t2 = t1 + delta;
  const double x2 = t1 * t1;  // t1^2, t1^4, t1^8, t1^16
  const double x4 = x2 * x2;
  const double x8 = x4 * x4;
  const double x16 = x8 * x8;
  const double y2 = t2 * t2;
  const double y4 = y2 * y2;
  const double y8 = y4 * y4;
  const double s2 = t1 + t2;  // [t^2], [t^4], [t^8], [t^16]
  const double s4 = (x2 + y2) * s2;
  const double s8 = (x4 + y4) * s4;
  const double s16 = (x8 + y8) * s8;
  // level 1: p_k = c_2k + c_2k+1 t, [p_k] = c_2k+1
  const double p0 = mul_add(c[1], t1, c[0]);
  const double p1 = mul_add(c[3], t1, c[2]);
  const double p2 = mul_add(c[5], t1, c[4]);
  const double p3 = mul_add(c[7], t1, c[6]);
  const double p4 = mul_add(c[9], t1, c[8]);
  const double p5 = mul_add(c[11], t1, c[10]);
  const double p6 = mul_add(c[13], t1, c[12]);
  const double p7 = mul_add(c[15], t1, c[14]);
  const double p8 = mul_add(c[17], t1, c[16]);
  const double p9 = mul_add(c[19], t1, c[18]);
  const double p10 = mul_add(c[21], t1, c[20]);
  const double p11 = mul_add(c[23], t1, c[22]);
  const double p12 = mul_add(c[25], t1, c[24]);
  const double p13 = c[26];
  // each level: v = f(t1) + T(t1) h(t1); [v] = [f] + [T] h(t2) + T(t1) [h], h(t2) = h + delta [h]
  const double q0 = mul_add(x2, p1, p0);
  const double dq0 = mul_add(s2, mul_add(delta, c[3], p1), mul_add(x2, c[3], c[1]));
  const double q1 = mul_add(x2, p3, p2);
  const double dq1 = mul_add(s2, mul_add(delta, c[7], p3), mul_add(x2, c[7], c[5]));
  const double q2 = mul_add(x2, p5, p4);
  const double dq2 = mul_add(s2, mul_add(delta, c[11], p5), mul_add(x2, c[11], c[9]));
  const double q3 = mul_add(x2, p7, p6);
  const double dq3 = mul_add(s2, mul_add(delta, c[15], p7), mul_add(x2, c[15], c[13]));
  const double q4 = mul_add(x2, p9, p8);
  const double dq4 = mul_add(s2, mul_add(delta, c[19], p9), mul_add(x2, c[19], c[17]));
  const double q5 = mul_add(x2, p11, p10);
  const double dq5 = mul_add(s2, mul_add(delta, c[23], p11), mul_add(x2, c[23], c[21]));
  const double q6 = mul_add(x2, p13, p12);
  const double dq6 = mul_add(s2, p13, c[25]);
  const double r0 = mul_add(x4, q1, q0);
  const double dr0 = mul_add(s4, mul_add(delta, dq1, q1), mul_add(x4, dq1, dq0));
  const double r1 = mul_add(x4, q3, q2);
  const double dr1 = mul_add(s4, mul_add(delta, dq3, q3), mul_add(x4, dq3, dq2));
  const double r2 = mul_add(x4, q5, q4);
  const double dr2 = mul_add(s4, mul_add(delta, dq5, q5), mul_add(x4, dq5, dq4));
  const double r3 = q6;
  const double dr3 = dq6;
  const double v0 = mul_add(x8, r1, r0);
  const double dv0 = mul_add(s8, mul_add(delta, dr1, r1), mul_add(x8, dr1, dr0));
  const double v1 = mul_add(x8, r3, r2);
  const double dv1 = mul_add(s8, mul_add(delta, dr3, r3), mul_add(x8, dr3, dr2));
  return {mul_add(x16, v1, v0), mul_add(s16, mul_add(delta, dv1, v1), mul_add(x16, dv1, dv0))};
}

}  // namespace pymargin::pricing::detail
