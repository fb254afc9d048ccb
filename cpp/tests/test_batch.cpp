// SPDX-License-Identifier: Apache-2.0
// The batch API: every compiled vector kernel agrees with the scalar tail-exact functions to
// 1e-13 relative; validation happens before any write; broadcasting and threads.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <cstdint>
#include <limits>
#include <random>
#include <thread>
#include <vector>

#include "batch_internal.hpp"
#include "pymargin/pricing/batch.hpp"
#include "pymargin/pricing/implied_vol.hpp"

namespace pm = pymargin::pricing;
namespace det = pymargin::pricing::detail;

namespace {

struct Data {
  std::vector<double> u, k, t, v, r, q, call;
  std::vector<std::uint8_t> is_call;
};

Data make_data(std::size_t n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> lm(-3.0, 3.0), lt(-4.0, 1.0), vol(0.0, 2.0),
      rate(-0.02, 0.1), unit(0.0, 1.0);
  Data d;
  for (std::size_t i = 0; i < n; ++i) {
    d.u.push_back(100.0);
    d.k.push_back(100.0 * std::exp(lm(rng) * unit(rng)));
    // Include exact zeros of time and vol now and then.
    d.t.push_back(i % 97 == 0 ? 0.0 : std::pow(10.0, lt(rng)));
    d.v.push_back(i % 89 == 0 ? 0.0 : vol(rng));
    d.r.push_back(rate(rng));
    d.q.push_back(rate(rng));
    d.is_call.push_back(static_cast<std::uint8_t>(i % 2));
    d.call.push_back(i % 2 ? 1.0 : -1.0);
  }
  return d;
}

// The batch inputs over all columns of d (stride 1), model m.
pm::BatchInputs inputs_of(const Data& d, std::size_t n, pm::Model m) {
  pm::BatchInputs in;
  in.model = m;
  in.n = n;
  in.underlying = {d.u.data(), 1};
  in.strike = {d.k.data(), 1};
  in.time = {d.t.data(), 1};
  in.vol = {d.v.data(), 1};
  in.rate = {d.r.data(), 1};
  in.carry = {d.q.data(), 1};
  in.is_call = {d.is_call.data(), 1};
  return in;
}

// A kernel block's nine outputs and flag at out[0..9] (price, the eight Greeks, flag), from
// element `offset`.
void point_outputs(det::KernelBlock& b, std::vector<double>* out, std::size_t offset = 0) {
  double** dst[10] = {&b.price, &b.delta, &b.delta_forward, &b.gamma, &b.vega,
                      &b.theta, &b.rho,   &b.vanna,         &b.volga, &b.flag};
  for (int o = 0; o < 10; ++o) *dst[o] = out[o].data() + offset;
}

pm::Greeks scalar(pm::Model m, const Data& d, std::size_t i) {
  const auto type = d.is_call[i] ? pm::OptionType::kCall : pm::OptionType::kPut;
  switch (m) {
    case pm::Model::kBsm:
      return pm::bsm_greeks(d.u[i], d.k[i], d.t[i], d.v[i], d.r[i], d.q[i], type);
    case pm::Model::kInverse:
      return pm::inverse_greeks(d.u[i], d.k[i], d.t[i], d.v[i], d.r[i], type);
    default:
      return pm::black76_greeks(d.u[i], d.k[i], d.t[i], d.v[i], d.r[i], type);
  }
}

// Condition number of a price in its inputs: |d ln V / d ln s| ~ h^2 and |d ln V / d ln F| ~
// |h|/s, h = ln(F/K)/s, s = vol sqrt T. Two correct evaluations whose libm log or exp (of the
// forward, or of ln F/K) differ by one ulp differ by ~eps times this; for far-wing rows it
// exceeds the 1e-13 agreement required everywhere else.
double price_tolerance(const Data& d, std::size_t i) {
  const double s = d.v[i] * std::sqrt(d.t[i]);
  if (!(s > 0.0)) return 1e-13;
  const double h = std::log(d.u[i] / d.k[i]) / s;
  const double kappa = 1.0 + h * h + std::fabs(h) / s;
  return std::max(1e-13, 4.0 * std::numeric_limits<double>::epsilon() * kappa);
}

double rel(double a, double b, double floor) {
  if (a == b) return 0.0;
  return std::fabs(a - b) / std::max(std::fabs(b), floor);
}

std::vector<det::KernelSet> all_kernel_sets() {
  std::vector<det::KernelSet> sets{det::kernels_scalar()};
#if PYMARGIN_HAVE_X86_KERNELS
  __builtin_cpu_init();
  sets.push_back(det::kernels_sse2());
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    sets.push_back(det::kernels_avx2());
  }
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw")) {
    sets.push_back(det::kernels_avx512());
  }
