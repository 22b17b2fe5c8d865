#include "kube/backoff.h"

#include <algorithm>

namespace palisade::kube {

Backoff::Backoff(BackoffSettings settings, uint64_t seed) : settings_(settings), random_(seed) {}

std::chrono::milliseconds Backoff::next() {
  // Doubling stops once the cap is reached, so the shift never overflows.
  double delay = static_cast<double>(settings_.initial.count());
  for (unsigned i = 0; i < failures_ && delay < static_cast<double>(settings_.max.count()); ++i) {
    delay *= 2;
  }
  delay = std::min(delay, static_cast<double>(settings_.max.count()));
  ++failures_;
  std::uniform_real_distribution<double> stretch(0.0, std::max(0.0, settings_.jitter));
  delay *= 1.0 + stretch(random_);
  return std::chrono::milliseconds(static_cast<int64_t>(delay));
}

}  // namespace palisade::kube
