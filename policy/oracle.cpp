#include "policy/oracle.h"

#include <algorithm>
#include <utility>

#include "policy/label_selector.h"

namespace palisade::policy {

// Lookups the oracle needs again and again, built once from the cluster state.
struct ReachabilityOracle::Index {
  ClusterState state;
  std::map<std::string, Labels, std::less<>> namespace_labels;
  std::map<PodRef, size_t> pod_by_ref;
  std::map<IpAddress, size_t> pod_by_address;  // pod-network pods only
  std::vector<std::vector<IpAddress>> pod_addresses;
  std::vector<std::vector<IpAddress>> host_addresses;
  // For each pod, the policies (indices into state.policies) that isolate it.
  std::vector<std::vector<size_t>> ingress_isolators;
  std::vector<std::vector<size_t>> egress_isolators;
  Labels no_labels;
};

namespace {

// Objects without a namespace are in "default", as kubectl creates them.
constexpr std::string_view kDefaultNamespace = "default";

// An endpoint once the cluster has been consulted.
struct ResolvedEndpoint {
  const Pod* pod = nullptr;  // set for pods, hostNetwork ones included
  size_t pod_index = 0;
  std::vector<IpAddress> addresses;  // the pod's, or the one address given
  const std::vector<IpAddress>* host_addresses = nullptr;

  // Whether policies select this endpoint and selectors match it as a peer.
  bool onPodNetwork() const { return pod != nullptr && !pod->host_network; }
};

std::vector<IpAddress> parseAddresses(const std::string& primary,
                                      const std::vector<std::string>& all) {
  std::vector<IpAddress> addresses;
  auto add = [&](const std::string& text) {
    if (auto address = IpAddress::parseSloppy(text);
        address && std::ranges::find(addresses, *address) == addresses.end()) {
      addresses.push_back(*address);
    }
  };
  add(primary);
  std::ranges::for_each(all, add);
  return addresses;
}

std::optional<IpAddress> addressOfFamily(const std::vector<IpAddress>& addresses,
                                         IpFamily family) {
  for (const IpAddress& address : addresses) {
    if (address.family() == family) {
      return address;
    }
  }
  return std::nullopt;
}

bool hasFamily(const std::vector<IpAddress>& addresses, IpFamily family) {
  return addressOfFamily(addresses, family).has_value();
}

bool ipBlockContains(const IPBlock& block, const IpAddress& address) {
  const std::optional<Cidr> cidr = Cidr::parse(block.cidr, /*sloppy=*/true);
  if (!cidr || !cidr->contains(address)) {
    return false;
  }
  return std::ranges::none_of(block.except, [&](const std::string& text) {
    const std::optional<Cidr> except = Cidr::parse(text, /*sloppy=*/true);
    return except && except->contains(address);
  });
}

// Whether `port_spec` covers the flow's protocol and port. A named port
// resolves against the containers of `destination`, the pod receiving the
// flow, by name and protocol; with no destination pod it cannot match.
bool portMatches(const NetworkPolicyPort& port_spec, Protocol protocol, uint16_t port,
                 const Pod* destination) {
  const std::optional<Protocol> rule_protocol =
      port_spec.protocol ? parseProtocol(*port_spec.protocol) : Protocol::kTCP;
  if (rule_protocol != protocol) {
    return false;
  }
  if (!port_spec.port) {
    return true;
  }
  if (const int32_t* number = std::get_if<int32_t>(&*port_spec.port)) {
    const int32_t last = port_spec.end_port.value_or(*number);
    return *number <= port && port <= last;
  }
  if (destination == nullptr) {
    return false;
  }
  const std::string& name = std::get<std::string>(*port_spec.port);
  return std::ranges::any_of(destination->containers, [&](const Container& container) {
    return std::ranges::any_of(container.ports, [&](const ContainerPort& container_port) {
      return container_port.name == name && container_port.container_port == port &&
             protocolOrDefault(container_port.protocol) == protocol;
    });
  });
}

bool sharesAddress(const std::vector<IpAddress>& addresses,
                   const std::vector<IpAddress>* others) {
  return others != nullptr && std::ranges::any_of(addresses, [&](const IpAddress& address) {
           return std::ranges::find(*others, address) != others->end();
         });
}

// Whether `other` is the node `pod` runs on: one of the node's addresses, or
// a hostNetwork pod on the same node.
bool isOwnNode(const ResolvedEndpoint& pod, const ResolvedEndpoint& other) {
  if (!pod.onPodNetwork() || other.onPodNetwork()) {
    return false;
  }
  if (other.pod != nullptr && !other.pod->node_name.empty() &&
      other.pod->node_name == pod.pod->node_name) {
    return true;
  }
  return sharesAddress(other.addresses, pod.host_addresses);
}

std::string namespaceOrDefault(const std::string& name) {
  return name.empty() ? std::string(kDefaultNamespace) : name;
}

// What a rule is matched against: the flow as seen from one side.
struct SideContext {
  Direction direction;
  const std::string& policy_namespace;
  const ResolvedEndpoint& peer;
  const Pod* destination;  // for named ports
  Protocol protocol;
  uint16_t port;
  IpFamily family;
};

class Evaluator {
 public:
  explicit Evaluator(const ReachabilityOracle& oracle) : oracle_(oracle) {}

