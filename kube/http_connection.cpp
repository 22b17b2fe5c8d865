#include "kube/http_connection.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <limits>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

namespace palisade::kube {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

constexpr size_t kHeaderLimit = 64 * 1024;

// TCP keep-alive probes after 30 s of silence, every 10 s, 3 of them: a
// vanished apiserver (a node lost, a NAT entry dropped) is noticed in about
// a minute even while nothing is being read.
constexpr int kKeepAliveIdleSeconds = 30;
constexpr int kKeepAliveIntervalSeconds = 10;
constexpr int kKeepAliveProbes = 3;

bool isIpAddress(const std::string& host) {
  beast::error_code ec;
  net::ip::make_address(host, ec);
  return !ec;
}

}  // namespace

void Canceller::cancel() {
  std::lock_guard lock(mutex_);
  cancelled_ = true;
  for (HttpConnection* connection : active_) {
    connection->cancel();
  }
}

bool Canceller::cancelled() const {
  std::lock_guard lock(mutex_);
  return cancelled_;
}

bool Canceller::attach(HttpConnection* connection) {
  std::lock_guard lock(mutex_);
  if (cancelled_) {
    return false;
  }
  active_.push_back(connection);
  return true;
}

void Canceller::detach(HttpConnection* connection) {
  std::lock_guard lock(mutex_);
  active_.erase(std::remove(active_.begin(), active_.end(), connection), active_.end());
}

// Keeps a connection registered with a Canceller for one operation.
class HttpConnection::Attachment {
 public:
  Attachment(Canceller* canceller, HttpConnection* connection)
      : canceller_(canceller), connection_(connection) {}
  ~Attachment() {
    if (attached_) {
      connection_->detachFrom(canceller_);
    }
  }
  Attachment(const Attachment&) = delete;
  Attachment& operator=(const Attachment&) = delete;

  Canceller* canceller() const { return canceller_; }
  void attached() { attached_ = true; }

 private:
  Canceller* canceller_;
  HttpConnection* connection_;
  bool attached_ = false;
};

HttpConnection::HttpConnection(HttpEndpoint endpoint)
    : endpoint_(std::move(endpoint)), stream_(ioc_, *endpoint_.tls) {
  SSL* native = stream_.native_handle();
  const bool ip = isIpAddress(endpoint_.server_name);
  // SNI carries DNS names only (RFC 6066, section 3).
  if (!endpoint_.server_name.empty() && !ip) {
    SSL_set_tlsext_host_name(native, endpoint_.server_name.c_str());
  }
  if (endpoint_.server_name.empty()) {
    SSL_set_verify(native, SSL_VERIFY_NONE, nullptr);
  } else if (ip) {
    // An address must be among the certificate's IP SANs; OpenSSL checks it
    // as part of chain verification.
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(native), endpoint_.server_name.c_str());
  } else {
    SSL_set_hostflags(native, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    SSL_set1_host(native, endpoint_.server_name.c_str());
  }
}

HttpConnection::~HttpConnection() {
  beast::error_code ignored;
  beast::get_lowest_layer(stream_).socket().close(ignored);
}

template <class Start>
beast::error_code HttpConnection::run(Clock::time_point deadline, Start&& start) {
  std::optional<beast::error_code> result;
  start([&result](beast::error_code ec, auto&&...) { result = ec; });
  ioc_.restart();
  ioc_.run_until(deadline);
  if (result) {
    return *result;
  }
  // The deadline passed: closing the socket makes the operation complete
  // (aborted); the connection is not used again.
  beast::error_code ignored;
  if (resolver_) {
    resolver_->cancel();
  }
  beast::get_lowest_layer(stream_).socket().close(ignored);
  ioc_.restart();
  ioc_.run();
  connected_ = false;
  return beast::error::timeout;
}

ApiResult<void> HttpConnection::begin(Attachment& attachment, const char* what) {
  Canceller* canceller = attachment.canceller();
  if (canceller != nullptr) {
    if (!canceller->attach(this)) {
      return apiFailure(ApiError::Kind::kCancelled, std::string(what) + ": cancelled");
    }
    attachment.attached();
  }
  if (cancelled_.load()) {
    return apiFailure(ApiError::Kind::kCancelled, std::string(what) + ": cancelled");
  }
  return {};
}

void HttpConnection::detachFrom(Canceller* canceller) { canceller->detach(this); }

std::unexpected<ApiError> HttpConnection::failure(const beast::error_code& ec,
                                                  const std::string& what) const {
  if (cancelled_.load()) {
    return apiFailure(ApiError::Kind::kCancelled, what + ": cancelled");
  }
  if (ec == beast::error::timeout) {
    return apiFailure(ApiError::Kind::kTimeout, what + ": timed out");
  }
  return apiFailure(ApiError::Kind::kTransport, what + ": " + ec.message());
}

