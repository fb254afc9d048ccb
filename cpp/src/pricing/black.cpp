// SPDX-License-Identifier: Apache-2.0
#include "pymargin/pricing/black.hpp"

#include <cmath>
#include <limits>

#include "normal_internal.hpp"

namespace pymargin::pricing {

using detail::gauss_factor;
using detail::kInvSqrt2Pi;
using detail::mills_y;

double norm_cdf(double z) noexcept { return detail::norm_cdf(z); }

namespace {

// I_n(h) = integral_0^inf u^n exp(h u - u^2/2) du are the derivatives of Y = N/phi at h
// (Y^(n) = I_n), so Y(h+t) - Y(h-t) = 2 sum_k t^(2k+1) I_(2k+1)(h) / (2k+1)!, a sum of
// positive terms: the out-of-the-money time value without cancellation when t is small
// against max(1, |h|).
//
// I_n obeys I_(n+1) = h I_n + n I_(n-1). Upward it is stable for |h| small; for h <= -3 the
// ratios I_n / I_(n-1) = n / (-h + I_(n+1)/I_n) are taken from that continued fraction
// (evaluated downward from a deep start), which is stable because every term is positive.
double series_time_value(double x, double s, double h, double t) noexcept {
  constexpr int kMaxOdd = 41;  // highest I_n used
  const double a = -h;
  const double tt = t * t;
  double sum = 0.0;
  double term_scale = t;  // t^n / n! for the current odd n
  // Upward recurrence where it is stable enough for the terms that matter: its error in I_n
  // grows like a^(2n) / n!, and I_n enters the sum with weight (t/a)^n, so the product stays
  // at the ulp level while a t <= 2 (and for any t when a < 3). Terms are summed as the
  // recurrence produces them, until they no longer change the sum.
  if (a < 3.0 || a * t <= 2.0) {
    double i_prev;
    double i_cur;
    if (a < 2.5) {
      i_prev = mills_y(h);
      i_cur = 1.0 + h * i_prev;  // cancellation costs at most a factor ~9 here
    } else {
      // With c = 1/Y - a (see mills_tail): Y = 1/(a + c) and I_1 = 1 - a Y = c Y, no
      // cancellation.
      const double c = detail::mills_tail(a);
      i_prev = 1.0 / (a + c);
      i_cur = c * i_prev;
    }
    for (int n = 1; n <= kMaxOdd; n += 2) {  // i_cur = I_n, i_prev = I_(n-1)
      const double term = term_scale * i_cur;
      sum += term;
      if (term <= 1e-17 * sum) break;
      term_scale *= tt / ((n + 1.0) * (n + 2.0));
      const double i_next = h * i_cur + n * i_prev;  // I_(n+1)
      i_prev = i_next;
      i_cur = h * i_next + (n + 1.0) * i_cur;  // I_(n+2)
    }
    return 2.0 * kInvSqrt2Pi * gauss_factor(x, s, t) * sum;
  }
  double in[kMaxOdd + 1];
  in[0] = mills_y(h);
  const int deep = a < 10.0 ? 120 : 60;  // reached for a >= 6 only
  double ratio[kMaxOdd + 1];
  double r = 0.5 * (-a + std::sqrt(a * a + 4.0 * (deep + 1)));  // asymptotic I_(m+1)/I_m
  for (int n = deep; n >= 1; --n) {
    r = n / (a + r);
    if (n <= kMaxOdd) ratio[n] = r;
  }
  for (int n = 1; n <= kMaxOdd; ++n) in[n] = in[n - 1] * ratio[n];
  for (int n = 1; n <= kMaxOdd; n += 2) {
    const double term = term_scale * in[n];
    sum += term;
    if (term <= 1e-17 * sum) break;
    term_scale *= tt / ((n + 1.0) * (n + 2.0));
  }
  return 2.0 * kInvSqrt2Pi * gauss_factor(x, s, t) * sum;
}

}  // namespace

// b(x, s) of the out-of-the-money call, x <= 0 (callers pass -|x|).
double normalised_time_value(double x, double s) noexcept {
  x = -std::fabs(x);
  if (!(s > 0.0)) return 0.0;
  const double t = 0.5 * s;
  if (x == 0.0) return std::erf(t * detail::kInvSqrt2Hi);
  const double h = x / s;
  const double a = -h;
  // For a >= 40 the time value is below exp(-(a^2 + t^2)/2)/2 <= exp(-800)/2 (Chernoff bound
  // on N(t - a) with x = -2 a t): it underflows to exactly 0. Also the limit of s -> 0 with
  // x != 0 (a subnormal time or a vol of 1e-160), where a^2 would overflow.
  if (!(a < 40.0)) return 0.0;
  // Cancellation ratio of the two-term forms is about 1 + a/(2t) for large a and 1/t for a
  // small; below these bounds the series is used instead.
  // For 3 <= a < 6 the series is only taken where its cheap upward recurrence is exact
  // (a t <= 2); beyond, the two-term Y form loses at most a factor R = (a^2 + 2)/4 < 10.
  const bool small_t = a < 3.0 ? (t <= 0.15) : a < 6.0 ? (a * t <= 2.0) : (t <= a * 0.125);
  if (small_t) return series_time_value(x, s, h, t);
  if (h + t <= 0.0) {
    return kInvSqrt2Pi * gauss_factor(x, s, t) * (mills_y(h + t) - mills_y(h - t));
  }
  // h + t > 0: the first term is at least e^{x/2}/2, the second is written through Y so that
  // it neither overflows nor underflows.
  return std::exp(0.5 * x) * detail::norm_cdf(h + t) -
         kInvSqrt2Pi * gauss_factor(x, s, t) * mills_y(h - t);
}

double normalised_black(double x, double s, OptionType type) noexcept {
  const double th = sign(type);
  const double tv = normalised_time_value(x, s);
  if (th * x > 0.0) return 2.0 * std::fabs(std::sinh(0.5 * x)) + tv;
  return tv;
}

double normalised_vega(double x, double s) noexcept {
  if (!(s > 0.0)) return x == 0.0 ? kInvSqrt2Pi : 0.0;
  return kInvSqrt2Pi * gauss_factor(x, s, 0.5 * s);
}

namespace {

// Undiscounted Black-76 value: intrinsic F-K (exact) plus the normalised time value.
inline double undiscounted(double f, double k, double x, double s, double th) noexcept {
  const double intrinsic = th * (f - k) > 0.0 ? th * (f - k) : 0.0;
  return intrinsic + std::sqrt(f) * std::sqrt(k) * normalised_time_value(x, s);
}

}  // namespace

double black76_price(double forward, double strike, double time, double vol, double rate,
                     OptionType type) noexcept {
  const double x = detail::log_moneyness(forward, strike);
  const double s = vol * std::sqrt(time);
  return std::exp(-rate * time) * undiscounted(forward, strike, x, s, sign(type));
}

Greeks black76_greeks(double forward, double strike, double time, double vol, double rate,
                      OptionType type) noexcept {
  const double th = sign(type);
  const double f = forward;
  const double k = strike;
  const double x = detail::log_moneyness(f, k);
  const double sqrt_t = std::sqrt(time);
  const double s = vol * sqrt_t;
  const double df = std::exp(-rate * time);
  Greeks g;
  g.price = df * undiscounted(f, k, x, s, th);
  g.rho = -time * g.price;
  if (s > 0.0) {
    const double h = x / s;
    const double t = 0.5 * s;
    const double d1 = h + t;
    const double d2 = h - t;
    // F phi(d1) = sqrt(F K) exp(-(h^2 + t^2)/2) / sqrt(2 pi): no underflow of phi(d1) alone.
    const double f_phi = std::sqrt(f) * std::sqrt(k) * kInvSqrt2Pi * gauss_factor(x, s, t);
    g.delta = df * th * detail::norm_cdf(th * d1);
    g.gamma = df * (f_phi / f) / (f * s);  // f * f alone overflows for f > 1e154
    g.vega = df * f_phi * sqrt_t;
    g.theta = rate * g.price - df * f_phi * vol / (2.0 * sqrt_t);
    // Where phi underflows (far from the money, tiny s) d1 d2 may overflow: 0 x inf.
    g.vanna = f_phi == 0.0 ? 0.0 : -g.vega * d2 / (f * s);
    g.volga = f_phi == 0.0 ? 0.0 : g.vega * d1 * d2 / vol;
  } else {
    const double itm = th * (f - k);
    g.delta = itm > 0.0 ? df * th : (itm < 0.0 ? 0.0 : 0.5 * df * th);
    g.vega = x == 0.0 ? df * f * kInvSqrt2Pi * sqrt_t : 0.0;
    const bool degenerate_atm = x == 0.0 && time == 0.0;
    g.gamma = degenerate_atm ? std::numeric_limits<double>::infinity() : 0.0;
    g.theta = rate * g.price -
              (degenerate_atm && vol > 0.0 ? std::numeric_limits<double>::infinity() : 0.0);
    g.vanna = 0.0;
    g.volga = 0.0;
  }
  g.delta_forward = g.delta;
  return g;
}

double bsm_price(double spot, double strike, double time, double vol, double rate, double carry_q,
                 OptionType type) noexcept {
  const double forward = spot * std::exp((rate - carry_q) * time);
  return black76_price(forward, strike, time, vol, rate, type);
}

Greeks bsm_greeks(double spot, double strike, double time, double vol, double rate, double carry_q,
                  OptionType type) noexcept {
  const double th = sign(type);
  const double growth = std::exp((rate - carry_q) * time);
  const double forward = spot * growth;
  Greeks g = black76_greeks(forward, strike, time, vol, rate, type);
  const double delta_f = g.delta;  // dV/dF
  g.delta_forward = delta_f;
  g.delta = delta_f * growth;  // dV/dS = dV/dF * F/S
  g.gamma *= growth * growth;
  g.vanna *= growth;
  g.theta -= delta_f * forward * (rate - carry_q);  // the forward drifts as T shrinks
  // dV/dr at fixed S, q = T (F dV/dF - V) = theta T DF K N(theta d2), written directly.
  const double s = vol * std::sqrt(time);
  const double df = std::exp(-rate * time);
  double n_d2;
  if (s > 0.0) {
    const double d2 = detail::log_moneyness(forward, strike) / s - 0.5 * s;
    n_d2 = detail::norm_cdf(th * d2);
  } else {
    const double itm = th * (forward - strike);
    n_d2 = itm > 0.0 ? 1.0 : (itm < 0.0 ? 0.0 : 0.5);
  }
  g.rho = th * strike * time * df * n_d2;
  return g;
}

double inverse_price(double forward, double strike, double time, double vol, double rate,
                     OptionType type) noexcept {
  return black76_price(forward, strike, time, vol, rate, type) / forward;
}

Greeks inverse_greeks(double forward, double strike, double time, double vol, double rate,
                      OptionType type) noexcept {
  const Greeks usd = black76_greeks(forward, strike, time, vol, rate, type);
  const double f = forward;
  Greeks g;
  g.price = usd.price / f;
  g.delta = usd.delta - g.price;
  g.delta_forward = usd.delta;
  g.gamma = usd.gamma - g.delta / f;
  g.vega = usd.vega / f;
  g.theta = usd.theta / f;
  g.rho = usd.rho / f;
  g.vanna = usd.vanna - usd.vega / f;
  g.volga = usd.volga / f;
  return g;
}

Status validate_black_inputs(double underlying, double strike, double time, double vol, double rate,
                             double carry_q, std::size_t index) noexcept {
  if (!std::isfinite(underlying)) return Status::invalid("underlying", index, "not finite");
  if (!(underlying > 0.0)) return Status::invalid("underlying", index, "must be > 0");
  if (!std::isfinite(strike)) return Status::invalid("strike", index, "not finite");
  if (!(strike > 0.0)) return Status::invalid("strike", index, "must be > 0");
  if (!std::isfinite(time)) return Status::invalid("time", index, "not finite");
  if (!(time >= 0.0)) return Status::invalid("time", index, "must be >= 0");
  if (!std::isfinite(vol)) return Status::invalid("vol", index, "not finite");
  if (!(vol >= 0.0)) return Status::invalid("vol", index, "must be >= 0");
  if (!std::isfinite(rate)) return Status::invalid("rate", index, "not finite");
  if (!std::isfinite(carry_q)) return Status::invalid("carry", index, "not finite");
  // exp(-r T) and exp((r - q) T) must stay finite and nonzero: beyond |700| they under- or
  // overflow and the price would be 0 x inf. Rates this far out are refused, not priced.
  if (!(std::fabs(rate * time) <= kMaxRateTime)) {
    return Status::invalid("rate", index, "|rate x time| must be <= 700");
  }
  if (!(std::fabs((rate - carry_q) * time) <= kMaxRateTime)) {
    return Status::invalid("carry", index, "|(rate - dividend) x time| must be <= 700");
  }
  return Status::success();
}

}  // namespace pymargin::pricing
