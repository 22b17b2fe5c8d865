// The chart as a whole: it lints with every supported combination of values,
// renders the objects it should, takes its certificates from cert-manager or
// from `palisadectl certs`, passes images and scheduling values through, and
// documents every value it has.

#include <chrono>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "certs/certificate_authority.h"
#include "charts/tests/chart_test_support.h"
#include "charts/tests/helm_chart.h"

namespace palisade::charts {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

constexpr std::string_view kConfigurations[] = {"MutatingWebhookConfiguration",
                                                "ValidatingWebhookConfiguration"};

// A caBundle as `palisadectl certs` prints it, made now.
std::string freshCaBundle() {
  auto ca = certs::makeCertificateAuthority("palisade-chart-test-ca", std::chrono::hours(24));
  if (!ca) {
    ADD_FAILURE() << ca.error().message;
    return "";
  }
  return certs::caBundle(*ca);
}

ChartOptions providedMode() {
  return ChartOptions().valuesFile("provided.yaml").setValue("certs.caBundle=" + freshCaBundle());
}

void expectLintPasses(const ChartOptions& options, const std::string& what) {
  const auto lint = helmLint(options);
  ASSERT_TRUE(lint) << lint.error().message;
  EXPECT_EQ(lint->exit_code, 0) << what << ":\n" << lint->out << lint->err;
}

TEST(ChartLint, PassesStrictLintWithDefaultValues) {
  expectLintPasses(ChartOptions(), "defaults");
}

TEST(ChartLint, PassesStrictLintWithEveryCertificateMode) {
  expectLintPasses(ChartOptions().setValue("certs.mode=certManager"), "certManager");
  expectLintPasses(providedMode(), "provided");
}

TEST(ChartLint, PassesStrictLintWithNonDefaultValues) {
  expectLintPasses(ChartOptions().setValue("enforcer.enabled=false"), "enforcer disabled");
  expectLintPasses(ChartOptions().valuesFile("exempt-namespaces.yaml"), "extra exempt namespaces");
  expectLintPasses(ChartOptions().setValue("webhook.failurePolicy=Ignore"), "failurePolicy Ignore");
  expectLintPasses(ChartOptions().valuesFile("taxonomy.yaml"), "taxonomy");
  expectLintPasses(ChartOptions().valuesFile("placement.yaml"), "placement");
  expectLintPasses(ChartOptions().setValue("enforcer.uninstall=true"), "enforcer uninstall");
}

TEST(ChartLint, FailsWhenValuesTryToReplaceTheExemptingNamespaceSelector) {
  const auto lint = helmLint(ChartOptions().setJson(R"(webhook.namespaceSelector={})"));
  ASSERT_TRUE(lint) << lint.error().message;
  EXPECT_NE(lint->exit_code, 0);
}

TEST(ChartObjects, DefaultValuesRenderTheWebhookTheEnforcerAndCertManagerCertificates) {
  const auto chart = render(ChartOptions());
  ASSERT_TRUE(chart) << chart.error().message;
  EXPECT_THAT(chart->names(),
              UnorderedElementsAre(
                  "ServiceAccount/palisade-webhook", "ServiceAccount/palisade-enforcer",
                  "ConfigMap/palisade-config", "ClusterRole/palisade-webhook",
                  "ClusterRole/palisade-enforcer", "ClusterRoleBinding/palisade-webhook",
                  "ClusterRoleBinding/palisade-enforcer",
                  "Role/palisade-webhook-leader-election",
                  "RoleBinding/palisade-webhook-leader-election", "Service/palisade-webhook",
                  "Deployment/palisade-webhook", "DaemonSet/palisade-enforcer",
                  "PodDisruptionBudget/palisade-webhook", "Issuer/palisade-selfsigned",
                  "Issuer/palisade-ca", "Certificate/palisade-ca",
                  "Certificate/palisade-webhook-tls", "MutatingWebhookConfiguration/palisade",
                  "ValidatingWebhookConfiguration/palisade"));
}

TEST(ChartObjects, NamespacedObjectsGoToTheReleaseNamespace) {
  const auto chart = render(ChartOptions().inNamespace("security"));
  ASSERT_TRUE(chart) << chart.error().message;
  for (const YAML::Node& document : chart->documents()) {
    const std::string kind = text(document["kind"]);
    const bool cluster_scoped = kind == "ClusterRole" || kind == "ClusterRoleBinding" ||
                                kind.ends_with("WebhookConfiguration");
    EXPECT_EQ(text(document["metadata"]["namespace"]), cluster_scoped ? "" : "security")
        << kind << "/" << text(document["metadata"]["name"]);
  }
}

TEST(ChartObjects, ReleaseNameOtherThanPalisadePrefixesEveryName) {
  const auto chart = render(ChartOptions().releaseName("edge"));
  ASSERT_TRUE(chart) << chart.error().message;
  EXPECT_TRUE(chart->find("Deployment", "edge-palisade-webhook"));
  const auto mutating = chart->find("MutatingWebhookConfiguration", "edge-palisade");
  ASSERT_TRUE(mutating);
  EXPECT_EQ(text((*mutating)["webhooks"][0]["clientConfig"]["service"]["name"]),
            "edge-palisade-webhook");
}

TEST(CertManagerMode, InjectsTheCaOfTheServingCertificateIntoBothConfigurations) {
  const auto chart = render(ChartOptions().setValue("certs.mode=certManager"));
  ASSERT_TRUE(chart) << chart.error().message;
  const auto certificate = chart->find("Certificate", "palisade-webhook-tls");
  ASSERT_TRUE(certificate);
  for (const std::string_view kind : kConfigurations) {
    const auto configuration = chart->find(kind, "palisade");
    ASSERT_TRUE(configuration) << kind;
    EXPECT_EQ(text((*configuration)["metadata"]["annotations"]["cert-manager.io/inject-ca-from"]),
              "palisade-system/palisade-webhook-tls")
        << kind;
    // cert-manager writes it; a value here would fight the injector.
    EXPECT_FALSE((*configuration)["webhooks"][0]["clientConfig"]["caBundle"].IsDefined()) << kind;
  }
}

TEST(CertManagerMode, ServingCertificateNamesTheServiceAndIsIssuedByTheReleasesCa) {
  const auto chart =
      render(ChartOptions().inNamespace("security").setValue("clusterDomain=k8s.example"));
  ASSERT_TRUE(chart) << chart.error().message;
  const auto serving = chart->find("Certificate", "palisade-webhook-tls");
  ASSERT_TRUE(serving);
  EXPECT_THAT(texts((*serving)["spec"]["dnsNames"]),
              ElementsAre("palisade-webhook", "palisade-webhook.security",
                          "palisade-webhook.security.svc",
                          "palisade-webhook.security.svc.k8s.example"));
  EXPECT_NE(text((*serving)["spec"]["isCA"]), "true");
  EXPECT_THAT(texts((*serving)["spec"]["usages"]), Contains("server auth"));
  // The Secret cert-manager writes is the one the webhook mounts.
  const auto deployment = chart->find("Deployment", "palisade-webhook");
  ASSERT_TRUE(deployment);
  EXPECT_EQ(text((*serving)["spec"]["secretName"]),
            text(volumeNamed(podSpecOf(*deployment), "tls")["secret"]["secretName"]));

  // self-signed Issuer -> CA Certificate -> CA Issuer -> serving Certificate.
  const YAML::Node serving_issuer = (*serving)["spec"]["issuerRef"];
  EXPECT_EQ(text(serving_issuer["kind"]), "Issuer");
  const auto ca_issuer = chart->find("Issuer", text(serving_issuer["name"]));
  ASSERT_TRUE(ca_issuer);
  const auto ca = chart->find("Certificate", "palisade-ca");
  ASSERT_TRUE(ca);
  EXPECT_EQ(text((*ca_issuer)["spec"]["ca"]["secretName"]), text((*ca)["spec"]["secretName"]));
  EXPECT_EQ(text((*ca)["spec"]["isCA"]), "true");
  const auto self_signed = chart->find("Issuer", text((*ca)["spec"]["issuerRef"]["name"]));
  ASSERT_TRUE(self_signed);
  EXPECT_TRUE((*self_signed)["spec"]["selfSigned"].IsDefined());
}

TEST(ProvidedMode, SetsTheCaBundleAndMakesNoCertManagerObjects) {
  const std::string bundle = freshCaBundle();
  const auto chart =
      render(ChartOptions().valuesFile("provided.yaml").setValue("certs.caBundle=" + bundle));
  ASSERT_TRUE(chart) << chart.error().message;
  EXPECT_THAT(chart->ofKind("Certificate"), IsEmpty());
  EXPECT_THAT(chart->ofKind("Issuer"), IsEmpty());
  for (const std::string_view kind : kConfigurations) {
    const auto configuration = chart->find(kind, "palisade");
    ASSERT_TRUE(configuration) << kind;
    EXPECT_EQ(text((*configuration)["webhooks"][0]["clientConfig"]["caBundle"]), bundle) << kind;
    EXPECT_FALSE((*configuration)["metadata"]["annotations"].IsDefined()) << kind;
  }
  // The existing Secret named by certs.secretName is the one mounted.
  const auto deployment = chart->find("Deployment", "palisade-webhook");
  ASSERT_TRUE(deployment);
  EXPECT_EQ(text(volumeNamed(podSpecOf(*deployment), "tls")["secret"]["secretName"]),
            "palisade-webhook-certs");
}

TEST(ProvidedMode, MissingCaBundleStopsRenderingWithAClearMessage) {
  const auto rendered = helmTemplate(ChartOptions().setValue("certs.mode=provided"));
  ASSERT_TRUE(rendered) << rendered.error().message;
  EXPECT_NE(rendered->exit_code, 0);
  EXPECT_THAT(rendered->err,
              HasSubstr("certs.caBundle is required when certs.mode is provided"));
  EXPECT_THAT(rendered->err, HasSubstr("palisadectl certs"));
}

TEST(ProvidedMode, PemTextInsteadOfBase64IsRefused) {
  const std::string pem = "-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----";
  const auto by_schema = helmTemplate(
      ChartOptions().setValue("certs.mode=provided").setValue("certs.caBundle=" + pem));
  ASSERT_TRUE(by_schema) << by_schema.error().message;
  EXPECT_NE(by_schema->exit_code, 0);
  EXPECT_THAT(by_schema->err, HasSubstr("/certs/caBundle"));

  // Base64, but of "not a certificate".
  const auto by_templates = helmTemplate(ChartOptions()
                                              .setValue("certs.mode=provided")
                                              .setValue("certs.caBundle=bm90IGEgY2VydGlmaWNhdGU=")
                                              .skipSchema());
  ASSERT_TRUE(by_templates) << by_templates.error().message;
  EXPECT_NE(by_templates->exit_code, 0);
  EXPECT_THAT(by_templates->err, HasSubstr("base64 of a PEM CA certificate"));
}

TEST(CertificateModes, AnUnknownModeIsRefusedBySchemaAndTemplates) {
  const auto by_schema = helmTemplate(ChartOptions().setValue("certs.mode=selfSigned"));
  ASSERT_TRUE(by_schema) << by_schema.error().message;
  EXPECT_NE(by_schema->exit_code, 0);
  EXPECT_THAT(by_schema->err, HasSubstr("/certs/mode"));

  const auto by_templates =
      helmTemplate(ChartOptions().setValue("certs.mode=selfSigned").skipSchema());
  ASSERT_TRUE(by_templates) << by_templates.error().message;
  EXPECT_NE(by_templates->exit_code, 0);
  EXPECT_THAT(by_templates->err, HasSubstr("certs.mode must be certManager or provided"));
}

TEST(CertificateModes, ACaBundleWithCertManagerIsRefused) {
  const auto rendered = helmTemplate(ChartOptions().setValue("certs.caBundle=" + freshCaBundle()));
  ASSERT_TRUE(rendered) << rendered.error().message;
  EXPECT_NE(rendered->exit_code, 0);
  EXPECT_THAT(rendered->err, HasSubstr("certs.caBundle is used only with certs.mode=provided"));
}

TEST(Images, TagDefaultsToTheChartsAppVersion) {
  const auto chart = render(ChartOptions());
  ASSERT_TRUE(chart) << chart.error().message;
  const auto app_version =
      YAML::LoadFile(chartDir() + "/Chart.yaml")["appVersion"].as<std::string>();
  const auto deployment = chart->find("Deployment", "palisade-webhook");
  const auto daemon_set = chart->find("DaemonSet", "palisade-enforcer");
  ASSERT_TRUE(deployment && daemon_set);
  EXPECT_EQ(text(containerNamed(podSpecOf(*deployment), "webhook")["image"]),
            "palisade-webhook:" + app_version);
  EXPECT_EQ(text(containerNamed(podSpecOf(*daemon_set), "enforcer")["image"]),
            "palisade-enforcer:" + app_version);
}

TEST(Images, RepositoryTagPullPolicyAndPullSecretsComeFromValues) {
  const auto chart = render(ChartOptions().valuesFile("placement.yaml"));
  ASSERT_TRUE(chart) << chart.error().message;
  for (const auto& [kind, name, container_name, image] :
       {std::tuple{"Deployment", "palisade-webhook", "webhook",
                   "registry.example/palisade/palisade-webhook:1.2.3"},
        std::tuple{"DaemonSet", "palisade-enforcer", "enforcer",
                   "registry.example/palisade/palisade-enforcer:1.2.3"}}) {
    const auto workload = chart->find(kind, name);
    ASSERT_TRUE(workload) << kind;
    const YAML::Node pod = podSpecOf(*workload);
    const YAML::Node container = containerNamed(pod, container_name);
    EXPECT_EQ(text(container["image"]), image);
    EXPECT_EQ(text(container["imagePullPolicy"]), "Always");
    ASSERT_EQ(pod["imagePullSecrets"].size(), 1u) << kind;
    EXPECT_EQ(text(pod["imagePullSecrets"][0]["name"]), "regcred") << kind;
  }
}

TEST(Scheduling, NodeSelectorAffinityTolerationsAnnotationsAndLabelsReachThePods) {
  const auto chart = render(ChartOptions().valuesFile("placement.yaml"));
  ASSERT_TRUE(chart) << chart.error().message;
  const auto deployment = chart->find("Deployment", "palisade-webhook");
  const auto daemon_set = chart->find("DaemonSet", "palisade-enforcer");
  ASSERT_TRUE(deployment && daemon_set);

  const YAML::Node webhook = (*deployment)["spec"]["template"];
  EXPECT_EQ(text(webhook["spec"]["nodeSelector"]["node-role.example/infra"]), "true");
  EXPECT_TRUE(webhook["spec"]["affinity"]["nodeAffinity"].IsDefined());
  EXPECT_EQ(text(webhook["spec"]["tolerations"][0]["key"]), "infra");
  EXPECT_EQ(text(webhook["metadata"]["annotations"]["prometheus.io/scrape"]), "true");
  EXPECT_EQ(text(webhook["metadata"]["labels"]["team"]), "platform");
  EXPECT_EQ(text(webhook["spec"]["containers"][0]["resources"]["requests"]["cpu"]), "250m");
  // Extra pod labels never change what the Deployment selects.
  EXPECT_FALSE((*deployment)["spec"]["selector"]["matchLabels"]["team"].IsDefined());

  const YAML::Node enforcer = (*daemon_set)["spec"]["template"];
  EXPECT_EQ(text(enforcer["spec"]["nodeSelector"]["kubernetes.io/os"]), "linux");
  ASSERT_EQ(enforcer["spec"]["tolerations"].size(), 1u);
  EXPECT_EQ(text(enforcer["spec"]["tolerations"][0]["value"]), "gpu");
  EXPECT_EQ(text(enforcer["metadata"]["annotations"]["prometheus.io/port"]), "9464");
  EXPECT_EQ(text(enforcer["metadata"]["labels"]["team"]), "platform");
}

// Every value the chart has, as the dotted paths values.yaml defines: the
// leaves, and the maps and lists users fill in whole.
void collectValuePaths(const YAML::Node& node, const std::string& prefix,
                       std::vector<std::string>& paths) {
  if (!node.IsMap() || node.size() == 0) {
    paths.push_back(prefix);
    return;
  }
  // Free-form maps (resources, a label selector) are documented whole.
  for (const std::string_view whole :
       {"webhook.resources", "enforcer.resources", "enforcer.seccompProfile",
        "config.onboarding.dns.podSelector"}) {
    if (prefix == whole) {
      paths.push_back(prefix);
      return;
    }
  }
  for (const auto& entry : node) {
    const std::string key = entry.first.as<std::string>();
    collectValuePaths(entry.second, prefix.empty() ? key : prefix + "." + key, paths);
  }
}

TEST(ChartReadme, DocumentsEveryValue) {
  const YAML::Node values = YAML::LoadFile(chartDir() + "/values.yaml");
  std::vector<std::string> paths;
  collectValuePaths(values, "", paths);
  ASSERT_GT(paths.size(), 40u);
  const std::string readme = readFile(chartDir() + "/README.md");
  for (const std::string& path : paths) {
    EXPECT_NE(readme.find("| `" + path + "` |"), std::string::npos)
        << path << " has no row in README.md";
  }
}

}  // namespace
}  // namespace palisade::charts
