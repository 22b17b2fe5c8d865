#include "enforcer/metrics_endpoint.h"

#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace palisade::enforcer {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

constexpr auto kConnectionDeadline = std::chrono::seconds(5);

}  // namespace

class MetricsEndpoint::Impl {
 public:
  explicit Impl(server::metrics::Registry& registry) : registry_(registry), acceptor_(ioc_) {}

  ~Impl() {
    ioc_.stop();
    if (thread_.joinable()) {
      thread_.join();
    }
  }

  policy::Result<void> start(const std::string& address, uint16_t port) {
    beast::error_code ec;
    const auto ip = net::ip::make_address(address, ec);
    if (ec) {
      return policy::fail("--metrics-addr: \"" + address + "\" is not an IP address");
    }
    const tcp::endpoint endpoint(ip, port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) {
      acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    }
    if (!ec) {
      acceptor_.bind(endpoint, ec);
    }
    if (!ec) {
      acceptor_.listen(net::socket_base::max_listen_connections, ec);
    }
    if (ec) {
      return policy::fail("metrics endpoint " + address + ":" + std::to_string(port) + ": " +
                          ec.message());
    }
    doAccept();
    thread_ = std::thread([this] { ioc_.run(); });
    return {};
  }

  uint16_t port() const { return acceptor_.local_endpoint().port(); }

 private:
  void doAccept() {
    acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec) {
        return;  // stopped
      }
      serve(std::move(socket));
      doAccept();
    });
  }

  // One request, then close: a scrape is one request.
  void serve(tcp::socket socket) {
    auto stream = std::make_shared<beast::tcp_stream>(std::move(socket));
    auto buffer = std::make_shared<beast::flat_buffer>();
    auto request = std::make_shared<http::request<http::string_body>>();
    stream->expires_after(kConnectionDeadline);
    http::async_read(*stream, *buffer, *request,
                     [this, stream, buffer, request](beast::error_code ec, size_t) {
                       if (ec) {
                         return;
                       }
                       auto response = std::make_shared<http::response<http::string_body>>(
                           answer(*request));
                       http::async_write(*stream, *response,
                                         [stream, response](beast::error_code, size_t) {
                                           beast::error_code ignored;
                                           stream->socket().shutdown(tcp::socket::shutdown_send,
                                                                     ignored);
                                         });
                     });
  }

  http::response<http::string_body> answer(const http::request<http::string_body>& request) {
    const std::string_view target(request.target().data(), request.target().size());
    http::response<http::string_body> response{http::status::ok, request.version()};
    response.keep_alive(false);
    if (target == "/metrics") {
      response.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
      response.body() = registry_.render();
    } else if (target == "/healthz") {
      response.set(http::field::content_type, "text/plain");
      response.body() = "ok\n";
    } else {
      response.result(http::status::not_found);
      response.set(http::field::content_type, "text/plain");
      response.body() = "the enforcer serves /metrics and /healthz\n";
    }
    response.prepare_payload();
    return response;
  }

  server::metrics::Registry& registry_;
  net::io_context ioc_;
  tcp::acceptor acceptor_;
  std::thread thread_;
};

MetricsEndpoint::MetricsEndpoint(server::metrics::Registry& registry)
    : impl_(std::make_unique<Impl>(registry)) {}
MetricsEndpoint::~MetricsEndpoint() = default;

policy::Result<void> MetricsEndpoint::start(const std::string& address, uint16_t port) {
  return impl_->start(address, port);
}

uint16_t MetricsEndpoint::port() const { return impl_->port(); }

}  // namespace palisade::enforcer
