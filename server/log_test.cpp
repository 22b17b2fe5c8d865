#include "server/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace palisade::server {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;

// Points standard error at a temporary file for the test's lifetime.
class CapturedStderr {
 public:
  CapturedStderr() {
    std::FILE* file = std::tmpfile();
    capture_ = ::dup(::fileno(file));
    std::fclose(file);
    saved_ = ::dup(STDERR_FILENO);
    ::dup2(capture_, STDERR_FILENO);
  }
  ~CapturedStderr() {
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
    ::close(capture_);
  }
  CapturedStderr(const CapturedStderr&) = delete;
  CapturedStderr& operator=(const CapturedStderr&) = delete;

  // Each line written so far, parsed.
  std::vector<json> lines() const {
    std::string text;
    char chunk[4096];
    ssize_t got = 0;
    for (off_t offset = 0; (got = ::pread(capture_, chunk, sizeof chunk, offset)) > 0;
         offset += got) {
      text.append(chunk, static_cast<size_t>(got));
    }
    std::vector<json> lines;
    for (size_t start = 0, end = 0; (end = text.find('\n', start)) != std::string::npos;
         start = end + 1) {
      lines.push_back(json::parse(text.substr(start, end - start)));
    }
    return lines;
  }

  // The "msg" of each line written so far.
  std::vector<std::string> messages() const {
    std::vector<std::string> messages;
    for (const json& line : lines()) {
      messages.push_back(line.at("msg"));
    }
    return messages;
  }

 private:
  int capture_ = -1;
  int saved_ = -1;
};

TEST(Log, EventIsWrittenBeforeLogEventReturns) {
  CapturedStderr captured;
  logEvent(LogLevel::kInfo, "listening", {{"port", 8443}});
  EXPECT_THAT(captured.messages(), ElementsAre("listening"));
}

TEST(Log, BatchedEventWaitsForFlushLogs) {
  CapturedStderr captured;
  logEventBatched(LogLevel::kInfo, "admission", {{"uid", "1"}});
  logEventBatched(LogLevel::kInfo, "admission", {{"uid", "2"}});
  EXPECT_THAT(captured.messages(), ElementsAre());
  flushLogs();
  EXPECT_THAT(captured.messages(), ElementsAre("admission", "admission"));
}

TEST(Log, ImmediateEventWritesTheBatchedLinesBeforeItInOrder) {
  CapturedStderr captured;
  logEventBatched(LogLevel::kInfo, "first", {});
  logEvent(LogLevel::kInfo, "second");
  EXPECT_THAT(captured.messages(), ElementsAre("first", "second"));
}

TEST(Log, BatchedWarningIsWrittenAtOnce) {
  CapturedStderr captured;
  logEventBatched(LogLevel::kInfo, "decision", {});
  logEventBatched(LogLevel::kWarn, "malformed", {});
  EXPECT_THAT(captured.messages(), ElementsAre("decision", "malformed"));
}

TEST(Log, BatchFullOf64KiBIsWrittenWithoutAFlush) {
  CapturedStderr captured;
  const std::string padding(1000, 'x');
  size_t logged = 0;
  while (captured.messages().empty()) {
    ASSERT_LT(logged, 100u) << "nothing written after " << logged << " lines of 1 KB";
    logEventBatched(LogLevel::kInfo, "admission", {{"padding", padding}});
    ++logged;
  }
  EXPECT_GE(logged, 60u);  // ~64 lines of ~1.1 KB fill the batch
  flushLogs();
  EXPECT_EQ(captured.messages().size(), logged);
}

TEST(Log, BatchedFieldsKeepTheirJsonTypesAndStringsAreEscaped) {
  CapturedStderr captured;
  const std::string name = "web-\"quoted\"\\\n\x01-\xff";
  logEventBatched(LogLevel::kInfo, "admission",
                  {{"name", name},
                   {"plain", "pod-7d9f8b6c5d"},
                   {"unicode", "caf\xC3\xA9"},
                   {"dryRun", true},
                   {"warnings", size_t{3}},
                   {"durationMs", 0.125}});
  flushLogs();
  const auto lines = captured.lines();
  ASSERT_EQ(lines.size(), 1u);
  const json& line = lines[0];
  EXPECT_EQ(line["level"], "info");
  EXPECT_EQ(line["name"], "web-\"quoted\"\\\n\x01-\xEF\xBF\xBD");  // invalid UTF-8 replaced
  EXPECT_EQ(line["plain"], "pod-7d9f8b6c5d");
  EXPECT_EQ(line["unicode"], "caf\xC3\xA9");
  EXPECT_EQ(line["dryRun"], true);
  EXPECT_EQ(line["warnings"], 3);
  EXPECT_EQ(line["durationMs"], 0.125);
  EXPECT_THAT(line["time"].get<std::string>(),
              ::testing::MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z"));
}

TEST(Log, EventBelowTheLevelIsDropped) {
  CapturedStderr captured;
  setLogLevel(LogLevel::kWarn);
  logEvent(LogLevel::kInfo, "chatter");
  logEventBatched(LogLevel::kInfo, "decision", {});
  flushLogs();
  setLogLevel(LogLevel::kInfo);
  EXPECT_THAT(captured.messages(), ElementsAre());
}

TEST(Log, InvalidUtf8InAFieldIsReplacedNotThrown) {
  CapturedStderr captured;
  logEvent(LogLevel::kInfo, "admission", {{"name", std::string("bad\xff")}});
  EXPECT_THAT(captured.messages(), ElementsAre("admission"));
}

}  // namespace
}  // namespace palisade::server
