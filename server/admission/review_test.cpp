#include "server/admission/review.h"

#include <fstream>
#include <sstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace palisade::server {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// What the kube-apiserver sends for `kubectl create` of a Deployment's pod:
// the ReplicaSet controller creates it with generateName, so `name` is empty.
constexpr std::string_view kPodCreateWithGenerateName = R"({
  "apiVersion": "admission.k8s.io/v1",
  "kind": "AdmissionReview",
  "request": {
    "uid": "0df28fbd-5f5f-4d5f-9c5e-6a3d5c8e0c11",
    "kind": {"group": "", "version": "v1", "kind": "Pod"},
    "resource": {"group": "", "version": "v1", "resource": "pods"},
    "requestKind": {"group": "", "version": "v1", "kind": "Pod"},
    "requestResource": {"group": "", "version": "v1", "resource": "pods"},
    "namespace": "shop",
    "operation": "CREATE",
    "userInfo": {
      "username": "system:serviceaccount:kube-system:replicaset-controller",
      "uid": "6b3c1f0e-1d4c-4a8e-b0a4-7f1b2b8a9c10",
      "groups": ["system:serviceaccounts", "system:serviceaccounts:kube-system",
                 "system:authenticated"]
    },
    "object": {
      "kind": "Pod",
      "apiVersion": "v1",
      "metadata": {
        "generateName": "web-7d9f8b6c5d-",
        "namespace": "shop",
        "labels": {"app": "web", "pod-template-hash": "7d9f8b6c5d"},
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                             "name": "web-7d9f8b6c5d", "uid": "a1b2",
                             "controller": true, "blockOwnerDeletion": true}]
      },
      "spec": {"containers": [{"name": "web", "image": "nginx:1.27",
                               "ports": [{"containerPort": 80}]}]},
      "status": {}
    },
    "oldObject": null,
    "dryRun": false,
    "options": {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"}
  }
})";

constexpr std::string_view kNetworkPolicyDelete = R"({
  "apiVersion": "admission.k8s.io/v1",
  "kind": "AdmissionReview",
  "request": {
    "uid": "5c7b9d0e-2f1a-4b3c-8d9e-0a1b2c3d4e5f",
    "kind": {"group": "networking.k8s.io", "version": "v1", "kind": "NetworkPolicy"},
    "resource": {"group": "networking.k8s.io", "version": "v1", "resource": "networkpolicies"},
    "name": "palisade-default-deny",
    "namespace": "shop",
    "operation": "DELETE",
    "userInfo": {"username": "alice", "groups": ["system:authenticated"]},
    "object": null,
    "oldObject": {
      "apiVersion": "networking.k8s.io/v1",
      "kind": "NetworkPolicy",
      "metadata": {"name": "palisade-default-deny", "namespace": "shop",
                   "labels": {"app.kubernetes.io/managed-by": "palisade"}},
      "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    },
    "dryRun": true,
    "options": {"kind": "DeleteOptions", "apiVersion": "meta.k8s.io/v1",
                "propagationPolicy": "Background"}
  }
})";

constexpr std::string_view kNamespaceUpdateV1beta1 = R"({
  "apiVersion": "admission.k8s.io/v1beta1",
  "kind": "AdmissionReview",
  "request": {
    "uid": "b4c5d6e7-0000-4000-8000-000000000001",
    "kind": {"group": "", "version": "v1", "kind": "Namespace"},
    "resource": {"group": "", "version": "v1", "resource": "namespaces"},
    "name": "shop",
    "namespace": "shop",
    "operation": "UPDATE",
    "userInfo": {"username": "kubernetes-admin",
                 "groups": ["kubeadm:cluster-admins", "system:authenticated"]},
    "object": {"apiVersion": "v1", "kind": "Namespace",
               "metadata": {"name": "shop", "labels": {"team": "payments"}}},
    "oldObject": {"apiVersion": "v1", "kind": "Namespace",
                  "metadata": {"name": "shop", "labels": {"team": "checkout"}}}
  }
})";

// A review with `request` replaced by `request` merged with `changes`.
std::string withRequest(std::string_view review, const json& changes) {
  json document = json::parse(review);
  document["request"].merge_patch(changes);
  return document.dump();
}

