// SPDX-License-Identifier: Apache-2.0
#include "pymargin/pricing/implied_vol.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <memory>
#include <new>
#include <limits>
#include <thread>
#include <utility>
#include <vector>

#include "../common/thread_pool.hpp"
#include "batch_internal.hpp"
#include "inverse_normal_internal.hpp"
#include "normal_internal.hpp"

namespace pymargin::pricing {
namespace {

using detail::kInvSqrt2Pi;
using detail::kSqrt2Pi;

constexpr double kEps = DBL_EPSILON;
constexpr double kSqrt3 = 1.7320508075688772935;
constexpr double kTwoPiOverSqrt27 = 1.2091995761561452337;  // 2 pi / sqrt(27)
constexpr double kSqrtPiOverTwo = 1.2533141373155002512;
constexpr int kMaxIterations = 2;

// Rational cubic interpolation (Delbourgo & Gregory 1985) on [xl, xr] with end values,
// end slopes and control parameter r (r = 3: cubic Hermite; r -> inf: linear).
constexpr double kRLow = -(1.0 - 1.4901161193847656e-08);  // -(1 - sqrt(eps))
constexpr double kRHigh = 2.0 / (kEps * kEps);

double rational_cubic(double x, double xl, double xr, double yl, double yr, double dl, double dr,
                      double r) noexcept {
  const double h = xr - xl;
  if (std::fabs(h) <= 0.0) return 0.5 * (yl + yr);
  const double u = (x - xl) / h;
  const double v = 1.0 - u;
  if (!(r < kRHigh)) return yr * u + yl * v;
  const double num = yr * u * u * u + (r * yr - h * dr) * u * u * v +
                     (r * yl + h * dl) * u * v * v + yl * v * v * v;
  return num / (1.0 + (r - 3.0) * u * v);
}

double r_for_second_derivative(double num, double den) noexcept {
  if (std::fabs(num) < DBL_MIN) return 0.0;
  if (std::fabs(den) < DBL_MIN) return num > 0 ? kRHigh : kRLow;
  return num / den;
}

// Smallest r that keeps the interpolant monotone / convex as its data are (DG85 3.8, 3.18).
double min_r_shape(double xl, double xr, double yl, double yr, double dl, double dr,
                   bool prefer_shape) noexcept {
  const double h = xr - xl;
  const double m = (yr - yl) / h;
  const bool monotone = dl * m >= 0.0 && dr * m >= 0.0;
  const bool convex = dl <= m && m <= dr;
  const bool concave = dl >= m && m >= dr;
  if (!monotone && !convex && !concave) return kRLow;
  double r1 = -DBL_MAX;
  if (monotone) {
    if (m != 0.0) {
      r1 = (dl + dr) / m;
    } else if (prefer_shape) {
      r1 = kRHigh;
    }
  }
  double r2 = -DBL_MAX;
  if (convex || concave) {
    const double a = m - dl;
    const double b = dr - m;
    if (a != 0.0 && b != 0.0) {
      r2 = std::max(std::fabs((dr - dl) / b), std::fabs((dr - dl) / a));
    } else if (prefer_shape) {
      r2 = kRHigh;
    }
  } else if (monotone && prefer_shape) {
    r2 = kRHigh;
  }
  return std::max(kRLow, std::max(r1, r2));
}

double convex_r_left(double xl, double xr, double yl, double yr, double dl, double dr,
                     double second_left, bool prefer_shape) noexcept {
  const double h = xr - xl;
  const double m = (yr - yl) / h;
  const double r = r_for_second_derivative(0.5 * h * second_left + (dr - dl), m - dl);
  return std::max(r, min_r_shape(xl, xr, yl, yr, dl, dr, prefer_shape));
}

double convex_r_right(double xl, double xr, double yl, double yr, double dl, double dr,
                      double second_right, bool prefer_shape) noexcept {
  const double h = xr - xl;
  const double m = (yr - yl) / h;
  const double r = r_for_second_derivative(0.5 * h * second_right + (dr - dl), dr - m);
  return std::max(r, min_r_shape(xl, xr, yl, yr, dl, dr, prefer_shape));
}

// Lower map f_L(s) = (2 pi / sqrt 27) |x| N(-z)^3, z = |x| / (sqrt 3 s), with its first two
// derivatives with respect to beta = b(x, s).
struct MapValue {
  double f, df, d2f;
};

// The maps only shape the initial guess: N by plain erfc is ample there.
inline double cdf_for_guess(double z) noexcept { return 0.5 * std::erfc(-z * detail::kInvSqrt2Hi); }

MapValue lower_map(double x, double s) noexcept {
  const double ax = std::fabs(x);
  if (s <= 0.0 || x == 0.0) return {0.0, 1.0, 0.0};
  const double z = ax / (kSqrt3 * s);
  const double y = z * z;
  const double s2 = s * s;
  const double phi_m = cdf_for_guess(-z);
  const double phi_m2 = phi_m * phi_m;
  MapValue m;
  m.f = kTwoPiOverSqrt27 * ax * phi_m2 * phi_m;
  m.df = 2.0 * M_PI * y * phi_m2 * std::exp(y + 0.125 * s2);
  const double mills = phi_m / (kInvSqrt2Pi * std::exp(-0.5 * y));  // N(-z)/phi(z)
  m.d2f = M_PI / 6.0 * y / (s2 * s) * phi_m *
          (8.0 * kSqrt3 * s * ax + (3.0 * s2 * (s2 - 8.0) - 8.0 * x * x) * mills) *
          std::exp(2.0 * y + 0.25 * s2);
  return m;
}

double inverse_lower_map(double x, double f) noexcept {
  if (f <= 0.0) return 0.0;
  const double arg = std::cbrt(f / (kTwoPiOverSqrt27 * std::fabs(x)));
  return std::fabs(x) / (kSqrt3 * std::fabs(detail::inv_norm_cdf_lower(arg)));
}

// Upper map f_U(s) = N(-s/2), with derivatives with respect to beta.
MapValue upper_map(double x, double s) noexcept {
  MapValue m;
  m.f = cdf_for_guess(-0.5 * s);
  if (x == 0.0) {
    m.df = -0.5;
    m.d2f = 0.0;
    return m;
  }
  const double w = (x / s) * (x / s);
  m.df = -0.5 * std::exp(0.5 * w);
  m.d2f = kSqrtPiOverTwo * (w / s) * std::exp(w + 0.125 * s * s);
  return m;
}

double inverse_upper_map(double f) noexcept { return -2.0 * detail::inv_norm_cdf_lower(f); }

inline double householder_factor(double nu, double g2, double g3) noexcept {
  return (1.0 + 0.5 * g2 * nu) / (1.0 + nu * (g2 + g3 * nu / 6.0));
}

// The solver for the out-of-the-money call case (x <= 0, 0 < beta < b_max = e^{x/2}), written
// as a sequence of stages between evaluations of b and b' so that the batch solver can run
// every evaluation of a block of options through the vector kernels:
//   start -> [b, b' at s_c] -> second_point -> [b, b' there] -> initial_guess ->
//   { next_point -> [b, b' there] -> householder } at most kMaxIterations times.
enum class Branch { kLowest, kMiddle, kUpper };

struct Solver {
  double beta = 0.0;
  double x = 0.0;  // <= 0
  double b_max = 0.0;
  double sc = 0.0, bc = 0.0, vc = 0.0;  // inflection point
  double s1 = 0.0;                      // s_l or s_u
  double s = 0.0, s_left = DBL_MIN, s_right = DBL_MAX;
  double ln_beta = 0.0;
  Branch branch = Branch::kMiddle;
  bool upper_log = false;
  double ds = -DBL_MAX, ds_prev = 0.0;
  int reversals = 0;
  int it = 0;
  bool done = false;

