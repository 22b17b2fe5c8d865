// The webhook half of the chart as `helm template` renders it: the webhook
// configurations the kube-apiserver calls through, the Deployment behind them,
// its Service, RBAC and configuration file.

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "charts/tests/chart_test_support.h"
#include "charts/tests/helm_chart.h"
#include "policy/config.h"
#include "policy/json_codec.h"
#include "policy/onboarding.h"

namespace palisade::charts {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;
using ::testing::UnorderedElementsAreArray;

constexpr std::string_view kConfigurations[] = {"MutatingWebhookConfiguration",
                                                "ValidatingWebhookConfiguration"};

// The one webhook of each configuration.
YAML::Node webhookOf(const Manifests& chart, std::string_view kind) {
  const auto configuration = chart.find(kind, "palisade");
  if (!configuration) {
    ADD_FAILURE() << kind << "/palisade is not rendered";
    return YAML::Node();
  }
  const YAML::Node webhooks = (*configuration)["webhooks"];
  EXPECT_EQ(webhooks.size(), 1u) << kind;
  return webhooks[0];
}

// The namespaces a webhook's namespaceSelector leaves out, after checking
// that it says nothing else.
std::vector<std::string> exemptedBy(const YAML::Node& webhook) {
  const YAML::Node selector = webhook["namespaceSelector"];
  EXPECT_FALSE(selector["matchLabels"].IsDefined());
  const YAML::Node expressions = selector["matchExpressions"];
  if (!expressions.IsSequence() || expressions.size() != 1) {
    ADD_FAILURE() << "expected one matchExpression, got " << YAML::Dump(selector);
    return {};
  }
  EXPECT_EQ(text(expressions[0]["key"]), "kubernetes.io/metadata.name");
  EXPECT_EQ(text(expressions[0]["operator"]), "NotIn");
  return texts(expressions[0]["values"]);
}

// (apiGroup, resource, operation) triples a webhook's rules match; a
// wildcard anywhere is reported as a failure.
using Match = std::tuple<std::string, std::string, std::string>;
std::set<Match> matchesOf(const YAML::Node& webhook) {
  std::set<Match> matches;
  for (const YAML::Node& rule : webhook["rules"]) {
    for (const char* field : {"apiGroups", "apiVersions", "operations", "resources"}) {
      for (const std::string& value : texts(rule[field])) {
        EXPECT_NE(value.find('*'), 0u) << field << " has a wildcard: " << YAML::Dump(rule);
      }
    }
    EXPECT_THAT(texts(rule["apiVersions"]), ElementsAre("v1"));
    for (const std::string& group : texts(rule["apiGroups"])) {
      for (const std::string& resource : texts(rule["resources"])) {
        EXPECT_EQ(resource.find('/'), std::string::npos) << "subresource " << resource;
        for (const std::string& operation : texts(rule["operations"])) {
          matches.emplace(group, resource, operation);
        }
      }
    }
  }
  return matches;
}

std::string configFile(const Manifests& chart) {
  const auto config_map = chart.find("ConfigMap", "palisade-config");
  if (!config_map) {
    ADD_FAILURE() << "ConfigMap/palisade-config is not rendered";
    return "";
  }
  return text((*config_map)["data"]["config.yaml"]);
}

TEST(WebhookConfigurations, AlwaysExemptTheControlPlaneAndTheReleaseNamespace) {
  const auto chart = render(ChartOptions().inNamespace("security"));
  ASSERT_TRUE(chart) << chart.error().message;
  for (const std::string_view kind : kConfigurations) {
    EXPECT_THAT(exemptedBy(webhookOf(*chart, kind)),
                ElementsAre("kube-system", "kube-public", "kube-node-lease", "security"))
        << kind;
  }
}

TEST(WebhookConfigurations, ExemptNamespacesValueAddsToTheAlwaysExemptOnes) {
  const auto chart = render(ChartOptions().valuesFile("exempt-namespaces.yaml"));
  ASSERT_TRUE(chart) << chart.error().message;
  for (const std::string_view kind : kConfigurations) {
    EXPECT_THAT(exemptedBy(webhookOf(*chart, kind)),
                ElementsAre("kube-system", "kube-public", "kube-node-lease", "palisade-system",
                            "calico-system", "cert-manager"))
        << kind;
  }
  // The webhook's configuration exempts the same namespaces.
  const auto config = policy::parseConfig(configFile(*chart));
  ASSERT_TRUE(config) << config.error().message;
  for (const std::string_view name : {"calico-system", "cert-manager", "kube-system",
                                      "kube-public", "kube-node-lease", "palisade-system"}) {
    EXPECT_TRUE(config->isExempt(name)) << name;
  }
  EXPECT_FALSE(config->isExempt("default"));
}

TEST(WebhookConfigurations, EmptiedExemptNamespacesStillExemptTheFour) {
  // With the schema out of the way, the templates alone keep the exemptions.
  for (const std::string value : {"null", "[]"}) {
    const auto chart = render(ChartOptions().setJson("exemptNamespaces=" + value).skipSchema());
    ASSERT_TRUE(chart) << chart.error().message;
    for (const std::string_view kind : kConfigurations) {
      EXPECT_THAT(exemptedBy(webhookOf(*chart, kind)),
                  ElementsAre("kube-system", "kube-public", "kube-node-lease", "palisade-system"))
          << kind << " with exemptNamespaces=" << value;
    }
  }
}

TEST(WebhookConfigurations, ANamespaceSelectorFromValuesIsRefusedBySchemaAndTemplates) {
  const std::string selector =
      R"(webhook.namespaceSelector={"matchExpressions":[{"key":"kubernetes.io/metadata.name",)"
      R"("operator":"NotIn","values":["palisade-system"]}]})";
  const auto by_schema = helmTemplate(ChartOptions().setJson(selector));
  ASSERT_TRUE(by_schema) << by_schema.error().message;
  EXPECT_NE(by_schema->exit_code, 0);
  EXPECT_THAT(by_schema->err, HasSubstr("additional properties 'namespaceSelector' not allowed"));

  const auto by_templates = helmTemplate(ChartOptions().setJson(selector).skipSchema());
  ASSERT_TRUE(by_templates) << by_templates.error().message;
  EXPECT_NE(by_templates->exit_code, 0);
  EXPECT_THAT(by_templates->err, HasSubstr("webhook.namespaceSelector cannot be set"));
}

TEST(WebhookConfigurations, AnAlwaysExemptListFromValuesIsRefusedBySchemaAndTemplates) {
  const std::string attempt = R"(alwaysExemptNamespaces=["palisade-system"])";
  const auto by_schema = helmTemplate(ChartOptions().setJson(attempt));
  ASSERT_TRUE(by_schema) << by_schema.error().message;
  EXPECT_NE(by_schema->exit_code, 0);
  EXPECT_THAT(by_schema->err,
              HasSubstr("additional properties 'alwaysExemptNamespaces' not allowed"));

  const auto by_templates = helmTemplate(ChartOptions().setJson(attempt).skipSchema());
  ASSERT_TRUE(by_templates) << by_templates.error().message;
  EXPECT_NE(by_templates->exit_code, 0);
  EXPECT_THAT(by_templates->err, HasSubstr("alwaysExemptNamespaces cannot be set"));
}

TEST(WebhookConfigurations, AnExemptNamespaceThatIsNoNamespaceNameIsRefused) {
  // A "negated" entry must not read as a way to un-exempt kube-system.
  for (const bool skip_schema : {false, true}) {
    const auto rendered =
        helmTemplate(ChartOptions()
                         .setJson(R"(exemptNamespaces=["!kube-system"])")
                         .skipSchema(skip_schema));
    ASSERT_TRUE(rendered) << rendered.error().message;
    EXPECT_NE(rendered->exit_code, 0) << "skip_schema=" << skip_schema;
    EXPECT_THAT(rendered->err, HasSubstr("exemptNamespaces")) << "skip_schema=" << skip_schema;
  }
}

TEST(WebhookConfigurations, AdmissionSettingsKeepTheApiserverOffTheCriticalPath) {
  const auto chart = render(ChartOptions());
  ASSERT_TRUE(chart) << chart.error().message;
  for (const std::string_view kind : kConfigurations) {
    const YAML::Node webhook = webhookOf(*chart, kind);
    EXPECT_THAT(texts(webhook["admissionReviewVersions"]), ElementsAre("v1")) << kind;
    EXPECT_EQ(text(webhook["sideEffects"]), "None") << kind;
    EXPECT_EQ(text(webhook["timeoutSeconds"]), "5") << kind;
    EXPECT_EQ(text(webhook["failurePolicy"]), "Fail") << kind;
    EXPECT_EQ(text(webhook["matchPolicy"]), "Equivalent") << kind;
    EXPECT_FALSE(webhook["objectSelector"].IsDefined()) << kind;
  }
  EXPECT_EQ(text(webhookOf(*chart, "MutatingWebhookConfiguration")["reinvocationPolicy"]),
            "IfNeeded");
  EXPECT_EQ(text(webhookOf(*chart, "MutatingWebhookConfiguration")["name"]),
            "mutate.palisade.dev");
  EXPECT_EQ(text(webhookOf(*chart, "ValidatingWebhookConfiguration")["name"]),
            "validate.palisade.dev");
}

TEST(WebhookConfigurations, FailurePolicyAndTimeoutComeFromValues) {
  const auto chart =
      render(ChartOptions()
                 .setValue("webhook.failurePolicy=Ignore")
                 .setValue("webhook.timeoutSeconds=3"));
  ASSERT_TRUE(chart) << chart.error().message;
  for (const std::string_view kind : kConfigurations) {
    EXPECT_EQ(text(webhookOf(*chart, kind)["failurePolicy"]), "Ignore") << kind;
    EXPECT_EQ(text(webhookOf(*chart, kind)["timeoutSeconds"]), "3") << kind;
  }
}

TEST(WebhookConfigurations, FailurePolicyOutsideFailAndIgnoreIsRefused) {
  for (const bool skip_schema : {false, true}) {
    const auto rendered =
        helmTemplate(
            ChartOptions().setValue("webhook.failurePolicy=Retry").skipSchema(skip_schema));
    ASSERT_TRUE(rendered) << rendered.error().message;
    EXPECT_NE(rendered->exit_code, 0) << "skip_schema=" << skip_schema;
    EXPECT_THAT(rendered->err, HasSubstr("failurePolicy")) << "skip_schema=" << skip_schema;
  }
}

TEST(WebhookConfigurations, TimeoutLongerThanTenSecondsIsRefused) {
  for (const bool skip_schema : {false, true}) {
    const auto rendered =
        helmTemplate(ChartOptions().setValue("webhook.timeoutSeconds=30").skipSchema(skip_schema));
    ASSERT_TRUE(rendered) << rendered.error().message;
    EXPECT_NE(rendered->exit_code, 0) << "skip_schema=" << skip_schema;
    EXPECT_THAT(rendered->err, HasSubstr("timeoutSeconds")) << "skip_schema=" << skip_schema;
  }
}

TEST(WebhookConfigurations, MutatingRulesMatchNamespaceAndPodWritesOnly) {
  const auto chart = render(ChartOptions());
  ASSERT_TRUE(chart) << chart.error().message;
  EXPECT_THAT(matchesOf(webhookOf(*chart, "MutatingWebhookConfiguration")),
              UnorderedElementsAre(Match{"", "namespaces", "CREATE"},
                                   Match{"", "namespaces", "UPDATE"},
                                   Match{"", "pods", "CREATE"}, Match{"", "pods", "UPDATE"}));
}

TEST(WebhookConfigurations, ValidatingRulesMatchExactlyWhatTheWebhookDecidesOn) {
  const auto chart = render(ChartOptions());
  ASSERT_TRUE(chart) << chart.error().message;
  std::vector<Match> expected;
  const std::vector<std::pair<std::string, std::string>> checked = {
      {"", "namespaces"},      {"", "pods"},         {"apps", "deployments"},
      {"apps", "statefulsets"}, {"apps", "daemonsets"}, {"apps", "replicasets"},
      {"batch", "jobs"},       {"batch", "cronjobs"}, {"networking.k8s.io", "networkpolicies"}};
  for (const auto& [group, resource] : checked) {
    expected.emplace_back(group, resource, "CREATE");
    expected.emplace_back(group, resource, "UPDATE");
  }
  // Deleting a policy Palisade manages is refused to all but its account.
  expected.emplace_back("networking.k8s.io", "networkpolicies", "DELETE");
  EXPECT_THAT(matchesOf(webhookOf(*chart, "ValidatingWebhookConfiguration")),
              UnorderedElementsAreArray(expected));
}

TEST(WebhookConfigurations, RulesNeverReachLeasesEventsOrWebhookConfigurations) {
  const auto chart = render(ChartOptions());
  ASSERT_TRUE(chart) << chart.error().message;
  for (const std::string_view kind : kConfigurations) {
    for (const auto& [group, resource, operation] : matchesOf(webhookOf(*chart, kind))) {
      EXPECT_NE(group, "coordination.k8s.io") << kind;
      EXPECT_NE(group, "events.k8s.io") << kind;
      EXPECT_NE(group, "admissionregistration.k8s.io") << kind;
      EXPECT_NE(resource, "events") << kind;
      EXPECT_NE(resource, "leases") << kind;
      EXPECT_NE(operation, "CONNECT") << kind;
    }
  }
}

TEST(WebhookConfigurations, ClientConfigCallsTheChartsServiceOnMutateAndValidate) {
  const auto chart = render(ChartOptions());
  ASSERT_TRUE(chart) << chart.error().message;
  const auto service = chart->find("Service", "palisade-webhook");
  ASSERT_TRUE(service);
  const YAML::Node port = (*service)["spec"]["ports"][0];
  for (const auto& [kind, path] : {std::pair{kConfigurations[0], "/mutate"},
                                   std::pair{kConfigurations[1], "/validate"}}) {
    const YAML::Node reference = webhookOf(*chart, kind)["clientConfig"]["service"];
    EXPECT_EQ(text(reference["name"]), "palisade-webhook") << kind;
    EXPECT_EQ(text(reference["namespace"]), "palisade-system") << kind;
    EXPECT_EQ(text(reference["path"]), path) << kind;
    EXPECT_EQ(text(reference["port"]), text(port["port"])) << kind;
  }
  // The Service reaches the webhook container's HTTPS port.
  const auto deployment = chart->find("Deployment", "palisade-webhook");
  ASSERT_TRUE(deployment);
  const YAML::Node container = containerNamed(podSpecOf(*deployment), "webhook");
  EXPECT_EQ(text(port["targetPort"]), text(container["ports"][0]["name"]));
  EXPECT_EQ(text(container["ports"][0]["containerPort"]), "8443");
  EXPECT_THAT(flagValues(container, "--listen"), ElementsAre("0.0.0.0:8443"));
  for (const auto& selected : (*service)["spec"]["selector"]) {
    const std::string key = selected.first.as<std::string>();
    EXPECT_EQ(text((*deployment)["spec"]["template"]["metadata"]["labels"][key]),
              text(selected.second))
        << key;
  }
}

TEST(WebhookDeployment, TwoReplicasSpreadOverNodesWithADisruptionBudget) {
  const auto chart = render(ChartOptions());
  ASSERT_TRUE(chart) << chart.error().message;
  const auto deployment = chart->find("Deployment", "palisade-webhook");
  ASSERT_TRUE(deployment);
  EXPECT_EQ(text((*deployment)["spec"]["replicas"]), "2");
  EXPECT_EQ(text((*deployment)["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"]), "0");
  const YAML::Node spread = podSpecOf(*deployment)["topologySpreadConstraints"];
  ASSERT_EQ(spread.size(), 1u);
  EXPECT_EQ(text(spread[0]["topologyKey"]), "kubernetes.io/hostname");
  EXPECT_EQ(text(spread[0]["maxSkew"]), "1");
  EXPECT_EQ(text(spread[0]["labelSelector"]["matchLabels"]["app.kubernetes.io/component"]),
            "webhook");
  const auto budget = chart->find("PodDisruptionBudget", "palisade-webhook");
  ASSERT_TRUE(budget);
  EXPECT_EQ(text((*budget)["spec"]["maxUnavailable"]), "1");
  EXPECT_EQ(YAML::Dump((*budget)["spec"]["selector"]["matchLabels"]),
            YAML::Dump((*deployment)["spec"]["selector"]["matchLabels"]));
}

TEST(WebhookDeployment, RunsWithTheRestrictedSecurityContext) {
  const auto chart = render(ChartOptions());
  ASSERT_TRUE(chart) << chart.error().message;
  const auto deployment = chart->find("Deployment", "palisade-webhook");
  ASSERT_TRUE(deployment);
  const YAML::Node pod = podSpecOf(*deployment);
  EXPECT_EQ(text(pod["securityContext"]["runAsNonRoot"]), "true");
  EXPECT_NE(text(pod["securityContext"]["runAsUser"]), "0");
  EXPECT_EQ(text(pod["securityContext"]["seccompProfile"]["type"]), "RuntimeDefault");
  EXPECT_FALSE(pod["hostNetwork"].IsDefined());
  const YAML::Node context = containerNamed(pod, "webhook")["securityContext"];
  EXPECT_EQ(text(context["runAsNonRoot"]), "true");
  EXPECT_EQ(text(context["readOnlyRootFilesystem"]), "true");
  EXPECT_EQ(text(context["allowPrivilegeEscalation"]), "false");
  EXPECT_EQ(text(context["privileged"]), "false");
  EXPECT_THAT(texts(context["capabilities"]["drop"]), ElementsAre("ALL"));
  EXPECT_FALSE(context["capabilities"]["add"].IsDefined());
  EXPECT_EQ(text(context["seccompProfile"]["type"]), "RuntimeDefault");
}

TEST(WebhookDeployment, ProbesAskHealthzAndReadyzOverHttps) {
  const auto chart = render(ChartOptions());
  ASSERT_TRUE(chart) << chart.error().message;
  const auto deployment = chart->find("Deployment", "palisade-webhook");
  ASSERT_TRUE(deployment);
  const YAML::Node container = containerNamed(podSpecOf(*deployment), "webhook");
  for (const auto& [probe, path] : {std::pair{"livenessProbe", "/healthz"},
                                    std::pair{"readinessProbe", "/readyz"}}) {
    const YAML::Node get = container[probe]["httpGet"];
    EXPECT_EQ(text(get["path"]), path) << probe;
    EXPECT_EQ(text(get["scheme"]), "HTTPS") << probe;
    EXPECT_EQ(text(get["port"]), "https") << probe;
  }
  EXPECT_TRUE(container["resources"]["requests"]["cpu"].IsDefined());
  EXPECT_TRUE(container["resources"]["limits"]["memory"].IsDefined());
}

TEST(WebhookDeployment, UsesOnlyFlagsPalisadeWebhookHas) {
  const auto chart = render(ChartOptions());
  ASSERT_TRUE(chart) << chart.error().message;
  const auto deployment = chart->find("Deployment", "palisade-webhook");
  ASSERT_TRUE(deployment);
  const auto known = flagsOf(PALISADE_WEBHOOK);
  ASSERT_TRUE(known) << known.error().message;
  const std::vector<std::string> used =
      flagNames(containerNamed(podSpecOf(*deployment), "webhook"));
  EXPECT_THAT(used, ::testing::Contains("--config"));
  EXPECT_THAT(used, ::testing::Contains("--in-cluster"));
  for (const std::string& flag : used) {
    EXPECT_TRUE(known->contains(flag)) << flag << " is not a palisade-webhook flag";
  }
}

TEST(WebhookDeployment, NamesItsReplicaInTheLeaseByThePodName) {
  const auto chart = render(ChartOptions());
  ASSERT_TRUE(chart) << chart.error().message;
  const auto deployment = chart->find("Deployment", "palisade-webhook");
  ASSERT_TRUE(deployment);
  const YAML::Node container = containerNamed(podSpecOf(*deployment), "webhook");
  ASSERT_TRUE(container["env"].IsSequence());
  bool found = false;
  for (const YAML::Node& variable : container["env"]) {
    if (text(variable["name"]) == "POD_NAME") {
      found = true;
      EXPECT_EQ(text(variable["valueFrom"]["fieldRef"]["fieldPath"]), "metadata.name");
    }
  }
  EXPECT_TRUE(found);
}

TEST(WebhookDeployment, ListensOnAnIpv6AddressInBrackets) {
  const auto chart = render(ChartOptions().setValue("webhook.listenAddress=::"));
  ASSERT_TRUE(chart) << chart.error().message;
  const auto deployment = chart->find("Deployment", "palisade-webhook");
  ASSERT_TRUE(deployment);
  EXPECT_THAT(flagValues(containerNamed(podSpecOf(*deployment), "webhook"), "--listen"),
              ElementsAre("[::]:8443"));
}

TEST(WebhookDeployment, ReadsTheConfigMapAsADirectorySoUpdatesReachIt) {
  const auto chart = render(ChartOptions());
  ASSERT_TRUE(chart) << chart.error().message;
  const auto deployment = chart->find("Deployment", "palisade-webhook");
  ASSERT_TRUE(deployment);
  const YAML::Node pod = podSpecOf(*deployment);
  const YAML::Node container = containerNamed(pod, "webhook");
  EXPECT_THAT(flagValues(container, "--config"), ElementsAre("/etc/palisade/config/config.yaml"));
  const YAML::Node mount = mountAt(container, "/etc/palisade/config");
  ASSERT_TRUE(mount.IsDefined());
  // A subPath mount is never updated by the kubelet.
  EXPECT_FALSE(mount["subPath"].IsDefined());
  EXPECT_EQ(text(mount["readOnly"]), "true");
  const YAML::Node volume = volumeNamed(pod, text(mount["name"]));
  EXPECT_EQ(text(volume["configMap"]["name"]), "palisade-config");
  EXPECT_TRUE(chart->find("ConfigMap", "palisade-config"));
}

TEST(WebhookDeployment, ServesTheCertificateFromTheTlsSecret) {
  const auto chart = render(ChartOptions());
  ASSERT_TRUE(chart) << chart.error().message;
  const auto deployment = chart->find("Deployment", "palisade-webhook");
  ASSERT_TRUE(deployment);
  const YAML::Node pod = podSpecOf(*deployment);
  const YAML::Node container = containerNamed(pod, "webhook");
  EXPECT_THAT(flagValues(container, "--tls-cert"), ElementsAre("/etc/palisade/tls/tls.crt"));
  EXPECT_THAT(flagValues(container, "--tls-key"), ElementsAre("/etc/palisade/tls/tls.key"));
  const YAML::Node mount = mountAt(container, "/etc/palisade/tls");
  ASSERT_TRUE(mount.IsDefined());
  EXPECT_FALSE(mount["subPath"].IsDefined());
  const YAML::Node volume = volumeNamed(pod, text(mount["name"]));
  EXPECT_EQ(text(volume["secret"]["secretName"]), "palisade-webhook-tls");
  // Readable by the webhook's group (fsGroup), by no one else.
  EXPECT_EQ(volume["secret"]["defaultMode"].as<int>(), 0440);
  EXPECT_EQ(text(pod["securityContext"]["fsGroup"]), text(pod["securityContext"]["runAsGroup"]));
}

TEST(WebhookRbac, ClusterRoleReadsWhatItJudgesAndWritesOnlyNetworkPolicies) {
  const auto chart = render(ChartOptions());
  ASSERT_TRUE(chart) << chart.error().message;
  const auto role = chart->find("ClusterRole", "palisade-webhook");
  ASSERT_TRUE(role);
  EXPECT_THAT(grants(*role),
              UnorderedElementsAre("/namespaces:get", "/namespaces:list", "/namespaces:watch",
                                   "/pods:get", "/pods:list", "/pods:watch",
                                   "networking.k8s.io/networkpolicies:get",
                                   "networking.k8s.io/networkpolicies:list",
                                   "networking.k8s.io/networkpolicies:watch",
                                   "networking.k8s.io/networkpolicies:create",
                                   "networking.k8s.io/networkpolicies:update",
                                   "networking.k8s.io/networkpolicies:patch",
                                   "networking.k8s.io/networkpolicies:delete"));
}

TEST(WebhookRbac, LeaderElectionLeasesOnlyInTheReleaseNamespace) {
  const auto chart = render(ChartOptions().inNamespace("security"));
  ASSERT_TRUE(chart) << chart.error().message;
  const auto role = chart->find("Role", "palisade-webhook-leader-election");
  ASSERT_TRUE(role);
  EXPECT_EQ(text((*role)["metadata"]["namespace"]), "security");
  EXPECT_THAT(grants(*role),
              UnorderedElementsAre("coordination.k8s.io/leases/palisade-onboarding:get",
                                   "coordination.k8s.io/leases:create",
                                   "coordination.k8s.io/leases/palisade-onboarding:update"));
  EXPECT_THAT(chart->ofKind("Role"), ::testing::SizeIs(1));
}

TEST(WebhookRbac, BindingsGrantTheRolesToTheDeploymentsServiceAccount) {
  const auto chart = render(ChartOptions().inNamespace("security"));
  ASSERT_TRUE(chart) << chart.error().message;
  const auto deployment = chart->find("Deployment", "palisade-webhook");
  ASSERT_TRUE(deployment);
  const std::string account = text(podSpecOf(*deployment)["serviceAccountName"]);
  EXPECT_TRUE(chart->find("ServiceAccount", account));
  for (const auto& [kind, name, role_kind] :
       {std::tuple{"ClusterRoleBinding", "palisade-webhook", "ClusterRole"},
        std::tuple{"RoleBinding", "palisade-webhook-leader-election", "Role"}}) {
    const auto binding = chart->find(kind, name);
    ASSERT_TRUE(binding) << kind;
    EXPECT_EQ(text((*binding)["roleRef"]["kind"]), role_kind);
    EXPECT_EQ(text((*binding)["roleRef"]["name"]), name);
    ASSERT_EQ((*binding)["subjects"].size(), 1u);
    EXPECT_EQ(text((*binding)["subjects"][0]["kind"]), "ServiceAccount");
    EXPECT_EQ(text((*binding)["subjects"][0]["name"]), account);
    EXPECT_EQ(text((*binding)["subjects"][0]["namespace"]), "security");
  }
}

TEST(WebhookConfig, DefaultFileIsAcceptedByTheWebhooksParserAndNamesTheRelease) {
  const auto chart = render(ChartOptions().inNamespace("security"));
  ASSERT_TRUE(chart) << chart.error().message;
  const auto config = policy::parseConfig(configFile(*chart));
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->palisade_namespace, "security");
  EXPECT_EQ(config->service_account, "system:serviceaccount:security:palisade-webhook");
  EXPECT_THAT(config->exempt_namespaces, IsEmpty());
  EXPECT_EQ(config->mode, policy::EnforcementMode::kEnforce);
  ASSERT_EQ(config->pod_labels.rules().size(), 1u);
  EXPECT_EQ(config->pod_labels.rules()[0].key, "app");
  EXPECT_TRUE(config->require_pod_coverage);
}

