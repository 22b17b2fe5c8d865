#include "policy/oracle.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "policy/manifest.h"
#include "policy/matrix.h"

namespace palisade::policy {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A cluster written as Kubernetes YAML, with shorthands for asking about flows.
class Cluster {
 public:
  explicit Cluster(std::string_view yaml) : oracle_(parse(yaml)) {}

  Verdict verdict(std::string_view from, std::string_view to, uint16_t port = 80,
                  Protocol protocol = Protocol::kTCP) const {
    const Flow flow{.source = endpoint(from), .destination = endpoint(to), .protocol = protocol,
                    .port = port, .family = std::nullopt};
    Result<Verdict> result = oracle_.evaluate(flow);
    EXPECT_TRUE(result.has_value()) << result.error().message;
    return result.value_or(Verdict{});
  }

  bool allowed(std::string_view from, std::string_view to, uint16_t port = 80,
               Protocol protocol = Protocol::kTCP) const {
    return verdict(from, to, port, protocol).allowed;
  }

  const ReachabilityOracle& oracle() const { return oracle_; }

 private:
  static ClusterState parse(std::string_view yaml) {
    const Manifest manifest = readManifest(yaml, "test.yaml");
    EXPECT_TRUE(manifest.errors.empty()) << toString(manifest.errors.front());
    return clusterStateOf(manifest);
  }

  static Endpoint endpoint(std::string_view text) {
    if (auto pod = parsePodRef(text)) {
      return *pod;
    }
    return IpAddress::parse(text).value();
  }

  ReachabilityOracle oracle_;
};

// Two namespaces with a client and a server each; policies are appended.
constexpr std::string_view kTwoNamespaces = R"(
apiVersion: v1
kind: Namespace
metadata: {name: a, labels: {team: blue}}
---
apiVersion: v1
kind: Namespace
metadata: {name: b, labels: {team: green}}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: a, labels: {app: client}}
status: {podIP: 10.0.1.1, hostIP: 192.168.0.1}
spec: {nodeName: node-1, containers: [{name: c}]}
---
apiVersion: v1
kind: Pod
metadata: {name: server, namespace: a, labels: {app: server}}
status: {podIP: 10.0.1.2, hostIP: 192.168.0.2}
spec:
  nodeName: node-2
  containers:
  - name: s
    ports:
    - {name: http, containerPort: 8080}
    - {name: dns, containerPort: 53, protocol: UDP}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: b, labels: {app: client}}
status: {podIP: 10.0.2.1, hostIP: 192.168.0.1}
spec: {nodeName: node-1, containers: [{name: c}]}
---
apiVersion: v1
kind: Pod
metadata: {name: server, namespace: b, labels: {app: server}}
status: {podIP: 10.0.2.2, hostIP: 192.168.0.2}
spec:
  nodeName: node-2
  containers:
  - name: s
    ports:
    - {name: http, containerPort: 9090}
)";

std::string withPolicies(std::string_view policies) {
  return std::string(kTwoNamespaces) + "\n---\n" + std::string(policies);
}

// --- isolation ---------------------------------------------------------------

TEST(Oracle, WithoutPoliciesEverythingIsAllowed) {
  const Cluster cluster(kTwoNamespaces);
  for (const char* from : {"a/client", "a/server", "b/client", "b/server"}) {
    for (const char* to : {"a/client", "a/server", "b/client", "b/server"}) {
      EXPECT_TRUE(cluster.allowed(from, to)) << from << " -> " << to;
    }
  }
}

TEST(Oracle, PolicyIsolatesOnlyThePodsItSelects) {
  const Cluster cluster(withPolicies(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-server, namespace: a}
spec: {podSelector: {matchLabels: {app: server}}}
)"));
  EXPECT_FALSE(cluster.allowed("a/client", "a/server"));
  EXPECT_TRUE(cluster.allowed("a/server", "a/client"));
  EXPECT_TRUE(cluster.allowed("b/client", "b/server"));
}

