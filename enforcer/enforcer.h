#pragma once

// palisade-enforcer's control loop: follows the cluster, compiles it, makes
// the new tables live, attaches the programs to new local pods (after their
// tables are live, so that a pod is isolated from its first packet), detaches
// them from pods that went away, and turns flow events into log lines and
// metrics.

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "enforcer/cluster_source.h"
#include "enforcer/dataplane.h"
#include "enforcer/pod_interfaces.h"
#include "policy/compiler.h"
#include "policy/dataplane_lookup.h"
#include "server/metrics/registry.h"

namespace palisade::enforcer {

struct EnforcerOptions {
  pal_mode mode = PAL_MODE_ENFORCE;
  policy::NodeContext node;
  // Only pods scheduled on this node are candidates for attachment; empty:
  // every pod whose address this node routes to a veth.
  std::string node_name;
  // Created once the first cluster state is enforced (for the lab and probes).
  std::filesystem::path ready_file;
};

// How the host-side interface of a pod address is found; rtnetlink in
// production (podInterfaceFor), a table in tests.
using InterfaceFinder =
    std::function<policy::Result<std::optional<PodInterface>>(const policy::IpAddress&)>;

// Not thread-safe: run() and step() from one thread.
class Enforcer {
 public:
  Enforcer(Dataplane& dataplane, ClusterSource& source, InterfaceFinder find_interface,
           server::metrics::Registry& registry, EnforcerOptions options);

  // Prepares the dataplane (node addresses, mode). Call once before step().
  [[nodiscard]] policy::Result<void> start();

  // One round: waits up to `wait` for a new cluster state and enforces it if
  // one came, then handles the flow events waiting. Errors are logged and
  // counted; enforcement of the last good state goes on.
  void step(std::chrono::milliseconds wait);

  // step() until `stop` is set.
  void run(const std::atomic<bool>& stop);

  // What a flow event is about, as one JSON log line's fields.
  nlohmann::json describe(const pal_flow_event& event) const;

 private:
  [[nodiscard]] policy::Result<void> enforce(const policy::ClusterState& state);
  [[nodiscard]] policy::Result<void> attachLocalPods(const policy::ClusterState& state);
  void handleEvents();
  void publishCounters();

  Dataplane& dataplane_;
  ClusterSource& source_;
  InterfaceFinder find_interface_;
  EnforcerOptions options_;
  bool ready_ = false;

  policy::DataplaneIndex index_;
  std::map<std::array<uint8_t, PAL_ADDR_LEN>, policy::PodRef> pods_by_address_;
  // Attached interfaces and the addresses of the pod behind each.
  std::map<int, std::vector<policy::IpAddress>> attached_;

  server::metrics::Family<server::metrics::Counter>& packets_;
  server::metrics::Family<server::metrics::Counter>& events_;
  server::metrics::Family<server::metrics::Counter>& errors_;
  server::metrics::Family<server::metrics::Gauge>& generation_;
  server::metrics::Family<server::metrics::Gauge>& attached_interfaces_;
  server::metrics::Family<server::metrics::Histogram>& compile_seconds_;
  server::metrics::Family<server::metrics::Histogram>& apply_seconds_;
};

// Stable names of the reason codes, for logs and metric labels.
std::string_view reasonName(uint8_t reason);

}  // namespace palisade::enforcer
