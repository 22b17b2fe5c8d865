#include "kube/api_client.h"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/http/field.hpp>
#include <openssl/ssl.h>

namespace palisade::kube {
namespace {

namespace http = boost::beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using Clock = HttpConnection::Clock;

// The body of an error answer read from a watch response is at most this.
constexpr size_t kErrorBodyLimit = 1024 * 1024;

constexpr const char* kJson = "application/json";

std::string describeRequest(http::verb method, const std::string& target) {
  return std::string(http::to_string(method)) + " " + target;
}

std::string excerpt(std::string_view text) {
  constexpr size_t kMax = 200;
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) {
    return {};
  }
  text = text.substr(first);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.remove_suffix(1);
  }
  return text.size() <= kMax ? std::string(text) : std::string(text.substr(0, kMax)) + "...";
}

// Appends `name=value` to a URL's query, percent-encoding the value.
void addQuery(std::string& target, std::string_view name, std::string_view value) {
  target += target.find('?') == std::string::npos ? '?' : '&';
  target.append(name).append("=").append(percentEncode(value));
}

std::unexpected<ApiError> invalid(std::string message) {
  return apiFailure(ApiError::Kind::kInvalid, std::move(message));
}

template <class T>
ApiResult<T> decodeTyped(const nlohmann::json& object, std::string_view where) {
  auto decoded = ResourceTraits<T>::decode(object);
  if (!decoded) {
    const auto& error = decoded.error();
    return apiFailure(ApiError::Kind::kDecode,
                      std::string(where) + ": " +
                          (error.field_path.empty() ? std::string() : error.field_path + ": ") +
                          error.message);
  }
  return std::move(*decoded);
}

}  // namespace

ApiError errorFromResponse(const HttpResponse& response, std::string request) {
  ApiError error;
  error.kind = ApiError::Kind::kStatus;
  error.code = static_cast<int>(response.status);
  error.request = std::move(request);
  const auto status = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (status.is_object() && status.value("kind", "") == "Status") {
    if (const auto code = status.find("code"); code != status.end() && code->is_number_integer()) {
      error.code = code->get<int>();
    }
    error.reason = status.value("reason", "");
    error.message = status.value("message", "");
  }
  if (error.reason.empty()) {
    error.reason = reasonForStatusCode(error.code);
  }
  if (error.message.empty()) {
    error.message = excerpt(response.body);
  }
  return error;
}

policy::Result<std::unique_ptr<ApiClient>> ApiClient::fromConfig(ClientConfig config,
                                                                 ClientOptions options) {
  const std::string origin = config.origin.empty() ? std::string("client configuration")
                                                   : config.origin;
  if (config.host.empty()) {
    return policy::fail(origin + ": no server");
  }
  auto tls = std::make_shared<ssl::context>(ssl::context::tls_client);
  SSL_CTX* native = tls->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  tls->set_options(ssl::context::default_workarounds | ssl::context::no_compression);
  boost::system::error_code ec;
  if (config.insecure_skip_tls_verify) {
    tls->set_verify_mode(ssl::verify_none);
  } else {
    tls->set_verify_mode(ssl::verify_peer);
    if (config.ca_pem.empty()) {
      tls->set_default_verify_paths(ec);
    } else {
      tls->add_certificate_authority(net::buffer(config.ca_pem), ec);
    }
    if (ec) {
      return policy::fail(origin + ": the certificate authority: " + ec.message());
    }
  }
  if (!config.client_certificate_pem.empty()) {
    tls->use_certificate_chain(net::buffer(config.client_certificate_pem), ec);
    if (ec) {
      return policy::fail(origin + ": the client certificate: " + ec.message());
    }
    tls->use_private_key(net::buffer(config.client_key_pem), ssl::context::pem, ec);
    if (ec) {
      return policy::fail(origin + ": the client key: " + ec.message());
    }
  }
  // The apiserver offers h2 too; this client speaks HTTP/1.1 only.
  static constexpr unsigned char kAlpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  SSL_CTX_set_alpn_protos(native, kAlpn, sizeof(kAlpn));

  HttpEndpoint endpoint;
  endpoint.host = config.host;
  endpoint.port = config.port;
  endpoint.server_name = config.insecure_skip_tls_verify
                             ? std::string()
                             : (config.tls_server_name.empty() ? config.host
                                                               : config.tls_server_name);
  endpoint.tls = std::move(tls);
  return std::unique_ptr<ApiClient>(
      new ApiClient(std::move(config), std::move(options), std::move(endpoint)));
}

