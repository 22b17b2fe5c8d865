// palisade-webhook as the kube-apiserver meets it: the real binary, started as
// a child process, spoken to over real TLS. The decisions themselves are
// pinned by the admission and webhook unit tests; these pin what only the
// whole process shows: flags, certificates on disk, the wire, reloads,
// signals.

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "certs/certificate_authority.h"
#include "tests/support/tls_test_client.h"
#include "tests/webhook/admission_reviews.h"
#include "tests/webhook/webhook_process.h"

namespace palisade::testing {
namespace {

namespace http = boost::beast::http;
namespace net = boost::asio;
using nlohmann::json;
using ::testing::HasSubstr;

const std::filesystem::path kWebhookBinary = PALISADE_WEBHOOK;
const std::filesystem::path kExampleConfig =
    std::filesystem::path(PALISADE_SOURCE_DIR) / "examples" / "palisade-config.yaml";

std::string uid(int n) { return "0f1e2d3c-0000-4000-8000-" + std::to_string(100000000000 + n); }

// The example configuration (enforce mode; pods need `app`; namespaces need
// `team`, and `env` defaults to dev) unless other flags say otherwise.
std::unique_ptr<DevWebhook> startWebhook(std::vector<std::string> flags = {}) {
  if (std::find(flags.begin(), flags.end(), "--config") == flags.end()) {
    flags.insert(flags.end(), {"--config", kExampleConfig.string()});
  }
  std::string error;
  auto webhook = DevWebhook::start(kWebhookBinary, flags, &error);
  if (!webhook) {
    ADD_FAILURE() << error;
  }
  return webhook;
}

// Posts `review` on a new connection.
std::optional<HttpResponse> post(const DevWebhook& webhook, const std::string& target,
                                 const json& review) {
  auto client = webhook.client();
  if (auto ec = client->connect(webhook.port())) {
    ADD_FAILURE() << "connect: " << ec.message();
    return std::nullopt;
  }
  auto response = client->request(postJson(target, review.dump()));
  if (!response) {
    ADD_FAILURE() << target << ": " << client->lastError().message();
  }
  return response;
}

// The AdmissionReview answering `review` on `target`, which must be HTTP 200.
json decide(const DevWebhook& webhook, const std::string& target, const json& review) {
  const auto response = post(webhook, target, review);
  if (!response) {
    return nullptr;
  }
  EXPECT_EQ(response->result(), http::status::ok) << response->body();
  EXPECT_EQ((*response)[http::field::content_type], "application/json");
  return bodyJson(*response);
}

json podWithoutApp(int n) { return podReview(uid(n), "shop", {{"tier", "web"}}); }

TEST(WebhookProcess, DevCertsPrintTheCaBundleOfTheCaTheyWriteAndServeLoopbackNames) {
  auto webhook = startWebhook();
  ASSERT_TRUE(webhook);
  const std::filesystem::path certs = webhook->dir() / "certs";
  const std::string output = webhook->process().standardOutput();
  const auto prefix = output.find("caBundle: ");
  ASSERT_NE(prefix, std::string::npos) << output;
  const auto end = output.find('\n', prefix);
  const std::string bundle = output.substr(prefix + 10, end - prefix - 10);
  const auto decoded = base64Decode(bundle);
  ASSERT_TRUE(decoded) << bundle;
  EXPECT_EQ(*decoded, readFile(certs / "ca.crt"));
  EXPECT_THAT(*decoded, HasSubstr("-----BEGIN CERTIFICATE-----"));
  EXPECT_THAT(readFile(certs / "tls.key"), HasSubstr("PRIVATE KEY"));
  EXPECT_EQ(std::filesystem::status(certs / "tls.key").permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);

  for (const std::string host : {"localhost", "127.0.0.1"}) {
    auto client = webhook->client(host);
    ASSERT_FALSE(client->connect(webhook->port())) << host;
    const auto response = client->get("/healthz");
    ASSERT_TRUE(response) << host << ": " << client->lastError().message();
    EXPECT_EQ(response->result(), http::status::ok);
  }
  // The names are verified: the certificate is for loopback names only.
  auto elsewhere = webhook->client("webhook.example.com");
  const auto refused = elsewhere->connect(webhook->port());
  EXPECT_EQ(refused.category(), net::error::get_ssl_category()) << refused.message();
}

TEST(WebhookProcess, PodWithoutAppIsDeniedWithHttp200And403NamingTheLabel) {
  auto webhook = startWebhook();
  ASSERT_TRUE(webhook);
  // The apiserver appends the webhook's timeout to the path.
  json review = decide(*webhook, "/validate?timeout=10s", podWithoutApp(1));
  EXPECT_EQ(review["apiVersion"], "admission.k8s.io/v1");
  EXPECT_EQ(review["kind"], "AdmissionReview");
  json& response = review["response"];
  EXPECT_EQ(response["uid"], uid(1));
  EXPECT_EQ(response["allowed"], false);
  EXPECT_EQ(response["status"]["code"], 403);
  EXPECT_THAT(response["status"]["message"].get<std::string>(),
              HasSubstr(R"(label "app" is required)"));

  auto logged = webhook->process().waitForLog(
      "admission", [](const json& line) { return line.value("uid", "") == uid(1); });
  ASSERT_TRUE(logged) << webhook->process().standardError();
  EXPECT_EQ((*logged)["decision"], "denied");
  EXPECT_EQ((*logged)["kind"], "Pod");
  EXPECT_EQ((*logged)["namespace"], "shop");

  json conforming =
      decide(*webhook, "/validate?timeout=10s", podReview(uid(2), "shop", {{"app", "web"}}));
  EXPECT_EQ(conforming["response"]["allowed"], true) << conforming.dump();
}

TEST(WebhookProcess, NamespaceMutationIsAJsonPatchThatAddsTheDefaultsOnce) {
  auto webhook = startWebhook();
  ASSERT_TRUE(webhook);
  const json with_team = namespaceReview(uid(1), "payments", {{"team", "payments"}});
  const json without_labels = namespaceReview(uid(2), "scratch", nullptr);
  const json expected_labels[] = {
      {{"team", "payments"}, {"env", "dev"}, {"palisade.dev/onboarded", "true"}},
      {{"env", "dev"}, {"palisade.dev/onboarded", "true"}}};
  int index = 0;
  for (const json& review : {with_team, without_labels}) {
    SCOPED_TRACE(review["request"]["name"].get<std::string>());
    json answer = decide(*webhook, "/mutate?timeout=10s", review);
    json& response = answer["response"];
    EXPECT_EQ(response["allowed"], true);
    EXPECT_EQ(response["patchType"], "JSONPatch");
    const auto patch = patchOf(response);
    ASSERT_TRUE(patch) << answer.dump();
    const json patched = review["request"]["object"].patch(*patch);
    EXPECT_EQ(patched["metadata"]["labels"], expected_labels[index++]);

    // Reinvocation: the mutated object needs nothing more.
    json again = review;
    again["request"]["object"] = patched;
    json second = decide(*webhook, "/mutate", again)["response"];
    EXPECT_EQ(second["allowed"], true);
    const auto second_patch = patchOf(second);
    EXPECT_TRUE(!second_patch || patched.patch(*second_patch) == patched) << second.dump();
  }
}

TEST(WebhookProcess, V1beta1ReviewIsAnsweredInV1beta1) {
  auto webhook = startWebhook();
  ASSERT_TRUE(webhook);
  json review = decide(
      *webhook, "/validate",
      podReview(uid(1), "shop", {{"tier", "web"}}, "admission.k8s.io/v1beta1"));
  EXPECT_EQ(review["apiVersion"], "admission.k8s.io/v1beta1");
  EXPECT_EQ(review["response"]["uid"], uid(1));
  EXPECT_EQ(review["response"]["allowed"], false);
}

TEST(WebhookProcess, MalformedReviewGets400WithTheReasonAndTheConnectionGoesOn) {
  auto webhook = startWebhook();
  ASSERT_TRUE(webhook);
  auto client = webhook->client();
  ASSERT_FALSE(client->connect(webhook->port()));

  const auto not_json = client->request(postJson("/validate", R"({"apiVersion": "admission.k8s)"));
  ASSERT_TRUE(not_json) << client->lastError().message();
  EXPECT_EQ(not_json->result(), http::status::bad_request);
  EXPECT_THAT(not_json->body(), HasSubstr("not JSON"));

  const auto no_request = client->request(
      postJson("/mutate", R"({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"})"));
  ASSERT_TRUE(no_request) << client->lastError().message();
  EXPECT_EQ(no_request->result(), http::status::bad_request);
  EXPECT_THAT(no_request->body(), HasSubstr("request: required"));

  auto logged = webhook->process().waitForLog("malformed admission review");
  ASSERT_TRUE(logged) << webhook->process().standardError();
  EXPECT_THAT((*logged)["reason"].get<std::string>(), HasSubstr("not JSON"));

  // The same connection still carries reviews.
  const auto next = client->request(postJson("/validate", podWithoutApp(1).dump()));
  ASSERT_TRUE(next) << client->lastError().message();
  EXPECT_EQ(next->result(), http::status::ok);
  EXPECT_EQ(bodyJson(*next)["response"]["uid"], uid(1));
}

TEST(WebhookProcess, BodyOverTheLimitGets413AndTheServerGoesOn) {
  auto webhook = startWebhook({"--body-limit", "65536"});
  ASSERT_TRUE(webhook);
  json large = podWithoutApp(1);
  large["request"]["object"]["metadata"]["annotations"] = {
      {"kubectl.kubernetes.io/last-applied-configuration", std::string(100 * 1024, 'x')}};
  const auto refused = post(*webhook, "/validate", large);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->result(), http::status::payload_too_large);
  EXPECT_THAT(refused->body(), HasSubstr("65536"));

  json answer = decide(*webhook, "/validate", podWithoutApp(2));
  EXPECT_EQ(answer["response"]["uid"], uid(2));
  const auto metrics = webhook->client();
  ASSERT_FALSE(metrics->connect(webhook->port()));
  const auto text = metrics->get("/metrics");
  ASSERT_TRUE(text);
  EXPECT_THAT(text->body(),
              HasSubstr("palisade_http_bad_requests_total{reason=\"body_too_large\"} 1"));
}

TEST(WebhookProcess, ClientOfferingOnlyH2IsRefusedAndTheNextClientIsServed) {
  auto webhook = startWebhook();
  ASSERT_TRUE(webhook);
  auto h2 = webhook->client("localhost", {"h2"});
  const auto refused = h2->connect(webhook->port());
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused.category(), net::error::get_ssl_category()) << refused.message();
  EXPECT_THAT(refused.message(), HasSubstr("no application protocol"));

