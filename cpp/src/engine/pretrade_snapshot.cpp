// SPDX-License-Identifier: Apache-2.0
// The pre-trade engine's snapshot (versioned, checksummed binary) and restore, which
// re-validates every count and value before anything is built.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "pretrade_internal.hpp"

namespace pymargin::engine {

// --- snapshot and restore -------------------------------------------------------------------
//
// Format (fixed-width fields in this machine's byte order, recorded in the header):
//   "PMENGINE" (8 bytes) | format version u32 | byte-order mark u32 (0x01020304)
//   | payload length u64 | payload | FNV-1a 64 checksum of the payload u64.
// The payload holds the configuration, the instruments, the market inputs and every
// account's collateral, cash, positions and open orders. Risk arrays are not stored: restore
// recomputes them from the market inputs, which gives the same numbers. Restore checks the
// header, the length and the checksum, then parses with bounds checks into a new engine; any
// failure returns a Status and no engine.

namespace {

constexpr char kMagic[8] = {'P', 'M', 'E', 'N', 'G', 'I', 'N', 'E'};
// 2: orders carry their placed amount; 3: the model, grid assets, the standard model's
// underlying count, per-instrument minimum charges and standard terms, option marks
// (version 2 snapshots, all Deribit S:PM, still restore); 4: the currencies' X:PM terms
// (haircut, equity side, coin underlying; versions 2 and 3 restore with the defaults); 5:
// the instruments' strike floors and the Derive section after the SPAN one (earlier
// versions restore with no strike floors and no Derive model).
constexpr std::uint32_t kFormatVersion = 5;
constexpr std::uint32_t kByteOrder = 0x01020304;

std::uint64_t fnv1a(const char* p, std::size_t n) noexcept {
  std::uint64_t h = 1469598103934665603ULL;
  for (std::size_t i = 0; i < n; ++i) {
    h ^= static_cast<unsigned char>(p[i]);
    h *= 1099511628211ULL;
  }
  return h;
}

// Field by field (no struct padding in the stream, so equal states give equal bytes).
class Writer {
 public:
  template <class T>
  void put(const T& v) {
    static_assert(std::is_arithmetic_v<T>);
    buf_.append(reinterpret_cast<const char*>(&v), sizeof(T));
  }
  void put(const PairParams& p) {
    for (double x : {p.price_range, p.volatility_range_up, p.volatility_range_down,
                     p.min_volatility_for_shock_up, p.short_term_vega_power, p.long_term_vega_power,
                     p.extended_table_factor, p.delta_total_liq_shock_threshold}) {
      put(x);
    }
  }
  void put(const CurrencyParams& p) {
    for (double x : {p.annualised_move_risk, p.min_annualised_move, p.extended_dampener,
                     p.pnl_offset, p.max_offsetable_pnl}) {
      put(x);
    }
    put<std::uint8_t>(p.usd_settled ? 1 : 0);
    put(p.haircut);
    put(static_cast<std::uint8_t>(p.equity_side));
    put(p.coin_underlying);
  }
  void put(const InstrumentSpec& s) {
    put(s.kind);
    put(s.settlement);
    put(s.is_call);
    put(s.underlying);
    put(s.currency);
    put(s.strike);
    put(s.expiry_id);
    put(s.floor_long);
    put(s.floor_short);
    put(s.strike_floor);
    const StandardTerms& t = s.standard;
    put(t.rule);
    put(t.price_at_index);
    for (double x :
         {t.im_base, t.im_per_unit, t.mm_base, t.mm_per_unit, t.im_otm_base, t.im_floor, t.mm}) {
      put(x);
    }
  }
  void put(const SpanCommodityConfig& c) {
    for (double x :
         {c.price_scan, c.vol_scan, c.extreme_weight, c.look_ahead_days, c.short_option_minimum}) {
      put(x);
    }
    put_vector(c.tier_days);
    put_vector(c.intra_tiers);
    put_vector(c.intra_rates);
  }
  void put(const GridAsset& g) {
    put_vector(g.moves);
    put_vector(g.vol_states);
    put_vector(g.weights);
    const scenarios::VolShockRule& r = g.vol_rule;
    put(static_cast<std::uint8_t>(r.kind));
    for (double x : {r.range_up, r.range_down, r.min_vol_up, r.min_vol_down, r.short_power,
                     r.long_power, r.power_switch_days, r.reference_days, r.dte_floor_days,
                     g.pnl_offset, g.unhedged_delta, g.hedged_delta}) {
      put(x);
    }
  }
  void put(const InstrumentMarket& x) {
    for (double v : {x.forward, x.vol, x.time, x.rate, x.mark}) put(v);
  }
  void put(const DeriveEngineConfig& d) {
    models::DeriveParams q = d.params;
    for (double* x : models::derive_param_fields(q)) put(*x);
    put_vector(d.scenarios);
    put<std::uint64_t>(d.underlyings);
  }
  void put(const models::DeriveScenario& x) {
    put(x.spot_shock);
    put(static_cast<std::uint8_t>(x.vol));
    put(x.dampening);
  }
  void put(const Position& p) {
    put(p.instrument);
    put(p.amount);
  }
  void put(const Order& o) {
    put(o.id);
    put(o.instrument);
    put(static_cast<std::uint8_t>(o.side));
    put(o.remaining);
    put(o.amount);
  }
  template <class T>
  void put_vector(const std::vector<T>& v) {
    put<std::uint64_t>(v.size());
    for (const T& x : v) put(x);
  }
  std::string buf_;
};

class Reader {
 public:
  Reader(const char* p, std::size_t n, std::uint32_t version = kFormatVersion)
      : p_(p), n_(n), version_(version) {}
  template <class T>
  bool get(T* v) {
    static_assert(std::is_arithmetic_v<T>);
    if (n_ - pos_ < sizeof(T)) return false;
    std::memcpy(v, p_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  bool get(PairParams* p) {
    return get(&p->price_range) && get(&p->volatility_range_up) && get(&p->volatility_range_down) &&
           get(&p->min_volatility_for_shock_up) && get(&p->short_term_vega_power) &&
           get(&p->long_term_vega_power) && get(&p->extended_table_factor) &&
           get(&p->delta_total_liq_shock_threshold);
  }
  bool get(CurrencyParams* p) {
    std::uint8_t usd = 0;
    const bool ok = get(&p->annualised_move_risk) && get(&p->min_annualised_move) &&
                    get(&p->extended_dampener) && get(&p->pnl_offset) &&
                    get(&p->max_offsetable_pnl) && get(&usd) && usd <= 1;
    p->usd_settled = usd == 1;
    if (!ok || version_ < 4) return ok;
    std::uint8_t side = 0;
    const bool cross_ok = get(&p->haircut) && get(&side) && side <= 3 && get(&p->coin_underlying);
    p->equity_side = static_cast<EquitySide>(side);
    return cross_ok;
  }
  bool get(InstrumentSpec* s) {
    return get(&s->kind) && get(&s->settlement) && get(&s->is_call) && get(&s->underlying) &&
           get(&s->currency) && get(&s->strike) && get(&s->expiry_id) &&
           (version_ < 3 || (get(&s->floor_long) && get(&s->floor_short) &&
                             (version_ < 5 || get(&s->strike_floor)) && get(&s->standard)));
  }
  bool get(StandardTerms* t) {
    return get(&t->rule) && get(&t->price_at_index) && get(&t->im_base) && get(&t->im_per_unit) &&
           get(&t->mm_base) && get(&t->mm_per_unit) && get(&t->im_otm_base) && get(&t->im_floor) &&
           get(&t->mm);
  }
  bool get(SpanCommodityConfig* c) {
    return get(&c->price_scan) && get(&c->vol_scan) && get(&c->extreme_weight) &&
           get(&c->look_ahead_days) && get(&c->short_option_minimum) && get_vector(&c->tier_days) &&
           get_vector(&c->intra_tiers) && get_vector(&c->intra_rates);
  }
  bool get(GridAsset* g) {
    scenarios::VolShockRule& r = g->vol_rule;
    std::uint8_t kind = 0;
    const bool ok = get_vector(&g->moves) && get_vector(&g->vol_states) &&
                    get_vector(&g->weights) && get(&kind) && kind <= 1 && get(&r.range_up) &&
                    get(&r.range_down) && get(&r.min_vol_up) && get(&r.min_vol_down) &&
                    get(&r.short_power) && get(&r.long_power) && get(&r.power_switch_days) &&
                    get(&r.reference_days) && get(&r.dte_floor_days) && get(&g->pnl_offset) &&
                    get(&g->unhedged_delta) && get(&g->hedged_delta);
    r.kind = kind == 0 ? scenarios::VolShockKind::kRelative : scenarios::VolShockKind::kAdditive;
    return ok;
  }
  bool get(models::DeriveScenario* x) {
    std::uint8_t vol = 0;
    const bool ok = get(&x->spot_shock) && get(&vol) && vol <= 4 && get(&x->dampening);
    x->vol = static_cast<models::DeriveVolShock>(vol);
    return ok;
  }
  bool get(DeriveEngineConfig* d) {
    if (version_ < 5) return true;
    for (double* x : models::derive_param_fields(d->params)) {
      if (!get(x)) return false;
    }
    std::uint64_t u = 0;
    if (!(get_vector(&d->scenarios) && get(&u) && u <= 1024)) return false;
    d->underlyings = static_cast<std::size_t>(u);
    return true;
  }
  bool get(InstrumentMarket* x) {
    return get(&x->forward) && get(&x->vol) && get(&x->time) && get(&x->rate) &&
           (version_ < 3 || get(&x->mark));
  }
  bool get(Position* p) { return get(&p->instrument) && get(&p->amount); }
  bool get(Order* o) {
    std::uint8_t side = 0;
    const bool ok = get(&o->id) && get(&o->instrument) && get(&side) && side <= 1 &&
                    get(&o->remaining) && get(&o->amount);
    o->side = side == 0 ? Side::kBuy : Side::kSell;
    return ok;
  }
  // A count, then the elements; the count is bounded by the bytes left (each element takes
  // at least one byte), so a corrupted count cannot ask for a huge allocation.
  template <class T>
  bool get_vector(std::vector<T>* v) {
    std::uint64_t n = 0;
    if (!get(&n) || n > n_ - pos_) return false;
    v->resize(static_cast<std::size_t>(n));
    for (auto& x : *v) {
      if (!get(&x)) return false;
    }
    return true;
  }
  [[nodiscard]] bool done() const { return pos_ == n_; }
  [[nodiscard]] std::size_t left() const { return n_ - pos_; }

 private:
  const char* p_;
  std::size_t n_;
  std::uint32_t version_;
  std::size_t pos_ = 0;
};

}  // namespace

std::string PreTradeEngine::snapshot() const {
  const Impl& m = *impl_;
  Writer w;
  std::shared_ptr<const MarketState> ms;
  {
    std::lock_guard<std::mutex> guard(impl_->admin);
    ms = m.market;
  }
  w.put<std::int32_t>(m.cfg.buckets);
  w.put(m.cfg.mm_factor);
  w.put(static_cast<std::uint8_t>(m.cfg.model));
  w.put_vector(m.cfg.pairs);
  w.put_vector(m.cfg.grid.assets);
  w.put<std::uint64_t>(m.cfg.standard_underlyings);
  const SensitivityConfig& sc = m.cfg.sensitivity;
  w.put_vector(sc.bucket_days);
  w.put_vector(sc.tenor_corr);
  w.put(sc.delta_corr);
  w.put(sc.vega_corr);
  w.put_vector(sc.delta_rw);
  w.put_vector(sc.vega_rw);
  w.put_vector(m.cfg.span.commodities);
  w.put_vector(m.cfg.span.spread_legs);
  w.put_vector(m.cfg.span.spread_terms);
  w.put(m.cfg.derive);
  w.put_vector(m.cfg.currencies);
  w.put<std::uint64_t>(m.cfg.max_accounts);
  w.put_vector(m.spec);
  w.put_vector(ms->inputs);
  w.put_vector(ms->index);
  const std::size_t used = m.used.load(std::memory_order_acquire);
  w.put<std::uint64_t>(used);
  for (std::size_t id = 0; id < used; ++id) {
    const Account& a = m.account(id);
    Guard guard(a.lock);
    const auto C = static_cast<std::ptrdiff_t>(m.cfg.currencies.size());
    w.put_vector(std::vector<double>(a.collateral.begin(), a.collateral.begin() + C));
    w.put_vector(std::vector<double>(a.cash.begin(), a.cash.begin() + C));
    w.put_vector(a.positions);
    w.put_vector(a.orders);
  }
  std::string out(kMagic, sizeof(kMagic));
  Writer head;
  head.put(kFormatVersion);
  head.put(kByteOrder);
  head.put<std::uint64_t>(w.buf_.size());
  out += head.buf_;
  out += w.buf_;
  Writer tail;
  tail.put(fnv1a(w.buf_.data(), w.buf_.size()));
  out += tail.buf_;
  return out;
}

// A function-try-block: running out of memory anywhere in restore is a Status, not a throw.
namespace {

// The snapshot's header checked (magic, byte order, a version this build reads, length,
// checksum); *payload the bytes between header and checksum.
Status open_snapshot(const std::string& bytes, std::uint32_t* version, std::string_view* payload) {
  constexpr std::size_t kHead = sizeof(kMagic) + 4 + 4 + 8;
  if (bytes.size() < kHead + 8 || std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
    return Status::bad_argument("snapshot", "not a pymargin engine snapshot");
  }
  Reader head(bytes.data() + sizeof(kMagic), kHead - sizeof(kMagic));
  std::uint32_t order = 0;
  std::uint64_t length = 0;
  head.get(version);
  head.get(&order);
  head.get(&length);
  if (order != kByteOrder) {
    return Status::bad_argument("snapshot", "written on a machine of another byte order");
  }
  if (*version < 2 || *version > kFormatVersion) {
    return Status::bad_argument("snapshot", "format version not supported by this build");
  }
  if (length != bytes.size() - kHead - 8) {
    return Status::bad_argument("snapshot", "truncated or padded (length does not match)");
  }
  const char* data = bytes.data() + kHead;
  std::uint64_t checksum = 0;
  std::memcpy(&checksum, data + length, 8);
  if (checksum != fnv1a(data, static_cast<std::size_t>(length))) {
    return Status::bad_argument("snapshot", "checksum mismatch: the snapshot is corrupted");
  }
  *payload = std::string_view(data, static_cast<std::size_t>(length));
  return Status::success();
}

// Account `row` read into `a` (a new account of the engine) and checked as the API path
// would have allowed it: finite balances, one position per instrument, orders with unique
// ids, a side and 0 < remaining <= amount; its margin finite. seen and ids are scratch.
Status restore_account(PreTradeEngine::Impl& m, Reader& r, std::size_t row,
                       std::vector<std::uint8_t>* seen, std::vector<std::int64_t>* ids,
                       Account& a) {
  const std::size_t C = m.cfg.currencies.size();
  const std::size_t n_inst = m.spec.size();
  std::vector<double> collateral;
  std::vector<double> cash;
  if (!(r.get_vector(&collateral) && r.get_vector(&cash) && r.get_vector(&a.positions) &&
        r.get_vector(&a.orders))) {
    return Status::bad_argument("snapshot", "malformed account section");
  }
  if (collateral.size() != C || cash.size() != C) {
    return Status::invalid("snapshot.accounts", row,
                           "currency count does not match the configuration");
  }
  for (std::size_t c = 0; c < C; ++c) {
    if (!std::isfinite(collateral[c]) || !std::isfinite(cash[c])) {
      return Status::invalid("snapshot.collateral", row, "collateral and cash must be finite");
    }
  }
  std::copy(collateral.begin(), collateral.end(), a.collateral.begin());
  std::copy(cash.begin(), cash.end(), a.cash.begin());
  // Values as the API path would have allowed them: one position per instrument, finite
  // amounts; orders with unique ids >= 0, a side, 0 < remaining <= amount (finite).
  std::fill(seen->begin(), seen->end(), 0);
  for (Position& p : a.positions) {
    if (p.instrument < 0 || static_cast<std::size_t>(p.instrument) >= n_inst ||
        !std::isfinite(p.amount)) {
      return Status::invalid("snapshot.positions", row, "unknown instrument or non-finite amount");
    }
    if ((*seen)[static_cast<std::size_t>(p.instrument)]++ != 0) {
      return Status::invalid("snapshot.positions", row, "two positions in one instrument");
    }
    p.slot = p.entry = -1;
    ensure_entries(m, a, p.instrument, false);
  }
  for (std::size_t k = 0; k < a.orders.size(); ++k) {
    Order& o = a.orders[k];
    if (o.instrument < 0 || static_cast<std::size_t>(o.instrument) >= n_inst ||
        !finite_positive(o.remaining) || !finite_positive(o.amount) ||
        !(o.remaining <= o.amount * (1.0 + kFillTolerance)) || o.id < 0 ||
        (o.side != Side::kBuy && o.side != Side::kSell)) {
      return Status::invalid("snapshot.orders", row, "unknown instrument, side, id or amount");
    }
    o.slot = o.entry = -1;
    ensure_entries(m, a, o.instrument, true);
  }
  ids->clear();
  for (const Order& o : a.orders) ids->push_back(o.id);
  std::sort(ids->begin(), ids->end());
  if (std::adjacent_find(ids->begin(), ids->end()) != ids->end()) {
    return Status::invalid("snapshot.orders", row, "order id used twice");
  }
  m.aggregate(a, *a.state);
  if (!m.finite(a, *a.state)) {
    return Status::invalid("snapshot.accounts", row, "the account's margin is not finite");
  }
  return Status::success();
}

}  // namespace

Status PreTradeEngine::restore(const std::string& bytes, std::unique_ptr<PreTradeEngine>* out) try {
  if (out == nullptr) return Status::bad_argument("out", "missing");
  out->reset();
  std::uint32_t version = 0;
  std::string_view payload;
  Status st = open_snapshot(bytes, &version, &payload);
  if (!st.ok()) return st;
  Reader r(payload.data(), payload.size(), version);
  EngineConfig cfg;
  std::vector<InstrumentSpec> spec;
  std::vector<InstrumentMarket> inputs;
  std::vector<double> index;
  std::int32_t buckets = 0;
  std::uint64_t max_accounts = 0;
  std::uint64_t used = 0;
  std::uint8_t model = 0;
  std::uint64_t standard_underlyings = 0;
  if (!(r.get(&buckets) && r.get(&cfg.mm_factor) && (version < 3 || r.get(&model)) &&
        model <= (version < 5 ? 5 : 6) && r.get_vector(&cfg.pairs) &&
        (version < 3 ||
         (r.get_vector(&cfg.grid.assets) && r.get(&standard_underlyings) &&
          r.get_vector(&cfg.sensitivity.bucket_days) && r.get_vector(&cfg.sensitivity.tenor_corr) &&
          r.get(&cfg.sensitivity.delta_corr) && r.get(&cfg.sensitivity.vega_corr) &&
          r.get_vector(&cfg.sensitivity.delta_rw) && r.get_vector(&cfg.sensitivity.vega_rw) &&
          r.get_vector(&cfg.span.commodities) && r.get_vector(&cfg.span.spread_legs) &&
          r.get_vector(&cfg.span.spread_terms) && r.get(&cfg.derive))) &&
        r.get_vector(&cfg.currencies) && r.get(&max_accounts) && r.get_vector(&spec) &&
        r.get_vector(&inputs) && r.get_vector(&index) && r.get(&used))) {
    return Status::bad_argument("snapshot", "malformed engine section");
  }
  cfg.buckets = buckets;
  cfg.model = static_cast<Model>(model);
  if (standard_underlyings > 1024) {
    return Status::bad_argument("snapshot", "more than 1,024 underlyings");
  }
  cfg.standard_underlyings = static_cast<std::size_t>(standard_underlyings);
  // Counts bounded by the stated limit and by what the bytes can hold (an account takes at
  // least four 8-byte counts), before anything is allocated.
  if (max_accounts == 0 || max_accounts > kMaxAccountsLimit) {
    return Status::bad_argument("snapshot", "max_accounts outside 1 .. 2^26");
  }
  cfg.max_accounts = static_cast<std::size_t>(max_accounts);
  if (used > max_accounts) return Status::bad_argument("snapshot", "more accounts than capacity");
  if (used > r.left() / 32) {
    return Status::bad_argument("snapshot", "more accounts than the bytes can hold");
  }
  std::unique_ptr<PreTradeEngine> engine;
  st = create(std::move(cfg), std::move(spec), inputs, index, &engine);
  if (!st.ok()) return st;
  Impl& m = *engine->impl_;
  std::vector<std::uint8_t> seen(m.spec.size(), 0);
  std::vector<std::int64_t> ids;
  for (std::uint64_t id = 0; id < used; ++id) {
    const auto row = static_cast<std::size_t>(id);
    std::int64_t got = -1;
    st = engine->add_account(&got);
    if (!st.ok()) return st;
    Account& a = m.account(static_cast<std::size_t>(got));
    st = restore_account(m, r, row, &seen, &ids, a);
    if (!st.ok()) return st;
    m.note_extent(a);
  }
  if (!r.done()) return Status::bad_argument("snapshot", "trailing bytes after the accounts");
  *out = std::move(engine);
  return Status::success();
} catch (...) {
  if (out != nullptr) out->reset();
  return Status::bad_argument("snapshot", "out of memory restoring the snapshot");
}

}  // namespace pymargin::engine
