// SPDX-License-Identifier: Apache-2.0
// Derive portfolio margin (PMRM_2). See pymargin/models/derive_pm.hpp and
// docs/models/derive_pm.md.
#include "pymargin/models/derive_pm.hpp"

#include <algorithm>
#include <cmath>

#include "pymargin/pricing/black.hpp"

namespace pymargin::models {
namespace {

constexpr double kYear = 31'536'000.0;       // the venue's year: 365 days of seconds
constexpr double kThirtyDays = 2'592'000.0;  // the vol shock's reference tenor
constexpr double kWei = 1e-18;               // the venue's smallest fixed-point step

bool finite(double x) noexcept { return std::isfinite(x); }
bool unit(double x) noexcept { return finite(x) && x >= 0.0 && x <= 1.0; }

// The venue's Black-76 call and put, discounted by d, for t_sec seconds to expiry: the
// undiscounted call in units of F floored at 0, the put from parity floored at 0, each capped
// (call at F d, put at K d); a zero total vol is one fixed-point step (intrinsic value).
struct CallPut {
  double call, put;
};
CallPut black76(double t_sec, double vol, double f, double k, double d) noexcept {
  const double fd = f * d, kd = k * d;
  if (k == 0.0) return {fd, 0.0};
  if (f == 0.0) return {0.0, kd};
  const double m = k / f;
  double total = vol * std::sqrt(t_sec / kYear);
  double c = 1.0;
  if (total < 24.0) {
    if (total == 0.0) total = kWei;
    const double d1 = (0.5 * total * total - std::log(m)) / total;
    const double d2 = d1 - total;
    c = std::max(pricing::norm_cdf(d1) - m * pricing::norm_cdf(d2), 0.0);
  }
  const double p = std::max(c + m - 1.0, 0.0);
  return {std::min(c * fd, fd), std::min(p * fd, kd)};
}

double confidence_charge(const DeriveParams& q, double confidence, double notional) noexcept {
  return confidence < q.confidence_threshold ? (1.0 - confidence) * q.confidence_margin * notional
                                             : 0.0;
}

}  // namespace

std::array<double*, kDeriveParamCount> derive_param_fields(DeriveParams& q) noexcept {
  return {&q.vol_range_up,
          &q.vol_range_down,
          &q.short_term_power,
          &q.long_term_power,
          &q.dte_floor_seconds,
          &q.min_vol_up,
          &q.im_factor,
          &q.mm_factor,
          &q.short_rate_mult,
          &q.long_rate_mult,
          &q.short_rate_add,
          &q.long_rate_add,
          &q.short_static_discount,
          &q.long_static_discount,
          &q.basis_spot_up,
          &q.basis_spot_down,
          &q.basis_add,
          &q.basis_mult,
          &q.peg_loss_threshold,
          &q.peg_loss_factor,
          &q.confidence_threshold,
          &q.confidence_margin,
          &q.mm_perp,
          &q.im_perp,
          &q.mm_option,
          &q.im_option,
          &q.linear_cap,
          &q.abs_cap,
          &q.linear_cbase,
          &q.abs_cbase,
          &q.min_k_star,
          &q.width_scale,
          &q.vol_param_static,
          &q.vol_param_scale};
}

DeriveExpiryTerms derive_expiry_terms(const DeriveExpiry& e, const DeriveParams& q) noexcept {
  const double rate = std::max(e.rate, 0.0);
  const double years = e.seconds / kYear;
  DeriveExpiryTerms t{};
  t.discount = std::exp(-rate * years);
  const double x = kThirtyDays / std::max(e.seconds, q.dte_floor_seconds);
  const double m = std::pow(x, e.seconds <= kThirtyDays ? q.short_term_power : q.long_term_power);
  t.vol_up = 1.0 + q.vol_range_up * m;
  t.vol_down = std::max(0.0, 1.0 - q.vol_range_down * m);
  t.static_pos =
      q.long_static_discount * std::exp(-years * (rate * q.long_rate_mult + q.long_rate_add));
  t.static_neg = std::min(
      1.0 / t.discount,
      q.short_static_discount / std::exp(-years * (rate * q.short_rate_mult + q.short_rate_add)));
  t.sqrt_years = std::sqrt(years);
  return t;
}

// An option under a regular vol state (at a spot shock) or a skew scenario: each vol times
// 1 + a tilt (linear) or smile (abs) in ln(K/F), saturating at +-cap beyond k*; the forward
// unshocked.
double derive_option_value(const DeriveExpiry& e, const DeriveExpiryTerms& t, const DeriveParams& q,
                           const DeriveOption& o, double shock, DeriveVolShock vol) noexcept {
  if (vol == DeriveVolShock::kLinear || vol == DeriveVolShock::kAbs) {
    const bool linear = vol == DeriveVolShock::kLinear;
    const double f = e.forward_variable + e.forward_fixed;
    const double cap = linear ? q.linear_cbase * t.sqrt_years + q.linear_cap
                              : q.abs_cbase * t.sqrt_years + q.abs_cap;
    const double vol_param = q.vol_param_static + t.sqrt_years * q.vol_param_scale;
    const double k_star = std::max(q.min_k_star, t.sqrt_years * q.width_scale * vol_param);
    double k = std::log(o.strike / f);
    if (!linear) k = std::fabs(k);
    const double tilt = k * cap / k_star;
    const double mult = 1.0 + (k >= 0.0 ? std::min(cap, tilt) : std::max(-cap, tilt));
    const CallPut v = black76(e.seconds, o.vol * std::max(mult, 0.0), f, o.strike, t.discount);
    return o.call ? v.call : v.put;
  }
  const double f = e.forward_variable * shock + e.forward_fixed;
  const double mult = vol == DeriveVolShock::kUp     ? t.vol_up
                      : vol == DeriveVolShock::kDown ? t.vol_down
                                                     : 1.0;
  const double floor = vol == DeriveVolShock::kUp ? q.min_vol_up : 0.0;
  const CallPut v = black76(e.seconds, std::max(floor, o.vol * mult), f, o.strike, t.discount);
  return o.call ? v.call : v.put;
}

double derive_expiry_pnl(const DeriveExpiryTerms& t, const DeriveScenario& sc, double v,
                         double mark) noexcept {
  const bool skew = sc.vol == DeriveVolShock::kLinear || sc.vol == DeriveVolShock::kAbs;
  v *= v >= 0.0 ? t.static_pos : t.static_neg;
  const double pnl = (v - mark) * sc.dampening;
  return skew ? -std::fabs(pnl) : pnl;
}

double derive_basis_contingency(const DeriveParams& q, double seconds, double mark, double up,
                                double down) noexcept {
  return std::min({up - mark, down - mark, 0.0}) * (q.basis_add + q.basis_mult * seconds / kYear);
}

namespace {

// The expiry's options valued under a scenario (the sum of their values times amounts).
double expiry_value(const DerivePortfolio& p, const DeriveExpiry& e, const DeriveExpiryTerms& t,
                    const DeriveParams& q, double shock, DeriveVolShock vol) noexcept {
  double total = 0.0;
  for (std::size_t i = e.first_option; i < e.end_option; ++i) {
    const DeriveOption& o = p.options[i];
    total += derive_option_value(e, t, q, o, shock, vol) * o.amount;
  }
  return total;
}

// Short contracts not offset by a long at the same strike (calls and puts alike): per strike
// max(0, -the net amount). On the venue's own books (one call and one put at most per strike,
// no zero amounts) this is its pairing of the first option of a strike with the later ones,
// to the bit; a book given with a zero amount, or an instrument twice, is netted first (the
// pairing would let a zero or a repeated long cancel a short).
double naked_shorts(const DerivePortfolio& p, const DeriveExpiry& e) noexcept {
  double naked = 0.0;
  for (std::size_t i = e.first_option; i < e.end_option; ++i) {
    const double strike = p.options[i].strike;
    bool earlier = false;
    for (std::size_t j = e.first_option; j < i && !earlier; ++j)
      earlier = p.options[j].strike == strike;
    if (earlier) continue;
    double net = p.options[i].amount;
    for (std::size_t j = i + 1; j < e.end_option; ++j)
      if (p.options[j].strike == strike) net += p.options[j].amount;
    naked += std::max(0.0, -net);
  }
  return naked;
}

}  // namespace

Status derive_check_params(const DeriveParams& q) noexcept {
  const double numbers[] = {q.vol_range_up,
                            q.vol_range_down,
                            q.short_term_power,
                            q.long_term_power,
                            q.min_vol_up,
                            q.im_factor,
                            q.mm_factor,
                            q.short_rate_mult,
                            q.long_rate_mult,
                            q.short_rate_add,
                            q.long_rate_add,
                            q.short_static_discount,
                            q.long_static_discount,
                            q.basis_spot_up,
                            q.basis_spot_down,
                            q.basis_add,
                            q.basis_mult,
                            q.peg_loss_threshold,
                            q.peg_loss_factor,
                            q.confidence_margin,
                            q.mm_perp,
                            q.im_perp,
                            q.mm_option,
                            q.im_option,
                            q.linear_cap,
                            q.abs_cap,
                            q.linear_cbase,
                            q.abs_cbase,
                            q.min_k_star,
                            q.width_scale,
                            q.vol_param_static,
                            q.vol_param_scale};
  for (std::size_t i = 0; i < sizeof numbers / sizeof numbers[0]; ++i)
    if (!finite(numbers[i])) return Status::invalid("params", i, "every parameter must be finite");
  if (!(finite(q.dte_floor_seconds) && q.dte_floor_seconds >= 0.0))
    return Status::invalid("dte_floor", 0, "must be finite and >= 0");
  if (!unit(q.confidence_threshold))
    return Status::invalid("confidence_threshold", 0, "must be in [0, 1]");
  if (q.scenarios == nullptr || q.n_scenarios == 0)
    return Status::bad_argument("scenarios", "at least one scenario");
  for (std::size_t i = 0; i < q.n_scenarios; ++i) {
    const DeriveScenario& s = q.scenarios[i];
    if (!(finite(s.spot_shock) && s.spot_shock >= 0.0))
      return Status::invalid("scenarios.spot_shock", i, "must be finite and >= 0");
    if (!finite(s.dampening)) return Status::invalid("scenarios.dampening", i, "must be finite");
    if (static_cast<std::uint8_t>(s.vol) > 4)
      return Status::invalid("scenarios.vol", i, "none, up, down, linear or abs");
    if ((s.vol == DeriveVolShock::kLinear || s.vol == DeriveVolShock::kAbs) && s.spot_shock != 1.0)
      return Status::invalid("scenarios.spot_shock", i, "a skew scenario has no spot shock");
  }
  return Status::success();
}

Status derive_check_expiry(const DeriveExpiry& e, const DeriveParams& q, std::size_t i) noexcept {
  if (!(finite(e.seconds) && e.seconds >= 0.0))
    return Status::invalid("expiries.seconds", i, "must be finite and >= 0");
  if (e.seconds == 0.0 && q.dte_floor_seconds == 0.0)
    return Status::invalid("expiries.seconds", i, "at expiry the DTE floor must be > 0");
  const double f = e.forward_fixed + e.forward_variable;
  if (!(finite(e.forward_fixed) && finite(e.forward_variable) && e.forward_fixed >= 0.0 &&
        e.forward_variable >= 0.0 && f > 0.0))
    return Status::invalid("expiries.forward", i, "portions must be finite, >= 0, sum > 0");
  if (!finite(e.rate)) return Status::invalid("expiries.rate", i, "must be finite");
  if (!unit(e.confidence)) return Status::invalid("expiries.confidence", i, "must be in [0, 1]");
  // the skew multiplier divides by k*: a zero k* (min_k_star = 0 with a zero width or vol
  // parameter) is refused, as the venue's arithmetic would revert
  const double sq = std::sqrt(e.seconds / kYear);
  const double k_star =
      std::max(q.min_k_star, sq * q.width_scale * (q.vol_param_static + sq * q.vol_param_scale));
  if (!(k_star > 0.0)) return Status::invalid("min_k_star", i, "k* of this expiry is not > 0");
  return Status::success();
}

namespace {

Status check(const DerivePortfolio& p, const DeriveParams& q) noexcept {
  const Status params_ok = derive_check_params(q);
  if (!params_ok.ok()) return params_ok;
  if (!(finite(p.spot) && p.spot > 0.0))
    return Status::invalid("spot", 0, "must be finite and > 0");
  if (!unit(p.spot_confidence)) return Status::invalid("spot_confidence", 0, "must be in [0, 1]");
  if (!(finite(p.stable_price) && p.stable_price > 0.0))
    return Status::invalid("stable_price", 0, "must be finite and > 0");
  if (!finite(p.cash)) return Status::invalid("cash", 0, "must be finite");
  if (!finite(p.perp_position) || !finite(p.perp_value))
    return Status::invalid("perp", 0, "position and value must be finite");
  if (p.perp_position != 0.0 && !(finite(p.perp_price) && p.perp_price > 0.0))
    return Status::invalid("perp_price", 0, "must be finite and > 0");
  if (p.perp_position != 0.0 && !unit(p.perp_confidence))
    return Status::invalid("perp_confidence", 0, "must be in [0, 1]");
  if ((p.n_expiries > 0 && p.expiries == nullptr) || (p.n_options > 0 && p.options == nullptr) ||
      (p.n_collaterals > 0 && p.collaterals == nullptr))
    return Status::bad_argument("portfolio", "null column");
  std::size_t next = 0;
  for (std::size_t i = 0; i < p.n_expiries; ++i) {
    const DeriveExpiry& e = p.expiries[i];
    if (e.first_option != next || e.end_option < e.first_option || e.end_option > p.n_options)
      return Status::invalid("expiries", i, "option ranges must cover the options in order");
    next = e.end_option;
    const Status expiry_ok = derive_check_expiry(e, q, i);
    if (!expiry_ok.ok()) return expiry_ok;
  }
  if (next != p.n_options)
    return Status::bad_argument("expiries", "option ranges must cover every option");
  for (std::size_t i = 0; i < p.n_options; ++i) {
    const DeriveOption& o = p.options[i];
    if (!(finite(o.strike) && o.strike > 0.0))
      return Status::invalid("options.strike", i, "must be finite and > 0");
    if (!(finite(o.vol) && o.vol >= 0.0))
      return Status::invalid("options.vol", i, "must be finite and >= 0");
    if (!finite(o.amount)) return Status::invalid("options.amount", i, "must be finite");
  }
  for (std::size_t i = 0; i < p.n_collaterals; ++i) {
    const DeriveCollateral& c = p.collaterals[i];
    if (!finite(c.value)) return Status::invalid("collaterals.value", i, "must be finite");
    if (!unit(c.confidence)) return Status::invalid("collaterals.confidence", i, "in [0, 1]");
    if (!unit(c.mm_haircut) || !unit(c.im_haircut))
      return Status::invalid("collaterals.haircut", i, "must be in [0, 1]");
  }
  return Status::success();
}

}  // namespace

Status derive_pm_margin(const DerivePortfolio& p, const DeriveParams& q, double* scenario_pnl,
                        DeriveMargin* out) noexcept {
  if (scenario_pnl == nullptr || out == nullptr) return Status::bad_argument("out", "null output");
  const Status st = check(p, q);
  if (!st.ok()) return st;
  const std::size_t ns = q.n_scenarios;
  for (std::size_t s = 0; s < ns; ++s) scenario_pnl[s] = 0.0;
  DeriveMargin r{};
  double min_confidence = p.spot_confidence;
  if (p.perp_position != 0.0) min_confidence = std::min(min_confidence, p.perp_confidence);
  r.mark_to_market = p.perp_position != 0.0 ? p.perp_value : 0.0;
  const double perp_notional = std::fabs(p.perp_position) * p.spot;
  r.mm_contingency = perp_notional * q.mm_perp;
  r.im_contingency =
      perp_notional * q.im_perp + confidence_charge(q, min_confidence, perp_notional);
  if (p.perp_position != 0.0)
    for (std::size_t s = 0; s < ns; ++s) {
      const DeriveScenario& sc = q.scenarios[s];
      scenario_pnl[s] += p.perp_position * (sc.spot_shock - 1.0) * p.perp_price * sc.dampening;
    }
  for (std::size_t i = 0; i < p.n_expiries; ++i) {
    const DeriveExpiry& e = p.expiries[i];
    const DeriveExpiryTerms t = derive_expiry_terms(e, q);
    const double mtm = expiry_value(p, e, t, q, 1.0, DeriveVolShock::kNone);
    r.option_value += mtm;
    const double up = expiry_value(p, e, t, q, q.basis_spot_up, DeriveVolShock::kNone);
    const double down = expiry_value(p, e, t, q, q.basis_spot_down, DeriveVolShock::kNone);
    r.basis_contingency += derive_basis_contingency(q, e.seconds, mtm, up, down);
    const double short_notional = naked_shorts(p, e) * p.spot;
    r.mm_contingency += short_notional * q.mm_option;
    r.im_contingency += short_notional * q.im_option;
    double gross = 0.0;
    for (std::size_t o = e.first_option; o < e.end_option; ++o)
      gross += std::fabs(p.options[o].amount);
    r.im_contingency +=
        confidence_charge(q, std::min(min_confidence, e.confidence), gross * p.spot);
    for (std::size_t s = 0; s < ns; ++s) {
      const DeriveScenario& sc = q.scenarios[s];
      const double v = sc.spot_shock == 1.0 && sc.vol == DeriveVolShock::kNone
                           ? mtm
                           : expiry_value(p, e, t, q, sc.spot_shock, sc.vol);
      scenario_pnl[s] += derive_expiry_pnl(t, sc, v, mtm);
    }
  }
  for (std::size_t i = 0; i < p.n_collaterals; ++i) {
    const DeriveCollateral& c = p.collaterals[i];
    r.collateral_value += c.value;
    r.mm_contingency += c.value * c.mm_haircut;
    r.im_contingency += c.value * c.im_haircut +
                        confidence_charge(q, std::min(c.confidence, p.spot_confidence), c.value);
    if (c.risk_cancelling)
      for (std::size_t s = 0; s < ns; ++s) {
        const DeriveScenario& sc = q.scenarios[s];
        scenario_pnl[s] += c.value * (sc.spot_shock - 1.0) * sc.dampening;
      }
  }
  r.mark_to_market += r.option_value + r.collateral_value + p.cash;
  r.worst_loss = r.basis_contingency;
  r.worst = ns;
  bool finite_pnl = std::isfinite(r.basis_contingency);
  for (std::size_t s = 0; s < ns; ++s) {
    finite_pnl = finite_pnl && std::isfinite(scenario_pnl[s]);
    if (scenario_pnl[s] < r.worst_loss) {
      r.worst_loss = scenario_pnl[s];
      r.worst = s;
    }
  }
  r.im_factor = q.im_factor;
  if (p.stable_price < q.peg_loss_threshold)
    r.im_factor += (q.peg_loss_threshold - p.stable_price) * q.peg_loss_factor;
  r.maintenance_margin = -q.mm_factor * r.worst_loss + r.mm_contingency;
  r.initial_margin = -r.im_factor * r.worst_loss + r.mm_contingency + r.im_contingency;
  // a P&L that overflowed (an infinite value damped by 0 is NaN, which the minimum above
  // would pass over) or a margin that did: refused, never a finite number without it
  if (!(finite_pnl && std::isfinite(r.initial_margin) && std::isfinite(r.maintenance_margin) &&
        std::isfinite(r.mark_to_market)))
    return Status::invalid("portfolio", 0, "a scenario's P&L or the margin is not finite");
  *out = r;
  return Status::success();
}

}  // namespace pymargin::models
