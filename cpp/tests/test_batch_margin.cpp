// SPDX-License-Identifier: Apache-2.0
// Batch margin kernel: each account equals the model computed here entry by entry (credit,
// dampener, worst case, roll shock, round9); the worst scenario follows the model's
// tie-breaks; accounts past the delta limit are not covered; results do not depend on the
// thread split; bad input is refused before any write.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "pymargin/kernel/batch_margin.hpp"
#include "pymargin/models/span.hpp"

namespace pk = pymargin::kernel;

namespace {

constexpr std::size_t kStd = 27, kStride = 35;

struct Case {
  std::vector<double> risk, delta, value, cap, damp, roll_k, limit, collateral, amount;
  std::vector<std::int32_t> pair, expiry, instrument;
  std::vector<std::int64_t> offsets{0};
  double offset = 0.5, mm = 0.8;

  pk::BatchModel model() const {
    pk::BatchModel m;
    m.n_std = kStd;
    m.pairs = cap.size();
    m.expiries = roll_k.size();
    m.pnl_offset = offset;
    m.cap = cap.data();
    m.damp = damp.data();
    m.roll_k = roll_k.data();
    m.mm_factor = mm;
    m.delta_limit = limit.empty() ? nullptr : limit.data();
    return m;
  }
  pk::BatchInstruments inst() const {
    return {pair.size(),   kStride,      risk.data(), pair.data(),
            expiry.data(), delta.data(), value.data()};
  }
  pk::BatchAccounts accounts() const {
    return {collateral.size(), offsets.data(), instrument.data(), amount.data(), collateral.data()};
  }
};

struct Out {
  std::vector<double> im, mm, eq, ratio;
  std::vector<std::int8_t> status;
  std::vector<std::int32_t> worst;
  explicit Out(std::size_t n)
      : im(n, -7), mm(n, -7), eq(n, -7), ratio(n, -7), status(n, -7), worst(n, -7) {}
  pk::BatchOutputs view() {
    return {im.data(), mm.data(), eq.data(), ratio.data(), status.data(), worst.data()};
  }
};

Case random_case(unsigned seed, std::size_t accounts) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> pnl(0.0, 0.03);
  std::uniform_int_distribution<int> exp(0, 3), count(1, 9), pick(0, 59);
  Case c;
  c.cap = {0.05, 0.08};
  c.damp.assign(16, 0.0);
  for (int k = 0; k < 16; ++k) c.damp[k] = 0.002 * (k % 8);
  c.roll_k = {0.01, 0.02, 0.01, 0.03, 0.01, 0.02, 0.01, 0.03};  // [pair x 4 expiries]
  for (int i = 0; i < 60; ++i) {
    for (std::size_t j = 0; j < kStride; ++j) c.risk.push_back(pnl(rng));
    c.pair.push_back(i % 2);
    c.expiry.push_back((i % 2) * 4 + exp(rng));
    c.delta.push_back(pnl(rng) * 10);
    c.value.push_back(std::fabs(pnl(rng)));
  }
  const double sizes[5] = {-2, -1, 0, 1, 3};
  for (std::size_t a = 0; a < accounts; ++a) {
    const int n = count(rng);
    for (int p = 0; p < n; ++p) {
      c.instrument.push_back(pick(rng));
      c.amount.push_back(sizes[rng() % 5]);
    }
    c.offsets.push_back(static_cast<std::int64_t>(c.instrument.size()));
    c.collateral.push_back(0.05 * static_cast<double>(a % 7));
  }
  return c;
}

// The model, written out here: per pair, credited and dampened entries, the worst loss; the
// roll shock per (pair, expiry); the lowest entry with the tie-breaks.
struct Want {
  double im, rmm, equity;
  std::int32_t worst;
};

