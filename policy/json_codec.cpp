#include "policy/json_codec.h"

#include <limits>
#include <utility>

#include <nlohmann/json.hpp>

namespace palisade::policy {
namespace {

using nlohmann::json;

// Thrown inside this file only, and turned into a DecodeError at each public
// entry point: it keeps the field-by-field readers free of error plumbing.
struct DecodeFailure {
  DecodeError error;
};

std::string_view typeName(const json& value) { return jsonTypeName(value); }

// A field path in the apiserver's notation: spec.ingress[0].from, labels[app].
// A chain of segments, each pointing to the path it extends, turned into text
// only for an error message: reading a valid object builds no path strings
// (doing so was most of the cost of decoding a Pod in the webhook). A Path
// must therefore not outlive the path it extends; here each lives on the
// stack of the reader below the one it extends.
class Path {
 public:
  Path() = default;
  explicit Path(std::string_view root) : segment_(root) {}
  Path child(std::string_view name) const { return Path(this, Step::kChild, name, 0); }
  Path index(size_t i) const { return Path(this, Step::kIndex, {}, i); }
  Path key(std::string_view k) const { return Path(this, Step::kKey, k, 0); }

  std::string str() const {
    std::string text = parent_ != nullptr ? parent_->str() : std::string();
    switch (step_) {
      case Step::kRoot:
        text += segment_;
        break;
      case Step::kChild:
        if (!text.empty()) {
          text += '.';
        }
        text += segment_;
        break;
      case Step::kIndex:
        text += "[" + std::to_string(index_) + "]";
        break;
      case Step::kKey:
        text += '[';
        text += segment_;
        text += ']';
        break;
    }
    return text;
  }

 private:
  enum class Step { kRoot, kChild, kIndex, kKey };

  Path(const Path* parent, Step step, std::string_view segment, size_t index)
      : parent_(parent), step_(step), segment_(segment), index_(index) {}

  const Path* parent_ = nullptr;
  Step step_ = Step::kRoot;
  std::string_view segment_;
  size_t index_ = 0;
};

[[noreturn]] void failAt(const Path& path, std::string message) {
  throw DecodeFailure{DecodeError{path.str(), std::move(message)}};
}

[[noreturn]] void wrongType(const Path& path, std::string_view expected, const json& got) {
  failAt(path, "expected " + std::string(expected) + ", got " + std::string(typeName(got)));
}

// The member `name` of `object`, or nullptr when it is absent or null.
const json* member(const json& object, std::string_view name) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) {
    return nullptr;
  }
  return &*it;
}

void requireObject(const json& value, const Path& path) {
  if (!value.is_object()) {
    wrongType(path, "object", value);
  }
}

std::string readString(const json& value, const Path& path) {
  if (!value.is_string()) {
    wrongType(path, "string", value);
  }
  return value.get<std::string>();
}

std::string stringField(const json& object, std::string_view name, const Path& path) {
  const json* value = member(object, name);
  return value ? readString(*value, path.child(name)) : std::string();
}

std::optional<std::string> optionalStringField(const json& object, std::string_view name,
                                               const Path& path) {
  const json* value = member(object, name);
  if (!value) {
    return std::nullopt;
  }
  return readString(*value, path.child(name));
}

int32_t readInt32(const json& value, const Path& path) {
  if (value.is_number_integer()) {
    const auto number = value.get<int64_t>();
    if (number >= std::numeric_limits<int32_t>::min() &&
        number <= std::numeric_limits<int32_t>::max()) {
      return static_cast<int32_t>(number);
    }
    failAt(path, "integer " + value.dump() + " does not fit in 32 bits");
  }
  if (value.is_number_unsigned()) {
    failAt(path, "integer " + value.dump() + " does not fit in 32 bits");
  }
  wrongType(path, "integer", value);
}

std::optional<int32_t> optionalInt32Field(const json& object, std::string_view name,
                                          const Path& path) {
  const json* value = member(object, name);
  if (!value) {
    return std::nullopt;
  }
  return readInt32(*value, path.child(name));
}

