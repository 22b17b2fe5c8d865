// The example cluster (examples/) is what `make demo` shows a newcomer: these
// tests pin that its manifests are valid and that its matrices, before and
// after Palisade's onboarding, are exactly what examples/README.md says.

#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/test_support.h"

namespace palisade::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using testing::run;

const std::string kExamples = std::string(PALISADE_SOURCE_DIR) + "/examples/cluster";

// "TCP/8080 shop-prod/frontend -> shop-prod/backend"
using Flows = std::set<std::string>;

// The allowed flows between two different pods, for the ports the demo shows.
Flows allowedFlows(bool onboard) {
  Flows flows;
  for (const auto& [protocol, ports] : {std::pair{"TCP", "8080,5432,9090"}, {"UDP", "53"}}) {
    const auto result = run(runMatrix, MatrixOptions{.paths = {kExamples},
                                                     .ports = {ports},
                                                     .protocols = {protocol},
                                                     .output = "json",
                                                     .onboard = onboard,
                                                     .color = false});
    EXPECT_EQ(result.exit_code, kExitOk) << result.err;
    const nlohmann::json document = nlohmann::json::parse(result.out);
    for (const nlohmann::json& entry : document.at("results")) {
      const std::string from = entry.at("from");
      const std::string to = entry.at("to");
      if (from != to && entry.at("allowed").get<bool>()) {
        flows.insert(entry.at("protocol").get<std::string>() + "/" +
                     std::to_string(entry.at("port").get<int>()) + " " + from + " -> " + to);
      }
    }
  }
  return flows;
}

TEST(ExampleCluster, IsValidAndOnlyTheEdgeIsFlaggedByLint) {
  const auto result = run(runValidate, ValidateOptions{.paths = {kExamples}, .strict = false});

  EXPECT_EQ(result.exit_code, kExitOk) << result.out;
  EXPECT_THAT(result.err, HasSubstr(": 0 errors, 2 warnings\n"));
  // The frontend is the edge: admitting any source on 8080 is its job.
  std::vector<std::string> lines;
  std::istringstream out(result.out);
  for (std::string line; std::getline(out, line);) {
    lines.push_back(line);
  }
  EXPECT_THAT(lines,
              ElementsAre(StartsWith(kExamples + "/policies-frontend.yaml:0: NetworkPolicy/"
                                                 "shop-prod/frontend-from-anywhere: warning: "
                                                 "spec.ingress[0]: "),
                          StartsWith(kExamples + "/policies-frontend.yaml:2: NetworkPolicy/"
                                                 "shop-staging/frontend-from-anywhere: warning: "
                                                 "spec.ingress[0]: ")));
}

TEST(ExampleCluster, WithoutPalisadeWhatNoPolicySelectsStaysOpen) {
  const Flows expected = {
      "TCP/8080 shop-prod/frontend -> shop-prod/backend",
      "TCP/8080 shop-staging/frontend -> shop-staging/backend",
      // No policy restricts the databases' egress.
      "TCP/8080 shop-prod/database -> shop-prod/frontend",
      "TCP/8080 shop-prod/database -> shop-staging/frontend",
      "TCP/8080 shop-prod/database -> monitoring/prometheus",
      "TCP/8080 shop-prod/database -> kube-system/coredns",
      "TCP/8080 shop-staging/database -> shop-prod/frontend",
      "TCP/8080 shop-staging/database -> shop-staging/frontend",
      "TCP/8080 shop-staging/database -> monitoring/prometheus",
      "TCP/8080 shop-staging/database -> kube-system/coredns",
      "TCP/8080 kube-system/coredns -> shop-prod/frontend",
      "TCP/8080 kube-system/coredns -> shop-staging/frontend",
      "TCP/8080 kube-system/coredns -> monitoring/prometheus",
      "TCP/5432 shop-prod/backend -> shop-prod/database",
      "TCP/5432 shop-staging/backend -> shop-staging/database",
      "TCP/5432 shop-prod/database -> monitoring/prometheus",
      "TCP/5432 shop-prod/database -> kube-system/coredns",
      "TCP/5432 shop-staging/database -> monitoring/prometheus",
      "TCP/5432 shop-staging/database -> kube-system/coredns",
      "TCP/5432 kube-system/coredns -> monitoring/prometheus",
      "TCP/9090 monitoring/prometheus -> shop-prod/frontend",
      "TCP/9090 monitoring/prometheus -> shop-prod/backend",
      "TCP/9090 monitoring/prometheus -> shop-prod/database",
      "TCP/9090 monitoring/prometheus -> shop-staging/frontend",
      "TCP/9090 monitoring/prometheus -> shop-staging/backend",
      "TCP/9090 monitoring/prometheus -> shop-staging/database",
      "TCP/9090 shop-prod/database -> monitoring/prometheus",
      "TCP/9090 shop-prod/database -> kube-system/coredns",
      "TCP/9090 shop-staging/database -> monitoring/prometheus",
      "TCP/9090 shop-staging/database -> kube-system/coredns",
      "TCP/9090 kube-system/coredns -> monitoring/prometheus",
      // The pods with egress policies cannot reach DNS: the policies forgot it.
      "UDP/53 shop-prod/database -> monitoring/prometheus",
      "UDP/53 shop-prod/database -> kube-system/coredns",
      "UDP/53 shop-staging/database -> monitoring/prometheus",
      "UDP/53 shop-staging/database -> kube-system/coredns",
      "UDP/53 kube-system/coredns -> monitoring/prometheus",
  };

  EXPECT_EQ(allowedFlows(/*onboard=*/false), expected);
}

