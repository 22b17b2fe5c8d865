#pragma once

// The dataplane's decision, computed in userspace from the compiled tables
// exactly as the BPF programs compute it from the maps (enforcer/bpf/): the
// reference the BPF code is tested against, and the bridge that lets the
// differential tests hold the compiler to the reachability oracle.

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <tuple>
#include <vector>

#include "policy/compiler.h"
#include "policy/ip.h"

namespace palisade::policy {

// What a node knows besides the tables.
struct NodeContext {
  std::vector<IpAddress> node_addresses;  // traffic between them and local pods is allowed
  std::vector<Cidr> service_cidrs;        // ClusterIPs: checked after DNAT, where they arrive
};

struct PacketVerdict {
  bool allowed = false;
  pal_reason reason = PAL_DROP_INGRESS_DENIED;
};

// The tables, indexed as the maps index them. Immutable after construction.
class DataplaneView {
 public:
  explicit DataplaneView(const DataplaneTables& tables);

  const pal_endpoint* endpoint(const IpAddress& address) const;

  // Whether the side with rule set `ruleset` (as stored in pal_endpoint, flags
  // included; 0: not isolated) admits a packet from or to `peer_address`,
  // which belongs to `peer` when that is a pod.
  bool sideAllows(uint32_t ruleset, const pal_endpoint* peer, const IpAddress& peer_address,
                  uint8_t protocol, uint16_t port) const;

 private:
  using Address = std::array<uint8_t, PAL_ADDR_LEN>;

  uint32_t region(uint32_t ruleset, const Address& address) const;
  bool peerAllows(uint32_t ruleset, uint32_t peer, uint8_t protocol, uint16_t port) const;

  uint32_t generation_;
  std::map<Address, pal_endpoint> endpoints_;
  std::map<std::tuple<uint32_t, uint32_t, uint8_t, uint16_t>, uint32_t> rules_;
  std::map<std::tuple<uint32_t, uint32_t, uint8_t>, pal_port_ranges> ranges_;
  std::map<std::tuple<uint32_t, uint32_t, Address>, uint32_t> cidrs_;  // (ruleset, length, prefix)
};

// The first packet of a flow, where it leaves a local pod (tc ingress of the
// pod's host-side veth). `source` is the pod's address.
PacketVerdict decideLeavingPod(const DataplaneView& view, const NodeContext& node,
                               const IpAddress& source, const IpAddress& destination,
                               uint8_t protocol, uint16_t port);

// The first packet of a flow, where it reaches a local pod (tc egress of the
// pod's host-side veth). `destination` is the pod's address.
PacketVerdict decideReachingPod(const DataplaneView& view, const NodeContext& node,
                                const IpAddress& source, const IpAddress& destination,
                                uint8_t protocol, uint16_t port);

}  // namespace palisade::policy
