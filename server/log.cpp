#include "server/log.h"

#include <atomic>
#include <chrono>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

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

// spdlog provides the thread-safe, line-atomic sink; the JSON is ours, so the
// pattern is the bare message.
spdlog::logger& jsonLogger() {
  static const std::shared_ptr<spdlog::logger> logger = [] {
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    auto created = std::make_shared<spdlog::logger>("palisade", std::move(sink));
    created->set_pattern("%v");
    created->set_level(spdlog::level::trace);
    created->flush_on(spdlog::level::trace);
    return created;
  }();
  return *logger;
}

std::string timestamp() {
  const auto now = std::chrono::system_clock::now();
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03d}Z", fmt::gmtime(std::chrono::system_clock::to_time_t(now)),
                     millis);
}

}  // namespace

void setLogLevel(LogLevel level) { g_level.store(level); }

void logEvent(LogLevel level, std::string_view message, nlohmann::json fields) {
  if (level < g_level.load(std::memory_order_relaxed)) {
    return;
  }
  // The fixed fields first, then the event's own (in key order): written
  // straight into one string rather than through an ordered JSON object,
  // since the webhook logs every decision.
  std::string line = fmt::format(R"({{"time":"{}","level":"{}","msg":)", timestamp(),
                                 levelName(level));
  line += nlohmann::json(message).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
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
  jsonLogger().info(line);
}

}  // namespace palisade::server
