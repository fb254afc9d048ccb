// Private numerical helpers of the pricing layer: the normal distribution in the forms the
// normalised Black function needs, each written to avoid cancellation and underflow.
#pragma once

#include <cmath>

namespace pymargin::pricing::detail {

inline constexpr double kSqrt2Pi = 2.5066282746310005024;      // sqrt(2 pi)
inline constexpr double kInvSqrt2Pi = 0.39894228040143267794;  // 1/sqrt(2 pi)
inline constexpr double kInvSqrt2Hi = 0.70710678118654757;     // 1/sqrt(2) rounded
inline constexpr double kInvSqrt2Lo = -4.8336466567264567e-17;  // 1/sqrt(2) - kInvSqrt2Hi
inline constexpr double kTwoOverSqrtPi = 1.1283791670955125739;

// exp(-(h^2 + t^2)/2) where h = x/s is formed in double-double, so that the only rounding left
// is the final exp's: the squares, the quotient x/s and the sum are carried exactly to first
// order. This is the Gaussian factor of every far-out-of-the-money quantity.
inline double gauss_factor(double x, double s, double t) noexcept {
  const double h = x / s;
  const double h_lo = std::fma(-h, s, x) / s;  // x/s = h + h_lo to ~2^-106
  const double hh = h * h;
  const double hh_err = std::fma(h, h, -hh) + 2.0 * h * h_lo;
  const double tt = t * t;
  const double tt_err = std::fma(t, t, -tt);
  const double sum = hh + tt;
  const double bv = sum - hh;
  const double sum_err = (hh - (sum - bv)) + (tt - bv);  // two-sum
  const double err = sum_err + hh_err + tt_err;
  return std::exp(-0.5 * sum) * (1.0 - 0.5 * err);
}

// ln(F/K) with the rounding of the quotient corrected to first order: near the money the
// quotient's half-ulp error would otherwise be a large relative error of a tiny x.
inline double log_moneyness(double f, double k) noexcept {
  const double q = f / k;
  const double rem = std::fma(-q, k, f) / k;  // f/k = q + rem exactly to ~2^-106
  return std::log(q) + rem / q;
}

// Standard normal cdf N(z) = erfc(-z/sqrt 2)/2, with the rounding of -z/sqrt(2) corrected to
// first order so that far in the lower tail the result keeps a few-ulp relative accuracy
// (the rounding would otherwise cost ~z^2 ulp).
inline double norm_cdf(double z) noexcept {
  const double w = -z * kInvSqrt2Hi;
  const double w_err = std::fma(-z, kInvSqrt2Hi, -w) - z * kInvSqrt2Lo;
  const double e = std::erfc(w);
  if (w > 26.6 || w < -6.0) return 0.5 * e;  // correction below the resolution or irrelevant
  return 0.5 * (e - kTwoOverSqrtPi * std::exp(-w * w) * w_err);
}

// Y(z) = N(z) / phi(z) for z <= 0 (the Mills ratio of -z). Finite and accurate for all z <= 0:
// N and phi in closed form while that loses at most a few ulp, Laplace's continued fraction
// 1/(a + 1/(a + 2/(a + 3/(a + ...)))), a = -z, beyond.
inline double mills_y(double z) noexcept {
  const double a = -z;
  if (a < 4.0) {
    const double zz = z * z;
    const double zz_err = std::fma(z, z, -zz);
    const double phi = kInvSqrt2Pi * std::exp(-0.5 * zz) * (1.0 - 0.5 * zz_err);
    return norm_cdf(z) / phi;
  }
  const int terms = a < 6.0 ? 44 : (a < 15.0 ? 24 : 12);
  double tail = a;
  for (int k = terms; k >= 1; --k) tail = a + k / tail;
  return 1.0 / tail;
}

}  // namespace pymargin::pricing::detail
