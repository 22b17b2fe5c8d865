#pragma once

// The network-namespace lab: a cluster's pods as network namespaces on one
// "node" namespace that routes between them, real servers and real packets
// between every ordered pair of pods, and an optional enforcer running on the
// node. What it measures is a reachability matrix in the shape the oracle's
// (policy/matrix.h), so the two can be compared entry by entry.
//
// Nothing the lab creates is connected to the caller's network namespace: the
// node has no link but the pods' veths, so no probe can leave the lab.
// lab/README.md draws the topology and describes the enforcer hook.

#include <sys/types.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lab/cancel.h"
#include "lab/enforcer.h"
#include "lab/topology.h"
#include "policy/error.h"
#include "policy/matrix.h"
#include "policy/objects.h"

namespace palisade::lab {

struct LabOptions {
  // Give every pod a Service ClusterIP (DNAT in the node, as kube-proxy does)
  // and probe the ClusterIPs instead of the pod addresses.
  bool via_services = false;
  // Started once the namespaces exist, before create() returns.
  std::optional<EnforcerSpec> enforcer;
  // When raised, create() and measure() stop at their next step and fail; the
  // Lab then tears down as always. Must outlive the Lab.
  const CancelToken* cancel = nullptr;
  // The tools, looked up in PATH: iproute2's ip and iptables' restore commands
  // (either backend, legacy or nf_tables).
  std::string ip_program = "ip";
  std::string iptables_restore = "iptables-restore";
  std::string ip6tables_restore = "ip6tables-restore";
};

struct ProbeOptions {
  // How long a probe waits for its handshake or echo before it counts as
  // dropped. Denied probes cost attempts × timeout, allowed ones a round trip.
  std::chrono::milliseconds timeout{500};
  int attempts = 2;
  size_t max_in_flight = 256;
  // The address family to probe every pair over. Unset: the oracle's choice
  // for a flow between two pods (IPv4 when both ends have it, else IPv6).
  std::optional<policy::IpFamily> family;
};

struct Measurement {
  // As policy::reachabilityMatrix orders them: protocol, port, source pod,
  // destination pod, in the order of the query and of the cluster's pods.
  std::vector<policy::MatrixEntry> entries;
  // Probes that failed other than by timing out, one line each: a refused
  // connection or an unreachable network means something answered, which a
  // silently dropping enforcer never does; a pair without a common address
  // family cannot be probed at all.
  std::vector<std::string> anomalies;
  std::chrono::milliseconds duration{0};
};

// One lab, built by create() and torn down by teardown() or the destructor:
// the enforcer stopped, the namespaces (and with them their veths, routes and
// iptables rules) deleted, the pin folder and the run folder removed.
// Movable, not copyable; not thread-safe. Needs root.
class Lab {
 public:
  [[nodiscard]] static policy::Result<Lab> create(const policy::ClusterState& cluster,
                                                  LabOptions options = {});
  ~Lab();
  Lab(Lab&& other) noexcept;
  Lab& operator=(Lab&& other) noexcept;
  Lab(const Lab&) = delete;
  Lab& operator=(const Lab&) = delete;

  const Topology& topology() const;
  // The cluster as built (see Topology::cluster): give this one to the oracle.
  const policy::ClusterState& cluster() const { return topology().cluster; }
  const std::filesystem::path& runDir() const;
  const std::filesystem::path& manifestsDir() const;

  // Serves every port of the query in every pod and probes every ordered pair.
  // Fails for a protocol this kernel has no sockets for (SCTP, often), when a
  // server cannot be opened, or when cancelled.
  [[nodiscard]] policy::Result<Measurement> measure(const policy::MatrixQuery& query,
                                                    const ProbeOptions& options = {});

  // Starts an enforcer on the node and waits for it to be ready (see
  // EnforcerSpec); one at a time.
  [[nodiscard]] policy::Result<void> startEnforcer(const EnforcerSpec& spec);
  // Sends `signal` to the enforcer and waits for it, with SIGKILL after its
  // grace period. Returns how it ended ("exited with status 0"), or nullopt
  // when none was running. Does not run the cleanup command: teardown does.
  std::optional<std::string> stopEnforcer(int signal = SIGTERM);
  // Stops the enforcer with SIGTERM and runs its cleanup commands (its
  // --uninstall), so that nothing it attached or pinned is left: the lab is
  // back to no enforcement and a later startEnforcer begins afresh.
  [[nodiscard]] policy::Result<void> removeEnforcer();
  std::optional<pid_t> enforcerPid() const;

  // Replaces the cluster's policies and rewrites networkpolicies.json (by an
  // atomic rename, so an enforcer watching the folder never reads half a file).
  [[nodiscard]] policy::Result<void> setPolicies(std::vector<policy::NetworkPolicy> policies);

  // Tears everything down; safe to call more than once. Returns what could not
  // be undone or went wrong on the way (an enforcer that did not stop on
  // SIGTERM, a failed cleanup command), one message each. The destructor calls
  // it and prints those messages to standard error.
  std::vector<std::string> teardown();

 private:
  struct State;
  explicit Lab(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace palisade::lab
