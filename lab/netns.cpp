#include "lab/netns.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

#include <fmt/format.h>

namespace palisade::lab {

NetnsHandle::~NetnsHandle() { reset(); }

NetnsHandle::NetnsHandle(NetnsHandle&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

NetnsHandle& NetnsHandle::operator=(NetnsHandle&& other) noexcept {
  if (this != &other) {
    reset();
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

void NetnsHandle::reset() {
  if (fd_ >= 0) {
    close(fd_);
    fd_ = -1;
  }
}

policy::Result<NetnsHandle> NetnsHandle::open(std::string_view name) {
  const std::string path = fmt::format("/run/netns/{}", name);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return policy::fail(fmt::format("cannot open network namespace {}: {}", path,
                                    std::strerror(errno)));
  }
  return NetnsHandle(fd);
}

policy::Result<NetnsHandle> NetnsHandle::current() {
  const int fd = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return policy::fail(
        fmt::format("cannot open /proc/thread-self/ns/net: {}", std::strerror(errno)));
  }
  return NetnsHandle(fd);
}

NetnsScope::NetnsScope(const NetnsHandle& target) {
  policy::Result<NetnsHandle> home = NetnsHandle::current();
  if (!home) {
    status_ = std::unexpected(home.error());
    return;
  }
  if (setns(target.fd(), CLONE_NEWNET) != 0) {
    status_ = policy::fail(fmt::format("setns: {}", std::strerror(errno)));
    return;
  }
  home_ = std::move(*home);
}

NetnsScope::~NetnsScope() {
  if (!home_.valid()) {
    return;
  }
  if (setns(home_.fd(), CLONE_NEWNET) != 0) {
    // A thread left in a pod's namespace would open every later socket there
    // and run every later tool there, silently: nothing sound can follow.
    std::fprintf(stderr, "palisade lab: cannot return to the original network namespace: %s\n",
                 std::strerror(errno));
    std::abort();
  }
}

policy::Result<void> writeSysctl(std::string_view key, std::string_view value) {
  const std::string path = fmt::format("/proc/sys/{}", key);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    return policy::fail(fmt::format("cannot set {}: {}", path, std::strerror(errno)));
  }
  const ssize_t written = write(fd, value.data(), value.size());
  const int error = errno;
  close(fd);
  if (written != static_cast<ssize_t>(value.size())) {
    return policy::fail(fmt::format("cannot set {} to {}: {}", path, value,
                                    written < 0 ? std::strerror(error) : "short write"));
  }
  return {};
}

}  // namespace palisade::lab
