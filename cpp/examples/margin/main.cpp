// SPDX-License-Identifier: Apache-2.0
// A standalone consumer of the installed pymargin C++ package: margins a USDC-settled BTC book
// (a short call spread and a perpetual hedge) under every margin model of the core, with no
// Python. For the grid models the scenario grid is revalued by the kernel, the positions summed
// into the group's P&L vector, and the model applied with the venue's parameters filled in
// here; the other models get their inputs (sensitivities, per-position terms) the same way.
// Finally the pre-trade engine carries the same book under the Paradex grid, and its IM must
// equal the Paradex figure computed directly (the program fails otherwise).
//
// Parameters, copied from pymargin's dated parameter files (and, for the way each model's
// inputs are assembled, from the Python module named with it):
//   Paradex PM, pymargin/data/models/paradex_pm/2026-04.json (BTC): 24 scenarios, vol shock
//     +40 % / -22 % relative with a 40 % floor on the shocked-up vol, tail weights, minimum
//     delta factors 2 % unhedged and 1 % hedged, MMR 50 % of IMR.
//   FINRA 4210(g) / Cboe portfolio margin: +-15 % in 10 points, vol unchanged, at least
//     0.375 per contract (multiplier 1).
//   Deribit portfolio margin (S:PM) of a USDC margin group, pymargin/data/models/deribit_pm/
//     2024-06-17.json: 4 buckets of the +-16 % price range with vol up / unchanged / down
//     (vol shock +50 % / -25 % relative, floor 50 % on the shocked-up vol), 8 extended moves
//     (vol up) scaled by range / |M|, the extended dampener, no gain credit, the roll shock
//     (floor 1 %), IM rounded to 1e-9, MM 80 % of the requirement. The USDC group's currency
//     parameters (annualised move 10 %, dampener 25,000 USD) are the file's "usd" block.
//   Deribit cross portfolio margin (X:PM), the same file, assembled as
//     pymargin/models/deribit_xpm.py does: one group per (pair, currency) in USD, one set per
//     pair. The USDC group is the S:PM group above; a BTC collateral balance is a second group
//     of the btc_usd set, moving by balance x index x move ("btc" block: equity_side_impact
//     "both", pnl_offset 0, max_offsetable_pnl 0, extended dampener 100,000 USD, haircut 0,
//     which reduces the collateral's value in the margin balance, not the requirement).
//   SPAN-16 (CME classic), scenarios of pymargin/models/scan.py (span16): 0, +-1/3, +-2/3, +-1
//     price scan range with vol up and down, then +-2 ranges with vol unchanged counted at
//     35 %; additive vol shock; risk arrays over a one-day look-ahead with the time decay
//     (pymargin/models/span.py). No exchange publishes SPAN parameters for crypto and pymargin
//     ships none: the BTC_USD set of tests/models/test_span.py (DOC) is used, price scan 20 %, vol
//     scan 10 points, tiers up to 30 / 120 / beyond days, intra-commodity rates in priority
//     order (1,2) 300, (0,1) 500, (0,2) 700 USD per delta, short option minimum 100 USD.
//   Deribit standard margin, pymargin/data/models/deribit_standard/2025-12-01.json (rules as
//     pymargin/models/deribit_standard.py fills them): BTC_USDC perpetual IM 2 % + 0.005 % per
//     BTC, MM 1 % + 0.005 % per BTC, at the index; inverse BTC options IM max(15 % - OTM/S,
//     10 %) + mark, MM 7.5 % + mark; inverse BTC futures IM 2 % + 0.005 % per BTC, MM 1.5 % +
//     0.005 % per BTC. The options are coin-settled here (the file has no linear options).
//   Greek netting (delta margin), pymargin/data/models/delta_margin/2026-11-26.json (inputs as
//     pymargin/models/delta_margin.py assembles them): delta risk weight 16 % on the USD delta,
//     vega risk weight 50 % on vega x vol per tenor bucket (up to 7, 30, 90, 180 days, beyond;
//     mids 3.5, 18.5, 60, 135, 365 days; correlation exp(-0.5 |ln(T_k / T_l)|)), curvature by
//     revaluation at +-16 % with vol unchanged; IM = MM.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <vector>

