#include "kube/change_notifier.h"

namespace palisade::kube {

uint64_t ChangeNotifier::generation() const {
  std::lock_guard lock(mutex_);
  return generation_;
}

void ChangeNotifier::notify() {
  {
    std::lock_guard lock(mutex_);
    ++generation_;
  }
  changed_.notify_all();
}

uint64_t ChangeNotifier::waitForChange(uint64_t seen, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, timeout, [&] { return generation_ > seen; });
  return generation_;
}

}  // namespace palisade::kube
