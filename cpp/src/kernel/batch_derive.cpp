// SPDX-License-Identifier: Apache-2.0
// The Derive portfolio-margin batch kernel (pymargin/kernel/batch_margin.hpp): each account
// laid out as the venue stores it, then the core's derive_pm_margin.
#include <cmath>
#include <new>
#include <vector>

#include "batch_internal.hpp"
#include "pymargin/kernel/batch_margin.hpp"

namespace pymargin::kernel {
namespace {

// One thread's scratch, sized before the accounts run: no allocation per account.
struct Scratch {
  std::vector<models::DeriveOption> options;
  std::vector<models::DeriveExpiry> expiries;
  std::vector<std::int32_t> slot;  // [market expiries] the account's expiry slot, or -1
  std::vector<std::size_t> fill;   // [market expiries] options placed per slot
  std::vector<std::int32_t> used;  // the market expiries in slot order
  std::vector<double> pnl;         // [scenarios]
};

}  // namespace

Status batch_derive(const BatchDeriveMarket& m, const BatchDeriveInstruments& in,
                    const BatchAccounts& acc, const BatchOutputs& out, int threads) noexcept {
  if (m.params == nullptr || (m.n_expiries > 0 && m.expiries == nullptr))
    return Status::bad_argument("market", "missing parameters or expiries");
  if (in.n > 0 && (in.perp == nullptr || in.expiry == nullptr || in.strike == nullptr ||
                   in.vol == nullptr || in.call == nullptr))
    return Status::bad_argument("instruments", "missing column");
  for (std::size_t i = 0; i < in.n; ++i) {
    if (in.perp[i] != 0) {
      if (!(std::isfinite(m.perp_price) && m.perp_price > 0.0))
        return Status::invalid("perp_price", i, "must be finite and > 0");
      if (!(std::isfinite(m.perp_confidence) && m.perp_confidence >= 0.0 &&
            m.perp_confidence <= 1.0))
        return Status::invalid("perp_confidence", i, "must be in [0, 1]");
      continue;
    }
    if (in.expiry[i] < 0 || static_cast<std::size_t>(in.expiry[i]) >= m.n_expiries)
      return Status::invalid("expiry", i, "not an expiry of the market");
    if (!(std::isfinite(in.strike[i]) && in.strike[i] > 0.0))
      return Status::invalid("strike", i, "must be finite and > 0");
    if (!(std::isfinite(in.vol[i]) && in.vol[i] >= 0.0))
      return Status::invalid("vol", i, "must be finite and >= 0");
  }
  std::size_t widest = 0;
  Status checked = detail::check_accounts(acc, in.n, out, &widest);
  if (!checked.ok()) return checked;
  if (acc.n == 0) return Status::success();
  const std::size_t nthreads = detail::batch_threads(acc, threads);
  std::vector<Scratch> scratch;
  try {
    scratch.resize(nthreads);
    for (Scratch& s : scratch) {
      s.options.resize(widest);
      s.expiries.resize(m.n_expiries);
      s.slot.assign(m.n_expiries, -1);
      s.fill.assign(m.n_expiries, 0);
      s.used.resize(m.n_expiries);
      s.pnl.resize(m.params->n_scenarios);
    }
  } catch (const std::bad_alloc&) {
    return Status::invalid("accounts", 0, "scratch memory could not be allocated");
  }
  // The market and parameters, checked once before any account: the model on an account
  // with every expiry and no position (what remains per account, its amounts and collateral,
  // check_accounts has checked).
  {
    Scratch& s = scratch[0];
    for (std::size_t k = 0; k < m.n_expiries; ++k) {
      s.expiries[k] = m.expiries[k];
      s.expiries[k].first_option = s.expiries[k].end_option = 0;
    }
    models::DerivePortfolio pf;
    pf.spot = m.spot;
    pf.spot_confidence = m.spot_confidence;
    pf.stable_price = m.stable_price;
    pf.expiries = s.expiries.data();
    pf.n_expiries = m.n_expiries;
    models::DeriveMargin r;
    const Status st = models::derive_pm_margin(pf, *m.params, s.pnl.data(), &r);
    if (!st.ok()) return st;
  }
  auto range = [&](std::size_t t, std::size_t begin, std::size_t end) noexcept {
    Scratch& s = scratch[t];
    for (std::size_t a = begin; a < end; ++a) {
      const auto b = static_cast<std::size_t>(acc.offsets[a]);
      const auto e = static_cast<std::size_t>(acc.offsets[a + 1]);
      double perp = 0.0;
      std::size_t n_exp = 0;
      for (std::size_t p = b; p < e; ++p) {  // expiries in order of first appearance
        const auto i = static_cast<std::size_t>(acc.instrument[p]);
        if (in.perp[i] != 0) {
          perp += acc.amount[p];
          continue;
        }
        const auto x = static_cast<std::size_t>(in.expiry[i]);
        if (s.slot[x] < 0) {
          s.slot[x] = static_cast<std::int32_t>(n_exp);
          s.used[n_exp++] = static_cast<std::int32_t>(x);
        }
        ++s.fill[x];
      }
      std::size_t at = 0;
      for (std::size_t k = 0; k < n_exp; ++k) {
        const auto x = static_cast<std::size_t>(s.used[k]);
        models::DeriveExpiry ex = m.expiries[x];
        ex.first_option = at;
        ex.end_option = at + s.fill[x];
        s.expiries[k] = ex;
        at = ex.end_option;
      }
      for (std::size_t p = b; p < e; ++p) {  // each expiry's options in reverse order
        const auto i = static_cast<std::size_t>(acc.instrument[p]);
        if (in.perp[i] != 0) continue;
        const auto x = static_cast<std::size_t>(in.expiry[i]);
        models::DeriveExpiry& ex = s.expiries[static_cast<std::size_t>(s.slot[x])];
        s.options[ex.first_option + --s.fill[x]] = {in.strike[i], in.vol[i], acc.amount[p],
                                                     in.call[i] != 0};
      }
      for (std::size_t k = 0; k < n_exp; ++k) s.slot[static_cast<std::size_t>(s.used[k])] = -1;
      models::DerivePortfolio pf;
      pf.spot = m.spot;
      pf.spot_confidence = m.spot_confidence;
      pf.stable_price = m.stable_price;
      pf.cash = acc.collateral[a];
      pf.perp_position = perp;
      pf.perp_price = m.perp_price;
      pf.perp_confidence = m.perp_confidence;
      pf.expiries = s.expiries.data();
      pf.n_expiries = n_exp;
      pf.options = s.options.data();
      pf.n_options = at;
      models::DeriveMargin r;
      if (!models::derive_pm_margin(pf, *m.params, s.pnl.data(), &r).ok()) {
        // the inputs passed the checks above: a P&L or margin that overflows, not covered
        detail::write_account(out, acc, a, std::nan(""), std::nan(""), std::nan(""), -1);
        continue;
      }
      const auto worst = r.worst < m.params->n_scenarios ? static_cast<std::int32_t>(r.worst) : -1;
      detail::write_account(out, acc, a, r.initial_margin, r.maintenance_margin, r.mark_to_market,
                            worst, worst >= 0 ? 0 : -1);
    }
  };
  detail::run_split(acc, nthreads, range);
  return Status::success();
}

}  // namespace pymargin::kernel
