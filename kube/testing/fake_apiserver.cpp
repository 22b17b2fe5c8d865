#include "kube/testing/fake_apiserver.h"

#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "kube/error.h"
#include "kube/testing/client_certificate.h"

namespace palisade::kube::testing {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using json = nlohmann::json;

constexpr std::chrono::milliseconds kSplitPause{15};

std::string collectionOf(const std::string& group, const std::string& version,
                         const std::string& resource) {
  return group + "/" + version + "/" + resource;
}

std::string collectionOf(const ResourceType& type) {
  return collectionOf(type.group, type.version, type.resource);
}

const ResourceType* knownType(const std::string& collection) {
  for (const ResourceType* type : {&kNamespaces, &kPods, &kNetworkPolicies, &kLeases}) {
    if (collectionOf(*type) == collection) {
      return type;
    }
  }
  return nullptr;
}

std::string apiVersionOf(const std::string& group, const std::string& version) {
  return group.empty() ? version : group + "/" + version;
}

std::string percentDecode(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      out.push_back(static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else if (text[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

std::vector<std::string> splitPath(std::string_view path) {
  std::vector<std::string> segments;
  size_t start = 0;
  while (start < path.size()) {
    const size_t slash = path.find('/', start);
    const size_t end = slash == std::string_view::npos ? path.size() : slash;
    if (end > start) {
      segments.push_back(percentDecode(path.substr(start, end - start)));
    }
    start = end + 1;
  }
  return segments;
}

std::string metadataString(const json& object, const char* field) {
  const auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) {
    return {};
  }
  return metadata->value(field, "");
}

json statusObject(int code, const std::string& reason, const std::string& message) {
  return json{{"kind", "Status"},  {"apiVersion", "v1"}, {"metadata", json::object()},
              {"status", "Failure"}, {"message", message}, {"reason", reason},
              {"code", code}};
}

std::string eventLine(const std::string& type, const json& object) {
  return json{{"type", type}, {"object", object}}.dump() + "\n";
}

}  // namespace

struct FakeApiServer::Io {
  net::io_context ioc;
  tcp::acceptor acceptor{ioc};
  ssl::context tls{ssl::context::tls_server};
};

struct FakeApiServer::Connection {
  std::thread thread;
  int fd = -1;
  bool idle = false;
  bool done = false;
};

struct FakeApiServer::Watch {
  std::string collection;
  std::string namespace_name;
  std::string kind;
  std::string api_version;
  bool bookmarks = false;
  size_t cursor = 0;
  bool bookmark_pending = false;
  bool stalled = false;
  bool drop = false;
  bool drop_mid_event = false;
};

struct FakeApiServer::Route {
  bool valid = false;
  std::string group;
  std::string version;
  std::string resource;
  std::string collection;
  std::string namespace_name;
  std::string name;
};

struct FakeApiServer::Reply {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  static Reply of(int status, const json& body) { return Reply{status, body.dump()}; }
  static Reply error(int code, const std::string& reason, const std::string& message) {
    return of(code, statusObject(code, reason, message));
  }
};

FakeApiServer::FakeApiServer(FakeApiServerOptions options)
    : options_(std::move(options)), io_(std::make_unique<Io>()) {
  auto ca = certs::makeCertificateAuthority("fake-kube-apiserver-ca", std::chrono::hours(24));
  if (!ca) {
    throw std::runtime_error(ca.error().message);
  }
  ca_ = *ca;
  certs::ServingCertificateRequest request;
  request.common_name = "kube-apiserver";
  request.dns_names = options_.dns_names;
  request.ip_addresses = options_.ip_addresses;
  request.validity = std::chrono::hours(24);
  auto serving = certs::issueServingCertificate(ca_, request);
  if (!serving) {
    throw std::runtime_error(serving.error().message);
  }
  io_->tls.use_certificate_chain(net::buffer(serving->certificate_pem));
  io_->tls.use_private_key(net::buffer(serving->private_key_pem), ssl::context::pem);
  io_->tls.add_certificate_authority(net::buffer(ca_.certificate_pem));
  // Like the apiserver: a client certificate is asked for and verified when
  // presented; required only when the test says so.
  io_->tls.set_verify_mode(options_.require_client_certificate
                               ? ssl::verify_peer | ssl::verify_fail_if_no_peer_cert
                               : ssl::verify_peer);

  const tcp::endpoint endpoint(net::ip::make_address("127.0.0.1"), 0);
  io_->acceptor.open(endpoint.protocol());
  io_->acceptor.set_option(net::socket_base::reuse_address(true));
  io_->acceptor.bind(endpoint);
  io_->acceptor.listen();
  port_ = io_->acceptor.local_endpoint().port();
  acceptor_ = std::thread([this] { acceptLoop(); });
}

FakeApiServer::~FakeApiServer() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  ::shutdown(io_->acceptor.native_handle(), SHUT_RDWR);
  acceptor_.join();
  {
    std::lock_guard lock(mutex_);
    for (Connection& connection : connections_) {
      if (!connection.done) {
        ::shutdown(connection.fd, SHUT_RDWR);
      }
    }
  }
  for (Connection& connection : connections_) {
    connection.thread.join();
  }
}

std::string FakeApiServer::url() const { return "https://127.0.0.1:" + std::to_string(port_); }

ClientConfig FakeApiServer::clientConfig() const {
  ClientConfig config;
  if (!parseServerUrl(url(), config)) {
    throw std::logic_error("the fake apiserver's URL does not parse");
  }
  config.ca_pem = ca_.certificate_pem;
  std::lock_guard lock(mutex_);
  if (!options_.bearer_token.empty()) {
    config.token = TokenSource::fixed(options_.bearer_token);
  }
  config.origin = "fake apiserver";
  return config;
}

certs::PemPair FakeApiServer::issueClientCertificate(const std::string& common_name) const {
  return testing::issueClientCertificate(ca_, common_name);
}

void FakeApiServer::setBearerToken(std::string token) {
  std::lock_guard lock(mutex_);
  options_.bearer_token = std::move(token);
}

json FakeApiServer::commit(const std::string& collection, const std::string& key,
                           const std::string& type, json object) {
  ++resource_version_;
  object["metadata"]["resourceVersion"] = std::to_string(resource_version_);
  if (type == "DELETED") {
    collections_[collection].erase(key);
  } else {
    collections_[collection][key] = object;
  }
  history_.push_back(HistoryEvent{resource_version_, collection,
                                  metadataString(object, "namespace"), type, object});
  changed_.notify_all();
  return object;
}

json FakeApiServer::create(const ResourceType& type, json object) {
  if (!object.contains("apiVersion")) {
    object["apiVersion"] = apiVersionOf(type.group, type.version);
  }
  if (!object.contains("kind")) {
    object["kind"] = type.kind;
  }
  const std::string key = objectKey(type.namespaced ? metadataString(object, "namespace") : "",
                                    metadataString(object, "name"));
  std::lock_guard lock(mutex_);
  auto& collection = collections_[collectionOf(type)];
  if (collection.contains(key)) {
    throw std::logic_error("fake apiserver: " + key + " exists already");
  }
  object["metadata"]["uid"] = "uid-" + std::to_string(next_uid_++);
  return commit(collectionOf(type), key, "ADDED", std::move(object));
}

json FakeApiServer::update(const ResourceType& type, json object) {
  const std::string key = objectKey(type.namespaced ? metadataString(object, "namespace") : "",
                                    metadataString(object, "name"));
  std::lock_guard lock(mutex_);
  auto& collection = collections_[collectionOf(type)];
  const auto it = collection.find(key);
  if (it == collection.end()) {
    throw std::logic_error("fake apiserver: no " + key + " to update");
  }
  for (const char* field : {"apiVersion", "kind"}) {
    if (!object.contains(field)) {
      object[field] = it->second[field];
    }
  }
  object["metadata"]["uid"] = it->second["metadata"].value("uid", "");
  return commit(collectionOf(type), key, "MODIFIED", std::move(object));
}

void FakeApiServer::remove(const ResourceType& type, std::string_view namespace_name,
                           std::string_view name) {
  const std::string key = objectKey(type.namespaced ? namespace_name : "", name);
  std::lock_guard lock(mutex_);
  auto& collection = collections_[collectionOf(type)];
  const auto it = collection.find(key);
  if (it == collection.end()) {
    throw std::logic_error("fake apiserver: no " + key + " to delete");
  }
  commit(collectionOf(type), key, "DELETED", it->second);
}

std::optional<json> FakeApiServer::object(const ResourceType& type,
                                          std::string_view namespace_name,
                                          std::string_view name) const {
  const std::string key = objectKey(type.namespaced ? namespace_name : "", name);
  std::lock_guard lock(mutex_);
  const auto collection = collections_.find(collectionOf(type));
  if (collection == collections_.end()) {
    return std::nullopt;
  }
  const auto it = collection->second.find(key);
  if (it == collection->second.end()) {
    return std::nullopt;
  }
  return it->second;
}

std::string FakeApiServer::resourceVersion() const {
  std::lock_guard lock(mutex_);
  return std::to_string(resource_version_);
}

void FakeApiServer::compact(GoneStyle style) {
  std::lock_guard lock(mutex_);
  compacted_ = resource_version_;
  gone_style_ = style;
}

void FakeApiServer::sendBookmarks() {
  {
    std::lock_guard lock(mutex_);
    for (Watch* watch : watches_) {
      watch->bookmark_pending = watch->bookmarks;
    }
  }
  changed_.notify_all();
}

void FakeApiServer::dropWatches(bool mid_event) {
  {
    std::lock_guard lock(mutex_);
    for (Watch* watch : watches_) {
      watch->drop = true;
      watch->drop_mid_event = mid_event;
    }
  }
  changed_.notify_all();
}

void FakeApiServer::stallWatches() {
  std::lock_guard lock(mutex_);
  for (Watch* watch : watches_) {
    watch->stalled = true;
  }
}

void FakeApiServer::splitEvents(bool split) {
  std::lock_guard lock(mutex_);
  split_events_ = split;
}

void FakeApiServer::closeIdleConnections() {
  std::lock_guard lock(mutex_);
  for (Connection& connection : connections_) {
    if (connection.idle && !connection.done) {
      ::shutdown(connection.fd, SHUT_RDWR);
    }
  }
}

void FakeApiServer::failNext(std::string method, std::string path_prefix, int code, int count,
                             bool status_body) {
  std::lock_guard lock(mutex_);
  failures_.push_back(Failure{std::move(method), std::move(path_prefix), code, count, status_body});
}

void FakeApiServer::ignoreNext(int count) {
  std::lock_guard lock(mutex_);
  ignore_next_ += count;
}

std::vector<RecordedRequest> FakeApiServer::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

std::vector<RecordedRequest> FakeApiServer::watchRequests() const {
  std::lock_guard lock(mutex_);
  std::vector<RecordedRequest> watches;
  for (const auto& request : requests_) {
    if (const auto it = request.query.find("watch");
        it != request.query.end() && (it->second == "1" || it->second == "true")) {
      watches.push_back(request);
    }
  }
  return watches;
}

size_t FakeApiServer::openWatches() const {
  std::lock_guard lock(mutex_);
  return watches_.size();
}

size_t FakeApiServer::connectionsAccepted() const {
  std::lock_guard lock(mutex_);
  return accepted_;
}

void FakeApiServer::acceptLoop() {
  for (;;) {
    tcp::socket socket(io_->ioc);
    beast::error_code ec;
    io_->acceptor.accept(socket, ec);
    std::lock_guard lock(mutex_);
    if (stopping_) {
      return;
    }
    if (ec) {
      continue;
    }
    ++accepted_;
    Connection& connection = connections_.emplace_back();
    connection.fd = socket.native_handle();
    connection.thread = std::thread([this, &connection, socket = std::move(socket)]() mutable {
      ssl::stream<tcp::socket> stream(std::move(socket), io_->tls);
      beast::error_code handshake_ec;
      stream.handshake(ssl::stream_base::server, handshake_ec);
      if (!handshake_ec) {
        serve(connection, stream);
      }
      // Before the socket closes: its descriptor may be reused at once.
      std::lock_guard done_lock(mutex_);
      connection.done = true;
    });
  }
}

// /api/v1/namespaces/a/pods/b, /apis/networking.k8s.io/v1/networkpolicies,
// /api/v1/namespaces/a (the namespace a itself).
FakeApiServer::Route FakeApiServer::parseRoute(const std::string& path) {
  FakeApiServer::Route route;
  const auto segments = splitPath(path);
  size_t next = 0;
  if (segments.size() >= 2 && segments[0] == "api") {
    route.version = segments[1];
    next = 2;
  } else if (segments.size() >= 3 && segments[0] == "apis") {
    route.group = segments[1];
    route.version = segments[2];
    next = 3;
  } else {
    return route;
  }
  const std::vector<std::string> rest(segments.begin() + static_cast<long>(next), segments.end());
  if (rest.empty() || rest.size() > 4) {
    return route;
  }
  if (rest[0] == "namespaces" && rest.size() >= 3) {
    route.namespace_name = rest[1];
    route.resource = rest[2];
    route.name = rest.size() == 4 ? rest[3] : "";
  } else if (rest.size() <= 2) {
    route.resource = rest[0];
    route.name = rest.size() == 2 ? rest[1] : "";
  } else {
    return route;
  }
  route.collection = collectionOf(route.group, route.version, route.resource);
  route.valid = true;
  return route;
}

template <class Stream>
void FakeApiServer::serve(Connection& connection, Stream& stream) {
  std::string client_common_name;
  if (X509* certificate = SSL_get1_peer_certificate(stream.native_handle())) {
    char name[256] = {};
    X509_NAME_get_text_by_NID(X509_get_subject_name(certificate), NID_commonName, name,
                              sizeof(name));
    client_common_name = name;
    X509_free(certificate);
  }
  beast::error_code endpoint_ec;
  const uint16_t client_port = stream.next_layer().remote_endpoint(endpoint_ec).port();
  beast::flat_buffer buffer;
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      connection.idle = true;
    }
    http::request<http::string_body> message;
    beast::error_code ec;
    http::read(stream, buffer, message, ec);
    {
      std::lock_guard lock(mutex_);
      connection.idle = false;
    }
    if (ec) {
      return;
    }
    RecordedRequest request;
    request.method = std::string(message.method_string());
    request.target = std::string(message.target());
    const auto question = request.target.find('?');
    request.path = request.target.substr(0, question);
    if (question != std::string::npos) {
      std::string_view query(request.target);
      query.remove_prefix(question + 1);
      while (!query.empty()) {
        const auto amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        const auto equals = pair.find('=');
        request.query[percentDecode(pair.substr(0, equals))] =
            equals == std::string_view::npos ? "" : percentDecode(pair.substr(equals + 1));
        query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
      }
    }
    request.authorization = std::string(message[http::field::authorization]);
    request.content_type = std::string(message[http::field::content_type]);
    request.body = message.body();
    request.client_common_name = client_common_name;
    request.client_port = client_port;

    std::optional<Reply> reply;
    bool ignore = false;
    {
      std::lock_guard lock(mutex_);
      requests_.push_back(request);
      if (ignore_next_ > 0) {
        --ignore_next_;
        ignore = true;
      } else if (!options_.bearer_token.empty() &&
                 request.authorization != "Bearer " + options_.bearer_token) {
        reply = Reply::error(401, "Unauthorized", "Unauthorized");
      } else {
        for (Failure& failure : failures_) {
          if (failure.remaining > 0 && failure.method == request.method &&
              request.path.starts_with(failure.path_prefix)) {
            --failure.remaining;
            reply = failure.status_body
                        ? Reply::error(failure.code, reasonForStatusCode(failure.code),
                                       "injected failure")
                        : Reply{failure.code, "<html>upstream failure</html>", "text/html"};
            break;
          }
        }
      }
    }
    if (ignore) {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [this] { return stopping_; });
      return;
    }
    const Route route = parseRoute(request.path);
    if (!reply && route.valid && request.method == "GET" && route.name.empty()) {
      const auto watch = request.query.find("watch");
      if (watch != request.query.end() && (watch->second == "1" || watch->second == "true")) {
        streamWatch(stream, request, route);
        return;  // a watch's connection is not reused
      }
    }
    if (!reply) {
      reply = route.valid ? handle(request, route)
                          : Reply::error(404, "NotFound", "the server could not find the "
                                                          "requested resource");
    }
    http::response<http::string_body> response{static_cast<http::status>(reply->status), 11};
    response.set(http::field::content_type, reply->content_type);
    response.body() = std::move(reply->body);
    response.keep_alive(message.keep_alive());
    response.prepare_payload();
    http::write(stream, response, ec);
    if (ec || !message.keep_alive()) {
      return;
    }
  }
}

