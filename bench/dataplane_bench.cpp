// TCP throughput between two lab pods (lab/), measured with iperf3 in one run:
//
//   1. with no enforcer;
//   2. with palisade-enforcer enforcing 10,000 policies;
//   3. with the same policies enforced by iptables + ipset rules in the node,
//      the way iptables-based enforcers (kube-router, Calico's iptables mode)
//      do it;
//
// each as the median of several runs taken in alternation (the machine is
// shared and noisy), with the ratio to (1). Figures, not a test; needs root.
// scripts/bench.sh runs it.
//
// The cluster is tests/support's scale cluster (1,000 namespaces of 10
// policies each, 100 pods each by default). Only two of its pods are built as
// network namespaces: a client (team-0's app-1) and a server (team-0's app-0),
// whose flow on port 8080 (the named port `http`) the policies allow at both
// ends and whose reverse flow they deny. The other pods are on another node:
// they are not in the lab, but they are in every table, as a node's tables
// hold the whole cluster's pods and policies; table size must not slow the
// path.
//
// The iptables translation (planIptables) reads the compiler's tables
// (policy/dataplane_abi.h), so both enforcers enforce exactly the same
// decisions:
//   - per identity, a hash:ip set of its pods' addresses; per rule set, a
//     hash:ip set of the pods it isolates (its members);
//   - per rule set and CIDR region, a hash:net set of the region's prefixes,
//     the prefixes of the rule set's other regions marked `nomatch`: ipset
//     matches a hash:net set by its most specific prefix, and a nomatch prefix
//     fails the match, which is the LPM trie's lookup, excepts included (no
//     simplification); a /0 becomes two /1s, which hash:net can hold;
//   - in the node's filter table, FORWARD jumps to one chain that accepts
//     ESTABLISHED,RELATED first (as real iptables enforcers do), then
//     dispatches by the members sets: the source's egress rule set, the
//     destination's ingress rule set, each a chain with one rule per allowed
//     (peer, protocol, port or range) that RETURNs, and a final DROP;
//   - every rule set of the cluster gets its chain and dispatch rule, not only
//     those of this node's pods (a per-node enforcer would install fewer): the
//     dispatch is a linear list the first packet of a flow walks, so this is
//     the pessimistic case for iptables; later packets stop at conntrack.
// Simplifications: no anti-spoofing (palisade-enforcer checks that a pod sends
// from its own addresses); traffic to and from the node is never filtered
// (FORWARD only), as palisade-enforcer always allows it.
//
// Before any throughput is measured the translation is checked against the
// reference lookup (policy/dataplane_lookup.h, what the BPF code is tested
// against) on sampled flows of a random cluster and of the scale cluster, by
// evaluating the planned sets and chains the way netfilter does; and each
// enforcing case is checked with real packets in the lab (client -> server
// allowed, server -> client dropped, as the oracle says).

#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "lab/cancel.h"
#include "lab/lab.h"
#include "lab/process.h"
#include "policy/compiler.h"
#include "policy/dataplane_lookup.h"
#include "policy/json_codec.h"
#include "policy/matrix.h"
#include "policy/oracle.h"
#include "tests/support/cluster_generator.h"

namespace palisade::bench {
namespace {

namespace fs = std::filesystem;
using policy::Cidr;
using policy::Direction;
using policy::IpAddress;
using policy::IpFamily;

constexpr uint16_t kPort = 8080;
constexpr uint8_t kTcp = 6;
constexpr uint8_t kUdp = 17;
constexpr uint8_t kSctp = 132;
constexpr uint8_t kIcmp = 1;
constexpr std::string_view kOtherNode = "palisade-bench-other-node";

using Address16 = std::array<uint8_t, PAL_ADDR_LEN>;

size_t familyIndex(IpFamily family) { return family == IpFamily::kIPv4 ? 0 : 1; }
constexpr std::array kFamilies = {IpFamily::kIPv4, IpFamily::kIPv6};

bool isPortProtocol(uint8_t protocol) {
  return protocol == kTcp || protocol == kUdp || protocol == kSctp;
}

// Whether the first `bits` bits of two addresses are equal.
bool samePrefix(const Address16& a, const Address16& b, uint32_t bits) {
  for (uint32_t bit = 0; bit < bits; ++bit) {
    const uint8_t mask = static_cast<uint8_t>(0x80 >> (bit % 8));
    if ((a[bit / 8] & mask) != (b[bit / 8] & mask)) {
      return false;
    }
  }
  return true;
}

constexpr Address16 kV4Mapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0};

// The dataplane's 16-byte form back to an address of its family.
IpAddress fromDataplane(const Address16& address) {
  if (samePrefix(address, kV4Mapped, 96)) {
    return IpAddress::v4({address[12], address[13], address[14], address[15]});
  }
  return IpAddress::v6(address);
}

Address16 copyAddress(const __u8 (&bytes)[PAL_ADDR_LEN]) {
  Address16 out{};
  std::copy(std::begin(bytes), std::end(bytes), out.begin());
  return out;
}

// ---------------------------------------------------------------------------
// The translation: compiled tables in, ipsets and iptables chains out.

enum class SetType { kHashIp, kHashNet };

struct SetEntry {
  Cidr cidr;  // /32 or /128 in hash:ip sets
  bool nomatch = false;
};

struct IpSet {
  std::string name;
  SetType type = SetType::kHashIp;
  IpFamily family = IpFamily::kIPv4;
  std::vector<SetEntry> entries;
};

struct PeerMatch {
  enum class Kind { kAny, kSet, kAddress };
  Kind kind = Kind::kAny;
  size_t set = 0;      // kSet: index into IptablesPlan::sets
  IpAddress address;  // kAddress
};

struct PortRange {
  uint16_t first = 0;
  uint16_t last = 0;
};

struct ChainRule {
  PeerMatch peer;  // the source for ingress, the destination for egress
  uint8_t protocol = PAL_PROTOCOL_ANY;
  std::optional<PortRange> ports;  // none: every port (or no ports at all)
};

// One rule set in one family: the chain its members' packets are sent to.
struct RuleSetChain {
  std::string name;
  uint32_t ruleset = 0;
  Direction direction = Direction::kIngress;
  size_t members = 0;  // hash:ip set of the pods it isolates
  std::vector<ChainRule> rules;
};

struct IptablesPlan {
  std::string chain_prefix;  // "PB1A2B3C"; the sets use it in lower case
  std::vector<IpSet> sets;
  std::array<std::vector<RuleSetChain>, 2> chains;  // by familyIndex, in dispatch order

  std::string forwardChain() const { return chain_prefix + "-FWD"; }
};

class PlanBuilder {
 public:
  PlanBuilder(const policy::CompiledCluster& compiled, std::string_view prefix)
      : tables_(compiled.tables) {
    plan_.chain_prefix = std::string(prefix);
    std::ranges::transform(plan_.chain_prefix, plan_.chain_prefix.begin(), ::toupper);
    set_prefix_ = std::string(prefix);
    std::ranges::transform(set_prefix_, set_prefix_.begin(), ::tolower);
  }