TEST(ExampleCluster, WithPalisadeOnlyDeclaredFlowsAndDnsAreLeft) {
  const Flows expected = {
      "TCP/8080 shop-prod/frontend -> shop-prod/backend",
      "TCP/8080 shop-staging/frontend -> shop-staging/backend",
      // kube-system is never onboarded and the frontend is open to any source.
      "TCP/8080 kube-system/coredns -> shop-prod/frontend",
      "TCP/8080 kube-system/coredns -> shop-staging/frontend",
      "TCP/5432 shop-prod/backend -> shop-prod/database",
      "TCP/5432 shop-staging/backend -> shop-staging/database",
      "TCP/9090 monitoring/prometheus -> shop-prod/frontend",
      "TCP/9090 monitoring/prometheus -> shop-prod/backend",
      "TCP/9090 monitoring/prometheus -> shop-prod/database",
      "TCP/9090 monitoring/prometheus -> shop-staging/frontend",
      "TCP/9090 monitoring/prometheus -> shop-staging/backend",
      "TCP/9090 monitoring/prometheus -> shop-staging/database",
      "UDP/53 shop-prod/frontend -> kube-system/coredns",
      "UDP/53 shop-prod/backend -> kube-system/coredns",
      "UDP/53 shop-prod/database -> kube-system/coredns",
      "UDP/53 shop-staging/frontend -> kube-system/coredns",
      "UDP/53 shop-staging/backend -> kube-system/coredns",
      "UDP/53 shop-staging/database -> kube-system/coredns",
      "UDP/53 monitoring/prometheus -> kube-system/coredns",
  };

  EXPECT_EQ(allowedFlows(/*onboard=*/true), expected);
}

TEST(ExampleCluster, StagingCannotReachTheProductionDatabaseFromEitherSide) {
  const auto result = run(runExplain, ExplainOptions{.paths = {kExamples},
                                                     .from = "shop-staging/backend",
                                                     .to = "shop-prod/database",
                                                     .port = "5432/TCP",
                                                     .onboard = true});

  EXPECT_EQ(result.exit_code, kExitFindings);
  EXPECT_THAT(result.out, HasSubstr("egress at shop-staging/backend: DENIED"));
  EXPECT_THAT(result.out, HasSubstr("ingress at shop-prod/database: DENIED"));
}

TEST(ExampleCluster, TheEdgeTakesTrafficFromOutsideTheCluster) {
  const auto result = run(runExplain, ExplainOptions{.paths = {kExamples},
                                                     .from = "198.51.100.7",
                                                     .to = "shop-prod/frontend",
                                                     .port = "8080",
                                                     .onboard = true});

  EXPECT_EQ(result.exit_code, kExitOk) << result.out;
  EXPECT_THAT(result.out, HasSubstr("shop-prod/frontend-from-anywhere spec.ingress[0]"));
}

}  // namespace
}  // namespace palisade::cli
