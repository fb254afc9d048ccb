// SPDX-License-Identifier: Apache-2.0
#include "pymargin/kernel/batch_margin.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <thread>
#include <vector>

#include "../pricing/batch_internal.hpp"
#include "../models/scenario_margin_internal.hpp"
#include "../common/thread_pool.hpp"
#include "batch_internal.hpp"
#include "pm_worst_internal.hpp"

namespace pymargin::kernel {

namespace {

// Per-thread working memory. The buffers written once per position (pair vectors, pair and
// expiry net deltas) sit in one allocation with a cache line of padding at each end, so two
// threads never write to the same line.
constexpr std::size_t kPad = 8;  // doubles: 64 bytes

struct Scratch {
  std::vector<double> store;  // pad | v [pairs x stride] | pair sums [3 x pairs] | net | pad
  double* v = nullptr;
  double* pair_delta = nullptr;  // [pairs] net coin delta
  double* pair_gross = nullptr;  // [pairs] sum of |position delta|
  double* pair_floor = nullptr;  // [pairs] sum of the positions' minimum charges
  double* net = nullptr;         // [expiries]
  std::vector<unsigned char> pair_used;
  std::vector<std::int32_t> pairs_touched;
  std::vector<unsigned char> exp_used;
  std::vector<std::int32_t> exps_touched;
  // The model's inputs and outputs for one account (sized once; no allocation per account).
  std::vector<models::GroupView> groups;
  std::vector<models::SetResult> sets;
  std::vector<double> set_entries;     // [pairs x stride]
  std::vector<double> roll_k, roll_d;  // [expiries]
  // X:PM: the positions' mark value per currency, each set's index in this account's model
  std::vector<double> ccy_value;
  std::vector<std::int32_t> set_local;
  std::vector<std::int32_t> sets_touched;
  std::vector<std::int32_t> set_global;  // each of this account's sets: its pair (X:PM: set)
};

// The group vector u of scratch s, zeroed on its first use by the account.
inline double* touch(Scratch& s, std::size_t u, std::size_t stride) noexcept {
  double* v = s.v + u * stride;
  if (!s.pair_used[u]) {
    s.pair_used[u] = 1;
    s.pairs_touched.push_back(static_cast<std::int32_t>(u));
    std::fill(v, v + stride, 0.0);
    s.pair_delta[u] = 0.0;
    s.pair_gross[u] = 0.0;
    s.pair_floor[u] = 0.0;
  }
  return v;
}

// A position's coin delta added to its expiry's net (zeroed on the account's first touch).
inline void add_expiry(Scratch& s, std::size_t e, double qd) noexcept {
  if (!s.exp_used[e]) {
    s.exp_used[e] = 1;
    s.exps_touched.push_back(static_cast<std::int32_t>(e));
    s.net[e] = 0.0;
  }
  s.net[e] += qd;
}

// X:PM: the account's equity in USD from its currencies, each coin's equity move added to its
// shock group's vector (after the positions' sums).
double cross_equity(const BatchCross& x, std::size_t a, std::size_t stride, Scratch& s) noexcept {
  double equity = 0.0;
  for (std::size_t c = 0; c < x.currencies; ++c) {
    const double e = x.balance[a * x.currencies + c] + s.ccy_value[c];
    s.ccy_value[c] = 0.0;
    equity += e * x.price[c] * (e > 0.0 ? 1.0 - x.haircut[c] : 1.0);
    const std::uint8_t side = x.side[c];
    if (x.shock_group[c] < 0 || side == 0 || e == 0.0) continue;
    double* v = touch(s, static_cast<std::size_t>(x.shock_group[c]), stride);
    const double* move = x.coin_move + c * stride;
    for (std::size_t j = 0; j < stride; ++j) {
      double m = e * move[j];
      if (side == 2) m = std::fmax(m, 0.0);
      if (side == 3) m = std::fmin(m, 0.0);
      v[j] += m;
    }
  }
  return equity;
}

// Account a's positions summed into its pairs' vectors, net and gross deltas, floors and
// expiry nets (in first-touch order); returns its equity (collateral + mark value, X:PM: in
// USD net of haircuts).
inline double sum_positions(const BatchInstruments& in, const BatchAccounts& acc,
                            const BatchCross* cross, std::size_t a, Scratch& s,
                            pricing::detail::AxpyFn axpy,
                            pricing::detail::GatherSumFn gather_sum) noexcept {
  const std::size_t stride = in.stride;
  const bool floors = in.floor_long != nullptr;
  double equity = acc.collateral[a];
  const auto p0 = static_cast<std::size_t>(acc.offsets[a]);
  const auto p1 = static_cast<std::size_t>(acc.offsets[a + 1]);
  // An account in one pair (the usual case): its rows summed by the gather-sum (the sums
  // in registers; the same bits as one axpy per position, in order).
  bool one_pair = p1 > p0;
  const std::int32_t pair0 = p1 > p0 ? in.pair[acc.instrument[p0]] : 0;
  for (std::size_t p = p0 + 1; p < p1 && one_pair; ++p) {
    one_pair = in.pair[acc.instrument[p]] == pair0;
  }
  bool p1_done = false;
  if (one_pair && !cross) {
    // The usual case: the pair's sums in registers (the same additions in the same order),
    // no store-to-load chain through memory per position.
    const auto u0 = static_cast<std::size_t>(pair0);
    touch(s, u0, stride);
    double pd = 0.0, pg = 0.0, pf = 0.0;
    for (std::size_t p = p0; p < p1; ++p) {
      const auto i = static_cast<std::size_t>(acc.instrument[p]);
      const double q = acc.amount[p];
      const double qd = q * in.delta[i];
      pd += qd;
      pg += std::fabs(qd);
      if (floors) pf += q > 0.0 ? q * in.floor_long[i] : -q * in.floor_short[i];
      add_expiry(s, static_cast<std::size_t>(in.expiry[i]), qd);
      equity += q * in.value[i];
    }
    s.pair_delta[u0] = pd;
    s.pair_gross[u0] = pg;
    s.pair_floor[u0] = pf;
    p1_done = true;
  }
  for (std::size_t p = p0; p < p1 && !p1_done; ++p) {
    const auto i = static_cast<std::size_t>(acc.instrument[p]);
    const double q = acc.amount[p];
    const auto u = static_cast<std::size_t>(in.pair[i]);
    double* v = touch(s, u, stride);
    if (!one_pair) axpy(stride, q, in.risk + i * stride, v);
    const double qd = q * in.delta[i];
    s.pair_delta[u] += qd;
    s.pair_gross[u] += std::fabs(qd);
    if (floors) s.pair_floor[u] += q > 0.0 ? q * in.floor_long[i] : -q * in.floor_short[i];
    add_expiry(s, static_cast<std::size_t>(in.expiry[i]), qd);
    if (cross) {
      s.ccy_value[static_cast<std::size_t>(cross->currency[i])] += q * in.value[i];
    } else {
      equity += q * in.value[i];
    }
  }
  if (one_pair) {
    gather_sum(stride, p1 - p0, in.risk, stride, acc.instrument + p0, acc.amount + p0,
               s.v + static_cast<std::size_t>(pair0) * stride);
  }
  if (cross) equity += cross_equity(*cross, a, stride, s);
  return equity;
}

// The model's groups from the pairs the account touched (first-touch order: the sums do
// not depend on the thread split), their sets (X:PM: a pair's groups share one), and whether
// every pair is within its delta limit (the positive test: a NaN delta is not). Returns the
// group count; *nsets the set count.
inline std::size_t collect_groups(const BatchModel& m, const double* full_damp,
                                  const BatchCross* cross, std::size_t stride, Scratch& s,
                                  std::size_t* nsets, bool* covered) noexcept {
  std::size_t sets = 0;
  std::size_t k = 0;
  for (std::int32_t u : s.pairs_touched) {
    const auto uu = static_cast<std::size_t>(u);
    models::GroupView& g = s.groups[k];
    g.pnl = s.v + uu * stride;
    g.weight = m.weight ? m.weight + uu * stride : nullptr;
    g.damp = full_damp ? full_damp + uu * stride : nullptr;
    g.pnl_offset = m.pnl_offsets ? m.pnl_offsets[uu] : m.pnl_offset;
    g.cap = m.cap[uu];
    g.net_delta = s.pair_delta[uu];
    g.gross_delta = s.pair_gross[uu];
    g.delta_price = m.delta_price ? m.delta_price[uu] : 0.0;
    g.unhedged_delta = m.unhedged_delta ? m.unhedged_delta[uu] : 0.0;
    g.hedged_delta = m.hedged_delta ? m.hedged_delta[uu] : 0.0;
    g.floor = s.pair_floor[uu];
    g.set = static_cast<std::int32_t>(k);
    if (!cross) s.set_global[k] = u;
    if (cross) {
      const auto set = static_cast<std::size_t>(cross->group_set[uu]);
      if (s.set_local[set] < 0) {
        s.set_global[sets] = static_cast<std::int32_t>(set);
        s.set_local[set] = static_cast<std::int32_t>(sets++);
        s.sets_touched.push_back(static_cast<std::int32_t>(set));
      }
      g.set = s.set_local[set];
    }
    if (m.delta_limit != nullptr && !(std::fabs(s.pair_delta[uu]) <= m.delta_limit[uu])) {
      *covered = false;
    }
    s.pair_used[uu] = 0;
    ++k;
  }
  s.pairs_touched.clear();
  *nsets = cross ? sets : k;
  for (std::int32_t set : s.sets_touched) s.set_local[static_cast<std::size_t>(set)] = -1;
  s.sets_touched.clear();
  return k;
}

// The roll shock's terms of the expiries the account touched: factor and net delta.
inline std::size_t collect_expiries(const BatchModel& m, Scratch& s) noexcept {
  std::size_t ne = 0;
  for (std::int32_t e : s.exps_touched) {
    const auto ee = static_cast<std::size_t>(e);
    s.roll_k[ne] = m.roll_k[ee];
    s.roll_d[ne] = s.net[ee];
    ++ne;
    s.exp_used[ee] = 0;
  }
  s.exps_touched.clear();
  return ne;
}

void run_range(const BatchModel& m, const models::ModelRules& rules, const double* full_damp,
               const BatchInstruments& in, const BatchAccounts& acc, const BatchOutputs& out,
               const BatchCross* cross, std::size_t begin, std::size_t end, Scratch& s,
               pricing::detail::AxpyFn axpy, pricing::detail::GatherSumFn gather_sum) noexcept {
  const std::size_t stride = in.stride;
  for (std::size_t a = begin; a < end; ++a) {
    const double equity = sum_positions(in, acc, cross, a, s, axpy, gather_sum);
    std::size_t nsets = 0;
    bool covered = true;
    const std::size_t k = collect_groups(m, full_damp, cross, stride, s, &nsets, &covered);
    const std::size_t ne = collect_expiries(m, s);
    models::MarginResult res;
    const Status st = models::detail::evaluate(rules, stride, k, s.groups.data(), nsets, ne,
                                               s.roll_k.data(), s.roll_d.data(), 0.0, 0.0,
                                               s.sets.data(), &res, s.set_entries.data(), nullptr);
    // The worst scenario: the lowest entry over the pairs (the first pair on a tie).
    std::int32_t worst_at = -1;
    std::int32_t worst_set = -1;
    double lowest = std::numeric_limits<double>::infinity();
    for (std::size_t j = 0; j < nsets && st.ok(); ++j) {
      if (s.sets[j].lowest < lowest) {
        lowest = s.sets[j].lowest;
        worst_at = s.sets[j].at;
        worst_set = s.set_global[j];
      }
    }
    // Not covered: beyond the delta-shock threshold (the model's formula is unpublished), or
    // sums that overflow (inputs are finite, their sums need not be). NaN margins, never
    // reported healthy.
    if (!covered || !st.ok() || !std::isfinite(equity)) {
      detail::write_account(out, acc, a, NAN, NAN, equity, worst_at, worst_set);  // not covered
      continue;
    }
    detail::write_account(out, acc, a, res.initial_margin, res.maintenance_margin, equity, worst_at,
                          worst_set);
  }
}

}  // namespace

namespace {

Status check_cross(const BatchCross& x, const BatchModel& m, const BatchInstruments& in,
                   const BatchAccounts& acc) noexcept {
  if (x.sets == 0 || x.sets > m.pairs || x.currencies == 0) {
    return Status::bad_argument("cross", "1 .. groups sets and at least one currency");
  }
  if (!x.group_set || !x.price || !x.haircut || !x.shock_group || !x.side || !x.coin_move ||
      (in.n > 0 && !x.currency) || (acc.n > 0 && !x.balance)) {
    return Status::bad_argument("cross", "missing column");
  }
  for (std::size_t g = 0; g < m.pairs; ++g) {
    if (x.group_set[g] < 0 || static_cast<std::size_t>(x.group_set[g]) >= x.sets) {
      return Status::invalid("group_set", g, "no such set");
    }
  }
  for (std::size_t c = 0; c < x.currencies; ++c) {
    if (!(std::isfinite(x.price[c]) && x.price[c] > 0.0)) {
      return Status::invalid("price", c, "must be finite and > 0");
    }
    if (!(x.haircut[c] >= 0.0 && x.haircut[c] <= 1.0)) {
      return Status::invalid("haircut", c, "must be in [0, 1]");
    }
    if (x.shock_group[c] < -1 || x.shock_group[c] >= static_cast<std::int64_t>(m.pairs)) {
      return Status::invalid("shock_group", c, "a group index or -1");
    }
    if (x.side[c] > 3) return Status::invalid("side", c, "0, 1, 2 or 3");
    for (std::size_t j = 0; j < in.stride; ++j) {
      if (!std::isfinite(x.coin_move[c * in.stride + j])) {
        return Status::invalid("coin_move", c, "must be finite");
      }
    }
  }
  for (std::size_t i = 0; i < in.n; ++i) {
    if (x.currency[i] < 0 || static_cast<std::size_t>(x.currency[i]) >= x.currencies) {
      return Status::invalid("currency", i, "no such currency");
    }
  }
  for (std::size_t k = 0; k < acc.n * x.currencies; ++k) {
    if (!std::isfinite(x.balance[k]))
      return Status::invalid("balance", k / x.currencies, "not finite");
  }
  return Status::success();
}

}  // namespace

namespace {

// The model's and the instruments' terms checked before anything is allocated: row layout,
// columns given together, caps, offsets, dampeners, weights and roll factors >= 0, every
// instrument's pair, expiry, delta, value, floors and risk row finite and in range.
Status check_model(const BatchModel& m, const BatchInstruments& in) noexcept {
  if (in.stride == 0 || m.n_std > in.stride) {
    return Status::bad_argument("risk", "rows hold n_std standard entries, then the extended");
  }
  if (m.pairs == 0 || m.expiries == 0) return Status::bad_argument("model", "pairs, expiries");
  if (in.n > 0 && (!in.risk || !in.pair || !in.expiry || !in.delta || !in.value)) {
    return Status::bad_argument("instruments", "missing column");
  }
  if (!m.cap || !m.roll_k) return Status::bad_argument("model", "missing column");
  if ((in.floor_long == nullptr) != (in.floor_short == nullptr)) {
    return Status::bad_argument("floor", "give both floor_long and floor_short, or neither");
  }
  if ((m.delta_price == nullptr) != (m.unhedged_delta == nullptr) ||
      (m.delta_price == nullptr) != (m.hedged_delta == nullptr)) {
    return Status::bad_argument("delta_price", "the minimum delta needs its price and factors");
  }
  if (m.tie_period > 0 && m.tie_slot >= m.tie_period) {
    return Status::bad_argument("tie_slot", "must be below tie_period");
  }
  if (!(std::isfinite(m.mm_factor) && m.mm_factor >= 0.0)) {
    return Status::bad_argument("mm_factor", "must be finite and >= 0");
  }
  const std::size_t n_ext = in.stride - m.n_std;
  auto nonneg = [](double x) { return std::isfinite(x) && x >= 0.0; };
  for (std::size_t u = 0; u < m.pairs; ++u) {
    if (m.delta_limit != nullptr && !(m.delta_limit[u] >= 0.0)) {
      return Status::invalid("delta_limit", u, "must be >= 0");
    }
    if (!(m.cap[u] >= 0.0)) return Status::invalid("cap", u, "must be >= 0");
    const double off = m.pnl_offsets ? m.pnl_offsets[u] : m.pnl_offset;
    if (!(off >= 0.0 && off <= 1.0)) return Status::invalid("pnl_offset", u, "must be in [0, 1]");
    if (m.delta_price != nullptr &&
        !(nonneg(m.delta_price[u]) && nonneg(m.unhedged_delta[u]) && nonneg(m.hedged_delta[u]))) {
      return Status::invalid("delta_price", u, "price and factors must be finite and >= 0");
    }
    for (std::size_t j = 0; m.damp && j < n_ext; ++j) {
      if (!nonneg(m.damp[u * n_ext + j])) return Status::invalid("damp", u, "must be >= 0");
    }
    for (std::size_t j = 0; m.weight && j < in.stride; ++j) {
      if (!nonneg(m.weight[u * in.stride + j])) return Status::invalid("weight", u, "must be >= 0");
    }
  }
  for (std::size_t e = 0; e < m.expiries; ++e) {
    if (!nonneg(m.roll_k[e])) return Status::invalid("roll_k", e, "must be finite and >= 0");
  }
  for (std::size_t i = 0; i < in.n; ++i) {
    if (in.pair[i] < 0 || static_cast<std::size_t>(in.pair[i]) >= m.pairs) {
      return Status::invalid("pair", i, "no such pair");
    }
    if (in.expiry[i] < 0 || static_cast<std::size_t>(in.expiry[i]) >= m.expiries) {
      return Status::invalid("expiry", i, "no such expiry index");
    }
    if (!std::isfinite(in.delta[i]) || !std::isfinite(in.value[i])) {
      return Status::invalid("delta", i, "delta and value must be finite");
    }
    if (in.floor_long != nullptr &&
        !(std::isfinite(in.floor_long[i]) && in.floor_long[i] >= 0.0 &&
          std::isfinite(in.floor_short[i]) && in.floor_short[i] >= 0.0)) {
      return Status::invalid("floor", i, "must be finite and >= 0");
    }
    for (std::size_t j = 0; j < in.stride; ++j) {
      if (!std::isfinite(in.risk[i * in.stride + j])) {
        return Status::invalid("risk", i, "must be finite");
      }
    }
  }
  return Status::success();
}

// A thread's working memory sized for the model (may throw std::bad_alloc).
void size_scratch(const BatchModel& m, const BatchInstruments& in, const BatchCross* cross,
                  Scratch& s) {
  s.store.assign(2 * kPad + m.pairs * in.stride + 3 * m.pairs + m.expiries, 0.0);
  s.v = s.store.data() + kPad;
  s.pair_delta = s.v + m.pairs * in.stride;
  s.pair_gross = s.pair_delta + m.pairs;
  s.pair_floor = s.pair_gross + m.pairs;
  s.net = s.pair_floor + m.pairs;
  s.groups.resize(m.pairs);
  s.sets.resize(m.pairs);
  s.set_global.assign(std::max(m.pairs, cross != nullptr ? cross->sets : 0) + 16, -1);
  s.set_entries.resize(m.pairs * in.stride + kPad);
  s.roll_k.resize(m.expiries + kPad);
  s.roll_d.resize(m.expiries + kPad);
  // the small buffers get a cache line of spare tail: the next allocation (maybe another
  // thread's) never shares a line with their used part
  s.pair_used.assign(m.pairs + 64, 0);
  s.pairs_touched.reserve(m.pairs + 16);
  s.exp_used.assign(m.expiries + 64, 0);
  s.exps_touched.reserve(m.expiries + 16);
  if (cross != nullptr) {
    s.ccy_value.assign(cross->currencies + kPad, 0.0);
    s.set_local.assign(cross->sets + 16, -1);
    s.sets_touched.reserve(cross->sets + 16);
  }
}

}  // namespace

Status batch_margin(const BatchModel& m, const BatchInstruments& in, const BatchAccounts& acc,
                    const BatchOutputs& out, int threads, const BatchCross* cross) noexcept {
  Status checked = check_model(m, in);
  if (!checked.ok()) return checked;
  std::size_t widest = 0;
  checked = detail::check_accounts(acc, in.n, out, &widest);
  if (!checked.ok()) return checked;
  if (cross != nullptr) {
    checked = check_cross(*cross, m, in, acc);
    if (!checked.ok()) return checked;
  }
  if (acc.n == 0) return Status::success();
  const std::size_t nthreads = detail::batch_threads(acc, threads);
  std::vector<Scratch> scratch;
  std::vector<double> full_damp;  // [pairs x stride]: 0 on the standard entries
  models::ModelRules rules;
  rules.mm_factor = m.mm_factor;
  rules.round_worst = m.round_worst;
  rules.tie_standard = m.n_std;
  rules.tie_period = m.tie_period;
  rules.tie_slot = m.tie_slot;
  try {
    const std::size_t n_ext = in.stride - m.n_std;
    if (m.damp != nullptr) {
      full_damp.assign(m.pairs * in.stride, 0.0);
      for (std::size_t u = 0; u < m.pairs; ++u) {
        for (std::size_t j = 0; j < n_ext; ++j) {
          full_damp[u * in.stride + m.n_std + j] = m.damp[u * n_ext + j];
        }
      }
    }
    scratch.resize(nthreads);
    for (auto& s : scratch) size_scratch(m, in, cross, s);
  } catch (...) {
    return Status::bad_argument("accounts", "not enough memory for the scratch buffers");
  }
  const pricing::detail::AxpyFn axpy = pricing::detail::selected_axpy();
  const pricing::detail::GatherSumFn gather_sum = pricing::detail::selected_gather_sum();
  const double* fd = full_damp.empty() ? nullptr : full_damp.data();
  auto range = [&](std::size_t t, std::size_t b, std::size_t e) noexcept {
    run_range(m, rules, fd, in, acc, out, cross, b, e, scratch[t], axpy, gather_sum);
  };
  detail::run_split(acc, nthreads, range);
  return Status::success();
}

namespace detail {

Status check_accounts(const BatchAccounts& acc, std::size_t n_instruments, const BatchOutputs& out,
                      std::size_t* widest) noexcept {
  if (acc.n > 0 && (!acc.offsets || !acc.collateral)) {
    return Status::bad_argument("accounts", "missing offsets or collateral");
  }
  if (acc.n > 0 && acc.offsets[0] != 0) return Status::invalid("offsets", 0, "must start at 0");
  std::size_t most = 0;
  for (std::size_t a = 0; a < acc.n; ++a) {
    if (acc.offsets[a + 1] < acc.offsets[a]) {
      return Status::invalid("offsets", a + 1, "must not decrease");
    }
    if (!std::isfinite(acc.collateral[a])) return Status::invalid("collateral", a, "not finite");
    if (acc.im_addon != nullptr && !(std::isfinite(acc.im_addon[a]) && acc.im_addon[a] >= 0.0))
      return Status::invalid("im_addon", a, "must be finite and >= 0");
    if (acc.mm_addon != nullptr && !(std::isfinite(acc.mm_addon[a]) && acc.mm_addon[a] >= 0.0))
      return Status::invalid("mm_addon", a, "must be finite and >= 0");
    most = std::max(most, static_cast<std::size_t>(acc.offsets[a + 1] - acc.offsets[a]));
  }
  const auto nnz = static_cast<std::size_t>(acc.n > 0 ? acc.offsets[acc.n] : 0);
  if (nnz > 0 && (!acc.instrument || !acc.amount)) {
    return Status::bad_argument("accounts", "missing instrument or amount");
  }
  for (std::size_t p = 0; p < nnz; ++p) {
    if (acc.instrument[p] < 0 || static_cast<std::size_t>(acc.instrument[p]) >= n_instruments) {
      return Status::invalid("instrument", p, "no such instrument");
    }
    if (!std::isfinite(acc.amount[p])) return Status::invalid("amount", p, "must be finite");
  }
  if (acc.n > 0 && (!out.initial_margin || !out.maintenance_margin || !out.equity || !out.ratio ||
                    !out.status)) {
    return Status::bad_argument("out", "missing output column");
  }
  if (widest != nullptr) *widest = most;
  return Status::success();
}

void write_account(const BatchOutputs& out, const BatchAccounts& acc, std::size_t a, double im,
                   double mm, double equity, std::int32_t worst, std::int32_t group) noexcept {
  if (acc.im_addon != nullptr) im += acc.im_addon[a];
  if (acc.mm_addon != nullptr) mm += acc.mm_addon[a];
  out.equity[a] = equity;
  if (out.worst_index != nullptr) out.worst_index[a] = worst;
  if (out.worst_group != nullptr) out.worst_group[a] = worst < 0 ? -1 : group;
  if (!(std::isfinite(im) && std::isfinite(mm) && std::isfinite(equity))) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    out.initial_margin[a] = nan;
    out.maintenance_margin[a] = nan;
    out.ratio[a] = nan;
    out.status[a] = 3;
    return;
  }
  out.initial_margin[a] = im;
  out.maintenance_margin[a] = mm;
  out.ratio[a] = equity > 0.0 ? mm / equity
                 : mm > 0.0   ? std::numeric_limits<double>::infinity()
                              : 0.0;
  out.status[a] = static_cast<std::int8_t>(mm > 0.0 && mm >= equity   ? 2
                                           : im > 0.0 && im >= equity ? 1
                                                                      : 0);
}

std::size_t batch_threads(const BatchAccounts& acc, int threads) noexcept {
  const std::size_t n = threads > 0 ? static_cast<std::size_t>(threads)
                                    : std::max(1u, std::thread::hardware_concurrency());
  return std::min(n, std::max<std::size_t>(1, acc.n / 1024));
}

void run_split(const BatchAccounts& acc, std::size_t nthreads, RangeFn range, void* ctx) noexcept {
  if (nthreads <= 1) {
    range(ctx, 0, 0, acc.n);
    return;
  }
  // Balanced by positions, not accounts (a cut is where the target position count falls).
  const auto nnz = static_cast<std::size_t>(acc.offsets[acc.n]);
  auto task = [&](std::size_t t) noexcept {
    auto cut = [&](std::size_t k) {
      if (k == 0) return std::size_t{0};
      if (k >= nthreads) return acc.n;
      const auto target = static_cast<std::int64_t>(nnz * k / nthreads);
      return static_cast<std::size_t>(std::lower_bound(acc.offsets, acc.offsets + acc.n, target) -
                                      acc.offsets);
    };
    range(ctx, t, cut(t), cut(t + 1));
  };
  pymargin::detail::parallel_for(nthreads, task);
}

}  // namespace detail

}  // namespace pymargin::kernel
