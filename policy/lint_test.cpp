#include "policy/lint.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "policy/manifest.h"
#include "policy/onboarding.h"

namespace palisade::policy {

void PrintTo(const LintFinding& finding, std::ostream* os) {
  *os << "[" << finding.code << "] " << finding.toString();
}

namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

MATCHER_P2(IsFinding, code, field, "") { return arg.code == code && arg.field == field; }

Manifest readClean(std::string_view yaml) {
  Manifest manifest = readManifest(yaml, "lint_test.yaml");
  for (const ManifestError& error : manifest.errors) {
    ADD_FAILURE() << toString(error);
  }
  return manifest;
}

NetworkPolicy policyFrom(std::string_view yaml) {
  const Manifest manifest = readClean(yaml);
  for (const ManifestObject& object : manifest.objects) {
    if (const auto* policy = std::get_if<NetworkPolicy>(&object.object)) {
      return *policy;
    }
  }
  ADD_FAILURE() << "no NetworkPolicy in:\n" << yaml;
  return {};
}

ClusterState clusterFrom(std::string_view yaml) { return clusterStateOf(readClean(yaml)); }

std::vector<LintFinding> lint(std::string_view policy_yaml) {
  return lintNetworkPolicy(policyFrom(policy_yaml));
}

std::vector<LintFinding> lint(std::string_view policy_yaml, std::string_view cluster_yaml) {
  return lintNetworkPolicy(policyFrom(policy_yaml), clusterFrom(cluster_yaml));
}

// --- Ordinary, good policies --------------------------------------------------

constexpr std::string_view kDefaultDeny = R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny
  namespace: shop
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
)";

constexpr std::string_view kFrontendToBackend = R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: backend-from-frontend
  namespace: shop
spec:
  podSelector:
    matchLabels:
      app: backend
  policyTypes: [Ingress]
  ingress:
  - from:
    - podSelector:
        matchLabels:
          app: frontend
    ports:
    - protocol: TCP
      port: 8080
)";

constexpr std::string_view kDnsEgress = R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-dns
  namespace: shop
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: kube-system
      podSelector:
        matchLabels:
          k8s-app: kube-dns
    ports:
    - protocol: UDP
      port: 53
    - protocol: TCP
      port: 53
)";

constexpr std::string_view kDatabaseFromBackendNamespace = R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: postgres-from-backend
  namespace: data
spec:
  podSelector:
    matchLabels:
      app: postgres
  policyTypes: [Ingress]
  ingress:
  - from:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: backend
    ports:
    - port: 5432
)";

// A cluster in which every selector of the good policies finds something.
constexpr std::string_view kShopCluster = R"(
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Namespace
metadata: {name: kube-system}
---
apiVersion: v1
kind: Namespace
metadata: {name: backend}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: frontend}}
---
apiVersion: v1
kind: Pod
metadata: {name: api, namespace: shop, labels: {app: backend}}
---
apiVersion: v1
kind: Pod
metadata: {name: coredns, namespace: kube-system, labels: {k8s-app: kube-dns}}
---
apiVersion: v1
kind: Pod
metadata: {name: postgres-0, namespace: data, labels: {app: postgres}}
---
apiVersion: v1
kind: Pod
metadata: {name: worker, namespace: backend, labels: {app: worker}}
)";

// Namespaces known three ways (listed with labels, listed bare, implied by a
// pod), pods in them, a pod without namespace, and a hostNetwork pod.
constexpr std::string_view kTeamCluster = R"(
apiVersion: v1
kind: Namespace
metadata:
  name: team-a
  labels: {team: a}
---
apiVersion: v1
kind: Namespace
metadata: {name: default}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: team-a, labels: {app: web}}
---
apiVersion: v1
kind: Pod
metadata: {name: api, namespace: team-b, labels: {app: api}}
---
apiVersion: v1
kind: Pod
metadata: {name: tool, labels: {app: tool}}
---
apiVersion: v1
kind: Pod
metadata: {name: node-agent, namespace: team-a, labels: {app: agent}}
spec: {hostNetwork: true}
)";

TEST(NetworkPolicyLint, DefaultDenyHasNoFindings) {
  EXPECT_THAT(lint(kDefaultDeny), IsEmpty());
  EXPECT_THAT(lint(kDefaultDeny, kShopCluster), IsEmpty());
}