ApiResult<void> HttpConnection::connect(Clock::time_point deadline, Canceller* canceller) {
  const std::string where = endpoint_.host + ":" + std::to_string(endpoint_.port);
  Attachment attachment(canceller, this);
  if (auto started = begin(attachment, "connecting"); !started) {
    return std::unexpected(started.error());
  }
  tcp::resolver::results_type addresses;
  resolver_.emplace(ioc_);
  auto ec = run(deadline, [&](auto done) {
    resolver_->async_resolve(endpoint_.host, std::to_string(endpoint_.port),
                             [&addresses, done](beast::error_code resolve_ec,
                                                tcp::resolver::results_type results) mutable {
                               addresses = std::move(results);
                               done(resolve_ec);
                             });
  });
  resolver_.reset();
  if (ec) {
    return failure(ec, "resolving " + endpoint_.host);
  }
  ec = run(deadline, [&](auto done) {
    beast::get_lowest_layer(stream_).async_connect(addresses, done);
  });
  if (ec) {
    return failure(ec, "connecting to " + where);
  }
  auto& socket = beast::get_lowest_layer(stream_).socket();
  beast::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  socket.set_option(net::socket_base::keep_alive(true), ignored);
  const int fd = socket.native_handle();
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &kKeepAliveIdleSeconds, sizeof(int));
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &kKeepAliveIntervalSeconds, sizeof(int));
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &kKeepAliveProbes, sizeof(int));

  ec = run(deadline, [&](auto done) { stream_.async_handshake(ssl::stream_base::client, done); });
  if (ec) {
    const long verify = SSL_get_verify_result(stream_.native_handle());
    if (verify != X509_V_OK && !cancelled_.load() && ec != beast::error::timeout) {
      return apiFailure(ApiError::Kind::kTransport,
                        "TLS handshake with " + where + ": the server's certificate was refused: " +
                            X509_verify_cert_error_string(verify) + " (expected name \"" +
                            endpoint_.server_name + "\")");
    }
    return failure(ec, "TLS handshake with " + where);
  }
  connected_ = true;
  return {};
}

ApiResult<void> HttpConnection::write(HttpRequest& request, Clock::time_point deadline,
                                      Canceller* canceller) {
  Attachment attachment(canceller, this);
  if (auto started = begin(attachment, "sending the request"); !started) {
    return std::unexpected(started.error());
  }
  reusable_ = false;
  stream_parser_.reset();
  auto ec = run(deadline, [&](auto done) { http::async_write(stream_, request, done); });
  if (ec) {
    return failure(ec, "sending the request");
  }
  return {};
}

ApiResult<HttpResponse> HttpConnection::read(Clock::time_point deadline, size_t body_limit,
                                             Canceller* canceller) {
  Attachment attachment(canceller, this);
  if (auto started = begin(attachment, "reading the response"); !started) {
    return std::unexpected(started.error());
  }
  http::response_parser<http::string_body> parser;
  parser.header_limit(kHeaderLimit);
  parser.body_limit(body_limit);
  auto ec = run(deadline, [&](auto done) { http::async_read(stream_, buffer_, parser, done); });
  if (ec == http::error::body_limit) {
    return apiFailure(ApiError::Kind::kTransport, "reading the response: its body is larger than " +
                                                      std::to_string(body_limit) + " bytes");
  }
  if (ec) {
    return failure(ec, "reading the response");
  }
  reusable_ = parser.keep_alive() && buffer_.size() == 0;
  auto message = parser.release();
  HttpResponse response;
  response.status = message.result_int();
  response.content_type = std::string(message[http::field::content_type]);
  response.body = std::move(message.body());
  return response;
}

ApiResult<HttpResponse> HttpConnection::readHeader(Clock::time_point deadline,
                                                   Canceller* canceller) {
  Attachment attachment(canceller, this);
  if (auto started = begin(attachment, "reading the response header"); !started) {
    return std::unexpected(started.error());
  }
  stream_parser_.emplace();
  stream_parser_->header_limit(kHeaderLimit);
  // A watch streams for as long as it lasts. Not boost::none: Boost 1.74
  // compares a Content-Length against the optional limit, and none loses.
  stream_parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
  auto ec = run(deadline, [&](auto done) {
    http::async_read_header(stream_, buffer_, *stream_parser_, done);
  });
  if (ec) {
    return failure(ec, "reading the response header");
  }
  const auto& header = stream_parser_->get();
  HttpResponse response;
  response.status = header.result_int();
  response.content_type = std::string(header[http::field::content_type]);
  return response;
}

ApiResult<size_t> HttpConnection::readSome(char* buffer, size_t size, Clock::time_point deadline,
                                           Canceller* canceller) {
  Attachment attachment(canceller, this);
  if (auto started = begin(attachment, "reading the response body"); !started) {
    return std::unexpected(started.error());
  }
  if (!stream_parser_) {
    return apiFailure(ApiError::Kind::kTransport, "reading the response body: no header was read");
  }
  for (;;) {
    if (stream_parser_->is_done()) {
      return size_t{0};
    }
    auto& body = stream_parser_->get().body();
    body.data = buffer;
    body.size = size;
    auto ec = run(deadline, [&](auto done) {
      http::async_read_some(stream_, buffer_, *stream_parser_, done);
    });
    if (ec == http::error::need_buffer) {
      ec = {};
    }
    if (ec) {
      return failure(ec, "reading the response body");
    }
    const size_t received = size - body.size;
    if (received > 0) {
      return received;
    }
  }
}

bool HttpConnection::reusable() const { return connected_ && reusable_ && !cancelled_.load(); }

bool HttpConnection::brokenWhileIdle() {
  if (!reusable() || buffer_.size() != 0) {
    return true;
  }
  char byte = 0;
  const auto fd = beast::get_lowest_layer(stream_).socket().native_handle();
  const ssize_t peeked = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  // Nothing to read is the healthy state; end of stream is the server's idle
  // close; data is a TLS alert or something unasked: either way, not safe.
  return !(peeked < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
}

void HttpConnection::cancel() {
  cancelled_.store(true);
  net::post(ioc_, [this] {
    if (resolver_) {
      resolver_->cancel();
    }
    beast::error_code ignored;
    beast::get_lowest_layer(stream_).socket().close(ignored);
  });
}

uint16_t HttpConnection::localPort() const {
  beast::error_code ec;
  const auto endpoint = beast::get_lowest_layer(stream_).socket().local_endpoint(ec);
  return ec ? 0 : endpoint.port();
}

}  // namespace palisade::kube