Want model(const Case& c, std::size_t a) {
  std::vector<std::vector<double>> v;
  std::vector<int> order;  // pairs in first-touch order
  std::vector<double> net(c.roll_k.size(), 0.0);
  double equity = c.collateral[a];
  v.assign(c.cap.size(), std::vector<double>(kStride, 0.0));
  for (auto p = c.offsets[a]; p < c.offsets[a + 1]; ++p) {
    const auto i = static_cast<std::size_t>(c.instrument[static_cast<std::size_t>(p)]);
    const double q = c.amount[static_cast<std::size_t>(p)];
    const int u = c.pair[i];
    bool seen = false;
    for (int o : order) seen = seen || o == u;
    if (!seen) order.push_back(u);
    for (std::size_t j = 0; j < kStride; ++j) v[u][j] += q * c.risk[i * kStride + j];
    net[static_cast<std::size_t>(c.expiry[i])] += q * c.delta[i];
    equity += q * c.value[i];
  }
  double worst = 0.0, lowest = std::numeric_limits<double>::infinity();
  std::int32_t at = -1;
  for (int u : order) {
    double low = std::numeric_limits<double>::infinity();
    std::int32_t low_at = -1;
    for (std::size_t j = 0; j < kStride; ++j) {
      double x = v[u][j] > 0 ? std::min(v[u][j] * c.offset, c.cap[u]) : v[u][j];
      if (j >= kStd) {
        const double d = c.damp[u * 8 + (j - kStd)];
        x = x < 0 ? std::min(x + d, 0.0) : std::max(x - d, 0.0);
      }
      const bool better = x < low || (x == low && j < kStd && j % 3 == 1 &&
                                      !(low_at >= 0 && low_at < 27 && low_at % 3 == 1));
      if (better) {
        low = x;
        low_at = static_cast<std::int32_t>(j);
      }
    }
    worst += std::max(-low, 0.0);
    if (low < lowest) {
      lowest = low;
      at = low_at;
    }
  }
  double roll = 0.0;
  for (std::size_t e = 0; e < net.size(); ++e) roll += c.roll_k[e] * std::fabs(net[e]);
  // RMM = round9(worst) + roll; Deribit's IM is RMM rounded to 1e-9 again.
  const double rmm = std::nearbyint(worst * 1e9) / 1e9 + roll;
  return {std::nearbyint(rmm * 1e9) / 1e9, rmm, equity, at};
}

}  // namespace

TEST(BatchMargin, EveryAccountEqualsTheModelWrittenOut) {
  const Case c = random_case(3, 3000);
  Out out(c.collateral.size());
  ASSERT_TRUE(pk::batch_margin(c.model(), c.inst(), c.accounts(), out.view(), 2).ok());
  for (std::size_t a = 0; a < c.collateral.size(); ++a) {
    const Want w = model(c, a);
    EXPECT_NEAR(out.im[a], w.im, 1e-12 * (1 + w.im)) << a;
    EXPECT_NEAR(out.mm[a], 0.8 * w.rmm, 1e-12 * (1 + w.rmm)) << a;  // MM = 0.8 RMM
    EXPECT_NEAR(out.eq[a], w.equity, 1e-12) << a;
    EXPECT_EQ(out.worst[a], w.worst) << a;
    const int status = out.mm[a] > 0 && out.mm[a] >= out.eq[a]   ? 2
                       : out.im[a] > 0 && out.im[a] >= out.eq[a] ? 1
                                                                 : 0;
    EXPECT_EQ(out.status[a], status) << a;
  }
}

TEST(BatchMargin, TiesPreferTheUnchangedVolEntryOfABucket) {
  Case c = random_case(1, 1);
  // one instrument whose entries 3, 4 and 5 (bucket 2) tie for the lowest value
  std::fill(c.risk.begin(), c.risk.begin() + kStride, 0.0);
  c.risk[3] = c.risk[4] = c.risk[5] = -1.0;
  c.instrument = {0};
  c.amount = {1.0};
  c.offsets = {0, 1};
  c.collateral = {10.0};
  Out out(1);
  ASSERT_TRUE(pk::batch_margin(c.model(), c.inst(), c.accounts(), out.view(), 1).ok());
  EXPECT_EQ(out.worst[0], 4);
  c.risk[4] = 0.0;  // no unchanged-vol entry among the tied: the first
  ASSERT_TRUE(pk::batch_margin(c.model(), c.inst(), c.accounts(), out.view(), 1).ok());
  EXPECT_EQ(out.worst[0], 3);
}