  IptablesPlan build() {
    indexEndpoints();
    indexRules();
    indexRegions();
    for (const auto& [id, info] : rulesets_) {
      for (IpFamily family : kFamilies) {
        const std::vector<IpAddress>& members = info.members[familyIndex(family)];
        if (members.empty()) {
          continue;  // nothing in this family can ever be dispatched to it
        }
        const bool ingress = info.direction == Direction::kIngress;
        RuleSetChain chain;
        chain.name = fmt::format("{}-{}{}", plan_.chain_prefix, ingress ? 'I' : 'E', id);
        chain.ruleset = id;
        chain.direction = info.direction;
        chain.members = addressSet(fmt::format("{}{}", ingress ? 'i' : 'e', id), family, members);
        for (const PeerRule& rule : rules_[id]) {
          if (std::optional<PeerMatch> peer = peerMatch(id, info, rule.peer, family)) {
            chain.rules.push_back(
                ChainRule{.peer = *peer, .protocol = rule.protocol, .ports = rule.ports});
          }
        }
        plan_.chains[familyIndex(family)].push_back(std::move(chain));
      }
    }
    return std::move(plan_);
  }

 private:
  struct RuleSetInfo {
    Direction direction = Direction::kIngress;
    bool per_endpoint = false;
    std::array<std::vector<IpAddress>, 2> members;
  };
  struct PeerRule {
    uint32_t peer = 0;
    uint8_t protocol = 0;
    std::optional<PortRange> ports;
  };
  struct RegionPrefix {
    uint32_t length = 0;  // in the dataplane's 128-bit form: decides which of two wins
    uint32_t region = 0;
  };

  void indexEndpoints() {
    for (const auto& [key, endpoint] : tables_.endpoints) {
      const IpAddress address = fromDataplane(copyAddress(key.addr));
      const size_t family = familyIndex(address.family());
      by_identity_[endpoint.identity][family].push_back(address);
      by_endpoint_[endpoint.endpoint_id][family].push_back(address);
      for (const auto& [direction, with_flags] :
           {std::pair{Direction::kIngress, endpoint.ingress_ruleset},
            std::pair{Direction::kEgress, endpoint.egress_ruleset}}) {
        const uint32_t id = with_flags & ~PAL_RULESET_PER_ENDPOINT;
        if (id == 0) {
          continue;
        }
        RuleSetInfo& info = rulesets_[id];
        info.direction = direction;
        info.per_endpoint = info.per_endpoint || (with_flags & PAL_RULESET_PER_ENDPOINT) != 0;
        info.members[family].push_back(address);
      }
    }
  }

  // Only the keys the lookup ever tries (policy/dataplane_lookup.cpp): exact
  // and any ports of TCP, UDP and SCTP, ranges of those, and any protocol with
  // any port.
  void indexRules() {
    for (const auto& [key, value] : tables_.rules) {
      if (key.protocol == PAL_PROTOCOL_ANY && key.port == PAL_PORT_ANY) {
        rules_[key.ruleset].push_back({key.peer, key.protocol, std::nullopt});
      } else if (isPortProtocol(key.protocol)) {
        rules_[key.ruleset].push_back(
            {key.peer, key.protocol,
             key.port == PAL_PORT_ANY ? std::nullopt
                                      : std::optional(PortRange{key.port, key.port})});
      }
    }
    for (const auto& [key, value] : tables_.port_ranges) {
      if (!isPortProtocol(key.protocol)) {
        continue;
      }
      for (uint32_t i = 0; i < value.count && i < PAL_MAX_PORT_RANGES; ++i) {
        rules_[key.ruleset].push_back(
            {key.peer, key.protocol, PortRange{value.ranges[i].first, value.ranges[i].last}});
      }
    }
  }

  // The LPM trie entries of each rule set, per family. A prefix shorter than
  // ::ffff:0:0/96 that contains it covers every IPv4 address: it is IPv4's /0,
  // and a /96 entry, being longer, beats it.
  void indexRegions() {
    for (const auto& [key, value] : tables_.cidrs) {
      const uint32_t length = key.prefixlen - PAL_CIDR_KEY_FIXED_BITS;
      const Address16 address = copyAddress(key.addr);
      auto& families = regions_[key.ruleset];
      const auto put = [&](IpFamily family, const Cidr& cidr) {
        auto& prefixes = families[familyIndex(family)];
        const auto it = prefixes.find(cidr);
        if (it == prefixes.end() || it->second.length < length) {
          prefixes[cidr] = RegionPrefix{length, value.region};
        }
      };
      const bool covers_v4 = samePrefix(address, kV4Mapped, std::min<uint32_t>(length, 96));
      if (covers_v4) {
        put(IpFamily::kIPv4,
            Cidr(IpAddress::v4({address[12], address[13], address[14], address[15]}),
                 length >= 96 ? static_cast<int>(length - 96) : 0));
      }
      if (!covers_v4 || length < 96) {
        put(IpFamily::kIPv6, Cidr(IpAddress::v6(address), static_cast<int>(length)));
      }
    }
  }

  std::optional<PeerMatch> peerMatch(uint32_t ruleset, const RuleSetInfo& info, uint32_t peer,
                                     IpFamily family) {
    if (peer == PAL_PEER_ANY) {
      return PeerMatch{};
    }
    if ((peer & PAL_PEER_REGION_BIT) != 0) {
      const std::optional<size_t> set = regionSet(ruleset, peer, family);
      return set ? std::optional(PeerMatch{.kind = PeerMatch::Kind::kSet, .set = *set,
                                           .address = {}})
                 : std::nullopt;
    }
    if ((peer & PAL_PEER_ENDPOINT_BIT) != 0) {
      // Endpoint peers are only tried for rule sets flagged per endpoint.
      const auto it = by_endpoint_.find(peer);
      if (!info.per_endpoint || it == by_endpoint_.end() ||
          it->second[familyIndex(family)].empty()) {
        return std::nullopt;
      }
      return PeerMatch{.kind = PeerMatch::Kind::kAddress, .set = 0,
                       .address = it->second[familyIndex(family)].front()};
    }
    const auto it = by_identity_.find(peer);
    if (it == by_identity_.end() || it->second[familyIndex(family)].empty()) {
      return std::nullopt;
    }
    return PeerMatch{
        .kind = PeerMatch::Kind::kSet,
        .set = addressSet(fmt::format("p{}", peer), family, it->second[familyIndex(family)]),
        .address = {}};
  }

  size_t addressSet(const std::string& what, IpFamily family,
                    const std::vector<IpAddress>& addresses) {
    const std::string name = setName(what, family);
    if (const auto it = set_index_.find(name); it != set_index_.end()) {
      return it->second;
    }
    IpSet set{.name = name, .type = SetType::kHashIp, .family = family, .entries = {}};
    std::set<IpAddress> unique(addresses.begin(), addresses.end());
    for (const IpAddress& address : unique) {
      set.entries.push_back({Cidr(address, address.bitLength()), false});
    }
    return addSet(std::move(set));
  }

  std::optional<size_t> regionSet(uint32_t ruleset, uint32_t region, IpFamily family) {
    const std::string name =
        setName(fmt::format("r{}x{}", ruleset, region & ~PAL_PEER_REGION_BIT), family);
    if (const auto it = set_index_.find(name); it != set_index_.end()) {
      return it->second;
    }
    const auto families = regions_.find(ruleset);
    if (families == regions_.end()) {
      return std::nullopt;
    }
    const auto& prefixes = families->second[familyIndex(family)];
    if (std::ranges::none_of(prefixes,
                             [&](const auto& prefix) { return prefix.second.region == region; })) {
      return std::nullopt;
    }
    IpSet set{.name = name, .type = SetType::kHashNet, .family = family, .entries = {}};
    for (const auto& [cidr, prefix] : prefixes) {
      const bool nomatch = prefix.region != region;
      if (cidr.prefixLength() > 0) {
        set.entries.push_back({cidr, nomatch});
        continue;
      }
      // hash:net holds prefixes of length 1 and more: a /0 is its two halves,
      // except where the rule set has a /1 of its own, which wins anyway.
      std::array<uint8_t, 16> upper_bytes{};
      upper_bytes[0] = 0x80;
      const IpAddress lower = cidr.address();
      const IpAddress upper = family == IpFamily::kIPv4
                                  ? IpAddress::v4({0x80, 0, 0, 0})
                                  : IpAddress::v6(upper_bytes);
      for (const IpAddress& half : {lower, upper}) {
        const Cidr half_cidr(half, 1);
        if (!prefixes.contains(half_cidr)) {
          set.entries.push_back({half_cidr, nomatch});
        }
      }
    }
    return addSet(std::move(set));
  }