  auto next = webhook->client();
  ASSERT_FALSE(next->connect(webhook->port()));
  EXPECT_EQ(next->negotiatedProtocol(), "http/1.1");
  const auto review = next->request(postJson("/validate", podWithoutApp(1).dump()));
  ASSERT_TRUE(review) << next->lastError().message();
  EXPECT_EQ(bodyJson(*review)["response"]["allowed"], false);
  // The server counts the failure once its alert is sent: soon, if not yet.
  EXPECT_TRUE(waitFor([&] {
    const auto metrics = next->get("/metrics");
    return metrics &&
           metrics->body().find("palisade_tls_handshake_failures_total 1") != std::string::npos;
  }));
}

TEST(WebhookProcess, StalledClientsDoNotHoldUpOthersEvenOnOneThread) {
  auto webhook = startWebhook({"--threads", "1"});
  ASSERT_TRUE(webhook);
  // One client opens a connection and never says hello; another completes
  // the handshake, sends half a header and stalls.
  auto silent = webhook->client();
  ASSERT_FALSE(silent->connectTcp(webhook->port()));
  auto stalled = webhook->client();
  ASSERT_FALSE(stalled->connect(webhook->port()));
  ASSERT_FALSE(stalled->sendRaw("POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Ty"));

  for (int i = 0; i < 5; ++i) {
    json answer = decide(*webhook, "/validate", podWithoutApp(i));
    EXPECT_EQ(answer["response"]["uid"], uid(i));
  }
  EXPECT_FALSE(webhook->process().exited());
}

TEST(WebhookProcess, RotatedCertificateIsServedToNewConnectionsWithoutAFailedRequest) {
  TempDir dir("palisade-webhook");
  const certs::PemPair ca =
      certs::makeCertificateAuthority("palisade rotation CA", std::chrono::hours(24)).value();
  const auto issue = [&ca] {
    certs::ServingCertificateRequest request;
    request.common_name = "palisade-webhook";
    request.dns_names = {"localhost"};
    request.validity = std::chrono::hours(24);
    return certs::issueServingCertificate(ca, request).value();
  };
  std::filesystem::create_directory(dir.path() / "secret");
  MountedSecret secret(dir.path() / "secret");
  secret.publish(issue());
  auto process = WebhookProcess::start(
      kWebhookBinary,
      {"--config", kExampleConfig.string(), "--tls-cert", secret.certificate().string(),
       "--tls-key", secret.key().string(), "--listen", "127.0.0.1:0", "--reload-interval", "0.2"},
      dir.path());
  ASSERT_TRUE(process);
  const uint16_t port = process->waitForPort();
  ASSERT_NE(port, 0) << process->standardError();

  std::atomic<int> new_connection_requests{0};
  std::atomic<int> kept_alive_requests{0};
  std::mutex failures_mutex;
  std::vector<std::string> failures;
  const auto fail = [&](std::string what) {
    std::lock_guard lock(failures_mutex);
    failures.push_back(std::move(what));
  };
  const std::string review = podWithoutApp(1).dump();
  // Runs on the client threads, where an exception would end the binary.
  const auto answered = [](const std::optional<HttpResponse>& response) {
    if (!response || response->result() != http::status::ok) {
      return false;
    }
    const json body = bodyJson(*response);
    return body.is_object() && body.contains("response") && body["response"].is_object() &&
           body["response"].value("uid", "") == uid(1);
  };
  // std::jthread: a failing assertion below still stops and joins them.
  std::jthread reconnecting([&](std::stop_token stop) {
    while (!stop.stop_requested()) {
      TestClient client(ca.certificate_pem, "localhost");
      if (auto ec = client.connect(port)) {
        fail("connect: " + ec.message());
        continue;
      }
      for (int i = 0; i < 2; ++i) {
        if (answered(client.request(postJson("/validate", review)))) {
          ++new_connection_requests;
        } else {
          fail("request on a new connection: " + client.lastError().message());
        }
      }
    }
  });
  std::jthread kept_alive([&](std::stop_token stop) {
    TestClient client(ca.certificate_pem, "localhost");
    if (auto ec = client.connect(port)) {
      fail("connect: " + ec.message());
      return;
    }
    while (!stop.stop_requested()) {
      if (answered(client.request(postJson("/validate", review)))) {
        ++kept_alive_requests;
      } else {
        fail("request on a kept-alive connection: " + client.lastError().message());
      }
    }
  });

  for (int round = 0; round < 2; ++round) {
    const int before = new_connection_requests;
    EXPECT_TRUE(waitFor([&] { return new_connection_requests >= before + 10; }));
    const certs::PemPair next = issue();
    secret.publish(next);
    const std::string serial = serialOfPem(next.certificate_pem);
    EXPECT_TRUE(waitFor([&] {
      TestClient fresh(ca.certificate_pem, "localhost");
      return !fresh.connect(port) && fresh.peerSerial() == serial;
    })) << "round " << round << ": the new certificate is not served";
  }
  const int before = new_connection_requests;
  EXPECT_TRUE(waitFor([&] { return new_connection_requests >= before + 10; }));
  reconnecting.request_stop();
  kept_alive.request_stop();
  reconnecting.join();
  kept_alive.join();
  EXPECT_THAT(failures, ::testing::IsEmpty());
  EXPECT_GT(kept_alive_requests, 0);

  // Logged just after the new pair is in use.
  const auto reloads = [&] {
    return std::ranges::count_if(process->logLines(), [](const json& line) {
      return line.value("msg", "") == "serving certificate reloaded";
    });
  };
  EXPECT_TRUE(waitFor([&] { return reloads() >= 2; }));
  EXPECT_EQ(reloads(), 2) << process->standardError();
}

TEST(WebhookProcess, ConfigurationReloadAppliesANewModeAndKeepsTheLastGoodOneOnError) {
  TempDir dir("palisade-config");
  const std::filesystem::path config = dir.path() / "palisade-config.yaml";
  const std::string enforce = readFile(kExampleConfig);
  const std::string enforce_mode = "\nmode: enforce\n";
  ASSERT_THAT(enforce, HasSubstr(enforce_mode));
  std::filesystem::copy_file(kExampleConfig, config);
  auto webhook = startWebhook({"--config", config.string(), "--reload-interval", "0.2"});
  ASSERT_TRUE(webhook);
  EXPECT_EQ(decide(*webhook, "/validate", podWithoutApp(1))["response"]["allowed"], false);

  std::string warn = enforce;
  warn.replace(warn.find(enforce_mode), enforce_mode.size(), "\nmode: warn\n");
  replaceFile(config, warn);
  ASSERT_TRUE(webhook->process().waitForLog("configuration reloaded"))
      << webhook->process().standardError();
  json warned = decide(*webhook, "/validate", podWithoutApp(2))["response"];
  EXPECT_EQ(warned["allowed"], true) << warned.dump();
  EXPECT_THAT(warned["warnings"].dump(), HasSubstr(R"(label \"app\" is required)"));

  // Back to enforce mode, but the file is invalid as a whole: nothing of it
  // applies.
  const std::string team_pattern = "^[a-z][a-z0-9-]{1,30}$";
  ASSERT_THAT(enforce, HasSubstr(team_pattern));
  std::string broken = enforce;
  broken.replace(broken.find(team_pattern), team_pattern.size(), "([a-z");
  replaceFile(config, broken);
  auto failed = webhook->process().waitForLog(
      "configuration reload failed; keeping the last good one");
  ASSERT_TRUE(failed) << webhook->process().standardError();
  EXPECT_THAT((*failed)["reason"].get<std::string>(), HasSubstr("([a-z"));
  json kept = decide(*webhook, "/validate", podWithoutApp(3))["response"];
  EXPECT_EQ(kept["allowed"], true) << kept.dump();
  EXPECT_THAT(kept["warnings"].dump(), HasSubstr(R"(label \"app\" is required)"));
  auto client = webhook->client();
  ASSERT_FALSE(client->connect(webhook->port()));
  const auto ready = client->get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->result(), http::status::ok);
}