TEST(BatchMargin, AccountsPastTheDeltaLimitAreNotCovered) {
  Case c = random_case(5, 200);
  c.limit = {0.5, 1e9};
  Out out(c.collateral.size());
  ASSERT_TRUE(pk::batch_margin(c.model(), c.inst(), c.accounts(), out.view(), 2).ok());
  int uncovered = 0;
  for (std::size_t a = 0; a < c.collateral.size(); ++a) {
    double d0 = 0.0;
    for (auto p = c.offsets[a]; p < c.offsets[a + 1]; ++p) {
      const auto i = static_cast<std::size_t>(c.instrument[static_cast<std::size_t>(p)]);
      if (c.pair[i] == 0) d0 += c.amount[static_cast<std::size_t>(p)] * c.delta[i];
    }
    if (std::fabs(d0) > 0.5) {
      ++uncovered;
      EXPECT_EQ(out.status[a], 3) << a;
      EXPECT_TRUE(std::isnan(out.im[a]) && std::isnan(out.mm[a]) && std::isnan(out.ratio[a]));
    } else {
      EXPECT_NE(out.status[a], 3) << a;
      EXPECT_NEAR(out.im[a], model(c, a).im, 1e-12 * (1 + out.im[a]));
    }
  }
  EXPECT_GT(uncovered, 10);
}

TEST(BatchMargin, ThreadSplitDoesNotChangeABit) {
  const Case c = random_case(9, 20000);
  Out one(c.collateral.size()), two(c.collateral.size()), many(c.collateral.size());
  ASSERT_TRUE(pk::batch_margin(c.model(), c.inst(), c.accounts(), one.view(), 1).ok());
  ASSERT_TRUE(pk::batch_margin(c.model(), c.inst(), c.accounts(), two.view(), 2).ok());
  ASSERT_TRUE(pk::batch_margin(c.model(), c.inst(), c.accounts(), many.view(), 7).ok());
  EXPECT_EQ(one.im, two.im);
  EXPECT_EQ(one.im, many.im);
  EXPECT_EQ(one.eq, many.eq);
  EXPECT_EQ(one.worst, many.worst);
}

TEST(BatchMargin, BadInputIsRefusedBeforeAnyWrite) {
  Case c = random_case(2, 50);
  c.instrument[17] = 60;  // no such instrument
  Out out(c.collateral.size());
  auto st = pk::batch_margin(c.model(), c.inst(), c.accounts(), out.view(), 2);
  EXPECT_FALSE(st.ok());
  EXPECT_STREQ(st.field, "instrument");
  EXPECT_EQ(st.index, 17u);
  EXPECT_EQ(out.im[0], -7);  // untouched
  c.instrument[17] = 0;
  c.amount[3] = std::numeric_limits<double>::quiet_NaN();
  st = pk::batch_margin(c.model(), c.inst(), c.accounts(), out.view(), 2);
  EXPECT_STREQ(st.field, "amount");
  c.amount[3] = 1.0;
  c.offsets[5] = c.offsets[4] - 1;
  st = pk::batch_margin(c.model(), c.inst(), c.accounts(), out.view(), 2);
  EXPECT_STREQ(st.field, "offsets");
  c = random_case(2, 50);
  c.limit = {-1.0, 1.0};
  st = pk::batch_margin(c.model(), c.inst(), c.accounts(), out.view(), 2);
  EXPECT_STREQ(st.field, "delta_limit");
  EXPECT_EQ(out.im[0], -7);
}