  bool peerMatches(const NetworkPolicyPeer& peer, const SideContext& side) const {
    if (peer.ip_block) {
      if (peer.pod_selector || peer.namespace_selector) {
        return false;  // forbidden by validation; never let it widen access
      }
      const std::optional<IpAddress> address = addressOfFamily(side.peer.addresses, side.family);
      return address && ipBlockContains(*peer.ip_block, *address);
    }
    if (!side.peer.onPodNetwork() || (!peer.pod_selector && !peer.namespace_selector)) {
      return false;
    }
    const Pod& pod = *side.peer.pod;
    if (peer.namespace_selector) {
      if (!selectorMatches(*peer.namespace_selector,
                           oracle_.namespaceLabels(pod.metadata.namespace_name))) {
        return false;
      }
    } else if (pod.metadata.namespace_name != side.policy_namespace) {
      return false;
    }
    return !peer.pod_selector || selectorMatches(*peer.pod_selector, pod.metadata.labels);
  }

  bool ruleMatches(const NetworkPolicyRule& rule, const SideContext& side) const {
    const bool port_ok = rule.ports.empty() ||
                         std::ranges::any_of(rule.ports, [&](const NetworkPolicyPort& port) {
                           return portMatches(port, side.protocol, side.port, side.destination);
                         });
    return port_ok && (rule.peers.empty() ||
                       std::ranges::any_of(rule.peers, [&](const NetworkPolicyPeer& peer) {
                         return peerMatches(peer, side);
                       }));
  }

