// SPDX-License-Identifier: Apache-2.0
// The pre-trade engine: incremental state against a recompute from scratch over long random
// streams, what check() promises, snapshots, and concurrent checks during market updates.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "pymargin/engine/pretrade.hpp"

namespace pe = pymargin::engine;

namespace {

// BTC universe: inverse options over 4 expiries, inverse futures and the perpetual (BTC
// margin group 0), and the USDC linear perpetual (group 1). Deribit's 2024-06-17 parameters.
struct Universe {
  pe::EngineConfig cfg;
  std::vector<pe::InstrumentSpec> spec;
  std::vector<pe::InstrumentMarket> market;
  std::vector<double> index{65000.0};
};

Universe make_universe(std::size_t max_accounts = 64) {
  Universe u;
  u.cfg.max_accounts = max_accounts;
  u.cfg.pairs.push_back(pe::PairParams{});  // btc_usd defaults are the 2024-06-17 values
  pe::CurrencyParams btc;
  pe::CurrencyParams usd;
  usd.annualised_move_risk = 0.10;
  usd.extended_dampener = 25000.0;
  usd.usd_settled = true;
  u.cfg.currencies = {btc, usd};
  const double days[4] = {3, 17, 45, 108};
  for (int e = 0; e < 4; ++e) {
    for (double k = 45000; k <= 90000; k += 5000) {
      for (std::uint8_t call = 0; call <= 1; ++call) {
        u.spec.push_back({3, 1, call, 0, 0, k, static_cast<std::int64_t>(days[e])});
        u.market.push_back({65000.0 * (1 + 0.0005 * days[e]), 0.45 + 0.2 * std::fabs(k / 65000 - 1),
                            days[e] / 365.0, 0.0});
      }
    }
    u.spec.push_back({1, 1, 0, 0, 0, 0.0, static_cast<std::int64_t>(days[e])});  // future
    u.market.push_back({65000.0 * (1 + 0.0005 * days[e]), 0.0, days[e] / 365.0, 0.0});
  }
  u.spec.push_back({2, 1, 0, 0, 0, 0.0, -1});  // BTC-PERPETUAL
  u.market.push_back({65010.0, 0.0, 0.0, 0.0});
  u.spec.push_back({2, 0, 0, 0, 1, 0.0, -1});  // BTC_USDC-PERPETUAL
  u.market.push_back({65005.0, 0.0, 0.0, 0.0});
  return u;
}

std::unique_ptr<pe::PreTradeEngine> make_engine(const Universe& u) {
  std::unique_ptr<pe::PreTradeEngine> e;
  const pymargin::Status st = pe::PreTradeEngine::create(u.cfg, u.spec, u.market, u.index, &e);
  EXPECT_TRUE(st.ok()) << st.field << ": " << st.message;
  return e;
}

double amount_for(const pe::InstrumentSpec& s, double coins) {
  return (s.kind != 3 && s.settlement == 1) ? coins * 65000.0 : coins;  // inverse futures: USD
}

// The incremental state is the recompute, bit for bit (the header's promise).
void expect_equal(const pe::GroupMargin& inc, const pe::GroupMargin& ref, const char* where) {
  EXPECT_EQ(inc.initial_margin, ref.initial_margin) << where;
  EXPECT_EQ(inc.maintenance_margin, ref.maintenance_margin) << where;
  EXPECT_EQ(inc.equity, ref.equity) << where;
  EXPECT_EQ(inc.available_funds, ref.available_funds) << where;
  EXPECT_EQ(inc.roll_shock, ref.roll_shock) << where;
  EXPECT_EQ(inc.worst_case, ref.worst_case) << where;
  EXPECT_EQ(inc.delta_shock_exceeded, ref.delta_shock_exceeded) << where;
}

// FNV-1a 64 of the payload: the public algorithm the snapshot uses for its checksum, so that
// the tests can alter a snapshot and re-seal it as an attacker could.
std::uint64_t fnv1a(const char* p, std::size_t n) {
  std::uint64_t h = 1469598103934665603ULL;
  for (std::size_t i = 0; i < n; ++i) {
    h ^= static_cast<unsigned char>(p[i]);
    h *= 1099511628211ULL;
  }
  return h;
}

constexpr std::size_t kHead = 8 + 4 + 4 + 8;  // magic, version, byte order, payload length

std::string reseal(std::string bytes) {
  const std::size_t len = bytes.size() - kHead - 8;
  const std::uint64_t h = fnv1a(bytes.data() + kHead, len);
  std::memcpy(&bytes[kHead + len], &h, 8);
  return bytes;
}

}  // namespace

