#include "policy/compiler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "policy/dataplane_lookup.h"
#include "policy/manifest.h"
#include "policy/oracle.h"
#include "tests/support/cluster_generator.h"

namespace palisade::policy {
namespace {

using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr uint8_t kTCP = 6;
constexpr uint8_t kUDP = 17;
constexpr uint8_t kSCTP = 132;
constexpr uint8_t kICMP = 1;

IpAddress ip(std::string_view text) { return IpAddress::parse(text).value(); }

ClusterState clusterFrom(std::string_view yaml) {
  const Manifest manifest = readManifest(yaml, "test.yaml");
  EXPECT_THAT(manifest.errors, IsEmpty());
  return clusterStateOf(manifest);
}

// A cluster and its compiled tables, asked the way a node's dataplane is.
class Compiled {
 public:
  explicit Compiled(ClusterState state)
      : compiled_(compileCluster(state, 7)), view_(compiled_.tables) {}

  // The dataplane's verdict on the first packet of a flow: where it leaves
  // the source pod (if it is one), then where it reaches the destination pod
  // (if it is one).
  bool allows(std::string_view from, std::string_view to, uint8_t protocol, uint16_t port) const {
    const IpAddress source = ip(from);
    const IpAddress destination = ip(to);
    if (view_.endpoint(source) != nullptr) {
      const PacketVerdict leaving =
          decideLeavingPod(view_, node_, source, destination, protocol, port);
      if (!leaving.allowed || leaving.reason != PAL_ALLOW_DEFERRED) {
        return leaving.allowed;
      }
    }
    return decideReachingPod(view_, node_, source, destination, protocol, port).allowed;
  }

  const CompiledCluster& compiled() const { return compiled_; }

 private:
  CompiledCluster compiled_;
  DataplaneView view_;
  NodeContext node_;
};

constexpr std::string_view kPods = R"(
apiVersion: v1
kind: Namespace
metadata: {name: a, labels: {team: blue}}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: a, labels: {app: client}}
status: {podIP: 10.0.1.1}
---
apiVersion: v1
kind: Pod
metadata: {name: server, namespace: a, labels: {app: server}}
spec:
  containers:
  - name: s
    ports: [{name: http, containerPort: 8080}, {name: dns, containerPort: 53, protocol: UDP}]
status: {podIPs: [{ip: 10.0.1.2}, {ip: "fd00::2"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: server2, namespace: a, labels: {app: server}}
spec:
  containers:
  - name: s
    ports: [{name: http, containerPort: 9090}]
status: {podIP: 10.0.1.3}
)";

std::string with(std::string_view policies) {
  return std::string(kPods) + "\n---\n" + std::string(policies);
}

TEST(Compiler, PodsWithTheSameNamespaceLabelsAndNamedPortsShareAnIdentity) {
  const CompiledCluster compiled = compileCluster(clusterFrom(R"(
apiVersion: v1
kind: Pod
metadata: {name: a, labels: {app: web}}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: b, labels: {app: web}}
status: {podIP: 10.0.0.2}
---
apiVersion: v1
kind: Pod
metadata: {name: c, labels: {app: web}}
spec: {containers: [{name: c, ports: [{name: http, containerPort: 80}]}]}
status: {podIP: 10.0.0.3}
)"),
                                                  1);
  ASSERT_THAT(compiled.tables.endpoints, SizeIs(3));
  EXPECT_EQ(compiled.tables.endpoints[0].second.identity,
            compiled.tables.endpoints[1].second.identity);
  EXPECT_NE(compiled.tables.endpoints[0].second.identity,
            compiled.tables.endpoints[2].second.identity);
  EXPECT_NE(compiled.tables.endpoints[0].second.endpoint_id,
            compiled.tables.endpoints[1].second.endpoint_id);
}

TEST(Compiler, EveryKeyCarriesTheGeneration) {
  const CompiledCluster compiled = compileCluster(clusterFrom(with(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: a}
spec:
  podSelector: {}
  egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8}}], ports: [{port: 80, endPort: 90}]}]
)")),
                                                  42);
  ASSERT_FALSE(compiled.tables.cidrs.empty());
  ASSERT_FALSE(compiled.tables.port_ranges.empty());
  for (const auto& [key, value] : compiled.tables.endpoints) {
    EXPECT_EQ(key.generation, 42u);
  }
  for (const auto& [key, value] : compiled.tables.rules) {
    EXPECT_EQ(key.generation, 42u);
  }
  for (const auto& [key, value] : compiled.tables.cidrs) {
    EXPECT_EQ(key.generation, 42u);
  }
  for (const auto& [key, value] : compiled.tables.port_ranges) {
    EXPECT_EQ(key.generation, 42u);
  }
}

