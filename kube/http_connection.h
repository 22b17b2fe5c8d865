#pragma once

// One HTTP/1.1 connection over TLS to the apiserver (Boost.Beast, OpenSSL),
// driven synchronously from the caller's thread: every operation runs the
// connection's own io_context until it completes or its deadline passes.
// ApiClient pools these for plain requests; a watch owns one for its stream.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "kube/error.h"

namespace palisade::kube {

class HttpConnection;

// Lets another thread abort what one owner (an informer) is doing: the
// operation in flight fails at once with kCancelled, and later ones fail
// before they start. Cancellation is final. Thread-safe.
class Canceller {
 public:
  void cancel();
  bool cancelled() const;

 private:
  friend class HttpConnection;
  // False when already cancelled: the operation must not start.
  bool attach(HttpConnection* connection);
  void detach(HttpConnection* connection);

  mutable std::mutex mutex_;
  bool cancelled_ = false;
  std::vector<HttpConnection*> active_;
};

// Where connections go and how the server is verified; shared by the
// connections of one client.
struct HttpEndpoint {
  std::string host;         // a DNS name or an IP address
  uint16_t port = 443;
  std::string server_name;  // the name the certificate must carry; empty: not verified
  std::shared_ptr<boost::asio::ssl::context> tls;
};

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;

struct HttpResponse {
  unsigned status = 0;
  std::string content_type;
  std::string body;
};

// Not thread-safe, except cancel() and Canceller::cancel().
class HttpConnection {
 public:
  using Clock = std::chrono::steady_clock;

  explicit HttpConnection(HttpEndpoint endpoint);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // Resolves, connects (with TCP keep-alive, so a peer that vanished is
  // noticed by the kernel too) and completes the TLS handshake.
  [[nodiscard]] ApiResult<void> connect(Clock::time_point deadline, Canceller* canceller);
  [[nodiscard]] ApiResult<void> write(HttpRequest& request, Clock::time_point deadline,
                                      Canceller* canceller);
  // A whole response whose body is at most `body_limit` bytes.
  [[nodiscard]] ApiResult<HttpResponse> read(Clock::time_point deadline, size_t body_limit,
                                             Canceller* canceller);

  // A streamed response: the status line and headers, then the body as it
  // arrives. readSome() returns 0 at the end of the body; each call waits at
  // most until its own deadline, which is how a stalled stream is noticed.
  [[nodiscard]] ApiResult<HttpResponse> readHeader(Clock::time_point deadline,
                                                   Canceller* canceller);
  [[nodiscard]] ApiResult<size_t> readSome(char* buffer, size_t size, Clock::time_point deadline,
                                           Canceller* canceller);

  // After a whole response: whether the connection may carry another request.
  bool reusable() const;
  // For a pooled idle connection: whether the server closed it (or sent
  // something unasked) while it waited; such a connection is thrown away.
  bool brokenWhileIdle();

  // Thread-safe: aborts the operation in progress and every later one.
  void cancel();

  // The socket's local port (tests tell connections apart by it).
  uint16_t localPort() const;

 private:
  using Stream = boost::beast::ssl_stream<boost::beast::tcp_stream>;
  class Attachment;

  template <class Start>
  boost::beast::error_code run(Clock::time_point deadline, Start&& start);
  // Registers the operation with the caller's Canceller; fails when
  // cancelled already.
  ApiResult<void> begin(Attachment& attachment, const char* what);
  void detachFrom(Canceller* canceller);
  std::unexpected<ApiError> failure(const boost::beast::error_code& ec,
                                    const std::string& what) const;

  HttpEndpoint endpoint_;
  boost::asio::io_context ioc_;
  std::optional<boost::asio::ip::tcp::resolver> resolver_;
  Stream stream_;
  boost::beast::flat_buffer buffer_;
  using StreamParser = boost::beast::http::response_parser<boost::beast::http::buffer_body>;
  std::optional<StreamParser> stream_parser_;
  bool connected_ = false;
  bool reusable_ = false;
  std::atomic<bool> cancelled_{false};
};

}  // namespace palisade::kube