TEST(PreTrade, IncrementalStateEqualsRecomputeOverRandomStreams) {
  Universe u = make_universe();
  auto eng = make_engine(u);
  std::vector<std::int64_t> acct(6);
  for (auto& a : acct) {
    ASSERT_TRUE(eng->add_account(&a).ok());
    ASSERT_EQ(eng->deposit(a, 0, 50.0), pe::Reason::kNone);
    ASSERT_EQ(eng->deposit(a, 1, 2e6), pe::Reason::kNone);
  }
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  std::vector<std::vector<std::int64_t>> open(acct.size());
  std::int64_t next_id = 1;
  const auto n = static_cast<std::int32_t>(u.spec.size());
  for (int step = 0; step < 20000; ++step) {
    const std::size_t k = rng() % acct.size();
    const std::int64_t a = acct[k];
    const double r = u01(rng);
    const std::int32_t i = static_cast<std::int32_t>(rng() % static_cast<std::uint64_t>(n));
    const pe::Side side = u01(rng) < 0.5 ? pe::Side::kBuy : pe::Side::kSell;
    const double amount = amount_for(u.spec[static_cast<std::size_t>(i)], 0.1 + 5 * u01(rng));
    if (r < 0.35) {
      // check() must equal doing it: add the order, read the margin, take it back.
      const pe::CheckResult c = eng->check(a, i, side, amount);
      ASSERT_EQ(eng->add_order(a, next_id, i, side, amount), pe::Reason::kNone);
      const pe::GroupMargin after = eng->margin(a, c.currency);
      EXPECT_NEAR(c.im_after, after.initial_margin, 1e-9 * (1 + after.initial_margin));
      EXPECT_NEAR(c.available_after, after.available_funds, 1e-9 * (1 + std::fabs(after.equity)));
      open[k].push_back(next_id++);
    } else if (r < 0.55 && !open[k].empty()) {
      const std::size_t j = rng() % open[k].size();
      ASSERT_EQ(eng->cancel_order(a, open[k][j]), pe::Reason::kNone);
      open[k].erase(open[k].begin() + static_cast<std::ptrdiff_t>(j));
    } else if (r < 0.95) {
      const double price = u.spec[static_cast<std::size_t>(i)].kind == 3 ? 0.01 + 0.05 * u01(rng)
                                                                         : 64000 + 2000 * u01(rng);
      ASSERT_EQ(eng->apply_fill(a, -1, i, side, amount, price), pe::Reason::kNone);
    } else {
      // A market update: every forward moves, vols too; accounts are re-aggregated.
      const double f = 1.0 + 0.02 * (u01(rng) - 0.5);
      for (auto& m : u.market) {
        m.forward *= f;
        if (m.vol > 0) m.vol *= 1.0 + 0.05 * (u01(rng) - 0.5);
      }
      u.index[0] *= f;
      ASSERT_TRUE(eng->on_market_update(u.market, u.index).ok());
    }
    if (step % 97 == 0) {
      for (std::int32_t c = 0; c < 2; ++c) {
        expect_equal(eng->margin(a, c), eng->margin_from_scratch(a, c), "stream");
      }
    }
  }
  for (std::int64_t a : acct) {
    for (std::int32_t c = 0; c < 2; ++c) {
      const pe::GroupMargin g = eng->margin(a, c);
      EXPECT_GT(g.initial_margin, 0.0);
      expect_equal(g, eng->margin_from_scratch(a, c), "end");
    }
  }
}

