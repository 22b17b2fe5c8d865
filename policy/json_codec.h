#pragma once

// Conversion between the Kubernetes JSON representation and the object model.
// Decoding follows the apiserver's decoder: unknown fields are ignored, null
// is the same as absent, and a value of the wrong type is an error that names
// the field path and what was expected.

#include <expected>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "policy/objects.h"

namespace palisade::policy {

struct DecodeError {
  std::string field_path;  // "spec.ingress[0].ports[1].port"; empty for the object itself
  std::string message;     // "expected integer or string, got boolean"
};

template <class T>
using Decoded = std::expected<T, DecodeError>;

Decoded<ObjectMeta> decodeObjectMeta(const nlohmann::json& metadata);
Decoded<Namespace> decodeNamespace(const nlohmann::json& object);
Decoded<Pod> decodePod(const nlohmann::json& object);
Decoded<NetworkPolicy> decodeNetworkPolicy(const nlohmann::json& object);
Decoded<LabelSelector> decodeLabelSelector(const nlohmann::json& selector);

// The JSON type of a value as error messages name it: "string", "integer",
// "number", "boolean", "array", "object", "null".
std::string_view jsonTypeName(const nlohmann::json& value);

// Full objects with apiVersion and kind; empty and absent fields are omitted.
nlohmann::json encodeNamespace(const Namespace& ns);
nlohmann::json encodePod(const Pod& pod);
nlohmann::json encodeNetworkPolicy(const NetworkPolicy& policy);
nlohmann::json encodeLabelSelector(const LabelSelector& selector);

}  // namespace palisade::policy
