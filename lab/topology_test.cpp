#include "lab/topology.h"

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace palisade::lab {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

policy::Pod pod(std::string ns, std::string name, std::vector<std::string> ips = {},
                bool host_network = false) {
  policy::Pod pod;
  pod.metadata.namespace_name = std::move(ns);
  pod.metadata.name = std::move(name);
  if (!ips.empty()) {
    pod.pod_ip = ips.front();
    pod.pod_ips = ips;
  }
  pod.host_network = host_network;
  pod.node_name = "worker-7";
  pod.host_ip = "192.168.10.7";
  return pod;
}

policy::ClusterState clusterOf(std::vector<policy::Pod> pods) {
  policy::ClusterState cluster;
  cluster.pods = std::move(pods);
  return cluster;
}

std::vector<std::string> texts(const std::vector<policy::IpAddress>& addresses) {
  std::vector<std::string> out;
  for (const policy::IpAddress& address : addresses) {
    out.push_back(address.toString());
  }
  return out;
}

Topology plan(const policy::ClusterState& cluster, bool via_services = false) {
  policy::Result<Topology> topology = planTopology(cluster, "abc123", via_services);
  EXPECT_TRUE(topology.has_value()) << topology.error().message;
  return topology.value_or(Topology{});
}

std::string planError(const policy::ClusterState& cluster, bool via_services = false) {
  policy::Result<Topology> topology = planTopology(cluster, "abc123", via_services);
  EXPECT_FALSE(topology.has_value());
  return topology ? "" : topology.error().message;
}

TEST(LabTopology, EachPodGetsItsOwnNamespaceAndAVethNamedAfterItsIndex) {
  const Topology topology =
      plan(clusterOf({pod("a", "web", {"10.244.1.10"}), pod("b", "db", {"10.244.2.20"})}));

  EXPECT_EQ(topology.node_netns, "pl-abc123-node");
  ASSERT_EQ(topology.pods.size(), 2U);
  EXPECT_EQ(topology.pods[0].netns, "pl-abc123-p0");
  EXPECT_EQ(topology.pods[0].host_interface, "pl0h");
  EXPECT_EQ(topology.pods[1].netns, "pl-abc123-p1");
  EXPECT_EQ(topology.pods[1].host_interface, "pl1h");
  EXPECT_THAT(texts(topology.pods[1].ips), ElementsAre("10.244.2.20"));
  EXPECT_FALSE(topology.pods[1].allocated);
  EXPECT_EQ(topology.find(policy::PodRef{"b", "db"}), &topology.pods[1]);
  EXPECT_EQ(topology.find(policy::PodRef{"b", "web"}), nullptr);
}

TEST(LabTopology, EveryPodRunsOnTheLabNodeWhoseAddressIsItsHostIp) {
  const Topology topology = plan(clusterOf({pod("a", "web", {"10.244.1.10"})}));

  EXPECT_THAT(texts(topology.node_ips), ElementsAre("10.244.255.254"));
  const policy::Pod& built = topology.cluster.pods[0];
  EXPECT_EQ(built.node_name, kNodeName);
  EXPECT_EQ(built.host_ip, "10.244.255.254");
  EXPECT_THAT(built.host_ips, ElementsAre("10.244.255.254"));
  EXPECT_EQ(built.pod_ip, "10.244.1.10");
}

TEST(LabTopology, PodsWithoutAnAddressGetFreeOnesFromThePodRange) {
  const Topology topology = plan(clusterOf(
      {pod("a", "one"), pod("a", "taken", {"10.244.0.1"}), pod("a", "two"), pod("a", "three")}));

  EXPECT_THAT(texts(topology.pods[0].ips), ElementsAre("10.244.0.2"));
  EXPECT_TRUE(topology.pods[0].allocated);
  EXPECT_FALSE(topology.pods[1].allocated);
  EXPECT_THAT(texts(topology.pods[2].ips), ElementsAre("10.244.0.3"));
  EXPECT_THAT(texts(topology.pods[3].ips), ElementsAre("10.244.0.4"));
  // The allocated addresses are the cluster's, for the oracle and the enforcer.
  EXPECT_EQ(topology.cluster.pods[0].pod_ip, "10.244.0.2");
  EXPECT_THAT(topology.cluster.pods[0].pod_ips, ElementsAre("10.244.0.2"));
}

TEST(LabTopology, AllocationCarriesIntoTheNextByte) {
  std::vector<policy::Pod> pods;
  for (int i = 0; i < 300; ++i) {
    pods.push_back(pod("a", "p" + std::to_string(i)));
  }
  const Topology topology = plan(clusterOf(std::move(pods)));

  EXPECT_THAT(texts(topology.pods[254].ips), ElementsAre("10.244.0.255"));
  EXPECT_THAT(texts(topology.pods[255].ips), ElementsAre("10.244.1.0"));
  EXPECT_THAT(texts(topology.pods[299].ips), ElementsAre("10.244.1.44"));
}

TEST(LabTopology, HostNetworkPodsLiveInTheNodeWithTheNodesAddresses) {
  const Topology topology = plan(clusterOf(
      {pod("a", "web", {"10.244.1.10", "fd00:244::1:10"}),
       pod("kube-system", "agent", {"192.168.10.7"}, /*host_network=*/true)}));

  const LabPod& agent = topology.pods[1];
  EXPECT_TRUE(agent.host_network);
  EXPECT_EQ(agent.netns, topology.node_netns);
  EXPECT_THAT(agent.host_interface, IsEmpty());
  EXPECT_THAT(texts(agent.ips), ElementsAre("10.244.255.254", "fd00:244::fffe"));
  EXPECT_THAT(topology.cluster.pods[1].pod_ips, ElementsAre("10.244.255.254", "fd00:244::fffe"));
}

TEST(LabTopology, AnIpv6PodMakesTheNodeDualStackAndAddsTheIpv6ServiceRange) {
  const Topology v4_only = plan(clusterOf({pod("a", "web", {"10.244.1.10"})}));
  const Topology dual = plan(clusterOf(
      {pod("a", "web", {"10.244.1.10"}), pod("a", "v6", {"fd00:244::1:20"})}));

  EXPECT_THAT(texts(v4_only.node_ips), ElementsAre("10.244.255.254"));
  EXPECT_EQ(v4_only.service_cidrs.size(), 1U);
  EXPECT_THAT(texts(dual.node_ips), ElementsAre("10.244.255.254", "fd00:244::fffe"));
  ASSERT_EQ(dual.service_cidrs.size(), 2U);
  EXPECT_EQ(dual.service_cidrs[0].toString(), "10.96.0.0/16");
  EXPECT_EQ(dual.service_cidrs[1].toString(), "fd00:96::/112");
  // An IPv6-only pod gets no IPv4 address.
  EXPECT_THAT(texts(dual.pods[1].ips), ElementsAre("fd00:244::1:20"));
}

TEST(LabTopology, AddressesAreOrderedIpv4First) {
  const Topology topology = plan(clusterOf({pod("a", "web", {"fd00:244::1:10", "10.244.1.10"})}));

  EXPECT_THAT(texts(topology.pods[0].ips), ElementsAre("10.244.1.10", "fd00:244::1:10"));
}

TEST(LabTopology, ServicesGetAClusterIpPerFamilyOfThePod) {
  const Topology topology = plan(
      clusterOf({pod("a", "web", {"10.244.1.10", "fd00:244::1:10"}),
                 pod("a", "db", {"10.244.1.11"}), pod("a", "agent", {}, /*host_network=*/true)}),
      /*via_services=*/true);

  EXPECT_THAT(texts(topology.pods[0].cluster_ips), ElementsAre("10.96.0.10", "fd00:96::a"));
  EXPECT_THAT(texts(topology.pods[1].cluster_ips), ElementsAre("10.96.0.11"));
  EXPECT_THAT(texts(topology.pods[2].cluster_ips), ElementsAre("10.96.0.12", "fd00:96::b"));
  const Topology direct = plan(clusterOf({pod("a", "web", {"10.244.1.10"})}));
  EXPECT_THAT(direct.pods[0].cluster_ips, IsEmpty());
}

TEST(LabTopology, AddressesNoPodCanHaveInTheLabAreRefusedNamingThePod) {
  EXPECT_THAT(planError(clusterOf({pod("a", "web", {"127.0.0.5"})})),
              HasSubstr("pod a/web: 127.0.0.5 is a loopback address"));
  EXPECT_THAT(planError(clusterOf({pod("a", "web", {"fe80::5"})})),
              HasSubstr("pod a/web: fe80::5 is a link-local address"));
  EXPECT_THAT(planError(clusterOf({pod("a", "web", {"10.244.255.254"})})),
              HasSubstr("pod a/web: 10.244.255.254 is the lab node's address"));
  EXPECT_THAT(planError(clusterOf({pod("a", "web", {"10.1.1.1"}), pod("b", "db", {"10.1.1.1"})})),
              HasSubstr("pods a/web and b/db have the same address 10.1.1.1"));
  EXPECT_THAT(planError(clusterOf({pod("a", "web", {"10.1.1.1", "10.1.1.2"})})),
              HasSubstr("pod a/web: status.podIPs: more than one IPv4 address"));
  EXPECT_THAT(planError(clusterOf({pod("a", "web", {"web.local"})})),
              HasSubstr("pod a/web: status.podIPs: \"web.local\" is not an IP address"));
  EXPECT_THAT(planError(clusterOf({pod("a", "web"), pod("a", "web")})),
              HasSubstr("pod a/web is listed twice"));
  EXPECT_THAT(planError(clusterOf({pod("a", "web", {"10.96.3.3"})}), /*via_services=*/true),
              HasSubstr("pod a/web: 10.96.3.3 is in the lab's Service range"));
  // Without Services the range is free for pods.
  EXPECT_TRUE(planTopology(clusterOf({pod("a", "web", {"10.96.3.3"})}), "x", false).has_value());
}

TEST(LabTopology, NodeBatchCreatesEachVethWithItsPodEndInThePodsNamespace) {
  const Topology topology = plan(clusterOf({pod("a", "web", {"10.244.1.10"}),
                                            pod("a", "agent", {}, /*host_network=*/true),
                                            pod("a", "v6", {"fd00:244::1:20"})}));

  EXPECT_EQ(nodeLinksBatch(topology),
            "link set lo up\n"
            "address add 10.244.255.254/32 dev lo\n"
            "address add fd00:244::fffe/128 dev lo nodad\n"
            "link add pl0h type veth peer name eth0 netns pl-abc123-p0\n"
            "link set pl0h up\n"
            "link add pl2h type veth peer name eth0 netns pl-abc123-p2\n"
            "link set pl2h up\n"
            "address add fe80::1/64 dev pl2h nodad\n");
}

TEST(LabTopology, PodBatchAddressesEth0AndRoutesEverythingThroughTheNode) {
  const Topology topology = plan(clusterOf({pod("a", "web", {"10.244.1.10", "fd00:244::1:10"})}));

  EXPECT_EQ(podBatch(topology, topology.pods[0]),
            "link set lo up\n"
            "address add 10.244.1.10/32 dev eth0\n"
            "address add fd00:244::1:10/128 dev eth0 nodad\n"
            "link set eth0 up\n"
            "route add 0.0.0.0/0 via 10.244.255.254 dev eth0 onlink\n"
            "route add ::/0 via fe80::1 dev eth0\n");
}

TEST(LabTopology, NodeRoutesReachEachPodAndWithServicesTheServiceRangesAreLocal) {
  const policy::ClusterState cluster =
      clusterOf({pod("a", "web", {"10.244.1.10", "fd00:244::1:10"}),
                 pod("a", "agent", {}, /*host_network=*/true)});

  EXPECT_EQ(nodeRoutesBatch(plan(cluster)),
            "route add 10.244.1.10/32 dev pl0h src 10.244.255.254\n"
            "route add fd00:244::1:10/128 dev pl0h src fd00:244::fffe\n");
  EXPECT_EQ(nodeRoutesBatch(plan(cluster, /*via_services=*/true)),
            "route add 10.244.1.10/32 dev pl0h src 10.244.255.254\n"
            "route add fd00:244::1:10/128 dev pl0h src fd00:244::fffe\n"
            "route add local 10.96.0.0/16 dev lo src 10.244.255.254\n"
            "route add local fd00:96::/112 dev lo src fd00:244::fffe\n");
}

TEST(LabTopology, ServiceRulesTranslateEachClusterIpAndMasqueradeHairpins) {
  const Topology topology =
      plan(clusterOf({pod("a", "web", {"10.244.1.10", "fd00:244::1:10"}),
                      pod("a", "db", {"10.244.1.11"}), pod("a", "agent", {}, true)}),
           /*via_services=*/true);

  EXPECT_EQ(serviceBaseRules(topology, policy::IpFamily::kIPv4),
            "*nat\n"
            ":PL-SERVICES - [0:0]\n"
            "-A PREROUTING -j PL-SERVICES\n"
            "-A OUTPUT -j PL-SERVICES\n"
            "-A POSTROUTING -s 10.244.1.10/32 -d 10.244.1.10/32 -j MASQUERADE\n"
            "-A POSTROUTING -s 10.244.1.11/32 -d 10.244.1.11/32 -j MASQUERADE\n"
            "COMMIT\n");
  EXPECT_EQ(serviceDnatRules(topology, policy::IpFamily::kIPv4, policy::Protocol::kUDP, 53),
            "*nat\n"
            "-A PL-SERVICES -d 10.96.0.10/32 -p udp --dport 53 -j DNAT --to-destination "
            "10.244.1.10:53\n"
            "-A PL-SERVICES -d 10.96.0.11/32 -p udp --dport 53 -j DNAT --to-destination "
            "10.244.1.11:53\n"
            "-A PL-SERVICES -d 10.96.0.12/32 -p udp --dport 53 -j DNAT --to-destination "
            "10.244.255.254:53\n"
            "COMMIT\n");
  EXPECT_EQ(serviceDnatRules(topology, policy::IpFamily::kIPv6, policy::Protocol::kTCP, 8080),
            "*nat\n"
            "-A PL-SERVICES -d fd00:96::a/128 -p tcp --dport 8080 -j DNAT --to-destination "
            "[fd00:244::1:10]:8080\n"
            "-A PL-SERVICES -d fd00:96::b/128 -p tcp --dport 8080 -j DNAT --to-destination "
            "[fd00:244::fffe]:8080\n"
            "COMMIT\n");
}

TEST(LabTopology, ServiceRulesAreEmptyForAFamilyNoPodHas) {
  const Topology topology = plan(clusterOf({pod("a", "web", {"10.244.1.10"})}), true);

  EXPECT_THAT(serviceBaseRules(topology, policy::IpFamily::kIPv6), IsEmpty());
  EXPECT_THAT(serviceDnatRules(topology, policy::IpFamily::kIPv6, policy::Protocol::kTCP, 80),
              IsEmpty());
}

TEST(LabTopology, JsonNamesTheInterfaceAndAddressesOfEveryPod) {
  Topology topology = plan(
      clusterOf({pod("a", "web", {"10.244.1.10"}), pod("a", "agent", {}, true)}), true);
  topology.pods[0].host_ifindex = 7;

  const nlohmann::json json = topologyJson(topology);

  EXPECT_EQ(json.at("node"), (nlohmann::json{{"name", "palisade-lab-node"},
                                             {"netns", "pl-abc123-node"},
                                             {"ips", {"10.244.255.254"}}}));
  EXPECT_EQ(json.at("serviceCIDRs"), (nlohmann::json{"10.96.0.0/16"}));
  EXPECT_EQ(json.at("pods")[0], (nlohmann::json{{"namespace", "a"},
                                                {"name", "web"},
                                                {"hostNetwork", false},
                                                {"netns", "pl-abc123-p0"},
                                                {"ips", {"10.244.1.10"}},
                                                {"interface", "pl0h"},
                                                {"ifindex", 7},
                                                {"clusterIPs", {"10.96.0.10"}}}));
  EXPECT_FALSE(json.at("pods")[1].contains("interface"));
}

}  // namespace
}  // namespace palisade::lab
