// palisade-webhook behind a real kube-apiserver: the chart's own webhook
// configurations registered with it (pointing at the webhook on 127.0.0.1),
// the webhook connected back to it as Palisade's service account, kubectl as
// the client. One cluster and one webhook serve the whole program, in the
// order of the tests: the last ones stop webhook replicas.

#include <stdlib.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "charts/tests/helm_chart.h"
#include "tests/e2e/test_cluster.h"
#include "tests/webhook/webhook_process.h"

namespace palisade::e2e {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::WebhookProcess;

// The taxonomy under test: namespaces get env=dev when they have none; pods
// need `app` and inherit `env`; a pod no policy selects is refused.
constexpr std::string_view kConfig = R"(palisadeNamespace: palisade-system
serviceAccount: system:serviceaccount:palisade-system:palisade-webhook
mode: enforce
namespaces:
  labels:
  - key: team
    required: false
    pattern: "^[a-z][a-z0-9-]{1,30}$"
  - key: env
    values: [prod, staging, dev]
    default: dev
pods:
  labels:
  - key: app
  inheritFromNamespace: [env]
  requireNetworkPolicy: true
)";

// Polls `condition` until it holds or `deadline` passes.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds deadline) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    if (condition()) {
      return true;
    }
    std::this_thread::sleep_for(200ms);
  }
  return condition();
}

class WebhookEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    auto dir = makeRunFolder("palisade-e2e-webhook");
    ASSERT_TRUE(dir.has_value()) << dir.error().message;
    dir_ = *dir;
    auto cluster = TestCluster::start(dir_ / "cluster");
    ASSERT_TRUE(cluster.has_value()) << cluster.error().message;
    cluster_ = std::make_unique<TestCluster>(std::move(*cluster));

    std::ofstream(dir_ / "config.yaml") << kConfig;
    ASSERT_TRUE(fs::create_directories(dir_ / "certs"));
    webhook_ = startReplica("e2e-webhook-1", true);
    ASSERT_NE(webhook_, nullptr);
    const uint16_t port = webhook_->waitForPort();
    ASSERT_NE(port, 0) << webhook_->standardError();
    registerChartWebhooks(port);
  }

  void TearDown() override {
    replicas_.clear();
    webhook_.reset();
    for (const std::string& problem :
         finishRun(cluster_, dir_, ::testing::UnitTest::GetInstance()->Passed())) {
      ADD_FAILURE() << problem;
    }
  }

  // A palisade-webhook replica connected to the cluster as Palisade; the
  // first one makes the certificates the others reuse.
  std::unique_ptr<WebhookProcess> startReplica(const std::string& identity, bool first,
                                               std::vector<std::string> extra = {}) {
    const fs::path output = dir_ / identity;
    fs::create_directories(output);
    std::vector<std::string> args = {"--listen",      "127.0.0.1:0",
                                     "--config",      (dir_ / "config.yaml").string(),
                                     "--kubeconfig",  cluster_->kubeconfig(Identity::kPalisade),
                                     "--identity",    identity,
                                     "--resync-period", "30"};
    if (first) {
      args.insert(args.end(), {"--dev-certs", (dir_ / "certs").string()});
    } else {
      args.insert(args.end(), {"--tls-cert", (dir_ / "certs" / "tls.crt").string(), "--tls-key",
                               (dir_ / "certs" / "tls.key").string()});
    }
    args.insert(args.end(), extra.begin(), extra.end());
    std::string error;
    auto process = WebhookProcess::start(PALISADE_WEBHOOK, args, output, &error);
    EXPECT_NE(process, nullptr) << error;
    return process;
  }

  // The chart's MutatingWebhookConfiguration and ValidatingWebhookConfiguration,
  // rendered by helm for provided certificates, with each webhook's Service
  // reference replaced by the loopback URL of the replica on `port` (in a
  // cluster, the Service routes to any live replica; here a test moves it).
  void registerChartWebhooks(uint16_t port) {
    std::ifstream ca_file(dir_ / "certs" / "ca.crt");
    std::stringstream ca;
    ca << ca_file.rdbuf();
    const std::string bundle = base64(ca.str());
    ca_bundle_ = bundle;
    auto rendered = charts::render(charts::ChartOptions()
                                       .setValue("certs.mode=provided")
                                       .setValue("certs.caBundle=" + bundle));
    ASSERT_TRUE(rendered.has_value()) << rendered.error().message;
    YAML::Emitter out;
    for (const char* kind : {"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"}) {
      const std::vector<YAML::Node> found = rendered->ofKind(kind);
      ASSERT_EQ(found.size(), 1u) << kind;
      YAML::Node configuration = YAML::Clone(found.front());
      for (YAML::Node webhook : configuration["webhooks"]) {
        YAML::Node client = webhook["clientConfig"];
        const std::string path = client["service"]["path"].as<std::string>();
        client.remove("service");
        client["url"] = "https://127.0.0.1:" + std::to_string(port) + path;
      }
      out << YAML::BeginDoc << configuration;
    }
    const CommandResult applied =
        cluster_->kubectl(Identity::kAdmin, {"apply", "-f", "-"}, out.c_str());
    ASSERT_EQ(applied.exit_code, 0) << applied.output;
    // The apiserver picks configurations up from its own watch: wait until a
    // dry-run namespace comes back with the label the mutation defaults, twice
    // in a row (the previous replica may still be answering once).
    int answered = 0;
    const bool effective = eventually(
        [&] {
          const CommandResult probe = cluster_->kubectl(
              Identity::kAdmin, {"create", "namespace", "probe", "--dry-run=server", "-o",
                                 "jsonpath={.metadata.labels.env}"});
          answered = probe.exit_code == 0 && probe.output == "dev" ? answered + 1 : 0;
          return answered >= 2;
        },
        30s);
    ASSERT_TRUE(effective) << "the webhook configurations never took effect";
  }

  static std::string base64(const std::string& bytes) {
    const CommandResult encoded = runCommand({"base64", "-w0"}, bytes);
    return encoded.output;
  }

  static WebhookEnvironment& get() { return *instance_; }
  TestCluster& cluster() { return *cluster_; }
  WebhookProcess& webhook() { return *webhook_; }
  std::vector<std::unique_ptr<WebhookProcess>>& replicas() { return replicas_; }
  std::unique_ptr<WebhookProcess>& firstReplica() { return webhook_; }

  const std::string& caBundle() const { return ca_bundle_; }

  static inline WebhookEnvironment* instance_ = nullptr;

 private:
  fs::path dir_;
  std::unique_ptr<TestCluster> cluster_;
  std::unique_ptr<WebhookProcess> webhook_;
  std::vector<std::unique_ptr<WebhookProcess>> replicas_;
  std::string ca_bundle_;
};

