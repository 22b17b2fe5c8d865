#include "server/http/https_server.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <nlohmann/json.hpp>

#include "server/log.h"

namespace palisade::server {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

// How long a connection that got an error response is drained before it is
// closed (see Session::doLingeringClose); nginx's lingering_timeout is 5 s.
constexpr std::chrono::milliseconds kMaxLinger{2000};
// How long to wait before accepting again when accept() itself fails (out of
// file descriptors): retrying at once would spin.
constexpr std::chrono::milliseconds kAcceptRetryDelay{100};
// The first read of a request: one TLS record at most.
constexpr size_t kFirstReadSize = 16 * 1024;
constexpr size_t kDiscardReadSize = 16 * 1024;

// server/log.h writes one JSON object per line; the event name is its "msg".
void logEvent(LogLevel level, nlohmann::json event) {
  const std::string name = event.value("event", "http");
  event.erase("event");
  server::logEvent(level, name, std::move(event));
}

std::string endpointText(const tcp::endpoint& endpoint) {
  const auto address = endpoint.address();
  const std::string host = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
  return host + ":" + std::to_string(endpoint.port());
}

HttpResponse textResponse(http::status status, std::string text) {
  HttpResponse response{status, 11};
  response.set(http::field::content_type, "text/plain; charset=utf-8");
  response.body() = std::move(text);
  response.body() += '\n';
  return response;
}

bool isHttpParseError(const beast::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_method).category();
}

class Session;
class Listener;

// Everything sessions and the listener share. Owned by HttpsServer::Impl;
// it outlives the io_context's handlers (see the member order below).
class ServerCore {
 public:
  ServerCore(ServerLimits limits, TlsCredentials& credentials, HttpHandler handler,
             metrics::Registry& registry)
      : limits_(std::move(limits)),
        credentials_(credentials),
        handler_(std::move(handler)),
        handshake_failures_(registry
                                .counter("palisade_tls_handshake_failures_total",
                                         "TLS handshakes that failed (including timeouts).")
                                .with({})),
        connections_(registry.gauge("palisade_http_connections", "Open client connections.")
                         .with({})),
        bad_requests_(registry.counter("palisade_http_bad_requests_total",
                                       "Requests that got an HTTP error from the server rather "
                                       "than a handler's answer, or were dropped unanswered, "
                                       "by reason.",
                                       {"reason"})) {
    // The main loop, then one per I/O thread.
    const unsigned count = threadCount() + 1;
    loops_.reserve(count);
    keep_running_.reserve(count);
    for (unsigned i = 0; i < count; ++i) {
      // Run by one thread each: Asio then skips the locking a shared queue
      // needs, and a connection's handlers never run concurrently.
      loops_.push_back(std::make_unique<net::io_context>(1));
      keep_running_.push_back(net::make_work_guard(*loops_.back()));
    }
  }

  ~ServerCore();

  unsigned threadCount() const {
    if (limits_.threads != 0) {
      return limits_.threads;
    }
    return std::max(1u, std::thread::hardware_concurrency());
  }

  const ServerLimits& limits() const { return limits_; }
  // The loop that runs the listener, the timers and the signal handlers, on
  // the thread that called run(): it serves no connection, so that neither
  // accepting nor a periodic task waits behind a request.
  net::io_context& mainLoop() { return *loops_.front(); }
  // The loops connections are spread over, in turn: one per I/O thread.
  net::io_context& connectionLoop(size_t index) {
    return *loops_[1 + index % (loops_.size() - 1)];
  }
  bool draining() const { return draining_.load(std::memory_order_acquire); }
  std::shared_ptr<ssl::context> currentTlsContext() const { return credentials_.current(); }

  // Calls the user's handler; an exception becomes a 500, never a crash.
  HttpResponse respond(const HttpRequest& request, const std::string& peer) {
    try {
      HttpResponse response = handler_(request);
      // Throws on a body where the status allows none (204, 304, 1xx).
      response.prepare_payload();
      if (request.method() == http::verb::head) {
        response.body().clear();  // Content-Length stays that of the GET
      }
      return response;
    } catch (const std::exception& e) {
      logEvent(LogLevel::kError, {{"event", "http_handler_error"},
                                    {"peer", peer},
                                    {"target", std::string(request.target())},
                                    {"error", e.what()}});
    } catch (...) {
      logEvent(LogLevel::kError, {{"event", "http_handler_error"},
                                    {"peer", peer},
                                    {"target", std::string(request.target())},
                                    {"error", "unknown exception"}});
    }
    bad_requests_.with({"handler_error"}).inc();
    HttpResponse response = textResponse(http::status::internal_server_error,
                                         "internal server error");
    response.prepare_payload();
    return response;
  }

