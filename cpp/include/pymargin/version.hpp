// SPDX-License-Identifier: Apache-2.0
// Single source of the pymargin version: CMake and pyproject.toml both parse these three lines.
#pragma once

#define PYMARGIN_VERSION_MAJOR 0
#define PYMARGIN_VERSION_MINOR 1
#define PYMARGIN_VERSION_PATCH 0

namespace pymargin {
inline constexpr int kVersionMajor = PYMARGIN_VERSION_MAJOR;
inline constexpr int kVersionMinor = PYMARGIN_VERSION_MINOR;
inline constexpr int kVersionPatch = PYMARGIN_VERSION_PATCH;
}  // namespace pymargin
