#pragma once

// Structured logs: one JSON object per line on standard error, with the time
// (RFC 3339, UTC, milliseconds), the level and a message, then the event's own
// fields. Thread-safe; lines are never interleaved or reordered.

#include <chrono>
#include <string_view>

#include <nlohmann/json.hpp>

namespace palisade::server {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

// Events below this level are dropped; the default is kInfo.
void setLogLevel(LogLevel level);

// Written to standard error before it returns.
void logEvent(LogLevel level, std::string_view message, nlohmann::json fields = nlohmann::json::object());

// For the line a server logs per request (an admission decision): it is
// batched with others and reaches standard error at the next flushLogs(),
// when 64 KiB have gathered, with the next logEvent() or at exit, so that a
// busy server does not pay a system call per request. A crash loses what was
// not yet written. Warnings and errors are never batched.
void logEventBatched(LogLevel level, std::string_view message, nlohmann::json fields);

// Writes out the batched lines; a server calls it every kLogBatchInterval.
void flushLogs();
inline constexpr std::chrono::milliseconds kLogBatchInterval{200};

}  // namespace palisade::server
