#include "server/onboarding/onboarding_plan.h"

#include <gtest/gtest.h>

#include "policy/onboarding.h"

namespace palisade::server {
namespace {

using Kind = OnboardingAction::Kind;

policy::Namespace namespaceNamed(std::string name, std::string phase = "Active") {
  policy::Namespace ns;
  ns.metadata.name = std::move(name);
  ns.phase = std::move(phase);
  return ns;
}

// The managed policies as a kube-apiserver returns them: defaults filled in,
// a resourceVersion and a uid.
std::vector<policy::NetworkPolicy> storedManagedPolicies(const policy::Config& config,
                                                         const std::string& ns) {
  std::vector<policy::NetworkPolicy> stored = policy::onboardingPolicies(ns, config.onboarding);
  int version = 100;
  for (policy::NetworkPolicy& p : stored) {
    p.spec = withApiDefaults(p.spec);
    p.metadata.resource_version = std::to_string(version++);
    p.metadata.uid = "uid-" + p.metadata.name;
  }
  return stored;
}

std::vector<std::string> describe(const std::vector<OnboardingAction>& actions) {
  std::vector<std::string> out;
  for (const OnboardingAction& action : actions) {
    out.push_back(toString(action.kind) + " " + action.policy.metadata.namespace_name + "/" +
                  action.policy.metadata.name);
  }
  return out;
}

TEST(OnboardingPlan, ANewNamespaceGetsDefaultDenyAndDnsEgress) {
  const policy::Config config;
  EXPECT_EQ(describe(planOnboarding(config, namespaceNamed("team-a"), {})),
            (std::vector<std::string>{"create team-a/palisade-default-deny",
                                      "create team-a/palisade-allow-dns"}));
}

TEST(OnboardingPlan, CreatedPoliciesCarryTheManagedByLabel) {
  const policy::Config config;
  for (const OnboardingAction& action : planOnboarding(config, namespaceNamed("team-a"), {})) {
    EXPECT_EQ(action.policy.metadata.labels.at(std::string(policy::kManagedByLabel)),
              policy::kManagedByValue);
  }
}

TEST(OnboardingPlan, AlwaysExemptAndConfiguredExemptNamespacesAreNeverTouched) {
  policy::Config config;
  config.exempt_namespaces = {"legacy"};
  for (const char* name :
       {"kube-system", "kube-public", "kube-node-lease", "palisade-system", "legacy"}) {
    EXPECT_TRUE(planOnboarding(config, namespaceNamed(name), {}).empty()) << name;
  }
}

TEST(OnboardingPlan, ATerminatingNamespaceIsLeftAlone) {
  const policy::Config config;
  EXPECT_TRUE(planOnboarding(config, namespaceNamed("team-a", "Terminating"), {}).empty());
}

TEST(OnboardingPlan, PoliciesAsTheApiserverStoresThemNeedNothing) {
  const policy::Config config;
  EXPECT_TRUE(planOnboarding(config, namespaceNamed("team-a"),
                             storedManagedPolicies(config, "team-a"))
                  .empty());
}

TEST(OnboardingPlan, APolicyDeletedByForceIsCreatedAgain) {
  const policy::Config config;
  std::vector<policy::NetworkPolicy> stored = storedManagedPolicies(config, "team-a");
  std::erase_if(stored, [](const auto& p) {
    return p.metadata.name == policy::kDefaultDenyPolicyName;
  });
  EXPECT_EQ(describe(planOnboarding(config, namespaceNamed("team-a"), stored)),
            (std::vector<std::string>{"create team-a/palisade-default-deny"}));
}

TEST(OnboardingPlan, AChangedManagedPolicyIsReplacedAtTheVersionThatWasSeen) {
  const policy::Config config;
  std::vector<policy::NetworkPolicy> stored = storedManagedPolicies(config, "team-a");
  stored[0].spec.policy_types = {"Ingress"};  // someone opened all egress
  const std::vector<OnboardingAction> actions =
      planOnboarding(config, namespaceNamed("team-a"), stored);
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].kind, Kind::kReplace);
  EXPECT_EQ(actions[0].policy.metadata.resource_version, stored[0].metadata.resource_version);
  EXPECT_EQ(actions[0].policy.spec.policy_types,
            (std::vector<std::string>{"Ingress", "Egress"}));
}

TEST(OnboardingPlan, APolicyUnderAManagedNameWithoutTheLabelIsTakenBack) {
  const policy::Config config;
  std::vector<policy::NetworkPolicy> stored = storedManagedPolicies(config, "team-a");
  stored[1].metadata.labels = {{"owner", "alice"}};
  const std::vector<OnboardingAction> actions =
      planOnboarding(config, namespaceNamed("team-a"), stored);
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].kind, Kind::kReplace);
  EXPECT_EQ(actions[0].policy.metadata.name, policy::kAllowDnsPolicyName);
  // The label someone added stays; the managed label comes back.
  EXPECT_EQ(actions[0].policy.metadata.labels,
            (policy::Labels{{"owner", "alice"},
                            {std::string(policy::kManagedByLabel), "palisade"}}));
}

TEST(OnboardingPlan, APolicyOfATemplateTurnedOffIsDeleted) {
  policy::Config config;
  config.onboarding.monitoring = policy::MonitoringAccess{
      .namespace_selector = {.match_labels = {{"name", "monitoring"}}, .match_expressions = {}},
      .pod_selector = std::nullopt,
      .ports = {}};
  std::vector<policy::NetworkPolicy> stored = storedManagedPolicies(config, "team-a");
  ASSERT_EQ(stored.size(), 3u);
  config.onboarding.monitoring.reset();
  EXPECT_EQ(describe(planOnboarding(config, namespaceNamed("team-a"), stored)),
            (std::vector<std::string>{"delete team-a/palisade-allow-monitoring"}));
}

TEST(OnboardingPlan, OtherPoliciesAreNeverTouchedEvenWithTheManagedLabel) {
  const policy::Config config;
  std::vector<policy::NetworkPolicy> stored = storedManagedPolicies(config, "team-a");
  policy::NetworkPolicy users;
  users.metadata.name = "allow-frontend";
  users.metadata.namespace_name = "team-a";
  users.metadata.labels = {{std::string(policy::kManagedByLabel), "palisade"}};
  stored.push_back(users);
  EXPECT_TRUE(planOnboarding(config, namespaceNamed("team-a"), stored).empty());
}

TEST(OnboardingPlan, ApiDefaultsFillPolicyTypesAndPortProtocols) {
  policy::NetworkPolicySpec spec;
  spec.egress.push_back({.ports = {{.protocol = std::nullopt, .port = std::nullopt,
                                    .end_port = std::nullopt}},
                         .peers = {}});
  const policy::NetworkPolicySpec defaulted = withApiDefaults(spec);
  EXPECT_EQ(defaulted.policy_types, (std::vector<std::string>{"Ingress", "Egress"}));
  EXPECT_EQ(defaulted.egress[0].ports[0].protocol, "TCP");
}

}  // namespace
}  // namespace palisade::server
