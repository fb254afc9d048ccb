// SPDX-License-Identifier: Apache-2.0
#include "pymargin/error.hpp"

namespace pymargin {

void throw_if_error(const Status& status) {
  switch (status.code) {
    case StatusCode::kOk:
      return;
    case StatusCode::kInvalidInput:
    case StatusCode::kNoSolution:
      throw InvalidInput(status.field, status.index, status.message);
    case StatusCode::kInvalidArgument:
      throw Error(std::string(status.field) + ": " + status.message);
  }
}

}  // namespace pymargin