TEST(PreTrade, AddOnlyStreamsAreBitwiseEqualToRecompute) {
  Universe u = make_universe();
  auto eng = make_engine(u);
  std::int64_t a = -1;
  ASSERT_TRUE(eng->add_account(&a).ok());
  std::mt19937_64 rng(7);
  for (int k = 0; k < 500; ++k) {
    const auto i = static_cast<std::int32_t>(rng() % u.spec.size());
    const pe::Side side = (rng() & 1) ? pe::Side::kBuy : pe::Side::kSell;
    ASSERT_EQ(eng->add_order(a, k, i, side, amount_for(u.spec[static_cast<std::size_t>(i)], 1.0)),
              pe::Reason::kNone);
  }
  for (std::int32_t c = 0; c < 2; ++c) {
    const pe::GroupMargin inc = eng->margin(a, c);
    const pe::GroupMargin ref = eng->margin_from_scratch(a, c);
    EXPECT_EQ(inc.initial_margin, ref.initial_margin);
    EXPECT_EQ(inc.roll_shock, ref.roll_shock);
  }
}

TEST(PreTrade, OpenOrdersCountAsTheWorseSideFilling) {
  Universe u = make_universe();
  auto eng = make_engine(u);
  std::int64_t a = -1;
  ASSERT_TRUE(eng->add_account(&a).ok());
  ASSERT_EQ(eng->deposit(a, 0, 10.0), pe::Reason::kNone);
  const std::int32_t perp = static_cast<std::int32_t>(u.spec.size()) - 2;  // BTC-PERPETUAL
  // Buy and sell orders of the same size: the IM is one side's, not the sum.
  ASSERT_EQ(eng->add_order(a, 1, perp, pe::Side::kBuy, 65000.0 * 5), pe::Reason::kNone);
  const double one_side = eng->margin(a, 0).initial_margin;
  ASSERT_EQ(eng->add_order(a, 2, perp, pe::Side::kSell, 65000.0 * 5), pe::Reason::kNone);
  EXPECT_DOUBLE_EQ(eng->margin(a, 0).initial_margin, one_side);
  // A burst of buys adds up: each check sees the ones before it.
  double last = one_side;
  for (int k = 0; k < 5; ++k) {
    const pe::CheckResult c = eng->check(a, perp, pe::Side::kBuy, 65000.0 * 5);
    EXPECT_GT(c.im_after, last);
    ASSERT_EQ(eng->add_order(a, 10 + k, perp, pe::Side::kBuy, 65000.0 * 5), pe::Reason::kNone);
    last = c.im_after;
  }
  // Until the account cannot carry the next one.
  pe::CheckResult c = eng->check(a, perp, pe::Side::kBuy, 65000.0 * 250);
  EXPECT_FALSE(c.accept);
  EXPECT_EQ(c.reason, pe::Reason::kInsufficientFunds);
  EXPECT_LT(c.available_after, 0.0);
}

