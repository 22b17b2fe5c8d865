#include "server/json_text.h"

#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace palisade::server {
namespace {

std::string jsonString(std::string_view text) {
  std::string out;
  appendJsonString(out, text);
  return out;
}

TEST(AppendJsonString, PlainAsciiIsQuotedAsItIs) {
  EXPECT_EQ(jsonString("pod-7d9f8b6c5d"), R"("pod-7d9f8b6c5d")");
  EXPECT_EQ(jsonString(""), R"("")");
}

TEST(AppendJsonString, QuotesBackslashesAndControlCharactersAreEscaped) {
  EXPECT_EQ(jsonString("a\"b\\c\nd\x01"), R"("a\"b\\c\nd\u0001")");
}

TEST(AppendJsonString, Utf8IsKeptAndInvalidUtf8Replaced) {
  EXPECT_EQ(jsonString("caf\xC3\xA9"), "\"caf\xC3\xA9\"");
  EXPECT_EQ(jsonString("bad\xFF"), "\"bad\xEF\xBF\xBD\"");
}

TEST(AppendJsonString, AppendsToWhatIsThere) {
  std::string out = "{\"k\":";
  appendJsonString(out, "v");
  out += '}';
  EXPECT_EQ(nlohmann::json::parse(out)["k"], "v");
}

}  // namespace
}  // namespace palisade::server
