#include "kube/informer.h"

#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

namespace palisade::kube {
namespace {

using Clock = std::chrono::steady_clock;

// A watch that ends cleanly sooner than this without delivering anything is
// treated as a failure, so that a server ending every watch at once does not
// make the informer spin.
constexpr std::chrono::milliseconds kShortestUsefulWatch{1000};

std::string metadataString(const nlohmann::json& object, const char* field) {
  const auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) {
    return {};
  }
  const auto value = metadata->find(field);
  return value != metadata->end() && value->is_string() ? value->get<std::string>()
                                                        : std::string();
}

std::string rawKey(const nlohmann::json& object) {
  return objectKey(metadataString(object, "namespace"), metadataString(object, "name"));
}

}  // namespace

template <class T>
class Informer<T>::Impl {
 public:
  Impl(ApiClient& client, InformerOptions options, InformerHandlers<T> handlers)
      : client_(client),
        options_(std::move(options)),
        handlers_(std::move(handlers)),
        backoff_(options_.backoff) {
    if (!ResourceTraits<T>::type().namespaced) {
      options_.namespace_name.clear();
    }
  }

  ~Impl() { stop(); }

  void start() {
    std::lock_guard lock(control_mutex_);
    if (thread_.joinable()) {
      return;
    }
    stopping_ = false;
    canceller_ = std::make_unique<Canceller>();
    thread_ = std::thread([this] { run(); });
  }

  void stop() {
    std::lock_guard lock(control_mutex_);
    {
      std::lock_guard wake_lock(wake_mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (canceller_) {
      canceller_->cancel();
    }
    if (thread_.joinable()) {
      thread_.join();
    }
  }

  bool hasSynced() const {
    std::lock_guard lock(mutex_);
    return synced_;
  }

  bool waitForSync(std::chrono::milliseconds timeout) const {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      const uint64_t seen = notifier_.generation();
      if (hasSynced()) {
        return true;
      }
      const auto now = Clock::now();
      if (now >= deadline) {
        return false;
      }
      notifier_.waitForChange(
          seen, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now) +
                    std::chrono::milliseconds(1));
    }
  }

  uint64_t generation() const { return notifier_.generation(); }
  uint64_t waitForChange(uint64_t seen, std::chrono::milliseconds timeout) const {
    return notifier_.waitForChange(seen, timeout);
  }

  Object get(std::string_view namespace_name, std::string_view name) const {
    const std::string key = objectKey(
        ResourceTraits<T>::type().namespaced ? namespace_name : std::string_view(), name);
    std::lock_guard lock(mutex_);
    const auto it = store_.find(key);
    return it == store_.end() ? nullptr : it->second;
  }

  std::vector<Object> list() const {
    std::lock_guard lock(mutex_);
    std::vector<Object> objects;
    objects.reserve(store_.size());
    for (const auto& [key, object] : store_) {
      objects.push_back(object);
    }
    return objects;
  }

  std::vector<Object> list(std::string_view namespace_name) const {
    const std::string prefix = std::string(namespace_name) + "/";
    std::lock_guard lock(mutex_);
    std::vector<Object> objects;
    for (auto it = store_.lower_bound(prefix);
         it != store_.end() && std::string_view(it->first).starts_with(prefix); ++it) {
      objects.push_back(it->second);
    }
    return objects;
  }

  size_t size() const {
    std::lock_guard lock(mutex_);
    return store_.size();
  }

  std::string resourceVersion() const {
    std::lock_guard lock(mutex_);
    return resource_version_;
  }

  InformerStats stats() const {
    std::lock_guard lock(mutex_);
    return stats_;
  }

 private:
  using Store = std::map<std::string, Object, std::less<>>;
  enum class WatchEnd { kEnded, kEndedEarly, kGone, kFailed, kStopped };

  // What changed, delivered to the handlers after the store was updated.
  struct Change {
    Object old_object;  // null for an addition
    Object new_object;  // null for a deletion
  };

  const ResourceType& type() const { return ResourceTraits<T>::type(); }

  bool stopping() const {
    std::lock_guard lock(wake_mutex_);
    return stopping_;
  }