TEST(PreTrade, BadRequestsAreRefusedWithTheirReason) {
  Universe u = make_universe();
  auto eng = make_engine(u);
  std::int64_t a = -1;
  ASSERT_TRUE(eng->add_account(&a).ok());
  EXPECT_EQ(eng->check(a + 1, 0, pe::Side::kBuy, 1.0).reason, pe::Reason::kUnknownAccount);
  EXPECT_EQ(eng->check(a, -1, pe::Side::kBuy, 1.0).reason, pe::Reason::kUnknownInstrument);
  EXPECT_EQ(eng->check(a, 0, pe::Side::kBuy, NAN).reason, pe::Reason::kBadSize);
  EXPECT_EQ(eng->check(a, 0, pe::Side::kBuy, 0.0).reason, pe::Reason::kBadSize);
  EXPECT_EQ(eng->add_order(a, 1, 0, pe::Side::kBuy, 1.0), pe::Reason::kNone);
  EXPECT_EQ(eng->add_order(a, 1, 0, pe::Side::kBuy, 1.0), pe::Reason::kDuplicateOrder);
  EXPECT_EQ(eng->cancel_order(a, 99), pe::Reason::kUnknownOrder);
  EXPECT_EQ(eng->apply_fill(a, 1, 0, pe::Side::kBuy, 2.0, 0.01), pe::Reason::kBadSize);
  EXPECT_EQ(eng->apply_fill(a, 1, 0, pe::Side::kBuy, 1.0, -1.0), pe::Reason::kBadPrice);
  EXPECT_EQ(eng->withdraw(a, 0, 1.0), pe::Reason::kInsufficientFunds);
  // Net delta above Deribit's delta_total_liq_shock_threshold (20 M USD): not modelled.
  const std::int32_t perp = static_cast<std::int32_t>(u.spec.size()) - 2;
  ASSERT_EQ(eng->deposit(a, 0, 1e6), pe::Reason::kNone);
  const pe::CheckResult big = eng->check(a, perp, pe::Side::kBuy, 25e6);
  EXPECT_FALSE(big.accept);
  EXPECT_EQ(big.reason, pe::Reason::kDeltaShockNotModelled);
  // A market update with a bad price changes nothing.
  std::vector<pe::InstrumentMarket> bad = u.market;
  bad[3].forward = -1.0;
  const double before = eng->margin(a, 0).initial_margin;
  const pymargin::Status st = eng->on_market_update(bad, u.index);
  EXPECT_FALSE(st.ok());
  EXPECT_STREQ(st.field, "forward");
  EXPECT_EQ(st.index, 3u);
  EXPECT_EQ(eng->margin(a, 0).initial_margin, before);
}

TEST(PreTrade, SnapshotRestoresEverythingAndRefusesDamagedBytes) {
  Universe u = make_universe();
  auto eng = make_engine(u);
  std::mt19937_64 rng(3);
  for (int k = 0; k < 3; ++k) {
    std::int64_t a = -1;
    ASSERT_TRUE(eng->add_account(&a).ok());
    ASSERT_EQ(eng->deposit(a, 0, 20.0 + k), pe::Reason::kNone);
    for (int j = 0; j < 40; ++j) {
      const auto i = static_cast<std::int32_t>(rng() % u.spec.size());
      const double amt = amount_for(u.spec[static_cast<std::size_t>(i)], 0.5);
      ASSERT_EQ(eng->apply_fill(a, -1, i, pe::Side::kSell, amt, 0.02), pe::Reason::kNone);
      ASSERT_EQ(eng->add_order(a, 100 * k + j, i, pe::Side::kBuy, amt), pe::Reason::kNone);
    }
  }
  const std::string bytes = eng->snapshot();
  std::unique_ptr<pe::PreTradeEngine> back;
  ASSERT_TRUE(pe::PreTradeEngine::restore(bytes, &back).ok());
  ASSERT_EQ(back->accounts(), 3u);
  for (std::int64_t a = 0; a < 3; ++a) {
    for (std::int32_t c = 0; c < 2; ++c) {
      const pe::GroupMargin want = eng->margin_from_scratch(a, c);
      const pe::GroupMargin got = back->margin(a, c);
      EXPECT_EQ(got.initial_margin, want.initial_margin);  // same sums in the same order
      EXPECT_EQ(got.equity, want.equity);
    }
  }
  EXPECT_EQ(back->snapshot(), bytes);
  std::string flipped = bytes;
  flipped[flipped.size() / 2] ^= 0x10;
  pymargin::Status st = pe::PreTradeEngine::restore(flipped, &back);
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(back, nullptr);
  EXPECT_NE(std::string(st.message).find("checksum"), std::string::npos);
  st = pe::PreTradeEngine::restore(bytes.substr(0, bytes.size() - 9), &back);
  EXPECT_NE(std::string(st.message).find("length"), std::string::npos);
  std::string other_version = bytes;
  other_version[8] = 99;
  st = pe::PreTradeEngine::restore(other_version, &back);
  EXPECT_NE(std::string(st.message).find("version"), std::string::npos);
  st = pe::PreTradeEngine::restore("not a snapshot", &back);
  EXPECT_FALSE(st.ok());
}

