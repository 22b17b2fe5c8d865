#include "server/admission/review.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <optional>
#include <utility>

#include <simdjson.h>

#include "server/json_text.h"

namespace palisade::server {
namespace {

using nlohmann::json;

// The apiserver shows at most this many characters of a warning ("Limit
// warnings to 120 characters if possible", AdmissionResponse.warnings in
// k8s.io/api/admission/v1). Counted in bytes, which is never more generous than
// counting characters.
constexpr size_t kMaxWarningBytes = 120;
constexpr std::string_view kEllipsis = "\xE2\x80\xA6";  // U+2026 "…", 3 bytes in UTF-8

// Deeper documents are refused by the parser: copying, diffing and dumping a
// json value recurse once per level, and a body of 8 MiB of '[' would
// otherwise exhaust a worker's stack. Kubernetes objects are nowhere near
// this deep.
constexpr size_t kMaxNestingDepth = 512;
// A worker keeps its parser's buffers between requests up to this size; a
// larger review gets a parser of its own, so that one 8 MiB request does not
// pin megabytes in every thread for good.
constexpr size_t kReusedParserCapacity = 256 * 1024;
constexpr size_t kInitialParserCapacity = 16 * 1024;

// Thrown inside this file only and turned into an Error by
// parseAdmissionReview: it keeps the field readers free of error plumbing.
struct ReviewError {
  std::string message;
};

using Element = simdjson::dom::element;
using ElementType = simdjson::dom::element_type;

// The names policy::jsonTypeName gives, so that messages read alike.
std::string_view typeName(Element value) {
  switch (value.type()) {
    case ElementType::OBJECT:
      return "object";
    case ElementType::ARRAY:
      return "array";
    case ElementType::STRING:
      return "string";
    case ElementType::INT64:
    case ElementType::UINT64:
      return "integer";
    case ElementType::DOUBLE:
      return "number";
    case ElementType::BOOL:
      return "boolean";
    case ElementType::NULL_VALUE:
      return "null";
  }
  return "unknown";
}

[[noreturn]] void failAt(std::string_view path, std::string_view message) {
  throw ReviewError{std::string(path) + ": " + std::string(message)};
}

[[noreturn]] void wrongType(std::string_view path, std::string_view expected, Element got) {
  failAt(path, "expected " + std::string(expected) + ", got " + std::string(typeName(got)));
}

std::string childPath(std::string_view parent, std::string_view name) {
  return std::string(parent) + "." + std::string(name);
}

// The member `name` of `object`, or nothing when absent or null: the
// apiserver's decoder treats both alike. Of repeated keys the last wins, as
// with Go's encoding/json.
std::optional<Element> member(Element object, std::string_view name) {
  std::optional<Element> found;
  for (const simdjson::dom::key_value_pair field : simdjson::dom::object(object)) {
    if (field.key == name) {
      found = field.value;
    }
  }
  if (found && found->is_null()) {
    return std::nullopt;
  }
  return found;
}

std::string stringField(Element object, std::string_view name, std::string_view path) {
  const std::optional<Element> value = member(object, name);
  if (!value) {
    return {};
  }
  if (value->type() != ElementType::STRING) {
    wrongType(childPath(path, name), "string", *value);
  }
  return std::string(std::string_view(*value));
}

std::optional<Element> objectField(Element object, std::string_view name, std::string_view path) {
  const std::optional<Element> value = member(object, name);
  if (value && value->type() != ElementType::OBJECT) {
    wrongType(childPath(path, name), "object", *value);
  }
  return value;
}

std::vector<std::string> stringListField(Element object, std::string_view name,
                                         std::string_view path) {
  std::vector<std::string> strings;
  const std::optional<Element> value = member(object, name);
  if (!value) {
    return strings;
  }
  const std::string list_path = childPath(path, name);
  if (value->type() != ElementType::ARRAY) {
    wrongType(list_path, "array of strings", *value);
  }
  size_t i = 0;
  for (const Element element : simdjson::dom::array(*value)) {
    if (element.type() != ElementType::STRING) {
      failAt(list_path, "expected array of strings, element " + std::to_string(i) + " is " +
                            std::string(typeName(element)));
    }
    strings.emplace_back(std::string_view(element));
    ++i;
  }
  return strings;
}

GroupVersionKind readGroupVersionKind(Element object, std::string_view name,
                                      std::string_view path) {
  GroupVersionKind gvk;
  if (const std::optional<Element> value = objectField(object, name, path)) {
    const std::string gvk_path = childPath(path, name);
    gvk.group = stringField(*value, "group", gvk_path);
    gvk.version = stringField(*value, "version", gvk_path);
    gvk.kind = stringField(*value, "kind", gvk_path);
  }
  return gvk;
}

GroupVersionResource readGroupVersionResource(Element object, std::string_view name,
                                              std::string_view path) {
  GroupVersionResource gvr;
  if (const std::optional<Element> value = objectField(object, name, path)) {
    const std::string gvr_path = childPath(path, name);
    gvr.group = stringField(*value, "group", gvr_path);
    gvr.version = stringField(*value, "version", gvr_path);
    gvr.resource = stringField(*value, "resource", gvr_path);
  }
  return gvr;
}

Operation readOperation(Element request) {
  constexpr std::string_view kPath = "request.operation";
  const std::optional<Element> value = member(request, "operation");
  if (!value) {
    failAt(kPath, "required");
  }
  if (value->type() != ElementType::STRING) {
    wrongType(kPath, "string", *value);
  }
  const std::string_view text(*value);
  for (Operation operation :
       {Operation::kCreate, Operation::kUpdate, Operation::kDelete, Operation::kConnect}) {
    if (text == toString(operation)) {
      return operation;
    }
  }
  failAt(kPath, "unsupported value \"" + std::string(text) +
                    "\": expected CREATE, UPDATE, DELETE or CONNECT");
}

// nlohmann/json's own parser reads a few dozen MB/s, which made parsing most
// of an admission's cost; simdjson reads the same text an order of magnitude
// faster, and the DOM the admission logic works on is built from its result.
json toJson(simdjson::dom::element element) {
  switch (element.type()) {
    case simdjson::dom::element_type::OBJECT: {
      json object = json::object();
      for (const simdjson::dom::key_value_pair field : simdjson::dom::object(element)) {
        // Repeated keys: the last one wins, as with Go's encoding/json.
        object[std::string(field.key)] = toJson(field.value);
      }
      return object;
    }
    case simdjson::dom::element_type::ARRAY: {
      json array = json::array();
      for (const simdjson::dom::element value : simdjson::dom::array(element)) {
        array.push_back(toJson(value));
      }
      return array;
    }
    case simdjson::dom::element_type::STRING:
      return std::string(std::string_view(element));
    case simdjson::dom::element_type::INT64:
      return int64_t(element);
    case simdjson::dom::element_type::UINT64:
      return uint64_t(element);
    case simdjson::dom::element_type::DOUBLE:
      return double(element);
    case simdjson::dom::element_type::BOOL:
      return bool(element);
    case simdjson::dom::element_type::NULL_VALUE:
      return nullptr;
  }
  return nullptr;
}

// Which parts of an admitted object are turned into a json value. Building
// that DOM was most of an admission's CPU time, and the apiserver sends parts
// no decision reads: metadata.managedFields (often outweighing the rest), and
// the spec and status of Pods and Namespaces, which the taxonomy never looks at.
enum class ObjectParts { kAll, kMetadataOnly };

ObjectParts partsNeeded(const GroupVersionKind& kind) {
  return kind.group.empty() && (kind.kind == "Pod" || kind.kind == "Namespace")
             ? ObjectParts::kMetadataOnly
             : ObjectParts::kAll;
}

json metadataToJson(simdjson::dom::element metadata) {
  json out = json::object();
  for (const simdjson::dom::key_value_pair field : simdjson::dom::object(metadata)) {
    if (field.key != "managedFields") {
      out[std::string(field.key)] = toJson(field.value);
    }
  }
  return out;
}

// The pod fields a decision may read besides metadata: scalars, cheap to keep.
constexpr std::string_view kKeptPodSpecFields[] = {"hostNetwork", "nodeName"};

json objectToJson(simdjson::dom::element element, ObjectParts parts) {
  if (element.type() != simdjson::dom::element_type::OBJECT) {
    return toJson(element);
  }
  json object = json::object();
  for (const simdjson::dom::key_value_pair field : simdjson::dom::object(element)) {
    if (field.key == "metadata" && field.value.type() == simdjson::dom::element_type::OBJECT) {
      object["metadata"] = metadataToJson(field.value);
    } else if (parts == ObjectParts::kAll || field.key == "apiVersion" || field.key == "kind") {
      object[std::string(field.key)] = toJson(field.value);
    } else if (field.key == "spec" && field.value.type() == simdjson::dom::element_type::OBJECT) {
      json spec = json::object();
      for (std::string_view name : kKeptPodSpecFields) {
        simdjson::dom::element value;
        if (field.value[name].get(value) == simdjson::SUCCESS) {
          spec[std::string(name)] = toJson(value);
        }
      }
      object["spec"] = std::move(spec);
    }
  }
  return object;
}

// request[name], a Pod's or Namespace's cut to what decisions read; null when
// absent.
json admittedObject(Element request, std::string_view name, ObjectParts parts) {
  const std::optional<Element> value = member(request, name);
  if (!value) {
    return nullptr;
  }
  if (value->type() != ElementType::OBJECT) {
    wrongType(childPath("request", name), "object", *value);
  }
  return objectToJson(*value, parts);
}

// The review's apiVersion, once it and its kind say it is an AdmissionReview
// Palisade answers.
std::string readReviewVersion(Element review) {
  if (review.type() != ElementType::OBJECT) {
    throw ReviewError{"request body is not an AdmissionReview: expected a JSON object, got " +
                      std::string(typeName(review))};
  }
  const std::optional<Element> api_version = member(review, "apiVersion");
  if (!api_version || api_version->type() != ElementType::STRING) {
    throw ReviewError{"apiVersion: expected " + std::string(kAdmissionV1) + " or " +
                      std::string(kAdmissionV1beta1)};
  }
  std::string version{std::string_view(*api_version)};
  if (version != kAdmissionV1 && version != kAdmissionV1beta1) {
    throw ReviewError{"apiVersion: unsupported \"" + version + "\": expected " +
                      std::string(kAdmissionV1) + " or " + std::string(kAdmissionV1beta1)};
  }
  const std::optional<Element> kind = member(review, "kind");
  const bool kind_is_string = kind && kind->type() == ElementType::STRING;
  if (!kind_is_string || std::string_view(*kind) != "AdmissionReview") {
    throw ReviewError{"kind: expected AdmissionReview" +
                      (kind_is_string ? ", got \"" + std::string(std::string_view(*kind)) + "\""
                                      : std::string())};
  }
  return version;
}

// Reads the envelope straight from the parsed document; only the objects
// become json values.
AdmissionRequest readReview(Element review) {
  AdmissionRequest request;
  request.review_api_version = readReviewVersion(review);
  const std::optional<Element> body = member(review, "request");
  if (!body) {
    throw ReviewError{"request: required"};
  }
  if (body->type() != ElementType::OBJECT) {
    wrongType("request", "object", *body);
  }
  constexpr std::string_view kPath = "request";
  request.uid = stringField(*body, "uid", kPath);
  if (request.uid.empty()) {
    // The response must echo it; without one the apiserver rejects any answer.
    failAt("request.uid", "required");
  }
  request.kind = readGroupVersionKind(*body, "kind", kPath);
  request.resource = readGroupVersionResource(*body, "resource", kPath);
  request.sub_resource = stringField(*body, "subResource", kPath);
  request.name = stringField(*body, "name", kPath);
  request.namespace_name = stringField(*body, "namespace", kPath);
  request.operation = readOperation(*body);
  if (const std::optional<Element> user_info = objectField(*body, "userInfo", kPath)) {
    constexpr std::string_view kUserPath = "request.userInfo";
    request.user_info.username = stringField(*user_info, "username", kUserPath);
    request.user_info.uid = stringField(*user_info, "uid", kUserPath);
    request.user_info.groups = stringListField(*user_info, "groups", kUserPath);
  }
  if (const std::optional<Element> dry_run = member(*body, "dryRun")) {
    if (dry_run->type() != ElementType::BOOL) {
      wrongType("request.dryRun", "boolean", *dry_run);
    }
    request.dry_run = bool(*dry_run);
  }
  const ObjectParts parts = partsNeeded(request.kind);
  request.object = admittedObject(*body, "object", parts);
  request.old_object = admittedObject(*body, "oldObject", parts);
  return request;
}

// RFC 4648 base64 with padding. Written here rather than taken from OpenSSL
// (EVP_EncodeBlock) so that the admission logic links nothing but the policy
// library and nlohmann/json, which has no encoder of its own.
std::string base64(std::string_view bytes) {
  static constexpr std::array<char, 64> kAlphabet = {
      'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', 'P',
      'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'a', 'b', 'c', 'd', 'e', 'f',
      'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p', 'q', 'r', 's', 't', 'u', 'v',
      'w', 'x', 'y', 'z', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '+', '/'};
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t group = (static_cast<uint8_t>(bytes[i]) << 16) |
                           (static_cast<uint8_t>(bytes[i + 1]) << 8) |
                           static_cast<uint8_t>(bytes[i + 2]);
    out += kAlphabet[(group >> 18) & 0x3F];
    out += kAlphabet[(group >> 12) & 0x3F];
    out += kAlphabet[(group >> 6) & 0x3F];
    out += kAlphabet[group & 0x3F];
  }
  const size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t group = static_cast<uint8_t>(bytes[i]) << 16;
    if (rest == 2) {
      group |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    }
    out += kAlphabet[(group >> 18) & 0x3F];
    out += kAlphabet[(group >> 12) & 0x3F];
    out += rest == 2 ? kAlphabet[(group >> 6) & 0x3F] : '=';
    out += '=';
  }
  return out;
}

