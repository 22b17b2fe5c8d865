#include "kube/api_client.h"

#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "kube/testing/fake_apiserver.h"
#include "kube/testing/mounted_files.h"
#include "kube/testing/objects.h"
#include "tests/support/tls_test_client.h"

namespace palisade::kube {
namespace {

using nlohmann::json;
using testing::FakeApiServer;
using testing::FakeApiServerOptions;

std::unique_ptr<ApiClient> clientFor(ClientConfig config, ClientOptions options = {}) {
  auto client = ApiClient::fromConfig(std::move(config), std::move(options));
  EXPECT_TRUE(client.has_value()) << client.error().message;
  return client ? std::move(*client) : nullptr;
}

TEST(ResourcePath, CoreAndNamedGroupsNamespacedAndClusterScoped) {
  EXPECT_EQ(resourcePath(kPods, "a", "b"), "/api/v1/namespaces/a/pods/b");
  EXPECT_EQ(resourcePath(kPods, "", ""), "/api/v1/pods");
  EXPECT_EQ(resourcePath(kNetworkPolicies, "a", ""),
            "/apis/networking.k8s.io/v1/namespaces/a/networkpolicies");
  EXPECT_EQ(resourcePath(kNamespaces, "ignored", "team-a"), "/api/v1/namespaces/team-a");
  EXPECT_EQ(resourcePath(kLeases, "palisade", "onboarding"),
            "/apis/coordination.k8s.io/v1/namespaces/palisade/leases/onboarding");
}

TEST(ApiClientTls, VerifiesTheServerByItsIpAddressSan) {
  FakeApiServer server;
  server.create(kNamespaces, testing::namespaceJson("team-a"));
  auto client = clientFor(server.clientConfig());
  auto object = client->get(kNamespaces, "", "team-a");
  ASSERT_TRUE(object.has_value()) << object.error().describe();
  EXPECT_EQ((*object)["metadata"]["name"], "team-a");
}

TEST(ApiClientTls, VerifiesTheServerByItsDnsNameSan) {
  FakeApiServer server;
  server.create(kNamespaces, testing::namespaceJson("team-a"));
  ClientConfig config = server.clientConfig();
  ASSERT_TRUE(parseServerUrl("https://localhost:" + std::to_string(server.port()), config));
  auto object = clientFor(config)->get(kNamespaces, "", "team-a");
  ASSERT_TRUE(object.has_value()) << object.error().describe();
}

TEST(ApiClientTls, RefusesAServerSignedByAnotherCa) {
  FakeApiServer server;
  ClientConfig config = server.clientConfig();
  const auto other = certs::makeCertificateAuthority("other-ca", std::chrono::hours(1));
  config.ca_pem = other->certificate_pem;
  auto object = clientFor(config)->get(kNamespaces, "", "team-a");
  ASSERT_FALSE(object.has_value());
  EXPECT_EQ(object.error().kind, ApiError::Kind::kTransport);
  EXPECT_NE(object.error().message.find("the server's certificate was refused: "),
            std::string::npos)
      << object.error().describe();
  EXPECT_TRUE(server.requests().empty());
}

TEST(ApiClientTls, RefusesACertificateForAnotherName) {
  FakeApiServer server;
  ClientConfig config = server.clientConfig();
  config.tls_server_name = "kubernetes.default.svc";
  auto object = clientFor(config)->get(kNamespaces, "", "team-a");
  ASSERT_FALSE(object.has_value());
  EXPECT_NE(object.error().message.find("hostname mismatch"), std::string::npos)
      << object.error().describe();
}

TEST(ApiClientTls, RefusesACertificateWithoutTheAddressConnectedTo) {
  FakeApiServerOptions options;
  options.ip_addresses = {"10.96.0.1"};
  FakeApiServer server(options);
  auto object = clientFor(server.clientConfig())->get(kNamespaces, "", "team-a");
  ASSERT_FALSE(object.has_value());
  EXPECT_NE(object.error().message.find("IP address mismatch"), std::string::npos)
      << object.error().describe();
}

TEST(ApiClientAuth, SendsTheBearerToken) {
  FakeApiServerOptions options;
  options.bearer_token = "s3cret";
  FakeApiServer server(options);
  server.create(kNamespaces, testing::namespaceJson("team-a"));
  ASSERT_TRUE(clientFor(server.clientConfig())->get(kNamespaces, "", "team-a"));
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].authorization, "Bearer s3cret");

  ClientConfig anonymous = server.clientConfig();
  anonymous.token = nullptr;
  auto refused = clientFor(anonymous)->get(kNamespaces, "", "team-a");
  ASSERT_FALSE(refused.has_value());
  EXPECT_TRUE(refused.error().isUnauthorized()) << refused.error().describe();
}