TEST(PreTrade, ChecksRunConcurrentlyWithMarketUpdates) {
  Universe u = make_universe();
  auto eng = make_engine(u);
  std::vector<std::int64_t> acct(4);
  for (auto& a : acct) {
    ASSERT_TRUE(eng->add_account(&a).ok());
    ASSERT_EQ(eng->deposit(a, 0, 30.0), pe::Reason::kNone);
    for (int j = 0; j < 20; ++j) {
      ASSERT_EQ(eng->apply_fill(a, -1, j * 3, pe::Side::kSell, 1.0, 0.02), pe::Reason::kNone);
    }
  }
  std::atomic<bool> stop{false};
  std::atomic<long> checks{0};
  std::vector<std::thread> workers;
  for (std::size_t w = 0; w < acct.size(); ++w) {
    workers.emplace_back([&, w] {
      std::mt19937_64 rng(w);
      while (!stop.load(std::memory_order_relaxed)) {
        const auto i = static_cast<std::int32_t>(rng() % 80);
        const pe::CheckResult c = eng->check(acct[w], i, pe::Side::kSell, 0.5);
        if (!(c.im_after >= c.im_before - 1e-9) || !std::isfinite(c.available_after)) {
          ADD_FAILURE() << "inconsistent check";
          return;
        }
        const long done = checks.fetch_add(1, std::memory_order_relaxed);
        if ((done & 255) == 0 && done < 100000) {
          eng->add_order(acct[w], static_cast<std::int64_t>(rng() >> 1), i, pe::Side::kBuy, 0.1);
        }
        std::this_thread::yield();  // two cores, five threads: let the updater run
      }
    });
  }
  // Updates start once the workers run (with two cores they might otherwise all finish first).
  while (checks.load() == 0) std::this_thread::yield();
  for (int k = 0; k < 30; ++k) {
    for (auto& m : u.market) m.forward *= 1.0 + 0.001 * ((k % 3) - 1);
    u.index[0] *= 1.0 + 0.001 * ((k % 3) - 1);
    ASSERT_TRUE(eng->on_market_update(u.market, u.index).ok());
  }
  stop = true;
  for (auto& t : workers) t.join();
  EXPECT_GT(checks.load(), 0);
  for (std::int64_t a : acct) {
    expect_equal(eng->margin(a, 0), eng->margin_from_scratch(a, 0), "after threads");
  }
}

