#pragma once

// The reachability oracle: whether a flow is allowed by the Kubernetes
// NetworkPolicy specification, and why. This is the reference every faster
// path (the compiler's tables, the BPF dataplane) is tested against, so it is
// written to be obviously correct rather than fast.
//
// The rules, from the networking.k8s.io/v1 API reference and the "Network
// Policies" concept page:
// - A pod is isolated for ingress (egress) when at least one policy in its
//   namespace selects it and has Ingress (Egress) among its policy types, after
//   the apiserver's defaulting of policyTypes.
// - Traffic is allowed in a direction when the pod is not isolated for it, or
//   when any rule of any policy that isolates it matches: the allowed set is
//   the union of the rules, and policies never deny on their own.
// - A flow needs both: egress allowed at the source pod, and ingress allowed at
//   the destination pod. An address outside the cluster has no side to check.
// - Replies of an allowed connection are allowed (the dataplane's job: the
//   oracle only judges the direction a connection is opened in).
// - Traffic between a pod and the node it runs on is always allowed, as is a
//   pod's traffic to itself (it never leaves the pod).
// - hostNetwork pods are treated the way most implementations do and the
//   specification permits: policies do not select them and pod or namespace
//   selectors do not match them as peers; their traffic is the node's, so only
//   ipBlock peers match their address.
// - ipBlock matches any address in the CIDR and in none of its excepts, pod
//   addresses included (the upstream conformance tests rely on this).
//
// Thread-safety: a constructed oracle is immutable; evaluate() may be called
// from several threads at once.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "policy/error.h"
#include "policy/ip.h"
#include "policy/objects.h"

namespace palisade::policy {

struct PodRef {
  std::string namespace_name;
  std::string name;

  auto operator<=>(const PodRef&) const = default;
};

// "namespace/name".
std::string toString(const PodRef& pod);
// Parses "namespace/name".
std::optional<PodRef> parsePodRef(std::string_view text);

// One end of a flow: a pod of the cluster, or an address. An address that
// belongs to a (non-hostNetwork) pod of the cluster is that pod.
using Endpoint = std::variant<PodRef, IpAddress>;

std::string toString(const Endpoint& endpoint);

struct Flow {
  Endpoint source;
  Endpoint destination;
  Protocol protocol = Protocol::kTCP;
  uint16_t port = 0;  // destination port
  // The address family of a flow between two pods, which decides the
  // addresses ipBlock peers are matched against. Unset: the family of an
  // address endpoint if there is one, else IPv4 when both pods have an IPv4
  // address, else IPv6 when both have an IPv6 one, else IPv4.
  std::optional<IpFamily> family;
};

struct PolicyRef {
  std::string namespace_name;
  std::string name;

  auto operator<=>(const PolicyRef&) const = default;
};

std::string toString(const PolicyRef& policy);

// A rule of a policy: spec.ingress[rule_index] or spec.egress[rule_index].
struct RuleRef {
  PolicyRef policy;
  Direction direction = Direction::kIngress;
  size_t rule_index = 0;

  auto operator<=>(const RuleRef&) const = default;
};

// "team-a/allow-web spec.ingress[0]".
std::string toString(const RuleRef& rule);

// The decision of one side of a flow: egress at the source, or ingress at the
// destination.
struct SideVerdict {
  enum class Outcome {
    kNotApplicable,  // the endpoint is an address, or a hostNetwork pod: no policy applies
    kNotIsolated,    // a pod no policy isolates in this direction
    kAllowed,        // isolated, and at least one rule allows the flow
    kDenied,         // isolated, and no rule allows the flow
  };
  Outcome outcome = Outcome::kNotApplicable;
  std::vector<PolicyRef> isolated_by;  // the policies that isolate the pod
  std::vector<RuleRef> allowed_by;     // every rule that allows the flow

  bool allowed() const { return outcome != Outcome::kDenied; }
};

struct Verdict {
  // Set when the flow is allowed whatever the policies say.
  enum class Bypass { kNone, kLoopback, kNodeLocal };

  bool allowed = false;
  Bypass bypass = Bypass::kNone;
  SideVerdict egress;   // at the source
  SideVerdict ingress;  // at the destination
};

// A multi-line human explanation of a verdict, for `palisadectl explain`.
std::string explain(const Flow& flow, const Verdict& verdict);

class ReachabilityOracle {
 public:
  // Namespaces that pods or policies refer to but `state` lacks are assumed to
  // exist with no labels but kubernetes.io/metadata.name, which the apiserver
  // puts on every namespace (and which is added here to the given ones too).
  explicit ReachabilityOracle(ClusterState state);
  ~ReachabilityOracle();
  ReachabilityOracle(ReachabilityOracle&&) noexcept;
  ReachabilityOracle& operator=(ReachabilityOracle&&) noexcept;

  // Fails when an endpoint names a pod the cluster does not have.
  [[nodiscard]] Result<Verdict> evaluate(const Flow& flow) const;

  const ClusterState& state() const;
  const Pod* findPod(const PodRef& pod) const;
  // The namespace's labels, kubernetes.io/metadata.name included.
  const Labels& namespaceLabels(std::string_view namespace_name) const;

 private:
  struct Index;
  std::unique_ptr<Index> index_;
};

}  // namespace palisade::policy
