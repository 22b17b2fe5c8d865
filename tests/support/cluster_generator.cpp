#include "tests/support/cluster_generator.h"

#include <random>

namespace palisade::testing {
namespace {

using policy::LabelSelector;
using policy::LabelSelectorRequirement;
using policy::NetworkPolicy;
using policy::NetworkPolicyPeer;
using policy::NetworkPolicyPort;
using policy::NetworkPolicyRule;

constexpr const char* kApps[] = {"web", "api", "db", "cache", "queue", "worker", "auth", "search"};
constexpr const char* kTiers[] = {"frontend", "backend", "data"};
constexpr const char* kTeams[] = {"blue", "green", "red", "gold"};
constexpr const char* kEnvs[] = {"prod", "staging", "dev"};
constexpr uint16_t kPorts[] = {80, 443, 5432, 6379, 8080, 9090};

class Generator {
 public:
  explicit Generator(const ClusterShape& shape) : shape_(shape), random_(shape.seed) {}

  policy::ClusterState generate() {
    policy::ClusterState state;
    for (int n = 0; n < shape_.namespaces; ++n) {
      const std::string ns_name = "ns-" + std::to_string(n);
      policy::Namespace ns;
      ns.metadata.name = ns_name;
      ns.metadata.labels = {{"team", pick(kTeams)}, {"env", pick(kEnvs)}};
      state.namespaces.push_back(std::move(ns));
      for (int p = 0; p < shape_.pods_per_namespace; ++p) {
        state.pods.push_back(makePod(ns_name, n, p));
      }
      for (int q = 0; q < shape_.policies_per_namespace; ++q) {
        state.policies.push_back(makePolicy(ns_name, q));
      }
    }
    return state;
  }

 private:
  template <size_t N>
  const char* pick(const char* const (&values)[N]) {
    return values[below(N)];
  }
  size_t below(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(random_); }
  bool chance(int percent) { return below(100) < static_cast<size_t>(percent); }

  policy::Pod makePod(const std::string& ns, int n, int p) {
    policy::Pod pod;
    pod.metadata.namespace_name = ns;
    pod.metadata.name = "pod-" + std::to_string(p);
    pod.metadata.labels = {{"app", pick(kApps)}, {"tier", pick(kTiers)}};
    if (chance(30)) {
      pod.metadata.labels["canary"] = "true";
    }
    pod.pod_ip = "10." + std::to_string(n / 256) + "." + std::to_string(n % 256) + "." +
                 std::to_string(p % 250 + 2);
    pod.node_name = "node-" + std::to_string(below(4));
    policy::Container container{.name = "main", .ports = {}};
    container.ports.push_back({.name = "http", .container_port = kPorts[below(6)], .protocol = ""});
    container.ports.push_back({.name = "metrics", .container_port = 9090, .protocol = ""});
    pod.containers.push_back(std::move(container));
    return pod;
  }

  LabelSelector podSelector() {
    LabelSelector selector;
    switch (below(4)) {
      case 0:
        break;  // every pod
      case 1:
        selector.match_labels["app"] = pick(kApps);
        break;
      case 2:
        selector.match_expressions.push_back(
            LabelSelectorRequirement{"tier", "In", {pick(kTiers), pick(kTiers)}});
        break;
      default:
        selector.match_labels["app"] = pick(kApps);
        selector.match_expressions.push_back(LabelSelectorRequirement{"canary", "DoesNotExist", {}});
    }
    return selector;
  }

  LabelSelector namespaceSelector() {
    LabelSelector selector;
    if (chance(50)) {
      selector.match_labels["team"] = pick(kTeams);
    } else {
      selector.match_expressions.push_back(
          LabelSelectorRequirement{"env", "NotIn", {pick(kEnvs)}});
    }
    return selector;
  }

  NetworkPolicyPeer peer() {
    NetworkPolicyPeer result;
    switch (below(5)) {
      case 0:
        result.pod_selector = podSelector();
        break;
      case 1:
        result.namespace_selector = namespaceSelector();
        break;
      case 2:
        result.pod_selector = podSelector();
        result.namespace_selector = namespaceSelector();
        break;
      case 3: {
        const std::string second = std::to_string(below(2));
        result.ip_block = policy::IPBlock{.cidr = "10." + second + ".0.0/16",
                                          .except = {"10." + second + "." +
                                                     std::to_string(below(8)) + ".0/24"}};
        break;
      }
      default:
        result.ip_block = policy::IPBlock{.cidr = "203.0.113.0/24", .except = {}};
    }
    return result;
  }

  NetworkPolicyPort port() {
    NetworkPolicyPort result;
    switch (below(5)) {
      case 0:
        result.port = static_cast<int32_t>(kPorts[below(6)]);
        break;
      case 1:
        result.port = 8000;
        result.end_port = 8100;
        break;
      case 2:
        result.port = std::string(chance(50) ? "http" : "metrics");
        break;
      case 3:
        result.protocol = "UDP";
        result.port = 53;
        break;
      default:
        result.protocol = "SCTP";
    }
    return result;
  }

  NetworkPolicyRule rule() {
    NetworkPolicyRule result;
    const size_t peers = below(3);
    for (size_t i = 0; i < peers; ++i) {
      result.peers.push_back(peer());
    }
    const size_t ports = below(3);
    for (size_t i = 0; i < ports; ++i) {
      result.ports.push_back(port());
    }
    return result;
  }

  NetworkPolicy makePolicy(const std::string& ns, int q) {
    NetworkPolicy result;
    result.metadata.namespace_name = ns;
    result.metadata.name = "policy-" + std::to_string(q);
    result.spec.pod_selector = podSelector();
    const size_t ingress_rules = below(3);
    for (size_t i = 0; i < ingress_rules; ++i) {
      result.spec.ingress.push_back(rule());
    }
    const size_t egress_rules = below(3);
    for (size_t i = 0; i < egress_rules; ++i) {
      result.spec.egress.push_back(rule());
    }
    switch (below(4)) {
      case 0:
        break;  // left to the apiserver's defaulting
      case 1:
        result.spec.policy_types = {"Ingress"};
        break;
      case 2:
        result.spec.policy_types = {"Egress"};
        break;
      default:
        result.spec.policy_types = {"Ingress", "Egress"};
    }
    return result;
  }

  ClusterShape shape_;
  std::mt19937 random_;
};

}  // namespace

policy::ClusterState generateCluster(const ClusterShape& shape) {
  return Generator(shape).generate();
}

}  // namespace palisade::testing