ApiClient::ApiClient(ClientConfig config, ClientOptions options, HttpEndpoint endpoint)
    : config_(std::move(config)), options_(std::move(options)), endpoint_(std::move(endpoint)) {}

ApiClient::~ApiClient() = default;

uint64_t ApiClient::connectionsOpened() const {
  std::lock_guard lock(mutex_);
  return connections_opened_;
}

HttpRequest ApiClient::makeRequest(http::verb method, const std::string& target, std::string body,
                                   const std::string& content_type) const {
  HttpRequest request{method, config_.path_prefix + target, 11};
  const bool ipv6 = config_.host.find(':') != std::string::npos;
  std::string host = ipv6 ? "[" + config_.host + "]" : config_.host;
  if (config_.port != 443) {
    host += ":" + std::to_string(config_.port);
  }
  request.set(http::field::host, host);
  request.set(http::field::user_agent, options_.user_agent);
  request.set(http::field::accept, kJson);
  if (config_.token) {
    request.set(http::field::authorization, "Bearer " + config_.token->token());
  }
  if (!content_type.empty()) {
    request.set(http::field::content_type, content_type);
  }
  request.body() = std::move(body);
  request.prepare_payload();
  return request;
}

ApiResult<std::unique_ptr<HttpConnection>> ApiClient::acquire(Clock::time_point deadline,
                                                              Canceller* canceller, bool& reused) {
  {
    std::lock_guard lock(mutex_);
    const auto now = std::chrono::steady_clock::now();
    while (!idle_.empty()) {
      IdleConnection idle = std::move(idle_.back());
      idle_.pop_back();
      if (now - idle.since < options_.max_idle_time && !idle.connection->brokenWhileIdle()) {
        reused = true;
        return std::move(idle.connection);
      }
    }
    ++connections_opened_;
  }
  reused = false;
  auto connection = std::make_unique<HttpConnection>(endpoint_);
  if (auto connected = connection->connect(deadline, canceller); !connected) {
    return std::unexpected(connected.error());
  }
  return connection;
}

void ApiClient::release(std::unique_ptr<HttpConnection> connection) {
  std::lock_guard lock(mutex_);
  if (idle_.size() < options_.max_idle_connections) {
    idle_.push_back(IdleConnection{std::move(connection), std::chrono::steady_clock::now()});
  }
}

ApiResult<HttpResponse> ApiClient::request(http::verb method, const std::string& target,
                                           std::string body, std::string content_type,
                                           const CallOptions& call) {
  const std::string description = describeRequest(method, target);
  const auto deadline = Clock::now() + call.timeout.value_or(options_.request_timeout);
  for (int attempt = 0;; ++attempt) {
    bool reused = false;
    auto connection = acquire(deadline, call.canceller, reused);
    if (!connection) {
      ApiError error = connection.error();
      error.request = description;
      return std::unexpected(std::move(error));
    }
    HttpRequest request = makeRequest(method, target, body, content_type);
    auto written = (*connection)->write(request, deadline, call.canceller);
    auto response = written ? (*connection)->read(deadline, options_.response_body_limit,
                                                  call.canceller)
                            : std::unexpected(written.error());
    if (!response) {
      // A kept-alive connection the server closed just as it was reused:
      // retry once on a new one when the request cannot have been acted on
      // (it was not fully sent) or is safe to repeat.
      if (reused && attempt == 0 && response.error().kind == ApiError::Kind::kTransport &&
          (!written || method == http::verb::get)) {
        continue;
      }
      ApiError error = response.error();
      error.request = description;
      return std::unexpected(std::move(error));
    }
    if ((*connection)->reusable()) {
      release(std::move(*connection));
    }
    return response;
  }
}