#endif
  return sets;
}

}  // namespace

// Rows a kernel does not flag must agree with the scalar exact path to 1e-13 (price relative;
// Greeks relative to their own size or to the price scale).
TEST(Batch, EveryKernelMatchesTheExactPathWhereItApplies) {
  const std::size_t n = det::kBlock;
  for (const auto& ks : all_kernel_sets()) {
    for (pm::Model m : {pm::Model::kBlack76, pm::Model::kBsm, pm::Model::kInverse}) {
      for (int pass = 0; pass < 2; ++pass) {  // 0: direct kernels, 1: series kernels
        std::size_t fast_rows = 0;
        for (unsigned seed = 1; seed <= 40; ++seed) {
          Data d = make_data(n, seed);
          std::vector<double> out[10];
          for (auto& o : out) o.assign(n, 0.0);
          det::KernelBlock b;
          b.n = n;
          b.model = static_cast<int>(m);
          b.underlying = d.u.data();
          b.strike = d.k.data();
          b.time = d.t.data();
          b.vol = d.v.data();
          b.rate = d.r.data();
          b.carry = d.q.data();
          b.call = d.call.data();
          point_outputs(b, out);
          const bool series = pass == 1;
          (series ? ks.series_greeks : ks.greeks)(b);
          // The first-order kernel: the same bits for what it writes, rho, vanna and volga
          // left as they were.
          std::vector<double> first[10];
          for (auto& o : first) o.assign(n, -7.0);
          det::KernelBlock f1 = b;
          f1.price = first[0].data();
          f1.delta = first[1].data();
          f1.delta_forward = first[2].data();
          f1.gamma = first[3].data();
          f1.vega = first[4].data();
          f1.theta = first[5].data();
          f1.rho = first[6].data();
          f1.vanna = first[7].data();
          f1.volga = first[8].data();
          f1.flag = first[9].data();
          (series ? ks.series_first : ks.first)(f1);
          for (int o : {0, 1, 2, 3, 4, 5, 9}) {  // bitwise (a flagged row may hold NaN)
            ASSERT_EQ(std::memcmp(first[o].data(), out[o].data(), n * sizeof(double)), 0)
                << ks.name << " output " << o;
          }
          for (int o : {6, 7, 8}) ASSERT_EQ(first[o], std::vector<double>(n, -7.0)) << ks.name;
          std::vector<double> price_only(n), flag2(n);
          b.price = price_only.data();
          b.flag = flag2.data();
          (series ? ks.series_price : ks.price)(b);
          for (std::size_t i = 0; i < n; ++i) {
            ASSERT_EQ(out[9][i], flag2[i]);
            if (out[9][i] != 0.0) continue;
            ++fast_rows;
            const pm::Greeks g = scalar(m, d, i);
            const double scale = m == pm::Model::kInverse ? 1.0 : 100.0;
            const std::string where = std::string(ks.name) + (pass ? " series" : " direct") +
                                      " model " + std::to_string(static_cast<int>(m)) + " row " +
                                      std::to_string(i) + " seed " + std::to_string(seed);
            const double tol1 = price_tolerance(d, i);       // prices, first-order Greeks
            const double tol2 = std::max(1e-11, 10 * tol1);  // second-order Greeks
            ASSERT_LE(rel(out[0][i], g.price, 0.0), tol1) << where;
            ASSERT_EQ(price_only[i], out[0][i]) << where;
            ASSERT_LE(rel(out[1][i], g.delta, 1.0), tol1) << where;
            ASSERT_LE(rel(out[2][i], g.delta_forward, 1.0), tol1) << where;
            ASSERT_LE(rel(out[3][i], g.gamma, 1e-9), tol2) << where;
            ASSERT_LE(rel(out[4][i], g.vega, 1e-6 * scale), tol1) << where;
            ASSERT_LE(rel(out[5][i], g.theta, 1e-6 * scale), tol2) << where;
            ASSERT_LE(rel(out[6][i], g.rho, 1e-6 * scale), tol1) << where;
            ASSERT_LE(rel(out[7][i], g.vanna, 1e-6), tol2) << where;
            ASSERT_LE(rel(out[8][i], g.volga, 1e-6 * scale), tol2) << where;
          }
        }
        EXPECT_GT(fast_rows, 1000u) << ks.name;  // each kernel does carry many rows
      }
    }
  }
}