TEST(ApiClientAuth, AuthenticatesWithAClientCertificate) {
  FakeApiServerOptions options;
  options.require_client_certificate = true;
  FakeApiServer server(options);
  server.create(kNamespaces, testing::namespaceJson("team-a"));
  ClientConfig config = server.clientConfig();
  const auto certificate = server.issueClientCertificate("system:serviceaccount:palisade:webhook");
  config.client_certificate_pem = certificate.certificate_pem;
  config.client_key_pem = certificate.private_key_pem;
  auto object = clientFor(config)->get(kNamespaces, "", "team-a");
  ASSERT_TRUE(object.has_value()) << object.error().describe();
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].client_common_name, "system:serviceaccount:palisade:webhook");

  auto without = clientFor(server.clientConfig())->get(kNamespaces, "", "team-a");
  ASSERT_FALSE(without.has_value());
  EXPECT_EQ(without.error().kind, ApiError::Kind::kTransport);
}

TEST(ApiClientAuth, RotatedInClusterTokenIsSentOnTheNextRequest) {
  FakeApiServerOptions options;
  options.bearer_token = "token-1";
  FakeApiServer server(options);
  server.create(kNamespaces, testing::namespaceJson("team-a"));
  palisade::testing::TempDir dir;
  testing::MountedFiles mounted(dir.path() / "serviceaccount");
  mounted.publish({{"ca.crt", server.ca().certificate_pem}, {"token", "token-1"}});
  InClusterOptions in_cluster;
  in_cluster.service_account_dir = mounted.dir();
  const std::string port = std::to_string(server.port());
  in_cluster.environment = [port](const std::string& name) -> std::optional<std::string> {
    if (name == "KUBERNETES_SERVICE_HOST") {
      return "127.0.0.1";
    }
    if (name == "KUBERNETES_SERVICE_PORT") {
      return port;
    }
    return std::nullopt;
  };
  auto config = loadInClusterConfig(in_cluster);
  ASSERT_TRUE(config.has_value()) << config.error().message;
  auto client = clientFor(*config);
  ASSERT_TRUE(client->get(kNamespaces, "", "team-a"));

  server.setBearerToken("token-2");
  mounted.publish({{"ca.crt", server.ca().certificate_pem}, {"token", "token-2"}});
  auto after = client->get(kNamespaces, "", "team-a");
  ASSERT_TRUE(after.has_value()) << after.error().describe();
  EXPECT_EQ(server.requests().back().authorization, "Bearer token-2");
}

TEST(ApiClientConnections, SequentialRequestsReuseOneConnection) {
  FakeApiServer server;
  server.create(kNamespaces, testing::namespaceJson("team-a"));
  auto client = clientFor(server.clientConfig());
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(client->get(kNamespaces, "", "team-a"));
  }
  EXPECT_EQ(server.connectionsAccepted(), 1u);
  EXPECT_EQ(client->connectionsOpened(), 1u);
}

TEST(ApiClientConnections, ConnectionTheServerClosedWhileIdleIsReplaced) {
  FakeApiServer server;
  server.create(kNamespaces, testing::namespaceJson("team-a"));
  auto client = clientFor(server.clientConfig());
  ASSERT_TRUE(client->get(kNamespaces, "", "team-a"));
  server.closeIdleConnections();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto again = client->get(kNamespaces, "", "team-a");
  ASSERT_TRUE(again.has_value()) << again.error().describe();
  EXPECT_EQ(server.connectionsAccepted(), 2u);
}

TEST(ApiClientConnections, UnansweredRequestTimesOut) {
  FakeApiServer server;
  server.ignoreNext();
  auto client = clientFor(server.clientConfig());
  CallOptions call;
  call.timeout = std::chrono::milliseconds(300);
  const auto started = std::chrono::steady_clock::now();
  auto object = client->get(kNamespaces, "", "team-a", call);
  ASSERT_FALSE(object.has_value());
  EXPECT_EQ(object.error().kind, ApiError::Kind::kTimeout) << object.error().describe();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
  EXPECT_EQ(object.error().request, "GET /api/v1/namespaces/team-a");
}

TEST(ApiClientConnections, CancelledCallFailsBeforeSending) {
  FakeApiServer server;
  auto client = clientFor(server.clientConfig());
  Canceller canceller;
  canceller.cancel();
  CallOptions call;
  call.canceller = &canceller;
  auto object = client->get(kNamespaces, "", "team-a", call);
  ASSERT_FALSE(object.has_value());
  EXPECT_EQ(object.error().kind, ApiError::Kind::kCancelled);
  EXPECT_TRUE(server.requests().empty());
}

