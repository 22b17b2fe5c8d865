#include "server/http/https_server.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include "certs/certificate_authority.h"
#include "tests/support/tls_test_client.h"

namespace palisade::server {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;
using palisade::testing::kWaitDeadline;
using palisade::testing::MountedSecret;
using palisade::testing::postJson;
using palisade::testing::serialOfPem;
using palisade::testing::TempDir;
using palisade::testing::TestClient;
using palisade::testing::waitFor;

// One CA for the whole binary; a serving certificate per call.
const certs::PemPair& testCa() {
  static const certs::PemPair ca =
      certs::makeCertificateAuthority("palisade test CA", std::chrono::hours(24)).value();
  return ca;
}

certs::PemPair issueServing() {
  certs::ServingCertificateRequest request;
  request.common_name = "localhost";
  request.dns_names = {"localhost"};
  request.ip_addresses = {"127.0.0.1"};
  request.validity = std::chrono::hours(24);
  return certs::issueServingCertificate(testCa(), request).value();
}

// A client that trusts the test CA and verifies the name the serving
// certificates carry.
class Client : public TestClient {
 public:
  explicit Client(std::vector<std::string> alpn = {"http/1.1"})
      : TestClient(testCa().certificate_pem, "localhost", std::move(alpn)) {}
};

HttpResponse textResponse(const HttpRequest& request, std::string text) {
  HttpResponse response{http::status::ok, request.version()};
  response.set(http::field::content_type, "text/plain");
  response.body() = std::move(text);
  return response;
}

// "/slow" sleeps, "/throw" throws; anything else echoes the method, target
// and body size.
HttpResponse echo(const HttpRequest& request) {
  if (request.target() == "/slow") {
    std::this_thread::sleep_for(200ms);
  }
  if (request.target() == "/throw") {
    throw std::runtime_error("handler failed");
  }
  if (request.target() == "/no-content") {  // a handler bug: 204 allows no body
    HttpResponse response{http::status::no_content, request.version()};
    response.body() = "oops";
    return response;
  }
  return textResponse(request, std::string(request.method_string()) + " " +
                                   std::string(request.target()) + " " +
                                   std::to_string(request.body().size()));
}

ServerLimits testLimits() {
  ServerLimits limits;
  limits.body_limit = 64 * 1024;
  limits.header_limit = 4 * 1024;
  limits.handshake_timeout = 5s;
  limits.read_timeout = 5s;
  limits.idle_timeout = 5s;
  limits.write_timeout = 2s;
  limits.max_connections = 64;
  limits.threads = 2;
  return limits;
}

// A server on 127.0.0.1 with a fresh certificate, run on its own thread.
class RunningServer {
 public:
  explicit RunningServer(ServerLimits limits = testLimits(), HttpHandler handler = echo)
      : secret_(dir_.path()), serving_(issueServing()) {
    secret_.publish(serving_);
    credentials_ = TlsCredentials::load(secret_.certificate(), secret_.key()).value();
    server_ = std::make_unique<HttpsServer>(limits, *credentials_, std::move(handler), registry_);
    auto listening = server_->listen("127.0.0.1", 0);
    if (!listening) {
      throw std::runtime_error(listening.error().message);
    }
  }

  ~RunningServer() {
    server_->shutdown();
    if (thread_.joinable()) {
      thread_.join();
    }
  }

  void start() {
    thread_ = std::thread([this] {
      server_->run();
      stopped_ = true;
    });
  }

  HttpsServer& server() { return *server_; }
  TlsCredentials& credentials() { return *credentials_; }
  MountedSecret& secret() { return secret_; }
  const certs::PemPair& serving() const { return serving_; }
  uint16_t port() const { return server_->port(); }
  bool stopped() const { return stopped_; }

  double badRequests(const std::string& reason) {
    return registry_.counter("palisade_http_bad_requests_total", "", {"reason"})
        .with({reason})
        .value();
  }
  double handshakeFailures() {
    return registry_.counter("palisade_tls_handshake_failures_total", "").with({}).value();
  }
  double connections() {
    return registry_.gauge("palisade_http_connections", "").with({}).value();
  }

