#pragma once

// The cluster as Palisade sees it — namespaces, pods and NetworkPolicies —
// kept current by three informers that share one change notification. The
// enforcer waits for a change and compiles snapshot(); the webhook asks the
// informers directly (the policies of a namespace, a namespace's labels).
//
// Thread-safe; stop() (and the destructor) joins the informers' threads.

#include <chrono>
#include <cstdint>
#include <memory>

#include "kube/api_client.h"
#include "kube/change_notifier.h"
#include "kube/informer.h"
#include "policy/objects.h"

namespace palisade::kube {

struct ClusterCacheOptions {
  // Each informer's options; their `notifier` is replaced by the cache's.
  InformerOptions namespaces{};
  InformerOptions pods{};
  InformerOptions network_policies{};
};

class ClusterCache {
 public:
  // `client` must outlive the cache.
  explicit ClusterCache(ApiClient& client, ClusterCacheOptions options = {});
  ~ClusterCache();
  ClusterCache(const ClusterCache&) = delete;
  ClusterCache& operator=(const ClusterCache&) = delete;

  void start();
  void stop();

  // All three have listed once.
  bool hasSynced() const;
  bool waitForSync(std::chrono::milliseconds timeout) const;

  // Advances on every change to any of the three caches.
  uint64_t generation() const;
  uint64_t waitForChange(uint64_t seen, std::chrono::milliseconds timeout) const;

  // Copies of the cached objects, each list sorted by namespace/name. The
  // three informers move independently: a snapshot may hold a pod whose
  // namespace has not arrived yet, as the apiserver's own caches may.
  policy::ClusterState snapshot() const;

  Informer<policy::Namespace>& namespaces() { return namespaces_; }
  Informer<policy::Pod>& pods() { return pods_; }
  Informer<policy::NetworkPolicy>& networkPolicies() { return network_policies_; }

 private:
  static ClusterCacheOptions shareNotifier(ClusterCacheOptions options,
                                           const std::shared_ptr<ChangeNotifier>& notifier);

  std::shared_ptr<ChangeNotifier> notifier_;
  ClusterCacheOptions options_;
  Informer<policy::Namespace> namespaces_;
  Informer<policy::Pod> pods_;
  Informer<policy::NetworkPolicy> network_policies_;
};

}  // namespace palisade::kube
