// The Kubernetes project's fuzz-filled round-trip objects (k8s.io/api
// testdata/HEAD, beside the repository in ../shared/fixtures/k8s-api) through
// the AdmissionReview codec and the admission decisions.

#include <fstream>
#include <sstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "policy/config.h"
#include "server/admission/controller.h"
#include "server/admission/review.h"

namespace palisade::server {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

std::string readFixture(const std::string& name) {
  std::ifstream in(std::string(PALISADE_K8S_FIXTURES) + "/" + name);
  EXPECT_TRUE(in.good()) << "missing fixture " << name;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

constexpr const char* kReviewFixtures[] = {"admission.k8s.io.v1.AdmissionReview.json",
                                           "admission.k8s.io.v1beta1.AdmissionReview.json"};

TEST(AdmissionReviewFixtures, PlaceholderOperationIsRejected) {
  for (const char* name : kReviewFixtures) {
    const auto request = parseAdmissionReview(readFixture(name));
    ASSERT_FALSE(request.has_value()) << name;
    EXPECT_EQ(request.error().message,
              "request.operation: unsupported value \"operationValue\": "
              "expected CREATE, UPDATE, DELETE or CONNECT")
        << name;
  }
}

TEST(AdmissionReviewFixtures, EveryFieldParsesOnceTheOperationIsReal) {
  for (const char* name : kReviewFixtures) {
    json document = json::parse(readFixture(name));
    document["request"]["operation"] = "UPDATE";
    const auto request = parseAdmissionReview(document.dump());
    ASSERT_TRUE(request.has_value()) << name << ": " << request.error().message;
    EXPECT_EQ(request->review_api_version, document["apiVersion"]);
    EXPECT_EQ(request->uid, "uidValue");
    EXPECT_EQ(request->kind.group, "groupValue");
    EXPECT_EQ(request->kind.version, "versionValue");
    EXPECT_EQ(request->kind.kind, "kindValue");
    EXPECT_EQ(request->resource.resource, "resourceValue");
    EXPECT_EQ(request->sub_resource, "subResourceValue");
    EXPECT_EQ(request->name, "nameValue");
    EXPECT_EQ(request->namespace_name, "namespaceValue");
    EXPECT_EQ(request->operation, Operation::kUpdate);
    EXPECT_EQ(request->user_info.username, "usernameValue");
    EXPECT_EQ(request->user_info.groups, std::vector<std::string>{"groupsValue"});
    EXPECT_EQ(request->object["kind"], "CustomType");
    EXPECT_EQ(request->old_object["spec"]["replicas"], 1);
    EXPECT_TRUE(request->dry_run);
  }
}

AdmissionRequest requestFor(std::string group, std::string kind, std::string namespace_name,
                            json object) {
  AdmissionRequest request;
  request.review_api_version = std::string(kAdmissionV1);
  request.uid = "fixture";
  request.kind = {std::move(group), "v1", std::move(kind)};
  request.namespace_name = std::move(namespace_name);
  request.operation = Operation::kCreate;
  request.user_info.username = "alice@example.com";
  request.object = std::move(object);
  return request;
}

TEST(AdmissionReviewFixtures, FuzzFilledObjectsGetADecision) {
  const AdmissionController controller(
      std::make_shared<const policy::Config>(policy::defaultConfig()), nullptr);

  // The Namespace fixture is mutated like any namespace: its placeholder name
  // is not exempt.
  const json ns = json::parse(readFixture("core.v1.Namespace.json"));
  const auto ns_outcome = controller.mutate(requestFor("", "Namespace", "nameValue", ns));
  EXPECT_EQ(ns_outcome.decision, "mutated");
  const json patched = ns.patch(ns_outcome.response.patch);
  EXPECT_EQ(patched["metadata"]["labels"]["labelsKey"], "labelsValue");
  EXPECT_EQ(patched["metadata"]["labels"]["palisade.dev/onboarded"], "true");

  // The Pod fixture decodes; it has no `app`.
  json pod = json::parse(readFixture("core.v1.Pod.json"));
  pod["metadata"].erase("deletionTimestamp");
  const auto pod_outcome = controller.validate(requestFor("", "Pod", "shop", pod));
  EXPECT_EQ(pod_outcome.decision, "denied");
  EXPECT_THAT(pod_outcome.reason, HasSubstr(R"(label "app" is required)"));

  // The NetworkPolicy fixture's placeholder protocol is invalid.
  const json policy = json::parse(readFixture("networking.k8s.io.v1.NetworkPolicy.json"));
  const auto policy_outcome =
      controller.validate(requestFor("networking.k8s.io", "NetworkPolicy", "shop", policy));
  EXPECT_FALSE(policy_outcome.response.allowed);
  ASSERT_TRUE(policy_outcome.response.status.has_value());
  EXPECT_EQ(policy_outcome.response.status->code, 400);
  EXPECT_THAT(policy_outcome.response.status->message, HasSubstr("protocolValue"));
}

}  // namespace
}  // namespace palisade::server