ApiResult<nlohmann::json> ApiClient::invoke(http::verb method, const std::string& target,
                                            std::string body, std::string content_type,
                                            const CallOptions& options) {
  auto response = request(method, target, std::move(body), std::move(content_type), options);
  if (!response) {
    return std::unexpected(response.error());
  }
  if (response->status < 200 || response->status >= 300) {
    return std::unexpected(errorFromResponse(*response, describeRequest(method, target)));
  }
  auto parsed = nlohmann::json::parse(response->body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    return apiFailure(ApiError::Kind::kDecode,
                      "the answer is not JSON: " + excerpt(response->body),
                      describeRequest(method, target));
  }
  return parsed;
}

std::string ApiClient::writeQuery(const CallOptions& call) const {
  std::string query;
  if (call.dry_run) {
    addQuery(query, "dryRun", "All");
  }
  if (!call.field_manager.empty()) {
    addQuery(query, "fieldManager", call.field_manager);
  }
  return query;
}

ApiResult<nlohmann::json> ApiClient::get(const ResourceType& type, std::string_view namespace_name,
                                         std::string_view name, const CallOptions& call) {
  if (name.empty() || (type.namespaced && namespace_name.empty())) {
    return invalid("get " + type.qualifiedName() + ": needs a name" +
                   (type.namespaced ? " and a namespace" : ""));
  }
  return invoke(http::verb::get, resourcePath(type, namespace_name, name), {}, {}, call);
}

ApiResult<nlohmann::json> ApiClient::list(const ResourceType& type,
                                          std::string_view namespace_name,
                                          const ListOptions& options, const CallOptions& call) {
  std::string target = resourcePath(type, namespace_name);
  if (!options.label_selector.empty()) {
    addQuery(target, "labelSelector", options.label_selector);
  }
  if (!options.field_selector.empty()) {
    addQuery(target, "fieldSelector", options.field_selector);
  }
  if (options.limit > 0) {
    addQuery(target, "limit", std::to_string(options.limit));
  }
  if (!options.continue_token.empty()) {
    addQuery(target, "continue", options.continue_token);
  }
  return invoke(http::verb::get, target, {}, {}, call);
}

ApiResult<nlohmann::json> ApiClient::create(const ResourceType& type,
                                            std::string_view namespace_name,
                                            const nlohmann::json& object,
                                            const CallOptions& call) {
  if (type.namespaced && namespace_name.empty()) {
    return invalid("create " + type.qualifiedName() + ": needs a namespace");
  }
  return invoke(http::verb::post, resourcePath(type, namespace_name) + writeQuery(call),
                    object.dump(), std::string(kJson), call);
}

ApiResult<nlohmann::json> ApiClient::patch(const ResourceType& type,
                                           std::string_view namespace_name, std::string_view name,
                                           PatchType patch_type, const nlohmann::json& patch,
                                           const CallOptions& call) {
  if (name.empty() || (type.namespaced && namespace_name.empty())) {
    return invalid("patch " + type.qualifiedName() + ": needs a name" +
                   (type.namespaced ? " and a namespace" : ""));
  }
  const char* content_type = patch_type == PatchType::kMerge ? "application/merge-patch+json"
                                                             : "application/json-patch+json";
  return invoke(http::verb::patch,
                    resourcePath(type, namespace_name, name) + writeQuery(call), patch.dump(),
                    content_type, call);
}

ApiResult<nlohmann::json> ApiClient::remove(const ResourceType& type,
                                            std::string_view namespace_name,
                                            std::string_view name, const CallOptions& call) {
  if (name.empty() || (type.namespaced && namespace_name.empty())) {
    return invalid("delete " + type.qualifiedName() + ": needs a name" +
                   (type.namespaced ? " and a namespace" : ""));
  }
  CallOptions without_manager = call;
  without_manager.field_manager.clear();  // DELETE takes no fieldManager
  return invoke(http::verb::delete_,
                    resourcePath(type, namespace_name, name) + writeQuery(without_manager), {}, {},
                    call);
}

template <class T>
ApiResult<T> ApiClient::getObject(std::string_view namespace_name, std::string_view name,
                                  const CallOptions& call) {
  const ResourceType& type = ResourceTraits<T>::type();
  auto object = get(type, namespace_name, name, call);
  if (!object) {
    return std::unexpected(object.error());
  }
  return decodeTyped<T>(*object, type.resource + " " + objectKey(namespace_name, name));
}

