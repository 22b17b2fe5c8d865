#include "policy/json_codec.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace palisade::policy {
namespace {

using nlohmann::json;

TEST(JsonCodec, PortAcceptsIntegerOrString) {
  const auto policy = decodeNetworkPolicy(json::parse(R"({
    "metadata": {"name": "p"},
    "spec": {"ingress": [{"ports": [{"port": 80, "endPort": 90}, {"port": "http", "protocol": "UDP"}]}]}
  })"));
  ASSERT_TRUE(policy.has_value()) << policy.error().message;
  const auto& ports = policy->spec.ingress[0].ports;
  EXPECT_EQ(std::get<int32_t>(*ports[0].port), 80);
  EXPECT_EQ(ports[0].end_port, 90);
  EXPECT_FALSE(ports[0].protocol.has_value());
  EXPECT_EQ(std::get<std::string>(*ports[1].port), "http");
  EXPECT_EQ(ports[1].protocol, "UDP");
}

TEST(JsonCodec, FractionalPortIsRejected) {
  const auto policy = decodeNetworkPolicy(
      json::parse(R"({"spec": {"egress": [{"ports": [{"port": 80.5}]}]}})"));
  ASSERT_FALSE(policy.has_value());
  EXPECT_EQ(policy.error().field_path, "spec.egress[0].ports[0].port");
  EXPECT_EQ(policy.error().message, "expected integer or string, got number");
}

TEST(JsonCodec, IntegerBeyondInt32IsRejectedWithItsValue) {
  const auto policy = decodeNetworkPolicy(
      json::parse(R"({"spec": {"egress": [{"ports": [{"port": 1, "endPort": 4294967296}]}]}})"));
  ASSERT_FALSE(policy.has_value());
  EXPECT_EQ(policy.error().field_path, "spec.egress[0].ports[0].endPort");
  EXPECT_EQ(policy.error().message, "integer 4294967296 does not fit in 32 bits");
}

TEST(JsonCodec, AbsentAndEmptyPeerSelectorsStayDistinct) {
  const auto policy = decodeNetworkPolicy(json::parse(R"({
    "spec": {"ingress": [{"from": [{"namespaceSelector": {}}, {"podSelector": {"matchLabels": {"a": "b"}}}]}]}
  })"));
  ASSERT_TRUE(policy.has_value());
  const auto& peers = policy->spec.ingress[0].peers;
  ASSERT_EQ(peers.size(), 2u);
  EXPECT_TRUE(peers[0].namespace_selector.has_value());
  EXPECT_TRUE(peers[0].namespace_selector->empty());
  EXPECT_FALSE(peers[0].pod_selector.has_value());
  EXPECT_FALSE(peers[1].namespace_selector.has_value());
  EXPECT_EQ(peers[1].pod_selector->match_labels.at("a"), "b");
}

TEST(JsonCodec, EgressPeersAreReadFromTo) {
  const auto policy = decodeNetworkPolicy(json::parse(
      R"({"spec": {"egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}]}]}})"));
  ASSERT_TRUE(policy.has_value());
  const auto& block = policy->spec.egress[0].peers.at(0).ip_block;
  ASSERT_TRUE(block.has_value());
  EXPECT_EQ(block->cidr, "10.0.0.0/8");
  EXPECT_EQ(block->except, std::vector<std::string>{"10.1.0.0/16"});
}

TEST(JsonCodec, ObjectExpectedWhereArrayGiven) {
  const auto pod = decodePod(json::parse(R"({"spec": {"containers": {"name": "c"}}})"));
  ASSERT_FALSE(pod.has_value());
  EXPECT_EQ(pod.error().field_path, "spec.containers");
  EXPECT_EQ(pod.error().message, "expected array, got object");
}

TEST(JsonCodec, NonObjectDocumentIsRejected) {
  const auto ns = decodeNamespace(json::parse("[1, 2]"));
  ASSERT_FALSE(ns.has_value());
  EXPECT_EQ(ns.error().field_path, "");
  EXPECT_EQ(ns.error().message, "expected object, got array");
}

TEST(JsonCodec, PodAddressesAndPortsAreRead) {
  const auto pod = decodePod(json::parse(R"({
    "metadata": {"name": "db", "namespace": "shop", "labels": {"app": "db"}},
    "spec": {"nodeName": "n1", "containers": [{"name": "pg", "ports": [{"name": "pg", "containerPort": 5432}]}]},
    "status": {"podIP": "10.0.0.5", "podIPs": [{"ip": "10.0.0.5"}, {"ip": "fd00::5"}], "hostIP": "192.168.0.1"}
  })"));
  ASSERT_TRUE(pod.has_value()) << pod.error().message;
  EXPECT_EQ(pod->node_name, "n1");
  EXPECT_EQ(pod->pod_ips, (std::vector<std::string>{"10.0.0.5", "fd00::5"}));
  EXPECT_EQ(pod->host_ip, "192.168.0.1");
  EXPECT_EQ(pod->containers.at(0).ports.at(0).container_port, 5432);
  EXPECT_EQ(pod->containers.at(0).ports.at(0).protocol, "");
}

TEST(JsonCodec, EncodeThenDecodeIsIdentity) {
  const json original = json::parse(R"({
    "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
    "metadata": {"name": "p", "namespace": "shop", "labels": {"a": "b"}},
    "spec": {
      "podSelector": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["web"]}]},
      "ingress": [{"from": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"x": "y"}}}],
                   "ports": [{"protocol": "SCTP", "port": 9000, "endPort": 9100}]}],
      "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}],
                  "ports": [{"port": "dns"}]}],
      "policyTypes": ["Ingress", "Egress"]
    }})");
  const auto decoded = decodeNetworkPolicy(original);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(encodeNetworkPolicy(*decoded), original);
}

TEST(JsonCodec, EncodedEmptySelectorIsAnEmptyObject) {
  NetworkPolicy policy;
  policy.metadata.name = "deny";
  EXPECT_EQ(encodeNetworkPolicy(policy)["spec"]["podSelector"], json::object());
}

}  // namespace
}  // namespace palisade::policy
