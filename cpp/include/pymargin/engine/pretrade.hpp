// SPDX-License-Identifier: Apache-2.0
// The pre-trade margin engine: an account's margin kept incrementally, so that "can this
// account carry this order?" costs O(scenarios) and no revaluation. Seven model families,
// each a model of the core (the scenario-margin model of pymargin/models/scenario_margin.hpp
// with its parameters, standard margin, the Greek-netting model, SPAN, Derive PM):
//
// Model::kDeribitPortfolio, Deribit segregated portfolio margin (S:PM; the model of
// pymargin.models.deribit_pm, see its docstring for the sources). Per margin group
// (settlement currency) and currency pair, the account's scenario P&L vector over the Deribit
// grid (3 (2B + 1) standard entries, then 8 extended ones, extended entries already scaled by
// extended_table_factor x range/|M|, inverse instruments also by (1 + M)/(1 + sign(M) range));
// gains credited at pnl_offset up to max_offsetable_pnl, the extended entries reduced by the
// dampener; the group's worst case = sum over its pairs of the most negative entry; roll
// shock = sum over (pair, expiry) of |net coin delta| x max(min_annualised_move,
// |exp(annualised_move_risk T) - 1|) (x index for USD-settled groups); RMM = round9(worst
// case) + roll shock; MM = mm_factor x RMM.
//
// Model::kDeribitCross, Deribit cross-collateral portfolio margin (X:PM; the model of
// pymargin.models.deribit_xpm, see its docstring for the construction step by step): the
// account is one margin group in USD. Per (settlement currency, pair) the scenario P&L vector
// over the S:PM grid in USD (a coin P&L at the scenario's shocked index price (1 + M) x index,
// a stablecoin P&L one to one; extended entries scaled by extended_table_factor x range/|M|),
// plus, for a coin currency on its own pair (CurrencyParams::coin_underlying), the coin's
// equity moving with the price (equity x index x M, kept on the side equity_side says); gains
// credited at the currency's pnl_offset up to max_offsetable_pnl USD, extended entries reduced
// by (|M|/range - 1) x extended_dampener USD; per pair the currencies' entries summed and the
// most negative taken; worst case = the sum over pairs; roll shock per (currency, expiry) x
// index; RMM = round9(worst) + roll; MM = mm_factor x RMM. Equity = sum over currencies of
// the currency's equity in USD, a positive one less its haircut. margin(account, c) and a
// check's figures are this one USD group whatever the currency c. The coin equity is the
// collateral the model shocks: collateral + the cash flows of fills + the positions' mark
// value, so that a coin account's USD value change is the positions' coin P&L at the shocked
// price plus the equity's own move, exactly.
//
// Model::kScenarioGrid, a SCAN-style grid venue given by parameters alone (Paradex SCAN-24,
// the FINRA/Cboe grid, a venue's parameter file; see GridConfig): per underlying its own
// scenarios (move, vol state, loss weight), vol-shock rule, gain credit, minimum delta factors;
// per instrument a minimum charge per unit held (InstrumentSpec::floor_long/floor_short). Per
// margin group and underlying: charge = max(weighted loss, summed minimum charges,
// (unhedged |net delta| + hedged (gross delta - |net delta|) / 2) x index), gross delta the
// sum over instruments of |amount x delta|, plus, for venues that add a short-option floor
// (Aevo), index x sum over the strikes of max(0, -sum of amount x strike_floor) (the options
// of one currency, underlying, expiry and strike netted, calls and puts together); RMM = sum
// of the charges (no roll shock, no rounding); MM = mm_factor x RMM. A venue's IM multiplier
// is carried by its terms (weights, delta factors, floors, strike floors all scaled by it).
// USD-settled instruments only (the grid's P&L is USD).
//
// Model::kStandard, Deribit standard margin (pymargin/models/standard_margin.hpp): each
// position its own IM and MM by its instrument's rule and rates (InstrumentSpec::standard),
// summed per margin group, no offsets; no scenarios. Inverse futures' USD amounts count as
// amount / F coins; options take their mark (InstrumentMarket::mark, or the model's value).
//
// Model::kSensitivity, the Greek-netting model (pymargin/models/sensitivity_margin.hpp):
// the account's USD delta, bucketed weighted vega and P&L at +-RW per underlying (all linear
// in the amounts, kept like the scenario vectors), then the core's sensitivity_margin over
// the group's underlyings; MM = IM. USD-settled instruments only.
//
// Model::kSpan, SPAN-16: per underlying the weighted scenario P&L and the net delta per tier
// (linear, kept like the scenario vectors) and the short options (per instrument); each
// margin group's requirement per state kept after every change by the core's
// span_requirement over its commodities and spreads; MM = IM. USD-settled instruments only.
//
// Model::kDerive, Derive portfolio margin (PMRM_2, pymargin/models/derive_pm.hpp): per margin
// group and underlying, each expiry's option values under every scenario, unshocked and at
// the basis spot moves (linear in the amounts, kept per (group, underlying, expiry) like the
// scenario vectors), the perpetual's P&L per scenario, its |amount| and the naked shorts per
// strike; then per underlying the model's steps (each expiry's static discount and
// dampening, skew scenarios as losses, the basis contingency; worst = min(basis, every
// scenario P&L); MM = -mm_factor worst + contingencies, IM = -im_factor worst + MM and IM
// contingencies); the group's IM and MM the sums over its underlyings (each underlying a
// Derive portfolio of its own, sharing the group's cash). Options of one expiry share its
// forward, time (whole seconds: time x 31,536,000 rounded) and rate. What the engine's market
// inputs do not carry is taken as the venue's neutral values: every feed's confidence 1 (no
// confidence contingency), the stable coin at 1 (no peg loss), cash collateral only (no
// haircut). USDC-settled options and perpetuals only.
//
// Open orders count as the venue counts them: IM = the largest RMM of the positions alone,
// with every buy order filled, or with every sell order filled.
//
// Units: an instrument's amount is the venue's: USD notional for inverse futures and
// perpetuals (Deribit's contract amount), coins of the underlying for everything else.
// Money is in the group's settlement currency. Equity of a group = collateral + the cash flows
// of fills (option premiums, futures entry) + the mark value of the positions; available funds
// = equity - IM.
//
// Fail closed: every accept decision is a positive test on finite values (available funds
// finite and >= 0, the delta within its threshold); a state change (fill, order, deposit,
// withdrawal, market update, restore) that would leave any value of an account non-finite is
// refused before anything changes (Reason::kNonFiniteState, or a Status for updates).
//
// Incremental == recompute: every state change re-aggregates the account from its positions
// and orders in their stored order, with slots, expiry entries and per-instrument nets in a
// canonical order, so margin() equals margin_from_scratch() bit for bit. check() adds the
// order's scaled row to the cached vectors and, under a grid model, updates the order's
// instrument's gross-delta and minimum-charge terms found by binary search (O(scenarios +
// log instruments)); its IM can differ from the IM after add_order in the last bits.
//
// Amounts: a fill completes an order when it reaches the order's remaining amount within
// kFillTolerance x the order's amount (0.1 + 0.2 fills an order of 0.3); a position that
// comes back within that tolerance of zero is flat (0).
//
// Threading: calls on different accounts may run concurrently; each account has its own
// spin lock, so a check never waits for another account. on_market_update builds the new risk
// arrays beside the old ones and then moves accounts over one at a time (each locked for the
// microsecond its re-aggregation takes). Setup calls (add_account) and updates are serialised
// among themselves. The hot path (check) allocates nothing, throws nothing, and returns a
// status code.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "pymargin/error.hpp"
#include "pymargin/models/derive_pm.hpp"
#include "pymargin/scenarios/scenario_set.hpp"

