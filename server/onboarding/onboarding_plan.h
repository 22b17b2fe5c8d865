#pragma once

// What the onboarding controller must change in one namespace so that it
// holds exactly the Palisade-managed NetworkPolicies the configuration asks
// for: a pure function of the namespace, the configuration and the policies
// the namespace has now, so that every case is tested without an apiserver.

#include <string>
#include <vector>

#include "policy/config.h"
#include "policy/objects.h"

namespace palisade::server {

struct OnboardingAction {
  enum class Kind {
    kCreate,   // missing (never made, or deleted by force)
    kReplace,  // present under a managed name but changed: put the managed spec back
    kDelete,   // made by Palisade, no longer asked for by the configuration
  };
  Kind kind;
  // The policy to create or to replace with (for kReplace: the managed spec,
  // the existing labels plus the managed label, and the existing
  // metadata.resourceVersion, so that a concurrent change makes the write fail
  // with a conflict instead of being overwritten); for kDelete, the existing
  // one.
  policy::NetworkPolicy policy;
};

// Nothing for exempt namespaces and for terminating ones (creating in a
// terminating namespace fails, and it is going away). Policies that merely
// share the managed label but not a managed name are never touched: another
// tool may use the same label value.
std::vector<OnboardingAction> planOnboarding(const policy::Config& config,
                                             const policy::Namespace& ns,
                                             const std::vector<policy::NetworkPolicy>& existing);

// The spec as the apiserver stores it (policyTypes defaulted, port protocols
// defaulted to TCP), so that a stored policy compares equal to the one that
// was sent.
policy::NetworkPolicySpec withApiDefaults(policy::NetworkPolicySpec spec);

std::string toString(OnboardingAction::Kind kind);

}  // namespace palisade::server
