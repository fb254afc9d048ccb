// SPDX-License-Identifier: Apache-2.0
// The pre-trade engine under Derive portfolio margin (Model::kDerive): each expiry's model
// inputs and every instrument's row (the market phase of build_market), and a margin group's
// IM and MM from the account's slots, one per (underlying, expiry) and one for the
// perpetuals. The model's steps are the core's (pymargin/models/derive_pm.hpp): the engine
// keeps the sums that are linear in the amounts and hands them to those steps.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "pretrade_internal.hpp"

namespace pymargin::engine {

namespace {

constexpr double kYear = 31'536'000.0;  // the venue's year: 365 days of seconds

}  // namespace

// Per options expiry its forward, whole seconds and rate (from its first option; every other
// option of the expiry must agree), checked as the model checks them; per option its value per
// contract under each scenario, unshocked and at the basis spot moves; per perpetual its damped
// P&L per unit under each scenario (the venue's amount x (shock - 1) x mark x dampening).
Status PreTradeEngine::Impl::derive_market(const std::vector<InstrumentMarket>& in, MarketState* ms,
                                           std::vector<double>* risk) const {
  const models::DeriveParams& q = dparams;
  const std::size_t n = spec.size(), nsc = q.n_scenarios;
  ms->derive_expiry.assign(n_expiries, models::DeriveExpiry{});
  ms->derive_terms.assign(n_expiries, models::DeriveExpiryTerms{});
  std::vector<std::size_t> first(n_expiries, n);
  for (std::size_t i = 0; i < n; ++i) {
    if (spec[i].kind != 3) continue;
    const auto e = static_cast<std::size_t>(expiry_of[i]);
    const InstrumentMarket& x = in[i];
    const double seconds = std::round(x.time * kYear);  // the venue counts whole seconds
    if (first[e] == n) {
      first[e] = i;
      models::DeriveExpiry& d = ms->derive_expiry[e];
      d.seconds = seconds;
      d.forward_fixed = 0.0;
      d.forward_variable = x.forward;
      d.rate = x.rate;
      d.confidence = 1.0;
      const Status st = models::derive_check_expiry(d, q, i);
      if (!st.ok()) return st;
      ms->derive_terms[e] = models::derive_expiry_terms(d, q);
    } else if (!(x.forward == in[first[e]].forward && seconds == ms->derive_expiry[e].seconds &&
                 x.rate == in[first[e]].rate)) {
      return Status::invalid("market", i,
                             "options of one expiry must share its forward, time and rate");
    }
  }
  for (std::size_t i = 0; i < n; ++i) {
    const InstrumentSpec& sp = spec[i];
    double* row = risk->data() + i * ns;
    if (sp.kind == 3) {
      const auto e = static_cast<std::size_t>(expiry_of[i]);
      const models::DeriveExpiry& d = ms->derive_expiry[e];
      const models::DeriveExpiryTerms& t = ms->derive_terms[e];
      const models::DeriveOption o{sp.strike, in[i].vol, 1.0, sp.is_call != 0};
      for (std::size_t s = 0; s < nsc; ++s) {
        row[s] =
            models::derive_option_value(d, t, q, o, q.scenarios[s].spot_shock, q.scenarios[s].vol);
      }
      const auto none = models::DeriveVolShock::kNone;
      row[nsc] = models::derive_option_value(d, t, q, o, 1.0, none);
      row[nsc + 1] = models::derive_option_value(d, t, q, o, q.basis_spot_up, none);
      row[nsc + 2] = models::derive_option_value(d, t, q, o, q.basis_spot_down, none);
    } else {  // a perpetual (check_instrument admits nothing else)
      const double f = in[i].forward;
      for (std::size_t s = 0; s < nsc; ++s) {
        row[s] = (q.scenarios[s].spot_shock - 1.0) * f * q.scenarios[s].dampening;
      }
    }
  }
  return Status::success();
}

// Per underlying of group c (slots in their canonical order: by underlying, then expiry):
// each options expiry's scenario P&Ls (the model's static discount, dampening and skew
// losses on the expiry's values) and basis contingency, the perpetuals' P&L as kept; worst =
// min(basis, every scenario P&L); the perpetuals' notional and the naked shorts at spot for
// the contingencies. The swapped slot stands in for the account's slot of its key, or joins
// its underlying when the account has none.
double PreTradeEngine::Impl::derive_im(const Account& a, const MarketState& ms, std::int32_t c,
                                       int k, const DeriveSwap* swap, double* mm) const noexcept {
  const models::DeriveParams& q = dparams;
  const std::size_t nsc = q.n_scenarios;
  // the venue's IM factor at a stable coin worth 1 (a peg loss only below the threshold)
  const double im_factor =
      q.im_factor +
      (1.0 < q.peg_loss_threshold ? (q.peg_loss_threshold - 1.0) * q.peg_loss_factor : 0.0);
  double im = 0.0, mm_sum = 0.0;
  double pnl[kMaxScenarios];
  double tmp[kMaxScenarios];
  double basis = 0.0, perp = 0.0, naked = 0.0;
  std::int32_t cur = -1;
  bool swap_done = swap == nullptr;
  auto start = [&](std::int32_t u) {
    cur = u;
    basis = perp = naked = 0.0;
    for (std::size_t s = 0; s < nsc; ++s) pnl[s] = 0.0;
  };
  auto add = [&](std::int32_t e, const double* v, double perp_q, double naked_q) {
    const auto ei = static_cast<std::size_t>(e);
    if (option_expiry[ei] != 0) {
      const models::DeriveExpiryTerms& t = ms.derive_terms[ei];
      const double mark = v[nsc];
      for (std::size_t s = 0; s < nsc; ++s) {
        pnl[s] += models::derive_expiry_pnl(t, q.scenarios[s], v[s], mark);
      }
      basis += models::derive_basis_contingency(q, ms.derive_expiry[ei].seconds, mark, v[nsc + 1],
                                                v[nsc + 2]);
    } else {
      for (std::size_t s = 0; s < nsc; ++s) pnl[s] += v[s];
    }
    perp += perp_q;
    naked += naked_q;
  };
  auto close = [&]() {
    if (cur < 0) return;
    double worst = basis;
    bool finite = std::isfinite(basis);
    for (std::size_t s = 0; s < nsc; ++s) {
      finite = finite && std::isfinite(pnl[s]);
      worst = pnl[s] < worst ? pnl[s] : worst;
    }
    // a P&L that overflowed (NaN would pass the minimum over): the group's figures NaN, which
    // every check and state change refuses
    if (!finite) worst = std::numeric_limits<double>::quiet_NaN();
    const double spot = ms.index[static_cast<std::size_t>(cur)];
    const double perp_notional = perp * spot, short_notional = naked * spot;
    const double mm_c = perp_notional * q.mm_perp + short_notional * q.mm_option;
    const double im_c = perp_notional * q.im_perp + short_notional * q.im_option;
    mm_sum += -q.mm_factor * worst + mm_c;
    im += -im_factor * worst + mm_c + im_c;
  };
  auto add_swap = [&]() {
    add(swap->expiry, swap->v, swap->perp, swap->naked);
    swap_done = true;
  };
  for (const Slot& s : a.slots) {
    if (s.currency != c) continue;
    if (s.underlying != cur) {
      if (!swap_done && swap->underlying == cur) add_swap();
      close();
      start(s.underlying);
    }
    if (!swap_done && swap->underlying == s.underlying && swap->expiry == s.expiry) {
      add_swap();
      continue;
    }
    add(s.expiry, s.vector(k, ns, tmp), s.floor[k], s.strike_short[k]);
  }
  if (!swap_done && swap->underlying == cur) add_swap();
  close();
  if (!swap_done) {  // the order opens the group's first slot on its underlying
    start(swap->underlying);
    add_swap();
    close();
  }
  *mm = mm_sum;
  return im;
}

}  // namespace pymargin::engine
