#include "policy/lint.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <utility>

#include "policy/ip.h"
#include "policy/label_selector.h"
#include "policy/validation.h"

// How findings are chosen, so that one mistake is reported once:
// - A finding points at the narrowest field that holds the problem: a
//   selector's matchExpressions[i], a peer, an ipBlock's cidr; a rule only
//   when the problem is the rule's missing `from`/`to`.
// - Breadth. A rule is as wide as its widest peer times its ports. A broad
//   peer (a rule without peers, a peer matching every pod of every namespace,
//   an ipBlock of /0) yields exactly one finding. Its code names the breadth
//   (allow-all-sources, allow-all-destinations, ingress-from-internet,
//   egress-to-internet) when the rule lists ports, and is "all-ports" when the
//   rule leaves every port open too: that is the worse case, the one to fix
//   first, and its message names both halves. Restricted peers without ports
//   are the ordinary way to trust a peer fully and are not findings.
// - Rules that policyTypes makes the apiserver ignore yield one
//   "ignored-rules" finding and are not linted further: nothing they say takes
//   effect.
// - A selector that can never match (contradiction, or a namespace name no
//   namespace can have) is reported statically and then left out of the
//   cluster checks, which would only say the same thing again.
// Messages are written to fit the kube-apiserver's 120-character limit on a
// warning together with their field, for indices up to two digits; they quote
// a user's value only where its length is bounded.

namespace palisade::policy {
namespace {

// Objects without a namespace are in "default", as kubectl creates them.
constexpr std::string_view kDefaultNamespace = "default";

// An IPv4 prefix shorter than /8 is wider than 10.0.0.0/8, the largest
// private range (RFC 1918), so it always reaches beyond a private network.
constexpr int kWideIPv4Prefix = 8;
// Registries allocate IPv6 to one holder as a /32, the very largest as about a
// /19; a prefix shorter than /16 therefore spans many organisations'. The
// exception is the unique local range fc00::/7 (RFC 4193), IPv6's private
// space, which is written as wide on purpose like 10.0.0.0/8.
constexpr int kWideIPv6Prefix = 16;

using Findings = std::vector<LintFinding>;

void report(Findings& findings, std::string_view code, std::string field, std::string message) {
  findings.push_back(LintFinding{
      .code = std::string(code), .field = std::move(field), .message = std::move(message)});
}

std::string indexed(std::string_view path, std::string_view child, size_t index) {
  return std::string(path) + "." + std::string(child) + "[" + std::to_string(index) + "]";
}

// The words and codes that differ between ingress and egress rules.
struct DirectionTerms {
  Direction direction;
  std::string_view rules;  // "ingress": the spec field
  std::string_view peers;  // "from"
  std::string_view type;   // "Ingress": the policyTypes value
  std::string_view allow_all_code;
  std::string_view internet_code;
  std::string_view any_peer_message;            // a rule without peers, ports listed
  std::string_view any_peer_all_ports_message;  // a rule without peers or ports
};

constexpr DirectionTerms kIngressTerms{
    .direction = Direction::kIngress,
    .rules = "ingress",
    .peers = "from",
    .type = "Ingress",
    .allow_all_code = "allow-all-sources",
    .internet_code = "ingress-from-internet",
    .any_peer_message = "allows any source, in or outside the cluster; add from peers",
    .any_peer_all_ports_message =
        "allows any source, in or outside the cluster, on every port; add from and ports",
};

constexpr DirectionTerms kEgressTerms{
    .direction = Direction::kEgress,
    .rules = "egress",
    .peers = "to",
    .type = "Egress",
    .allow_all_code = "allow-all-destinations",
    .internet_code = "egress-to-internet",
    .any_peer_message = "allows any destination, in or outside the cluster; add to peers",
    .any_peer_all_ports_message =
        "allows any destination, in or outside the cluster, on every port; add to and ports",
};

// ---------------------------------------------------------------------------
// Selectors

enum class SelectorKind {
  kPolicyPods,  // spec.podSelector
  kPeerPods,    // a peer's podSelector
  kNamespaces,  // a peer's namespaceSelector
};

// What the requirements on one label key demand of its value. A selector can
// match some set of labels exactly when every key's demands can be met, since
// keys are independent.
struct KeyDemand {
  bool present = false;  // matchLabels, In, Exists
  bool absent = false;   // DoesNotExist
  std::optional<std::set<std::string, std::less<>>> allowed;  // matchLabels, In
  std::set<std::string, std::less<>> excluded;                // NotIn

