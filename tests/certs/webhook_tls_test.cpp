// The certificates of `palisadectl certs` as the kube-apiserver meets them:
// the real palisade-webhook serves them, and a plain OpenSSL client that
// trusts only the generated ca.crt verifies the chain and the name the
// apiserver connects to, NAME.NS.svc.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <array>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "lab/process.h"
#include "tests/support/tls_test_client.h"
#include "tests/webhook/webhook_process.h"

namespace palisade::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;

const fs::path kPalisadectl = PALISADECTL;
const fs::path kWebhookBinary = PALISADE_WEBHOOK;

constexpr const char* kService = "palisade-webhook";
constexpr const char* kNamespace = "palisade-system";
// The name the kube-apiserver verifies when it calls a webhook Service.
constexpr const char* kServiceHost = "palisade-webhook.palisade-system.svc";

template <auto Free>
struct Deleter {
  template <class T>
  void operator()(T* object) const {
    Free(object);
  }
};
using SslContextPtr = std::unique_ptr<SSL_CTX, Deleter<SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, Deleter<SSL_free>>;

class Socket {
 public:
  Socket() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {}
  ~Socket() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

struct Handshake {
  bool completed = false;
  long verify_result = X509_V_OK;  // what the chain and name checks concluded
  std::string serial;              // of the certificate the server sent
  std::string response;            // to GET /healthz, once the handshake completed
  std::string error;
};

// A TLS client the way the apiserver is one: it trusts `ca_file` alone (not
// the system's CAs) and requires the certificate to name `host`.
Handshake connectVerifying(uint16_t port, const fs::path& ca_file, const std::string& host) {
  Handshake result;
  Socket socket;
  // Every read and write is bounded, so that a test fails instead of hanging.
  const timeval timeout{10, 0};
  ::setsockopt(socket.fd(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(socket.fd(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(socket.fd(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    result.error = "cannot connect";
    return result;
  }

  SslContextPtr context(SSL_CTX_new(TLS_client_method()));
  SSL_CTX_set_min_proto_version(context.get(), TLS1_2_VERSION);
  if (SSL_CTX_load_verify_locations(context.get(), ca_file.c_str(), nullptr) != 1) {
    result.error = "cannot load " + ca_file.string();
    return result;
  }
  SSL_CTX_set_verify(context.get(), SSL_VERIFY_PEER, nullptr);
  static constexpr unsigned char kAlpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  SSL_CTX_set_alpn_protos(context.get(), kAlpn, sizeof kAlpn);

  SslPtr ssl(SSL_new(context.get()));
  SSL_set_fd(ssl.get(), socket.fd());
  SSL_set_tlsext_host_name(ssl.get(), host.c_str());
  // The hostname check, done during the handshake: a mismatch fails it.
  SSL_set1_host(ssl.get(), host.c_str());
  ERR_clear_error();
  result.completed = SSL_connect(ssl.get()) == 1;
  result.verify_result = SSL_get_verify_result(ssl.get());
  if (const X509* peer = SSL_get0_peer_certificate(ssl.get()); peer != nullptr) {
    result.serial = serialOf(peer);
  }
  if (!result.completed) {
    std::array<char, 256> text{};
    ERR_error_string_n(ERR_get_error(), text.data(), text.size());
    result.error = text.data();
    return result;
  }

  const std::string request =
      "GET /healthz HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n";
  if (SSL_write(ssl.get(), request.data(), static_cast<int>(request.size())) <= 0) {
    result.error = "cannot send the request";
    return result;
  }
  std::array<char, 4096> buffer{};
  int n = 0;
  while ((n = SSL_read(ssl.get(), buffer.data(), static_cast<int>(buffer.size()))) > 0) {
    result.response.append(buffer.data(), static_cast<size_t>(n));
  }
  return result;
}

// `palisadectl certs` for the Service, into `out`, with `extra` flags.
void makeCertificates(const fs::path& out, std::vector<std::string> extra = {}) {
  std::vector<std::string> arguments{kPalisadectl.string(), "certs",       "--service",
                                     kService,              "--namespace", kNamespace,
                                     "--out",               out.string()};
  arguments.insert(arguments.end(), extra.begin(), extra.end());
  auto made = lab::runProcess(arguments);
  ASSERT_TRUE(made.has_value()) << made.error().message;
}

class GeneratedCertificates : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(makeCertificates(certs())); }

  fs::path certs() const { return dir_.path() / "certs"; }

  // palisade-webhook on 127.0.0.1 serving the generated tls.crt and tls.key;
  // its port, 0 if it did not start.
  uint16_t startWebhook() {
    std::string error;
    webhook_ = WebhookProcess::start(
        kWebhookBinary,
        {"--tls-cert", (certs() / "tls.crt").string(), "--tls-key",
         (certs() / "tls.key").string(), "--listen", "127.0.0.1:0", "--reload-interval", "0.1"},
        dir_.path(), &error);
    if (!webhook_) {
      ADD_FAILURE() << error;
      return 0;
    }
    const uint16_t port = webhook_->waitForPort();
    if (port == 0) {
      ADD_FAILURE() << "palisade-webhook did not start listening:\n"
                    << webhook_->standardOutput() << webhook_->standardError();
    }
    return port;
  }

  TempDir dir_{"palisade-certs-tls"};
  std::unique_ptr<WebhookProcess> webhook_;
};

TEST_F(GeneratedCertificates, WebhookServingThemPassesVerificationOfTheServiceName) {
  const uint16_t port = startWebhook();
  ASSERT_NE(port, 0);

  const Handshake handshake = connectVerifying(port, certs() / "ca.crt", kServiceHost);
  ASSERT_TRUE(handshake.completed) << handshake.error << "; verify: "
                                   << X509_verify_cert_error_string(handshake.verify_result);
  EXPECT_EQ(handshake.verify_result, X509_V_OK);
  EXPECT_EQ(handshake.serial, serialOfPem(readFile(certs() / "tls.crt")));
  EXPECT_THAT(handshake.response, StartsWith("HTTP/1.1 200"));
}

TEST_F(GeneratedCertificates, EveryServiceNameTheApiserverMayUseIsVerified) {
  const uint16_t port = startWebhook();
  ASSERT_NE(port, 0);
  for (const std::string host : {"palisade-webhook", "palisade-webhook.palisade-system",
                                 "palisade-webhook.palisade-system.svc",
                                 "palisade-webhook.palisade-system.svc.cluster.local"}) {
    const Handshake handshake = connectVerifying(port, certs() / "ca.crt", host);
    EXPECT_TRUE(handshake.completed) << host << ": " << handshake.error;
    EXPECT_EQ(handshake.verify_result, X509_V_OK) << host;
  }
}

TEST_F(GeneratedCertificates, AnotherHostNameFailsVerification) {
  const uint16_t port = startWebhook();
  ASSERT_NE(port, 0);
  for (const std::string host :
       {"palisade-webhook.other-namespace.svc", "other.palisade-system.svc", "localhost"}) {
    const Handshake handshake = connectVerifying(port, certs() / "ca.crt", host);
    EXPECT_FALSE(handshake.completed) << host;
    EXPECT_EQ(handshake.verify_result, X509_V_ERR_HOSTNAME_MISMATCH)
        << host << ": " << X509_verify_cert_error_string(handshake.verify_result);
    EXPECT_THAT(handshake.error, HasSubstr("certificate verify failed")) << host;
  }
}

TEST_F(GeneratedCertificates, ClientTrustingAnotherCaFailsVerification) {
  const fs::path other = dir_.path() / "other";
  ASSERT_NO_FATAL_FAILURE(makeCertificates(other));
  const uint16_t port = startWebhook();
  ASSERT_NE(port, 0);

  const Handshake handshake = connectVerifying(port, other / "ca.crt", kServiceHost);
  EXPECT_FALSE(handshake.completed);
  EXPECT_EQ(handshake.verify_result, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY)
      << X509_verify_cert_error_string(handshake.verify_result);
}

TEST_F(GeneratedCertificates, RenewedServingCertificateIsServedAndVerifiesAgainstTheKeptCa) {
  const uint16_t port = startWebhook();
  ASSERT_NE(port, 0);
  const std::string ca_before = readFile(certs() / "ca.crt");
  const std::string serial_before = serialOfPem(readFile(certs() / "tls.crt"));
  ASSERT_EQ(connectVerifying(port, certs() / "ca.crt", kServiceHost).serial, serial_before);

  ASSERT_NO_FATAL_FAILURE(makeCertificates(certs()));
  ASSERT_EQ(readFile(certs() / "ca.crt"), ca_before);
  const std::string serial_after = serialOfPem(readFile(certs() / "tls.crt"));
  ASSERT_NE(serial_after, serial_before);

  // The webhook picks up the new pair from disk; the caBundle stays valid.
  Handshake handshake;
  EXPECT_TRUE(waitFor([&] {
    handshake = connectVerifying(port, certs() / "ca.crt", kServiceHost);
    return handshake.serial == serial_after;
  })) << handshake.error;
  EXPECT_TRUE(handshake.completed) << handshake.error;
  EXPECT_EQ(handshake.verify_result, X509_V_OK);
}

}  // namespace
}  // namespace palisade::testing
