#pragma once

// A TCP relay from 127.0.0.1:PORT inside a network namespace to 127.0.0.1:
// PORT of the test's own namespace: what lets a process in a lab's node
// namespace (palisade-enforcer) reach the test cluster's kube-apiserver at
// the same URL, its TLS name included, as a DaemonSet on hostNetwork reaches
// the apiserver. Bytes are copied unchanged, TLS stays end to end.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "policy/error.h"

namespace palisade::e2e {

class NetnsRelay {
 public:
  // Listens in the namespace /run/netns/`netns` (`ip netns add` names).
  [[nodiscard]] static policy::Result<std::unique_ptr<NetnsRelay>> start(const std::string& netns,
                                                                         uint16_t port);
  // Stops accepting, closes every relayed connection and joins the threads.
  ~NetnsRelay();
  NetnsRelay(const NetnsRelay&) = delete;
  NetnsRelay& operator=(const NetnsRelay&) = delete;

 private:
  NetnsRelay(int listener, uint16_t port);
  void acceptLoop();
  void relay(int client);

  int listener_;
  uint16_t port_;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  std::mutex mutex_;
  std::vector<std::thread> connections_;
};

}  // namespace palisade::e2e