  std::string setName(const std::string& what, IpFamily family) const {
    return fmt::format("{}{}{}", set_prefix_, family == IpFamily::kIPv4 ? '4' : '6', what);
  }

  size_t addSet(IpSet set) {
    set_index_.emplace(set.name, plan_.sets.size());
    plan_.sets.push_back(std::move(set));
    return plan_.sets.size() - 1;
  }

  const policy::DataplaneTables& tables_;
  IptablesPlan plan_;
  std::string set_prefix_;
  std::map<uint32_t, std::array<std::vector<IpAddress>, 2>> by_identity_;
  std::map<uint32_t, std::array<std::vector<IpAddress>, 2>> by_endpoint_;
  std::map<uint32_t, RuleSetInfo> rulesets_;
  std::map<uint32_t, std::vector<PeerRule>> rules_;
  std::map<uint32_t, std::array<std::map<Cidr, RegionPrefix>, 2>> regions_;
  std::map<std::string, size_t> set_index_;
};

// Pure: the sets and chains that enforce `compiled` in a node's FORWARD path.
// `prefix` (letters and digits, at most 10) names them, so that several plans
// never meet.
IptablesPlan planIptables(const policy::CompiledCluster& compiled, std::string_view prefix) {
  return PlanBuilder(compiled, prefix).build();
}

// --- rendering ---------------------------------------------------------------

std::string protocolName(uint8_t protocol) {
  switch (protocol) {
    case kTcp:
      return "tcp";
    case kUdp:
      return "udp";
    case kSctp:
      return "sctp";
    default:
      return std::to_string(protocol);
  }
}

// `ipset restore` input creating every set of the plan.
std::string ipsetRestoreScript(const IptablesPlan& plan) {
  std::string out;
  for (const IpSet& set : plan.sets) {
    size_t hashsize = 64;
    while (hashsize < set.entries.size() && hashsize < (size_t{1} << 20)) {
      hashsize *= 2;
    }
    out += fmt::format("create {} {} family {} hashsize {} maxelem {}\n", set.name,
                       set.type == SetType::kHashIp ? "hash:ip" : "hash:net",
                       set.family == IpFamily::kIPv4 ? "inet" : "inet6", hashsize,
                       std::max<size_t>(65536, set.entries.size()));
    for (const SetEntry& entry : set.entries) {
      out += fmt::format("add {} {}{}\n", set.name,
                         set.type == SetType::kHashIp ? entry.cidr.address().toString()
                                                      : entry.cidr.toString(),
                         entry.nomatch ? " nomatch" : "");
    }
  }
  return out;
}

// `ipset restore` input destroying them (after the rules using them are gone).
std::string ipsetDestroyScript(const IptablesPlan& plan) {
  std::string out;
  for (const IpSet& set : plan.sets) {
    out += fmt::format("destroy {}\n", set.name);
  }
  return out;
}

std::string ruleText(const IptablesPlan& plan, const RuleSetChain& chain, const ChainRule& rule) {
  const bool peer_is_source = chain.direction == Direction::kIngress;
  std::string text = "-A " + chain.name;
  if (rule.protocol != PAL_PROTOCOL_ANY) {
    const std::string name = protocolName(rule.protocol);
    text += " -p " + name;
    if (rule.ports) {
      text += fmt::format(" -m {} --dport {}", name, rule.ports->first);
      if (rule.ports->last != rule.ports->first) {
        text += fmt::format(":{}", rule.ports->last);
      }
    }
  }
  switch (rule.peer.kind) {
    case PeerMatch::Kind::kAny:
      break;
    case PeerMatch::Kind::kSet:
      text += fmt::format(" -m set --match-set {} {}", plan.sets[rule.peer.set].name,
                          peer_is_source ? "src" : "dst");
      break;
    case PeerMatch::Kind::kAddress:
      text += fmt::format(" {} {}/{}", peer_is_source ? "-s" : "-d",
                          rule.peer.address.toString(), rule.peer.address.bitLength());
      break;
  }
  return text + " -j RETURN\n";
}

// iptables-restore --noflush input (ip6tables-restore for IPv6) installing the
// plan's chains in `family`; empty when the family has none.
std::string iptablesInstallScript(const IptablesPlan& plan, IpFamily family) {
  const auto& chains = plan.chains[familyIndex(family)];
  if (chains.empty()) {
    return "";
  }
  const std::string forward = plan.forwardChain();
  std::string out = "*filter\n:" + forward + " - [0:0]\n";
  for (const RuleSetChain& chain : chains) {
    out += ":" + chain.name + " - [0:0]\n";
  }
  out += "-A " + forward + " -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT\n";
  for (const RuleSetChain& chain : chains) {
    out += fmt::format("-A {} -m set --match-set {} {} -j {}\n", forward,
                       plan.sets[chain.members].name,
                       chain.direction == Direction::kEgress ? "src" : "dst", chain.name);
  }
  for (const RuleSetChain& chain : chains) {
    for (const ChainRule& rule : chain.rules) {
      out += ruleText(plan, chain, rule);
    }
    out += "-A " + chain.name + " -j DROP\n";
  }
  out += "COMMIT\n";
  return out;
}

// The input removing them again: flush every chain (declaring a chain with
// --noflush empties it), delete. FORWARD's jump must be gone (unhook).
std::string iptablesRemovalScript(const IptablesPlan& plan, IpFamily family) {
  const auto& chains = plan.chains[familyIndex(family)];
  if (chains.empty()) {
    return "";
  }
  const std::string forward = plan.forwardChain();
  std::string out = "*filter\n:" + forward + " - [0:0]\n";
  for (const RuleSetChain& chain : chains) {
    out += ":" + chain.name + " - [0:0]\n";
  }
  for (const RuleSetChain& chain : chains) {
    out += "-X " + chain.name + "\n";
  }
  out += "-X " + forward + "\nCOMMIT\n";
  return out;
}

struct PlanSize {
  size_t sets = 0;
  size_t set_entries = 0;
  size_t chains = 0;
  size_t rules = 0;  // every rule in the family's chains and FORWARD's jump
};

PlanSize planSize(const IptablesPlan& plan, IpFamily family) {
  PlanSize size;
  for (const IpSet& set : plan.sets) {
    if (set.family == family) {
      ++size.sets;
      size.set_entries += set.entries.size();
    }
  }
  const auto& chains = plan.chains[familyIndex(family)];
  if (chains.empty()) {
    return size;
  }
  size.chains = chains.size() + 1;
  size.rules = 2;  // FORWARD's jump and the conntrack accept
  for (const RuleSetChain& chain : chains) {
    size.rules += chain.rules.size() + 2;  // its dispatch and its DROP
  }
  return size;
}

// --- checking the translation --------------------------------------------------

// The plan evaluated the way netfilter walks it for the first packet of a
// flow crossing FORWARD: the source's egress chains and the destination's
// ingress chains must all RETURN.
class PlanEvaluator {
 public:
  explicit PlanEvaluator(const IptablesPlan& plan) : plan_(plan), addresses_(plan.sets.size()) {
    for (size_t i = 0; i < plan.sets.size(); ++i) {
      if (plan.sets[i].type == SetType::kHashIp) {
        for (const SetEntry& entry : plan.sets[i].entries) {
          addresses_[i].insert(entry.cidr.address());
        }
      }
    }
    for (const auto& chains : plan.chains) {
      for (const RuleSetChain& chain : chains) {
        auto& dispatch = chain.direction == Direction::kEgress ? by_source_ : by_destination_;
        for (const IpAddress& member : addresses_[chain.members]) {
          dispatch[member].push_back(&chain);
        }
      }
    }
  }

