// The admission path without sockets: what one review costs in CPU, stage by
// stage, for the Pod review the webhook benchmark sends (bench/pod-review.json).

#include <benchmark/benchmark.h>

#include <fstream>
#include <sstream>

#include "policy/config.h"
#include "server/admission/controller.h"
#include "server/admission/review.h"
#include "server/config_store.h"
#include "server/log.h"
#include "server/metrics/registry.h"
#include "server/webhook.h"

namespace palisade {
namespace {

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

const std::string& podReview() {
  static const std::string body = readFile(std::string(PALISADE_SOURCE_DIR) + "/bench/pod-review.json");
  return body;
}

std::shared_ptr<const policy::Config> exampleConfig() {
  static const auto config = std::make_shared<const policy::Config>(
      policy::parseConfig(readFile(std::string(PALISADE_SOURCE_DIR) + "/examples/palisade-config.yaml"))
          .value());
  return config;
}

void BM_JsonParseOnly(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(nlohmann::json::parse(podReview()));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * podReview().size()));
}
BENCHMARK(BM_JsonParseOnly);

void BM_ParseReview(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(server::parseAdmissionReview(podReview()));
  }
}
BENCHMARK(BM_ParseReview);

void BM_Validate(benchmark::State& state) {
  const auto request = server::parseAdmissionReview(podReview()).value();
  const server::AdmissionController controller(exampleConfig(), nullptr);
  for (auto _ : state) {
    benchmark::DoNotOptimize(controller.validate(request));
  }
}
BENCHMARK(BM_Validate);

void BM_Mutate(benchmark::State& state) {
  const auto request = server::parseAdmissionReview(podReview()).value();
  const server::AdmissionController controller(exampleConfig(), nullptr);
  for (auto _ : state) {
    benchmark::DoNotOptimize(controller.mutate(request));
  }
}
BENCHMARK(BM_Mutate);

void BM_Render(benchmark::State& state) {
  const auto request = server::parseAdmissionReview(podReview()).value();
  const server::AdmissionController controller(exampleConfig(), nullptr);
  const auto outcome = controller.validate(request);
  for (auto _ : state) {
    benchmark::DoNotOptimize(server::renderAdmissionReview(request.review_api_version, outcome.response));
  }
}
BENCHMARK(BM_Render);

// Everything the webhook does for one HTTP request, logging included (to
// stderr: run with 2>/dev/null).
void BM_WebhookHandle(benchmark::State& state) {
  server::metrics::Registry registry;
  server::ConfigStore store(exampleConfig());
  const server::Webhook webhook(store, nullptr, nullptr, registry);
  server::HttpRequest request{boost::beast::http::verb::post, "/validate", 11};
  request.set(boost::beast::http::field::content_type, "application/json");
  request.body() = podReview();
  request.prepare_payload();
  for (auto _ : state) {
    benchmark::DoNotOptimize(webhook.handle(request));
  }
}
BENCHMARK(BM_WebhookHandle);

// The same without the per-decision log line, to see what logging costs.
void BM_WebhookHandleQuiet(benchmark::State& state) {
  server::setLogLevel(server::LogLevel::kError);
  BM_WebhookHandle(state);
  server::setLogLevel(server::LogLevel::kInfo);
}
BENCHMARK(BM_WebhookHandleQuiet);

}  // namespace
}  // namespace palisade

BENCHMARK_MAIN();