  void allowOnly(const std::vector<std::string>& values) {
    present = true;
    std::set<std::string, std::less<>> next;
    for (const std::string& value : values) {
      if (!allowed || allowed->contains(value)) {
        next.insert(value);
      }
    }
    allowed = std::move(next);
  }

  bool satisfiable() const {
    if (present && absent) {
      return false;
    }
    // Without an allowed set, some value outside the finite excluded set fits.
    return !allowed || std::ranges::any_of(*allowed, [&](const std::string& value) {
      return !excluded.contains(value);
    });
  }
};

// The index of the first matchExpression after which no set of labels can
// satisfy the selector. matchLabels alone can always be satisfied (a map
// holds one value per key), so a contradiction always shows at an expression.
// Namespaces all carry kubernetes.io/metadata.name, which is a demand too.
std::optional<size_t> firstContradiction(const LabelSelector& selector, SelectorKind kind) {
  std::map<std::string, KeyDemand, std::less<>> demands;
  if (kind == SelectorKind::kNamespaces) {
    demands[std::string(kNamespaceNameLabel)].present = true;
  }
  for (const auto& [key, value] : selector.match_labels) {
    demands[key].allowOnly({value});
  }
  for (size_t i = 0; i < selector.match_expressions.size(); ++i) {
    const LabelSelectorRequirement& requirement = selector.match_expressions[i];
    KeyDemand& demand = demands[requirement.key];
    if (requirement.op == "In") {
      demand.allowOnly(requirement.values);
    } else if (requirement.op == "NotIn") {
      demand.excluded.insert(requirement.values.begin(), requirement.values.end());
    } else if (requirement.op == "Exists") {
      demand.present = true;
    } else if (requirement.op == "DoesNotExist") {
      demand.absent = true;
    }
    if (!demand.satisfiable()) {
      return i;
    }
  }
  return std::nullopt;
}

bool isNamespaceName(std::string_view value) { return isDns1123Label(value).empty(); }

// Static findings on one selector; returns whether there were any. Malformed
// selectors are validation's business and are skipped.
bool lintSelector(const LabelSelector& selector, SelectorKind kind, const std::string& path,
                  Findings& findings) {
  if (!selectorIsWellFormed(selector)) {
    return false;
  }
  const size_t before = findings.size();
  if (kind == SelectorKind::kNamespaces) {
    // Every namespace's kubernetes.io/metadata.name is its name, so a value
    // that is no valid name is a typo that can never match (and, under NotIn,
    // excludes nothing).
    if (const auto name = selector.match_labels.find(kNamespaceNameLabel);
        name != selector.match_labels.end() && !isNamespaceName(name->second)) {
      report(findings, "namespace-name-selector-invalid",
             path + ".matchLabels[" + std::string(kNamespaceNameLabel) + "]",
             "no namespace can have this name");
    }
    for (size_t i = 0; i < selector.match_expressions.size(); ++i) {
      const LabelSelectorRequirement& requirement = selector.match_expressions[i];
      if (requirement.key != kNamespaceNameLabel) {
        continue;
      }
      for (size_t v = 0; v < requirement.values.size(); ++v) {
        if (!isNamespaceName(requirement.values[v])) {
          report(findings, "namespace-name-selector-invalid",
                 indexed(indexed(path, "matchExpressions", i), "values", v),
                 "no namespace can have this name");
        }
      }
    }
  }
  if (const std::optional<size_t> at = firstContradiction(selector, kind)) {
    const LabelSelectorRequirement& requirement = selector.match_expressions[*at];
    std::string message;
    if (kind == SelectorKind::kNamespaces && requirement.key == kNamespaceNameLabel &&
        requirement.op == "DoesNotExist") {
      message = "every namespace has this label; matches nothing";
    } else if (kind == SelectorKind::kPolicyPods) {
      message = "contradicts an earlier requirement; the policy selects no pod";
    } else {
      message = "contradicts an earlier requirement; matches nothing";
    }
    report(findings, "selector-never-matches", indexed(path, "matchExpressions", *at),
           std::move(message));
  }
  return findings.size() != before;
}

bool hasStaticFindings(const LabelSelector& selector, SelectorKind kind) {
  Findings scratch;
  return lintSelector(selector, kind, "", scratch);
}

// Whether a namespaceSelector matches every namespace whatever the cluster
// holds: it is empty, or demands only the label every namespace carries.
bool matchesEveryNamespace(const LabelSelector& selector) {
  return selector.match_labels.empty() &&
         std::ranges::all_of(selector.match_expressions, [](const auto& requirement) {
           return requirement.key == kNamespaceNameLabel && requirement.op == "Exists" &&
                  requirement.values.empty();
         });
}

// A peer that admits every pod of every namespace.
bool matchesEveryPod(const NetworkPolicyPeer& peer) {
  return !peer.ip_block && peer.namespace_selector &&
         matchesEveryNamespace(*peer.namespace_selector) &&
         (!peer.pod_selector || peer.pod_selector->empty());
}

// ---------------------------------------------------------------------------
// ipBlock

bool isWide(const Cidr& cidr) {
  if (cidr.family() == IpFamily::kIPv4) {
    return cidr.prefixLength() < kWideIPv4Prefix;
  }
  static const Cidr kUniqueLocal = *Cidr::parse("fc00::/7");
  return cidr.prefixLength() < kWideIPv6Prefix && !kUniqueLocal.contains(cidr);
}

// "10.0.0.1/8" is accepted and means 10.0.0.0/8, which is rarely what its
// author meant (usually one host, or a smaller network).
void lintHostBits(std::string_view text, const Cidr& cidr, const std::string& field,
                  Findings& findings) {
  const std::optional<IpAddress> written = IpAddress::parseSloppy(text.substr(0, text.find('/')));
  if (written && written->family() == cidr.family() && *written != cidr.address()) {
    report(findings, "cidr-host-bits", field,
           "means " + cidr.toString() + "; host bits are ignored");
  }
}

void lintIpBlock(const IPBlock& block, const DirectionTerms& terms, bool every_port,
                 const std::string& path, Findings& findings) {
  const std::string cidr_field = path + ".cidr";
  // Validation reports CIDRs that do not parse; lint has nothing to add.
  if (const std::optional<Cidr> cidr = Cidr::parse(block.cidr, /*sloppy=*/true)) {
    lintHostBits(block.cidr, *cidr, cidr_field, findings);
    if (cidr->prefixLength() == 0) {
      if (every_port) {
        report(findings, "all-ports", cidr_field,
               "allows the whole internet on every port; narrow the CIDR or add ports");
      } else {
        report(findings, terms.internet_code, cidr_field,
               "allows every address, the internet included; list the CIDRs needed");
      }
    } else if (isWide(*cidr)) {
      report(findings, "wide-ip-block", cidr_field,
             cidr->family() == IpFamily::kIPv4
                 ? "is wider than /8, wider than any private range; list the ranges needed"
                 : "is wider than /16, more than any one network holds; list ranges needed");
    }
  }
  for (size_t k = 0; k < block.except.size(); ++k) {
    if (const std::optional<Cidr> except = Cidr::parse(block.except[k], /*sloppy=*/true)) {
      lintHostBits(block.except[k], *except, indexed(path, "except", k), findings);
    }
  }
}

// ---------------------------------------------------------------------------
// Rules

bool isIpBlockOnly(const NetworkPolicyPeer& peer) {
  return peer.ip_block && !peer.pod_selector && !peer.namespace_selector;
}

void lintRule(const NetworkPolicyRule& rule, const DirectionTerms& terms, const std::string& path,
              Findings& findings) {
  const bool every_port = rule.ports.empty();
  if (rule.peers.empty()) {
    if (every_port) {
      report(findings, "all-ports", path, std::string(terms.any_peer_all_ports_message));
    } else {
      report(findings, terms.allow_all_code, path, std::string(terms.any_peer_message));
    }
  }
  for (size_t j = 0; j < rule.peers.size(); ++j) {
    const NetworkPolicyPeer& peer = rule.peers[j];
    const std::string peer_path = indexed(path, terms.peers, j);
    if (peer.namespace_selector) {
      lintSelector(*peer.namespace_selector, SelectorKind::kNamespaces,
                   peer_path + ".namespaceSelector", findings);
    }
    if (peer.pod_selector) {
      lintSelector(*peer.pod_selector, SelectorKind::kPeerPods, peer_path + ".podSelector",
                   findings);
    }
    if (matchesEveryPod(peer)) {
      if (every_port) {
        report(findings, "all-ports", peer_path,
               "allows every pod in every namespace on every port; narrow the peer or add ports");
      } else {
        report(findings, terms.allow_all_code, peer_path,
               "allows every pod in every namespace; narrow namespaceSelector or podSelector");
      }
    }
    if (peer.ip_block) {
      lintIpBlock(*peer.ip_block, terms, every_port, peer_path + ".ipBlock", findings);
    }
  }
  // A named port resolves against the container ports of the destination pod
  // (NetworkPolicyPort.port in the API reference); an address outside the
  // cluster has none. On ingress it resolves against the policy's own pods
  // and works with any peer.
  if (terms.direction == Direction::kEgress && !rule.peers.empty() &&
      std::ranges::all_of(rule.peers, isIpBlockOnly)) {
    for (size_t k = 0; k < rule.ports.size(); ++k) {
      const std::optional<PortValue>& port = rule.ports[k].port;
      if (port && std::holds_alternative<std::string>(*port)) {
        report(findings, "named-port-with-ipblock", indexed(path, "ports", k) + ".port",
               "named ports resolve on pods, so this never matches external addresses; use a "
               "number");
      }
    }
  }
}

const std::vector<NetworkPolicyRule>& rulesOf(const NetworkPolicySpec& spec,
                                              const DirectionTerms& terms) {
  return terms.direction == Direction::kIngress ? spec.ingress : spec.egress;
}

bool isEnforced(const PolicyTypes& types, const DirectionTerms& terms) {
  return terms.direction == Direction::kIngress ? types.ingress : types.egress;
}

// ---------------------------------------------------------------------------
// Cluster state

// The namespaces of the cluster with the labels selectors see. Namespaces
// that pods or policies live in exist even when the state does not list them
// (the apiserver would not have admitted the objects otherwise), and every
// namespace carries kubernetes.io/metadata.name, as in the oracle.
class ClusterView {
 public:
  ClusterView(const ClusterState& cluster, std::string policy_namespace)
      : cluster_(cluster), policy_namespace_(std::move(policy_namespace)) {
    for (const Namespace& ns : cluster.namespaces) {
      Labels labels = ns.metadata.labels;
      labels[std::string(kNamespaceNameLabel)] = ns.metadata.name;
      namespace_labels_[ns.metadata.name] = std::move(labels);
    }
    addImplicit(policy_namespace_);
    for (const Pod& pod : cluster.pods) {
      addImplicit(namespaceOf(pod.metadata));
    }
    for (const NetworkPolicy& other : cluster.policies) {
      addImplicit(namespaceOf(other.metadata));
    }
  }