FakeApiServer::Reply FakeApiServer::handle(const RecordedRequest& request, const Route& route) {
  if (request.method == "GET") {
    if (route.name.empty()) {
      return handleList(request, route);
    }
    std::lock_guard lock(mutex_);
    const auto& collection = collections_[route.collection];
    const auto it = collection.find(objectKey(route.namespace_name, route.name));
    if (it == collection.end()) {
      return Reply::error(404, "NotFound",
                          route.resource + " \"" + route.name + "\" not found");
    }
    return Reply::of(200, it->second);
  }
  if (request.method == "POST" && route.name.empty()) {
    return handleCreate(request, route);
  }
  if (request.method == "PATCH" && !route.name.empty()) {
    return handlePatch(request, route);
  }
  if (request.method == "DELETE" && !route.name.empty()) {
    return handleDelete(request, route);
  }
  return Reply::error(405, "MethodNotAllowed", "the server does not allow this method");
}

FakeApiServer::Reply FakeApiServer::handleList(const RecordedRequest& request,
                                               const Route& route) {
  int64_t limit = 0;
  if (const auto it = request.query.find("limit"); it != request.query.end()) {
    limit = std::stoll(it->second);
  }
  std::string after;  // the last key of the previous page
  std::lock_guard lock(mutex_);
  if (const auto it = request.query.find("continue"); it != request.query.end()) {
    const auto bar = it->second.find('|');
    if (bar == std::string::npos) {
      return Reply::error(400, "BadRequest", "invalid continue token");
    }
    if (std::stoll(it->second.substr(0, bar)) < compacted_) {
      return Reply::error(410, "Expired",
                          "The provided continue parameter is too old to display a consistent "
                          "list result. You can start a new list without the continue parameter.");
    }
    after = it->second.substr(bar + 1);
  }
  const auto& collection = collections_[route.collection];
  const std::string prefix = route.namespace_name.empty() ? "" : route.namespace_name + "/";
  json items = json::array();
  std::string next;
  for (auto it = after.empty() ? collection.lower_bound(prefix) : collection.upper_bound(after);
       it != collection.end() && it->first.starts_with(prefix); ++it) {
    if (limit > 0 && static_cast<int64_t>(items.size()) == limit) {
      next = std::to_string(resource_version_) + "|" + std::prev(it)->first;
      break;
    }
    json item = it->second;
    item.erase("kind");  // as the apiserver lists them: the list carries the kind
    item.erase("apiVersion");
    items.push_back(std::move(item));
  }
  const ResourceType* type = knownType(route.collection);
  json list{{"kind", (type ? type->kind : std::string()) + "List"},
            {"apiVersion", apiVersionOf(route.group, route.version)},
            {"metadata", {{"resourceVersion", std::to_string(resource_version_)}}},
            {"items", std::move(items)}};
  if (!next.empty()) {
    list["metadata"]["continue"] = next;
  }
  return Reply::of(200, list);
}

