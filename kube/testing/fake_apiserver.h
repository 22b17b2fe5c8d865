#pragma once

// A fake kube-apiserver for tests: HTTPS on 127.0.0.1 (a port of its own,
// a CA made at test time), an in-memory object store with one global
// resourceVersion and a history of changes, and the REST behaviour the
// client depends on: get, paged lists with continue tokens, create
// (AlreadyExists), merge and JSON patch (Conflict on a stale
// resourceVersion), delete (NotFound), watches from a resourceVersion with
// bookmarks and timeoutSeconds, and 410 Gone for history it has forgotten.
// Faults are injected on demand: dropped and stalled watches, events cut
// into pieces, idle connections closed, error answers, unanswered requests.
// Every request is recorded for the test to inspect.
//
// One thread per connection, blocking I/O; every method is thread-safe. Test
// code: a failure to start throws.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "certs/certificate_authority.h"
#include "kube/kubeconfig.h"
#include "kube/resources.h"

namespace palisade::kube::testing {

struct FakeApiServerOptions {
  // Non-empty: every request must carry "Authorization: Bearer <token>" or
  // gets 401 Unauthorized.
  std::string bearer_token{};
  // The TLS handshake requires a client certificate signed by ca().
  bool require_client_certificate = false;
  std::vector<std::string> dns_names{"localhost"};
  std::vector<std::string> ip_addresses{"127.0.0.1"};
};

struct RecordedRequest {
  std::string method;
  std::string target;  // path and query, as sent
  std::string path;
  std::map<std::string, std::string> query;  // decoded
  std::string authorization;
  std::string content_type;
  std::string body;
  std::string client_common_name;  // of the client certificate, if one was presented
  uint16_t client_port = 0;        // tells connections apart
};

// How a watch from a forgotten resourceVersion is refused. The apiserver
// accepts the watch and sends an ERROR event with a 410 Status; a proxy or an
// older apiserver answers 410 before streaming.
enum class GoneStyle { kErrorEvent, kHttpStatus };

class FakeApiServer {
 public:
  explicit FakeApiServer(FakeApiServerOptions options = {});
  ~FakeApiServer();
  FakeApiServer(const FakeApiServer&) = delete;
  FakeApiServer& operator=(const FakeApiServer&) = delete;

  uint16_t port() const { return port_; }
  std::string url() const;  // https://127.0.0.1:<port>
  const certs::PemPair& ca() const { return ca_; }
  // What a client needs to reach this server: its address, its CA, and the
  // bearer token it requires (if any).
  ClientConfig clientConfig() const;
  // A client certificate (clientAuth) signed by ca(), as the apiserver's x509
  // authenticator accepts: the common name is the user.
  certs::PemPair issueClientCertificate(const std::string& common_name) const;
  void setBearerToken(std::string token);

  // The store. Each change is an event in its resource's history and
  // advances the resourceVersion; the objects are returned as stored.
  nlohmann::json create(const ResourceType& type, nlohmann::json object);
  nlohmann::json update(const ResourceType& type, nlohmann::json object);
  void remove(const ResourceType& type, std::string_view namespace_name, std::string_view name);
  std::optional<nlohmann::json> object(const ResourceType& type, std::string_view namespace_name,
                                       std::string_view name) const;
  std::string resourceVersion() const;

  // Forgets the history up to now: a watch or continue token from an older
  // resourceVersion gets 410 Gone.
  void compact(GoneStyle style = GoneStyle::kErrorEvent);
  // A BOOKMARK with the current resourceVersion to every open watch that
  // allows bookmarks.
  void sendBookmarks();
  // Closes every open watch's connection without ending the response; with
  // `mid_event`, a watch with an event to send sends half of it first.
  void dropWatches(bool mid_event = false);
  // Open watches go silent; their connections stay open. New watches are
  // served normally.
  void stallWatches();
  // Writes each event in three pieces, pausing between them.
  void splitEvents(bool split);
  // Closes every kept-alive connection waiting for its next request.
  void closeIdleConnections();
  // The next `count` requests whose method and path start match get `code`
  // (with a Status body, or a plain-text one as a proxy would send).
  void failNext(std::string method, std::string path_prefix, int code, int count = 1,
                bool status_body = true);
  // The next `count` requests get no answer at all.
  void ignoreNext(int count = 1);

  std::vector<RecordedRequest> requests() const;
  // The recorded watch requests, oldest first.
  std::vector<RecordedRequest> watchRequests() const;
  size_t openWatches() const;
  size_t connectionsAccepted() const;

 private:
  struct Connection;
  struct Watch;
  struct HistoryEvent {
    int64_t resource_version;
    std::string collection;
    std::string namespace_name;
    std::string type;  // ADDED, MODIFIED, DELETED
    nlohmann::json object;
  };
  struct Failure {
    std::string method;
    std::string path_prefix;
    int code;
    int remaining;
    bool status_body;
  };
  struct Route;
  struct Reply;

  static Route parseRoute(const std::string& path);
  void acceptLoop();
  template <class Stream>
  void serve(Connection& connection, Stream& stream);
  Reply handle(const RecordedRequest& request, const Route& route);
  Reply handleList(const RecordedRequest& request, const Route& route);
  Reply handleCreate(const RecordedRequest& request, const Route& route);
  Reply handlePatch(const RecordedRequest& request, const Route& route);
  Reply handleDelete(const RecordedRequest& request, const Route& route);

  template <class Stream>
  void streamWatch(Stream& stream, const RecordedRequest& request, const Route& route);

  // Under mutex_.
  nlohmann::json commit(const std::string& collection, const std::string& key,
                        const std::string& type, nlohmann::json object);

  struct Io;

  FakeApiServerOptions options_;
  certs::PemPair ca_;
  std::unique_ptr<Io> io_;
  uint16_t port_ = 0;

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  bool stopping_ = false;
  int64_t resource_version_ = 100;
  int64_t compacted_ = 0;
  GoneStyle gone_style_ = GoneStyle::kErrorEvent;
  uint64_t next_uid_ = 1;
  std::map<std::string, std::map<std::string, nlohmann::json>> collections_;
  std::vector<HistoryEvent> history_;
  std::vector<RecordedRequest> requests_;
  std::vector<Failure> failures_;
  int ignore_next_ = 0;
  bool split_events_ = false;
  std::list<Watch*> watches_;
  std::list<Connection> connections_;
  size_t accepted_ = 0;

  std::thread acceptor_;
};

}  // namespace palisade::kube::testing