TEST(PreTrade, OverflowingChangesAreRefusedBeforeAnythingChanges) {
  Universe u = make_universe();
  auto eng = make_engine(u);
  std::int64_t a = -1;
  ASSERT_TRUE(eng->add_account(&a).ok());
  ASSERT_EQ(eng->deposit(a, 0, 10.0), pe::Reason::kNone);
  ASSERT_EQ(eng->apply_fill(a, -1, 3, pe::Side::kSell, 1.0, 0.02), pe::Reason::kNone);
  const std::string before = eng->snapshot();
  const double huge = 1e300;
  // A fill at an absurd price: the cash flow overflows.
  EXPECT_EQ(eng->apply_fill(a, -1, 5, pe::Side::kBuy, huge, 1e10), pe::Reason::kNonFiniteState);
  EXPECT_TRUE(eng->snapshot() == before);  // nothing changed
  // An absurd amount whose values all stay finite is a fill like any other (its margin is
  // finite: Deribit's rounding to 1e-9 leaves values from 1e15 on as they are); the same
  // again overflows the position and is refused, as is an order on top of it.
  ASSERT_EQ(eng->apply_fill(a, -1, 5, pe::Side::kBuy, 1.7e308, 1e-300), pe::Reason::kNone);
  EXPECT_TRUE(std::isfinite(eng->margin(a, 0).initial_margin));
  const std::string held = eng->snapshot();
  EXPECT_EQ(eng->apply_fill(a, -1, 5, pe::Side::kBuy, 1.7e308, 1e-300),
            pe::Reason::kNonFiniteState);
  EXPECT_EQ(eng->add_order(a, 1, 5, pe::Side::kBuy, 1.7e308), pe::Reason::kNonFiniteState);
  EXPECT_TRUE(eng->snapshot() == held);  // nothing changed
  expect_equal(eng->margin(a, 0), eng->margin_from_scratch(a, 0), "after refused fills");
  // A deposit that overflows the balance.
  ASSERT_EQ(eng->deposit(a, 0, 1.5e308), pe::Reason::kNone);
  const std::string full = eng->snapshot();
  EXPECT_EQ(eng->deposit(a, 0, 1.5e308), pe::Reason::kNonFiniteState);
  EXPECT_TRUE(eng->snapshot() == full);
  // Checks of orders whose margin would overflow are refused, not accepted.
  const pe::CheckResult c = eng->check(a, 5, pe::Side::kBuy, 1.7e308);
  EXPECT_FALSE(c.accept);
  EXPECT_NE(c.reason, pe::Reason::kNone);
  // A market update under which the account would overflow is refused; nothing moves.
  std::int64_t b = -1;
  ASSERT_TRUE(eng->add_account(&b).ok());
  const auto usdc_perp = static_cast<std::int32_t>(u.spec.size() - 1);
  ASSERT_EQ(eng->deposit(b, 1, 1e300), pe::Reason::kNone);
  ASSERT_EQ(eng->apply_fill(b, -1, usdc_perp, pe::Side::kBuy, 1e294, 65005.0), pe::Reason::kNone);
  const std::string mid = eng->snapshot();
  auto market = u.market;
  for (auto& m : market) m.forward *= 1e10;
  std::vector<double> index{u.index[0] * 1e10};
  EXPECT_FALSE(eng->on_market_update(market, index).ok());
  EXPECT_TRUE(eng->snapshot() == mid);
  expect_equal(eng->margin(a, 0), eng->margin_from_scratch(a, 0), "after refusals");
}

TEST(PreTrade, DecimalFillsThatAddUpCompleteTheOrder) {
  Universe u = make_universe();
  auto eng = make_engine(u);
  std::int64_t a = -1;
  ASSERT_TRUE(eng->add_account(&a).ok());
  ASSERT_EQ(eng->deposit(a, 0, 10.0), pe::Reason::kNone);
  ASSERT_EQ(eng->add_order(a, 7, 3, pe::Side::kBuy, 0.3), pe::Reason::kNone);
  ASSERT_EQ(eng->apply_fill(a, 7, 3, pe::Side::kBuy, 0.1, 0.02), pe::Reason::kNone);
  ASSERT_EQ(eng->apply_fill(a, 7, 3, pe::Side::kBuy, 0.2, 0.02), pe::Reason::kNone);
  EXPECT_EQ(eng->cancel_order(a, 7), pe::Reason::kUnknownOrder);  // complete, not open
  // Overfilling beyond the tolerance is still refused.
  ASSERT_EQ(eng->add_order(a, 8, 3, pe::Side::kBuy, 0.3), pe::Reason::kNone);
  EXPECT_EQ(eng->apply_fill(a, 8, 3, pe::Side::kBuy, 0.31, 0.02), pe::Reason::kBadSize);
  // Selling the position back in decimal pieces leaves it flat: 0, not 2.8e-17.
  ASSERT_EQ(eng->cancel_order(a, 8), pe::Reason::kNone);
  ASSERT_EQ(eng->apply_fill(a, -1, 3, pe::Side::kSell, 0.1, 0.02), pe::Reason::kNone);
  ASSERT_EQ(eng->apply_fill(a, -1, 3, pe::Side::kSell, 0.2, 0.02), pe::Reason::kNone);
  const pe::GroupMargin g = eng->margin(a, 0);
  EXPECT_EQ(g.worst_case, 0.0);
  EXPECT_EQ(g.roll_shock, 0.0);
}

