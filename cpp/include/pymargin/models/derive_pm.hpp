// SPDX-License-Identifier: Apache-2.0
// Derive portfolio margin ("PMRM_2", the venue's on-chain risk manager): one account's
// scenario losses, contingencies, initial and maintenance margin. docs/models/derive_pm.md
// gives the method term by term with its sources; in short:
//
//   each expiry is revalued with Black-76 (discounted at its rate) under every scenario: the
//   variable part of its forward times the spot shock, each option's vol times the expiry's
//   vol-shock multiplier (up: 1 + range_up m, floored at min_vol_up; down: max(0, 1 -
//   range_down m); m = (30 days / max(T, floor))^power, the short-term power up to 30 days) or,
//   for the two skew scenarios, times 1 + a tilt (linear) or smile (abs) in ln(K/F) capped at
//   +-cap; the shocked expiry value is scaled by a static discount (one for a positive value,
//   one, capped at 1/discount, for a negative one) and its P&L against the unshocked mark
//   damped; skew scenarios count every expiry's P&L as a loss. Perpetual P&L uses its mark,
//   risk-cancelling collateral moves with spot.
//   worst = min(0, basis contingency, every scenario P&L); the basis contingency is the
//   worst of the expiries' values at the basis spot moves, times add + mult x T (years).
//   MM requirement = -mm_factor worst + MM contingencies (perpetual and naked-short notional
//   at spot, collateral haircuts); IM requirement = -(im_factor + peg loss) worst + MM and IM
//   contingencies + the oracle-confidence contingencies.
//
// Every input is checked before anything is computed; no allocation, no exception.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "pymargin/error.hpp"