std::string decodeBase64(std::string_view text) {
  static const std::string kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    if (c == '=') {
      break;
    }
    const auto value = kAlphabet.find(c);
    EXPECT_NE(value, std::string::npos) << "not base64: " << c;
    buffer = (buffer << 6) | static_cast<uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xFF);
    }
  }
  return out;
}

bool isValidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<uint8_t>(text[i]);
    const size_t length = lead < 0x80 ? 1 : (lead >> 5) == 0x6 ? 2 : (lead >> 4) == 0xE ? 3
                                                              : (lead >> 3) == 0x1E ? 4 : 0;
    if (length == 0 || i + length > text.size()) {
      return false;
    }
    for (size_t k = 1; k < length; ++k) {
      if ((static_cast<uint8_t>(text[i + k]) & 0xC0) != 0x80) {
        return false;
      }
    }
    i += length;
  }
  return true;
}

TEST(ParseAdmissionReview, PodCreateWithGenerateNameHasEmptyNameAndNoOldObject) {
  const auto request = parseAdmissionReview(kPodCreateWithGenerateName);
  ASSERT_TRUE(request.has_value()) << request.error().message;
  EXPECT_EQ(request->review_api_version, kAdmissionV1);
  EXPECT_EQ(request->uid, "0df28fbd-5f5f-4d5f-9c5e-6a3d5c8e0c11");
  EXPECT_EQ(request->kind.group, "");
  EXPECT_EQ(request->kind.version, "v1");
  EXPECT_EQ(request->kind.kind, "Pod");
  EXPECT_EQ(request->resource.resource, "pods");
  EXPECT_EQ(request->sub_resource, "");
  EXPECT_EQ(request->name, "");
  EXPECT_EQ(request->namespace_name, "shop");
  EXPECT_EQ(request->operation, Operation::kCreate);
  EXPECT_EQ(request->user_info.username,
            "system:serviceaccount:kube-system:replicaset-controller");
  EXPECT_EQ(request->user_info.groups.size(), 3u);
  EXPECT_EQ(request->object["metadata"]["generateName"], "web-7d9f8b6c5d-");
  EXPECT_TRUE(request->old_object.is_null());
  EXPECT_FALSE(request->dry_run);
}

TEST(ParseAdmissionReview, DeleteHasNullObjectAndTheOldOneInOldObject) {
  const auto request = parseAdmissionReview(kNetworkPolicyDelete);
  ASSERT_TRUE(request.has_value()) << request.error().message;
  EXPECT_EQ(request->operation, Operation::kDelete);
  EXPECT_EQ(request->kind.group, "networking.k8s.io");
  EXPECT_EQ(request->name, "palisade-default-deny");
  EXPECT_TRUE(request->object.is_null());
  EXPECT_EQ(request->old_object["metadata"]["labels"]["app.kubernetes.io/managed-by"], "palisade");
  EXPECT_TRUE(request->dry_run);
}

TEST(ParseAdmissionReview, UpdateCarriesBothObjectsAndV1beta1IsAccepted) {
  const auto request = parseAdmissionReview(kNamespaceUpdateV1beta1);
  ASSERT_TRUE(request.has_value()) << request.error().message;
  EXPECT_EQ(request->review_api_version, kAdmissionV1beta1);
  EXPECT_EQ(request->operation, Operation::kUpdate);
  EXPECT_EQ(request->object["metadata"]["labels"]["team"], "payments");
  EXPECT_EQ(request->old_object["metadata"]["labels"]["team"], "checkout");
}

TEST(ParseAdmissionReview, AbsentObjectsAndNullFieldsAreEmpty) {
  const auto request = parseAdmissionReview(R"({
    "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
    "request": {"uid": "u1", "operation": "CONNECT", "name": null, "dryRun": null,
                "kind": {"group": null, "version": "v1", "kind": "PodExecOptions"},
                "subResource": "exec"}
  })");
  ASSERT_TRUE(request.has_value()) << request.error().message;
  EXPECT_EQ(request->operation, Operation::kConnect);
  EXPECT_EQ(request->sub_resource, "exec");
  EXPECT_EQ(request->name, "");
  EXPECT_EQ(request->kind.group, "");
  EXPECT_TRUE(request->object.is_null());
  EXPECT_TRUE(request->old_object.is_null());
  EXPECT_FALSE(request->dry_run);
  EXPECT_EQ(request->user_info.username, "");
}

