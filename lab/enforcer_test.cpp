#include "lab/enforcer.h"

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace palisade::lab {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const PlaceholderValues kValues = {{"manifests", "/tmp/run/manifests"},
                                   {"node_ips", "10.244.255.254,fd00:244::fffe"},
                                   {"ready_file", "/tmp/run/enforcer.ready"}};

TEST(EnforcerCommand, PlaceholdersAreFilledInWhereverTheyStandInAnArgument) {
  const auto argv = expandPlaceholders({"enforcer", "--manifests", "{manifests}",
                                        "--node-ips={node_ips}", "{ready_file}.{ready_file}"},
                                       kValues);

  ASSERT_TRUE(argv.has_value()) << argv.error().message;
  EXPECT_THAT(*argv, ElementsAre("enforcer", "--manifests", "/tmp/run/manifests",
                                 "--node-ips=10.244.255.254,fd00:244::fffe",
                                 "/tmp/run/enforcer.ready./tmp/run/enforcer.ready"));
}

TEST(EnforcerCommand, AnUnknownPlaceholderFailsNamingItAndTheKnownOnes) {
  const auto argv = expandPlaceholders({"enforcer", "--pins", "{pin_dri}"}, kValues);

  ASSERT_FALSE(argv.has_value());
  EXPECT_THAT(argv.error().message, HasSubstr("argument 2 (\"{pin_dri}\"): unknown placeholder "
                                              "{pin_dri}"));
  EXPECT_THAT(argv.error().message, HasSubstr("{manifests}, {node_ips}, {ready_file}"));
}

TEST(EnforcerCommand, BracesThatAreNotPlaceholdersAreKeptAsWritten) {
  const auto argv = expandPlaceholders(
      {"sh", "-c", R"(echo '{"a": 1}' {} ${HOME} {Upper} {manifests)"}, kValues);

  ASSERT_TRUE(argv.has_value()) << argv.error().message;
  EXPECT_EQ((*argv)[2], R"(echo '{"a": 1}' {} ${HOME} {Upper} {manifests)");
}

TEST(EnforcerCommand, MentionsFindsAPlaceholderInsideAnyArgument) {
  EXPECT_TRUE(mentionsPlaceholder({"x", "--ready={ready_file}"}, "ready_file"));
  EXPECT_FALSE(mentionsPlaceholder({"x", "--ready=ready_file"}, "ready_file"));
}

TEST(EnforcerCommand, DefaultArgumentsUseOnlyWhatTheLabFillsInAndWaitForReadiness) {
  PlaceholderValues every;
  for (std::string_view name : kPlaceholders) {
    every.emplace(std::string(name), "value-of-" + std::string(name));
  }

  const auto argv = expandPlaceholders(kDefaultEnforcerArgs, every);

  ASSERT_TRUE(argv.has_value()) << argv.error().message;
  EXPECT_TRUE(mentionsPlaceholder(kDefaultEnforcerArgs, "ready_file"));
  EXPECT_THAT(*argv, ::testing::Contains("value-of-manifests"));
}

}  // namespace
}  // namespace palisade::lab
