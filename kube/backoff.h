#pragma once

// How long to wait before trying again after a failure: exponential, capped,
// with random jitter so that many clients that lost the apiserver at the
// same moment (a DaemonSet on every node) do not all come back at once.

#include <chrono>
#include <cstdint>
#include <random>

namespace palisade::kube {

struct BackoffSettings {
  std::chrono::milliseconds initial{250};
  std::chrono::milliseconds max{30000};
  // Each delay is stretched by a random fraction of itself, up to this one.
  double jitter = 0.5;
};

// Not thread-safe.
class Backoff {
 public:
  explicit Backoff(BackoffSettings settings, uint64_t seed = std::random_device{}());

  // initial, 2·initial, 4·initial ... capped at max, each then stretched to
  // somewhere in [delay, delay·(1 + jitter)].
  std::chrono::milliseconds next();
  // After a success: the next failure waits `initial` again.
  void reset() { failures_ = 0; }

 private:
  BackoffSettings settings_;
  std::mt19937_64 random_;
  unsigned failures_ = 0;
};

}  // namespace palisade::kube
