// SPDX-License-Identifier: Apache-2.0
// Bindings of the pre-trade engine (pymargin::engine::PreTradeEngine). The Python class
// pymargin.PreTradeEngine maps names, enums and market snapshots onto these integer ids.
#include <pybind11/native_enum.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "errors.hpp"
#include "pymargin/engine/pretrade.hpp"

namespace py = pybind11;
namespace pe = pymargin::engine;

namespace pymargin::bindings {
namespace {

template <class T>
std::vector<T> column(const py::array& a, std::size_t n, const char* name) {
  if (!py::dtype::of<T>().equal(a.dtype())) {
    throw PyInputError{PyInputError::kType, name, -1,
                       "expected dtype " + std::string(py::str(py::dtype::of<T>()))};
  }
  if (a.ndim() != 1 || static_cast<std::size_t>(a.size()) != n) {
    throw PyInputError{PyInputError::kInvalid, name, -1,
                       "must be 1-D with " + std::to_string(n) + " elements"};
  }
  auto u = a.unchecked<T, 1>();
  std::vector<T> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = u(static_cast<py::ssize_t>(i));
  return out;
}

// A 1-D C-contiguous array of n T, read in place.
template <class T>
const T* in_place(const py::array& a, std::size_t n, const char* name) {
  if (!py::dtype::of<T>().equal(a.dtype())) {
    throw PyInputError{PyInputError::kType, name, -1,
                       "expected dtype " + std::string(py::str(py::dtype::of<T>()))};
  }
  if (a.ndim() != 1 || static_cast<std::size_t>(a.size()) != n ||
      !(a.flags() & py::array::c_style)) {
    throw PyInputError{PyInputError::kInvalid, name, -1,
                       "must be 1-D and C-contiguous with " + std::to_string(n) + " elements"};
  }
  return static_cast<const T*>(a.data());
}

void raise_status(const Status& st) {
  if (st.ok()) return;
  throw PyInputError{PyInputError::kInvalid, st.field, static_cast<long long>(st.index),
                     st.message};
}

std::vector<pe::InstrumentMarket> market_from(const py::array& fwd, const py::array& vol,
                                              const py::array& time, const py::array& rate,
                                              std::size_t n, const py::object& mark = py::none()) {
  const auto f = column<double>(fwd, n, "forward");
  const auto v = column<double>(vol, n, "vol");
  const auto t = column<double>(time, n, "time");
  const auto r = column<double>(rate, n, "rate");
  std::vector<pe::InstrumentMarket> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = {f[i], v[i], t[i], r[i]};
  if (!mark.is_none()) {  // options' venue marks (NaN: the model's value)
    const auto m = column<double>(mark.cast<py::array>(), n, "mark");
    for (std::size_t i = 0; i < n; ++i) out[i].mark = m[i];
  }
  return out;
}

std::vector<pe::InstrumentSpec> specs_from(const py::array& kind, const py::array& settlement,
                                           const py::array& is_call, const py::array& underlying,
                                           const py::array& currency, const py::array& strike,
                                           const py::array& expiry_id, std::size_t n) {
  const auto k = column<std::uint8_t>(kind, n, "kind");
  const auto s = column<std::uint8_t>(settlement, n, "settlement");
  const auto cl = column<std::uint8_t>(is_call, n, "is_call");
  const auto u = column<std::int32_t>(underlying, n, "underlying");
  const auto cu = column<std::int32_t>(currency, n, "currency");
  const auto st = column<double>(strike, n, "strike");
  const auto ex = column<std::int64_t>(expiry_id, n, "expiry_id");
  std::vector<pe::InstrumentSpec> spec(n);
  for (std::size_t i = 0; i < n; ++i) spec[i] = {k[i], s[i], cl[i], u[i], cu[i], st[i], ex[i]};
  return spec;
}

// currencies: [C x 6] annualised_move_risk, min_annualised_move, extended_dampener,
// pnl_offset, max_offsetable_pnl, usd_settled (0/1); or [C x 9] with X:PM's haircut,
// equity side (0 none, 1 both, 2 positive, 3 negative) and coin underlying (-1: none).
std::vector<pe::CurrencyParams> currencies_from(const py::array& currencies) {
  const std::size_t width =
      currencies.ndim() == 2 ? static_cast<std::size_t>(currencies.shape(1)) : 6;
  if (width != 6 && width != 9) {
    throw PyInputError{PyInputError::kInvalid, "currencies", -1, "6 or 9 columns per currency"};
  }
  const auto C = static_cast<std::size_t>(currencies.size()) / width;
  const auto cc =
      column<double>(currencies.attr("reshape")(-1).cast<py::array>(), C * width, "currencies");
  std::vector<pe::CurrencyParams> out;
  for (std::size_t c = 0; c < C; ++c) {
    const double* x = cc.data() + c * width;
    pe::CurrencyParams p{x[0], x[1], x[2], x[3], x[4], x[5] != 0.0};
    if (width == 9) {
      const double side = x[7];
      const double coin = x[8];
      if (!(side >= 0 && side <= 3 && side == std::floor(side))) {
        throw PyInputError{PyInputError::kInvalid, "currencies.equity_side",
                           static_cast<long long>(c), "0, 1, 2 or 3"};
      }
      if (!(coin >= -1 && coin < 1e9 && coin == std::floor(coin))) {
        throw PyInputError{PyInputError::kInvalid, "currencies.coin_underlying",
                           static_cast<long long>(c), "an underlying index or -1"};
      }
      p.haircut = x[6];
      p.equity_side = static_cast<pe::EquitySide>(static_cast<int>(side));
      p.coin_underlying = static_cast<std::int32_t>(coin);
    }
    out.push_back(p);
  }
  return out;
}

py::tuple margin_tuple(const pe::GroupMargin& g) {
  return py::make_tuple(g.equity, g.initial_margin, g.maintenance_margin, g.available_funds,
                        g.worst_case, g.roll_shock, g.delta_shock_exceeded);
}

class Engine {
 public:
  // pairs: [P x 8] price_range, vol_range_up, vol_range_down, min_vol_up, short_power,
  // long_power, extended_table_factor, delta_threshold; currencies as currencies_from.
  Engine(int buckets, double mm_factor, const py::array& pairs, const py::array& currencies,
         std::size_t max_accounts, const py::array& kind, const py::array& settlement,
         const py::array& is_call, const py::array& underlying, const py::array& currency,
         const py::array& strike, const py::array& expiry_id, const py::array& forward,
         const py::array& vol, const py::array& time, const py::array& rate, const py::array& index,
         bool cross) {
    pe::EngineConfig cfg;
    cfg.model = cross ? pe::Model::kDeribitCross : pe::Model::kDeribitPortfolio;
    cfg.buckets = buckets;
    cfg.mm_factor = mm_factor;
    cfg.max_accounts = max_accounts;
    const auto P = static_cast<std::size_t>(pairs.size() / 8);
    const auto pp = column<double>(pairs.attr("reshape")(-1).cast<py::array>(), P * 8, "pairs");
    for (std::size_t u = 0; u < P; ++u) {
      const double* x = pp.data() + u * 8;
      cfg.pairs.push_back({x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7]});
    }
    cfg.currencies = currencies_from(currencies);
    const auto n = static_cast<std::size_t>(kind.size());
    const auto spec =
        specs_from(kind, settlement, is_call, underlying, currency, strike, expiry_id, n);
    const auto mk = market_from(forward, vol, time, rate, n);
    const auto ix = column<double>(index, P, "index");
    raise_status(pe::PreTradeEngine::create(cfg, spec, mk, ix, &engine_));
  }
  explicit Engine(std::unique_ptr<pe::PreTradeEngine> e) : engine_(std::move(e)) {}

