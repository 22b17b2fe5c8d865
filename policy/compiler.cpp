#include "policy/compiler.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <set>
#include <tuple>

#include <nlohmann/json.hpp>

#include "policy/json_codec.h"
#include "policy/label_selector.h"

namespace palisade::policy {

// The layouts the BPF programs read; a change here is an ABI change.
static_assert(sizeof(pal_endpoint_key) == 20);
static_assert(sizeof(pal_endpoint) == 16);
static_assert(sizeof(pal_rule_key) == 16);
static_assert(sizeof(pal_rule) == 4);
static_assert(sizeof(pal_port_range_key) == 16);
static_assert(sizeof(pal_port_ranges) == 4 + 4 * PAL_MAX_PORT_RANGES);
static_assert(sizeof(pal_cidr_key) == 28);
static_assert(sizeof(pal_cidr) == 4);
static_assert(sizeof(pal_config) == 8);
static_assert(sizeof(pal_ct_key) == 40);
static_assert(sizeof(pal_ct) == 16);
static_assert(sizeof(pal_flow_event) == 64);

std::array<uint8_t, PAL_ADDR_LEN> dataplaneAddress(const IpAddress& address) {
  std::array<uint8_t, PAL_ADDR_LEN> out{};
  if (address.family() == IpFamily::kIPv6) {
    std::copy_n(address.bytes().begin(), PAL_ADDR_LEN, out.begin());
  } else {
    out[10] = 0xff;
    out[11] = 0xff;
    std::copy_n(address.bytes().begin(), 4, out.begin() + 12);
  }
  return out;
}

namespace {

constexpr std::string_view kDefaultNamespace = "default";

struct NamedPort {
  std::string name;
  uint8_t protocol = 0;
  uint16_t port = 0;

  auto operator<=>(const NamedPort&) const = default;
};

// The named container ports of a pod, sorted: part of its identity, since a
// named port in a policy means different numbers on different pods.
using PortSignature = std::vector<NamedPort>;

uint8_t protocolNumber(Protocol protocol) {
  switch (protocol) {
    case Protocol::kTCP:
      return 6;
    case Protocol::kUDP:
      return 17;
    case Protocol::kSCTP:
      return 132;
  }
  return 0;
}

PortSignature signatureOf(const Pod& pod) {
  PortSignature ports;
  for (const Container& container : pod.containers) {
    for (const ContainerPort& port : container.ports) {
      const std::optional<Protocol> protocol = protocolOrDefault(port.protocol);
      if (port.name.empty() || !protocol || port.container_port < 1 ||
          port.container_port > 65535) {
        continue;
      }
      ports.push_back(NamedPort{port.name, protocolNumber(*protocol),
                                static_cast<uint16_t>(port.container_port)});
    }
  }
  std::ranges::sort(ports);
  ports.erase(std::unique(ports.begin(), ports.end()), ports.end());
  return ports;
}

std::vector<uint16_t> resolveNamedPort(const PortSignature& ports, const std::string& name,
                                       uint8_t protocol) {
  std::vector<uint16_t> numbers;
  for (const NamedPort& port : ports) {
    if (port.name == name && port.protocol == protocol) {
      numbers.push_back(port.port);
    }
  }
  return numbers;
}

// A NetworkPolicyPort with the protocol defaulted; `name` set for a named port.
struct PortSpec {
  uint8_t protocol = PAL_PROTOCOL_ANY;
  uint16_t first = PAL_PORT_ANY;  // PAL_PORT_ANY with last 0: every port
  uint16_t last = PAL_PORT_ANY;
  std::string name;
};

std::vector<PortSpec> portSpecsOf(const NetworkPolicyRule& rule) {
  if (rule.ports.empty()) {
    return {PortSpec{}};  // every protocol, every port
  }
  std::vector<PortSpec> specs;
  for (const NetworkPolicyPort& port : rule.ports) {
    const std::optional<Protocol> protocol =
        port.protocol ? parseProtocol(*port.protocol) : Protocol::kTCP;
    if (!protocol) {
      continue;  // rejected by validation; matches nothing
    }
    PortSpec spec;
    spec.protocol = protocolNumber(*protocol);
    if (port.port) {
      if (const int32_t* number = std::get_if<int32_t>(&*port.port)) {
        const int32_t last = port.end_port.value_or(*number);
        if (*number < 1 || *number > 65535 || last < *number || last > 65535) {
          continue;
        }
        spec.first = static_cast<uint16_t>(*number);
        spec.last = static_cast<uint16_t>(last);
      } else {
        spec.name = std::get<std::string>(*port.port);
      }
    }
    specs.push_back(std::move(spec));
  }
  return specs;
}

bool hasNamedPort(const std::vector<PortSpec>& specs) {
  return std::ranges::any_of(specs, [](const PortSpec& spec) { return !spec.name.empty(); });
}

// An address prefix in the dataplane's 16-byte space (IPv4 under ::ffff:0:0/96).
struct Prefix {
  std::array<uint8_t, PAL_ADDR_LEN> addr{};
  int length = 0;  // in bits of the 16-byte form
  bool v4 = false;

