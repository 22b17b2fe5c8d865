#include "lab/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace palisade::lab {
namespace {

TEST(RunProcess, CapturesStandardOutputAndFeedsStandardInput) {
  const auto output = runProcess({"sh", "-c", "cat; echo done; echo note >&2"}, "line one\n");

  ASSERT_TRUE(output.has_value()) << output.error().message;
  EXPECT_EQ(output->out, "line one\ndone\n");
  EXPECT_EQ(output->err, "note\n");
}

TEST(RunProcess, LargeInputAndOutputDoNotDeadlock) {
  const std::string input(1 << 20, 'x');

  const auto output = runProcess({"cat"}, input);

  ASSERT_TRUE(output.has_value()) << output.error().message;
  EXPECT_EQ(output->out.size(), input.size());
}

TEST(RunProcess, FailureNamesTheCommandItsStatusAndItsStandardError) {
  const auto output = runProcess({"sh", "-c", "echo 'RTNETLINK answers: File exists' >&2; exit 2",
                                  "with space"});

  ASSERT_FALSE(output.has_value());
  EXPECT_EQ(output.error().message,
            "sh -c 'echo '\\''RTNETLINK answers: File exists'\\'' >&2; exit 2' 'with space': "
            "exited with status 2: RTNETLINK answers: File exists");
}

TEST(RunProcess, AChildThatStopsReadingItsInputIsNoProblem) {
  const auto output = runProcess({"true"}, std::string(1 << 20, 'x'));

  EXPECT_TRUE(output.has_value()) << output.error().message;
}

TEST(RunProcess, AMissingProgramSaysSo) {
  const auto output = runProcess({"palisade-no-such-tool"});

  ASSERT_FALSE(output.has_value());
  EXPECT_EQ(output.error().message,
            "cannot run palisade-no-such-tool: No such file or directory (is it installed and on "
            "PATH?)");
}

TEST(ChildProcess, StopEndsAProcessThatHonoursSigterm) {
  auto child = ChildProcess::spawn({"sleep", "30"}, STDERR_FILENO);
  ASSERT_TRUE(child.has_value()) << child.error().message;

  const auto status = child->stop(SIGTERM, std::chrono::seconds(5));

  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(describeExit(*status), "was killed by signal 15 (TERM)");
  EXPECT_FALSE(child->started());
}

TEST(ChildProcess, StopKillsAProcessThatIgnoresSigtermAfterTheGracePeriod) {
  const int log = open("/dev/null", O_WRONLY | O_CLOEXEC);
  auto child = ChildProcess::spawn({"sh", "-c", "trap '' TERM; while :; do sleep 0.05; done"}, log);
  close(log);
  ASSERT_TRUE(child.has_value()) << child.error().message;
  // Let the shell install its trap before the signal comes.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));

  const auto started = std::chrono::steady_clock::now();
  const auto status = child->stop(SIGTERM, std::chrono::milliseconds(300));

  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(describeExit(*status), "was killed by signal 9 (KILL)");
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(300));
}

TEST(ChildProcess, PollReportsTheExitOfAFinishedProcess) {
  auto child = ChildProcess::spawn({"sh", "-c", "exit 3"}, STDERR_FILENO);
  ASSERT_TRUE(child.has_value()) << child.error().message;

  std::optional<int> status;
  for (int i = 0; i < 500 && !status; ++i) {
    status = child->poll();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }

  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(describeExit(*status), "exited with status 3");
}

}  // namespace
}  // namespace palisade::lab
