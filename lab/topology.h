#pragma once

// The plan of a lab: which network namespaces, links, addresses, routes and
// Service translations stand for a cluster, decided before anything is
// created. Pure: nothing here touches the system, so the plan and the command
// texts it yields are unit-tested without root.
//
//   pod netns pl-<run>-p<n>                node netns pl-<run>-node
//   eth0 10.244.1.11/32  <── veth ──>  pl<n>h  (route 10.244.1.11/32 dev pl<n>h)
//   default via 10.244.255.254 onlink         lo: 10.244.255.254, fd00:244::fffe
//   default via fe80::1 (IPv6)                pl<n>h: fe80::1/64 (IPv6 pods only)
//
// The node answers ARP for its own address on every veth (Linux's default
// arp_ignore), so an `onlink` IPv4 default route needs no proxy ARP; IPv6
// neighbour discovery only answers for addresses on the interface itself, so
// the IPv6 next hop is a link-local address on each host-side veth.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "policy/error.h"
#include "policy/ip.h"
#include "policy/objects.h"
#include "policy/oracle.h"

namespace palisade::lab {

// Every pod of a lab runs on this one node.
inline constexpr std::string_view kNodeName = "palisade-lab-node";
// Where pods without an address get one.
inline constexpr std::string_view kPodCidr = "10.244.0.0/16";
inline constexpr std::string_view kNodeIPv4 = "10.244.255.254";
inline constexpr std::string_view kNodeIPv6 = "fd00:244::fffe";
// The IPv6 next hop of every pod: the node's side of its veth.
inline constexpr std::string_view kIPv6Gateway = "fe80::1";
inline constexpr std::string_view kServiceCidrIPv4 = "10.96.0.0/16";
inline constexpr std::string_view kServiceCidrIPv6 = "fd00:96::/112";
// The nat chain the Service translations live in, jumped to from PREROUTING
// (traffic from pods) and OUTPUT (traffic from the node and hostNetwork pods),
// as kube-proxy's KUBE-SERVICES is.
inline constexpr std::string_view kServicesChain = "PL-SERVICES";

struct LabPod {
  policy::PodRef ref;
  bool host_network = false;
  // The pod's namespace; for hostNetwork pods the node's.
  std::string netns;
  // The node's side of the pod's veth; empty for hostNetwork pods.
  std::string host_interface;
  // Its index in the node namespace once created; 0 until then.
  int host_ifindex = 0;
  // As the pod has them: its status.podIPs, or the address allocated to it, or
  // for hostNetwork pods the node's addresses. At most one per family, IPv4 first.
  std::vector<policy::IpAddress> ips;
  // Set when the lab chose the pod's address (the manifest had none).
  bool allocated = false;
  // The ClusterIPs of the pod's Service, one per family of `ips`; only with
  // Services.
  std::vector<policy::IpAddress> cluster_ips;
};

struct Topology {
  std::string run_id;
  std::string node_netns;
  // The node's addresses (hostIP): IPv4, and IPv6 when any pod has IPv6.
  std::vector<policy::IpAddress> node_ips;
  // The Service ranges, one per family of node_ips. Reserved even without
  // Services, so that an enforcer always knows them.
  std::vector<policy::Cidr> service_cidrs;
  bool via_services = false;
  std::vector<LabPod> pods;  // in the order of cluster.pods
  // The input cluster as the lab builds it: each pod with the addresses of
  // `pods`, nodeName kNodeName and the node's addresses as hostIP(s). This is
  // the cluster to give the oracle for a verdict on what the lab measures.
  policy::ClusterState cluster;

  const LabPod* find(const policy::PodRef& ref) const;
};

// Namespace names are "pl-<run_id>-node" and "pl-<run_id>-p<n>"; run_id must
// be unique among the labs that exist at the same time. Fails, naming the pod,
// when an address cannot be given to a pod in the lab (loopback, link-local,
// multicast, the node's, another pod's, or in the Service range with
// Services), or when a pod is listed twice.
[[nodiscard]] policy::Result<Topology> planTopology(const policy::ClusterState& cluster,
                                                    std::string_view run_id, bool via_services);

// `ip -batch` input, run in the node namespace: loopback, the node's
// addresses and a veth pair per pod (its pod end created directly in the
// pod's namespace, so nothing ever appears in the caller's namespace).
std::string nodeLinksBatch(const Topology& topology);
// `ip -batch` input, run in a pod's namespace once its eth0 exists.
std::string podBatch(const Topology& topology, const LabPod& pod);
// `ip -batch` input, run in the node namespace once every pod is up: a host
// route per pod address, and with Services a local route for each Service
// range (so that the node's own connections to a ClusterIP find a route and
// reach the nat OUTPUT chain, which translates them).
std::string nodeRoutesBatch(const Topology& topology);

// iptables-restore (--noflush) input for `family` creating the Services chain,
// its jumps, and kube-proxy's hairpin masquerade (a pod reaching itself through
// its own Service leaves with the node's address, so that the reply comes back
// through the node to be translated). Empty when the family has no pods.
std::string serviceBaseRules(const Topology& topology, policy::IpFamily family);
// The DNAT rules of every pod's Service for one protocol and port.
std::string serviceDnatRules(const Topology& topology, policy::IpFamily family,
                             policy::Protocol protocol, uint16_t port);

// The topology as JSON, for the enforcer ({topology}) and for people: node,
// Service ranges, and per pod its namespace, interface and addresses.
nlohmann::json topologyJson(const Topology& topology);

}  // namespace palisade::lab
