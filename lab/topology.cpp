#include "lab/topology.h"

#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace palisade::lab {
namespace {

using policy::Cidr;
using policy::IpAddress;
using policy::IpFamily;

IpAddress parsed(std::string_view text) { return *IpAddress::parse(text); }
Cidr parsedCidr(std::string_view text) { return *Cidr::parse(text); }

// `base` + `offset` within the last four bytes of the address.
IpAddress plus(const IpAddress& base, uint32_t offset) {
  std::array<uint8_t, 16> bytes = base.bytes();
  const size_t last = base.family() == IpFamily::kIPv4 ? 3 : 15;
  uint64_t carry = offset;
  for (size_t i = last + 1; i-- > last - 3 && carry != 0;) {
    const uint64_t sum = bytes[i] + (carry & 0xff);
    bytes[i] = static_cast<uint8_t>(sum);
    carry = (carry >> 8) + (sum >> 8);
  }
  if (base.family() == IpFamily::kIPv4) {
    return IpAddress::v4({bytes[0], bytes[1], bytes[2], bytes[3]});
  }
  return IpAddress::v6(bytes);
}

// Why `address` cannot be a pod's in the lab, or nullopt when it can.
std::optional<std::string> unusable(const IpAddress& address) {
  static const std::array<std::pair<std::string_view, std::string_view>, 9> kReserved = {{
      {"0.0.0.0/8", "a \"this network\" address"},
      {"127.0.0.0/8", "a loopback address"},
      {"169.254.0.0/16", "a link-local address"},
      {"224.0.0.0/4", "a multicast address"},
      {"255.255.255.255/32", "the broadcast address"},
      {"::/128", "the unspecified address"},
      {"::1/128", "the loopback address"},
      {"fe80::/10", "a link-local address"},
      {"ff00::/8", "a multicast address"},
  }};
  for (const auto& [cidr, what] : kReserved) {
    if (parsedCidr(cidr).contains(address)) {
      return std::string(what);
    }
  }
  return std::nullopt;
}

std::string hostRoute(const IpAddress& address) {
  return fmt::format("{}/{}", address.toString(), address.bitLength());
}

const IpAddress* ofFamily(const std::vector<IpAddress>& addresses, IpFamily family) {
  const auto it = std::ranges::find_if(
      addresses, [&](const IpAddress& address) { return address.family() == family; });
  return it == addresses.end() ? nullptr : &*it;
}

std::string_view iptablesProtocol(policy::Protocol protocol) {
  switch (protocol) {
    case policy::Protocol::kTCP:
      return "tcp";
    case policy::Protocol::kUDP:
      return "udp";
    case policy::Protocol::kSCTP:
      return "sctp";
  }
  return "tcp";
}

std::string destination(const IpAddress& address, uint16_t port) {
  return address.family() == IpFamily::kIPv4 ? fmt::format("{}:{}", address.toString(), port)
                                             : fmt::format("[{}]:{}", address.toString(), port);
}

}  // namespace

const LabPod* Topology::find(const policy::PodRef& ref) const {
  const auto it = std::ranges::find_if(pods, [&](const LabPod& pod) { return pod.ref == ref; });
  return it == pods.end() ? nullptr : &*it;
}

