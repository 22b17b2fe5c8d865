#pragma once

// The subset of the Kubernetes object model that Palisade reasons about:
// Namespace, Pod and networking.k8s.io/v1 NetworkPolicy, field for field as
// the API defines them. Values are kept as written (a protocol is a string, a
// port may be a name) so that validation can report exactly what a user sent;
// the semantic helpers in this header give the defaulted meaning.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace palisade::policy {

using Labels = std::map<std::string, std::string, std::less<>>;

// The label every namespace carries since Kubernetes 1.21; the apiserver sets
// it to the namespace's name and users cannot change it.
inline constexpr std::string_view kNamespaceNameLabel = "kubernetes.io/metadata.name";

struct ObjectMeta {
  std::string name;
  std::string generate_name;
  std::string namespace_name;
  std::string uid;
  std::string resource_version;
  Labels labels;
  Labels annotations;
};

// meta/v1 LabelSelectorRequirement. `op` is the operator as written: In,
// NotIn, Exists or DoesNotExist are the valid ones.
struct LabelSelectorRequirement {
  std::string key;
  std::string op;
  std::vector<std::string> values;
};

// meta/v1 LabelSelector. Where the API makes a selector optional, the model
// holds std::optional<LabelSelector>: an absent selector and an empty one mean
// different things there.
struct LabelSelector {
  Labels match_labels;
  std::vector<LabelSelectorRequirement> match_expressions;

  bool empty() const { return match_labels.empty() && match_expressions.empty(); }
};

struct Namespace {
  ObjectMeta metadata;
  std::string phase;
};

struct ContainerPort {
  std::string name;
  int32_t container_port = 0;
  std::string protocol;  // empty means the API default, TCP
};

struct Container {
  std::string name;
  std::vector<ContainerPort> ports;
};

struct Pod {
  ObjectMeta metadata;
  std::vector<Container> containers;
  std::vector<Container> init_containers;
  bool host_network = false;
  std::string node_name;
  std::string phase;
  std::string pod_ip;
  std::vector<std::string> pod_ips;
  std::string host_ip;
  std::vector<std::string> host_ips;
};

// intstr.IntOrString as NetworkPolicyPort.port uses it: a number, or the name
// of a container port.
using PortValue = std::variant<int32_t, std::string>;

struct NetworkPolicyPort {
  std::optional<std::string> protocol;  // absent means TCP
  std::optional<PortValue> port;        // absent means every port
  std::optional<int32_t> end_port;
};

struct IPBlock {
  std::string cidr;
  std::vector<std::string> except;
};

struct NetworkPolicyPeer {
  std::optional<LabelSelector> pod_selector;
  std::optional<LabelSelector> namespace_selector;
  std::optional<IPBlock> ip_block;
};

// An ingress rule (peers are `from`) or an egress rule (peers are `to`). An
// empty `ports` or `peers` list matches everything, as the API specifies.
struct NetworkPolicyRule {
  std::vector<NetworkPolicyPort> ports;
  std::vector<NetworkPolicyPeer> peers;
};

struct NetworkPolicySpec {
  LabelSelector pod_selector;
  std::vector<NetworkPolicyRule> ingress;
  std::vector<NetworkPolicyRule> egress;
  std::vector<std::string> policy_types;  // as written; see effectivePolicyTypes
};

struct NetworkPolicy {
  ObjectMeta metadata;
  NetworkPolicySpec spec;
};

// What a cluster holds, as far as NetworkPolicy is concerned.
struct ClusterState {
  std::vector<Namespace> namespaces;
  std::vector<Pod> pods;
  std::vector<NetworkPolicy> policies;
};

enum class Direction { kIngress, kEgress };

std::string_view toString(Direction direction);

// The directions a policy isolates, after the apiserver's defaulting: without
// policyTypes, a policy always affects Ingress, and Egress only if it has
// egress rules.
struct PolicyTypes {
  bool ingress = false;
  bool egress = false;
};
PolicyTypes effectivePolicyTypes(const NetworkPolicySpec& spec);

enum class Protocol : uint8_t { kTCP, kUDP, kSCTP };

std::string_view toString(Protocol protocol);
// "TCP", "UDP", "SCTP" (case as the API spells them); nullopt otherwise.
std::optional<Protocol> parseProtocol(std::string_view text);
// The protocol a NetworkPolicyPort or ContainerPort means: empty is TCP.
std::optional<Protocol> protocolOrDefault(std::string_view text);

}  // namespace palisade::policy