class ApiClientVerbs : public ::testing::Test {
 protected:
  FakeApiServer server_;
  std::unique_ptr<ApiClient> client_ = clientFor(server_.clientConfig());
};

TEST_F(ApiClientVerbs, CreatingAnExistingObjectIsAlreadyExists) {
  const json policy = testing::networkPolicyJson("team-a", "default-deny", "web");
  auto created = client_->create(kNetworkPolicies, "team-a", policy);
  ASSERT_TRUE(created.has_value()) << created.error().describe();
  EXPECT_FALSE((*created)["metadata"]["resourceVersion"].get<std::string>().empty());
  auto again = client_->create(kNetworkPolicies, "team-a", policy);
  ASSERT_FALSE(again.has_value());
  EXPECT_TRUE(again.error().isAlreadyExists());
  EXPECT_FALSE(again.error().isConflict());
  EXPECT_EQ(again.error().code, 409);
  EXPECT_EQ(again.error().reason, "AlreadyExists");
  EXPECT_EQ(again.error().message, "networkpolicies \"default-deny\" already exists");
  EXPECT_EQ(again.error().describe(),
            "POST /apis/networking.k8s.io/v1/namespaces/team-a/networkpolicies: 409 "
            "AlreadyExists: networkpolicies \"default-deny\" already exists");
}

TEST_F(ApiClientVerbs, GettingAMissingObjectIsNotFound) {
  auto object = client_->get(kPods, "team-a", "ghost");
  ASSERT_FALSE(object.has_value());
  EXPECT_TRUE(object.error().isNotFound());
  EXPECT_EQ(object.error().reason, "NotFound");
  EXPECT_EQ(object.error().message, "pods \"ghost\" not found");
}

TEST_F(ApiClientVerbs, PatchWithAStaleResourceVersionIsAConflict) {
  const json stored = server_.create(kPods, testing::podJson("team-a", "web-1"));
  const std::string version = stored["metadata"]["resourceVersion"];
  server_.update(kPods, stored);  // someone else's write
  auto patched = client_->patch(kPods, "team-a", "web-1", PatchType::kMerge,
                                {{"metadata", {{"resourceVersion", version},
                                               {"labels", {{"tier", "frontend"}}}}}});
  ASSERT_FALSE(patched.has_value());
  EXPECT_TRUE(patched.error().isConflict());
  EXPECT_FALSE(patched.error().isAlreadyExists());
  EXPECT_EQ(patched.error().reason, "Conflict");
}

TEST_F(ApiClientVerbs, MergeAndJsonPatchesSendTheirContentTypes) {
  server_.create(kNamespaces, testing::namespaceJson("team-a"));
  auto merged = client_->patch(kNamespaces, "", "team-a", PatchType::kMerge,
                               {{"metadata", {{"labels", {{"palisade.io/tier", "gold"}}}}}});
  ASSERT_TRUE(merged.has_value()) << merged.error().describe();
  auto patched = client_->patch(
      kNamespaces, "", "team-a", PatchType::kJson,
      json::array({{{"op", "add"}, {"path", "/metadata/labels/palisade.io~1owner"},
                    {"value", "alice"}}}));
  ASSERT_TRUE(patched.has_value()) << patched.error().describe();
  const auto labels = (*server_.object(kNamespaces, "", "team-a"))["metadata"]["labels"];
  EXPECT_EQ(labels["palisade.io/tier"], "gold");
  EXPECT_EQ(labels["palisade.io/owner"], "alice");
  const auto requests = server_.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].method, "PATCH");
  EXPECT_EQ(requests[0].content_type, "application/merge-patch+json");
  EXPECT_EQ(requests[1].content_type, "application/json-patch+json");
}

TEST_F(ApiClientVerbs, DeleteRemovesTheObjectAndASecondDeleteIsNotFound) {
  server_.create(kPods, testing::podJson("team-a", "web-1"));
  auto removed = client_->remove(kPods, "team-a", "web-1");
  ASSERT_TRUE(removed.has_value()) << removed.error().describe();
  EXPECT_FALSE(server_.object(kPods, "team-a", "web-1").has_value());
  auto again = client_->remove(kPods, "team-a", "web-1");
  ASSERT_FALSE(again.has_value());
  EXPECT_TRUE(again.error().isNotFound());
}

TEST_F(ApiClientVerbs, DryRunCreatePersistsNothing) {
  CallOptions call;
  call.dry_run = true;
  call.field_manager = "palisade-onboarding";
  auto created = client_->create(kNetworkPolicies, "team-a",
                                 testing::networkPolicyJson("team-a", "default-deny", "web"), call);
  ASSERT_TRUE(created.has_value()) << created.error().describe();
  EXPECT_FALSE(server_.object(kNetworkPolicies, "team-a", "default-deny").has_value());
  const auto request = server_.requests().back();
  EXPECT_EQ(request.query.at("dryRun"), "All");
  EXPECT_EQ(request.query.at("fieldManager"), "palisade-onboarding");
}

