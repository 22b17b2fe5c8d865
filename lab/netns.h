#pragma once

// Network namespaces as the lab uses them: named ones under /run/netns (what
// `ip netns add` creates), entered by one thread at a time with setns().
//
// A socket belongs to the namespace its creating thread was in, and a spawned
// child starts in its parent thread's namespace; so one thread can open
// sockets in every pod and start tools in the node by entering each namespace
// in turn, with no process per namespace.

#include <string>
#include <string_view>

#include "policy/error.h"

namespace palisade::lab {

// An open handle on a network namespace. Move-only; closes it on destruction.
// Holding it keeps the namespace alive even after `ip netns del`, so the lab
// closes every handle before it deletes the namespaces.
class NetnsHandle {
 public:
  NetnsHandle() = default;
  ~NetnsHandle();
  NetnsHandle(NetnsHandle&& other) noexcept;
  NetnsHandle& operator=(NetnsHandle&& other) noexcept;
  NetnsHandle(const NetnsHandle&) = delete;
  NetnsHandle& operator=(const NetnsHandle&) = delete;

  // /run/netns/<name>.
  [[nodiscard]] static policy::Result<NetnsHandle> open(std::string_view name);
  // The namespace the calling thread is in now.
  [[nodiscard]] static policy::Result<NetnsHandle> current();

  int fd() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void reset();

 private:
  explicit NetnsHandle(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// Moves the calling thread into a namespace for the scope's lifetime and back
// to the one it came from on destruction. Not to be moved across threads.
class NetnsScope {
 public:
  // Check ok() before relying on being in `target`.
  explicit NetnsScope(const NetnsHandle& target);
  ~NetnsScope();
  NetnsScope(const NetnsScope&) = delete;
  NetnsScope& operator=(const NetnsScope&) = delete;

  [[nodiscard]] policy::Result<void> status() const { return status_; }

 private:
  NetnsHandle home_;
  policy::Result<void> status_;
};

// Writes a sysctl of the calling thread's network namespace:
// writeSysctl("net/ipv4/ip_forward", "1"). /proc/sys/net shows the namespace
// of the thread that opens it.
[[nodiscard]] policy::Result<void> writeSysctl(std::string_view key, std::string_view value);

}  // namespace palisade::lab