FakeApiServer::Reply FakeApiServer::handleCreate(const RecordedRequest& request,
                                                 const Route& route) {
  json object = json::parse(request.body, nullptr, false);
  if (!object.is_object()) {
    return Reply::error(400, "BadRequest", "the body is not a JSON object");
  }
  const std::string name = metadataString(object, "name");
  if (name.empty()) {
    return Reply::error(422, "Invalid", "metadata.name: Required value");
  }
  const std::string object_namespace = metadataString(object, "namespace");
  if (!route.namespace_name.empty()) {
    if (!object_namespace.empty() && object_namespace != route.namespace_name) {
      return Reply::error(400, "BadRequest",
                          "the namespace of the provided object does not match the namespace "
                          "sent on the request");
    }
    object["metadata"]["namespace"] = route.namespace_name;
  }
  const std::string key = objectKey(route.namespace_name, name);
  std::lock_guard lock(mutex_);
  auto& collection = collections_[route.collection];
  if (collection.contains(key)) {
    return Reply::error(409, "AlreadyExists",
                        route.resource + " \"" + name + "\" already exists");
  }
  object["metadata"]["uid"] = "uid-" + std::to_string(next_uid_++);
  if (request.query.contains("dryRun")) {
    return Reply::of(201, object);
  }
  return Reply::of(201, commit(route.collection, key, "ADDED", std::move(object)));
}