  auto operator<=>(const Prefix&) const = default;

  bool contains(const Prefix& other) const {
    if (v4 != other.v4 || other.length < length) {
      return false;
    }
    for (int bit = 0; bit < length; ++bit) {
      const int byte = bit / 8;
      const int mask = 0x80 >> (bit % 8);
      if ((addr[byte] & mask) != (other.addr[byte] & mask)) {
        return false;
      }
    }
    return true;
  }
};

Prefix prefixOf(const Cidr& cidr) {
  Prefix prefix;
  prefix.addr = dataplaneAddress(cidr.address());
  prefix.v4 = cidr.family() == IpFamily::kIPv4;
  prefix.length = cidr.prefixLength() + (prefix.v4 ? 96 : 0);
  return prefix;
}

// The IPv4-mapped range: an IPv6 ipBlock never contains it, so it is always
// a key of its own where IPv6 blocks could cover it.
Prefix v4MappedRange() {
  Prefix prefix;
  prefix.addr[10] = 0xff;
  prefix.addr[11] = 0xff;
  prefix.length = 96;
  prefix.v4 = true;
  return prefix;
}

struct IpBlockPeer {
  Prefix cidr;
  std::vector<Prefix> excepts;

  bool contains(const Prefix& key) const {
    return cidr.contains(key) &&
           std::ranges::none_of(excepts, [&](const Prefix& except) { return except.contains(key); });
  }
  auto operator<=>(const IpBlockPeer&) const = default;
};

std::optional<IpBlockPeer> parseIpBlock(const IPBlock& block) {
  const std::optional<Cidr> cidr = Cidr::parse(block.cidr, /*sloppy=*/true);
  if (!cidr) {
    return std::nullopt;
  }
  IpBlockPeer peer{prefixOf(*cidr), {}};
  for (const std::string& text : block.except) {
    if (const std::optional<Cidr> except = Cidr::parse(text, /*sloppy=*/true)) {
      peer.excepts.push_back(prefixOf(*except));
    }
  }
  return peer;
}

struct Identity {
  std::string namespace_name;
  Labels labels;
  PortSignature ports;
  std::vector<size_t> pods;
  uint32_t id = 0;
};

struct Endpoint {
  size_t pod = 0;
  IpAddress address;
  uint32_t identity = 0;
  uint32_t endpoint_id = 0;
};

struct RuleSetKey {
  Direction direction = Direction::kIngress;
  std::vector<size_t> policies;
  PortSignature ports;  // the subject's named ports, where ingress rules name ports

  auto operator<=>(const RuleSetKey&) const = default;
};

class Compiler {
 public:
  Compiler(const ClusterState& state, uint32_t generation)
      : state_(state), generation_(generation) {}

  CompiledCluster run() {
    normalize();
    buildIdentities();
    output_.tables.generation = generation_;
    std::vector<uint32_t> ingress(identities_.size());
    std::vector<uint32_t> egress(identities_.size());
    for (size_t i = 0; i < identities_.size(); ++i) {
      ingress[i] = ruleSetFor(i, Direction::kIngress);
      egress[i] = ruleSetFor(i, Direction::kEgress);
    }
    for (const auto& [key, id] : ruleset_ids_) {
      compileRuleSet(key, id);
    }
    for (const Endpoint& endpoint : endpoints_) {
      const size_t identity = endpoint.identity - 1;
      pal_endpoint_key key{};
      key.generation = generation_;
      const auto addr = dataplaneAddress(endpoint.address);
      std::memcpy(key.addr, addr.data(), PAL_ADDR_LEN);
      pal_endpoint value{};
      value.identity = endpoint.identity;
      value.endpoint_id = endpoint.endpoint_id;
      value.ingress_ruleset = ingress[identity];
      value.egress_ruleset = egress[identity] | (per_endpoint_.contains(egress[identity])
                                                     ? PAL_RULESET_PER_ENDPOINT
                                                     : 0u);
      output_.tables.endpoints.emplace_back(key, value);
    }
    emitRules();
    return std::move(output_);
  }

