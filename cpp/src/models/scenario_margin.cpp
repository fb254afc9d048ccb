// SPDX-License-Identifier: Apache-2.0
#include "pymargin/models/scenario_margin.hpp"

#include <cmath>
#include <limits>

#include "../kernel/pm_worst_internal.hpp"
#include "scenario_margin_internal.hpp"

namespace pymargin::models {

namespace {

bool finite(double x) noexcept { return std::isfinite(x); }

Status check(const ModelRules& r, std::size_t ns, std::size_t groups, const GroupView* g,
             std::size_t sets, std::size_t expiries, const double* roll_k,
             const double* expiry_delta, double im_addon, double mm_addon) noexcept {
  if (!(finite(r.mm_factor) && r.mm_factor >= 0.0)) {
    return Status::bad_argument("mm_factor", "must be finite and >= 0");
  }
  if (r.tie_period > 0 && r.tie_slot >= r.tie_period) {
    return Status::bad_argument("tie_slot", "must be below tie_period");
  }
  if (!(finite(im_addon) && im_addon >= 0.0)) return Status::bad_argument("im_addon", ">= 0");
  if (!(finite(mm_addon) && mm_addon >= 0.0)) return Status::bad_argument("mm_addon", ">= 0");
  if (ns == 0 && groups > 0) return Status::bad_argument("scenarios", "at least one");
  if (groups > 0 && g == nullptr) return Status::bad_argument("groups", "missing");
  for (std::size_t k = 0; k < groups; ++k) {
    const GroupView& x = g[k];
    if (x.pnl == nullptr) return Status::invalid("pnl", k, "missing");
    for (std::size_t j = 0; j < ns; ++j) {
      if (!finite(x.pnl[j])) return Status::invalid("pnl", k, "not finite");
      if (x.weight && !(finite(x.weight[j]) && x.weight[j] >= 0.0)) {
        return Status::invalid("weight", k, "must be finite and >= 0");
      }
      if (x.damp && !(finite(x.damp[j]) && x.damp[j] >= 0.0)) {
        return Status::invalid("damp", k, "must be finite and >= 0");
      }
    }
    if (!(x.cap >= 0.0)) return Status::invalid("cap", k, "must be >= 0");  // inf allowed
    if (!(x.pnl_offset >= 0.0 && x.pnl_offset <= 1.0)) {
      return Status::invalid("pnl_offset", k, "must be in [0, 1]");
    }
    if (!(finite(x.net_delta) && finite(x.gross_delta) && x.gross_delta >= 0.0 &&
          finite(x.delta_price) && x.delta_price >= 0.0)) {
      return Status::invalid("delta", k, "net, gross (>= 0) and price (>= 0) must be finite");
    }
    if (!(finite(x.floor) && x.floor >= 0.0)) return Status::invalid("floor", k, "must be >= 0");
    if (!(finite(x.unhedged_delta) && x.unhedged_delta >= 0.0 && finite(x.hedged_delta) &&
          x.hedged_delta >= 0.0)) {
      return Status::invalid("delta_factors", k, "must be finite and >= 0");
    }
    if (x.set < 0 || static_cast<std::size_t>(x.set) >= sets) {
      return Status::invalid("set", k, "no such set");
    }
  }
  if (expiries > 0 && (roll_k == nullptr || expiry_delta == nullptr)) {
    return Status::bad_argument("roll", "missing roll factors or expiry deltas");
  }
  for (std::size_t e = 0; e < expiries; ++e) {
    if (!(finite(roll_k[e]) && roll_k[e] >= 0.0)) {
      return Status::invalid("roll_k", e, "must be finite and >= 0");
    }
    if (!finite(expiry_delta[e])) return Status::invalid("expiry_delta", e, "not finite");
  }
  return Status::success();
}

}  // namespace

Status scenario_margin(const ModelRules& r, std::size_t ns, std::size_t groups, const GroupView* g,
                       std::size_t sets, std::size_t expiries, const double* roll_k,
                       const double* expiry_delta, double im_addon, double mm_addon,
                       SetResult* per_set, MarginResult* out, double* set_entries,
                       double* group_entries) noexcept {
  if (out == nullptr) return Status::bad_argument("out", "missing");
  if (sets > 0 && (per_set == nullptr || set_entries == nullptr)) {
    return Status::bad_argument("per_set", "missing");
  }
  Status st = check(r, ns, groups, g, sets, expiries, roll_k, expiry_delta, im_addon, mm_addon);
  if (!st.ok()) return st;
  return detail::evaluate(r, ns, groups, g, sets, expiries, roll_k, expiry_delta, im_addon,
                          mm_addon, per_set, out, set_entries, group_entries);
}

namespace detail {

namespace {

// The group's entries (credited, dampened when D, weighted when W) added to its set's sums,
// and written to `ge` when G.
template <bool D, bool W, bool G>
inline void add_entries(std::size_t ns, const GroupView& x, double* __restrict sum,
                        double* __restrict ge) noexcept {
  const double* __restrict pnl = x.pnl;
  const double* __restrict damp = x.damp;
  const double* __restrict weight = x.weight;
  const double offset = x.pnl_offset;
  const double cap = x.cap;
  for (std::size_t j = 0; j < ns; ++j) {
    double e = credited_entry(pnl[j], offset, cap, D ? damp[j] : 0.0);
    if constexpr (W) e *= weight[j];
    if constexpr (G) ge[j] = e;
    sum[j] += e;
  }
}

}  // namespace

Status evaluate(const ModelRules& r, std::size_t ns, std::size_t groups, const GroupView* g,
                std::size_t sets, std::size_t expiries, const double* roll_k,
                const double* expiry_delta, double im_addon, double mm_addon, SetResult* per_set,
                MarginResult* out, double* set_entries, double* group_entries) noexcept {
  for (std::size_t s = 0; s < sets * ns; ++s) set_entries[s] = 0.0;
  for (std::size_t s = 0; s < sets; ++s) per_set[s] = SetResult{};
  for (std::size_t k = 0; k < groups; ++k) {  // group order: the sums do not depend on sets
    const GroupView& x = g[k];
    double* sum = set_entries + static_cast<std::size_t>(x.set) * ns;
    double* ge = group_entries ? group_entries + k * ns : nullptr;
    // One loop per combination of the optional terms: no test inside, so it vectorises.
    const int form = (x.damp ? 1 : 0) | (x.weight ? 2 : 0) | (ge ? 4 : 0);
    switch (form) {
      case 0:
        add_entries<false, false, false>(ns, x, sum, ge);
        break;
      case 1:
        add_entries<true, false, false>(ns, x, sum, ge);
        break;
      case 2:
        add_entries<false, true, false>(ns, x, sum, ge);
        break;
      case 3:
        add_entries<true, true, false>(ns, x, sum, ge);
        break;
      case 4:
        add_entries<false, false, true>(ns, x, sum, ge);
        break;
      case 5:
        add_entries<true, false, true>(ns, x, sum, ge);
        break;
      case 6:
        add_entries<false, true, true>(ns, x, sum, ge);
        break;
      default:
        add_entries<true, true, true>(ns, x, sum, ge);
        break;
    }
    SetResult& res = per_set[x.set];
    const double net = std::fabs(x.net_delta);
    res.min_delta +=
        (x.unhedged_delta * net + x.hedged_delta * (x.gross_delta - net) / 2.0) * x.delta_price;
    res.floor += x.floor;
  }
  double worst = 0.0;
  for (std::size_t s = 0; s < sets; ++s) {
    const double* v = set_entries + s * ns;
    // The lowest entry, every entry finite (an overflowing sum, inf - inf = NaN, which no
    // comparison would pick, is an error); independent lanes, no branch.
    double low = std::numeric_limits<double>::infinity();
    unsigned finite = 1;
    for (std::size_t j = 0; j < ns; ++j) {
      finite &= static_cast<unsigned>(std::fabs(v[j]) <= std::numeric_limits<double>::max());
      low = v[j] < low ? v[j] : low;
    }
    if (!finite) return Status::invalid("margin", s, "the scenario sums overflow");
    // Its scenario: the first entry at that value, or the first preferred one among them.
    std::int32_t at = -1;
    bool preferred = false;
    for (std::size_t j = 0; j < ns && !preferred; ++j) {
      if (v[j] != low) continue;
      const bool pref = r.tie_period > 0 && j < r.tie_standard && j % r.tie_period == r.tie_slot;
      if (at < 0 || pref) {
        at = static_cast<std::int32_t>(j);
        preferred = pref;
      }
    }
    SetResult& res = per_set[s];
    if (!(std::isfinite(res.min_delta) && std::isfinite(res.floor))) {
      return Status::invalid("margin", s, "the minimum terms overflow");
    }
    res.lowest = ns > 0 ? low : 0.0;
    res.at = at;
    res.loss = res.lowest < 0.0 ? -res.lowest : 0.0;
    res.charge = std::fmax(res.loss, std::fmax(res.floor, res.min_delta));
    worst += res.charge;
  }
  double roll = 0.0;
  for (std::size_t e = 0; e < expiries; ++e) roll += roll_k[e] * std::fabs(expiry_delta[e]);
  MarginResult m;
  m.worst = worst;
  m.roll = roll;
  m.rmm = (r.round_worst ? kernel::detail::round9(worst) : worst) + roll;
  m.initial_margin = r.round_worst ? kernel::detail::round9(m.rmm + im_addon) : m.rmm + im_addon;
  m.maintenance_margin = r.mm_factor * m.rmm + mm_addon;
  const double figures[] = {m.worst, m.roll, m.rmm, m.initial_margin, m.maintenance_margin};
  for (double f : figures) {
    if (!std::isfinite(f)) return Status::bad_argument("margin", "the sums overflow");
  }
  *out = m;
  return Status::success();
}

}  // namespace detail

}  // namespace pymargin::models