TEST(NetworkPolicyLint, FrontendToBackendOnPort8080HasNoFindings) {
  EXPECT_THAT(lint(kFrontendToBackend), IsEmpty());
  EXPECT_THAT(lint(kFrontendToBackend, kShopCluster), IsEmpty());
}

TEST(NetworkPolicyLint, DnsEgressToKubeSystemHasNoFindings) {
  EXPECT_THAT(lint(kDnsEgress), IsEmpty());
  EXPECT_THAT(lint(kDnsEgress, kShopCluster), IsEmpty());
}

TEST(NetworkPolicyLint, DatabaseOnlyFromBackendNamespaceHasNoFindings) {
  EXPECT_THAT(lint(kDatabaseFromBackendNamespace), IsEmpty());
  EXPECT_THAT(lint(kDatabaseFromBackendNamespace, kShopCluster), IsEmpty());
}

TEST(NetworkPolicyLint, OnboardingPoliciesHaveNoFindings) {
  OnboardingTemplates templates;
  templates.monitoring = MonitoringAccess{
      .namespace_selector = {.match_labels = {{"kubernetes.io/metadata.name", "monitoring"}},
                             .match_expressions = {}},
      .pod_selector = LabelSelector{.match_labels = {{"app", "prometheus"}},
                                    .match_expressions = {}},
      .ports = {NetworkPolicyPort{.protocol = "TCP", .port = 9090, .end_port = {}}}};
  for (const NetworkPolicy& policy : onboardingPolicies("shop", templates)) {
    EXPECT_THAT(lintNetworkPolicy(policy), IsEmpty()) << policy.metadata.name;
  }
}

TEST(NetworkPolicyLint, RestrictedPeersWithoutPortsAreNotFlagged) {
  EXPECT_THAT(lint(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: trust-peers, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
  ingress:
  - from:
    - podSelector: {}
  egress:
  - to:
    - ipBlock:
        cidr: 10.20.0.0/16
    - namespaceSelector: {}
      podSelector:
        matchLabels:
          app: metrics-gateway
)"),
              IsEmpty());
}

// --- Breadth ------------------------------------------------------------------

TEST(NetworkPolicyLint, IngressRuleWithPortsButNoFromAllowsAllSources) {
  EXPECT_THAT(lint(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - ports:
    - port: 443
)"),
              ElementsAre(IsFinding("allow-all-sources", "spec.ingress[0]")));
}

TEST(NetworkPolicyLint, EgressRuleWithPortsButNoToAllowsAllDestinations) {
  EXPECT_THAT(lint(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Egress]
  egress:
  - ports:
    - port: 443
)"),
              ElementsAre(IsFinding("allow-all-destinations", "spec.egress[0]")));
}

TEST(NetworkPolicyLint, EmptyIngressRuleIsOneAllPortsFinding) {
  EXPECT_THAT(lint(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-all, namespace: shop}
spec:
  podSelector: {}
  ingress:
  - {}
)"),
              ElementsAre(IsFinding("all-ports", "spec.ingress[0]")));
}

TEST(NetworkPolicyLint, EmptyEgressRuleIsOneAllPortsFinding) {
  EXPECT_THAT(lint(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-all, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - {}
)"),
              ElementsAre(IsFinding("all-ports", "spec.egress[0]")));
}

TEST(NetworkPolicyLint, EmptyNamespaceSelectorPeerAllowsAllSources) {
  EXPECT_THAT(lint(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from:
    - podSelector: {matchLabels: {app: frontend}}
    - namespaceSelector: {}
    ports:
    - port: 8080
)"),
              ElementsAre(IsFinding("allow-all-sources", "spec.ingress[0].from[1]")));
}

TEST(NetworkPolicyLint, EmptyNamespaceAndPodSelectorPeerAllowsAllDestinations) {
  EXPECT_THAT(lint(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Egress]
  egress:
  - to:
    - namespaceSelector: {}
      podSelector: {}
    ports:
    - port: 8080
)"),
              ElementsAre(IsFinding("allow-all-destinations", "spec.egress[0].to[0]")));
}