TEST(PreTrade, CraftedSnapshotsAreRefusedWithoutHugeAllocations) {
  Universe u = make_universe();
  auto eng = make_engine(u);
  std::int64_t a = -1;
  ASSERT_TRUE(eng->add_account(&a).ok());
  ASSERT_EQ(eng->deposit(a, 0, 10.0), pe::Reason::kNone);
  ASSERT_EQ(eng->apply_fill(a, -1, 3, pe::Side::kSell, 1.0, 0.02), pe::Reason::kNone);
  ASSERT_EQ(eng->add_order(a, 5, 4, pe::Side::kBuy, 1.0), pe::Reason::kNone);
  const std::string bytes = eng->snapshot();
  std::unique_ptr<pe::PreTradeEngine> back;
  ASSERT_TRUE(pe::PreTradeEngine::restore(reseal(bytes), &back).ok());
  // Offsets in the payload: buckets i32, mm_factor f64, model u8, pairs (u64 + 8 f64 each),
  // grid assets (u64, none), standard underlyings u64, the Greek-netting section (four empty
  // vectors and two f64: 48 bytes), the SPAN section (three empty vectors: 24 bytes), the
  // Derive section (34 f64, an empty vector, a u64: 288 bytes), currencies (u64 + (5 f64 + u8
  // + the X:PM terms f64, u8, i32) each), then max_accounts.
  const std::size_t pairs = u.cfg.pairs.size();
  const std::size_t ccys = u.cfg.currencies.size();
  const std::size_t at_max =
      kHead + 4 + 8 + 1 + 8 + pairs * 64 + 8 + 8 + 48 + 24 + 288 + 8 + ccys * 54;
  auto with_u64 = [&](std::size_t at, std::uint64_t v) {
    std::string b = bytes;
    std::memcpy(&b[at], &v, 8);
    return reseal(b);
  };
  for (std::uint64_t cap : {std::uint64_t{1} << 40, ~std::uint64_t{0}, std::uint64_t{0}}) {
    const pymargin::Status st = pe::PreTradeEngine::restore(with_u64(at_max, cap), &back);
    EXPECT_FALSE(st.ok());
    EXPECT_EQ(back, nullptr);
  }
  // The account count is the u64 just before the first account's collateral vector
  // (instruments: 27 bytes of spec, two f64 minimum charges, the f64 strike floor and 58
  // bytes of standard terms each; market inputs 5 f64 each).
  const std::size_t n_inst = u.spec.size();
  const std::size_t at_used = at_max + 8 + 8 + n_inst * 109 + 8 + n_inst * 40 + 8 + 8;
  std::uint64_t used = 0;
  std::memcpy(&used, &bytes[at_used], 8);
  ASSERT_EQ(used, 1u);
  EXPECT_FALSE(pe::PreTradeEngine::restore(with_u64(at_used, 1u << 20), &back).ok());
  // NaN collateral, re-sealed.
  std::string nan_coll = bytes;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::memcpy(&nan_coll[at_used + 8 + 8], &nan, 8);
  const pymargin::Status st = pe::PreTradeEngine::restore(reseal(nan_coll), &back);
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(std::string(st.field), "snapshot.collateral");
  // Every single-byte change in the payload, re-sealed: a typed refusal or an engine whose
  // every account is finite and equal to its recompute; never a crash.
  for (std::size_t i = kHead; i + 8 < bytes.size(); ++i) {
    for (int x : {0x01, 0xff}) {
      std::string b = bytes;
      b[i] = static_cast<char>(b[i] ^ x);
      std::unique_ptr<pe::PreTradeEngine> e;
      if (!pe::PreTradeEngine::restore(reseal(b), &e).ok()) continue;
      for (std::int64_t k = 0; k < static_cast<std::int64_t>(e->accounts()); ++k) {
        for (std::int32_t c = 0; c < 2; ++c) {
          const pe::GroupMargin g = e->margin(k, c);
          EXPECT_TRUE(std::isfinite(g.equity) && std::isfinite(g.initial_margin) &&
                      std::isfinite(g.available_funds))
              << "byte " << i;
        }
      }
    }
  }
}