bool boolField(const json& object, std::string_view name, const Path& path) {
  const json* value = member(object, name);
  if (!value) {
    return false;
  }
  if (!value->is_boolean()) {
    wrongType(path.child(name), "boolean", *value);
  }
  return value->get<bool>();
}

// Calls read(element, elementPath) for each element of the array `name`.
template <class ReadElement>
void forEachElement(const json& object, std::string_view name, const Path& path,
                    ReadElement&& read) {
  const json* value = member(object, name);
  if (!value) {
    return;
  }
  const Path array_path = path.child(name);
  if (!value->is_array()) {
    wrongType(array_path, "array", *value);
  }
  for (size_t i = 0; i < value->size(); ++i) {
    read((*value)[i], array_path.index(i));
  }
}

std::vector<std::string> stringListField(const json& object, std::string_view name,
                                         const Path& path) {
  std::vector<std::string> strings;
  forEachElement(object, name, path, [&](const json& element, const Path& element_path) {
    strings.push_back(readString(element, element_path));
  });
  return strings;
}

Labels stringMapField(const json& object, std::string_view name, const Path& path) {
  Labels map;
  const json* value = member(object, name);
  if (!value) {
    return map;
  }
  const Path map_path = path.child(name);
  requireObject(*value, map_path);
  for (const auto& [key, entry] : value->items()) {
    // A null value decodes to "" for map[string]string, as Go's decoder does.
    map.emplace(key, entry.is_null() ? std::string() : readString(entry, map_path.key(key)));
  }
  return map;
}

const json* objectField(const json& object, std::string_view name, const Path& path) {
  const json* value = member(object, name);
  if (value) {
    requireObject(*value, path.child(name));
  }
  return value;
}

ObjectMeta readObjectMeta(const json& metadata, const Path& path) {
  requireObject(metadata, path);
  ObjectMeta meta;
  meta.name = stringField(metadata, "name", path);
  meta.generate_name = stringField(metadata, "generateName", path);
  meta.namespace_name = stringField(metadata, "namespace", path);
  meta.uid = stringField(metadata, "uid", path);
  meta.resource_version = stringField(metadata, "resourceVersion", path);
  meta.labels = stringMapField(metadata, "labels", path);
  meta.annotations = stringMapField(metadata, "annotations", path);
  return meta;
}

ObjectMeta readMetadataOf(const json& object) {
  const json* metadata = objectField(object, "metadata", Path());
  return metadata ? readObjectMeta(*metadata, Path("metadata")) : ObjectMeta{};
}

LabelSelector readLabelSelector(const json& selector, const Path& path) {
  requireObject(selector, path);
  LabelSelector result;
  result.match_labels = stringMapField(selector, "matchLabels", path);
  forEachElement(selector, "matchExpressions", path,
                 [&](const json& element, const Path& element_path) {
                   requireObject(element, element_path);
                   result.match_expressions.push_back(LabelSelectorRequirement{
                       .key = stringField(element, "key", element_path),
                       .op = stringField(element, "operator", element_path),
                       .values = stringListField(element, "values", element_path),
                   });
                 });
  return result;
}

std::optional<LabelSelector> optionalSelectorField(const json& object, std::string_view name,
                                                   const Path& path) {
  const json* value = member(object, name);
  if (!value) {
    return std::nullopt;
  }
  return readLabelSelector(*value, path.child(name));
}

std::vector<Container> readContainers(const json& spec, std::string_view name, const Path& path) {
  std::vector<Container> containers;
  forEachElement(spec, name, path, [&](const json& element, const Path& container_path) {
    requireObject(element, container_path);
    Container container;
    container.name = stringField(element, "name", container_path);
    forEachElement(element, "ports", container_path, [&](const json& port, const Path& port_path) {
      requireObject(port, port_path);
      container.ports.push_back(ContainerPort{
          .name = stringField(port, "name", port_path),
          .container_port = optionalInt32Field(port, "containerPort", port_path).value_or(0),
          .protocol = stringField(port, "protocol", port_path),
      });
    });
    containers.push_back(std::move(container));
  });
  return containers;
}

