#include "policy/manifest.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <regex>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "policy/json_codec.h"

namespace palisade::policy {
namespace {

using nlohmann::json;

// --- YAML to JSON -----------------------------------------------------------
// kubectl converts YAML to JSON with sigs.k8s.io/yaml, which types plain
// (unquoted) scalars by the YAML 1.1 rules of go-yaml v2. Quoted and block
// scalars are always strings.

bool isYamlNull(const std::string& s) {
  return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}

std::optional<bool> yamlBool(const std::string& s) {
  static const char* const kTrue[] = {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE",
                                      "on", "On", "ON"};
  static const char* const kFalse[] = {"n", "N", "no", "No", "NO", "false", "False", "FALSE",
                                       "off", "Off", "OFF"};
  for (const char* word : kTrue) {
    if (s == word) {
      return true;
    }
  }
  for (const char* word : kFalse) {
    if (s == word) {
      return false;
    }
  }
  return std::nullopt;
}

// Go's strconv.ParseInt(s, 0, 64) after go-yaml removed underscores: an
// optional sign, then 0x/0o/0b prefixes or a leading 0 for octal.
std::optional<int64_t> yamlInt(std::string s) {
  std::erase(s, '_');
  if (s.empty()) {
    return std::nullopt;
  }
  bool negative = false;
  size_t pos = 0;
  if (s[0] == '+' || s[0] == '-') {
    negative = s[0] == '-';
    pos = 1;
  }
  int base = 10;
  std::string_view digits(s);
  digits.remove_prefix(pos);
  if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) {
    base = 16;
    digits.remove_prefix(2);
  } else if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'o' || digits[1] == 'O')) {
    base = 8;
    digits.remove_prefix(2);
  } else if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'b' || digits[1] == 'B')) {
    base = 2;
    digits.remove_prefix(2);
  } else if (digits.size() > 1 && digits[0] == '0') {
    base = 8;
    digits.remove_prefix(1);
  }
  if (digits.empty()) {
    return std::nullopt;
  }
  uint64_t magnitude = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), magnitude, base);
  if (ec != std::errc() || end != digits.data() + digits.size()) {
    return std::nullopt;
  }
  if (negative) {
    if (magnitude > uint64_t(std::numeric_limits<int64_t>::max()) + 1) {
      return std::nullopt;
    }
    return magnitude == uint64_t(std::numeric_limits<int64_t>::max()) + 1
               ? std::numeric_limits<int64_t>::min()
               : -static_cast<int64_t>(magnitude);
  }
  if (magnitude > uint64_t(std::numeric_limits<int64_t>::max())) {
    return std::nullopt;
  }
  return static_cast<int64_t>(magnitude);
}

std::optional<double> yamlFloat(const std::string& s) {
  static const std::regex kFloat(R"([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?)");
  if (s == ".inf" || s == ".Inf" || s == ".INF" || s == "+.inf" || s == "+.Inf" || s == "+.INF") {
    return std::numeric_limits<double>::infinity();
  }
  if (s == "-.inf" || s == "-.Inf" || s == "-.INF") {
    return -std::numeric_limits<double>::infinity();
  }
  if (s == ".nan" || s == ".NaN" || s == ".NAN") {
    return std::numeric_limits<double>::quiet_NaN();
  }
  std::string plain = s;
  std::erase(plain, '_');
  if (!std::regex_match(plain, kFloat)) {
    return std::nullopt;
  }
  return std::stod(plain);
}

json plainScalarToJson(const std::string& s) {
  if (isYamlNull(s)) {
    return nullptr;
  }
  if (auto b = yamlBool(s)) {
    return *b;
  }
  if (auto i = yamlInt(s)) {
    return *i;
  }
  if (auto f = yamlFloat(s)) {
    // JSON has no infinities or NaN; such a value can only be a type error
    // later, so keep its text for the message.
    if (std::isfinite(*f)) {
      return *f;
    }
  }
  return s;
}

json yamlToJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      return nullptr;
    case YAML::NodeType::Scalar: {
      const std::string& tag = node.Tag();
      // "!" marks quoted and block scalars; an explicit !!str tag is a string too.
      if (tag == "!" || tag == "tag:yaml.org,2002:str") {
        return node.Scalar();
      }
      return plainScalarToJson(node.Scalar());
    }
    case YAML::NodeType::Sequence: {
      json array = json::array();
      for (const YAML::Node& element : node) {
        array.push_back(yamlToJson(element));
      }
      return array;
    }
    case YAML::NodeType::Map: {
      json object = json::object();
      for (const auto& entry : node) {
        // JSON keys are strings: sigs.k8s.io/yaml writes `80: x` as "80".
        object[entry.first.Scalar()] = yamlToJson(entry.second);
      }
      return object;
    }
  }
  return nullptr;
}