TEST(Batch, DriverMatchesScalarEverywhereIncludingFlaggedRows) {
  const std::size_t n = 10007;
  Data d = make_data(n, 99);
  for (pm::Model m : {pm::Model::kBlack76, pm::Model::kBsm, pm::Model::kInverse}) {
    const pm::BatchInputs in = inputs_of(d, n, m);
    std::vector<double> price(n), delta(n), vega(n);
    pm::BatchOutputs out;
    out.price = price.data();
    out.delta = delta.data();
    out.vega = vega.data();
    ASSERT_TRUE(pm::price_batch(in, out, 1).ok());
    for (std::size_t i = 0; i < n; ++i) {
      const pm::Greeks g = scalar(m, d, i);
      ASSERT_LE(rel(price[i], g.price, 0.0), price_tolerance(d, i)) << i;
      ASSERT_LE(rel(delta[i], g.delta, 1.0), 1e-13) << i;
    }
    // Threads split the rows; the result is bitwise the same.
    std::vector<double> price2(n);
    pm::BatchOutputs out2;
    out2.price = price2.data();
    ASSERT_TRUE(pm::price_batch(in, out2, 4).ok());
    for (std::size_t i = 0; i < n; ++i) {
      ASSERT_EQ(price2[i], price[i]) << i;
    }
  }
}

TEST(Batch, BroadcastsStrideZeroColumns) {
  const std::vector<double> strikes{80, 90, 100, 110, 120};
  const double f = 100, t = 0.5, v = 0.3, r = 0.01;
  const std::uint8_t call = 1;
  pm::BatchInputs in;
  in.n = strikes.size();
  in.underlying = {&f, 0};
  in.strike = {strikes.data(), 1};
  in.time = {&t, 0};
  in.vol = {&v, 0};
  in.rate = {&r, 0};
  in.is_call = {&call, 0};
  std::vector<double> price(in.n);
  pm::BatchOutputs out;
  out.price = price.data();
  ASSERT_TRUE(pm::price_batch(in, out, 0).ok());
  for (std::size_t i = 0; i < in.n; ++i) {
    const double want = pm::black76_price(f, strikes[i], t, v, r, pm::OptionType::kCall);
    EXPECT_NEAR(price[i] / want, 1.0, 1e-13);
  }
}

TEST(Batch, BadInputNamesFieldAndRowAndWritesNothing) {
  Data d = make_data(100, 3);
  d.v[42] = std::numeric_limits<double>::quiet_NaN();
  d.k[70] = -1.0;
  pm::BatchInputs in;
  in.n = 100;
  in.underlying = {d.u.data(), 1};
  in.strike = {d.k.data(), 1};
  in.time = {d.t.data(), 1};
  in.vol = {d.v.data(), 1};
  in.rate = {d.r.data(), 1};
  in.is_call = {d.is_call.data(), 1};
  std::vector<double> price(100, -7.0);
  pm::BatchOutputs out;
  out.price = price.data();
  pymargin::Status st = pm::price_batch(in, out, 1);
  EXPECT_EQ(st.code, pymargin::StatusCode::kInvalidInput);
  EXPECT_STREQ(st.field, "vol");
  EXPECT_EQ(st.index, 42u);
  for (double p : price) ASSERT_EQ(p, -7.0);
  d.v[42] = 0.2;
  st = pm::price_batch(in, out, 1);
  EXPECT_STREQ(st.field, "strike");
  EXPECT_EQ(st.index, 70u);
  std::uint8_t bad_type = 2;
  d.k[70] = 100.0;
  in.is_call = {&bad_type, 0};
  st = pm::price_batch(in, out, 1);
  EXPECT_STREQ(st.field, "option_type");
}