  void badRequest(const std::string& peer, const std::string& reason, const std::string& detail,
                  unsigned status) {
    bad_requests_.with({reason}).inc();
    nlohmann::json event = {
        {"event", "http_bad_request"}, {"peer", peer}, {"reason", reason}, {"detail", detail}};
    if (status != 0) {
      event["status"] = status;
    }
    logEvent(LogLevel::kWarn, event);
  }

  void handshakeFailed(const std::string& peer, const beast::error_code& ec) {
    handshake_failures_.inc();
    logEvent(LogLevel::kWarn,
             {{"event", "tls_handshake_failed"}, {"peer", peer}, {"reason", ec.message()}});
  }

  // Registers a new connection; false when the cap is reached, in which case
  // accepting pauses until removeSession() makes room.
  bool addSession(const std::shared_ptr<Session>& session);
  void removeSession(Session* session);

  policy::Result<void> listen(const std::string& address, uint16_t port);
  uint16_t port() const { return port_.load(); }
  void every(std::chrono::milliseconds interval, std::function<void()> task);
  void shutdownOnSignals(std::initializer_list<int> signals);
  void run();
  void shutdown();

 private:
  void armTimer(const std::shared_ptr<net::steady_timer>& timer, std::chrono::milliseconds interval,
                const std::shared_ptr<std::function<void()>>& task);
  void stopAll();
  void drainSessions();
  void runLoop(net::io_context& loop);

  const ServerLimits limits_;
  TlsCredentials& credentials_;
  const HttpHandler handler_;
  metrics::Counter& handshake_failures_;
  metrics::Gauge& connections_;
  metrics::Family<metrics::Counter>& bad_requests_;

  std::atomic<bool> draining_{false};
  std::atomic<bool> destroying_{false};
  std::atomic<uint16_t> port_{0};

  std::mutex mutex_;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions_;
  bool accept_paused_ = false;

  // Declared after the state above and before the I/O objects: destroying
  // the loops destroys pending handlers, and with them sessions, whose
  // destructors still use that state; the I/O objects must go before them.
  std::vector<std::unique_ptr<net::io_context>> loops_;
  // Keeps every loop running while it has nothing to do (a loop without
  // connections, the listener paused at the cap); released by stopAll().
  std::vector<net::executor_work_guard<net::io_context::executor_type>> keep_running_;
  std::shared_ptr<Listener> listener_;
  std::vector<std::shared_ptr<net::steady_timer>> timers_;
  std::vector<std::shared_ptr<net::signal_set>> signal_sets_;
};

// Accepts connections on the main loop, pausing at the connection cap.
class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(ServerCore& server, tcp::acceptor acceptor)
      : server_(server), acceptor_(std::move(acceptor)), retry_timer_(acceptor_.get_executor()) {}

  net::any_io_executor executor() { return acceptor_.get_executor(); }

  void doAccept() {
    if (!acceptor_.is_open() || server_.draining()) {
      return;
    }
    // Connections are dealt to the loops in turn; each then lives on its
    // loop, whose single thread runs all its handlers.
    acceptor_.async_accept(server_.connectionLoop(next_loop_++).get_executor(),
                           beast::bind_front_handler(&Listener::onAccept, shared_from_this()));
  }

  void stop() {
    beast::error_code ignored;
    acceptor_.close(ignored);
    retry_timer_.cancel();
  }

 private:
  void onAccept(beast::error_code ec, tcp::socket socket);

  ServerCore& server_;
  tcp::acceptor acceptor_;
  net::steady_timer retry_timer_;
  size_t next_loop_ = 0;
};

