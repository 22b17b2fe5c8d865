#include "kube/cluster_cache.h"

#include <gtest/gtest.h>

#include "kube/testing/fake_apiserver.h"
#include "kube/testing/objects.h"
#include "policy/oracle.h"
#include "tests/support/tls_test_client.h"

namespace palisade::kube {
namespace {

using testing::FakeApiServer;

constexpr std::chrono::milliseconds kDeadline{10000};

ClusterCacheOptions fastOptions() {
  ClusterCacheOptions options;
  for (InformerOptions* informer :
       {&options.namespaces, &options.pods, &options.network_policies}) {
    informer->backoff.initial = std::chrono::milliseconds(20);
    informer->backoff.max = std::chrono::milliseconds(200);
  }
  return options;
}

TEST(ClusterCache, SnapshotHoldsTheClusterAsPolicyObjects) {
  FakeApiServer server;
  server.create(kNamespaces, testing::namespaceJson("team-a", {{"env", "prod"}}));
  server.create(kPods, testing::podJson("team-a", "web-1", {{"app", "web"}}, "10.1.0.7"));
  server.create(kPods, testing::podJson("team-a", "db-1", {{"app", "db"}}, "10.1.0.8"));
  server.create(kNetworkPolicies, testing::networkPolicyJson("team-a", "allow-web", "web"));
  auto client = *ApiClient::fromConfig(server.clientConfig());
  ClusterCache cache(*client, fastOptions());
  EXPECT_FALSE(cache.hasSynced());
  cache.start();
  ASSERT_TRUE(cache.waitForSync(kDeadline));

  const policy::ClusterState state = cache.snapshot();
  ASSERT_EQ(state.namespaces.size(), 1u);
  EXPECT_EQ(state.namespaces[0].metadata.labels.at("env"), "prod");
  ASSERT_EQ(state.pods.size(), 2u);
  EXPECT_EQ(state.pods[0].metadata.name, "db-1");  // sorted by namespace/name
  EXPECT_EQ(state.pods[1].pod_ip, "10.1.0.7");
  ASSERT_EQ(state.policies.size(), 1u);
  EXPECT_EQ(state.policies[0].spec.pod_selector.match_labels.at("app"), "web");
  // The oracle reads it as it reads manifests: web admits only web.
  const policy::ReachabilityOracle oracle(state);
  const policy::PodRef web{"team-a", "web-1"};
  const policy::PodRef db{"team-a", "db-1"};
  auto into_web = oracle.evaluate(policy::Flow{db, web, policy::Protocol::kTCP, 8080, {}});
  ASSERT_TRUE(into_web.has_value()) << into_web.error().message;
  EXPECT_FALSE(into_web->allowed);
  auto into_db = oracle.evaluate(policy::Flow{web, db, policy::Protocol::kTCP, 5432, {}});
  ASSERT_TRUE(into_db.has_value()) << into_db.error().message;
  EXPECT_TRUE(into_db->allowed);
}

TEST(ClusterCache, ChangeToAnyResourceAdvancesTheSharedGeneration) {
  FakeApiServer server;
  auto client = *ApiClient::fromConfig(server.clientConfig());
  ClusterCache cache(*client, fastOptions());
  cache.start();
  ASSERT_TRUE(cache.waitForSync(kDeadline));
  ASSERT_TRUE(palisade::testing::waitFor(
      [&] { return server.openWatches() == 3; }, kDeadline));

  uint64_t seen = cache.generation();
  server.create(kNetworkPolicies, testing::networkPolicyJson("team-a", "deny", "web"));
  seen = cache.waitForChange(seen, kDeadline);
  EXPECT_EQ(cache.snapshot().policies.size(), 1u);
  server.create(kNamespaces, testing::namespaceJson("team-a"));
  seen = cache.waitForChange(seen, kDeadline);
  EXPECT_EQ(cache.snapshot().namespaces.size(), 1u);
  server.create(kPods, testing::podJson("team-a", "web-1"));
  cache.waitForChange(seen, kDeadline);
  EXPECT_EQ(cache.snapshot().pods.size(), 1u);
}

TEST(ClusterCache, IsNotSyncedUntilEveryResourceHasListed) {
  FakeApiServer server;
  // Refused for a couple of seconds (backoff capped at 200 ms), as while
  // RBAC for Palisade's service account is still being applied.
  server.failNext("GET", "/apis/networking.k8s.io/v1/networkpolicies", 403, 15);
  auto client = *ApiClient::fromConfig(server.clientConfig());
  ClusterCache cache(*client, fastOptions());
  cache.start();
  ASSERT_TRUE(cache.pods().waitForSync(kDeadline));
  ASSERT_TRUE(cache.namespaces().waitForSync(kDeadline));
  EXPECT_FALSE(cache.hasSynced());
  EXPECT_FALSE(cache.waitForSync(std::chrono::milliseconds(100)));
  ASSERT_TRUE(cache.waitForSync(kDeadline));
  EXPECT_GE(cache.networkPolicies().stats().lists, 1u);
  EXPECT_NE(cache.networkPolicies().stats().last_error.find("403 Forbidden"), std::string::npos)
      << cache.networkPolicies().stats().last_error;
}

}  // namespace
}  // namespace palisade::kube
