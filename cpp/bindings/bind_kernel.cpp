// SPDX-License-Identifier: Apache-2.0
// Bindings of the scenario revaluation kernel (risk arrays).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cmath>
#include <limits>
#include <cstdint>
#include <string>
#include <vector>

#include "errors.hpp"
#include "pymargin/kernel/aggregate.hpp"
#include "pymargin/kernel/batch_margin.hpp"
#include "pymargin/kernel/revalue.hpp"
#include "pymargin/models/derive_pm.hpp"
#include "pymargin/models/scenario_margin.hpp"
#include "pymargin/models/sensitivity_margin.hpp"
#include "pymargin/models/span.hpp"
#include "pymargin/models/standard_margin.hpp"
#include "pymargin/models/strategy_margin.hpp"
#include "pymargin/scenarios/scenario_set.hpp"

namespace py = pybind11;

namespace pymargin::bindings {
namespace {

template <class T>
const T* contiguous(const py::array& a, std::size_t n, const char* name) {
  if (!py::dtype::of<T>().equal(a.dtype())) {
    throw PyInputError{PyInputError::kType, name, -1,
                       "expected dtype " + std::string(py::str(py::dtype::of<T>()))};
  }
  if (!(a.flags() & py::array::c_style)) {
    throw PyInputError{PyInputError::kType, name, -1, "must be C-contiguous"};
  }
  if (static_cast<std::size_t>(a.size()) != n) {
    throw PyInputError{
        PyInputError::kInvalid, name, -1,
        "has " + std::to_string(a.size()) + " elements, expected " + std::to_string(n)};
  }
  return static_cast<const T*>(a.data());
}

}  // namespace

// rules: [m x 10] float64 (see errors.hpp).
std::vector<scenarios::VolShockRule> rules_from(const py::array& a, std::size_t m) {
  const double* r = contiguous<double>(a, m * 10, "vol_rules");
  std::vector<scenarios::VolShockRule> out(m);
  for (std::size_t u = 0; u < m; ++u) {
    const double* x = r + u * 10;
    if (x[0] != 0.0 && x[0] != 1.0) {
      throw PyInputError{PyInputError::kInvalid, "vol_rules", static_cast<long long>(u),
                         "kind must be 0 (relative) or 1 (additive)"};
    }
    out[u].kind =
        x[0] == 0.0 ? scenarios::VolShockKind::kRelative : scenarios::VolShockKind::kAdditive;
    out[u].range_up = x[1];
    out[u].range_down = x[2];
    out[u].min_vol_up = x[3];
    out[u].min_vol_down = x[4];
    out[u].short_power = x[5];
    out[u].long_power = x[6];
    out[u].power_switch_days = x[7];
    out[u].reference_days = x[8];
    out[u].dte_floor_days = x[9];
  }
  return out;
}

namespace {

void revalue(const py::array& kind, const py::array& settlement, const py::array& is_call,
             const py::array& underlying, const py::array& strike, const py::array& forward,
             const py::array& vol, const py::array& time, const py::array& rate,
             const py::array& move, const py::array& vol_state, const py::array& rules,
             std::size_t n_underlyings, const py::array& out, int threads,
             const py::object& vol_scale) {
  const std::size_t n = static_cast<std::size_t>(kind.size());
  const std::size_t ns = static_cast<std::size_t>(vol_state.size());
  kernel::InstrumentView iv;
  iv.n = n;
  iv.kind = contiguous<std::uint8_t>(kind, n, "kind");
  iv.settlement = contiguous<std::uint8_t>(settlement, n, "settlement");
  iv.is_call = contiguous<std::uint8_t>(is_call, n, "is_call");
  iv.underlying = contiguous<std::int32_t>(underlying, n, "underlying");
  iv.strike = contiguous<double>(strike, n, "strike");
  iv.forward = contiguous<double>(forward, n, "forward");
  iv.vol = contiguous<double>(vol, n, "vol");
  iv.time = contiguous<double>(time, n, "time");
  iv.rate = contiguous<double>(rate, n, "rate");
  const std::vector<scenarios::VolShockRule> rule_vec = rules_from(rules, n_underlyings);
  scenarios::ScenarioView sv;
  sv.n = ns;
  sv.m = n_underlyings;
  sv.move = contiguous<double>(move, ns * n_underlyings, "move");
  sv.vol_state = contiguous<std::int8_t>(vol_state, ns, "vol_state");
  sv.rules = rule_vec.data();
  py::array scale_arr;
  if (!vol_scale.is_none()) {
    scale_arr = vol_scale.cast<py::array>();
    sv.vol_scale = contiguous<double>(scale_arr, ns * n_underlyings, "vol_scale");
  }
  if (!py::dtype::of<double>().equal(out.dtype()) || !(out.flags() & py::array::c_style) ||
      !out.writeable() || static_cast<std::size_t>(out.size()) != n * ns) {
    throw PyInputError{PyInputError::kType, "out", -1,
                       "must be a writeable C-contiguous float64 array of instruments x scenarios"};
  }
  double* risk = static_cast<double*>(py::array(out).mutable_data());
  Status st;
  {
    py::gil_scoped_release nogil;
    st = kernel::revalue(iv, sv, risk, threads);
  }
  raise_status(st, "forward");
}

void aggregate(const py::array& risk, const py::array& index, const py::array& qty,
               const py::array& out) {
  if (risk.ndim() != 2) throw PyInputError{PyInputError::kInvalid, "risk", -1, "must be 2-D"};
  const auto n_inst = static_cast<std::size_t>(risk.shape(0));
  const auto n_scen = static_cast<std::size_t>(risk.shape(1));
  const auto n_pos = static_cast<std::size_t>(index.size());
  const double* r = contiguous<double>(risk, n_inst * n_scen, "risk");
  const std::int64_t* ix = contiguous<std::int64_t>(index, n_pos, "index");
  const double* q = contiguous<double>(qty, n_pos, "size");
  if (!py::dtype::of<double>().equal(out.dtype()) || !(out.flags() & py::array::c_style) ||
      !out.writeable() || static_cast<std::size_t>(out.size()) != n_scen) {
    throw PyInputError{PyInputError::kType, "out", -1,
                       "must be a writeable C-contiguous float64 array of one row per scenario"};
  }
  double* o = static_cast<double*>(py::array(out).mutable_data());
  Status st;
  {
    py::gil_scoped_release nogil;
    st = kernel::aggregate(r, n_inst, n_scen, ix, q, n_pos, o);
  }
  raise_status(st, "index");
}

// kernel::scaled_vectors: out [n_scenarios] the summed vector; vectors (None or [positions x
// n_scenarios]) each position's.
void scaled_vectors(const py::array& risk, const py::array& index, const py::array& qty,
                    const py::array& inverse, const py::array& scale, const py::object& edge,
                    std::size_t n_std, const py::array& out, const py::object& vectors) {
  if (risk.ndim() != 2) throw PyInputError{PyInputError::kInvalid, "risk", -1, "must be 2-D"};
  const auto n_inst = static_cast<std::size_t>(risk.shape(0));
  const auto n_scen = static_cast<std::size_t>(risk.shape(1));
  const auto n_pos = static_cast<std::size_t>(index.size());
  if (n_std > n_scen) throw PyInputError{PyInputError::kInvalid, "n_std", -1, "too large"};
  const double* r = contiguous<double>(risk, n_inst * n_scen, "risk");
  const std::int64_t* ix = contiguous<std::int64_t>(index, n_pos, "index");
  const double* q = contiguous<double>(qty, n_pos, "size");
  const std::uint8_t* inv = contiguous<std::uint8_t>(inverse, n_pos, "inverse");
  const double* sc = contiguous<double>(scale, n_scen - n_std, "scale");
  py::array edge_a;
  const double* ed = nullptr;
  if (!edge.is_none()) {
    edge_a = py::array::ensure(edge);
    ed = contiguous<double>(edge_a, n_scen - n_std, "edge");
  }
  auto writable = [](const py::array& a, std::size_t n, const char* name) {
    if (!py::dtype::of<double>().equal(a.dtype()) || !(a.flags() & py::array::c_style) ||
        !a.writeable() || static_cast<std::size_t>(a.size()) != n) {
      throw PyInputError{PyInputError::kType, name, -1,
                         "must be a writeable C-contiguous float64 array of the right size"};
    }
    return static_cast<double*>(py::array(a).mutable_data());
  };
  double* o = writable(out, n_scen, "out");
  double* v = nullptr;
  py::array vec_a;
  if (!vectors.is_none()) {
    vec_a = py::array::ensure(vectors);
    v = writable(vec_a, n_pos * n_scen, "vectors");
  }
  Status st;
  {
    py::gil_scoped_release nogil;
    st = kernel::scaled_vectors(r, n_inst, n_scen, n_std, ix, q, inv, n_pos, sc, ed, o, v);
  }
  raise_status(st, "index");
}

// The accounts of a batch call (CSR columns), checked for shape.
kernel::BatchAccounts accounts_from(const py::array& offsets, const py::array& instrument,
                                    const py::array& amount, const py::array& collateral) {
  kernel::BatchAccounts acc;
  acc.n = static_cast<std::size_t>(collateral.size());
  acc.offsets = contiguous<std::int64_t>(offsets, acc.n + 1, "offsets");
  const auto nnz = static_cast<std::size_t>(instrument.size());
  acc.instrument = contiguous<std::int32_t>(instrument, nnz, "instrument");
  acc.amount = contiguous<double>(amount, nnz, "amount");
  acc.collateral = contiguous<double>(collateral, acc.n, "collateral");
  if (acc.offsets[acc.n] != static_cast<std::int64_t>(nnz)) {
    throw PyInputError{PyInputError::kInvalid, "offsets", static_cast<long long>(acc.n),
                       "the last offset must equal the number of positions"};
  }
  return acc;
}

// The output columns of a batch call and the dict they are returned in.
struct BatchColumns {
  py::array_t<double> im, mm, eq, ratio;
  py::array_t<std::int8_t> status;
  py::array_t<std::int32_t> worst, worst_group;
  kernel::BatchOutputs out;
  explicit BatchColumns(std::size_t accounts)
      : im(static_cast<py::ssize_t>(accounts)),
        mm(static_cast<py::ssize_t>(accounts)),
        eq(static_cast<py::ssize_t>(accounts)),
        ratio(static_cast<py::ssize_t>(accounts)),
        status(static_cast<py::ssize_t>(accounts)),
        worst(static_cast<py::ssize_t>(accounts)),
        worst_group(static_cast<py::ssize_t>(accounts)),
        out{im.mutable_data(),         mm.mutable_data(),     eq.mutable_data(),
            ratio.mutable_data(),      status.mutable_data(), worst.mutable_data(),
            worst_group.mutable_data()} {}
  py::dict result(const Status& st) const {
    if (!st.ok()) {
      throw PyInputError{PyInputError::kInvalid, st.field, static_cast<long long>(st.index),
                         st.message};
    }
    py::dict d;
    d["initial_margin"] = im;
    d["maintenance_margin"] = mm;
    d["equity"] = eq;
    d["ratio"] = ratio;
    d["status"] = status;
    d["worst_index"] = worst;
    d["worst_group"] = worst_group;
    return d;
  }
};

// The accounts of a batch call through `run(accounts, outputs)` with the GIL released, after
// their columns are checked; the output columns as a dict.
template <class Run>
py::dict over_accounts(const py::array& offsets, const py::array& instrument,
                       const py::array& amount, const py::array& collateral, Run&& run,
                       const py::dict* addons = nullptr) {
  kernel::BatchAccounts acc = accounts_from(offsets, instrument, amount, collateral);
  // the accounts' add-ons to IM and MM (BatchAccounts::im_addon, mm_addon), if given
  if (addons != nullptr && addons->contains("im_addon") && !(*addons)["im_addon"].is_none()) {
    acc.im_addon = contiguous<double>((*addons)["im_addon"].cast<py::array>(), acc.n, "im_addon");
    acc.mm_addon = contiguous<double>((*addons)["mm_addon"].cast<py::array>(), acc.n, "mm_addon");
  }
  BatchColumns cols(acc.n);
  Status st;
  {
    py::gil_scoped_release release;
    st = run(acc, cols.out);
  }
  return cols.result(st);
}

py::dict batch_margin(const py::array& risk, const py::array& pair, const py::array& expiry,
                      const py::array& delta, const py::array& value, const py::array& offsets,
                      const py::array& instrument, const py::array& amount,
                      const py::array& collateral, std::size_t n_std, std::size_t pairs,
                      std::size_t expiries, double pnl_offset, const py::array& cap,
                      const py::object& damp, const py::array& roll_k, double mm_factor,
                      const py::object& delta_limit, int threads, const py::dict& venue) {
  // venue: the optional terms of other grid venues (see kernel::BatchModel): stride, weight,
  // pnl_offsets, delta_price, unhedged_delta, hedged_delta, floor_long, floor_short,
  // round_worst, tie_period, tie_slot; and the accounts' im_addon and mm_addon [accounts].
  kernel::BatchModel m;
  m.n_std = n_std;
  m.pairs = pairs;
  m.expiries = expiries;
  m.pnl_offset = pnl_offset;
  const std::size_t stride =
      venue.contains("stride") ? venue["stride"].cast<std::size_t>() : n_std + 8;
  if (stride < n_std) throw PyInputError{PyInputError::kInvalid, "stride", -1, "below n_std"};
  m.cap = contiguous<double>(cap, pairs, "cap");
  py::array damp_a;
  if (!damp.is_none()) {
    damp_a = py::array::ensure(damp);
    m.damp = contiguous<double>(damp_a, pairs * (stride - n_std), "damp");
  }
  m.roll_k = contiguous<double>(roll_k, expiries, "roll_k");
  m.mm_factor = mm_factor;
  std::vector<py::array> keep;  // the optional columns stay alive for the call
  auto column_of = [&](const char* key, std::size_t size) -> const double* {
    if (!venue.contains(key) || venue[key].is_none()) return nullptr;
    keep.push_back(py::array::ensure(venue[key]));
    return contiguous<double>(keep.back(), size, key);
  };
  m.weight = column_of("weight", pairs * stride);
  m.pnl_offsets = column_of("pnl_offsets", pairs);
  m.delta_price = column_of("delta_price", pairs);
  m.unhedged_delta = column_of("unhedged_delta", pairs);
  m.hedged_delta = column_of("hedged_delta", pairs);
  if (venue.contains("round_worst")) m.round_worst = venue["round_worst"].cast<bool>();
  if (venue.contains("tie_period")) m.tie_period = venue["tie_period"].cast<std::size_t>();
  if (venue.contains("tie_slot")) m.tie_slot = venue["tie_slot"].cast<std::size_t>();
  py::array limit;
  if (!delta_limit.is_none()) {
    limit = py::array::ensure(delta_limit);
    m.delta_limit = contiguous<double>(limit, pairs, "delta_limit");
  }
  kernel::BatchInstruments in;
  in.n = static_cast<std::size_t>(pair.size());
  in.stride = stride;
  in.risk = contiguous<double>(risk, in.n * in.stride, "risk");
  in.pair = contiguous<std::int32_t>(pair, in.n, "pair");
  in.expiry = contiguous<std::int32_t>(expiry, in.n, "expiry");
  in.delta = contiguous<double>(delta, in.n, "delta");
  in.value = contiguous<double>(value, in.n, "value");
  in.floor_long = column_of("floor_long", in.n);
  in.floor_short = column_of("floor_short", in.n);
  // venue["cross"]: Deribit X:PM's terms (kernel::BatchCross): sets, group_set, currency,
  // balance [accounts x currencies], price, haircut, shock_group, side, coin_move.
  kernel::BatchCross x;
  const bool cross = venue.contains("cross") && !venue["cross"].is_none();
  if (cross) {
    const py::dict c = venue["cross"].cast<py::dict>();
    auto col = [&](const char* key) -> py::array {
      if (!c.contains(key)) throw PyInputError{PyInputError::kInvalid, key, -1, "missing"};
      keep.push_back(py::array::ensure(c[key]));
      return keep.back();
    };
    x.sets = c["sets"].cast<std::size_t>();
    x.currencies = c["currencies"].cast<std::size_t>();
    const auto accounts = static_cast<std::size_t>(offsets.size() > 0 ? offsets.size() - 1 : 0);
    x.group_set = contiguous<std::int32_t>(col("group_set"), pairs, "group_set");
    x.currency = contiguous<std::int32_t>(col("currency"), in.n, "currency");
    x.balance = contiguous<double>(col("balance"), accounts * x.currencies, "balance");
    x.price = contiguous<double>(col("price"), x.currencies, "price");
    x.haircut = contiguous<double>(col("haircut"), x.currencies, "haircut");
    x.shock_group = contiguous<std::int32_t>(col("shock_group"), x.currencies, "shock_group");
    x.side = contiguous<std::uint8_t>(col("side"), x.currencies, "side");
    x.coin_move = contiguous<double>(col("coin_move"), x.currencies * stride, "coin_move");
  }
  return over_accounts(
      offsets, instrument, amount, collateral,
      [&](const kernel::BatchAccounts& acc, const kernel::BatchOutputs& out) {
        return kernel::batch_margin(m, in, acc, out, threads, cross ? &x : nullptr);
      },
      &venue);
}

// SPAN over every account (kernel::batch_span). commodities: one tuple per combined commodity
// (tiers, weight [16], short_option_minimum, intra_tiers int32 [2 x pairs], intra_rates
// [pairs]); spread_legs int32 [2 x spreads], spread_terms [3 x spreads] (ratio_a, ratio_b,
// rate).
py::dict batch_span(const py::array& risk, const py::array& commodity, const py::array& tier,
                    const py::array& delta, const py::array& option, const py::array& value,
                    const py::array& offsets, const py::array& instrument, const py::array& amount,
                    const py::array& collateral, const py::list& commodities,
                    const py::array& spread_legs, const py::array& spread_terms, int threads) {
  std::vector<py::array> keep;
  std::vector<kernel::BatchSpanCommodity> comm(commodities.size());
  for (std::size_t c = 0; c < comm.size(); ++c) {
    const auto t = commodities[c].cast<py::tuple>();
    if (t.size() != 5) {
      throw PyInputError{PyInputError::kInvalid, "commodities", static_cast<long long>(c),
                         "(tiers, weight, short_option_minimum, intra_tiers, intra_rates)"};
    }
    kernel::BatchSpanCommodity& x = comm[c];
    x.tiers = t[0].cast<std::size_t>();
    keep.push_back(py::array::ensure(t[1]));
    x.weight = contiguous<double>(keep.back(), models::kSpanScenarios, "weight");
    x.short_option_minimum = t[2].cast<double>();
    keep.push_back(py::array::ensure(t[4]));
    x.intra_pairs = static_cast<std::size_t>(keep.back().size());
    x.intra_rates =
        x.intra_pairs ? contiguous<double>(keep.back(), x.intra_pairs, "intra_rates") : nullptr;
    keep.push_back(py::array::ensure(t[3]));
    x.intra_tiers = x.intra_pairs
                        ? contiguous<std::int32_t>(keep.back(), 2 * x.intra_pairs, "intra_tiers")
                        : nullptr;
  }
  kernel::BatchSpanModel m;
  m.commodities = comm.size();
  m.commodity = comm.data();
  m.spreads = static_cast<std::size_t>(spread_terms.size() / 3);
  if (m.spreads > 0) {
    m.spread_legs = contiguous<std::int32_t>(spread_legs, 2 * m.spreads, "spread_legs");
    m.spread_terms = contiguous<double>(spread_terms, 3 * m.spreads, "spread_terms");
  }
  kernel::BatchSpanInstruments in;
  in.n = static_cast<std::size_t>(commodity.size());
  in.risk = contiguous<double>(risk, in.n * models::kSpanScenarios, "risk");
  in.commodity = contiguous<std::int32_t>(commodity, in.n, "commodity");
  in.tier = contiguous<std::int32_t>(tier, in.n, "tier");
  in.delta = contiguous<double>(delta, in.n, "delta");
  in.option = contiguous<std::uint8_t>(option, in.n, "option");
  in.value = contiguous<double>(value, in.n, "value");
  return over_accounts(offsets, instrument, amount, collateral,
                       [&](const kernel::BatchAccounts& acc, const kernel::BatchOutputs& out) {
                         return kernel::batch_span(m, in, acc, out, threads);
                       });
}

// Deribit standard margin over every account (kernel::batch_standard). terms [n x 13]: rule,
// im_base, im_per_unit, mm_base, mm_per_unit, price, im_otm_base, im_floor, mm, call,
// strike, index, mark.
py::dict batch_standard(const py::array& terms, const py::array& value, const py::array& offsets,
                        const py::array& instrument, const py::array& amount,
                        const py::array& collateral, int threads) {
  const auto n = static_cast<std::size_t>(value.size());
  const double* t = contiguous<double>(terms, n * 13, "terms");
  std::vector<models::StandardPosition> pos(n);
  for (std::size_t i = 0; i < n; ++i) {
    const double* x = t + i * 13;
    if (x[0] != 0.0 && x[0] != 1.0) {
      throw PyInputError{PyInputError::kInvalid, "terms", static_cast<long long>(i),
                         "rule must be 0 (size-scaled) or 1 (inverse option)"};
    }
    models::StandardPosition& p = pos[i];
    p.rule = x[0] == 0.0 ? models::StandardRule::kSizeScaled : models::StandardRule::kInverseOption;
    p.im_base = x[1];
    p.im_per_unit = x[2];
    p.mm_base = x[3];
    p.mm_per_unit = x[4];
    p.price = x[5];
    p.im_otm_base = x[6];
    p.im_floor = x[7];
    p.mm = x[8];
    p.call = x[9] != 0.0;
    p.strike = x[10];
    p.index = x[11];
    p.mark = x[12];
  }
  const kernel::BatchStandardInstruments in{n, pos.data(), contiguous<double>(value, n, "value")};
  return over_accounts(offsets, instrument, amount, collateral,
                       [&](const kernel::BatchAccounts& acc, const kernel::BatchOutputs& out) {
                         return kernel::batch_standard(in, acc, out, threads);
                       });
}

// The Greek-netting model over every account (kernel::batch_sensitivity).
py::dict batch_sensitivity(const py::array& underlying, const py::array& bucket,
                           const py::array& delta_usd, const py::array& weighted_vega,
                           const py::array& pnl_up, const py::array& pnl_down,
                           const py::array& value, const py::array& offsets,
                           const py::array& instrument, const py::array& amount,
                           const py::array& collateral, const py::array& tenor_corr,
                           double delta_corr, double vega_corr, const py::array& delta_rw,
                           int threads) {
  const auto n = static_cast<std::size_t>(underlying.size());
  const auto U = static_cast<std::size_t>(delta_rw.size());
  const auto B =
      static_cast<std::size_t>(std::llround(std::sqrt(static_cast<double>(tenor_corr.size()))));
  kernel::BatchSensitivityModel m{
      U,          B,         contiguous<double>(tenor_corr, B * B, "tenor_corr"),
      delta_corr, vega_corr, contiguous<double>(delta_rw, U, "delta_rw")};
  const kernel::BatchSensitivityInstruments in{
      n,
      contiguous<std::int32_t>(underlying, n, "underlying"),
      contiguous<std::int32_t>(bucket, n, "bucket"),
      contiguous<double>(delta_usd, n, "delta_usd"),
      contiguous<double>(weighted_vega, n, "weighted_vega"),
      contiguous<double>(pnl_up, n, "pnl_up"),
      contiguous<double>(pnl_down, n, "pnl_down"),
      contiguous<double>(value, n, "value")};
  return over_accounts(offsets, instrument, amount, collateral,
                       [&](const kernel::BatchAccounts& acc, const kernel::BatchOutputs& out) {
                         return kernel::batch_sensitivity(m, in, acc, out, threads);
                       });
}

// The scenario-margin model (pymargin/models/scenario_margin.hpp) over margin groups given as
// columns: pnl [G x ns], weight and damp [G x ns] or None, cap, net_delta, gross_delta,
// delta_price, floor, pnl_offset, unhedged_delta, hedged_delta [G], set [G] (int32); roll_k and
// expiry_delta [E]. rules: (3 unused), mm_factor, round_worst (0/1), tie_standard, tie_period,
// tie_slot.
py::dict scenario_margin(const py::array& rules, const py::array& pnl, const py::object& weight,
                         const py::object& damp, const py::array& cap, const py::array& net,
                         const py::array& gross, const py::array& price, const py::array& floor,
                         const py::array& offset, const py::array& unhedged,
                         const py::array& hedged, const py::array& set, std::size_t sets,
                         const py::array& roll_k, const py::array& expiry_delta, double im_addon,
                         double mm_addon) {
  const double* r = contiguous<double>(rules, 8, "rules");
  models::ModelRules mr;
  mr.mm_factor = r[3];
  mr.round_worst = r[4] != 0.0;
  for (int k = 5; k < 8; ++k) {
    if (!(r[k] >= 0.0 && r[k] <= 1e9 && r[k] == std::floor(r[k]))) {
      throw PyInputError{PyInputError::kInvalid, "rules", k, "tie indices: integers >= 0"};
    }
  }
  mr.tie_standard = static_cast<std::size_t>(r[5]);
  mr.tie_period = static_cast<std::size_t>(r[6]);
  mr.tie_slot = static_cast<std::size_t>(r[7]);
  if (pnl.ndim() != 2) throw PyInputError{PyInputError::kType, "pnl", -1, "must be 2-D"};
  const auto groups = static_cast<std::size_t>(pnl.shape(0));
  const auto ns = static_cast<std::size_t>(pnl.shape(1));
  const double* p = contiguous<double>(pnl, groups * ns, "pnl");
  const double* w = weight.is_none()
                        ? nullptr
                        : contiguous<double>(weight.cast<py::array>(), groups * ns, "weight");
  const double* d =
      damp.is_none() ? nullptr : contiguous<double>(damp.cast<py::array>(), groups * ns, "damp");
  const double* c = contiguous<double>(cap, groups, "cap");
  const double* nd = contiguous<double>(net, groups, "net_delta");
  const double* gd = contiguous<double>(gross, groups, "gross_delta");
  const double* pr = contiguous<double>(price, groups, "delta_price");
  const double* fl = contiguous<double>(floor, groups, "floor");
  const double* of = contiguous<double>(offset, groups, "pnl_offset");
  const double* uh = contiguous<double>(unhedged, groups, "unhedged_delta");
  const double* hd = contiguous<double>(hedged, groups, "hedged_delta");
  const auto* st = contiguous<std::int32_t>(set, groups, "set");
  const auto expiries = static_cast<std::size_t>(roll_k.size());
  const double* rk = contiguous<double>(roll_k, expiries, "roll_k");
  const double* ed = contiguous<double>(expiry_delta, expiries, "expiry_delta");
  if (sets > groups || (groups > 0 && sets == 0)) {
    throw PyInputError{PyInputError::kInvalid, "sets", -1, "between 1 and the number of groups"};
  }
  std::vector<models::GroupView> view(groups);
  for (std::size_t k = 0; k < groups; ++k) {
    view[k].pnl = p + k * ns;
    view[k].weight = w ? w + k * ns : nullptr;
    view[k].damp = d ? d + k * ns : nullptr;
    view[k].cap = c[k];
    view[k].net_delta = nd[k];
    view[k].gross_delta = gd[k];
    view[k].delta_price = pr[k];
    view[k].floor = fl[k];
    view[k].pnl_offset = of[k];
    view[k].unhedged_delta = uh[k];
    view[k].hedged_delta = hd[k];
    view[k].set = st[k];
  }
  std::vector<models::SetResult> per(sets);
  py::array_t<double> set_entries({static_cast<py::ssize_t>(sets), static_cast<py::ssize_t>(ns)});
  py::array_t<double> group_entries(
      {static_cast<py::ssize_t>(groups), static_cast<py::ssize_t>(ns)});
  models::MarginResult res;
  raise_status(models::scenario_margin(mr, ns, groups, view.data(), sets, expiries, rk, ed,
                                       im_addon, mm_addon, per.data(), &res,
                                       set_entries.mutable_data(), group_entries.mutable_data()),
               "underlying");
  const auto n = static_cast<py::ssize_t>(sets);
  py::array_t<double> loss(n), lowest(n), min_delta(n), floor_sum(n), charge(n);
  py::array_t<std::int32_t> at(n);
  for (py::ssize_t k = 0; k < n; ++k) {
    const models::SetResult& x = per[static_cast<std::size_t>(k)];
    loss.mutable_at(k) = x.loss;
    lowest.mutable_at(k) = x.lowest;
    at.mutable_at(k) = x.at;
    min_delta.mutable_at(k) = x.min_delta;
    floor_sum.mutable_at(k) = x.floor;
    charge.mutable_at(k) = x.charge;
  }
  py::dict out;
  out["worst"] = res.worst;
  out["roll"] = res.roll;
  out["rmm"] = res.rmm;
  out["initial_margin"] = res.initial_margin;
  out["maintenance_margin"] = res.maintenance_margin;
  out["loss"] = loss;
  out["lowest"] = lowest;
  out["at"] = at;
  out["min_delta"] = min_delta;
  out["floor"] = floor_sum;
  out["charge"] = charge;
  out["set_entries"] = set_entries;
  out["group_entries"] = group_entries;
  return out;
}

// Standard margin (pymargin/models/standard_margin.hpp), positions as columns [n]: rule
// (uint8: 0 size-scaled, 1 inverse option, 2 the venues' option shape), size, the size-scaled
// rates and price, the option rates, call (uint8), strike, index, mark; the option shape's
// columns where rule 2 is used (extra, a dict of unit, reference, tier_factor,
// liquidation_fee, im_premium, mm_floor (uint8)). Returns (im, mm) arrays.
py::tuple standard_margin(const py::array& rule, const py::array& size, const py::array& im_base,
                          const py::array& im_per_unit, const py::array& mm_base,
                          const py::array& mm_per_unit, const py::array& price,
                          const py::array& im_otm_base, const py::array& im_floor,
                          const py::array& mm, const py::array& call, const py::array& strike,
                          const py::array& index, const py::array& mark, const py::object& extra) {
  const auto n = static_cast<std::size_t>(size.size());
  const auto* r = contiguous<std::uint8_t>(rule, n, "rule");
  const double* q = contiguous<double>(size, n, "size");
  const double* a = contiguous<double>(im_base, n, "im_base");
  const double* b = contiguous<double>(im_per_unit, n, "im_per_unit");
  const double* c = contiguous<double>(mm_base, n, "mm_base");
  const double* d = contiguous<double>(mm_per_unit, n, "mm_per_unit");
  const double* pr = contiguous<double>(price, n, "price");
  const double* ob = contiguous<double>(im_otm_base, n, "im_otm_base");
  const double* fl = contiguous<double>(im_floor, n, "im_floor");
  const double* om = contiguous<double>(mm, n, "mm");
  const auto* cl = contiguous<std::uint8_t>(call, n, "call");
  const double* k = contiguous<double>(strike, n, "strike");
  const double* ix = contiguous<double>(index, n, "index");
  const double* mk = contiguous<double>(mark, n, "mark");
  const bool shaped = !extra.is_none();
  const double *un = nullptr, *rf = nullptr, *tf = nullptr, *lf = nullptr, *ip = nullptr;
  const std::uint8_t* mf = nullptr;
  if (shaped) {
    const auto d = extra.cast<py::dict>();
    un = contiguous<double>(d["unit"].cast<py::array>(), n, "unit");
    rf = contiguous<double>(d["reference"].cast<py::array>(), n, "reference");
    tf = contiguous<double>(d["tier_factor"].cast<py::array>(), n, "tier_factor");
    lf = contiguous<double>(d["liquidation_fee"].cast<py::array>(), n, "liquidation_fee");
    ip = contiguous<double>(d["im_premium"].cast<py::array>(), n, "im_premium");
    mf = contiguous<std::uint8_t>(d["mm_floor"].cast<py::array>(), n, "mm_floor");
  }
  std::vector<models::StandardPosition> pos(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (r[i] > (shaped ? 2 : 1))
      throw PyInputError{PyInputError::kInvalid, "rule", static_cast<long long>(i),
                         "0 (size-scaled), 1 (inverse option) or, with its columns, 2 (option)"};
    models::StandardPosition& p = pos[i];
    p.rule = static_cast<models::StandardRule>(r[i]);
    p.size = q[i];
    p.im_base = a[i];
    p.im_per_unit = b[i];
    p.mm_base = c[i];
    p.mm_per_unit = d[i];
    p.price = pr[i];
    p.im_otm_base = ob[i];
    p.im_floor = fl[i];
    p.mm = om[i];
    p.call = cl[i] != 0;
    p.strike = k[i];
    p.index = ix[i];
    p.mark = mk[i];
    if (shaped) {
      p.unit = un[i];
      p.reference = rf[i];
      p.tier_factor = tf[i];
      p.liquidation_fee = lf[i];
      p.im_premium = ip[i];
      p.mm_floor = mf[i];
    }
  }
  std::vector<models::StandardMargin> out(n);
  raise_status(models::standard_margin(pos.data(), n, out.data()), "underlying");
  py::array_t<double> im(static_cast<py::ssize_t>(n)), mmo(static_cast<py::ssize_t>(n));
  for (std::size_t i = 0; i < n; ++i) {
    im.mutable_at(static_cast<py::ssize_t>(i)) = out[i].initial_margin;
    mmo.mutable_at(static_cast<py::ssize_t>(i)) = out[i].maintenance_margin;
  }
  return py::make_tuple(im, mmo);
}

// Derive PM's expiries from their columns (option ranges left empty).
std::vector<models::DeriveExpiry> derive_expiries(const py::array& seconds,
                                                  const py::array& forward_fixed,
                                                  const py::array& forward_variable,
                                                  const py::array& rate,
                                                  const py::array& confidence) {
  const auto ne = static_cast<std::size_t>(seconds.size());
  const double* se = contiguous<double>(seconds, ne, "seconds");
  const double* ff = contiguous<double>(forward_fixed, ne, "forward_fixed");
  const double* fv = contiguous<double>(forward_variable, ne, "forward_variable");
  const double* rt = contiguous<double>(rate, ne, "rate");
  const double* cf = contiguous<double>(confidence, ne, "confidence");
  std::vector<models::DeriveExpiry> ex(ne);
  for (std::size_t i = 0; i < ne; ++i) ex[i] = {se[i], ff[i], fv[i], rt[i], cf[i], 0, 0};
  return ex;
}

// Derive portfolio margin (pymargin/models/derive_pm.hpp). params [34] in the order of
// DeriveParams (pymargin.models.derive_pm._PARAM_ORDER); scenarios as columns spot_shock,
// vol (uint8), dampening [s]; scalars [8]: spot, spot_confidence, stable_price, cash,
// perp_position, perp_price, perp_confidence, perp_value; expiries as columns [e] with
// option_offsets [e + 1]; options [n]; collaterals [c]. Returns the result as a dict.
py::dict derive_pm_margin(const py::array& params, const py::array& spot_shock,
                          const py::array& vol, const py::array& dampening,
                          const py::array& scalars, const py::array& seconds,
                          const py::array& forward_fixed, const py::array& forward_variable,
                          const py::array& rate, const py::array& confidence,
                          const py::array& option_offsets, const py::array& strike,
                          const py::array& option_vol, const py::array& amount,
                          const py::array& call, const py::array& collateral_value,
                          const py::array& collateral_confidence, const py::array& mm_haircut,
                          const py::array& im_haircut, const py::array& risk_cancelling) {
  std::vector<models::DeriveScenario> sc;
  const models::DeriveParams q = derive_params(params, spot_shock, vol, dampening, sc);
  const double* sv = contiguous<double>(scalars, 8, "scalars");
  models::DerivePortfolio p;
  p.spot = sv[0];
  p.spot_confidence = sv[1];
  p.stable_price = sv[2];
  p.cash = sv[3];
  p.perp_position = sv[4];
  p.perp_price = sv[5];
  p.perp_confidence = sv[6];
  p.perp_value = sv[7];
  std::vector<models::DeriveExpiry> ex =
      derive_expiries(seconds, forward_fixed, forward_variable, rate, confidence);
  const std::size_t ne = ex.size();
  const auto* off = contiguous<std::int64_t>(option_offsets, ne + 1, "option_offsets");
  const auto no = static_cast<std::size_t>(strike.size());
  for (std::size_t i = 0; i < ne; ++i) {
    if (off[i] < 0 || off[i + 1] < off[i] || static_cast<std::size_t>(off[i + 1]) > no)
      throw PyInputError{PyInputError::kInvalid, "option_offsets", static_cast<long long>(i),
                         "must rise within the options"};
    ex[i].first_option = static_cast<std::size_t>(off[i]);
    ex[i].end_option = static_cast<std::size_t>(off[i + 1]);
  }
  const double* k = contiguous<double>(strike, no, "strike");
  const double* ov = contiguous<double>(option_vol, no, "option_vol");
  const double* am = contiguous<double>(amount, no, "amount");
  const auto* cl = contiguous<std::uint8_t>(call, no, "call");
  std::vector<models::DeriveOption> op(no);
  for (std::size_t i = 0; i < no; ++i) op[i] = {k[i], ov[i], am[i], cl[i] != 0};
  const auto nc = static_cast<std::size_t>(collateral_value.size());
  const double* cv = contiguous<double>(collateral_value, nc, "collateral_value");
  const double* cc = contiguous<double>(collateral_confidence, nc, "collateral_confidence");
  const double* mh = contiguous<double>(mm_haircut, nc, "mm_haircut");
  const double* ih = contiguous<double>(im_haircut, nc, "im_haircut");
  const auto* rc = contiguous<std::uint8_t>(risk_cancelling, nc, "risk_cancelling");
  std::vector<models::DeriveCollateral> co(nc);
  for (std::size_t i = 0; i < nc; ++i) co[i] = {cv[i], cc[i], mh[i], ih[i], rc[i] != 0};
  p.expiries = ex.data();
  p.n_expiries = ne;
  p.options = op.data();
  p.n_options = no;
  p.collaterals = co.data();
  p.n_collaterals = nc;
  py::array_t<double> pnl(static_cast<py::ssize_t>(q.n_scenarios));
  models::DeriveMargin r;
  raise_status(models::derive_pm_margin(p, q, pnl.mutable_data(), &r), "portfolio");
  py::dict out;
  out["initial_margin"] = r.initial_margin;
  out["maintenance_margin"] = r.maintenance_margin;
  out["mark_to_market"] = r.mark_to_market;
  out["option_value"] = r.option_value;
  out["collateral_value"] = r.collateral_value;
  out["worst_loss"] = r.worst_loss;
  out["basis_contingency"] = r.basis_contingency;
  out["mm_contingency"] = r.mm_contingency;
  out["im_contingency"] = r.im_contingency;
  out["im_factor"] = r.im_factor;
  out["worst"] = r.worst;
  out["scenario_pnl"] = pnl;
  return out;
}

// Derive PM of every account of one market (pymargin/kernel/batch_margin.hpp: batch_derive):
// params and scenarios as derive_pm_margin's; market [5]: spot, spot_confidence, stable_price,
// perp_price, perp_confidence; the expiries as columns; instruments: perp (uint8), expiry
// (int32), strike, vol, call (uint8); accounts as CSR with their collateral (cash).
py::dict batch_derive(const py::array& params, const py::array& spot_shock, const py::array& vol,
                      const py::array& dampening, const py::array& market, const py::array& seconds,
                      const py::array& forward_fixed, const py::array& forward_variable,
                      const py::array& rate, const py::array& confidence, const py::array& perp,
                      const py::array& expiry, const py::array& strike, const py::array& option_vol,
                      const py::array& call, const py::array& offsets, const py::array& instrument,
                      const py::array& amount, const py::array& collateral, int threads) {
  std::vector<models::DeriveScenario> sc;
  const models::DeriveParams q = derive_params(params, spot_shock, vol, dampening, sc);
  const double* mk = contiguous<double>(market, 5, "market");
  std::vector<models::DeriveExpiry> ex =
      derive_expiries(seconds, forward_fixed, forward_variable, rate, confidence);
  const std::size_t ne = ex.size();
  kernel::BatchDeriveMarket m;
  m.params = &q;
  m.expiries = ex.data();
  m.n_expiries = ne;
  m.spot = mk[0];
  m.spot_confidence = mk[1];
  m.stable_price = mk[2];
  m.perp_price = mk[3];
  m.perp_confidence = mk[4];
  const auto n = static_cast<std::size_t>(perp.size());
  kernel::BatchDeriveInstruments in;
  in.n = n;
  in.perp = contiguous<std::uint8_t>(perp, n, "perp");
  in.expiry = contiguous<std::int32_t>(expiry, n, "expiry");
  in.strike = contiguous<double>(strike, n, "strike");
  in.vol = contiguous<double>(option_vol, n, "option_vol");
  in.call = contiguous<std::uint8_t>(call, n, "call");
  return over_accounts(offsets, instrument, amount, collateral,
                       [&](const kernel::BatchAccounts& acc, const kernel::BatchOutputs& out) {
                         return kernel::batch_derive(m, in, acc, out, threads);
                       });
}

// Strategy-based margin (pymargin/models/strategy_margin.hpp) of t strategies: kind (uint8)
// [t], offsets (int64) [t + 1] into the legs' columns quantity, stock, call, otc (uint8),
// strike, price, underlying, multiplier, months [n]; rates [10]: rate, minimum,
// long_fraction, long_months, long_marginable (0/1), stock_initial, stock_maintenance,
// short_stock_maintenance, hedge_fraction, 0. Returns (initial, maintenance, proceeds) [t].
py::tuple strategy_requirements(const py::array& kind, const py::array& offsets,
                                const py::array& quantity, const py::array& stock,
                                const py::array& call, const py::array& otc,
                                const py::array& strike, const py::array& price,
                                const py::array& underlying, const py::array& multiplier,
                                const py::array& months, const py::array& rates, bool strict) {
  const auto t = static_cast<std::size_t>(kind.size());
  const auto* k = contiguous<std::uint8_t>(kind, t, "kind");
  const auto* off = contiguous<std::int64_t>(offsets, t + 1, "offsets");
  const auto n = static_cast<std::size_t>(quantity.size());
  const double* q = contiguous<double>(quantity, n, "quantity");
  const auto* st = contiguous<std::uint8_t>(stock, n, "stock");
  const auto* cl = contiguous<std::uint8_t>(call, n, "call");
  const auto* ot = contiguous<std::uint8_t>(otc, n, "otc");
  const double* kk = contiguous<double>(strike, n, "strike");
  const double* pr = contiguous<double>(price, n, "price");
  const double* un = contiguous<double>(underlying, n, "underlying");
  const double* mu = contiguous<double>(multiplier, n, "multiplier");
  const double* mo = contiguous<double>(months, n, "months");
  const double* ra = contiguous<double>(rates, 10, "rates");
  models::StrategyRates r;
  r.rate = ra[0];
  r.minimum = ra[1];
  r.long_fraction = ra[2];
  r.long_months = ra[3];
  r.long_marginable = ra[4] != 0.0;
  r.stock_initial = ra[5];
  r.stock_maintenance = ra[6];
  r.short_stock_maintenance = ra[7];
  r.hedge_fraction = ra[8];
  std::vector<models::StrategyLeg> legs(n);
  for (std::size_t i = 0; i < n; ++i)
    legs[i] = {q[i], st[i] != 0, cl[i] != 0, ot[i] != 0, kk[i], pr[i], un[i], mu[i], mo[i]};
  for (std::size_t j = 0; j < t; ++j)
    if (off[j] < 0 || off[j + 1] < off[j] || static_cast<std::size_t>(off[j + 1]) > n)
      throw PyInputError{PyInputError::kInvalid, "offsets", static_cast<long long>(j),
                         "must rise within the legs"};
  py::array_t<double> im(static_cast<py::ssize_t>(t)), mm(static_cast<py::ssize_t>(t)),
      pc(static_cast<py::ssize_t>(t));
  py::array_t<std::uint8_t> ok(static_cast<py::ssize_t>(t));
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  for (std::size_t j = 0; j < t; ++j) {
    models::StrategyRequirement out{kNaN, kNaN, kNaN};
    const auto b = static_cast<std::size_t>(off[j]);
    const Status s =
        models::strategy_requirement(static_cast<models::StrategyKind>(k[j]), legs.data() + b,
                                     static_cast<std::size_t>(off[j + 1]) - b, r, &out);
    if (!s.ok() && strict)
      throw PyInputError{PyInputError::kInvalid, s.field, static_cast<long long>(j),
                         std::string("strategy ") + std::to_string(j) + ": " + s.message};
    if (!s.ok()) out = {kNaN, kNaN, kNaN};  // not that strategy: the caller drops it
    im.mutable_at(static_cast<py::ssize_t>(j)) = out.initial;
    mm.mutable_at(static_cast<py::ssize_t>(j)) = out.maintenance;
    pc.mutable_at(static_cast<py::ssize_t>(j)) = out.proceeds;
    ok.mutable_at(static_cast<py::ssize_t>(j)) = s.ok() ? 1 : 0;
  }
  return py::make_tuple(im, mm, pc, ok);
}

// A scanning-based spread (pymargin/models/span.hpp): legs [k x 16] losses positive, the gain
// allowance. Returns (values [16], risk).
py::tuple scanning_spread(const py::array& legs, double gain_allowance) {
  const auto total = static_cast<std::size_t>(legs.size());
  if (total % models::kSpanScenarios != 0)
    throw PyInputError{PyInputError::kInvalid, "legs", -1, "must be [legs x 16]"};
  const double* l = contiguous<double>(legs, total, "legs");
  py::array_t<double> values(static_cast<py::ssize_t>(models::kSpanScenarios));
  double risk = 0.0;
  raise_status(models::scanning_spread(l, total / models::kSpanScenarios, gain_allowance,
                                       values.mutable_data(), &risk),
               "legs");
  return py::make_tuple(values, risk);
}

// SPAN per combined commodity (pymargin/models/span.hpp), ragged inputs flattened: pnl
// [n x 16]; tier_offsets [n + 1] into tier_delta; short_options, short_option_minimum [n];
// intra_offsets [n + 1] into intra_tiers [2 x total] and intra_rates [total]; the spreads as
// columns a, b (int32), ratio_a, ratio_b, rate [m]. Returns the results as arrays.
py::dict span_requirement(const py::array& pnl, const py::array& tier_offsets,
                          const py::array& tier_delta, const py::array& short_options,
                          const py::array& short_option_minimum, const py::array& intra_offsets,
                          const py::array& intra_tiers, const py::array& intra_rates,
                          const py::array& a, const py::array& b, const py::array& ratio_a,
                          const py::array& ratio_b, const py::array& rate) {
  const auto n = static_cast<std::size_t>(short_options.size());
  const double* p = contiguous<double>(pnl, n * models::kSpanScenarios, "pnl");
  const auto* to = contiguous<std::int64_t>(tier_offsets, n + 1, "tier_offsets");
  const auto nt = static_cast<std::size_t>(tier_delta.size());
  const double* td = contiguous<double>(tier_delta, nt, "tier_delta");
  const double* so = contiguous<double>(short_options, n, "short_options");
  const double* som = contiguous<double>(short_option_minimum, n, "short_option_minimum");
  const auto* io = contiguous<std::int64_t>(intra_offsets, n + 1, "intra_offsets");
  const auto ni = static_cast<std::size_t>(intra_rates.size());
  const auto* it = contiguous<std::int32_t>(intra_tiers, 2 * ni, "intra_tiers");
  const double* ir = contiguous<double>(intra_rates, ni, "intra_rates");
  const auto m = static_cast<std::size_t>(rate.size());
  const auto* sa = contiguous<std::int32_t>(a, m, "a");
  const auto* sb = contiguous<std::int32_t>(b, m, "b");
  const double* ra = contiguous<double>(ratio_a, m, "ratio_a");
  const double* rb = contiguous<double>(ratio_b, m, "ratio_b");
  const double* rt = contiguous<double>(rate, m, "rate");
  std::vector<models::SpanCommodity> c(n);
  for (std::size_t k = 0; k < n; ++k) {
    const auto t0 = static_cast<std::size_t>(to[k]);
    const auto t1 = static_cast<std::size_t>(to[k + 1]);
    const auto i0 = static_cast<std::size_t>(io[k]);
    const auto i1 = static_cast<std::size_t>(io[k + 1]);
    if (to[k] < 0 || t1 < t0 || t1 > nt || io[k] < 0 || i1 < i0 || i1 > ni) {
      throw PyInputError{PyInputError::kInvalid, "offsets", static_cast<long long>(k),
                         "out of range"};
    }
    c[k].pnl = p + k * models::kSpanScenarios;
    c[k].tiers = t1 - t0;
    c[k].tier_delta = td + t0;
    c[k].short_options = so[k];
    c[k].short_option_minimum = som[k];
    c[k].intra_pairs = i1 - i0;
    c[k].intra_tiers = it + 2 * i0;
    c[k].intra_rates = ir + i0;
  }
  std::vector<models::SpanInterSpread> sp(m);
  for (std::size_t r = 0; r < m; ++r) sp[r] = {sa[r], sb[r], ra[r], rb[r], rt[r]};
  std::vector<models::SpanRequirement> out(n);
  raise_status(models::span_requirement(c.data(), n, sp.data(), m, out.data()), "underlying");
  const auto nn = static_cast<py::ssize_t>(n);
  py::array_t<double> scan(nn), price(nn), time(nn), intra(nn), inter(nn), minimum(nn), req(nn),
      net(nn);
  py::array_t<std::int32_t> worst(nn);
  for (py::ssize_t k = 0; k < nn; ++k) {
    const models::SpanRequirement& r = out[static_cast<std::size_t>(k)];
    scan.mutable_at(k) = r.scan_risk;
    price.mutable_at(k) = r.price_risk;
    time.mutable_at(k) = r.time_risk;
    intra.mutable_at(k) = r.intra_charge;
    inter.mutable_at(k) = r.inter_credit;
    minimum.mutable_at(k) = r.short_option_minimum;
    req.mutable_at(k) = r.requirement;
    worst.mutable_at(k) = r.worst_scenario;
    net.mutable_at(k) = r.net_delta;
  }
  py::dict d;
  d["scan_risk"] = scan;
  d["price_risk"] = price;
  d["time_risk"] = time;
  d["intra_charge"] = intra;
  d["inter_credit"] = inter;
  d["short_option_minimum"] = minimum;
  d["requirement"] = req;
  d["worst_scenario"] = worst;
  d["net_delta"] = net;
  return d;
}

// The Greek-netting model (pymargin/models/sensitivity_margin.hpp): weighted_delta [U],
// weighted_vega [U x K], tenor_corr [K x K], the correlations, and per underlying the P&L at
// +-RW, the USD delta and RW.
py::dict sensitivity_margin(const py::array& weighted_delta, const py::array& weighted_vega,
                            const py::array& tenor_corr, double delta_corr, double vega_corr,
                            const py::array& pnl_up, const py::array& pnl_down,
                            const py::array& delta_usd, const py::array& risk_weight) {
  if (weighted_vega.ndim() != 2 || tenor_corr.ndim() != 2) {
    throw PyInputError{PyInputError::kType, "weighted_vega", -1, "2-D arrays expected"};
  }
  models::SensitivityInputs in;
  in.underlyings = static_cast<std::size_t>(weighted_delta.size());
  in.buckets = static_cast<std::size_t>(weighted_vega.shape(1));
  const std::size_t U = in.underlyings;
  const std::size_t K = in.buckets;
  in.weighted_delta = contiguous<double>(weighted_delta, U, "weighted_delta");
  in.weighted_vega = contiguous<double>(weighted_vega, U * K, "weighted_vega");
  in.tenor_corr = contiguous<double>(tenor_corr, K * K, "tenor_corr");
  in.delta_corr = delta_corr;
  in.vega_corr = vega_corr;
  in.pnl_up = contiguous<double>(pnl_up, U, "pnl_up");
  in.pnl_down = contiguous<double>(pnl_down, U, "pnl_down");
  in.delta_usd = contiguous<double>(delta_usd, U, "delta_usd");
  in.risk_weight = contiguous<double>(risk_weight, U, "risk_weight");
  models::SensitivityMargin out;
  py::array_t<double> curvature(static_cast<py::ssize_t>(U));
  raise_status(models::sensitivity_margin(in, &out, curvature.mutable_data()), "underlying");
  py::dict d;
  d["delta_margin"] = out.delta_margin;
  d["vega_margin"] = out.vega_margin;
  d["curvature_margin"] = out.curvature_margin;
  d["initial_margin"] = out.initial_margin;
  d["curvature"] = curvature;
  return d;
}

}  // namespace

// Derive PM's parameters (params [34] in the order of DeriveParams) and scenarios (columns
// spot_shock, vol (uint8), dampening), the scenarios kept in `scenarios`.
models::DeriveParams derive_params(const py::array& params, const py::array& spot_shock,
                                   const py::array& vol, const py::array& dampening,
                                   std::vector<models::DeriveScenario>& scenarios) {
  const double* pa = contiguous<double>(params, models::kDeriveParamCount, "params");
  models::DeriveParams q;
  const auto fields = models::derive_param_fields(q);
  for (std::size_t i = 0; i < fields.size(); ++i) *fields[i] = pa[i];
  const auto ns = static_cast<std::size_t>(spot_shock.size());
  const double* sh = contiguous<double>(spot_shock, ns, "spot_shock");
  const auto* vs = contiguous<std::uint8_t>(vol, ns, "vol");
  const double* dm = contiguous<double>(dampening, ns, "dampening");
  std::vector<models::DeriveScenario>& sc = scenarios;
  sc.resize(ns);
  for (std::size_t i = 0; i < ns; ++i) {
    if (vs[i] > 4)
      throw PyInputError{PyInputError::kInvalid, "scenarios.vol", static_cast<long long>(i),
                         "none, up, down, linear or abs"};
    sc[i] = {sh[i], static_cast<models::DeriveVolShock>(vs[i]), dm[i]};
  }
  q.scenarios = sc.data();
  q.n_scenarios = ns;
  return q;
}

void bind_kernel(py::module_& m) {
  m.def("sensitivity_margin", &sensitivity_margin, py::arg("weighted_delta"),
        py::arg("weighted_vega"), py::arg("tenor_corr"), py::arg("delta_corr"),
        py::arg("vega_corr"), py::arg("pnl_up"), py::arg("pnl_down"), py::arg("delta_usd"),
        py::arg("risk_weight"),
        "The Greek-netting margin model (private; see pymargin.models.delta_margin).");
  m.def("span_requirement", &span_requirement, py::arg("pnl"), py::arg("tier_offsets"),
        py::arg("tier_delta"), py::arg("short_options"), py::arg("short_option_minimum"),
        py::arg("intra_offsets"), py::arg("intra_tiers"), py::arg("intra_rates"), py::arg("a"),
        py::arg("b"), py::arg("ratio_a"), py::arg("ratio_b"), py::arg("rate"),
        "SPAN requirement per combined commodity (private; see pymargin.models.span).");
  m.def("derive_pm_margin", &derive_pm_margin, py::arg("params"), py::arg("spot_shock"),
        py::arg("vol"), py::arg("dampening"), py::arg("scalars"), py::arg("seconds"),
        py::arg("forward_fixed"), py::arg("forward_variable"), py::arg("rate"),
        py::arg("confidence"), py::arg("option_offsets"), py::arg("strike"), py::arg("option_vol"),
        py::arg("amount"), py::arg("call"), py::arg("collateral_value"),
        py::arg("collateral_confidence"), py::arg("mm_haircut"), py::arg("im_haircut"),
        py::arg("risk_cancelling"),
        "Derive portfolio margin of one account (private; see pymargin.models.derive_pm).");
  m.def("strategy_requirements", &strategy_requirements, py::arg("kind"), py::arg("offsets"),
        py::arg("quantity"), py::arg("stock"), py::arg("call"), py::arg("otc"), py::arg("strike"),
        py::arg("price"), py::arg("underlying"), py::arg("multiplier"), py::arg("months"),
        py::arg("rates"), py::arg("strict") = true,
        "Strategy-based (Reg T) requirements (private; see pymargin.models.strategy_margin).");
  m.def("scanning_spread", &scanning_spread, py::arg("legs"), py::arg("gain_allowance"),
        "A SPAN scanning-based spread's scenario values and risk (private; see "
        "pymargin.models.span_file).");
  m.def("standard_margin", &standard_margin, py::arg("rule"), py::arg("size"), py::arg("im_base"),
        py::arg("im_per_unit"), py::arg("mm_base"), py::arg("mm_per_unit"), py::arg("price"),
        py::arg("im_otm_base"), py::arg("im_floor"), py::arg("mm"), py::arg("call"),
        py::arg("strike"), py::arg("index"), py::arg("mark"), py::arg("extra") = py::none(),
        "Standard margin per position (private; see pymargin.models).");
  m.def("scenario_margin", &scenario_margin, py::arg("rules"), py::arg("pnl"), py::arg("weight"),
        py::arg("damp"), py::arg("cap"), py::arg("net_delta"), py::arg("gross_delta"),
        py::arg("delta_price"), py::arg("floor"), py::arg("pnl_offset"), py::arg("unhedged_delta"),
        py::arg("hedged_delta"), py::arg("set"), py::arg("sets"), py::arg("roll_k"),
        py::arg("expiry_delta"), py::arg("im_addon"), py::arg("mm_addon"),
        "The scenario-margin model over margin groups (private; see pymargin.models).");
  m.def("scaled_vectors", &scaled_vectors, py::arg("risk"), py::arg("index"), py::arg("size"),
        py::arg("inverse"), py::arg("scale"), py::arg("edge"), py::arg("n_std"), py::arg("out"),
        py::arg("vectors") = py::none());
  m.def("aggregate", &aggregate, py::arg("risk"), py::arg("index"), py::arg("size"), py::arg("out"),
        "Scenario P&L of a position set over cached risk arrays (private).");
  m.def("revalue", &revalue, py::arg("kind"), py::arg("settlement"), py::arg("is_call"),
        py::arg("underlying"), py::arg("strike"), py::arg("forward"), py::arg("vol"),
        py::arg("time"), py::arg("rate"), py::arg("move"), py::arg("vol_state"),
        py::arg("vol_rules"), py::arg("n_underlyings"), py::arg("out"), py::arg("threads"),
        py::arg("vol_scale") = py::none(),
        "Risk arrays: P&L per unit position, instrument x scenario (private; see "
        "pymargin.risk.revaluation).");
  m.def("batch_margin", &batch_margin, py::arg("risk"), py::arg("pair"), py::arg("expiry"),
        py::arg("delta"), py::arg("value"), py::arg("offsets"), py::arg("instrument"),
        py::arg("amount"), py::arg("collateral"), py::arg("n_std"), py::arg("pairs"),
        py::arg("expiries"), py::arg("pnl_offset"), py::arg("cap"), py::arg("damp"),
        py::arg("roll_k"), py::arg("mm_factor"), py::arg("delta_limit"), py::arg("threads"),
        py::arg("venue") = py::dict(),
        "Every account's margin under a grid model from cached risk rows (private; see "
        "pymargin.accounts.batch).");
  m.def("batch_derive", &batch_derive, py::arg("params"), py::arg("spot_shock"), py::arg("vol"),
        py::arg("dampening"), py::arg("market"), py::arg("seconds"), py::arg("forward_fixed"),
        py::arg("forward_variable"), py::arg("rate"), py::arg("confidence"), py::arg("perp"),
        py::arg("expiry"), py::arg("strike"), py::arg("option_vol"), py::arg("call"),
        py::arg("offsets"), py::arg("instrument"), py::arg("amount"), py::arg("collateral"),
        py::arg("threads"),
        "Derive PM of every account of one market (private; see pymargin.accounts.batch).");
  m.def("batch_standard", &batch_standard, py::arg("terms"), py::arg("value"), py::arg("offsets"),
        py::arg("instrument"), py::arg("amount"), py::arg("collateral"), py::arg("threads"),
        "Every account's Deribit standard margin (private; see pymargin.accounts.batch).");
  m.def("batch_sensitivity", &batch_sensitivity, py::arg("underlying"), py::arg("bucket"),
        py::arg("delta_usd"), py::arg("weighted_vega"), py::arg("pnl_up"), py::arg("pnl_down"),
        py::arg("value"), py::arg("offsets"), py::arg("instrument"), py::arg("amount"),
        py::arg("collateral"), py::arg("tenor_corr"), py::arg("delta_corr"), py::arg("vega_corr"),
        py::arg("delta_rw"), py::arg("threads"),
        "Every account's Greek-netting margin (private; see pymargin.accounts.batch).");
  m.def("batch_span", &batch_span, py::arg("risk"), py::arg("commodity"), py::arg("tier"),
        py::arg("delta"), py::arg("option"), py::arg("value"), py::arg("offsets"),
        py::arg("instrument"), py::arg("amount"), py::arg("collateral"), py::arg("commodities"),
        py::arg("spread_legs"), py::arg("spread_terms"), py::arg("threads"),
        "Every account's SPAN requirement from cached risk rows (private; see "
        "pymargin.accounts.batch).");
}

}  // namespace pymargin::bindings
