// SPDX-License-Identifier: Apache-2.0
// The worker pool of the batch kernels (src/common/thread_pool.hpp): every task runs once per
// call, callers from many threads at once each get their own tasks run (a busy pool runs the
// second caller's tasks on that caller), and back-to-back calls never mix.
#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <thread>
#include <vector>

#include "common/thread_pool.hpp"

namespace det = pymargin::detail;

TEST(ThreadPool, EveryTaskRunsOnceWhateverTheCallers) {
  std::vector<std::thread> callers;
  std::atomic<int> failures{0};
  for (int c = 0; c < 6; ++c) {
    callers.emplace_back([c, &failures] {
      for (int round = 0; round < 300; ++round) {
        const std::size_t tasks = 1 + static_cast<std::size_t>((c * 7 + round) % 13);
        std::vector<std::atomic<int>> hits(tasks);
        for (auto& h : hits) h.store(0);
        auto f = [&](std::size_t t) noexcept { hits[t].fetch_add(1); };
        det::parallel_for(tasks, f);
        for (auto& h : hits) {
          if (h.load() != 1) failures.fetch_add(1);
        }
      }
    });
  }
  for (auto& t : callers) t.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST(ThreadPool, ResultsOfBackToBackCallsDoNotMix) {
  std::vector<double> out(64);
  for (int round = 0; round < 2000; ++round) {
    auto f = [&](std::size_t t) noexcept {
      out[t] = static_cast<double>(round * 100 + static_cast<int>(t));
    };
    const std::size_t tasks = 1 + static_cast<std::size_t>(round % 64);
    det::parallel_for(tasks, f);
    for (std::size_t t = 0; t < tasks; ++t) {
      ASSERT_EQ(out[t], static_cast<double>(round * 100 + static_cast<int>(t)));
    }
  }
}
