// SPDX-License-Identifier: Apache-2.0
// The pre-trade engine's market state from a snapshot: the instruments' inputs checked, their
// risk rows revalued under the model's scenarios, and the model's per-market terms (roll
// factors, caps and dampeners, standard-margin terms, X:PM coin moves), each row's bound.
// build_market runs the phases below in order; each phase writes its part of the state.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <vector>

#include "pretrade_internal.hpp"

namespace pymargin::engine {

namespace {

using Impl = PreTradeEngine::Impl;

// The instrument columns the revaluation kernel reads: every instrument, or the rows of one
// underlying (then with underlying index 0, for a one-underlying scenario set).
struct Columns {
  std::vector<std::uint8_t> kind, settle, call;
  std::vector<std::int32_t> und;
  std::vector<double> strike, fwd, vol, time, rate;

  void resize(std::size_t n) {
    kind.resize(n), settle.resize(n), call.resize(n), und.resize(n);
    strike.resize(n), fwd.resize(n), vol.resize(n), time.resize(n), rate.resize(n);
  }
  std::size_t size() const noexcept { return kind.size(); }
  kernel::InstrumentView view() const noexcept {
    return {size(),        kind.data(), settle.data(), call.data(), und.data(),
            strike.data(), fwd.data(),  vol.data(),    time.data(), rate.data()};
  }
  // The rows of underlying u.
  std::vector<std::size_t> rows_of(std::size_t u) const {
    std::vector<std::size_t> rows;
    for (std::size_t i = 0; i < size(); ++i) {
      if (static_cast<std::size_t>(und[i]) == u) rows.push_back(i);
    }
    return rows;
  }
  // Those rows as columns of their own, underlying 0.
  Columns subset(const std::vector<std::size_t>& rows) const {
    Columns c;
    c.resize(rows.size());
    for (std::size_t r = 0; r < rows.size(); ++r) {
      const std::size_t i = rows[r];
      c.kind[r] = kind[i], c.settle[r] = settle[i], c.call[r] = call[i], c.und[r] = 0;
      c.strike[r] = strike[i], c.fwd[r] = fwd[i], c.vol[r] = vol[i], c.time[r] = time[i];
      c.rate[r] = rate[i];
    }
    return c;
  }
};

bool is_option(std::uint8_t kind) noexcept {
  return kind == static_cast<std::uint8_t>(kernel::Kind::kOption);
}

// The instruments' columns from the specs and the snapshot, every input checked.
Status instrument_columns(const Impl& m, const std::vector<InstrumentMarket>& in, Columns* c) {
  const std::size_t n = m.spec.size();
  c->resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    const InstrumentSpec& s = m.spec[i];
    c->kind[i] = s.kind;
    c->settle[i] = s.settlement;
    c->call[i] = s.is_call;
    c->und[i] = s.underlying;
    c->strike[i] = s.strike;
    c->fwd[i] = in[i].forward;
    c->vol[i] = in[i].vol;
    c->time[i] = in[i].time;
    c->rate[i] = in[i].rate;
    if (!finite_positive(c->fwd[i])) return Status::invalid("forward", i, "must be > 0");
    if (!(std::isfinite(c->time[i]) && c->time[i] >= 0.0)) {
      return Status::invalid("time", i, "must be finite and >= 0");
    }
    if (!std::isfinite(c->rate[i])) return Status::invalid("rate", i, "not finite");
    if (is_option(s.kind) && !(std::isfinite(c->vol[i]) && c->vol[i] >= 0.0)) {
      return Status::invalid("vol", i, "must be finite and >= 0");
    }
  }
  return Status::success();
}

// Deribit's grid (S:PM and X:PM): scenario j moves every underlying by its own pair's j-th
// move, vol up, unchanged and down within each bucket (the order of deribit_pm), then the
// extended moves with vol up.
void deribit_scenarios(const Impl& m, std::vector<double>* move, std::vector<std::int8_t>* state,
                       std::vector<scenarios::VolShockRule>* rules) {
  const std::size_t P = m.P;
  const int B = m.cfg.buckets;
  for (std::size_t u = 0; u < P; ++u) {
    const PairParams& pp = m.cfg.pairs[u];
    std::size_t j = 0;
    for (int k = -B; k <= B; ++k) {
      for (int vs : {1, 0, -1}) {
        (*move)[j * P + u] = k * pp.price_range / B;
        (*state)[j] = static_cast<std::int8_t>(vs);
        ++j;
      }
    }
    for (double mv : kExtendedMoves) {
      (*move)[j * P + u] = mv;
      (*state)[j] = 1;
      ++j;
    }
    scenarios::VolShockRule& r = (*rules)[u];
    r.kind = scenarios::VolShockKind::kRelative;
    r.range_up = pp.volatility_range_up;
    r.range_down = pp.volatility_range_down;
    r.min_vol_up = pp.min_volatility_for_shock_up;
    r.min_vol_down = 0.0;
    r.short_power = pp.short_term_vega_power;
    r.long_power = pp.long_term_vega_power;
  }
}

// SPAN: per commodity CME's 16 scenarios (price fractions of the scan range with vol up and
// down, the +-2 ranges vol unchanged and weighted), revalued over the look-ahead with the
// options' time decay added (pymargin.models.scan.span16, risk_arrays_for_rows); then the coin
// delta (Black, rate 0, as pymargin.models.span) at the instrument's tier.
Status span_risk(const Impl& m, const Columns& col, std::vector<double>* risk) {
  constexpr double kFractions[14] = {0.0,      0.0,     1.0 / 3, 1.0 / 3,  -1.0 / 3,
                                     -1.0 / 3, 2.0 / 3, 2.0 / 3, -2.0 / 3, -2.0 / 3,
                                     1.0,      1.0,     -1.0,    -1.0};
  constexpr std::size_t kN = models::kSpanScenarios;
  for (std::size_t u = 0; u < m.P; ++u) {
    const SpanCommodityConfig& cc = m.cfg.span.commodities[u];
    const std::vector<std::size_t> rows_u = col.rows_of(u);
    if (rows_u.empty()) continue;
    double moves[kN];
    std::int8_t states[kN];
    for (std::size_t j = 0; j < 14; ++j) {
      moves[j] = kFractions[j] * cc.price_scan;
      states[j] = static_cast<std::int8_t>(j % 2 == 0 ? 1 : -1);
    }
    moves[14] = 2.0 * cc.price_scan;
    moves[15] = -2.0 * cc.price_scan;
    states[14] = states[15] = 0;
    scenarios::VolShockRule rule;
    rule.kind = scenarios::VolShockKind::kAdditive;
    rule.range_up = cc.vol_scan;
    rule.range_down = cc.vol_scan;
    const double la = cc.look_ahead_days / 365.0;
    Columns sub = col.subset(rows_u);
    for (std::size_t r = 0; r < sub.size(); ++r) {  // options one look-ahead closer to expiry
      if (is_option(sub.kind[r])) sub.time[r] = std::fmax(sub.time[r] - la, 0.0);
    }
    std::vector<double> block(sub.size() * kN);
    scenarios::ScenarioView sv{kN, 1, moves, states, &rule};
    Status st = kernel::revalue(sub.view(), sv, block.data(), 1);
    if (!st.ok()) return st;
    for (std::size_t r = 0; r < sub.size(); ++r) {
      const std::size_t i = rows_u[r];
      const InstrumentSpec& sp = m.spec[i];
      double decay = 0.0;
      double delta = 1.0;
      if (is_option(sp.kind)) {
        const auto type = sp.is_call ? pricing::OptionType::kCall : pricing::OptionType::kPut;
        const double f = col.fwd[i], v = col.vol[i], t = col.time[i], rt = col.rate[i];
        decay = pricing::black76_price(f, sp.strike, sub.time[r], v, rt, type) -
                pricing::black76_price(f, sp.strike, t, v, rt, type);
        delta = pricing::black76_greeks(f, sp.strike, t, v, 0.0, type).delta_forward;
      }
      double* row = risk->data() + i * m.ns;
      for (std::size_t j = 0; j < kN; ++j) {
        row[j] = (block[r * kN + j] + decay) * (j >= 14 ? cc.extreme_weight : 1.0);
      }
      std::size_t t = 0;
      if (sp.expiry_id >= 0) {
        t = static_cast<std::size_t>(
            std::lower_bound(cc.tier_days.begin(), cc.tier_days.end(), col.time[i] * 365.0) -
            cc.tier_days.begin());
      }
      row[kN + t] = delta;
    }
  }
  return Status::success();
}

// The Greek-netting model: per underlying its instruments revalued at +-its delta risk weight
// (vol unchanged), the last two entries of the row; then the delta (USD) and the weighted
// vega in its tenor bucket.
Status sensitivity_risk(const Impl& m, const Columns& col, std::vector<double>* risk) {
  const SensitivityConfig& sc = m.cfg.sensitivity;
  const std::size_t nb = sc.bucket_days.size();
  const std::size_t ns = m.ns;
  for (std::size_t u = 0; u < m.P; ++u) {
    const std::vector<std::size_t> rows_u = col.rows_of(u);
    if (rows_u.empty()) continue;
    const Columns sub = col.subset(rows_u);
    std::vector<double> block(sub.size() * 2);
    const double moves[2] = {sc.delta_rw[u], -sc.delta_rw[u]};
    const std::int8_t states[2] = {0, 0};
    const scenarios::VolShockRule unchanged{};
    scenarios::ScenarioView sv{2, 1, moves, states, &unchanged};
    Status st = kernel::revalue(sub.view(), sv, block.data(), 1);
    if (!st.ok()) return st;
    for (std::size_t r = 0; r < sub.size(); ++r) {
      (*risk)[rows_u[r] * ns + nb + 1] = block[r * 2];
      (*risk)[rows_u[r] * ns + nb + 2] = block[r * 2 + 1];
    }
  }
  for (std::size_t i = 0; i < col.size(); ++i) {
    const InstrumentSpec& sp = m.spec[i];
    const auto u = static_cast<std::size_t>(sp.underlying);
    double* row = risk->data() + i * ns;
    if (is_option(sp.kind)) {
      const auto type = sp.is_call ? pricing::OptionType::kCall : pricing::OptionType::kPut;
      const pricing::Greeks g = pricing::black76_greeks(col.fwd[i], sp.strike, col.time[i],
                                                        col.vol[i], col.rate[i], type);
      row[0] = g.delta_forward * col.fwd[i];
      const double days = col.time[i] * 365.0;
      std::size_t b = static_cast<std::size_t>(
          std::lower_bound(sc.bucket_days.begin(), sc.bucket_days.end(), days) -
          sc.bucket_days.begin());
      b = std::min(b, nb - 1);
      // vega per vol point x 100 x vol, weighted (pymargin.models.delta_margin)
      row[1 + b] = sc.vega_rw[u] * (g.vega / 100.0) * 100.0 * col.vol[i];
    } else {
      row[0] = col.fwd[i];  // delta 1 of a linear future, in USD
    }
  }
  return Status::success();
}

// A grid venue: each underlying has its own scenarios (and vol states), its instruments
// revalued over them, the padding entries (weight 0) left at 0.
Status grid_risk(const Impl& m, const Columns& col, std::vector<double>* risk) {
  for (std::size_t u = 0; u < m.P; ++u) {
    const GridAsset& ga = m.cfg.grid.assets[u];
    const std::vector<std::size_t> rows_u = col.rows_of(u);
    if (rows_u.empty()) continue;
    const Columns sub = col.subset(rows_u);
    const std::size_t nu = ga.moves.size();
    std::vector<double> block(sub.size() * nu, 0.0);
    scenarios::ScenarioView sv{nu, 1, ga.moves.data(), ga.vol_states.data(), &ga.vol_rule};
    Status st = kernel::revalue(sub.view(), sv, block.data(), 1);
    if (!st.ok()) return st;
    for (std::size_t r = 0; r < sub.size(); ++r) {
      std::copy(block.begin() + static_cast<std::ptrdiff_t>(r * nu),
                block.begin() + static_cast<std::ptrdiff_t>((r + 1) * nu),
                risk->begin() + static_cast<std::ptrdiff_t>(rows_u[r] * m.ns));
    }
  }
  return Status::success();
}

// Each instrument's row of the state: its risk row per unit amount (inverse futures per USD
// notional; X:PM coin rows in USD at the scenario's price; S:PM's extended entries scaled),
// then its forward delta and its value.
void fill_rows(const Impl& m, const Columns& col, const std::vector<double>& risk,
               const std::vector<double>& move, const std::vector<double>& index, MarketState* ms) {
  const std::size_t n = col.size(), ns = m.ns, P = m.P;
  ms->stride = ns + 2;
  ms->rows.assign(n * ms->stride, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    const InstrumentSpec& s = m.spec[i];
    const bool inverse = s.settlement == 1;
    const bool option = is_option(s.kind);
    const double f = col.fwd[i];
    double* row = ms->rows.data() + i * ms->stride;
    std::copy(risk.begin() + static_cast<std::ptrdiff_t>(i * ns),
              risk.begin() + static_cast<std::ptrdiff_t>((i + 1) * ns), row);
    // Inverse futures and perpetuals are counted in USD notional: per USD, 1/F coin.
    const double unit = (!option && inverse) ? 1.0 / f : 1.0;
    for (std::size_t j = 0; j < ns; ++j) row[j] *= unit;
    if (m.cross() && !m.cfg.currencies[static_cast<std::size_t>(s.currency)].usd_settled) {
      // X:PM: a coin P&L in USD at the scenario's shocked index price
      const auto u = static_cast<std::size_t>(s.underlying);
      for (std::size_t j = 0; j < ns; ++j) row[j] *= index[u] * (1.0 + move[j * P + u]);
    }
    for (std::size_t k = 0; k < 8 && m.pm(); ++k) {
      const PairParams& pp = m.cfg.pairs[static_cast<std::size_t>(s.underlying)];
      const double mv = kExtendedMoves[k];
      double scale = pp.extended_table_factor * pp.price_range / std::fabs(mv);
      // S:PM's inverse rows are coin: scaled to the edge price (X:PM's rows are USD)
      if (inverse && !m.cross()) scale *= (1.0 + mv) / (1.0 + std::copysign(pp.price_range, mv));
      row[m.n_std + k] *= scale;
    }
    if (option) {
      const auto type = s.is_call ? pricing::OptionType::kCall : pricing::OptionType::kPut;
      const double t = col.time[i], v = col.vol[i], r = col.rate[i];
      const pricing::Greeks g = pricing::black76_greeks(f, s.strike, t, v, r, type);
      row[ns] = g.delta_forward;
      row[ns + 1] = inverse ? pricing::inverse_price(f, s.strike, t, v, r, type) : g.price;
    } else {
      row[ns] = inverse ? 1.0 / f : 1.0;
      row[ns + 1] = inverse ? -1.0 / f : f;
    }
  }
}

// Standard margin: each instrument's terms (a mark where the snapshot gives none is the
// model's value), its coins per unit amount, and the largest quadratic term.
Status standard_terms(const Impl& m, const std::vector<InstrumentMarket>& in, const Columns& col,
                      const std::vector<double>& index, MarketState* ms) {
  const std::size_t n = col.size();
  ms->standard.assign(n, models::StandardPosition{});
  ms->coins.assign(n, 1.0);
  for (std::size_t i = 0; i < n; ++i) {
    const InstrumentSpec& sp = m.spec[i];
    const StandardTerms& t = sp.standard;
    const auto u = static_cast<std::size_t>(sp.underlying);
    models::StandardPosition& p = ms->standard[i];
    p.rule = t.rule == 0 ? models::StandardRule::kSizeScaled : models::StandardRule::kInverseOption;
    p.im_base = t.im_base;
    p.im_per_unit = t.im_per_unit;
    p.mm_base = t.mm_base;
    p.mm_per_unit = t.mm_per_unit;
    p.price = t.price_at_index ? index[u] : 1.0;
    p.im_otm_base = t.im_otm_base;
    p.im_floor = t.im_floor;
    p.mm = t.mm;
    p.call = sp.is_call != 0;
    p.strike = sp.strike;
    p.index = index[u];
    if (t.rule == 1) {
      const double given = in[i].mark;
      if (std::isnan(given)) {
        const auto type = sp.is_call ? pricing::OptionType::kCall : pricing::OptionType::kPut;
        p.mark = pricing::inverse_price(col.fwd[i], sp.strike, col.time[i], col.vol[i], col.rate[i],
                                        type);
      } else if (std::isfinite(given) && given >= 0.0) {
        p.mark = given;
      } else {
        return Status::invalid("mark", i, "must be finite and >= 0 (NaN: the model's value)");
      }
    }
    const bool inverse_future = sp.kind != 3 && sp.settlement == 1;
    ms->coins[i] = inverse_future ? 1.0 / col.fwd[i] : 1.0;
    Status st = models::check_standard_position(p, i);
    if (!st.ok()) return st;
    const double c = ms->coins[i];
    ms->max_quad = std::fmax(ms->max_quad, (p.im_per_unit + p.mm_per_unit) * p.price * c * c);
  }
  if (!std::isfinite(ms->max_quad)) return Status::invalid("market", 0, "rates overflow");
  return Status::success();
}

// Deribit's roll factor per (currency, expiry), and the gain caps and extended dampeners per
// (currency, underlying), in each group's money.
void roll_caps_dampeners(const Impl& m, const Columns& col, const std::vector<double>& index,
                         MarketState* ms) {
  const std::size_t C = m.cfg.currencies.size(), P = m.P, ne = m.n_expiries;
  ms->roll_k.assign(C * ne, 0.0);
  std::vector<double> t_exp(ne, 0.0);
  std::vector<std::int32_t> u_exp(ne, 0);
  for (std::size_t i = 0; i < col.size(); ++i) {
    t_exp[static_cast<std::size_t>(m.expiry_of[i])] = m.spec[i].expiry_id < 0 ? 0.0 : col.time[i];
    u_exp[static_cast<std::size_t>(m.expiry_of[i])] = m.spec[i].underlying;
  }
  for (std::size_t c = 0; c < C && m.pm(); ++c) {
    const CurrencyParams& cp = m.cfg.currencies[c];
    for (std::size_t e = 0; e < ne; ++e) {
      const double k = std::fmax(cp.min_annualised_move,
                                 std::fabs(std::expm1(cp.annualised_move_risk * t_exp[e])));
      ms->roll_k[c * ne + e] =
          k * (cp.usd_settled || m.cross() ? index[static_cast<std::size_t>(u_exp[e])] : 1.0);
    }
  }
  ms->cap.assign(C * P, 0.0);
  ms->damp.assign(C * P * 8, 0.0);
  for (std::size_t c = 0; c < C && m.pm(); ++c) {
    const CurrencyParams& cp = m.cfg.currencies[c];
    const bool in_usd = cp.usd_settled || m.cross();  // X:PM: every group in USD
    for (std::size_t u = 0; u < P; ++u) {
      const PairParams& pp = m.cfg.pairs[u];
      const double to_settle = in_usd ? 1.0 : 1.0 / index[u];
      ms->cap[c * P + u] = cp.max_offsetable_pnl * to_settle;
      for (std::size_t k = 0; k < 8; ++k) {
        const double mv = kExtendedMoves[k];
        // The dampener is USD: a coin group converts it at the move's edge price
        // ((1 + sign(M) range) x index, Deribit's coin formula); a USD group takes it as is
        // (pymargin.models.deribit_pm.extended_dampeners says why).
        const double usd = (std::fabs(mv) / pp.price_range - 1.0) * cp.extended_dampener;
        ms->damp[(c * P + u) * 8 + k] =
            in_usd ? usd : usd / ((1.0 + std::copysign(pp.price_range, mv)) * index[u]);
      }
    }
  }
}

// X:PM: the USD move of one coin of equity per scenario, each currency's USD price, and the
// scale that bounds a coin unit's value and move.
Status cross_moves(const Impl& m, const std::vector<double>& move, const std::vector<double>& index,
                   MarketState* ms) {
  const std::size_t C = m.cfg.currencies.size(), P = m.P, ns = m.ns;
  ms->coin_move.assign(P * ns, 0.0);
  double widest = 0.0;
  for (std::size_t u = 0; u < P; ++u) {
    const PairParams& pp = m.cfg.pairs[u];
    for (std::size_t j = 0; j < ns; ++j) {
      const double mv = move[j * P + u];
      const double scale =
          j < m.n_std ? 1.0 : pp.extended_table_factor * pp.price_range / std::fabs(mv);
      ms->coin_move[u * ns + j] = index[u] * mv * scale;
      widest = std::fmax(widest, std::fabs(ms->coin_move[u * ns + j]));
    }
  }
  ms->coin_price.assign(C, 1.0);
  double dearest = 1.0;
  for (std::size_t c = 0; c < C; ++c) {
    const std::int32_t u = m.cfg.currencies[c].coin_underlying;
    if (u >= 0) ms->coin_price[c] = index[static_cast<std::size_t>(u)];
    dearest = std::fmax(dearest, ms->coin_price[c]);
  }
  // a coin unit of any balance or mark value is worth at most `dearest` USD and moves at
  // most `widest` USD in a scenario
  ms->cross_scale = 1.0 + dearest + widest;
  if (!std::isfinite(ms->cross_scale)) {
    return Status::invalid("index_prices", 0, "a coin's scenario moves are not finite");
  }
  return Status::success();
}

// Every row finite (a subnormal forward makes 1/F overflow), and its bound (see
// surely_finite); the roll factors, dampeners and caps finite.
Status bounds(const Impl& m, const std::vector<double>& index, MarketState* ms) {
  const std::size_t n = m.spec.size(), ns = m.ns;
  double max_roll = 0.0;
  for (double k : ms->roll_k) max_roll = std::fmax(max_roll, k);
  ms->bound.assign(n, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    const double* row = ms->row(i);
    double b = 0.0;
    for (std::size_t j = 0; j < ns + 2; ++j) {
      if (!std::isfinite(row[j])) {
        return Status::invalid("market", i, "the instrument's risk row is not finite");
      }
      b = std::fmax(b, std::fabs(row[j]));
    }
    b = std::fmax(b, std::fabs(row[ns]) * max_roll);
    if (m.grid()) {  // weighted entries, the minimum delta and the minimum charges
      const auto u = static_cast<std::size_t>(m.spec[i].underlying);
      const GridAsset& ga = m.cfg.grid.assets[u];
      double w = 1.0;
      for (std::size_t j = 0; j < ns; ++j) w = std::fmax(w, m.weight[u * ns + j]);
      b *= w;
      b = std::fmax(b, std::fabs(row[ns]) * index[u] * (ga.unhedged_delta + ga.hedged_delta));
      b = std::fmax(b, std::fmax(m.spec[i].floor_long, m.spec[i].floor_short));
      b += m.spec[i].strike_floor * index[u];  // the short-option floor adds to the charge
      if (!std::isfinite(b))
        return Status::invalid("market", i, "the instrument's terms are not finite");
    }
    if (m.derive()) {  // an expiry's P&L (discounted, damped), the basis, the contingencies
      const models::DeriveParams& q = m.dparams;
      double smax = 1.0, dmax = 1.0, bmax = 0.0;
      for (std::size_t s = 0; s < q.n_scenarios; ++s) {
        dmax = std::fmax(dmax, std::fabs(q.scenarios[s].dampening));
      }
      for (std::size_t e = 0; e < ms->derive_terms.size(); ++e) {
        const models::DeriveExpiryTerms& t = ms->derive_terms[e];
        smax = std::fmax(smax, std::fmax(std::fabs(t.static_pos), std::fabs(t.static_neg)));
        bmax = std::fmax(bmax, std::fabs(q.basis_add) + std::fabs(q.basis_mult) *
                                                            ms->derive_expiry[e].seconds /
                                                            31'536'000.0);
      }
      const double factor = 1.0 + std::fabs(q.im_factor) + std::fabs(q.mm_factor) +
                            std::fabs(q.peg_loss_threshold * q.peg_loss_factor);
      const double rates = std::fabs(q.mm_perp) + std::fabs(q.im_perp) + std::fabs(q.mm_option) +
                           std::fabs(q.im_option);
      const auto u = static_cast<std::size_t>(m.spec[i].underlying);
      b = (b * ((smax + 1.0) * dmax + 2.0 * bmax) + index[u] * rates) * factor;
      if (!std::isfinite(b))
        return Status::invalid("market", i, "the instrument's terms are not finite");
    }
    if (m.standard()) {  // the linear part of a term per unit amount (the quadratic: max_quad)
      const models::StandardPosition& p = ms->standard[i];
      const double lin =
          p.rule == models::StandardRule::kSizeScaled
              ? (p.im_base + p.mm_base) * p.price
              : 2.0 * (std::fmax(p.im_otm_base, p.im_floor) + p.mm + p.mark) + p.mm * p.mark;
      b = std::fmax(b, lin * ms->coins[i]);
      if (!std::isfinite(b))
        return Status::invalid("market", i, "the instrument's terms are not finite");
    }
    ms->bound[i] = b;
    ms->max_bound = std::fmax(ms->max_bound, ms->bound[i]);
  }
  for (double k : ms->roll_k) {
    if (!std::isfinite(k)) return Status::invalid("time", 0, "roll factor not finite");
  }
  for (double x : ms->damp) {
    if (!std::isfinite(x)) return Status::invalid("index_prices", 0, "dampener not finite");
  }
  for (double x : ms->cap) {
    if (!std::isfinite(x)) return Status::invalid("index_prices", 0, "gain cap not finite");
  }
  return Status::success();
}

}  // namespace