TEST(Oracle, EmptyPodSelectorSelectsEveryPodOfItsNamespaceOnly) {
  const Cluster cluster(withPolicies(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: a}
spec: {podSelector: {}}
)"));
  EXPECT_FALSE(cluster.allowed("a/client", "a/server"));
  EXPECT_FALSE(cluster.allowed("a/server", "a/client"));
  EXPECT_FALSE(cluster.allowed("b/client", "a/server"));
  EXPECT_TRUE(cluster.allowed("a/client", "b/server")) << "b is not isolated";
  EXPECT_TRUE(cluster.allowed("b/server", "b/client"));
}

TEST(Oracle, DefaultDenyIngressLeavesEgressOpen) {
  const Cluster cluster(withPolicies(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-ingress, namespace: a}
spec: {podSelector: {}, policyTypes: [Ingress]}
)"));
  const Verdict v = cluster.verdict("a/client", "b/server");
  EXPECT_TRUE(v.allowed);
  EXPECT_EQ(v.egress.outcome, SideVerdict::Outcome::kNotIsolated);
  EXPECT_FALSE(cluster.allowed("b/client", "a/server"));
}

TEST(Oracle, DefaultDenyEgressBlocksOutgoingOnly) {
  const Cluster cluster(withPolicies(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-egress, namespace: a}
spec: {podSelector: {}, policyTypes: [Egress]}
)"));
  EXPECT_FALSE(cluster.allowed("a/client", "b/server"));
  EXPECT_FALSE(cluster.allowed("a/client", "a/server"));
  EXPECT_TRUE(cluster.allowed("b/client", "a/server"));
}

TEST(Oracle, WithoutPolicyTypesAPolicyIsIngressOnlyUnlessItHasEgressRules) {
  const Cluster ingress_only(withPolicies(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: a}
spec:
  podSelector: {matchLabels: {app: client}}
  ingress: [{from: [{podSelector: {}}]}]
)"));
  EXPECT_TRUE(ingress_only.allowed("a/client", "b/server"));

  const Cluster with_egress(withPolicies(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: a}
spec:
  podSelector: {matchLabels: {app: client}}
  egress: [{to: [{podSelector: {}}]}]
)"));
  EXPECT_FALSE(with_egress.allowed("a/client", "b/server"));
  EXPECT_TRUE(with_egress.allowed("a/client", "a/server"));
  EXPECT_FALSE(with_egress.allowed("b/client", "a/client"))
      << "the defaulted Ingress type isolates ingress with no ingress rules";
}

TEST(Oracle, RulesOfADirectionNotInPolicyTypesAreIgnored) {
  const Cluster cluster(withPolicies(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: a}
spec:
  podSelector: {matchLabels: {app: server}}
  policyTypes: [Egress]
  ingress: [{from: [{podSelector: {matchLabels: {app: nobody}}}]}]
)"));
  const Verdict v = cluster.verdict("b/client", "a/server");
  EXPECT_TRUE(v.allowed);
  EXPECT_EQ(v.ingress.outcome, SideVerdict::Outcome::kNotIsolated);
}

TEST(Oracle, EmptyRuleAllowsEverySourceAndPort) {
  const Cluster cluster(withPolicies(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-all, namespace: a}
spec: {podSelector: {}, ingress: [{}]}
)"));
  EXPECT_TRUE(cluster.allowed("b/client", "a/server", 1, Protocol::kUDP));
  EXPECT_TRUE(cluster.allowed("203.0.113.9", "a/server", 65535, Protocol::kSCTP));
}