 private:
  TempDir dir_;
  MountedSecret secret_;
  certs::PemPair serving_;
  metrics::Registry registry_;
  std::unique_ptr<TlsCredentials> credentials_;
  std::unique_ptr<HttpsServer> server_;
  std::atomic<bool> stopped_{false};
  std::thread thread_;
};

std::unique_ptr<RunningServer> startServer(ServerLimits limits = testLimits(),
                                           HttpHandler handler = echo) {
  auto running = std::make_unique<RunningServer>(limits, std::move(handler));
  running->start();
  return running;
}

TEST(HttpsServer, ServesSeveralRequestsOnOneKeptAliveConnection) {
  auto running = startServer();
  Client client;
  ASSERT_FALSE(client.connect(running->port()));
  for (int i = 0; i < 5; ++i) {
    auto response = client.request(postJson("/validate?timeout=10s", std::string(100 + i, 'x')));
    ASSERT_TRUE(response) << client.lastError().message();
    EXPECT_EQ(response->result(), http::status::ok);
    EXPECT_EQ(response->body(), "POST /validate?timeout=10s " + std::to_string(100 + i));
    EXPECT_TRUE(response->keep_alive());
  }
  EXPECT_EQ(running->connections(), 1.0);
  client.close();
  EXPECT_TRUE(waitFor([&] { return running->connections() == 0.0; }));
}

TEST(HttpsServer, AnswersPipelinedRequestsInOrder) {
  auto running = startServer();
  Client client;
  ASSERT_FALSE(client.connect(running->port()));
  ASSERT_FALSE(client.sendRaw("GET /first HTTP/1.1\r\nHost: localhost\r\n\r\n"
                              "GET /second HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  auto first = client.readResponse();
  auto second = client.readResponse();
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->body(), "GET /first 0");
  EXPECT_EQ(second->body(), "GET /second 0");
}

TEST(HttpsServer, SendsContinueToAClientThatExpectsIt) {
  auto running = startServer();
  Client client;
  ASSERT_FALSE(client.connect(running->port()));
  ASSERT_FALSE(client.sendRaw(
      "POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4\r\n"
      "Expect: 100-continue\r\n\r\n"));
  auto interim = client.readResponse();
  ASSERT_TRUE(interim) << client.lastError().message();
  EXPECT_EQ(interim->result(), http::status::continue_);
  ASSERT_FALSE(client.sendRaw("{}{}"));
  auto response = client.readResponse();
  ASSERT_TRUE(response) << client.lastError().message();
  EXPECT_EQ(response->body(), "POST /validate 4");
}

TEST(HttpsServer, ClientOfferingH2AndHttp11GetsHttp11) {
  auto running = startServer();
  Client client({"h2", "http/1.1"});
  ASSERT_FALSE(client.connect(running->port()));
  EXPECT_EQ(client.negotiatedProtocol(), "http/1.1");
  auto response = client.get("/healthz");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result(), http::status::ok);
}

TEST(HttpsServer, ClientWithoutAlpnIsServedHttp11) {
  auto running = startServer();
  Client client(std::vector<std::string>{});
  ASSERT_FALSE(client.connect(running->port()));
  EXPECT_EQ(client.negotiatedProtocol(), "");
  EXPECT_TRUE(client.get("/healthz"));
}

TEST(HttpsServer, ClientOfferingOnlyH2IsRefusedAndOthersAreStillServed) {
  auto running = startServer();
  Client refused({"h2"});
  const auto ec = refused.connect(running->port());
  ASSERT_TRUE(ec);
  EXPECT_EQ(ec.category(), net::error::get_ssl_category()) << ec.message();
  EXPECT_NE(ec.message().find("no application protocol"), std::string::npos) << ec.message();
  EXPECT_TRUE(waitFor([&] { return running->handshakeFailures() == 1.0; }));

  Client other;
  ASSERT_FALSE(other.connect(running->port()));
  EXPECT_TRUE(other.get("/healthz"));
}

TEST(HttpsServer, SpeaksTls13AndTls12WithForwardSecretAeadSuitesOnly) {
  auto running = startServer();
  Client modern;
  ASSERT_FALSE(modern.connect(running->port()));
  EXPECT_EQ(modern.negotiatedVersion(), "TLSv1.3");

  Client tls12;
  SSL_CTX_set_max_proto_version(tls12.tlsSettings(), TLS1_2_VERSION);
  ASSERT_FALSE(tls12.connect(running->port()));
  EXPECT_EQ(tls12.negotiatedVersion(), "TLSv1.2");
  const std::string cipher = tls12.negotiatedCipher();
  EXPECT_TRUE(cipher.starts_with("ECDHE-")) << cipher;
  EXPECT_TRUE(cipher.find("GCM") != std::string::npos ||
              cipher.find("CHACHA20") != std::string::npos)
      << cipher;
  EXPECT_TRUE(tls12.get("/healthz"));

  Client cbc;
  SSL_CTX_set_max_proto_version(cbc.tlsSettings(), TLS1_2_VERSION);
  SSL_CTX_set_cipher_list(cbc.tlsSettings(), "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA");
  EXPECT_TRUE(cbc.connect(running->port()));

  Client tls11;
  SSL_CTX_set_security_level(tls11.tlsSettings(), 0);  // let the client offer it at all
  SSL_CTX_set_min_proto_version(tls11.tlsSettings(), TLS1_1_VERSION);
  SSL_CTX_set_max_proto_version(tls11.tlsSettings(), TLS1_1_VERSION);
  EXPECT_TRUE(tls11.connect(running->port()));
  EXPECT_TRUE(waitFor([&] { return running->handshakeFailures() == 2.0; }));
}

TEST(HttpsServer, BodyOverTheLimitGets413AndTheServerGoesOn) {
  auto running = startServer();
  Client client;
  ASSERT_FALSE(client.connect(running->port()));
  auto response = client.request(postJson("/validate", std::string(256 * 1024, 'x')));
  ASSERT_TRUE(response) << client.lastError().message();
  EXPECT_EQ(response->result(), http::status::payload_too_large);
  EXPECT_NE(response->body().find("65536"), std::string::npos) << response->body();
  EXPECT_FALSE(response->keep_alive());
  EXPECT_EQ(running->badRequests("body_too_large"), 1.0);

  Client next;
  ASSERT_FALSE(next.connect(running->port()));
  auto ok = next.request(postJson("/validate", std::string(64 * 1024, 'x')));  // exactly the limit
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->result(), http::status::ok);
}