// A warning cut to kMaxWarningBytes, ending in "…" when cut, and never in the
// middle of a UTF-8 sequence.
std::string limitWarning(std::string_view warning) {
  if (warning.size() <= kMaxWarningBytes) {
    return std::string(warning);
  }
  size_t cut = kMaxWarningBytes - kEllipsis.size();
  // Back up over continuation bytes (10xxxxxx) to the start of a character.
  while (cut > 0 && (static_cast<uint8_t>(warning[cut]) & 0xC0) == 0x80) {
    --cut;
  }
  return std::string(warning.substr(0, cut)) + std::string(kEllipsis);
}

}  // namespace

std::string_view toString(Operation operation) {
  switch (operation) {
    case Operation::kCreate:
      return "CREATE";
    case Operation::kUpdate:
      return "UPDATE";
    case Operation::kDelete:
      return "DELETE";
    case Operation::kConnect:
      return "CONNECT";
  }
  return "UNKNOWN";
}

// Parsed into the calling thread's reusable parser (or one of its own for a
// large body); the review is read from the document it holds.
policy::Result<AdmissionRequest> parseAdmissionReview(std::string_view body) {
  // parse() grows a parser's buffers to the largest document it has seen and
  // keeps them, so a worker allocates for parsing only while reviews grow.
  thread_local std::optional<simdjson::dom::parser> reused;
  std::optional<simdjson::dom::parser> own;
  simdjson::dom::parser* parser = nullptr;
  if (body.size() <= kReusedParserCapacity) {
    if (!reused) {
      reused.emplace(kReusedParserCapacity);
      if (reused->allocate(kInitialParserCapacity, kMaxNestingDepth) != simdjson::SUCCESS) {
        reused.reset();
        return policy::fail("request body cannot be parsed: out of memory");
      }
    }
    parser = &*reused;
  } else {
    parser = &own.emplace(body.size());
    if (parser->allocate(body.size(), kMaxNestingDepth) != simdjson::SUCCESS) {
      return policy::fail("request body cannot be parsed: out of memory");
    }
  }
  // simdjson reads a few bytes past the end of its input; given an unpadded
  // buffer it would allocate a padded copy per call, so each worker keeps one.
  thread_local std::string reused_buffer;
  std::string own_buffer;
  std::string& padded = own ? own_buffer : reused_buffer;
  padded.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  padded.assign(body);
  simdjson::dom::element root;
  if (const auto error =
          parser->parse(padded.data(), padded.size(), /*realloc_if_needed=*/false).get(root);
      error != simdjson::SUCCESS) {
    if (error == simdjson::DEPTH_ERROR) {
      return policy::fail("request body is nested more than " +
                          std::to_string(kMaxNestingDepth) + " levels deep");
    }
    return policy::fail("request body is not JSON: " +
                        std::string(simdjson::error_message(error)));
  }
  try {
    return readReview(root);
  } catch (const ReviewError& error) {
    return policy::fail(error.message);
  }
}

