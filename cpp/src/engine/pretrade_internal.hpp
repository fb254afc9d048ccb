// SPDX-License-Identifier: Apache-2.0
// Private to the pre-trade engine's sources (pretrade.cpp, pretrade_snapshot.cpp): the
// engine's state (accounts, slots, positions, orders, market state) and its Impl.
#pragma once

#include "pymargin/engine/pretrade.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>

#include "../kernel/pm_worst_internal.hpp"
#include "../pricing/batch_internal.hpp"
#include "pymargin/kernel/revalue.hpp"
#include "pymargin/models/sensitivity_margin.hpp"
#include "pymargin/models/span.hpp"
#include "pymargin/models/standard_margin.hpp"
#include "pymargin/pricing/black.hpp"
#include "pymargin/scenarios/scenario_set.hpp"

namespace pymargin::engine {

namespace internal {

constexpr double kExtendedMoves[8] = {-0.66, -0.33, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0};
constexpr int kStates = 3;  // positions, positions + buy orders, positions + sell orders
constexpr std::size_t kMaxCurrencies = 8;

using kernel::detail::round9;

inline bool finite_positive(double x) noexcept { return std::isfinite(x) && x > 0.0; }

// Every value finite (NaN fails the comparison). Independent lanes, no serial chain.
inline bool all_finite(const double* v, std::size_t n) noexcept {
  unsigned ok = 1;
  for (std::size_t j = 0; j < n; ++j) {
    ok &= static_cast<unsigned>(std::fabs(v[j]) <= std::numeric_limits<double>::max());
  }
  return ok != 0;
}

// Everything that depends on the market: model-ready risk rows and per-unit figures.
struct MarketState {
  std::size_t n = 0;
  std::size_t ns = 0;
  // Per instrument, one block of ns + 2 values: the model-ready risk row per unit amount
  // (settlement currency), then the coin delta and the mark value per unit amount. One block,
  // so that aggregating a position touches one stretch of memory.
  std::size_t stride = 0;
  std::vector<double> rows;
  [[nodiscard]] const double* row(std::size_t i) const noexcept { return rows.data() + i * stride; }
  [[nodiscard]] double delta(std::size_t i) const noexcept { return rows[i * stride + ns]; }
  [[nodiscard]] double value(std::size_t i) const noexcept { return rows[i * stride + ns + 1]; }
  std::vector<double> roll_k;     // currencies x expiries: roll shock per unit |coin delta|
  std::vector<double> cap;        // currencies x underlyings: max credited gain, settlement units
  std::vector<double> damp;       // currencies x underlyings x 8
  std::vector<double> delta_usd;  // underlyings: USD per unit coin delta (index)
  // X:PM: per underlying the USD move of one coin of equity in each scenario (index x M,
  // extended entries scaled like the rows), and per currency its USD price (1 or its index).
  std::vector<double> coin_move;   // [underlyings x ns]
  std::vector<double> coin_price;  // [currencies]
  double cross_scale = 1.0;        // bounds a coin unit's USD figures (see surely_finite)
  // Per instrument: the largest |entry| of its block (risk row, delta x the largest roll
  // factor, mark value); sum |amount| x bound over an account bounds every value it can reach.
  std::vector<double> bound;
  double max_bound = 0.0;
  // Model::kStandard, per instrument: each term's position as a models::StandardPosition
  // (rule, rates, price, index and mark in place; the size set per term), and the coins per
  // unit amount (1/F for inverse futures' USD amounts). max_quad bounds the quadratic part:
  // (im_per_unit + mm_per_unit) x price x coins per unit^2 (see surely_finite).
  std::vector<models::StandardPosition> standard;
  std::vector<double> coins;
  double max_quad = 0.0;
  // Model::kDerive, per engine expiry: the expiry as the model takes it (options' expiries;
  // a perpetual's entry unused) and its terms.
  std::vector<models::DeriveExpiry> derive_expiry;
  std::vector<models::DeriveExpiryTerms> derive_terms;
  std::vector<InstrumentMarket> inputs;
  std::vector<double> index;
};

struct SpinLock {
  std::atomic_flag flag = ATOMIC_FLAG_INIT;
  void lock() noexcept {
    // Held for microseconds at most; yield after a short spin in case the holder was
    // descheduled (more threads than cores).
    for (int spins = 0; flag.test_and_set(std::memory_order_acquire); ++spins) {
      if (spins >= 64) std::this_thread::yield();
    }
  }
  void unlock() noexcept { flag.clear(std::memory_order_release); }
};

// A (currency, underlying) pair the account has touched; under Derive a (currency,
// underlying, expiry) triple (the perpetual's expiry its own), since the model's steps act on
// each expiry's values.
struct Slot {
  std::int32_t currency = 0;
  std::int32_t underlying = 0;
  std::int32_t expiry = -1;  // engine expiry index under Derive, else -1
  // The positions' vector inline (one cache-friendly block per slot); the buy-orders-only and
  // sell-orders-only vectors (2 x ns) once the slot has had open orders.
  std::array<double, kMaxScenarios> pos{};
  std::vector<double> ord;
  double* state(int k, std::size_t ns) noexcept {
    return k == 0 ? pos.data() : ord.data() + static_cast<std::size_t>(k - 1) * ns;
  }
  // The vector of state k as a total: the positions', or the positions' plus that side's
  // orders summed into `tmp` (ns entries), which the result then points to.
  const double* vector(int k, std::size_t ns, double* tmp) const noexcept {
    if (k == 0 || ord.empty()) return pos.data();
    const double* o = ord.data() + static_cast<std::size_t>(k - 1) * ns;
    for (std::size_t j = 0; j < ns; ++j) tmp[j] = pos[j] + o[j];
    return tmp;
  }
  // Deribit: the pair's worst case; grid: the underlying's charge. States: positions,
  // + buy orders, + sell orders.
  double worst[kStates] = {0, 0, 0};
  double net_delta[kStates] = {0, 0, 0};  // coin: positions; buy orders only; sell orders only
  // Grid models, per state (totals, not increments): sum over the slot's instruments of
  // |amount x delta| and of their minimum charges, the amount being the position plus, for
  // states 1 and 2, that side's open orders.
  double gross[kStates] = {0, 0, 0};
  double floor[kStates] = {0, 0, 0};
  // Grid models with strike floors, per state: sum over the slot's strikes of max(0, -net)
  // (Account::strikes), a fraction of the index.
  double strike_short[kStates] = {0, 0, 0};
  double std_mm = 0.0;  // Model::kStandard: the positions' MM (worst[k] holds the IM)
};

// Grid models: per instrument the account has touched (sorted by instrument), its position
// and the sums of its open buy (+) and sell (-) orders, for the gross delta and the minimum
// charges, which are not linear in the amount.
struct Net {
  std::int32_t instrument = 0;
  double q[kStates] = {0, 0, 0};
};

struct ExpiryNet {
  std::int32_t currency = 0;
  std::int32_t expiry = 0;        // engine expiry index
  double d[kStates] = {0, 0, 0};  // positions; buy orders only; sell orders only
};

// `slot` and `entry` cache the indices of the instrument's slot and expiry entry in the
// account (slots and entries are only ever appended); -1 until first looked up.
struct Position {
  std::int32_t instrument = 0;
  double amount = 0.0;
  std::int32_t slot = -1;
  std::int32_t entry = -1;
};

struct Order {
  std::int64_t id = 0;
  std::int32_t instrument = 0;
  Side side = Side::kBuy;
  double remaining = 0.0;
  double amount = 0.0;  // as placed: the scale of the fill tolerance
  std::int32_t slot = -1;
  std::int32_t entry = -1;
};

struct Account {
  mutable SpinLock lock;
  bool in_use = false;
  const MarketState* state = nullptr;               // the market the vectors were aggregated with
  std::array<double, kMaxCurrencies> collateral{};  // per currency
  std::array<double, kMaxCurrencies> cash{};        // per currency: cash flows of fills
  std::array<double, kMaxCurrencies> mark{};        // per currency: sum of amount x value
  std::vector<Slot> slots;
  std::vector<ExpiryNet> expiries;
  std::vector<Position> positions;
  std::vector<Order> orders;
  std::vector<Net> nets;  // grid models only
  // Grid models with strike floors: per strike group the account has touched (sorted by
  // group, Net::instrument holding the group), the net of amount x strike_floor of state k
  // (positions, + buy orders, + sell orders: totals), rebuilt from `nets` with the slot.
  std::vector<Net> strikes;
  // Model::kSensitivity: each margin group's IM per state, kept by every state change (the
  // model is group-level: a check then evaluates it once, for the order's state).
  std::array<double, kMaxCurrencies * kStates> group_im{};
  std::array<double, kMaxCurrencies> group_mm{};  // Derive: each group's MM (positions)
  // Model::kDeribitCross: each pair's loss per state ([underlyings x states]), kept by every
  // state change (sized when the account is added or aggregated).
  std::vector<double> cross_loss;
  double gross = 0.0;  // sum |amount| of positions and open orders (set by aggregate)
};

}  // namespace internal

namespace internal {

// Holds an account's spin lock for a scope.
struct Guard {
  SpinLock& l;
  explicit Guard(SpinLock& lock) noexcept : l(lock) { l.lock(); }
  ~Guard() { l.unlock(); }
  Guard(const Guard&) = delete;
  Guard& operator=(const Guard&) = delete;
};

}  // namespace internal

using namespace internal;  // NOLINT: the engine's own types, in its own sources

struct PreTradeEngine::Impl {
  EngineConfig cfg;
  std::size_t P = 0;  // underlyings
  [[nodiscard]] bool deribit() const noexcept { return cfg.model == Model::kDeribitPortfolio; }
  [[nodiscard]] bool grid() const noexcept { return cfg.model == Model::kScenarioGrid; }
  [[nodiscard]] bool standard() const noexcept { return cfg.model == Model::kStandard; }
  [[nodiscard]] bool sensitivity() const noexcept { return cfg.model == Model::kSensitivity; }
  [[nodiscard]] bool span() const noexcept { return cfg.model == Model::kSpan; }
  [[nodiscard]] bool cross() const noexcept { return cfg.model == Model::kDeribitCross; }
  [[nodiscard]] bool derive() const noexcept { return cfg.model == Model::kDerive; }
  // Deribit's scenario grid, roll shock, delta-shock threshold and rounding: S:PM and X:PM.
  [[nodiscard]] bool pm() const noexcept { return deribit() || cross(); }
  // Models evaluated per margin group (not a sum over underlyings): their IM per state is
  // kept in Account::group_im.
  [[nodiscard]] bool group_level() const noexcept { return sensitivity() || span() || derive(); }
  // Models whose terms are not linear in the amounts keep per-instrument nets.
  [[nodiscard]] bool uses_nets() const noexcept {
    return grid() || standard() || span() || derive();
  }
  // The expiry part of instrument i's slot key (Derive: its engine expiry; else -1).
  [[nodiscard]] std::int32_t slot_expiry(std::int32_t i) const noexcept {
    return derive() ? expiry_of[static_cast<std::size_t>(i)] : -1;
  }
  // Derive: the model's parameters, scenarios pointing into cfg.derive.scenarios.
  models::DeriveParams dparams{};
  // Derive, per engine expiry: 1 when it holds options (0: the perpetuals of an underlying).
  std::vector<std::uint8_t> option_expiry;
  std::vector<double> weight;  // grid: [P x ns] loss weights (padding entries 0)
  std::vector<InstrumentSpec> spec;
  // Per instrument the amount-linear term per unit long and per unit short, [2i] and [2i+1]:
  // the grid's minimum charges (InstrumentSpec::floor_long/floor_short); under SPAN 1 per
  // short option, so the slot sum is the short-option count; 0 otherwise.
  std::vector<double> unit_floor;
  std::vector<std::int32_t> expiry_of;  // engine expiry index per instrument
  // Grid models: the strike group of each instrument (-1: no strike floor), groups numbered
  // in order of first instrument.
  std::vector<std::int32_t> strike_group;
  std::vector<std::int32_t> strike_rep;  // per group: its first instrument
  // Per instrument the weight of its amount in its strike group's net (grid: its strike
  // floor; Derive: 1 per option, the naked shorts being the group's shorts).
  std::vector<double> strike_coef;
  std::size_t n_expiries = 0;
  std::size_t ns = 0;
  std::size_t n_std = 0;
  std::shared_ptr<const MarketState> market;
  // Accounts in chunks of kChunk, allocated as accounts are added (the chunk table is sized
  // once, from the capacity, and never moves). `used` is published with release order after
  // the account is ready; readers acquire it.
  static constexpr std::size_t kChunkBits = 10;
  static constexpr std::size_t kChunk = std::size_t{1} << kChunkBits;
  std::vector<std::unique_ptr<Account[]>> chunks;
  std::atomic<std::size_t> used{0};
  // Engine-wide maxima over accounts and time (never lowered: a conservative bound) of an
  // account's gross amount and of its |balances|; a market update whose largest risk-row
  // bound keeps max_balances + 4 x max_gross x bound finite cannot overflow any account.
  std::atomic<double> max_gross{0.0};
  std::atomic<double> max_balances{0.0};
  void note_extent(const Account& a) noexcept {
    double bal = 0.0;
    for (std::size_t c = 0; c < cfg.currencies.size(); ++c) {
      bal += std::fabs(a.collateral[c]) + std::fabs(a.cash[c]);
    }
    raise_to(max_gross, a.gross);
    raise_to(max_balances, bal);
  }
  static void raise_to(std::atomic<double>& m, double v) noexcept {
    if (!(v <= std::numeric_limits<double>::max())) v = std::numeric_limits<double>::infinity();
    double cur = m.load(std::memory_order_relaxed);
    while (!(cur >= v) && !m.compare_exchange_weak(cur, v, std::memory_order_relaxed)) {
    }
  }
  Account& account(std::size_t id) noexcept { return chunks[id >> kChunkBits][id & (kChunk - 1)]; }
  const Account& account(std::size_t id) const noexcept {
    return chunks[id >> kChunkBits][id & (kChunk - 1)];
  }
  // The account `id` if it is in use, else nullptr.
  Account* live(std::int64_t id) noexcept {
    if (id < 0 || static_cast<std::size_t>(id) >= used.load(std::memory_order_acquire))
      return nullptr;
    return &account(static_cast<std::size_t>(id));
  }
  const Account* live(std::int64_t id) const noexcept {
    if (id < 0 || static_cast<std::size_t>(id) >= used.load(std::memory_order_acquire))
      return nullptr;
    return &account(static_cast<std::size_t>(id));
  }
  std::mutex admin;  // serialises add_account and market updates
  pricing::detail::AxpyFn axpy = pricing::detail::selected_axpy();