TEST(NetworkPolicyLint, NamespaceNameExistsSelectorCountsAsEveryNamespace) {
  EXPECT_THAT(lint(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from:
    - namespaceSelector:
        matchExpressions:
        - {key: kubernetes.io/metadata.name, operator: Exists}
    ports:
    - port: 8080
)"),
              ElementsAre(IsFinding("allow-all-sources", "spec.ingress[0].from[0]")));
}

TEST(NetworkPolicyLint, EveryNamespaceWithPodSelectorIsNotFlagged) {
  EXPECT_THAT(lint(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: scrape, namespace: shop}
spec:
  podSelector: {}
  ingress:
  - from:
    - namespaceSelector: {}
      podSelector: {matchLabels: {app: prometheus}}
    ports:
    - port: 9090
)"),
              IsEmpty());
}

TEST(NetworkPolicyLint, EveryPodOnEveryPortIsOneAllPortsFinding) {
  EXPECT_THAT(lint(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  podSelector: {}
  ingress:
  - from:
    - namespaceSelector: {}
)"),
              ElementsAre(IsFinding("all-ports", "spec.ingress[0].from[0]")));
}

// --- Internet and wide ipBlocks -------------------------------------------------

TEST(NetworkPolicyLint, EgressToZeroSlashZeroIsFlagged) {
  EXPECT_THAT(lint(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: internet, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Egress]
  egress:
  - to:
    - ipBlock:
        cidr: 0.0.0.0/0
        except: [10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16]
    ports:
    - port: 443
)"),
              ElementsAre(IsFinding("egress-to-internet", "spec.egress[0].to[0].ipBlock.cidr")));
}

TEST(NetworkPolicyLint, IngressFromIPv6SlashZeroIsFlagged) {
  EXPECT_THAT(lint(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: public, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from:
    - ipBlock: {cidr: 10.0.0.0/8}
    - ipBlock: {cidr: "::/0"}
    ports:
    - port: 443
)"),
              ElementsAre(
                  IsFinding("ingress-from-internet", "spec.ingress[0].from[1].ipBlock.cidr")));
}

TEST(NetworkPolicyLint, ZeroSlashZeroOnEveryPortIsOneAllPortsFinding) {
  EXPECT_THAT(lint(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: internet, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to:
    - ipBlock: {cidr: 0.0.0.0/0}
)"),
              ElementsAre(IsFinding("all-ports", "spec.egress[0].to[0].ipBlock.cidr")));
}

TEST(NetworkPolicyLint, IPv4PrefixWiderThanSlash8IsFlaggedAsWide) {
  EXPECT_THAT(lint(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: wide, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to:
    - ipBlock: {cidr: 10.0.0.0/8}
    - ipBlock: {cidr: 128.0.0.0/1}
)"),
              ElementsAre(IsFinding("wide-ip-block", "spec.egress[0].to[1].ipBlock.cidr")));
}

TEST(NetworkPolicyLint, IPv6PrefixWiderThanSlash16IsFlaggedUnlessUniqueLocal) {
  EXPECT_THAT(lint(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: wide, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to:
    - ipBlock: {cidr: "2001::/16"}
    - ipBlock: {cidr: "fd00::/8"}
    - ipBlock: {cidr: "2000::/3"}
)"),
              ElementsAre(IsFinding("wide-ip-block", "spec.egress[0].to[2].ipBlock.cidr")));
}

TEST(NetworkPolicyLint, CidrWithHostBitsSetIsFlagged) {
  const std::vector<LintFinding> findings = lint(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to:
    - ipBlock:
        cidr: 10.1.2.3/16
        except: [10.1.0.0/24, 10.1.9.9/24]
)");
  ASSERT_THAT(findings,
              ElementsAre(IsFinding("cidr-host-bits", "spec.egress[0].to[0].ipBlock.cidr"),
                          IsFinding("cidr-host-bits", "spec.egress[0].to[0].ipBlock.except[1]")));
  EXPECT_EQ(findings[0].message, "means 10.1.0.0/16; host bits are ignored");
}

TEST(NetworkPolicyLint, UnparsableCidrsAreLeftToValidation) {
  EXPECT_THAT(lint(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: broken, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to:
    - ipBlock:
        cidr: 0.0.0.0/
        except: [not-a-cidr, "", /0]
    - ipBlock: {cidr: ""}
)"),
              IsEmpty());
}