TEST(Oracle, AllowedTrafficIsTheUnionOfPoliciesAndRules) {
  const Cluster cluster(withPolicies(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: from-a-client, namespace: a}
spec:
  podSelector: {matchLabels: {app: server}}
  ingress: [{from: [{podSelector: {matchLabels: {app: client}}}], ports: [{port: 8080}]}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: from-b, namespace: a}
spec:
  podSelector: {matchLabels: {app: server}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {team: green}}}]
    ports: [{port: 80}]
  - from: [{namespaceSelector: {matchLabels: {team: green}}}]
    ports: [{port: 443}]
)"));
  EXPECT_TRUE(cluster.allowed("a/client", "a/server", 8080));
  EXPECT_FALSE(cluster.allowed("a/client", "a/server", 80));
  EXPECT_TRUE(cluster.allowed("b/client", "a/server", 80));
  EXPECT_TRUE(cluster.allowed("b/client", "a/server", 443));
  EXPECT_FALSE(cluster.allowed("b/client", "a/server", 8080));
  const Verdict v = cluster.verdict("b/client", "a/server", 443);
  EXPECT_THAT(v.ingress.isolated_by,
              ElementsAre(PolicyRef{"a", "from-a-client"}, PolicyRef{"a", "from-b"}));
  EXPECT_THAT(v.ingress.allowed_by,
              ElementsAre(RuleRef{PolicyRef{"a", "from-b"}, Direction::kIngress, 1}));
}

TEST(Oracle, ApolicyWithoutIngressRulesDeniesEvenWhenListedEmpty) {
  const Cluster cluster(withPolicies(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: a}
spec: {podSelector: {}, ingress: [], policyTypes: [Ingress]}
)"));
  EXPECT_FALSE(cluster.allowed("a/client", "a/server"));
}

// --- peers -------------------------------------------------------------------

TEST(Oracle, PodSelectorPeerMatchesPodsOfThePolicyNamespaceOnly) {
  const Cluster cluster(withPolicies(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: a}
spec:
  podSelector: {matchLabels: {app: server}}
  ingress: [{from: [{podSelector: {matchLabels: {app: client}}}]}]
)"));
  EXPECT_TRUE(cluster.allowed("a/client", "a/server"));
  EXPECT_FALSE(cluster.allowed("b/client", "a/server"));
}

TEST(Oracle, NamespaceSelectorPeerMatchesEveryPodOfMatchingNamespaces) {
  const Cluster cluster(withPolicies(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: a}
spec:
  podSelector: {matchLabels: {app: server}}
  ingress: [{from: [{namespaceSelector: {matchLabels: {team: green}}}]}]
)"));
  EXPECT_TRUE(cluster.allowed("b/client", "a/server"));
  EXPECT_TRUE(cluster.allowed("b/server", "a/server"));
  EXPECT_FALSE(cluster.allowed("a/client", "a/server"));
}

TEST(Oracle, NamespaceAndPodSelectorInOnePeerMustBothMatch) {
  const Cluster cluster(withPolicies(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: a}
spec:
  podSelector: {matchLabels: {app: server}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {team: green}}
      podSelector: {matchLabels: {app: client}}
)"));
  EXPECT_TRUE(cluster.allowed("b/client", "a/server"));
  EXPECT_FALSE(cluster.allowed("b/server", "a/server"));
  EXPECT_FALSE(cluster.allowed("a/client", "a/server"));
}

TEST(Oracle, NamespaceAndPodSelectorInSeparatePeersEitherMatches) {
  const Cluster cluster(withPolicies(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: a}
spec:
  podSelector: {matchLabels: {app: server}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {team: green}}
    - podSelector: {matchLabels: {app: client}}
)"));
  EXPECT_TRUE(cluster.allowed("b/client", "a/server"));
  EXPECT_TRUE(cluster.allowed("b/server", "a/server"));
  EXPECT_TRUE(cluster.allowed("a/client", "a/server"));
}

TEST(Oracle, EmptyNamespaceSelectorMatchesEveryNamespaceButNoExternalAddress) {
  const Cluster cluster(withPolicies(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: a}
spec:
  podSelector: {matchLabels: {app: server}}
  ingress: [{from: [{namespaceSelector: {}}]}]
)"));
  EXPECT_TRUE(cluster.allowed("b/server", "a/server"));
  EXPECT_TRUE(cluster.allowed("a/client", "a/server"));
  EXPECT_FALSE(cluster.allowed("198.51.100.7", "a/server"));
}

TEST(Oracle, EveryNamespaceCarriesItsNameLabel) {
  const Cluster cluster(withPolicies(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: a}
spec:
  podSelector: {matchLabels: {app: server}}
  ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: b}}}]}]
)"));
  EXPECT_TRUE(cluster.allowed("b/client", "a/server"));
  EXPECT_FALSE(cluster.allowed("a/client", "a/server"));
  EXPECT_EQ(cluster.oracle().namespaceLabels("b").at("kubernetes.io/metadata.name"), "b");
}