TEST(HttpsServer, ChunkedBodyOverTheLimitGets413) {
  auto running = startServer();
  Client client;
  ASSERT_FALSE(client.connect(running->port()));
  std::string chunk = std::string(32 * 1024, 'x');
  char size[16];
  std::snprintf(size, sizeof(size), "%zx", chunk.size());
  std::string raw =
      "POST /validate HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 3; ++i) {
    raw += std::string(size) + "\r\n" + chunk + "\r\n";
  }
  raw += "0\r\n\r\n";
  ASSERT_FALSE(client.sendRaw(raw));
  auto response = client.readResponse();
  ASSERT_TRUE(response) << client.lastError().message();
  EXPECT_EQ(response->result(), http::status::payload_too_large);
}

TEST(HttpsServer, HeaderOverTheLimitGets431) {
  auto running = startServer();
  Client client;
  ASSERT_FALSE(client.connect(running->port()));
  HttpRequest request{http::verb::get, "/healthz", 11};
  request.set("X-Padding", std::string(8 * 1024, 'p'));
  auto response = client.request(request);
  ASSERT_TRUE(response) << client.lastError().message();
  EXPECT_EQ(response->result(), http::status::request_header_fields_too_large);
  EXPECT_FALSE(response->keep_alive());
  EXPECT_EQ(running->badRequests("headers_too_large"), 1.0);
}