// --- Selectors that can never match ---------------------------------------------

TEST(NetworkPolicyLint, MatchLabelsValueMissingFromInNeverMatches) {
  EXPECT_THAT(lint(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  podSelector:
    matchLabels: {app: web}
    matchExpressions:
    - {key: tier, operator: Exists}
    - {key: app, operator: In, values: [api, worker]}
)"),
              ElementsAre(
                  IsFinding("selector-never-matches", "spec.podSelector.matchExpressions[1]")));
}

TEST(NetworkPolicyLint, InAndDoesNotExistOnOneKeyNeverMatch) {
  EXPECT_THAT(lint(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  podSelector: {}
  ingress:
  - from:
    - podSelector:
        matchExpressions:
        - {key: app, operator: In, values: [web]}
        - {key: app, operator: DoesNotExist}
)"),
              ElementsAre(IsFinding("selector-never-matches",
                                    "spec.ingress[0].from[0].podSelector.matchExpressions[1]")));
}

TEST(NetworkPolicyLint, ExistsAndDoesNotExistOnOneKeyNeverMatch) {
  EXPECT_THAT(lint(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to:
    - namespaceSelector:
        matchExpressions:
        - {key: team, operator: DoesNotExist}
        - {key: team, operator: Exists}
)"),
              ElementsAre(IsFinding("selector-never-matches",
                                    "spec.egress[0].to[0].namespaceSelector.matchExpressions[1]")));
}

TEST(NetworkPolicyLint, NotInListingTheMatchLabelsValueNeverMatches) {
  EXPECT_THAT(lint(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  podSelector:
    matchLabels: {app: web}
    matchExpressions:
    - {key: app, operator: NotIn, values: [legacy, web]}
)"),
              ElementsAre(
                  IsFinding("selector-never-matches", "spec.podSelector.matchExpressions[0]")));
}

TEST(NetworkPolicyLint, InSetsWithEmptyIntersectionNeverMatch) {
  EXPECT_THAT(lint(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  podSelector:
    matchExpressions:
    - {key: env, operator: In, values: [prod, staging]}
    - {key: env, operator: In, values: [staging, dev]}
    - {key: env, operator: NotIn, values: [staging]}
)"),
              ElementsAre(
                  IsFinding("selector-never-matches", "spec.podSelector.matchExpressions[2]")));
}

TEST(NetworkPolicyLint, DoesNotExistOnNamespaceNameLabelNeverMatches) {
  const std::vector<LintFinding> findings = lint(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  podSelector: {}
  ingress:
  - from:
    - namespaceSelector:
        matchExpressions:
        - {key: kubernetes.io/metadata.name, operator: DoesNotExist}
    - podSelector:
        matchExpressions:
        - {key: kubernetes.io/metadata.name, operator: DoesNotExist}
)");
  ASSERT_THAT(findings,
              ElementsAre(IsFinding(
                  "selector-never-matches",
                  "spec.ingress[0].from[0].namespaceSelector.matchExpressions[0]")));
  EXPECT_EQ(findings[0].message, "every namespace has this label; matches nothing");
}

TEST(NetworkPolicyLint, SatisfiableRequirementsAreNotFlagged) {
  EXPECT_THAT(lint(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  podSelector:
    matchLabels: {app: web}
    matchExpressions:
    - {key: app, operator: In, values: [web, api]}
    - {key: app, operator: NotIn, values: [api]}
    - {key: legacy, operator: NotIn, values: ["true"]}
    - {key: legacy, operator: DoesNotExist}
    - {key: env, operator: In, values: [prod, staging]}
    - {key: env, operator: In, values: [staging]}
    - {key: env, operator: Exists}
)"),
              IsEmpty());
}

TEST(NetworkPolicyLint, MalformedSelectorsAreLeftToValidation) {
  EXPECT_THAT(lint(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  podSelector:
    matchExpressions:
    - {key: app, operator: Exists}
    - {key: app, operator: DoesNotExist}
    - {key: app, operator: Equals, values: [web]}
)"),
              IsEmpty());
}

