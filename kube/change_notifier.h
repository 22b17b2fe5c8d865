#pragma once

// A generation counter that waiters can block on: every change to a cache
// increments it, and a consumer remembers the generation it last acted on.
// Several changes between two looks are one wake-up, which is what a
// consumer that recompiles everything (the enforcer) wants.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace palisade::kube {

// Thread-safe.
class ChangeNotifier {
 public:
  uint64_t generation() const;
  // Increments the generation and wakes every waiter.
  void notify();
  // Returns as soon as the generation is past `seen`, or after `timeout`;
  // the generation then.
  uint64_t waitForChange(uint64_t seen, std::chrono::milliseconds timeout) const;

 private:
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  uint64_t generation_ = 0;
};

}  // namespace palisade::kube
