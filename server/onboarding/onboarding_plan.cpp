#include "server/onboarding/onboarding_plan.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "policy/json_codec.h"
#include "policy/onboarding.h"

namespace palisade::server {
namespace {

// Names Palisade may create in any namespace, whichever templates are on now:
// a template switched off leaves a policy behind that only these names
// identify as Palisade's.
const std::vector<std::string_view>& managedNames() {
  static const std::vector<std::string_view> names = {policy::kDefaultDenyPolicyName,
                                                      policy::kAllowDnsPolicyName,
                                                      policy::kAllowMonitoringPolicyName};
  return names;
}

bool isManagedByPalisade(const policy::NetworkPolicy& policy) {
  const auto label = policy.metadata.labels.find(std::string(policy::kManagedByLabel));
  return label != policy.metadata.labels.end() && label->second == policy::kManagedByValue &&
         std::ranges::find(managedNames(), policy.metadata.name) != managedNames().end();
}

void defaultPorts(std::vector<policy::NetworkPolicyRule>& rules) {
  for (policy::NetworkPolicyRule& rule : rules) {
    for (policy::NetworkPolicyPort& port : rule.ports) {
      if (!port.protocol) {
        port.protocol = "TCP";
      }
    }
  }
}

bool sameManagedContent(const policy::NetworkPolicy& desired,
                        const policy::NetworkPolicy& existing) {
  const auto label = existing.metadata.labels.find(std::string(policy::kManagedByLabel));
  if (label == existing.metadata.labels.end() || label->second != policy::kManagedByValue) {
    return false;
  }
  return policy::encodeNetworkPolicy({.metadata = {}, .spec = withApiDefaults(desired.spec)}) ==
         policy::encodeNetworkPolicy({.metadata = {}, .spec = withApiDefaults(existing.spec)});
}

}  // namespace

policy::NetworkPolicySpec withApiDefaults(policy::NetworkPolicySpec spec) {
  if (spec.policy_types.empty()) {
    const policy::PolicyTypes types = policy::effectivePolicyTypes(spec);
    if (types.ingress) {
      spec.policy_types.emplace_back("Ingress");
    }
    if (types.egress) {
      spec.policy_types.emplace_back("Egress");
    }
  }
  defaultPorts(spec.ingress);
  defaultPorts(spec.egress);
  return spec;
}

std::vector<OnboardingAction> planOnboarding(const policy::Config& config,
                                             const policy::Namespace& ns,
                                             const std::vector<policy::NetworkPolicy>& existing) {
  std::vector<OnboardingAction> actions;
  const std::string& name = ns.metadata.name;
  if (config.isExempt(name) || ns.phase == "Terminating") {
    return actions;
  }
  const std::vector<policy::NetworkPolicy> desired =
      policy::onboardingPolicies(name, config.onboarding);
  for (const policy::NetworkPolicy& wanted : desired) {
    const auto found = std::ranges::find(existing, wanted.metadata.name,
                                         [](const auto& p) { return p.metadata.name; });
    if (found == existing.end()) {
      actions.push_back({.kind = OnboardingAction::Kind::kCreate, .policy = wanted});
    } else if (!sameManagedContent(wanted, *found)) {
      policy::NetworkPolicy replacement = wanted;
      replacement.metadata.resource_version = found->metadata.resource_version;
      replacement.metadata.uid = found->metadata.uid;
      // Labels others added stay; only the managed label is put back.
      replacement.metadata.labels = found->metadata.labels;
      replacement.metadata.labels.insert_or_assign(std::string(policy::kManagedByLabel),
                                                   std::string(policy::kManagedByValue));
      actions.push_back({.kind = OnboardingAction::Kind::kReplace, .policy = replacement});
    }
  }
  for (const policy::NetworkPolicy& present : existing) {
    const bool wanted = std::ranges::any_of(
        desired, [&](const auto& p) { return p.metadata.name == present.metadata.name; });
    if (!wanted && isManagedByPalisade(present)) {
      actions.push_back({.kind = OnboardingAction::Kind::kDelete, .policy = present});
    }
  }
  return actions;
}

std::string toString(OnboardingAction::Kind kind) {
  switch (kind) {
    case OnboardingAction::Kind::kCreate:
      return "create";
    case OnboardingAction::Kind::kReplace:
      return "replace";
    case OnboardingAction::Kind::kDelete:
      return "delete";
  }
  return "unknown";
}

}  // namespace palisade::server