TEST(NetworkPolicyLint, InvalidPoliciesGetOnlyTheFindingsTheirValidPartsEarn) {
  // Every oddity here is validation's to reject; lint must neither trip over
  // them nor guess. Only the /0 stands on its own.
  constexpr std::string_view kInvalid = R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: invalid, namespace: team-a}
spec:
  podSelector:
    matchExpressions:
    - {key: app, operator: In}
  policyTypes: [Ingress, Sideways]
  ingress:
  - from:
    - {}
    - ipBlock: {cidr: 0.0.0.0/0}
      namespaceSelector: {}
    - namespaceSelector:
        matchExpressions:
        - {key: kubernetes.io/metadata.name, operator: In, values: []}
    - namespaceSelector:
        matchLabels: {team: a}
      podSelector:
        matchExpressions:
        - {key: app, operator: Exists, values: [web]}
    ports:
    - port: 0
    - port: ""
      endPort: 80
)";
  const auto expected = ElementsAre(
      IsFinding("ingress-from-internet", "spec.ingress[0].from[1].ipBlock.cidr"));
  EXPECT_THAT(lint(kInvalid), expected);
  EXPECT_THAT(lint(kInvalid, kTeamCluster), expected);
}

// --- Namespace names ----------------------------------------------------------

TEST(NetworkPolicyLint, InvalidNamespaceNameInMatchLabelsIsFlagged) {
  EXPECT_THAT(
      lint(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  podSelector: {}
  ingress:
  - from:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: Kube_System
)"),
      ElementsAre(IsFinding(
          "namespace-name-selector-invalid",
          "spec.ingress[0].from[0].namespaceSelector.matchLabels[kubernetes.io/metadata.name]")));
}

TEST(NetworkPolicyLint, InvalidNamespaceNameInExpressionValuesIsFlagged) {
  EXPECT_THAT(lint(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to:
    - namespaceSelector:
        matchExpressions:
        - key: kubernetes.io/metadata.name
          operator: NotIn
          values: [kube-system, monitoring.prod]
    ports:
    - port: 443
)"),
              ElementsAre(IsFinding(
                  "namespace-name-selector-invalid",
                  "spec.egress[0].to[0].namespaceSelector.matchExpressions[0].values[1]")));
}

TEST(NetworkPolicyLint, NamespaceNameLabelIsOnlyCheckedInNamespaceSelectors) {
  EXPECT_THAT(lint(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  podSelector:
    matchLabels:
      kubernetes.io/metadata.name: Not_A_Namespace
  ingress:
  - from:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: shop
)"),
              IsEmpty());
}

// --- policyTypes --------------------------------------------------------------

TEST(NetworkPolicyLint, EgressRulesIgnoredByIngressOnlyPolicyTypesAreFlagged) {
  const std::vector<LintFinding> findings = lint(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Ingress]
  egress:
  - {}
)");
  ASSERT_THAT(findings, ElementsAre(IsFinding("ignored-rules", "spec.egress")));
  EXPECT_EQ(findings[0].toString(),
            "spec.egress: ignored because policyTypes does not list Egress; "
            "add it or remove the rules");
}

TEST(NetworkPolicyLint, IngressRulesIgnoredByEgressOnlyPolicyTypesAreFlagged) {
  EXPECT_THAT(lint(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Egress]
  ingress:
  - from:
    - ipBlock: {cidr: 0.0.0.0/0}
  egress:
  - to:
    - podSelector: {matchLabels: {app: api}}
)"),
              ElementsAre(IsFinding("ignored-rules", "spec.ingress")));
}

TEST(NetworkPolicyLint, PolicyTypeWithoutRulesIsADeliberateDeny) {
  EXPECT_THAT(lint(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-egress, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
  ingress:
  - from:
    - podSelector: {}
)"),
              IsEmpty());
}

TEST(NetworkPolicyLint, EgressRulesWithoutPolicyTypesImplyAnIngressDeny) {
  EXPECT_THAT(lint(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: egress-only, namespace: shop}
spec:
  podSelector: {}
  egress:
  - to:
    - podSelector: {matchLabels: {app: api}}
)"),
              ElementsAre(IsFinding("implicit-ingress-deny", "spec.policyTypes")));
}

// --- Named ports ----------------------------------------------------------------