// Finite inputs whose sums overflow (huge amounts on opposite sides: inf - inf in a scenario
// entry, which the lowest-entry search would skip) are never reported healthy.
TEST(BatchMargin, OverflowingAccountsAreNotCoveredNeverHealthy) {
  Case c = random_case(3, 40);
  for (double& q : c.amount) q = q > 0 ? 1.7e308 : -1.7e308;
  Out out(c.collateral.size());
  ASSERT_TRUE(pk::batch_margin(c.model(), c.inst(), c.accounts(), out.view(), 1).ok());
  int overflowed = 0;
  for (std::size_t a = 0; a < c.collateral.size(); ++a) {
    const bool finite = std::isfinite(out.im[a]) && std::isfinite(out.eq[a]);
    if (!finite) {
      ++overflowed;
      EXPECT_EQ(out.status[a], 3) << a;
    }
    if (out.status[a] == 0) {
      EXPECT_TRUE(finite) << a;
    }
  }
  EXPECT_GT(overflowed, 0);
}

namespace {

// Random accounts in CSR form: up to max_positions positions of n_inst instruments each
// (unique: one per instrument), sizes in half units from -3.5 to 4.5.
struct RandomAccounts {
  std::vector<std::int64_t> offsets{0};
  std::vector<std::int32_t> instrument;
  std::vector<double> amount, collateral;
  [[nodiscard]] pk::BatchAccounts view() const {
    return {collateral.size(), offsets.data(), instrument.data(), amount.data(), collateral.data()};
  }
};

RandomAccounts random_accounts(std::mt19937_64& rng, int accounts, std::size_t n_inst,
                               int max_positions, double collateral, bool unique) {
  RandomAccounts r;
  for (int a = 0; a < accounts; ++a) {
    const std::size_t first = r.instrument.size();
    const int k = static_cast<int>(rng() % static_cast<std::uint64_t>(max_positions + 1));
    for (int q = 0; q < k; ++q) {
      const auto i = static_cast<std::int32_t>(rng() % n_inst);
      if (unique && std::find(r.instrument.begin() + static_cast<std::ptrdiff_t>(first),
                              r.instrument.end(), i) != r.instrument.end()) {
        continue;
      }
      r.instrument.push_back(i);
      r.amount.push_back(static_cast<double>(static_cast<int>(rng() % 9) - 4) + 0.5);
    }
    r.offsets.push_back(static_cast<std::int64_t>(r.instrument.size()));
    r.collateral.push_back(collateral);
  }
  return r;
}

}  // namespace

