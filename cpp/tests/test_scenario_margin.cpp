// SPDX-License-Identifier: Apache-2.0
// The scenario-margin model: each term worked out by hand on small groups (credit and cap,
// dampener, weights, tie-breaks, sets summed before the worst case, minimum delta, floors,
// roll shock, rounding), and refusals before anything is written.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "pymargin/models/scenario_margin.hpp"

namespace pmm = pymargin::models;

namespace {

struct Evaluation {
  std::vector<pmm::SetResult> per;
  std::vector<double> set_entries;
  std::vector<double> group_entries;
  pmm::MarginResult out;
  pymargin::Status st;
};

Evaluation run(const pmm::ModelRules& r, std::size_t ns, const std::vector<pmm::GroupView>& g,
               std::size_t sets, const std::vector<double>& roll_k = {},
               const std::vector<double>& roll_d = {}, double im_addon = 0.0,
               double mm_addon = 0.0) {
  Evaluation x;
  x.per.resize(sets);
  x.set_entries.assign(sets * ns, -7.0);
  x.group_entries.assign(g.size() * ns, -7.0);
  x.out.initial_margin = -7.0;
  x.st = pmm::scenario_margin(r, ns, g.size(), g.data(), sets, roll_k.size(), roll_k.data(),
                              roll_d.data(), im_addon, mm_addon, x.per.data(), &x.out,
                              x.set_entries.data(), x.group_entries.data());
  return x;
}

}  // namespace

TEST(ScenarioMargin, CreditCapDampenerAndWeights) {
  const double pnl[4] = {10.0, -3.0, 4.0, -20.0};
  const double damp[4] = {0.0, 0.0, 1.0, 5.0};
  const double weight[4] = {1.0, 1.0, 1.0, 0.5};
  pmm::GroupView g;
  g.pnl = pnl;
  g.damp = damp;
  g.weight = weight;
  g.pnl_offset = 0.5;
  g.cap = 2.0;
  const Evaluation x = run({}, 4, {g}, 1);
  ASSERT_TRUE(x.st.ok()) << x.st.message;
  // 10 -> min(5, 2) = 2; -3 stays; 4 -> 2 (credit, capped) -> 1 (dampened); -20 -> -15 -> -7.5.
  EXPECT_EQ(x.group_entries, (std::vector<double>{2.0, -3.0, 1.0, -7.5}));
  EXPECT_EQ(x.per[0].lowest, -7.5);
  EXPECT_EQ(x.per[0].at, 3);
  EXPECT_EQ(x.out.worst, 7.5);
  EXPECT_EQ(x.out.maintenance_margin, 7.5);  // mm_factor 1
}

TEST(ScenarioMargin, TiesPreferTheConfiguredEntry) {
  const double pnl[6] = {-4.0, -4.0, 1.0, -4.0, -4.0, 0.0};
  pmm::GroupView g;
  g.pnl = pnl;
  g.cap = std::numeric_limits<double>::infinity();
  pmm::ModelRules first;
  EXPECT_EQ(run(first, 6, {g}, 1).per[0].at, 0);
  pmm::ModelRules deribit;  // prefer j % 3 == 1 among the standard entries
  deribit.tie_standard = 6;
  deribit.tie_period = 3;
  deribit.tie_slot = 1;
  EXPECT_EQ(run(deribit, 6, {g}, 1).per[0].at, 1);
  deribit.tie_standard = 3;  // index 4 is no longer standard: 1 still is
  EXPECT_EQ(run(deribit, 6, {g}, 1).per[0].at, 1);
}