 private:
  const ReachabilityOracle& oracle_;
};

}  // namespace

std::string toString(const PodRef& pod) { return pod.namespace_name + "/" + pod.name; }

std::optional<PodRef> parsePodRef(std::string_view text) {
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == text.size() ||
      text.find('/', slash + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  return PodRef{std::string(text.substr(0, slash)), std::string(text.substr(slash + 1))};
}

std::string toString(const Endpoint& endpoint) {
  if (const auto* pod = std::get_if<PodRef>(&endpoint)) {
    return toString(*pod);
  }
  return std::get<IpAddress>(endpoint).toString();
}

std::string toString(const PolicyRef& policy) {
  return policy.namespace_name + "/" + policy.name;
}

std::string toString(const RuleRef& rule) {
  return toString(rule.policy) + " spec." +
         (rule.direction == Direction::kIngress ? "ingress" : "egress") + "[" +
         std::to_string(rule.rule_index) + "]";
}

ReachabilityOracle::ReachabilityOracle(ClusterState state) : index_(std::make_unique<Index>()) {
  Index& index = *index_;
  index.state = std::move(state);
  ClusterState& s = index.state;

  for (Pod& pod : s.pods) {
    pod.metadata.namespace_name = namespaceOrDefault(pod.metadata.namespace_name);
  }
  for (NetworkPolicy& policy : s.policies) {
    policy.metadata.namespace_name = namespaceOrDefault(policy.metadata.namespace_name);
  }
  auto ensureNamespace = [&](const std::string& name) {
    if (!index.namespace_labels.contains(name)) {
      Namespace ns;
      ns.metadata.name = name;
      s.namespaces.push_back(std::move(ns));
      index.namespace_labels[name] = {};
    }
  };
  for (Namespace& ns : s.namespaces) {
    ns.metadata.labels[std::string(kNamespaceNameLabel)] = ns.metadata.name;
    index.namespace_labels[ns.metadata.name] = ns.metadata.labels;
  }
  for (const Pod& pod : s.pods) {
    ensureNamespace(pod.metadata.namespace_name);
  }
  for (const NetworkPolicy& policy : s.policies) {
    ensureNamespace(policy.metadata.namespace_name);
  }
  for (Namespace& ns : s.namespaces) {
    ns.metadata.labels[std::string(kNamespaceNameLabel)] = ns.metadata.name;
    index.namespace_labels[ns.metadata.name] = ns.metadata.labels;
  }

  index.ingress_isolators.resize(s.pods.size());
  index.egress_isolators.resize(s.pods.size());
  for (size_t i = 0; i < s.pods.size(); ++i) {
    const Pod& pod = s.pods[i];
    index.pod_by_ref.emplace(PodRef{pod.metadata.namespace_name, pod.metadata.name}, i);
    index.pod_addresses.push_back(parseAddresses(pod.pod_ip, pod.pod_ips));
    index.host_addresses.push_back(parseAddresses(pod.host_ip, pod.host_ips));
    if (pod.host_network) {
      continue;
    }
    for (const IpAddress& address : index.pod_addresses.back()) {
      index.pod_by_address.emplace(address, i);
    }
    for (size_t p = 0; p < s.policies.size(); ++p) {
      const NetworkPolicy& policy = s.policies[p];
      if (policy.metadata.namespace_name != pod.metadata.namespace_name ||
          !selectorMatches(policy.spec.pod_selector, pod.metadata.labels)) {
        continue;
      }
      const PolicyTypes types = effectivePolicyTypes(policy.spec);
      if (types.ingress) {
        index.ingress_isolators[i].push_back(p);
      }
      if (types.egress) {
        index.egress_isolators[i].push_back(p);
      }
    }
  }
}

ReachabilityOracle::~ReachabilityOracle() = default;
ReachabilityOracle::ReachabilityOracle(ReachabilityOracle&&) noexcept = default;
ReachabilityOracle& ReachabilityOracle::operator=(ReachabilityOracle&&) noexcept = default;

const ClusterState& ReachabilityOracle::state() const { return index_->state; }

const Pod* ReachabilityOracle::findPod(const PodRef& pod) const {
  const auto it = index_->pod_by_ref.find(pod);
  return it == index_->pod_by_ref.end() ? nullptr : &index_->state.pods[it->second];
}

const Labels& ReachabilityOracle::namespaceLabels(std::string_view namespace_name) const {
  const auto it = index_->namespace_labels.find(namespace_name);
  return it == index_->namespace_labels.end() ? index_->no_labels : it->second;
}

Result<Verdict> ReachabilityOracle::evaluate(const Flow& flow) const {
  const Index& index = *index_;
  auto resolve = [&](const Endpoint& endpoint) -> Result<ResolvedEndpoint> {
    std::optional<size_t> pod_index;
    if (const auto* ref = std::get_if<PodRef>(&endpoint)) {
      const auto it = index.pod_by_ref.find(*ref);
      if (it == index.pod_by_ref.end()) {
        return fail("pod " + toString(*ref) + " is not in the cluster");
      }
      pod_index = it->second;
    } else if (const auto it = index.pod_by_address.find(std::get<IpAddress>(endpoint));
               it != index.pod_by_address.end()) {
      pod_index = it->second;
    }
    if (!pod_index) {
      return ResolvedEndpoint{.addresses = {std::get<IpAddress>(endpoint)}};
    }
    return ResolvedEndpoint{.pod = &index.state.pods[*pod_index],
                            .pod_index = *pod_index,
                            .addresses = index.pod_addresses[*pod_index],
                            .host_addresses = &index.host_addresses[*pod_index]};
  };
  Result<ResolvedEndpoint> source = resolve(flow.source);
  if (!source) {
    return std::unexpected(source.error());
  }
  Result<ResolvedEndpoint> destination = resolve(flow.destination);
  if (!destination) {
    return std::unexpected(destination.error());
  }

  IpFamily family = IpFamily::kIPv4;
  if (flow.family) {
    family = *flow.family;
  } else if (const auto* source_address = std::get_if<IpAddress>(&flow.source)) {
    family = source_address->family();
  } else if (const auto* destination_address = std::get_if<IpAddress>(&flow.destination)) {
    family = destination_address->family();
  } else if (!(hasFamily(source->addresses, IpFamily::kIPv4) &&
               hasFamily(destination->addresses, IpFamily::kIPv4)) &&
             hasFamily(source->addresses, IpFamily::kIPv6) &&
             hasFamily(destination->addresses, IpFamily::kIPv6)) {
    family = IpFamily::kIPv6;
  }

  const Evaluator evaluator(*this);
  auto evaluateSide = [&](Direction direction, const ResolvedEndpoint& subject,
                          const ResolvedEndpoint& peer) {
    SideVerdict side;
    if (!subject.onPodNetwork()) {
      return side;
    }
    const std::vector<size_t>& isolators = direction == Direction::kIngress
                                               ? index.ingress_isolators[subject.pod_index]
                                               : index.egress_isolators[subject.pod_index];
    if (isolators.empty()) {
      side.outcome = SideVerdict::Outcome::kNotIsolated;
      return side;
    }
    for (size_t p : isolators) {
      const NetworkPolicy& policy = index.state.policies[p];
      const PolicyRef ref{policy.metadata.namespace_name, policy.metadata.name};
      side.isolated_by.push_back(ref);
      const SideContext context{.direction = direction,
                                .policy_namespace = policy.metadata.namespace_name,
                                .peer = peer,
                                // A hostNetwork pod's ports are its node's: to
                                // policies it is an address, without named ports.
                                .destination = destination->onPodNetwork() ? destination->pod
                                                                           : nullptr,
                                .protocol = flow.protocol,
                                .port = flow.port,
                                .family = family};
      const auto& rules =
          direction == Direction::kIngress ? policy.spec.ingress : policy.spec.egress;
      for (size_t r = 0; r < rules.size(); ++r) {
        if (evaluator.ruleMatches(rules[r], context)) {
          side.allowed_by.push_back(RuleRef{ref, direction, r});
        }
      }
    }
    side.outcome = side.allowed_by.empty() ? SideVerdict::Outcome::kDenied
                                           : SideVerdict::Outcome::kAllowed;
    return side;
  };

  Verdict verdict;
  verdict.egress = evaluateSide(Direction::kEgress, *source, *destination);
  verdict.ingress = evaluateSide(Direction::kIngress, *destination, *source);
  if (source->pod != nullptr && source->pod == destination->pod) {
    verdict.bypass = Verdict::Bypass::kLoopback;
  } else if (isOwnNode(*destination, *source) || isOwnNode(*source, *destination)) {
    verdict.bypass = Verdict::Bypass::kNodeLocal;
  }
  verdict.allowed = verdict.bypass != Verdict::Bypass::kNone ||
                    (verdict.egress.allowed() && verdict.ingress.allowed());
  return verdict;
}

namespace {

std::string joinPolicies(const std::vector<PolicyRef>& policies) {
  std::string out;
  for (const PolicyRef& policy : policies) {
    out += (out.empty() ? "" : ", ") + toString(policy);
  }
  return out;
}

std::string describeSide(std::string_view name, const Endpoint& endpoint,
                         const SideVerdict& side) {
  std::string out = "  " + std::string(name) + " at " + toString(endpoint) + ": ";
  switch (side.outcome) {
    case SideVerdict::Outcome::kNotApplicable:
      return out + "not checked (not a pod on the pod network)\n";
    case SideVerdict::Outcome::kNotIsolated:
      return out + "allowed (no policy isolates it for " + std::string(name) + ")\n";
    case SideVerdict::Outcome::kAllowed: {
      out += "allowed by ";
      for (size_t i = 0; i < side.allowed_by.size(); ++i) {
        out += (i == 0 ? "" : ", ") + toString(side.allowed_by[i]);
      }
      return out + "\n    isolated by " + joinPolicies(side.isolated_by) + "\n";
    }
    case SideVerdict::Outcome::kDenied:
      return out + "DENIED: no rule allows it\n    isolated by " +
             joinPolicies(side.isolated_by) + "\n";
  }
  return out;
}

}  // namespace

std::string explain(const Flow& flow, const Verdict& verdict) {
  std::string out = std::string(toString(flow.protocol)) + "/" + std::to_string(flow.port) +
                    " from " + toString(flow.source) + " to " + toString(flow.destination) +
                    ": " + (verdict.allowed ? "ALLOWED" : "DENIED") + "\n";
  switch (verdict.bypass) {
    case Verdict::Bypass::kLoopback:
      out += "  a pod's traffic to itself never leaves the pod: policies do not apply\n";
      break;
    case Verdict::Bypass::kNodeLocal:
      out += "  traffic between a pod and its own node is always allowed\n";
      break;
    case Verdict::Bypass::kNone:
      break;
  }
  out += describeSide("egress", flow.source, verdict.egress);
  out += describeSide("ingress", flow.destination, verdict.ingress);
  return out;
}

}  // namespace palisade::policy