// One client connection: handshake, then requests read, handled and answered
// in turn (HTTP/1.1 keep-alive). All its handlers run on its loop's thread.
//
// Timeouts: the handshake gets handshake_timeout; between requests the
// connection waits idle_timeout for the first bytes of the next one; from
// those bytes on, the whole request (header and body) must arrive within
// read_timeout, so a client that trickles a header byte by byte is cut off
// like one that stalls; each response gets write_timeout.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(ServerCore& server, tcp::socket&& socket, std::shared_ptr<ssl::context> context,
          std::string peer)
      : server_(server),
        context_(std::move(context)),
        stream_(std::move(socket), *context_),
        peer_(std::move(peer)) {}

  ~Session() { server_.removeSession(this); }

  void start() {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&Session::doHandshake, shared_from_this()));
  }

  // Called at shutdown, from any thread.
  void drain() {
    net::post(stream_.get_executor(),
              beast::bind_front_handler(&Session::onDrain, shared_from_this()));
  }

 private:
  enum class State { kHandshake, kIdle, kReading, kResponding, kClosing };

  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }
  const ServerLimits& limits() const { return server_.limits(); }

  void doHandshake() {
    state_ = State::kHandshake;
    if (server_.draining()) {
      return closeNow();
    }
    lowest().expires_after(limits().handshake_timeout);
    stream_.async_handshake(ssl::stream_base::server,
                            beast::bind_front_handler(&Session::onHandshake, shared_from_this()));
  }

  void onHandshake(beast::error_code ec) {
    if (ec) {
      if (!drained_) {
        server_.handshakeFailed(peer_, ec);
      }
      return closeNow();
    }
    doReadRequest();
  }

  void doReadRequest() {
    if (server_.draining()) {
      return doTlsShutdown();
    }
    parser_.emplace();
    parser_->body_limit(limits().body_limit);
    parser_->header_limit(static_cast<uint32_t>(
        std::min<size_t>(limits().header_limit, std::numeric_limits<uint32_t>::max())));
    if (buffer_.size() > 0) {  // a pipelined request already began
      return doReadHeader();
    }
    state_ = State::kIdle;
    lowest().expires_after(limits().idle_timeout);
    stream_.async_read_some(buffer_.prepare(kFirstReadSize),
                            beast::bind_front_handler(&Session::onFirstBytes, shared_from_this()));
  }

  void onFirstBytes(beast::error_code ec, size_t bytes) {
    buffer_.commit(bytes);
    if (ec || drained_) {
      // The client closed its idle connection, or it stayed idle too long,
      // or the server is draining: nothing was asked, nothing to answer.
      return closeNow();
    }
    doReadHeader();
  }

  void doReadHeader() {
    state_ = State::kReading;
    // One deadline for the whole request; the body read does not renew it.
    lowest().expires_after(limits().read_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&Session::onHeader, shared_from_this()));
  }

  void onHeader(beast::error_code ec, size_t /*bytes*/) {
    if (ec) {
      return onReadError(ec);
    }
    // curl sends "Expect: 100-continue" with large bodies and would wait a
    // second for the go-ahead.
    if (beast::iequals(parser_->get()[http::field::expect], "100-continue") &&
        !parser_->is_done()) {
      continue_.emplace(http::status::continue_, 11);
      return http::async_write(stream_, *continue_,
                               beast::bind_front_handler(&Session::onContinue, shared_from_this()));
    }
    doReadBody();
  }

  void onContinue(beast::error_code ec, size_t /*bytes*/) {
    continue_.reset();
    if (ec) {
      return closeNow();
    }
    doReadBody();
  }

  void doReadBody() {
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::onBody, shared_from_this()));
  }

  void onBody(beast::error_code ec, size_t /*bytes*/) {
    if (ec) {
      return onReadError(ec);
    }
    handleRequest();
  }

  void onReadError(const beast::error_code& ec) {
    if (ec == http::error::body_limit) {
      return reject(http::status::payload_too_large, "body_too_large",
                    "request body larger than " + std::to_string(limits().body_limit) + " bytes");
    }
    if (ec == http::error::header_limit) {
      return reject(http::status::request_header_fields_too_large, "headers_too_large",
                    "request header larger than " + std::to_string(limits().header_limit) +
                        " bytes");
    }
    if (ec == beast::error::timeout) {
      // A slow or stalled client: no answer, it would not read it either.
      server_.badRequest(peer_, "read_timeout", "request not received within the read timeout",
                         0);
      return closeNow();
    }
    if (ec == net::error::operation_aborted) {
      return closeNow();
    }
    if (ec == http::error::partial_message || ec == http::error::end_of_stream ||
        ec == ssl::error::stream_truncated || ec == net::error::eof ||
        ec == net::error::connection_reset) {
      server_.badRequest(peer_, "incomplete", "client closed the connection mid-request", 0);
      return closeNow();
    }
    if (isHttpParseError(ec)) {
      return reject(http::status::bad_request, "malformed",
                    "malformed HTTP request: " + ec.message());
    }
    logEvent(LogLevel::kDebug,
             {{"event", "http_read_error"}, {"peer", peer_}, {"reason", ec.message()}});
    closeNow();
  }

  void handleRequest() {
    state_ = State::kResponding;
    HttpRequest request = parser_->release();
    parser_.reset();
    response_.emplace(server_.respond(request, peer_));
    response_->version(request.version());
    // A draining server answers and then closes, so that the client sends
    // its next request elsewhere.
    response_->keep_alive(request.keep_alive() && !server_.draining());
    doWrite();
  }

  // An error response to a request that was not (fully) read: the connection
  // cannot be reused.
  void reject(http::status status, const std::string& reason, const std::string& detail) {
    state_ = State::kResponding;
    server_.badRequest(peer_, reason, detail, static_cast<unsigned>(status));
    parser_.reset();
    response_.emplace(textResponse(status, detail));
    response_->keep_alive(false);
    response_->prepare_payload();
    linger_ = true;
    doWrite();
  }

  void doWrite() {
    lowest().expires_after(limits().write_timeout);
    http::async_write(stream_, *response_,
                      beast::bind_front_handler(&Session::onWrite, shared_from_this()));
  }

  void onWrite(beast::error_code ec, size_t /*bytes*/) {
    const bool close = response_->need_eof();
    response_.reset();
    if (ec) {
      return closeNow();
    }
    if (linger_) {
      return doLingeringClose();
    }
    if (close) {
      return doTlsShutdown();
    }
    doReadRequest();
  }

  // The TLS close_notify exchange, then the socket is closed.
  void doTlsShutdown() {
    state_ = State::kClosing;
    lowest().expires_after(limits().write_timeout);
    stream_.async_shutdown(beast::bind_front_handler(&Session::onTlsShutdown, shared_from_this()));
  }

  void onTlsShutdown(beast::error_code /*ec*/) { closeNow(); }

  // After an error response the client may still be sending the request
  // (a body over the limit). Closing a socket with unread data makes the
  // kernel send a reset, which can destroy the response before the client
  // reads it; so the server half-closes, discards what still arrives for a
  // short while, and closes on the client's end of stream.
  void doLingeringClose() {
    state_ = State::kClosing;
    beast::error_code ignored;
    lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
    lowest().expires_after(std::min<std::chrono::milliseconds>(limits().read_timeout, kMaxLinger));
    doDiscard();
  }

  void doDiscard() {
    buffer_.clear();
    lowest().async_read_some(buffer_.prepare(kDiscardReadSize),
                             beast::bind_front_handler(&Session::onDiscard, shared_from_this()));
  }

  void onDiscard(beast::error_code ec, size_t /*bytes*/) {
    // Raw TLS records of a request already refused: dropped unread.
    if (ec) {
      return closeNow();
    }
    doDiscard();
  }

  void onDrain() {
    drained_ = true;
    // Nothing asked on this connection yet: close at once. A request being
    // read or answered finishes first (doReadRequest closes afterwards).
    if (state_ == State::kHandshake || state_ == State::kIdle) {
      closeNow();
    }
  }

  // Closes the socket; pending operations end with operation_aborted and
  // the session is destroyed once the last handler returns.
  void closeNow() {
    state_ = State::kClosing;
    lowest().close();
  }

  ServerCore& server_;
  std::shared_ptr<ssl::context> context_;  // kept alive for this connection across reloads
  beast::ssl_stream<beast::tcp_stream> stream_;
  const std::string peer_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<HttpResponse> response_;
  std::optional<http::response<http::empty_body>> continue_;
  State state_ = State::kHandshake;
  bool drained_ = false;
  bool linger_ = false;
};

