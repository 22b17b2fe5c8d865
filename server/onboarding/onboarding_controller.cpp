#include "server/onboarding/onboarding_controller.h"

#include <algorithm>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "kube/resources.h"
#include "policy/json_codec.h"
#include "server/onboarding/api_lease_store.h"

namespace palisade::server {
namespace {

using Clock = std::chrono::steady_clock;

// How long the thread sleeps at most between looks at its stop token.
constexpr std::chrono::milliseconds kWakeUp{250};

std::string describe(const OnboardingAction& action) {
  return fmt::format("{} NetworkPolicy {}/{}", toString(action.kind),
                     action.policy.metadata.namespace_name, action.policy.metadata.name);
}

// The replacement as one atomic JSON patch: the test makes it fail with a
// conflict if the policy changed since the cache saw it.
nlohmann::json replacementPatch(const policy::NetworkPolicy& replacement) {
  const nlohmann::json encoded = policy::encodeNetworkPolicy(replacement);
  return nlohmann::json::array(
      {{{"op", "test"},
        {"path", "/metadata/resourceVersion"},
        {"value", replacement.metadata.resource_version}},
       {{"op", "add"}, {"path", "/metadata/labels"}, {"value", encoded["metadata"]["labels"]}},
       {{"op", "replace"}, {"path", "/spec"}, {"value", encoded["spec"]}}});
}

}  // namespace

OnboardingController::OnboardingController(kube::ApiClient& client,
                                           kube::Informer<policy::Namespace>& namespaces,
                                           kube::Informer<policy::NetworkPolicy>& policies,
                                           const kube::ChangeNotifier& changes,
                                           const ConfigStore& config,
                                           OnboardingControllerOptions options)
    : client_(client),
      namespaces_(namespaces),
      policies_(policies),
      changes_(changes),
      config_(config),
      options_(std::move(options)),
      lease_store_(std::make_unique<ApiLeaseStore>(client, options_.lease_namespace,
                                                   options_.lease_name)),
      elector_(std::make_unique<LeaderElector>(*lease_store_, options_.identity,
                                               options_.timing)) {}

OnboardingController::~OnboardingController() { stop(); }

void OnboardingController::start() {
  thread_ = std::jthread([this](const std::stop_token& stop) { run(stop); });
}

void OnboardingController::stop() {
  if (!thread_.joinable()) {
    return;
  }
  thread_.request_stop();
  thread_.join();
}

OnboardingStats OnboardingController::stats() const {
  std::lock_guard lock(stats_mutex_);
  return stats_;
}

void OnboardingController::log(const std::string& event, const std::string& detail) const {
  if (options_.log) {
    options_.log(event, detail);
  }
}

void OnboardingController::run(const std::stop_token& stop) {
  Clock::time_point next_election = Clock::now();
  Clock::time_point next_pass = Clock::time_point::max();
  uint64_t seen = 0;
  bool leading = false;
  while (!stop.stop_requested()) {
    const Clock::time_point now = Clock::now();
    if (now >= next_election) {
      const bool was_leading = leading;
      leading = elector_->step(now);
      next_election = now + options_.timing.retry_period;
      if (leading != was_leading) {
        log(leading ? "leader elected" : "leadership lost",
            leading ? options_.identity : elector_->lastProblem());
        next_pass = now;  // a new leader plans everything at once
      }
      std::lock_guard lock(stats_mutex_);
      stats_.leading = leading;
    }
    const uint64_t generation = changes_.generation();
    const bool synced = namespaces_.hasSynced() && policies_.hasSynced();
    if (leading && synced && (generation != seen || now >= next_pass)) {
      seen = generation;
      const bool clean = reconcileAll();
      next_pass = Clock::now() + (clean ? std::chrono::duration_cast<Clock::duration>(
                                              options_.resync_period)
                                        : std::chrono::duration_cast<Clock::duration>(
                                              options_.retry_after_failure));
    }
    const Clock::time_point wake = std::min({next_election, next_pass, Clock::now() + kWakeUp});
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(wake - Clock::now());
    if (wait.count() > 0) {
      changes_.waitForChange(seen, wait);
    }
  }
  if (leading && elector_->release()) {
    log("leadership released", options_.identity);
  }
}

bool OnboardingController::reconcileAll() {
  const std::shared_ptr<const policy::Config> config = config_.current();
  bool clean = true;
  for (const auto& ns : namespaces_.list()) {
    std::vector<policy::NetworkPolicy> existing;
    for (const auto& present : policies_.list(ns->metadata.name)) {
      existing.push_back(*present);
    }
    for (const OnboardingAction& action : planOnboarding(*config, *ns, existing)) {
      clean = execute(action) && clean;
    }
  }
  std::lock_guard lock(stats_mutex_);
  ++stats_.passes;
  return clean;
}

bool OnboardingController::execute(const OnboardingAction& action) {
  const policy::NetworkPolicy& target = action.policy;
  const std::string& ns = target.metadata.namespace_name;
  const kube::CallOptions call{.field_manager = options_.field_manager};
  kube::ApiResult<nlohmann::json> done;
  switch (action.kind) {
    case OnboardingAction::Kind::kCreate:
      done = client_.create(kube::kNetworkPolicies, ns, policy::encodeNetworkPolicy(target), call);
      // The cache had not seen it yet: nothing to do.
      if (!done && done.error().isAlreadyExists()) {
        return true;
      }
      break;
    case OnboardingAction::Kind::kReplace:
      done = client_.patch(kube::kNetworkPolicies, ns, target.metadata.name,
                           kube::PatchType::kJson, replacementPatch(target), call);
      break;
    case OnboardingAction::Kind::kDelete:
      done = client_.remove(kube::kNetworkPolicies, ns, target.metadata.name, call);
      if (!done && done.error().isNotFound()) {
        return true;
      }
      break;
  }
  std::lock_guard lock(stats_mutex_);
  if (!done) {
    ++stats_.failures;
    log("onboarding write failed", describe(action) + ": " + done.error().describe());
    return false;
  }
  switch (action.kind) {
    case OnboardingAction::Kind::kCreate:
      ++stats_.created;
      break;
    case OnboardingAction::Kind::kReplace:
      ++stats_.replaced;
      break;
    case OnboardingAction::Kind::kDelete:
      ++stats_.deleted;
      break;
  }
  log("onboarded", describe(action));
  return true;
}

}  // namespace palisade::server
