#pragma once

// Structured logs: one JSON object per line on standard error, with the time
// (RFC 3339, UTC, milliseconds), the level and a message, then the event's own
// fields. Thread-safe.

#include <string_view>

#include <nlohmann/json.hpp>

namespace palisade::server {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

// Events below this level are dropped; the default is kInfo.
void setLogLevel(LogLevel level);

void logEvent(LogLevel level, std::string_view message, nlohmann::json fields = nlohmann::json::object());

}  // namespace palisade::server
