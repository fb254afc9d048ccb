// SPDX-License-Identifier: Apache-2.0
// Strategy-based (Reg T / Cboe) margin. See pymargin/models/strategy_margin.hpp.
#include "pymargin/models/strategy_margin.hpp"

#include <algorithm>
#include <cmath>

namespace pymargin::models {
namespace {

bool finite(double x) noexcept { return std::isfinite(x); }

double intrinsic(const StrategyLeg& o, double s) noexcept {
  return o.call ? std::max(s - o.strike, 0.0) : std::max(o.strike - s, 0.0);
}

// One contract's naked requirement (per unit of the underlying; times the multiplier below).
double naked_unit(const StrategyLeg& o, const StrategyRates& r) noexcept {
  const double otm = o.call ? std::max(o.strike - o.underlying, 0.0)
                            : std::max(o.underlying - o.strike, 0.0);
  return o.price + std::max(r.rate * o.underlying - otm,
                            r.minimum * (o.call ? o.underlying : o.strike));
}

double naked(const StrategyLeg& o, const StrategyRates& r) noexcept {
  return naked_unit(o, r) * o.multiplier * std::fabs(o.quantity);
}

// A long option's initial and maintenance requirement.
StrategyRequirement long_option(const StrategyLeg& o, const StrategyRates& r) noexcept {
  const double n = o.quantity * o.multiplier;
  if (!(r.long_marginable && o.months > r.long_months)) return {o.price * n, o.price * n, 0.0};
  if (o.otc) {
    const double iv = intrinsic(o, o.underlying);
    return {(r.long_fraction * iv + (o.price - iv)) * n, r.long_fraction * iv * n, 0.0};
  }
  return {r.long_fraction * o.price * n, r.long_fraction * o.price * n, 0.0};
}

double short_stock_maintenance(double shares, double price, const StrategyRates& r) noexcept {
  const double value = shares * price;
  const double extra = price < 5.0 ? std::max(2.5 * shares, value)
                                   : std::max(5.0 * shares, r.short_stock_maintenance * value);
  return value + extra;
}

// The legs of a kind, picked by role whatever their order.
struct Roles {
  const StrategyLeg* stock = nullptr;
  const StrategyLeg* long_call = nullptr;
  const StrategyLeg* short_call = nullptr;
  const StrategyLeg* long_put = nullptr;
  const StrategyLeg* short_put = nullptr;
  bool duplicate = false;
};

Roles roles(const StrategyLeg* legs, std::size_t n) noexcept {
  Roles x;
  for (std::size_t i = 0; i < n; ++i) {
    const StrategyLeg& l = legs[i];
    const StrategyLeg** slot = l.stock          ? &x.stock
                               : l.call         ? (l.quantity > 0 ? &x.long_call : &x.short_call)
                               : l.quantity > 0 ? &x.long_put
                                                : &x.short_put;
    if (*slot != nullptr) x.duplicate = true;
    *slot = &l;
  }
  return x;
}

Status check_leg(const StrategyLeg& l, std::size_t i) noexcept {
  if (!(finite(l.quantity) && l.quantity != 0.0))
    return Status::invalid("quantity", i, "must be finite and not 0");
  if (!(finite(l.price) && l.price >= 0.0))
    return Status::invalid("price", i, "must be finite and >= 0");
  if (!(finite(l.underlying) && l.underlying > 0.0))
    return Status::invalid("underlying", i, "must be finite and > 0");
  if (l.stock) return Status::success();
  if (!(finite(l.strike) && l.strike > 0.0))
    return Status::invalid("strike", i, "must be finite and > 0");
  if (!(finite(l.multiplier) && l.multiplier > 0.0))
    return Status::invalid("multiplier", i, "must be finite and > 0");
  if (!(finite(l.months) && l.months >= 0.0))
    return Status::invalid("months", i, "must be finite and >= 0");
  return Status::success();
}

Status check_rates(const StrategyRates& r) noexcept {
  const double f[] = {r.rate, r.minimum, r.long_fraction, r.stock_initial, r.stock_maintenance,
                      r.short_stock_maintenance, r.hedge_fraction};
  for (std::size_t i = 0; i < sizeof f / sizeof f[0]; ++i)
    if (!(finite(f[i]) && f[i] >= 0.0 && f[i] <= 10.0))
      return Status::invalid("rates", i, "every rate must be finite and in [0, 10]");
  if (!(finite(r.long_months) && r.long_months >= 0.0))
    return Status::invalid("rates.long_months", 0, "must be finite and >= 0");
  return Status::success();
}

// The shares a hedge needs: one contract's multiplier per contract.
bool covers(const StrategyLeg& stock, const StrategyLeg& o) noexcept {
  return std::fabs(std::fabs(stock.quantity) - std::fabs(o.quantity) * o.multiplier) <=
         1e-9 * std::fabs(stock.quantity);
}

Status spread(const StrategyLeg* legs, std::size_t n, const StrategyRates& r,
              StrategyRequirement* out) noexcept {
  if (n < 2) return Status::bad_argument("legs", "a spread has two legs or more");
  double net_calls = 0.0, net_puts = 0.0;
  double naked_sum = 0.0, longs = 0.0, proceeds = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    const StrategyLeg& l = legs[i];
    if (l.stock) return Status::invalid("stock", i, "a spread is made of options");
    if (l.underlying != legs[0].underlying || l.multiplier != legs[0].multiplier)
      return Status::invalid("underlying", i, "a spread's legs share an underlying");
    (l.call ? net_calls : net_puts) += l.quantity;
    if (l.quantity > 0) {
      longs += l.price * l.quantity * l.multiplier;
    } else {
      naked_sum += naked(l, r);
      proceeds -= l.price * l.quantity * l.multiplier;
    }
  }
  if (std::fabs(net_calls) > 1e-9 || std::fabs(net_puts) > 1e-9)
    return Status::invalid("quantity", 0, "each option type long and short in equal number");
  // every short paired with a long of its type expiring with it or later: for each short's
  // expiry t, the longs expiring at t or later must be at least the shorts expiring then
  for (std::size_t k = 0; k < n; ++k) {
    if (legs[k].quantity > 0) continue;
    double covered = 0.0;
    for (std::size_t i = 0; i < n; ++i)
      if (legs[i].call == legs[k].call && legs[i].months >= legs[k].months)
        covered += legs[i].quantity;
    if (covered < -1e-9)
      return Status::invalid("months", k, "a short leg outlives the longs: not a spread");
  }
  // the maximum potential loss: the legs' intrinsic values netted at each strike
  double worst = 0.0;
  for (std::size_t k = 0; k < n; ++k) {
    double value = 0.0;
    for (std::size_t i = 0; i < n; ++i)
      value += legs[i].quantity * legs[i].multiplier * intrinsic(legs[i], legs[k].strike);
    worst = std::min(worst, value);
  }
  const double req = std::min(naked_sum, -worst) + longs;
  *out = {req, req, proceeds};
  return Status::success();
}

}  // namespace

