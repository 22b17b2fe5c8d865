#include <string>
#include <tuple>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli/cluster_fixture_test.h"
#include "cli/commands.h"
#include "cli/test_support.h"

namespace palisade::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using testing::kSmallCluster;
using testing::run;
using testing::TempDir;

using Entry = std::tuple<std::string, std::string, std::string, int, bool>;

std::vector<Entry> entriesOf(const std::string& out) {
  const nlohmann::json document = nlohmann::json::parse(out);
  std::vector<Entry> entries;
  for (const nlohmann::json& entry : document.at("results")) {
    entries.emplace_back(entry.at("from").get<std::string>(), entry.at("to").get<std::string>(),
                         entry.at("protocol").get<std::string>(), entry.at("port").get<int>(),
                         entry.at("allowed").get<bool>());
  }
  return entries;
}

class MatrixCommand : public ::testing::Test {
 protected:
  MatrixOptions options(std::vector<std::string> ports, std::vector<std::string> protocols,
                        std::string output = "json", bool onboard = false) const {
    return MatrixOptions{.paths = {cluster_},
                         .ports = std::move(ports),
                         .protocols = std::move(protocols),
                         .output = std::move(output),
                         .onboard = onboard,
                         .color = false};
  }

  TempDir dir_;
  std::string cluster_ = dir_.write("cluster.yaml", kSmallCluster);
};

TEST_F(MatrixCommand, JsonIsOneObjectWithAnEntryPerOrderedPairSelfIncluded) {
  const auto result = run(runMatrix, options({"5432"}, {"TCP"}));

  ASSERT_EQ(result.exit_code, kExitOk) << result.err;
  EXPECT_THAT(result.err, IsEmpty());
  const nlohmann::json document = nlohmann::json::parse(result.out);
  ASSERT_TRUE(document.is_object());
  EXPECT_EQ(document.size(), 1U);
  const nlohmann::ordered_json ordered = nlohmann::ordered_json::parse(result.out);
  std::vector<std::string> keys;
  for (const auto& item : ordered.at("results")[0].items()) {
    keys.push_back(item.key());
  }
  EXPECT_THAT(keys, ElementsAre("from", "to", "protocol", "port", "allowed"));
  EXPECT_THAT(
      entriesOf(result.out),
      ElementsAre(Entry{"team-a/web", "team-a/web", "TCP", 5432, true},
                  Entry{"team-a/web", "team-a/db", "TCP", 5432, true},
                  Entry{"team-a/web", "kube-system/coredns", "TCP", 5432, true},
                  Entry{"team-a/db", "team-a/web", "TCP", 5432, true},
                  Entry{"team-a/db", "team-a/db", "TCP", 5432, true},
                  Entry{"team-a/db", "kube-system/coredns", "TCP", 5432, true},
                  Entry{"kube-system/coredns", "team-a/web", "TCP", 5432, true},
                  // Only the web pod may reach the database.
                  Entry{"kube-system/coredns", "team-a/db", "TCP", 5432, false},
                  Entry{"kube-system/coredns", "kube-system/coredns", "TCP", 5432, true}));
}

TEST_F(MatrixCommand, EveryProtocolAndPortAskedForGetsItsOwnEntries) {
  const auto result = run(runMatrix, options({"80,5432", "5432"}, {"tcp", "UDP"}));

  ASSERT_EQ(result.exit_code, kExitOk) << result.err;
  const std::vector<Entry> entries = entriesOf(result.out);
  // 3 pods, 2 distinct ports, 2 protocols.
  ASSERT_EQ(entries.size(), 3U * 3U * 2U * 2U);
  std::vector<std::pair<std::string, int>> grids;
  for (size_t i = 0; i < entries.size(); i += 9) {
    grids.emplace_back(std::get<2>(entries[i]), std::get<3>(entries[i]));
  }
  EXPECT_THAT(grids, ElementsAre(std::pair{"TCP", 80}, std::pair{"TCP", 5432},
                                 std::pair{"UDP", 80}, std::pair{"UDP", 5432}));
  // The policy names no protocol, so it means TCP: UDP to the database is
  // denied to everyone but itself.
  EXPECT_EQ(entries[27 + 1], (Entry{"team-a/web", "team-a/db", "UDP", 5432, false}));
}