TEST(HttpsServer, MalformedRequestGets400AndTheConnectionCloses) {
  auto running = startServer();
  Client client;
  ASSERT_FALSE(client.connect(running->port()));
  ASSERT_FALSE(client.sendRaw("THIS IS NOT HTTP\r\n\r\n"));
  auto response = client.readResponse();
  ASSERT_TRUE(response) << client.lastError().message();
  EXPECT_EQ(response->result(), http::status::bad_request);
  EXPECT_NE(response->body().find("malformed"), std::string::npos) << response->body();
  EXPECT_FALSE(response->keep_alive());
  EXPECT_NE(client.waitForClose(), net::error::timed_out);
  EXPECT_EQ(running->badRequests("malformed"), 1.0);

  Client next;
  ASSERT_FALSE(next.connect(running->port()));
  EXPECT_TRUE(next.get("/healthz"));
}

TEST(HttpsServer, ClientSendingHalfAHeaderIsDisconnectedAfterTheReadTimeout) {
  ServerLimits limits = testLimits();
  limits.read_timeout = 300ms;
  auto running = startServer(limits);
  Client slow;
  ASSERT_FALSE(slow.connect(running->port()));
  ASSERT_FALSE(slow.sendRaw("POST /validate HTTP/1.1\r\nHost: localhost\r\n"));

  // Another client is served meanwhile.
  Client other;
  ASSERT_FALSE(other.connect(running->port()));
  EXPECT_TRUE(other.get("/healthz"));

  const auto ec = slow.waitForClose();
  EXPECT_NE(ec, net::error::timed_out);
  EXPECT_NE(ec, beast::error::timeout);
  // The server closes the socket first and counts after.
  EXPECT_TRUE(waitFor([&] { return running->badRequests("read_timeout") == 1.0; }));
}

TEST(HttpsServer, IdleKeptAliveConnectionIsClosedAfterTheIdleTimeout) {
  ServerLimits limits = testLimits();
  limits.idle_timeout = 300ms;
  auto running = startServer(limits);
  Client client;
  ASSERT_FALSE(client.connect(running->port()));
  ASSERT_TRUE(client.get("/healthz"));
  const auto ec = client.waitForClose();
  EXPECT_NE(ec, net::error::timed_out);
  EXPECT_NE(ec, beast::error::timeout);
  // Idleness is not an error.
  EXPECT_EQ(running->badRequests("read_timeout"), 0.0);
}

TEST(HttpsServer, ClientThatNeverHandshakesIsDisconnected) {
  ServerLimits limits = testLimits();
  limits.handshake_timeout = 300ms;
  auto running = startServer(limits);
  net::io_context ioc;
  tcp::socket socket(ioc);
  socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), running->port()));
  EXPECT_TRUE(waitFor([&] { return running->handshakeFailures() == 1.0; }));
  EXPECT_TRUE(waitFor([&] { return running->connections() == 0.0; }));
}

TEST(HttpsServer, ConnectionCapHoldsBackAThirdConnectionUntilOneCloses) {
  ServerLimits limits = testLimits();
  limits.max_connections = 2;
  auto running = startServer(limits);
  Client first;
  Client second;
  ASSERT_FALSE(first.connect(running->port()));
  ASSERT_FALSE(second.connect(running->port()));
  ASSERT_TRUE(first.get("/healthz"));
  ASSERT_TRUE(second.get("/healthz"));

  Client third;
  ASSERT_FALSE(third.connectTcp(running->port()));  // the kernel's backlog takes it
  third.startHandshake();
  third.runFor(500ms);
  EXPECT_FALSE(third.handshakeResult().has_value()) << "served beyond the cap";

  first.close();
  const auto until = std::chrono::steady_clock::now() + kWaitDeadline;
  while (!third.handshakeResult() && std::chrono::steady_clock::now() < until) {
    third.runFor(50ms);
  }
  ASSERT_TRUE(third.handshakeResult().has_value());
  ASSERT_FALSE(*third.handshakeResult()) << third.handshakeResult()->message();
  auto response = third.get("/healthz");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result(), http::status::ok);
  EXPECT_TRUE(second.get("/healthz"));
}

