#include "tests/webhook/admission_reviews.h"

#include "tests/webhook/webhook_process.h"

namespace palisade::testing {

using nlohmann::json;

namespace {

// The options object the apiserver attaches, by operation.
json optionsFor(const std::string& operation) {
  if (operation == "CREATE") {
    return {{"apiVersion", "meta.k8s.io/v1"}, {"kind", "CreateOptions"}};
  }
  if (operation == "UPDATE") {
    return {{"apiVersion", "meta.k8s.io/v1"}, {"kind", "UpdateOptions"}};
  }
  if (operation == "DELETE") {
    return {{"apiVersion", "meta.k8s.io/v1"},
            {"kind", "DeleteOptions"},
            {"propagationPolicy", "Background"}};
  }
  return nullptr;
}

}  // namespace

json admissionReview(const ReviewRequest& request) {
  const json kind = {
      {"group", request.group}, {"version", request.version}, {"kind", request.kind}};
  const json resource = {
      {"group", request.group}, {"version", request.version}, {"resource", request.resource}};
  json body = {
      {"uid", request.uid},
      {"kind", kind},
      {"resource", resource},
      {"requestKind", kind},
      {"requestResource", resource},
      {"name", request.name},
      {"operation", request.operation},
      {"userInfo",
       {{"username", request.username},
        {"uid", "5e1f3c2a-7b44-4c1e-9a0d-2f6b8e9d1c07"},
        {"groups", {"system:authenticated"}}}},
      {"object", request.object},
      {"oldObject", request.old_object},
      {"dryRun", false},
      {"options", optionsFor(request.operation)},
  };
  if (!request.namespace_name.empty()) {
    body["namespace"] = request.namespace_name;
  }
  return {{"apiVersion", request.api_version}, {"kind", "AdmissionReview"}, {"request", body}};
}

json podReview(const std::string& uid, const std::string& namespace_name, const json& labels,
               const std::string& api_version) {
  ReviewRequest request;
  request.api_version = api_version;
  request.uid = uid;
  request.kind = "Pod";
  request.resource = "pods";
  request.name = "web";
  request.namespace_name = namespace_name;
  request.object = {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata", {{"name", "web"}, {"namespace", namespace_name}, {"labels", labels}}},
      {"spec",
       {{"containers", {{{"name", "web"}, {"image", "registry.example.com/shop/web:1.4.2"}}}}}}};
  return admissionReview(request);
}

json namespaceReview(const std::string& uid, const std::string& name, const json& labels) {
  ReviewRequest request;
  request.uid = uid;
  request.kind = "Namespace";
  request.resource = "namespaces";
  request.name = name;
  request.namespace_name = name;
  request.object = {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name}}}};
  if (!labels.is_null()) {
    request.object["metadata"]["labels"] = labels;
  }
  return admissionReview(request);
}

json bodyJson(const server::HttpResponse& response) {
  return json::parse(response.body(), nullptr, /*allow_exceptions=*/false);
}

std::optional<json> patchOf(const json& admission_response) {
  if (!admission_response.contains("patch") || !admission_response["patch"].is_string()) {
    return std::nullopt;
  }
  const auto decoded = base64Decode(admission_response["patch"].get<std::string>());
  if (!decoded) {
    return std::nullopt;
  }
  json patch = json::parse(*decoded, nullptr, /*allow_exceptions=*/false);
  if (!patch.is_array()) {
    return std::nullopt;
  }
  return patch;
}

}  // namespace palisade::testing
