#pragma once

// What Palisade puts in every namespace it onboards: a default-deny policy
// for both directions, and the baseline allowances a workload cannot live
// without (DNS), plus optional templates from the configuration.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/objects.h"
#include "policy/oracle.h"

namespace palisade::policy {

// Every Palisade-managed object carries this label with value "palisade".
inline constexpr std::string_view kManagedByLabel = "app.kubernetes.io/managed-by";
inline constexpr std::string_view kManagedByValue = "palisade";
inline constexpr std::string_view kDefaultDenyPolicyName = "palisade-default-deny";
inline constexpr std::string_view kAllowDnsPolicyName = "palisade-allow-dns";
inline constexpr std::string_view kAllowMonitoringPolicyName = "palisade-allow-monitoring";

// Ingress from a monitoring system (Prometheus scraping) to every pod.
struct MonitoringAccess {
  LabelSelector namespace_selector;
  std::optional<LabelSelector> pod_selector;
  std::vector<NetworkPolicyPort> ports;
};

struct OnboardingTemplates {
  bool default_deny = true;
  bool allow_dns = true;
  // Where cluster DNS runs; the defaults are those of kubeadm and most
  // distributions (CoreDNS keeps the kube-dns label for compatibility).
  std::string dns_namespace = "kube-system";
  LabelSelector dns_pod_selector = {.match_labels = {{"k8s-app", "kube-dns"}},
                                    .match_expressions = {}};
  std::optional<MonitoringAccess> monitoring;
};

// Namespaces Palisade never onboards nor restricts, whatever the
// configuration says: locking them down could lock the cluster out.
bool isAlwaysExemptNamespace(std::string_view namespace_name,
                             std::string_view palisade_namespace);

// The managed policies for `namespace_name`, labelled with kManagedByLabel.
std::vector<NetworkPolicy> onboardingPolicies(std::string_view namespace_name,
                                              const OnboardingTemplates& templates);

// `state` with the onboarding policies added to every namespace that is not
// exempt (always-exempt ones and those in `exempt`). Policies already present
// under a managed name are replaced, so onboarding twice changes nothing.
ClusterState onboardCluster(ClusterState state, const OnboardingTemplates& templates,
                            std::string_view palisade_namespace,
                            const std::vector<std::string>& exempt = {});

}  // namespace palisade::policy