  // The engine of a filled-in configuration; `underlyings` index prices expected.
  static Engine created(const pe::EngineConfig& cfg, const std::vector<pe::InstrumentSpec>& spec,
                        const std::vector<pe::InstrumentMarket>& mk, const py::array& index,
                        std::size_t underlyings) {
    const auto ix = column<double>(index, underlyings, "index");
    std::unique_ptr<pe::PreTradeEngine> e;
    raise_status(pe::PreTradeEngine::create(cfg, spec, mk, ix, &e));
    return Engine(std::move(e));
  }

  // A Derive PM engine (Model::kDerive): the model's parameters and scenarios as
  // pymargin._core.derive_pm_margin takes them, the number of underlyings; instruments and
  // market as for the other models (options of one expiry share forward, time and rate).
  static Engine derive(std::size_t max_accounts, const py::array& currencies,
                       const py::array& params, const py::array& spot_shock,
                       const py::array& scenario_vol, const py::array& dampening,
                       const py::array& kind, const py::array& settlement, const py::array& is_call,
                       const py::array& underlying, const py::array& currency,
                       const py::array& strike, const py::array& expiry_id,
                       const py::array& forward, const py::array& vol, const py::array& time,
                       const py::array& rate, const py::array& index) {
    pe::EngineConfig cfg;
    cfg.model = pe::Model::kDerive;
    cfg.max_accounts = max_accounts;
    cfg.currencies = currencies_from(currencies);
    cfg.derive.params =
        derive_params(params, spot_shock, scenario_vol, dampening, cfg.derive.scenarios);
    const auto P = static_cast<std::size_t>(index.size());
    cfg.derive.underlyings = P;
    const auto n = static_cast<std::size_t>(kind.size());
    const auto spec =
        specs_from(kind, settlement, is_call, underlying, currency, strike, expiry_id, n);
    const auto mk = market_from(forward, vol, time, rate, n);
    return created(cfg, spec, mk, index, P);
  }