namespace pymargin::models {

enum class DeriveVolShock : std::uint8_t { kNone = 0, kUp = 1, kDown = 2, kLinear = 3, kAbs = 4 };

struct DeriveScenario {
  double spot_shock = 1.0;  // multiplier: 1.18 is +18 %
  DeriveVolShock vol = DeriveVolShock::kNone;
  double dampening = 1.0;
};

struct DeriveParams {
  // vol shock
  double vol_range_up = 0.0, vol_range_down = 0.0, short_term_power = 0.0, long_term_power = 0.0,
         dte_floor_seconds = 0.0, min_vol_up = 0.0;
  // loss factors and static discounts (long: positive expiry values, short: negative ones)
  double im_factor = 1.0, mm_factor = 1.0, short_rate_mult = 0.0, long_rate_mult = 0.0,
         short_rate_add = 0.0, long_rate_add = 0.0, short_static_discount = 1.0,
         long_static_discount = 1.0;
  // basis contingency
  double basis_spot_up = 1.0, basis_spot_down = 1.0, basis_add = 0.0, basis_mult = 0.0;
  // other contingencies (the IM percents are charged on top of the MM ones)
  double peg_loss_threshold = 0.0, peg_loss_factor = 0.0, confidence_threshold = 0.0,
         confidence_margin = 0.0, mm_perp = 0.0, im_perp = 0.0, mm_option = 0.0, im_option = 0.0;
  // skew scenarios
  double linear_cap = 0.0, abs_cap = 0.0, linear_cbase = 0.0, abs_cbase = 0.0, min_k_star = 0.0,
         width_scale = 0.0, vol_param_static = 0.0, vol_param_scale = 0.0;
  const DeriveScenario* scenarios = nullptr;
  std::size_t n_scenarios = 0;
};

struct DeriveExpiry {
  double seconds = 0.0;           // to expiry, >= 0 (whole seconds on the venue)
  double forward_fixed = 0.0;     // the part already fixed by the settlement average
  double forward_variable = 0.0;  // the part that moves with spot
  double rate = 0.0;              // annual, continuously compounded (negative: taken as 0)
  double confidence = 1.0;        // the lowest of its forward, rate and vol feeds, in [0, 1]
  std::size_t first_option = 0;   // options [first_option, end_option) of this expiry
  std::size_t end_option = 0;
};

struct DeriveOption {
  double strike = 0.0, vol = 0.0, amount = 0.0;  // amount signed, in contracts
  bool call = true;
};

struct DeriveCollateral {
  double value = 0.0;       // in the stable coin (amount x price / stable price)
  double confidence = 1.0;  // the lower of its feed's and spot's
  double mm_haircut = 0.0, im_haircut = 0.0;
  bool risk_cancelling = false;
};

struct DerivePortfolio {
  double spot = 0.0, spot_confidence = 1.0, stable_price = 1.0, cash = 0.0;
  double perp_position = 0.0, perp_price = 0.0, perp_confidence = 1.0,
         perp_value = 0.0;  // unrealised P&L + funding of the perpetual
  const DeriveExpiry* expiries = nullptr;
  std::size_t n_expiries = 0;
  const DeriveOption* options = nullptr;  // grouped by expiry, in the venue's stored order
  std::size_t n_options = 0;
  const DeriveCollateral* collaterals = nullptr;
  std::size_t n_collaterals = 0;
};

struct DeriveMargin {
  double initial_margin = 0.0;  // requirements (>= 0 unless a gain exceeds them)
  double maintenance_margin = 0.0;
  double mark_to_market = 0.0;  // cash + perpetual value + options + collateral
  double option_value = 0.0;    // the options' unshocked value
  double collateral_value = 0.0;
  double worst_loss = 0.0;         // min(0, basis contingency, scenario P&Ls), <= 0
  double basis_contingency = 0.0;  // <= 0
  double mm_contingency = 0.0;
  double im_contingency = 0.0;  // charged on top of mm_contingency for IM
  double im_factor = 0.0;       // im_factor + the peg loss
  std::size_t worst = 0;        // the binding scenario; n_scenarios: the basis contingency
};

// One account under `params`; scenario_pnl[n_scenarios] receives each scenario's P&L (the
// venue's getScenarioPnL). On error `out` is not written and the Status names the field and
// row (bad input is refused before anything is computed; a P&L or margin that overflows is
// refused after, scenario_pnl then holding what was computed).
Status derive_pm_margin(const DerivePortfolio& portfolio, const DeriveParams& params,
                        double* scenario_pnl, DeriveMargin* out) noexcept;

// The parameters' fields in their fixed order (pymargin.models.derive_pm._PARAM_ORDER): the
// Python bindings and the pre-trade engine's snapshots read and write them in it.
inline constexpr std::size_t kDeriveParamCount = 34;
std::array<double*, kDeriveParamCount> derive_param_fields(DeriveParams& params) noexcept;

// --- the model's steps, for callers that keep an account's state themselves ----------------
// (the pre-trade engine: each expiry's values are linear in the amounts, so it keeps their
// sums and applies the model's non-linear steps to them; derive_pm_margin is built on these)

// What the model takes of an expiry once: its discount, vol-shock multipliers, static
// discounts (of a positive and a negative value) and sqrt(years).
struct DeriveExpiryTerms {
  double discount = 1.0, vol_up = 1.0, vol_down = 1.0, static_pos = 1.0, static_neg = 1.0,
         sqrt_years = 0.0;
};
DeriveExpiryTerms derive_expiry_terms(const DeriveExpiry& expiry,
                                      const DeriveParams& params) noexcept;

// The parameters and scenarios alone checked, as derive_pm_margin checks them.
Status derive_check_params(const DeriveParams& params) noexcept;
// One expiry checked (row names it), option ranges aside; k* of its skew scenarios included.
Status derive_check_expiry(const DeriveExpiry& expiry, const DeriveParams& params,
                           std::size_t row) noexcept;

// One option's value per contract (its amount ignored) under a scenario of its expiry: the
// forward's variable part times spot_shock and the vol by the state (kUp, kDown, kNone), or,
// for kLinear / kAbs, the skew scenario's vols at the unshocked forward.
double derive_option_value(const DeriveExpiry& expiry, const DeriveExpiryTerms& terms,
                           const DeriveParams& params, const DeriveOption& option,
                           double spot_shock, DeriveVolShock vol) noexcept;

// A scenario's P&L of an expiry whose options are worth `value` under it and `mark`
// unshocked: the value's static discount by its sign, the change damped, a skew scenario's
// counted as a loss.
double derive_expiry_pnl(const DeriveExpiryTerms& terms, const DeriveScenario& scenario,
                         double value, double mark) noexcept;

// An expiry's basis contingency (<= 0) from its values at the basis spot moves.
double derive_basis_contingency(const DeriveParams& params, double seconds, double mark, double up,
                                double down) noexcept;

}  // namespace pymargin::models
