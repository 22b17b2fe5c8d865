#pragma once

// Structured logs: one JSON object per line on standard error, with the time
// (RFC 3339, UTC, milliseconds), the level and a message, then the event's own
// fields. Thread-safe; lines are never interleaved or reordered.

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

#include <nlohmann/json.hpp>

namespace palisade::server {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

// Events below this level are dropped; the default is kInfo.
void setLogLevel(LogLevel level);

// Written to standard error before it returns.
void logEvent(LogLevel level, std::string_view message, nlohmann::json fields = nlohmann::json::object());

// A field of a per-request line: written straight into the line, in the
// order given, without building a JSON object first.
struct LogField {
  LogField(std::string_view name, std::string_view text) : key(name), value(text) {}
  LogField(std::string_view name, const char* text) : key(name), value(std::string_view(text)) {}
  LogField(std::string_view name, const std::string& text)
      : key(name), value(std::string_view(text)) {}
  LogField(std::string_view name, bool flag) : key(name), value(flag) {}
  template <typename Integer>
    requires std::is_integral_v<Integer>
  LogField(std::string_view name, Integer number)
      : key(name), value(static_cast<int64_t>(number)) {}
  LogField(std::string_view name, double number) : key(name), value(number) {}

  std::string_view key;
  std::variant<std::string_view, bool, int64_t, double> value;
};

// For the line a server logs per request (an admission decision): it is
// batched with others and reaches standard error at the next flushLogs(),
// when 64 KiB have gathered, with the next logEvent() or at exit, so that a
// busy server does not pay a system call per request. A crash loses what was
// not yet written. Warnings and errors are never batched.
void logEventBatched(LogLevel level, std::string_view message,
                     std::initializer_list<LogField> fields);

// Writes out the batched lines; a server calls it every kLogBatchInterval.
void flushLogs();
inline constexpr std::chrono::milliseconds kLogBatchInterval{200};

}  // namespace palisade::server