TEST(Oracle, MatchExpressionsSelectPeers) {
  const Cluster cluster(withPolicies(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: a}
spec:
  podSelector: {matchLabels: {app: server}}
  ingress:
  - from:
    - namespaceSelector:
        matchExpressions: [{key: team, operator: NotIn, values: [blue]}]
      podSelector:
        matchExpressions: [{key: app, operator: Exists}]
)"));
  EXPECT_TRUE(cluster.allowed("b/client", "a/server"));
  EXPECT_FALSE(cluster.allowed("a/client", "a/server"));
}

// --- ports -------------------------------------------------------------------

constexpr std::string_view kServerPorts = R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: ports, namespace: a}
spec:
  podSelector: {matchLabels: {app: server}}
  ingress:
  - ports:
    - {port: 80}
    - {protocol: UDP, port: 5000, endPort: 5010}
    - {protocol: SCTP}
    - {port: http}
    - {protocol: UDP, port: dns}
)";

TEST(Oracle, PortWithoutProtocolIsTCP) {
  const Cluster cluster(withPolicies(kServerPorts));
  EXPECT_TRUE(cluster.allowed("a/client", "a/server", 80, Protocol::kTCP));
  EXPECT_FALSE(cluster.allowed("a/client", "a/server", 80, Protocol::kUDP));
  EXPECT_FALSE(cluster.allowed("a/client", "a/server", 81, Protocol::kTCP));
}

TEST(Oracle, EndPortRangeIsInclusiveAtBothEnds) {
  const Cluster cluster(withPolicies(kServerPorts));
  EXPECT_FALSE(cluster.allowed("a/client", "a/server", 4999, Protocol::kUDP));
  EXPECT_TRUE(cluster.allowed("a/client", "a/server", 5000, Protocol::kUDP));
  EXPECT_TRUE(cluster.allowed("a/client", "a/server", 5005, Protocol::kUDP));
  EXPECT_TRUE(cluster.allowed("a/client", "a/server", 5010, Protocol::kUDP));
  EXPECT_FALSE(cluster.allowed("a/client", "a/server", 5011, Protocol::kUDP));
  EXPECT_FALSE(cluster.allowed("a/client", "a/server", 5005, Protocol::kTCP));
}

TEST(Oracle, ProtocolWithoutPortAllowsEveryPortOfThatProtocol) {
  const Cluster cluster(withPolicies(kServerPorts));
  EXPECT_TRUE(cluster.allowed("a/client", "a/server", 1, Protocol::kSCTP));
  EXPECT_TRUE(cluster.allowed("a/client", "a/server", 65535, Protocol::kSCTP));
}

TEST(Oracle, NamedPortResolvesAgainstTheDestinationPodsContainers) {
  const Cluster cluster(withPolicies(kServerPorts));
  EXPECT_TRUE(cluster.allowed("a/client", "a/server", 8080));
  EXPECT_FALSE(cluster.allowed("a/client", "a/server", 9090));
}

TEST(Oracle, NamedPortMustMatchTheContainerPortProtocol) {
  const Cluster cluster(withPolicies(kServerPorts));
  EXPECT_TRUE(cluster.allowed("a/client", "a/server", 53, Protocol::kUDP));
  EXPECT_FALSE(cluster.allowed("a/client", "a/server", 53, Protocol::kTCP));
}

TEST(Oracle, EgressNamedPortResolvesPerDestinationPod) {
  const Cluster cluster(withPolicies(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: a}
spec:
  podSelector: {matchLabels: {app: client}}
  policyTypes: [Egress]
  egress: [{ports: [{port: http}]}]
)"));
  EXPECT_TRUE(cluster.allowed("a/client", "a/server", 8080));
  EXPECT_FALSE(cluster.allowed("a/client", "a/server", 9090));
  EXPECT_TRUE(cluster.allowed("a/client", "b/server", 9090)) << "b/server names 9090 http";
  EXPECT_FALSE(cluster.allowed("a/client", "b/server", 8080));
  EXPECT_FALSE(cluster.allowed("a/client", "203.0.113.1", 8080))
      << "an address outside the cluster has no named ports";
}