template <class T>
ApiResult<ObjectList<T>> ApiClient::listObjects(std::string_view namespace_name,
                                                ListOptions options, const CallOptions& call) {
  const ResourceType& type = ResourceTraits<T>::type();
  ObjectList<T> result;
  for (;;) {
    auto page = list(type, namespace_name, options, call);
    if (!page) {
      return std::unexpected(page.error());
    }
    const auto items = page->find("items");
    if (items != page->end() && !items->is_null() && !items->is_array()) {
      return apiFailure(ApiError::Kind::kDecode, type.resource + " list: items is not an array");
    }
    if (items != page->end() && items->is_array()) {
      for (size_t i = 0; i < items->size(); ++i) {
        auto item = decodeTyped<T>((*items)[i], type.resource + " list: items[" +
                                                    std::to_string(i) + "]");
        if (!item) {
          return std::unexpected(item.error());
        }
        result.items.push_back(std::move(*item));
      }
    }
    const nlohmann::json metadata = page->value("metadata", nlohmann::json::object());
    result.resource_version = metadata.value("resourceVersion", "");
    options.continue_token = metadata.value("continue", "");
    if (options.continue_token.empty()) {
      return result;
    }
  }
}

template ApiResult<policy::Namespace> ApiClient::getObject<policy::Namespace>(
    std::string_view, std::string_view, const CallOptions&);
template ApiResult<policy::Pod> ApiClient::getObject<policy::Pod>(std::string_view,
                                                                  std::string_view,
                                                                  const CallOptions&);
template ApiResult<policy::NetworkPolicy> ApiClient::getObject<policy::NetworkPolicy>(
    std::string_view, std::string_view, const CallOptions&);
template ApiResult<ObjectList<policy::Namespace>> ApiClient::listObjects<policy::Namespace>(
    std::string_view, ListOptions, const CallOptions&);
template ApiResult<ObjectList<policy::Pod>> ApiClient::listObjects<policy::Pod>(
    std::string_view, ListOptions, const CallOptions&);
template ApiResult<ObjectList<policy::NetworkPolicy>>
ApiClient::listObjects<policy::NetworkPolicy>(std::string_view, ListOptions, const CallOptions&);

ApiResult<std::unique_ptr<WatchStream>> ApiClient::watch(const ResourceType& type,
                                                         std::string_view namespace_name,
                                                         const WatchOptions& options,
                                                         const CallOptions& call) {
  std::string target = resourcePath(type, namespace_name);
  addQuery(target, "watch", "1");
  if (!options.resource_version.empty()) {
    addQuery(target, "resourceVersion", options.resource_version);
  }
  if (options.allow_bookmarks) {
    addQuery(target, "allowWatchBookmarks", "true");
  }
  addQuery(target, "timeoutSeconds", std::to_string(options.timeout.count()));
  if (!options.label_selector.empty()) {
    addQuery(target, "labelSelector", options.label_selector);
  }
  if (!options.field_selector.empty()) {
    addQuery(target, "fieldSelector", options.field_selector);
  }
  const std::string description = describeRequest(http::verb::get, target);
  const auto deadline = Clock::now() + call.timeout.value_or(options_.request_timeout);
  const auto fail = [&](ApiError error) {
    error.request = description;
    return std::unexpected(std::move(error));
  };

  auto connection = std::make_unique<HttpConnection>(endpoint_);
  {
    std::lock_guard lock(mutex_);
    ++connections_opened_;
  }
  if (auto connected = connection->connect(deadline, call.canceller); !connected) {
    return fail(connected.error());
  }
  HttpRequest request = makeRequest(http::verb::get, target, {}, {});
  if (auto written = connection->write(request, deadline, call.canceller); !written) {
    return fail(written.error());
  }
  auto header = connection->readHeader(deadline, call.canceller);
  if (!header) {
    return fail(header.error());
  }
  if (header->status != 200) {
    HttpResponse answer = *header;
    char chunk[16 * 1024];
    while (answer.body.size() < kErrorBodyLimit) {
      auto received = connection->readSome(chunk, sizeof(chunk), deadline, call.canceller);
      if (!received || *received == 0) {
        break;  // what arrived is enough to explain the refusal
      }
      answer.body.append(chunk, *received);
    }
    return std::unexpected(errorFromResponse(answer, description));
  }
  return std::make_unique<WatchStream>(std::move(connection), description, options);
}

}  // namespace palisade::kube