  // b_max_in: e^{x/2}, as iv_setup computed it.
  void start(double beta_in, double x_in, double b_max_in) noexcept {
    beta = beta_in;
    x = x_in;
    b_max = b_max_in;
    sc = std::sqrt(std::fabs(2.0 * x));
  }

  // After b(s_c), b'(s_c): where the tangent at the inflection point meets 0 (below) or
  // b_max (above).
  double second_point(double bc_in, double vc_in) noexcept {
    bc = bc_in;
    vc = vc_in;
    if (beta < bc) {
      s1 = sc - bc / vc;
    } else {
      s1 = vc > DBL_MIN ? sc + (b_max - bc) / vc : sc;
    }
    return s1;
  }

  void initial_guess(double b1, double v1) noexcept {
    if (beta < bc) {
      const double sl = s1;
      const double bl = b1;
      if (beta < bl) {
        branch = Branch::kLowest;
        const MapValue fl = lower_map(x, sl);
        const double r = convex_r_right(0.0, bl, 0.0, fl.f, 1.0, fl.df, fl.d2f, true);
        double f = rational_cubic(beta, 0.0, bl, 0.0, fl.f, 1.0, fl.df, r);
        if (!(f > 0.0)) {
          const double t = beta / bl;
          f = (fl.f * t + bl * (1.0 - t)) * t;
        }
        s = inverse_lower_map(x, f);
        s_right = sl;
      } else {
        branch = Branch::kMiddle;
        const double vl = v1;
        const double r = convex_r_right(bl, bc, sl, sc, 1.0 / vl, 1.0 / vc, 0.0, false);
        s = rational_cubic(beta, bl, bc, sl, sc, 1.0 / vl, 1.0 / vc, r);
        s_left = sl;
        s_right = sc;
      }
    } else {
      const double su = s1;
      const double bu = b1;
      if (beta <= bu) {
        branch = Branch::kMiddle;
        const double vu = v1;
        const double r = convex_r_left(bc, bu, sc, su, 1.0 / vc, 1.0 / vu, 0.0, false);
        s = rational_cubic(beta, bc, bu, sc, su, 1.0 / vc, 1.0 / vu, r);
        s_left = sc;
        s_right = su;
      } else {
        branch = Branch::kUpper;
        const MapValue fu = upper_map(x, su);
        double f = -1.0;
        if (std::fabs(fu.d2f) < std::sqrt(DBL_MAX)) {
          const double r = convex_r_left(bu, b_max, fu.f, 0.0, fu.df, -0.5, fu.d2f, true);
          f = rational_cubic(beta, bu, b_max, fu.f, 0.0, fu.df, -0.5, r);
        }
        if (!(f > 0.0)) {
          const double h = b_max - bu;
          const double t = (beta - bu) / h;
          f = (fu.f * (1.0 - t) + 0.5 * h * t) * (1.0 - t);
        }
        s = inverse_upper_map(f);
        s_left = su;
      }
    }
    ln_beta = std::log(beta);
    upper_log = branch == Branch::kUpper && beta > 0.5 * b_max;
  }