// --- ipBlock -----------------------------------------------------------------

TEST(Oracle, IpBlockAllowsTheCidrMinusItsExcepts) {
  const Cluster cluster(withPolicies(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: a}
spec:
  podSelector: {matchLabels: {app: client}}
  policyTypes: [Egress]
  egress: [{to: [{ipBlock: {cidr: 203.0.113.0/24, except: [203.0.113.128/25]}}]}]
)"));
  EXPECT_TRUE(cluster.allowed("a/client", "203.0.113.1"));
  EXPECT_TRUE(cluster.allowed("a/client", "203.0.113.127"));
  EXPECT_FALSE(cluster.allowed("a/client", "203.0.113.128"));
  EXPECT_FALSE(cluster.allowed("a/client", "198.51.100.1"));
}

TEST(Oracle, IpBlockMatchesPodAddressesToo) {
  const Cluster cluster(withPolicies(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: a}
spec:
  podSelector: {matchLabels: {app: client}}
  policyTypes: [Egress]
  egress: [{to: [{ipBlock: {cidr: 10.0.0.0/16, except: [10.0.2.2/32]}}]}]
)"));
  EXPECT_TRUE(cluster.allowed("a/client", "a/server"));
  EXPECT_TRUE(cluster.allowed("a/client", "b/client"));
  EXPECT_FALSE(cluster.allowed("a/client", "b/server"));
}

TEST(Oracle, IngressFromOutsideTheClusterNeedsAnIpBlock) {
  const Cluster cluster(withPolicies(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: a}
spec:
  podSelector: {matchLabels: {app: server}}
  ingress:
  - from: [{podSelector: {}}, {ipBlock: {cidr: 198.51.100.0/24}}]
)"));
  EXPECT_TRUE(cluster.allowed("198.51.100.20", "a/server"));
  EXPECT_FALSE(cluster.allowed("192.0.2.20", "a/server"));
  const Verdict v = cluster.verdict("198.51.100.20", "a/server");
  EXPECT_EQ(v.egress.outcome, SideVerdict::Outcome::kNotApplicable);
}

