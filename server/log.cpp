#include "server/log.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <iterator>
#include <mutex>
#include <string>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include "server/json_text.h"

namespace palisade::server {
namespace {

std::atomic<LogLevel> g_level{LogLevel::kInfo};

std::string_view levelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

constexpr size_t kBatchBytes = 64 * 1024;

// spdlog's stderr sink writes and flushes every line; this one, built on
// spdlog's extension point for sinks (which serializes the calls), gathers
// lines until flush() or until kBatchBytes have gathered.
class BatchingStderrSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  ~BatchingStderrSink() override {
    std::lock_guard lock(mutex_);
    writeOut();
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& message) override {
    spdlog::memory_buf_t formatted;
    formatter_->format(message, formatted);
    pending_.append(formatted.data(), formatted.size());
    if (pending_.size() >= kBatchBytes) {
      writeOut();
    }
  }

  void flush_() override { writeOut(); }

 private:
  void writeOut() {
    size_t written = 0;
    while (written < pending_.size()) {
      const ssize_t result =
          ::write(STDERR_FILENO, pending_.data() + written, pending_.size() - written);
      if (result < 0 && errno == EINTR) {
        continue;
      }
      if (result <= 0) {
        break;  // standard error is gone: the lines are dropped, the server goes on
      }
      written += static_cast<size_t>(result);
    }
    pending_.clear();
  }

  std::string pending_;
};

// The JSON is ours, so the pattern is the bare message.
spdlog::logger& jsonLogger() {
  static const std::shared_ptr<spdlog::logger> logger = [] {
    auto created = std::make_shared<spdlog::logger>("palisade",
                                                    std::make_shared<BatchingStderrSink>());
    created->set_pattern("%v");
    created->set_level(spdlog::level::trace);
    created->flush_on(spdlog::level::warn);
    return created;
  }();
  return *logger;
}

// "2026-11-26T11:22:33.456Z". The part up to the second is formatted once a
// second per thread: chrono formatting showed in the webhook's profile.
std::string timestamp() {
  const auto now = std::chrono::system_clock::now();
  const auto since_epoch = now.time_since_epoch();
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds).count();
  thread_local std::chrono::seconds cached_second{-1};
  thread_local std::string cached_prefix;
  if (seconds != cached_second) {
    cached_second = seconds;
    cached_prefix = fmt::format("{:%Y-%m-%dT%H:%M:%S}",
                                fmt::gmtime(std::chrono::system_clock::to_time_t(now)));
  }
  return fmt::format("{}.{:03d}Z", cached_prefix, millis);
}

void appendValue(std::string& line, const LogField& field) {
  std::visit(
      [&line](const auto& value) {
        using Value = std::decay_t<decltype(value)>;
        if constexpr (std::is_same_v<Value, std::string_view>) {
          appendJsonString(line, value);
        } else if constexpr (std::is_same_v<Value, bool>) {
          line += value ? "true" : "false";
        } else if constexpr (std::is_same_v<Value, double>) {
          // JSON has no NaN or infinity; nlohmann/json writes null for them too.
          line += std::isfinite(value) ? fmt::format("{}", value) : std::string("null");
        } else {
          fmt::format_to(std::back_inserter(line), "{}", value);
        }
      },
      field.value);
}

// The fixed fields every line starts with: time, level and message. A line
// is written straight into one string rather than through an ordered JSON
// object, since the webhook logs every decision.
std::string lineStart(LogLevel level, std::string_view message) {
  std::string line = fmt::format(R"({{"time":"{}","level":"{}","msg":)", timestamp(),
                                 levelName(level));
  appendJsonString(line, message);
  return line;
}

// The fixed fields, then the event's own in key order.
std::string formatLine(LogLevel level, std::string_view message, const nlohmann::json& fields) {
  std::string line = lineStart(level, message);
  // Invalid UTF-8 from a client must not make logging throw.
  const std::string rest =
      fields.is_object() && !fields.empty()
          ? fields.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
          : std::string("{}");
  if (rest.size() > 2) {
    line += ',';
    line.append(rest, 1, std::string::npos);
  } else {
    line += '}';
  }
  return line;
}

spdlog::level::level_enum spdlogLevel(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return spdlog::level::debug;
    case LogLevel::kInfo:
      return spdlog::level::info;
    case LogLevel::kWarn:
      return spdlog::level::warn;
    case LogLevel::kError:
      return spdlog::level::err;
  }
  return spdlog::level::info;
}

}  // namespace

void setLogLevel(LogLevel level) { g_level.store(level); }

void logEventBatched(LogLevel level, std::string_view message,
                     std::initializer_list<LogField> fields) {
  if (level < g_level.load(std::memory_order_relaxed)) {
    return;
  }
  std::string line = lineStart(level, message);
  for (const LogField& field : fields) {
    line += ',';
    appendJsonString(line, field.key);
    line += ':';
    appendValue(line, field);
  }
  line += '}';
  // flush_on(warn) writes warnings and errors, with what gathered before them, at once.
  jsonLogger().log(spdlogLevel(level), spdlog::string_view_t(line));
}

void logEvent(LogLevel level, std::string_view message, nlohmann::json fields) {
  if (level < g_level.load(std::memory_order_relaxed)) {
    return;
  }
  spdlog::logger& logger = jsonLogger();
  const std::string line = formatLine(level, message, fields);
  logger.log(spdlogLevel(level), spdlog::string_view_t(line));
  logger.flush();
}

void flushLogs() { jsonLogger().flush(); }

}  // namespace palisade::server