TEST(NetworkPolicyLint, NamedPortToIpBlockOnlyEgressIsFlagged) {
  EXPECT_THAT(lint(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: external-api, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to:
    - ipBlock: {cidr: 203.0.113.0/24}
    - ipBlock: {cidr: 198.51.100.7/32}
    ports:
    - port: 443
    - port: https
)"),
              ElementsAre(IsFinding("named-port-with-ipblock", "spec.egress[0].ports[1].port")));
}

TEST(NetworkPolicyLint, NamedPortsThatCanResolveAreNotFlagged) {
  EXPECT_THAT(lint(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: named, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
  ingress:
  - from:
    - ipBlock: {cidr: 203.0.113.0/24}
    ports:
    - port: http
  egress:
  - to:
    - ipBlock: {cidr: 203.0.113.0/24}
    - podSelector: {matchLabels: {app: api}}
    ports:
    - port: http
)"),
              IsEmpty());
}

// --- Against the cluster ------------------------------------------------------

TEST(NetworkPolicyLint, PodSelectorMatchingNoPodOfTheNamespaceIsFlagged) {
  EXPECT_THAT(lint(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api, namespace: team-a}
spec:
  podSelector: {matchLabels: {app: api}}
)",
                   kTeamCluster),
              ElementsAre(IsFinding("selects-no-pod", "spec.podSelector")));
}

TEST(NetworkPolicyLint, PolicyWithoutNamespaceSelectsPodsOfDefault) {
  EXPECT_THAT(lint(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: tool}
spec:
  podSelector: {matchLabels: {app: tool}}
)",
                   kTeamCluster),
              IsEmpty());
}

TEST(NetworkPolicyLint, HostNetworkPodsDoNotCountAsSelected) {
  EXPECT_THAT(lint(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: agent, namespace: team-a}
spec:
  podSelector: {matchLabels: {app: agent}}
)",
                   kTeamCluster),
              ElementsAre(IsFinding("selects-no-pod", "spec.podSelector")));
}

TEST(NetworkPolicyLint, EmptyPodSelectorInANamespaceWithoutPodsIsNotFlagged) {
  EXPECT_THAT(lint(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: fresh}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
)",
                   kTeamCluster),
              IsEmpty());
}

TEST(NetworkPolicyLint, NamespaceSelectorMatchingNoNamespaceIsFlagged) {
  EXPECT_THAT(lint(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: team-a}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {team: a}}
    - namespaceSelector: {matchLabels: {team: c}}
      podSelector: {matchLabels: {app: api}}
)",
                   kTeamCluster),
              ElementsAre(IsFinding("no-namespace-matches",
                                    "spec.ingress[0].from[1].namespaceSelector")));
}

TEST(NetworkPolicyLint, NamespaceNameLabelIsImpliedForEveryNamespace) {
  // team-b is only known from its pod, default only as an unlabelled object;
  // both carry kubernetes.io/metadata.name all the same.
  EXPECT_THAT(lint(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: team-a}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Egress]
  egress:
  - to:
    - namespaceSelector:
        matchLabels: {kubernetes.io/metadata.name: team-b}
      podSelector: {matchLabels: {app: api}}
    - namespaceSelector:
        matchExpressions:
        - {key: kubernetes.io/metadata.name, operator: In, values: [default]}
      podSelector: {matchLabels: {app: tool}}
)",
                   kTeamCluster),
              IsEmpty());
}

TEST(NetworkPolicyLint, PeerPodSelectorMatchingNoPodOfThePolicyNamespaceIsFlagged) {
  // app=api runs in team-b only; a peer without namespaceSelector looks in
  // the policy's own namespace.
  EXPECT_THAT(lint(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: team-a}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from:
    - podSelector: {matchLabels: {app: web}}
    - podSelector: {matchLabels: {app: api}}
)",
                   kTeamCluster),
              ElementsAre(IsFinding("no-pod-matches", "spec.ingress[0].from[1].podSelector")));
}