  // Sleeps, unless stop() comes first; false when it did.
  bool sleep(std::chrono::milliseconds delay) {
    std::unique_lock lock(wake_mutex_);
    return !wake_.wait_for(lock, delay, [this] { return stopping_; });
  }

  void report(const std::string& message) {
    {
      std::lock_guard lock(mutex_);
      stats_.last_error = message;
    }
    if (handlers_.on_error) {
      handlers_.on_error(message);
    }
  }

  void count(uint64_t InformerStats::*counter) {
    std::lock_guard lock(mutex_);
    ++(stats_.*counter);
  }

  void notifyChanged() {
    notifier_.notify();
    if (options_.notifier) {
      options_.notifier->notify();
    }
  }

  void deliver(const std::vector<Change>& changes) {
    for (const Change& change : changes) {
      if (!change.old_object) {
        if (handlers_.on_add) {
          handlers_.on_add(*change.new_object);
        }
      } else if (!change.new_object) {
        if (handlers_.on_delete) {
          handlers_.on_delete(*change.old_object);
        }
      } else if (handlers_.on_update) {
        handlers_.on_update(*change.old_object, *change.new_object);
      }
    }
  }

  // Decodes an object for the cache; on failure reports it and returns null.
  Object decode(const nlohmann::json& object) {
    auto decoded = ResourceTraits<T>::decode(object);
    if (!decoded) {
      count(&InformerStats::decode_errors);
      const auto& error = decoded.error();
      report(type().resource + " " + rawKey(object) + ": " +
             (error.field_path.empty() ? std::string() : error.field_path + ": ") +
             error.message + " (the cache keeps the version it had, if any)");
      return nullptr;
    }
    ResourceTraits<T>::trim(*decoded);
    return std::make_shared<const T>(std::move(*decoded));
  }

  void run() {
    bool need_list = true;
    while (!stopping()) {
      if (need_list) {
        if (!relist()) {
          if (stopping() || !sleep(backoff_.next())) {
            return;
          }
          continue;
        }
        need_list = false;
      }
      switch (watchOnce()) {
        case WatchEnd::kEnded:
          break;
        case WatchEnd::kGone:
          need_list = true;
          break;
        case WatchEnd::kEndedEarly:
        case WatchEnd::kFailed:
          if (!sleep(backoff_.next())) {
            return;
          }
          break;
        case WatchEnd::kStopped:
          return;
      }
    }
  }

  // Lists the whole collection, page by page, and replaces the cache with
  // it; false (reported) on failure.
  bool relist() {
    ListOptions list_options;
    list_options.label_selector = options_.label_selector;
    list_options.field_selector = options_.field_selector;
    list_options.limit = options_.page_size;
    CallOptions call;
    call.canceller = canceller_.get();

    Store listed;
    std::string resource_version;
    bool restarted = false;
    for (;;) {
      auto page = client_.list(type(), options_.namespace_name, list_options, call);
      if (!page) {
        // A continue token expires with the history it points into: start
        // the list over, once.
        if (page.error().isGone() && !list_options.continue_token.empty() && !restarted) {
          restarted = true;
          listed.clear();
          list_options.continue_token.clear();
          report("list " + type().qualifiedName() +
                 ": the continue token expired (410); listing again from the start");
          continue;
        }
        if (page.error().kind != ApiError::Kind::kCancelled) {
          report("list " + type().qualifiedName() + " failed: " + page.error().describe());
        }
        return false;
      }
      const auto items = page->find("items");
      if (items != page->end() && items->is_array()) {
        for (const auto& item : *items) {
          if (Object object = decode(item)) {
            const auto& metadata = object->metadata;
            listed[objectKey(metadata.namespace_name, metadata.name)] = std::move(object);
          } else if (Object kept = getByKey(rawKey(item))) {
            listed[rawKey(item)] = std::move(kept);
          }
        }
      }
      const nlohmann::json metadata = page->value("metadata", nlohmann::json::object());
      resource_version = metadata.value("resourceVersion", "");
      list_options.continue_token = metadata.value("continue", "");
      if (list_options.continue_token.empty()) {
        break;
      }
    }
    replace(std::move(listed), std::move(resource_version));
    backoff_.reset();
    return true;
  }

