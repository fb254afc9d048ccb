// SPDX-License-Identifier: Apache-2.0
// A standalone consumer of the installed pymargin C++ package: prices a small BTC option chain
// (inverse, coin-settled, as Deribit lists them) and backs the implied vols out again.
#include <cstdint>
#include <cstdio>
#include <vector>

#include "pymargin/pricing/batch.hpp"
#include "pymargin/pricing/implied_vol.hpp"
#include "pymargin/version.hpp"

int main() {
  namespace pm = pymargin::pricing;
  const double forward = 92500.0;    // BTC futures price for the expiry, USD
  const double time = 30.0 / 365.0;  // years to expiry
  const double rate = 0.0;
  const std::vector<double> strikes{70000, 80000, 90000, 100000, 110000, 130000};
  const std::vector<double> vols{0.62, 0.55, 0.50, 0.49, 0.52, 0.60};
  const std::uint8_t call = 1;

  pm::BatchInputs in;
  in.model = pm::Model::kInverse;
  in.n = strikes.size();
  in.underlying = {&forward, 0};
  in.strike = {strikes.data(), 1};
  in.time = {&time, 0};
  in.vol = {vols.data(), 1};
  in.rate = {&rate, 0};
  in.is_call = {&call, 0};
  std::vector<double> price(in.n), delta(in.n), vega(in.n), iv(in.n);
  pm::BatchOutputs out;
  out.price = price.data();
  out.delta = delta.data();
  out.vega = vega.data();
  pymargin::Status st = pm::price_batch(in, out, 1);
  if (!st.ok()) {
    std::fprintf(stderr, "error: %s[%zu]: %s\n", st.field, st.index, st.message);
    return 1;
  }
  st = pm::implied_vol_batch(in, {price.data(), 1}, iv.data(), 1);
  if (!st.ok()) {
    std::fprintf(stderr, "error: %s[%zu]: %s\n", st.field, st.index, st.message);
    return 1;
  }
  std::printf("pymargin %d.%d.%d (kernels: %s)\n", pymargin::kVersionMajor, pymargin::kVersionMinor,
              pymargin::kVersionPatch, pm::simd_level());
  std::printf("%10s %12s %10s %12s %8s\n", "strike", "price BTC", "delta BTC", "vega BTC", "iv");
  int bad = 0;
  for (std::size_t i = 0; i < in.n; ++i) {
    std::printf("%10.0f %12.8f %10.6f %12.8f %8.4f\n", strikes[i], price[i], delta[i], vega[i],
                iv[i]);
    if (!(iv[i] > vols[i] - 1e-12 && iv[i] < vols[i] + 1e-12)) ++bad;
  }
  return bad == 0 ? 0 : 2;
}
