#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cli/cluster_fixture_test.h"
#include "cli/commands.h"
#include "cli/test_support.h"

namespace palisade::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;
using testing::kSmallCluster;
using testing::run;
using testing::TempDir;

class ExplainCommand : public ::testing::Test {
 protected:
  ExplainOptions options(std::string from, std::string to, std::string port,
                         bool onboard = false) const {
    return ExplainOptions{.paths = {cluster_},
                          .from = std::move(from),
                          .to = std::move(to),
                          .port = std::move(port),
                          .onboard = onboard};
  }

  TempDir dir_;
  std::string cluster_ = dir_.write("cluster.yaml", kSmallCluster);
};

TEST_F(ExplainCommand, AllowedFlowExitsZeroAndNamesTheRule) {
  const auto result = run(runExplain, options("team-a/web", "team-a/db", "5432/TCP"));

  EXPECT_EQ(result.exit_code, kExitOk);
  EXPECT_THAT(result.out, StartsWith("TCP/5432 from team-a/web to team-a/db: ALLOWED\n"));
  EXPECT_THAT(result.out, HasSubstr("team-a/db-from-web spec.ingress[0]"));
  EXPECT_THAT(result.err, IsEmpty());
}

TEST_F(ExplainCommand, DeniedFlowExitsOneAndNamesTheIsolatingPolicy) {
  const auto result = run(runExplain, options("kube-system/coredns", "team-a/db", "5432"));

  EXPECT_EQ(result.exit_code, kExitFindings);
  EXPECT_THAT(result.out, StartsWith("TCP/5432 from kube-system/coredns to team-a/db: DENIED\n"));
  EXPECT_THAT(result.out, HasSubstr("isolated by team-a/db-from-web"));
}

TEST_F(ExplainCommand, OnboardingDeniesAFlowNoPolicyAllows) {
  const auto before = run(runExplain, options("team-a/db", "team-a/web", "8080/TCP"));
  const auto after =
      run(runExplain, options("team-a/db", "team-a/web", "8080/TCP", /*onboard=*/true));
  const auto dns =
      run(runExplain, options("team-a/db", "kube-system/coredns", "53/udp", /*onboard=*/true));

  EXPECT_EQ(before.exit_code, kExitOk);
  EXPECT_EQ(after.exit_code, kExitFindings);
  EXPECT_THAT(after.out, HasSubstr("team-a/palisade-default-deny"));
  EXPECT_EQ(dns.exit_code, kExitOk);
  EXPECT_THAT(dns.out, HasSubstr("team-a/palisade-allow-dns spec.egress[0]"));
}

TEST_F(ExplainCommand, AddressesAreEndpointsAndAPodAddressIsThatPod) {
  const auto outside = run(runExplain, options("203.0.113.7", "team-a/db", "5432/TCP"));
  const auto pod_address = run(runExplain, options("10.244.1.10", "team-a/db", "5432/TCP"));

  EXPECT_EQ(outside.exit_code, kExitFindings);
  EXPECT_EQ(pod_address.exit_code, kExitOk);
}

TEST_F(ExplainCommand, UnknownPodIsAnErrorSayingWhichOne) {
  const auto result = run(runExplain, options("team-a/web", "team-a/cache", "6379/TCP"));

  EXPECT_EQ(result.exit_code, kExitUsage);
  EXPECT_THAT(result.out, IsEmpty());
  EXPECT_EQ(result.err,
            "palisadectl explain: --to: pod team-a/cache is not in the manifests "
            "(pods in team-a: web, db)\n");
}

TEST_F(ExplainCommand, BadFlagsAreUsageErrors) {
  const ExplainOptions bad[] = {
      options("team-a/web", "team-a/db", "5432/ICMP"),
      options("team-a/web", "team-a/db", "0/TCP"),
      options("team-a/web", "team-a/db", ""),
      options("web", "team-a/db", "5432/TCP"),
      options("team-a/web", "10.0.0.0/8", "5432/TCP"),
  };
  for (const ExplainOptions& option : bad) {
    const auto result = run(runExplain, option);

    EXPECT_EQ(result.exit_code, kExitUsage) << option.from << " " << option.to << " "
                                            << option.port;
    EXPECT_THAT(result.out, IsEmpty());
    EXPECT_THAT(result.err, StartsWith("palisadectl explain: --"));
  }
}

TEST_F(ExplainCommand, InvalidManifestsAreAUsageErrorNotADenial) {
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
)");
  ExplainOptions with_bad = options("team-a/web", "team-a/db", "5432/TCP");
  with_bad.paths.push_back(bad);

  const auto result = run(runExplain, with_bad);

  EXPECT_EQ(result.exit_code, kExitUsage);
  EXPECT_THAT(result.out, IsEmpty());
  EXPECT_THAT(result.err, HasSubstr("NetworkPolicy/team-a/bad-port"));
}

}  // namespace
}  // namespace palisade::cli