TEST(NetworkPolicyLint, PeerPodSelectorLooksInTheSelectedNamespaces) {
  EXPECT_THAT(lint(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: team-a}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {team: a}}
      podSelector: {matchLabels: {app: api}}
    - namespaceSelector: {}
      podSelector: {matchLabels: {app: api}}
    - namespaceSelector: {matchLabels: {team: a}}
      podSelector: {matchLabels: {app: agent}}
)",
                   kTeamCluster),
              ElementsAre(IsFinding("no-pod-matches", "spec.ingress[0].from[0].podSelector"),
                          IsFinding("no-pod-matches", "spec.ingress[0].from[2].podSelector")));
}

TEST(NetworkPolicyLint, StaticFindingsAreNotRepeatedAgainstTheCluster) {
  EXPECT_THAT(lint(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: team-a}
spec:
  podSelector:
    matchExpressions:
    - {key: app, operator: Exists}
    - {key: app, operator: DoesNotExist}
  ingress:
  - from:
    - namespaceSelector:
        matchLabels: {kubernetes.io/metadata.name: Team-A}
      podSelector: {matchLabels: {app: web}}
    - podSelector:
        matchExpressions:
        - {key: app, operator: In, values: [a]}
        - {key: app, operator: In, values: [b]}
)",
                   kTeamCluster),
              ElementsAre(
                  IsFinding("selector-never-matches", "spec.podSelector.matchExpressions[1]"),
                  IsFinding("namespace-name-selector-invalid",
                            "spec.ingress[0].from[0].namespaceSelector.matchLabels["
                            "kubernetes.io/metadata.name]"),
                  IsFinding("selector-never-matches",
                            "spec.ingress[0].from[1].podSelector.matchExpressions[1]")));
}

TEST(NetworkPolicyLint, IgnoredRulesAreNotCheckedAgainstTheCluster) {
  EXPECT_THAT(lint(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: team-a}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
  ingress:
  - from:
    - podSelector: {matchLabels: {app: web}}
  egress:
  - to:
    - namespaceSelector: {matchLabels: {team: nobody}}
)",
                   kTeamCluster),
              ElementsAre(IsFinding("ignored-rules", "spec.egress")));
}

// --- Messages -------------------------------------------------------------------

TEST(LintFinding, ToStringJoinsFieldAndMessage) {
  const LintFinding finding{.code = "c", .field = "spec.podSelector", .message = "says why"};
  EXPECT_EQ(finding.toString(), "spec.podSelector: says why");
}

TEST(LintFinding, ToStringWithoutFieldIsTheMessage) {
  const LintFinding finding{.code = "c", .field = "", .message = "says why"};
  EXPECT_EQ(finding.toString(), "says why");
}

// "[f, f, ..., f, last...]": ten fillers push the interesting items to
// two-digit indices, where field paths are longest in practice.
std::string afterTen(std::string_view filler, const std::vector<std::string_view>& items) {
  std::string list = "[";
  for (int i = 0; i < 10; ++i) {
    list += std::string(filler) + ", ";
  }
  for (size_t i = 0; i < items.size(); ++i) {
    list += std::string(items[i]) + (i + 1 < items.size() ? ", " : "");
  }
  return list + "]";
}

std::string rule(std::string_view peers_key, const std::string& peers, std::string_view ports) {
  std::string out = "{" + std::string(peers_key) + ": " + peers;
  if (!ports.empty()) {
    out += ", ports: " + std::string(ports);
  }
  return out + "}";
}

