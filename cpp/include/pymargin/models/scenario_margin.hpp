// SPDX-License-Identifier: Apache-2.0
// The scenario-margin model: one implementation of the published grid models (Deribit
// portfolio margin, Paradex SCAN-24, the FINRA/Cboe grid, SPAN scan risk), each of them a set
// of parameters, not code.
//
// Inputs are margin groups, each with its scenario P&L vector (the sum of its positions'
// revalued risk rows, in its settlement currency) and its constants, and each belonging to a
// set whose worst case is taken: Deribit S:PM, a group and a set per settlement currency x
// pair; Deribit X:PM, a group per (pair, currency) in USD and a set per pair; Paradex and
// FINRA, a group and a set per underlying. Per group and per set:
//
//   entry_j   = weight_j x D_j(C(v_j))        C: gains credited at pnl_offset, capped at cap;
//                                             D_j: magnitude reduced by damp_j, not past zero
//   set_j     = sum of its groups' entry_j
//   loss      = max(0, -min_j set_j)          (the lowest entry, with the model's tie-break)
//   min_delta = sum over its groups of (unhedged |net| + hedged (gross - |net|) / 2) x price
//   charge    = max(loss, floor, min_delta)   floor: its groups' per-contract or short-option
//                                             minimums, summed
//
// and for the account: worst = sum of the sets' charges, roll = sum_e roll_k_e x |delta_e|
// over expiries, RMM = R(worst) + roll, IM = R(RMM + im_addon), MM = mm_factor x RMM +
// mm_addon, with R the venue's rounding (Deribit rounds to 1e-9; the others none).
//
// Each venue's parameter set, with its sources: the model modules of the Python package
// (pymargin/models) and the dated parameter files (pymargin/data/models).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "pymargin/error.hpp"

namespace pymargin::models {

// The rules of a model that are not per group.
struct ModelRules {
  double mm_factor = 1.0;    // MM = mm_factor x RMM + mm_addon
  bool round_worst = false;  // Deribit: the worst case and the IM rounded to 1e-9
  // Tie-break among equal lowest entries: prefer an index j < tie_standard with
  // j % tie_period == tie_slot (Deribit: a bucket's unchanged-vol entry), else the first.
  // tie_period = 0: the first lowest entry.
  std::size_t tie_standard = 0;
  std::size_t tie_period = 0;
  std::size_t tie_slot = 0;
};

// One margin group. Pointers may be null where the model has no such term.
struct GroupView {
  const double* pnl = nullptr;     // [ns] scenario P&L, settlement currency
  const double* weight = nullptr;  // [ns] loss weights (null: 1)
  const double* damp = nullptr;    // [ns] dampener per entry (null: none)
  double pnl_offset = 0.0;         // gains count at this fraction, 0 .. 1 (0: not at all)
  double cap = 0.0;                // the most a credited gain counts (settlement units)
  double net_delta = 0.0;          // coins of the underlying
  double gross_delta = 0.0;        // sum of |delta| over positions, coins
  double delta_price = 0.0;        // settlement units per coin of delta (min delta term)
  double unhedged_delta = 0.0;     // Paradex's minimum delta factors (0: no minimum delta)
  double hedged_delta = 0.0;
  double floor = 0.0;    // minimum charge of the group (settlement units)
  std::int32_t set = 0;  // the set it belongs to, 0 .. sets - 1
};

struct SetResult {
  double loss = 0.0;       // max(0, -lowest entry)
  double lowest = 0.0;     // the lowest entry itself
  std::int32_t at = -1;    // its scenario
  double min_delta = 0.0;  // the minimum delta requirement
  double floor = 0.0;      // its groups' floors, summed
  double charge = 0.0;     // max(loss, floor, min_delta)
};

struct MarginResult {
  double worst = 0.0;  // sum of the sets' charges (unrounded)
  double roll = 0.0;
  double rmm = 0.0;
  double initial_margin = 0.0;
  double maintenance_margin = 0.0;
};

// One entry as the model counts it (before its weight): a gain credited at offset up to
// cap, a loss in full, then the magnitude reduced by damp, not past zero. Written without a
// branch on the data (entries change sign at random: a branch would mispredict half the
// time): with 0 <= offset <= 1 and cap >= 0, min(v offset, cap, v) is the credited gain for
// v > 0 and v itself for v <= 0; damp = 0 leaves the entry as it is.
inline double credited_entry(double v, double offset, double cap, double damp) noexcept {
  double x = v * offset;
  x = x < cap ? x : cap;
  x = x < v ? x : v;
  const double shrunk = std::fabs(x) - damp;
  return std::copysign(shrunk > 0.0 ? shrunk : 0.0, x);
}

// Evaluates the model. `set_entries` [sets x ns] receives each set's summed entries (the
// vector whose lowest entry is the loss); `group_entries` (optional, [groups x ns]) each
// group's. Inputs are checked first (finite, weights and dampeners >= 0, caps >= 0, set
// indices in range): a bad input writes nothing. Results that are not finite (sums that
// overflow) are an error, never a margin: `out` is then not written (the rest may be).
// No allocation, no exception.
Status scenario_margin(const ModelRules& rules, std::size_t ns, std::size_t groups,
                       const GroupView* group, std::size_t sets, std::size_t expiries,
                       const double* roll_k, const double* expiry_delta, double im_addon,
                       double mm_addon, SetResult* per_set, MarginResult* out, double* set_entries,
                       double* group_entries = nullptr) noexcept;

}  // namespace pymargin::models