TEST(ParseAdmissionReview, RepeatedKeysTakeTheLastValueAsTheApiserverDecoderDoes) {
  const auto request = parseAdmissionReview(R"({
    "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
    "request": {"uid": "first", "uid": "second", "operation": "CREATE",
                "namespace": "a", "namespace": null,
                "kind": {"group": "", "version": "v1", "kind": "Pod"},
                "object": {"metadata": {"name": "p", "name": "q"}}}
  })");
  ASSERT_TRUE(request.has_value()) << request.error().message;
  EXPECT_EQ(request->uid, "second");
  EXPECT_EQ(request->namespace_name, "");  // a later null clears it
  EXPECT_EQ(request->object["metadata"]["name"], "q");
}

TEST(ParseAdmissionReview, BodyThatIsNotJsonIsRejected) {
  const auto request = parseAdmissionReview("apiVersion: admission.k8s.io/v1");
  ASSERT_FALSE(request.has_value());
  EXPECT_THAT(request.error().message, StartsWith("request body is not JSON: "));
}

TEST(ParseAdmissionReview, TruncatedBodyIsNotJson) {
  const auto request = parseAdmissionReview(kPodCreateWithGenerateName.substr(0, 200));
  ASSERT_FALSE(request.has_value());
  EXPECT_THAT(request.error().message, StartsWith("request body is not JSON: "));
}

TEST(ParseAdmissionReview, OtherApiVersionsAreRejected) {
  json review = json::parse(kPodCreateWithGenerateName);
  review["apiVersion"] = "admission.k8s.io/v2";
  const auto request = parseAdmissionReview(review.dump());
  ASSERT_FALSE(request.has_value());
  EXPECT_EQ(request.error().message,
            "apiVersion: unsupported \"admission.k8s.io/v2\": expected admission.k8s.io/v1 or "
            "admission.k8s.io/v1beta1");
}

TEST(ParseAdmissionReview, OtherKindsAreRejected) {
  json review = json::parse(kPodCreateWithGenerateName);
  review["kind"] = "TokenReview";
  const auto request = parseAdmissionReview(review.dump());
  ASSERT_FALSE(request.has_value());
  EXPECT_EQ(request.error().message, "kind: expected AdmissionReview, got \"TokenReview\"");
}

TEST(ParseAdmissionReview, ReviewWithoutRequestIsRejected) {
  const auto request = parseAdmissionReview(
      R"({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": {}})");
  ASSERT_FALSE(request.has_value());
  EXPECT_EQ(request.error().message, "request: required");
}

TEST(ParseAdmissionReview, RequestWithoutUidIsRejected) {
  json review = json::parse(kPodCreateWithGenerateName);
  review["request"].erase("uid");
  const auto request = parseAdmissionReview(review.dump());
  ASSERT_FALSE(request.has_value());
  EXPECT_EQ(request.error().message, "request.uid: required");
}

TEST(ParseAdmissionReview, MissingOperationIsRejected) {
  json review = json::parse(kPodCreateWithGenerateName);
  review["request"].erase("operation");
  const auto request = parseAdmissionReview(review.dump());
  ASSERT_FALSE(request.has_value());
  EXPECT_EQ(request.error().message, "request.operation: required");
}

TEST(ParseAdmissionReview, LowercaseOperationIsRejected) {
  const auto request =
      parseAdmissionReview(withRequest(kPodCreateWithGenerateName, {{"operation", "create"}}));
  ASSERT_FALSE(request.has_value());
  EXPECT_THAT(request.error().message,
              StartsWith("request.operation: unsupported value \"create\""));
}