std::vector<std::string> podIPList(const json& status, std::string_view name, const Path& path) {
  std::vector<std::string> ips;
  forEachElement(status, name, path, [&](const json& element, const Path& element_path) {
    requireObject(element, element_path);
    ips.push_back(stringField(element, "ip", element_path));
  });
  return ips;
}

NetworkPolicyPort readPolicyPort(const json& port, const Path& path) {
  requireObject(port, path);
  NetworkPolicyPort result;
  result.protocol = optionalStringField(port, "protocol", path);
  if (const json* value = member(port, "port")) {
    if (value->is_string()) {
      result.port = value->get<std::string>();
    } else if (value->is_number_integer() || value->is_number_unsigned()) {
      result.port = readInt32(*value, path.child("port"));
    } else {
      wrongType(path.child("port"), "integer or string", *value);
    }
  }
  result.end_port = optionalInt32Field(port, "endPort", path);
  return result;
}

NetworkPolicyPeer readPolicyPeer(const json& peer, const Path& path) {
  requireObject(peer, path);
  NetworkPolicyPeer result;
  result.pod_selector = optionalSelectorField(peer, "podSelector", path);
  result.namespace_selector = optionalSelectorField(peer, "namespaceSelector", path);
  if (const json* block = objectField(peer, "ipBlock", path)) {
    const Path block_path = path.child("ipBlock");
    result.ip_block = IPBlock{
        .cidr = stringField(*block, "cidr", block_path),
        .except = stringListField(*block, "except", block_path),
    };
  }
  return result;
}

std::vector<NetworkPolicyRule> readPolicyRules(const json& spec, std::string_view name,
                                               std::string_view peers_name, const Path& path) {
  std::vector<NetworkPolicyRule> rules;
  forEachElement(spec, name, path, [&](const json& element, const Path& rule_path) {
    requireObject(element, rule_path);
    NetworkPolicyRule rule;
    forEachElement(element, "ports", rule_path, [&](const json& port, const Path& port_path) {
      rule.ports.push_back(readPolicyPort(port, port_path));
    });
    forEachElement(element, peers_name, rule_path, [&](const json& peer, const Path& peer_path) {
      rule.peers.push_back(readPolicyPeer(peer, peer_path));
    });
    rules.push_back(std::move(rule));
  });
  return rules;
}

Namespace readNamespace(const json& object) {
  requireObject(object, Path());
  Namespace ns;
  ns.metadata = readMetadataOf(object);
  if (const json* status = objectField(object, "status", Path())) {
    ns.phase = stringField(*status, "phase", Path("status"));
  }
  return ns;
}

Pod readPod(const json& object) {
  requireObject(object, Path());
  Pod pod;
  pod.metadata = readMetadataOf(object);
  if (const json* spec = objectField(object, "spec", Path())) {
    const Path path("spec");
    pod.containers = readContainers(*spec, "containers", path);
    pod.init_containers = readContainers(*spec, "initContainers", path);
    pod.host_network = boolField(*spec, "hostNetwork", path);
    pod.node_name = stringField(*spec, "nodeName", path);
  }
  if (const json* status = objectField(object, "status", Path())) {
    const Path path("status");
    pod.phase = stringField(*status, "phase", path);
    pod.pod_ip = stringField(*status, "podIP", path);
    pod.pod_ips = podIPList(*status, "podIPs", path);
    pod.host_ip = stringField(*status, "hostIP", path);
    pod.host_ips = podIPList(*status, "hostIPs", path);
  }
  return pod;
}