TEST(WebhookProcess, SigtermAnswersTheRequestsInFlightThenExitsZero) {
  auto webhook = startWebhook();
  ASSERT_TRUE(webhook);
  auto idle = webhook->client();
  ASSERT_FALSE(idle->connect(webhook->port()));
  ASSERT_TRUE(idle->get("/healthz"));

  // Requests the server has begun to read: their headers have been answered
  // with 100 Continue, their bodies not yet sent. One review is large.
  constexpr int kInFlight = 6;
  std::vector<std::unique_ptr<TestClient>> clients;
  std::vector<std::string> bodies;
  for (int i = 0; i < kInFlight; ++i) {
    json review = podWithoutApp(i);
    if (i == 0) {
      review["request"]["object"]["metadata"]["annotations"] = {
          {"kubectl.kubernetes.io/last-applied-configuration", std::string(2 << 20, 'x')}};
    }
    bodies.push_back(review.dump());
    clients.push_back(webhook->client());
    ASSERT_FALSE(clients.back()->connect(webhook->port()));
    ASSERT_FALSE(clients.back()->sendRaw(
        "POST /validate?timeout=10s HTTP/1.1\r\nHost: localhost\r\n"
        "Content-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: " +
        std::to_string(bodies.back().size()) + "\r\n\r\n"));
    const auto interim = clients.back()->readResponse();
    ASSERT_TRUE(interim) << clients.back()->lastError().message();
    ASSERT_EQ(interim->result(), http::status::continue_);
  }

  ASSERT_TRUE(webhook->process().signal(SIGTERM));
  ASSERT_TRUE(webhook->process().waitForLog("shutdown_signal"))
      << webhook->process().standardError();
  const auto closed = idle->waitForClose();
  EXPECT_NE(closed, net::error::timed_out);
  EXPECT_NE(closed, boost::beast::error::timeout);
  EXPECT_FALSE(webhook->process().exited()) << "exited with requests in flight";

  for (int i = 0; i < kInFlight; ++i) {
    SCOPED_TRACE(i);
    ASSERT_FALSE(clients[i]->sendRaw(bodies[i]));
    const auto response = clients[i]->readResponse();
    ASSERT_TRUE(response) << clients[i]->lastError().message();
    EXPECT_EQ(response->result(), http::status::ok);
    EXPECT_FALSE(response->keep_alive());
    json review = bodyJson(*response);
    EXPECT_EQ(review["response"]["uid"], uid(i));
    EXPECT_EQ(review["response"]["allowed"], false);
    // As the apiserver does on "Connection: close"; the server waits for it.
    clients[i]->close();
  }

  EXPECT_EQ(webhook->process().waitForExit(), 0) << webhook->process().standardError();
  const auto lines = webhook->process().logLines();
  EXPECT_TRUE(std::ranges::any_of(lines, [](const json& line) {
    return line.value("msg", "").starts_with("stopped");
  })) << webhook->process().standardError();
}

