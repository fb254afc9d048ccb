// SPDX-License-Identifier: Apache-2.0
#include "pymargin/models/span.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace pymargin::models {

namespace {

// Scenario pairs at the same price move (vol up, vol down), 0-based, CME's order; 14 and 15
// (the extreme moves) have no pair. 0 and 1 (price unchanged) give the time risk.
constexpr int kPairs[7][2] = {{0, 1}, {2, 3}, {4, 5}, {6, 7}, {8, 9}, {10, 11}, {12, 13}};

bool nonneg(double x) noexcept { return std::isfinite(x) && x >= 0.0; }

Status check(const SpanCommodity* c, std::size_t n, const SpanInterSpread* s,
             std::size_t m) noexcept {
  if (n > 0 && c == nullptr) return Status::bad_argument("commodities", "missing");
  if (m > 0 && s == nullptr) return Status::bad_argument("inter_spreads", "missing");
  for (std::size_t k = 0; k < n; ++k) {
    const SpanCommodity& x = c[k];
    if (x.pnl == nullptr) return Status::invalid("pnl", k, "missing");
    for (std::size_t j = 0; j < kSpanScenarios; ++j) {
      if (!std::isfinite(x.pnl[j])) return Status::invalid("pnl", k, "must be finite");
    }
    if (x.tiers == 0 || x.tiers > kSpanMaxTiers || x.tier_delta == nullptr) {
      return Status::invalid("tier_delta", k, "1 to 32 tiers");
    }
    for (std::size_t t = 0; t < x.tiers; ++t) {
      if (!std::isfinite(x.tier_delta[t])) return Status::invalid("tier_delta", k, "not finite");
    }
    if (!nonneg(x.short_options) || !nonneg(x.short_option_minimum)) {
      return Status::invalid("short_option_minimum", k, "must be finite and >= 0");
    }
    if (x.intra_pairs > 0 && (x.intra_tiers == nullptr || x.intra_rates == nullptr)) {
      return Status::invalid("intra_rates", k, "missing");
    }
    for (std::size_t p = 0; p < x.intra_pairs; ++p) {
      const std::int32_t t1 = x.intra_tiers[2 * p];
      const std::int32_t t2 = x.intra_tiers[2 * p + 1];
      if (t1 < 0 || t2 < 0 || static_cast<std::size_t>(t1) >= x.tiers ||
          static_cast<std::size_t>(t2) >= x.tiers || t1 == t2) {
        return Status::invalid("intra_rates", k, "no such tier pair");
      }
      if (!nonneg(x.intra_rates[p])) return Status::invalid("intra_rates", k, "must be >= 0");
    }
  }
  for (std::size_t r = 0; r < m; ++r) {
    const SpanInterSpread& x = s[r];
    if (x.a < 0 || x.b < 0 || static_cast<std::size_t>(x.a) >= n ||
        static_cast<std::size_t>(x.b) >= n || x.a == x.b) {
      return Status::invalid("inter", r, "no such pair of commodities");
    }
    if (!(std::isfinite(x.ratio_a) && x.ratio_a > 0 && std::isfinite(x.ratio_b) && x.ratio_b > 0 &&
          x.rate >= 0 && x.rate <= 1)) {
      return Status::invalid("inter", r, "ratios must be > 0 and the rate in [0, 1]");
    }
  }
  return Status::success();
}

}  // namespace

