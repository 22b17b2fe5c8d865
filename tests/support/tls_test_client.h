#pragma once

// Helpers for tests that talk to an HTTPS server over real TLS: a Beast HTTPS
// client whose every operation is bounded by a deadline, a temporary
// directory, a Secret mounted the way the kubelet mounts one, polling with a
// deadline, and certificate serial numbers.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <openssl/x509.h>

#include "certs/certificate_authority.h"
#include "server/http/https_server.h"

namespace palisade::testing {

using server::HttpRequest;
using server::HttpResponse;

// Generous: a loaded two-core machine may be slow, but never this slow.
inline constexpr std::chrono::milliseconds kClientDeadline{10000};
inline constexpr std::chrono::milliseconds kWaitDeadline{10000};

// Polls `condition` every few milliseconds; false if it still does not hold
// after `deadline`.
bool waitFor(const std::function<bool()>& condition,
             std::chrono::milliseconds deadline = kWaitDeadline);

// The hexadecimal serial number of a certificate; of a PEM certificate (empty
// if it does not parse).
std::string serialOf(const X509* certificate);
std::string serialOfPem(const std::string& pem);

// A POST of a JSON body, as the kube-apiserver sends an AdmissionReview.
HttpRequest postJson(std::string target, std::string body);

// A directory under the system's temporary directory, removed with its
// contents on destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "palisade-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// A Secret mounted the way the kubelet does it: tls.crt -> ..data/tls.crt,
// ..data -> ..<version>, and a new version published by swapping ..data
// atomically, then removing the previous version.
class MountedSecret {
 public:
  explicit MountedSecret(std::filesystem::path dir) : dir_(std::move(dir)) {}

  std::filesystem::path certificate() const { return dir_ / "tls.crt"; }
  std::filesystem::path key() const { return dir_ / "tls.key"; }

  void publish(const certs::PemPair& pair) { publish(pair.certificate_pem, pair.private_key_pem); }
  void publish(const std::string& certificate_pem, const std::string& key_pem);

 private:
  std::filesystem::path dir_;
  int version_ = 0;
};

// An HTTPS client on its own io_context that trusts one CA and verifies one
// host name (a DNS name, or an IP address matched against the certificate's
// IP SANs); every operation is bounded by kClientDeadline, so a test fails
// instead of hanging. Not thread-safe: one client per thread.
class TestClient {
 public:
  // `alpn` is the list of protocols offered; empty offers none.
  TestClient(const std::string& ca_pem, std::string host,
             std::vector<std::string> alpn = {"http/1.1"});
  TestClient(const TestClient&) = delete;
  TestClient& operator=(const TestClient&) = delete;

  // A TCP connection to 127.0.0.1:port, without the TLS handshake.
  boost::beast::error_code connectTcp(uint16_t port);
  // TCP connection and TLS handshake.
  boost::beast::error_code connect(uint16_t port);

  // A handshake left running while the test does something else: start it,
  // let it progress with runFor(), look at handshakeResult().
  void startHandshake();
  void runFor(std::chrono::milliseconds duration);
  const std::optional<boost::beast::error_code>& handshakeResult() const {
    return handshake_result_;
  }

  // Sets the Host header and the payload size, and writes the request.
  boost::beast::error_code send(HttpRequest request);
  boost::beast::error_code sendRaw(const std::string& bytes);
  std::optional<HttpResponse> readResponse();
  // The answer to a HEAD request: a header announcing a body that is not sent.
  std::optional<boost::beast::http::response<boost::beast::http::empty_body>> readHeadResponse();
  // send() then readResponse(); on failure, lastError() says why.
  std::optional<HttpResponse> request(HttpRequest request);
  std::optional<HttpResponse> get(const std::string& target);

  // Reads until the server closes the connection; the error that ended it.
  boost::beast::error_code waitForClose();

  std::string peerSerial();
  std::string negotiatedProtocol();
  std::string negotiatedCipher();
  std::string negotiatedVersion();
  SSL_CTX* tlsSettings() { return context_.native_handle(); }

  void close();
  boost::beast::error_code lastError() const { return last_error_; }

 private:
  using Stream = boost::beast::ssl_stream<boost::beast::tcp_stream>;
  using Completion = std::function<void(boost::beast::error_code)>;

  boost::beast::tcp_stream& lowest() { return boost::beast::get_lowest_layer(*stream_); }
  // Starts one operation, whose completion handler it passes to `start`, and
  // runs the io_context until it completes or the deadline closes the socket.
  boost::beast::error_code run(const std::function<void(Completion)>& start);

  std::string host_;
  boost::asio::io_context ioc_;
  boost::asio::ssl::context context_;
  std::optional<Stream> stream_;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::error_code> handshake_result_;
  boost::beast::error_code last_error_;
};

}  // namespace palisade::testing