 private:
  void normalize() {
    for (const Namespace& ns : state_.namespaces) {
      Labels labels = ns.metadata.labels;
      labels[std::string(kNamespaceNameLabel)] = ns.metadata.name;
      namespace_labels_[ns.metadata.name] = std::move(labels);
    }
    auto ensure = [&](const std::string& name) {
      if (!namespace_labels_.contains(name)) {
        namespace_labels_[name] = Labels{{std::string(kNamespaceNameLabel), name}};
      }
    };
    for (const Pod& pod : state_.pods) {
      ensure(namespaceOf(pod.metadata));
    }
    for (size_t p = 0; p < state_.policies.size(); ++p) {
      const std::string ns = namespaceOf(state_.policies[p].metadata);
      ensure(ns);
      policies_by_namespace_[ns].push_back(p);
    }
  }

  static std::string namespaceOf(const ObjectMeta& meta) {
    return meta.namespace_name.empty() ? std::string(kDefaultNamespace) : meta.namespace_name;
  }

  void buildIdentities() {
    std::map<std::tuple<std::string, Labels, PortSignature>, size_t> by_key;
    for (size_t p = 0; p < state_.pods.size(); ++p) {
      const Pod& pod = state_.pods[p];
      if (pod.host_network) {
        continue;
      }
      std::vector<IpAddress> addresses;
      auto add = [&](const std::string& text) {
        if (auto address = IpAddress::parseSloppy(text);
            address && std::ranges::find(addresses, *address) == addresses.end()) {
          addresses.push_back(*address);
        }
      };
      add(pod.pod_ip);
      std::ranges::for_each(pod.pod_ips, add);
      if (addresses.empty()) {
        continue;
      }
      const std::string ns = namespaceOf(pod.metadata);
      PortSignature ports = signatureOf(pod);
      auto key = std::make_tuple(ns, pod.metadata.labels, ports);
      auto [it, inserted] = by_key.emplace(key, identities_.size());
      if (inserted) {
        Identity identity;
        identity.namespace_name = ns;
        identity.labels = pod.metadata.labels;
        identity.ports = std::move(ports);
        identity.id = static_cast<uint32_t>(identities_.size() + 1);
        identities_by_namespace_[ns].push_back(identities_.size());
        identities_.push_back(std::move(identity));
        auto& indexed = output_.index.identities[identities_.back().id];
        indexed.namespace_name = ns;
        indexed.labels = pod.metadata.labels;
      }
      Identity& identity = identities_[it->second];
      identity.pods.push_back(p);
      const PodRef ref{ns, pod.metadata.name};
      output_.index.identities[identity.id].pods.push_back(ref);
      for (const IpAddress& address : addresses) {
        const auto endpoint_id =
            PAL_PEER_ENDPOINT_BIT | static_cast<uint32_t>(endpoints_.size() + 1);
        endpoints_.push_back(Endpoint{p, address, identity.id, endpoint_id});
        output_.index.endpoints[endpoint_id] = ref;
      }
    }
  }

  // The rule set of an identity for a direction; 0 when nothing isolates it.
  uint32_t ruleSetFor(size_t identity_index, Direction direction) {
    const Identity& identity = identities_[identity_index];
    RuleSetKey key;
    key.direction = direction;
    bool named_ingress_ports = false;
    for (size_t p : policies_by_namespace_[identity.namespace_name]) {
      const NetworkPolicy& policy = state_.policies[p];
      const PolicyTypes types = effectivePolicyTypes(policy.spec);
      if ((direction == Direction::kIngress ? !types.ingress : !types.egress) ||
          !selectorMatches(policy.spec.pod_selector, identity.labels)) {
        continue;
      }
      key.policies.push_back(p);
      if (direction == Direction::kIngress) {
        for (const NetworkPolicyRule& rule : policy.spec.ingress) {
          named_ingress_ports = named_ingress_ports || hasNamedPort(portSpecsOf(rule));
        }
      }
    }
    if (key.policies.empty()) {
      return 0;
    }
    if (named_ingress_ports) {
      key.ports = identity.ports;
    }
    auto [it, inserted] =
        ruleset_ids_.emplace(key, static_cast<uint32_t>(ruleset_ids_.size() + 1));
    if (inserted) {
      DataplaneIndex::RuleSet& indexed = output_.index.rulesets[it->second];
      indexed.direction = direction;
      for (size_t p : key.policies) {
        const NetworkPolicy& policy = state_.policies[p];
        indexed.policies.push_back(PolicyRef{namespaceOf(policy.metadata), policy.metadata.name});
      }
    }
    return it->second;
  }