TEST_F(ApiClientVerbs, ErrorAnswerWithoutAStatusIsMappedFromTheHttpCode) {
  server_.failNext("GET", "/api/v1/namespaces", 503, 1, /*status_body=*/false);
  auto object = client_->get(kNamespaces, "", "team-a");
  ASSERT_FALSE(object.has_value());
  EXPECT_EQ(object.error().kind, ApiError::Kind::kStatus);
  EXPECT_EQ(object.error().code, 503);
  EXPECT_EQ(object.error().reason, "ServiceUnavailable");
  EXPECT_NE(object.error().message.find("upstream failure"), std::string::npos);
}

TEST_F(ApiClientVerbs, NamespacedObjectWithoutANamespaceIsRefusedBeforeSending) {
  auto object = client_->get(kPods, "", "web-1");
  ASSERT_FALSE(object.has_value());
  EXPECT_EQ(object.error().kind, ApiError::Kind::kInvalid);
  EXPECT_TRUE(server_.requests().empty());
}

TEST_F(ApiClientVerbs, ListObjectsFollowsContinueTokensAcrossPages) {
  for (int i = 0; i < 7; ++i) {
    const std::string namespace_name = i % 2 ? "team-a" : "team-b";
    server_.create(kPods, testing::podJson(namespace_name, "pod-" + std::to_string(i)));
  }
  ListOptions options;
  options.limit = 3;
  auto pods = client_->listObjects<policy::Pod>("", options);
  ASSERT_TRUE(pods.has_value()) << pods.error().describe();
  ASSERT_EQ(pods->items.size(), 7u);
  EXPECT_EQ(pods->resource_version, server_.resourceVersion());
  const auto requests = server_.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_FALSE(requests[0].query.contains("continue"));
  EXPECT_EQ(requests[1].query.at("limit"), "3");
  EXPECT_TRUE(requests[2].query.contains("continue"));

  auto team_a = client_->listObjects<policy::Pod>("team-a");
  ASSERT_TRUE(team_a.has_value());
  EXPECT_EQ(team_a->items.size(), 3u);
}

TEST_F(ApiClientVerbs, ObjectsDecodeIntoThePolicyModel) {
  server_.create(kNamespaces, testing::namespaceJson("team-a", {{"env", "prod"}}));
  server_.create(kPods, testing::podJson("team-a", "web-1", {{"app", "web"}}, "10.1.0.7"));
  server_.create(kNetworkPolicies, testing::networkPolicyJson("team-a", "allow-web", "web"));

  auto ns = client_->getObject<policy::Namespace>("", "team-a");
  ASSERT_TRUE(ns.has_value()) << ns.error().describe();
  EXPECT_EQ(ns->metadata.labels.at("env"), "prod");
  EXPECT_EQ(ns->phase, "Active");

  auto pod = client_->getObject<policy::Pod>("team-a", "web-1");
  ASSERT_TRUE(pod.has_value()) << pod.error().describe();
  EXPECT_EQ(pod->metadata.namespace_name, "team-a");
  EXPECT_EQ(pod->metadata.labels.at("app"), "web");
  EXPECT_EQ(pod->pod_ip, "10.1.0.7");
  EXPECT_EQ(pod->node_name, "node-1");
  ASSERT_EQ(pod->containers.size(), 1u);
  EXPECT_EQ(pod->containers[0].ports[0].container_port, 8080);

  auto policy = client_->getObject<policy::NetworkPolicy>("team-a", "allow-web");
  ASSERT_TRUE(policy.has_value()) << policy.error().describe();
  EXPECT_EQ(policy->spec.pod_selector.match_labels.at("app"), "web");
  ASSERT_EQ(policy->spec.ingress.size(), 1u);
  EXPECT_EQ(std::get<int32_t>(*policy->spec.ingress[0].ports[0].port), 8080);
}

TEST_F(ApiClientVerbs, UndecodableObjectIsADecodeErrorNamingTheField) {
  json pod = testing::podJson("team-a", "web-1");
  pod["spec"]["hostNetwork"] = "yes";
  server_.create(kPods, pod);
  auto decoded = client_->getObject<policy::Pod>("team-a", "web-1");
  ASSERT_FALSE(decoded.has_value());
  EXPECT_EQ(decoded.error().kind, ApiError::Kind::kDecode);
  EXPECT_NE(decoded.error().message.find("pods team-a/web-1: spec.hostNetwork"), std::string::npos)
      << decoded.error().message;
}

}  // namespace
}  // namespace palisade::kube
