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

namespace {

LabelSelector matchLabels(std::initializer_list<std::pair<const std::string, std::string>> labels) {
  LabelSelector selector;
  selector.match_labels = policy::Labels(labels);
  return selector;
}

NetworkPolicyPort tcp(int32_t port) {
  return NetworkPolicyPort{.protocol = "TCP", .port = port, .end_port = std::nullopt};
}

NetworkPolicy scalePolicy(const std::string& ns, std::string name) {
  NetworkPolicy policy;
  policy.metadata.namespace_name = ns;
  policy.metadata.name = std::move(name);
  return policy;
}

}  // namespace

policy::ClusterState generateScaleCluster(const ScaleShape& shape) {
  policy::ClusterState state;
  auto addNamespace = [&](const std::string& name, policy::Labels labels) {
    policy::Namespace ns;
    ns.metadata.name = name;
    ns.metadata.labels = std::move(labels);
    state.namespaces.push_back(std::move(ns));
  };
  addNamespace("kube-system", {});
  addNamespace("monitoring", {});
  for (int i = 0; i < 2; ++i) {
    policy::Pod dns;
    dns.metadata.namespace_name = "kube-system";
    dns.metadata.name = "coredns-" + std::to_string(i);
    dns.metadata.labels = {{"k8s-app", "kube-dns"}};
    dns.pod_ip = "10.255.0." + std::to_string(10 + i);
    state.pods.push_back(std::move(dns));
  }
  policy::Pod prometheus;
  prometheus.metadata.namespace_name = "monitoring";
  prometheus.metadata.name = "prometheus-0";
  prometheus.metadata.labels = {{"app", "prometheus"}};
  prometheus.pod_ip = "10.255.1.10";
  state.pods.push_back(std::move(prometheus));

  const int apps = std::max(1, shape.pods_per_namespace / std::max(1, shape.replicas_per_app));
  for (int n = 0; n < shape.namespaces; ++n) {
    const std::string ns = "team-" + std::to_string(n);
    addNamespace(ns, {{"team", "team-" + std::to_string(n % 50)},
                      {"env", kEnvs[static_cast<size_t>(n) % 3]}});
    for (int p = 0; p < shape.pods_per_namespace; ++p) {
      policy::Pod pod;
      pod.metadata.namespace_name = ns;
      const int app = p % apps;
      pod.metadata.name = "app-" + std::to_string(app) + "-" + std::to_string(p / apps);
      pod.metadata.labels = {{"app", "app-" + std::to_string(app)},
                             {"tier", kTiers[static_cast<size_t>(app) % 3]}};
      // 10.<n / 256 + 16>.<n % 256>.<p>: room for 240 x 256 namespaces of 256 pods.
      pod.pod_ip = "10." + std::to_string(16 + n / 256) + "." + std::to_string(n % 256) + "." +
                   std::to_string(p % 256);
      pod.containers.push_back(policy::Container{
          .name = "main",
          .ports = {{.name = "http", .container_port = 8080, .protocol = ""},
                    {.name = "metrics", .container_port = 9090, .protocol = ""}}});
      state.pods.push_back(std::move(pod));
    }

    NetworkPolicy deny = scalePolicy(ns, "default-deny");
    deny.spec.policy_types = {"Ingress", "Egress"};
    state.policies.push_back(std::move(deny));

    NetworkPolicy dns = scalePolicy(ns, "allow-dns");
    dns.spec.policy_types = {"Egress"};
    dns.spec.egress.push_back(NetworkPolicyRule{
        .ports = {{.protocol = "UDP", .port = 53, .end_port = std::nullopt}, tcp(53)},
        .peers = {{.pod_selector = matchLabels({{"k8s-app", "kube-dns"}}),
                   .namespace_selector =
                       matchLabels({{std::string(policy::kNamespaceNameLabel), "kube-system"}}),
                   .ip_block = std::nullopt}}});
    state.policies.push_back(std::move(dns));

    NetworkPolicy monitoring = scalePolicy(ns, "allow-monitoring");
    monitoring.spec.ingress.push_back(NetworkPolicyRule{
        .ports = {{.protocol = "TCP", .port = std::string("metrics"), .end_port = std::nullopt}},
        .peers = {{.pod_selector = std::nullopt,
                   .namespace_selector =
                       matchLabels({{std::string(policy::kNamespaceNameLabel), "monitoring"}}),
                   .ip_block = std::nullopt}}});
    state.policies.push_back(std::move(monitoring));

    NetworkPolicy external = scalePolicy(ns, "allow-payment-api");
    external.spec.pod_selector = matchLabels({{"app", "app-0"}});
    external.spec.policy_types = {"Egress"};
    external.spec.egress.push_back(NetworkPolicyRule{
        .ports = {tcp(443)},
        .peers = {{.pod_selector = std::nullopt,
                   .namespace_selector = std::nullopt,
                   .ip_block = policy::IPBlock{.cidr = "203.0.113.0/24",
                                               .except = {"203.0.113.0/28"}}}}});
    state.policies.push_back(std::move(external));

    for (int q = 4; q < shape.policies_per_namespace; ++q) {
      if (q == 4) {
        // Another team's namespaces reach app-0's API.
        NetworkPolicy allow = scalePolicy(ns, "app-0-from-team-" + std::to_string((n + 1) % 50));
        allow.spec.pod_selector = matchLabels({{"app", "app-0"}});
        allow.spec.ingress.push_back(NetworkPolicyRule{
            .ports = {tcp(8080)},
            .peers = {{.pod_selector = std::nullopt,
                       .namespace_selector =
                           matchLabels({{"team", "team-" + std::to_string((n + 1) % 50)},
                                        {"env", kEnvs[static_cast<size_t>(n) % 3]}}),
                       .ip_block = std::nullopt}}});
        state.policies.push_back(std::move(allow));
        continue;
      }
      // App-to-app traffic, declared at both ends as default deny requires:
      // app-(a+1) may send to app-a's http port, app-a may receive it.
      const int a = ((q - 5) / 2) % apps;
      const std::string server = "app-" + std::to_string(a);
      const std::string client = "app-" + std::to_string((a + 1) % apps);
      const NetworkPolicyPort http{.protocol = "TCP", .port = std::string("http"),
                                .end_port = std::nullopt};
      if ((q - 5) % 2 == 0) {
        NetworkPolicy in = scalePolicy(ns, server + "-from-" + client);
        in.spec.pod_selector = matchLabels({{"app", server}});
        in.spec.ingress.push_back(NetworkPolicyRule{
            .ports = {http},
            .peers = {{.pod_selector = matchLabels({{"app", client}}),
                       .namespace_selector = std::nullopt,
                       .ip_block = std::nullopt}}});
        state.policies.push_back(std::move(in));
      } else {
        NetworkPolicy out = scalePolicy(ns, client + "-to-" + server);
        out.spec.pod_selector = matchLabels({{"app", client}});
        out.spec.policy_types = {"Egress"};
        out.spec.egress.push_back(NetworkPolicyRule{
            .ports = {http},
            .peers = {{.pod_selector = matchLabels({{"app", server}}),
                       .namespace_selector = std::nullopt,
                       .ip_block = std::nullopt}}});
        state.policies.push_back(std::move(out));
      }
    }
  }
  return state;
}

}  // namespace palisade::testing
