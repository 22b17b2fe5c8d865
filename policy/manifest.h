#pragma once

// Streams of Kubernetes manifests: YAML documents separated by `---`, a JSON
// object or array, and `List` kinds (v1 List, PodList, ...) whose items are
// objects in their own right. Nothing here touches the filesystem: callers
// pass the text and a name to report it under.

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "policy/objects.h"

namespace palisade::policy {

// Where an object came from, for messages: source "examples/web.yaml",
// document 2 (0-based, counting non-empty documents), and for an item of a
// List the item's path ("items[3]").
struct DocumentRef {
  std::string source;
  int index = 0;
  std::string item_path;
};

// "examples/web.yaml:2" or "examples/web.yaml:2:items[3]".
std::string toString(const DocumentRef& document);

// An object of a kind Palisade does not model (a Service, a Deployment): it is
// kept so that tools can count it, but nothing checks it.
struct OtherObject {
  ObjectMeta metadata;
};

struct ManifestObject {
  DocumentRef document;
  std::string api_version;
  std::string kind;
  std::variant<Namespace, Pod, NetworkPolicy, OtherObject> object;

  const ObjectMeta& metadata() const;
};

// "Pod/team-a/web", "Namespace/team-a", "NetworkPolicy/team-a/(generateName deny-)".
std::string objectName(std::string_view kind, const ObjectMeta& metadata);

struct ManifestError {
  DocumentRef document;
  std::string object;      // objectName() as far as it is known, or empty
  std::string field_path;  // empty when the error is about the document
  std::string message;
};

// "file:doc: Kind/ns/name: field.path: message", leaving out what is unknown.
std::string toString(const ManifestError& error);

// Every object that could be read, and an error for every document that could
// not: one bad document does not hide the others.
struct Manifest {
  std::vector<ManifestObject> objects;
  std::vector<ManifestError> errors;
};

// Reads a YAML stream or JSON text. YAML scalars are typed the way kubectl's
// YAML decoder types them (YAML 1.1: `yes` is a boolean, `80` an integer,
// `"80"` a string), so a label value written as a bare number is an error here
// exactly as it is for kubectl.
Manifest readManifest(std::string_view text, std::string_view source);

// The namespaces, pods and policies of a manifest, in the order read. Objects
// of other kinds are left out.
ClusterState clusterStateOf(const Manifest& manifest);

}  // namespace palisade::policy