TEST(ScenarioMargin, SetsSumTheirGroupsBeforeTheWorstCase) {
  const double a[2] = {-5.0, 3.0};
  const double b[2] = {4.0, -1.0};
  pmm::GroupView ga, gb;
  ga.pnl = a;
  gb.pnl = b;
  ga.pnl_offset = gb.pnl_offset = 1.0;
  ga.cap = gb.cap = std::numeric_limits<double>::infinity();
  // Separate sets: 5 + 1.
  gb.set = 1;
  EXPECT_EQ(run({}, 2, {ga, gb}, 2).out.worst, 6.0);
  // One set (X:PM's pair): (-5 + 4, 3 - 1) = (-1, 2): 1.
  gb.set = 0;
  const Evaluation x = run({}, 2, {ga, gb}, 1);
  EXPECT_EQ(x.out.worst, 1.0);
  EXPECT_EQ(x.set_entries, (std::vector<double>{-1.0, 2.0}));
}

TEST(ScenarioMargin, MinimumDeltaFloorsRollAndRounding) {
  const double pnl[2] = {-100.0, 50.0};
  pmm::GroupView g;
  g.pnl = pnl;
  g.net_delta = -2.0;
  g.gross_delta = 6.0;
  g.delta_price = 60.0;
  g.unhedged_delta = 1.0;
  g.hedged_delta = 0.5;
  pmm::ModelRules paradex;
  paradex.mm_factor = 0.5;
  // min delta = (1 x 2 + 0.5 x (6 - 2) / 2) x 60 = 180 > loss 100.
  Evaluation x = run(paradex, 2, {g}, 1, {}, {}, 3.0, 3.0);
  EXPECT_EQ(x.per[0].min_delta, 180.0);
  EXPECT_EQ(x.per[0].charge, 180.0);
  EXPECT_EQ(x.out.initial_margin, 183.0);
  EXPECT_EQ(x.out.maintenance_margin, 93.0);
  g.floor = 250.0;  // a per-contract minimum above both
  x = run(paradex, 2, {g}, 1);
  EXPECT_EQ(x.out.worst, 250.0);
  // Roll shock and Deribit's rounding: round9(worst) + sum k |d|.
  const double tiny[2] = {-0.1234567894, 0.0};
  pmm::GroupView h;
  h.pnl = tiny;
  pmm::ModelRules deribit;
  deribit.round_worst = true;
  deribit.mm_factor = 0.8;
  x = run(deribit, 2, {h}, 1, {0.01, 0.02}, {-3.0, 1.0});
  EXPECT_DOUBLE_EQ(x.out.roll, 0.05);
  EXPECT_DOUBLE_EQ(x.out.rmm, 0.123456789 + 0.05);
  EXPECT_DOUBLE_EQ(x.out.maintenance_margin, 0.8 * x.out.rmm);
}

TEST(ScenarioMargin, BadInputAndOverflowAreRefused) {
  const double nan_pnl[2] = {std::numeric_limits<double>::quiet_NaN(), 0.0};
  pmm::GroupView g;
  g.pnl = nan_pnl;
  Evaluation x = run({}, 2, {g}, 1);
  EXPECT_FALSE(x.st.ok());
  EXPECT_EQ(x.out.initial_margin, -7.0);  // nothing written
  EXPECT_EQ(x.set_entries[0], -7.0);
  const double pnl[2] = {1.0, -1.0};
  g.pnl = pnl;
  g.set = 1;  // no such set
  EXPECT_FALSE(run({}, 2, {g}, 1).st.ok());
  g.set = 0;
  g.pnl_offset = 1.5;
  EXPECT_FALSE(run({}, 2, {g}, 1).st.ok());
  // Finite inputs whose weighted sum overflows: an error, not a margin.
  const double big[2] = {-1.5e308, 0.0};
  const double w[2] = {2.0, 1.0};
  pmm::GroupView o;
  o.pnl = big;
  o.weight = w;
  x = run({}, 2, {o}, 1);
  EXPECT_FALSE(x.st.ok());
  EXPECT_EQ(x.out.initial_margin, -7.0);
  pmm::GroupView p1, p2;
  const double half[2] = {-1.7e308, 0.0};
  p1.pnl = p2.pnl = half;
  x = run({}, 2, {p1, p2}, 1);  // two groups of one set: -inf
  EXPECT_FALSE(x.st.ok());
}