  static std::string namespaceOf(const ObjectMeta& metadata) {
    return metadata.namespace_name.empty() ? std::string(kDefaultNamespace)
                                           : metadata.namespace_name;
  }

  const std::string& policyNamespace() const { return policy_namespace_; }

  std::set<std::string, std::less<>> namespacesMatching(const LabelSelector& selector) const {
    std::set<std::string, std::less<>> names;
    for (const auto& [name, labels] : namespace_labels_) {
      if (selectorMatches(selector, labels)) {
        names.insert(name);
      }
    }
    return names;
  }

  // hostNetwork pods are left out: policies do not select them and peers do
  // not match them (see oracle.h).
  bool anyPodMatches(const LabelSelector& selector,
                     const std::set<std::string, std::less<>>& namespaces) const {
    return std::ranges::any_of(cluster_.pods, [&](const Pod& pod) {
      return !pod.host_network && namespaces.contains(namespaceOf(pod.metadata)) &&
             selectorMatches(selector, pod.metadata.labels);
    });
  }

 private:
  void addImplicit(const std::string& name) {
    if (!namespace_labels_.contains(name)) {
      namespace_labels_[name] = Labels{{std::string(kNamespaceNameLabel), name}};
    }
  }

  const ClusterState& cluster_;
  std::string policy_namespace_;
  std::map<std::string, Labels, std::less<>> namespace_labels_;
};

// A selector is only checked against the cluster when it names something in
// particular: an empty podSelector means "every pod, now and later", which
// matching nothing today does not make wrong (a fresh namespace's default
// deny). Selectors with static findings were reported already.
bool worthChecking(const LabelSelector& selector, SelectorKind kind) {
  return !selector.empty() && selectorIsWellFormed(selector) &&
         !hasStaticFindings(selector, kind);
}

void lintPeerAgainstCluster(const NetworkPolicyPeer& peer, const std::string& peer_path,
                            const ClusterView& view, Findings& findings) {
  if (peer.ip_block) {
    return;
  }
  std::set<std::string, std::less<>> namespaces = {view.policyNamespace()};
  if (peer.namespace_selector) {
    const LabelSelector& selector = *peer.namespace_selector;
    if (!selectorIsWellFormed(selector) ||
        hasStaticFindings(selector, SelectorKind::kNamespaces)) {
      return;
    }
    namespaces = view.namespacesMatching(selector);
    if (namespaces.empty()) {
      report(findings, "no-namespace-matches", peer_path + ".namespaceSelector",
             "matches no namespace in the cluster right now; check its labels");
      return;
    }
  }
  if (peer.pod_selector && worthChecking(*peer.pod_selector, SelectorKind::kPeerPods) &&
      !view.anyPodMatches(*peer.pod_selector, namespaces)) {
    report(findings, "no-pod-matches", peer_path + ".podSelector",
           peer.namespace_selector
               ? "matches no pod in the selected namespaces right now; check its labels"
               : "matches no pod of this namespace right now; check its labels");
  }
}

}  // namespace

std::string LintFinding::toString() const {
  return field.empty() ? message : field + ": " + message;
}

std::vector<LintFinding> lintNetworkPolicy(const NetworkPolicy& policy) {
  Findings findings;
  const NetworkPolicySpec& spec = policy.spec;
  lintSelector(spec.pod_selector, SelectorKind::kPolicyPods, "spec.podSelector", findings);

  // Without policyTypes the apiserver always adds Ingress: a policy written
  // with only egress rules also cuts off all ingress of the pods it selects.
  // (A webhook sees objects after defaulting, so this shows in the CLI.)
  if (spec.policy_types.empty() && spec.ingress.empty() && !spec.egress.empty()) {
    report(findings, "implicit-ingress-deny", "spec.policyTypes",
           "unset, so Ingress is implied and selected pods get no ingress; set it explicitly");
  }

  const PolicyTypes types = effectivePolicyTypes(spec);
  for (const DirectionTerms* terms : {&kIngressTerms, &kEgressTerms}) {
    const std::vector<NetworkPolicyRule>& rules = rulesOf(spec, *terms);
    const std::string path = "spec." + std::string(terms->rules);
    if (!isEnforced(types, *terms)) {
      if (!rules.empty()) {
        report(findings, "ignored-rules", path,
               "ignored because policyTypes does not list " + std::string(terms->type) +
                   "; add it or remove the rules");
      }
      continue;
    }
    for (size_t i = 0; i < rules.size(); ++i) {
      lintRule(rules[i], *terms, indexed("spec", terms->rules, i), findings);
    }
  }
  return findings;
}

std::vector<LintFinding> lintNetworkPolicy(const NetworkPolicy& policy,
                                           const ClusterState& cluster) {
  Findings findings = lintNetworkPolicy(policy);
  const ClusterView view(cluster, ClusterView::namespaceOf(policy.metadata));
  const NetworkPolicySpec& spec = policy.spec;

  if (worthChecking(spec.pod_selector, SelectorKind::kPolicyPods) &&
      !view.anyPodMatches(spec.pod_selector, {view.policyNamespace()})) {
    report(findings, "selects-no-pod", "spec.podSelector",
           "matches no pod of this namespace right now; check its labels");
  }
  const PolicyTypes types = effectivePolicyTypes(spec);
  for (const DirectionTerms* terms : {&kIngressTerms, &kEgressTerms}) {
    if (!isEnforced(types, *terms)) {
      continue;
    }
    const std::vector<NetworkPolicyRule>& rules = rulesOf(spec, *terms);
    for (size_t i = 0; i < rules.size(); ++i) {
      const std::string rule_path = indexed("spec", terms->rules, i);
      for (size_t j = 0; j < rules[i].peers.size(); ++j) {
        lintPeerAgainstCluster(rules[i].peers[j], indexed(rule_path, terms->peers, j), view,
                               findings);
      }
    }
  }
  return findings;
}

}  // namespace palisade::policy