Status span_requirement(const SpanCommodity* commodities, std::size_t n,
                        const SpanInterSpread* spreads, std::size_t m,
                        SpanRequirement* out) noexcept {
  if (n > 0 && out == nullptr) return Status::bad_argument("out", "missing");
  Status st = check(commodities, n, spreads, m);
  if (!st.ok()) return st;
  for (std::size_t k = 0; k < n; ++k) {
    const SpanCommodity& c = commodities[k];
    SpanRequirement r;
    double worst = -c.pnl[0];
    std::int32_t at = 0;
    for (std::size_t j = 1; j < kSpanScenarios; ++j) {
      if (-c.pnl[j] > worst) {
        worst = -c.pnl[j];
        at = static_cast<std::int32_t>(j);
      }
    }
    r.scan_risk = std::fmax(worst, 0.0);
    r.worst_scenario = at;
    r.time_risk = (-c.pnl[0] - c.pnl[1]) / 2.0;
    double pair_avg = -std::numeric_limits<double>::infinity();
    for (const auto& p : kPairs) pair_avg = std::fmax(pair_avg, (-c.pnl[p[0]] - c.pnl[p[1]]) / 2.0);
    r.price_risk = std::fmax(pair_avg - r.time_risk, 0.0);
    double d[kSpanMaxTiers];
    double net = 0.0;
    for (std::size_t t = 0; t < c.tiers; ++t) {
      d[t] = c.tier_delta[t];
      net += c.tier_delta[t];
    }
    for (std::size_t p = 0; p < c.intra_pairs; ++p) {
      const auto t1 = static_cast<std::size_t>(c.intra_tiers[2 * p]);
      const auto t2 = static_cast<std::size_t>(c.intra_tiers[2 * p + 1]);
      if (!(d[t1] * d[t2] < 0.0)) continue;  // a spread needs opposite signs
      const double q = std::fmin(std::fabs(d[t1]), std::fabs(d[t2]));
      r.intra_charge += q * c.intra_rates[p];
      d[t1] -= std::copysign(q, d[t1]);
      d[t2] -= std::copysign(q, d[t2]);
    }
    r.net_delta = net;
    r.unspread_delta = net;
    r.short_option_minimum = c.short_option_minimum * c.short_options;
    out[k] = r;
  }
  for (std::size_t s = 0; s < m; ++s) {
    const SpanInterSpread& x = spreads[s];
    SpanRequirement& ra = out[x.a];
    SpanRequirement& rb = out[x.b];
    const double da = ra.unspread_delta;
    const double db = rb.unspread_delta;
    if (!(da * db < 0.0)) continue;
    const double q = std::fmin(std::fabs(da) / x.ratio_a, std::fabs(db) / x.ratio_b);
    for (int leg = 0; leg < 2; ++leg) {
      SpanRequirement& r = leg == 0 ? ra : rb;
      const double ratio = leg == 0 ? x.ratio_a : x.ratio_b;
      const double d = leg == 0 ? da : db;
      const double wpr = r.net_delta != 0.0 ? r.price_risk / std::fabs(r.net_delta) : 0.0;
      r.inter_credit += x.rate * q * ratio * wpr;
      r.unspread_delta = d - std::copysign(q * ratio, d);
    }
  }
  for (std::size_t k = 0; k < n; ++k) {
    SpanRequirement& r = out[k];
    r.requirement = std::fmax(
        std::fmax(r.scan_risk + r.intra_charge - r.inter_credit, r.short_option_minimum), 0.0);
    const double v[] = {r.scan_risk, r.price_risk, r.intra_charge, r.inter_credit, r.requirement};
    for (double x : v) {
      if (!std::isfinite(x)) return Status::invalid("requirement", k, "overflows");
    }
  }
  return Status::success();
}

Status scanning_spread(const double* legs, std::size_t n_legs, double gain_allowance,
                       double* values, double* risk) noexcept {
  if (values == nullptr || risk == nullptr || (n_legs > 0 && legs == nullptr))
    return Status::bad_argument("legs", "null input or output");
  if (n_legs < 2) return Status::bad_argument("legs", "a spread has two legs or more");
  if (!(std::isfinite(gain_allowance) && gain_allowance >= 0.0 && gain_allowance <= 1.0))
    return Status::invalid("gain_allowance", 0, "must be in [0, 1]");
  for (std::size_t k = 0; k < n_legs * kSpanScenarios; ++k)
    if (!std::isfinite(legs[k])) return Status::invalid("legs", k / kSpanScenarios, "not finite");
  double worst = 0.0;
  for (std::size_t j = 0; j < kSpanScenarios; ++j) {
    double losses = 0.0, gains = 0.0;
    for (std::size_t i = 0; i < n_legs; ++i) {
      const double x = legs[i * kSpanScenarios + j];
      (x > 0.0 ? losses : gains) += x;
    }
    values[j] = losses + gain_allowance * gains;
    worst = std::max(worst, values[j]);
  }
  *risk = worst;
  return Status::success();
}

}  // namespace pymargin::models