  // A SPAN engine (Model::kSpan). commodities: per underlying a tuple (price_scan, vol_scan,
  // extreme_weight, look_ahead_days, short_option_minimum, tier_days, intra_tiers int32
  // [2 x pairs], intra_rates); spread_legs int32 [2 x spreads]; spread_terms [3 x spreads].
  static Engine span(std::size_t max_accounts, const py::array& currencies,
                     const py::list& commodities, const py::array& spread_legs,
                     const py::array& spread_terms, const py::array& kind,
                     const py::array& settlement, const py::array& is_call,
                     const py::array& underlying, const py::array& currency,
                     const py::array& strike, const py::array& expiry_id, const py::array& forward,
                     const py::array& vol, const py::array& time, const py::array& rate,
                     const py::array& index) {
    pe::EngineConfig cfg;
    cfg.model = pe::Model::kSpan;
    cfg.max_accounts = max_accounts;
    cfg.currencies = currencies_from(currencies);
    for (std::size_t u = 0; u < commodities.size(); ++u) {
      const auto t = commodities[u].cast<py::tuple>();
      if (t.size() != 8) {
        throw PyInputError{PyInputError::kInvalid, "commodities", static_cast<long long>(u),
                           "(price_scan, vol_scan, extreme_weight, look_ahead_days, "
                           "short_option_minimum, tier_days, intra_tiers, intra_rates)"};
      }
      pe::SpanCommodityConfig c;
      c.price_scan = t[0].cast<double>();
      c.vol_scan = t[1].cast<double>();
      c.extreme_weight = t[2].cast<double>();
      c.look_ahead_days = t[3].cast<double>();
      c.short_option_minimum = t[4].cast<double>();
      const auto days = t[5].cast<py::array>();
      c.tier_days = column<double>(days, static_cast<std::size_t>(days.size()), "tier_days");
      const auto tiers = t[6].cast<py::array>();
      c.intra_tiers =
          column<std::int32_t>(tiers, static_cast<std::size_t>(tiers.size()), "intra_tiers");
      const auto rates = t[7].cast<py::array>();
      c.intra_rates = column<double>(rates, static_cast<std::size_t>(rates.size()), "intra_rates");
      cfg.span.commodities.push_back(std::move(c));
    }
    cfg.span.spread_legs = column<std::int32_t>(
        spread_legs, static_cast<std::size_t>(spread_legs.size()), "spread_legs");
    cfg.span.spread_terms =
        column<double>(spread_terms, static_cast<std::size_t>(spread_terms.size()), "spread_terms");
    const auto n = static_cast<std::size_t>(kind.size());
    const auto spec =
        specs_from(kind, settlement, is_call, underlying, currency, strike, expiry_id, n);
    const auto mk = market_from(forward, vol, time, rate, n);
    return created(cfg, spec, mk, index, commodities.size());
  }

  // A Greek-netting engine (Model::kSensitivity): the model's tenor buckets (upper bounds in
  // days), tenor correlation [B x B], correlations between underlyings, risk weights per
  // underlying.
  static Engine sensitivity(std::size_t max_accounts, const py::array& currencies,
                            const py::array& bucket_days, const py::array& tenor_corr,
                            double delta_corr, double vega_corr, const py::array& delta_rw,
                            const py::array& vega_rw, const py::array& kind,
                            const py::array& settlement, const py::array& is_call,
                            const py::array& underlying, const py::array& currency,
                            const py::array& strike, const py::array& expiry_id,
                            const py::array& forward, const py::array& vol, const py::array& time,
                            const py::array& rate, const py::array& index) {
    pe::EngineConfig cfg;
    cfg.model = pe::Model::kSensitivity;
    cfg.max_accounts = max_accounts;
    cfg.currencies = currencies_from(currencies);
    const auto B = static_cast<std::size_t>(bucket_days.size());
    const auto U = static_cast<std::size_t>(delta_rw.size());
    pe::SensitivityConfig& sc = cfg.sensitivity;
    sc.bucket_days = column<double>(bucket_days, B, "bucket_days");
    sc.tenor_corr =
        column<double>(tenor_corr.attr("reshape")(-1).cast<py::array>(), B * B, "tenor_corr");
    sc.delta_corr = delta_corr;
    sc.vega_corr = vega_corr;
    sc.delta_rw = column<double>(delta_rw, U, "delta_rw");
    sc.vega_rw = column<double>(vega_rw, U, "vega_rw");
    const auto n = static_cast<std::size_t>(kind.size());
    const auto spec =
        specs_from(kind, settlement, is_call, underlying, currency, strike, expiry_id, n);
    const auto mk = market_from(forward, vol, time, rate, n);
    return created(cfg, spec, mk, index, U);
  }

