#include "server/json_text.h"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace palisade::server {

void appendJsonString(std::string& out, std::string_view text) {
  // Plain printable ASCII, nearly every value written, is copied as it is;
  // anything else goes through nlohmann/json, which escapes it and replaces
  // invalid UTF-8.
  const bool plain = std::all_of(text.begin(), text.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte >= 0x20 && byte < 0x80 && c != '"' && c != '\\';
  });
  if (!plain) {
    out += nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return;
  }
  out += '"';
  out += text;
  out += '"';
}

}  // namespace palisade::server