  bool forwards(const IpAddress& source, const IpAddress& destination, uint8_t protocol,
                uint16_t port) const {
    for (const auto& [dispatch, address, peer] :
         {std::tuple{&by_source_, source, destination},
          std::tuple{&by_destination_, destination, source}}) {
      const auto it = dispatch->find(address);
      if (it == dispatch->end()) {
        continue;
      }
      for (const RuleSetChain* chain : it->second) {
        if (std::ranges::none_of(chain->rules, [&](const ChainRule& rule) {
              return matches(rule, peer, protocol, port);
            })) {
          return false;  // the chain's DROP
        }
      }
    }
    return true;
  }

 private:
  bool matches(const ChainRule& rule, const IpAddress& peer, uint8_t protocol,
               uint16_t port) const {
    if (rule.protocol != PAL_PROTOCOL_ANY &&
        (rule.protocol != protocol ||
         (rule.ports && (port < rule.ports->first || port > rule.ports->last)))) {
      return false;
    }
    switch (rule.peer.kind) {
      case PeerMatch::Kind::kAny:
        return true;
      case PeerMatch::Kind::kAddress:
        return rule.peer.address == peer;
      case PeerMatch::Kind::kSet:
        return inSet(rule.peer.set, peer);
    }
    return false;
  }

  // hash:ip: the address; hash:net: the most specific prefix that contains
  // it, unless that one is nomatch.
  bool inSet(size_t index, const IpAddress& address) const {
    const IpSet& set = plan_.sets[index];
    if (set.family != address.family()) {
      return false;
    }
    if (set.type == SetType::kHashIp) {
      return addresses_[index].contains(address);
    }
    const SetEntry* best = nullptr;
    for (const SetEntry& entry : set.entries) {
      if (entry.cidr.contains(address) &&
          (best == nullptr || entry.cidr.prefixLength() > best->cidr.prefixLength())) {
        best = &entry;
      }
    }
    return best != nullptr && !best->nomatch;
  }

