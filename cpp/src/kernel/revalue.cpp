#include "pymargin/kernel/revalue.hpp"

#include <algorithm>
#include <cmath>
#include <string_view>
#include <thread>
#include <vector>

#include "../pricing/batch_internal.hpp"
#include "../pricing/normal_internal.hpp"
#include "pymargin/pricing/black.hpp"

namespace pymargin::kernel {

namespace {

constexpr double kDaysPerYear = 365.0;

// Revalues instruments [begin, end). Options: every (option, scenario) cell is a normalised
// Black value b(x', s') with x' = ln(F/K) + ln(1 + m) (ln(1 + m) once per scenario) and s' one
// of the option's three shocked total vols; cells are evaluated a block at a time by the
// vector kernels (direct formula, series for the cancelling rows, scalar for the rest), so
// no logarithm or exponential is repeated per cell beyond those of the normalised function.
// `work` holds kBlock-sized buffers for this range (see kWorkDoubles).
constexpr std::size_t kCellCols = 6;  // x_abs, s, b, vega, value scale, intrinsic
constexpr std::size_t kWorkDoubles = kCellCols * pricing::detail::kBlock;

// Per scenario and underlying: ln(1 + m), sqrt(1 + m) and 1/(1 + m).
struct MoveTerms {
  const double* log1p;
  const double* sqrt1p;
  const double* inv1p;
};

void revalue_range(const InstrumentView& inst, const scenarios::ScenarioView& scen,
                   const MoveTerms& mt, double* risk, std::size_t begin, std::size_t end,
                   double* work) noexcept {
  constexpr std::size_t kB = pricing::detail::kBlock;
  const std::size_t ns = scen.n;
  double* xa = work;
  double* sv = work + kB;
  double* bv = work + 2 * kB;
  double* vg = work + 3 * kB;
  double* scale = work + 4 * kB;
  double* intr = work + 5 * kB;
  std::size_t cell_row[kB];
  std::size_t cell_col[kB];
  std::size_t filled = 0;
  auto flush = [&]() noexcept {
    if (filled == 0) return;
    pricing::detail::normalised_block(filled, xa, sv, bv, vg);
    for (std::size_t c = 0; c < filled; ++c) {
      const std::size_t i = cell_row[c];
      risk[i * ns + cell_col[c]] += scale[c] * bv[c] + intr[c];
    }
    filled = 0;
  };
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
    const double k = inst.strike[i];
    const double t = inst.time[i];
    const double th = inst.is_call[i] ? 1.0 : -1.0;
    const auto type = inst.is_call[i] ? pricing::OptionType::kCall : pricing::OptionType::kPut;
    const double df = std::exp(-inst.rate[i] * t);
    const double sqrt_t = std::sqrt(t);
    const double dte = t * kDaysPerYear;
    const scenarios::VolShockRule& rule = scen.rules[u];
    double s_state[3];
    for (int vs = -1; vs <= 1; ++vs) {
      s_state[vs + 1] = scenarios::shocked_vol(rule, inst.vol[i], dte, vs) * sqrt_t;
    }
    const double root_fk = std::sqrt(f) * std::sqrt(k);
    const double inv_f = 1.0 / f;
    const double x0 = pricing::detail::log_moneyness(f, k);
    const double v0 = inverse ? pricing::inverse_price(f, k, t, inst.vol[i], inst.rate[i], type)
                              : pricing::black76_price(f, k, t, inst.vol[i], inst.rate[i], type);
    for (std::size_t j = 0; j < ns; ++j) {
      const std::size_t c = j * scen.m + u;
      const double fj = f * (1.0 + scen.move[c]);
      const double x = x0 + mt.log1p[c];
      const double fwd_value = th * (fj - k);
      const double intrinsic = df * (fwd_value > 0.0 ? fwd_value : 0.0);
      // Inverse: value / F' with 1/F' = (1/F) (1/(1 + m)); sqrt(F' K) = sqrt(F K) sqrt(1 + m).
      const double unit = inverse ? inv_f * mt.inv1p[c] : 1.0;
      xa[filled] = std::fabs(x);
      sv[filled] = s_state[scen.vol_state[j] + 1];
      scale[filled] = df * root_fk * mt.sqrt1p[c] * unit;
      intr[filled] = intrinsic * unit;
      cell_row[filled] = i;
      cell_col[filled] = j;
      row[j] = -v0;  // the cell adds the scenario value
      if (++filled == kB) flush();
    }
  }
  flush();
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
  const std::size_t per_thread = kWorkDoubles;
  std::vector<double> work;
  std::vector<double> terms;
  const std::size_t cells = scen.n * scen.m;
  try {
    work.resize(nthreads * per_thread);
    terms.resize(3 * cells);
  } catch (...) {
    return Status::bad_argument("scenarios", "not enough memory for the work buffers");
  }
  for (std::size_t c = 0; c < cells; ++c) {
    terms[c] = std::log1p(scen.move[c]);
    terms[cells + c] = std::sqrt(1.0 + scen.move[c]);
    terms[2 * cells + c] = 1.0 / (1.0 + scen.move[c]);
  }
  const MoveTerms mt{terms.data(), terms.data() + cells, terms.data() + 2 * cells};
  const MoveTerms* lm = &mt;
  if (nthreads <= 1) {
    revalue_range(inst, scen, *lm, risk, 0, inst.n, work.data());
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
      pool.emplace_back([&inst, &scen, lm, risk, b, e, buf] {
        revalue_range(inst, scen, *lm, risk, b, e, buf);
      });
      handed = e;
    }
  } catch (...) {
    // could not start a thread: the rest runs here
  }
  revalue_range(inst, scen, *lm, risk, handed, inst.n,
                work.data() + (nthreads - 1) * per_thread);
  for (auto& t : pool) t.join();
  return st;
}

}  // namespace pymargin::kernel
