#include "lab/cancel.h"

#include <fcntl.h>
#include <unistd.h>

namespace palisade::lab {

static_assert(std::atomic<bool>::is_always_lock_free,
              "raise() must be async-signal-safe, so the flag must be lock-free");

CancelToken::CancelToken() {
  // Non-blocking, so that raising twice from a signal handler never blocks on
  // a full pipe.
  if (pipe2(pipe_, O_CLOEXEC | O_NONBLOCK) != 0) {
    pipe_[0] = -1;
    pipe_[1] = -1;
  }
}

CancelToken::~CancelToken() {
  for (int fd : pipe_) {
    if (fd >= 0) {
      close(fd);
    }
  }
}

void CancelToken::raise() noexcept {
  raised_.store(true, std::memory_order_relaxed);
  if (pipe_[1] >= 0) {
    const char byte = 1;
    [[maybe_unused]] const ssize_t ignored = write(pipe_[1], &byte, 1);
  }
}

}  // namespace palisade::lab