TEST(Batch, ImpliedVolBatchRoundTripsAndRejectsBeforeWriting) {
  const std::size_t n = 5000;
  Data d = make_data(n, 11);
  for (std::size_t i = 0; i < n; ++i) {
    if (d.t[i] == 0.0) d.t[i] = 0.1;
    if (d.v[i] < 0.01) d.v[i] = 0.3;
  }
  pm::BatchInputs in = inputs_of(d, n, pm::Model::kInverse);
  std::vector<double> price(n), vol(n, -1.0);
  pm::BatchOutputs out;
  out.price = price.data();
  ASSERT_TRUE(pm::price_batch(in, out, 0).ok());
  {
    const pymargin::Status st = pm::implied_vol_batch(in, {price.data(), 1}, vol.data(), 0);
    ASSERT_TRUE(st.ok()) << st.field << "[" << st.index << "]: " << st.message;
  }
  std::size_t checked = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const auto type = d.is_call[i] ? pm::OptionType::kCall : pm::OptionType::kPut;
    // Skip rows whose time value is lost next to the intrinsic value.
    const double f = d.u[i];
    const double intrinsic = std::max((d.is_call[i] ? 1.0 : -1.0) * (f - d.k[i]), 0.0);
    const double tv = price[i] * f * std::exp(d.r[i] * d.t[i]) - intrinsic;
    const double vega = pm::black76_greeks(f, d.k[i], d.t[i], d.v[i], 0.0, type).vega;
    if (!(tv > 1e-200)) continue;
    ++checked;
    // The vol is only determined to eps times the price / (vega vol) condition number.
    const double cond = price[i] * f / (vega * d.v[i]);
    ASSERT_NEAR(vol[i] / d.v[i], 1.0, 1e-12 + 16 * 2.2e-16 * cond) << i;
  }
  EXPECT_GT(checked, n / 2);
  price[17] = 2.0;  // above the coin price cap of 1 for an inverse call or put
  std::vector<double> vol2(n, -1.0);
  pymargin::Status st = pm::implied_vol_batch(in, {price.data(), 1}, vol2.data(), 0);
  EXPECT_EQ(st.code, pymargin::StatusCode::kNoSolution);
  EXPECT_EQ(st.index, 17u);
  for (double v : vol2) ASSERT_EQ(v, -1.0);
}

// A row's result is a function of that row alone: pricing a shifted sub-range (different
// block and vector-lane positions, different neighbours in the compacted series pass) gives
// bitwise the same numbers. Prices and implied vols.
TEST(Batch, ResultsDoNotDependOnRowPosition) {
  const std::size_t n = 3000;
  Data d = make_data(n, 5);
  for (std::size_t i = 0; i < n; ++i) {
    if (d.t[i] == 0.0) d.t[i] = 0.25;
    if (d.v[i] < 0.01) d.v[i] = 0.4;
  }
  auto run = [&](std::size_t first, std::vector<double>* price, std::vector<double>* iv) {
    pm::BatchInputs in;
    in.model = pm::Model::kInverse;
    in.n = n - first;
    in.underlying = {d.u.data() + first, 1};
    in.strike = {d.k.data() + first, 1};
    in.time = {d.t.data() + first, 1};
    in.vol = {d.v.data() + first, 1};
    in.rate = {d.r.data() + first, 1};
    in.is_call = {d.is_call.data() + first, 1};
    price->assign(in.n, 0.0);
    iv->assign(in.n, 0.0);
    pm::BatchOutputs out;
    out.price = price->data();
    ASSERT_TRUE(pm::price_batch(in, out, 1).ok());
    ASSERT_TRUE(pm::implied_vol_batch(in, {price->data(), 1}, iv->data(), 1).ok());
  };
  std::vector<double> p0, v0, p1, v1;
  run(0, &p0, &v0);
  for (std::size_t shift : {1u, 3u, 7u, 250u}) {
    run(shift, &p1, &v1);
    for (std::size_t i = 0; i + shift < n; ++i) {
      ASSERT_EQ(p1[i], p0[i + shift]) << "row " << i + shift << " shift " << shift;
      ASSERT_EQ(v1[i], v0[i + shift]) << "row " << i + shift << " shift " << shift;
    }
  }
}

