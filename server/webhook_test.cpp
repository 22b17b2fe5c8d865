#include "server/webhook.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "policy/config.h"

namespace palisade::server {
namespace {

namespace http = boost::beast::http;
using ::testing::HasSubstr;

constexpr std::string_view kConfig = R"(
mode: enforce
pods:
  labels:
  - {key: app}
)";

std::string podReview(std::string_view labels, std::string_view api_version = "admission.k8s.io/v1") {
  return std::string(R"({"apiVersion": ")") + std::string(api_version) + R"(", "kind": "AdmissionReview",
    "request": {
      "uid": "0f1e2d3c-0000-4000-8000-000000000001",
      "kind": {"group": "", "version": "v1", "kind": "Pod"},
      "resource": {"group": "", "version": "v1", "resource": "pods"},
      "requestKind": {"group": "", "version": "v1", "kind": "Pod"},
      "requestResource": {"group": "", "version": "v1", "resource": "pods"},
      "name": "web", "namespace": "shop", "operation": "CREATE",
      "userInfo": {"username": "alice", "groups": ["system:authenticated"]},
      "object": {"apiVersion": "v1", "kind": "Pod",
                 "metadata": {"name": "web", "namespace": "shop", "labels": )" +
         std::string(labels) + R"(},
                 "spec": {"containers": [{"name": "c", "image": "nginx"}]}},
      "oldObject": null, "dryRun": false,
      "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}}})";
}

class WebhookTest : public ::testing::Test {
 protected:
  WebhookTest()
      : store_(std::make_shared<const policy::Config>(policy::parseConfig(kConfig).value())),
        webhook_(store_, nullptr, nullptr, registry_) {}

  HttpResponse call(http::verb method, std::string_view target, std::string body = "",
                    std::string_view content_type = "application/json") {
    HttpRequest request{method, std::string(target), 11};
    if (!content_type.empty()) {
      request.set(http::field::content_type, std::string(content_type));
    }
    request.body() = std::move(body);
    request.prepare_payload();
    return webhook_.handle(request);
  }

  metrics::Registry registry_;
  ConfigStore store_;
  Webhook webhook_;
};

TEST_F(WebhookTest, DenialIsStillHttp200WithTheDecisionInTheReview) {
  const HttpResponse response =
      call(http::verb::post, "/validate?timeout=10s", podReview(R"({"tier": "web"})"));
  ASSERT_EQ(response.result(), http::status::ok);
  EXPECT_EQ(response[http::field::content_type], "application/json");
  const auto review = nlohmann::json::parse(response.body());
  EXPECT_EQ(review["apiVersion"], "admission.k8s.io/v1");
  EXPECT_EQ(review["kind"], "AdmissionReview");
  EXPECT_EQ(review["response"]["uid"], "0f1e2d3c-0000-4000-8000-000000000001");
  EXPECT_EQ(review["response"]["allowed"], false);
  EXPECT_EQ(review["response"]["status"]["code"], 403);
  EXPECT_THAT(review["response"]["status"]["message"].get<std::string>(), HasSubstr("\"app\""));
}

TEST_F(WebhookTest, ConformingPodIsAllowed) {
  const HttpResponse response = call(http::verb::post, "/validate", podReview(R"({"app": "web"})"));
  ASSERT_EQ(response.result(), http::status::ok);
  EXPECT_EQ(nlohmann::json::parse(response.body())["response"]["allowed"], true);
}

TEST_F(WebhookTest, V1beta1ReviewIsAnsweredInV1beta1) {
  const HttpResponse response = call(http::verb::post, "/validate",
                                     podReview(R"({"app": "web"})", "admission.k8s.io/v1beta1"));
  EXPECT_EQ(nlohmann::json::parse(response.body())["apiVersion"], "admission.k8s.io/v1beta1");
}

TEST_F(WebhookTest, BodyThatIsNotAReviewIsHttp400WithTheReason) {
  const HttpResponse not_json = call(http::verb::post, "/mutate", "{not json");
  EXPECT_EQ(not_json.result(), http::status::bad_request);
  EXPECT_THAT(not_json.body(), HasSubstr("not JSON"));
  const HttpResponse no_request =
      call(http::verb::post, "/mutate", R"({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"})");
  EXPECT_EQ(no_request.result(), http::status::bad_request);
  const HttpResponse wrong_version = call(
      http::verb::post, "/mutate", R"({"apiVersion": "admission.k8s.io/v2", "kind": "AdmissionReview", "request": {}})");
  EXPECT_EQ(wrong_version.result(), http::status::bad_request);
}

TEST_F(WebhookTest, AdmissionRoutesTakeOnlyPostedJson) {
  const HttpResponse get = call(http::verb::get, "/validate");
  EXPECT_EQ(get.result(), http::status::method_not_allowed);
  EXPECT_EQ(get[http::field::allow], "POST");
  const HttpResponse html = call(http::verb::post, "/validate", podReview("{}"), "text/html");
  EXPECT_EQ(html.result(), http::status::unsupported_media_type);
  const HttpResponse charset = call(http::verb::post, "/validate", podReview(R"({"app": "x"})"),
                                    "application/json; charset=utf-8");
  EXPECT_EQ(charset.result(), http::status::ok);
}

TEST_F(WebhookTest, HealthAndReadinessAnswerGet) {
  EXPECT_EQ(call(http::verb::get, "/healthz").result(), http::status::ok);
  EXPECT_EQ(call(http::verb::get, "/readyz").result(), http::status::ok);
  EXPECT_EQ(call(http::verb::post, "/healthz").result(), http::status::method_not_allowed);
}

TEST_F(WebhookTest, UnknownPathIs404) {
  EXPECT_EQ(call(http::verb::post, "/admit").result(), http::status::not_found);
}

TEST_F(WebhookTest, MetricsCountDecisionsByRouteOperationKindAndDecision) {
  call(http::verb::post, "/validate", podReview(R"({"tier": "web"})"));
  call(http::verb::post, "/validate", podReview(R"({"app": "web"})"));
  call(http::verb::post, "/validate", "garbage");
  const HttpResponse metrics = call(http::verb::get, "/metrics");
  ASSERT_EQ(metrics.result(), http::status::ok);
  EXPECT_THAT(std::string(metrics[http::field::content_type]), HasSubstr("version=0.0.4"));
  const std::string& text = metrics.body();
  EXPECT_THAT(text, HasSubstr("palisade_admission_requests_total{route=\"validate\",operation="
                              "\"CREATE\",kind=\"Pod\",decision=\"denied\"} 1"));
  EXPECT_THAT(text, HasSubstr("palisade_admission_requests_total{route=\"validate\",operation="
                              "\"CREATE\",kind=\"Pod\",decision=\"allowed\"} 1"));
  EXPECT_THAT(text, HasSubstr("decision=\"malformed\"} 1"));
  EXPECT_THAT(text, HasSubstr("palisade_admission_duration_seconds_count{route=\"validate\"} 2"));
}

TEST_F(WebhookTest, ReloadedConfigurationAppliesToTheNextReview) {
  store_.replace(std::make_shared<const policy::Config>(policy::parseConfig("mode: warn\n"
                                                                            "pods:\n"
                                                                            "  labels:\n"
                                                                            "  - {key: app}\n")
                                                            .value()));
  const auto review = nlohmann::json::parse(
      call(http::verb::post, "/validate", podReview(R"({"tier": "web"})")).body());
  EXPECT_EQ(review["response"]["allowed"], true);
  EXPECT_FALSE(review["response"]["warnings"].empty());
}

}  // namespace
}  // namespace palisade::server
