#pragma once

// A watch: the apiserver's stream of changes to a collection, one JSON event
// per line ({"type":"ADDED","object":{...}}), over a response that lasts
// until the request's timeoutSeconds. Events arrive in pieces (TCP segments,
// TLS records and HTTP chunks cut them anywhere) and several may arrive at
// once; the parser reassembles them.

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "kube/error.h"
#include "kube/http_connection.h"
#include "policy/error.h"

namespace palisade::kube {

enum class WatchEventType { kAdded, kModified, kDeleted, kBookmark, kError };

std::string_view toString(WatchEventType type);

struct WatchEvent {
  WatchEventType type = WatchEventType::kAdded;
  // The object; for kBookmark only its kind and metadata.resourceVersion;
  // for kError a Status (code 410 when the resourceVersion is too old).
  nlohmann::json object;
};

// Splits a watch body into events. Not thread-safe.
class WatchEventParser {
 public:
  // An event larger than this is refused rather than buffered without end
  // (the apiserver stores objects of at most 1.5 MiB by default).
  static constexpr size_t kDefaultMaxEventBytes = 16 * 1024 * 1024;

  explicit WatchEventParser(size_t max_event_bytes = kDefaultMaxEventBytes)
      : max_event_bytes_(max_event_bytes) {}

  // Appends the events `bytes` completes to `events`. An error (malformed
  // JSON, an unknown type, an event over the limit) leaves the stream
  // unusable: the caller drops it and watches again.
  [[nodiscard]] policy::Result<void> feed(std::string_view bytes, std::vector<WatchEvent>& events);

  // Bytes of an event not yet complete.
  size_t buffered() const { return pending_.size(); }

 private:
  size_t max_event_bytes_;
  std::string pending_;
  size_t scanned_ = 0;  // how much of pending_ is known to hold no newline
};

struct WatchOptions {
  std::string resource_version{};  // from a list or the last event; empty: now
  // timeoutSeconds: the apiserver ends the watch cleanly after it.
  std::chrono::seconds timeout{300};
  bool allow_bookmarks = true;
  std::string label_selector{};
  std::string field_selector{};
  // No byte for this long and the stream is presumed dead. The apiserver's
  // watch cache sends a bookmark about once a minute to a watch that allows
  // them, so a healthy stream is never silent that long.
  std::chrono::milliseconds stall_timeout{150000};
  size_t max_event_bytes = WatchEventParser::kDefaultMaxEventBytes;
};

// An open watch, created by ApiClient::watch(). Not thread-safe, except
// cancel().
class WatchStream {
 public:
  WatchStream(std::unique_ptr<HttpConnection> connection, std::string request,
              WatchOptions options);
  ~WatchStream();
  WatchStream(const WatchStream&) = delete;
  WatchStream& operator=(const WatchStream&) = delete;

  struct Batch {
    std::vector<WatchEvent> events;
    // The apiserver ended the stream cleanly (timeoutSeconds elapsed); watch
    // again from the last resourceVersion.
    bool ended = false;
  };

  // Waits for the next events: returns one or more, or the end; fails with
  // kTimeout when the stream stayed silent for stall_timeout, kTransport
  // when the connection broke (also in the middle of an event), kDecode for
  // a malformed event.
  [[nodiscard]] ApiResult<Batch> next(Canceller* canceller = nullptr);

  // Thread-safe: makes a blocked next() return kCancelled.
  void cancel();

  const std::string& request() const { return request_; }

 private:
  std::unique_ptr<HttpConnection> connection_;
  std::string request_;
  WatchOptions options_;
  WatchEventParser parser_;
  std::vector<char> buffer_;
  bool ended_ = false;
};

}  // namespace palisade::kube