NetworkPolicy readNetworkPolicy(const json& object) {
  requireObject(object, Path());
  NetworkPolicy policy;
  policy.metadata = readMetadataOf(object);
  if (const json* spec = objectField(object, "spec", Path())) {
    const Path path("spec");
    if (const json* selector = member(*spec, "podSelector")) {
      policy.spec.pod_selector = readLabelSelector(*selector, path.child("podSelector"));
    }
    policy.spec.ingress = readPolicyRules(*spec, "ingress", "from", path);
    policy.spec.egress = readPolicyRules(*spec, "egress", "to", path);
    policy.spec.policy_types = stringListField(*spec, "policyTypes", path);
  }
  return policy;
}

template <class Read>
auto decodeWith(Read&& read) -> Decoded<decltype(read())> {
  try {
    return read();
  } catch (const DecodeFailure& failure) {
    return std::unexpected(failure.error);
  }
}

// --- encoding ---------------------------------------------------------------

json encodeStringMap(const Labels& map) {
  json object = json::object();
  for (const auto& [key, value] : map) {
    object[key] = value;
  }
  return object;
}

json encodeMeta(const ObjectMeta& meta) {
  json out = json::object();
  if (!meta.name.empty()) {
    out["name"] = meta.name;
  }
  if (!meta.generate_name.empty()) {
    out["generateName"] = meta.generate_name;
  }
  if (!meta.namespace_name.empty()) {
    out["namespace"] = meta.namespace_name;
  }
  if (!meta.uid.empty()) {
    out["uid"] = meta.uid;
  }
  if (!meta.resource_version.empty()) {
    out["resourceVersion"] = meta.resource_version;
  }
  if (!meta.labels.empty()) {
    out["labels"] = encodeStringMap(meta.labels);
  }
  if (!meta.annotations.empty()) {
    out["annotations"] = encodeStringMap(meta.annotations);
  }
  return out;
}

json encodeContainers(const std::vector<Container>& containers) {
  json out = json::array();
  for (const Container& container : containers) {
    json entry = {{"name", container.name}};
    if (!container.ports.empty()) {
      json ports = json::array();
      for (const ContainerPort& port : container.ports) {
        json p = json::object();
        if (!port.name.empty()) {
          p["name"] = port.name;
        }
        p["containerPort"] = port.container_port;
        if (!port.protocol.empty()) {
          p["protocol"] = port.protocol;
        }
        ports.push_back(std::move(p));
      }
      entry["ports"] = std::move(ports);
    }
    out.push_back(std::move(entry));
  }
  return out;
}

json encodeIPList(const std::vector<std::string>& ips) {
  json out = json::array();
  for (const std::string& ip : ips) {
    out.push_back({{"ip", ip}});
  }
  return out;
}

json encodeRules(const std::vector<NetworkPolicyRule>& rules, std::string_view peers_name) {
  json out = json::array();
  for (const NetworkPolicyRule& rule : rules) {
    json entry = json::object();
    if (!rule.ports.empty()) {
      json ports = json::array();
      for (const NetworkPolicyPort& port : rule.ports) {
        json p = json::object();
        if (port.protocol) {
          p["protocol"] = *port.protocol;
        }
        if (port.port) {
          std::visit([&](const auto& value) { p["port"] = value; }, *port.port);
        }
        if (port.end_port) {
          p["endPort"] = *port.end_port;
        }
        ports.push_back(std::move(p));
      }
      entry["ports"] = std::move(ports);
    }
    if (!rule.peers.empty()) {
      json peers = json::array();
      for (const NetworkPolicyPeer& peer : rule.peers) {
        json p = json::object();
        if (peer.pod_selector) {
          p["podSelector"] = encodeLabelSelector(*peer.pod_selector);
        }
        if (peer.namespace_selector) {
          p["namespaceSelector"] = encodeLabelSelector(*peer.namespace_selector);
        }
        if (peer.ip_block) {
          json block = {{"cidr", peer.ip_block->cidr}};
          if (!peer.ip_block->except.empty()) {
            block["except"] = peer.ip_block->except;
          }
          p["ipBlock"] = std::move(block);
        }
        peers.push_back(std::move(p));
      }
      entry[std::string(peers_name)] = std::move(peers);
    }
    out.push_back(std::move(entry));
  }
  return out;
}

}  // namespace