  Object getByKey(const std::string& key) const {
    std::lock_guard lock(mutex_);
    const auto it = store_.find(key);
    return it == store_.end() ? nullptr : it->second;
  }

  // Swaps in a fresh list and delivers the difference from what the cache
  // held: objects gone while no watch was looking are deletions.
  void replace(Store listed, std::string resource_version) {
    std::vector<Change> changes;
    bool first_sync = false;
    {
      std::lock_guard lock(mutex_);
      for (const auto& [key, old_object] : store_) {
        if (!listed.contains(key)) {
          changes.push_back(Change{old_object, nullptr});
        }
      }
      for (auto& [key, new_object] : listed) {
        const auto old = store_.find(key);
        if (old == store_.end()) {
          changes.push_back(Change{nullptr, new_object});
        } else if (old->second->metadata.resource_version !=
                   new_object->metadata.resource_version) {
          changes.push_back(Change{old->second, new_object});
        } else {
          new_object = old->second;  // unchanged: keep the object callers may hold
        }
      }
      store_ = std::move(listed);
      resource_version_ = std::move(resource_version);
      ++stats_.lists;
    }
    deliver(changes);
    // Synced only once the handlers have seen the first list, as client-go's
    // HasSynced; waiters wake after the handlers ran.
    {
      std::lock_guard lock(mutex_);
      first_sync = !synced_;
      synced_ = true;
    }
    if (first_sync || !changes.empty()) {
      notifyChanged();
    }
  }

  std::chrono::seconds watchTimeout() {
    const auto base = std::max<int64_t>(1, options_.watch_timeout.count());
    std::uniform_int_distribution<int64_t> spread(0, base - 1);
    return std::chrono::seconds(base + spread(random_));
  }

  WatchEnd watchOnce() {
    WatchOptions watch_options;
    watch_options.resource_version = resourceVersion();
    watch_options.timeout = watchTimeout();
    watch_options.label_selector = options_.label_selector;
    watch_options.field_selector = options_.field_selector;
    watch_options.stall_timeout = options_.stall_timeout;
    CallOptions call;
    call.canceller = canceller_.get();

    const auto opened_at = Clock::now();
    auto stream = client_.watch(type(), options_.namespace_name, watch_options, call);
    if (!stream) {
      if (stream.error().kind == ApiError::Kind::kCancelled) {
        return WatchEnd::kStopped;
      }
      if (stream.error().isGone()) {
        count(&InformerStats::gone);
        report("watch " + type().qualifiedName() + " from resourceVersion " +
               watch_options.resource_version + ": 410 Gone; listing again");
        return WatchEnd::kGone;
      }
      count(&InformerStats::watch_failures);
      report("watch " + type().qualifiedName() + " failed: " + stream.error().describe());
      return WatchEnd::kFailed;
    }
    count(&InformerStats::watches);
    bool received = false;
    for (;;) {
      auto batch = (*stream)->next(canceller_.get());
      if (!batch) {
        if (batch.error().kind == ApiError::Kind::kCancelled) {
          return WatchEnd::kStopped;
        }
        count(&InformerStats::watch_failures);
        report("watch " + type().qualifiedName() + " broke: " + batch.error().describe());
        return WatchEnd::kFailed;
      }
      for (WatchEvent& event : batch->events) {
        if (event.type == WatchEventType::kError) {
          return watchError(event.object);
        }
        apply(event);
        received = true;
      }
      if (!batch->events.empty()) {
        backoff_.reset();
      }
      if (batch->ended) {
        const bool useful = received || Clock::now() - opened_at >= kShortestUsefulWatch;
        return useful ? WatchEnd::kEnded : WatchEnd::kEndedEarly;
      }
    }
  }

