#pragma once

// The enforcer's /metrics (and /healthz) over plain HTTP on --metrics-addr:
// Prometheus scrapes DaemonSet pods on the node network, where TLS would need
// a certificate per node for nothing secret. One thread, one connection at a
// time is plenty for a scraper; each connection is bounded by a deadline.

#include <cstdint>
#include <memory>
#include <string>

#include "policy/error.h"
#include "server/metrics/registry.h"

namespace palisade::enforcer {

class MetricsEndpoint {
 public:
  explicit MetricsEndpoint(server::metrics::Registry& registry);
  ~MetricsEndpoint();  // stops serving
  MetricsEndpoint(const MetricsEndpoint&) = delete;
  MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;

  // Binds (port 0 picks one) and serves on a thread of its own.
  [[nodiscard]] policy::Result<void> start(const std::string& address, uint16_t port);
  uint16_t port() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace palisade::enforcer