  uint32_t ruleId(size_t policy, Direction direction, size_t rule) {
    const auto key = std::make_tuple(policy, direction, rule);
    auto [it, inserted] =
        rule_ids_.emplace(key, static_cast<uint32_t>(output_.index.rules.size()));
    if (inserted) {
      const NetworkPolicy& p = state_.policies[policy];
      output_.index.rules.push_back(
          RuleRef{PolicyRef{namespaceOf(p.metadata), p.metadata.name}, direction, rule});
    }
    return it->second;
  }

  // The identities a selector peer of a policy in `policy_namespace` matches.
  const std::vector<uint32_t>& peerIdentities(const std::string& policy_namespace,
                                              const NetworkPolicyPeer& peer) {
    std::string cache_key = policy_namespace;
    cache_key += '\0';
    cache_key += peer.namespace_selector
                     ? encodeLabelSelector(*peer.namespace_selector).dump()
                     : std::string("-");
    cache_key += '\0';
    cache_key +=
        peer.pod_selector ? encodeLabelSelector(*peer.pod_selector).dump() : std::string("-");
    auto [it, inserted] = peer_cache_.try_emplace(cache_key);
    if (!inserted) {
      return it->second;
    }
    std::vector<uint32_t>& matched = it->second;
    auto matchNamespace = [&](const std::string& name) {
      for (size_t i : identities_by_namespace_[name]) {
        if (!peer.pod_selector || selectorMatches(*peer.pod_selector, identities_[i].labels)) {
          matched.push_back(identities_[i].id);
        }
      }
    };
    if (peer.namespace_selector) {
      for (const auto& [name, labels] : namespace_labels_) {
        if (selectorMatches(*peer.namespace_selector, labels)) {
          matchNamespace(name);
        }
      }
    } else if (peer.pod_selector) {
      matchNamespace(policy_namespace);
    }
    return matched;
  }

  // Adds the entries allowing `spec` from/to `peer` in rule set `ruleset`,
  // a named port resolved against `named_ports`.
  void allow(uint32_t ruleset, uint32_t peer, const PortSpec& spec,
             const PortSignature& named_ports, uint32_t rule) {
    if (!spec.name.empty()) {
      for (uint16_t port : resolveNamedPort(named_ports, spec.name, spec.protocol)) {
        addRule(ruleset, peer, spec.protocol, port, rule);
      }
      return;
    }
    if (spec.protocol == PAL_PROTOCOL_ANY || spec.first == PAL_PORT_ANY ||
        spec.first == spec.last) {
      addRule(ruleset, peer, spec.protocol, spec.first, rule);
      return;
    }
    ranges_[std::make_tuple(ruleset, peer, spec.protocol)].emplace_back(spec.first, spec.last);
  }

  void addRule(uint32_t ruleset, uint32_t peer, uint8_t protocol, uint16_t port, uint32_t rule) {
    rules_.try_emplace(std::make_tuple(ruleset, peer, protocol, port), rule);
  }

