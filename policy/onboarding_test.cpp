#include "policy/onboarding.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "policy/oracle.h"

namespace palisade::policy {
namespace {

using ::testing::ElementsAre;

Pod pod(std::string ns, std::string name, Labels labels = {}) {
  Pod p;
  p.metadata.namespace_name = std::move(ns);
  p.metadata.name = std::move(name);
  p.metadata.labels = std::move(labels);
  return p;
}

Namespace ns(std::string name) {
  Namespace n;
  n.metadata.name = std::move(name);
  return n;
}

std::vector<std::string> policyNames(const ClusterState& state, std::string_view namespace_name) {
  std::vector<std::string> names;
  for (const NetworkPolicy& policy : state.policies) {
    if (policy.metadata.namespace_name == namespace_name) {
      names.push_back(policy.metadata.name);
    }
  }
  return names;
}

bool allowed(const ReachabilityOracle& oracle, PodRef from, PodRef to, uint16_t port,
             Protocol protocol = Protocol::kTCP) {
  return oracle
      .evaluate(Flow{.source = from, .destination = to, .protocol = protocol, .port = port,
                     .family = std::nullopt})
      .value()
      .allowed;
}

ClusterState exampleCluster() {
  ClusterState state;
  state.namespaces = {ns("shop"), ns("kube-system"), ns("palisade-system")};
  state.pods = {pod("shop", "web", {{"app", "web"}}), pod("shop", "api", {{"app", "api"}}),
                pod("kube-system", "coredns", {{"k8s-app", "kube-dns"}}),
                pod("kube-system", "metrics", {{"k8s-app", "metrics"}}),
                pod("palisade-system", "webhook", {{"app", "palisade"}})};
  return state;
}

TEST(Onboarding, DefaultDenySelectsEveryPodInBothDirections) {
  const auto policies = onboardingPolicies("shop", OnboardingTemplates{});
  ASSERT_EQ(policies.size(), 2u);
  const NetworkPolicy& deny = policies[0];
  EXPECT_EQ(deny.metadata.name, "palisade-default-deny");
  EXPECT_EQ(deny.metadata.namespace_name, "shop");
  EXPECT_EQ(deny.metadata.labels.at("app.kubernetes.io/managed-by"), "palisade");
  EXPECT_TRUE(deny.spec.pod_selector.empty());
  EXPECT_THAT(deny.spec.policy_types, ElementsAre("Ingress", "Egress"));
  EXPECT_TRUE(deny.spec.ingress.empty());
  EXPECT_TRUE(deny.spec.egress.empty());
}

TEST(Onboarding, OnboardedNamespaceIsClosedButCanResolveNames) {
  const ReachabilityOracle oracle(onboardCluster(exampleCluster(), OnboardingTemplates{},
                                                 "palisade-system"));
  const PodRef web{"shop", "web"};
  const PodRef api{"shop", "api"};
  const PodRef coredns{"kube-system", "coredns"};
  EXPECT_FALSE(allowed(oracle, web, api, 80));
  EXPECT_TRUE(allowed(oracle, web, coredns, 53, Protocol::kUDP));
  EXPECT_TRUE(allowed(oracle, web, coredns, 53, Protocol::kTCP));
  EXPECT_FALSE(allowed(oracle, web, coredns, 54, Protocol::kUDP));
  EXPECT_FALSE(allowed(oracle, web, PodRef{"kube-system", "metrics"}, 53, Protocol::kUDP))
      << "DNS egress reaches the DNS pods only";
}

TEST(Onboarding, SystemAndPalisadeNamespacesAreNeverOnboarded) {
  const ClusterState state =
      onboardCluster(exampleCluster(), OnboardingTemplates{}, "palisade-system");
  EXPECT_TRUE(policyNames(state, "kube-system").empty());
  EXPECT_TRUE(policyNames(state, "palisade-system").empty());
  EXPECT_THAT(policyNames(state, "shop"), ElementsAre("palisade-default-deny",
                                                      "palisade-allow-dns"));
  EXPECT_TRUE(isAlwaysExemptNamespace("kube-public", ""));
  EXPECT_TRUE(isAlwaysExemptNamespace("kube-node-lease", ""));
  EXPECT_FALSE(isAlwaysExemptNamespace("default", "palisade-system"));
}

TEST(Onboarding, ConfiguredExemptionsAreHonoured) {
  const ClusterState state = onboardCluster(exampleCluster(), OnboardingTemplates{},
                                            "palisade-system", {"shop"});
  EXPECT_TRUE(state.policies.empty());
}

TEST(Onboarding, NamespacesKnownOnlyFromPodsAreOnboarded) {
  ClusterState state;
  state.pods = {pod("", "lonely")};
  const ClusterState onboarded = onboardCluster(state, OnboardingTemplates{}, "");
  EXPECT_THAT(policyNames(onboarded, "default"),
              ElementsAre("palisade-default-deny", "palisade-allow-dns"));
}

TEST(Onboarding, OnboardingTwiceChangesNothing) {
  const ClusterState once =
      onboardCluster(exampleCluster(), OnboardingTemplates{}, "palisade-system");
  const ClusterState twice = onboardCluster(once, OnboardingTemplates{}, "palisade-system");
  EXPECT_EQ(twice.policies.size(), once.policies.size());
}

TEST(Onboarding, MonitoringTemplateAllowsScrapingFromTheMonitoringNamespace) {
  OnboardingTemplates templates;
  templates.monitoring = MonitoringAccess{
      .namespace_selector = {.match_labels = {{"kubernetes.io/metadata.name", "monitoring"}},
                             .match_expressions = {}},
      .pod_selector = std::nullopt,
      .ports = {NetworkPolicyPort{.protocol = "TCP", .port = 9090, .end_port = {}}}};
  ClusterState state = exampleCluster();
  state.namespaces.push_back(ns("monitoring"));
  state.pods.push_back(pod("monitoring", "prometheus"));
  const ReachabilityOracle oracle(onboardCluster(state, templates, "palisade-system"));
  EXPECT_TRUE(oracle.evaluate(Flow{.source = PodRef{"monitoring", "prometheus"},
                                   .destination = PodRef{"shop", "web"},
                                   .protocol = Protocol::kTCP, .port = 9090,
                                   .family = std::nullopt})
                  ->ingress.allowed());
  EXPECT_FALSE(allowed(oracle, PodRef{"monitoring", "prometheus"}, PodRef{"shop", "web"}, 80));
}

TEST(Onboarding, DnsAndDefaultDenyCanBeTurnedOff) {
  OnboardingTemplates templates;
  templates.allow_dns = false;
  EXPECT_EQ(onboardingPolicies("x", templates).size(), 1u);
  templates.default_deny = false;
  EXPECT_TRUE(onboardingPolicies("x", templates).empty());
}

}  // namespace
}  // namespace palisade::policy
