#include "kube/resources.h"

#include <nlohmann/json.hpp>

namespace palisade::kube {
namespace {

// kubectl's record of the last applied manifest: a second copy of the whole
// object, often the largest thing in it.
constexpr std::string_view kLastAppliedAnnotation =
    "kubectl.kubernetes.io/last-applied-configuration";

void dropLastApplied(policy::ObjectMeta& metadata) {
  if (const auto it = metadata.annotations.find(kLastAppliedAnnotation);
      it != metadata.annotations.end()) {
    metadata.annotations.erase(it);
  }
}

}  // namespace

std::string ResourceType::qualifiedName() const {
  return group.empty() ? resource : resource + "." + group;
}

std::string percentEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if ((byte >= 'a' && byte <= 'z') || (byte >= 'A' && byte <= 'Z') ||
        (byte >= '0' && byte <= '9') || byte == '-' || byte == '.' || byte == '_' || byte == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0xf]);
    }
  }
  return out;
}

std::string resourcePath(const ResourceType& type, std::string_view namespace_name,
                         std::string_view name) {
  std::string path = type.group.empty() ? "/api/" + type.version
                                        : "/apis/" + type.group + "/" + type.version;
  if (type.namespaced && !namespace_name.empty()) {
    path += "/namespaces/" + percentEncode(namespace_name);
  }
  path += "/" + type.resource;
  if (!name.empty()) {
    path += "/" + percentEncode(name);
  }
  return path;
}

std::string objectKey(std::string_view namespace_name, std::string_view name) {
  if (namespace_name.empty()) {
    return std::string(name);
  }
  std::string key;
  key.reserve(namespace_name.size() + 1 + name.size());
  key.append(namespace_name).append("/").append(name);
  return key;
}

policy::Decoded<policy::Namespace> ResourceTraits<policy::Namespace>::decode(
    const nlohmann::json& object) {
  return policy::decodeNamespace(object);
}

// Namespace labels are what selectors match; annotations stay for the
// webhook's per-namespace settings.
void ResourceTraits<policy::Namespace>::trim(policy::Namespace& object) {
  dropLastApplied(object.metadata);
  object.metadata.generate_name.clear();
}

policy::Decoded<policy::Pod> ResourceTraits<policy::Pod>::decode(const nlohmann::json& object) {
  return policy::decodePod(object);
}

// Nothing in Palisade reads a pod's annotations, and pods are the many:
// the decoded model already leaves out everything but identity, labels,
// ports, node, network mode, phase and addresses.
void ResourceTraits<policy::Pod>::trim(policy::Pod& object) {
  object.metadata.annotations.clear();
  object.metadata.generate_name.clear();
}

policy::Decoded<policy::NetworkPolicy> ResourceTraits<policy::NetworkPolicy>::decode(
    const nlohmann::json& object) {
  return policy::decodeNetworkPolicy(object);
}

void ResourceTraits<policy::NetworkPolicy>::trim(policy::NetworkPolicy& object) {
  dropLastApplied(object.metadata);
  object.metadata.generate_name.clear();
}

}  // namespace palisade::kube