Status PreTradeEngine::Impl::build_market(const std::vector<InstrumentMarket>& in,
                                          const std::vector<double>& index,
                                          std::shared_ptr<MarketState>* out) const {
  const std::size_t n = spec.size();
  if (in.size() != n) return Status::bad_argument("market", "one entry per instrument");
  if (index.size() != P) return Status::bad_argument("index_prices", "one per underlying");
  for (std::size_t u = 0; u < P; ++u) {
    if (!finite_positive(index[u])) return Status::invalid("index_prices", u, "must be > 0");
  }
  auto ms = std::make_shared<MarketState>();
  ms->n = n;
  ms->ns = ns;
  ms->inputs = in;
  ms->index = index;
  Columns col;
  Status st = instrument_columns(*this, in, &col);
  if (!st.ok()) return st;
  // The instruments' risk rows under the model's scenarios.
  std::vector<double> move(ns * P);
  std::vector<double> risk(n * ns, 0.0);
  if (pm()) {
    std::vector<std::int8_t> state(ns);
    std::vector<scenarios::VolShockRule> rules(P);
    deribit_scenarios(*this, &move, &state, &rules);
    scenarios::ScenarioView sv{ns, P, move.data(), state.data(), rules.data()};
    st = kernel::revalue(col.view(), sv, risk.data(), 1);
  } else if (span()) {
    st = span_risk(*this, col, &risk);
  } else if (sensitivity()) {
    st = sensitivity_risk(*this, col, &risk);
  } else if (grid()) {
    st = grid_risk(*this, col, &risk);
  } else if (derive()) {
    st = derive_market(in, ms.get(), &risk);
  }
  if (!st.ok()) return st;
  fill_rows(*this, col, risk, move, index, ms.get());
  if (derive()) {  // an option's value is the model's mark (its delta is not used)
    for (std::size_t i = 0; i < n; ++i) {
      if (spec[i].kind != 3) continue;
      double* row = ms->rows.data() + i * ms->stride;
      row[ns] = 0.0;
      row[ns + 1] = row[dparams.n_scenarios];
    }
  }
  if (standard()) {
    st = standard_terms(*this, in, col, index, ms.get());
    if (!st.ok()) return st;
  }
  roll_caps_dampeners(*this, col, index, ms.get());
  ms->delta_usd = index;
  if (cross()) {
    st = cross_moves(*this, move, index, ms.get());
    if (!st.ok()) return st;
  }
  st = bounds(*this, index, ms.get());
  if (!st.ok()) return st;
  *out = std::move(ms);
  return Status::success();
}

}  // namespace pymargin::engine