Status strategy_requirement(StrategyKind kind, const StrategyLeg* legs, std::size_t n,
                            const StrategyRates& r, StrategyRequirement* out) noexcept {
  if (out == nullptr || (n > 0 && legs == nullptr))
    return Status::bad_argument("legs", "null input or output");
  if (static_cast<std::uint8_t>(kind) >= kStrategyKinds)
    return Status::invalid("kind", 0, "not a strategy kind");
  Status st = check_rates(r);
  if (!st.ok()) return st;
  for (std::size_t i = 0; i < n; ++i)
    if (!(st = check_leg(legs[i], i)).ok()) return st;
  if (kind == StrategyKind::kSpread) return spread(legs, n, r, out);
  const Roles x = roles(legs, n);
  if (x.duplicate) return Status::bad_argument("legs", "two legs in one role");
  const auto want = [&](bool stock, bool lc, bool sc, bool lp, bool sp, bool long_stock) {
    return (x.stock != nullptr) == stock && (x.long_call != nullptr) == lc &&
           (x.short_call != nullptr) == sc && (x.long_put != nullptr) == lp &&
           (x.short_put != nullptr) == sp &&
           (!stock || (x.stock->quantity > 0) == long_stock);
  };
  const auto refuse = [] { return Status::bad_argument("legs", "not the legs of this strategy"); };
  const auto hedged = [&](const StrategyLeg* a, const StrategyLeg* b) {
    return covers(*x.stock, *a) && (b == nullptr || covers(*x.stock, *b));
  };
  StrategyRequirement q{};
  switch (kind) {
    case StrategyKind::kLongOption: {
      if (n != 1 || legs[0].stock || legs[0].quantity < 0) return refuse();
      q = long_option(legs[0], r);
      break;
    }
    case StrategyKind::kNakedShort: {
      if (n != 1 || legs[0].stock || legs[0].quantity > 0) return refuse();
      const double req = naked(legs[0], r);
      q = {req, req, -legs[0].price * legs[0].quantity * legs[0].multiplier};
      break;
    }
    case StrategyKind::kShortStraddle: {
      if (!want(false, false, true, false, true, false)) return refuse();
      const StrategyLeg &c = *x.short_call, &p = *x.short_put;
      if (c.quantity != p.quantity || c.multiplier != p.multiplier || c.underlying != p.underlying)
        return Status::invalid("quantity", 0, "a straddle pairs equal calls and puts");
      const double nc = naked(c, r), np = naked(p, r);
      const double other = (nc >= np ? p.price : c.price) * c.multiplier * std::fabs(c.quantity);
      const double req = std::max(nc, np) + other;
      q = {req, req, (c.price + p.price) * c.multiplier * std::fabs(c.quantity)};
      break;
    }
    case StrategyKind::kLongStock:
    case StrategyKind::kShortStock: {
      if (n != 1 || !legs[0].stock || (legs[0].quantity > 0) != (kind == StrategyKind::kLongStock))
        return refuse();
      const double sh = std::fabs(legs[0].quantity), s = legs[0].price;
      q = kind == StrategyKind::kLongStock
              ? StrategyRequirement{r.stock_initial * sh * s, r.stock_maintenance * sh * s, 0.0}
              : StrategyRequirement{(1.0 + r.stock_initial) * sh * s,
                                    short_stock_maintenance(sh, s, r), sh * s};
      break;
    }
    case StrategyKind::kCoveredCall: {
      if (!want(true, false, true, false, false, true) || !hedged(x.short_call, nullptr))
        return refuse();
      const double sh = x.stock->quantity, s = x.stock->price;
      q = {r.stock_initial * sh * s, r.stock_maintenance * sh * std::min(s, x.short_call->strike),
           x.short_call->price * x.short_call->multiplier * -x.short_call->quantity};
      break;
    }
    case StrategyKind::kCoveredPut: {
      if (!want(true, false, false, false, true, false) || !hedged(x.short_put, nullptr))
        return refuse();
      const double sh = -x.stock->quantity, s = x.stock->price, k = x.short_put->strike;
      q = {(1.0 + r.stock_initial) * sh * s,
           short_stock_maintenance(sh, s, r) + std::max(k - s, 0.0) * sh,
           sh * s + x.short_put->price * x.short_put->multiplier * -x.short_put->quantity};
      break;
    }
    case StrategyKind::kProtectivePut:
    case StrategyKind::kCollar:
    case StrategyKind::kConversion: {
      const bool with_call = kind != StrategyKind::kProtectivePut;
      if (!want(true, false, with_call, true, false, true) ||
          !hedged(x.long_put, with_call ? x.short_call : nullptr))
        return refuse();
      const StrategyLeg& p = *x.long_put;
      if (kind == StrategyKind::kConversion && p.strike != x.short_call->strike)
        return Status::invalid("strike", 0, "a conversion's put and call share a strike");
      const double sh = x.stock->quantity, s = x.stock->price;
      const double initial = p.price * p.multiplier * p.quantity + r.stock_initial * sh * s;
      const double hedge = (r.hedge_fraction * p.strike + std::max(s - p.strike, 0.0)) * sh;
      const double mm = kind == StrategyKind::kConversion ? r.hedge_fraction * p.strike * sh
                        : kind == StrategyKind::kCollar
                            ? std::min(hedge, r.stock_maintenance * x.short_call->strike * sh)
                            : std::min(hedge, r.stock_maintenance * s * sh);
      const double proceeds =
          with_call ? x.short_call->price * x.short_call->multiplier * -x.short_call->quantity
                    : 0.0;
      q = {initial, mm, proceeds};
      break;
    }
    case StrategyKind::kReverseConversion:
    case StrategyKind::kLongCallShortStock: {
      const bool with_put = kind == StrategyKind::kReverseConversion;
      if (!want(true, true, false, false, with_put, false) ||
          !hedged(x.long_call, with_put ? x.short_put : nullptr))
        return refuse();
      const StrategyLeg& c = *x.long_call;
      if (with_put && c.strike != x.short_put->strike)
        return Status::invalid("strike", 0, "a reverse conversion's call and put share a strike");
      const double sh = -x.stock->quantity, s = x.stock->price;
      const double initial =
          c.price * c.multiplier * c.quantity + (1.0 + r.stock_initial) * sh * s;
      // as the manual prints it: the short stock at 100 % of the strike, plus the hedge
      // fraction of the strike, plus what the strike is above the stock
      const double hedged_mm = ((1.0 + r.hedge_fraction) * c.strike + std::max(c.strike - s, 0.0)) * sh;
      const double mm = with_put ? hedged_mm : std::min(hedged_mm, short_stock_maintenance(sh, s, r));
      const double proceeds =
          sh * s + (with_put ? x.short_put->price * x.short_put->multiplier * -x.short_put->quantity
                             : 0.0);
      q = {initial, mm, proceeds};
      break;
    }
    case StrategyKind::kLongBoxEuropean: {
      if (!want(false, true, true, true, true, false)) return refuse();
      const StrategyLeg &lc = *x.long_call, &sc = *x.short_call, &lp = *x.long_put,
                        &sp = *x.short_put;
      const double units = lc.quantity;
      if (!(sc.quantity == -units && lp.quantity == units && sp.quantity == -units &&
            lc.strike == sp.strike && sc.strike == lp.strike && lc.strike < sc.strike &&
            lc.months == sc.months && lc.months == lp.months && lc.months == sp.months))
        return refuse();
      const double req = 0.5 * (sc.strike - lc.strike) * lc.multiplier * units;
      q = {req, req, (sc.price + sp.price) * sc.multiplier * units};
      break;
    }
    case StrategyKind::kSpread:
      break;  // handled above
  }
  *out = q;
  return Status::success();
}

}  // namespace pymargin::models