  // --- market ----------------------------------------------------------------------------
  Status build_market(const std::vector<InstrumentMarket>& in, const std::vector<double>& index,
                      std::shared_ptr<MarketState>* out) const;

  // --- per-account evaluation -------------------------------------------------------------
  double slot_worst(const MarketState& ms, std::int32_t c, std::int32_t u,
                    const double* v) const noexcept;
  double grid_charge(const MarketState& ms, std::int32_t u, const double* v, double net,
                     double gross, double floor, double strike_short) const noexcept;
  // The per-unit term of holding `amount` of instrument i, summed per slot (Slot::floor).
  double floor_of(std::int32_t i, double amount) const noexcept {
    const double* f = &unit_floor[2 * static_cast<std::size_t>(i)];
    return amount > 0.0 ? amount * f[0] : -amount * f[1];
  }
  void refresh_net_terms(Account& a, const MarketState& ms, Slot& s) const noexcept;
  // Model::kSensitivity: the IM of currency group c in state k (0 positions, 1 + buy orders,
  // 2 + sell orders), with the vector of underlying `swap_u` replaced by `swap_v` (for a
  // check; -1: none). NaN when the model refuses its inputs (sums that overflow).
  double sensitivity_im(const Account& a, std::int32_t c, int k, std::int32_t swap_u,
                        const double* swap_v) const noexcept;
  // Model::kSpan: the requirement of group c in state k, the vector and short options of
  // underlying swap_u replaced (for a check; -1: none). NaN when the model refuses.
  double span_im(const Account& a, std::int32_t c, int k, std::int32_t swap_u, const double* swap_v,
                 double swap_shorts) const noexcept;
  // Model::kDerive: the IM of group c in state k (*mm its MM), with the slot `swap` (its key,
  // vector, perpetual |amount| and naked shorts) in place of the account's slot of that key
  // (for a check; nullptr: none). pretrade_derive.cpp.
  struct DeriveSwap {
    std::int32_t underlying = 0, expiry = 0;
    const double* v = nullptr;
    double perp = 0.0, naked = 0.0;
  };
  double derive_im(const Account& a, const MarketState& ms, std::int32_t c, int k,
                   const DeriveSwap* swap, double* mm) const noexcept;
  // Model::kDerive: each expiry's model inputs and terms, each instrument's row (the market's
  // phase of build_market; pretrade_derive.cpp).
  Status derive_market(const std::vector<InstrumentMarket>& in, MarketState* ms,
                       std::vector<double>* risk) const;
  // Model::kDeribitCross: the loss of pair u in state k, the vector of currency swap_c's slot
  // on u replaced by swap_v (for a check; -1: none). NaN when an entry is not finite.
  double cross_set_loss(const Account& a, const MarketState& ms, std::int32_t u, int k,
                        std::int32_t swap_c, const double* swap_v) const noexcept;
  // The USD equity of an X:PM account (haircuts applied) and a currency's coin equity.
  static double coin_equity(const Account& a, std::size_t c) noexcept {
    return a.collateral[c] + a.cash[c] + a.mark[c];
  }
  double cross_equity(const Account& a, const MarketState& ms) const noexcept {
    double eq = 0.0;
    for (std::size_t c = 0; c < cfg.currencies.size(); ++c) {
      const double e = coin_equity(a, c);
      eq += e * ms.coin_price[c] * (e > 0.0 ? 1.0 - cfg.currencies[c].haircut : 1.0);
    }
    return eq;
  }
  void refresh_group(Account& a, const MarketState& ms, std::int32_t c) const noexcept {
    if (cross()) {
      for (std::size_t u = 0; u < P; ++u) {
        for (int k = 0; k < kStates; ++k) {
          a.cross_loss[u * kStates + static_cast<std::size_t>(k)] =
              cross_set_loss(a, ms, static_cast<std::int32_t>(u), k, -1, nullptr);
        }
      }
      return;
    }
    if (!group_level()) return;
    for (int k = 0; k < kStates; ++k) {
      double mm = 0.0;
      a.group_im[static_cast<std::size_t>(c) * kStates + static_cast<std::size_t>(k)] =
          derive() ? derive_im(a, ms, c, k, nullptr, &mm)
          : span() ? span_im(a, c, k, -1, nullptr, 0.0)
                   : sensitivity_im(a, c, k, -1, nullptr);
      if (derive() && k == 0) a.group_mm[static_cast<std::size_t>(c)] = mm;
    }
  }
  // Model::kStandard: the IM and MM of holding `amount` of instrument i.
  static models::StandardMargin standard_term(const MarketState& ms, std::int32_t i,
                                              double amount) noexcept {
    models::StandardPosition p = ms.standard[static_cast<std::size_t>(i)];
    p.size = amount * ms.coins[static_cast<std::size_t>(i)];
    return models::standard_position(p);
  }
  void refresh_slot(const MarketState& ms, Slot& s) const noexcept;
  void aggregate(Account& a, const MarketState& ms) const;
  bool finite(const Account& a, const MarketState& ms) const noexcept;
  bool surely_finite(const Account& a, const MarketState& ms) const noexcept;
  GroupMargin group(const Account& a, const MarketState& ms, std::int32_t c,
                    double* rmm_states) const noexcept;
  CheckResult check_with(const Account& a, const MarketState& ms, const GroupMargin& before,
                         double* rmm, std::int32_t instrument, Side side,
                         double amount) const noexcept;
};

namespace internal {

// The slot of (currency, underlying, expiry key: PreTradeEngine::Impl::slot_expiry).
inline Slot* find_slot(Account& a, std::int32_t c, std::int32_t u, std::int32_t e) noexcept {
  for (auto& s : a.slots) {
    if (s.currency == c && s.underlying == u && s.expiry == e) return &s;
  }
  return nullptr;
}
inline const Slot* find_slot(const Account& a, std::int32_t c, std::int32_t u,
                             std::int32_t e) noexcept {
  for (const auto& s : a.slots) {
    if (s.currency == c && s.underlying == u && s.expiry == e) return &s;
  }
  return nullptr;
}
inline Net* find_net(Account& a, std::int32_t i) noexcept {
  auto it = std::lower_bound(a.nets.begin(), a.nets.end(), i,
                             [](const Net& x, std::int32_t y) { return x.instrument < y; });
  return it != a.nets.end() && it->instrument == i ? &*it : nullptr;
}
inline const Net* find_net(const Account& a, std::int32_t i) noexcept {
  auto it = std::lower_bound(a.nets.begin(), a.nets.end(), i,
                             [](const Net& x, std::int32_t y) { return x.instrument < y; });
  return it != a.nets.end() && it->instrument == i ? &*it : nullptr;
}
inline Net* find_strike(Account& a, std::int32_t g) noexcept {
  auto it = std::lower_bound(a.strikes.begin(), a.strikes.end(), g,
                             [](const Net& x, std::int32_t y) { return x.instrument < y; });
  return it != a.strikes.end() && it->instrument == g ? &*it : nullptr;
}
inline const Net* find_strike(const Account& a, std::int32_t g) noexcept {
  auto it = std::lower_bound(a.strikes.begin(), a.strikes.end(), g,
                             [](const Net& x, std::int32_t y) { return x.instrument < y; });
  return it != a.strikes.end() && it->instrument == g ? &*it : nullptr;
}
inline ExpiryNet* find_expiry(Account& a, std::int32_t c, std::int32_t e) noexcept {
  for (auto& x : a.expiries) {
    if (x.currency == c && x.expiry == e) return &x;
  }
  return nullptr;
}

}  // namespace internal

namespace internal {

// The slot and expiry entries of instrument i created where missing, in canonical order
// (pretrade.cpp); restore rebuilds accounts through it.
void ensure_entries(const PreTradeEngine::Impl& m, Account& a, std::int32_t i, bool orders);

}  // namespace internal

}  // namespace pymargin::engine
