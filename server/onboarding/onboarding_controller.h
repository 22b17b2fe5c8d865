#pragma once

// The onboarding controller: every namespace that is not exempt holds the
// Palisade-managed NetworkPolicies the configuration asks for (see
// onboarding_plan.h). It works from the informers' caches, never from inside
// an admission call, so a namespace that another admission controller
// rejected (or a dryRun) leaves nothing behind; it runs again on every change
// the caches see (a namespace created, a managed policy deleted by force) and
// on a periodic resync. Only the replica holding the Lease writes.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "kube/api_client.h"
#include "kube/change_notifier.h"
#include "kube/informer.h"
#include "server/config_store.h"
#include "server/onboarding/leader_election.h"
#include "server/onboarding/onboarding_plan.h"

namespace palisade::server {

struct OnboardingControllerOptions {
  std::string identity;  // this replica in the Lease: the pod's name
  std::string lease_namespace = "palisade-system";
  std::string lease_name = "palisade-onboarding";
  ElectionTiming timing;
  // Every namespace is planned again this often even without a change: a
  // write that failed, or a change a watch gap hid, is repaired by then.
  std::chrono::seconds resync_period{300};
  // After a failed write, the next attempt comes no later than this.
  std::chrono::seconds retry_after_failure{5};
  std::string field_manager = "palisade-onboarding";
  // One line per write and per leadership change, for the structured log.
  std::function<void(const std::string& event, const std::string& detail)> log;
};

struct OnboardingStats {
  uint64_t passes = 0;    // times every namespace was planned
  uint64_t created = 0;
  uint64_t replaced = 0;
  uint64_t deleted = 0;
  uint64_t failures = 0;  // writes the apiserver refused or never answered
  bool leading = false;
};

class OnboardingController {
 public:
  // Everything given must outlive the controller. `changes` is notified by
  // both informers.
  OnboardingController(kube::ApiClient& client, kube::Informer<policy::Namespace>& namespaces,
                       kube::Informer<policy::NetworkPolicy>& policies,
                       const kube::ChangeNotifier& changes, const ConfigStore& config,
                       OnboardingControllerOptions options);
  ~OnboardingController();
  OnboardingController(const OnboardingController&) = delete;
  OnboardingController& operator=(const OnboardingController&) = delete;

  void start();
  // Stops the thread and, when leading, releases the Lease so that another
  // replica takes over at once.
  void stop();

  OnboardingStats stats() const;

 private:
  void run(const std::stop_token& stop);
  // Plans every namespace and carries the plan out; false if a write failed.
  bool reconcileAll();
  bool execute(const OnboardingAction& action);
  void log(const std::string& event, const std::string& detail) const;

  kube::ApiClient& client_;
  kube::Informer<policy::Namespace>& namespaces_;
  kube::Informer<policy::NetworkPolicy>& policies_;
  const kube::ChangeNotifier& changes_;
  const ConfigStore& config_;
  OnboardingControllerOptions options_;
  std::unique_ptr<LeaseStore> lease_store_;
  std::unique_ptr<LeaderElector> elector_;
  mutable std::mutex stats_mutex_;
  OnboardingStats stats_;
  std::jthread thread_;
};

}  // namespace palisade::server