// With outputs_are_scratch the inputs are checked block by block during the computation; the
// reported error must still be the first bad row of the whole batch, whatever the threads.
TEST(Batch, ScratchModeReportsTheFirstBadRow) {
  const std::size_t n = 100000;
  Data d = make_data(n, 8);
  d.t[90001] = -1.0;                                     // in the second thread's half
  d.u[61234] = std::numeric_limits<double>::infinity();  // in the second half too, earlier
  d.k[70000] = 0.0;
  pm::BatchInputs in;
  in.n = n;
  in.underlying = {d.u.data(), 1};
  in.strike = {d.k.data(), 1};
  in.time = {d.t.data(), 1};
  in.vol = {d.v.data(), 1};
  in.rate = {d.r.data(), 1};
  in.is_call = {d.is_call.data(), 1};
  std::vector<double> price(n);
  pm::BatchOutputs out;
  out.price = price.data();
  for (int threads : {1, 2, 4}) {
    for (bool scratch : {false, true}) {
      const pymargin::Status st = pm::price_batch(in, out, threads, scratch);
      EXPECT_EQ(st.code, pymargin::StatusCode::kInvalidInput);
      EXPECT_STREQ(st.field, "underlying");
      EXPECT_EQ(st.index, 61234u) << threads << " " << scratch;
    }
  }
  d.u[61234] = 100.0;
  d.k[70000] = 100.0;
  d.t[90001] = 0.5;
  std::vector<double> a(n), b(n);
  out.price = a.data();
  ASSERT_TRUE(pm::price_batch(in, out, 2, false).ok());
  out.price = b.data();
  ASSERT_TRUE(pm::price_batch(in, out, 2, true).ok());
  EXPECT_EQ(a, b);
}

// The kernels' domain screen (the screen pass, and the flag the direct kernels add while
// computing) refuses exactly the rows validate_black_inputs refuses, on every instruction set
// and model, over edge values of every input: zeros of both signs, subnormals, the largest
// double, infinities, NaN, and rate x time on both sides of its bound.
TEST(Batch, DomainScreenAgreesWithValidateOnEdgeValues) {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double big = std::numeric_limits<double>::max();
  const double sub = std::numeric_limits<double>::denorm_min();
  const std::vector<double> positive = {100.0, 0.0, -0.0, sub, big, inf, -inf, nan, -1.0};
  const std::vector<double> times = {0.5, 0.0, -0.0, sub, 7.0, big, inf, nan, -0.5};
  const std::vector<double> rates = {0.0, 0.05, 100.0, 100.1, -100.1, -100.0, big, inf, nan};
  std::vector<double> u, k, t, v, r, q;
  for (double a : positive) {  // one input at a time off its nominal value, then pairs of r, t
    u.push_back(a), k.push_back(100.0), t.push_back(0.5), v.push_back(0.3), r.push_back(0.01),
        q.push_back(0.0);
    u.push_back(100.0), k.push_back(a), t.push_back(0.5), v.push_back(0.3), r.push_back(0.01),
        q.push_back(0.0);
    u.push_back(100.0), k.push_back(100.0), t.push_back(0.5), v.push_back(a), r.push_back(0.01),
        q.push_back(0.0);
  }
  for (double tt : times) {
    for (double rr : rates) {
      for (double qq : rates) {
        u.push_back(100.0), k.push_back(90.0), t.push_back(tt), v.push_back(0.3), r.push_back(rr),
            q.push_back(qq);
      }
    }
  }
  const std::size_t n = u.size();
  const std::size_t n_pad = det::padded(n);
  for (auto* c : {&u, &k, &t, &v, &r, &q}) c->resize(n_pad, 1.0);
  for (std::size_t i = n; i < n_pad; ++i) v[i] = 0.2, r[i] = 0.0, q[i] = 0.0;
  std::vector<double> call(n_pad, 1.0);
  for (std::size_t i = 0; i < n; i += 2) call[i] = -1.0;
  std::size_t refused = 0;
  for (const auto& ks : all_kernel_sets()) {
    for (pm::Model m : {pm::Model::kBlack76, pm::Model::kBsm, pm::Model::kInverse}) {
      const bool bsm = m == pm::Model::kBsm;
      std::vector<double> out[10];
      for (auto& o : out) o.assign(n_pad, 0.0);
      for (int kernel = 0; kernel < 3; ++kernel) {  // price, first-order Greeks, all Greeks
        for (std::size_t b0 = 0; b0 < n_pad; b0 += det::kBlock) {
          det::KernelBlock b;
          b.n = std::min(det::kBlock, n_pad - b0);
          b.model = static_cast<int>(m);
          b.underlying = u.data() + b0;
          b.strike = k.data() + b0;
          b.time = t.data() + b0;
          b.vol = v.data() + b0;
          b.rate = r.data() + b0;
          b.carry = q.data() + b0;
          b.call = call.data() + b0;
          point_outputs(b, out, b0);
          (kernel == 0 ? ks.price : kernel == 1 ? ks.first : ks.greeks)(b);
        }
        for (std::size_t i = 0; i < n; ++i) {
          const bool valid =
              pm::validate_black_inputs(u[i], k[i], t[i], v[i], r[i], bsm ? q[i] : 0.0, i).ok();
          refused += !valid;
          EXPECT_EQ(out[9][i] >= 2.0, !valid)
              << ks.name << " model " << static_cast<int>(m) << " kernel " << kernel << " row " << i
              << ": u " << u[i] << " k " << k[i] << " t " << t[i] << " v " << v[i] << " r " << r[i]
              << " q " << q[i];
          const double one = ks.screen(1, bsm, &u[i], &k[i], &t[i], &v[i], &r[i], &q[i]);
          EXPECT_EQ(one, valid ? 0.0 : 1.0) << ks.name << " screen row " << i;
        }
      }
    }
  }
  EXPECT_GT(refused, 0u);
}

