// SPDX-License-Identifier: Apache-2.0
// fmax and fmin inline. std::fmax/std::fmin are library calls without fast-math (x86 has no
// instruction with their NaN rule), too slow inside per-scenario loops and the pre-trade
// check. These give the values of glibc's x86-64 fmax/fmin for every input, signed zeros and
// NaN included: x unless y is larger (smaller), and the other operand when one is NaN.
#pragma once

#include <cmath>

namespace pymargin::detail {

inline double max_of(double x, double y) noexcept { return (x > y || std::isnan(y)) ? x : y; }
inline double min_of(double x, double y) noexcept { return (x < y || std::isnan(y)) ? x : y; }

}  // namespace pymargin::detail
