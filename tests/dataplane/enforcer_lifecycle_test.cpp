// palisade-enforcer's life on a node, with real packets in the lab: killed,
// restarted, given new policies, uninstalled. Needs root and network
// namespaces: CI runs as root.

#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "files/manifest_files.h"
#include "lab/lab.h"
#include "policy/matrix.h"
#include "policy/onboarding.h"
#include "policy/oracle.h"

namespace palisade {
namespace {

const policy::MatrixQuery kQuery{.protocols = {policy::Protocol::kTCP}, .ports = {8080, 5432}};

policy::ClusterState onboardedExamples() {
  auto manifest =
      files::readManifestPaths({std::string(PALISADE_SOURCE_DIR) + "/examples/cluster"});
  EXPECT_TRUE(manifest.has_value());
  return policy::onboardCluster(policy::clusterStateOf(*manifest), policy::OnboardingTemplates{},
                                "palisade-system");
}

lab::EnforcerSpec enforcer() {
  lab::EnforcerSpec spec;
  spec.argv = {PALISADE_ENFORCER};
  spec.argv.insert(spec.argv.end(), lab::kDefaultEnforcerArgs.begin(),
                   lab::kDefaultEnforcerArgs.end());
  return spec;
}

lab::EnforcerSpec uninstaller() {
  lab::EnforcerSpec spec;
  spec.argv = {PALISADE_ENFORCER, "--uninstall", "--pin-dir", "{pin_dir}"};
  return spec;
}

std::vector<policy::MatrixEntry> oracleMatrix(const lab::Lab& lab) {
  return policy::reachabilityMatrix(policy::ReachabilityOracle(lab.cluster()), kQuery);
}

std::vector<policy::MatrixEntry> measure(lab::Lab& lab) {
  auto measured = lab.measure(kQuery);
  EXPECT_TRUE(measured.has_value()) << (measured ? "" : measured.error().message);
  return measured ? measured->entries : std::vector<policy::MatrixEntry>{};
}

size_t denied(const std::vector<policy::MatrixEntry>& entries) {
  return static_cast<size_t>(
      std::ranges::count_if(entries, [](const auto& entry) { return !entry.allowed; }));
}

class EnforcerLifecycle : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "the lab builds network namespaces: run as root (CI does)";
    auto built = lab::Lab::create(onboardedExamples(), lab::LabOptions{.enforcer = enforcer()});
    ASSERT_TRUE(built.has_value()) << built.error().message;
    lab_.emplace(std::move(*built));
    expected_ = oracleMatrix(*lab_);
    ASSERT_GT(denied(expected_), 0u);
    ASSERT_EQ(measure(*lab_), expected_);
  }

  std::optional<lab::Lab> lab_;
  std::vector<policy::MatrixEntry> expected_;
};

TEST_F(EnforcerLifecycle, KilledWithSigkillTheDataplaneKeepsEnforcing) {
  ASSERT_TRUE(lab_->stopEnforcer(SIGKILL).has_value());
  EXPECT_EQ(measure(*lab_), expected_);
}

TEST_F(EnforcerLifecycle, ARestartedEnforcerAdoptsThePinnedStateWithoutAGap) {
  // Between the two daemons the pinned maps and attached programs enforce;
  // the new one adopts them and replaces the programs atomically.
  ASSERT_TRUE(lab_->stopEnforcer(SIGTERM).has_value());
  EXPECT_EQ(measure(*lab_), expected_) << "while no daemon runs";
  ASSERT_TRUE(lab_->startEnforcer(enforcer()).has_value());
  EXPECT_EQ(measure(*lab_), expected_) << "after the restart";
}

TEST_F(EnforcerLifecycle, NewPoliciesAreEnforcedWithinSeconds) {
  // Replace the example policies with a single rule: anyone may reach the
  // databases on 5432; onboarding's default deny stays.
  std::vector<policy::NetworkPolicy> policies;
  for (const policy::NetworkPolicy& policy : lab_->cluster().policies) {
    if (policy.metadata.name.starts_with("palisade-")) {
      policies.push_back(policy);
    }
  }
  for (const char* ns : {"shop-prod", "shop-staging"}) {
    policy::NetworkPolicy open;
    open.metadata.namespace_name = ns;
    open.metadata.name = "database-open";
    open.spec.pod_selector.match_labels = {{"app", "database"}};
    open.spec.ingress.push_back(policy::NetworkPolicyRule{
        .ports = {policy::NetworkPolicyPort{.protocol = "TCP", .port = 5432, .end_port = {}}},
        .peers = {}});
    policies.push_back(std::move(open));
  }
  ASSERT_TRUE(lab_->setPolicies(policies).has_value());
  const auto expected = oracleMatrix(*lab_);
  ASSERT_NE(expected, expected_);
  std::vector<policy::MatrixEntry> measured;
  for (int attempt = 0; attempt < 20 && measured != expected; ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    measured = measure(*lab_);
  }
  EXPECT_EQ(measured, expected);
}

TEST_F(EnforcerLifecycle, UninstallRemovesEnforcementEntirely) {
  ASSERT_TRUE(lab_->stopEnforcer(SIGTERM).has_value());
  ASSERT_TRUE(lab_->startEnforcer(uninstaller()).has_value());
  // Signal 0 sends nothing: stopEnforcer then waits for the uninstall to end
  // by itself (within the grace period).
  EXPECT_EQ(lab_->stopEnforcer(0), "exited with status 0");
  const auto measured = measure(*lab_);
  EXPECT_EQ(denied(measured), 0u) << "every flow is open again";
}

}  // namespace
}  // namespace palisade
