#include "policy/onboarding.h"

#include <algorithm>
#include <set>

namespace palisade::policy {
namespace {

NetworkPolicy managedPolicy(std::string_view name, std::string_view namespace_name) {
  NetworkPolicy policy;
  policy.metadata.name = name;
  policy.metadata.namespace_name = namespace_name;
  policy.metadata.labels[std::string(kManagedByLabel)] = kManagedByValue;
  return policy;
}

LabelSelector namespaceNamed(std::string_view name) {
  return LabelSelector{.match_labels = {{std::string(kNamespaceNameLabel), std::string(name)}},
                       .match_expressions = {}};
}

bool isManagedName(std::string_view name) {
  return name == kDefaultDenyPolicyName || name == kAllowDnsPolicyName ||
         name == kAllowMonitoringPolicyName;
}

}  // namespace

bool isAlwaysExemptNamespace(std::string_view namespace_name,
                             std::string_view palisade_namespace) {
  return namespace_name == "kube-system" || namespace_name == "kube-public" ||
         namespace_name == "kube-node-lease" ||
         (!palisade_namespace.empty() && namespace_name == palisade_namespace);
}

std::vector<NetworkPolicy> onboardingPolicies(std::string_view namespace_name,
                                              const OnboardingTemplates& templates) {
  std::vector<NetworkPolicy> policies;
  if (templates.default_deny) {
    // An empty podSelector selects every pod; with both policy types and no
    // rules, nothing is allowed in either direction.
    NetworkPolicy deny = managedPolicy(kDefaultDenyPolicyName, namespace_name);
    deny.spec.policy_types = {"Ingress", "Egress"};
    policies.push_back(std::move(deny));
  }
  if (templates.allow_dns) {
    NetworkPolicy dns = managedPolicy(kAllowDnsPolicyName, namespace_name);
    dns.spec.policy_types = {"Egress"};
    NetworkPolicyRule rule;
    rule.peers.push_back(NetworkPolicyPeer{.pod_selector = templates.dns_pod_selector,
                                           .namespace_selector =
                                               namespaceNamed(templates.dns_namespace),
                                           .ip_block = std::nullopt});
    rule.ports.push_back(NetworkPolicyPort{.protocol = "UDP", .port = 53, .end_port = {}});
    rule.ports.push_back(NetworkPolicyPort{.protocol = "TCP", .port = 53, .end_port = {}});
    dns.spec.egress.push_back(std::move(rule));
    policies.push_back(std::move(dns));
  }
  if (templates.monitoring) {
    NetworkPolicy monitoring = managedPolicy(kAllowMonitoringPolicyName, namespace_name);
    monitoring.spec.policy_types = {"Ingress"};
    NetworkPolicyRule rule;
    rule.peers.push_back(NetworkPolicyPeer{
        .pod_selector = templates.monitoring->pod_selector,
        .namespace_selector = templates.monitoring->namespace_selector,
        .ip_block = std::nullopt});
    rule.ports = templates.monitoring->ports;
    monitoring.spec.ingress.push_back(std::move(rule));
    policies.push_back(std::move(monitoring));
  }
  return policies;
}

ClusterState onboardCluster(ClusterState state, const OnboardingTemplates& templates,
                            std::string_view palisade_namespace,
                            const std::vector<std::string>& exempt) {
  std::set<std::string, std::less<>> namespaces;
  for (const Namespace& ns : state.namespaces) {
    namespaces.insert(ns.metadata.name);
  }
  for (const Pod& pod : state.pods) {
    namespaces.insert(pod.metadata.namespace_name.empty() ? "default"
                                                          : pod.metadata.namespace_name);
  }
  std::erase_if(namespaces, [&](const std::string& name) {
    return isAlwaysExemptNamespace(name, palisade_namespace) ||
           std::ranges::find(exempt, name) != exempt.end();
  });
  std::erase_if(state.policies, [&](const NetworkPolicy& policy) {
    const std::string& ns = policy.metadata.namespace_name.empty()
                                ? std::string("default")
                                : policy.metadata.namespace_name;
    return namespaces.contains(ns) && isManagedName(policy.metadata.name);
  });
  for (const std::string& ns : namespaces) {
    std::ranges::move(onboardingPolicies(ns, templates), std::back_inserter(state.policies));
  }
  return state;
}

}  // namespace palisade::policy
