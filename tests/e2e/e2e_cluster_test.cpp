// The end-to-end test cluster itself: what Palisade's end-to-end tests take for
// granted about it. One cluster serves the whole program (bringing one up takes
// seconds); the last test takes it down and checks that nothing is left.

#include <stdlib.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "tests/e2e/test_cluster.h"

namespace palisade::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::StartsWith;

constexpr const char* kPalisadeUser = "system:serviceaccount:palisade-system:palisade-webhook";

// Brings the cluster up in a temporary folder before the first test and makes
// sure it is down after the last. The folder is removed when every test
// passed, and kept (with the logs) otherwise.
class ClusterEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    auto dir = makeRunFolder("palisade-e2e");
    ASSERT_TRUE(dir.has_value()) << dir.error().message;
    dir_ = *dir;
    auto cluster = TestCluster::start(dir_);
    ASSERT_TRUE(cluster.has_value()) << cluster.error().message;
    cluster_ = std::make_unique<TestCluster>(std::move(*cluster));
  }

  void TearDown() override {
    for (const std::string& problem :
         finishRun(cluster_, dir_, ::testing::UnitTest::GetInstance()->Passed())) {
      ADD_FAILURE() << problem;
    }
  }

  static TestCluster& cluster() { return *cluster_; }

 private:
  static inline std::unique_ptr<TestCluster> cluster_;
  std::filesystem::path dir_;
};

TestCluster& cluster() { return ClusterEnvironment::cluster(); }

// kubectl auth can-i VERB RESOURCE [in NAMESPACE] as Palisade: "yes" or "no".
std::string palisadeCanI(const std::string& verb, const std::string& resource,
                         const std::optional<std::string>& namespace_name) {
  std::vector<std::string> args = {"auth", "can-i", verb, resource};
  if (namespace_name) {
    args.push_back("--namespace=" + *namespace_name);
  } else {
    args.push_back("--all-namespaces");
  }
  const CommandResult result = cluster().kubectl(Identity::kPalisade, args);
  // can-i exits 0 for yes and 1 for no; anything else is an error.
  EXPECT_TRUE(result.exit_code == 0 || result.exit_code == 1) << result.output;
  std::istringstream words(result.output);
  std::string answer;
  words >> answer;
  return answer;
}

void createNamespace(const std::string& name) {
  const CommandResult created = cluster().kubectl(Identity::kAdmin, {"create", "namespace", name});
  ASSERT_EQ(created.exit_code, 0) << created.output;
}

// An address ss prints ("127.0.0.1:2379", "[::1]:80", "[::ffff:127.0.0.1]:1")
// is on loopback.
bool isLoopback(const std::string& address) {
  return address.starts_with("127.") || address.starts_with("[::1]:") ||
         address.starts_with("[::ffff:127.");
}

TEST(ClusterUp, ApiServerAnswersReadyz) {
  const CommandResult ready = cluster().kubectl(Identity::kAdmin, {"get", "--raw", "/readyz"});
  ASSERT_EQ(ready.exit_code, 0) << ready.output;
  EXPECT_EQ(ready.output, "ok");
}

TEST(ClusterUp, ApiServerIsOnLoopbackAtTheUrlInEnv) {
  EXPECT_THAT(cluster().apiserverUrl(), StartsWith("https://127.0.0.1:"));
  const CommandResult info = cluster().kubectl(Identity::kAdmin, {"cluster-info"});
  ASSERT_EQ(info.exit_code, 0) << info.output;
  EXPECT_THAT(info.output, HasSubstr(cluster().apiserverUrl()));
}

// Nothing the control plane does may reach past loopback: every socket of
// etcd and kube-apiserver, listening or connected, has loopback ends.
TEST(ClusterUp, EverySocketOfTheControlPlaneIsOnLoopback) {
  for (const pid_t pid : {cluster().etcdPid(), cluster().apiserverPid()}) {
    ASSERT_GT(pid, 0);
    const CommandResult sockets = runCommand({"ss", "-Htuanp"});
    ASSERT_EQ(sockets.exit_code, 0) << sockets.output;
    const std::string owner = "pid=" + std::to_string(pid) + ",";
    int count = 0;
    std::istringstream lines(sockets.output);
    for (std::string line; std::getline(lines, line);) {
      if (line.find(owner) == std::string::npos) {
        continue;
      }
      ++count;
      // Netid State Recv-Q Send-Q Local Peer Process
      std::istringstream fields(line);
      std::string netid, state, receive_queue, send_queue, local, peer;
      fields >> netid >> state >> receive_queue >> send_queue >> local >> peer;
      EXPECT_TRUE(isLoopback(local)) << line;
      EXPECT_TRUE(isLoopback(peer) || peer.ends_with(":*")) << line;
      if (peer.ends_with(":*")) {
        EXPECT_EQ(state, "LISTEN") << line;
      }
    }
    // etcd's client and peer listeners, the apiserver's port and its etcd
    // connections at the least.
    EXPECT_GE(count, 2) << "pid " << pid << ":\n" << sockets.output;
  }
}

