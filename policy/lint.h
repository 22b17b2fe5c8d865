#pragma once

// Lint: NetworkPolicies that are valid but probably not what their author
// meant, or broader than a zero-trust cluster should allow. Findings become
// admission warnings and `palisadectl validate` warnings; they never reject.

#include <string>
#include <vector>

#include "policy/objects.h"
#include "policy/oracle.h"

namespace palisade::policy {

struct LintFinding {
  // A stable identifier for the kind of finding, for filtering and metrics.
  // Policy alone: allow-all-sources, allow-all-destinations, all-ports,
  // ingress-from-internet, egress-to-internet, wide-ip-block, cidr-host-bits,
  // selector-never-matches, namespace-name-selector-invalid, ignored-rules,
  // implicit-ingress-deny, named-port-with-ipblock. With the cluster also:
  // selects-no-pod, no-namespace-matches, no-pod-matches.
  std::string code;
  std::string field;    // "spec.egress[0].to[0].ipBlock.cidr"; empty for the whole policy
  std::string message;  // one sentence a user can act on, at most 120 characters with the field

  // "field: message" (or just the message when there is no field).
  std::string toString() const;
};

// Findings that need only the policy itself.
std::vector<LintFinding> lintNetworkPolicy(const NetworkPolicy& policy);

// Also findings that need the cluster: selectors that match no namespace or no
// pod of `cluster` right now.
std::vector<LintFinding> lintNetworkPolicy(const NetworkPolicy& policy,
                                           const ClusterState& cluster);

}  // namespace palisade::policy