// SPAN over every account equals the core's span_requirement applied to each account's
// commodities written out here (P&L summed and weighted, tier deltas, short options, the
// spreads whose legs it holds), on 1 and 2 threads, bit for bit.
TEST(BatchMargin, SpanEqualsTheModelPerAccount) {
  std::mt19937_64 rng(31);
  std::normal_distribution<double> x(0.0, 50.0);
  const std::size_t n = 60;
  std::vector<double> risk(n * 16), delta(n), value(n);
  std::vector<std::int32_t> commodity(n), tier(n);
  std::vector<std::uint8_t> option(n);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < 16; ++j) risk[i * 16 + j] = x(rng);
    commodity[i] = static_cast<std::int32_t>(i % 3);
    tier[i] = static_cast<std::int32_t>((i / 3) % 2);
    delta[i] = x(rng) / 100.0;
    option[i] = static_cast<std::uint8_t>(i % 2);
    value[i] = std::fabs(x(rng));
  }
  std::vector<double> weight(16, 1.0);
  weight[14] = weight[15] = 0.35;
  const std::int32_t intra_tiers[2] = {0, 1};
  const double intra_rates[1] = {40.0};
  const pk::BatchSpanCommodity c0{2, weight.data(), 25.0, 1, intra_tiers, intra_rates};
  const pk::BatchSpanCommodity c1{2, weight.data(), 5.0, 0, nullptr, nullptr};
  const pk::BatchSpanCommodity comm[3] = {c0, c1, c0};
  const std::int32_t legs[4] = {0, 1, 2, 0};
  const double terms[6] = {1.0, 2.0, 0.6, 1.0, 1.0, 0.3};
  const pk::BatchSpanModel m{3, comm, 2, legs, terms};
  const pk::BatchSpanInstruments in{
      n, risk.data(), commodity.data(), tier.data(), delta.data(), option.data(), value.data()};
  const RandomAccounts ra = random_accounts(rng, 3000, n, 8, 1000.0, false);
  const auto& [offsets, instrument, amount, collateral] = ra;
  const pk::BatchAccounts acc = ra.view();
  for (int threads : {1, 2}) {
    const std::size_t na = collateral.size();
    std::vector<double> im(na), mm(na), eq(na), ratio(na);
    std::vector<std::int8_t> status(na);
    std::vector<std::int32_t> worst(na);
    const pk::BatchOutputs out{im.data(),    mm.data(),     eq.data(),
                               ratio.data(), status.data(), worst.data()};
    ASSERT_TRUE(pk::batch_span(m, in, acc, out, threads).ok());
    for (std::size_t a = 0; a < na; ++a) {
      // The account written out: per commodity (in index order) the sums in position order.
      double pnl[3][16] = {};
      double td[3][2] = {};
      double shorts[3] = {};
      bool held[3] = {false, false, false};
      double equity = collateral[a];
      for (auto p = offsets[a]; p < offsets[a + 1]; ++p) {
        const auto i = static_cast<std::size_t>(instrument[static_cast<std::size_t>(p)]);
        const double q = amount[static_cast<std::size_t>(p)];
        const auto c = static_cast<std::size_t>(commodity[i]);
        for (std::size_t j = 0; j < 16; ++j) pnl[c][j] += q * risk[i * 16 + j];
        td[c][tier[i]] += q * delta[i];
        if (option[i] && q < 0) shorts[c] -= q;
        held[c] = true;
        equity += q * value[i];
      }
      std::vector<pymargin::models::SpanCommodity> view;
      std::int32_t slot[3] = {-1, -1, -1};
      for (std::size_t c = 0; c < 3; ++c) {
        if (!held[c]) continue;
        for (std::size_t j = 0; j < 16; ++j) pnl[c][j] *= weight[j];
        pymargin::models::SpanCommodity v;
        v.pnl = pnl[c];
        v.tiers = 2;
        v.tier_delta = td[c];
        v.short_options = shorts[c];
        v.short_option_minimum = comm[c].short_option_minimum;
        v.intra_pairs = comm[c].intra_pairs;
        v.intra_tiers = comm[c].intra_tiers;
        v.intra_rates = comm[c].intra_rates;
        slot[c] = static_cast<std::int32_t>(view.size());
        view.push_back(v);
      }
      std::vector<pymargin::models::SpanInterSpread> sp;
      for (std::size_t r = 0; r < 2; ++r) {
        const std::int32_t la = slot[legs[2 * r]], lb = slot[legs[2 * r + 1]];
        if (la >= 0 && lb >= 0)
          sp.push_back({la, lb, terms[3 * r], terms[3 * r + 1], terms[3 * r + 2]});
      }
      std::vector<pymargin::models::SpanRequirement> res(view.size());
      double want = 0.0;
      if (!view.empty()) {
        ASSERT_TRUE(pymargin::models::span_requirement(view.data(), view.size(), sp.data(),
                                                       sp.size(), res.data())
                        .ok());
      }
      for (const auto& r : res) want += r.requirement;
      ASSERT_EQ(im[a], want) << "account " << a << " threads " << threads;
      ASSERT_EQ(mm[a], want);
      ASSERT_EQ(eq[a], equity);
    }
  }
}