TEST(WebhookProcess, MetricsCountReviewsAndHealthAndReadinessAnswer200) {
  auto webhook = startWebhook();
  ASSERT_TRUE(webhook);
  decide(*webhook, "/validate", podWithoutApp(1));
  decide(*webhook, "/validate", podWithoutApp(2));
  decide(*webhook, "/mutate", namespaceReview(uid(3), "payments", {{"team", "payments"}}));

  auto client = webhook->client();
  ASSERT_FALSE(client->connect(webhook->port()));
  for (const std::string path : {"/healthz", "/readyz"}) {
    const auto response = client->get(path);
    ASSERT_TRUE(response) << path << ": " << client->lastError().message();
    EXPECT_EQ(response->result(), http::status::ok) << path;
  }
  const auto metrics = client->get("/metrics");
  ASSERT_TRUE(metrics) << client->lastError().message();
  EXPECT_EQ(metrics->result(), http::status::ok);
  EXPECT_THAT(std::string((*metrics)[http::field::content_type]), HasSubstr("version=0.0.4"));
  EXPECT_THAT(metrics->body(),
              HasSubstr("palisade_admission_requests_total{route=\"validate\",operation=\"CREATE\","
                        "kind=\"Pod\",decision=\"denied\"} 2"));
  EXPECT_THAT(metrics->body(),
              HasSubstr("palisade_admission_requests_total{route=\"mutate\",operation=\"CREATE\","
                        "kind=\"Namespace\",decision=\"mutated\"} 1"));
}

}  // namespace
}  // namespace palisade::testing