FakeApiServer::Reply FakeApiServer::handlePatch(const RecordedRequest& request,
                                                const Route& route) {
  const json patch = json::parse(request.body, nullptr, false);
  if (patch.is_discarded()) {
    return Reply::error(400, "BadRequest", "the patch is not JSON");
  }
  const std::string key = objectKey(route.namespace_name, route.name);
  std::lock_guard lock(mutex_);
  auto& collection = collections_[route.collection];
  const auto it = collection.find(key);
  if (it == collection.end()) {
    return Reply::error(404, "NotFound",
                        route.resource + " \"" + route.name + "\" not found");
  }
  json patched = it->second;
  if (request.content_type == "application/merge-patch+json") {
    patched.merge_patch(patch);
  } else if (request.content_type == "application/json-patch+json") {
    try {
      patched = patched.patch(patch);
    } catch (const json::exception& e) {
      return Reply::error(422, "Invalid", std::string("the JSON patch failed: ") + e.what());
    }
  } else {
    return Reply::error(415, "UnsupportedMediaType",
                        "the body of the request was in an unknown format");
  }
  // A resourceVersion in the patched object is a precondition, as in the
  // apiserver: it must be the stored one.
  const std::string wanted = metadataString(patched, "resourceVersion");
  const std::string stored = metadataString(it->second, "resourceVersion");
  if (!wanted.empty() && wanted != stored) {
    return Reply::error(409, "Conflict",
                        "Operation cannot be fulfilled on " + route.resource + " \"" +
                            route.name +
                            "\": the object has been modified; please apply your changes to "
                            "the latest version and try again");
  }
  patched["metadata"]["name"] = route.name;
  if (!route.namespace_name.empty()) {
    patched["metadata"]["namespace"] = route.namespace_name;
  }
  if (request.query.contains("dryRun")) {
    return Reply::of(200, patched);
  }
  return Reply::of(200, commit(route.collection, key, "MODIFIED", std::move(patched)));
}

