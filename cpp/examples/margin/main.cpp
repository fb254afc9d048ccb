// A standalone consumer of the installed pymargin C++ package: margins a USDC-settled BTC book
// (a short call spread and a perpetual hedge) under three published grid models, with no Python:
// the scenario grid is revalued by the kernel, the positions summed into the group's P&L
// vector, and the scenario-margin model applied with the venue's parameters filled in here.
//
// Parameters, copied from pymargin's dated parameter files:
//   Paradex PM, pymargin/data/models/paradex_pm/2026-04.json (BTC): 24 scenarios, vol shock
//     +40 % / -22 % relative with a 40 % floor on the shocked-up vol, tail weights, minimum
//     delta factors 2 % unhedged and 1 % hedged, MMR 50 % of IMR.
//   FINRA 4210(g) / Cboe portfolio margin: +-15 % in 10 points, vol unchanged, at least
//     0.375 per contract (multiplier 1).
//   Deribit portfolio margin (S:PM) of a USDC margin group, pymargin/data/models/deribit_pm/
//     2024-06-17.json: 4 buckets of the +-16 % price range with vol up / unchanged / down
//     (vol shock +50 % / -25 % relative, floor 50 % on the shocked-up vol), 8 extended moves
//     (vol up) scaled by range / |M|, the extended dampener, no gain credit, the roll shock
//     (7.5 % a year, floor 1 %), IM rounded to 1e-9, MM 80 % of the requirement. The USDC
//     group's currency parameters (annualised move 10 %, dampener 25,000 USD) are the file's
//     "usd" block.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "pymargin/kernel/revalue.hpp"
#include "pymargin/models/scenario_margin.hpp"
#include "pymargin/pricing/black.hpp"
#include "pymargin/scenarios/scenario_set.hpp"

namespace {

namespace pk = pymargin::kernel;
namespace pmm = pymargin::models;
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

// The book's P&L per scenario (USD) under a grid of moves and vol states.
bool scenario_pnl(const Book& b, const std::vector<double>& move,
                  const std::vector<std::int8_t>& state, const ps::VolShockRule& rule,
                  std::vector<double>* pnl) {
  const std::size_t n = b.size.size();
  const std::size_t ns = move.size();
  pk::InstrumentView iv{n,           b.kind.data(), b.settlement.data(), b.is_call.data(),
                        b.underlying.data(), b.strike.data(), b.forward.data(), b.vol.data(),
                        b.time.data(), b.rate.data()};
  ps::ScenarioView sv{ns, 1, move.data(), state.data(), &rule, nullptr};
  std::vector<double> risk(n * ns);
  if (!report(pk::revalue(iv, sv, risk.data(), 1))) return false;
  pnl->assign(ns, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < ns; ++j) (*pnl)[j] += b.size[i] * risk[i * ns + j];
  }
  return true;
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
    double d = 1.0;
    if (b.kind[i] == 3) {
      d = pymargin::pricing::black76_greeks(b.forward[i], b.strike[i], b.time[i], b.vol[i],
                                            b.rate[i], pymargin::pricing::OptionType::kCall)
              .delta_forward;
    }
    net += b.size[i] * d;
    gross += std::fabs(b.size[i] * d);
  }

  // --- Paradex PM (2026-04) -----------------------------------------------------------------
  std::vector<double> move, weight;
  std::vector<std::int8_t> state;
  for (double m : {0.16, 0.12, 0.08, 0.04, 0.0, -0.04, -0.08, -0.12, -0.16}) {
    for (int vs : {1, -1}) {
      if (std::fabs(m) == 0.16 && vs == -1) continue;  // the edges: vol up only
      move.push_back(m);
      state.push_back(static_cast<std::int8_t>(vs));
      weight.push_back(1.0);
    }
  }
  const double tails[8][2] = {{-0.66, 0.18}, {-0.33, 0.36}, {0.5, 0.24}, {1.0, 0.12},
                              {2.0, 0.06},   {3.0, 0.04},   {4.0, 0.03}, {5.0, 0.024}};
  for (const auto& tw : tails) {
    move.push_back(tw[0]);
    state.push_back(1);
    weight.push_back(tw[1]);
  }
  ps::VolShockRule paradex_vol;
  paradex_vol.range_up = 0.40;
  paradex_vol.range_down = 0.22;
  paradex_vol.min_vol_up = 0.40;
  std::vector<double> pnl;
  if (!scenario_pnl(b, move, state, paradex_vol, &pnl)) return 1;
  pmm::GroupView g;
  g.pnl = pnl.data();
  g.weight = weight.data();
  g.net_delta = net;
  g.gross_delta = gross;
  g.delta_price = spot;
  g.unhedged_delta = 0.02;
  g.hedged_delta = 0.01;
  pmm::ModelRules paradex;
  paradex.mm_factor = 0.5;
  pmm::SetResult per;
  pmm::MarginResult res;
  std::vector<double> entries(pnl.size());
  if (!report(pmm::scenario_margin(paradex, pnl.size(), 1, &g, 1, 0, nullptr, nullptr, 0.0, 0.0,
                                   &per, &res, entries.data()))) {
    return 1;
  }
  std::printf("Paradex PM: IMR %.2f USDC, MMR %.2f (SCAN %.2f at scenario %d, min delta %.2f)\n",
              res.initial_margin, res.maintenance_margin, per.loss, per.at + 1, per.min_delta);

  // --- FINRA / Cboe portfolio margin ----------------------------------------------------------
  move.clear();
  state.clear();
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
  if (!report(pmm::scenario_margin({}, pnl.size(), 1, &f, 1, 0, nullptr, nullptr, 0.0, 0.0,
                                   &per, &res, entries.data()))) {
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
    pnl[n_std + k] *= 1.0 * range / std::fabs(extended[k]);  // extended_table_factor 1
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
  for (std::size_t i = 0; i < 2; ++i) {
    option_delta += b.size[i] * pymargin::pricing::black76_greeks(b.forward[i], b.strike[i],
                                                                  b.time[i], b.vol[i], 0.0,
                                                                  pymargin::pricing::OptionType::kCall)
                                    .delta_forward;
  }
  const double roll_k[2] = {std::fmax(0.01, std::expm1(0.10 * t)) * spot, 0.01 * spot};
  const double roll_d[2] = {option_delta, b.size[2]};  // the expiry, the perpetual
  entries.assign(pnl.size(), 0.0);
  if (!report(pmm::scenario_margin(deribit, pnl.size(), 1, &d, 1, 2, roll_k, roll_d, 0.0, 0.0,
                                   &per, &res, entries.data()))) {
    return 1;
  }
  std::printf("Deribit PM: IM %.2f USDC, MM %.2f (worst case %.2f at entry %d, roll %.2f)\n",
              res.initial_margin, res.maintenance_margin, res.worst, per.at, res.roll);
  return 0;
}