constexpr std::string_view kDualStack = R"(
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: a, labels: {app: client}}
status: {podIPs: [{ip: 10.0.1.1}, {ip: "fd00:1::1"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: v6only, namespace: a, labels: {app: v6}}
status: {podIPs: [{ip: "fd00:1::2"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: dual, namespace: a, labels: {app: dual}}
status: {podIPs: [{ip: 10.0.1.3}, {ip: "fd00:1::3"}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: a}
spec:
  podSelector: {matchLabels: {app: client}}
  policyTypes: [Egress]
  egress: [{to: [{ipBlock: {cidr: "fd00:1::/64", except: ["fd00:1::3/128"]}}]}]
)";

TEST(Oracle, IPv6IpBlockMatchesIPv6Addresses) {
  const Cluster cluster(kDualStack);
  EXPECT_TRUE(cluster.allowed("a/client", "fd00:1::99"));
  EXPECT_FALSE(cluster.allowed("a/client", "fd00:2::1"));
  EXPECT_TRUE(cluster.allowed("a/client", "a/v6only")) << "the only common family is IPv6";
}

TEST(Oracle, PodToPodFlowUsesIPv4WhenBothPodsHaveIt) {
  const Cluster cluster(kDualStack);
  EXPECT_FALSE(cluster.allowed("a/client", "a/dual"));
  Flow flow{.source = PodRef{"a", "client"}, .destination = PodRef{"a", "dual"},
            .protocol = Protocol::kTCP, .port = 80, .family = IpFamily::kIPv6};
  EXPECT_FALSE(cluster.oracle().evaluate(flow)->allowed) << "fd00:1::3 is excepted";
  flow.destination = PodRef{"a", "v6only"};
  EXPECT_TRUE(cluster.oracle().evaluate(flow)->allowed);
}

// --- both sides --------------------------------------------------------------

TEST(Oracle, EgressDeniedAtTheClientWinsOverIngressAllowedAtTheServer) {
  const Cluster cluster(withPolicies(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-egress, namespace: b}
spec: {podSelector: {matchLabels: {app: client}}, policyTypes: [Egress]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-all-in, namespace: a}
spec: {podSelector: {}, ingress: [{}]}
)"));
  const Verdict v = cluster.verdict("b/client", "a/server");
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.egress.outcome, SideVerdict::Outcome::kDenied);
  EXPECT_EQ(v.ingress.outcome, SideVerdict::Outcome::kAllowed);
}

TEST(Oracle, PoliciesInOtherNamespacesNeverIsolateAPod) {
  const Cluster cluster(withPolicies(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: b}
spec: {podSelector: {matchLabels: {app: server}}}
)"));
  EXPECT_TRUE(cluster.allowed("b/client", "a/server"));
  EXPECT_FALSE(cluster.allowed("a/client", "b/server"));
}

// --- what policies never apply to -------------------------------------------

constexpr std::string_view kDenyAllInA = R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: a}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
)";

TEST(Oracle, APodCanAlwaysReachItself) {
  const Cluster cluster(withPolicies(kDenyAllInA));
  const Verdict v = cluster.verdict("a/server", "a/server");
  EXPECT_TRUE(v.allowed);
  EXPECT_EQ(v.bypass, Verdict::Bypass::kLoopback);
}

TEST(Oracle, TrafficBetweenAPodAndItsOwnNodeIsAlwaysAllowed) {
  const Cluster cluster(withPolicies(kDenyAllInA));
  EXPECT_TRUE(cluster.allowed("192.168.0.2", "a/server")) << "a/server runs on 192.168.0.2";
  EXPECT_EQ(cluster.verdict("192.168.0.2", "a/server").bypass, Verdict::Bypass::kNodeLocal);
  EXPECT_FALSE(cluster.allowed("192.168.0.1", "a/server")) << "another node";
  EXPECT_TRUE(cluster.allowed("a/server", "192.168.0.2"));
  EXPECT_FALSE(cluster.allowed("a/server", "192.168.0.1"));
}

TEST(Oracle, HostNetworkPodsAreNeitherIsolatedNorMatchedBySelectors) {
  const Cluster cluster(withPolicies(std::string(kDenyAllInA) + R"(
---
apiVersion: v1
kind: Pod
metadata: {name: agent, namespace: a, labels: {app: client}}
spec: {hostNetwork: true, nodeName: node-9, containers: [{name: c}]}
status: {podIP: 192.168.0.9, hostIP: 192.168.0.9}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: from-clients, namespace: a}
spec:
  podSelector: {matchLabels: {app: server}}
  ingress: [{from: [{podSelector: {matchLabels: {app: client}}}]}]
)"));
  const Verdict out = cluster.verdict("a/agent", "b/server");
  EXPECT_TRUE(out.allowed);
  EXPECT_EQ(out.egress.outcome, SideVerdict::Outcome::kNotApplicable);
  EXPECT_EQ(cluster.verdict("a/client", "a/server").ingress.outcome,
            SideVerdict::Outcome::kAllowed);
  const Verdict in = cluster.verdict("a/agent", "a/server");
  EXPECT_FALSE(in.allowed);
  EXPECT_EQ(in.ingress.outcome, SideVerdict::Outcome::kDenied)
      << "app=client does not match a hostNetwork pod: its traffic is the node's";
}

TEST(Oracle, HostNetworkPodOnTheSameNodeIsNodeTraffic) {
  const Cluster cluster(withPolicies(std::string(kDenyAllInA) + R"(
---
apiVersion: v1
kind: Pod
metadata: {name: agent, namespace: b}
spec: {hostNetwork: true, nodeName: node-2, containers: [{name: c}]}
status: {podIP: 192.168.0.2, hostIP: 192.168.0.2}
)"));
  EXPECT_TRUE(cluster.allowed("b/agent", "a/server"));
  EXPECT_FALSE(cluster.allowed("b/agent", "a/client")) << "a/client runs on node-1";
}

// --- endpoints ---------------------------------------------------------------

TEST(Oracle, AnAddressOfAPodIsThatPod) {
  const Cluster cluster(withPolicies(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: a}
spec:
  podSelector: {matchLabels: {app: server}}
  ingress: [{from: [{podSelector: {matchLabels: {app: client}}}]}]
)"));
  EXPECT_TRUE(cluster.allowed("10.0.1.1", "10.0.1.2"));
  EXPECT_FALSE(cluster.allowed("10.0.2.1", "10.0.1.2"));
}

TEST(Oracle, UnknownPodIsAnErrorNamingIt) {
  const Cluster cluster(kTwoNamespaces);
  const Flow flow{.source = PodRef{"a", "ghost"}, .destination = PodRef{"a", "server"},
                  .protocol = Protocol::kTCP, .port = 80, .family = std::nullopt};
  const Result<Verdict> result = cluster.oracle().evaluate(flow);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().message, "pod a/ghost is not in the cluster");
}

TEST(Oracle, ObjectsWithoutNamespaceAreInDefaultWhichNeedNotBeDeclared) {
  const Cluster cluster(R"(
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
---
apiVersion: v1
kind: Pod
metadata: {name: other}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny}
spec: {podSelector: {matchLabels: {app: web}}}
)");
  EXPECT_FALSE(cluster.allowed("default/other", "default/web"));
  EXPECT_TRUE(cluster.allowed("default/web", "default/other"));
  EXPECT_EQ(cluster.oracle().namespaceLabels("default").at("kubernetes.io/metadata.name"),
            "default");
}