  WatchEnd watchError(const nlohmann::json& status) {
    const int code = status.value("code", 0);
    const std::string message = status.value("message", "");
    if (code == 410) {
      count(&InformerStats::gone);
      report("watch " + type().qualifiedName() + ": " + message + " (410); listing again");
      return WatchEnd::kGone;
    }
    count(&InformerStats::watch_failures);
    report("watch " + type().qualifiedName() + ": error event " + std::to_string(code) + " " +
           status.value("reason", "") + ": " + message);
    return WatchEnd::kFailed;
  }

  void apply(const WatchEvent& event) {
    const std::string resource_version = metadataString(event.object, "resourceVersion");
    if (event.type == WatchEventType::kBookmark) {
      std::lock_guard lock(mutex_);
      if (!resource_version.empty()) {
        resource_version_ = resource_version;
      }
      return;
    }
    const std::string key = rawKey(event.object);
    std::vector<Change> changes;
    if (event.type == WatchEventType::kDeleted) {
      std::lock_guard lock(mutex_);
      if (const auto it = store_.find(key); it != store_.end()) {
        changes.push_back(Change{it->second, nullptr});
        store_.erase(it);
      }
      if (!resource_version.empty()) {
        resource_version_ = resource_version;
      }
    } else {
      Object object = decode(event.object);
      std::lock_guard lock(mutex_);
      auto& slot = store_[key];
      // The same version again (a watch without a resourceVersion replays
      // the collection as ADDED events) is no change.
      if (object && (!slot || slot->metadata.resource_version != resource_version ||
                     resource_version.empty())) {
        changes.push_back(Change{slot, object});
        slot = std::move(object);
      } else if (!slot) {
        store_.erase(key);
      }
      if (!resource_version.empty()) {
        resource_version_ = resource_version;
      }
    }
    if (!changes.empty()) {
      deliver(changes);
      notifyChanged();
    }
  }

  ApiClient& client_;
  InformerOptions options_;
  InformerHandlers<T> handlers_;
  Backoff backoff_;
  std::mt19937_64 random_{std::random_device{}()};
  ChangeNotifier notifier_;

  mutable std::mutex mutex_;  // guards the cache and the statistics
  Store store_;
  std::string resource_version_;
  bool synced_ = false;
  InformerStats stats_;

  std::mutex control_mutex_;  // serializes start() and stop()
  mutable std::mutex wake_mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::unique_ptr<Canceller> canceller_;
  std::thread thread_;
};

template <class T>
Informer<T>::Informer(ApiClient& client, InformerOptions options, InformerHandlers<T> handlers)
    : impl_(std::make_unique<Impl>(client, std::move(options), std::move(handlers))) {}

template <class T>
Informer<T>::~Informer() = default;

template <class T>
void Informer<T>::start() {
  impl_->start();
}

template <class T>
void Informer<T>::stop() {
  impl_->stop();
}

template <class T>
bool Informer<T>::hasSynced() const {
  return impl_->hasSynced();
}

template <class T>
bool Informer<T>::waitForSync(std::chrono::milliseconds timeout) const {
  return impl_->waitForSync(timeout);
}

template <class T>
uint64_t Informer<T>::generation() const {
  return impl_->generation();
}

template <class T>
uint64_t Informer<T>::waitForChange(uint64_t seen, std::chrono::milliseconds timeout) const {
  return impl_->waitForChange(seen, timeout);
}

template <class T>
typename Informer<T>::Object Informer<T>::get(std::string_view namespace_name,
                                              std::string_view name) const {
  return impl_->get(namespace_name, name);
}

template <class T>
std::vector<typename Informer<T>::Object> Informer<T>::list() const {
  return impl_->list();
}

template <class T>
std::vector<typename Informer<T>::Object> Informer<T>::list(
    std::string_view namespace_name) const {
  return impl_->list(namespace_name);
}

template <class T>
size_t Informer<T>::size() const {
  return impl_->size();
}

template <class T>
std::string Informer<T>::resourceVersion() const {
  return impl_->resourceVersion();
}

template <class T>
InformerStats Informer<T>::stats() const {
  return impl_->stats();
}

template class Informer<policy::Namespace>;
template class Informer<policy::Pod>;
template class Informer<policy::NetworkPolicy>;

}  // namespace palisade::kube