// Standard margin over every account equals models::standard_margin of its positions summed,
// on 1 and 2 threads, bit for bit; an overflowing account is not covered.
TEST(BatchMargin, StandardEqualsTheModelPerAccount) {
  std::mt19937_64 rng(41);
  const std::size_t n = 40;
  std::vector<pymargin::models::StandardPosition> terms(n);
  std::vector<double> value(n);
  for (std::size_t i = 0; i < n; ++i) {
    auto& p = terms[i];
    if (i % 2 == 0) {
      p.rule = pymargin::models::StandardRule::kSizeScaled;
      p.im_base = 0.02;
      p.im_per_unit = 5e-5;
      p.mm_base = 0.015;
      p.mm_per_unit = 5e-5;
      p.price = i % 4 == 0 ? 65000.0 : 1.0;
    } else {
      p.rule = pymargin::models::StandardRule::kInverseOption;
      p.im_otm_base = 0.15;
      p.im_floor = 0.1;
      p.mm = 0.075;
      p.call = i % 3 == 0;
      p.strike = 50000.0 + 1000.0 * static_cast<double>(i);
      p.index = 65000.0;
      p.mark = 0.001 * static_cast<double>(i);
    }
    value[i] = 0.001 * static_cast<double>(i % 5);
  }
  RandomAccounts ra = random_accounts(rng, 4000, n, 7, 1.0, true);
  while (ra.offsets[ra.offsets.size() - 2] == ra.offsets.back()) {  // the last account holds one
    ra.instrument.push_back(0);
    ra.amount.push_back(1.0);
    ra.offsets.back() += 1;
  }
  ra.amount.back() = 1e200;  // the last account overflows: not covered
  const auto& [offsets, instrument, amount, collateral] = ra;
  const pk::BatchStandardInstruments in{n, terms.data(), value.data()};
  const pk::BatchAccounts acc = ra.view();
  for (int threads : {1, 2}) {
    const std::size_t na = collateral.size();
    std::vector<double> im(na), mm(na), eq(na), ratio(na);
    std::vector<std::int8_t> status(na);
    std::vector<std::int32_t> worst(na);
    const pk::BatchOutputs out{im.data(),    mm.data(),     eq.data(),
                               ratio.data(), status.data(), worst.data()};
    ASSERT_TRUE(pk::batch_standard(in, acc, out, threads).ok());
    for (std::size_t a = 0; a + 1 < na; ++a) {
      std::vector<pymargin::models::StandardPosition> pos;
      for (auto p = offsets[a]; p < offsets[a + 1]; ++p) {
        auto x = terms[static_cast<std::size_t>(instrument[static_cast<std::size_t>(p)])];
        x.size = amount[static_cast<std::size_t>(p)];
        pos.push_back(x);
      }
      std::vector<pymargin::models::StandardMargin> m(pos.size());
      ASSERT_TRUE(pymargin::models::standard_margin(pos.data(), pos.size(), m.data()).ok());
      double want_im = 0.0, want_mm = 0.0;
      for (const auto& x : m) {
        want_im += x.initial_margin;
        want_mm += x.maintenance_margin;
      }
      ASSERT_EQ(im[a], want_im) << a;
      ASSERT_EQ(mm[a], want_mm) << a;
    }
    EXPECT_EQ(status[na - 1], 3);
    EXPECT_TRUE(std::isnan(im[na - 1]));
  }
}