// --- explanations and matrices ------------------------------------------------

TEST(Oracle, ExplanationNamesIsolatingPoliciesAndTheAllowingRule) {
  const Cluster cluster(withPolicies(std::string(kDenyAllInA) + R"(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: a}
spec:
  podSelector: {matchLabels: {app: server}}
  ingress: [{from: [{podSelector: {matchLabels: {app: client}}}], ports: [{port: http}]}]
)"));
  const Flow flow{.source = PodRef{"a", "client"}, .destination = PodRef{"a", "server"},
                  .protocol = Protocol::kTCP, .port = 8080, .family = std::nullopt};
  const std::string text = explain(flow, cluster.oracle().evaluate(flow).value());
  EXPECT_THAT(text, HasSubstr("TCP/8080 from a/client to a/server: DENIED"));
  EXPECT_THAT(text, HasSubstr("egress at a/client: DENIED: no rule allows it"));
  EXPECT_THAT(text, HasSubstr("ingress at a/server: allowed by a/web spec.ingress[0]"));
  EXPECT_THAT(text, HasSubstr("isolated by a/deny, a/web"));
}

TEST(Matrix, CoversEveryOrderedPairIncludingSelfPerProtocolAndPort) {
  const Cluster cluster(withPolicies(kDenyAllInA));
  const auto entries = reachabilityMatrix(
      cluster.oracle(), MatrixQuery{.protocols = {Protocol::kTCP, Protocol::kUDP},
                                    .ports = {80, 443}});
  ASSERT_EQ(entries.size(), 2u * 2u * 4u * 4u);
  EXPECT_EQ(entries.front(),
            (MatrixEntry{PodRef{"a", "client"}, PodRef{"a", "client"}, Protocol::kTCP, 80, true}));
  EXPECT_EQ(entries[1],
            (MatrixEntry{PodRef{"a", "client"}, PodRef{"a", "server"}, Protocol::kTCP, 80, false}));
  EXPECT_EQ(entries.back(), (MatrixEntry{PodRef{"b", "server"}, PodRef{"b", "server"},
                                         Protocol::kUDP, 443, true}));
  const auto allowed = std::count_if(entries.begin(), entries.end(),
                                     [](const MatrixEntry& e) { return e.allowed; });
  // Per protocol/port: b->b 4 pairs, a self 2 -> 6 of 16.
  EXPECT_EQ(allowed, 4 * 6);
}

}  // namespace
}  // namespace palisade::policy