policy::Result<Topology> planTopology(const policy::ClusterState& cluster,
                                      std::string_view run_id, bool via_services) {
  Topology topology;
  topology.run_id = std::string(run_id);
  topology.node_netns = fmt::format("pl-{}-node", run_id);
  topology.via_services = via_services;
  topology.cluster = cluster;
  const IpAddress node_v4 = parsed(kNodeIPv4);
  const IpAddress node_v6 = parsed(kNodeIPv6);
  const Cidr services_v4 = parsedCidr(kServiceCidrIPv4);
  const Cidr services_v6 = parsedCidr(kServiceCidrIPv6);

  // First the addresses the manifests give, so that allocation avoids them.
  std::map<IpAddress, policy::PodRef> owners;
  std::set<policy::PodRef> seen;
  bool any_ipv6 = false;
  for (size_t i = 0; i < cluster.pods.size(); ++i) {
    const policy::Pod& pod = cluster.pods[i];
    LabPod& lab_pod = topology.pods.emplace_back();
    lab_pod.ref = policy::PodRef{pod.metadata.namespace_name, pod.metadata.name};
    const std::string name = policy::toString(lab_pod.ref);
    if (!seen.insert(lab_pod.ref).second) {
      return policy::fail(fmt::format("pod {} is listed twice", name));
    }
    lab_pod.host_network = pod.host_network;
    if (pod.host_network) {
      // Its address is the node's, whatever the manifest says.
      lab_pod.netns = topology.node_netns;
      continue;
    }
    lab_pod.netns = fmt::format("pl-{}-p{}", run_id, i);
    lab_pod.host_interface = fmt::format("pl{}h", i);
    std::vector<std::string> texts;
    if (!pod.pod_ip.empty()) {
      texts.push_back(pod.pod_ip);
    }
    texts.insert(texts.end(), pod.pod_ips.begin(), pod.pod_ips.end());
    for (const std::string& text : texts) {
      const std::optional<IpAddress> address = IpAddress::parseSloppy(text);
      if (!address) {
        return policy::fail(
            fmt::format("pod {}: status.podIPs: \"{}\" is not an IP address", name, text));
      }
      if (std::ranges::find(lab_pod.ips, *address) != lab_pod.ips.end()) {
        continue;
      }
      if (ofFamily(lab_pod.ips, address->family()) != nullptr) {
        return policy::fail(fmt::format(
            "pod {}: status.podIPs: more than one {} address", name,
            address->family() == IpFamily::kIPv4 ? "IPv4" : "IPv6"));
      }
      if (const std::optional<std::string> why = unusable(*address)) {
        return policy::fail(fmt::format("pod {}: {} is {}: it cannot be a pod address", name,
                                        address->toString(), *why));
      }
      if (*address == node_v4 || *address == node_v6) {
        return policy::fail(fmt::format("pod {}: {} is the lab node's address", name,
                                        address->toString()));
      }
      if (via_services && (services_v4.contains(*address) || services_v6.contains(*address))) {
        return policy::fail(fmt::format("pod {}: {} is in the lab's Service range ({}, {})",
                                        name, address->toString(), kServiceCidrIPv4,
                                        kServiceCidrIPv6));
      }
      if (const auto [it, inserted] = owners.emplace(*address, lab_pod.ref); !inserted) {
        return policy::fail(fmt::format("pods {} and {} have the same address {}",
                                        policy::toString(it->second), name,
                                        address->toString()));
      }
      lab_pod.ips.push_back(*address);
      any_ipv6 = any_ipv6 || address->family() == IpFamily::kIPv6;
    }
    std::ranges::stable_sort(lab_pod.ips, {}, &IpAddress::family);
  }

  topology.node_ips.push_back(node_v4);
  topology.service_cidrs.push_back(services_v4);
  if (any_ipv6) {
    topology.node_ips.push_back(node_v6);
    topology.service_cidrs.push_back(services_v6);
  }

  const Cidr pod_cidr = parsedCidr(kPodCidr);
  uint32_t next_offset = 1;
  const uint32_t pod_cidr_size = 1U << (32 - pod_cidr.prefixLength());
  uint32_t next_v4_service = 10;
  uint32_t next_v6_service = 10;
  for (size_t i = 0; i < topology.pods.size(); ++i) {
    LabPod& lab_pod = topology.pods[i];
    if (lab_pod.host_network) {
      lab_pod.ips = topology.node_ips;
    } else if (lab_pod.ips.empty()) {
      std::optional<IpAddress> chosen;
      for (; next_offset < pod_cidr_size - 1 && !chosen; ++next_offset) {
        const IpAddress candidate = plus(pod_cidr.address(), next_offset);
        if (candidate != node_v4 && !owners.contains(candidate)) {
          chosen = candidate;
        }
      }
      if (!chosen) {
        return policy::fail(fmt::format("no address left in {} for pod {}", kPodCidr,
                                        policy::toString(lab_pod.ref)));
      }
      owners.emplace(*chosen, lab_pod.ref);
      lab_pod.ips.push_back(*chosen);
      lab_pod.allocated = true;
    }
    if (via_services) {
      for (const IpAddress& address : lab_pod.ips) {
        const bool v4 = address.family() == IpFamily::kIPv4;
        const Cidr& range = v4 ? services_v4 : services_v6;
        const IpAddress cluster_ip = plus(range.address(), v4 ? next_v4_service++
                                                              : next_v6_service++);
        if (!range.contains(cluster_ip)) {
          return policy::fail(fmt::format("more Services than {} holds", range.toString()));
        }
        lab_pod.cluster_ips.push_back(cluster_ip);
      }
    }

    policy::Pod& pod = topology.cluster.pods[i];
    pod.pod_ips.clear();
    for (const IpAddress& address : lab_pod.ips) {
      pod.pod_ips.push_back(address.toString());
    }
    pod.pod_ip = pod.pod_ips.front();
    pod.node_name = std::string(kNodeName);
    pod.host_ips.clear();
    for (const IpAddress& address : topology.node_ips) {
      pod.host_ips.push_back(address.toString());
    }
    pod.host_ip = pod.host_ips.front();
  }
  return topology;
}

