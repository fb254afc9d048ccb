// SPDX-License-Identifier: Apache-2.0
// A process-wide pool of worker threads for the batch kernels (internal header). Starting a
// std::thread costs tens of microseconds, as much as a mid-sized kernel call takes; the pool
// keeps hardware_concurrency() - 1 workers asleep and wakes them per call.
//
// parallel_run(tasks, fn, ctx) runs fn(ctx, t) for every t in [0, tasks) on the calling thread
// and the workers and returns when all are done. One call uses the pool at a time: a caller
// that finds it busy (another thread's call in flight), or a forked child (whose workers do
// not exist), runs every task itself. Task indices are handed out per call and tagged with
// the call's generation, so a worker waking late never runs a finished call's function.
// noexcept: fn must not throw.
#pragma once

#include <cstddef>

namespace pymargin::detail {

using TaskFn = void (*)(void* ctx, std::size_t task) noexcept;

void parallel_run(std::size_t tasks, TaskFn fn, void* ctx) noexcept;

// The workers the pool can add to the caller (0 on a one-core machine).
std::size_t pool_workers() noexcept;

// A lambda-friendly form: parallel_for(tasks, [&](std::size_t t) noexcept { ... }).
template <class F>
void parallel_for(std::size_t tasks, F& f) noexcept {
  parallel_run(tasks, [](void* c, std::size_t t) noexcept { (*static_cast<F*>(c))(t); }, &f);
}

}  // namespace pymargin::detail