  // A Deribit standard-margin engine. terms [n x 9]: rule, price_at_index, im_base,
  // im_per_unit, mm_base, mm_per_unit, im_otm_base, im_floor, mm; mark: options' venue marks
  // (NaN: the model's value).
  static Engine standard(std::size_t max_accounts, const py::array& currencies,
                         std::size_t underlyings, const py::array& kind,
                         const py::array& settlement, const py::array& is_call,
                         const py::array& underlying, const py::array& currency,
                         const py::array& strike, const py::array& expiry_id,
                         const py::array& terms, const py::array& forward, const py::array& vol,
                         const py::array& time, const py::array& rate, const py::array& mark,
                         const py::array& index) {
    pe::EngineConfig cfg;
    cfg.model = pe::Model::kStandard;
    cfg.max_accounts = max_accounts;
    cfg.standard_underlyings = underlyings;
    cfg.currencies = currencies_from(currencies);
    const auto n = static_cast<std::size_t>(kind.size());
    auto spec = specs_from(kind, settlement, is_call, underlying, currency, strike, expiry_id, n);
    const auto t = column<double>(terms.attr("reshape")(-1).cast<py::array>(), n * 9, "terms");
    for (std::size_t i = 0; i < n; ++i) {
      const double* x = t.data() + i * 9;
      for (int k : {0, 1}) {
        if (x[k] != 0.0 && x[k] != 1.0) {
          throw PyInputError{PyInputError::kInvalid, "terms", static_cast<long long>(i),
                             "rule and price_at_index must be 0 or 1"};
        }
      }
      spec[i].standard = {static_cast<std::uint8_t>(x[0]),
                          static_cast<std::uint8_t>(x[1]),
                          x[2],
                          x[3],
                          x[4],
                          x[5],
                          x[6],
                          x[7],
                          x[8]};
    }
    const auto mk = market_from(forward, vol, time, rate, n, mark);
    return created(cfg, spec, mk, index, underlyings);
  }

  // A grid-model engine. Per underlying u: moves[u], vol_states[u] (int8), weights[u] (one
  // entry per scenario), its vol rule (rules [P x 10], errors.hpp) and its terms [P x 3]
  // (pnl_offset, unhedged_delta, hedged_delta); per instrument the minimum charge per unit
  // held long / short and the strike floor (InstrumentSpec::strike_floor). currencies as
  // above (only usd_settled is read).
  static Engine grid(double mm_factor, std::size_t max_accounts, const py::array& currencies,
                     const py::list& moves, const py::list& vol_states, const py::list& weights,
                     const py::array& rules, const py::array& terms, const py::array& kind,
                     const py::array& settlement, const py::array& is_call,
                     const py::array& underlying, const py::array& currency,
                     const py::array& strike, const py::array& expiry_id,
                     const py::array& floor_long, const py::array& floor_short,
                     const py::array& strike_floor, const py::array& forward, const py::array& vol,
                     const py::array& time, const py::array& rate, const py::array& index) {
    pe::EngineConfig cfg;
    cfg.model = pe::Model::kScenarioGrid;
    cfg.mm_factor = mm_factor;
    cfg.max_accounts = max_accounts;
    const auto P = static_cast<std::size_t>(moves.size());
    if (vol_states.size() != P || weights.size() != P) {
      throw PyInputError{PyInputError::kInvalid, "grid", -1,
                         "moves, vol_states and weights need one entry per underlying"};
    }
    cfg.currencies = currencies_from(currencies);
    const auto rule = rules_from(rules, P);
    const auto tt = column<double>(terms.attr("reshape")(-1).cast<py::array>(), P * 3, "terms");
    for (std::size_t u = 0; u < P; ++u) {
      pe::GridAsset a;
      const auto mv = moves[u].cast<py::array>();
      const auto ns = static_cast<std::size_t>(mv.size());
      a.moves = column<double>(mv, ns, "moves");
      a.vol_states = column<std::int8_t>(vol_states[u].cast<py::array>(), ns, "vol_states");
      a.weights = column<double>(weights[u].cast<py::array>(), ns, "weights");
      a.vol_rule = rule[u];
      a.pnl_offset = tt[u * 3];
      a.unhedged_delta = tt[u * 3 + 1];
      a.hedged_delta = tt[u * 3 + 2];
      cfg.grid.assets.push_back(std::move(a));
    }
    const auto n = static_cast<std::size_t>(kind.size());
    auto spec = specs_from(kind, settlement, is_call, underlying, currency, strike, expiry_id, n);
    const auto fl = column<double>(floor_long, n, "floor_long");
    const auto fs = column<double>(floor_short, n, "floor_short");
    const auto sf = column<double>(strike_floor, n, "strike_floor");
    for (std::size_t i = 0; i < n; ++i) {
      spec[i].floor_long = fl[i];
      spec[i].floor_short = fs[i];
      spec[i].strike_floor = sf[i];
    }
    const auto mk = market_from(forward, vol, time, rate, n);
    return created(cfg, spec, mk, index, P);
  }