// A piece of a YAML stream between `---` separators, with the line it starts on
// so that parser messages point into the original file.
struct YamlChunk {
  std::string text;
  int first_line = 0;  // 0-based
};

bool isDocumentSeparator(std::string_view line) {
  if (!line.starts_with("---")) {
    return false;
  }
  return line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r';
}

bool isDocumentEnd(std::string_view line) {
  return line == "..." || line == "...\r" || line.starts_with("... ");
}

// Splitting before parsing lets one malformed document be reported without
// losing the others, which yaml-cpp's LoadAll cannot do.
std::vector<YamlChunk> splitYamlStream(std::string_view text) {
  std::vector<YamlChunk> chunks(1);
  int line_number = 0;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    const std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    if (isDocumentSeparator(line)) {
      chunks.push_back(YamlChunk{.text = std::string(line.substr(3)) + "\n",
                                 .first_line = line_number});
    } else if (isDocumentEnd(line)) {
      chunks.push_back(YamlChunk{.text = "", .first_line = line_number + 1});
    } else {
      chunks.back().text.append(line).append("\n");
    }
    ++line_number;
  }
  return chunks;
}

// --- objects ----------------------------------------------------------------

std::string stringMember(const json& object, std::string_view name) {
  auto it = object.find(name);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Best-effort identity of an object that failed to decode, for the message.
std::string describeObject(const json& document) {
  if (!document.is_object()) {
    return "";
  }
  ObjectMeta meta;
  if (auto m = document.find("metadata"); m != document.end() && m->is_object()) {
    meta.name = stringMember(*m, "name");
    meta.generate_name = stringMember(*m, "generateName");
    meta.namespace_name = stringMember(*m, "namespace");
  }
  const std::string kind = stringMember(document, "kind");
  return kind.empty() ? "" : objectName(kind, meta);
}

bool isListKind(const json& document, const std::string& kind) {
  return kind.ends_with("List") && document.contains("items");
}

class ManifestBuilder {
 public:
  explicit ManifestBuilder(std::string_view source) : source_(source) {}

  void addDocument(const json& document, int index) {
    if (document.is_null()) {
      return;
    }
    addObject(document, DocumentRef{.source = source_, .index = index, .item_path = ""});
  }

  void addError(int index, std::string message) {
    manifest_.errors.push_back(ManifestError{
        .document = DocumentRef{.source = source_, .index = index, .item_path = ""},
        .object = "",
        .field_path = "",
        .message = std::move(message),
    });
  }

  Manifest take() { return std::move(manifest_); }

 private:
  void addObject(const json& document, DocumentRef where) {
    if (!document.is_object()) {
      addFieldError(where, "", "", std::string("expected a Kubernetes object, got ") +
                                       std::string(document.type_name()));
      return;
    }
    const std::string api_version = stringMember(document, "apiVersion");
    const std::string kind = stringMember(document, "kind");
    if (kind.empty()) {
      addFieldError(where, describeObject(document), "kind", "is required");
      return;
    }
    if (isListKind(document, kind)) {
      addListItems(document, where);
      return;
    }
    if (kind == "Namespace" && api_version == "v1") {
      addDecoded(where, api_version, kind, document, decodeNamespace(document));
    } else if (kind == "Pod" && api_version == "v1") {
      addDecoded(where, api_version, kind, document, decodePod(document));
    } else if (kind == "NetworkPolicy" && api_version == "networking.k8s.io/v1") {
      addDecoded(where, api_version, kind, document, decodeNetworkPolicy(document));
    } else {
      auto metadata = document.find("metadata");
      Decoded<ObjectMeta> meta = metadata == document.end() || metadata->is_null()
                                     ? Decoded<ObjectMeta>(ObjectMeta{})
                                     : decodeObjectMeta(*metadata);
      if (!meta) {
        addFieldError(where, describeObject(document), meta.error().field_path,
                      meta.error().message);
        return;
      }
      manifest_.objects.push_back(
          ManifestObject{where, api_version, kind, OtherObject{std::move(*meta)}});
    }
  }

  void addListItems(const json& list, const DocumentRef& where) {
    const json& items = list["items"];
    if (items.is_null()) {
      return;
    }
    if (!items.is_array()) {
      addFieldError(where, "", "items",
                    std::string("expected array, got ") + std::string(items.type_name()));
      return;
    }
    for (size_t i = 0; i < items.size(); ++i) {
      DocumentRef item = where;
      item.item_path = where.item_path + "items[" + std::to_string(i) + "]";
      addObject(items[i], item);
    }
  }

  template <class T>
  void addDecoded(const DocumentRef& where, const std::string& api_version,
                  const std::string& kind, const json& document, Decoded<T> decoded) {
    if (!decoded) {
      addFieldError(where, describeObject(document), decoded.error().field_path,
                    decoded.error().message);
      return;
    }
    manifest_.objects.push_back(ManifestObject{where, api_version, kind, std::move(*decoded)});
  }

  void addFieldError(const DocumentRef& where, std::string object, std::string path,
                     std::string message) {
    manifest_.errors.push_back(ManifestError{where, std::move(object), std::move(path),
                                             std::move(message)});
  }

  std::string source_;
  Manifest manifest_;
};

bool looksLikeJson(std::string_view text) {
  const size_t first = text.find_first_not_of(" \t\r\n");
  return first != std::string_view::npos && (text[first] == '{' || text[first] == '[');
}

void readJson(std::string_view text, ManifestBuilder& builder) {
  json document;
  try {
    document = json::parse(text);
  } catch (const json::parse_error& e) {
    builder.addError(0, std::string("invalid JSON: ") + e.what());
    return;
  }
  if (document.is_array()) {
    for (size_t i = 0; i < document.size(); ++i) {
      builder.addDocument(document[i], static_cast<int>(i));
    }
  } else {
    builder.addDocument(document, 0);
  }
}

void readYaml(std::string_view text, ManifestBuilder& builder) {
  int index = 0;
  for (const YamlChunk& chunk : splitYamlStream(text)) {
    YAML::Node node;
    try {
      node = YAML::Load(chunk.text);
    } catch (const YAML::Exception& e) {
      builder.addError(index++, "invalid YAML at line " +
                                    std::to_string(chunk.first_line + e.mark.line + 1) +
                                    ", column " + std::to_string(e.mark.column + 1) + ": " +
                                    e.msg);
      continue;
    }
    if (node.IsNull() || !node.IsDefined()) {
      continue;  // empty document: only comments or whitespace
    }
    builder.addDocument(yamlToJson(node), index++);
  }
}

}  // namespace