TEST(WebhookConfig, TaxonomyFromValuesReachesTheFileTheWebhookReads) {
  const auto chart = render(ChartOptions().valuesFile("taxonomy.yaml"));
  ASSERT_TRUE(chart) << chart.error().message;
  const auto config = policy::parseConfig(configFile(*chart));
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->mode, policy::EnforcementMode::kWarn);
  EXPECT_THAT(config->exempt_namespaces, ElementsAre("legacy"));
  ASSERT_EQ(config->namespace_labels.rules().size(), 2u);
  EXPECT_EQ(config->namespace_labels.rules()[1].key, "env");
  EXPECT_EQ(config->namespace_labels.rules()[1].default_value, "dev");
  EXPECT_THAT(config->namespace_labels.rules()[1].allowed_values,
              ElementsAre("prod", "staging", "dev"));
  ASSERT_EQ(config->pod_labels.rules().size(), 2u);
  EXPECT_EQ(config->pod_labels.rules()[1].pattern, "^v?[0-9]+(\\.[0-9]+){0,2}$");
  EXPECT_FALSE(config->pod_labels.rules()[1].required);
  EXPECT_THAT(config->inherited_labels, ElementsAre("team", "env"));
  // The onboarding of a namespace is the one the repository's example
  // configuration, which these values transcribe, gives.
  const auto example =
      policy::parseConfig(readFile(PALISADE_SOURCE_DIR "/examples/palisade-config.yaml"));
  ASSERT_TRUE(example) << example.error().message;
  const auto encoded = [](const policy::OnboardingTemplates& templates) {
    std::vector<std::string> policies;
    for (const policy::NetworkPolicy& policy : policy::onboardingPolicies("shop", templates)) {
      policies.push_back(policy::encodeNetworkPolicy(policy).dump());
    }
    return policies;
  };
  EXPECT_THAT(encoded(config->onboarding), ::testing::SizeIs(3));
  EXPECT_EQ(encoded(config->onboarding), encoded(example->onboarding));
}

