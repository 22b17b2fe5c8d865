#pragma once

// Palisade's admission decisions: a pure function of the request, the
// configuration and what the server knows of the cluster. No I/O, no clock:
// every decision can be tested without a socket.
//
// Mutating (/mutate):
//   Namespace  CREATE/UPDATE  inject taxonomy defaults, mark for onboarding
//   Pod        CREATE/UPDATE  inject taxonomy defaults and labels inherited
//                             from the namespace
// Validating (/validate):
//   Namespace  CREATE/UPDATE  taxonomy; UPDATE may not remove required labels
//   Pod        CREATE/UPDATE  taxonomy, inherited-label conflicts, coverage
//                             (some NetworkPolicy of its namespace selects it)
//   Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob
//                             the pod template's labels, as pods would get them
//   NetworkPolicy             apiserver validation (400), lint (warnings);
//                             Palisade-managed policies may be changed or
//                             deleted only by Palisade's service account
// Exempt namespaces are admitted untouched. Violations of the taxonomy are
// denied, warned about or only audited according to the namespace's mode.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "policy/config.h"
#include "policy/objects.h"
#include "server/admission/review.h"

namespace palisade::server {

// What the server knows about the cluster beyond the request. Without an API
// connection nothing is known, and the decisions that need it say so.
class ClusterView {
 public:
  virtual ~ClusterView() = default;
  using Policies = std::shared_ptr<const std::vector<policy::NetworkPolicy>>;

  // The labels of a namespace, or nullopt when unknown.
  virtual std::optional<policy::Labels> namespaceLabels(std::string_view namespace_name) const = 0;
  // The NetworkPolicies of a namespace as one consistent snapshot (empty when
  // it has none), or null when they are not known (no API connection, or the
  // cache has not synced yet).
  virtual Policies namespacePolicies(std::string_view namespace_name) const = 0;
  // Whether what it knows is complete (its caches have listed once): the
  // webhook is not ready before.
  virtual bool hasSynced() const { return true; }
};

// A decision and a short account of it for the structured log and metrics.
struct AdmissionOutcome {
  AdmissionResponse response;
  std::string decision;  // "allowed", "denied", "warned", "audited", "exempt", "mutated", "ignored"
  std::string reason;    // one line, empty when nothing needed explaining
};

// Thread-safe: const member functions only; the configuration it holds is
// immutable.
class AdmissionController {
 public:
  // `cluster` may be null (no API connection); it must outlive the controller.
  AdmissionController(std::shared_ptr<const policy::Config> config, const ClusterView* cluster);

  AdmissionOutcome mutate(const AdmissionRequest& request) const;
  AdmissionOutcome validate(const AdmissionRequest& request) const;

  const policy::Config& config() const { return *config_; }

 private:
  std::shared_ptr<const policy::Config> config_;
  const ClusterView* cluster_;
};

}  // namespace palisade::server
