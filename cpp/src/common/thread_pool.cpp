// SPDX-License-Identifier: Apache-2.0
#include "thread_pool.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace pymargin::detail {

namespace {

class Pool {
 public:
  Pool() : pid_(getpid()) {
    const unsigned hw = std::thread::hardware_concurrency();
    const std::size_t n = hw > 1 ? std::min<std::size_t>(hw - 1, 63) : 0;
    try {
      for (std::size_t k = 0; k < n; ++k) workers_.emplace_back([this] { work(); });
    } catch (...) {
      // fewer workers than cores: the callers do more themselves
    }
  }

  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(m_);
      stop_ = true;
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
  }

  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  [[nodiscard]] std::size_t workers() const noexcept { return workers_.size(); }

  void run(std::size_t tasks, TaskFn fn, void* ctx) noexcept {
    if (tasks == 0) return;
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (tasks == 1 || workers_.empty() || !busy.owns_lock() || getpid() != pid_) {
      for (std::size_t t = 0; t < tasks; ++t) fn(ctx, t);
      return;
    }
    std::uint64_t gen = 0;
    {
      std::lock_guard<std::mutex> lock(m_);
      gen = ++generation_;
      fn_ = fn;
      ctx_ = ctx;
      tasks_ = tasks;
      done_.store(0, std::memory_order_relaxed);
      cursor_.store(gen << 32, std::memory_order_release);  // index 0 of this call
    }
    wake_.notify_all();
    drain(gen, tasks, fn, ctx);
    std::unique_lock<std::mutex> lock(m_);
    finished_.wait(lock, [&] { return done_.load(std::memory_order_acquire) == tasks; });
  }

 private:
  // Takes task indices of call `gen` while it has any left and runs them.
  void drain(std::uint64_t gen, std::size_t tasks, TaskFn fn, void* ctx) noexcept {
    for (;;) {
      std::uint64_t c = cursor_.load(std::memory_order_acquire);
      if ((c >> 32) != gen || (c & 0xffffffffULL) >= tasks) return;
      if (!cursor_.compare_exchange_weak(c, c + 1, std::memory_order_acq_rel)) continue;
      fn(ctx, static_cast<std::size_t>(c & 0xffffffffULL));
      if (done_.fetch_add(1, std::memory_order_acq_rel) + 1 == tasks) {
        std::lock_guard<std::mutex> lock(m_);  // the caller may be about to wait
        finished_.notify_all();
      }
    }
  }

  void work() noexcept {
    std::uint64_t seen = 0;
    for (;;) {
      std::uint64_t gen = 0;
      TaskFn fn = nullptr;
      void* ctx = nullptr;
      std::size_t tasks = 0;
      {
        std::unique_lock<std::mutex> lock(m_);
        wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = gen = generation_;
        fn = fn_;
        ctx = ctx_;
        tasks = tasks_;
      }
      drain(gen, tasks, fn, ctx);
    }
  }

  const pid_t pid_;
  std::mutex busy_;  // one call at a time
  std::mutex m_;
  std::condition_variable wake_;
  std::condition_variable finished_;
  bool stop_ = false;
  std::uint64_t generation_ = 0;
  TaskFn fn_ = nullptr;
  void* ctx_ = nullptr;
  std::size_t tasks_ = 0;
  std::atomic<std::uint64_t> cursor_{0};  // generation << 32 | next task index
  std::atomic<std::size_t> done_{0};
  std::vector<std::thread> workers_;
};

Pool& pool() noexcept {
  static Pool p;  // started on first use; joined at exit
  return p;
}

}  // namespace

void parallel_run(std::size_t tasks, TaskFn fn, void* ctx) noexcept { pool().run(tasks, fn, ctx); }

std::size_t pool_workers() noexcept { return pool().workers(); }

}  // namespace pymargin::detail
