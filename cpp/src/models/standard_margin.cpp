// SPDX-License-Identifier: Apache-2.0
#include "pymargin/models/standard_margin.hpp"

#include <cmath>

namespace pymargin::models {

namespace {

bool nonneg(double x) noexcept { return std::isfinite(x) && x >= 0.0; }
bool positive(double x) noexcept { return std::isfinite(x) && x > 0.0; }

}  // namespace

Status check_standard_position(const StandardPosition& p, std::size_t i) noexcept {
  if (!std::isfinite(p.size)) return Status::invalid("size", i, "not finite");
  if (p.rule == StandardRule::kSizeScaled) {
    if (!(nonneg(p.im_base) && nonneg(p.im_per_unit) && nonneg(p.mm_base) &&
          nonneg(p.mm_per_unit))) {
      return Status::invalid("rates", i, "must be finite and >= 0");
    }
    if (!positive(p.price)) return Status::invalid("price", i, "must be finite and > 0");
    return Status::success();
  }
  if (p.rule != StandardRule::kInverseOption && p.rule != StandardRule::kOption)
    return Status::invalid("rule", i, "unknown rule");
  if (!(nonneg(p.im_otm_base) && nonneg(p.im_floor) && nonneg(p.mm))) {
    return Status::invalid("rates", i, "must be finite and >= 0");
  }
  if (!positive(p.strike)) return Status::invalid("strike", i, "must be finite and > 0");
  if (!positive(p.index)) return Status::invalid("index", i, "must be finite and > 0");
  if (!nonneg(p.mark)) return Status::invalid("mark", i, "must be finite and >= 0");
  if (p.rule == StandardRule::kOption) {
    if (!positive(p.unit)) return Status::invalid("unit", i, "must be finite and > 0");
    if (!nonneg(p.reference)) return Status::invalid("reference", i, "must be finite and >= 0");
    if (!positive(p.tier_factor)) return Status::invalid("tier_factor", i, "must be > 0");
    if (!nonneg(p.liquidation_fee)) return Status::invalid("liquidation_fee", i, "must be >= 0");
    if (!std::isfinite(p.im_premium)) return Status::invalid("im_premium", i, "not finite");
    if (p.mm_floor > 2) return Status::invalid("mm_floor", i, "0, 1 or 2");
  }
  return Status::success();
}

StandardMargin standard_position(const StandardPosition& p) noexcept {
  const double q = std::fabs(p.size);
  StandardMargin m;
  if (p.rule == StandardRule::kSizeScaled) {
    m.initial_margin = q * (p.im_base + p.im_per_unit * q) * p.price;
    m.maintenance_margin = q * (p.mm_base + p.mm_per_unit * q) * p.price;
    return m;
  }
  if (p.size >= 0.0) return m;  // a long option: its premium is paid
  if (p.rule == StandardRule::kOption) {
    const double ref = p.reference > 0.0 ? p.reference : p.index;
    const double otm = p.call ? std::fmax(0.0, p.strike - ref) : std::fmax(0.0, ref - p.strike);
    const double mm = std::fmax(p.mm * p.unit, p.mm * p.mark) * p.tier_factor + p.mark +
                      p.liquidation_fee * p.unit;
    double im = std::fmax(p.im_otm_base - otm / ref, p.im_floor) * p.tier_factor * p.unit +
                (p.im_premium >= 0.0 ? p.im_premium : p.mark);
    if (p.mm_floor == 2 || (p.mm_floor == 1 && !p.call)) im = std::fmax(im, mm);
    m.initial_margin = im * q;
    m.maintenance_margin = mm * q;
    return m;
  }
  const double otm =
      p.call ? std::fmax(0.0, p.strike - p.index) : std::fmax(0.0, p.index - p.strike);
  const double base_im = std::fmax(p.im_otm_base - otm / p.index, p.im_floor) + p.mark;
  double im = base_im;
  double mm = p.mm + p.mark;
  if (!p.call) {
    mm = std::fmax(p.mm, p.mm * p.mark) + p.mark;
    im = std::fmax(base_im, mm);
  }
  m.initial_margin = im * q;
  m.maintenance_margin = mm * q;
  return m;
}

Status standard_margin(const StandardPosition* positions, std::size_t n,
                       StandardMargin* out) noexcept {
  if (n > 0 && (positions == nullptr || out == nullptr)) {
    return Status::bad_argument("positions", "missing");
  }
  for (std::size_t i = 0; i < n; ++i) {
    Status st = check_standard_position(positions[i], i);
    if (!st.ok()) return st;
  }
  for (std::size_t i = 0; i < n; ++i) {
    const StandardMargin m = standard_position(positions[i]);
    if (!(std::isfinite(m.initial_margin) && std::isfinite(m.maintenance_margin))) {
      return Status::invalid("margin", i, "overflows");
    }
  }
  for (std::size_t i = 0; i < n; ++i) out[i] = standard_position(positions[i]);
  return Status::success();
}

}  // namespace pymargin::models
