#include "enforcer/api_server_source.h"

#include <algorithm>
#include <set>
#include <string_view>
#include <utility>

#include "server/log.h"

namespace palisade::enforcer {
namespace {

using Clock = std::chrono::steady_clock;

// A wait of at least the time left until `until` (none once it passed):
// rounding down would wake just before it and spin.
std::chrono::milliseconds until(Clock::time_point until) {
  return std::max(std::chrono::milliseconds(0),
                  std::chrono::ceil<std::chrono::milliseconds>(until - Clock::now()));
}

// The kubelet releases the address of a pod whose containers have all
// terminated for good; the apiserver keeps showing it in status.podIP.
bool finished(const policy::Pod& pod) { return pod.phase == "Succeeded" || pod.phase == "Failed"; }

std::string namespaceOf(const policy::ObjectMeta& metadata) {
  return metadata.namespace_name.empty() ? std::string("default") : metadata.namespace_name;
}

bool lacksNamespace(const policy::ClusterState& state) {
  std::set<std::string_view> known;
  for (const policy::Namespace& ns : state.namespaces) {
    known.insert(ns.metadata.name);
  }
  auto missing = [&](const policy::ObjectMeta& metadata) {
    return !known.contains(namespaceOf(metadata));
  };
  return std::ranges::any_of(state.pods, [&](const policy::Pod& pod) {
           return missing(pod.metadata);
         }) ||
         std::ranges::any_of(state.policies, [&](const policy::NetworkPolicy& policy) {
           return missing(policy.metadata);
         });
}

uint64_t failuresOf(const kube::InformerStats& stats) {
  return stats.watch_failures + stats.gone + stats.decode_errors;
}

}  // namespace

policy::Result<std::unique_ptr<ApiServerSource>> ApiServerSource::connect(
    kube::ClientConfig config, ApiServerSourceOptions options) {
  auto client = kube::ApiClient::fromConfig(std::move(config), options.client);
  if (!client) {
    return std::unexpected(client.error());
  }
  return std::unique_ptr<ApiServerSource>(
      new ApiServerSource(*std::move(client), std::move(options)));
}

ApiServerSource::ApiServerSource(std::unique_ptr<kube::ApiClient> client,
                                 ApiServerSourceOptions options)
    : options_(std::move(options)),
      client_(std::move(client)),
      cache_(std::make_unique<kube::ClusterCache>(*client_, options_.cache)),
      started_(Clock::now()),
      last_unsynced_report_(started_) {
  if (!options_.on_problem) {
    options_.on_problem = [](const std::string& resource, const std::string& problem) {
      server::logEvent(server::LogLevel::kWarn, "kube-apiserver watch problem",
                       {{"resource", resource}, {"reason", problem}});
    };
  }
  cache_->start();
}

ApiServerSource::~ApiServerSource() { cache_->stop(); }

bool ApiServerSource::synced() const { return cache_->hasSynced(); }

const std::string& ApiServerSource::origin() const { return client_->config().origin; }

policy::ClusterState ApiServerSource::snapshot() const {
  policy::ClusterState state = cache_->snapshot();
  std::erase_if(state.pods, finished);
  return state;
}

policy::Result<std::optional<policy::ClusterState>> ApiServerSource::next(
    std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  const std::optional<policy::ClusterState> nothing;
  if (!synced_) {
    const bool synced = cache_->waitForSync(timeout);
    reportProblems();
    if (!synced) {
      return nothing;
    }
    synced_ = true;
    // The first complete list is due at once (unless a namespace lacks).
    const auto now = Clock::now();
    pending_ = Pending{now, now - options_.settle, cache_->generation(), false};
  }
  for (;;) {
    const auto now = Clock::now();
    if (!pending_) {
      if (now >= deadline) {
        reportProblems();
        return nothing;
      }
      const uint64_t generation = cache_->waitForChange(delivered_, until(deadline));
      if (generation != delivered_) {
        const auto changed = Clock::now();
        pending_ = Pending{changed, changed, generation, false};
      }
      continue;
    }
    const auto cap = pending_->first_change + options_.max_delay;
    const auto due =
        pending_->lacks_namespace ? cap : std::min(pending_->last_change + options_.settle, cap);
    if (now >= due) {
      // Read before copying: a change that lands during the copy is then
      // delivered again in the next state, never lost.
      const uint64_t generation = cache_->generation();
      policy::ClusterState state = snapshot();
      if (now < cap && lacksNamespace(state)) {
        pending_->generation = generation;
        pending_->lacks_namespace = true;
        continue;
      }
      delivered_ = generation;
      pending_.reset();
      reportProblems();
      return std::optional(std::move(state));
    }
    if (now >= deadline) {
      reportProblems();
      return nothing;  // the changes wait for the next call
    }
    const uint64_t generation =
        cache_->waitForChange(pending_->generation, until(std::min(due, deadline)));
    if (generation != pending_->generation) {
      pending_->generation = generation;
      pending_->last_change = Clock::now();
      pending_->lacks_namespace = false;
    }
  }
}

// The informers recover from every problem by themselves; what they report
// is for the operator. Only their counters and last message can be read from
// here, so several problems between two looks are one line, with the count.
void ApiServerSource::reportProblems() {
  auto look = [&](const std::string& resource, const kube::InformerStats& stats, Seen& seen) {
    const uint64_t failures = failuresOf(stats);
    const uint64_t new_failures = failures - seen.failures;
    if (new_failures > 0 || (!stats.last_error.empty() && stats.last_error != seen.last_error)) {
      report(resource, new_failures > 1 ? stats.last_error + " (" + std::to_string(new_failures) +
                                              " problems since the last report)"
                                        : stats.last_error);
    }
    seen.failures = failures;
    seen.last_error = stats.last_error;
  };
  look("namespaces", cache_->namespaces().stats(), seen_namespaces_);
  look("pods", cache_->pods().stats(), seen_pods_);
  look("networkpolicies", cache_->networkPolicies().stats(), seen_policies_);

  const auto now = Clock::now();
  if (synced_ || now - last_unsynced_report_ < options_.unsynced_report_interval) {
    return;
  }
  last_unsynced_report_ = now;
  const auto waited = std::chrono::duration_cast<std::chrono::seconds>(now - started_).count();
  auto remind = [&](const std::string& resource, bool synced, const Seen& seen) {
    if (!synced) {
      report(resource, "not listed yet after " + std::to_string(waited) +
                           " s; nothing new is enforced until every resource is" +
                           (seen.last_error.empty() ? "" : "; last problem: " + seen.last_error));
    }
  };
  remind("namespaces", cache_->namespaces().hasSynced(), seen_namespaces_);
  remind("pods", cache_->pods().hasSynced(), seen_pods_);
  remind("networkpolicies", cache_->networkPolicies().hasSynced(), seen_policies_);
}

void ApiServerSource::report(const std::string& resource, const std::string& problem) {
  options_.on_problem(resource, problem);
}

}  // namespace palisade::enforcer