TestCluster& cluster() { return WebhookEnvironment::get().cluster(); }

CommandResult asAdmin(const std::vector<std::string>& args, std::string_view input = {}) {
  return cluster().kubectl(Identity::kAdmin, args, input);
}

CommandResult asPalisade(const std::vector<std::string>& args) {
  return cluster().kubectl(Identity::kPalisade, args);
}

std::string managedPolicies(const std::string& ns) {
  const CommandResult got = asAdmin({"get", "networkpolicies", "-n", ns, "-o",
                                     "jsonpath={range .items[*]}{.metadata.name} {end}"});
  return got.exit_code == 0 ? got.output : "";
}

bool hasManagedPolicies(const std::string& ns) {
  const std::string names = managedPolicies(ns);
  return names.find("palisade-default-deny") != std::string::npos &&
         names.find("palisade-allow-dns") != std::string::npos;
}

std::string uidOf(const std::string& ns, const std::string& policy) {
  const CommandResult got =
      asAdmin({"get", "networkpolicy", policy, "-n", ns, "-o", "jsonpath={.metadata.uid}"});
  return got.exit_code == 0 ? got.output : "";
}

// The pods of these tests need the namespace's default ServiceAccount, which
// a cluster without kube-controller-manager does not make.
void createNamespaceReadyForPods(const std::string& ns) {
  ASSERT_EQ(asAdmin({"create", "namespace", ns}).exit_code, 0);
  const CommandResult account = asAdmin({"create", "serviceaccount", "default", "-n", ns});
  ASSERT_EQ(account.exit_code, 0) << account.output;
  ASSERT_TRUE(eventually([&] { return hasManagedPolicies(ns); }, 15s)) << managedPolicies(ns);
}