TEST(ParseAdmissionReview, WrongFieldTypesAreNamedWithTheirPath) {
  struct Case {
    json changes;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{{"userInfo", {{"groups", "system:masters"}}}},
       "request.userInfo.groups: expected array of strings, got string"},
      {{{"userInfo", {{"groups", {"system:authenticated", 7}}}}},
       "request.userInfo.groups: expected array of strings, element 1 is integer"},
      {{{"userInfo", {{"username", true}}}},
       "request.userInfo.username: expected string, got boolean"},
      {{{"userInfo", json::array()}}, "request.userInfo: expected object, got array"},
      {{{"kind", {{"kind", 1}}}}, "request.kind.kind: expected string, got integer"},
      {{{"resource", "pods"}}, "request.resource: expected object, got string"},
      {{{"namespace", 3.5}}, "request.namespace: expected string, got number"},
      {{{"operation", 1}}, "request.operation: expected string, got integer"},
      {{{"object", "{}"}}, "request.object: expected object, got string"},
      {{{"oldObject", json::array()}}, "request.oldObject: expected object, got array"},
      {{{"dryRun", "true"}}, "request.dryRun: expected boolean, got string"},
      {{{"uid", 42}}, "request.uid: expected string, got integer"},
  };
  for (const auto& c : cases) {
    const auto request = parseAdmissionReview(withRequest(kPodCreateWithGenerateName, c.changes));
    ASSERT_FALSE(request.has_value()) << c.changes.dump();
    EXPECT_EQ(request.error().message, c.message);
  }
}

TEST(ParseAdmissionReview, NonObjectDocumentIsRejected) {
  const auto request = parseAdmissionReview("[1, 2, 3]");
  ASSERT_FALSE(request.has_value());
  EXPECT_EQ(request.error().message,
            "request body is not an AdmissionReview: expected a JSON object, got array");
}

TEST(ParseAdmissionReview, DeeplyNestedBodyIsRefused) {
  const std::string body = std::string(100000, '[') + std::string(100000, ']');
  const auto request = parseAdmissionReview(body);
  ASSERT_FALSE(request.has_value());
  EXPECT_EQ(request.error().message, "request body is nested more than 512 levels deep");
}

TEST(ParseAdmissionReview, ManagedFieldsAreLeftOutOfTheObjects) {
  const json managed = {{"metadata",
                         {{"name", "web"},
                          {"labels", {{"app", "web"}}},
                          {"managedFields", {{{"manager", "kubectl"}, {"operation", "Apply"}}}}}}};
  const auto request = parseAdmissionReview(
      withRequest(kPodCreateWithGenerateName, {{"object", managed}, {"oldObject", managed}}));
  ASSERT_TRUE(request.has_value()) << request.error().message;
  EXPECT_FALSE(request->object["metadata"].contains("managedFields"));
  EXPECT_FALSE(request->old_object["metadata"].contains("managedFields"));
  EXPECT_EQ(request->object["metadata"]["labels"]["app"], "web");
}

TEST(ParseAdmissionReview, PodsAndNamespacesKeepOnlyWhatDecisionsRead) {
  const json pod = {{"apiVersion", "v1"},
                    {"kind", "Pod"},
                    {"metadata", {{"name", "web"}, {"labels", {{"app", "web"}}}}},
                    {"spec",
                     {{"hostNetwork", true},
                      {"nodeName", "node-1"},
                      {"containers", {{{"name", "c"}, {"image", "nginx"}}}}}},
                    {"status", {{"podIP", "10.0.0.1"}}}};
  const auto request =
      parseAdmissionReview(withRequest(kPodCreateWithGenerateName, {{"object", pod}}));
  ASSERT_TRUE(request.has_value()) << request.error().message;
  EXPECT_EQ(request->object["spec"], (json{{"hostNetwork", true}, {"nodeName", "node-1"}}));
  EXPECT_FALSE(request->object.contains("status"));
  EXPECT_EQ(request->object["metadata"]["labels"]["app"], "web");
  EXPECT_EQ(request->object["kind"], "Pod");
}

TEST(ParseAdmissionReview, OtherKindsKeepTheirSpec) {
  const json deployment = {{"apiVersion", "apps/v1"},
                           {"kind", "Deployment"},
                           {"metadata", {{"name", "web"}}},
                           {"spec", {{"replicas", 3}}}};
  const auto request = parseAdmissionReview(withRequest(
      kPodCreateWithGenerateName,
      {{"kind", {{"group", "apps"}, {"version", "v1"}, {"kind", "Deployment"}}},
       {"object", deployment}}));
  ASSERT_TRUE(request.has_value()) << request.error().message;
  EXPECT_EQ(request->object["spec"]["replicas"], 3);
  EXPECT_TRUE(request->object.contains("status"));
}

