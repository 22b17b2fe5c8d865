#pragma once

// The enforcer's source of state in a cluster: namespaces, pods and
// NetworkPolicies from the kube-apiserver, kept current by list+watch
// (kube::ClusterCache).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "enforcer/cluster_source.h"
#include "kube/api_client.h"
#include "kube/cluster_cache.h"
#include "kube/kubeconfig.h"

namespace palisade::enforcer {

struct ApiServerSourceOptions {
  // After a change, a new state waits until no further change came for
  // `settle`, so that a burst (a Deployment scaled up, a namespace of
  // policies applied) is compiled once, not once per object...
  std::chrono::milliseconds settle{50};
  // ...but never longer than this after the first change it holds: a cluster
  // that never stops changing still gets new tables this often.
  std::chrono::milliseconds max_delay{500};
  // While the first complete list has not arrived, the resources still
  // missing are reported this often.
  std::chrono::milliseconds unsynced_report_interval{30000};
  kube::ClusterCacheOptions cache{};
  kube::ClientOptions client{};
  // A problem the watches reported (a failed list, a broken watch, an object
  // that did not decode), or a resource still not listed; called from next().
  // Empty: a JSON warning line on standard error.
  std::function<void(const std::string& resource, const std::string& problem)> on_problem{};
};

// Watches the kube-apiserver from construction on. next() returns nothing
// until all three resources have been listed once: enforcing part of the
// cluster would detach the pods not listed yet and judge traffic without the
// policies not listed yet, so until then the tables an earlier enforcer left
// pinned stay in force. After that, every change (coalesced as the options
// say) is a new state; while the apiserver cannot be reached, nothing
// changes, next() returns nullopt and the last state stays enforced. next()
// never fails.
//
// What a state holds:
// - every pod of every node (each one's labels make the identity of its
//   address, wherever the traffic is judged), except pods that have finished
//   (phase Succeeded or Failed): their containers are gone, their address is
//   released and may already belong to another pod;
// - a pod or policy whose Namespace object has not arrived yet (the three
//   watches move independently) holds its state back until the namespace
//   arrives, for at most max_delay; a state delivered without it compiles the
//   namespace with only its kubernetes.io/metadata.name label, as for
//   manifests. The pod is never left out: a pod missing from the state would
//   not be attached, so not isolated at all.
//
// Not thread-safe: next() from one thread (the control loop). Owns the client
// and the caches; the destructor stops the watches.
class ApiServerSource : public ClusterSource {
 public:
  // Starts the watches. Fails only when the configuration is unusable (a CA
  // that does not parse...); an apiserver that cannot be reached is retried.
  [[nodiscard]] static policy::Result<std::unique_ptr<ApiServerSource>> connect(
      kube::ClientConfig config, ApiServerSourceOptions options = {});
  ~ApiServerSource() override;
  ApiServerSource(const ApiServerSource&) = delete;
  ApiServerSource& operator=(const ApiServerSource&) = delete;

  policy::Result<std::optional<policy::ClusterState>> next(
      std::chrono::milliseconds timeout) override;

  // Whether the first complete state has been listed (not necessarily
  // returned yet).
  bool synced() const;
  // Where the apiserver is and who we are to it ("kubeconfig FILE, context
  // C", "in-cluster").
  const std::string& origin() const;
  // For tests and diagnostics: the informers, their stats.
  kube::ClusterCache& cache() { return *cache_; }

 private:
  using Clock = std::chrono::steady_clock;

  // Changes seen since the last state returned.
  struct Pending {
    Clock::time_point first_change;
    Clock::time_point last_change;
    uint64_t generation = 0;  // the newest change seen
    // The snapshot at `generation` lacked a namespace: wait for more until
    // max_delay, not just until things settle.
    bool lacks_namespace = false;
  };

  ApiServerSource(std::unique_ptr<kube::ApiClient> client, ApiServerSourceOptions options);

  policy::ClusterState snapshot() const;
  void reportProblems();
  void report(const std::string& resource, const std::string& problem);

  ApiServerSourceOptions options_;
  std::unique_ptr<kube::ApiClient> client_;
  std::unique_ptr<kube::ClusterCache> cache_;
  Clock::time_point started_;

  bool synced_ = false;
  uint64_t delivered_ = 0;  // the generation of the last state returned
  std::optional<Pending> pending_;

  // What the informers had reported at the last look, per resource.
  struct Seen {
    uint64_t failures = 0;
    std::string last_error;
  };
  Seen seen_namespaces_;
  Seen seen_pods_;
  Seen seen_policies_;
  Clock::time_point last_unsynced_report_;
};

}  // namespace palisade::enforcer