  const IptablesPlan& plan_;
  std::vector<std::set<IpAddress>> addresses_;
  std::map<IpAddress, std::vector<const RuleSetChain*>> by_source_;
  std::map<IpAddress, std::vector<const RuleSetChain*>> by_destination_;
};

// What palisade-enforcer decides for the first packet of a flow on a node
// that hosts every pod: the destination pod's check where it arrives, or the
// source pod's where it leaves for an address outside the pod network.
bool referenceAllows(const policy::DataplaneView& view, const IpAddress& source,
                     const IpAddress& destination, uint8_t protocol, uint16_t port) {
  const policy::NodeContext node;
  if (view.endpoint(destination) != nullptr) {
    return policy::decideReachingPod(view, node, source, destination, protocol, port).allowed;
  }
  if (view.endpoint(source) != nullptr) {
    return policy::decideLeavingPod(view, node, source, destination, protocol, port).allowed;
  }
  return true;
}

struct TranslationCheck {
  size_t flows = 0;
  size_t allowed = 0;
  std::vector<std::string> disagreements;  // the first few
};

// Flows drawn with a bias towards the ones policies are written for: within a
// namespace, to the cluster's first pods (the shared services of the scale
// cluster), and to and from the addresses of the generators' ipBlocks.
TranslationCheck checkTranslation(const policy::ClusterState& state, size_t flows,
                                  uint32_t seed) {
  const policy::CompiledCluster compiled = policy::compileCluster(state, 1);
  const IptablesPlan plan = planIptables(compiled, "chk");
  const PlanEvaluator evaluator(plan);
  const policy::DataplaneView view(compiled.tables);

  std::array<std::vector<IpAddress>, 2> pods;
  std::array<std::map<std::string, std::vector<IpAddress>>, 2> by_namespace;
  for (const policy::Pod& pod : state.pods) {
    std::vector<std::string> texts = pod.pod_ips;
    if (texts.empty() && !pod.pod_ip.empty()) {
      texts.push_back(pod.pod_ip);
    }
    for (const std::string& text : texts) {
      if (const std::optional<IpAddress> address = IpAddress::parse(text)) {
        pods[familyIndex(address->family())].push_back(*address);
        by_namespace[familyIndex(address->family())][pod.metadata.namespace_name].push_back(
            *address);
      }
    }
  }
  std::array<std::vector<IpAddress>, 2> outside;
  for (const char* text : {"203.0.113.1", "203.0.113.9", "203.0.113.77", "198.51.100.7",
                           "10.0.3.9", "10.1.200.4", "192.0.2.1"}) {
    outside[0].push_back(*IpAddress::parse(text));
  }
  for (const char* text : {"fd00:10::a00:5", "fd00:10::1:0:1", "2001:db8::1", "fd00:11::7"}) {
    outside[1].push_back(*IpAddress::parse(text));
  }

  std::mt19937 random(seed);
  const auto below = [&](size_t n) {
    return std::uniform_int_distribution<size_t>(0, n - 1)(random);
  };
  constexpr std::array<uint8_t, 4> kProtocols = {kTcp, kUdp, kSctp, kIcmp};
  constexpr std::array<uint16_t, 9> kPorts = {53, 80, 443, 5432, 8050, 8080, 8100, 9090, 12345};

  TranslationCheck check;
  for (size_t n = 0; n < flows; ++n) {
    const size_t family = pods[1].empty() || below(4) != 0 ? 0 : 1;
    const std::vector<IpAddress>& candidates = pods[family];
    if (candidates.empty()) {
      break;
    }
    const auto anyPod = [&] {
      return below(5) == 0 ? candidates[below(std::min<size_t>(candidates.size(), 8))]
                           : candidates[below(candidates.size())];
    };
    IpAddress source = anyPod();
    IpAddress destination;
    switch (below(5)) {
      case 0:
      case 1: {
        const std::vector<IpAddress>* neighbours = nullptr;
        for (const auto& [name, addresses] : by_namespace[family]) {
          if (std::ranges::find(addresses, source) != addresses.end()) {
            neighbours = &addresses;
            break;
          }
        }
        destination = (*neighbours)[below(neighbours->size())];
        break;
      }
      case 2:
        destination = anyPod();
        break;
      case 3:
        destination = outside[family][below(outside[family].size())];
        break;
      default:
        destination = source;
        source = outside[family][below(outside[family].size())];
    }
    if (source == destination) {
      continue;  // a pod's traffic to itself never reaches the node
    }
    const uint8_t protocol = kProtocols[below(kProtocols.size())];
    const uint16_t port = isPortProtocol(protocol) ? kPorts[below(kPorts.size())] : 0;
    const bool expected = referenceAllows(view, source, destination, protocol, port);
    const bool got = evaluator.forwards(source, destination, protocol, port);
    ++check.flows;
    check.allowed += expected ? 1 : 0;
    if (expected != got && check.disagreements.size() < 5) {
      check.disagreements.push_back(fmt::format(
          "{} -> {} {}/{}: the reference lookup {}, the iptables plan {}", source.toString(),
          destination.toString(), protocolName(protocol), port, expected ? "allows" : "denies",
          got ? "allows" : "denies"));
    }
  }
  return check;
}

// generateCluster's random policies (ipBlocks with excepts, port ranges, named
// ports, SCTP), dual-stack, with ipBlocks of /0 and IPv6 added.
policy::ClusterState dualStackRandomCluster() {
  policy::ClusterState state = testing::generateCluster(
      testing::ClusterShape{.namespaces = 8, .pods_per_namespace = 12,
                            .policies_per_namespace = 6, .seed = 7});
  for (policy::Pod& pod : state.pods) {
    const IpAddress v4 = *IpAddress::parse(pod.pod_ip);
    std::array<uint8_t, 16> v6{0xfd, 0x00, 0x00, 0x10};
    std::copy_n(v4.bytes().begin(), 4, v6.begin() + 12);
    pod.pod_ips = {pod.pod_ip, IpAddress::v6(v6).toString()};
  }
  policy::NetworkPolicy wide;
  wide.metadata.namespace_name = state.namespaces.front().metadata.name;
  wide.metadata.name = "wide-blocks";
  const auto block = [](std::string cidr, std::vector<std::string> except) {
    return policy::NetworkPolicyPeer{
        .pod_selector = std::nullopt, .namespace_selector = std::nullopt,
        .ip_block = policy::IPBlock{.cidr = std::move(cidr), .except = std::move(except)}};
  };
  wide.spec.ingress.push_back(policy::NetworkPolicyRule{
      .ports = {{.protocol = "TCP", .port = int32_t{8080}, .end_port = std::nullopt}},
      .peers = {block("0.0.0.0/0", {"10.0.0.0/8"}), block("fd00:10::/96", {"fd00:10::a00:0/120"})}});
  wide.spec.egress.push_back(policy::NetworkPolicyRule{
      .ports = {{.protocol = "UDP", .port = int32_t{53}, .end_port = std::nullopt}},
      .peers = {block("::/0", {"fd00:10::/64"}), block("128.0.0.0/1", {})}});
  wide.spec.policy_types = {"Ingress", "Egress"};
  state.policies.push_back(std::move(wide));
  return state;
}

bool reportCheck(std::string_view what, const TranslationCheck& check) {
  std::printf("  %-44s %zu flows (%zu allowed, %zu denied): %s\n", std::string(what).c_str(),
              check.flows, check.allowed, check.flows - check.allowed,
              check.disagreements.empty() ? "the iptables plan agrees" : "DISAGREES");
  for (const std::string& line : check.disagreements) {
    std::printf("    %s\n", line.c_str());
  }
  return check.disagreements.empty() && check.allowed > 0 && check.allowed < check.flows;
}

// ---------------------------------------------------------------------------
// The lab.

std::atomic<lab::CancelToken*> g_cancel{nullptr};

extern "C" void onStopSignal(int) {
  if (lab::CancelToken* cancel = g_cancel.load()) {
    cancel->raise();
  }
}

std::string grouped(size_t n) {
  std::string digits = std::to_string(n);
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) {
    digits.insert(static_cast<size_t>(i), ",");
  }
  return digits;
}

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double median(std::vector<double> values) {
  std::ranges::sort(values);
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

policy::Result<void> inNode(const lab::Lab& lab, std::vector<std::string> argv,
                            std::string_view input = {}) {
  argv.insert(argv.begin(), {"ip", "netns", "exec", lab.topology().node_netns});
  policy::Result<lab::ProcessOutput> done = lab::runProcess(argv, input);
  if (!done) {
    return std::unexpected(done.error());
  }
  return {};
}

struct BenchPods {
  policy::PodRef client;
  policy::PodRef server;
};

// Probes both directions on the port with real packets and compares them with
// what is expected: every flow allowed without an enforcer, the oracle's
// matrix with one.
policy::Result<void> verify(lab::Lab& lab, const BenchPods& pods, bool enforcing) {
  const policy::MatrixQuery query{.protocols = {policy::Protocol::kTCP}, .ports = {kPort}};
  policy::Result<lab::Measurement> measured = lab.measure(query);
  if (!measured) {
    return std::unexpected(measured.error());
  }
  std::vector<policy::MatrixEntry> expected;
  if (enforcing) {
    expected = policy::reachabilityMatrix(policy::ReachabilityOracle(lab.cluster()), query);
  } else {
    expected = measured->entries;
    for (policy::MatrixEntry& entry : expected) {
      entry.allowed = true;
    }
  }
  std::string differences;
  std::string summary;
  for (size_t i = 0; i < expected.size() && i < measured->entries.size(); ++i) {
    const policy::MatrixEntry& entry = measured->entries[i];
    if (entry.allowed != expected[i].allowed) {
      differences += fmt::format("\n  {} -> {}: measured {}, expected {}",
                                 policy::toString(entry.from), policy::toString(entry.to),
                                 entry.allowed ? "allowed" : "denied",
                                 expected[i].allowed ? "allowed" : "denied");
    }
    if (entry.from != entry.to) {
      summary += fmt::format("{}{} -> {} {}", summary.empty() ? "" : "; ",
                             entry.from == pods.client ? "client" : "server",
                             entry.to == pods.client ? "client" : "server",
                             entry.allowed ? "connects" : "is dropped");
    }
  }
  for (const std::string& anomaly : measured->anomalies) {
    differences += "\n  " + anomaly;
  }
  if (measured->entries.size() != expected.size()) {
    differences += "\n  the lab measured a different set of flows";
  }
  if (!differences.empty()) {
    return policy::fail("real packets disagree with the policies:" + differences);
  }
  std::printf("  checked with real packets on TCP %u: %s\n", kPort, summary.c_str());
  return {};
}

// One iperf3 run of `seconds` between the two pods: the receiver's bits per
// second.
policy::Result<double> throughput(const lab::Lab& lab, const lab::LabPod& client,
                                  const lab::LabPod& server, int seconds,
                                  const lab::CancelToken& cancel) {
  const fs::path log = lab.runDir() / "iperf3-server.log";
  const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    return policy::fail("cannot open " + log.string());
  }
  policy::Result<lab::ChildProcess> iperf_server = lab::ChildProcess::spawn(
      {"ip", "netns", "exec", server.netns, "iperf3", "-s", "-p", std::to_string(kPort)}, fd);
  ::close(fd);
  if (!iperf_server) {
    return std::unexpected(iperf_server.error());
  }
  bool listening = false;
  for (int attempt = 0; attempt < 100 && !listening && !cancel.raised(); ++attempt) {
    policy::Result<lab::ProcessOutput> sockets = lab::runProcess(
        {"ip", "netns", "exec", server.netns, "ss", "-Htln", fmt::format("sport = :{}", kPort)});
    listening = sockets && !sockets->out.empty();
    if (!listening) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  if (!listening) {
    return policy::fail(fmt::format("iperf3 -s did not listen on port {} (log: {})", kPort,
                                    log.string()));
  }
  const std::string server_ip = server.ips.front().toString();
  if (cancel.raised()) {
    return policy::fail("interrupted");
  }
  std::vector<std::string> command = {"ip", "netns", "exec", client.netns, "iperf3", "-c",
                                      server_ip, "-p", std::to_string(kPort), "-t",
                                      std::to_string(seconds), "-J", "--connect-timeout", "3000"};
  if (std::thread::hardware_concurrency() >= 2) {
    // Client on the first core, server on the second: unpinned, the
    // scheduler moved them around and runs of the same case varied by a
    // quarter, more than the enforcer costs.
    command.insert(command.end(), {"-A", "0,1"});
  }
  policy::Result<lab::ProcessOutput> done = lab::runProcess(command);
  if (!done) {
    return std::unexpected(done.error());
  }
  const nlohmann::json report = nlohmann::json::parse(done->out, nullptr, false);
  const nlohmann::json::json_pointer received("/end/sum_received/bits_per_second");
  if (report.is_discarded() || !report.contains(received) || !report[received].is_number()) {
    return policy::fail("iperf3 -J printed no end.sum_received.bits_per_second:\n" +
                        done->out.substr(0, 2000));
  }
  const double bits_per_second = report[received].get<double>();
  std::printf("    %.2f Gbit/s\n", bits_per_second / 1e9);
  std::fflush(stdout);
  return bits_per_second;
}

// The whole cluster for palisade-enforcer: the lab's two pods as the lab built
// them, every other pod on another node (in the tables, not attached).
policy::Result<void> writeEnforcerManifests(const fs::path& folder,
                                            const policy::ClusterState& lab_cluster,
                                            const policy::ClusterState& full,
                                            const BenchPods& pods) {
  std::error_code error;
  fs::create_directories(folder, error);
  if (error) {
    return policy::fail(fmt::format("cannot create {}: {}", folder.string(), error.message()));
  }
  nlohmann::json namespaces = nlohmann::json::array();
  for (const policy::Namespace& ns : full.namespaces) {
    namespaces.push_back(policy::encodeNamespace(ns));
  }
  nlohmann::json pod_items = nlohmann::json::array();
  for (const policy::Pod& pod : lab_cluster.pods) {
    pod_items.push_back(policy::encodePod(pod));
  }
  for (const policy::Pod& pod : full.pods) {
    const policy::PodRef ref{pod.metadata.namespace_name, pod.metadata.name};
    if (ref == pods.client || ref == pods.server) {
      continue;
    }
    policy::Pod elsewhere = pod;
    elsewhere.node_name = std::string(kOtherNode);
    pod_items.push_back(policy::encodePod(elsewhere));
  }
  nlohmann::json policies = nlohmann::json::array();
  for (const policy::NetworkPolicy& policy : full.policies) {
    policies.push_back(policy::encodeNetworkPolicy(policy));
  }
  for (auto& [name, items] : {std::pair{"namespaces.json", std::move(namespaces)},
                              {"pods.json", std::move(pod_items)},
                              {"networkpolicies.json", std::move(policies)}}) {
    std::ofstream out(folder / name, std::ios::binary | std::ios::trunc);
    out << nlohmann::json{{"apiVersion", "v1"}, {"kind", "List"}, {"items", items}}.dump();
    if (!out.flush()) {
      return policy::fail("cannot write " + (folder / name).string());
    }
  }
  return {};
}

// Installs the plan in the node and removes it on destruction (rules first:
// a set in use cannot be destroyed).
class InstalledPlan {
 public:
  InstalledPlan(const lab::Lab& lab, const IptablesPlan& plan) : lab_(lab), plan_(plan) {}
  ~InstalledPlan() {
    for (const std::string& problem : remove()) {
      std::fprintf(stderr, "dataplane_bench: %s\n", problem.c_str());
    }
  }
  InstalledPlan(const InstalledPlan&) = delete;
  InstalledPlan& operator=(const InstalledPlan&) = delete;

  policy::Result<void> installSets() {
    sets_ = true;
    return inNode(lab_, {"ipset", "restore"}, ipsetRestoreScript(plan_));
  }
  policy::Result<void> installRules() {
    for (IpFamily family : kFamilies) {
      const std::string script = iptablesInstallScript(plan_, family);
      if (script.empty()) {
        continue;
      }
      rules_[familyIndex(family)] = true;
      if (policy::Result<void> done = inNode(lab_, {restoreProgram(family), "-w", "5", "--noflush"},
                                             script);
          !done) {
        return done;
      }
    }
    return {};
  }

  // FORWARD's jump into the plan's chains, on and off: the sets and chains
  // stay loaded (31 s to load at 10,000 policies) while the cases alternate.
  policy::Result<void> hook() { return setHooked(true); }
  policy::Result<void> unhook() { return setHooked(false); }

  std::vector<std::string> remove() {
    std::vector<std::string> problems;
    if (policy::Result<void> done = unhook(); !done) {
      problems.push_back(done.error().message);
    }
    for (IpFamily family : kFamilies) {
      if (rules_[familyIndex(family)]) {
        rules_[familyIndex(family)] = false;
        if (policy::Result<void> done =
                inNode(lab_, {restoreProgram(family), "-w", "5", "--noflush"},
                       iptablesRemovalScript(plan_, family));
            !done) {
          problems.push_back(done.error().message);
        }
      }
    }
    if (sets_) {
      sets_ = false;
      if (policy::Result<void> done = inNode(lab_, {"ipset", "restore"}, ipsetDestroyScript(plan_));
          !done) {
        problems.push_back(done.error().message);
      }
    }
    return problems;
  }

 private:
  policy::Result<void> setHooked(bool on) {
    for (IpFamily family : kFamilies) {
      if (!rules_[familyIndex(family)] || hooked_[familyIndex(family)] == on) {
        continue;
      }
      const std::string program = family == IpFamily::kIPv4 ? "iptables" : "ip6tables";
      if (policy::Result<void> done = inNode(lab_, {program, "-w", "5", on ? "-I" : "-D",
                                                    "FORWARD", "-j", plan_.forwardChain()},
                                             "");
          !done) {
        return done;
      }
      hooked_[familyIndex(family)] = on;
    }
    return {};
  }

  static std::string restoreProgram(IpFamily family) {
    return family == IpFamily::kIPv4 ? "iptables-restore" : "ip6tables-restore";
  }

  const lab::Lab& lab_;
  const IptablesPlan& plan_;
  bool sets_ = false;
  std::array<bool, 2> rules_{};
  std::array<bool, 2> hooked_{};
};

// ipset sets are per network namespace since Linux 3.13: the ones made in the
// node must not show in ours.
policy::Result<bool> setsStayInTheNode(const IptablesPlan& plan) {
  policy::Result<lab::ProcessOutput> listed = lab::runProcess({"ipset", "list", "-name"});
  if (!listed) {
    return std::unexpected(listed.error());
  }
  for (const IpSet& set : plan.sets) {
    if (listed->out.find(set.name + "\n") != std::string::npos) {
      return false;
    }
  }
  return true;
}

// run_cnt and run_time_ns summed over the loaded programs named `name`
// (kernel.bpf_stats_enabled must be on while they run).
struct ProgramStats {
  uint64_t runs = 0;
  uint64_t nanoseconds = 0;
};

ProgramStats programStats(std::string_view name) {
  ProgramStats stats;
  policy::Result<lab::ProcessOutput> shown = lab::runProcess({"bpftool", "prog", "show", "-j"});
  if (!shown) {
    return stats;
  }
  const nlohmann::json programs = nlohmann::json::parse(shown->out, nullptr, false);
  if (!programs.is_array()) {
    return stats;
  }
  for (const nlohmann::json& program : programs) {
    if (program.value("name", "") == name) {
      stats.runs += program.value("run_cnt", uint64_t{0});
      stats.nanoseconds += program.value("run_time_ns", uint64_t{0});
    }
  }
  return stats;
}

bool setBpfStats(bool on) {
  std::ofstream sysctl("/proc/sys/kernel/bpf_stats_enabled");
  sysctl << (on ? "1" : "0");
  return static_cast<bool>(sysctl);
}

struct Options {
  int runs = 3;
  int seconds = 5;
  int pods_per_namespace = 100;
  std::string enforcer = PALISADE_ENFORCER;
  bool check_only = false;
};

struct CaseResult {
  std::string name;
  std::vector<double> bits_per_second;
  std::string note;
};

int runBench(const Options& options) {
  std::printf("Checking the iptables translation against the reference lookup "
              "(policy/dataplane_lookup.h):\n");
  const testing::ScaleShape shape{.namespaces = 1000,
                                  .pods_per_namespace = options.pods_per_namespace,
                                  .policies_per_namespace = 10,
                                  .replicas_per_app = 10};
  const policy::ClusterState full = testing::generateScaleCluster(shape);
  bool agrees = reportCheck("random dual-stack cluster (generateCluster)",
                            checkTranslation(dualStackRandomCluster(), 20000, 1));
  agrees = reportCheck(fmt::format("scale cluster ({} pods)", grouped(full.pods.size())),
                       checkTranslation(full, 20000, 2)) &&
           agrees;
  if (!agrees) {
    std::fprintf(stderr, "dataplane_bench: the iptables translation is wrong\n");
    return 1;
  }
  if (options.check_only) {
    return 0;
  }
  if (::geteuid() != 0) {
    std::fprintf(stderr, "dataplane_bench: needs root (network namespaces, iptables, BPF)\n");
    return 1;
  }

  // team-0's app-1 (client) and app-0 (server), second replicas: the first
  // has a .0 address.
  BenchPods pods{{"team-0", "app-1-1"}, {"team-0", "app-0-1"}};
  policy::ClusterState lab_cluster{.namespaces = full.namespaces, .pods = {},
                                   .policies = full.policies};
  for (const policy::Pod& pod : full.pods) {
    const policy::PodRef ref{pod.metadata.namespace_name, pod.metadata.name};
    if (ref == pods.client || ref == pods.server) {
      lab_cluster.pods.push_back(pod);
    }
  }
  if (lab_cluster.pods.size() != 2) {
    std::fprintf(stderr, "dataplane_bench: the scale cluster has no %s and %s (replicas >= 2)\n",
                 policy::toString(pods.client).c_str(), policy::toString(pods.server).c_str());
    return 1;
  }
  {
    const policy::ReachabilityOracle oracle(lab_cluster);
    const policy::Result<policy::Verdict> forward = oracle.evaluate(
        {.source = pods.client, .destination = pods.server, .protocol = policy::Protocol::kTCP,
         .port = kPort, .family = std::nullopt});
    const policy::Result<policy::Verdict> backward = oracle.evaluate(
        {.source = pods.server, .destination = pods.client, .protocol = policy::Protocol::kTCP,
         .port = kPort, .family = std::nullopt});
    if (!forward || !backward || !forward->allowed || backward->allowed ||
        forward->ingress.outcome != policy::SideVerdict::Outcome::kAllowed ||
        forward->egress.outcome != policy::SideVerdict::Outcome::kAllowed) {
      std::fprintf(stderr,
                   "dataplane_bench: the policies must allow client -> server on %u at both "
                   "ends and deny the reverse; they do not\n",
                   kPort);
      return 1;
    }
  }

  const auto compile_start = std::chrono::steady_clock::now();
  const policy::CompiledCluster compiled = policy::compileCluster(full, 1);
  const double compile_seconds = secondsSince(compile_start);

  lab::CancelToken cancel;
  g_cancel.store(&cancel);
  struct sigaction action {};
  action.sa_handler = onStopSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESETHAND;
  for (int signal : {SIGINT, SIGTERM, SIGHUP}) {
    sigaction(signal, &action, nullptr);
  }
  const auto failed = [&](std::string_view step, const policy::Error& error) {
    std::fprintf(stderr, "dataplane_bench: %s: %s\n", std::string(step).c_str(),
                 cancel.raised() ? "interrupted; tearing down" : error.message.c_str());
    return 1;
  };

  lab::LabOptions lab_options;
  lab_options.cancel = &cancel;
  policy::Result<lab::Lab> built = lab::Lab::create(lab_cluster, std::move(lab_options));
  if (!built) {
    return failed("building the lab", built.error());
  }
  lab::Lab& lab = *built;
  const lab::LabPod* client = lab.topology().find(pods.client);
  const lab::LabPod* server = lab.topology().find(pods.server);
  std::printf("\nLab %s: client %s (%s) -> server %s (%s), iperf3 TCP on port %u, %d rounds "
              "of %d s per case\n",
              lab.topology().run_id.c_str(), policy::toString(pods.client).c_str(),
              client->ips.front().toString().c_str(), policy::toString(pods.server).c_str(),
              server->ips.front().toString().c_str(), kPort, options.runs, options.seconds);
  std::fflush(stdout);

  // The enforcing state of each case: both enforcers are loaded once (the
  // iptables sets and chains take half a minute at 10,000 policies), then
  // switched on and off: FORWARD's jump for iptables, start and --uninstall
  // for palisade-enforcer (which compiles and loads its tables each time).
  const IptablesPlan plan = planIptables(compiled, "pb" + lab.topology().run_id);
  const PlanSize v4_size = planSize(plan, IpFamily::kIPv4);
  InstalledPlan installed(lab, plan);
  auto start = std::chrono::steady_clock::now();
  if (policy::Result<void> ok = installed.installSets(); !ok) {
    return failed("ipset restore", ok.error());
  }
  const double sets_seconds = secondsSince(start);
  start = std::chrono::steady_clock::now();
  if (policy::Result<void> ok = installed.installRules(); !ok) {
    return failed("iptables-restore", ok.error());
  }
  const double rules_seconds = secondsSince(start);
  policy::Result<bool> contained = setsStayInTheNode(plan);
  if (!contained) {
    return failed("ipset list", contained.error());
  }
  std::printf("\niptables + ipset: %s sets (%s entries) loaded in %.1f s, %s chains and %s "
              "rules in %.1f s; sets visible outside the node namespace: %s\n",
              grouped(v4_size.sets).c_str(), grouped(v4_size.set_entries).c_str(), sets_seconds,
              grouped(v4_size.chains).c_str(), grouped(v4_size.rules).c_str(), rules_seconds,
              *contained ? "no (per network namespace)" : "YES");

  const fs::path manifests = lab.runDir() / "bench-manifests";
  if (policy::Result<void> ok = writeEnforcerManifests(manifests, lab.cluster(), full, pods); !ok) {
    return failed("writing the enforcer's manifests", ok.error());
  }
  lab::EnforcerSpec spec;
  spec.argv = {options.enforcer};
  for (const std::string& argument : lab::kDefaultEnforcerArgs) {
    spec.argv.push_back(argument == "{manifests}" ? manifests.string() : argument);
  }
  spec.cleanup_argv = {options.enforcer, "--uninstall", "--pin-dir", "{pin_dir}"};
  spec.ready_timeout = std::chrono::minutes(5);
  std::vector<double> ready_seconds;
  // What the programs cost where they run: their run time per packet and the
  // packets they see per second of iperf3 (kernel.bpf_stats_enabled).
  std::array<ProgramStats, 2> program_totals{};
  constexpr std::array<std::string_view, 2> kPrograms{"pal_from_pod", "pal_to_pod"};

  struct Case {
    std::string name;
    bool enforcing = false;
    std::function<policy::Result<void>()> enable;
    std::function<policy::Result<void>()> disable;
    std::vector<double> bits_per_second;
    bool verified = false;
  };
  const auto nothing = []() -> policy::Result<void> { return {}; };
  std::vector<Case> cases;
  cases.push_back({.name = "no enforcer",
                   .enforcing = false,
                   .enable = nothing,
                   .disable = nothing,
                   .bits_per_second = {},
                   .verified = false});
  cases.push_back({.name = "iptables + ipset",
                   .enforcing = true,
                   .enable = [&] { return installed.hook(); },
                   .disable = [&] { return installed.unhook(); },
                   .bits_per_second = {},
                   .verified = false});
  cases.push_back({.name = "palisade-enforcer",
                   .enforcing = true,
                   .enable =
                       [&]() -> policy::Result<void> {
                         const auto enforcer_start = std::chrono::steady_clock::now();
                         if (policy::Result<void> ok = lab.startEnforcer(spec); !ok) {
                           return ok;
                         }
                         ready_seconds.push_back(secondsSince(enforcer_start));
                         setBpfStats(true);
                         return {};
                       },
                   .disable =
                       [&] {
                         for (size_t i = 0; i < kPrograms.size(); ++i) {
                           const ProgramStats stats = programStats(kPrograms[i]);
                           program_totals[i].runs += stats.runs;
                           program_totals[i].nanoseconds += stats.nanoseconds;
                         }
                         setBpfStats(false);
                         return lab.removeEnforcer();
                       },
                   .bits_per_second = {},
                   .verified = false});

  // One run of each case per round, in an order that rotates: the machine's
  // load drifts over minutes, and cases measured one block after the other
  // would carry that drift into their ratios.
  for (int round = 0; round < options.runs; ++round) {
    std::printf("\nround %d/%d\n", round + 1, options.runs);
    for (size_t i = 0; i < cases.size(); ++i) {
      Case& current = cases[(static_cast<size_t>(round) + i) % cases.size()];
      std::printf("  %s\n", current.name.c_str());
      if (policy::Result<void> ok = current.enable(); !ok) {
        return failed(current.name + ": switching on", ok.error());
      }
      if (!current.verified) {
        if (policy::Result<void> ok = verify(lab, pods, current.enforcing); !ok) {
          return failed(current.name, ok.error());
        }
        current.verified = true;
      }
      policy::Result<double> measured = throughput(lab, *client, *server, options.seconds, cancel);
      if (!measured) {
        return failed(current.name, measured.error());
      }
      current.bits_per_second.push_back(*measured);
      if (policy::Result<void> ok = current.disable(); !ok) {
        return failed(current.name + ": switching off", ok.error());
      }
    }
  }
  if (const std::vector<std::string> problems = installed.remove(); !problems.empty()) {
    for (const std::string& problem : problems) {
      std::fprintf(stderr, "dataplane_bench: removing the iptables rules: %s\n",
                   problem.c_str());
    }
    return 1;
  }
  std::vector<CaseResult> results;
  for (Case& measured_case : cases) {
    results.push_back({measured_case.name, std::move(measured_case.bits_per_second), ""});
  }
  results[1].note = fmt::format("load {:.1f} s", sets_seconds + rules_seconds);
  results[2].note = fmt::format("ready {:.1f} s (median)", median(ready_seconds));
  std::string programs_line;
  for (size_t i = 0; i < kPrograms.size(); ++i) {
    const ProgramStats& stats = program_totals[i];
    const double seconds = static_cast<double>(options.runs) * options.seconds;
    programs_line += fmt::format(
        "  {}: {:.0f} ns per packet, {:.0f} thousand packets/s ({:.1f}% of a core)\n",
        kPrograms[i],
        stats.runs == 0 ? 0.0 : static_cast<double>(stats.nanoseconds) / stats.runs,
        static_cast<double>(stats.runs) / seconds / 1000.0,
        static_cast<double>(stats.nanoseconds) / seconds / 1e7);
  }

  g_cancel.store(nullptr);
  bool torn_down = true;
  for (const std::string& problem : lab.teardown()) {
    std::fprintf(stderr, "dataplane_bench: teardown: %s\n", problem.c_str());
    torn_down = false;
  }

  const auto& tables = compiled.tables;
  std::printf("\nCluster: %s pods (2 in the lab, the others on another node), %s namespaces, "
              "%s policies\n",
              grouped(full.pods.size()).c_str(), grouped(full.namespaces.size()).c_str(),
              grouped(full.policies.size()).c_str());
  std::printf("Compiled tables (%.1f s): %s identities, %s rule sets; entries: endpoints %s, "
              "rules %s, port ranges %s, cidrs %s\n",
              compile_seconds, grouped(compiled.index.identities.size()).c_str(),
              grouped(compiled.index.rulesets.size()).c_str(),
              grouped(tables.endpoints.size()).c_str(), grouped(tables.rules.size()).c_str(),
              grouped(tables.port_ranges.size()).c_str(), grouped(tables.cidrs.size()).c_str());
  std::printf("palisade-enforcer's programs during its iperf3 runs (kernel.bpf_stats_enabled; "
              "includes the few seconds of start-up and probes):\n%s",
              programs_line.c_str());
  std::printf("iptables + ipset: %s sets with %s entries; %s chains, %s rules (IPv4)\n\n",
              grouped(v4_size.sets).c_str(), grouped(v4_size.set_entries).c_str(),
              grouped(v4_size.chains).c_str(), grouped(v4_size.rules).c_str());
  // A case's ratio is the median over rounds of its run divided by the
  // no-enforcer run of the same round: the rounds drift, a round's runs are
  // minutes apart at most.
  const std::vector<double>& baseline = results.front().bits_per_second;
  std::printf("%-20s %16s %13s   %s\n", "case",
              fmt::format("Gbit/s (med. {})", options.runs).c_str(), "paired ratio",
              "runs (Gbit/s)");
  for (const CaseResult& result : results) {
    std::string runs;
    std::vector<double> ratios;
    for (size_t round = 0; round < result.bits_per_second.size(); ++round) {
      runs += fmt::format("{}{:.2f}", runs.empty() ? "" : " ", result.bits_per_second[round] / 1e9);
      ratios.push_back(result.bits_per_second[round] / baseline[round]);
    }
    std::printf("%-20s %16.2f %13.2f   %s%s\n", result.name.c_str(),
                median(result.bits_per_second) / 1e9, median(ratios), runs.c_str(),
                result.note.empty() ? "" : ("   " + result.note).c_str());
  }
  return torn_down ? 0 : 1;
}

}  // namespace
}  // namespace palisade::bench

int main(int argc, char** argv) {
  palisade::bench::Options options;
  CLI::App app{"iperf3 TCP throughput between two lab pods: no enforcer, palisade-enforcer and "
               "iptables + ipset enforcing the same 10,000 policies (needs root)"};
  app.add_option("--runs", options.runs, "iperf3 runs per case (the median is reported)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--seconds", options.seconds, "Length of each run")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--pods-per-namespace", options.pods_per_namespace,
                 "Pods in each of the 1,000 namespaces of the scale cluster (at least 20)")
      ->capture_default_str()
      ->check(CLI::Range(20, 256));
  app.add_option("--enforcer", options.enforcer, "The palisade-enforcer binary")
      ->capture_default_str();
  app.add_flag("--check-translation", options.check_only,
               "Only check the iptables translation against the reference lookup (no root)");
  CLI11_PARSE(app, argc, argv);
  return palisade::bench::runBench(options);
}