TEST_F(MatrixCommand, OnboardingDeniesWhatNoPolicyAllowsAndKeepsDns) {
  const auto before = run(runMatrix, options({"5432"}, {"TCP"}));
  const auto after = run(runMatrix, options({"5432"}, {"TCP"}, "json", /*onboard=*/true));
  const auto dns = run(runMatrix, options({"53"}, {"UDP"}, "json", /*onboard=*/true));

  ASSERT_EQ(after.exit_code, kExitOk) << after.err;
  EXPECT_EQ(entriesOf(before.out)[1], (Entry{"team-a/web", "team-a/db", "TCP", 5432, true}));
  // Default-deny isolates the web pod for egress and allows it nothing but DNS;
  // kube-system is exempt, so coredns is never isolated.
  std::vector<bool> allowed;
  for (const Entry& entry : entriesOf(after.out)) {
    allowed.push_back(std::get<4>(entry));
  }
  EXPECT_THAT(allowed, ElementsAreArray({true, false, false, false, true, false, false, false,
                                         true}));
  const std::vector<Entry> dns_entries = entriesOf(dns.out);
  EXPECT_EQ(dns_entries[2], (Entry{"team-a/web", "kube-system/coredns", "UDP", 53, true}));
  EXPECT_EQ(dns_entries[5], (Entry{"team-a/db", "kube-system/coredns", "UDP", 53, true}));
  EXPECT_EQ(dns_entries[1], (Entry{"team-a/web", "team-a/db", "UDP", 53, false}));
}

TEST_F(MatrixCommand, TableShowsAGridPerProtocolAndPortWithMarksAndCounts) {
  const auto result = run(runMatrix, options({"5432"}, {"TCP"}, "table"));

  ASSERT_EQ(result.exit_code, kExitOk) << result.err;
  EXPECT_EQ(result.out,
            "rows: source pod, columns: destination pod (numbered as the rows); "
            "✓ allowed, · denied\n"
            "\n"
            "TCP/5432                1 2 3\n"
            "1  team-a/web           ✓ ✓ ✓\n"
            "2  team-a/db            ✓ ✓ ✓\n"
            "3  kube-system/coredns  ✓ · ✓\n"
            "TCP/5432: 8 allowed, 1 denied\n");
}

TEST_F(MatrixCommand, TableIsColouredOnlyWhenAsked) {
  MatrixOptions plain = options({"5432"}, {"TCP"}, "table");
  MatrixOptions coloured = plain;
  coloured.color = true;

  const auto plain_result = run(runMatrix, plain);
  const auto coloured_result = run(runMatrix, coloured);

  EXPECT_THAT(plain_result.out, Not(HasSubstr("\x1b[")));
  EXPECT_THAT(coloured_result.out, HasSubstr("\x1b[32m✓\x1b[0m"));
  EXPECT_THAT(coloured_result.out, HasSubstr("\x1b[90m·\x1b[0m"));
}

TEST_F(MatrixCommand, BadPortIsAUsageErrorNamingTheValue) {
  for (const std::string port : {"0", "65536", "http", "80,", "-1"}) {
    const auto result = run(runMatrix, options({port}, {"TCP"}));

    EXPECT_EQ(result.exit_code, kExitUsage) << port;
    EXPECT_THAT(result.out, IsEmpty());
    EXPECT_THAT(result.err, HasSubstr("--ports: invalid port \"" +
                                      (port == "80," ? std::string() : port) + "\""));
  }
}

TEST_F(MatrixCommand, UnknownProtocolIsAUsageError) {
  const auto result = run(runMatrix, options({"80"}, {"TCP,ICMP"}));

  EXPECT_EQ(result.exit_code, kExitUsage);
  EXPECT_EQ(result.err,
            "palisadectl matrix: --protocols: unknown protocol \"ICMP\": "
            "must be TCP, UDP or SCTP\n");
}

TEST_F(MatrixCommand, UnknownOutputFormatIsAUsageError) {
  const auto result = run(runMatrix, options({"80"}, {"TCP"}, "yaml"));

  EXPECT_EQ(result.exit_code, kExitUsage);
  EXPECT_THAT(result.err, HasSubstr("\"yaml\""));
}

TEST_F(MatrixCommand, ManifestErrorsAreReportedAndNoMatrixIsComputed) {
  const std::string bad = dir_.write("bad.yaml", R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: bad-port
  namespace: team-a
spec:
  podSelector: {}
  ingress:
  - ports:
    - port: 0
---
apiVersion: v1
kind: Pod
metadata:
  name: broken
  namespace: team-a
  labels: [not, a, map]
)");
  MatrixOptions with_bad = options({"80"}, {"TCP"});
  with_bad.paths.push_back(bad);

  const auto result = run(runMatrix, with_bad);

  EXPECT_EQ(result.exit_code, kExitFindings);
  EXPECT_THAT(result.out, IsEmpty());
  EXPECT_THAT(result.err, HasSubstr(bad + ":0: NetworkPolicy/team-a/bad-port: "
                                          "spec.ingress[0].ports[0].port: Invalid value: 0"));
  EXPECT_THAT(result.err, HasSubstr(bad + ":1: Pod/team-a/broken: metadata.labels: "));
}

TEST_F(MatrixCommand, UnreadablePathIsAUsageError) {
  MatrixOptions missing = options({"80"}, {"TCP"});
  missing.paths = {(dir_.path() / "missing").string()};

  const auto result = run(runMatrix, missing);

  EXPECT_EQ(result.exit_code, kExitUsage);
  EXPECT_THAT(result.err, HasSubstr("missing"));
}

}  // namespace
}  // namespace palisade::cli