#include "pymargin/engine/pretrade.hpp"
#include "pymargin/kernel/revalue.hpp"
#include "pymargin/models/scenario_margin.hpp"
#include "pymargin/models/sensitivity_margin.hpp"
#include "pymargin/models/span.hpp"
#include "pymargin/models/standard_margin.hpp"
#include "pymargin/pricing/black.hpp"
#include "pymargin/scenarios/scenario_set.hpp"

namespace {

namespace pe = pymargin::engine;
namespace pk = pymargin::kernel;
namespace pmm = pymargin::models;
namespace pp = pymargin::pricing;
namespace ps = pymargin::scenarios;

struct Book {
  std::vector<std::uint8_t> kind, settlement, is_call;
  std::vector<std::int32_t> underlying;
  std::vector<double> strike, forward, vol, time, rate, size;
};

bool report(const pymargin::Status& st) {
  if (st.ok()) return true;
  std::fprintf(stderr, "error: %s[%zu]: %s\n", st.field, st.index, st.message);
  return false;
}

bool accepted(pe::Reason r, const char* what) {
  if (r == pe::Reason::kNone) return true;
  std::fprintf(stderr, "error: %s refused: %s\n", what, pe::reason_text(r));
  return false;
}

pp::OptionType option_type(const Book& b, std::size_t i) {
  return b.is_call[i] ? pp::OptionType::kCall : pp::OptionType::kPut;
}

// Coins of exposure per unit position: 1 for futures and perpetuals, the Black-76 forward
// delta dV/dF for options.
double coin_delta(const Book& b, std::size_t i) {
  if (b.kind[i] != 3) return 1.0;
  return pp::black76_greeks(b.forward[i], b.strike[i], b.time[i], b.vol[i], b.rate[i],
                            option_type(b, i))
      .delta_forward;
}

// The book's P&L per scenario (USD) under a grid of moves and vol states. `decay` (optional,
// one per position) is added to each position's unit P&L in every scenario.
bool scenario_pnl(const Book& b, const std::vector<double>& move,
                  const std::vector<std::int8_t>& state, const ps::VolShockRule& rule,
                  std::vector<double>* pnl, const std::vector<double>* decay = nullptr) {
  const std::size_t n = b.size.size();
  const std::size_t ns = move.size();
  pk::InstrumentView iv{n,
                        b.kind.data(),
                        b.settlement.data(),
                        b.is_call.data(),
                        b.underlying.data(),
                        b.strike.data(),
                        b.forward.data(),
                        b.vol.data(),
                        b.time.data(),
                        b.rate.data()};
  ps::ScenarioView sv{ns, 1, move.data(), state.data(), &rule, nullptr};
  std::vector<double> risk(n * ns);
  if (!report(pk::revalue(iv, sv, risk.data(), 1))) return false;
  pnl->assign(ns, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    const double d = decay != nullptr ? (*decay)[i] : 0.0;
    for (std::size_t j = 0; j < ns; ++j) (*pnl)[j] += b.size[i] * (risk[i * ns + j] + d);
  }
  return true;
}

// --- SPAN-16 ----------------------------------------------------------------------------------
bool span16(const Book& b) {
  const double price_scan = 0.2, vol_scan = 0.1, extreme_weight = 0.35;
  const double look_ahead = 1.0 / 365.0;  // one calendar day, in years
  const double tier_days[2] = {30.0, 120.0};
  const double third = 1.0 / 3.0, two_thirds = 2.0 / 3.0;
  const double fraction[14] = {0.0,    0.0,        third,      third,       -third,
                               -third, two_thirds, two_thirds, -two_thirds, -two_thirds,
                               1.0,    1.0,        -1.0,       -1.0};
  std::vector<double> move, weight;
  std::vector<std::int8_t> state;
  for (std::size_t j = 0; j < 14; ++j) {
    move.push_back(fraction[j] * price_scan);
    state.push_back(static_cast<std::int8_t>(j % 2 == 0 ? 1 : -1));  // vol up, then down
    weight.push_back(1.0);
  }
  for (double m : {2.0 * price_scan, -2.0 * price_scan}) {  // the extreme moves, vol unchanged
    move.push_back(m);
    state.push_back(0);
    weight.push_back(extreme_weight);
  }
  ps::VolShockRule rule;
  rule.kind = ps::VolShockKind::kAdditive;
  rule.range_up = vol_scan;
  rule.range_down = vol_scan;

  // The risk arrays look a day ahead: options revalued one day closer to expiry, and the
  // day's time decay (value then - value now, at today's market) added to every scenario.
  Book later = b;
  std::vector<double> decay(b.size.size(), 0.0);
  for (std::size_t i = 0; i < b.size.size(); ++i) {
    if (b.kind[i] != 3) continue;
    later.time[i] = std::fmax(b.time[i] - look_ahead, 0.0);
    decay[i] = pp::black76_price(b.forward[i], b.strike[i], later.time[i], b.vol[i], b.rate[i],
                                 option_type(b, i)) -
               pp::black76_price(b.forward[i], b.strike[i], b.time[i], b.vol[i], b.rate[i],
                                 option_type(b, i));
  }
  std::vector<double> pnl;
  if (!scenario_pnl(later, move, state, rule, &pnl, &decay)) return false;
  for (std::size_t j = 0; j < pnl.size(); ++j) pnl[j] *= weight[j];

  // Net coin delta per expiry tier (perpetuals in tier 0), and the short options.
  double tier_delta[3] = {0.0, 0.0, 0.0};
  double short_options = 0.0;
  for (std::size_t i = 0; i < b.size.size(); ++i) {
    std::size_t tier = 0;
    if (b.kind[i] != 2) {
      const double days = b.time[i] * 365.0;
      while (tier < 2 && tier_days[tier] < days) ++tier;
    }
    tier_delta[tier] += coin_delta(b, i) * b.size[i];
    if (b.kind[i] == 3 && b.size[i] < 0.0) short_options -= b.size[i];
  }
  const std::int32_t intra_tiers[6] = {1, 2, 0, 1, 0, 2};  // in priority order
  const double intra_rates[3] = {300.0, 500.0, 700.0};
  pmm::SpanCommodity btc;
  btc.pnl = pnl.data();
  btc.tiers = 3;
  btc.tier_delta = tier_delta;
  btc.short_options = short_options;
  btc.short_option_minimum = 100.0;
  btc.intra_pairs = 3;
  btc.intra_tiers = intra_tiers;
  btc.intra_rates = intra_rates;
  pmm::SpanRequirement r;
  if (!report(pmm::span_requirement(&btc, 1, nullptr, 0, &r))) return false;
  std::printf(
      "SPAN-16:    %.2f USD = MM (scan %.2f at scenario %d, intra spread %.2f, price risk "
      "%.2f, time risk %.2f, short option minimum %.2f)\n",
      r.requirement, r.scan_risk, r.worst_scenario + 1, r.intra_charge, r.price_risk, r.time_risk,
      r.short_option_minimum);
  return true;
}

// --- Deribit standard margin -------------------------------------------------------------------
// The book's coin-settled counterpart (the file has no linear options): short 2 / long 2 BTC
// 80,000 / 90,000 calls and short 1 BTC 60,000 put, long 0.4 BTC inverse perpetual (margined in
// BTC), and the long 0.4 BTC_USDC perpetual (margined in USDC).
bool deribit_standard(double spot, double forward, double t) {
  std::vector<pmm::StandardPosition> pos;
  const struct {
    double strike, vol, size;
    bool call;
  } options[3] = {
      {80000.0, 0.52, -2.0, true}, {90000.0, 0.55, 2.0, true}, {60000.0, 0.58, -1.0, false}};
  for (const auto& o : options) {
    pmm::StandardPosition p;
    p.rule = pmm::StandardRule::kInverseOption;
    p.size = o.size;
    p.im_otm_base = 0.15;
    p.im_floor = 0.10;
    p.mm = 0.075;
    p.call = o.call;
    p.strike = o.strike;
    p.index = spot;
    p.mark = pp::inverse_price(forward, o.strike, t, o.vol, 0.0,
                               o.call ? pp::OptionType::kCall : pp::OptionType::kPut);
    pos.push_back(p);
  }
  pmm::StandardPosition inverse_perp;  // size-scaled, in coin (price 1)
  inverse_perp.size = 0.4;
  inverse_perp.im_base = 0.02;
  inverse_perp.im_per_unit = 5e-5;
  inverse_perp.mm_base = 0.015;
  inverse_perp.mm_per_unit = 5e-5;
  pos.push_back(inverse_perp);
  pmm::StandardPosition usdc_perp;  // size-scaled, in USDC at the index
  usdc_perp.size = 0.4;
  usdc_perp.im_base = 0.02;
  usdc_perp.im_per_unit = 5e-5;
  usdc_perp.mm_base = 0.01;
  usdc_perp.mm_per_unit = 5e-5;
  usdc_perp.price = spot;
  pos.push_back(usdc_perp);
  std::vector<pmm::StandardMargin> m(pos.size());
  if (!report(pmm::standard_margin(pos.data(), pos.size(), m.data()))) return false;
  double btc_im = 0.0, btc_mm = 0.0;
  for (std::size_t i = 0; i < 4; ++i) {
    btc_im += m[i].initial_margin;
    btc_mm += m[i].maintenance_margin;
  }
  std::printf(
      "Deribit SM: IM %.6f BTC, MM %.6f BTC (short calls %.6f, short put %.6f, long "
      "calls 0, perpetual %.6f); USDC perpetual IM %.2f, MM %.2f USDC\n",
      btc_im, btc_mm, m[0].initial_margin, m[2].initial_margin, m[3].initial_margin,
      m[4].initial_margin, m[4].maintenance_margin);
  return true;
}

// --- Greek netting (delta margin) --------------------------------------------------------------
bool delta_margin(const Book& b) {
  const double delta_rw = 0.16, vega_rw = 0.5, tenor_decay = 0.5;
  const double bucket_days[5] = {7.0, 30.0, 90.0, 180.0, 100000.0};
  const double mid_days[5] = {3.5, 18.5, 60.0, 135.0, 365.0};
  double delta_usd = 0.0;
  double ws_vega[5] = {0.0, 0.0, 0.0, 0.0, 0.0};
  for (std::size_t i = 0; i < b.size.size(); ++i) {
    delta_usd += coin_delta(b, i) * b.forward[i] * b.size[i];
    if (b.kind[i] != 3) continue;
    const double vega = pp::black76_greeks(b.forward[i], b.strike[i], b.time[i], b.vol[i],
                                           b.rate[i], option_type(b, i))
                            .vega;  // USD per 1.00 of vol
    std::size_t k = 0;
    while (k < 4 && bucket_days[k] < b.time[i] * 365.0) ++k;
    ws_vega[k] += vega_rw * vega * b.size[i] * b.vol[i];
  }
  const double ws_delta = delta_rw * delta_usd;
  double rho[25];
  for (std::size_t k = 0; k < 5; ++k) {
    for (std::size_t l = 0; l < 5; ++l) {
      rho[k * 5 + l] = std::exp(-tenor_decay * std::fabs(std::log(mid_days[k] / mid_days[l])));
    }
  }
  // Curvature: the book revalued at +-RW with vol unchanged.
  std::vector<double> pnl;
  if (!scenario_pnl(b, {delta_rw, -delta_rw}, {0, 0}, ps::VolShockRule{}, &pnl)) return false;
  pmm::SensitivityInputs in;
  in.underlyings = 1;
  in.buckets = 5;
  in.weighted_delta = &ws_delta;
  in.weighted_vega = ws_vega;
  in.tenor_corr = rho;
  in.delta_corr = 0.825;
  in.vega_corr = 0.75;
  in.pnl_up = &pnl[0];
  in.pnl_down = &pnl[1];
  in.delta_usd = &delta_usd;
  in.risk_weight = &delta_rw;
  pmm::SensitivityMargin r;
  if (!report(pmm::sensitivity_margin(in, &r))) return false;
  std::printf(
      "Delta margin: %.2f USD = MM (delta %.2f on %.2f USD of delta, vega %.2f, curvature "
      "%.2f)\n",
      r.initial_margin, r.delta_margin, delta_usd, r.vega_margin, r.curvature_margin);
  return true;
}

// --- The pre-trade engine under the Paradex grid ----------------------------------------------
// Returns 0 when the engine's IM for the filled book equals `paradex_im` to 1e-9 relative.
int pretrade(const Book& b, double spot, const pe::GridAsset& paradex, double paradex_im) {
  pe::EngineConfig cfg;
  cfg.model = pe::Model::kScenarioGrid;
  cfg.mm_factor = 0.5;
  cfg.grid.assets = {paradex};
  pe::CurrencyParams usdc;
  usdc.usd_settled = true;
  cfg.currencies = {usdc};
  cfg.max_accounts = 16;
  const std::int64_t expiry = 1782460800;  // 26 Jun 2026 08:00 UTC
  std::vector<pe::InstrumentSpec> spec;
  std::vector<pe::InstrumentMarket> market;
  for (std::size_t i = 0; i < b.size.size(); ++i) {
    pe::InstrumentSpec s;
    s.kind = b.kind[i];
    s.settlement = b.settlement[i];
    s.is_call = b.is_call[i];
    s.underlying = b.underlying[i];
    s.currency = 0;
    s.strike = b.strike[i];
    s.expiry_id = b.kind[i] == 2 ? -1 : expiry;
    s.floor_long = 0.0;  // Paradex has no per-contract minimum (FINRA's grid would: 0.375)
    s.floor_short = 0.0;
    spec.push_back(s);
    market.push_back({b.forward[i], b.vol[i], b.time[i], b.rate[i]});
  }
  std::unique_ptr<pe::PreTradeEngine> eng;
  if (!report(pe::PreTradeEngine::create(cfg, spec, market, {spot}, &eng))) return 1;
  std::int64_t acct = -1;
  if (!report(eng->add_account(&acct))) return 1;
  if (!accepted(eng->deposit(acct, 0, 10000.0), "deposit")) return 1;
  // Fills at the marks (option premium = its Black-76 value, the perpetual at its mark).
  for (std::size_t i = 0; i < b.size.size(); ++i) {
    const double price = b.kind[i] == 3 ? pp::black76_price(b.forward[i], b.strike[i], b.time[i],
                                                            b.vol[i], b.rate[i], option_type(b, i))
                                        : b.forward[i];
    const pe::Side side = b.size[i] > 0.0 ? pe::Side::kBuy : pe::Side::kSell;
    if (!accepted(eng->apply_fill(acct, -1, static_cast<std::int32_t>(i), side,
                                  std::fabs(b.size[i]), price),
                  "fill")) {
      return 1;
    }
  }
  const pe::GroupMargin g = eng->margin(acct, 0);
  const pe::CheckResult c = eng->check(acct, 0, pe::Side::kSell, 1.0);  // one more short call
  if (c.reason != pe::Reason::kNone && c.reason != pe::Reason::kInsufficientFunds) {
    accepted(c.reason, "check");  // a check that could not be evaluated
    return 1;
  }
  std::printf(
      "Engine:     IM %.2f USDC, MM %.2f, equity %.2f, available %.2f; check sell 1 more "
      "80,000 call: %s, IM -> %.2f, available -> %.2f\n",
      g.initial_margin, g.maintenance_margin, g.equity, g.available_funds,
      c.accept ? "accepted" : "refused", c.im_after, c.available_after);
  const double diff = std::fabs(g.initial_margin - paradex_im);
  std::printf("Self-check: engine IM %.12g vs Paradex PM %.12g (relative difference %.3g)\n",
              g.initial_margin, paradex_im, diff / std::fabs(paradex_im));
  if (!(diff <= 1e-9 * std::fabs(paradex_im))) {
    std::fprintf(stderr, "error: the engine's IM differs from the Paradex model's\n");
    return 1;
  }
  return 0;
}

}  // namespace