// The Greek-netting model over every account equals the core's sensitivity_margin of each
// account's sums written out (held underlyings in index order), on 1 and 2 threads.
TEST(BatchMargin, SensitivityEqualsTheModelPerAccount) {
  std::mt19937_64 rng(53);
  std::normal_distribution<double> x(0.0, 1000.0);
  const std::size_t n = 30, U = 3, B = 4;
  std::vector<std::int32_t> und(n), bucket(n);
  std::vector<double> delta(n), vega(n), up(n), down(n), value(n);
  for (std::size_t i = 0; i < n; ++i) {
    und[i] = static_cast<std::int32_t>(i % U);
    bucket[i] = i % 4 == 3 ? -1 : static_cast<std::int32_t>(i % B);
    delta[i] = x(rng);
    vega[i] = bucket[i] < 0 ? 0.0 : std::fabs(x(rng)) / 10.0;
    up[i] = x(rng) / 5.0;
    down[i] = x(rng) / 5.0;
    value[i] = std::fabs(x(rng)) / 100.0;
  }
  std::vector<double> rho(B * B);
  for (std::size_t k = 0; k < B; ++k) {
    for (std::size_t l = 0; l < B; ++l) rho[k * B + l] = k == l ? 1.0 : 0.6;
  }
  const double rw[3] = {0.16, 0.2, 0.25};
  const pk::BatchSensitivityModel m{U, B, rho.data(), 0.5, 0.4, rw};
  const pk::BatchSensitivityInstruments in{n,           und.data(), bucket.data(), delta.data(),
                                           vega.data(), up.data(),  down.data(),   value.data()};
  const RandomAccounts ra = random_accounts(rng, 2000, n, 6, 1e5, false);
  const auto& [offsets, instrument, amount, collateral] = ra;
  const pk::BatchAccounts acc = ra.view();
  for (int threads : {1, 2}) {
    const std::size_t na = collateral.size();
    std::vector<double> im(na), mm(na), eq(na), ratio(na);
    std::vector<std::int8_t> status(na);
    std::vector<std::int32_t> worst(na);
    const pk::BatchOutputs out{im.data(),    mm.data(),     eq.data(),
                               ratio.data(), status.data(), worst.data()};
    ASSERT_TRUE(pk::batch_sensitivity(m, in, acc, out, threads).ok());
    for (std::size_t a = 0; a < na; ++a) {
      double d[3] = {}, v[3][4] = {}, u1[3] = {}, u2[3] = {};
      bool held[3] = {false, false, false};
      for (auto p = offsets[a]; p < offsets[a + 1]; ++p) {
        const auto i = static_cast<std::size_t>(instrument[static_cast<std::size_t>(p)]);
        const double q = amount[static_cast<std::size_t>(p)];
        const auto u = static_cast<std::size_t>(und[i]);
        d[u] += q * delta[i];
        if (bucket[i] >= 0) v[u][bucket[i]] += q * vega[i];
        u1[u] += q * up[i];
        u2[u] += q * down[i];
        held[u] = true;
      }
      std::vector<double> wd, wv, hu, hd, hdelta, hrw;
      for (std::size_t u = 0; u < U; ++u) {
        if (!held[u]) continue;
        wd.push_back(rw[u] * d[u]);
        wv.insert(wv.end(), v[u], v[u] + B);
        hu.push_back(u1[u]);
        hd.push_back(u2[u]);
        hdelta.push_back(d[u]);
        hrw.push_back(rw[u]);
      }
      double want = 0.0;
      if (!wd.empty()) {
        pymargin::models::SensitivityInputs s;
        s.underlyings = wd.size();
        s.buckets = B;
        s.weighted_delta = wd.data();
        s.weighted_vega = wv.data();
        s.tenor_corr = rho.data();
        s.delta_corr = 0.5;
        s.vega_corr = 0.4;
        s.pnl_up = hu.data();
        s.pnl_down = hd.data();
        s.delta_usd = hdelta.data();
        s.risk_weight = hrw.data();
        pymargin::models::SensitivityMargin r;
        ASSERT_TRUE(pymargin::models::sensitivity_margin(s, &r).ok());
        want = r.initial_margin;
      }
      ASSERT_EQ(im[a], want) << a;
      ASSERT_EQ(mm[a], want);
    }
  }
}

