// SPDX-License-Identifier: Apache-2.0
// Implied volatility of European options, by P. Jaeckel's "Let's Be Rational" method
// (Wilmott, January 2015, pp. 40-53; revision of March 2016), implemented here from the paper:
// a four-branch initial guess (rational cubic interpolation of transformed maps) refined by at
// most two Householder steps of order four on a branch-specific objective. Attains the
// precision allowed by the conditioning of the Black function over the whole domain.
#pragma once

#include <cstddef>

#include "pymargin/error.hpp"
#include "pymargin/pricing/batch.hpp"
#include "pymargin/pricing/black.hpp"

namespace pymargin::pricing {

// s = sigma sqrt(T) such that normalised_black(x, s, type) == beta.
// Returns a Status: kNoSolution when beta is below the normalised intrinsic value or at/above
// its supremum e^{theta x / 2}. On success writes *s_out (0 for a zero time value).
Status implied_normalised_vol(double beta, double x, OptionType type, double* s_out,
                              int* iterations = nullptr) noexcept;

// Black-76 implied vol from a discounted price. time must be > 0.
Status black76_implied_vol(double price, double forward, double strike, double time, double rate,
                           OptionType type, double* vol_out) noexcept;

// Vol from a coin price of an inverse option (price_coin * forward = Black-76 USD value).
Status inverse_implied_vol(double price_coin, double forward, double strike, double time,
                           double rate, OptionType type, double* vol_out) noexcept;

// BSM (spot, rate, dividend yield) implied vol.
Status bsm_implied_vol(double price, double spot, double strike, double time, double rate,
                       double carry_q, OptionType type, double* vol_out) noexcept;

// Batch: `price` column plus the market columns of `in` (its vol column is ignored).
// All rows are checked first (inputs and no-arbitrage bounds); a price within rounding of the
// bound, where no vol is determined, is found while solving. Nothing is written on any error.
Status implied_vol_batch(const BatchInputs& in, Column<double> price, double* vol_out,
                         int threads) noexcept;

}  // namespace pymargin::pricing