TEST(NetworkPolicyLint, EveryFindingFitsInAnAdmissionWarning) {
  // A 63-character namespace, the longest there is.
  const std::string ns(63, 'n');
  const std::string peer = "{podSelector: {matchLabels: {app: x}}}";
  const std::string exists = "{key: tier, operator: Exists}";
  const std::string port443 = "[{port: 443}]";
  auto deep_rules = [&](std::string_view peers_key) {
    std::vector<std::string> rules = {
        "{}",
        "{ports: " + port443 + "}",
        rule(peers_key, afterTen(peer, {"{namespaceSelector: {}}"}), port443),
        rule(peers_key, afterTen(peer, {"{namespaceSelector: {}}"}), ""),
        rule(peers_key, afterTen(peer, {"{ipBlock: {cidr: '::/0'}}"}), port443),
        rule(peers_key, afterTen(peer, {"{ipBlock: {cidr: 0.0.0.0/0}}"}), ""),
        rule(peers_key,
             afterTen(peer, {"{ipBlock: {cidr: '2000::/3', except: " +
                             afterTen("'2001:db8::/32'",
                                      {"'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/127'"}) +
                             "}}"}),
             port443),
        rule(peers_key, afterTen(peer, {"{ipBlock: {cidr: 1.0.0.0/7}}"}), port443),
        rule(peers_key,
             afterTen(peer,
                      {"{namespaceSelector: {matchExpressions: " +
                           afterTen(exists, {"{key: kubernetes.io/metadata.name, operator: "
                                             "DoesNotExist}"}) +
                           "}}",
                       "{namespaceSelector: {matchExpressions: " +
                           afterTen(exists, {"{key: team, operator: In, values: [a]}",
                                             "{key: team, operator: In, values: [b]}"}) +
                           "}}",
                       "{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: Bad_A}}}",
                       "{namespaceSelector: {matchExpressions: [{key: kubernetes.io/metadata.name, "
                       "operator: In, values: " +
                           afterTen("ok", {"Bad_B"}) + "}]}}",
                       "{podSelector: {matchExpressions: " +
                           afterTen(exists, {"{key: tier, operator: DoesNotExist}"}) + "}}"}),
             port443),
        rule(peers_key, "[{ipBlock: {cidr: 203.0.113.0/24}}]",
             afterTen("{port: 80}", {"{port: https}"})),
    };
    std::string out;
    for (const std::string& r : rules) {
      out += (out.empty() ? "" : ", ") + r;
    }
    return afterTen(rule(peers_key, "[" + peer + "]", port443), {out});
  };

  std::vector<LintFinding> findings = lint(
      "apiVersion: networking.k8s.io/v1\n"
      "kind: NetworkPolicy\n"
      "metadata: {name: deep, namespace: " + ns + "}\n"
      "spec:\n"
      "  podSelector: {matchExpressions: " +
      afterTen(exists, {"{key: app, operator: In, values: [a]}",
                        "{key: app, operator: NotIn, values: [a]}"}) +
      "}\n"
      "  policyTypes: [Ingress, Egress]\n"
      "  ingress: " + deep_rules("from") + "\n"
      "  egress: " + deep_rules("to") + "\n");
  const std::string cluster_policy =
      "apiVersion: networking.k8s.io/v1\n"
      "kind: NetworkPolicy\n"
      "metadata: {name: deep, namespace: " + ns + "}\n"
      "spec:\n"
      "  podSelector: {matchLabels: {app: nothing}}\n"
      "  ingress: " +
      afterTen(rule("from", "[" + peer + "]", port443),
               {rule("from",
                     afterTen(peer, {"{namespaceSelector: {matchLabels: {team: none}}}",
                                     "{namespaceSelector: {matchLabels: {team: a}}, podSelector: "
                                     "{matchLabels: {app: none}}}"}),
                     port443)}) +
      "\n";
  for (LintFinding& finding : lint(cluster_policy, kTeamCluster)) {
    findings.push_back(std::move(finding));
  }
  for (std::string_view policy : {std::string_view(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: ignored}
spec:
  podSelector: {}
  policyTypes: [Egress]
  ingress: [{}]
)"),
                                  std::string_view(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: implicit}
spec:
  podSelector: {}
  egress: [{to: [{podSelector: {}}]}]
)")}) {
    for (LintFinding& finding : lint(policy)) {
      findings.push_back(std::move(finding));
    }
  }

  std::set<std::string> codes;
  for (const LintFinding& finding : findings) {
    codes.insert(finding.code);
    EXPECT_LE(finding.toString().size(), 120u) << finding.toString();
    EXPECT_FALSE(finding.message.empty()) << finding.code;
  }
  // The test is only as good as its coverage: every kind of finding is here.
  EXPECT_EQ(codes, (std::set<std::string>{
                       "all-ports", "allow-all-destinations", "allow-all-sources",
                       "cidr-host-bits", "egress-to-internet", "ignored-rules",
                       "implicit-ingress-deny", "ingress-from-internet",
                       "named-port-with-ipblock", "namespace-name-selector-invalid",
                       "no-namespace-matches", "no-pod-matches", "selector-never-matches",
                       "selects-no-pod", "wide-ip-block"}));
}

}  // namespace
}  // namespace palisade::policy