namespace pymargin::engine {

inline constexpr std::size_t kMaxScenarios = 64;  // 3 (2B + 1) + 8 <= 64: B <= 8; grids <= 64
// Largest capacity an engine accepts (accounts are allocated 1,024 at a time as they are
// added, so capacity itself costs 8 bytes per 1,024 accounts).
inline constexpr std::size_t kMaxAccountsLimit = std::size_t{1} << 26;
inline constexpr double kFillTolerance = 1e-9;  // relative, see "Amounts" above

enum class Side : std::uint8_t { kBuy = 0, kSell = 1 };

// Why a check, order or withdrawal was refused (kNone when accepted).
enum class Reason : std::uint8_t {
  kNone = 0,
  kInsufficientFunds = 1,  // available funds after the order would be < 0
  kUnknownAccount = 2,
  kUnknownInstrument = 3,
  kBadSize = 4,                // not finite or <= 0
  kDeltaShockNotModelled = 5,  // net delta above delta_total_liq_shock_threshold (unpublished)
  kUnknownOrder = 6,
  kDuplicateOrder = 7,
  kBadPrice = 8,
  kNonFiniteState = 9,  // the change would make a balance or margin non-finite (overflow)
};
const char* reason_text(Reason r) noexcept;

enum class Model : std::uint8_t {
  kDeribitPortfolio = 0,  // Deribit S:PM (pairs, currencies, buckets)
  kScenarioGrid = 1,      // a grid venue (EngineConfig::grid)
  kStandard = 2,          // Deribit standard margin (InstrumentSpec::standard)
  kSensitivity = 3,       // the Greek-netting model (EngineConfig::sensitivity)
  kSpan = 4,              // SPAN-16 (EngineConfig::span)
  kDeribitCross = 5,      // Deribit X:PM (pairs, currencies with their coin and haircut)
  kDerive = 6,            // Derive PM (EngineConfig::derive)
};

// X:PM: which side of a coin's own equity move counts (Deribit's equity_side_impact).
enum class EquitySide : std::uint8_t { kNone = 0, kBoth = 1, kPositive = 2, kNegative = 3 };

// Model::kSpan (pymargin/models/span.hpp), USD-settled instruments: per combined commodity
// (underlying) CME's 16 scenarios at its price and vol scan ranges over a look-ahead (time
// decay included), the extremes weighted; net delta per expiry tier; short options; the
// intra-commodity tier-pair rates, the short option minimum; inter-commodity spreads.
struct SpanCommodityConfig {
  double price_scan = 0.0;       // relative move (0.2 = 20 %)
  double vol_scan = 0.0;         // vol points (0.1 = 10)
  double extreme_weight = 0.35;  // cover of the +-2 scan-range moves
  double look_ahead_days = 1.0;
  std::vector<double> tier_days;          // upper bounds of the expiry tiers (perpetuals: tier 0)
  std::vector<std::int32_t> intra_tiers;  // [2 x pairs] in priority order
  std::vector<double> intra_rates;        // [pairs] USD per unit of delta spread
  double short_option_minimum = 0.0;      // USD per short option
};
struct SpanEngineConfig {
  std::vector<SpanCommodityConfig> commodities;  // one per underlying
  std::vector<std::int32_t> spread_legs;         // [2 x spreads] underlying indices
  std::vector<double> spread_terms;              // [3 x spreads] ratio_a, ratio_b, rate
};

// Model::kSensitivity (pymargin/models/sensitivity_margin.hpp), USD-settled instruments: per
// instrument its USD delta, vega weighted into its tenor bucket, and P&L at +- its
// underlying's delta risk weight; per margin group the core's sensitivity_margin over the
// underlyings held. At most kMaxSensitivityUnderlyings underlyings and 16 tenor buckets.
inline constexpr std::size_t kMaxSensitivityUnderlyings = 16;
struct SensitivityConfig {
  std::vector<double> bucket_days;  // upper bounds of the tenor buckets (an option beyond the
                                    // last is in the last)
  std::vector<double> tenor_corr;   // [buckets x buckets]
  double delta_corr = 0.0;
  double vega_corr = 0.0;
  std::vector<double> delta_rw;  // per underlying
  std::vector<double> vega_rw;   // per underlying
};

// Model::kDerive: the model's parameters (params.scenarios and params.n_scenarios are set by
// the engine from `scenarios`) and the number of underlyings (index prices). At most
// kMaxScenarios - 3 scenarios.
struct DeriveEngineConfig {
  models::DeriveParams params;
  std::vector<models::DeriveScenario> scenarios;
  std::size_t underlyings = 0;
};

// Model::kStandard: an instrument's rule and rates (the fields of models::StandardPosition
// that do not move with the market). Size-scaled rates are per coin; price_at_index: 1 when
// the requirement converts to the settlement currency at the index (linear contracts), 0 when
// it is in the coin (inverse ones).
struct StandardTerms {
  std::uint8_t rule = 0;  // models::StandardRule: 0 size-scaled, 1 inverse option
  std::uint8_t price_at_index = 0;
  double im_base = 0.0, im_per_unit = 0.0, mm_base = 0.0, mm_per_unit = 0.0;
  double im_otm_base = 0.0, im_floor = 0.0, mm = 0.0;
};

// Deribit PM parameters of a currency pair (its underlying) and of a settlement currency.
struct PairParams {
  double price_range = 0.16;
  double volatility_range_up = 0.5;
  double volatility_range_down = 0.25;
  double min_volatility_for_shock_up = 0.5;
  double short_term_vega_power = 0.30;
  double long_term_vega_power = 0.13;
  double extended_table_factor = 1.0;
  double delta_total_liq_shock_threshold = 2e7;  // USD
};

struct CurrencyParams {
  double annualised_move_risk = 0.075;
  double min_annualised_move = 0.01;
  double extended_dampener = 1e5;  // USD
  double pnl_offset = 0.0;
  double max_offsetable_pnl = 0.0;  // USD
  bool usd_settled = false;         // margins in USD(C) rather than in the coin
  // X:PM only (other models ignore them): the haircut on a positive equity (0 .. 1), which side
  // of the coin's equity move counts, and the underlying (pair) whose index prices the coin
  // (-1 for a stablecoin, valued at 1 USD and not shocked; required for any other currency).
  double haircut = 0.0;
  EquitySide equity_side = EquitySide::kNone;
  std::int32_t coin_underlying = -1;
};

// One underlying of a grid model: its scenarios (at most kMaxScenarios; an underlying with
// fewer is padded with entries of weight 0, which never raise a charge), the vol-shock rule
// that turns a vol state into vols, the share of gains credited, and the minimum delta
// factors (0: none).
struct GridAsset {
  std::vector<double> moves;            // relative price move of the underlying
  std::vector<std::int8_t> vol_states;  // +1 up, 0 unchanged, -1 down
  std::vector<double> weights;          // loss weight of each scenario (>= 0)
  scenarios::VolShockRule vol_rule;
  double pnl_offset = 0.0;      // gains count at this fraction, 0 .. 1
  double unhedged_delta = 0.0;  // minimum delta: x |net delta| x index
  double hedged_delta = 0.0;    // minimum delta: x (gross - |net|) / 2 x index
};

struct GridConfig {
  std::vector<GridAsset> assets;  // one per underlying
};

struct EngineConfig {
  Model model = Model::kDeribitPortfolio;
  int buckets = 4;                       // Deribit
  double mm_factor = 0.8;                // both
  std::vector<PairParams> pairs;         // Deribit: one per underlying
  GridConfig grid;                       // grid: one asset per underlying
  std::size_t standard_underlyings = 0;  // standard: the number of underlyings (index prices)
  SensitivityConfig sensitivity;         // the Greek-netting model
  SpanEngineConfig span;                 // SPAN
  DeriveEngineConfig derive;             // Derive PM
  // One per settlement currency (margin group). A grid model reads only usd_settled, which
  // must be true for every currency.
  std::vector<CurrencyParams> currencies;
  std::size_t max_accounts = 1024;  // capacity, <= kMaxAccountsLimit (accounts never move)
};

// Static definition of an instrument. `kind`/`settlement` as kernel::Kind / Settlement.
struct InstrumentSpec {
  std::uint8_t kind = 0;
  std::uint8_t settlement = 0;
  std::uint8_t is_call = 0;
  std::int32_t underlying = 0;  // index into EngineConfig::pairs (grid: grid.assets)
  std::int32_t currency = 0;    // settlement currency, index into EngineConfig::currencies
  double strike = 0.0;
  std::int64_t expiry_id = -1;  // equal for instruments of one expiry (e.g. Unix seconds)
  // Grid models: the minimum charge per unit amount held long / short (a per-contract
  // minimum divided by the contract size), settlement units; 0 under Deribit S:PM.
  double floor_long = 0.0;
  double floor_short = 0.0;
  // Grid models, options only: the short-option floor per unit amount net short at the
  // option's strike, as a fraction of the underlying's index (a venue's fraction per contract
  // x its IM multiplier / the contract size); 0: none. Options of one (currency, underlying,
  // expiry_id, strike) with a strike floor net together, calls and puts alike.
  double strike_floor = 0.0;
  StandardTerms standard{};  // Model::kStandard only
};

// Market inputs of an instrument (per update) and of the underlyings.
struct InstrumentMarket {
  double forward = 0.0;  // the price it moves with
  double vol = 0.0;      // options
  double time = 0.0;     // years to expiry (options and dated futures)
  double rate = 0.0;
  // Options under Model::kStandard: the venue's mark price in the settlement currency (coin
  // for inverse options); NaN: the model's value from forward, vol, time and rate.
  double mark = std::numeric_limits<double>::quiet_NaN();
};

struct CheckResult {
  bool accept = false;
  Reason reason = Reason::kNone;
  std::int32_t currency = -1;  // the margin group the order falls in
  double im_before = 0.0;      // IM of that group, open orders included
  double im_after = 0.0;
  double mm_before = 0.0;
  double mm_after = 0.0;         // MM counts positions only: unchanged by an order
  double available_after = 0.0;  // equity - IM after
};

struct GroupMargin {
  double equity = 0.0;
  double initial_margin = 0.0;
  double maintenance_margin = 0.0;
  double available_funds = 0.0;
  double worst_case = 0.0;  // positions only (grid: the underlyings' charges; standard, SPAN,
                            // the Greek-netting model and Derive: IM)
  double roll_shock = 0.0;  // positions only (grid: 0)
  bool delta_shock_exceeded = false;
};

class PreTradeEngine {
 public:
  // Validates everything; on error returns the Status and leaves `out` empty.
  static Status create(EngineConfig config, std::vector<InstrumentSpec> instruments,
                       const std::vector<InstrumentMarket>& market,
                       const std::vector<double>& index_prices,
                       std::unique_ptr<PreTradeEngine>* out);
  ~PreTradeEngine();
  PreTradeEngine(const PreTradeEngine&) = delete;
  PreTradeEngine& operator=(const PreTradeEngine&) = delete;