  void compileRuleSet(const RuleSetKey& key, uint32_t ruleset) {
    struct BlockUse {
      size_t block;
      PortSpec spec;
      uint32_t rule;
    };
    std::vector<IpBlockPeer> blocks;
    std::vector<BlockUse> block_uses;
    for (size_t p : key.policies) {
      const NetworkPolicy& policy = state_.policies[p];
      const std::string ns = namespaceOf(policy.metadata);
      const auto& rules =
          key.direction == Direction::kIngress ? policy.spec.ingress : policy.spec.egress;
      for (size_t r = 0; r < rules.size(); ++r) {
        const uint32_t rule = ruleId(p, key.direction, r);
        const std::vector<PortSpec> specs = portSpecsOf(rules[r]);
        if (rules[r].peers.empty()) {
          for (const PortSpec& spec : specs) {
            allowAnyPeer(ruleset, key, spec, rule);
          }
          continue;
        }
        for (const NetworkPolicyPeer& peer : rules[r].peers) {
          if (peer.ip_block) {
            if (peer.pod_selector || peer.namespace_selector) {
              continue;  // forbidden by validation; never widens access
            }
            const std::optional<IpBlockPeer> block = parseIpBlock(*peer.ip_block);
            if (!block) {
              continue;
            }
            auto found = std::ranges::find(blocks, *block);
            const size_t index = static_cast<size_t>(found - blocks.begin());
            if (found == blocks.end()) {
              blocks.push_back(*block);
            }
            for (const PortSpec& spec : specs) {
              block_uses.push_back(BlockUse{index, spec, rule});
            }
            continue;
          }
          if (!peer.pod_selector && !peer.namespace_selector) {
            continue;  // an empty peer matches nothing
          }
          for (uint32_t identity : peerIdentities(ns, peer)) {
            const PortSignature& named =
                key.direction == Direction::kIngress ? key.ports : identities_[identity - 1].ports;
            for (const PortSpec& spec : specs) {
              allow(ruleset, identity, spec, named, rule);
            }
          }
        }
      }
    }
    if (!blocks.empty()) {
      // Only a named port on an ipBlock peer needs the per-pod pass below.
      const bool named_ports_with_blocks = std::ranges::any_of(
          block_uses, [](const BlockUse& use) { return !use.spec.name.empty(); });
      compileRegions(key, ruleset, blocks, named_ports_with_blocks, [&](size_t block, auto&& add) {
        for (const BlockUse& use : block_uses) {
          if (use.block == block) {
            add(use.spec, use.rule);
          }
        }
      });
    }
  }

  // A rule without peers: every source or destination, in or outside the
  // cluster. An egress named port can only match pods (it resolves against
  // the destination), so it is compiled per destination identity.
  void allowAnyPeer(uint32_t ruleset, const RuleSetKey& key, const PortSpec& spec, uint32_t rule) {
    if (spec.name.empty() || key.direction == Direction::kIngress) {
      allow(ruleset, PAL_PEER_ANY, spec, key.ports, rule);
      return;
    }
    for (const Identity& identity : identities_) {
      allow(ruleset, identity.id, spec, identity.ports, rule);
    }
  }

  // Splits the address space by the set of `blocks` containing each address:
  // every cidr and except prefix becomes an LPM key whose region is the set
  // of blocks containing it (all addresses longest-matching a key share it).
  template <class ForEachUse>
  void compileRegions(const RuleSetKey& key, uint32_t ruleset,
                      const std::vector<IpBlockPeer>& blocks, bool named_ports_with_blocks,
                      ForEachUse&& for_each_use) {
    std::set<Prefix> keys;
    bool any_v6 = false;
    for (const IpBlockPeer& block : blocks) {
      keys.insert(block.cidr);
      keys.insert(block.excepts.begin(), block.excepts.end());
      any_v6 = any_v6 || !block.cidr.v4;
    }
    if (any_v6) {
      keys.insert(v4MappedRange());
    }
    std::map<std::vector<size_t>, uint32_t> regions;
    for (const Prefix& prefix : keys) {
      std::vector<size_t> members;
      for (size_t b = 0; b < blocks.size(); ++b) {
        if (blocks[b].contains(prefix)) {
          members.push_back(b);
        }
      }
      uint32_t region = 0;
      if (!members.empty()) {
        auto [it, inserted] = regions.emplace(members, PAL_PEER_REGION_BIT | (next_region_ + 1));
        if (inserted) {
          ++next_region_;
        }
        region = it->second;
      }
      pal_cidr_key cidr_key{};
      cidr_key.prefixlen = PAL_CIDR_KEY_FIXED_BITS + static_cast<uint32_t>(prefix.length);
      cidr_key.generation = generation_;
      cidr_key.ruleset = ruleset;
      std::memcpy(cidr_key.addr, prefix.addr.data(), PAL_ADDR_LEN);
      output_.tables.cidrs.emplace_back(cidr_key, pal_cidr{region});
    }
    for (const auto& [members, region] : regions) {
      for (size_t block : members) {
        for_each_use(block, [&](const PortSpec& spec, uint32_t rule) {
          if (spec.name.empty() || key.direction == Direction::kIngress) {
            allow(ruleset, region, spec, key.ports, rule);
          }
        });
      }
    }
    if (key.direction == Direction::kEgress && named_ports_with_blocks) {
      compileNamedPortsToBlockedPods(ruleset, blocks, for_each_use);
    }
  }

