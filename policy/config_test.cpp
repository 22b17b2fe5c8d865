#include "policy/config.h"

#include <fstream>
#include <sstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace palisade::policy {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;
using ::testing::StartsWith;

Config parsed(std::string_view yaml) {
  Result<Config> config = parseConfig(yaml);
  EXPECT_TRUE(config.has_value()) << config.error().message;
  return config.value_or(Config{});
}

std::string parseError(std::string_view yaml) {
  Result<Config> config = parseConfig(yaml);
  EXPECT_FALSE(config.has_value()) << "parsed:\n" << yaml;
  return config ? std::string() : config.error().message;
}

std::string readExample() {
  std::ifstream in(std::string(PALISADE_SOURCE_DIR) + "/examples/palisade-config.yaml");
  EXPECT_TRUE(in.good());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> keysOf(const LabelPolicy& policy) {
  std::vector<std::string> keys;
  for (const LabelRule& rule : policy.rules()) {
    keys.push_back(rule.key);
  }
  return keys;
}

// --- defaults ------------------------------------------------------------------

TEST(DefaultConfig, RequiresAppOnPodsAndNothingOnNamespaces) {
  const Config config = defaultConfig();
  EXPECT_THAT(config.namespace_labels.rules(), IsEmpty());
  ASSERT_THAT(config.pod_labels.rules(), SizeIs(1));
  const LabelRule& app = config.pod_labels.rules()[0];
  EXPECT_EQ(app.key, "app");
  EXPECT_TRUE(app.required);
  EXPECT_EQ(app.default_value, std::nullopt);
  EXPECT_THAT(config.pod_labels.check({}), SizeIs(1));
  EXPECT_THAT(config.namespace_labels.check({}), IsEmpty());
}

TEST(DefaultConfig, EnforcesWithCoverageAndDefaultOnboarding) {
  const Config config = defaultConfig();
  EXPECT_EQ(config.mode, EnforcementMode::kEnforce);
  EXPECT_TRUE(config.require_pod_coverage);
  EXPECT_EQ(config.palisade_namespace, "palisade-system");
  EXPECT_EQ(config.service_account, "system:serviceaccount:palisade-system:palisade-webhook");
  EXPECT_THAT(config.exempt_namespaces, IsEmpty());
  EXPECT_THAT(config.inherited_labels, IsEmpty());
  EXPECT_TRUE(config.onboarding.default_deny);
  EXPECT_TRUE(config.onboarding.allow_dns);
  EXPECT_EQ(config.onboarding.dns_namespace, "kube-system");
  EXPECT_EQ(config.onboarding.dns_pod_selector.match_labels, (Labels{{"k8s-app", "kube-dns"}}));
  EXPECT_EQ(config.onboarding.monitoring, std::nullopt);
}

TEST(ParseConfig, EmptyFileMeansTheDefaults) {
  for (std::string_view text : {"", "# nothing configured yet\n", "---\n", "~\n"}) {
    const Config config = parsed(text);
    EXPECT_EQ(config.mode, EnforcementMode::kEnforce) << text;
    EXPECT_THAT(keysOf(config.pod_labels), ElementsAre("app")) << text;
  }
}

TEST(ParseConfig, OmittedAndNullFieldsKeepTheirDefaults) {
  const Config config = parsed("mode: audit\npods:\n  requireNetworkPolicy: false\n"
                               "  labels: ~\nonboarding: {}\n");
  EXPECT_EQ(config.mode, EnforcementMode::kAudit);
  EXPECT_FALSE(config.require_pod_coverage);
  EXPECT_THAT(keysOf(config.pod_labels), ElementsAre("app"));
  EXPECT_TRUE(config.onboarding.default_deny);
  EXPECT_TRUE(config.onboarding.allow_dns);
}

TEST(ParseConfig, EmptyLabelListRequiresNothing) {
  const Config config = parsed("pods: {labels: []}\n");
  EXPECT_THAT(config.pod_labels.rules(), IsEmpty());
}

// --- the example ---------------------------------------------------------------

TEST(ExampleConfig, Parses) {
  const Result<Config> config = parseConfig(readExample());
  ASSERT_TRUE(config.has_value()) << config.error().message;
}

TEST(ExampleConfig, NamespacesCarryTeamByPatternAndEnvDefaultingToDev) {
  const Config config = parsed(readExample());
  EXPECT_THAT(keysOf(config.namespace_labels), ElementsAre("team", "env"));
  EXPECT_THAT(config.namespace_labels.check({{"team", "shop"}, {"env", "prod"}}), IsEmpty());
  EXPECT_EQ(config.namespace_labels.defaultsFor({{"team", "shop"}}), (Labels{{"env", "dev"}}));
  const auto violations = config.namespace_labels.check({{"team", "Shop"}, {"env", "qa"}});
  ASSERT_EQ(violations.size(), 2u);
  EXPECT_EQ(violations[0].kind, LabelViolation::Kind::kPatternMismatch);
  EXPECT_EQ(violations[1].message,
            "label \"env\" has value \"qa\"; allowed values: prod, staging, dev");
  EXPECT_EQ(config.namespace_labels.check({{"env", "dev"}})[0].message,
            "label \"team\" is required");
}

TEST(ExampleConfig, PodsCarryAppAndInheritTeamAndEnv) {
  const Config config = parsed(readExample());
  EXPECT_THAT(keysOf(config.pod_labels), ElementsAre("app", "version"));
  EXPECT_THAT(config.pod_labels.check({{"app", "web"}}), IsEmpty());
  EXPECT_THAT(config.pod_labels.check({{"app", "web"}, {"version", "v1.2.3"}}), IsEmpty());
  EXPECT_THAT(config.pod_labels.check({{"app", "web"}, {"version", "latest"}}), SizeIs(1));
  EXPECT_THAT(config.pod_labels.check({{"version", "2"}}), SizeIs(1));
  EXPECT_THAT(config.inherited_labels, ElementsAre("team", "env"));
  EXPECT_TRUE(config.require_pod_coverage);
}

TEST(ExampleConfig, EnforcesUnlessANamespaceChoosesOtherwise) {
  const Config config = parsed(readExample());
  EXPECT_EQ(config.mode, EnforcementMode::kEnforce);
  EXPECT_EQ(config.modeFor({{"team", "shop"}}), EnforcementMode::kEnforce);
  EXPECT_EQ(config.modeFor({{"palisade.dev/mode", "warn"}}), EnforcementMode::kWarn);
}

TEST(ExampleConfig, ExemptsLegacyAndTheSystemNamespaces) {
  const Config config = parsed(readExample());
  EXPECT_EQ(config.palisade_namespace, "palisade-system");
  EXPECT_EQ(config.service_account, "system:serviceaccount:palisade-system:palisade-webhook");
  EXPECT_TRUE(config.isExempt("legacy"));
  EXPECT_TRUE(config.isExempt("kube-system"));
  EXPECT_TRUE(config.isExempt("palisade-system"));
  EXPECT_FALSE(config.isExempt("shop-prod"));
}

TEST(ExampleConfig, OnboardsWithDefaultDenyDnsAndMonitoringOn9090) {
  const Config config = parsed(readExample());
  EXPECT_TRUE(config.onboarding.default_deny);
  EXPECT_TRUE(config.onboarding.allow_dns);
  EXPECT_EQ(config.onboarding.dns_namespace, "kube-system");
  EXPECT_EQ(config.onboarding.dns_pod_selector.match_labels, (Labels{{"k8s-app", "kube-dns"}}));
  ASSERT_TRUE(config.onboarding.monitoring.has_value());
  const MonitoringAccess& monitoring = *config.onboarding.monitoring;
  EXPECT_EQ(monitoring.namespace_selector.match_labels,
            (Labels{{"kubernetes.io/metadata.name", "monitoring"}}));
  ASSERT_TRUE(monitoring.pod_selector.has_value());
  EXPECT_EQ(monitoring.pod_selector->match_labels, (Labels{{"app", "prometheus"}}));
  ASSERT_THAT(monitoring.ports, SizeIs(1));
  EXPECT_EQ(monitoring.ports[0].protocol, "TCP");
  EXPECT_EQ(monitoring.ports[0].port, PortValue(int32_t{9090}));
  EXPECT_EQ(monitoring.ports[0].end_port, std::nullopt);

  std::vector<std::string> names;
  for (const NetworkPolicy& policy : onboardingPolicies("shop-prod", config.onboarding)) {
    names.push_back(policy.metadata.name);
  }
  EXPECT_THAT(names, ElementsAre("palisade-default-deny", "palisade-allow-dns",
                                 "palisade-allow-monitoring"));
}

// --- modeFor and isExempt ------------------------------------------------------

TEST(ConfigModeFor, ValidNamespaceLabelOverridesTheConfiguredMode) {
  Config config = defaultConfig();
  config.mode = EnforcementMode::kWarn;
  EXPECT_EQ(config.modeFor({{"palisade.dev/mode", "enforce"}}), EnforcementMode::kEnforce);
  EXPECT_EQ(config.modeFor({{"palisade.dev/mode", "audit"}}), EnforcementMode::kAudit);
  EXPECT_EQ(config.modeFor({{"palisade.dev/mode", "warn"}}), EnforcementMode::kWarn);
}

TEST(ConfigModeFor, InvalidOrMissingLabelKeepsTheConfiguredMode) {
  Config config = defaultConfig();
  config.mode = EnforcementMode::kAudit;
  EXPECT_EQ(config.modeFor({}), EnforcementMode::kAudit);
  EXPECT_EQ(config.modeFor({{"palisade.dev/mode", "strict"}}), EnforcementMode::kAudit);
  EXPECT_EQ(config.modeFor({{"palisade.dev/mode", "Enforce"}}), EnforcementMode::kAudit);
  EXPECT_EQ(config.modeFor({{"palisade.dev/mode", ""}}), EnforcementMode::kAudit);
  EXPECT_EQ(config.modeFor({{"mode", "enforce"}}), EnforcementMode::kAudit);
}

TEST(ConfigIsExempt, SystemNamespacesAreAlwaysExempt) {
  const Config config = parsed("exemptNamespaces: []\n");
  EXPECT_TRUE(config.isExempt("kube-system"));
  EXPECT_TRUE(config.isExempt("kube-public"));
  EXPECT_TRUE(config.isExempt("kube-node-lease"));
  EXPECT_TRUE(config.isExempt("palisade-system"));
  EXPECT_FALSE(config.isExempt("default"));
  EXPECT_FALSE(config.isExempt("kube-systems"));
}

TEST(ConfigIsExempt, ConfiguredPalisadeNamespaceAndListedNamespacesAreExempt) {
  const Config config = parsed("palisadeNamespace: security\nexemptNamespaces: [legacy, lab]\n");
  EXPECT_TRUE(config.isExempt("security"));
  EXPECT_TRUE(config.isExempt("legacy"));
  EXPECT_TRUE(config.isExempt("lab"));
  EXPECT_TRUE(config.isExempt("kube-system"));
  EXPECT_FALSE(config.isExempt("palisade-system"));
  EXPECT_FALSE(config.isExempt("shop"));
}

// --- fields ----------------------------------------------------------------------

TEST(ParseConfig, ReadsEveryModeAndRejectsOthers) {
  EXPECT_EQ(parsed("mode: enforce").mode, EnforcementMode::kEnforce);
  EXPECT_EQ(parsed("mode: warn").mode, EnforcementMode::kWarn);
  EXPECT_EQ(parsed("mode: audit").mode, EnforcementMode::kAudit);
  EXPECT_EQ(parseError("mode: dryrun"),
            "mode: unsupported mode \"dryrun\"; expected enforce, warn or audit "
            "(line 1, column 7)");
}

TEST(ParseConfig, ServiceAccountFollowsThePalisadeNamespaceUnlessGiven) {
  EXPECT_EQ(parsed("palisadeNamespace: security").service_account,
            "system:serviceaccount:security:palisade-webhook");
  EXPECT_EQ(parsed("palisadeNamespace: security\nserviceAccount: "
                   "system:serviceaccount:security:onboarder")
                .service_account,
            "system:serviceaccount:security:onboarder");
}

TEST(ParseConfig, PalisadeNamespaceMustBeADns1123Label) {
  EXPECT_THAT(parseError("palisadeNamespace: Palisade_System"),
              StartsWith("palisadeNamespace: invalid namespace name \"Palisade_System\": a "
                         "lowercase RFC 1123 label must consist of"));
  EXPECT_THAT(parseError("palisadeNamespace: palisade.system"), HasSubstr("must not contain dots"));
}

TEST(ParseConfig, ServiceAccountMustBeAServiceAccountUserName) {
  EXPECT_THAT(parseError("serviceAccount: palisade-webhook"),
              StartsWith("serviceAccount: \"palisade-webhook\": expected "
                         "system:serviceaccount:<namespace>:<name>"));
  EXPECT_THAT(parseError("serviceAccount: system:serviceaccount:palisade-system"),
              StartsWith("serviceAccount: \"system:serviceaccount:palisade-system\": expected"));
  EXPECT_THAT(parseError("serviceAccount: system:serviceaccount:Palisade:webhook"),
              StartsWith("serviceAccount: invalid namespace \"Palisade\""));
  EXPECT_THAT(parseError("serviceAccount: 'system:serviceaccount:palisade:'"),
              StartsWith("serviceAccount: invalid service account name \"\""));
  EXPECT_THAT(parseError("serviceAccount: system:serviceaccount:palisade:a:b"),
              StartsWith("serviceAccount: invalid service account name \"a:b\""));
}

TEST(ParseConfig, ExemptNamespacesMustBeNamespaceNames) {
  EXPECT_THAT(parseError("exemptNamespaces: [legacy, Legacy]"),
              StartsWith("exemptNamespaces[1]: invalid namespace name \"Legacy\""));
}

TEST(ParseConfig, LabelRulesReadEveryField) {
  const Config config = parsed(R"(
namespaces:
  labels:
  - key: env
    required: false
    values: [prod, dev]
    default: dev
  - key: team
    pattern: '^[a-z]+$'
)");
  ASSERT_THAT(config.namespace_labels.rules(), SizeIs(2));
  const LabelRule& env = config.namespace_labels.rules()[0];
  EXPECT_EQ(env.key, "env");
  EXPECT_FALSE(env.required);
  EXPECT_THAT(env.allowed_values, ElementsAre("prod", "dev"));
  EXPECT_EQ(env.default_value, "dev");
  const LabelRule& team = config.namespace_labels.rules()[1];
  EXPECT_TRUE(team.required);
  EXPECT_EQ(team.pattern, "^[a-z]+$");
}

TEST(ParseConfig, StringFieldsTakeScalarsAsWritten) {
  const Config config = parsed("pods:\n  labels:\n  - {key: tier, values: [1, 010, 'on', yes]}\n");
  EXPECT_THAT(config.pod_labels.rules()[0].allowed_values, ElementsAre("1", "010", "on", "yes"));
}

TEST(ParseConfig, LabelRuleErrorsNameTheRuleAndField) {
  EXPECT_THAT(parseError("pods:\n  labels:\n  - key: app\n  - key: team\n    pattern: '([a-z'\n"),
              StartsWith("pods.labels[1].pattern: invalid regular expression \"([a-z\": "));
  EXPECT_EQ(parseError("namespaces:\n  labels:\n  - key: env\n    values: [prod]\n"
                       "    default: dev\n"),
            "namespaces.labels[0].default: \"dev\" is not one of the allowed values");
  EXPECT_EQ(parseError("pods:\n  labels:\n  - {key: app}\n  - {key: app}\n"),
            "pods.labels[1].key: duplicate key \"app\", also at pods.labels[0]");
  EXPECT_EQ(parseError("pods:\n  labels:\n  - {required: true}\n"),
            "pods.labels[0].key: is required");
}

TEST(ParseConfig, InheritedLabelsMustBeValidAndDistinctKeys) {
  EXPECT_THAT(parseError("pods: {inheritFromNamespace: [team, 'bad key']}"),
              StartsWith("pods.inheritFromNamespace[1]: invalid label key \"bad key\""));
  EXPECT_THAT(parseError("pods: {inheritFromNamespace: [team, env, team]}"),
              StartsWith("pods.inheritFromNamespace[2]: repeated label key \"team\""));
}

TEST(ParseConfig, DnsTemplateCanBeMovedOrDisabled) {
  const Config config = parsed(R"(
onboarding:
  defaultDeny: false
  dns:
    enabled: false
    namespace: dns
    podSelector:
      matchExpressions:
      - {key: app, operator: In, values: [coredns, unbound]}
)");
  EXPECT_FALSE(config.onboarding.default_deny);
  EXPECT_FALSE(config.onboarding.allow_dns);
  EXPECT_EQ(config.onboarding.dns_namespace, "dns");
  ASSERT_THAT(config.onboarding.dns_pod_selector.match_expressions, SizeIs(1));
  EXPECT_TRUE(config.onboarding.dns_pod_selector.match_labels.empty());
  const LabelSelectorRequirement& requirement =
      config.onboarding.dns_pod_selector.match_expressions[0];
  EXPECT_EQ(requirement.key, "app");
  EXPECT_EQ(requirement.op, "In");
  EXPECT_THAT(requirement.values, ElementsAre("coredns", "unbound"));
}

TEST(ParseConfig, SelectorsAreValidatedAsTheApiserverWould) {
  EXPECT_THAT(parseError(R"(
onboarding:
  monitoring:
    namespaceSelector:
      matchExpressions:
      - {key: team, operator: Has}
    ports: [{port: 9090}]
)"),
              StartsWith("onboarding.monitoring.namespaceSelector.matchExpressions[0].operator: "
                         "Invalid value: \"Has\": not a valid selector operator (line 5"));
  EXPECT_THAT(
      parseError("onboarding:\n  dns:\n    podSelector: {matchLabels: {k8s-app: 'kube dns'}}\n"),
      StartsWith("onboarding.dns.podSelector.matchLabels: Invalid value: \"kube dns\""));
}

TEST(ParseConfig, MonitoringPortsAcceptNumbersNamesAndRanges) {
  const Config config = parsed(R"(
onboarding:
  monitoring:
    namespaceSelector: {}
    ports:
    - port: metrics
    - {port: 9100, endPort: 9102, protocol: TCP}
    - {protocol: UDP, port: 8125}
)");
  ASSERT_TRUE(config.onboarding.monitoring.has_value());
  const MonitoringAccess& monitoring = *config.onboarding.monitoring;
  EXPECT_TRUE(monitoring.namespace_selector.empty());
  EXPECT_EQ(monitoring.pod_selector, std::nullopt);
  ASSERT_THAT(monitoring.ports, SizeIs(3));
  EXPECT_EQ(monitoring.ports[0].port, PortValue(std::string("metrics")));
  EXPECT_EQ(monitoring.ports[0].protocol, std::nullopt);
  EXPECT_EQ(monitoring.ports[1].end_port, 9102);
  EXPECT_EQ(monitoring.ports[2].protocol, "UDP");
}

TEST(ParseConfig, MonitoringPortErrorsNameThePort) {
  const std::string prefix = "onboarding:\n  monitoring:\n    namespaceSelector: {}\n    ports:\n";
  EXPECT_THAT(parseError(prefix + "    - {port: 70000}\n"),
              StartsWith("onboarding.monitoring.ports[0].port: 70000: must be between 1 and "
                         "65535, inclusive"));
  EXPECT_THAT(parseError(prefix + "    - {port: 9090, protocol: tcp}\n"),
              StartsWith("onboarding.monitoring.ports[0].protocol: unsupported protocol \"tcp\""));
  EXPECT_THAT(parseError(prefix + "    - {port: '9090'}\n"),
              StartsWith("onboarding.monitoring.ports[0].port: invalid port name \"9090\""));
  EXPECT_THAT(parseError(prefix + "    - {port: 9100, endPort: 9000}\n"),
              StartsWith("onboarding.monitoring.ports[0].endPort: must be greater than or "
                         "equal to port"));
  EXPECT_THAT(parseError(prefix + "    - {port: metrics, endPort: 9000}\n"),
              StartsWith("onboarding.monitoring.ports[0].endPort: requires a numeric port"));
}

TEST(ParseConfig, MonitoringNeedsNamespacesAndPorts) {
  EXPECT_THAT(parseError("onboarding:\n  monitoring:\n    ports: [{port: 9090}]\n"),
              StartsWith("onboarding.monitoring.namespaceSelector: is required"));
  EXPECT_THAT(parseError("onboarding:\n  monitoring:\n    namespaceSelector: {}\n"),
              StartsWith("onboarding.monitoring.ports: is required"));
  EXPECT_THAT(parseError("onboarding:\n  monitoring:\n    namespaceSelector: {}\n    ports: []\n"),
              StartsWith("onboarding.monitoring.ports: must list at least one port"));
}

// --- structural errors ---------------------------------------------------------------

TEST(ParseConfig, UnknownTopLevelFieldIsAnError) {
  EXPECT_EQ(parseError("mode: warn\nexemptNamespace: [legacy]\n"),
            "exemptNamespace: unknown field; expected one of: palisadeNamespace, "
            "serviceAccount, mode, exemptNamespaces, namespaces, pods, onboarding "
            "(line 2, column 1)");
}

TEST(ParseConfig, UnknownNestedFieldsAreErrorsEverywhere) {
  EXPECT_THAT(parseError("onboarding:\n  dns:\n    enabeld: false\n"),
              StartsWith("onboarding.dns.enabeld: unknown field; expected one of: enabled, "
                         "namespace, podSelector (line 3, column 5)"));
  EXPECT_THAT(parseError("pods:\n  labels:\n  - {key: app, requried: false}\n"),
              StartsWith("pods.labels[0].requried: unknown field"));
  EXPECT_THAT(parseError("onboarding:\n  dns:\n    podSelector: {matchLabel: {a: b}}\n"),
              StartsWith("onboarding.dns.podSelector.matchLabel: unknown field"));
  EXPECT_THAT(parseError("onboarding:\n  monitoring:\n    namespaceSelector: {}\n"
                         "    ports: [{port: 9090, proto: TCP}]\n"),
              StartsWith("onboarding.monitoring.ports[0].proto: unknown field"));
}

TEST(ParseConfig, RepeatedFieldIsAnError) {
  EXPECT_EQ(parseError("mode: warn\nmode: enforce\n"), "mode: repeated field (line 2, column 1)");
}

TEST(ParseConfig, RepeatedSelectorLabelIsAnError) {
  EXPECT_THAT(parseError("onboarding:\n  dns:\n    podSelector: {matchLabels: {a: b, a: c}}\n"),
              StartsWith("onboarding.dns.podSelector.matchLabels.a: repeated label"));
}

TEST(ParseConfig, WrongTypesNameThePathAndTheExpectedType) {
  EXPECT_EQ(parseError("mode: [enforce]"),
            "mode: expected a string, got a list (line 1, column 7)");
  EXPECT_EQ(parseError("exemptNamespaces: legacy"),
            "exemptNamespaces: expected a list, got \"legacy\" (line 1, column 19)");
  EXPECT_EQ(parseError("pods: {requireNetworkPolicy: yes}"),
            "pods.requireNetworkPolicy: expected a boolean (true or false), got \"yes\" "
            "(line 1, column 30)");
  EXPECT_THAT(parseError("pods: {requireNetworkPolicy: 'true'}"),
              StartsWith("pods.requireNetworkPolicy: expected a boolean"));
  EXPECT_THAT(parseError("onboarding: [dns]"),
              StartsWith("onboarding: expected a map, got a list"));
  EXPECT_THAT(parseError("pods:\n  labels:\n  - app\n"),
              StartsWith("pods.labels[0]: expected a map, got \"app\" (line 3, column 5)"));
  EXPECT_THAT(parseError("onboarding:\n  monitoring:\n    namespaceSelector: {}\n"
                         "    ports: [{port: 9090, endPort: high}]\n"),
              StartsWith("onboarding.monitoring.ports[0].endPort: expected an integer, got "
                         "\"high\""));
  EXPECT_THAT(parseError("- mode: warn\n"),
              StartsWith("configuration: expected a map, got a list (line 1, column 1)"));
}

TEST(ParseConfig, YamlSyntaxErrorsGiveLineAndColumn) {
  EXPECT_THAT(parseError("mode: warn\npods:\n  labels: [app\n"),
              AllOf(StartsWith("invalid YAML (line "), HasSubstr(", column ")));
  EXPECT_THAT(parseError("mode: warn\n  bad: indentation\n"),
              StartsWith("invalid YAML (line 2, column "));
}

TEST(ParseConfig, MoreThanOneDocumentIsAnError) {
  EXPECT_THAT(parseError("mode: warn\n---\nmode: enforce\n"),
              StartsWith("the configuration is one YAML document; found another one (line 3"));
}

TEST(ParseConfig, ReportsEveryErrorAtOnce) {
  const std::string error = parseError("mode: strict\nexemptNamespaces: [Bad]\nonboardng: {}\n");
  EXPECT_THAT(error, HasSubstr("mode: unsupported mode"));
  EXPECT_THAT(error, HasSubstr("exemptNamespaces[0]: invalid namespace name"));
  EXPECT_THAT(error, HasSubstr("onboardng: unknown field"));
  EXPECT_THAT(error, Not(HasSubstr("\n")));
}

}  // namespace
}  // namespace palisade::policy
