#pragma once

// A request to stop, raised from a signal handler and noticed by the lab
// between its steps and inside its probe loop, which then unwinds so that the
// Lab's destructor tears everything down as on any other exit.

#include <atomic>

namespace palisade::lab {

// Thread-safety: raise() is async-signal-safe and may be called from any
// thread or a signal handler; the rest may be called from any thread. Neither
// copyable nor movable: a signal handler keeps a pointer to it.
class CancelToken {
 public:
  CancelToken();
  ~CancelToken();
  CancelToken(const CancelToken&) = delete;
  CancelToken& operator=(const CancelToken&) = delete;

  void raise() noexcept;
  bool raised() const noexcept { return raised_.load(std::memory_order_relaxed); }
  // Becomes readable once raise() has been called, for poll and epoll loops.
  int fd() const noexcept { return pipe_[0]; }

 private:
  std::atomic<bool> raised_{false};
  int pipe_[2] = {-1, -1};
};

}  // namespace palisade::lab