std::string podManifest(const std::string& ns, const std::string& name,
                        const std::string& labels) {
  return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + name + "\n  namespace: " + ns +
         "\n  labels: " + labels +
         "\nspec:\n  nodeName: node-1\n  containers:\n  - name: main\n    image: busybox\n";
}

// Every object of the chart (provided certificates: cert-manager's kinds need
// its CRDs) as the apiserver would store it: schema, defaulting, validation,
// RBAC escalation checks, admission.
TEST(Chart, TheRenderedChartIsAcceptedByAServerSideDryRun) {
  auto rendered = charts::helmTemplate(charts::ChartOptions()
                                           .setValue("certs.mode=provided")
                                           .setValue("certs.caBundle=" +
                                                     WebhookEnvironment::get().caBundle()));
  ASSERT_TRUE(rendered.has_value()) << rendered.error().message;
  ASSERT_EQ(rendered->exit_code, 0) << rendered->err;
  const CommandResult dry = asAdmin({"apply", "--dry-run=server", "-f", "-"}, rendered->out);
  EXPECT_EQ(dry.exit_code, 0) << dry.output;
  EXPECT_THAT(dry.output, HasSubstr("daemonset.apps/palisade-enforcer created (server dry run)"));
  EXPECT_THAT(dry.output,
              HasSubstr("validatingwebhookconfiguration.admissionregistration.k8s.io/"));
}

TEST(Onboarding, ANewNamespaceGetsDefaultLabelsAndManagedPoliciesWithinSeconds) {
  const CommandResult created = asAdmin({"create", "namespace", "team-a"});
  ASSERT_EQ(created.exit_code, 0) << created.output;
  const CommandResult env =
      asAdmin({"get", "namespace", "team-a", "-o", "jsonpath={.metadata.labels.env}"});
  EXPECT_EQ(env.output, "dev");
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(eventually([] { return hasManagedPolicies("team-a"); }, 10s))
      << managedPolicies("team-a");
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  std::cout << "managed policies present " << took.count() << " ms after kubectl returned\n";
  const CommandResult listed = asAdmin({"get", "netpol", "-n", "team-a"});
  EXPECT_THAT(listed.output, HasSubstr("palisade-default-deny"));
  EXPECT_THAT(listed.output, HasSubstr("palisade-allow-dns"));
}

TEST(Onboarding, SystemNamespacesGetNoPolicies) {
  ASSERT_EQ(asAdmin({"create", "namespace", "after-system-check"}).exit_code, 0);
  ASSERT_TRUE(eventually([] { return hasManagedPolicies("after-system-check"); }, 10s));
  // By then the controller has planned every namespace it knows.
  for (const char* ns : {"kube-system", "kube-public", "kube-node-lease", "palisade-system"}) {
    EXPECT_EQ(managedPolicies(ns), "") << ns;
  }
}

TEST(NamespaceAdmission, ANonConformingLabelIsRejectedWithPalisadesMessage) {
  const CommandResult refused =
      asAdmin({"apply", "-f", "-"},
              "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: bad-env\n  labels:\n"
              "    env: qa\n");
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_THAT(refused.output, HasSubstr("denied the request"));
  EXPECT_THAT(refused.output, HasSubstr(R"(label "env")"));
  EXPECT_NE(asAdmin({"get", "namespace", "bad-env"}).exit_code, 0);
}

TEST(NamespaceAdmission, InWarnModeItIsAdmittedAndKubectlPrintsTheWarning) {
  const CommandResult admitted =
      asAdmin({"apply", "-f", "-"},
              "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: lenient\n  labels:\n"
              "    env: qa\n    palisade.dev/mode: warn\n");
  ASSERT_EQ(admitted.exit_code, 0) << admitted.output;
  EXPECT_THAT(admitted.output, HasSubstr("Warning: "));
  EXPECT_THAT(admitted.output, HasSubstr(R"(label "env")"));
}