TEST(WebhookConfig, ChartOwnedFieldsAreRefusedInConfig) {
  for (const char* assignment :
       {"config.palisadeNamespace=elsewhere", "config.exemptNamespaces={legacy}",
        "config.serviceAccount=system:serviceaccount:elsewhere:someone"}) {
    const auto by_schema = helmTemplate(ChartOptions().setValue(assignment));
    ASSERT_TRUE(by_schema) << by_schema.error().message;
    EXPECT_NE(by_schema->exit_code, 0) << assignment;
    EXPECT_THAT(by_schema->err, HasSubstr("not allowed")) << assignment;

    const auto by_templates = helmTemplate(ChartOptions().setValue(assignment).skipSchema());
    ASSERT_TRUE(by_templates) << by_templates.error().message;
    EXPECT_NE(by_templates->exit_code, 0) << assignment;
    EXPECT_THAT(by_templates->err, HasSubstr("the chart writes it")) << assignment;
  }
}

TEST(WebhookConfig, LabelValuesThatYamlReadsAsBooleansOrNumbersAreRefused) {
  // `values: [on, 1]` would reach the file as "true" and "1".
  const auto rendered = helmTemplate(
      ChartOptions().setJson(R"(config.namespaces.labels=[{"key":"env","values":[true,1]}])"));
  ASSERT_TRUE(rendered) << rendered.error().message;
  EXPECT_NE(rendered->exit_code, 0);
  EXPECT_THAT(rendered->err, HasSubstr("/config/namespaces/labels/0/values/0"));
}

TEST(WebhookConfig, UnknownTaxonomyFieldsAreRefusedAsTheWebhookWould) {
  const auto rendered = helmTemplate(ChartOptions().setValue("config.onboarding.dns.enabeld=true"));
  ASSERT_TRUE(rendered) << rendered.error().message;
  EXPECT_NE(rendered->exit_code, 0);
  EXPECT_THAT(rendered->err, HasSubstr("enabeld"));
}

}  // namespace
}  // namespace palisade::charts
