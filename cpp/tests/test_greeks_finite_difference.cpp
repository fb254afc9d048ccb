// SPDX-License-Identifier: Apache-2.0
// Analytic Greeks against central finite differences of the price (or of the lower-order
// Greek) over a grid of moneyness, maturity, vol, rates and option type, for all three models.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "pymargin/pricing/black.hpp"

namespace pm = pymargin::pricing;
using pm::Greeks;
using pm::OptionType;

namespace {

// (u, k, t, v, r, q) -> Greeks
using Fn = std::function<Greeks(double, double, double, double, double, double, OptionType)>;

// Central difference with one Richardson step: truncation error O(h^4).
double central(const std::function<double(double)>& f, double x, double h) {
  const double d1 = (f(x + h) - f(x - h)) / (2.0 * h);
  const double d2 = (f(x + 0.5 * h) - f(x - 0.5 * h)) / h;
  return (4.0 * d2 - d1) / 3.0;
}

// coin: the model's delta is F dc/dF (inverse options), not dc/dF.
void check_model(const Fn& fn, const char* name, bool coin = false) {
  int checked = 0;
  for (double k : {60.0, 85.0, 100.0, 115.0, 150.0}) {
    for (double t : {0.05, 0.5, 2.0}) {
      for (double v : {0.15, 0.6, 1.2}) {
        for (double r : {0.0, 0.05}) {
          for (double q : {0.0, 0.03}) {
            for (OptionType type : {OptionType::kCall, OptionType::kPut}) {
              const double u = 100.0;
              const Greeks g = fn(u, k, t, v, r, q, type);
              const double hu = 1e-3 * u;
              const double hv = 1e-3;
              const double ht = 1e-4;
              const double hr = 1e-4;
              auto at = [&](double uu, double tt, double vv, double rr) {
                return fn(uu, k, tt, vv, rr, q, type);
              };
              const double d_fd =
                  central([&](double x) { return at(x, t, v, r).price; }, u, hu) * (coin ? u : 1.0);
              const double g_fd = central([&](double x) { return at(x, t, v, r).delta; }, u, hu);
              const double v_fd = central([&](double x) { return at(u, t, x, r).price; }, v, hv);
              const double th_fd = -central([&](double x) { return at(u, x, v, r).price; }, t, ht);
              const double rho_fd = central([&](double x) { return at(u, t, v, x).price; }, r, hr);
              const double vanna_fd =
                  central([&](double x) { return at(u, t, x, r).delta; }, v, hv);
              const double volga_fd = central([&](double x) { return at(u, t, x, r).vega; }, v, hv);
              const double scale = std::fabs(g.price) + 1e-2 * u;
              auto ok = [&](double analytic, double fd, double ref_scale, const char* what) {
                EXPECT_NEAR(analytic, fd, 1e-6 * std::fabs(fd) + 1e-7 * ref_scale)
                    << name << " " << what << " K=" << k << " T=" << t << " v=" << v << " r=" << r
                    << " q=" << q << " call=" << (type == OptionType::kCall);
              };
              ok(g.delta, d_fd, 1.0 + scale / u, "delta");
              ok(g.gamma, g_fd, 1.0 / u, "gamma");
              ok(g.vega, v_fd, scale, "vega");
              ok(g.theta, th_fd, scale, "theta");
              ok(g.rho, rho_fd, scale, "rho");
              ok(g.vanna, vanna_fd, 1.0, "vanna");
              ok(g.volga, volga_fd, scale, "volga");
              ++checked;
            }
          }
        }
      }
    }
  }
  EXPECT_EQ(checked, 360);
}

}  // namespace

TEST(GreeksFiniteDifference, Black76) {
  check_model([](double u, double k, double t, double v, double r, double,
                 OptionType type) { return pm::black76_greeks(u, k, t, v, r, type); },
              "black76");
}

TEST(GreeksFiniteDifference, Bsm) {
  check_model([](double u, double k, double t, double v, double r, double q,
                 OptionType type) { return pm::bsm_greeks(u, k, t, v, r, q, type); },
              "bsm");
}

TEST(GreeksFiniteDifference, InverseCoinGreeks) {
  // Coin Greeks are derivatives of the coin price c, except delta = F dc/dF (the coin exposure,
  // Deribit's convention); gamma and vanna are derivatives of that coin delta.
  check_model([](double u, double k, double t, double v, double r, double,
                 OptionType type) { return pm::inverse_greeks(u, k, t, v, r, type); },
              "inverse", true);
}

TEST(GreeksFiniteDifference, BsmForwardDeltaIsDerivativeInForward) {
  const double s = 100, k = 95, t = 0.7, v = 0.4, r = 0.03, q = 0.01;
  const auto g = pm::bsm_greeks(s, k, t, v, r, q, OptionType::kCall);
  const double f = s * std::exp((r - q) * t);
  const double h = 1e-3;
  const double fd = (pm::black76_price(f + h, k, t, v, r, OptionType::kCall) -
                     pm::black76_price(f - h, k, t, v, r, OptionType::kCall)) /
                    (2 * h);
  EXPECT_NEAR(g.delta_forward, fd, 1e-8);
  EXPECT_NEAR(g.delta, g.delta_forward * f / s, 1e-14);
}
