#pragma once

// An HTTPS server for the kube-apiserver's admission calls: HTTP/1.1 with
// keep-alive over TLS (Boost.Beast, OpenSSL). One event loop per I/O thread,
// as nginx runs one per worker: connections are dealt to the loops in turn
// and stay on theirs, so no lock or cross-thread wake-up sits on a request's
// path. A main loop on the thread that calls run() accepts, and runs the
// periodic tasks and signal handlers. Requests are handed to a synchronous
// handler; admission decisions take microseconds, so it runs on the loop's
// thread (a handler that blocked would hold up the other connections of its
// loop, not the others).
//
// What a server on the cluster's critical path must guarantee:
// - limits from ServerLimits (body, header, timeouts for handshake, reading a
//   request, idleness between requests and writing), and a cap on concurrent
//   connections beyond which the server stops accepting until one closes;
// - malformed requests get a clear HTTP error and a log line, and never
//   disturb other connections;
// - shutdown() stops accepting, lets in-flight requests finish, closes idle
//   connections, and returns run() once all is done.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "policy/error.h"
#include "server/http/tls_credentials.h"
#include "server/metrics/registry.h"

namespace palisade::server {

struct ServerLimits {
  // A request to the apiserver is at most 3 MiB and a review carries both the
  // object and the old object.
  size_t body_limit = 8 * 1024 * 1024;
  size_t header_limit = 16 * 1024;
  std::chrono::milliseconds handshake_timeout{5000};
  std::chrono::milliseconds read_timeout{10000};   // to receive a whole request once it began
  std::chrono::milliseconds idle_timeout{90000};   // a kept-alive connection with no request
  std::chrono::milliseconds write_timeout{10000};
  size_t max_connections = 1024;
  unsigned threads = 0;  // I/O threads serving connections; 0: one per core
};

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;
// Must be thread-safe: it is called from every I/O thread.
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

// Metrics it maintains in the registry: palisade_tls_handshake_failures_total,
// palisade_http_connections (gauge), palisade_http_bad_requests_total{reason}.
class HttpsServer {
 public:
  HttpsServer(ServerLimits limits, TlsCredentials& credentials, HttpHandler handler,
              metrics::Registry& registry);
  ~HttpsServer();
  HttpsServer(const HttpsServer&) = delete;
  HttpsServer& operator=(const HttpsServer&) = delete;

  // Binds and listens; port 0 picks a free one (see port()).
  [[nodiscard]] policy::Result<void> listen(const std::string& address, uint16_t port);
  uint16_t port() const;

  // Calls `task` on a server thread every `interval` until shutdown (file
  // reloads, for instance).
  void every(std::chrono::milliseconds interval, std::function<void()> task);
  // Shuts down gracefully when one of these signals arrives.
  void shutdownOnSignals(std::initializer_list<int> signals);

  // Runs the loops (the main one on the calling thread); returns when the
  // server has shut down.
  void run();
  // Thread-safe; may be called before or during run().
  void shutdown();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace palisade::server