  [[nodiscard]] std::size_t instruments() const noexcept;
  [[nodiscard]] std::size_t scenarios() const noexcept;
  [[nodiscard]] std::size_t accounts() const noexcept;
  [[nodiscard]] std::size_t currencies() const noexcept;  // margin groups (settlement currencies)
  [[nodiscard]] Model model() const noexcept;
  [[nodiscard]] const InstrumentSpec& instrument(std::size_t i) const noexcept;

  // A new account (id returned in *id); fails when max_accounts are in use.
  Status add_account(std::int64_t* id);

  // Hot path: what adding the order (as an open order) does to the account's margin group.
  CheckResult check(std::int64_t account, std::int32_t instrument, Side side,
                    double amount) const noexcept;
  // check() of n candidate orders, each on its own against the account as it is, under one
  // lock and with each margin group's current state computed once: out[j] is check(account,
  // instrument[j], side[j], amount[j]).
  void check_many(std::int64_t account, std::size_t n, const std::int32_t* instrument,
                  const Side* side, const double* amount, CheckResult* out) const noexcept;

  // State changes. Each checks its inputs and changes nothing on error.
  Reason add_order(std::int64_t account, std::int64_t order_id, std::int32_t instrument, Side side,
                   double amount) noexcept;
  Reason cancel_order(std::int64_t account, std::int64_t order_id) noexcept;
  // A fill of `amount` (> 0) on `side` at `price` (in the instrument's quote: option premium
  // per unit in the settlement currency, futures price in USD). With order_id >= 0 the open
  // order is reduced by the fill (and must exist); with -1 it is a fill without a resting order.
  Reason apply_fill(std::int64_t account, std::int64_t order_id, std::int32_t instrument, Side side,
                    double amount, double price) noexcept;
  Reason deposit(std::int64_t account, std::int32_t currency, double amount) noexcept;
  // Refused (kInsufficientFunds) when it would leave available funds < 0.
  Reason withdraw(std::int64_t account, std::int32_t currency, double amount) noexcept;

  // New marks and vols (and index prices): risk arrays recomputed once per instrument, then
  // every account re-aggregated. Validates first; on error nothing changes.
  Status on_market_update(const std::vector<InstrumentMarket>& market,
                          const std::vector<double>& index_prices);

  // The account's margin group, from its incremental state / recomputed from scratch (the
  // reference the incremental state must equal).
  GroupMargin margin(std::int64_t account, std::int32_t currency) const noexcept;
  GroupMargin margin_from_scratch(std::int64_t account, std::int32_t currency) const;

  // Versioned, checksummed binary snapshot. The checksum (FNV-1a) detects accidental damage;
  // it is not a signature: anyone can re-seal altered bytes, so restore validates every count
  // against the bytes and the stated limits and every value as the API path does. of everything
  // (config, universe, market inputs, accounts); restore builds a complete new engine or fails with
  // a Status naming what is wrong.
  std::string snapshot() const;
  static Status restore(const std::string& bytes, std::unique_ptr<PreTradeEngine>* out);

  struct Impl;

 private:
  explicit PreTradeEngine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pymargin::engine
