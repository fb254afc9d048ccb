// SPDX-License-Identifier: Apache-2.0
// The scenario-margin model without its input checks, for callers that have checked their
// inputs once for many evaluations (the batch kernel: once per call, not per account).
#pragma once

#include "pymargin/models/scenario_margin.hpp"

namespace pymargin::models::detail {

// scenario_margin() after its checks: inputs must satisfy them (finite, in range, set indices
// valid, buffers present). Still refuses results that overflow.
Status evaluate(const ModelRules& r, std::size_t ns, std::size_t groups, const GroupView* g,
                std::size_t sets, std::size_t expiries, const double* roll_k,
                const double* expiry_delta, double im_addon, double mm_addon, SetResult* per_set,
                MarginResult* out, double* set_entries, double* group_entries) noexcept;

}  // namespace pymargin::models::detail
