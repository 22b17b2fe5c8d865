#include "kube/watch_stream.h"

#include <algorithm>

namespace palisade::kube {
namespace {

constexpr size_t kReadSize = 64 * 1024;

std::optional<WatchEventType> parseType(std::string_view text) {
  if (text == "ADDED") {
    return WatchEventType::kAdded;
  }
  if (text == "MODIFIED") {
    return WatchEventType::kModified;
  }
  if (text == "DELETED") {
    return WatchEventType::kDeleted;
  }
  if (text == "BOOKMARK") {
    return WatchEventType::kBookmark;
  }
  if (text == "ERROR") {
    return WatchEventType::kError;
  }
  return std::nullopt;
}

std::string excerpt(std::string_view text) {
  constexpr size_t kMax = 120;
  return text.size() <= kMax ? std::string(text) : std::string(text.substr(0, kMax)) + "...";
}

}  // namespace

std::string_view toString(WatchEventType type) {
  switch (type) {
    case WatchEventType::kAdded:
      return "ADDED";
    case WatchEventType::kModified:
      return "MODIFIED";
    case WatchEventType::kDeleted:
      return "DELETED";
    case WatchEventType::kBookmark:
      return "BOOKMARK";
    case WatchEventType::kError:
      return "ERROR";
  }
  return "UNKNOWN";
}

policy::Result<void> WatchEventParser::feed(std::string_view bytes,
                                            std::vector<WatchEvent>& events) {
  pending_.append(bytes);
  size_t start = 0;
  for (;;) {
    const size_t newline = pending_.find('\n', std::max(start, scanned_));
    if (newline == std::string::npos) {
      break;
    }
    const std::string_view line(pending_.data() + start, newline - start);
    start = newline + 1;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) {
      continue;
    }
    nlohmann::json event = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (event.is_discarded() || !event.is_object()) {
      return policy::fail("malformed watch event: " + excerpt(line));
    }
    const auto type = event.find("type");
    const auto object = event.find("object");
    if (type == event.end() || !type->is_string() || object == event.end() ||
        !object->is_object()) {
      return policy::fail("watch event without a type and an object: " + excerpt(line));
    }
    const auto parsed = parseType(type->get_ref<const std::string&>());
    if (!parsed) {
      return policy::fail("watch event of unknown type " + type->dump());
    }
    events.push_back(WatchEvent{*parsed, std::move(*object)});
  }
  pending_.erase(0, start);
  scanned_ = pending_.size();
  if (pending_.size() > max_event_bytes_) {
    return policy::fail("a watch event larger than " + std::to_string(max_event_bytes_) +
                        " bytes");
  }
  return {};
}

WatchStream::WatchStream(std::unique_ptr<HttpConnection> connection, std::string request,
                         WatchOptions options)
    : connection_(std::move(connection)),
      request_(std::move(request)),
      options_(std::move(options)),
      parser_(options_.max_event_bytes),
      buffer_(kReadSize) {}

WatchStream::~WatchStream() = default;

ApiResult<WatchStream::Batch> WatchStream::next(Canceller* canceller) {
  Batch batch;
  if (ended_) {
    batch.ended = true;
    return batch;
  }
  for (;;) {
    const auto deadline = HttpConnection::Clock::now() + options_.stall_timeout;
    auto received = connection_->readSome(buffer_.data(), buffer_.size(), deadline, canceller);
    if (!received) {
      ApiError error = received.error();
      error.request = request_;
      if (error.kind == ApiError::Kind::kTimeout) {
        error.message = "the watch stalled: nothing received for " +
                        std::to_string(options_.stall_timeout.count()) + " ms";
      }
      return std::unexpected(std::move(error));
    }
    if (*received == 0) {
      ended_ = true;
      if (parser_.buffered() != 0) {
        return apiFailure(ApiError::Kind::kTransport,
                          "the watch ended in the middle of an event", request_);
      }
      batch.ended = true;
      return batch;
    }
    if (auto fed = parser_.feed(std::string_view(buffer_.data(), *received), batch.events);
        !fed) {
      return apiFailure(ApiError::Kind::kDecode, fed.error().message, request_);
    }
    if (!batch.events.empty()) {
      return batch;
    }
  }
}

void WatchStream::cancel() { connection_->cancel(); }

}  // namespace palisade::kube
