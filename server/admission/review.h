#pragma once

// The AdmissionReview wire format (admission.k8s.io/v1, and v1beta1, which has
// the same fields): decoding what the kube-apiserver sends and encoding the
// answer in the version it was asked in.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "policy/error.h"

namespace palisade::server {

inline constexpr std::string_view kAdmissionV1 = "admission.k8s.io/v1";
inline constexpr std::string_view kAdmissionV1beta1 = "admission.k8s.io/v1beta1";

enum class Operation { kCreate, kUpdate, kDelete, kConnect };
std::string_view toString(Operation operation);

struct GroupVersionKind {
  std::string group;
  std::string version;
  std::string kind;
};

struct GroupVersionResource {
  std::string group;
  std::string version;
  std::string resource;
};

struct UserInfo {
  std::string username;
  std::string uid;
  std::vector<std::string> groups;
};

struct AdmissionRequest {
  std::string review_api_version;  // kAdmissionV1 or kAdmissionV1beta1; the answer uses it
  std::string uid;
  GroupVersionKind kind;
  GroupVersionResource resource;
  std::string sub_resource;
  std::string name;            // empty on CREATE with generateName
  std::string namespace_name;  // for a Namespace object, its own name
  Operation operation = Operation::kCreate;
  UserInfo user_info;
  // The objects as far as decisions read them: without metadata.managedFields,
  // and of a Pod or a Namespace only apiVersion, kind, metadata and (Pods)
  // spec.hostNetwork and spec.nodeName.
  nlohmann::json object;      // null on DELETE
  nlohmann::json old_object;  // null on CREATE and CONNECT
  bool dry_run = false;
};

// metav1.Status as an admission response carries it.
struct AdmissionStatus {
  int32_t code = 403;
  std::string reason;  // "Forbidden", "BadRequest"
  std::string message;
};

struct AdmissionResponse {
  std::string uid;
  bool allowed = true;
  nlohmann::json patch;  // an RFC 6902 JSON Patch array, or null for no patch
  std::vector<std::string> warnings;
  std::map<std::string, std::string> audit_annotations;
  std::optional<AdmissionStatus> status;
};

// Decodes an AdmissionReview. Fails (and the HTTP answer is 400) when the body
// is not JSON, not an AdmissionReview of a supported version, has no request,
// or a request field has the wrong type; the message says which.
[[nodiscard]] policy::Result<AdmissionRequest> parseAdmissionReview(std::string_view body);

// The AdmissionReview answering a request: apiVersion as asked, kind,
// response with uid echoed, the patch base64-encoded with patchType JSONPatch,
// warnings, auditAnnotations and status.
std::string renderAdmissionReview(std::string_view api_version, const AdmissionResponse& response);

}  // namespace palisade::server