int main() {
  const double spot = 70000.0;
  const double t = 86.0 / 365.0;
  Book b;
  // Short 2 BTC_USDC 80,000 calls, long 2 BTC_USDC 90,000 calls, long 0.4 BTC_USDC perpetual.
  b.kind = {3, 3, 2};
  b.settlement = {0, 0, 0};
  b.is_call = {1, 1, 0};
  b.underlying = {0, 0, 0};
  b.strike = {80000.0, 90000.0, 0.0};
  b.forward = {70500.0, 70500.0, 70010.0};
  b.vol = {0.52, 0.55, 0.0};
  b.time = {t, t, 0.0};
  b.rate = {0.0, 0.0, 0.0};
  b.size = {-2.0, 2.0, 0.4};

  // Coin deltas of the positions, for the minimum delta requirement.
  double net = 0.0, gross = 0.0;
  for (std::size_t i = 0; i < b.size.size(); ++i) {
    const double d = coin_delta(b, i);
    net += b.size[i] * d;
    gross += std::fabs(b.size[i] * d);
  }

  // --- Paradex PM (2026-04) -----------------------------------------------------------------
  pe::GridAsset paradex;  // the grid, kept for the pre-trade engine below
  for (double m : {0.16, 0.12, 0.08, 0.04, 0.0, -0.04, -0.08, -0.12, -0.16}) {
    for (int vs : {1, -1}) {
      if (std::fabs(m) == 0.16 && vs == -1) continue;  // the edges: vol up only
      paradex.moves.push_back(m);
      paradex.vol_states.push_back(static_cast<std::int8_t>(vs));
      paradex.weights.push_back(1.0);
    }
  }
  const double tails[8][2] = {{-0.66, 0.18}, {-0.33, 0.36}, {0.5, 0.24}, {1.0, 0.12},
                              {2.0, 0.06},   {3.0, 0.04},   {4.0, 0.03}, {5.0, 0.024}};
  for (const auto& tw : tails) {
    paradex.moves.push_back(tw[0]);
    paradex.vol_states.push_back(1);
    paradex.weights.push_back(tw[1]);
  }
  paradex.vol_rule.range_up = 0.40;
  paradex.vol_rule.range_down = 0.22;
  paradex.vol_rule.min_vol_up = 0.40;
  paradex.unhedged_delta = 0.02;
  paradex.hedged_delta = 0.01;
  std::vector<double> pnl;
  if (!scenario_pnl(b, paradex.moves, paradex.vol_states, paradex.vol_rule, &pnl)) return 1;
  pmm::GroupView g;
  g.pnl = pnl.data();
  g.weight = paradex.weights.data();
  g.net_delta = net;
  g.gross_delta = gross;
  g.delta_price = spot;
  g.unhedged_delta = paradex.unhedged_delta;
  g.hedged_delta = paradex.hedged_delta;
  pmm::ModelRules paradex_rules;
  paradex_rules.mm_factor = 0.5;
  pmm::SetResult per;
  pmm::MarginResult res;
  std::vector<double> entries(pnl.size());
  if (!report(pmm::scenario_margin(paradex_rules, pnl.size(), 1, &g, 1, 0, nullptr, nullptr, 0.0,
                                   0.0, &per, &res, entries.data()))) {
    return 1;
  }
  const double paradex_im = res.initial_margin;
  std::printf("Paradex PM: IMR %.2f USDC, MMR %.2f (SCAN %.2f at scenario %d, min delta %.2f)\n",
              res.initial_margin, res.maintenance_margin, per.loss, per.at + 1, per.min_delta);

  // --- FINRA / Cboe portfolio margin ----------------------------------------------------------
  std::vector<double> move;
  std::vector<std::int8_t> state;
  for (int k = -5; k <= 5; ++k) {
    if (k == 0) continue;
    move.push_back(0.03 * k);
    state.push_back(0);
  }
  ps::VolShockRule unchanged;
  unchanged.kind = ps::VolShockKind::kAdditive;
  if (!scenario_pnl(b, move, state, unchanged, &pnl)) return 1;
  pmm::GroupView f;
  f.pnl = pnl.data();
  double contracts = 0.0;
  for (double q : b.size) contracts += std::fabs(q);
  f.floor = 0.375 * contracts;
  entries.assign(pnl.size(), 0.0);
  if (!report(pmm::scenario_margin({}, pnl.size(), 1, &f, 1, 0, nullptr, nullptr, 0.0, 0.0, &per,
                                   &res, entries.data()))) {
    return 1;
  }
  std::printf("FINRA PM:   %.2f USD (worst grid loss %.2f at %+.0f %%, minimum %.2f)\n",
              res.initial_margin, per.loss, 100.0 * move[static_cast<std::size_t>(per.at)],
              per.floor);

  // --- Deribit S:PM, USDC margin group ---------------------------------------------------------
  const double range = 0.16;
  const double extended[8] = {-0.66, -0.33, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0};
  move.clear();
  state.clear();
  for (int k = -4; k <= 4; ++k) {
    for (int vs : {1, 0, -1}) {  // vol up, unchanged, down
      move.push_back(k * range / 4.0);
      state.push_back(static_cast<std::int8_t>(vs));
    }
  }
  const std::size_t n_std = move.size();
  for (double m : extended) {
    move.push_back(m);
    state.push_back(1);
  }
  ps::VolShockRule deribit_vol;
  deribit_vol.range_up = 0.5;
  deribit_vol.range_down = 0.25;
  deribit_vol.min_vol_up = 0.5;
  if (!scenario_pnl(b, move, state, deribit_vol, &pnl)) return 1;
  std::vector<double> damp(pnl.size(), 0.0);
  for (std::size_t k = 0; k < 8; ++k) {
    pnl[n_std + k] *= 1.0 * range / std::fabs(extended[k]);              // extended_table_factor 1
    damp[n_std + k] = (std::fabs(extended[k]) / range - 1.0) * 25000.0;  // USD: as is
  }
  pmm::GroupView d;
  d.pnl = pnl.data();
  d.damp = damp.data();
  d.cap = 0.0;  // max_offsetable_pnl 0 (and pnl_offset 0): gains do not count
  pmm::ModelRules deribit;
  deribit.round_worst = true;
  deribit.mm_factor = 0.8;
  deribit.tie_standard = n_std;
  deribit.tie_period = 3;
  deribit.tie_slot = 1;
  // Roll shock of the options' expiry: max(1 %, exp(0.10 T) - 1) x |net coin delta| x index.
  double option_delta = 0.0;
  for (std::size_t i = 0; i < 2; ++i) option_delta += b.size[i] * coin_delta(b, i);
  const double roll_k[2] = {std::fmax(0.01, std::expm1(0.10 * t)) * spot, 0.01 * spot};
  const double roll_d[2] = {option_delta, b.size[2]};  // the expiry, the perpetual
  entries.assign(pnl.size(), 0.0);
  if (!report(pmm::scenario_margin(deribit, pnl.size(), 1, &d, 1, 2, roll_k, roll_d, 0.0, 0.0, &per,
                                   &res, entries.data()))) {
    return 1;
  }
  std::printf("Deribit PM: IM %.2f USDC, MM %.2f (worst case %.2f at entry %d, roll %.2f)\n",
              res.initial_margin, res.maintenance_margin, res.worst, per.at, res.roll);

  // --- Deribit X:PM: the same USDC group and 1 BTC of collateral in one USD risk matrix --------
  // The USDC group is S:PM's (stablecoin P&L counts one to one, same scaling, dampener and
  // roll shock). The BTC balance is a group of its own in the btc_usd set: it moves by
  // balance x index x move, its extended entries scaled by range / |M| and dampened by the
  // btc block's 100,000 USD; its gains are not credited (pnl_offset 0, cap 0). No roll shock
  // (a balance has no expiry).
  const double btc_balance = 1.0, btc_haircut = 0.0;
  std::vector<double> coll(move.size()), coll_damp(move.size(), 0.0);
  for (std::size_t j = 0; j < move.size(); ++j) coll[j] = btc_balance * spot * move[j];
  for (std::size_t k = 0; k < 8; ++k) {
    coll[n_std + k] *= 1.0 * range / std::fabs(extended[k]);
    coll_damp[n_std + k] = (std::fabs(extended[k]) / range - 1.0) * 100000.0;
  }
  pmm::GroupView x[2];
  x[0].pnl = coll.data();  // btc_usd / btc
  x[0].damp = coll_damp.data();
  x[1] = d;  // btc_usd / usdc
  x[0].set = x[1].set = 0;
  entries.assign(pnl.size(), 0.0);
  if (!report(pmm::scenario_margin(deribit, pnl.size(), 2, x, 1, 2, roll_k, roll_d, 0.0, 0.0, &per,
                                   &res, entries.data()))) {
    return 1;
  }
  std::printf(
      "Deribit X:PM: IM %.2f USD, MM %.2f (worst case %.2f at entry %d, roll %.2f; "
      "collateral %.0f BTC = %.2f USD after its %.0f %% haircut)\n",
      res.initial_margin, res.maintenance_margin, res.worst, per.at, res.roll, btc_balance,
      btc_balance * spot * (1.0 - btc_haircut), 100.0 * btc_haircut);

  if (!span16(b)) return 1;
  if (!deribit_standard(spot, b.forward[0], t)) return 1;
  if (!delta_margin(b)) return 1;
  return pretrade(b, spot, paradex, paradex_im);
}