  std::int64_t add_account() {
    std::int64_t id = -1;
    raise_status(engine_->add_account(&id));
    return id;
  }
  // The Python result of a check: an instance of `result_type` (a tuple subclass: accept,
  // reason, group name, IM before and after, MM before and after, available after), the reason
  // and group taken from `reasons` (by code) and `groups` (by currency index).
  void set_result_labels(const py::object& result_type, const py::tuple& reasons,
                         const py::tuple& groups) {
    if (!PyType_Check(result_type.ptr()) ||
        !PyType_IsSubtype(reinterpret_cast<PyTypeObject*>(result_type.ptr()), &PyTuple_Type)) {
      throw PyInputError{PyInputError::kType, "result_type", -1, "must be a tuple subclass"};
    }
    if (reasons.size() < 10 || groups.size() != engine_->currencies()) {
      throw PyInputError{PyInputError::kInvalid, "labels", -1,
                         "one reason per code and one name per margin group"};
    }
    result_type_ = result_type;
    reasons_ = reasons;
    groups_ = groups;
  }
  // The check itself holds the GIL: it takes a fraction of a microsecond, about what releasing
  // and re-acquiring the GIL would cost.
  py::object check(std::int64_t a, std::int32_t i, int side, double amount) const {
    if (!result_type_) {
      throw PyInputError{PyInputError::kInvalid, "labels", -1, "set_result_labels first"};
    }
    const pe::CheckResult r =
        engine_->check(a, i, side == 0 ? pe::Side::kBuy : pe::Side::kSell, amount);
    PyObject* out = result_object(r);
    if (out == nullptr) throw py::error_already_set();
    return py::reinterpret_steal<py::object>(out);
  }
  // A new reference to the result object of `r` (labels set), or null with a Python error.
  PyObject* result_object(const pe::CheckResult& r) const noexcept {
    auto* type = reinterpret_cast<PyTypeObject*>(result_type_.ptr());
    PyObject* t = type->tp_alloc(type, 8);
    if (t == nullptr) return nullptr;
    const auto reason = static_cast<py::ssize_t>(r.reason);
    PyObject* why = PyTuple_GET_ITEM(reasons_.ptr(), reason);
    PyObject* group = r.currency >= 0 ? PyTuple_GET_ITEM(groups_.ptr(), r.currency) : empty_.ptr();
    Py_INCREF(why);
    Py_INCREF(group);
    PyObject* accept = r.accept ? Py_True : Py_False;
    Py_INCREF(accept);
    PyTuple_SET_ITEM(t, 0, accept);
    PyTuple_SET_ITEM(t, 1, why);
    PyTuple_SET_ITEM(t, 2, group);
    const double figures[5] = {r.im_before, r.im_after, r.mm_before, r.mm_after, r.available_after};
    for (int k = 0; k < 5; ++k) {
      PyObject* f = PyFloat_FromDouble(figures[k]);
      if (f == nullptr) {
        Py_DECREF(t);  // the unset items are null: the tuple's dealloc skips them
        return nullptr;
      }
      PyTuple_SET_ITEM(t, 3 + k, f);
    }
    return t;
  }
  [[nodiscard]] bool labelled() const noexcept { return static_cast<bool>(result_type_); }
  [[nodiscard]] const pe::PreTradeEngine& core() const noexcept { return *engine_; }
  // What-if for many candidate orders against the same state (each independently).
  py::dict check_many(std::int64_t a, const py::array& instruments, const py::array& sides,
                      const py::array& amounts) const {
    const auto n = static_cast<std::size_t>(instruments.size());
    // read in place (the engine's Side is one byte: 0 buy, 1 sell)
    const auto* ins = in_place<std::int32_t>(instruments, n, "instruments");
    const auto* sd = reinterpret_cast<const pe::Side*>(in_place<std::uint8_t>(sides, n, "sides"));
    const auto* am = in_place<double>(amounts, n, "amounts");
    py::array_t<bool> accept(static_cast<py::ssize_t>(n));
    py::array_t<std::uint8_t> reason(static_cast<py::ssize_t>(n));
    py::array_t<double> im_after(static_cast<py::ssize_t>(n));
    py::array_t<double> available(static_cast<py::ssize_t>(n));
    bool* acc = accept.mutable_data();
    std::uint8_t* rea = reason.mutable_data();
    double* im = im_after.mutable_data();
    double* av = available.mutable_data();
    std::vector<pe::CheckResult> r(n);
    {
      py::gil_scoped_release release;
      engine_->check_many(a, n, ins, sd, am, r.data());
      for (std::size_t j = 0; j < n; ++j) {
        acc[j] = r[j].accept;
        rea[j] = static_cast<std::uint8_t>(r[j].reason);
        im[j] = r[j].im_after;
        av[j] = r[j].available_after;
      }
    }
    py::dict out;
    out["accept"] = accept;
    out["reason"] = reason;
    out["im_after"] = im_after;
    out["available_after"] = available;
    return out;
  }
  int add_order(std::int64_t a, std::int64_t id, std::int32_t i, int side, double amount) {
    return static_cast<int>(
        engine_->add_order(a, id, i, side == 0 ? pe::Side::kBuy : pe::Side::kSell, amount));
  }
  int cancel_order(std::int64_t a, std::int64_t id) {
    return static_cast<int>(engine_->cancel_order(a, id));
  }
  int apply_fill(std::int64_t a, std::int64_t id, std::int32_t i, int side, double amount,
                 double price) {
    return static_cast<int>(
        engine_->apply_fill(a, id, i, side == 0 ? pe::Side::kBuy : pe::Side::kSell, amount, price));
  }
  int deposit(std::int64_t a, std::int32_t c, double amount) {
    return static_cast<int>(engine_->deposit(a, c, amount));
  }
  int withdraw(std::int64_t a, std::int32_t c, double amount) {
    return static_cast<int>(engine_->withdraw(a, c, amount));
  }
  void on_market_update(const py::array& forward, const py::array& vol, const py::array& time,
                        const py::array& rate, const py::array& index, const py::object& mark) {
    const std::size_t n = engine_->instruments();
    const auto mk = market_from(forward, vol, time, rate, n, mark);
    const auto ix = column<double>(index, static_cast<std::size_t>(index.size()), "index");
    Status st;
    {
      py::gil_scoped_release release;
      st = engine_->on_market_update(mk, ix);
    }
    raise_status(st);
  }
  py::tuple margin(std::int64_t a, std::int32_t c) const {
    return margin_tuple(engine_->margin(a, c));
  }
  py::tuple margin_from_scratch(std::int64_t a, std::int32_t c) const {
    return margin_tuple(engine_->margin_from_scratch(a, c));
  }
  py::bytes snapshot() const { return py::bytes(engine_->snapshot()); }
  static Engine restore(const py::bytes& data) {
    std::unique_ptr<pe::PreTradeEngine> e;
    raise_status(pe::PreTradeEngine::restore(std::string(data), &e));
    return Engine(std::move(e));
  }
  // The static definition of every instrument, as columns (for checking name tables).
  [[nodiscard]] py::dict instrument_specs() const {
    const auto n = static_cast<py::ssize_t>(engine_->instruments());
    py::array_t<std::uint8_t> kind(n), settlement(n), is_call(n);
    py::array_t<std::int32_t> underlying(n), currency(n);
    py::array_t<double> strike(n);
    py::array_t<std::int64_t> expiry(n);
    auto k = kind.mutable_unchecked<1>();
    auto se = settlement.mutable_unchecked<1>();
    auto c = is_call.mutable_unchecked<1>();
    auto u = underlying.mutable_unchecked<1>();
    auto cu = currency.mutable_unchecked<1>();
    auto st = strike.mutable_unchecked<1>();
    auto ex = expiry.mutable_unchecked<1>();
    for (py::ssize_t i = 0; i < n; ++i) {
      const pe::InstrumentSpec& s = engine_->instrument(static_cast<std::size_t>(i));
      k(i) = s.kind;
      se(i) = s.settlement;
      c(i) = s.is_call;
      u(i) = s.underlying;
      cu(i) = s.currency;
      st(i) = s.strike;
      ex(i) = s.expiry_id;
    }
    py::dict out;
    out["kind"] = kind;
    out["settlement"] = settlement;
    out["is_call"] = is_call;
    out["underlying"] = underlying;
    out["currency"] = currency;
    out["strike"] = strike;
    out["expiry_id"] = expiry;
    return out;
  }
  [[nodiscard]] std::size_t scenarios() const { return engine_->scenarios(); }
  [[nodiscard]] int model() const { return static_cast<int>(engine_->model()); }
  [[nodiscard]] std::size_t accounts() const { return engine_->accounts(); }
  [[nodiscard]] std::size_t instruments() const { return engine_->instruments(); }

