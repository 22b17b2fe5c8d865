#include "policy/dataplane_lookup.h"

#include <algorithm>
#include <cstring>

namespace palisade::policy {
namespace {

bool isPortProtocol(uint8_t protocol) {
  return protocol == 6 || protocol == 17 || protocol == 132;
}

std::array<uint8_t, PAL_ADDR_LEN> masked(const std::array<uint8_t, PAL_ADDR_LEN>& address,
                                         uint32_t length) {
  std::array<uint8_t, PAL_ADDR_LEN> out{};
  for (uint32_t bit = 0; bit < length; ++bit) {
    const uint8_t mask = static_cast<uint8_t>(0x80 >> (bit % 8));
    out[bit / 8] |= address[bit / 8] & mask;
  }
  return out;
}

bool contains(const std::vector<IpAddress>& addresses, const IpAddress& address) {
  return std::ranges::find(addresses, address) != addresses.end();
}

}  // namespace

DataplaneView::DataplaneView(const DataplaneTables& tables) : generation_(tables.generation) {
  for (const auto& [key, value] : tables.endpoints) {
    Address address;
    std::memcpy(address.data(), key.addr, PAL_ADDR_LEN);
    endpoints_.emplace(address, value);
  }
  for (const auto& [key, value] : tables.rules) {
    rules_.emplace(std::make_tuple(key.ruleset, key.peer, key.protocol, key.port), value.rule);
  }
  for (const auto& [key, value] : tables.port_ranges) {
    ranges_.emplace(std::make_tuple(key.ruleset, key.peer, key.protocol), value);
  }
  for (const auto& [key, value] : tables.cidrs) {
    Address address;
    std::memcpy(address.data(), key.addr, PAL_ADDR_LEN);
    const uint32_t length = key.prefixlen - PAL_CIDR_KEY_FIXED_BITS;
    cidrs_.emplace(std::make_tuple(key.ruleset, length, masked(address, length)), value.region);
  }
}

const pal_endpoint* DataplaneView::endpoint(const IpAddress& address) const {
  const auto it = endpoints_.find(dataplaneAddress(address));
  return it == endpoints_.end() ? nullptr : &it->second;
}

// Longest-prefix match, as BPF_MAP_TYPE_LPM_TRIE does it.
uint32_t DataplaneView::region(uint32_t ruleset, const Address& address) const {
  for (int length = PAL_ADDR_LEN * 8; length >= 0; --length) {
    const auto it = cidrs_.find(
        std::make_tuple(ruleset, static_cast<uint32_t>(length), masked(address, length)));
    if (it != cidrs_.end()) {
      return it->second;
    }
  }
  return 0;
}

bool DataplaneView::peerAllows(uint32_t ruleset, uint32_t peer, uint8_t protocol,
                               uint16_t port) const {
  if (isPortProtocol(protocol)) {
    if (rules_.contains(std::make_tuple(ruleset, peer, protocol, port)) ||
        rules_.contains(std::make_tuple(ruleset, peer, protocol, uint16_t{PAL_PORT_ANY}))) {
      return true;
    }
    const auto ranges = ranges_.find(std::make_tuple(ruleset, peer, protocol));
    if (ranges != ranges_.end()) {
      const pal_port_ranges& value = ranges->second;
      for (uint32_t i = 0; i < value.count && i < PAL_MAX_PORT_RANGES; ++i) {
        if (value.ranges[i].first <= port && port <= value.ranges[i].last) {
          return true;
        }
      }
    }
  }
  return rules_.contains(
      std::make_tuple(ruleset, peer, uint8_t{PAL_PROTOCOL_ANY}, uint16_t{PAL_PORT_ANY}));
}

bool DataplaneView::sideAllows(uint32_t ruleset_with_flags, const pal_endpoint* peer,
                               const IpAddress& peer_address, uint8_t protocol,
                               uint16_t port) const {
  const uint32_t ruleset = ruleset_with_flags & ~PAL_RULESET_PER_ENDPOINT;
  if (ruleset == 0) {
    return true;  // nothing isolates this side
  }
  if (peer != nullptr) {
    if (peerAllows(ruleset, peer->identity, protocol, port)) {
      return true;
    }
    if ((ruleset_with_flags & PAL_RULESET_PER_ENDPOINT) != 0 &&
        peerAllows(ruleset, peer->endpoint_id, protocol, port)) {
      return true;
    }
  }
  const uint32_t peer_region = region(ruleset, dataplaneAddress(peer_address));
  if (peer_region != 0 && peerAllows(ruleset, peer_region, protocol, port)) {
    return true;
  }
  return peerAllows(ruleset, PAL_PEER_ANY, protocol, port);
}

PacketVerdict decideLeavingPod(const DataplaneView& view, const NodeContext& node,
                               const IpAddress& source, const IpAddress& destination,
                               uint8_t protocol, uint16_t port) {
  const pal_endpoint* pod = view.endpoint(source);
  if (pod == nullptr) {
    return {false, PAL_DROP_SPOOFED};
  }
  if (contains(node.node_addresses, destination)) {
    return {true, PAL_ALLOW_NODE};
  }
  if (view.endpoint(destination) != nullptr ||
      std::ranges::any_of(node.service_cidrs,
                          [&](const Cidr& cidr) { return cidr.contains(destination); })) {
    return {true, PAL_ALLOW_DEFERRED};
  }
  if (view.sideAllows(pod->egress_ruleset, nullptr, destination, protocol, port)) {
    return {true, PAL_ALLOW_POLICY};
  }
  return {false, PAL_DROP_EGRESS_DENIED};
}

PacketVerdict decideReachingPod(const DataplaneView& view, const NodeContext& node,
                                const IpAddress& source, const IpAddress& destination,
                                uint8_t protocol, uint16_t port) {
  const pal_endpoint* pod = view.endpoint(destination);
  if (pod == nullptr) {
    return {false, PAL_DROP_INGRESS_DENIED};  // not a pod this node enforces for
  }
  if (contains(node.node_addresses, source)) {
    return {true, PAL_ALLOW_NODE};
  }
  const pal_endpoint* peer = view.endpoint(source);
  if (peer != nullptr &&
      !view.sideAllows(peer->egress_ruleset, pod, destination, protocol, port)) {
    return {false, PAL_DROP_EGRESS_DENIED};
  }
  if (!view.sideAllows(pod->ingress_ruleset, peer, source, protocol, port)) {
    return {false, PAL_DROP_INGRESS_DENIED};
  }
  return {true, PAL_ALLOW_POLICY};
}

}  // namespace palisade::policy