void Listener::onAccept(beast::error_code ec, tcp::socket socket) {
  if (ec == net::error::operation_aborted || !acceptor_.is_open()) {
    return;
  }
  if (ec) {
    logEvent(LogLevel::kError, {{"event", "accept_failed"}, {"reason", ec.message()}});
    retry_timer_.expires_after(kAcceptRetryDelay);
    retry_timer_.async_wait([self = shared_from_this()](beast::error_code wait_ec) {
      if (!wait_ec) {
        self->doAccept();
      }
    });
    return;
  }
  if (server_.draining()) {
    return;  // the socket closes as it goes out of scope
  }
  beast::error_code ignored;
  // Responses are small and written at once; Nagle's algorithm would only
  // delay them behind the client's delayed ACK.
  socket.set_option(tcp::no_delay(true), ignored);
  const auto remote = socket.remote_endpoint(ignored);
  auto session = std::make_shared<Session>(server_, std::move(socket),
                                           server_.currentTlsContext(), endpointText(remote));
  const bool room_left = server_.addSession(session);
  session->start();
  if (room_left) {
    doAccept();
  }
}

ServerCore::~ServerCore() {
  destroying_ = true;
  draining_ = true;
}

bool ServerCore::addSession(const std::shared_ptr<Session>& session) {
  std::lock_guard lock(mutex_);
  sessions_.emplace(session.get(), session);
  connections_.set(static_cast<double>(sessions_.size()));
  if (limits_.max_connections != 0 && sessions_.size() >= limits_.max_connections) {
    accept_paused_ = true;
    return false;
  }
  return true;
}

