#include "kube/cluster_cache.h"

namespace palisade::kube {
namespace {

template <class T>
std::vector<T> copyAll(const Informer<T>& informer) {
  std::vector<T> objects;
  for (const auto& object : informer.list()) {
    objects.push_back(*object);
  }
  return objects;
}

}  // namespace

ClusterCacheOptions ClusterCache::shareNotifier(ClusterCacheOptions options,
                                                const std::shared_ptr<ChangeNotifier>& notifier) {
  options.namespaces.notifier = notifier;
  options.pods.notifier = notifier;
  options.network_policies.notifier = notifier;
  return options;
}

ClusterCache::ClusterCache(ApiClient& client, ClusterCacheOptions options)
    : notifier_(std::make_shared<ChangeNotifier>()),
      options_(shareNotifier(std::move(options), notifier_)),
      namespaces_(client, options_.namespaces),
      pods_(client, options_.pods),
      network_policies_(client, options_.network_policies) {}

ClusterCache::~ClusterCache() { stop(); }

void ClusterCache::start() {
  namespaces_.start();
  pods_.start();
  network_policies_.start();
}

void ClusterCache::stop() {
  namespaces_.stop();
  pods_.stop();
  network_policies_.stop();
}

bool ClusterCache::hasSynced() const {
  return namespaces_.hasSynced() && pods_.hasSynced() && network_policies_.hasSynced();
}

bool ClusterCache::waitForSync(std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const uint64_t seen = notifier_->generation();
    if (hasSynced()) {
      return true;
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      return false;
    }
    notifier_->waitForChange(
        seen, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now) +
                  std::chrono::milliseconds(1));
  }
}

uint64_t ClusterCache::generation() const { return notifier_->generation(); }

uint64_t ClusterCache::waitForChange(uint64_t seen, std::chrono::milliseconds timeout) const {
  return notifier_->waitForChange(seen, timeout);
}

policy::ClusterState ClusterCache::snapshot() const {
  policy::ClusterState state;
  state.namespaces = copyAll(namespaces_);
  state.pods = copyAll(pods_);
  state.policies = copyAll(network_policies_);
  return state;
}

}  // namespace palisade::kube