TEST(ParseAdmissionReview, ReviewLargerThanTheReusedParserIsParsed) {
  const std::string large(1 << 20, 'x');
  const auto request = parseAdmissionReview(
      withRequest(kPodCreateWithGenerateName,
                  {{"object", {{"metadata", {{"annotations", {{"blob", large}}}}}}}}));
  ASSERT_TRUE(request.has_value()) << request.error().message;
  EXPECT_EQ(request->object["metadata"]["annotations"]["blob"].get<std::string>().size(),
            large.size());
}

TEST(ParseAdmissionReview, BracketsInsideStringsDoNotCountAsNesting) {
  const std::string brackets(10000, '[');
  const auto request = parseAdmissionReview(
      withRequest(kPodCreateWithGenerateName,
                  {{"object", {{"metadata", {{"annotations", {{"note", brackets + "\\\""}}}}}}}}));
  ASSERT_TRUE(request.has_value()) << request.error().message;
  EXPECT_EQ(request->object["metadata"]["annotations"]["note"], brackets + "\\\"");
}

TEST(RenderAdmissionReview, MinimalAllowHasOnlyUidAndAllowed) {
  AdmissionResponse response;
  response.uid = "705ab4f5-6393-11e8-b7cc-42010a800002";
  const json review = json::parse(renderAdmissionReview(kAdmissionV1, response));
  EXPECT_EQ(review, json::parse(R"({
    "apiVersion": "admission.k8s.io/v1",
    "kind": "AdmissionReview",
    "response": {"uid": "705ab4f5-6393-11e8-b7cc-42010a800002", "allowed": true}
  })"));
}

TEST(RenderAdmissionReview, V1beta1RequestIsAnsweredInV1beta1) {
  const auto request = parseAdmissionReview(kNamespaceUpdateV1beta1);
  ASSERT_TRUE(request.has_value());
  AdmissionResponse response;
  response.uid = request->uid;
  const json review =
      json::parse(renderAdmissionReview(request->review_api_version, response));
  EXPECT_EQ(review["apiVersion"], "admission.k8s.io/v1beta1");
  EXPECT_EQ(review["kind"], "AdmissionReview");
  EXPECT_EQ(review["response"]["uid"], "b4c5d6e7-0000-4000-8000-000000000001");
}

TEST(RenderAdmissionReview, DenialCarriesStatusCodeReasonAndMessage) {
  AdmissionResponse response;
  response.uid = "u";
  response.allowed = false;
  response.status = AdmissionStatus{403, "Forbidden", "Pod shop/web: label \"app\" is required"};
  const json review = json::parse(renderAdmissionReview(kAdmissionV1, response));
  EXPECT_EQ(review["response"]["allowed"], false);
  EXPECT_EQ(review["response"]["status"], json::parse(R"({
    "code": 403, "reason": "Forbidden", "message": "Pod shop/web: label \"app\" is required"
  })"));
  EXPECT_FALSE(review["response"].contains("patch"));
  EXPECT_FALSE(review["response"].contains("warnings"));
  EXPECT_FALSE(review["response"].contains("auditAnnotations"));
}

TEST(RenderAdmissionReview, PatchIsBase64OfItsCompactDumpWithPatchType) {
  // Inputs of each length modulo 3, so that every padding case is covered;
  // the expected strings come from an independent encoder (Python's base64).
  struct Case {
    const char* patch;
    const char* base64;
  };
  const Case cases[] = {
      {R"([{"op":"add","path":"/spec/replicas","value":3}])",
       "W3sib3AiOiJhZGQiLCJwYXRoIjoiL3NwZWMvcmVwbGljYXMiLCJ2YWx1ZSI6M31d"},
      {R"([{"op":"add","path":"/ab","value":1}])",
       "W3sib3AiOiJhZGQiLCJwYXRoIjoiL2FiIiwidmFsdWUiOjF9XQ=="},
      {R"([{"op":"add","path":"/abc","value":1}])",
       "W3sib3AiOiJhZGQiLCJwYXRoIjoiL2FiYyIsInZhbHVlIjoxfV0="},
  };
  for (const auto& c : cases) {
    AdmissionResponse response;
    response.uid = "u";
    response.patch = json::parse(c.patch);
    const json review = json::parse(renderAdmissionReview(kAdmissionV1, response));
    EXPECT_EQ(review["response"]["patchType"], "JSONPatch");
    EXPECT_EQ(review["response"]["patch"], c.base64);
    EXPECT_EQ(json::parse(decodeBase64(review["response"]["patch"].get<std::string>())),
              json::parse(c.patch));
  }
}