TEST(HttpsServer, RotatedCertificateServesNewHandshakesWithoutFailingARequest) {
  auto running = startServer();
  EXPECT_TRUE(running->credentials().reloadIfChanged() == TlsCredentials::Reload::kUnchanged);

  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::atomic<int> new_connection_requests{0};
  std::atomic<int> kept_alive_requests{0};
  std::thread reconnecting([&] {
    Client client;
    while (!stop) {
      if (client.connect(running->port())) {
        ++failures;
        continue;
      }
      for (int i = 0; i < 3; ++i) {
        auto response = client.request(postJson("/validate", "{}"));
        if (response && response->result() == http::status::ok) {
          ++new_connection_requests;
        } else {
          ++failures;
        }
      }
      client.close();
    }
  });
  std::thread kept_alive([&] {
    Client client;
    if (client.connect(running->port())) {
      ++failures;
      return;
    }
    while (!stop) {
      auto response = client.request(postJson("/validate", "{}"));
      if (response && response->result() == http::status::ok) {
        ++kept_alive_requests;
      } else {
        ++failures;
      }
    }
  });

  std::string previous_serial = serialOfPem(running->serving().certificate_pem);
  for (int round = 0; round < 3; ++round) {
    const int before = new_connection_requests;
    EXPECT_TRUE(waitFor([&] { return new_connection_requests >= before + 20; }));
    const certs::PemPair next = issueServing();
    running->secret().publish(next);
    std::string error;
    ASSERT_EQ(running->credentials().reloadIfChanged(&error), TlsCredentials::Reload::kReloaded)
        << error;
    EXPECT_EQ(running->credentials().reloadIfChanged(), TlsCredentials::Reload::kUnchanged);

    Client fresh;
    ASSERT_FALSE(fresh.connect(running->port()));
    const std::string serial = fresh.peerSerial();
    EXPECT_EQ(serial, serialOfPem(next.certificate_pem));
    EXPECT_NE(serial, previous_serial);
    previous_serial = serial;
  }
  const int before = new_connection_requests;
  EXPECT_TRUE(waitFor([&] { return new_connection_requests >= before + 20; }));
  stop = true;
  reconnecting.join();
  kept_alive.join();
  EXPECT_EQ(failures, 0);
  EXPECT_GT(new_connection_requests, 0);
  EXPECT_GT(kept_alive_requests, 0);
}

TEST(HttpsServer, MismatchedPairOnReloadKeepsTheCurrentCertificate) {
  auto running = startServer();
  const std::string original = serialOfPem(running->serving().certificate_pem);
  const certs::PemPair a = issueServing();
  const certs::PemPair b = issueServing();

  // A rotation caught halfway: the new key has landed, the certificate not.
  running->secret().publish(running->serving().certificate_pem, a.private_key_pem);
  std::string error;
  EXPECT_EQ(running->credentials().reloadIfChanged(&error), TlsCredentials::Reload::kFailed);
  EXPECT_NE(error.find("does not match"), std::string::npos) << error;
  Client client;
  ASSERT_FALSE(client.connect(running->port()));
  EXPECT_EQ(client.peerSerial(), original);
  EXPECT_TRUE(client.get("/healthz"));

  // Garbage is refused the same way.
  running->secret().publish("not a certificate", "not a key");
  EXPECT_EQ(running->credentials().reloadIfChanged(&error), TlsCredentials::Reload::kFailed);

  // Once the files are whole again, the next check picks them up.
  running->secret().publish(b);
  EXPECT_EQ(running->credentials().reloadIfChanged(&error), TlsCredentials::Reload::kReloaded)
      << error;
  Client after;
  ASSERT_FALSE(after.connect(running->port()));
  EXPECT_EQ(after.peerSerial(), serialOfPem(b.certificate_pem));
}