std::string renderAdmissionReview(std::string_view api_version, const AdmissionResponse& response) {
  // Written as text rather than built as a json object and dumped: the
  // answer is small and its shape fixed. Strings from the configuration or
  // the request (a label value, a cut warning) may be invalid UTF-8; they are
  // replaced, not refused, since an answer must always be produced.
  std::string out = R"({"apiVersion":)";
  appendJsonString(out, api_version);
  out += R"(,"kind":"AdmissionReview","response":{"uid":)";
  appendJsonString(out, response.uid);
  out += response.allowed ? R"(,"allowed":true)" : R"(,"allowed":false)";
  if (response.patch.is_array() && !response.patch.empty()) {
    out += R"(,"patchType":"JSONPatch","patch":")";
    out += base64(response.patch.dump(-1, ' ', false, json::error_handler_t::replace));
    out += '"';
  }
  if (!response.warnings.empty()) {
    out += R"(,"warnings":[)";
    for (size_t i = 0; i < response.warnings.size(); ++i) {
      out += i == 0 ? "" : ",";
      appendJsonString(out, limitWarning(response.warnings[i]));
    }
    out += ']';
  }
  if (!response.audit_annotations.empty()) {
    out += R"(,"auditAnnotations":{)";
    bool first = true;
    for (const auto& [key, value] : response.audit_annotations) {
      out += first ? "" : ",";
      first = false;
      appendJsonString(out, key);
      out += ':';
      appendJsonString(out, value);
    }
    out += '}';
  }
  if (response.status) {
    out += R"(,"status":{"code":)";
    out += std::to_string(response.status->code);
    if (!response.status->reason.empty()) {
      out += R"(,"reason":)";
      appendJsonString(out, response.status->reason);
    }
    if (!response.status->message.empty()) {
      out += R"(,"message":)";
      appendJsonString(out, response.status->message);
    }
    out += '}';
  }
  out += "}}";
  return out;
}

}  // namespace palisade::server
