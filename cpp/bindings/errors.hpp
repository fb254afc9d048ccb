// SPDX-License-Identifier: Apache-2.0
// Turning a core Status into the matching Python exception of pymargin.exceptions.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstring>
#include <string>
#include <vector>

#include "pymargin/error.hpp"
#include "pymargin/models/derive_pm.hpp"
#include "pymargin/scenarios/scenario_set.hpp"

namespace pymargin::bindings {

// Raised from binding code, translated in module.cpp into the Python exception classes
// defined in pymargin/exceptions.py (which also subclass ValueError / TypeError).
struct PyInputError {
  enum Kind { kInvalid, kNoSolution, kType } kind;
  std::string field;
  long long index;  // -1: not about one row
  std::string message;
};

// Vol-shock rules from a [m x 10] float64 array: kind (0 relative, 1 additive), range_up,
// range_down, min_vol_up, min_vol_down, short_power, long_power, power_switch_days,
// reference_days, dte_floor_days (pymargin.scenarios.ScenarioSet.rules_array). Defined in
// bind_kernel.cpp.
std::vector<scenarios::VolShockRule> rules_from(const pybind11::array& a, std::size_t m);

// Maps core field names to the Python argument names the caller used.
inline std::string python_field(const char* core_field, const char* underlying_name) {
  if (std::strcmp(core_field, "underlying") == 0) return underlying_name;
  if (std::strcmp(core_field, "carry") == 0) return "dividend";
  return core_field;
}

inline void raise_status(const Status& st, const char* underlying_name) {
  if (st.ok()) return;
  PyInputError e;
  e.kind = st.code == StatusCode::kNoSolution ? PyInputError::kNoSolution : PyInputError::kInvalid;
  e.field = python_field(st.field, underlying_name);
  e.index = st.code == StatusCode::kInvalidArgument ? -1 : static_cast<long long>(st.index);
  e.message = st.message;
  throw e;
}

void register_error_translator(pybind11::module_& m);

// Derive PM's parameters (params [34] in the order of DeriveParams) and scenarios (columns
// spot_shock, vol (uint8), dampening), the scenarios kept in `scenarios` (bind_kernel.cpp).
models::DeriveParams derive_params(const pybind11::array& params, const pybind11::array& spot_shock,
                                   const pybind11::array& vol, const pybind11::array& dampening,
                                   std::vector<models::DeriveScenario>& scenarios);

}  // namespace pymargin::bindings
