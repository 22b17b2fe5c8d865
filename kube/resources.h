#pragma once

// The API resources Palisade uses, how their URLs are built, and how their
// JSON becomes the policy:: object model. A cache keeps the decoded objects,
// trimmed to what Palisade reads, not the apiserver's JSON: at 100,000 pods
// the difference is gigabytes.

#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "policy/json_codec.h"
#include "policy/objects.h"

namespace palisade::kube {

// A resource by group/version/resource, as it appears in URLs.
struct ResourceType {
  std::string group;     // "" for the core group
  std::string version;   // "v1"
  std::string resource;  // the lowercase plural: "networkpolicies"
  bool namespaced = true;
  std::string kind;      // "NetworkPolicy"

  // "networkpolicies.networking.k8s.io", "pods" (the core group has no suffix).
  std::string qualifiedName() const;
};

inline const ResourceType kNamespaces{"", "v1", "namespaces", false, "Namespace"};
inline const ResourceType kPods{"", "v1", "pods", true, "Pod"};
inline const ResourceType kNetworkPolicies{"networking.k8s.io", "v1", "networkpolicies", true,
                                           "NetworkPolicy"};
inline const ResourceType kLeases{"coordination.k8s.io", "v1", "leases", true, "Lease"};

// The URL path of a collection or of one object, without the server's path
// prefix: "/api/v1/namespaces/a/pods/b", "/apis/networking.k8s.io/v1/
// networkpolicies" (a namespaced collection across all namespaces when
// `namespace_name` is empty), "/api/v1/namespaces/a" (a cluster-scoped object
// ignores `namespace_name`). Segments are percent-encoded.
std::string resourcePath(const ResourceType& type, std::string_view namespace_name,
                         std::string_view name = {});

// Percent-encodes everything but RFC 3986's unreserved characters: for query
// values such as label selectors ("app in (a,b)").
std::string percentEncode(std::string_view text);

// "namespace/name", or "name" for a cluster-scoped object: how caches key
// objects, as client-go's MetaNamespaceKeyFunc does.
std::string objectKey(std::string_view namespace_name, std::string_view name);

// What the typed API and the caches know about each object-model type.
template <class T>
struct ResourceTraits;

template <>
struct ResourceTraits<policy::Namespace> {
  static const ResourceType& type() { return kNamespaces; }
  static policy::Decoded<policy::Namespace> decode(const nlohmann::json& object);
  // Drops what Palisade never reads (see resources.cpp).
  static void trim(policy::Namespace& object);
};

template <>
struct ResourceTraits<policy::Pod> {
  static const ResourceType& type() { return kPods; }
  static policy::Decoded<policy::Pod> decode(const nlohmann::json& object);
  static void trim(policy::Pod& object);
};

template <>
struct ResourceTraits<policy::NetworkPolicy> {
  static const ResourceType& type() { return kNetworkPolicies; }
  static policy::Decoded<policy::NetworkPolicy> decode(const nlohmann::json& object);
  static void trim(policy::NetworkPolicy& object);
};

}  // namespace palisade::kube
