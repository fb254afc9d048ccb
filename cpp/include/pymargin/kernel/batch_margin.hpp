// SPDX-License-Identifier: Apache-2.0
// Batch margin: every account of a venue margined from cached risk arrays in one pass.
//
// Accounts hold positions sparsely (CSR: account a's positions are entries
// offsets[a] .. offsets[a+1] of `instrument` and `amount`). Each instrument has a model-ready
// risk row (the Deribit S:PM vector of one unit: standard entries, then extended ones, scaled;
// see pymargin/engine/pretrade.hpp), a pair (underlying) index, an expiry index, a coin delta
// and a mark value per unit, all in the margin group's settlement currency.
//
// Per account: the pair vectors are summed position by position into a per-thread scratch
// (no accounts x scenarios matrix), then the core's scenario-margin model applied with a group
// per pair: gains credited at pnl_offset up to the cap, extended entries dampened (and, for
// other venues, losses weighted, floors and the minimum delta), the worst case summed over
// pairs; roll shock from the per-expiry net deltas; RMM = round9(worst) + roll; IM =
// round9(RMM), MM = mm_factor x RMM (no rounding where round_worst is off); equity = collateral +
// sum of amount x value; ratio = MM / equity; status 0 healthy, 1 margin call (IM >= equity), 2
// liquidation (MM >= equity), 3 not covered (a pair's net delta beyond delta_limit, or a sum that
// overflows: NaN margins and ratio; never "healthy"). worst_index: the lowest credited/dampened
// entry over the pairs, with the model's tie-breaks. Threads split the accounts; results do not
// depend on the split.
#pragma once

#include <cstddef>
#include <cstdint>

#include "pymargin/error.hpp"
#include "pymargin/models/derive_pm.hpp"
#include "pymargin/models/sensitivity_margin.hpp"
#include "pymargin/models/standard_margin.hpp"