// With every rate (and carry) zero, the kernels that skip the discount and growth
// exponentials give the bits of the kernels that compute them, every output and flag.
TEST(Batch, ZeroRateKernelsGiveTheSameBits) {
  const std::size_t n = det::kBlock;
  for (const auto& ks : all_kernel_sets()) {
    for (pm::Model m : {pm::Model::kBlack76, pm::Model::kBsm, pm::Model::kInverse}) {
      for (unsigned seed = 1; seed <= 6; ++seed) {
        Data d = make_data(n, seed);
        std::fill(d.r.begin(), d.r.end(), 0.0);
        std::fill(d.q.begin(), d.q.end(), 0.0);
        for (int kernel = 0; kernel < 6; ++kernel) {
          std::vector<double> out[2][10];
          for (int z = 0; z < 2; ++z) {
            for (auto& o : out[z]) o.assign(n, 0.0);
            det::KernelBlock b;
            b.n = n;
            b.model = static_cast<int>(m);
            b.zero_rates = z == 1;
            b.underlying = d.u.data();
            b.strike = d.k.data();
            b.time = d.t.data();
            b.vol = d.v.data();
            b.rate = d.r.data();
            b.carry = d.q.data();
            b.call = d.call.data();
            point_outputs(b, out[z]);
            const det::KernelFn fns[6] = {ks.price,        ks.first,        ks.greeks,
                                          ks.series_price, ks.series_first, ks.series_greeks};
            fns[kernel](b);
          }
          for (int o = 0; o < 10; ++o) {
            ASSERT_EQ(0, std::memcmp(out[0][o].data(), out[1][o].data(), n * sizeof(double)))
                << ks.name << " model " << static_cast<int>(m) << " kernel " << kernel << " output "
                << o;
          }
        }
      }
    }
  }
}

// Price and Greeks through the driver: with outputs_are_scratch (the kernels screen as they
// compute) the error is the one the validation pass reports, field and row, for every rule,
// model and thread count; without it nothing is written.
TEST(Batch, FusedScreenReportsWhatValidateReports) {
  const std::size_t n = 3000;
  struct Case {
    int column;  // 0 u, 1 k, 2 t, 3 v, 4 r, 5 q
    double value;
  };
  const Case cases[] = {{0, std::numeric_limits<double>::quiet_NaN()},
                        {0, 0.0},
                        {1, -2.0},
                        {1, std::numeric_limits<double>::infinity()},
                        {2, -1e-300},
                        {3, std::numeric_limits<double>::quiet_NaN()},
                        {4, 1e300},
                        {4, 2000.0},
                        {5, -1500.0}};
  for (pm::Model m : {pm::Model::kBlack76, pm::Model::kBsm, pm::Model::kInverse}) {
    for (const Case& c : cases) {
      if (c.column == 5 && m != pm::Model::kBsm) continue;
      for (std::size_t row : {std::size_t{0}, std::size_t{255}, std::size_t{256}, n - 1}) {
        Data d = make_data(n, 11);
        std::vector<double>* cols[6] = {&d.u, &d.k, &d.t, &d.v, &d.r, &d.q};
        d.t[row] = 0.5;  // a rate rule needs T > 0 to bite
        (*cols[c.column])[row] = c.value;
        const pm::BatchInputs in = inputs_of(d, n, m);
        const pymargin::Status want = pm::validate(in);
        ASSERT_FALSE(want.ok());
        ASSERT_EQ(want.index, row);
        for (int greeks = 0; greeks < 2; ++greeks) {
          for (int threads : {1, 2}) {
            for (bool scratch : {false, true}) {
              std::vector<double> p(n, -7.0), g(n, -7.0);
              pm::BatchOutputs out;
              out.price = p.data();
              if (greeks) out.gamma = g.data();
              const pymargin::Status st = pm::price_batch(in, out, threads, scratch);
              EXPECT_EQ(st.code, want.code);
              EXPECT_STREQ(st.field, want.field);
              EXPECT_EQ(st.index, want.index)
                  << static_cast<int>(m) << " " << c.column << " " << greeks << threads << scratch;
              if (!scratch) {
                for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(p[i], -7.0);
              }
            }
          }
        }
      }
    }
  }
}