TEST(NamespaceAdmission, AServerSideDryRunCreatesNoPolicy) {
  const CommandResult dry = asAdmin(
      {"apply", "--dry-run=server", "-f", "-"},
      "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: only-a-dry-run\n");
  ASSERT_EQ(dry.exit_code, 0) << dry.output;
  // The controller works from the watch, where a dry run never appears; give
  // it the time a real namespace takes to be onboarded, and more.
  ASSERT_EQ(asAdmin({"create", "namespace", "real-after-dry-run"}).exit_code, 0);
  ASSERT_TRUE(eventually([] { return hasManagedPolicies("real-after-dry-run"); }, 10s));
  EXPECT_NE(asAdmin({"get", "namespace", "only-a-dry-run"}).exit_code, 0);
  const CommandResult everywhere = asAdmin(
      {"get", "networkpolicies", "-A", "--field-selector", "metadata.namespace=only-a-dry-run",
       "-o", "name"});
  EXPECT_EQ(everywhere.output, "");
}

TEST(ManagedPolicies, AnOrdinaryUserCannotDeleteTheDefaultDeny) {
  ASSERT_TRUE(eventually([] { return hasManagedPolicies("team-a"); }, 10s));
  const CommandResult refused =
      asAdmin({"delete", "networkpolicy", "palisade-default-deny", "-n", "team-a"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_THAT(refused.output, HasSubstr("denied the request"));
  EXPECT_NE(uidOf("team-a", "palisade-default-deny"), "");
}

TEST(ManagedPolicies, DeletedByPalisadeItIsRestoredByTheController) {
  const std::string before = uidOf("team-a", "palisade-default-deny");
  ASSERT_NE(before, "");
  const CommandResult deleted =
      asPalisade({"delete", "networkpolicy", "palisade-default-deny", "-n", "team-a"});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.output;
  EXPECT_TRUE(eventually(
      [&] {
        const std::string now = uidOf("team-a", "palisade-default-deny");
        return !now.empty() && now != before;
      },
      10s));
}

TEST(PodAdmission, APodWithoutAppIsRejected) {
  createNamespaceReadyForPods("team-pods");
  const CommandResult refused =
      asAdmin({"apply", "-f", "-"}, podManifest("team-pods", "no-app", "{tier: web}"));
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_THAT(refused.output, HasSubstr(R"(label "app" is required)"));
}

TEST(PodAdmission, AConformingPodIsAdmittedAndInheritsTheNamespaceEnv) {
  const CommandResult admitted =
      asAdmin({"apply", "-f", "-"}, podManifest("team-pods", "web", "{app: web}"));
  ASSERT_EQ(admitted.exit_code, 0) << admitted.output;
  const CommandResult env =
      asAdmin({"get", "pod", "web", "-n", "team-pods", "-o", "jsonpath={.metadata.labels.env}"});
  EXPECT_EQ(env.output, "dev");
}

TEST(PodAdmission, ADeploymentWhosePodsLackAppIsRejected) {
  const CommandResult refused = asAdmin(
      {"apply", "-f", "-"},
      "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: team-pods\n"
      "spec:\n  selector:\n    matchLabels: {tier: web}\n  template:\n    metadata:\n"
      "      labels: {tier: web}\n    spec:\n      containers:\n      - name: main\n"
      "        image: busybox\n");
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_THAT(refused.output, HasSubstr(R"(label "app" is required)"));
}

TEST(LeaderElection, OneReplicaLeadsAndAnotherTakesOverWhenItDies) {
  auto& environment = WebhookEnvironment::get();
  auto second = environment.startReplica("e2e-webhook-2", false);
  ASSERT_NE(second, nullptr);
  const uint16_t second_port = second->waitForPort();
  ASSERT_NE(second_port, 0) << second->standardError();
  const auto holder = [] {
    return asAdmin({"get", "lease", "palisade-onboarding", "-n", "palisade-system", "-o",
                    "jsonpath={.spec.holderIdentity}"})
        .output;
  };
  EXPECT_EQ(holder(), "e2e-webhook-1");
  ASSERT_TRUE(environment.firstReplica()->signal(SIGKILL));
  environment.firstReplica()->waitForExit();
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(eventually([&] { return holder() == "e2e-webhook-2"; }, 30s)) << holder();
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  std::cout << "e2e-webhook-2 took the lease " << took.count() << " ms after e2e-webhook-1 died\n";
  // The survivor serves admission and onboards.
  environment.registerChartWebhooks(second_port);
  ASSERT_EQ(asAdmin({"create", "namespace", "after-takeover"}).exit_code, 0);
  EXPECT_TRUE(eventually([] { return hasManagedPolicies("after-takeover"); }, 15s));
  environment.replicas().push_back(std::move(second));
}

// A replica that only admits (no onboarding controller runs anywhere now): a
// new namespace stays without policies, so its pods meet the coverage gate.
TEST(CoverageGate, APodNoPolicySelectsIsRejectedUntilOneDoes) {
  auto& environment = WebhookEnvironment::get();
  auto admitting = environment.startReplica("e2e-webhook-admission-only", false,
                                            {"--no-onboarding"});
  ASSERT_NE(admitting, nullptr);
  const uint16_t port = admitting->waitForPort();
  ASSERT_NE(port, 0) << admitting->standardError();
  environment.registerChartWebhooks(port);
  for (auto& replica : environment.replicas()) {
    replica->signal(SIGTERM);
    replica->waitForExit();
  }
  environment.replicas().push_back(std::move(admitting));

  ASSERT_EQ(asAdmin({"create", "namespace", "uncovered"}).exit_code, 0);
  ASSERT_EQ(asAdmin({"create", "serviceaccount", "default", "-n", "uncovered"}).exit_code, 0);
  const CommandResult refused =
      asAdmin({"apply", "-f", "-"}, podManifest("uncovered", "web", "{app: web}"));
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_THAT(refused.output, HasSubstr(R"(no NetworkPolicy in namespace "uncovered" selects)"));

  const CommandResult policy = asAdmin(
      {"apply", "-f", "-"},
      "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: web\n"
      "  namespace: uncovered\nspec:\n  podSelector:\n    matchLabels: {app: web}\n"
      "  policyTypes: [Ingress]\n");
  ASSERT_EQ(policy.exit_code, 0) << policy.output;
  // Admitted once the webhook's cache has the policy.
  EXPECT_TRUE(eventually(
      [] {
        return asAdmin({"apply", "-f", "-"}, podManifest("uncovered", "web", "{app: web}"))
                   .exit_code == 0;
      },
      10s));
}

// The chart's failurePolicy is Fail: with no webhook answering, what it
// guards is refused (never admitted unchecked), and the namespaces it
// exempts, kube-system first, keep working.
TEST(WebhookDown, GuardedRequestsFailAndKubeSystemKeepsWorking) {
  auto& environment = WebhookEnvironment::get();
  for (auto& replica : environment.replicas()) {
    replica->signal(SIGTERM);
    ASSERT_TRUE(replica->waitForExit().has_value());
  }
  const CommandResult refused = asAdmin({"create", "namespace", "while-down"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_THAT(refused.output, HasSubstr("failed calling webhook"));

  const CommandResult labelled =
      asAdmin({"label", "namespace", "kube-system", "e2e-touched=yes", "--overwrite"});
  EXPECT_EQ(labelled.exit_code, 0) << labelled.output;
  const CommandResult policy = asAdmin(
      {"apply", "-f", "-"},
      "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: e2e\n"
      "  namespace: kube-system\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]\n"
      "  ingress: [{}]\n");
  EXPECT_EQ(policy.exit_code, 0) << policy.output;
  const CommandResult lease = asAdmin(
      {"apply", "-f", "-"},
      "apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata:\n  name: e2e\n"
      "  namespace: kube-node-lease\nspec:\n  holderIdentity: node-1\n");
  EXPECT_EQ(lease.exit_code, 0) << lease.output;
}

}  // namespace
}  // namespace palisade::e2e

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  auto* environment = new palisade::e2e::WebhookEnvironment();
  palisade::e2e::WebhookEnvironment::instance_ = environment;
  ::testing::AddGlobalTestEnvironment(environment);
  return RUN_ALL_TESTS();
}