TEST(Compiler, UnisolatedPodsHaveNoRuleSet) {
  const CompiledCluster compiled = compileCluster(clusterFrom(kPods), 1);
  for (const auto& [key, value] : compiled.tables.endpoints) {
    EXPECT_EQ(value.ingress_ruleset, 0u);
    EXPECT_EQ(value.egress_ruleset, 0u);
  }
  EXPECT_THAT(compiled.tables.rules, IsEmpty());
}

TEST(Compiler, NamedPortsResolvePerDestinationPod) {
  const Compiled cluster(clusterFrom(with(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: a}
spec:
  podSelector: {matchLabels: {app: server}}
  ingress: [{ports: [{port: http}]}]
)")));
  EXPECT_TRUE(cluster.allows("10.0.1.1", "10.0.1.2", kTCP, 8080));
  EXPECT_FALSE(cluster.allows("10.0.1.1", "10.0.1.2", kTCP, 9090));
  EXPECT_TRUE(cluster.allows("10.0.1.1", "10.0.1.3", kTCP, 9090));
  EXPECT_FALSE(cluster.allows("10.0.1.1", "10.0.1.3", kTCP, 8080));
  EXPECT_FALSE(cluster.allows("10.0.1.1", "10.0.1.2", kUDP, 8080));
}

TEST(Compiler, EndPortRangesAreInclusiveAndOtherProtocolsStayClosed) {
  const Compiled cluster(clusterFrom(with(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: a}
spec:
  podSelector: {matchLabels: {app: server}}
  ingress: [{ports: [{protocol: UDP, port: 5000, endPort: 5010}, {protocol: SCTP}]}]
)")));
  EXPECT_FALSE(cluster.allows("10.0.1.1", "10.0.1.2", kUDP, 4999));
  EXPECT_TRUE(cluster.allows("10.0.1.1", "10.0.1.2", kUDP, 5000));
  EXPECT_TRUE(cluster.allows("10.0.1.1", "10.0.1.2", kUDP, 5010));
  EXPECT_FALSE(cluster.allows("10.0.1.1", "10.0.1.2", kUDP, 5011));
  EXPECT_TRUE(cluster.allows("10.0.1.1", "10.0.1.2", kSCTP, 1));
  EXPECT_FALSE(cluster.allows("10.0.1.1", "10.0.1.2", kICMP, 0))
      << "a rule with ports never allows ICMP";
}

TEST(Compiler, RuleWithoutPortsAllowsEveryProtocol) {
  const Compiled cluster(clusterFrom(with(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: a}
spec:
  podSelector: {matchLabels: {app: server}}
  ingress: [{from: [{podSelector: {matchLabels: {app: client}}}]}]
)")));
  EXPECT_TRUE(cluster.allows("10.0.1.1", "10.0.1.2", kICMP, 0));
  EXPECT_TRUE(cluster.allows("10.0.1.1", "10.0.1.2", kSCTP, 7));
  EXPECT_FALSE(cluster.allows("10.0.1.3", "10.0.1.2", kICMP, 0));
}

TEST(Compiler, IpBlockExceptCarvesRegionsOutOfTheCidr) {
  const Compiled cluster(clusterFrom(with(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: a}
spec:
  podSelector: {matchLabels: {app: client}}
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: {cidr: 203.0.113.0/24, except: [203.0.113.128/25]}}]
  - to: [{ipBlock: {cidr: 203.0.113.192/26}}]
    ports: [{port: 443}]
)")));
  EXPECT_TRUE(cluster.allows("10.0.1.1", "203.0.113.1", kTCP, 80));
  EXPECT_FALSE(cluster.allows("10.0.1.1", "203.0.113.130", kTCP, 80));
  EXPECT_FALSE(cluster.allows("10.0.1.1", "203.0.113.130", kTCP, 443));
  EXPECT_TRUE(cluster.allows("10.0.1.1", "203.0.113.200", kTCP, 443))
      << "an except of one block does not hide another block";
  EXPECT_FALSE(cluster.allows("10.0.1.1", "203.0.113.200", kTCP, 80));
  EXPECT_FALSE(cluster.allows("10.0.1.1", "198.51.100.1", kTCP, 80));
}

TEST(Compiler, IPv6AnyDoesNotCoverIPv4) {
  const Compiled cluster(clusterFrom(with(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: a}
spec:
  podSelector: {matchLabels: {app: client}}
  policyTypes: [Egress]
  egress: [{to: [{ipBlock: {cidr: "::/0"}}]}]
)")));
  EXPECT_TRUE(cluster.allows("10.0.1.1", "2001:db8::1", kTCP, 80));
  EXPECT_FALSE(cluster.allows("10.0.1.1", "192.0.2.1", kTCP, 80));
}

TEST(Compiler, EgressNamedPortToAPodMatchedByIpBlockResolvesAgainstThatPod) {
  const Compiled cluster(clusterFrom(with(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: a}
spec:
  podSelector: {matchLabels: {app: client}}
  policyTypes: [Egress]
  egress: [{to: [{ipBlock: {cidr: 10.0.1.0/24}}], ports: [{port: http}]}]
)")));
  EXPECT_TRUE(cluster.allows("10.0.1.1", "10.0.1.2", kTCP, 8080));
  EXPECT_FALSE(cluster.allows("10.0.1.1", "10.0.1.2", kTCP, 9090));
  EXPECT_TRUE(cluster.allows("10.0.1.1", "10.0.1.3", kTCP, 9090));
  EXPECT_FALSE(cluster.allows("10.0.1.1", "fd00::2", kTCP, 8080))
      << "the block holds the pod's IPv4 address, not its IPv6 one";
}

TEST(Compiler, ManyDisjointRangesOverflowIntoExactEntries) {
  std::string ports;
  for (int i = 0; i < 20; ++i) {
    ports += "{port: " + std::to_string(1000 + i * 10) + ", endPort: " +
             std::to_string(1000 + i * 10 + 2 + (i % 3)) + "},";
  }
  const Compiled cluster(clusterFrom(with(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: a}
spec:
  podSelector: {matchLabels: {app: server}}
  ingress: [{ports: [)" + ports + R"(]}]
)")));
  for (int i = 0; i < 20; ++i) {
    const int first = 1000 + i * 10;
    const int last = first + 2 + (i % 3);
    EXPECT_FALSE(cluster.allows("10.0.1.1", "10.0.1.2", kTCP, static_cast<uint16_t>(first - 1)));
    for (int port = first; port <= last; ++port) {
      EXPECT_TRUE(cluster.allows("10.0.1.1", "10.0.1.2", kTCP, static_cast<uint16_t>(port)))
          << port;
    }
    EXPECT_FALSE(cluster.allows("10.0.1.1", "10.0.1.2", kTCP, static_cast<uint16_t>(last + 1)));
  }
  for (const auto& [key, value] : cluster.compiled().tables.port_ranges) {
    EXPECT_LE(value.count, static_cast<uint32_t>(PAL_MAX_PORT_RANGES));
  }
}

TEST(Compiler, IndexExplainsIdsAndRules) {
  const CompiledCluster compiled = compileCluster(clusterFrom(with(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: a}
spec:
  podSelector: {matchLabels: {app: server}}
  ingress: [{ports: [{port: 80}]}]
)")),
                                                  1);
  ASSERT_THAT(compiled.index.rulesets, SizeIs(1));
  const auto& ruleset = compiled.index.rulesets.begin()->second;
  EXPECT_EQ(ruleset.direction, Direction::kIngress);
  EXPECT_EQ(ruleset.policies, (std::vector<PolicyRef>{{"a", "web"}}));
  ASSERT_THAT(compiled.index.rules, SizeIs(1));
  EXPECT_EQ(toString(compiled.index.rules[0]), "a/web spec.ingress[0]");
  EXPECT_THAT(compiled.index.identities, SizeIs(3));
  EXPECT_THAT(compiled.index.endpoints, SizeIs(4));
}

// --- differential: the compiled tables against the oracle ----------------------

struct FlowPoint {
  std::optional<PodRef> pod;
  IpAddress address;
};

// Every pod address, and addresses outside the cluster inside and outside the
// generator's CIDRs.
std::vector<FlowPoint> flowPoints(const ClusterState& state) {
  std::vector<FlowPoint> points;
  for (const Pod& pod : state.pods) {
    points.push_back(FlowPoint{PodRef{pod.metadata.namespace_name, pod.metadata.name},
                               ip(pod.pod_ip)});
  }
  for (const char* external : {"203.0.113.9", "203.0.113.200", "198.51.100.4", "10.1.3.77"}) {
    points.push_back(FlowPoint{std::nullopt, ip(external)});
  }
  return points;
}

Protocol oracleProtocol(uint8_t protocol) {
  return protocol == kUDP ? Protocol::kUDP : protocol == kSCTP ? Protocol::kSCTP : Protocol::kTCP;
}

TEST(CompilerDifferential, TablesAgreeWithTheOracleOnRandomClusters) {
  size_t flows = 0;
  for (uint32_t seed = 1; seed <= 12; ++seed) {
    const ClusterState state = testing::generateCluster(testing::ClusterShape{
        .namespaces = 4, .pods_per_namespace = 8, .policies_per_namespace = 4, .seed = seed});
    const ReachabilityOracle oracle(state);
    const Compiled compiled(state);
    const std::vector<FlowPoint> points = flowPoints(state);
    for (const FlowPoint& from : points) {
      for (const FlowPoint& to : points) {
        if (!from.pod && !to.pod) {
          continue;  // no pod involved: nothing of Palisade's to check
        }
        if (from.pod && to.pod && *from.pod == *to.pod) {
          continue;  // a pod's traffic to itself never reaches the dataplane
        }
        for (uint8_t protocol : {kTCP, kUDP, kSCTP}) {
          for (uint16_t port : {53, 80, 443, 5432, 6379, 8000, 8050, 8100, 8101, 8080, 9090}) {
            const Flow flow{.source = from.pod ? Endpoint(*from.pod) : Endpoint(from.address),
                            .destination = to.pod ? Endpoint(*to.pod) : Endpoint(to.address),
                            .protocol = oracleProtocol(protocol),
                            .port = port,
                            .family = IpFamily::kIPv4};
            const Verdict expected = oracle.evaluate(flow).value();
            const bool got = compiled.allows(from.address.toString(), to.address.toString(),
                                             protocol, port);
            ++flows;
            ASSERT_EQ(got, expected.allowed)
                << "seed " << seed << ": " << explain(flow, expected) << "dataplane says "
                << (got ? "allowed" : "denied");
          }
        }
      }
    }
  }
  EXPECT_GT(flows, 100000u);
}

}  // namespace
}  // namespace palisade::policy
