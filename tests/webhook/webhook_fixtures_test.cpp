// The Kubernetes project's fuzz-filled round-trip objects (k8s.io/api
// testdata/HEAD, beside the repository in ../shared/fixtures/k8s-api), put
// into AdmissionReviews the way the kube-apiserver sends them and posted to
// the real palisade-webhook over TLS.

#include <filesystem>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/tls_test_client.h"
#include "tests/webhook/admission_reviews.h"
#include "tests/webhook/webhook_process.h"

namespace palisade::testing {
namespace {

namespace http = boost::beast::http;
using nlohmann::json;
using ::testing::HasSubstr;

struct Fixture {
  std::string file;
  std::string group;
  std::string kind;
  std::string resource;
  bool namespaced = true;
};

const Fixture kFixtures[] = {
    {"core.v1.Namespace.json", "", "Namespace", "namespaces", false},
    {"core.v1.Pod.json", "", "Pod", "pods", true},
    {"networking.k8s.io.v1.NetworkPolicy.json", "networking.k8s.io", "NetworkPolicy",
     "networkpolicies", true},
};

constexpr const char* kNamespace = "shop";

// The fixture as stored: in the request's namespace, and not being deleted
// (the fixture sets every field, deletionTimestamp included).
json storedObject(const Fixture& fixture) {
  json object = json::parse(readFile(std::filesystem::path(PALISADE_K8S_FIXTURES) / fixture.file));
  json& metadata = object["metadata"];
  metadata.erase("deletionTimestamp");
  metadata.erase("deletionGracePeriodSeconds");
  if (fixture.namespaced) {
    metadata["namespace"] = kNamespace;
  } else {
    metadata.erase("namespace");
  }
  return object;
}

// What a client sends to create it: the apiserver has not assigned the
// server-side fields yet when mutating webhooks run.
json createdObject(const Fixture& fixture) {
  json object = storedObject(fixture);
  for (const char* field : {"uid", "resourceVersion", "selfLink", "creationTimestamp",
                            "generation", "managedFields"}) {
    object["metadata"].erase(field);
  }
  object.erase("status");
  return object;
}

ReviewRequest requestFor(const Fixture& fixture, const std::string& operation, int n) {
  ReviewRequest request;
  request.uid = "6a1d0c4e-2b7f-4e59-8c3a-" + std::to_string(100000000000 + n);
  request.group = fixture.group;
  request.kind = fixture.kind;
  request.resource = fixture.resource;
  request.operation = operation;
  const json stored = storedObject(fixture);
  request.name = stored["metadata"]["name"];
  request.namespace_name = fixture.namespaced ? kNamespace : request.name;
  if (operation == "CREATE") {
    request.object = createdObject(fixture);
  } else if (operation == "UPDATE") {
    request.old_object = stored;
    request.object = stored;
    request.object["metadata"]["labels"]["labelsKey"] = "changed";
  } else {
    request.old_object = stored;
  }
  return request;
}

TEST(WebhookFixtures, FixtureObjectsInRealisticReviewsGetADecisionOnBothRoutes) {
  std::string error;
  // The example configuration: pods need `app`, namespaces need `team`.
  auto webhook = DevWebhook::start(
      PALISADE_WEBHOOK,
      {"--config", std::string(PALISADE_SOURCE_DIR) + "/examples/palisade-config.yaml"}, &error);
  ASSERT_TRUE(webhook) << error;
  auto client = webhook->client();
  ASSERT_FALSE(client->connect(webhook->port()));

  int n = 0;
  for (const Fixture& fixture : kFixtures) {
    for (const std::string operation : {"CREATE", "UPDATE", "DELETE"}) {
      for (const std::string route : {"/mutate", "/validate"}) {
        SCOPED_TRACE(fixture.kind + " " + operation + " " + route);
        const ReviewRequest request = requestFor(fixture, operation, ++n);
        const auto response =
            client->request(postJson(route + "?timeout=10s", admissionReview(request).dump()));
        ASSERT_TRUE(response) << client->lastError().message();
        ASSERT_EQ(response->result(), http::status::ok) << response->body();
        json review = bodyJson(*response);
        ASSERT_TRUE(review.is_object()) << response->body();
        EXPECT_EQ(review["apiVersion"], "admission.k8s.io/v1");
        EXPECT_EQ(review["kind"], "AdmissionReview");
        json& answer = review["response"];
        EXPECT_EQ(answer["uid"], request.uid);
        ASSERT_TRUE(answer["allowed"].is_boolean()) << answer.dump();
        if (answer["allowed"] == false) {
          EXPECT_THAT(answer["status"]["code"].get<int>(), ::testing::AnyOf(400, 403));
          EXPECT_FALSE(answer["status"]["message"].get<std::string>().empty());
        }
        if (answer.contains("patch")) {
          EXPECT_EQ(answer["patchType"], "JSONPatch");
          const auto patch = patchOf(answer);
          ASSERT_TRUE(patch) << answer.dump();
          EXPECT_NO_THROW(request.object.patch(*patch)) << patch->dump();
        }
        if (operation == "DELETE") {
          EXPECT_EQ(answer["allowed"], true) << answer.dump();
          EXPECT_FALSE(answer.contains("patch"));
        }

        // What the fixtures are known to get.
        if (operation != "CREATE") {
          continue;
        }
        const std::string message = answer.value("status", json::object()).value("message", "");
        if (fixture.kind == "Namespace" && route == "/mutate") {
          const auto patch = patchOf(answer);
          ASSERT_TRUE(patch) << answer.dump();
          const json labels = request.object.patch(*patch)["metadata"]["labels"];
          EXPECT_EQ(labels, json({{"labelsKey", "labelsValue"},
                                  {"env", "dev"},
                                  {"palisade.dev/onboarded", "true"}}));
        } else if (fixture.kind == "Namespace") {
          EXPECT_EQ(answer["status"]["code"], 403) << answer.dump();
          EXPECT_THAT(message, HasSubstr(R"(label "team" is required)"));
        } else if (fixture.kind == "Pod" && route == "/validate") {
          EXPECT_EQ(answer["status"]["code"], 403) << answer.dump();
          EXPECT_THAT(message, HasSubstr(R"(label "app" is required)"));
        } else if (fixture.kind == "NetworkPolicy" && route == "/validate") {
          EXPECT_EQ(answer["status"]["code"], 400) << answer.dump();
          EXPECT_THAT(message, HasSubstr("protocolValue"));
        }
      }
    }
  }
}

}  // namespace
}  // namespace palisade::testing
