// SPDX-License-Identifier: Apache-2.0
// Black-76, generalised Black-Scholes-Merton and inverse (coin-settled) European options:
// prices and analytic Greeks for one option. The batch API (batch.hpp) runs the same
// mathematics over arrays.
//
// Conventions (they hold for every function in this header):
//   forward F, spot S, strike K > 0; time T >= 0 in years; vol sigma >= 0 per sqrt(year);
//   r: continuously compounded discount rate; q: continuous dividend yield / carry deduction;
//   DF = exp(-r T). Black-76 value V = DF * [theta (F N(theta d1) - K N(theta d2))],
//   d1,2 = ln(F/K)/(sigma sqrt T) +/- sigma sqrt(T)/2, theta = +1 call, -1 put.
//   BSM is Black-76 on F = S exp((r - q) T).
//   Inverse (Deribit-style, coin-settled): price in coin c = V / F, where V is the Black-76
//   USD value on the forward F (the contract's underlying price).
//
// Greeks, always per 1.00 of the bumped quantity (vega per 1.00 vol = 100 vol points,
// rho per 1.00 = 10,000 bp, theta per year); the Python layer adds per-point and per-day views.
//   delta          dV/dU, U the quoted underlying: F for Black-76, S for BSM.
//                  Inverse: coin delta = F dc/dF = Delta_usd - c (the coin exposure of holding
//                  the option, Deribit's convention).
//   delta_forward  dV/dF: the forward (futures-hedge) delta. Black-76: = delta.
//                  BSM: DF theta N(theta d1) (spot delta is exp(-qT) theta N(theta d1)).
//                  Inverse: the USD forward delta Delta_usd of the USD value V.
//   gamma          d(delta)/dU. Inverse: d(coin delta)/dF = Gamma_usd - (Delta_usd - c)/F.
//   vega           dV/dsigma. Inverse: dc/dsigma = vega_usd / F.
//   theta          -dV/dT with the market (F or S, r, q, sigma) fixed, per year.
//                  Inverse: theta_usd / F (F fixed).
//   rho            dV/dr. Black-76 (F fixed): -T V. BSM (S, q fixed): theta K T DF N(theta d2).
//                  Inverse: rho_usd / F.
//   vanna          d(delta)/dsigma. Inverse: vanna_usd - vega_usd / F.
//   volga          d2V/dsigma2 (vomma). Inverse: volga_usd / F.
//
// Limits: T = 0 or sigma = 0 gives the exact discounted intrinsic value. Greeks then take
// their limits (delta: DF theta 1{ITM}, 0.5 DF theta at the money; gamma 0 away from the
// money and +inf exactly at the money when T = 0; vanna and volga 0).
//
// Accuracy: prices keep full relative precision far out of the money (down to the smallest
// normal doubles) through the normalised Black function below, which never subtracts two
// nearly equal numbers.
//
// Preconditions: the scalar functions assume valid inputs (finite, F, S, K > 0,
// T, sigma >= 0); they are noexcept and do not check. validate_* and the batch API check.
#pragma once

#include <cstdint>

#include "pymargin/error.hpp"

namespace pymargin::pricing {

enum class OptionType : std::int8_t { kPut = -1, kCall = 1 };

inline constexpr double sign(OptionType t) noexcept { return t == OptionType::kCall ? 1.0 : -1.0; }

struct Greeks {
  double price = 0.0;
  double delta = 0.0;
  double delta_forward = 0.0;
  double gamma = 0.0;
  double vega = 0.0;
  double theta = 0.0;
  double rho = 0.0;
  double vanna = 0.0;
  double volga = 0.0;
};

// Standard normal cumulative distribution, accurate to a few ulp over the whole real line.
double norm_cdf(double z) noexcept;

// Normalised Black function b(x, s, theta) = theta [e^{x/2} N(theta(x/s + s/2))
//                                                 - e^{-x/2} N(theta(x/s - s/2))],
// x = ln(F/K), s = sigma sqrt(T) >= 0. Undiscounted price = sqrt(F K) b.
double normalised_black(double x, double s, OptionType type) noexcept;

// Time value of the out-of-the-money option in normalised form: b(-|x|, s, call).
double normalised_time_value(double x, double s) noexcept;

// d b / d s = e^{-(h^2 + t^2)/2} / sqrt(2 pi), h = x/s, t = s/2 (normalised vega).
double normalised_vega(double x, double s) noexcept;

double black76_price(double forward, double strike, double time, double vol, double rate,
                     OptionType type) noexcept;
Greeks black76_greeks(double forward, double strike, double time, double vol, double rate,
                      OptionType type) noexcept;

double bsm_price(double spot, double strike, double time, double vol, double rate, double carry_q,
                 OptionType type) noexcept;
Greeks bsm_greeks(double spot, double strike, double time, double vol, double rate, double carry_q,
                  OptionType type) noexcept;

double inverse_price(double forward, double strike, double time, double vol, double rate,
                     OptionType type) noexcept;
Greeks inverse_greeks(double forward, double strike, double time, double vol, double rate,
                      OptionType type) noexcept;

// Largest |rate x time| (and |(rate - dividend) x time|) accepted: the discount and growth
// factors exp(+-700) stay finite and normal.
inline constexpr double kMaxRateTime = 700.0;

// Input checks shared by the scalar and batch entry points. `index` is echoed in the status.
Status validate_black_inputs(double underlying, double strike, double time, double vol, double rate,
                             double carry_q, std::size_t index) noexcept;

}  // namespace pymargin::pricing