std::string nodeLinksBatch(const Topology& topology) {
  std::string batch = "link set lo up\n";
  for (const IpAddress& address : topology.node_ips) {
    batch += fmt::format("address add {} dev lo{}\n", hostRoute(address),
                         address.family() == IpFamily::kIPv6 ? " nodad" : "");
  }
  for (const LabPod& pod : topology.pods) {
    if (pod.host_network) {
      continue;
    }
    batch += fmt::format("link add {} type veth peer name eth0 netns {}\n", pod.host_interface,
                         pod.netns);
    batch += fmt::format("link set {} up\n", pod.host_interface);
    if (ofFamily(pod.ips, IpFamily::kIPv6) != nullptr) {
      batch += fmt::format("address add {}/64 dev {} nodad\n", kIPv6Gateway, pod.host_interface);
    }
  }
  return batch;
}

std::string podBatch(const Topology& /*topology*/, const LabPod& pod) {
  std::string batch = "link set lo up\n";
  for (const IpAddress& address : pod.ips) {
    batch += fmt::format("address add {} dev eth0{}\n", hostRoute(address),
                         address.family() == IpFamily::kIPv6 ? " nodad" : "");
  }
  batch += "link set eth0 up\n";
  if (ofFamily(pod.ips, IpFamily::kIPv4) != nullptr) {
    batch += fmt::format("route add 0.0.0.0/0 via {} dev eth0 onlink\n", kNodeIPv4);
  }
  if (ofFamily(pod.ips, IpFamily::kIPv6) != nullptr) {
    batch += fmt::format("route add ::/0 via {} dev eth0\n", kIPv6Gateway);
  }
  return batch;
}

std::string nodeRoutesBatch(const Topology& topology) {
  std::string batch;
  for (const LabPod& pod : topology.pods) {
    if (pod.host_network) {
      continue;
    }
    for (const IpAddress& address : pod.ips) {
      // An explicit source: replies and the node's own probes leave with the
      // node's address, never a link-local or loopback one.
      const IpAddress* source = ofFamily(topology.node_ips, address.family());
      batch += fmt::format("route add {} dev {} src {}\n", hostRoute(address),
                           pod.host_interface, source->toString());
    }
  }
  if (topology.via_services) {
    for (const Cidr& range : topology.service_cidrs) {
      const IpAddress* source = ofFamily(topology.node_ips, range.family());
      batch += fmt::format("route add local {} dev lo src {}\n", range.toString(),
                           source->toString());
    }
  }
  return batch;
}

std::string serviceBaseRules(const Topology& topology, IpFamily family) {
  if (ofFamily(topology.node_ips, family) == nullptr) {
    return "";
  }
  std::string rules = fmt::format("*nat\n:{} - [0:0]\n", kServicesChain);
  rules += fmt::format("-A PREROUTING -j {}\n-A OUTPUT -j {}\n", kServicesChain, kServicesChain);
  for (const LabPod& pod : topology.pods) {
    const IpAddress* address = ofFamily(pod.ips, family);
    if (pod.host_network || address == nullptr) {
      continue;
    }
    rules += fmt::format("-A POSTROUTING -s {0} -d {0} -j MASQUERADE\n", hostRoute(*address));
  }
  return rules + "COMMIT\n";
}

std::string serviceDnatRules(const Topology& topology, IpFamily family,
                             policy::Protocol protocol, uint16_t port) {
  std::string rules;
  for (const LabPod& pod : topology.pods) {
    const IpAddress* address = ofFamily(pod.ips, family);
    const IpAddress* cluster_ip = ofFamily(pod.cluster_ips, family);
    if (address == nullptr || cluster_ip == nullptr) {
      continue;
    }
    rules += fmt::format("-A {} -d {} -p {} --dport {} -j DNAT --to-destination {}\n",
                         kServicesChain, hostRoute(*cluster_ip), iptablesProtocol(protocol), port,
                         destination(*address, port));
  }
  return rules.empty() ? rules : "*nat\n" + rules + "COMMIT\n";
}

nlohmann::json topologyJson(const Topology& topology) {
  auto strings = [](const auto& values) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& value : values) {
      list.push_back(value.toString());
    }
    return list;
  };
  nlohmann::json pods = nlohmann::json::array();
  for (const LabPod& pod : topology.pods) {
    nlohmann::json entry = {{"namespace", pod.ref.namespace_name},
                            {"name", pod.ref.name},
                            {"hostNetwork", pod.host_network},
                            {"netns", pod.netns},
                            {"ips", strings(pod.ips)}};
    if (!pod.host_network) {
      entry["interface"] = pod.host_interface;
      entry["ifindex"] = pod.host_ifindex;
    }
    if (topology.via_services) {
      entry["clusterIPs"] = strings(pod.cluster_ips);
    }
    pods.push_back(std::move(entry));
  }
  return {{"run", topology.run_id},
          {"node", {{"name", kNodeName}, {"netns", topology.node_netns},
                    {"ips", strings(topology.node_ips)}}},
          {"serviceCIDRs", strings(topology.service_cidrs)},
          {"viaServices", topology.via_services},
          {"pods", std::move(pods)}};
}

}  // namespace palisade::lab