// Deribit X:PM: two groups of one pair (USDC positions, the BTC balance) summed before the
// worst case. The example of test_pretrade_cross.cpp on a three-entry grid (-16 %, 0, +16 %),
// by hand: short 1 BTC of the USDC perpetual (forward 65,005) against 1 BTC (index 65,000);
// at +16 % -10,400.8 + 0.6 x 10,400 = -4,160.8; at -16 % -10,400 + 0.4 x 10,400.8 =
// -6,239.68, the worst case; roll shock 0.01 x 65,000; equity the BTC at the index (10 %
// haircut) plus 1,000 USDC.
TEST(BatchCross, CoinEquityHedgesTheUsdcGroupAsFarAsGainsAreCredited) {
  const std::vector<double> risk = {-0.16 * 65005.0, 0.0, 0.16 * 65005.0};
  const std::vector<std::int32_t> group = {0}, expiry = {0}, ccy = {0};
  const std::vector<double> delta = {1.0}, value = {0.0};
  const std::vector<double> cap = {1e6, 2e7}, offsets_by_group = {0.4, 0.6}, roll_k = {650.0};
  pk::BatchModel m;
  m.n_std = 3;
  m.pairs = 2;  // groups: (btc_usd, usdc), (btc_usd, btc)
  m.expiries = 1;
  m.cap = cap.data();
  m.pnl_offsets = offsets_by_group.data();
  m.roll_k = roll_k.data();
  m.mm_factor = 0.8;
  const pk::BatchInstruments inst{
      1, 3, risk.data(), group.data(), expiry.data(), delta.data(), value.data()};
  const std::vector<std::int64_t> offsets = {0, 1, 1};
  const std::vector<std::int32_t> held = {0};
  const std::vector<double> amount = {-1.0}, usd_cash = {0.0, 0.0};
  const std::vector<double> balance = {1000.0, 1.0, 0.0, 2.0};  // [account x (usdc, btc)]
  const pk::BatchAccounts acc{2, offsets.data(), held.data(), amount.data(), usd_cash.data()};
  const std::vector<std::int32_t> group_set = {0, 0}, shock = {-1, 1};
  const std::vector<double> price = {1.0, 65000.0}, haircut = {0.0, 0.1};
  const std::vector<std::uint8_t> side = {0, 1};
  const std::vector<double> move = {0, 0, 0, -0.16 * 65000.0, 0.0, 0.16 * 65000.0};
  pk::BatchCross x;
  x.sets = 1;
  x.group_set = group_set.data();
  x.currencies = 2;
  x.currency = ccy.data();
  x.balance = balance.data();
  x.price = price.data();
  x.haircut = haircut.data();
  x.shock_group = shock.data();
  x.side = side.data();
  x.coin_move = move.data();
  Out o(2);
  ASSERT_TRUE(pk::batch_margin(m, inst, acc, o.view(), 1, &x).ok());
  EXPECT_NEAR(o.im[0], 6239.68 + 650.0, 1e-6);
  EXPECT_NEAR(o.mm[0], 0.8 * (6239.68 + 650.0), 1e-6);
  EXPECT_NEAR(o.eq[0], 1000.0 + 65000.0 * 0.9, 1e-6);
  EXPECT_EQ(o.worst[0], 0);
  // The second account holds 2 BTC and nothing else: at -16 % it loses 20,800, no roll.
  EXPECT_NEAR(o.im[1], 20800.0, 1e-6);
  EXPECT_NEAR(o.eq[1], 2.0 * 65000.0 * 0.9, 1e-6);
  // Only the coin's gains counted (an offset currency): its loss at -16 % is gone.
  const std::vector<std::uint8_t> gains = {0, 2};
  x.side = gains.data();
  ASSERT_TRUE(pk::batch_margin(m, inst, acc, o.view(), 1, &x).ok());
  EXPECT_NEAR(o.im[0], 4160.8 + 650.0, 1e-6);
  EXPECT_EQ(o.im[1], 0.0);
  // Bad terms are refused before any write, naming the field.
  const std::vector<double> bad_haircut = {0.0, 1.5};
  x.haircut = bad_haircut.data();
  Out untouched(2);
  const pymargin::Status st = pk::batch_margin(m, inst, acc, untouched.view(), 1, &x);
  EXPECT_FALSE(st.ok());
  EXPECT_STREQ(st.field, "haircut");
  EXPECT_EQ(untouched.im[0], -7.0);
}
