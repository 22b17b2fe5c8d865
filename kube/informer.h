#pragma once

// A list+watch cache of one resource (client-go calls it an informer): lists
// the collection, then watches it from the list's resourceVersion, and keeps
// the objects, decoded into the policy:: model and trimmed to what Palisade
// reads, keyed namespace/name.
//
// What keeps it right over days of running:
// - every event and bookmark advances the resourceVersion, and a watch that
//   ends (timeoutSeconds, a dropped connection, a stall) resumes from it, so
//   nothing is missed and nothing replayed;
// - 410 Gone (as the watch's HTTP status or as an ERROR event) means the
//   apiserver no longer has the history: list again and deliver the
//   difference, deletions that happened meanwhile included;
// - failures are retried with capped exponential backoff and jitter;
// - a watch silent for longer than the apiserver's bookmark cadence is
//   presumed dead and replaced.
//
// Thread-safety: the accessors may be called from any thread. Handlers run
// on the informer's own thread, one at a time, after the cache was updated
// and before the generation advances (and before hasSynced() turns true for
// the first list); they must not call stop(). stop() (and the destructor)
// cancel what is in flight and join the thread.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kube/api_client.h"
#include "kube/backoff.h"
#include "kube/change_notifier.h"
#include "policy/objects.h"

namespace palisade::kube {

struct InformerOptions {
  std::string namespace_name{};  // empty: every namespace (ignored when cluster-scoped)
  std::string label_selector{};
  std::string field_selector{};
  int64_t page_size = 500;  // list pages, so a large collection is never one huge answer
  // Each watch asks for timeoutSeconds somewhere in [watch_timeout,
  // 2·watch_timeout), so that clients do not all reconnect together.
  std::chrono::seconds watch_timeout{300};
  std::chrono::milliseconds stall_timeout{150000};  // see WatchOptions::stall_timeout
  BackoffSettings backoff{};
  // Notified on every change, in addition to the informer's own generation
  // (ClusterCache shares one among its informers).
  std::shared_ptr<ChangeNotifier> notifier{};
};

template <class T>
struct InformerHandlers {
  std::function<void(const T&)> on_add;
  std::function<void(const T& old_object, const T& new_object)> on_update;
  std::function<void(const T&)> on_delete;
  // A problem the informer recovers from by itself (a dropped watch, a
  // relist, an object it could not decode), as a sentence for a log.
  std::function<void(const std::string&)> on_error;
};

struct InformerStats {
  uint64_t lists = 0;           // complete lists (the first one and every relist)
  uint64_t watches = 0;         // watches opened
  uint64_t gone = 0;            // 410 answers that forced a relist
  uint64_t watch_failures = 0;  // watches that broke, stalled, or could not be opened
  uint64_t decode_errors = 0;   // objects that did not decode
  std::string last_error;
};

// T is policy::Namespace, policy::Pod or policy::NetworkPolicy.
template <class T>
class Informer {
 public:
  using Object = std::shared_ptr<const T>;

  // `client` must outlive the informer.
  Informer(ApiClient& client, InformerOptions options = {}, InformerHandlers<T> handlers = {});
  ~Informer();
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  // Starts the thread; once only.
  void start();
  void stop();

  // Whether the first list has been stored.
  bool hasSynced() const;
  bool waitForSync(std::chrono::milliseconds timeout) const;

  // Incremented on every change to the cache, and on the first sync.
  uint64_t generation() const;
  uint64_t waitForChange(uint64_t seen, std::chrono::milliseconds timeout) const;

  Object get(std::string_view namespace_name, std::string_view name) const;
  std::vector<Object> list() const;                               // sorted by key
  std::vector<Object> list(std::string_view namespace_name) const;  // one namespace
  size_t size() const;

  // The resourceVersion the next watch starts from.
  std::string resourceVersion() const;
  InformerStats stats() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

extern template class Informer<policy::Namespace>;
extern template class Informer<policy::Pod>;
extern template class Informer<policy::NetworkPolicy>;

}  // namespace palisade::kube