void ServerCore::removeSession(Session* session) {
  std::shared_ptr<Listener> resume;
  {
    std::lock_guard lock(mutex_);
    sessions_.erase(session);
    connections_.set(static_cast<double>(sessions_.size()));
    if (accept_paused_ && !draining() && !destroying_ &&
        sessions_.size() < limits_.max_connections) {
      accept_paused_ = false;
      resume = listener_;
    }
  }
  if (resume) {
    net::post(resume->executor(), [resume] { resume->doAccept(); });
  }
}

policy::Result<void> ServerCore::listen(const std::string& address, uint16_t port) {
  std::string host = address;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  beast::error_code ec;
  const auto ip = net::ip::make_address(host, ec);
  if (ec) {
    return policy::fail("invalid listen address \"" + address + "\": " + ec.message());
  }
  const tcp::endpoint endpoint(ip, port);
  const std::string where = endpointText(endpoint);
  {
    std::lock_guard lock(mutex_);
    if (listener_) {
      return policy::fail("the server already listens on port " + std::to_string(port_.load()));
    }
  }
  if (draining()) {
    return policy::fail("the server is shutting down");
  }
  tcp::acceptor acceptor(mainLoop());
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) {
    acceptor.set_option(net::socket_base::reuse_address(true), ec);
  }
  if (!ec) {
    acceptor.bind(endpoint, ec);
  }
  if (!ec) {
    acceptor.listen(net::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    return policy::fail("cannot listen on " + where + ": " + ec.message());
  }
  port_ = acceptor.local_endpoint(ec).port();
  auto listener = std::make_shared<Listener>(*this, std::move(acceptor));
  {
    std::lock_guard lock(mutex_);
    listener_ = listener;
  }
  net::post(listener->executor(), [listener] { listener->doAccept(); });
  return {};
}

void ServerCore::every(std::chrono::milliseconds interval, std::function<void()> task) {
  auto timer = std::make_shared<net::steady_timer>(mainLoop());
  {
    std::lock_guard lock(mutex_);
    if (draining()) {
      return;
    }
    timers_.push_back(timer);
  }
  auto shared_task = std::make_shared<std::function<void()>>(std::move(task));
  net::dispatch(timer->get_executor(),
                [this, timer, interval, shared_task] { armTimer(timer, interval, shared_task); });
}

void ServerCore::armTimer(const std::shared_ptr<net::steady_timer>& timer,
                          std::chrono::milliseconds interval,
                          const std::shared_ptr<std::function<void()>>& task) {
  // Checked on the main loop, so that a cancel posted by shutdown()
  // cannot slip in before the wait it should cancel.
  if (draining()) {
    return;
  }
  timer->expires_after(interval);
  timer->async_wait([this, timer, interval, task](beast::error_code ec) {
    if (ec || draining()) {
      return;
    }
    try {
      (*task)();
    } catch (const std::exception& e) {
      logEvent(LogLevel::kError, {{"event", "periodic_task_failed"}, {"error", e.what()}});
    } catch (...) {
      logEvent(LogLevel::kError,
               {{"event", "periodic_task_failed"}, {"error", "unknown exception"}});
    }
    armTimer(timer, interval, task);
  });
}