 private:
  std::unique_ptr<pe::PreTradeEngine> engine_;
  py::object result_type_;
  py::tuple reasons_;
  py::tuple groups_;
  py::str empty_{""};
};

// The check from Python without pybind11's dispatch: a CPython function (METH_FASTCALL) bound
// to one engine, check(account, instrument, side, amount) -> its result object. It takes an int
// account, an instrument handle (int) or name (str, looked up in `names`), a member of `side`
// (the Python Side enum) and a float or int amount; anything else goes to `fallback` with the
// same arguments, which validates and raises the typed error.
struct FastCheck {
  py::object owner;  // the Engine's Python object: keeps the engine alive
  const Engine* engine = nullptr;
  py::dict names;
  py::object side_type;
  py::object fallback;
};

constexpr const char* kFastCheck = "pymargin.fast_check";

PyObject* fast_check(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
  auto* f = static_cast<FastCheck*>(PyCapsule_GetPointer(self, kFastCheck));
  if (f == nullptr) return nullptr;
  if (nargs == 4 && PyLong_CheckExact(args[0]) &&
      Py_TYPE(args[2]) == reinterpret_cast<PyTypeObject*>(f->side_type.ptr())) {
    int overflow = 0;
    const long long account = PyLong_AsLongLongAndOverflow(args[0], &overflow);
    const long side = PyLong_AsLong(args[2]);
    long long instrument = -1;
    bool ok = overflow == 0 && !PyErr_Occurred() && (side == 0 || side == 1);
    if (ok && PyLong_CheckExact(args[1])) {
      instrument = PyLong_AsLongLongAndOverflow(args[1], &overflow);
      ok = overflow == 0 && instrument >= 0 && instrument < (1LL << 31);
    } else if (ok && PyUnicode_CheckExact(args[1])) {
      PyObject* h = PyDict_GetItemWithError(f->names.ptr(), args[1]);  // borrowed
      ok = h != nullptr && PyLong_CheckExact(h);
      if (ok) instrument = PyLong_AsLongLong(h);
    } else {
      ok = false;
    }
    double amount = 0.0;
    if (ok && PyFloat_CheckExact(args[3])) {
      amount = PyFloat_AS_DOUBLE(args[3]);
    } else if (ok && PyLong_CheckExact(args[3])) {
      amount = PyLong_AsDouble(args[3]);
      ok = !(amount == -1.0 && PyErr_Occurred());
    } else {
      ok = false;
    }
    if (ok && !PyErr_Occurred()) {
      const pe::CheckResult r =
          f->engine->core().check(account, static_cast<std::int32_t>(instrument),
                                  side == 0 ? pe::Side::kBuy : pe::Side::kSell, amount);
      return f->engine->result_object(r);
    }
    PyErr_Clear();
  }
  return PyObject_Vectorcall(f->fallback.ptr(), args, static_cast<std::size_t>(nargs), nullptr);
}

PyMethodDef fast_check_def = {
    "check", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(fast_check)), METH_FASTCALL,
    "check(account, instrument, side, amount): could the account carry this order? Nothing "
    "changes. instrument: a name or a handle (PreTradeEngine.handle)."};

