// SPDX-License-Identifier: Apache-2.0
// The SPAN batch kernel (pymargin/kernel/batch_margin.hpp): every account's SPAN requirement
// from cached risk rows, the per-account work the core's span_requirement.
#include <algorithm>
#include <cmath>
#include <vector>

#include "../pricing/batch_internal.hpp"
#include "batch_internal.hpp"
#include "pymargin/kernel/batch_margin.hpp"
#include "pymargin/models/span.hpp"

namespace pymargin::kernel {

namespace {

constexpr std::size_t kNs = models::kSpanScenarios;

// Per-thread working memory, sized once: per commodity its P&L sums, tier deltas and short
// options; the accounts' positions grouped by commodity (the gather-sum's index list).
struct SpanScratch {
  std::vector<double> pnl;         // [commodities x 16]
  std::vector<double> tier_delta;  // [commodities x kSpanMaxTiers]
  std::vector<double> shorts;      // [commodities]
  std::vector<unsigned char> used;
  std::vector<std::int32_t> touched;
  std::vector<std::int32_t> rows;  // instruments of the account's positions, by commodity
  std::vector<double> amounts;
  std::vector<std::size_t> count;   // [commodities] positions per commodity
  std::vector<std::size_t> cursor;  // [commodities] where the next one goes (then: its end)
  std::vector<models::SpanCommodity> view;
  std::vector<std::int32_t> view_commodity;  // [commodities] the commodity of each view
  std::vector<models::SpanInterSpread> spreads;
  std::vector<std::int32_t> slot;  // commodity -> its position in view (-1: not held)
  std::vector<models::SpanRequirement> result;
};

// Account a's positions grouped by commodity in s.rows / s.amounts (a counting sort:
// positions keep their order within a commodity, so the sums are the sequential ones),
// commodities in the model's order in s.touched; returns the account's equity (collateral,
// then each position's mark value added in order).
double group_positions(const BatchSpanInstruments& in, const BatchAccounts& acc, std::size_t a,
                       SpanScratch& s) noexcept {
  const auto p0 = static_cast<std::size_t>(acc.offsets[a]);
  const auto p1 = static_cast<std::size_t>(acc.offsets[a + 1]);
  double equity = acc.collateral[a];
  // Count the positions per commodity, then place them (a counting sort: positions keep
  // their order within a commodity, so the sums are the sequential ones).
  for (std::size_t p = p0; p < p1; ++p) {
    const auto c = static_cast<std::size_t>(in.commodity[acc.instrument[p]]);
    if (!s.used[c]) {
      s.used[c] = 1;
      s.touched.push_back(static_cast<std::int32_t>(c));
      s.count[c] = 0;
    }
    ++s.count[c];
  }
  std::sort(s.touched.begin(), s.touched.end());  // commodities in the model's order
  std::size_t offset = 0;
  for (std::int32_t c : s.touched) {
    const auto cc = static_cast<std::size_t>(c);
    s.cursor[cc] = offset;
    offset += s.count[cc];
  }
  for (std::size_t p = p0; p < p1; ++p) {
    const std::int32_t i = acc.instrument[p];
    const auto c = static_cast<std::size_t>(in.commodity[i]);
    const std::size_t at = s.cursor[c]++;
    s.rows[at] = i;
    s.amounts[at] = acc.amount[p];
    equity += acc.amount[p] * in.value[i];
  }
  return equity;
}

// Each touched commodity's weighted scenario P&L (the gather-sum of its rows), net delta per
// tier and short options, as the model's view; returns how many (*finite false when a sum
// overflows).
std::size_t commodity_views(const BatchSpanModel& m, const BatchSpanInstruments& in, SpanScratch& s,
                            pricing::detail::GatherSumFn gather_sum, bool* finite) noexcept {
  // cursor[c] is now the end of c's slice; its beginning the previous commodity's end.
  std::size_t k = 0;
  std::size_t from = 0;
  for (std::int32_t c : s.touched) {
    const auto cc = static_cast<std::size_t>(c);
    const std::size_t to = s.cursor[cc];
    const BatchSpanCommodity& bc = m.commodity[cc];
    double* pnl = s.pnl.data() + cc * kNs;
    gather_sum(kNs, to - from, in.risk, kNs, s.rows.data() + from, s.amounts.data() + from, pnl);
    for (std::size_t j = 0; j < kNs; ++j) pnl[j] *= bc.weight[j];
    double* td = s.tier_delta.data() + cc * models::kSpanMaxTiers;
    std::fill(td, td + bc.tiers, 0.0);
    double shorts = 0.0;
    for (std::size_t r = from; r < to; ++r) {
      const auto i = static_cast<std::size_t>(s.rows[r]);
      const double q = s.amounts[r];
      td[in.tier[i]] += q * in.delta[i];
      if (in.option[i] && q < 0.0) shorts -= q;
    }
    models::SpanCommodity& v = s.view[k];
    v.pnl = pnl;
    v.tiers = bc.tiers;
    v.tier_delta = td;
    v.short_options = shorts;
    v.short_option_minimum = bc.short_option_minimum;
    v.intra_pairs = bc.intra_pairs;
    v.intra_tiers = bc.intra_tiers;
    v.intra_rates = bc.intra_rates;
    s.slot[cc] = static_cast<std::int32_t>(k);
    s.view_commodity[k] = c;
    *finite = *finite && std::isfinite(shorts);
    ++k;
    from = to;
  }
  return k;
}

// The spreads whose two legs the account holds, legs renumbered into the view; returns how
// many.
std::size_t spreads_held(const BatchSpanModel& m, SpanScratch& s) noexcept {
  std::size_t ns = 0;
  for (std::size_t r = 0; r < m.spreads; ++r) {
    const std::int32_t la = s.slot[static_cast<std::size_t>(m.spread_legs[2 * r])];
    const std::int32_t lb = s.slot[static_cast<std::size_t>(m.spread_legs[2 * r + 1])];
    if (la < 0 || lb < 0) continue;
    models::SpanInterSpread& x = s.spreads[ns++];
    x.a = la;
    x.b = lb;
    x.ratio_a = m.spread_terms[3 * r];
    x.ratio_b = m.spread_terms[3 * r + 1];
    x.rate = m.spread_terms[3 * r + 2];
  }
  return ns;
}

void run_span(const BatchSpanModel& m, const BatchSpanInstruments& in, const BatchAccounts& acc,
              const BatchOutputs& out, std::size_t begin, std::size_t end, SpanScratch& s,
              pricing::detail::GatherSumFn gather_sum) noexcept {
  for (std::size_t a = begin; a < end; ++a) {
    const double equity = group_positions(in, acc, a, s);
    bool finite = true;
    const std::size_t k = commodity_views(m, in, s, gather_sum, &finite);
    const std::size_t ns = spreads_held(m, s);
    for (std::int32_t c : s.touched) {
      s.used[static_cast<std::size_t>(c)] = 0;
      s.slot[static_cast<std::size_t>(c)] = -1;
    }
    s.touched.clear();
    const Status st =
        k == 0 ? Status::success()
               : models::span_requirement(s.view.data(), k, s.spreads.data(), ns, s.result.data());
    if (!finite || !st.ok()) {  // sums that overflow: not covered
      detail::write_account(out, acc, a, NAN, NAN, equity, -1);
      continue;
    }
    double total = 0.0;
    std::int32_t worst = -1;
    std::int32_t commodity = -1;
    double largest = -1.0;
    for (std::size_t j = 0; j < k; ++j) {
      total += s.result[j].requirement;
      if (s.result[j].requirement > largest) {
        largest = s.result[j].requirement;
        worst = s.result[j].worst_scenario;
        commodity = s.view_commodity[j];
      }
    }
    // SPAN has no separate maintenance level: MM = IM, so status 2 or 0.
    detail::write_account(out, acc, a, total, total, equity, worst, commodity);
  }
}

}  // namespace

Status batch_span(const BatchSpanModel& m, const BatchSpanInstruments& in, const BatchAccounts& acc,
                  const BatchOutputs& out, int threads) noexcept {
  if (m.commodities == 0 || m.commodity == nullptr) {
    return Status::bad_argument("model", "at least one commodity");
  }
  auto nonneg = [](double x) { return std::isfinite(x) && x >= 0.0; };
  for (std::size_t c = 0; c < m.commodities; ++c) {
    const BatchSpanCommodity& bc = m.commodity[c];
    if (bc.tiers == 0 || bc.tiers > models::kSpanMaxTiers) {
      return Status::invalid("tiers", c, "1 to 32 tiers");
    }
    if (bc.weight == nullptr) return Status::invalid("weight", c, "missing");
    for (std::size_t j = 0; j < kNs; ++j) {
      if (!nonneg(bc.weight[j])) return Status::invalid("weight", c, "must be finite and >= 0");
    }
    if (!nonneg(bc.short_option_minimum)) {
      return Status::invalid("short_option_minimum", c, "must be finite and >= 0");
    }
    if (bc.intra_pairs > 0 && (bc.intra_tiers == nullptr || bc.intra_rates == nullptr)) {
      return Status::invalid("intra_rates", c, "missing");
    }
    for (std::size_t p = 0; p < bc.intra_pairs; ++p) {
      const std::int32_t t1 = bc.intra_tiers[2 * p];
      const std::int32_t t2 = bc.intra_tiers[2 * p + 1];
      if (t1 < 0 || t2 < 0 || static_cast<std::size_t>(t1) >= bc.tiers ||
          static_cast<std::size_t>(t2) >= bc.tiers || t1 == t2 || !nonneg(bc.intra_rates[p])) {
        return Status::invalid("intra_rates", c, "no such tier pair, or a rate < 0");
      }
    }
  }
  if (m.spreads > 0 && (m.spread_legs == nullptr || m.spread_terms == nullptr)) {
    return Status::bad_argument("spreads", "missing legs or terms");
  }
  for (std::size_t r = 0; r < m.spreads; ++r) {
    const std::int32_t a = m.spread_legs[2 * r];
    const std::int32_t b = m.spread_legs[2 * r + 1];
    const double* t = m.spread_terms + 3 * r;
    if (a < 0 || b < 0 || static_cast<std::size_t>(a) >= m.commodities ||
        static_cast<std::size_t>(b) >= m.commodities || a == b) {
      return Status::invalid("spreads", r, "no such pair of commodities");
    }
    if (!(std::isfinite(t[0]) && t[0] > 0.0 && std::isfinite(t[1]) && t[1] > 0.0 && t[2] >= 0.0 &&
          t[2] <= 1.0)) {
      return Status::invalid("spreads", r, "ratios must be > 0 and the rate in [0, 1]");
    }
  }
  if (in.n > 0 && (!in.risk || !in.commodity || !in.tier || !in.delta || !in.option || !in.value)) {
    return Status::bad_argument("instruments", "missing column");
  }
  for (std::size_t i = 0; i < in.n; ++i) {
    if (in.commodity[i] < 0 || static_cast<std::size_t>(in.commodity[i]) >= m.commodities) {
      return Status::invalid("commodity", i, "no such commodity");
    }
    const BatchSpanCommodity& bc = m.commodity[static_cast<std::size_t>(in.commodity[i])];
    if (in.tier[i] < 0 || static_cast<std::size_t>(in.tier[i]) >= bc.tiers) {
      return Status::invalid("tier", i, "no such tier of its commodity");
    }
    if (!std::isfinite(in.delta[i]) || !std::isfinite(in.value[i]) || in.option[i] > 1) {
      return Status::invalid("delta", i, "delta and value finite, option 0 or 1");
    }
    for (std::size_t j = 0; j < kNs; ++j) {
      if (!std::isfinite(in.risk[i * kNs + j])) return Status::invalid("risk", i, "must be finite");
    }
  }
  std::size_t widest = 0;
  Status checked = detail::check_accounts(acc, in.n, out, &widest);
  if (!checked.ok()) return checked;
  if (acc.n == 0) return Status::success();
  const std::size_t nthreads = detail::batch_threads(acc, threads);
  const std::size_t C = m.commodities;
  std::vector<SpanScratch> scratch;
  try {
    scratch.resize(nthreads);
    for (auto& s : scratch) {
      s.pnl.assign(C * kNs + 8, 0.0);
      s.tier_delta.assign(C * models::kSpanMaxTiers + 8, 0.0);
      s.used.assign(C + 64, 0);
      s.touched.reserve(C + 16);
      s.rows.assign(widest + 16, 0);
      s.amounts.assign(widest + 16, 0.0);
      s.count.assign(C, 0);
      s.cursor.assign(C, 0);
      s.view.resize(C);
      s.view_commodity.resize(C);
      s.spreads.resize(m.spreads + 1);
      s.slot.assign(C + 16, -1);
      s.result.resize(C);
    }
  } catch (...) {
    return Status::bad_argument("accounts", "not enough memory for the scratch buffers");
  }
  const pricing::detail::GatherSumFn gather_sum = pricing::detail::selected_gather_sum();
  auto range = [&](std::size_t t, std::size_t b, std::size_t e) noexcept {
    run_span(m, in, acc, out, b, e, scratch[t], gather_sum);
  };
  detail::run_split(acc, nthreads, range);
  return Status::success();
}

}  // namespace pymargin::kernel
