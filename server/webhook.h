#pragma once

// The webhook's HTTP surface, independent of sockets:
//   POST /mutate, /validate   AdmissionReview in, AdmissionReview out. A
//                             decision, allow or deny, is always 200: any
//                             other status makes the apiserver apply the
//                             failurePolicy instead of Palisade's answer. A
//                             body that is not an AdmissionReview is 400.
//   GET  /healthz             the process is alive
//   GET  /readyz              the configuration is loaded and the serving
//                             certificate is valid now
//   GET  /metrics             Prometheus text format
// Every admission decision is logged as one JSON line and counted.

#include <chrono>
#include <functional>

#include "server/admission/controller.h"
#include "server/config_store.h"
#include "server/http/https_server.h"
#include "server/http/tls_credentials.h"
#include "server/metrics/registry.h"

namespace palisade::server {

// Thread-safe: handle() may run on every I/O thread at once.
class Webhook {
 public:
  using Clock = std::function<std::chrono::system_clock::time_point()>;

  // `cluster` and `credentials` may be null (no API connection; no TLS, as in
  // tests); whatever is given must outlive the webhook.
  Webhook(ConfigStore& config, const ClusterView* cluster, const TlsCredentials* credentials,
          metrics::Registry& registry, Clock clock = std::chrono::system_clock::now);

  HttpResponse handle(const HttpRequest& request) const;

 private:
  HttpResponse admit(const HttpRequest& request, std::string_view route) const;
  HttpResponse ready(const HttpRequest& request) const;

  ConfigStore& config_;
  const ClusterView* cluster_;
  const TlsCredentials* credentials_;
  metrics::Registry& registry_;
  Clock clock_;
  metrics::Family<metrics::Counter>& requests_;
  metrics::Family<metrics::Histogram>& latency_;
};

}  // namespace palisade::server