py::object make_fast_check(py::object engine, py::dict names, py::object side_type,
                           py::object fallback) {
  auto& e = engine.cast<Engine&>();
  if (!e.labelled()) {
    throw PyInputError{PyInputError::kInvalid, "labels", -1, "set_result_labels first"};
  }
  auto* f = new FastCheck{engine, &e, std::move(names), std::move(side_type), std::move(fallback)};
  PyObject* cap = PyCapsule_New(f, kFastCheck, [](PyObject* c) {
    delete static_cast<FastCheck*>(PyCapsule_GetPointer(c, kFastCheck));
  });
  if (cap == nullptr) {
    delete f;
    throw py::error_already_set();
  }
  PyObject* fn = PyCFunction_New(&fast_check_def, cap);
  Py_DECREF(cap);  // the function holds it
  if (fn == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(fn);
}

}  // namespace

void bind_engine(py::module_& m) {
  // The engine's enums as Python IntEnums, from the C++ definitions (pybind11's native_enum):
  // pymargin.accounts.engine re-exports them, so Python and C++ cannot drift apart.
  py::native_enum<pe::Side>(m, "Side", "enum.IntEnum", "An order's side.")
      .value("BUY", pe::Side::kBuy)
      .value("SELL", pe::Side::kSell)
      .finalize();
  py::native_enum<pe::Reason>(m, "Reason", "enum.IntEnum",
                              "Why the engine refused a request (ACCEPTED when it did not).")
      .value("ACCEPTED", pe::Reason::kNone)
      .value("INSUFFICIENT_FUNDS", pe::Reason::kInsufficientFunds)
      .value("UNKNOWN_ACCOUNT", pe::Reason::kUnknownAccount)
      .value("UNKNOWN_INSTRUMENT", pe::Reason::kUnknownInstrument)
      .value("BAD_SIZE", pe::Reason::kBadSize)
      .value("DELTA_SHOCK_NOT_MODELLED", pe::Reason::kDeltaShockNotModelled)
      .value("UNKNOWN_ORDER", pe::Reason::kUnknownOrder)
      .value("DUPLICATE_ORDER", pe::Reason::kDuplicateOrder)
      .value("BAD_PRICE", pe::Reason::kBadPrice)
      .value("NON_FINITE_STATE", pe::Reason::kNonFiniteState)
      .finalize();
  py::class_<Engine>(m, "PreTradeEngine")
      .def(py::init<int, double, const py::array&, const py::array&, std::size_t, const py::array&,
                    const py::array&, const py::array&, const py::array&, const py::array&,
                    const py::array&, const py::array&, const py::array&, const py::array&,
                    const py::array&, const py::array&, const py::array&, bool>(),
           py::arg("buckets"), py::arg("mm_factor"), py::arg("pairs"), py::arg("currencies"),
           py::arg("max_accounts"), py::arg("kind"), py::arg("settlement"), py::arg("is_call"),
           py::arg("underlying"), py::arg("currency"), py::arg("strike"), py::arg("expiry_id"),
           py::arg("forward"), py::arg("vol"), py::arg("time"), py::arg("rate"), py::arg("index"),
           py::arg("cross") = false)
      .def_static("grid", &Engine::grid, py::arg("mm_factor"), py::arg("max_accounts"),
                  py::arg("currencies"), py::arg("moves"), py::arg("vol_states"),
                  py::arg("weights"), py::arg("rules"), py::arg("terms"), py::arg("kind"),
                  py::arg("settlement"), py::arg("is_call"), py::arg("underlying"),
                  py::arg("currency"), py::arg("strike"), py::arg("expiry_id"),
                  py::arg("floor_long"), py::arg("floor_short"), py::arg("strike_floor"),
                  py::arg("forward"), py::arg("vol"), py::arg("time"), py::arg("rate"),
                  py::arg("index"))
      .def_static("derive", &Engine::derive, py::arg("max_accounts"), py::arg("currencies"),
                  py::arg("params"), py::arg("spot_shock"), py::arg("scenario_vol"),
                  py::arg("dampening"), py::arg("kind"), py::arg("settlement"), py::arg("is_call"),
                  py::arg("underlying"), py::arg("currency"), py::arg("strike"),
                  py::arg("expiry_id"), py::arg("forward"), py::arg("vol"), py::arg("time"),
                  py::arg("rate"), py::arg("index"))
      .def_static("span", &Engine::span, py::arg("max_accounts"), py::arg("currencies"),
                  py::arg("commodities"), py::arg("spread_legs"), py::arg("spread_terms"),
                  py::arg("kind"), py::arg("settlement"), py::arg("is_call"), py::arg("underlying"),
                  py::arg("currency"), py::arg("strike"), py::arg("expiry_id"), py::arg("forward"),
                  py::arg("vol"), py::arg("time"), py::arg("rate"), py::arg("index"))
      .def_static("sensitivity", &Engine::sensitivity, py::arg("max_accounts"),
                  py::arg("currencies"), py::arg("bucket_days"), py::arg("tenor_corr"),
                  py::arg("delta_corr"), py::arg("vega_corr"), py::arg("delta_rw"),
                  py::arg("vega_rw"), py::arg("kind"), py::arg("settlement"), py::arg("is_call"),
                  py::arg("underlying"), py::arg("currency"), py::arg("strike"),
                  py::arg("expiry_id"), py::arg("forward"), py::arg("vol"), py::arg("time"),
                  py::arg("rate"), py::arg("index"))
      .def_static("standard", &Engine::standard, py::arg("max_accounts"), py::arg("currencies"),
                  py::arg("underlyings"), py::arg("kind"), py::arg("settlement"),
                  py::arg("is_call"), py::arg("underlying"), py::arg("currency"), py::arg("strike"),
                  py::arg("expiry_id"), py::arg("terms"), py::arg("forward"), py::arg("vol"),
                  py::arg("time"), py::arg("rate"), py::arg("mark"), py::arg("index"))
      .def("add_account", &Engine::add_account)
      .def("set_result_labels", &Engine::set_result_labels, py::arg("result_type"),
           py::arg("reasons"), py::arg("groups"))
      .def(
          "fast_check",
          [](py::object self, py::dict names, py::object side_type, py::object fallback) {
            return make_fast_check(std::move(self), std::move(names), std::move(side_type),
                                   std::move(fallback));
          },
          py::arg("names"), py::arg("side_type"), py::arg("fallback"),
          "A check function bound to this engine that skips pybind11's dispatch (see "
          "pymargin.accounts.engine).")
      .def("check", &Engine::check, py::arg("account"), py::arg("instrument"), py::arg("side"),
           py::arg("amount"))
      .def("check_many", &Engine::check_many, py::arg("account"), py::arg("instruments"),
           py::arg("sides"), py::arg("amounts"))
      .def("add_order", &Engine::add_order)
      .def("cancel_order", &Engine::cancel_order)
      .def("apply_fill", &Engine::apply_fill)
      .def("deposit", &Engine::deposit)
      .def("withdraw", &Engine::withdraw)
      .def("on_market_update", &Engine::on_market_update, py::arg("forward"), py::arg("vol"),
           py::arg("time"), py::arg("rate"), py::arg("index"), py::arg("mark") = py::none())
      .def("margin", &Engine::margin)
      .def("margin_from_scratch", &Engine::margin_from_scratch)
      .def("snapshot", &Engine::snapshot)
      .def_static("restore", &Engine::restore)
      .def("instrument_specs", &Engine::instrument_specs)
      .def_property_readonly("scenarios", &Engine::scenarios)
      .def_property_readonly("model", &Engine::model)
      .def_property_readonly("accounts", &Engine::accounts)
      .def_property_readonly("instruments", &Engine::instruments);
}

}  // namespace pymargin::bindings