  // Before an iteration: decides whether to stop, and where b must be evaluated next.
  // Returns false when converged (or out of iterations).
  bool next_point() noexcept {
    if (done || it >= kMaxIterations || !(std::fabs(ds) > kEps * s)) {
      done = true;
      return false;
    }
    if (ds * ds_prev < 0.0) ++reversals;
    if (it > 0 && (reversals == 3 || !(s > s_left && s < s_right))) {
      s = 0.5 * (s_left + s_right);  // safeguard: bisect the bracket
      if (s_right - s_left <= kEps * s) {
        done = true;
        return false;
      }
      reversals = 0;
      ds = 0.0;
    }
    ds_prev = ds;
    return true;
  }

  // One Householder(3) step on the branch's objective, from b(s) and b'(s).
  void householder(double b, double bp) noexcept {
    if (b > beta && s < s_right) {
      s_right = s;
    } else if (b < beta && s > s_left) {
      s_left = s;
    }
    const double x2 = x * x;
    const double b2 = x2 / (s * s * s) - 0.25 * s;                  // b''/b'
    const double b3 = b2 * b2 - 3.0 * x2 / (s * s * s * s) - 0.25;  // b'''/b'
    if (branch == Branch::kLowest) {
      if (!(b > 0.0) || !(bp > 0.0)) {
        ds = 0.5 * (s_left + s_right) - s;
      } else {
        const double ln_b = std::log(b);
        const double bpob = bp / b;
        const double nu = (ln_beta - ln_b) * ln_b / ln_beta / bpob;
        const double lambda = 1.0 / ln_b;
        const double g2 = b2 - bpob * (1.0 + 2.0 * lambda);
        const double g3 = b3 + 2.0 * bpob * bpob * (1.0 + 3.0 * lambda * (1.0 + lambda)) -
                          3.0 * b2 * bpob * (1.0 + 2.0 * lambda);
        ds = nu * householder_factor(nu, g2, g3);
      }
    } else if (upper_log) {
      if (!(b < b_max) || !(bp > DBL_MIN)) {
        ds = 0.5 * (s_left + s_right) - s;
      } else {
        const double gp = bp / (b_max - b);
        const double nu = std::log((b_max - b) / (b_max - beta)) / gp;
        const double g2 = b2 + gp;
        const double g3 = b3 + gp * (2.0 * gp + 3.0 * b2);
        ds = nu * householder_factor(nu, g2, g3);
      }
    } else {
      const double nu = (beta - b) / bp;
      ds = nu * householder_factor(nu, b2, b3);
    }
    ds = std::max(ds, -0.5 * s);
    s += ds;
    ++it;
  }
};

// Scalar driver of the solver.
double solve_otm_call(double beta, double x, int* iterations_out) noexcept {
  Solver sv;
  sv.start(beta, x, std::exp(0.5 * x));
  const double s1 = sv.second_point(normalised_time_value(x, sv.sc), normalised_vega(x, sv.sc));
  sv.initial_guess(normalised_time_value(x, s1), normalised_vega(x, s1));
  while (sv.next_point()) {
    sv.householder(normalised_time_value(x, sv.s), normalised_vega(x, sv.s));
  }
  if (iterations_out) *iterations_out = sv.it;
  return sv.s;
}

// Whether a normalised vol s is determined by a double price: beyond
// s = 8.3 + sqrt(8.3^2 + 2|x|) the time value is within 2^-53 of its maximum, so no price
// other than the bound itself maps there; the solver ends up far past that (towards DBL_MAX)
// only when the price is within rounding of the bound. The limit here is looser than that
// (never refuses a determined vol).
inline bool determined(double s, double x_abs) noexcept {
  return s < 40.0 + 2.0 * std::sqrt(2.0 * x_abs);
}

}  // namespace

Status implied_normalised_vol(double beta, double x, OptionType type, double* s_out,
                              int* iterations) noexcept {
  if (!std::isfinite(beta)) return Status::invalid("price", 0, "not finite");
  if (!std::isfinite(x)) return Status::invalid("moneyness", 0, "not finite");
  double th = sign(type);
  // In the money: take off the intrinsic value, continue with the out-of-the-money option.
  if (th * x > 0.0) {
    beta -= 2.0 * std::fabs(std::sinh(0.5 * x));
    th = -th;
  }
  if (beta < 0.0) return Status::no_solution("price", 0, "below the intrinsic value");
  if (th < 0.0) x = -x;  // put -> call with the reciprocal strike
  const double b_max = std::exp(0.5 * x);
  if (beta >= b_max) {
    return Status::no_solution("price", 0, "at or above the no-arbitrage maximum");
  }
  if (beta == 0.0) {
    *s_out = 0.0;
    if (iterations) *iterations = 0;
    return Status::success();
  }
  const double s = solve_otm_call(beta, x, iterations);
  if (!determined(s, std::fabs(x))) {
    return Status::no_solution("price", 0, "within rounding of the no-arbitrage maximum");
  }
  *s_out = s;
  return Status::success();
}

namespace {

// A price below the intrinsic value by no more than the rounding of discounting, of the
// forward's growth factor or of a coin conversion (16 ulp) is taken as the intrinsic value
// itself (vol 0), not as an arbitrage.
inline bool below_intrinsic(double undiscounted, double intrinsic) noexcept {
  return undiscounted < intrinsic * (1.0 - 16.0 * kEps);
}

// Undiscounted price -> the normalised time value beta of the out-of-the-money call with
// x = -|ln(F/K)| (same vol), with the intrinsic removed in price space (exact, so that deep
// in-the-money inputs keep their time value). Every check that decides "no solution" is here,
// shared by the scalar and the batch solvers so that they refuse exactly the same inputs.
Status iv_setup(double undiscounted, double f, double k, double time, bool call, std::size_t index,
                double* beta_out, double* x_abs_out, double* b_max_out) noexcept {
  if (!std::isfinite(undiscounted)) return Status::invalid("price", index, "not finite");
  if (!(time > 0.0)) return Status::invalid("time", index, "must be > 0 for an implied vol");
  if (!std::isfinite(f)) return Status::invalid("underlying", index, "the forward overflows");
  const double th = call ? 1.0 : -1.0;
  const double intrinsic = std::max(th * (f - k), 0.0);
  if (below_intrinsic(undiscounted, intrinsic)) {
    return Status::no_solution("price", index, "below the intrinsic value");
  }
  const double cap = call ? f : k;
  if (undiscounted >= cap) {
    return Status::no_solution("price", index, "at or above the no-arbitrage maximum");
  }
  const double tv = std::max(undiscounted - intrinsic, 0.0);
  const double x_abs = std::fabs(detail::log_moneyness(f, k));
  const double beta = tv / (std::sqrt(f) * std::sqrt(k));
  // The same bound after normalisation: the rounding of the division can carry a price just
  // below the cap onto (or past) b_max = exp(-|x|/2), where no finite vol exists.
  const double b_max = std::exp(-0.5 * x_abs);
  if (!(beta < b_max)) {
    return Status::no_solution("price", index, "at or above the no-arbitrage maximum");
  }
  *beta_out = beta;
  *x_abs_out = x_abs;
  *b_max_out = b_max;
  return Status::success();
}

// Normalised vols s of m out-of-the-money calls (beta > 0, x = -x_abs): the solver's stages
// run for the whole block together, every evaluation of b and b' through the vector kernels.
// Each lane's arithmetic is independent of the others, so a vol does not depend on the block
// it was solved in: the scalar function (a block of one) and the batch give the same bits.
void solve_block(std::size_t m, const double* beta, const double* x_abs_in, const double* b_max,
                 double* s_out) noexcept {
  constexpr std::size_t kB = detail::kBlock;
  Solver sv[kB];
  std::size_t active[kB];
  alignas(64) double xa[kB], sp[kB], bv[kB], vv[kB], xa2[kB];
  for (std::size_t j = 0; j < m; ++j) {
    sv[j] = Solver{};
    sv[j].start(beta[j], -x_abs_in[j], b_max[j]);
    xa[j] = x_abs_in[j];
    sp[j] = sv[j].sc;
  }
  detail::normalised_block(m, xa, sp, bv, vv);
  for (std::size_t j = 0; j < m; ++j) sp[j] = sv[j].second_point(bv[j], vv[j]);
  detail::normalised_block(m, xa, sp, bv, vv);
  for (std::size_t j = 0; j < m; ++j) sv[j].initial_guess(bv[j], vv[j]);
  for (;;) {
    std::size_t na = 0;
    for (std::size_t j = 0; j < m; ++j) {
      if (sv[j].next_point()) {
        active[na] = j;
        xa2[na] = xa[j];
        sp[na] = sv[j].s;
        ++na;
      }
    }
    if (na == 0) break;
    detail::normalised_block(na, xa2, sp, bv, vv);
    for (std::size_t q = 0; q < na; ++q) sv[active[q]].householder(bv[q], vv[q]);
  }
  for (std::size_t j = 0; j < m; ++j) s_out[j] = sv[j].s;
}

constexpr const char* kUndetermined =
    "within rounding of the no-arbitrage maximum: no vol is determined by this price";

Status solve_price(double undiscounted, double f, double k, double time, OptionType type,
                   std::size_t index, double* vol_out) noexcept {
  double beta = 0.0;
  double x_abs = 0.0;
  double b_max = 0.0;
  Status st =
      iv_setup(undiscounted, f, k, time, type == OptionType::kCall, index, &beta, &x_abs, &b_max);
  if (!st.ok()) return st;
  // A block of one through the batch's own stages and vector kernels: the scalar function
  // and the batch give the same bits and refuse the same inputs. (The scalar evaluations of b
  // and b' take half the time, 0.33 against 0.70 us, but near the bound the two paths can
  // disagree on whether a vol is determined at all.)
  double s = 0.0;
  if (beta > 0.0) solve_block(1, &beta, &x_abs, &b_max, &s);
  if (!determined(s, x_abs)) return Status::no_solution("price", index, kUndetermined);
  *vol_out = s / std::sqrt(time);
  return Status::success();
}

}  // namespace

Status black76_implied_vol(double price, double forward, double strike, double time, double rate,
                           OptionType type, double* vol_out) noexcept {
  Status st = validate_black_inputs(forward, strike, time, 0.0, rate, 0.0, 0);
  if (!st.ok()) return st;
  if (!std::isfinite(price)) return Status::invalid("price", 0, "not finite");
  return solve_price(price * std::exp(rate * time), forward, strike, time, type, 0, vol_out);
}

Status inverse_implied_vol(double price_coin, double forward, double strike, double time,
                           double rate, OptionType type, double* vol_out) noexcept {
  if (!std::isfinite(price_coin)) return Status::invalid("price", 0, "not finite");
  return black76_implied_vol(price_coin * forward, forward, strike, time, rate, type, vol_out);
}

Status bsm_implied_vol(double price, double spot, double strike, double time, double rate,
                       double carry_q, OptionType type, double* vol_out) noexcept {
  Status st = validate_black_inputs(spot, strike, time, 0.0, rate, carry_q, 0);
  if (!st.ok()) return st;
  const double forward = spot * std::exp((rate - carry_q) * time);
  return black76_implied_vol(price, forward, strike, time, rate, type, vol_out);
}

namespace {

inline double undiscounted_price(const BatchInputs& in, const Column<double>& price, std::size_t i,
                                 double* forward) noexcept {
  const double t = in.time[i];
  const double r = in.rate[i];
  double f = in.underlying[i];
  double p = price[i];
  // exp(0) is 1 exactly: zero rates (the common case) skip the exponentials.
  if (in.model == Model::kBsm) {
    const double g = (r - in.carry[i]) * t;
    if (g != 0.0) f *= std::exp(g);
  }
  if (in.model == Model::kInverse) p *= f;
  *forward = f;
  const double rt = r * t;
  return rt != 0.0 ? p * std::exp(rt) : p;
}

// Batch driver over rows [b, e), a block at a time: per row the checks (iv_setup, which give
// beta, |x| and b_max), then the block's options through solve_block. Stops at the range's
// first bad row (in row order) and returns it; the vols of rows the price does not determine
// are NaN (reported after the threads join).
Status solve_range(const BatchInputs& in, Column<double> price, double* out, std::size_t b,
                   std::size_t e) noexcept {
  constexpr std::size_t kB = detail::kBlock;
  std::size_t rows[kB];
  double beta[kB], xa[kB], bm[kB], sv[kB];
  for (std::size_t b0 = b; b0 < e; b0 += kB) {
    const std::size_t n = std::min(kB, e - b0);
    std::size_t m = 0;
    for (std::size_t i = b0; i < b0 + n; ++i) {
      if (!std::isfinite(price[i])) return Status::invalid("price", i, "not finite");
      double f = 0.0;
      const double p = undiscounted_price(in, price, i, &f);
      Status bad =
          iv_setup(p, f, in.strike[i], in.time[i], in.is_call[i] != 0, i, &beta[m], &xa[m], &bm[m]);
      if (!bad.ok()) return bad;
      if (!(beta[m] > 0.0)) {
        out[i] = 0.0;
        continue;
      }
      rows[m] = i;
      ++m;
    }
    if (m == 0) continue;
    solve_block(m, beta, xa, bm, sv);
    for (std::size_t j = 0; j < m; ++j) {
      out[rows[j]] = determined(sv[j], xa[j]) ? sv[j] / std::sqrt(in.time[rows[j]])
                                              : std::numeric_limits<double>::quiet_NaN();
    }
  }
  return Status::success();
}

}  // namespace

Status implied_vol_batch(const BatchInputs& in, Column<double> price, double* vol_out,
                         int threads) noexcept {
  if (price.data == nullptr) return Status::bad_argument("price", "missing input column");
  if (vol_out == nullptr && in.n > 0) return Status::bad_argument("out", "missing output");
  BatchInputs checked = in;
  const double zero = 0.0;
  checked.vol = Column<double>{&zero, 0};
  Status st = validate(checked);
  if (!st.ok()) return st;
  // The vols go to scratch and are copied out only when every row has one: nothing is
  // written on any error. Not zero-filled: every element is written before it is read.
  std::unique_ptr<double[]> vols(new (std::nothrow) double[in.n]);
  if (!vols && in.n > 0) {
    return Status::bad_argument("price", "out of memory for the implied-vol scratch");
  }
  constexpr std::size_t kMinPerThread = 2048;
  constexpr std::size_t kMaxThreads = 64;
  std::size_t nthreads = threads > 0 ? static_cast<std::size_t>(threads)
                                     : std::max(1u, std::thread::hardware_concurrency());
  nthreads = std::min({nthreads, kMaxThreads, std::max<std::size_t>(1, in.n / kMinPerThread)});
  // Chunks on the persistent pool (this thread and its workers), no thread started per call;
  // the checks run inside the chunks too.
  const std::size_t chunk = (in.n + nthreads - 1) / nthreads;
  Status results[kMaxThreads];
  auto task = [&](std::size_t w) noexcept {
    const std::size_t b = std::min(in.n, w * chunk);
    results[w] = solve_range(in, price, vols.get(), b, std::min(in.n, b + chunk));
  };
  pymargin::detail::parallel_for(nthreads, task);
  // Chunks are in row order: the first failed chunk holds the first bad row.
  for (std::size_t w = 0; w < nthreads; ++w) {
    if (!results[w].ok()) return results[w];
  }
  // The first row (in row order) whose vol the price does not determine: the same refusal as
  // the scalar function.
  for (std::size_t i = 0; i < in.n; ++i) {
    if (std::isnan(vols[i])) return Status::no_solution("price", i, kUndetermined);
  }
  std::copy(vols.get(), vols.get() + in.n, vol_out);
  return Status::success();
}

}  // namespace pymargin::pricing