TEST(PreTrade, CheckManyIsCheckOfEachCandidate) {
  Universe u = make_universe();
  auto eng = make_engine(u);
  std::int64_t a = -1;
  ASSERT_TRUE(eng->add_account(&a).ok());
  ASSERT_EQ(eng->deposit(a, 0, 20.0), pe::Reason::kNone);
  ASSERT_EQ(eng->deposit(a, 1, 5e5), pe::Reason::kNone);
  std::mt19937_64 rng(5);
  const auto n_inst = static_cast<std::int32_t>(u.spec.size());
  for (int k = 0; k < 40; ++k) {
    const auto i = static_cast<std::int32_t>(rng() % static_cast<std::uint64_t>(n_inst));
    const pe::Side side = (rng() & 1) ? pe::Side::kBuy : pe::Side::kSell;
    ASSERT_EQ(
        eng->apply_fill(a, -1, i, side, amount_for(u.spec[static_cast<std::size_t>(i)], 1.0),
                        0.02 + (u.spec[static_cast<std::size_t>(i)].kind != 3 ? 65000.0 : 0.0)),
        pe::Reason::kNone);
  }
  std::vector<std::int32_t> inst;
  std::vector<pe::Side> side;
  std::vector<double> amount;
  for (int k = 0; k < 200; ++k) {
    inst.push_back(static_cast<std::int32_t>(rng() % static_cast<std::uint64_t>(n_inst)));
    side.push_back((rng() & 1) ? pe::Side::kBuy : pe::Side::kSell);
    amount.push_back(amount_for(u.spec[static_cast<std::size_t>(inst.back())], 0.5 + k % 7));
  }
  inst.push_back(-1), side.push_back(pe::Side::kBuy), amount.push_back(1.0);   // unknown
  inst.push_back(0), side.push_back(pe::Side::kSell), amount.push_back(-1.0);  // bad size
  inst.push_back(0), side.push_back(static_cast<pe::Side>(7)), amount.push_back(1.0);
  std::vector<pe::CheckResult> out(inst.size());
  eng->check_many(a, inst.size(), inst.data(), side.data(), amount.data(), out.data());
  for (std::size_t j = 0; j + 1 < inst.size(); ++j) {
    const pe::CheckResult one = eng->check(a, inst[j], side[j], amount[j]);
    EXPECT_EQ(out[j].accept, one.accept) << j;
    EXPECT_EQ(out[j].reason, one.reason) << j;
    EXPECT_EQ(out[j].currency, one.currency) << j;
    EXPECT_EQ(out[j].im_before, one.im_before) << j;
    EXPECT_EQ(out[j].im_after, one.im_after) << j;
    EXPECT_EQ(out[j].available_after, one.available_after) << j;
  }
  EXPECT_EQ(out.back().reason, pe::Reason::kBadSize);  // a side that is neither buy nor sell
  std::vector<pe::CheckResult> none(1);
  eng->check_many(999, 1, inst.data(), side.data(), amount.data(), none.data());
  EXPECT_EQ(none[0].reason, pe::Reason::kUnknownAccount);
}