FakeApiServer::Reply FakeApiServer::handleDelete(const RecordedRequest& request,
                                                 const Route& route) {
  const std::string key = objectKey(route.namespace_name, route.name);
  std::lock_guard lock(mutex_);
  auto& collection = collections_[route.collection];
  const auto it = collection.find(key);
  if (it == collection.end()) {
    return Reply::error(404, "NotFound",
                        route.resource + " \"" + route.name + "\" not found");
  }
  if (request.query.contains("dryRun")) {
    return Reply::of(200, it->second);
  }
  return Reply::of(200, commit(route.collection, key, "DELETED", it->second));
}

template <class Stream>
void FakeApiServer::streamWatch(Stream& stream, const RecordedRequest& request,
                                const Route& route) {
  const auto query = [&](const char* name) {
    const auto it = request.query.find(name);
    return it == request.query.end() ? std::string() : it->second;
  };
  const std::string from = query("resourceVersion");
  const std::string timeout = query("timeoutSeconds");
  const int timeout_seconds = timeout.empty() ? 0 : std::stoi(timeout);

  Watch watch;
  watch.collection = route.collection;
  watch.namespace_name = route.namespace_name;
  const ResourceType* type = knownType(route.collection);
  watch.kind = type ? type->kind : std::string();
  watch.api_version = apiVersionOf(route.group, route.version);
  watch.bookmarks = query("allowWatchBookmarks") == "true";

  std::vector<std::string> lines;
  std::optional<json> gone;
  GoneStyle gone_style = GoneStyle::kErrorEvent;
  {
    std::lock_guard lock(mutex_);
    if (from.empty() || from == "0") {
      // No resourceVersion: the current objects as ADDED, then changes.
      const std::string prefix = route.namespace_name.empty() ? "" : route.namespace_name + "/";
      for (const auto& [key, object] : collections_[route.collection]) {
        if (key.starts_with(prefix)) {
          lines.push_back(eventLine("ADDED", object));
        }
      }
      watch.cursor = history_.size();
    } else if (std::stoll(from) < compacted_) {
      gone = statusObject(410, "Expired",
                          "too old resource version: " + from + " (" +
                              std::to_string(compacted_) + ")");
      gone_style = gone_style_;
    } else {
      const int64_t version = std::stoll(from);
      watch.cursor = static_cast<size_t>(
          std::partition_point(history_.begin(), history_.end(),
                               [&](const HistoryEvent& event) {
                                 return event.resource_version <= version;
                               }) -
          history_.begin());
    }
    if (!gone) {
      watches_.push_back(&watch);
    }
  }
  // Unregisters the watch however the stream ends.
  struct Unregister {
    FakeApiServer& server;
    Watch* watch;
    ~Unregister() {
      std::lock_guard lock(server.mutex_);
      server.watches_.remove(watch);
    }
  } unregister{*this, gone ? nullptr : &watch};

  beast::error_code ec;
  if (gone && gone_style == GoneStyle::kHttpStatus) {
    http::response<http::string_body> response{http::status::gone, 11};
    response.set(http::field::content_type, "application/json");
    response.body() = gone->dump();
    response.keep_alive(false);
    response.prepare_payload();
    http::write(stream, response, ec);
    return;
  }
  http::response<http::empty_body> header{http::status::ok, 11};
  header.set(http::field::content_type, "application/json");
  header.chunked(true);
  http::response_serializer<http::empty_body> serializer{header};
  http::write_header(stream, serializer, ec);
  const auto write_line = [&](const std::string& line, bool split) {
    if (!split || line.size() < 3) {
      net::write(stream, http::make_chunk(net::buffer(line)), ec);
      return;
    }
    const size_t third = line.size() / 3;
    for (size_t start = 0; start < line.size() && !ec; start += third) {
      const size_t length = std::min(third, line.size() - start);
      net::write(stream, http::make_chunk(net::buffer(line.data() + start, length)), ec);
      std::this_thread::sleep_for(kSplitPause);
    }
  };
  if (gone) {
    write_line(eventLine("ERROR", *gone), false);
    net::write(stream, http::make_chunk_last(), ec);
    return;
  }
  for (const auto& line : lines) {
    write_line(line, false);
  }

  using SteadyClock = std::chrono::steady_clock;
  const auto deadline = timeout_seconds > 0
                            ? SteadyClock::now() + std::chrono::seconds(timeout_seconds)
                            : SteadyClock::time_point::max();
  // Skips history that is not this watch's; whether an event is waiting.
  const auto pending = [&] {
    while (watch.cursor < history_.size()) {
      const HistoryEvent& event = history_[watch.cursor];
      if (event.collection == watch.collection &&
          (watch.namespace_name.empty() || event.namespace_name == watch.namespace_name)) {
        return true;
      }
      ++watch.cursor;
    }
    return false;
  };
  while (!ec) {
    lines.clear();
    bool split = false;
    bool drop = false;
    bool end = false;
    {
      std::unique_lock lock(mutex_);
      if (watch.stalled) {
        // A dead peer: nothing more, not even the end of the response.
        changed_.wait(lock, [&] { return stopping_ || watch.drop; });
      }
      changed_.wait_until(lock, deadline, [&] {
        return stopping_ || watch.drop ||
               (!watch.stalled && (pending() || watch.bookmark_pending));
      });
      split = split_events_;
      if (stopping_ || watch.drop) {
        drop = true;
        if (watch.drop_mid_event && pending()) {
          const HistoryEvent& event = history_[watch.cursor];
          const std::string line = eventLine(event.type, event.object);
          lines.push_back(line.substr(0, line.size() / 2));
        }
      } else if (!pending() && !watch.bookmark_pending) {
        end = std::chrono::steady_clock::now() >= deadline;
        if (!end) {
          continue;
        }
      } else {
        while (pending()) {
          const HistoryEvent& event = history_[watch.cursor++];
          lines.push_back(eventLine(event.type, event.object));
        }
        if (watch.bookmark_pending) {
          watch.bookmark_pending = false;
          lines.push_back(eventLine(
              "BOOKMARK", json{{"kind", watch.kind},
                               {"apiVersion", watch.api_version},
                               {"metadata", {{"resourceVersion",
                                              std::to_string(resource_version_)}}}}));
        }
      }
    }
    for (const auto& line : lines) {
      write_line(line, split && !drop);
    }
    if (drop) {
      beast::error_code ignored;
      stream.next_layer().shutdown(tcp::socket::shutdown_both, ignored);
      return;
    }
    if (end) {
      net::write(stream, http::make_chunk_last(), ec);
      return;
    }
  }
}

}  // namespace palisade::kube::testing