TEST(HttpsServer, ShutdownFinishesAnInFlightRequestClosesIdleConnectionsAndReturns) {
  std::promise<void> entered;
  auto entered_future = entered.get_future();
  std::atomic<bool> signalled{false};
  auto running = startServer(testLimits(), [&](const HttpRequest& request) {
    if (request.target() == "/slow" && !signalled.exchange(true)) {
      entered.set_value();
    }
    return echo(request);
  });
  Client idle;
  ASSERT_FALSE(idle.connect(running->port()));
  ASSERT_TRUE(idle.get("/healthz"));

  Client busy;
  ASSERT_FALSE(busy.connect(running->port()));
  ASSERT_FALSE(busy.send(postJson("/slow", "{}")));
  ASSERT_EQ(entered_future.wait_for(kWaitDeadline), std::future_status::ready);
  running->server().shutdown();

  auto response = busy.readResponse();
  ASSERT_TRUE(response) << busy.lastError().message();
  EXPECT_EQ(response->result(), http::status::ok);
  EXPECT_EQ(response->body(), "POST /slow 2");
  EXPECT_FALSE(response->keep_alive());

  EXPECT_NE(idle.waitForClose(), net::error::timed_out);
  busy.close();
  EXPECT_TRUE(waitFor([&] { return running->stopped(); }));

  Client late;
  EXPECT_TRUE(late.connect(running->port()));
}

TEST(HttpsServer, ConnectionsAreDealtToTheLoopsInTurnSoABlockedOneHoldsUpOnlyItsOwnLoop) {
  std::promise<void> entered;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  auto running = startServer(testLimits(), [&, released](const HttpRequest& request) {
    if (request.target() == "/block") {
      entered.set_value();
      released.wait();
    }
    return echo(request);
  });
  Client blocked;  // first connection: the first loop
  ASSERT_FALSE(blocked.connect(running->port()));
  ASSERT_FALSE(blocked.send(postJson("/block", "{}")));
  ASSERT_EQ(entered.get_future().wait_for(kWaitDeadline), std::future_status::ready);

  Client other;  // second connection: the second loop, free to answer
  ASSERT_FALSE(other.connect(running->port()));
  auto answer = other.get("/healthz");
  ASSERT_TRUE(answer) << other.lastError().message();
  EXPECT_EQ(answer->result(), http::status::ok);

  release.set_value();
  auto unblocked = blocked.readResponse();
  ASSERT_TRUE(unblocked) << blocked.lastError().message();
  EXPECT_EQ(unblocked->body(), "POST /block 2");
}

TEST(HttpsServer, ShutdownBeforeRunMakesRunReturn) {
  RunningServer running;
  running.server().shutdown();
  running.start();
  EXPECT_TRUE(waitFor([&] { return running.stopped(); }));
}

TEST(HttpsServer, HandlerExceptionBecomes500AndTheConnectionGoesOn) {
  auto running = startServer();
  Client client;
  ASSERT_FALSE(client.connect(running->port()));
  auto failed = client.get("/throw");
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->result(), http::status::internal_server_error);
  auto next = client.get("/healthz");
  ASSERT_TRUE(next);
  EXPECT_EQ(next->result(), http::status::ok);
}

TEST(HttpsServer, ResponseThatCannotBeSerializedBecomes500) {
  auto running = startServer();
  Client client;
  ASSERT_FALSE(client.connect(running->port()));
  auto response = client.get("/no-content");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result(), http::status::internal_server_error);
  EXPECT_TRUE(client.get("/healthz"));
}

TEST(HttpsServer, HeadResponseAnnouncesTheBodyWithoutSendingIt) {
  auto running = startServer();
  Client client;
  ASSERT_FALSE(client.connect(running->port()));
  ASSERT_FALSE(client.send(HttpRequest{http::verb::head, "/healthz", 11}));
  auto head = client.readHeadResponse();
  ASSERT_TRUE(head) << client.lastError().message();
  EXPECT_EQ((*head)[http::field::content_length], "15");  // "HEAD /healthz 0"
  // Nothing else came down the connection: the next response parses.
  auto next = client.get("/healthz");
  ASSERT_TRUE(next) << client.lastError().message();
  EXPECT_EQ(next->body(), "GET /healthz 0");
}

TEST(HttpsServer, EveryRunsATaskPeriodicallyUntilShutdown) {
  RunningServer running;
  std::atomic<int> calls{0};
  running.server().every(10ms, [&] {
    if (++calls == 2) {
      throw std::runtime_error("a failing task does not stop the timer");
    }
  });
  running.start();
  EXPECT_TRUE(waitFor([&] { return calls >= 5; }));
  running.server().shutdown();
  EXPECT_TRUE(waitFor([&] { return running.stopped(); }));
  const int after = calls;
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(calls, after);
}