void ServerCore::shutdownOnSignals(std::initializer_list<int> signals) {
  auto set = std::make_shared<net::signal_set>(mainLoop());
  for (int signal : signals) {
    beast::error_code ec;
    set->add(signal, ec);
    if (ec) {
      logEvent(LogLevel::kError,
               {{"event", "signal_setup_failed"}, {"signal", signal}, {"reason", ec.message()}});
    }
  }
  {
    std::lock_guard lock(mutex_);
    if (draining()) {
      return;
    }
    signal_sets_.push_back(set);
  }
  net::dispatch(set->get_executor(), [this, set] {
    if (draining()) {
      return;
    }
    set->async_wait([this, set](beast::error_code ec, int signal) {
      if (ec) {
        return;
      }
      logEvent(LogLevel::kInfo, {{"event", "shutdown_signal"}, {"signal", signal}});
      shutdown();
    });
  });
}

void ServerCore::run() {
  std::vector<std::thread> threads;
  threads.reserve(loops_.size() - 1);
  for (size_t i = 1; i < loops_.size(); ++i) {
    threads.emplace_back([this, i] { runLoop(*loops_[i]); });
  }
  runLoop(mainLoop());
  for (auto& thread : threads) {
    thread.join();
  }
}

void ServerCore::runLoop(net::io_context& loop) {
  for (;;) {
    try {
      loop.run();
      return;
    } catch (const std::exception& e) {
      // Handlers do not throw; should one ever do, the loop goes on serving
      // its other connections.
      logEvent(LogLevel::kError, {{"event", "io_thread_exception"}, {"error", e.what()}});
    }
  }
}

void ServerCore::shutdown() {
  {
    // Under the mutex, so that every() and shutdownOnSignals() either see
    // the flag or have registered what stopAll() cancels.
    std::lock_guard lock(mutex_);
    if (draining_.exchange(true)) {
      return;
    }
  }
  net::post(mainLoop(), [this] { stopAll(); });
}

void ServerCore::stopAll() {
  std::shared_ptr<Listener> listener;
  std::vector<std::shared_ptr<net::steady_timer>> timers;
  std::vector<std::shared_ptr<net::signal_set>> signal_sets;
  {
    std::lock_guard lock(mutex_);
    listener = listener_;
    timers.swap(timers_);
    signal_sets.swap(signal_sets_);
  }
  // From here each loop returns once its last connection is done.
  for (auto& guard : keep_running_) {
    guard.reset();
  }
  for (auto& timer : timers) {
    net::post(timer->get_executor(), [timer] { timer->cancel(); });
  }
  for (auto& set : signal_sets) {
    net::post(set->get_executor(), [set] {
      beast::error_code ignored;
      set->cancel(ignored);
    });
  }
  if (!listener) {
    return drainSessions();
  }
  // Sessions are registered on the main loop: once the acceptor is closed
  // there, the list of sessions to drain is complete.
  net::post(listener->executor(), [this, listener] {
    listener->stop();
    drainSessions();
  });
}

void ServerCore::drainSessions() {
  std::vector<std::weak_ptr<Session>> sessions;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [pointer, session] : sessions_) {
      sessions.push_back(session);
    }
  }
  for (const auto& weak : sessions) {
    if (auto session = weak.lock()) {
      session->drain();
    }
  }
}

}  // namespace

class HttpsServer::Impl : public ServerCore {
 public:
  using ServerCore::ServerCore;
};

HttpsServer::HttpsServer(ServerLimits limits, TlsCredentials& credentials, HttpHandler handler,
                         metrics::Registry& registry)
    : impl_(std::make_unique<Impl>(std::move(limits), credentials, std::move(handler), registry)) {}

HttpsServer::~HttpsServer() = default;

policy::Result<void> HttpsServer::listen(const std::string& address, uint16_t port) {
  return impl_->listen(address, port);
}

uint16_t HttpsServer::port() const { return impl_->port(); }

void HttpsServer::every(std::chrono::milliseconds interval, std::function<void()> task) {
  impl_->every(interval, std::move(task));
}

void HttpsServer::shutdownOnSignals(std::initializer_list<int> signals) {
  impl_->shutdownOnSignals(signals);
}

void HttpsServer::run() { impl_->run(); }

void HttpsServer::shutdown() { impl_->shutdown(); }

}  // namespace palisade::server
