#pragma once

// A client of the kube-apiserver's REST API over HTTPS (Boost.Beast,
// OpenSSL): the server verified against the configured CA and by name
// (a DNS name or an IP address SAN), client certificate or bearer token
// authentication, HTTP/1.1 keep-alive connections reused across requests,
// and a timeout on every request. Answers are JSON, or the policy:: object
// model for namespaces, pods and NetworkPolicies; refusals are ApiErrors
// carrying the Status code, reason and message.
//
// Thread-safe: requests run synchronously on the calling thread, each on a
// connection of its own taken from (and returned to) a small pool. A watch
// gets a connection of its own for as long as it lasts.

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/http/verb.hpp>
#include <nlohmann/json.hpp>

#include "kube/error.h"
#include "kube/http_connection.h"
#include "kube/kubeconfig.h"
#include "kube/resources.h"
#include "kube/watch_stream.h"
#include "policy/error.h"

namespace palisade::kube {

struct ClientOptions {
  // Bounds each request as a whole: connecting, the TLS handshake, sending,
  // and receiving the whole answer (or, for a watch, its header).
  std::chrono::milliseconds request_timeout{30000};
  // A list page of 500 pods is a few megabytes; nothing Palisade asks for
  // comes near this.
  size_t response_body_limit = 128 * 1024 * 1024;
  size_t max_idle_connections = 4;
  // An idle connection older than this is closed rather than reused: the
  // apiserver (Go's net/http) closes idle connections on its side too.
  std::chrono::milliseconds max_idle_time{45000};
  std::string user_agent = "palisade/0.1";
};

// Applies to one call.
struct CallOptions {
  std::optional<std::chrono::milliseconds> timeout{};  // default: request_timeout
  Canceller* canceller = nullptr;                      // lets another thread abort the call
  bool dry_run = false;                                // writes: dryRun=All, nothing persisted
  std::string field_manager{};                         // writes: fieldManager
};

struct ListOptions {
  std::string label_selector{};
  std::string field_selector{};
  int64_t limit = 0;             // a page size; 0: everything at once
  std::string continue_token{};  // from the previous page's metadata.continue
};

enum class PatchType {
  kMerge,  // application/merge-patch+json (RFC 7386)
  kJson,   // application/json-patch+json (RFC 6902)
};

// The items of a list, decoded, with the resourceVersion to watch from.
template <class T>
struct ObjectList {
  std::vector<T> items;
  std::string resource_version;
};

class ApiClient {
 public:
  // Builds the TLS settings; fails on certificates or keys OpenSSL refuses.
  [[nodiscard]] static policy::Result<std::unique_ptr<ApiClient>> fromConfig(
      ClientConfig config, ClientOptions options = {});
  ~ApiClient();
  ApiClient(const ApiClient&) = delete;
  ApiClient& operator=(const ApiClient&) = delete;

  const ClientConfig& config() const { return config_; }

  // One request to `target` (a path and query below the server's path
  // prefix). Fails only when there is no HTTP answer; any status is returned.
  [[nodiscard]] ApiResult<HttpResponse> request(boost::beast::http::verb method,
                                                const std::string& target, std::string body = {},
                                                std::string content_type = {},
                                                const CallOptions& call = {});

  // The REST verbs on a resource. `namespace_name` is ignored for
  // cluster-scoped resources and required for a namespaced object; for a
  // namespaced list, empty means every namespace. Non-2xx answers are
  // ApiErrors of kind kStatus.
  [[nodiscard]] ApiResult<nlohmann::json> get(const ResourceType& type,
                                              std::string_view namespace_name,
                                              std::string_view name, const CallOptions& call = {});
  // One page (or all, without a limit): the List object as the API returns it.
  [[nodiscard]] ApiResult<nlohmann::json> list(const ResourceType& type,
                                               std::string_view namespace_name,
                                               const ListOptions& options = {},
                                               const CallOptions& call = {});
  [[nodiscard]] ApiResult<nlohmann::json> create(const ResourceType& type,
                                                 std::string_view namespace_name,
                                                 const nlohmann::json& object,
                                                 const CallOptions& call = {});
  [[nodiscard]] ApiResult<nlohmann::json> patch(const ResourceType& type,
                                                std::string_view namespace_name,
                                                std::string_view name, PatchType patch_type,
                                                const nlohmann::json& patch,
                                                const CallOptions& call = {});
  // The answer is the deleted object, or a Status for a deletion that goes on
  // in the background; DELETE of a missing object is NotFound.
  [[nodiscard]] ApiResult<nlohmann::json> remove(const ResourceType& type,
                                                 std::string_view namespace_name,
                                                 std::string_view name,
                                                 const CallOptions& call = {});

  // Typed access for policy::Namespace, policy::Pod and policy::NetworkPolicy
  // (decoded as the cache keeps them is up to the caller: nothing is trimmed
  // here). listObjects follows continue tokens until the last page.
  template <class T>
  [[nodiscard]] ApiResult<T> getObject(std::string_view namespace_name, std::string_view name,
                                       const CallOptions& call = {});
  template <class T>
  [[nodiscard]] ApiResult<ObjectList<T>> listObjects(std::string_view namespace_name,
                                                     ListOptions options = {},
                                                     const CallOptions& call = {});

  // Opens a watch on a collection: the request is sent and the answer's header
  // read (within the call's timeout). A refusal, such as 410 Gone for a
  // resourceVersion too old, is an ApiError of kind kStatus.
  [[nodiscard]] ApiResult<std::unique_ptr<WatchStream>> watch(const ResourceType& type,
                                                              std::string_view namespace_name,
                                                              const WatchOptions& options,
                                                              const CallOptions& call = {});

  // Connections opened so far (tests check that they are reused).
  uint64_t connectionsOpened() const;

 private:
  struct IdleConnection {
    std::unique_ptr<HttpConnection> connection;
    std::chrono::steady_clock::time_point since;
  };

  ApiClient(ClientConfig config, ClientOptions options, HttpEndpoint endpoint);
  HttpRequest makeRequest(boost::beast::http::verb method, const std::string& target,
                          std::string body, const std::string& content_type) const;
  // A pooled connection, or a new one; `reused` says which.
  ApiResult<std::unique_ptr<HttpConnection>> acquire(HttpConnection::Clock::time_point deadline,
                                                     Canceller* canceller, bool& reused);
  void release(std::unique_ptr<HttpConnection> connection);
  ApiResult<nlohmann::json> invoke(boost::beast::http::verb method, const std::string& target,
                                   std::string body, std::string content_type,
                                   const CallOptions& options);
  std::string writeQuery(const CallOptions& call) const;

  ClientConfig config_;
  ClientOptions options_;
  HttpEndpoint endpoint_;
  mutable std::mutex mutex_;
  std::deque<IdleConnection> idle_;
  uint64_t connections_opened_ = 0;
};

// The error an answer carries: its Status object when it has one, otherwise
// the HTTP status with the reason the apiserver would give it.
ApiError errorFromResponse(const HttpResponse& response, std::string request);

}  // namespace palisade::kube