std::string toString(const DocumentRef& document) {
  std::string out = document.source + ":" + std::to_string(document.index);
  if (!document.item_path.empty()) {
    out += ":" + document.item_path;
  }
  return out;
}

const ObjectMeta& ManifestObject::metadata() const {
  return std::visit([](const auto& o) -> const ObjectMeta& { return o.metadata; }, object);
}

std::string objectName(std::string_view kind, const ObjectMeta& metadata) {
  std::string out(kind);
  if (!metadata.namespace_name.empty()) {
    out += "/" + metadata.namespace_name;
  }
  if (!metadata.name.empty()) {
    out += "/" + metadata.name;
  } else if (!metadata.generate_name.empty()) {
    out += "/" + metadata.generate_name + "*";
  }
  return out;
}

std::string toString(const ManifestError& error) {
  std::string out = toString(error.document) + ": ";
  if (!error.object.empty()) {
    out += error.object + ": ";
  }
  if (!error.field_path.empty()) {
    out += error.field_path + ": ";
  }
  return out + error.message;
}

ClusterState clusterStateOf(const Manifest& manifest) {
  ClusterState state;
  for (const ManifestObject& object : manifest.objects) {
    if (const auto* ns = std::get_if<Namespace>(&object.object)) {
      state.namespaces.push_back(*ns);
    } else if (const auto* pod = std::get_if<Pod>(&object.object)) {
      state.pods.push_back(*pod);
    } else if (const auto* policy = std::get_if<NetworkPolicy>(&object.object)) {
      state.policies.push_back(*policy);
    }
  }
  return state;
}

Manifest readManifest(std::string_view text, std::string_view source) {
  ManifestBuilder builder(source);
  if (looksLikeJson(text)) {
    readJson(text, builder);
  } else {
    readYaml(text, builder);
  }
  return builder.take();
}

}  // namespace palisade::policy