namespace pymargin::kernel {

// The model is the core's scenario-margin model (pymargin/models/scenario_margin.hpp) with a
// group and a set per pair: the defaults are Deribit S:PM's; the optional terms express the
// other grid venues (Paradex's weights and minimum delta, FINRA's per-contract minimum).
struct BatchModel {
  std::size_t n_std = 27;          // standard entries; the rest of a row (stride - n_std) extended
  std::size_t pairs = 1;           // underlyings (pairs) in the group
  std::size_t expiries = 1;        // expiry indices in use
  double pnl_offset = 0.0;         // gain credit of every pair (unless pnl_offsets)
  const double* cap = nullptr;     // [pairs] max credited gain (settlement units)
  const double* damp = nullptr;    // [pairs x (stride - n_std)] extended dampeners, or null
  const double* roll_k = nullptr;  // [expiries] roll shock per unit of |net coin delta|
  double mm_factor = 0.8;
  bool round_worst = true;     // Deribit rounds the worst case and the IM to 1e-9
  std::size_t tie_period = 3;  // ties among standard entries prefer j % 3 == 1; 0: first
  std::size_t tie_slot = 1;
  const double* pnl_offsets = nullptr;     // [pairs] gain credit per pair, or null
  const double* weight = nullptr;          // [pairs x stride] loss weights, or null (1)
  const double* delta_price = nullptr;     // [pairs] minimum delta: units per coin, or null
  const double* unhedged_delta = nullptr;  // [pairs] minimum delta factors, or null (0)
  const double* hedged_delta = nullptr;    // [pairs]
  // [pairs] largest |net coin delta| the model covers (Deribit's delta_total_liq_shock_threshold
  // / index), or null for no limit. Beyond it the delta-shock formula is not published: the
  // account gets status 3 (not covered) and NaN margins.
  const double* delta_limit = nullptr;
};

struct BatchInstruments {
  std::size_t n = 0;
  std::size_t stride = 0;        // risk row length (n_std + 8)
  const double* risk = nullptr;  // [n x stride]
  const std::int32_t* pair = nullptr;
  const std::int32_t* expiry = nullptr;
  const double* delta = nullptr;  // coin delta per unit
  const double* value = nullptr;  // mark value per unit
  // Minimum charge per unit held long / short (a per-contract or short-option minimum), or
  // null: summed over a pair's positions into its floor.
  const double* floor_long = nullptr;
  const double* floor_short = nullptr;
};

struct BatchAccounts {
  std::size_t n = 0;
  const std::int64_t* offsets = nullptr;     // [n + 1]
  const std::int32_t* instrument = nullptr;  // [offsets[n]]
  const double* amount = nullptr;            // [offsets[n]]
  const double* collateral = nullptr;        // [n]
  // [n] each account's add-ons to IM and MM (settlement units, >= 0), or null: charges a
  // model adds outside its scenarios (Aevo's short-option floor), every kernel alike
  const double* im_addon = nullptr;
  const double* mm_addon = nullptr;
};

struct BatchOutputs {
  double* initial_margin = nullptr;      // [n]
  double* maintenance_margin = nullptr;  // [n]
  double* equity = nullptr;              // [n]
  double* ratio = nullptr;               // [n] MM / equity (inf when equity <= 0 < MM)
  std::int8_t* status = nullptr;         // [n]
  std::int32_t* worst_index = nullptr;   // [n] index of the lowest entry (see above), or null
  // [n] whose entry worst_index is: the pair (X:PM: the set; SPAN: the commodity), -1 if
  // none; or null
  std::int32_t* worst_group = nullptr;
};

// Deribit X:PM (the model of pymargin.models.deribit_xpm; the pre-trade engine's
// Model::kDeribitCross): the model's groups (`pairs` above, each instrument's `pair` its
// group) are (pair, settlement currency), rows in USD; each group belongs to a set (its
// pair), whose groups' credited and dampened entries are summed before the worst case. Per
// account and currency, its equity e = balance + the mark value of its positions settled in
// it (settlement units); the account's equity is accounts.collateral (USD cash, not shocked)
// plus sum of e x price x (1 - haircut where e > 0); a coin's equity moves with its price: e x
// coin_move added to its shock group's vector, only the side `side` says.
struct BatchCross {
  std::size_t sets = 0;                     // pairs (sets), <= the number of groups
  const std::int32_t* group_set = nullptr;  // [groups] the set of each group
  std::size_t currencies = 0;
  const std::int32_t* currency = nullptr;     // [instruments] settlement currency
  const double* balance = nullptr;            // [accounts x currencies], settlement units
  const double* price = nullptr;              // [currencies] USD per unit (> 0)
  const double* haircut = nullptr;            // [currencies] 0 .. 1
  const std::int32_t* shock_group = nullptr;  // [currencies] the group of its equity move, -1
  const std::uint8_t* side = nullptr;         // [currencies] 0 none, 1 both, 2 gains, 3 losses
  const double* coin_move = nullptr;          // [currencies x stride] USD move per unit held
};

// Validates every input first (field and row named); then computes. threads <= 0: all.
// `cross`: Deribit X:PM's terms (see BatchCross), or null for the other models.
Status batch_margin(const BatchModel& model, const BatchInstruments& inst,
                    const BatchAccounts& accounts, const BatchOutputs& out, int threads,
                    const BatchCross* cross = nullptr) noexcept;

// --- SPAN ----------------------------------------------------------------------------------
// Every account's SPAN requirement (pymargin/models/span.hpp: scan risk, intra-commodity
// spread charge, inter-commodity credits, short option minimum) from cached risk rows: per
// account and combined commodity, the 16 scenario P&L summed position by position (the
// gather-sum) and weighted, the net delta per expiry tier, the short options; then the core's
// span_requirement over the commodities the account holds, with the spreads whose two legs it
// holds. IM = MM = the sum of the requirements (SPAN has no separate maintenance level here).

struct BatchSpanCommodity {
  std::size_t tiers = 1;              // expiry tiers (<= models::kSpanMaxTiers)
  const double* weight = nullptr;     // [16] scenario weights (the extremes' cover)
  double short_option_minimum = 0.0;  // per short option
  std::size_t intra_pairs = 0;
  const std::int32_t* intra_tiers = nullptr;  // [2 x intra_pairs]
  const double* intra_rates = nullptr;        // [intra_pairs]
};

struct BatchSpanModel {
  std::size_t commodities = 0;
  const BatchSpanCommodity* commodity = nullptr;  // [commodities]
  std::size_t spreads = 0;
  const std::int32_t* spread_legs = nullptr;  // [2 x spreads] commodity indices a, b
  const double* spread_terms = nullptr;       // [3 x spreads] ratio_a, ratio_b, rate
};

struct BatchSpanInstruments {
  std::size_t n = 0;
  const double* risk = nullptr;             // [n x 16] P&L per unit, USD, unweighted
  const std::int32_t* commodity = nullptr;  // [n]
  const std::int32_t* tier = nullptr;       // [n] expiry tier within its commodity
  const double* delta = nullptr;            // [n] coin delta per unit
  const std::uint8_t* option = nullptr;     // [n] 1: an option (counts as a short option)
  const double* value = nullptr;            // [n] mark value per unit (equity)
};

// Outputs as batch_margin's (worst_index: the worst scenario of the commodity with the largest
// requirement). Status 3 (not covered) for sums that overflow.
Status batch_span(const BatchSpanModel& model, const BatchSpanInstruments& inst,
                  const BatchAccounts& accounts, const BatchOutputs& out, int threads) noexcept;

// --- Deribit standard margin ---------------------------------------------------------------
// Every account's standard margin (pymargin/models/standard_margin.hpp): each position its
// own IM and MM by its instrument's rule (models::standard_position), summed per account.
// Accounts hold one position per instrument (repeated rows netted before the call).

struct BatchStandardInstruments {
  std::size_t n = 0;
  // [n] each instrument's rule, rates, price, index and mark (the size is the position's)
  const models::StandardPosition* terms = nullptr;
  const double* value = nullptr;  // [n] mark value per unit (equity)
};

// Outputs as batch_margin's (worst_index: -1; no scenarios). Status 3 for sums that overflow.
Status batch_standard(const BatchStandardInstruments& inst, const BatchAccounts& accounts,
                      const BatchOutputs& out, int threads) noexcept;

// --- Derive portfolio margin ------------------------------------------------------------------
// Every account of one Derive market (pymargin/models/derive_pm.hpp): per account its options
// grouped by expiry as the venue stores them (expiries in order of first appearance, each
// expiry's options in reverse position order), its perpetual, its collateral as cash; then the
// core's derive_pm_margin. Equity = the model's mark-to-market; worst_index: the binding
// scenario, -1 when the basis contingency binds.

struct BatchDeriveMarket {
  const models::DeriveParams* params = nullptr;
  const models::DeriveExpiry* expiries = nullptr;  // [n_expiries] (option ranges ignored)
  std::size_t n_expiries = 0;
  double spot = 0.0, spot_confidence = 1.0, stable_price = 1.0;
  double perp_price = 0.0, perp_confidence = 1.0;
};

struct BatchDeriveInstruments {
  std::size_t n = 0;
  const std::uint8_t* perp = nullptr;     // [n] 1: the perpetual, 0: an option
  const std::int32_t* expiry = nullptr;   // [n] an option's expiry index
  const double* strike = nullptr;         // [n]
  const double* vol = nullptr;            // [n]
  const std::uint8_t* call = nullptr;     // [n]
};

Status batch_derive(const BatchDeriveMarket& market, const BatchDeriveInstruments& inst,
                    const BatchAccounts& accounts, const BatchOutputs& out, int threads) noexcept;

// --- the Greek-netting model -----------------------------------------------------------------
// Every account's margin under the Greek-netting model (pymargin/models/sensitivity_margin.hpp):
// per account and underlying the positions' USD delta, vega by tenor bucket (weighted) and
// P&L at +-the delta risk weight summed, then the core's sensitivity_margin over the
// underlyings the account holds (in the model's order). IM = MM.

struct BatchSensitivityModel {
  std::size_t underlyings = 0;
  std::size_t buckets = 0;             // <= models::kMaxSensitivityBuckets
  const double* tenor_corr = nullptr;  // [buckets x buckets]
  double delta_corr = 0.0;
  double vega_corr = 0.0;
  const double* delta_rw = nullptr;  // [underlyings]
};

struct BatchSensitivityInstruments {
  std::size_t n = 0;
  const std::int32_t* underlying = nullptr;  // [n]
  const std::int32_t* bucket = nullptr;      // [n] tenor bucket of an option's vega; -1: none
  const double* delta_usd = nullptr;         // [n] USD delta per unit
  const double* weighted_vega = nullptr;     // [n] weighted vega per unit (its bucket)
  const double* pnl_up = nullptr;            // [n] USD P&L per unit at +RW of its underlying
  const double* pnl_down = nullptr;          // [n] at -RW
  const double* value = nullptr;             // [n] mark value per unit, USD (equity)
};

Status batch_sensitivity(const BatchSensitivityModel& model,
                         const BatchSensitivityInstruments& inst, const BatchAccounts& accounts,
                         const BatchOutputs& out, int threads) noexcept;

}  // namespace pymargin::kernel
