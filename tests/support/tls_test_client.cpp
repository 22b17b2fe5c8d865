#include "tests/support/tls_test_client.h"

#include <stdlib.h>

#include <fstream>
#include <stdexcept>
#include <thread>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

namespace palisade::testing {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

bool waitFor(const std::function<bool()>& condition, std::chrono::milliseconds deadline) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > until) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

std::string serialOf(const X509* certificate) {
  BIGNUM* number = ASN1_INTEGER_to_BN(X509_get0_serialNumber(certificate), nullptr);
  char* hex = BN_bn2hex(number);
  std::string serial(hex);
  OPENSSL_free(hex);
  BN_free(number);
  return serial;
}

std::string serialOfPem(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* certificate = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (certificate == nullptr) {
    return {};
  }
  std::string serial = serialOf(certificate);
  X509_free(certificate);
  return serial;
}

HttpRequest postJson(std::string target, std::string body) {
  HttpRequest request{http::verb::post, std::move(target), 11};
  request.set(http::field::content_type, "application/json");
  request.body() = std::move(body);
  return request;
}

TempDir::TempDir(const std::string& prefix) {
  std::string pattern = std::filesystem::temp_directory_path() / (prefix + "-XXXXXX");
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("mkdtemp failed");
  }
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

void MountedSecret::publish(const std::string& certificate_pem, const std::string& key_pem) {
  const std::string version = "..v" + std::to_string(++version_);
  std::filesystem::create_directory(dir_ / version);
  std::ofstream(dir_ / version / "tls.crt") << certificate_pem;
  std::ofstream(dir_ / version / "tls.key") << key_pem;
  std::filesystem::create_directory_symlink(version, dir_ / "..data_tmp");
  std::filesystem::rename(dir_ / "..data_tmp", dir_ / "..data");  // atomic
  if (!std::filesystem::is_symlink(certificate())) {
    std::filesystem::create_symlink("..data/tls.crt", certificate());
    std::filesystem::create_symlink("..data/tls.key", key());
  }
  if (version_ > 1) {  // the kubelet removes the previous version
    std::filesystem::remove_all(dir_ / ("..v" + std::to_string(version_ - 1)));
  }
}

namespace {

// Adapts a completion that only wants the error to Beast's read and write
// handlers, which also report a byte count.
auto withoutSize(std::function<void(beast::error_code)> done) {
  return [done = std::move(done)](beast::error_code ec, size_t) { done(ec); };
}

bool isIpAddress(const std::string& host) {
  beast::error_code ec;
  net::ip::make_address(host, ec);
  return !ec;
}

}  // namespace

TestClient::TestClient(const std::string& ca_pem, std::string host, std::vector<std::string> alpn)
    : host_(std::move(host)), context_(ssl::context::tls_client) {
  context_.add_certificate_authority(net::buffer(ca_pem.data(), ca_pem.size()));
  context_.set_verify_mode(ssl::verify_peer);
  if (!alpn.empty()) {
    std::string wire;
    for (const auto& protocol : alpn) {
      wire += static_cast<char>(protocol.size());
      wire += protocol;
    }
    SSL_CTX_set_alpn_protos(context_.native_handle(),
                            reinterpret_cast<const unsigned char*>(wire.data()),
                            static_cast<unsigned>(wire.size()));
  }
}

beast::error_code TestClient::connectTcp(uint16_t port) {
  stream_.emplace(net::make_strand(ioc_), context_);
  buffer_.clear();
  // SNI carries DNS names only (RFC 6066, section 3).
  if (!isIpAddress(host_)) {
    SSL_set_tlsext_host_name(stream_->native_handle(), host_.c_str());
  }
  stream_->set_verify_callback(ssl::host_name_verification(host_));
  const tcp::endpoint endpoint(net::ip::make_address("127.0.0.1"), port);
  return run([&](Completion done) { lowest().async_connect(endpoint, done); });
}

beast::error_code TestClient::connect(uint16_t port) {
  if (auto ec = connectTcp(port)) {
    return ec;
  }
  return run([&](Completion done) { stream_->async_handshake(ssl::stream_base::client, done); });
}

void TestClient::startHandshake() {
  handshake_result_.reset();
  lowest().expires_after(kClientDeadline);
  stream_->async_handshake(ssl::stream_base::client,
                           [this](beast::error_code ec) { handshake_result_ = ec; });
}

void TestClient::runFor(std::chrono::milliseconds duration) {
  if (ioc_.stopped()) {
    ioc_.restart();
  }
  ioc_.run_for(duration);
}

beast::error_code TestClient::send(HttpRequest request) {
  request.set(http::field::host, host_);
  request.prepare_payload();
  return run([&](Completion done) { http::async_write(*stream_, request, withoutSize(done)); });
}

beast::error_code TestClient::sendRaw(const std::string& bytes) {
  return run(
      [&](Completion done) { net::async_write(*stream_, net::buffer(bytes), withoutSize(done)); });
}

std::optional<HttpResponse> TestClient::readResponse() {
  HttpResponse response;
  auto ec = run([&](Completion done) {
    http::async_read(*stream_, buffer_, response, withoutSize(done));
  });
  if (ec) {
    last_error_ = ec;
    return std::nullopt;
  }
  return response;
}

std::optional<http::response<http::empty_body>> TestClient::readHeadResponse() {
  http::response_parser<http::empty_body> parser;
  parser.skip(true);
  auto ec = run([&](Completion done) {
    http::async_read(*stream_, buffer_, parser, withoutSize(done));
  });
  if (ec) {
    last_error_ = ec;
    return std::nullopt;
  }
  return parser.release();
}

std::optional<HttpResponse> TestClient::request(HttpRequest request) {
  if (auto ec = send(std::move(request))) {
    last_error_ = ec;
    return std::nullopt;
  }
  return readResponse();
}

std::optional<HttpResponse> TestClient::get(const std::string& target) {
  return request(HttpRequest{http::verb::get, target, 11});
}

beast::error_code TestClient::waitForClose() {
  char scratch[1024];
  for (;;) {
    if (auto ec = run([&](Completion done) {
          stream_->async_read_some(net::buffer(scratch), withoutSize(done));
        })) {
      return ec;
    }
  }
}

std::string TestClient::peerSerial() {
  X509* certificate = SSL_get1_peer_certificate(stream_->native_handle());
  if (certificate == nullptr) {
    return {};
  }
  std::string serial = serialOf(certificate);
  X509_free(certificate);
  return serial;
}

std::string TestClient::negotiatedProtocol() {
  const unsigned char* data = nullptr;
  unsigned length = 0;
  SSL_get0_alpn_selected(stream_->native_handle(), &data, &length);
  return std::string(reinterpret_cast<const char*>(data), length);
}

std::string TestClient::negotiatedCipher() { return SSL_get_cipher_name(stream_->native_handle()); }

std::string TestClient::negotiatedVersion() { return SSL_get_version(stream_->native_handle()); }

void TestClient::close() {
  if (!stream_) {
    return;
  }
  beast::error_code ignored;
  lowest().socket().close(ignored);
  ioc_.restart();
  ioc_.poll();  // lets the cancelled operations complete
}

beast::error_code TestClient::run(const std::function<void(Completion)>& start) {
  std::optional<beast::error_code> result;
  lowest().expires_after(kClientDeadline);
  start([&result](beast::error_code ec) { result = ec; });
  ioc_.restart();
  ioc_.run();
  return result.value_or(net::error::timed_out);
}

}  // namespace palisade::testing