TEST(ClusterAdmin, CreatesANamespace) {
  createNamespace("e2e-admin");
  const CommandResult got = cluster().kubectl(
      Identity::kAdmin, {"get", "namespace", "e2e-admin", "-o", "jsonpath={.status.phase}"});
  ASSERT_EQ(got.exit_code, 0) << got.output;
  EXPECT_EQ(got.output, "Active");
}

TEST(ClusterAdmin, FindsPalisadeSystemPrepared) {
  const CommandResult account = cluster().kubectl(
      Identity::kAdmin, {"get", "serviceaccount", "palisade-webhook", "-n", "palisade-system"});
  EXPECT_EQ(account.exit_code, 0) << account.output;
}

TEST(PalisadeIdentity, IsTheWebhookServiceAccount) {
  const CommandResult whoami = cluster().kubectl(
      Identity::kPalisade, {"auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"});
  ASSERT_EQ(whoami.exit_code, 0) << whoami.output;
  EXPECT_EQ(whoami.output, kPalisadeUser);
}

TEST(PalisadeIdentity, ListsPodsAndNamespacesClusterWide) {
  EXPECT_EQ(palisadeCanI("list", "pods", std::nullopt), "yes");
  EXPECT_EQ(palisadeCanI("watch", "namespaces", std::nullopt), "yes");
  const CommandResult pods = cluster().kubectl(Identity::kPalisade, {"get", "pods", "-A"});
  EXPECT_EQ(pods.exit_code, 0) << pods.output;
}

TEST(PalisadeIdentity, CreatesANetworkPolicy) {
  createNamespace("e2e-policy");
  EXPECT_EQ(palisadeCanI("create", "networkpolicies.networking.k8s.io", "e2e-policy"), "yes");
  const CommandResult created = cluster().kubectl(Identity::kPalisade, {"apply", "-f", "-"}, R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: deny-all
  namespace: e2e-policy
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
)");
  ASSERT_EQ(created.exit_code, 0) << created.output;
  const CommandResult deleted = cluster().kubectl(
      Identity::kPalisade, {"delete", "networkpolicy", "deny-all", "-n", "e2e-policy"});
  EXPECT_EQ(deleted.exit_code, 0) << deleted.output;
}

TEST(PalisadeIdentity, CannotCreateASecret) {
  createNamespace("e2e-secret");
  EXPECT_EQ(palisadeCanI("create", "secrets", "e2e-secret"), "no");
  const CommandResult created = cluster().kubectl(
      Identity::kPalisade,
      {"create", "secret", "generic", "stolen", "--from-literal=key=value", "-n", "e2e-secret"});
  EXPECT_NE(created.exit_code, 0);
  EXPECT_THAT(created.output, HasSubstr("forbidden")) << created.output;
}

TEST(PalisadeIdentity, HoldsLeasesOnlyInPalisadeSystem) {
  EXPECT_EQ(palisadeCanI("create", "leases.coordination.k8s.io", "palisade-system"), "yes");
  EXPECT_EQ(palisadeCanI("update", "leases.coordination.k8s.io", "palisade-system"), "yes");
  EXPECT_EQ(palisadeCanI("create", "leases.coordination.k8s.io", "default"), "no");
}

// Declared last, so it runs last: the tests above need the cluster.
TEST(ClusterDown, LeavesNoProcessOfTheFolderRunning) {
  const std::string url = cluster().apiserverUrl();
  const std::string port = url.substr(url.rfind(':') + 1);
  ASSERT_THAT(processesMentioning(cluster().dir()), SizeIs(2));
  const auto stopped = cluster().stop();
  ASSERT_TRUE(stopped.has_value()) << stopped.error().message;
  EXPECT_THAT(processesMentioning(cluster().dir()), IsEmpty());
  const CommandResult listeners = runCommand({"ss", "-Htln", "( sport = :" + port + " )"});
  ASSERT_EQ(listeners.exit_code, 0) << listeners.output;
  EXPECT_THAT(listeners.output, IsEmpty()) << "port " << port << " is still taken";
  // Down again is harmless.
  const auto again = cluster().stop();
  EXPECT_TRUE(again.has_value()) << again.error().message;
}

}  // namespace
}  // namespace palisade::e2e

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new palisade::e2e::ClusterEnvironment);
  return RUN_ALL_TESTS();
}
