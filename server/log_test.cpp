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

  // The "msg" of each line written so far.
  std::vector<std::string> messages() const {
    std::string text;
    char chunk[4096];
    ssize_t got = 0;
    for (off_t offset = 0; (got = ::pread(capture_, chunk, sizeof chunk, offset)) > 0;
         offset += got) {
      text.append(chunk, static_cast<size_t>(got));
    }
    std::vector<std::string> messages;
    for (size_t start = 0, end = 0; (end = text.find('\n', start)) != std::string::npos;
         start = end + 1) {
      messages.push_back(json::parse(text.substr(start, end - start)).at("msg"));
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
