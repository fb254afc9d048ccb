// SPDX-License-Identifier: Apache-2.0
// Error reporting of the pymargin core.
//
// Batch kernels never throw: they return a Status naming the offending input field and the
// first bad row, and they check every input before writing any output. Callers that prefer
// exceptions (the Python bindings, tools) turn a non-OK Status into an exception.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <utility>

namespace pymargin {

enum class StatusCode : int {
  kOk = 0,
  kInvalidInput = 1,    // a value is outside the domain of the function (NaN, negative vol, ...)
  kNoSolution = 2,      // e.g. a price outside the no-arbitrage bounds in an implied-vol inversion
  kInvalidArgument = 3  // the call itself is malformed (length mismatch, null column, ...)
};

// Outcome of a batch call. `field` and `message` point to static strings; `index` is the first
// offending row (0 when the whole call is malformed).
struct Status {
  StatusCode code = StatusCode::kOk;
  const char* field = "";
  std::size_t index = 0;
  const char* message = "";

  [[nodiscard]] bool ok() const noexcept { return code == StatusCode::kOk; }
  static Status success() noexcept { return {}; }
  static Status invalid(const char* f, std::size_t i, const char* m) noexcept {
    return {StatusCode::kInvalidInput, f, i, m};
  }
  static Status no_solution(const char* f, std::size_t i, const char* m) noexcept {
    return {StatusCode::kNoSolution, f, i, m};
  }
  static Status bad_argument(const char* f, const char* m) noexcept {
    return {StatusCode::kInvalidArgument, f, 0, m};
  }
};

// Exception types for code paths that are allowed to throw (never the pricing hot path).
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

class InvalidInput : public Error {
 public:
  InvalidInput(std::string field, std::size_t index, const std::string& message)
      : Error(field + "[" + std::to_string(index) + "]: " + message),
        field_(std::move(field)),
        index_(index) {}
  [[nodiscard]] const std::string& field() const noexcept { return field_; }
  [[nodiscard]] std::size_t index() const noexcept { return index_; }

 private:
  std::string field_;
  std::size_t index_;
};

// Throws the exception matching a non-OK status; does nothing for kOk.
void throw_if_error(const Status& status);

}  // namespace pymargin