  // An egress ipBlock that contains pod addresses, with a named port: the
  // port is the destination pod's own, so it is compiled per pod address
  // (endpoint id), and the rule set is flagged for the dataplane to look so.
  template <class ForEachUse>
  void compileNamedPortsToBlockedPods(uint32_t ruleset, const std::vector<IpBlockPeer>& blocks,
                                      ForEachUse&& for_each_use) {
    for (const Endpoint& endpoint : endpoints_) {
      Prefix address;
      address.addr = dataplaneAddress(endpoint.address);
      address.v4 = endpoint.address.family() == IpFamily::kIPv4;
      address.length = 128;
      const PortSignature& ports = identities_[endpoint.identity - 1].ports;
      for (size_t b = 0; b < blocks.size(); ++b) {
        if (!blocks[b].contains(address)) {
          continue;
        }
        for_each_use(b, [&](const PortSpec& spec, uint32_t rule) {
          if (!spec.name.empty() && !resolveNamedPort(ports, spec.name, spec.protocol).empty()) {
            allow(ruleset, endpoint.endpoint_id, spec, ports, rule);
            per_endpoint_.insert(ruleset);
          }
        });
      }
    }
  }

  void emitRules() {
    for (const auto& [key, rule] : rules_) {
      const auto& [ruleset, peer, protocol, port] = key;
      pal_rule_key out{};
      out.generation = generation_;
      out.ruleset = ruleset;
      out.peer = peer;
      out.protocol = protocol;
      out.port = port;
      output_.tables.rules.emplace_back(out, pal_rule{rule});
    }
    for (auto& [key, ranges] : ranges_) {
      const auto& [ruleset, peer, protocol] = key;
      std::ranges::sort(ranges);
      // Overlapping and touching ranges merge: the union is what is allowed.
      std::vector<std::pair<uint16_t, uint16_t>> merged;
      for (const auto& range : ranges) {
        if (!merged.empty() && range.first <= merged.back().second + 1) {
          merged.back().second = std::max(merged.back().second, range.second);
        } else {
          merged.push_back(range);
        }
      }
      // Beyond the value's capacity, the narrowest ranges become exact
      // entries: bounded, and only for clusters with that many ranges.
      while (merged.size() > PAL_MAX_PORT_RANGES) {
        auto narrowest = std::ranges::min_element(merged, {}, [](const auto& range) {
          return range.second - range.first;
        });
        for (uint32_t port = narrowest->first; port <= narrowest->second; ++port) {
          pal_rule_key out{};
          out.generation = generation_;
          out.ruleset = ruleset;
          out.peer = peer;
          out.protocol = protocol;
          out.port = static_cast<uint16_t>(port);
          output_.tables.rules.emplace_back(out, pal_rule{0});
        }
        merged.erase(narrowest);
      }
      pal_port_range_key out{};
      out.generation = generation_;
      out.ruleset = ruleset;
      out.peer = peer;
      out.protocol = protocol;
      pal_port_ranges value{};
      value.count = static_cast<uint32_t>(merged.size());
      for (size_t i = 0; i < merged.size(); ++i) {
        value.ranges[i] = pal_port_range{merged[i].first, merged[i].second};
      }
      output_.tables.port_ranges.emplace_back(out, value);
    }
  }

  const ClusterState& state_;
  uint32_t generation_;
  CompiledCluster output_;
  std::map<std::string, Labels, std::less<>> namespace_labels_;
  std::vector<Identity> identities_;
  std::map<std::string, std::vector<size_t>, std::less<>> identities_by_namespace_;
  std::map<std::string, std::vector<size_t>, std::less<>> policies_by_namespace_;
  std::vector<Endpoint> endpoints_;
  std::map<RuleSetKey, uint32_t> ruleset_ids_;
  std::set<uint32_t> per_endpoint_;
  std::map<std::tuple<size_t, Direction, size_t>, uint32_t> rule_ids_;
  std::map<std::string, std::vector<uint32_t>> peer_cache_;
  std::map<std::tuple<uint32_t, uint32_t, uint8_t, uint16_t>, uint32_t> rules_;
  std::map<std::tuple<uint32_t, uint32_t, uint8_t>, std::vector<std::pair<uint16_t, uint16_t>>>
      ranges_;
  uint32_t next_region_ = 0;
};

}  // namespace

CompiledCluster compileCluster(const ClusterState& state, uint32_t generation) {
  return Compiler(state, generation).run();
}

}  // namespace palisade::policy
