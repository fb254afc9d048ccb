#include "pymargin/kernel/revalue.hpp"

#include <algorithm>
#include <cmath>
#include <string_view>
#include <thread>
#include <vector>

#include "pymargin/pricing/batch.hpp"

namespace pymargin::kernel {

namespace {

constexpr double kDaysPerYear = 365.0;

pricing::Model option_model(std::uint8_t settlement) noexcept {
  return settlement == static_cast<std::uint8_t>(Settlement::kInverse) ? pricing::Model::kInverse
                                                                        : pricing::Model::kBlack76;
}

// Revalues instruments [begin, end). Options go through the batch pricer one instrument at a
// time (its scenarios are the rows: vector kernels, tail-exact). `work` holds 3 (ns + 1)
// doubles for this range.
void revalue_range(const InstrumentView& inst, const scenarios::ScenarioView& scen, double* risk,
                   std::size_t begin, std::size_t end, double* work) noexcept {
  const std::size_t ns = scen.n;
  double* fwd = work;
  double* vol = work + (ns + 1);
  double* price = work + 2 * (ns + 1);
  for (std::size_t i = begin; i < end; ++i) {
    const auto kind = static_cast<Kind>(inst.kind[i]);
    const bool inverse = inst.settlement[i] == static_cast<std::uint8_t>(Settlement::kInverse);
    const std::size_t u = static_cast<std::size_t>(inst.underlying[i]);
    const double f = inst.forward[i];
    double* row = risk + i * ns;
    if (kind != Kind::kOption) {
      for (std::size_t j = 0; j < ns; ++j) {
        const double m = scen.move[j * scen.m + u];
        if (kind == Kind::kSpot && inverse) {
          row[j] = 0.0;
        } else {
          row[j] = inverse ? m / (1.0 + m) : f * m;
        }
      }
      continue;
    }
    const double t = inst.time[i];
    const double dte = t * kDaysPerYear;
    const scenarios::VolShockRule& rule = scen.rules[u];
    // Row 0: the current state; rows 1..ns: the scenarios.
    fwd[0] = f;
    vol[0] = inst.vol[i];
    for (std::size_t j = 0; j < ns; ++j) {
      fwd[j + 1] = f * (1.0 + scen.move[j * scen.m + u]);
      vol[j + 1] = scenarios::shocked_vol(rule, inst.vol[i], dte, scen.vol_state[j]);
    }
    pricing::BatchInputs in;
    in.model = option_model(inst.settlement[i]);
    in.n = ns + 1;
    in.underlying = {fwd, 1};
    in.strike = {inst.strike + i, 0};
    in.time = {inst.time + i, 0};
    in.vol = {vol, 1};
    in.rate = {inst.rate + i, 0};
    in.is_call = {inst.is_call + i, 0};
    pricing::BatchOutputs out;
    out.price = price;
    pricing::price_batch(in, out, 1);  // inputs were checked by revalue()
    for (std::size_t j = 0; j < ns; ++j) row[j] = price[j + 1] - price[0];
  }
}

}  // namespace

Status validate(const InstrumentView& inst, std::size_t n_underlyings) noexcept {
  if (inst.n == 0) return Status::success();
  if (!inst.kind || !inst.settlement || !inst.underlying || !inst.forward) {
    return Status::bad_argument("instruments", "missing kind, settlement, underlying or forward");
  }
  for (std::size_t i = 0; i < inst.n; ++i) {
    if (inst.kind[i] > static_cast<std::uint8_t>(Kind::kOption)) {
      return Status::invalid("kind", i, "unknown instrument kind");
    }
    if (inst.settlement[i] > static_cast<std::uint8_t>(Settlement::kInverse)) {
      return Status::invalid("settlement", i, "unknown settlement");
    }
    if (inst.underlying[i] < 0 || static_cast<std::size_t>(inst.underlying[i]) >= n_underlyings) {
      return Status::invalid("underlying", i, "no such underlying in the scenario set");
    }
    if (!std::isfinite(inst.forward[i]) || !(inst.forward[i] > 0.0)) {
      return Status::invalid("forward", i, "must be finite and > 0");
    }
    if (inst.kind[i] == static_cast<std::uint8_t>(Kind::kOption)) {
      if (!inst.strike || !inst.vol || !inst.time || !inst.rate || !inst.is_call) {
        return Status::bad_argument("instruments", "options need strike, vol, time, rate, is_call");
      }
      Status st = pricing::validate_black_inputs(inst.forward[i], inst.strike[i], inst.time[i],
                                                 inst.vol[i], inst.rate[i], 0.0, i);
      if (!st.ok()) {
        if (st.field == std::string_view("underlying")) st.field = "forward";
        return st;
      }
      if (inst.is_call[i] > 1) return Status::invalid("is_call", i, "must be 0 or 1");
    }
  }
  return Status::success();
}

Status current_values(const InstrumentView& inst, double* values) noexcept {
  Status st = validate(inst, ~std::size_t{0});
  if (!st.ok()) return st;
  for (std::size_t i = 0; i < inst.n; ++i) {
    if (inst.kind[i] != static_cast<std::uint8_t>(Kind::kOption)) {
      values[i] = inst.kind[i] == static_cast<std::uint8_t>(Kind::kSpot) &&
                          inst.settlement[i] == static_cast<std::uint8_t>(Settlement::kLinear)
                      ? inst.forward[i]
                      : 0.0;
      continue;
    }
    const auto type = inst.is_call[i] ? pricing::OptionType::kCall : pricing::OptionType::kPut;
    values[i] = inst.settlement[i] == static_cast<std::uint8_t>(Settlement::kInverse)
                    ? pricing::inverse_price(inst.forward[i], inst.strike[i], inst.time[i],
                                             inst.vol[i], inst.rate[i], type)
                    : pricing::black76_price(inst.forward[i], inst.strike[i], inst.time[i],
                                             inst.vol[i], inst.rate[i], type);
  }
  return Status::success();
}

Status revalue(const InstrumentView& inst, const scenarios::ScenarioView& scen, double* risk,
               int threads) noexcept {
  Status st = scenarios::validate(scen);
  if (!st.ok()) return st;
  st = validate(inst, scen.m);
  if (!st.ok()) return st;
  if (inst.n == 0 || scen.n == 0) return st;
  if (risk == nullptr) return Status::bad_argument("risk", "missing output");
  std::size_t nthreads = threads > 0 ? static_cast<std::size_t>(threads)
                                     : std::max(1u, std::thread::hardware_concurrency());
  nthreads = std::min(nthreads, std::max<std::size_t>(1, inst.n / 64));
  const std::size_t per_thread = 3 * (scen.n + 1);
  std::vector<double> work;
  try {
    work.resize(nthreads * per_thread);
  } catch (...) {
    return Status::bad_argument("scenarios", "not enough memory for the work buffers");
  }
  if (nthreads <= 1) {
    revalue_range(inst, scen, risk, 0, inst.n, work.data());
    return st;
  }
  std::vector<std::thread> pool;
  const std::size_t chunk = (inst.n + nthreads - 1) / nthreads;
  std::size_t handed = 0;
  try {
    pool.reserve(nthreads - 1);
    for (std::size_t w = 0; w + 1 < nthreads; ++w) {
      const std::size_t b = w * chunk;
      const std::size_t e = std::min(inst.n, b + chunk);
      double* buf = work.data() + w * per_thread;
      pool.emplace_back([&inst, &scen, risk, b, e, buf] {
        revalue_range(inst, scen, risk, b, e, buf);
      });
      handed = e;
    }
  } catch (...) {
    // could not start a thread: the rest runs here
  }
  revalue_range(inst, scen, risk, handed, inst.n, work.data() + (nthreads - 1) * per_thread);
  for (auto& t : pool) t.join();
  return st;
}

}  // namespace pymargin::kernel