TEST(HttpsServer, SignalStartsAGracefulShutdown) {
  RunningServer running;
  running.server().shutdownOnSignals({SIGUSR2});
  running.start();
  Client client;
  ASSERT_FALSE(client.connect(running.port()));
  ASSERT_TRUE(client.get("/healthz"));
  ASSERT_EQ(::kill(::getpid(), SIGUSR2), 0);
  EXPECT_NE(client.waitForClose(), net::error::timed_out);
  EXPECT_TRUE(waitFor([&] { return running.stopped(); }));
}

TEST(HttpsServer, ListenRejectsAnInvalidAddressAndASecondListen) {
  RunningServer running;
  EXPECT_FALSE(running.server().listen("not-an-address", 0));
  EXPECT_FALSE(running.server().listen("127.0.0.1", 0));
  running.server().shutdown();
}

TEST(TlsCredentials, LoadRejectsAKeyThatDoesNotMatchTheCertificate) {
  TempDir dir;
  MountedSecret secret(dir.path());
  const certs::PemPair a = issueServing();
  const certs::PemPair b = issueServing();
  secret.publish(a.certificate_pem, b.private_key_pem);
  auto loaded = TlsCredentials::load(secret.certificate(), secret.key());
  ASSERT_FALSE(loaded);
  EXPECT_NE(loaded.error().message.find("does not match"), std::string::npos)
      << loaded.error().message;
}

TEST(TlsCredentials, LoadNamesAMissingFile) {
  TempDir dir;
  auto loaded = TlsCredentials::load(dir.path() / "absent.crt", dir.path() / "absent.key");
  ASSERT_FALSE(loaded);
  EXPECT_NE(loaded.error().message.find("absent.crt"), std::string::npos)
      << loaded.error().message;
}

TEST(TlsCredentials, ValidityComesFromTheCertificate) {
  TempDir dir;
  MountedSecret secret(dir.path());
  secret.publish(issueServing());
  auto credentials = TlsCredentials::load(secret.certificate(), secret.key()).value();
  const auto now = std::chrono::system_clock::now();
  EXPECT_LE(credentials->notBefore(), now);
  EXPECT_GT(credentials->notBefore(), now - std::chrono::hours(1));
  EXPECT_GT(credentials->notAfter(), now + std::chrono::hours(23));
  EXPECT_LT(credentials->notAfter(), now + std::chrono::hours(25));
  EXPECT_TRUE(credentials->validAt(now));
  EXPECT_FALSE(credentials->validAt(now + std::chrono::hours(48)));
  EXPECT_FALSE(credentials->validAt(now - std::chrono::hours(2)));
}

TEST(TlsCredentials, InPlaceRewriteIsNoticed) {
  TempDir dir;
  const auto certificate = dir.path() / "tls.crt";
  const auto key = dir.path() / "tls.key";
  const certs::PemPair first = issueServing();
  std::ofstream(certificate) << first.certificate_pem;
  std::ofstream(key) << first.private_key_pem;
  auto credentials = TlsCredentials::load(certificate, key).value();
  EXPECT_EQ(credentials->reloadIfChanged(), TlsCredentials::Reload::kUnchanged);
  const certs::PemPair second = issueServing();
  std::ofstream(key) << second.private_key_pem;
  std::ofstream(certificate) << second.certificate_pem;
  // Same inode and, quite possibly, the same size: only the modification
  // time tells. Written later than the file system's timestamp granularity,
  // as a real rotation is.
  const auto later = std::filesystem::file_time_type::clock::now() + 2s;
  std::filesystem::last_write_time(certificate, later);
  std::filesystem::last_write_time(key, later);
  std::string error;
  EXPECT_EQ(credentials->reloadIfChanged(&error), TlsCredentials::Reload::kReloaded) << error;
}

}  // namespace
}  // namespace palisade::server
