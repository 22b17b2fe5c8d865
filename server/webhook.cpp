#include "server/webhook.h"

#include <cmath>

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/verb.hpp>

#include "server/log.h"

namespace palisade::server {
namespace {

namespace http = boost::beast::http;

HttpResponse textResponse(const HttpRequest& request, http::status status, std::string body,
                          std::string_view content_type = "text/plain; charset=utf-8") {
  HttpResponse response{status, request.version()};
  response.set(http::field::content_type, std::string(content_type));
  response.keep_alive(request.keep_alive());
  response.body() = std::move(body);
  response.prepare_payload();
  return response;
}

std::string_view pathOf(const HttpRequest& request) {
  const std::string_view target(request.target().data(), request.target().size());
  return target.substr(0, target.find('?'));
}

// The apiserver always sends application/json; an explicit other type is a
// client that does not speak AdmissionReview.
bool acceptableContentType(const HttpRequest& request) {
  const auto field = request.find(http::field::content_type);
  if (field == request.end()) {
    return true;
  }
  const std::string_view value(field->value().data(), field->value().size());
  const std::string_view media = value.substr(0, value.find(';'));
  return media == "application/json";
}

std::string objectNameOf(const AdmissionRequest& review) {
  if (!review.name.empty()) {
    return review.name;
  }
  const nlohmann::json& object = review.object.is_object() ? review.object : review.old_object;
  if (object.is_object()) {
    if (auto meta = object.find("metadata"); meta != object.end() && meta->is_object()) {
      if (auto generate = meta->find("generateName");
          generate != meta->end() && generate->is_string()) {
        return generate->get<std::string>() + "*";
      }
    }
  }
  return "";
}

}  // namespace

Webhook::Webhook(ConfigStore& config, const ClusterView* cluster, const TlsCredentials* credentials,
                 metrics::Registry& registry, Clock clock)
    : config_(config),
      cluster_(cluster),
      credentials_(credentials),
      registry_(registry),
      clock_(std::move(clock)),
      requests_(registry.counter("palisade_admission_requests_total",
                                 "Admission reviews answered, by route, operation, kind and decision.",
                                 {"route", "operation", "kind", "decision"})),
      latency_(registry.histogram("palisade_admission_duration_seconds",
                                  "Time to decide an admission review, from body to answer.",
                                  {"route"}, metrics::latencyBuckets())) {}

HttpResponse Webhook::handle(const HttpRequest& request) const {
  const std::string_view path = pathOf(request);
  if (path == "/mutate" || path == "/validate") {
    return admit(request, path.substr(1));
  }
  const bool is_get = request.method() == http::verb::get || request.method() == http::verb::head;
  if (path == "/healthz" || path == "/readyz" || path == "/metrics") {
    if (!is_get) {
      HttpResponse response = textResponse(request, http::status::method_not_allowed,
                                           "use GET\n");
      response.set(http::field::allow, "GET, HEAD");
      return response;
    }
    if (path == "/healthz") {
      return textResponse(request, http::status::ok, "ok\n");
    }
    if (path == "/readyz") {
      return ready(request);
    }
    return textResponse(request, http::status::ok, registry_.render(),
                        "text/plain; version=0.0.4; charset=utf-8");
  }
  return textResponse(request, http::status::not_found,
                      "no such path; Palisade serves /mutate, /validate, /healthz, /readyz and "
                      "/metrics\n");
}

HttpResponse Webhook::ready(const HttpRequest& request) const {
  if (!config_.current()) {
    return textResponse(request, http::status::service_unavailable, "no configuration loaded\n");
  }
  if (credentials_ != nullptr && !credentials_->validAt(clock_())) {
    return textResponse(request, http::status::service_unavailable,
                        "the serving certificate is not valid now\n");
  }
  if (cluster_ != nullptr && !cluster_->hasSynced()) {
    return textResponse(request, http::status::service_unavailable,
                        "namespaces and NetworkPolicies not yet listed from the API\n");
  }
  return textResponse(request, http::status::ok, "ready\n");
}

HttpResponse Webhook::admit(const HttpRequest& request, std::string_view route) const {
  if (request.method() != http::verb::post) {
    HttpResponse response = textResponse(request, http::status::method_not_allowed,
                                         "admission reviews are POSTed\n");
    response.set(http::field::allow, "POST");
    return response;
  }
  if (!acceptableContentType(request)) {
    return textResponse(request, http::status::unsupported_media_type,
                        "an AdmissionReview is application/json\n");
  }
  const auto started = std::chrono::steady_clock::now();
  policy::Result<AdmissionRequest> review = parseAdmissionReview(request.body());
  if (!review) {
    requests_.with({route, "", "", "malformed"}).inc();
    logEvent(LogLevel::kWarn, "malformed admission review",
             {{"route", route}, {"reason", review.error().message}});
    return textResponse(request, http::status::bad_request, review.error().message + "\n");
  }
  const AdmissionController controller(config_.current(), cluster_);
  const AdmissionOutcome outcome =
      route == "mutate" ? controller.mutate(*review) : controller.validate(*review);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  const std::string_view operation = toString(review->operation);
  requests_.with({route, operation, review->kind.kind, outcome.decision}).inc();
  latency_.with({route}).observe(seconds);
  const std::string name = objectNameOf(*review);
  logEventBatched(LogLevel::kInfo, "admission",
                  {{"uid", review->uid},
                   {"route", route},
                   {"operation", operation},
                   {"kind", review->kind.kind},
                   {"namespace", review->namespace_name},
                   {"name", name},
                   {"user", review->user_info.username},
                   {"dryRun", review->dry_run},
                   {"decision", outcome.decision},
                   {"allowed", outcome.response.allowed},
                   {"reason", outcome.reason},
                   {"patched", !outcome.response.patch.is_null()},
                   {"warnings", outcome.response.warnings.size()},
                   {"durationMs", std::round(seconds * 1e6) / 1e3}});
  return textResponse(request, http::status::ok,
                      renderAdmissionReview(review->review_api_version, outcome.response),
                      "application/json");
}

}  // namespace palisade::server