TEST(RenderAdmissionReview, EmptyOrNullPatchIsOmitted) {
  for (const json& patch : {json(nullptr), json::array()}) {
    AdmissionResponse response;
    response.uid = "u";
    response.patch = patch;
    const json review = json::parse(renderAdmissionReview(kAdmissionV1, response));
    EXPECT_FALSE(review["response"].contains("patch")) << patch.dump();
    EXPECT_FALSE(review["response"].contains("patchType")) << patch.dump();
  }
}

TEST(RenderAdmissionReview, WarningsAndAuditAnnotationsAreCarried) {
  AdmissionResponse response;
  response.uid = "u";
  response.warnings = {"label \"team\" is required", "spec.egress[0].to[0]: allows all"};
  response.audit_annotations = {{"violations", "label \"team\" is required"}};
  const json review = json::parse(renderAdmissionReview(kAdmissionV1, response));
  EXPECT_EQ(review["response"]["warnings"],
            json({"label \"team\" is required", "spec.egress[0].to[0]: allows all"}));
  EXPECT_EQ(review["response"]["auditAnnotations"],
            json({{"violations", "label \"team\" is required"}}));
}

TEST(RenderAdmissionReview, WarningsLongerThan120BytesAreCutWithAnEllipsis) {
  AdmissionResponse response;
  response.uid = "u";
  const std::string exact(120, 'x');
  response.warnings = {std::string(300, 'a'), exact};
  const json review = json::parse(renderAdmissionReview(kAdmissionV1, response));
  const auto cut = review["response"]["warnings"][0].get<std::string>();
  EXPECT_EQ(cut, std::string(117, 'a') + "\xE2\x80\xA6");
  EXPECT_EQ(cut.size(), 120u);
  EXPECT_EQ(review["response"]["warnings"][1], exact);
}

TEST(RenderAdmissionReview, CutWarningNeverSplitsAUtf8Sequence) {
  // "é" is 2 bytes and "名" 3: at every offset the cut falls somewhere else
  // inside or between multi-byte characters.
  for (size_t prefix = 0; prefix < 4; ++prefix) {
    std::string warning(prefix, 'p');
    while (warning.size() < 200) {
      warning += "\xC3\xA9\xE5\x90\x8D";
    }
    AdmissionResponse response;
    response.uid = "u";
    response.warnings = {warning};
    const json review = json::parse(renderAdmissionReview(kAdmissionV1, response));
    const auto cut = review["response"]["warnings"][0].get<std::string>();
    EXPECT_LE(cut.size(), 120u) << prefix;
    EXPECT_GE(cut.size(), 115u) << prefix;
    EXPECT_TRUE(isValidUtf8(cut)) << prefix;
    EXPECT_THAT(cut, ::testing::EndsWith("\xE2\x80\xA6"));
    const std::string kept = cut.substr(0, cut.size() - 3);
    EXPECT_EQ(warning.compare(0, kept.size(), kept), 0) << prefix;
  }
}

TEST(RenderAdmissionReview, InvalidUtf8InAMessageDoesNotPreventAnAnswer) {
  AdmissionResponse response;
  response.uid = "u";
  response.allowed = false;
  response.status = AdmissionStatus{403, "Forbidden", "value \xFF\xFE is not allowed"};
  const json review = json::parse(renderAdmissionReview(kAdmissionV1, response));
  EXPECT_THAT(review["response"]["status"]["message"].get<std::string>(),
              HasSubstr("is not allowed"));
}

TEST(Operation, NamesAreTheApiSpellings) {
  EXPECT_EQ(toString(Operation::kCreate), "CREATE");
  EXPECT_EQ(toString(Operation::kUpdate), "UPDATE");
  EXPECT_EQ(toString(Operation::kDelete), "DELETE");
  EXPECT_EQ(toString(Operation::kConnect), "CONNECT");
}

}  // namespace
}  // namespace palisade::server
