// SPDX-License-Identifier: Apache-2.0
// What the batch kernels (batch_margin, batch_span) share: the checks of the accounts and
// outputs, and the split of the accounts between threads (internal header).
#pragma once

#include <cstddef>
#include <cstdint>

#include "pymargin/error.hpp"
#include "pymargin/kernel/batch_margin.hpp"

namespace pymargin::kernel::detail {

// Offsets start at 0 and never decrease, collateral and amounts finite, instruments below
// n_instruments, every output column present; *widest receives the most positions of an
// account.
Status check_accounts(const BatchAccounts& acc, std::size_t n_instruments, const BatchOutputs& out,
                      std::size_t* widest) noexcept;

// Writes account a's result: IM, MM, equity, ratio MM / equity (inf when equity <= 0 < MM)
// and status (2 liquidation: MM >= equity; 1 margin call: IM >= equity; 0 healthy); any
// figure not finite: status 3 (not covered) and NaN margins, never "healthy". worst: the
// worst scenario's index, or -1; group: whose scenario it is (pair, set or commodity), or -1.
// The account's add-ons (BatchAccounts::im_addon, mm_addon) are added to im and mm first.
void write_account(const BatchOutputs& out, const BatchAccounts& acc, std::size_t a, double im,
                   double mm, double equity, std::int32_t worst, std::int32_t group = -1) noexcept;

// The thread count for acc (threads <= 0: every core; at most one thread per 1,024 accounts).
std::size_t batch_threads(const BatchAccounts& acc, int threads) noexcept;

// Runs range(t, begin, end) for nthreads ranges of accounts balanced by positions, on this
// thread and the worker pool; returns when all are done.
using RangeFn = void (*)(void* ctx, std::size_t t, std::size_t begin, std::size_t end) noexcept;
void run_split(const BatchAccounts& acc, std::size_t nthreads, RangeFn range, void* ctx) noexcept;

template <class F>
void run_split(const BatchAccounts& acc, std::size_t nthreads, F& f) noexcept {
  run_split(
      acc, nthreads,
      [](void* c, std::size_t t, std::size_t b, std::size_t e) noexcept {
        (*static_cast<F*>(c))(t, b, e);
      },
      &f);
}

}  // namespace pymargin::kernel::detail