std::string_view jsonTypeName(const json& value) {
  switch (value.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return "boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "integer";
    case json::value_t::number_float:
      return "number";
    case json::value_t::string:
      return "string";
    case json::value_t::array:
      return "array";
    case json::value_t::object:
      return "object";
    default:
      return "binary";
  }
}

Decoded<ObjectMeta> decodeObjectMeta(const json& metadata) {
  return decodeWith([&] { return readObjectMeta(metadata, Path("metadata")); });
}
Decoded<Namespace> decodeNamespace(const json& object) {
  return decodeWith([&] { return readNamespace(object); });
}
Decoded<Pod> decodePod(const json& object) {
  return decodeWith([&] { return readPod(object); });
}
Decoded<NetworkPolicy> decodeNetworkPolicy(const json& object) {
  return decodeWith([&] { return readNetworkPolicy(object); });
}
Decoded<LabelSelector> decodeLabelSelector(const json& selector) {
  return decodeWith([&] { return readLabelSelector(selector, Path()); });
}

json encodeLabelSelector(const LabelSelector& selector) {
  json out = json::object();
  if (!selector.match_labels.empty()) {
    out["matchLabels"] = encodeStringMap(selector.match_labels);
  }
  if (!selector.match_expressions.empty()) {
    json expressions = json::array();
    for (const LabelSelectorRequirement& requirement : selector.match_expressions) {
      json entry = {{"key", requirement.key}, {"operator", requirement.op}};
      if (!requirement.values.empty()) {
        entry["values"] = requirement.values;
      }
      expressions.push_back(std::move(entry));
    }
    out["matchExpressions"] = std::move(expressions);
  }
  return out;
}

json encodeNamespace(const Namespace& ns) {
  json out = {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", encodeMeta(ns.metadata)}};
  if (!ns.phase.empty()) {
    out["status"] = {{"phase", ns.phase}};
  }
  return out;
}

json encodePod(const Pod& pod) {
  json out = {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", encodeMeta(pod.metadata)}};
  json spec = {{"containers", encodeContainers(pod.containers)}};
  if (!pod.init_containers.empty()) {
    spec["initContainers"] = encodeContainers(pod.init_containers);
  }
  if (pod.host_network) {
    spec["hostNetwork"] = true;
  }
  if (!pod.node_name.empty()) {
    spec["nodeName"] = pod.node_name;
  }
  out["spec"] = std::move(spec);
  json status = json::object();
  if (!pod.phase.empty()) {
    status["phase"] = pod.phase;
  }
  if (!pod.host_ip.empty()) {
    status["hostIP"] = pod.host_ip;
  }
  if (!pod.host_ips.empty()) {
    status["hostIPs"] = encodeIPList(pod.host_ips);
  }
  if (!pod.pod_ip.empty()) {
    status["podIP"] = pod.pod_ip;
  }
  if (!pod.pod_ips.empty()) {
    status["podIPs"] = encodeIPList(pod.pod_ips);
  }
  if (!status.empty()) {
    out["status"] = std::move(status);
  }
  return out;
}

json encodeNetworkPolicy(const NetworkPolicy& policy) {
  json spec = {{"podSelector", encodeLabelSelector(policy.spec.pod_selector)}};
  if (!policy.spec.ingress.empty()) {
    spec["ingress"] = encodeRules(policy.spec.ingress, "from");
  }
  if (!policy.spec.egress.empty()) {
    spec["egress"] = encodeRules(policy.spec.egress, "to");
  }
  if (!policy.spec.policy_types.empty()) {
    spec["policyTypes"] = policy.spec.policy_types;
  }
  return {{"apiVersion", "networking.k8s.io/v1"},
          {"kind", "NetworkPolicy"},
          {"metadata", encodeMeta(policy.metadata)},
          {"spec", std::move(spec)}};
}

}  // namespace palisade::policy