// The gather-sum of every compiled instruction set gives the bits of summing the rows one
// position after another with axpy (the pre-trade engine's incremental sums rely on that
// order), for every width 1..64, with and without an index, rows of any stride.
TEST(Batch, GatherSumIsSequentialAxpyBitForBit) {
  std::mt19937_64 rng(17);
  std::normal_distribution<double> x(0.0, 1.0);
  for (const auto& ks : all_kernel_sets()) {
    for (std::size_t ns = 1; ns <= 64; ++ns) {
      const std::size_t stride = ns + (ns % 3);  // padded rows too
      const std::size_t n_rows = 50, count = 37;
      std::vector<double> rows(n_rows * stride), w(count);
      for (double& v : rows) v = x(rng) * std::pow(10.0, static_cast<double>(rng() % 9) - 4.0);
      for (double& v : w) v = x(rng);
      std::vector<std::int32_t> idx(count);
      for (auto& i : idx) i = static_cast<std::int32_t>(rng() % n_rows);
      idx.back() = static_cast<std::int32_t>(n_rows - 1);  // the last row: nothing read past it
      for (const std::int32_t* ix : {static_cast<const std::int32_t*>(nullptr),
                                     static_cast<const std::int32_t*>(idx.data())}) {
        std::vector<double> want(ns, 0.0), got(ns, -1.0);
        for (std::size_t p = 0; p < count; ++p) {
          const std::size_t r = ix ? static_cast<std::size_t>(ix[p]) : p;
          ks.axpy(ns, w[p], rows.data() + r * stride, want.data());
        }
        ks.gather_sum(ns, count, rows.data(), stride, ix, w.data(), got.data());
        for (std::size_t j = 0; j < ns; ++j) {
          ASSERT_EQ(got[j], want[j]) << ks.name << " ns " << ns << " lane " << j;
        }
      }
    }
  }
}

// Batches large enough to be split run on the persistent pool: any thread count gives the
// bits of one thread, for prices, Greeks and implied vols, also with two callers at once.
TEST(Batch, ThreadCountsAndConcurrentCallersDoNotChangeABit) {
  const std::size_t n = 70000;
  Data d = make_data(n, 23);
  for (std::size_t i = 0; i < n; ++i) {
    if (d.t[i] == 0.0) d.t[i] = 0.1;
    if (d.v[i] < 0.01) d.v[i] = 0.3;
  }
  pm::BatchInputs in = inputs_of(d, n, pm::Model::kBlack76);
  auto run = [&](int threads, std::vector<double>* price, std::vector<double>* gamma,
                 std::vector<double>* vol) {
    price->assign(n, -1.0);
    gamma->assign(n, -1.0);
    vol->assign(n, -1.0);
    pm::BatchOutputs out;
    out.price = price->data();
    out.gamma = gamma->data();
    ASSERT_TRUE(pm::price_batch(in, out, threads).ok());
    ASSERT_TRUE(pm::implied_vol_batch(in, {price->data(), 1}, vol->data(), threads).ok());
  };
  std::vector<double> p1, g1, v1;
  run(1, &p1, &g1, &v1);
  for (int threads : {2, 3, 0}) {
    std::vector<double> p, g, v;
    run(threads, &p, &g, &v);
    EXPECT_EQ(p, p1) << threads;
    EXPECT_EQ(g, g1) << threads;
    EXPECT_EQ(v, v1) << threads;
  }
  std::vector<double> pa, ga, va, pb, gb, vb;
  std::thread other([&] { run(2, &pa, &ga, &va); });
  run(2, &pb, &gb, &vb);
  other.join();
  EXPECT_EQ(pa, p1);
  EXPECT_EQ(pb, p1);
  EXPECT_EQ(va, v1);
  EXPECT_EQ(vb, v1);
}
