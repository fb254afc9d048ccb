// SPDX-License-Identifier: Apache-2.0
#include "pymargin/engine/pretrade.hpp"

#include "pretrade_internal.hpp"

#include <map>
#include <tuple>

namespace pymargin::engine {

const char* reason_text(Reason r) noexcept {
  switch (r) {
    case Reason::kNone:
      return "accepted";
    case Reason::kInsufficientFunds:
      return "insufficient funds: available funds after the order would be negative";
    case Reason::kUnknownAccount:
      return "unknown account";
    case Reason::kUnknownInstrument:
      return "unknown instrument";
    case Reason::kBadSize:
      return "amount must be finite and > 0";
    case Reason::kDeltaShockNotModelled:
      return "net delta above delta_total_liq_shock_threshold: Deribit's delta shock is not "
             "published, so the margin is not modelled";
    case Reason::kUnknownOrder:
      return "unknown order";
    case Reason::kDuplicateOrder:
      return "order id already in use";
    case Reason::kBadPrice:
      return "price must be finite and > 0";
    case Reason::kNonFiniteState:
      return "refused: the account's balances or margin would overflow (not finite)";
  }
  return "unknown reason";
}

// The pair's worst-case contribution: gains credited at pnl_offset up to the cap, extended
// entries dampened in magnitude (not past zero), the most negative entry as a positive loss.
double PreTradeEngine::Impl::slot_worst(const MarketState& ms, std::int32_t c, std::int32_t u,
                                        const double* v) const noexcept {
  const std::size_t cu = static_cast<std::size_t>(c) * P + static_cast<std::size_t>(u);
  const double offset = cfg.currencies[static_cast<std::size_t>(c)].pnl_offset;
  const double cap = ms.cap[cu];
  const double* damp = ms.damp.data() + cu * 8;
  return kernel::detail::pm_worst(v, n_std, offset, cap, damp);
}

// A grid underlying's charge: the scenario-margin model's entries (gains credited at
// pnl_offset, then weighted), its loss, the minimum delta and the minimum charges, the larger
// taken; then the short-option floor added (strike_short, a fraction of the index).
double PreTradeEngine::Impl::grid_charge(const MarketState& ms, std::int32_t u, const double* v,
                                         double net, double gross, double floor,
                                         double strike_short) const noexcept {
  const auto uu = static_cast<std::size_t>(u);
  const GridAsset& ga = cfg.grid.assets[uu];
  const double* w = weight.data() + uu * ns;
  constexpr double kNoCap = std::numeric_limits<double>::infinity();
  double low = 0.0;
  for (std::size_t j = 0; j < ns; ++j) {
    const double x = models::credited_entry(v[j], ga.pnl_offset, kNoCap, 0.0) * w[j];
    low = x < low ? x : low;
  }
  const double a = std::fabs(net);
  const double min_delta =
      (ga.unhedged_delta * a + ga.hedged_delta * (gross - a) / 2.0) * ms.delta_usd[uu];
  return std::fmax(-low, std::fmax(floor, min_delta)) + strike_short * ms.delta_usd[uu];
}

double PreTradeEngine::Impl::cross_set_loss(const Account& a, const MarketState& ms, std::int32_t u,
                                            int k, std::int32_t swap_c,
                                            const double* swap_v) const noexcept {
  const auto uu = static_cast<std::size_t>(u);
  double sum[kMaxScenarios];
  double v[kMaxScenarios];
  for (std::size_t j = 0; j < ns; ++j) sum[j] = 0.0;
  const std::size_t C = cfg.currencies.size();
  for (std::size_t c = 0; c < C; ++c) {  // the groups of the pair in currency order
    const CurrencyParams& cp = cfg.currencies[c];
    const bool swapped = static_cast<std::int32_t>(c) == swap_c;
    const Slot* s = swapped ? nullptr : find_slot(a, static_cast<std::int32_t>(c), u, -1);
    const bool shocked = cp.coin_underlying == u && cp.equity_side != EquitySide::kNone;
    const double e = shocked ? coin_equity(a, c) : 0.0;
    if (s == nullptr && !swapped && e == 0.0) continue;  // no such group
    // The group's vector: the positions (and one side of the orders), or the check's
    // vector; then the coin's equity move on the side the parameters say.
    const double* x = swap_v;
    if (!swapped) {
      if (s == nullptr) {
        for (std::size_t j = 0; j < ns; ++j) v[j] = 0.0;
        x = v;
      } else {
        x = s->vector(k, ns, v);
      }
    }
    if (e != 0.0) {
      const double* move = ms.coin_move.data() + uu * ns;
      if (cp.equity_side == EquitySide::kBoth) {
        for (std::size_t j = 0; j < ns; ++j) v[j] = x[j] + e * move[j];
      } else if (cp.equity_side == EquitySide::kPositive) {
        for (std::size_t j = 0; j < ns; ++j) v[j] = x[j] + std::fmax(e * move[j], 0.0);
      } else {
        for (std::size_t j = 0; j < ns; ++j) v[j] = x[j] + std::fmin(e * move[j], 0.0);
      }
      x = v;
    }
    // Credited (gains at pnl_offset up to the cap), the extended entries dampened.
    const std::size_t cu = c * P + uu;
    const double off = cp.pnl_offset;
    const double cap = ms.cap[cu];
    for (std::size_t j = 0; j < n_std; ++j) {
      const double g = x[j] * off;
      sum[j] += x[j] > 0.0 ? (g < cap ? g : cap) : x[j];
    }
    const double* damp = ms.damp.data() + cu * 8;
    for (std::size_t j = n_std; j < ns; ++j) {
      sum[j] += models::credited_entry(x[j], off, cap, damp[j - n_std]);
    }
  }
  double low = 0.0;
  unsigned finite = 1;
  for (std::size_t j = 0; j < ns; ++j) {
    finite &= static_cast<unsigned>(std::fabs(sum[j]) <= std::numeric_limits<double>::max());
    low = sum[j] < low ? sum[j] : low;
  }
  return finite ? -low : std::numeric_limits<double>::quiet_NaN();
}

double PreTradeEngine::Impl::span_im(const Account& a, std::int32_t c, int k, std::int32_t swap_u,
                                     const double* swap_v, double swap_shorts) const noexcept {
  constexpr std::size_t kU = 16;
  constexpr std::size_t kN = models::kSpanScenarios;
  // A commodity's vector is read in place (its slot's or the swapped one), or summed here
  // with one side of its orders.
  double sum[kU][kN + models::kSpanMaxTiers];
  models::SpanCommodity view[kU];
  std::int32_t slot_of[kU];
  for (auto& x : slot_of) x = -1;
  std::size_t n = 0;
  bool swapped = swap_u < 0;
  auto add = [&](std::int32_t u, const double* v, double shorts) noexcept {
    const auto uu = static_cast<std::size_t>(u);
    const SpanCommodityConfig& cc = cfg.span.commodities[uu];
    models::SpanCommodity& x = view[n];
    x.pnl = v;
    x.tiers = cc.tier_days.size() + 1;
    x.tier_delta = v + kN;
    x.short_options = shorts;
    x.short_option_minimum = cc.short_option_minimum;
    x.intra_pairs = cc.intra_rates.size();
    x.intra_tiers = cc.intra_tiers.data();
    x.intra_rates = cc.intra_rates.data();
    slot_of[uu] = static_cast<std::int32_t>(n);
    ++n;
  };
  for (const Slot& s : a.slots) {  // sorted by underlying within the currency
    if (s.currency != c) continue;
    if (!swapped && s.underlying > swap_u) {
      add(swap_u, swap_v, swap_shorts);
      swapped = true;
    }
    if (s.underlying == swap_u) {
      add(swap_u, swap_v, swap_shorts);
      swapped = true;
      continue;
    }
    add(s.underlying, s.vector(k, ns, sum[n]), s.floor[k]);
  }
  if (!swapped) add(swap_u, swap_v, swap_shorts);
  if (n == 0) return 0.0;
  models::SpanInterSpread spreads[kU * 2];
  std::size_t m = 0;
  const std::size_t R = cfg.span.spread_terms.size() / 3;
  for (std::size_t r = 0; r < R && m < kU * 2; ++r) {
    const std::int32_t la = slot_of[static_cast<std::size_t>(cfg.span.spread_legs[2 * r])];
    const std::int32_t lb = slot_of[static_cast<std::size_t>(cfg.span.spread_legs[2 * r + 1])];
    if (la < 0 || lb < 0) continue;  // a leg without positions forms no spread
    spreads[m++] = {la, lb, cfg.span.spread_terms[3 * r], cfg.span.spread_terms[3 * r + 1],
                    cfg.span.spread_terms[3 * r + 2]};
  }
  models::SpanRequirement res[kU];
  if (!models::span_requirement(view, n, spreads, m, res).ok()) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  double total = 0.0;
  for (std::size_t j = 0; j < n; ++j) total += res[j].requirement;
  return total;
}

double PreTradeEngine::Impl::sensitivity_im(const Account& a, std::int32_t c, int k,
                                            std::int32_t swap_u,
                                            const double* swap_v) const noexcept {
  const SensitivityConfig& sc = cfg.sensitivity;
  const std::size_t B = sc.bucket_days.size();
  constexpr std::size_t kU = kMaxSensitivityUnderlyings;
  double wd[kU], wv[kU * 16], up[kU], down[kU], du[kU], rw[kU], curv[kU];
  double tmp[kMaxScenarios];
  std::size_t n = 0;
  bool swapped = swap_u < 0;
  auto add = [&](std::int32_t u, const double* v) noexcept {
    const auto uu = static_cast<std::size_t>(u);
    wd[n] = sc.delta_rw[uu] * v[0];
    for (std::size_t b = 0; b < B; ++b) wv[n * B + b] = v[1 + b];
    up[n] = v[B + 1];
    down[n] = v[B + 2];
    du[n] = v[0];
    rw[n] = sc.delta_rw[uu];
    ++n;
  };
  for (const Slot& s : a.slots) {  // sorted by underlying within the currency
    if (s.currency != c) continue;
    if (!swapped && s.underlying > swap_u) {  // a check's new underlying, in its place
      add(swap_u, swap_v);
      swapped = true;
    }
    if (s.underlying == swap_u) {
      add(swap_u, swap_v);
      swapped = true;
      continue;
    }
    add(s.underlying, s.vector(k, ns, tmp));
  }
  if (!swapped) add(swap_u, swap_v);
  if (n == 0) return 0.0;
  models::SensitivityInputs x;
  x.underlyings = n;
  x.buckets = B;
  x.weighted_delta = wd;
  x.weighted_vega = wv;
  x.tenor_corr = sc.tenor_corr.data();
  x.delta_corr = sc.delta_corr;
  x.vega_corr = sc.vega_corr;
  x.pnl_up = up;
  x.pnl_down = down;
  x.delta_usd = du;
  x.risk_weight = rw;
  models::SensitivityMargin r;
  if (!models::sensitivity_margin(x, &r, curv).ok())
    return std::numeric_limits<double>::quiet_NaN();
  return r.initial_margin;
}

// The slot's gross delta and minimum charges per state, from the account's nets in their
// (sorted) order.
void PreTradeEngine::Impl::refresh_net_terms(Account& a, const MarketState& ms,
                                             Slot& s) const noexcept {
  for (int k = 0; k < kStates; ++k) s.gross[k] = s.floor[k] = s.strike_short[k] = 0.0;
  if (standard()) {  // worst[k]: the IM of state k, std_mm: the positions' MM
    for (int k = 0; k < kStates; ++k) s.worst[k] = 0.0;
    s.std_mm = 0.0;
    for (const Net& x : a.nets) {
      const InstrumentSpec& sp = spec[static_cast<std::size_t>(x.instrument)];
      if (sp.currency != s.currency || sp.underlying != s.underlying) continue;
      for (int k = 0; k < kStates; ++k) {
        const double q = k == 0 ? x.q[0] : x.q[0] + x.q[k];
        const models::StandardMargin t = standard_term(ms, x.instrument, q);
        s.worst[k] += t.initial_margin;
        if (k == 0) s.std_mm += t.maintenance_margin;
      }
    }
    return;
  }
  auto in_slot = [&](std::int32_t i) {
    const InstrumentSpec& sp = spec[static_cast<std::size_t>(i)];
    return sp.currency == s.currency && sp.underlying == s.underlying && slot_expiry(i) == s.expiry;
  };
  for (const Net& x : a.nets) {
    if (!in_slot(x.instrument)) continue;
    const double d = ms.delta(static_cast<std::size_t>(x.instrument));
    for (int k = 0; k < kStates; ++k) {
      const double q = k == 0 ? x.q[0] : x.q[0] + x.q[k];
      s.gross[k] += std::fabs(q * d);
      s.floor[k] += floor_of(x.instrument, q);
    }
  }
  if (a.strikes.empty()) return;
  // The slot's strike groups rebuilt from the nets (in instrument order), then their shorts.
  for (Net& g : a.strikes) {
    if (in_slot(strike_rep[static_cast<std::size_t>(g.instrument)])) g.q[0] = g.q[1] = g.q[2] = 0.0;
  }
  for (const Net& x : a.nets) {
    const std::int32_t gi = strike_group[static_cast<std::size_t>(x.instrument)];
    if (gi < 0 || !in_slot(x.instrument)) continue;
    Net* g = find_strike(a, gi);
    const double w = strike_coef[static_cast<std::size_t>(x.instrument)];
    for (int k = 0; k < kStates; ++k) g->q[k] += (k == 0 ? x.q[0] : x.q[0] + x.q[k]) * w;
  }
  for (const Net& g : a.strikes) {
    if (!in_slot(strike_rep[static_cast<std::size_t>(g.instrument)])) continue;
    for (int k = 0; k < kStates; ++k) s.strike_short[k] += std::fmax(0.0, -g.q[k]);
  }
}

void PreTradeEngine::Impl::refresh_slot(const MarketState& ms, Slot& s) const noexcept {
  double tmp[kMaxScenarios];
  const double* pos = s.pos.data();
  if (standard()) return;                // refresh_net_terms set worst[] (no scenarios)
  if (group_level() || cross()) return;  // a group-level model (refresh_group)
  if (grid()) {
    for (int k = 0; k < kStates; ++k) {
      const double* v = s.vector(k, ns, tmp);
      const double net = s.net_delta[0] + (k == 0 ? 0.0 : s.net_delta[k]);
      s.worst[k] = grid_charge(ms, s.underlying, v, net, s.gross[k], s.floor[k], s.strike_short[k]);
    }
    return;
  }
  s.worst[0] = slot_worst(ms, s.currency, s.underlying, pos);
  if (s.ord.empty()) {  // no open orders: every state is the positions'
    s.worst[1] = s.worst[2] = s.worst[0];
    return;
  }
  for (int side = 1; side <= 2; ++side) {
    const double* o = s.ord.data() + static_cast<std::size_t>(side - 1) * ns;
    for (std::size_t j = 0; j < ns; ++j) tmp[j] = pos[j] + o[j];
    s.worst[side] = slot_worst(ms, s.currency, s.underlying, tmp);
  }
}

// Recomputes every vector, delta and mark value of the account from its positions and orders
// (in their stored order), against `ms`.
void PreTradeEngine::Impl::aggregate(Account& a, const MarketState& ms) const {
  a.mark.fill(0.0);
  double gross = 0.0;
  for (const Position& p : a.positions) gross += std::fabs(p.amount);
  for (const Order& o : a.orders) gross += o.remaining;
  a.gross = gross;
  for (auto& s : a.slots) {
    std::fill(s.pos.begin(), s.pos.begin() + static_cast<std::ptrdiff_t>(ns), 0.0);
    std::fill(s.ord.begin(), s.ord.end(), 0.0);
    for (double& d : s.net_delta) d = 0.0;
  }
  for (auto& x : a.expiries) {
    for (double& d : x.d) d = 0.0;
  }
  auto add = [&](std::int32_t i, int state, double amount, std::int32_t& slot,
                 std::int32_t& entry) {
    if (slot < 0) {
      const InstrumentSpec& sp = spec[static_cast<std::size_t>(i)];
      slot = static_cast<std::int32_t>(find_slot(a, sp.currency, sp.underlying, slot_expiry(i)) -
                                       a.slots.data());
      entry = static_cast<std::int32_t>(
          find_expiry(a, sp.currency, expiry_of[static_cast<std::size_t>(i)]) - a.expiries.data());
    }
    Slot& s = a.slots[static_cast<std::size_t>(slot)];
    const double* r = ms.row(static_cast<std::size_t>(i));
    axpy(ns, amount, r, s.state(state, ns));  // order vectors sized by ensure_entries
    const double d = amount * r[ns];
    s.net_delta[state] += d;
    a.expiries[static_cast<std::size_t>(entry)].d[state] += d;
  };
  for (Position& p : a.positions) {
    add(p.instrument, 0, p.amount, p.slot, p.entry);
    a.mark[static_cast<std::size_t>(a.slots[static_cast<std::size_t>(p.slot)].currency)] +=
        p.amount * ms.value(static_cast<std::size_t>(p.instrument));
  }
  for (Order& o : a.orders) {
    add(o.instrument, o.side == Side::kBuy ? 1 : 2,
        o.side == Side::kBuy ? o.remaining : -o.remaining, o.slot, o.entry);
  }
  if (uses_nets()) {
    for (Net& x : a.nets) x.q[0] = x.q[1] = x.q[2] = 0.0;
    for (const Position& p : a.positions) find_net(a, p.instrument)->q[0] = p.amount;
    for (const Order& o : a.orders) {
      find_net(a, o.instrument)->q[o.side == Side::kBuy ? 1 : 2] +=
          o.side == Side::kBuy ? o.remaining : -o.remaining;
    }
    for (auto& s : a.slots) refresh_net_terms(a, ms, s);
  }
  for (auto& s : a.slots) refresh_slot(ms, s);
  if (cross() && a.cross_loss.size() != P * kStates) a.cross_loss.assign(P * kStates, 0.0);
  for (std::size_t c = 0; c < cfg.currencies.size() && (group_level() || cross()); ++c) {
    refresh_group(a, ms, static_cast<std::int32_t>(c));
    if (cross()) break;  // one group: the account
  }
}

// IM, MM and the rest of currency group c from the account's cached state. rmm_states (3)
// receives the RMM of positions, positions + buy orders, positions + sell orders.
GroupMargin PreTradeEngine::Impl::group(const Account& a, const MarketState& ms, std::int32_t c,
                                        double* rmm_states) const noexcept {
  GroupMargin g;
  double worst[kStates] = {0, 0, 0};
  double roll[kStates] = {0, 0, 0};
  bool exceeded[kStates] = {false, false, false};
  if (group_level()) {  // kept by every state change (refresh_group)
    for (int k = 0; k < kStates; ++k) {
      worst[k] = a.group_im[static_cast<std::size_t>(c) * kStates + static_cast<std::size_t>(k)];
    }
  }
  if (cross()) {  // one group, the account: every pair's loss, every slot's delta limit
    for (std::size_t u = 0; u < P; ++u) {
      for (int k = 0; k < kStates; ++k) {
        worst[k] += a.cross_loss[u * kStates + static_cast<std::size_t>(k)];
      }
    }
  }
  for (const auto& s : a.slots) {
    if ((s.currency != c && !cross()) || group_level()) continue;
    if (!pm()) {  // no delta limit, no roll shock
      for (int k = 0; k < kStates; ++k) worst[k] += s.worst[k];
      continue;
    }
    const double thr =
        cfg.pairs[static_cast<std::size_t>(s.underlying)].delta_total_liq_shock_threshold;
    const double usd = ms.delta_usd[static_cast<std::size_t>(s.underlying)];
    for (int k = 0; k < kStates; ++k) {
      if (!cross()) worst[k] += s.worst[k];
      const double net = s.net_delta[0] + (k == 0 ? 0.0 : s.net_delta[k]);
      exceeded[k] = exceeded[k] || std::fabs(net) * usd > thr;
    }
  }
  for (const auto& x : a.expiries) {  // Deribit's roll shock (no other model has one)
    if (!pm()) break;
    if (x.currency != c && !cross()) continue;
    const double k = ms.roll_k[static_cast<std::size_t>(x.currency) * n_expiries +
                               static_cast<std::size_t>(x.expiry)];
    roll[0] += k * std::fabs(x.d[0]);
    roll[1] += k * std::fabs(x.d[0] + x.d[1]);
    roll[2] += k * std::fabs(x.d[0] + x.d[2]);
  }
  double im = 0.0;
  for (int k = 0; k < kStates; ++k) {
    rmm_states[k] = (pm() ? round9(worst[k]) : worst[k]) + roll[k];
    im = std::fmax(im, rmm_states[k]);
  }
  const std::size_t ci = static_cast<std::size_t>(c);
  g.equity = cross() ? cross_equity(a, ms) : a.collateral[ci] + a.cash[ci] + a.mark[ci];
  g.initial_margin = pm() ? round9(im) : im;
  if (standard()) {
    double mm = 0.0;
    for (const auto& s : a.slots) {
      if (s.currency == c) mm += s.std_mm;
    }
    g.maintenance_margin = mm;
  } else if (derive()) {
    g.maintenance_margin = a.group_mm[ci];
  } else if (group_level()) {
    g.maintenance_margin = rmm_states[0];  // IM = MM of the positions
  } else {
    g.maintenance_margin = cfg.mm_factor * rmm_states[0];
  }
  g.available_funds = g.equity - g.initial_margin;
  g.worst_case = worst[0];
  g.roll_shock = roll[0];
  g.delta_shock_exceeded = exceeded[0] || exceeded[1] || exceeded[2];
  return g;
}

PreTradeEngine::PreTradeEngine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PreTradeEngine::~PreTradeEngine() = default;

std::size_t PreTradeEngine::instruments() const noexcept { return impl_->spec.size(); }
std::size_t PreTradeEngine::scenarios() const noexcept { return impl_->ns; }
Model PreTradeEngine::model() const noexcept { return impl_->cfg.model; }
std::size_t PreTradeEngine::currencies() const noexcept { return impl_->cfg.currencies.size(); }
std::size_t PreTradeEngine::accounts() const noexcept {
  return impl_->used.load(std::memory_order_acquire);
}
const InstrumentSpec& PreTradeEngine::instrument(std::size_t i) const noexcept {
  return impl_->spec[i];
}

namespace {

// SPAN's parameters: 1 to 16 commodities, their tiers and intra rates, the spreads' legs and
// terms; *span_tiers the most tiers of any commodity.
Status check_span_config(const EngineConfig& config, std::size_t* span_tiers) {
  const SpanEngineConfig& sc = config.span;
  const std::size_t U = sc.commodities.size();
  if (U == 0 || U > 16) return Status::bad_argument("span.commodities", "1 to 16 underlyings");
  for (std::size_t u = 0; u < U; ++u) {
    const SpanCommodityConfig& cc = sc.commodities[u];
    const std::size_t T = cc.tier_days.size() + 1;
    if (!(cc.price_scan > 0.0 && cc.price_scan < 0.5 && std::isfinite(cc.vol_scan) &&
          cc.vol_scan >= 0.0 && cc.extreme_weight >= 0.0 && cc.extreme_weight <= 1.0 &&
          std::isfinite(cc.look_ahead_days) && cc.look_ahead_days >= 0.0 &&
          std::isfinite(cc.short_option_minimum) && cc.short_option_minimum >= 0.0)) {
      return Status::invalid("span.commodities", u, "a scan range, weight or minimum out of range");
    }
    if (T > models::kSpanMaxTiers) return Status::invalid("span.tier_days", u, "up to 31 bounds");
    for (std::size_t t = 0; t + 1 < T; ++t) {
      if (!(std::isfinite(cc.tier_days[t]) && cc.tier_days[t] > 0.0 &&
            (t == 0 || cc.tier_days[t] > cc.tier_days[t - 1]))) {
        return Status::invalid("span.tier_days", u, "increasing day counts > 0");
      }
    }
    if (cc.intra_tiers.size() != 2 * cc.intra_rates.size()) {
      return Status::invalid("span.intra_rates", u, "two tiers per rate");
    }
    for (std::size_t p = 0; p < cc.intra_rates.size(); ++p) {
      const std::int32_t t1 = cc.intra_tiers[2 * p], t2 = cc.intra_tiers[2 * p + 1];
      if (t1 < 0 || t2 < 0 || static_cast<std::size_t>(t1) >= T ||
          static_cast<std::size_t>(t2) >= T || t1 == t2 ||
          !(std::isfinite(cc.intra_rates[p]) && cc.intra_rates[p] >= 0.0)) {
        return Status::invalid("span.intra_rates", u, "no such tier pair, or a rate < 0");
      }
    }
    *span_tiers = std::max(*span_tiers, T);
  }
  const std::size_t R = sc.spread_terms.size() / 3;
  if (sc.spread_terms.size() != 3 * R || sc.spread_legs.size() != 2 * R) {
    return Status::bad_argument("span.spreads", "two legs and three terms per spread");
  }
  for (std::size_t r = 0; r < R; ++r) {
    const std::int32_t a = sc.spread_legs[2 * r], b = sc.spread_legs[2 * r + 1];
    const double* t = sc.spread_terms.data() + 3 * r;
    if (a < 0 || b < 0 || static_cast<std::size_t>(a) >= U || static_cast<std::size_t>(b) >= U ||
        a == b ||
        !(t[0] > 0.0 && t[1] > 0.0 && std::isfinite(t[0]) && std::isfinite(t[1]) && t[2] >= 0.0 &&
          t[2] <= 1.0)) {
      return Status::invalid("span.spreads", r, "legs, ratios > 0 and a rate in [0, 1]");
    }
  }

  return Status::success();
}

// The Greek-netting model's parameters: tenor buckets and their correlations, risk weights.
Status check_sensitivity_config(const EngineConfig& config) {
  const SensitivityConfig& sc = config.sensitivity;
  const std::size_t B = sc.bucket_days.size();
  const std::size_t U = sc.delta_rw.size();
  if (B == 0 || B > 16) return Status::bad_argument("sensitivity.bucket_days", "1 to 16 buckets");
  for (std::size_t b = 0; b < B; ++b) {
    if (!(std::isfinite(sc.bucket_days[b]) && sc.bucket_days[b] > 0.0 &&
          (b == 0 || sc.bucket_days[b] > sc.bucket_days[b - 1]))) {
      return Status::invalid("sensitivity.bucket_days", b, "increasing day counts > 0");
    }
  }
  if (sc.tenor_corr.size() != B * B) {
    return Status::bad_argument("sensitivity.tenor_corr", "buckets x buckets");
  }
  for (std::size_t j = 0; j < B * B; ++j) {
    if (!(sc.tenor_corr[j] >= -1.0 && sc.tenor_corr[j] <= 1.0)) {
      return Status::invalid("sensitivity.tenor_corr", j, "must be in [-1, 1]");
    }
  }
  if (!(sc.delta_corr >= -1.0 && sc.delta_corr <= 1.0 && sc.vega_corr >= -1.0 &&
        sc.vega_corr <= 1.0)) {
    return Status::bad_argument("sensitivity", "correlations must be in [-1, 1]");
  }
  if (U == 0 || U > kMaxSensitivityUnderlyings || sc.vega_rw.size() != U) {
    return Status::bad_argument("sensitivity.delta_rw", "1 to 16 underlyings, one vega_rw each");
  }
  for (std::size_t u = 0; u < U; ++u) {
    if (!(std::isfinite(sc.delta_rw[u]) && sc.delta_rw[u] > 0.0 && sc.delta_rw[u] < 1.0 &&
          std::isfinite(sc.vega_rw[u]) && sc.vega_rw[u] >= 0.0)) {
      return Status::invalid("sensitivity.delta_rw", u, "risk weights: delta in (0, 1), vega >= 0");
    }
  }

  return Status::success();
}

// A grid venue's assets: scenarios, vol states, weights, minimum delta factors, gain credit,
// vol rule; *grid_ns the most scenarios of any asset.
Status check_grid_config(const EngineConfig& config, std::size_t* grid_ns) {
  if (config.grid.assets.empty()) {
    return Status::bad_argument("grid.assets", "at least one underlying");
  }
  for (std::size_t u = 0; u < config.grid.assets.size(); ++u) {
    const GridAsset& ga = config.grid.assets[u];
    const std::size_t nu = ga.moves.size();
    if (nu == 0 || nu > kMaxScenarios) {
      return Status::invalid("grid.assets.moves", u, "between 1 and 64 scenarios");
    }
    if (ga.vol_states.size() != nu || ga.weights.size() != nu) {
      return Status::invalid("grid.assets", u, "moves, vol_states and weights differ in length");
    }
    for (std::size_t j = 0; j < nu; ++j) {
      if (!(std::isfinite(ga.moves[j]) && ga.moves[j] > -1.0)) {
        return Status::invalid("grid.assets.moves", u, "a move must be finite and > -1");
      }
      if (ga.vol_states[j] < -1 || ga.vol_states[j] > 1) {
        return Status::invalid("grid.assets.vol_states", u, "must be -1, 0 or +1");
      }
      if (!(std::isfinite(ga.weights[j]) && ga.weights[j] >= 0.0)) {
        return Status::invalid("grid.assets.weights", u, "must be finite and >= 0");
      }
    }
    const double terms[] = {ga.unhedged_delta, ga.hedged_delta};
    for (double x : terms) {
      if (!(std::isfinite(x) && x >= 0.0)) {
        return Status::invalid("grid.assets", u, "minimum delta factors must be finite and >= 0");
      }
    }
    if (!(ga.pnl_offset >= 0.0 && ga.pnl_offset <= 1.0)) {
      return Status::invalid("grid.assets.pnl_offset", u, "must be in [0, 1]");
    }
    const double dummy_move = 0.0;
    const std::int8_t dummy_state = 0;
    scenarios::ScenarioView one{1, 1, &dummy_move, &dummy_state, &ga.vol_rule};
    Status rule = scenarios::validate(one);
    if (!rule.ok()) return Status::invalid("grid.assets.vol_rule", u, rule.message);
    *grid_ns = std::max(*grid_ns, nu);
  }

  return Status::success();
}

// The Deribit pairs' and the currencies' parameters (X:PM: haircuts, equity sides, coins);
// the grid, SPAN and Greek-netting models margin USD-settled groups only.
Status check_pairs_and_currencies(const EngineConfig& config, bool cross, bool usd_only) {
  for (std::size_t u = 0; u < config.pairs.size(); ++u) {
    const PairParams& p = config.pairs[u];
    if (!(p.price_range > 0.0 && p.price_range < 1.0)) {
      return Status::invalid("pairs.price_range", u, "must be in (0, 1)");
    }
    const double v[] = {p.volatility_range_up,
                        p.volatility_range_down,
                        p.min_volatility_for_shock_up,
                        p.short_term_vega_power,
                        p.long_term_vega_power,
                        p.extended_table_factor,
                        p.delta_total_liq_shock_threshold};
    bool ok = p.volatility_range_down <= 1;
    for (double x : v) ok = ok && std::isfinite(x) && x >= 0;
    if (!ok)
      return Status::invalid("pairs", u, "a parameter is negative, infinite or not a number");
  }
  for (std::size_t c = 0; c < config.currencies.size(); ++c) {
    const CurrencyParams& p = config.currencies[c];
    const double v[] = {p.annualised_move_risk, p.min_annualised_move, p.extended_dampener,
                        p.pnl_offset, p.max_offsetable_pnl};
    bool ok = p.pnl_offset <= 1;
    for (double x : v) ok = ok && std::isfinite(x) && x >= 0;
    if (!ok) {
      return Status::invalid("currencies", c, "a parameter is negative, infinite, NaN or > 1");
    }
  }
  for (std::size_t c = 0; c < config.currencies.size() && cross; ++c) {
    const CurrencyParams& p = config.currencies[c];
    if (!(p.haircut >= 0.0 && p.haircut <= 1.0)) {
      return Status::invalid("currencies.haircut", c, "must be in [0, 1]");
    }
    if (static_cast<std::uint8_t>(p.equity_side) > 3) {
      return Status::invalid("currencies.equity_side", c,
                             "must be none, both, positive or negative");
    }
    if (p.usd_settled ? p.coin_underlying != -1
                      : (p.coin_underlying < 0 ||
                         static_cast<std::size_t>(p.coin_underlying) >= config.pairs.size())) {
      return Status::invalid("currencies.coin_underlying", c,
                             "a coin needs the underlying whose index prices it; a stablecoin -1");
    }
  }
  if (usd_only) {
    for (std::size_t c = 0; c < config.currencies.size(); ++c) {
      if (!config.currencies[c].usd_settled) {
        return Status::invalid("currencies", c, "this model margins USD-settled groups only");
      }
    }
  }
  return Status::success();
}

// Instrument i's spec under the engine's model: known kind, settlement, type, underlying and
// currency; a strike for options; floors only under the grid model; USD-settled only under the
// grid, SPAN and Greek-netting models; standard-margin terms only under standard margin.
Status check_instrument(const PreTradeEngine::Impl& m, const InstrumentSpec& s, std::size_t i,
                        std::int32_t P, std::int32_t C) {
  if (s.kind > 3) return Status::invalid("kind", i, "unknown instrument kind");
  if (s.settlement > 1) return Status::invalid("settlement", i, "unknown settlement");
  if (s.is_call > 1) return Status::invalid("is_call", i, "must be 0 or 1");
  if (s.kind == 0 && s.settlement == 1) {
    return Status::invalid("kind", i, "inverse spot is a coin balance: use collateral");
  }
  if (s.underlying < 0 || s.underlying >= P) {
    return Status::invalid("underlying", i, "no such underlying");
  }
  if (s.currency < 0 || s.currency >= C) return Status::invalid("currency", i, "no such currency");
  if (s.kind == 3 && !finite_positive(s.strike)) {
    return Status::invalid("strike", i, "must be > 0");
  }
  if (!(std::isfinite(s.floor_long) && s.floor_long >= 0.0 && std::isfinite(s.floor_short) &&
        s.floor_short >= 0.0)) {
    return Status::invalid("floor", i, "minimum charges must be finite and >= 0");
  }
  if (!m.grid() && (s.floor_long != 0.0 || s.floor_short != 0.0)) {
    return Status::invalid("floor", i, "per-unit minimum charges belong to the grid model");
  }
  if (!(std::isfinite(s.strike_floor) && s.strike_floor >= 0.0)) {
    return Status::invalid("strike_floor", i, "must be finite and >= 0");
  }
  if (s.strike_floor != 0.0 && !(m.grid() && s.kind == 3)) {
    return Status::invalid("strike_floor", i, "a short-option floor belongs to grid-model options");
  }
  if ((m.grid() || m.sensitivity() || m.span() || m.derive()) && s.settlement != 0) {
    return Status::invalid("settlement", i,
                           "this model margins USD-settled (linear) instruments only");
  }
  if (m.derive() && s.kind != 2 && s.kind != 3) {
    return Status::invalid("kind", i, "Derive PM covers options and perpetuals only");
  }
  const StandardTerms& t = s.standard;
  if (m.standard()) {
    if (t.rule > 1 || t.price_at_index > 1) {
      return Status::invalid("standard", i, "rule must be 0 or 1, price_at_index 0 or 1");
    }
    if ((t.rule == 1) != (s.kind == 3 && s.settlement == 1)) {
      return Status::invalid("standard", i,
                             "rule 1 is the inverse-option rule; other instruments rule 0");
    }
    // The rates themselves are checked with each market (models::check_standard_position).
  } else if (t.rule != 0 || t.price_at_index != 0 || t.im_base != 0.0 || t.im_per_unit != 0.0 ||
             t.mm_base != 0.0 || t.mm_per_unit != 0.0 || t.im_otm_base != 0.0 ||
             t.im_floor != 0.0 || t.mm != 0.0) {
    return Status::invalid("standard", i, "standard-margin terms under another model");
  }
  return Status::success();
}

// The strike groups: one per (currency, underlying, expiry id, strike) of the instruments with
// a strike weight (grid: a strike floor; Derive: every option), numbered in order of first
// instrument; strike_rep the first of each.
void assign_strike_groups(PreTradeEngine::Impl* m) {
  using Key = std::tuple<std::int32_t, std::int32_t, std::int64_t, double>;
  std::map<Key, std::int32_t> groups;
  m->strike_group.assign(m->spec.size(), -1);
  m->strike_coef.assign(m->spec.size(), 0.0);
  m->strike_rep.clear();
  for (std::size_t i = 0; i < m->spec.size(); ++i) {
    const InstrumentSpec& s = m->spec[i];
    m->strike_coef[i] = m->derive() ? (s.kind == 3 ? 1.0 : 0.0) : s.strike_floor;
    if (m->strike_coef[i] == 0.0) continue;
    const Key key{s.currency, s.underlying, s.expiry_id, s.strike};
    auto it = groups.find(key);
    if (it == groups.end()) {
      it = groups.emplace(key, static_cast<std::int32_t>(m->strike_rep.size())).first;
      m->strike_rep.push_back(static_cast<std::int32_t>(i));
    }
    m->strike_group[i] = it->second;
  }
}

// The engine's scenario count per row (ns, n_std), underlyings (P) and grid weights, from
// the model's configuration (grid_ns and span_tiers as its checks found them).
void size_engine(const EngineConfig& config, std::size_t grid_ns, std::size_t span_tiers,
                 PreTradeEngine::Impl* m) {
  if (config.model == Model::kScenarioGrid) {
    m->ns = m->n_std = grid_ns;
    m->P = config.grid.assets.size();
    m->weight.assign(m->P * grid_ns, 0.0);
    for (std::size_t u = 0; u < m->P; ++u) {
      const auto& w = config.grid.assets[u].weights;
      std::copy(w.begin(), w.end(), m->weight.begin() + static_cast<std::ptrdiff_t>(u * grid_ns));
    }
  } else if (config.model == Model::kStandard) {
    m->ns = m->n_std = 0;  // no scenarios
    m->P = config.standard_underlyings;
  } else if (config.model == Model::kSpan) {
    // 16 weighted scenarios, then the net delta per tier
    m->ns = m->n_std = models::kSpanScenarios + span_tiers;
    m->P = config.span.commodities.size();
  } else if (config.model == Model::kSensitivity) {
    // delta, the weighted vega per bucket, P&L at +RW and -RW
    m->ns = m->n_std = config.sensitivity.bucket_days.size() + 3;
    m->P = config.sensitivity.delta_rw.size();
  } else if (config.model == Model::kDerive) {
    // each scenario's value (a perpetual's: its damped P&L), then the unshocked value and the
    // values at the basis spot moves
    m->ns = m->n_std = config.derive.scenarios.size() + 3;
    m->P = config.derive.underlyings;
  } else {
    m->n_std = static_cast<std::size_t>(3 * (2 * config.buckets + 1));
    m->ns = m->n_std + 8;
    m->P = config.pairs.size();
  }
}

}  // namespace

Status PreTradeEngine::create(EngineConfig config, std::vector<InstrumentSpec> instruments,
                              const std::vector<InstrumentMarket>& market,
                              const std::vector<double>& index_prices,
                              std::unique_ptr<PreTradeEngine>* out) {
  if (out == nullptr) return Status::bad_argument("out", "missing");
  out->reset();
  const bool grid = config.model == Model::kScenarioGrid;
  const bool standard = config.model == Model::kStandard;
  const bool cross = config.model == Model::kDeribitCross;
  const bool deribit = config.model == Model::kDeribitPortfolio || cross;  // the Deribit grid
  const bool sens = config.model == Model::kSensitivity;
  const bool span = config.model == Model::kSpan;
  const bool derive = config.model == Model::kDerive;
  if (!(deribit || grid || standard || sens || span || derive)) {
    return Status::bad_argument("model", "unknown model");
  }
  if (derive) {
    const std::size_t n = config.derive.scenarios.size();
    if (n == 0 || n + 3 > kMaxScenarios) {
      return Status::bad_argument("derive.scenarios", "between 1 and 61 scenarios");
    }
    if (config.derive.underlyings == 0 || config.derive.underlyings > 64) {
      return Status::bad_argument("derive.underlyings", "between 1 and 64 underlyings");
    }
    models::DeriveParams q = config.derive.params;
    q.scenarios = config.derive.scenarios.data();
    q.n_scenarios = n;
    Status st = models::derive_check_params(q);
    if (!st.ok()) return st;
  }
  std::size_t span_tiers = 0;
  if (span) {
    Status st = check_span_config(config, &span_tiers);
    if (!st.ok()) return st;
  }
  if (sens) {
    Status st = check_sensitivity_config(config);
    if (!st.ok()) return st;
  }
  if (deribit && (config.buckets < 1 || config.buckets > 8)) {
    return Status::bad_argument("buckets", "must be 1 .. 8");
  }
  if (!(config.mm_factor >= 0.0 && config.mm_factor <= 1.0)) {
    return Status::bad_argument("mm_factor", "must be in [0, 1]");
  }
  if (deribit && config.pairs.empty()) {
    return Status::bad_argument("pairs", "at least one underlying");
  }
  if (standard && config.standard_underlyings == 0) {
    return Status::bad_argument("standard_underlyings", "at least one underlying");
  }
  std::size_t grid_ns = 0;
  if (grid) {
    Status st = check_grid_config(config, &grid_ns);
    if (!st.ok()) return st;
  }
  if (config.currencies.empty() || config.currencies.size() > kMaxCurrencies) {
    return Status::bad_argument("currencies", "between 1 and 8 settlement currencies");
  }
  if (config.max_accounts == 0 || config.max_accounts > kMaxAccountsLimit) {
    return Status::bad_argument("max_accounts", "must be in 1 .. 2^26");
  }
  {
    Status st = check_pairs_and_currencies(config, cross, grid || sens || span || derive);
    if (!st.ok()) return st;
  }
  auto impl = std::make_unique<Impl>();
  size_engine(config, grid_ns, span_tiers, impl.get());
  impl->cfg = std::move(config);
  impl->spec = std::move(instruments);
  impl->dparams = impl->cfg.derive.params;
  impl->dparams.scenarios = impl->cfg.derive.scenarios.data();
  impl->dparams.n_scenarios = impl->cfg.derive.scenarios.size();
  const auto P = static_cast<std::int32_t>(impl->P);
  const auto C = static_cast<std::int32_t>(impl->cfg.currencies.size());
  std::vector<std::pair<std::pair<std::int32_t, std::int64_t>, std::int32_t>> seen;
  for (std::size_t i = 0; i < impl->spec.size(); ++i) {
    const InstrumentSpec& s = impl->spec[i];
    Status bad = check_instrument(*impl, s, i, P, C);
    if (!bad.ok()) return bad;
    // Expiry index: one per (underlying, expiry id); perpetuals and spot one per underlying.
    const std::int64_t key = s.expiry_id < 0 ? -1 : s.expiry_id;
    std::int32_t e = -1;
    for (const auto& kv : seen) {
      if (kv.first.first == s.underlying && kv.first.second == key) e = kv.second;
    }
    if (e < 0) {
      e = static_cast<std::int32_t>(seen.size());
      seen.push_back({{s.underlying, key}, e});
    }
    impl->expiry_of.push_back(e);
    // SPAN counts short options, Derive the perpetuals' |amount|, grids their minimum charges
    const bool derive_perp = impl->derive() && s.kind == 2;
    impl->unit_floor.push_back(derive_perp ? 1.0 : s.floor_long);
    impl->unit_floor.push_back((impl->span() && s.kind == 3) || derive_perp ? 1.0 : s.floor_short);
    if (static_cast<std::size_t>(e) >= impl->option_expiry.size()) impl->option_expiry.push_back(0);
    if (s.kind == 3) impl->option_expiry[static_cast<std::size_t>(e)] = 1;
  }
  impl->n_expiries = seen.size();
  assign_strike_groups(impl.get());
  std::shared_ptr<MarketState> ms;
  Status st = impl->build_market(market, index_prices, &ms);
  if (!st.ok()) return st;
  impl->market = std::move(ms);
  try {
    impl->chunks.resize((impl->cfg.max_accounts + Impl::kChunk - 1) / Impl::kChunk);
  } catch (...) {
    return Status::bad_argument("max_accounts", "out of memory for the account table");
  }
  out->reset(new PreTradeEngine(std::move(impl)));
  return Status::success();
}

Status PreTradeEngine::add_account(std::int64_t* id) {
  if (id == nullptr) return Status::bad_argument("id", "missing");
  std::lock_guard<std::mutex> guard(impl_->admin);
  Impl& m = *impl_;
  const std::size_t n = m.used.load(std::memory_order_relaxed);
  if (n >= m.cfg.max_accounts) {
    return Status::bad_argument("max_accounts", "all accounts in use");
  }
  auto& chunk = m.chunks[n >> Impl::kChunkBits];
  if (!chunk) {
    try {
      chunk.reset(new Account[Impl::kChunk]);
    } catch (...) {
      return Status::bad_argument("max_accounts", "out of memory for another block of accounts");
    }
  }
  Account& a = m.account(n);
  if (m.cross()) {
    try {
      a.cross_loss.assign(m.P * kStates, 0.0);
    } catch (...) {
      return Status::bad_argument("max_accounts", "out of memory for another account");
    }
  }
  a.collateral.fill(0.0);
  a.cash.fill(0.0);
  a.mark.fill(0.0);
  a.state = m.market.get();
  a.in_use = true;
  *id = static_cast<std::int64_t>(n);
  m.used.store(n + 1, std::memory_order_release);  // publishes the ready account
  return Status::success();
}

// Every value the account holds or derives, finite: balances, vectors, deltas, and each margin
// group's equity, IM, MM and available funds.
bool PreTradeEngine::Impl::finite(const Account& a, const MarketState& ms) const noexcept {
  const std::size_t C = cfg.currencies.size();
  if (!all_finite(a.collateral.data(), C) || !all_finite(a.cash.data(), C) ||
      !all_finite(a.mark.data(), C)) {
    return false;
  }
  for (const Slot& s : a.slots) {
    if (!all_finite(s.pos.data(), ns) || !all_finite(s.ord.data(), s.ord.size()) ||
        !all_finite(s.worst, kStates) || !all_finite(s.net_delta, kStates) ||
        !all_finite(s.gross, kStates) || !all_finite(s.floor, kStates) ||
        !all_finite(s.strike_short, kStates) || !std::isfinite(s.std_mm)) {
      return false;
    }
  }
  for (const ExpiryNet& x : a.expiries) {
    if (!all_finite(x.d, kStates)) return false;
  }
  for (std::size_t c = 0; c < C; ++c) {
    double rmm[kStates];
    const GroupMargin g = group(a, ms, static_cast<std::int32_t>(c), rmm);
    const double v[] = {
        g.equity, g.initial_margin, g.maintenance_margin, g.available_funds, rmm[0], rmm[1],
        rmm[2]};
    if (!all_finite(v, 7)) return false;
  }
  return true;
}

// A cheap sufficient condition for finite(a) under `ms`: every vector entry, delta, roll term,
// worst case and mark value of the account is bounded by sum |amount| x bound[i] (the credit
// cap and the dampener only shrink magnitudes), so equity and margins stay below
// |balances| + 4 x that sum.
bool PreTradeEngine::Impl::surely_finite(const Account& a, const MarketState& ms) const noexcept {
  double b = 0.0;
  for (const Position& p : a.positions) {
    b += std::fabs(p.amount) * ms.bound[static_cast<std::size_t>(p.instrument)];
  }
  for (const Order& o : a.orders)
    b += o.remaining * ms.bound[static_cast<std::size_t>(o.instrument)];
  double cc = 0.0;
  for (std::size_t c = 0; c < cfg.currencies.size(); ++c) {
    cc += std::fabs(a.collateral[c]) + std::fabs(a.cash[c]);
  }
  // Standard margin's size-scaled terms are quadratic: sum |q|^2 <= (sum |q|)^2 = gross^2.
  const double quad = ms.max_quad * a.gross * a.gross;
  // X:PM: balances, mark values and rows count at a coin's price and scenario move
  const double scale = cross() ? ms.cross_scale * 4.0 : 1.0;
  return (cc + 4.0 * (b + quad)) * scale < 1e300;  // false for NaN: the exact check decides
}

CheckResult PreTradeEngine::check(std::int64_t account, std::int32_t instrument, Side side,
                                  double amount) const noexcept {
  CheckResult r;
  const Impl& m = *impl_;
  const Account* a = m.live(account);
  if (a == nullptr) {
    r.reason = Reason::kUnknownAccount;
    return r;
  }
  if (instrument < 0 || static_cast<std::size_t>(instrument) >= m.spec.size()) {
    r.reason = Reason::kUnknownInstrument;
    return r;
  }
  if (!finite_positive(amount)) {
    r.reason = Reason::kBadSize;
    return r;
  }
  const std::int32_t c = m.spec[static_cast<std::size_t>(instrument)].currency;
  Guard guard(a->lock);
  const MarketState& ms = *a->state;
  double rmm[kStates];
  const GroupMargin before = m.group(*a, ms, c, rmm);
  return m.check_with(*a, ms, before, rmm, instrument, side, amount);
}

void PreTradeEngine::check_many(std::int64_t account, std::size_t n, const std::int32_t* instrument,
                                const Side* side, const double* amount,
                                CheckResult* out) const noexcept {
  const Impl& m = *impl_;
  const Account* a = m.live(account);
  if (a == nullptr) {
    for (std::size_t j = 0; j < n; ++j) {
      out[j] = CheckResult{};
      out[j].reason = Reason::kUnknownAccount;
    }
    return;
  }
  Guard guard(a->lock);
  const MarketState& ms = *a->state;
  // Each margin group's state before, computed when a candidate first falls in it.
  GroupMargin before[kMaxCurrencies];
  double rmm[kMaxCurrencies][kStates];
  bool have[kMaxCurrencies] = {};
  for (std::size_t j = 0; j < n; ++j) {
    const std::int32_t i = instrument[j];
    out[j] = CheckResult{};
    if (i < 0 || static_cast<std::size_t>(i) >= m.spec.size()) {
      out[j].reason = Reason::kUnknownInstrument;
      continue;
    }
    if (!finite_positive(amount[j]) || (side[j] != Side::kBuy && side[j] != Side::kSell)) {
      out[j].reason = Reason::kBadSize;
      continue;
    }
    const auto c = static_cast<std::size_t>(m.spec[static_cast<std::size_t>(i)].currency);
    if (!have[c]) {
      before[c] = m.group(*a, ms, static_cast<std::int32_t>(c), rmm[c]);
      have[c] = true;
    }
    double states[kStates] = {rmm[c][0], rmm[c][1], rmm[c][2]};
    out[j] = m.check_with(*a, ms, before[c], states, i, side[j], amount[j]);
  }
}

// The check of a valid order against the account's state `before` (its group's margin and
// RMM per state, which `rmm` holds and receives the order's state in).
namespace {

// The change in its slot's strike shorts (sum over strikes of max(0, -net)) of state k when
// `signed_amount` of the instrument is added: its strike group's net old and new (binary
// search); 0 for an instrument without one.
inline double strike_change(const PreTradeEngine::Impl& m, const Account& a,
                            std::int32_t instrument, int k, double signed_amount) noexcept {
  const std::int32_t gi = m.strike_group[static_cast<std::size_t>(instrument)];
  if (gi < 0) return 0.0;
  const Net* g = find_strike(a, gi);
  const double t_old = g == nullptr ? 0.0 : g->q[k];
  const double w = m.strike_coef[static_cast<std::size_t>(instrument)];
  return std::fmax(0.0, -(t_old + signed_amount * w)) - std::fmax(0.0, -t_old);
}

// The worst case of state k (positions plus the side's orders) with the order added: the
// order's group recomputed from its scenario vector v under the engine's model, the other
// groups of the currency as kept.
inline double order_worst(const PreTradeEngine::Impl& m, const Account& a, const MarketState& ms,
                          const Slot* s, std::int32_t instrument, int k, double signed_amount,
                          const double* v, double net) noexcept {
  const InstrumentSpec& sp = m.spec[static_cast<std::size_t>(instrument)];
  const std::int32_t c = sp.currency;
  const double* row = ms.row(static_cast<std::size_t>(instrument));
  double new_worst = 0.0;
  if (m.span()) {  // the order's short options from its instrument's net (binary search)
    const Net* x = find_net(a, instrument);
    const double q_old = x == nullptr ? 0.0 : x->q[0] + x->q[k];
    const double shorts = (s ? s->floor[k] : 0.0) - m.floor_of(instrument, q_old) +
                          m.floor_of(instrument, q_old + signed_amount);
    new_worst = m.span_im(a, c, k, sp.underlying, v, shorts);
  } else if (m.derive()) {
    // The order's slot swapped: its vector, its perpetual |amount| (the slot's floor term)
    // and its naked shorts (the order's strike group old and new, by binary search).
    const Net* x = find_net(a, instrument);
    const double q_old = x == nullptr ? 0.0 : x->q[0] + x->q[k];
    PreTradeEngine::Impl::DeriveSwap sw;
    sw.underlying = sp.underlying;
    sw.expiry = m.slot_expiry(instrument);
    sw.v = v;
    sw.perp = (s ? s->floor[k] : 0.0) - m.floor_of(instrument, q_old) +
              m.floor_of(instrument, q_old + signed_amount);
    sw.naked = (s ? s->strike_short[k] : 0.0) + strike_change(m, a, instrument, k, signed_amount);
    double mm = 0.0;
    new_worst = m.derive_im(a, ms, c, k, &sw, &mm);
  } else if (m.sensitivity()) {
    new_worst = m.sensitivity_im(a, c, k, sp.underlying, v);
  } else if (m.standard()) {
    // The instrument's IM term, old and new (its net found by binary search).
    const Net* x = find_net(a, instrument);
    const double q_old = x == nullptr ? 0.0 : x->q[0] + x->q[k];
    new_worst =
        (s ? s->worst[k] : 0.0) -
        PreTradeEngine::Impl::standard_term(ms, instrument, q_old).initial_margin +
        PreTradeEngine::Impl::standard_term(ms, instrument, q_old + signed_amount).initial_margin;
  } else if (m.grid()) {
    // The instrument's gross-delta and minimum-charge terms, old and new (its net found by
    // binary search).
    const Net* x = find_net(a, instrument);
    const double q_old = x == nullptr ? 0.0 : x->q[0] + x->q[k];
    const double q_new = q_old + signed_amount;
    const double d = row[m.ns];
    const double gross = (s ? s->gross[k] : 0.0) - std::fabs(q_old * d) + std::fabs(q_new * d);
    const double floor =
        (s ? s->floor[k] : 0.0) - m.floor_of(instrument, q_old) + m.floor_of(instrument, q_new);
    // The order's strike group, old and new (found by binary search).
    const double strike_short =
        (s ? s->strike_short[k] : 0.0) + strike_change(m, a, instrument, k, signed_amount);
    new_worst = m.grid_charge(ms, sp.underlying, v, net, gross, floor, strike_short);
  } else if (m.cross()) {  // the order's pair recomputed, the others' losses as kept
    new_worst = m.cross_set_loss(a, ms, sp.underlying, k, c, v);
    for (std::size_t u = 0; u < m.P; ++u) {
      if (u != static_cast<std::size_t>(sp.underlying)) {
        new_worst += a.cross_loss[u * kStates + static_cast<std::size_t>(k)];
      }
    }
  } else {
    new_worst = m.slot_worst(ms, c, sp.underlying, v);
  }
  double worst_k = new_worst;
  if (!m.group_level() && !m.cross()) {  // (group-level models and X:PM are done above)
    for (const auto& other : a.slots) {
      if (other.currency == c && &other != s) worst_k += other.worst[k];
    }
  }
  return worst_k;
}

// The roll shock of state k with the order's delta d_new added at its expiry (Deribit only).
inline double order_roll(const PreTradeEngine::Impl& m, const Account& a, const MarketState& ms,
                         std::int32_t instrument, int k, double d_new) noexcept {
  if (!m.pm()) return 0.0;  // only Deribit has a roll shock
  const std::int32_t c = m.spec[static_cast<std::size_t>(instrument)].currency;
  const std::int32_t e = m.expiry_of[static_cast<std::size_t>(instrument)];
  double roll_k = 0.0;
  bool have_expiry = false;
  for (const auto& x : a.expiries) {
    if (x.currency != c && !m.cross()) continue;
    double d = x.d[0] + x.d[k];
    if (x.currency == c && x.expiry == e) {
      d += d_new;
      have_expiry = true;
    }
    roll_k += ms.roll_k[static_cast<std::size_t>(x.currency) * m.n_expiries +
                        static_cast<std::size_t>(x.expiry)] *
              std::fabs(d);
  }
  if (!have_expiry) {
    roll_k += ms.roll_k[static_cast<std::size_t>(c) * m.n_expiries + static_cast<std::size_t>(e)] *
              std::fabs(d_new);
  }
  return roll_k;
}

}  // namespace

CheckResult PreTradeEngine::Impl::check_with(const Account& acct, const MarketState& ms,
                                             const GroupMargin& before, double* rmm,
                                             std::int32_t instrument, Side side,
                                             double amount) const noexcept {
  CheckResult r;
  const Impl& m = *this;
  const Account* a = &acct;
  const InstrumentSpec& sp = m.spec[static_cast<std::size_t>(instrument)];
  const std::int32_t c = sp.currency;
  r.currency = c;
  // The order joins the open orders of its side: that state's RMM is recomputed with one
  // scaled risk row added; the other two are unchanged.
  const int k = side == Side::kBuy ? 1 : 2;
  const double signed_amount = side == Side::kBuy ? amount : -amount;
  const Slot* s = find_slot(*a, c, sp.underlying, m.slot_expiry(instrument));
  const double* row = ms.row(static_cast<std::size_t>(instrument));
  double v[kMaxScenarios];
  for (std::size_t j = 0; j < m.ns; ++j) {
    const double base = s == nullptr ? 0.0
                        : s->ord.empty()
                            ? s->pos[j]
                            : s->pos[j] + s->ord[static_cast<std::size_t>(k - 1) * m.ns + j];
    v[j] = base + signed_amount * row[j];
  }
  // pm_worst skips NaN entries and may credit away a +inf gain: the vector itself must be
  // finite for its worst case to mean anything.
  const bool vector_finite = all_finite(v, m.ns);
  const double d_new = signed_amount * row[m.ns];
  const double net = (s ? s->net_delta[0] + s->net_delta[k] : 0.0) + d_new;
  const double worst_k = order_worst(m, *a, ms, s, instrument, k, signed_amount, v, net);
  const double roll_k = order_roll(m, *a, ms, instrument, k, d_new);
  rmm[k] = (m.pm() ? round9(worst_k) : worst_k) + roll_k;
  // Within the threshold is the positive test (a NaN delta is not within it). Grid models
  // have no threshold: the delta need only be finite.
  const bool within =
      !m.pm() ? std::isfinite(net)
              : std::fabs(net) * ms.delta_usd[static_cast<std::size_t>(sp.underlying)] <=
                    m.cfg.pairs[static_cast<std::size_t>(sp.underlying)]
                        .delta_total_liq_shock_threshold;
  r.im_before = before.initial_margin;
  const double im_after = std::fmax(std::fmax(rmm[0], rmm[1]), std::fmax(rmm[2], 0.0));
  r.im_after = m.pm() ? round9(im_after) : im_after;
  r.mm_before = before.maintenance_margin;
  r.mm_after = before.maintenance_margin;
  r.available_after = before.equity - r.im_after;
  const double figures[] = {before.equity,
                            before.initial_margin,
                            before.maintenance_margin,
                            r.im_after,
                            r.available_after,
                            rmm[0],
                            rmm[1],
                            rmm[2]};
  if (!(vector_finite && all_finite(figures, 8))) {
    r.reason = Reason::kNonFiniteState;
  } else if (!within) {
    r.reason = Reason::kDeltaShockNotModelled;
  } else if (r.available_after >= 0.0) {
    r.accept = true;
  } else {
    r.reason = Reason::kInsufficientFunds;
  }
  return r;
}

namespace internal {

// Creates the slot and the expiry entry of instrument i where missing, each at its place in
// the canonical order ((currency, underlying), (currency, expiry)), so that the layout of an
// account depends only on what it has held, not on the order of events; with room for order
// vectors when `orders`. An insertion moves entries: the cached indices of positions and orders
// are reset (aggregate looks them up again). May allocate (not the check path).
void ensure_entries(const PreTradeEngine::Impl& m, Account& a, std::int32_t i, bool orders) {
  const InstrumentSpec& sp = m.spec[static_cast<std::size_t>(i)];
  const std::int32_t e = m.expiry_of[static_cast<std::size_t>(i)];
  bool moved = false;
  const std::int32_t se = m.slot_expiry(i);
  using Key = std::tuple<std::int32_t, std::int32_t, std::int32_t>;
  const Key key{sp.currency, sp.underlying, se};
  auto s = std::lower_bound(a.slots.begin(), a.slots.end(), key, [](const Slot& x, const Key& y) {
    return Key{x.currency, x.underlying, x.expiry} < y;
  });
  if (s == a.slots.end() || Key{s->currency, s->underlying, s->expiry} != key) {
    s = a.slots.insert(s, Slot{});
    s->currency = sp.currency;
    s->underlying = sp.underlying;
    s->expiry = se;
    moved = true;
  }
  if (orders && s->ord.empty()) s->ord.assign(2 * m.ns, 0.0);
  auto x =
      std::lower_bound(a.expiries.begin(), a.expiries.end(), std::make_pair(sp.currency, e),
                       [](const ExpiryNet& p, const std::pair<std::int32_t, std::int32_t>& q) {
                         return p.currency != q.first ? p.currency < q.first : p.expiry < q.second;
                       });
  if (x == a.expiries.end() || x->currency != sp.currency || x->expiry != e) {
    x = a.expiries.insert(x, ExpiryNet{});
    x->currency = sp.currency;
    x->expiry = e;
    moved = true;
  }
  if (moved) {
    for (Position& p : a.positions) p.slot = p.entry = -1;
    for (Order& o : a.orders) o.slot = o.entry = -1;
  }
  if (m.uses_nets()) {
    auto n = std::lower_bound(a.nets.begin(), a.nets.end(), i,
                              [](const Net& v, std::int32_t y) { return v.instrument < y; });
    if (n == a.nets.end() || n->instrument != i) a.nets.insert(n, Net{i, {0, 0, 0}});
  }
  const std::int32_t g = m.strike_group.empty() ? -1 : m.strike_group[static_cast<std::size_t>(i)];
  if (g >= 0) {
    auto t = std::lower_bound(a.strikes.begin(), a.strikes.end(), g,
                              [](const Net& v, std::int32_t y) { return v.instrument < y; });
    if (t == a.strikes.end() || t->instrument != g) a.strikes.insert(t, Net{g, {0, 0, 0}});
  }
}

}  // namespace internal

namespace {

// Adds the term of a position or order appended last to the account (state k: 0 positions,
// 1 buy orders, 2 sell orders): aggregate() sums each vector, delta and mark value in stored
// order, so adding the last term to the current sums gives the recompute's bits exactly.
// Entries must exist (ensure_entries) and caches be valid or -1.
void append_term(const PreTradeEngine::Impl& m, Account& a, const MarketState& ms, std::int32_t i,
                 int k, double amount) noexcept {
  const InstrumentSpec& sp = m.spec[static_cast<std::size_t>(i)];
  Slot* s = find_slot(a, sp.currency, sp.underlying, m.slot_expiry(i));
  ExpiryNet* x = find_expiry(a, sp.currency, m.expiry_of[static_cast<std::size_t>(i)]);
  const double* r = ms.row(static_cast<std::size_t>(i));
  m.axpy(m.ns, amount, r, s->state(k, m.ns));
  const double d = amount * r[m.ns];
  s->net_delta[k] += d;
  x->d[k] += d;
  if (k == 0)
    a.mark[static_cast<std::size_t>(sp.currency)] += amount * ms.value(static_cast<std::size_t>(i));
  a.gross += std::fabs(amount);
  if (m.uses_nets()) {
    find_net(a, i)->q[k] += amount;  // last in stored order, as aggregate() sums
    m.refresh_net_terms(a, ms, *s);
  }
  m.refresh_slot(ms, *s);
  m.refresh_group(a, ms, sp.currency);
}

// Recomputes what the open orders of side state k (1 buy, 2 sell) contribute in currency c of
// instrument i: i's slot's order vector and net delta, and every (c, expiry) entry's delta,
// from the orders in stored order (as aggregate() does; the other slots' vectors for state k
// hold no term of an order of i's slot). The positions are not touched: O(orders) after a
// cancel.
void recompute_orders(const PreTradeEngine::Impl& m, Account& a, const MarketState& ms,
                      std::int32_t i, int k) noexcept {
  const std::int32_t c = m.spec[static_cast<std::size_t>(i)].currency;
  const std::int32_t u = m.spec[static_cast<std::size_t>(i)].underlying;
  const std::int32_t e = m.slot_expiry(i);
  Slot* s = find_slot(a, c, u, e);
  std::fill(s->ord.begin() + static_cast<std::ptrdiff_t>((k - 1) * m.ns),
            s->ord.begin() + static_cast<std::ptrdiff_t>(k * m.ns), 0.0);
  s->net_delta[k] = 0.0;
  for (ExpiryNet& x : a.expiries) {
    if (x.currency == c) x.d[k] = 0.0;
  }
  const Side side = k == 1 ? Side::kBuy : Side::kSell;
  if (m.uses_nets()) {
    for (Net& x : a.nets) {
      const InstrumentSpec& sp = m.spec[static_cast<std::size_t>(x.instrument)];
      if (sp.currency == c && sp.underlying == u && m.slot_expiry(x.instrument) == e) x.q[k] = 0.0;
    }
  }
  double gross = 0.0;
  for (const Position& p : a.positions) gross += std::fabs(p.amount);
  for (const Order& o : a.orders) {
    gross += o.remaining;
    const InstrumentSpec& sp = m.spec[static_cast<std::size_t>(o.instrument)];
    if (o.side != side || sp.currency != c) continue;
    const double amount = side == Side::kBuy ? o.remaining : -o.remaining;
    const double* r = ms.row(static_cast<std::size_t>(o.instrument));
    const double d = amount * r[m.ns];
    if (sp.underlying == u && m.slot_expiry(o.instrument) == e) {
      m.axpy(m.ns, amount, r, s->state(k, m.ns));
      s->net_delta[k] += d;
      if (m.uses_nets()) find_net(a, o.instrument)->q[k] += amount;
    }
    find_expiry(a, c, m.expiry_of[static_cast<std::size_t>(o.instrument)])->d[k] += d;
  }
  a.gross = gross;
  if (m.uses_nets()) m.refresh_net_terms(a, ms, *s);
  m.refresh_slot(ms, *s);
  m.refresh_group(a, ms, c);
}

// The same for the positions (state 0) in currency c of instrument i: i's slot's position
// vector and net delta, every (c, expiry) entry's position delta and the currency's mark
// value, from the positions in stored order. O(positions) after a fill changed one in place.
void recompute_positions(const PreTradeEngine::Impl& m, Account& a, const MarketState& ms,
                         std::int32_t i) noexcept {
  const std::int32_t c = m.spec[static_cast<std::size_t>(i)].currency;
  const std::int32_t u = m.spec[static_cast<std::size_t>(i)].underlying;
  const std::int32_t e = m.slot_expiry(i);
  Slot* s = find_slot(a, c, u, e);
  std::fill(s->pos.begin(), s->pos.begin() + static_cast<std::ptrdiff_t>(m.ns), 0.0);
  s->net_delta[0] = 0.0;
  for (ExpiryNet& x : a.expiries) {
    if (x.currency == c) x.d[0] = 0.0;
  }
  const auto ci = static_cast<std::size_t>(c);
  a.mark[ci] = 0.0;
  double gross = 0.0;
  if (m.uses_nets()) {
    for (Net& x : a.nets) {
      const InstrumentSpec& sp = m.spec[static_cast<std::size_t>(x.instrument)];
      if (sp.currency == c && sp.underlying == u && m.slot_expiry(x.instrument) == e) x.q[0] = 0.0;
    }
  }
  for (const Position& p : a.positions) {
    gross += std::fabs(p.amount);
    const InstrumentSpec& sp = m.spec[static_cast<std::size_t>(p.instrument)];
    if (sp.currency != c) continue;
    const double* r = ms.row(static_cast<std::size_t>(p.instrument));
    const double d = p.amount * r[m.ns];
    if (sp.underlying == u && m.slot_expiry(p.instrument) == e) {
      m.axpy(m.ns, p.amount, r, s->pos.data());
      s->net_delta[0] += d;
      if (m.uses_nets()) find_net(a, p.instrument)->q[0] = p.amount;
    }
    find_expiry(a, c, m.expiry_of[static_cast<std::size_t>(p.instrument)])->d[0] += d;
    a.mark[ci] += p.amount * ms.value(static_cast<std::size_t>(p.instrument));
  }
  for (const Order& o : a.orders) gross += o.remaining;
  a.gross = gross;
  if (m.uses_nets()) m.refresh_net_terms(a, ms, *s);
  m.refresh_slot(ms, *s);
  m.refresh_group(a, ms, c);
}

}  // namespace

Reason PreTradeEngine::add_order(std::int64_t account, std::int64_t order_id,
                                 std::int32_t instrument, Side side, double amount) noexcept {
  Impl& m = *impl_;
  Account* a = m.live(account);
  if (a == nullptr) return Reason::kUnknownAccount;
  if (instrument < 0 || static_cast<std::size_t>(instrument) >= m.spec.size()) {
    return Reason::kUnknownInstrument;
  }
  if (!finite_positive(amount)) return Reason::kBadSize;
  if (order_id < 0) return Reason::kUnknownOrder;
  Guard guard(a->lock);
  for (const Order& o : a->orders) {
    if (o.id == order_id) return Reason::kDuplicateOrder;
  }
  const MarketState& ms = *a->state;
  try {
    ensure_entries(m, *a, instrument, true);
    a->orders.push_back({order_id, instrument, side, amount, amount, -1, -1});
  } catch (...) {  // out of memory: the account is left as it was (empty entries add 0)
    m.aggregate(*a, ms);
    return Reason::kBadSize;
  }
  // The order is last in stored order: its term added to the sums is the recompute.
  append_term(m, *a, ms, instrument, side == Side::kBuy ? 1 : 2,
              side == Side::kBuy ? amount : -amount);
  if (!m.finite(*a, ms)) {
    a->orders.pop_back();
    m.aggregate(*a, ms);  // the exact state before: it was the recompute of what is left
    return Reason::kNonFiniteState;
  }
  m.note_extent(*a);
  return Reason::kNone;
}

Reason PreTradeEngine::cancel_order(std::int64_t account, std::int64_t order_id) noexcept {
  Impl& m = *impl_;
  Account* a = m.live(account);
  if (a == nullptr) return Reason::kUnknownAccount;
  Guard guard(a->lock);
  const MarketState& ms = *a->state;
  for (std::size_t k = 0; k < a->orders.size(); ++k) {
    if (a->orders[k].id != order_id) continue;
    const Order o = a->orders[k];
    a->orders.erase(a->orders.begin() + static_cast<std::ptrdiff_t>(k));
    recompute_orders(m, *a, ms, o.instrument, o.side == Side::kBuy ? 1 : 2);
    if (!m.finite(*a, ms)) {  // the sums in a new order could overflow: keep the order
      a->orders.insert(a->orders.begin() + static_cast<std::ptrdiff_t>(k), o);
      m.aggregate(*a, ms);
      return Reason::kNonFiniteState;
    }
    m.note_extent(*a);
    return Reason::kNone;
  }
  return Reason::kUnknownOrder;
}

Reason PreTradeEngine::apply_fill(std::int64_t account, std::int64_t order_id,
                                  std::int32_t instrument, Side side, double amount,
                                  double price) noexcept {
  Impl& m = *impl_;
  Account* a = m.live(account);
  if (a == nullptr) return Reason::kUnknownAccount;
  if (instrument < 0 || static_cast<std::size_t>(instrument) >= m.spec.size()) {
    return Reason::kUnknownInstrument;
  }
  if (!finite_positive(amount)) return Reason::kBadSize;
  if (!finite_positive(price)) return Reason::kBadPrice;
  Guard guard(a->lock);
  std::size_t order_at = a->orders.size();
  if (order_id >= 0) {
    for (std::size_t k = 0; k < a->orders.size(); ++k) {
      if (a->orders[k].id == order_id) order_at = k;
    }
    if (order_at == a->orders.size() || a->orders[order_at].instrument != instrument ||
        a->orders[order_at].side != side) {
      return Reason::kUnknownOrder;
    }
    const Order& o = a->orders[order_at];
    if (!(amount <= o.remaining + kFillTolerance * o.amount)) return Reason::kBadSize;
  }
  const MarketState& ms = *a->state;
  const InstrumentSpec& sp = m.spec[static_cast<std::size_t>(instrument)];
  const std::size_t c = static_cast<std::size_t>(sp.currency);
  const double q = side == Side::kBuy ? amount : -amount;
  // Cash flow of the fill: premium or price paid in the settlement currency; inverse futures
  // (USD notional) book amount / price coins against their mark value -amount / F.
  const bool inverse_future = sp.kind != 3 && sp.settlement == 1;
  const double flow = inverse_future ? q / price : -q * price;
  const double cash_before = a->cash[c];
  const double cash_after = cash_before + flow;
  if (!(std::isfinite(flow) && std::isfinite(cash_after))) return Reason::kNonFiniteState;
  // Saved for a roll-back: the position's amount (or its absence) and the order.
  std::size_t pos_at = a->positions.size();
  for (std::size_t k = 0; k < a->positions.size(); ++k) {
    if (a->positions[k].instrument == instrument) pos_at = k;
  }
  const bool new_position = pos_at == a->positions.size();
  const double pos_before = new_position ? 0.0 : a->positions[pos_at].amount;
  const bool have_order = order_at < a->orders.size();
  const Order order_before = have_order ? a->orders[order_at] : Order{};
  try {
    ensure_entries(m, *a, instrument, false);
    if (new_position) a->positions.push_back({instrument, 0.0, -1, -1});
  } catch (...) {
    m.aggregate(*a, ms);
    return Reason::kBadSize;
  }
  double after = pos_before + q;
  // Back within rounding of zero is flat (0.3 - 0.1 - 0.2 is not 0 in binary).
  if (std::fabs(after) <= kFillTolerance * std::fmax(std::fabs(pos_before), amount)) after = 0.0;
  a->positions[pos_at].amount = after;
  if (new_position && !have_order) {
    // A new position, appended last: its term added to the sums is the recompute.
    a->cash[c] = cash_after;
    append_term(m, *a, ms, instrument, 0, q);
    if (m.finite(*a, ms)) {
      m.note_extent(*a);
      return Reason::kNone;
    }
    a->cash[c] = cash_before;
    a->positions.erase(a->positions.begin() + static_cast<std::ptrdiff_t>(pos_at));
    m.aggregate(*a, ms);
    return Reason::kNonFiniteState;
  }
  bool erased = false;
  if (have_order) {
    Order& o = a->orders[order_at];
    o.remaining -= amount;
    if (o.remaining <= kFillTolerance * o.amount) {  // complete: fills add up to the order
      a->orders.erase(a->orders.begin() + static_cast<std::ptrdiff_t>(order_at));
      erased = true;
    }
  }
  a->cash[c] = cash_after;
  // Only the fill's slot and currency change: their sums recomputed in stored order.
  recompute_positions(m, *a, ms, instrument);
  if (have_order) recompute_orders(m, *a, ms, instrument, side == Side::kBuy ? 1 : 2);
  if (m.finite(*a, ms)) {
    m.note_extent(*a);
    return Reason::kNone;
  }
  // Roll back: the account is a function of positions, orders and balances.
  a->cash[c] = cash_before;
  if (new_position) {
    a->positions.erase(a->positions.begin() + static_cast<std::ptrdiff_t>(pos_at));
  } else {
    a->positions[pos_at].amount = pos_before;
  }
  if (erased) {
    a->orders.insert(a->orders.begin() + static_cast<std::ptrdiff_t>(order_at), order_before);
  } else if (have_order) {
    a->orders[order_at] = order_before;
  }
  m.aggregate(*a, ms);
  return Reason::kNonFiniteState;
}

Reason PreTradeEngine::deposit(std::int64_t account, std::int32_t currency,
                               double amount) noexcept {
  Impl& m = *impl_;
  Account* a = m.live(account);
  if (a == nullptr) return Reason::kUnknownAccount;
  if (currency < 0 || static_cast<std::size_t>(currency) >= m.cfg.currencies.size()) {
    return Reason::kUnknownInstrument;
  }
  if (!finite_positive(amount)) return Reason::kBadSize;
  Guard guard(a->lock);
  const std::size_t c = static_cast<std::size_t>(currency);
  const MarketState& ms = *a->state;
  const double before = a->collateral[c];
  a->collateral[c] = before + amount;
  if (m.cross()) m.refresh_group(*a, ms, currency);  // X:PM shocks a coin's equity
  if (!m.finite(*a, ms)) {
    a->collateral[c] = before;
    if (m.cross()) m.refresh_group(*a, ms, currency);
    return Reason::kNonFiniteState;
  }
  m.note_extent(*a);
  return Reason::kNone;
}

Reason PreTradeEngine::withdraw(std::int64_t account, std::int32_t currency,
                                double amount) noexcept {
  Impl& m = *impl_;
  Account* a = m.live(account);
  if (a == nullptr) return Reason::kUnknownAccount;
  if (currency < 0 || static_cast<std::size_t>(currency) >= m.cfg.currencies.size()) {
    return Reason::kUnknownInstrument;
  }
  if (!finite_positive(amount)) return Reason::kBadSize;
  Guard guard(a->lock);
  double rmm[kStates];
  if (m.cross()) {
    // X:PM: a coin withdrawn changes the requirement too (its equity is shocked) and its USD
    // value counts net of the haircut: the account after the withdrawal must have
    // available funds >= 0.
    const MarketState& ms = *a->state;
    const auto c = static_cast<std::size_t>(currency);
    const double before = a->collateral[c];
    a->collateral[c] = before - amount;
    m.refresh_group(*a, ms, currency);
    const GroupMargin g = m.group(*a, ms, currency, rmm);
    const bool finite = std::isfinite(a->collateral[c]) && m.finite(*a, ms);
    if (finite && g.available_funds >= 0.0) {
      m.note_extent(*a);
      return Reason::kNone;
    }
    a->collateral[c] = before;
    m.refresh_group(*a, ms, currency);
    return finite ? Reason::kInsufficientFunds : Reason::kNonFiniteState;
  }
  const GroupMargin g = m.group(*a, *a->state, currency, rmm);
  const double left = g.available_funds - amount;
  if (!(std::isfinite(g.equity) && std::isfinite(g.initial_margin) && std::isfinite(left))) {
    return Reason::kNonFiniteState;
  }
  if (!(left >= 0.0)) return Reason::kInsufficientFunds;
  a->collateral[static_cast<std::size_t>(currency)] -= amount;
  m.note_extent(*a);
  return Reason::kNone;
}

Status PreTradeEngine::on_market_update(const std::vector<InstrumentMarket>& market,
                                        const std::vector<double>& index_prices) {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> guard(m.admin);
  std::shared_ptr<MarketState> next;
  Status st = m.build_market(market, index_prices, &next);
  if (!st.ok()) return st;
  const std::size_t used = m.used.load(std::memory_order_acquire);
  // First pass, nothing moved yet: an update under which some account would overflow is
  // refused. The engine-wide bound settles it at once for any sane book; otherwise each
  // account is bounded, and the few that fail the bound are aggregated aside.
  const double g_max = m.max_gross.load(std::memory_order_relaxed);
  const double extent = m.max_balances.load(std::memory_order_relaxed) +
                        4.0 * (g_max * next->max_bound + next->max_quad * g_max * g_max);
  if (!(extent < 1e300)) {
    Account scratch;
    for (std::size_t id = 0; id < used; ++id) {
      const Account& a = m.account(id);
      Guard account_guard(a.lock);
      if (m.surely_finite(a, *next)) continue;
      try {
        scratch.collateral = a.collateral;
        scratch.cash = a.cash;
        scratch.positions = a.positions;
        scratch.orders = a.orders;
        scratch.slots = a.slots;
        scratch.expiries = a.expiries;
        scratch.nets = a.nets;
        scratch.strikes = a.strikes;
      } catch (...) {
        return Status::bad_argument("market", "out of memory checking an account");
      }
      m.aggregate(scratch, *next);
      if (!m.finite(scratch, *next)) {
        return Status::invalid("market", id, "an account's margin would overflow: update refused");
      }
    }
  }
  // Accounts move to the new state one at a time, each under its own lock: a check sees
  // either the old market with the old vectors or the new market with the new ones, never a
  // mix. The old state stays alive (held here) until every account has moved. (A fill landing
  // between the passes that overflows under the new market leaves that account non-finite,
  // which every check and withdrawal refuses.)
  const std::shared_ptr<const MarketState> old = m.market;
  for (std::size_t id = 0; id < used; ++id) {
    // The accounts' heap blocks are scattered: fetch the account record well ahead and its
    // blocks (positions, expiry entries, slots) a few accounts ahead.
    if (id + 8 < used) {
      const char* rec = reinterpret_cast<const char*>(&m.account(id + 8));
      for (std::size_t off = 0; off < sizeof(Account); off += 64) __builtin_prefetch(rec + off);
    }
    if (id + 4 < used) {
      const Account& ahead = m.account(id + 4);
      const char* pos = reinterpret_cast<const char*>(ahead.positions.data());
      const std::size_t bytes = ahead.positions.size() * sizeof(Position);
      for (std::size_t off = 0; off < bytes && off < 1024; off += 64) __builtin_prefetch(pos + off);
      const char* exp = reinterpret_cast<const char*>(ahead.expiries.data());
      const std::size_t exp_bytes = ahead.expiries.size() * sizeof(ExpiryNet);
      for (std::size_t off = 0; off < exp_bytes && off < 512; off += 64)
        __builtin_prefetch(exp + off);
      if (!ahead.slots.empty()) {
        const char* slot = reinterpret_cast<const char*>(ahead.slots.data());
        for (std::size_t off = 0; off < sizeof(Slot); off += 64) __builtin_prefetch(slot + off);
      }
    }
    Account& a = m.account(id);
    Guard account_guard(a.lock);
    m.aggregate(a, *next);
    a.state = next.get();
  }
  m.market = std::move(next);
  return Status::success();
}

GroupMargin PreTradeEngine::margin(std::int64_t account, std::int32_t currency) const noexcept {
  const Impl& m = *impl_;
  const Account* a = m.live(account);
  if (a == nullptr || currency < 0 ||
      static_cast<std::size_t>(currency) >= m.cfg.currencies.size()) {
    return {};
  }
  Guard guard(a->lock);
  double rmm[kStates];
  return m.group(*a, *a->state, currency, rmm);
}

GroupMargin PreTradeEngine::margin_from_scratch(std::int64_t account, std::int32_t currency) const {
  const Impl& m = *impl_;
  const Account* a = m.live(account);
  if (a == nullptr || currency < 0 ||
      static_cast<std::size_t>(currency) >= m.cfg.currencies.size()) {
    return {};
  }
  // The reference computation runs under the account's lock (it reads the market the
  // account is on, which an update may retire as soon as the lock is released).
  Guard guard(a->lock);
  Account fresh;
  fresh.in_use = true;
  fresh.collateral = a->collateral;
  fresh.cash = a->cash;
  fresh.positions = a->positions;
  fresh.orders = a->orders;
  for (Position& p : fresh.positions) p.slot = p.entry = -1;  // the fresh account's own layout
  for (Order& o : fresh.orders) o.slot = o.entry = -1;
  for (const Position& p : fresh.positions) ensure_entries(m, fresh, p.instrument, false);
  for (const Order& o : fresh.orders) ensure_entries(m, fresh, o.instrument, true);
  m.aggregate(fresh, *a->state);
  double rmm[kStates];
  return m.group(fresh, *a->state, currency, rmm);
}

}  // namespace pymargin::engine
