#pragma once

// AdmissionReviews as the kube-apiserver sends them to a webhook, and the
// parts of the answers tests look at.

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "server/http/https_server.h"

namespace palisade::testing {

// One admission request: what a review carries besides the fields every
// request has.
struct ReviewRequest {
  std::string api_version = "admission.k8s.io/v1";
  std::string uid;
  std::string group;  // "" for the core group
  std::string version = "v1";
  std::string kind;
  std::string resource;
  std::string name;            // "" on CREATE with generateName
  std::string namespace_name;  // a Namespace's own name for a Namespace
  std::string operation = "CREATE";
  nlohmann::json object;      // null on DELETE
  nlohmann::json old_object;  // null on CREATE
  std::string username = "alice@example.com";
};

// The review, with requestKind and requestResource, userInfo, dryRun and the
// options the apiserver sends for the operation.
nlohmann::json admissionReview(const ReviewRequest& request);

// A CREATE of a Pod in `namespace_name` with these labels (a JSON object).
nlohmann::json podReview(const std::string& uid, const std::string& namespace_name,
                         const nlohmann::json& labels,
                         const std::string& api_version = "admission.k8s.io/v1");
// A CREATE of a Namespace; null `labels` leaves metadata.labels out.
nlohmann::json namespaceReview(const std::string& uid, const std::string& name,
                               const nlohmann::json& labels);

// The body of an answer, parsed; discarded (is_discarded()) if it is not JSON.
nlohmann::json bodyJson(const server::HttpResponse& response);
// The JSON Patch of an admission response (base64 in `patch`); nullopt when
// there is none or it does not decode.
std::optional<nlohmann::json> patchOf(const nlohmann::json& admission_response);

}  // namespace palisade::testing
