#include "enforcer/enforcer.h"

#include <unistd.h>

#include <deque>
#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "enforcer/testing/recording_dataplane.h"
#include "policy/manifest.h"

namespace palisade::enforcer {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::RecordingDataplane;

// Hands out the states it is given, one per next().
class ScriptedSource : public ClusterSource {
 public:
  policy::Result<std::optional<policy::ClusterState>> next(std::chrono::milliseconds) override {
    if (states.empty()) {
      return std::optional<policy::ClusterState>();
    }
    auto state = std::move(states.front());
    states.pop_front();
    return state;
  }
  std::deque<policy::Result<std::optional<policy::ClusterState>>> states;
};

policy::ClusterState cluster(std::string_view yaml) {
  return policy::clusterStateOf(policy::readManifest(yaml, "test.yaml"));
}

constexpr std::string_view kTwoPods = R"(
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: shop, labels: {app: db}}
status: {podIP: 10.0.0.2}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: shop}
spec: {podSelector: {}}
)";

// Pods 10.0.0.1 and 10.0.0.2 are behind interfaces 11 and 12; 10.9.9.9 is
// routed elsewhere (another node).
policy::Result<std::optional<PodInterface>> fakeInterfaces(const policy::IpAddress& address) {
  const std::string text = address.toString();
  if (text == "10.0.0.1") {
    return std::optional(PodInterface{11, "web-h"});
  }
  if (text == "10.0.0.2") {
    return std::optional(PodInterface{12, "db-h"});
  }
  return std::optional<PodInterface>();
}

class EnforcerTest : public ::testing::Test {
 protected:
  EnforcerTest() : enforcer_(dataplane_, source_, fakeInterfaces, registry_, options()) {}

  EnforcerOptions options() {
    EnforcerOptions options;
    options.node.node_addresses = {policy::IpAddress::parse("192.168.0.1").value()};
    ready_file_ = std::filesystem::temp_directory_path() /
                  ("palisade-enforcer-ready-" + std::to_string(::getpid()));
    std::filesystem::remove(ready_file_);
    options.ready_file = ready_file_;
    return options;
  }
  ~EnforcerTest() override { std::filesystem::remove(ready_file_); }

  RecordingDataplane dataplane_;
  ScriptedSource source_;
  server::metrics::Registry registry_;
  std::filesystem::path ready_file_;
  Enforcer enforcer_;
};

TEST_F(EnforcerTest, TablesAreLiveBeforeAPodsInterfaceIsAttached) {
  ASSERT_TRUE(enforcer_.start().has_value());
  source_.states.push_back(std::optional(cluster(kTwoPods)));
  enforcer_.step(std::chrono::milliseconds(0));
  EXPECT_THAT(dataplane_.calls, ElementsAre("node 1", "mode enforce", "apply 1", "addresses 11 1",
                                            "attach 11", "addresses 12 1", "attach 12"));
  EXPECT_TRUE(std::filesystem::exists(ready_file_));
}

TEST_F(EnforcerTest, PodsThatGoAwayAreDetachedAndNewOnesAttached) {
  ASSERT_TRUE(enforcer_.start().has_value());
  source_.states.push_back(std::optional(cluster(kTwoPods)));
  enforcer_.step(std::chrono::milliseconds(0));
  dataplane_.calls.clear();
  source_.states.push_back(std::optional(cluster(R"(
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: remote, namespace: shop}
status: {podIP: 10.9.9.9}
)")));
  enforcer_.step(std::chrono::milliseconds(0));
  EXPECT_THAT(dataplane_.calls, ElementsAre("apply 2", "detach 12"));
  EXPECT_THAT(dataplane_.attached, ElementsAre(11));
}

TEST_F(EnforcerTest, AFailedUpdateKeepsTheLiveTablesAndAttachesNothingNew) {
  ASSERT_TRUE(enforcer_.start().has_value());
  dataplane_.fail_apply = true;
  source_.states.push_back(std::optional(cluster(kTwoPods)));
  enforcer_.step(std::chrono::milliseconds(0));
  EXPECT_EQ(dataplane_.generation(), 0u);
  EXPECT_TRUE(dataplane_.attached.empty());
  EXPECT_FALSE(std::filesystem::exists(ready_file_));
  EXPECT_THAT(registry_.render(), HasSubstr("palisade_enforcer_errors_total{stage=\"apply\"} 1"));
}

TEST_F(EnforcerTest, SourceErrorsAreCountedAndEnforcementGoesOn) {
  ASSERT_TRUE(enforcer_.start().has_value());
  source_.states.push_back(std::optional(cluster(kTwoPods)));
  source_.states.push_back(policy::fail("policies.yaml:0: bad"));
  enforcer_.step(std::chrono::milliseconds(0));
  enforcer_.step(std::chrono::milliseconds(0));
  EXPECT_EQ(dataplane_.generation(), 1u);
  EXPECT_THAT(registry_.render(),
              HasSubstr("palisade_enforcer_errors_total{stage=\"source\"} 1"));
}

TEST_F(EnforcerTest, AnEarlierRunsAttachmentsAreReconciled) {
  dataplane_.attached = {12, 99};
  ASSERT_TRUE(enforcer_.start().has_value());
  source_.states.push_back(std::optional(cluster(kTwoPods)));
  enforcer_.step(std::chrono::milliseconds(0));
  EXPECT_THAT(dataplane_.attached, ElementsAre(12, 11)) << "99 is gone; 11 and 12 re-attached";
}

pal_flow_event deniedEvent() {
  pal_flow_event event{};
  const auto src = policy::dataplaneAddress(policy::IpAddress::parse("10.0.0.1").value());
  const auto dst = policy::dataplaneAddress(policy::IpAddress::parse("10.0.0.2").value());
  std::copy(src.begin(), src.end(), event.src);
  std::copy(dst.begin(), dst.end(), event.dst);
  event.sport = 40000;
  event.dport = 5432;
  event.protocol = 6;
  event.direction = PAL_DIR_INGRESS;
  event.verdict = PAL_VERDICT_DROPPED;
  event.reason = PAL_DROP_INGRESS_DENIED;
  return event;
}

TEST_F(EnforcerTest, FlowEventsNameThePodsAndTheIsolatingPolicies) {
  ASSERT_TRUE(enforcer_.start().has_value());
  source_.states.push_back(std::optional(cluster(kTwoPods)));
  enforcer_.step(std::chrono::milliseconds(0));
  pal_flow_event event = deniedEvent();
  for (const auto& [key, endpoint] : dataplane_.last_tables.endpoints) {
    if (key.addr[15] == 2) {
      event.ruleset = endpoint.ingress_ruleset;
    }
  }
  const nlohmann::json fields = enforcer_.describe(event);
  EXPECT_EQ(fields["verdict"], "dropped");
  EXPECT_EQ(fields["direction"], "ingress");
  EXPECT_EQ(fields["reason"], "drop_ingress_denied");
  EXPECT_EQ(fields["protocol"], "TCP");
  EXPECT_EQ(fields["source"], (nlohmann::json{{"ip", "10.0.0.1"}, {"port", 40000},
                                              {"namespace", "shop"}, {"pod", "web"}}));
  EXPECT_EQ(fields["destination"]["pod"], "db");
  EXPECT_EQ(fields["isolatedBy"], nlohmann::json::array({"shop/deny"}));

  dataplane_.events.push_back(event);
  dataplane_.counter_values[PAL_DROP_INGRESS_DENIED] = 3;
  enforcer_.step(std::chrono::milliseconds(0));
  const std::string metrics = registry_.render();
  EXPECT_THAT(metrics, HasSubstr("palisade_enforcer_flow_events_total{verdict=\"dropped\","
                                 "direction=\"ingress\",reason=\"drop_ingress_denied\"} 1"));
  EXPECT_THAT(metrics,
              HasSubstr("palisade_enforcer_packets_total{reason=\"drop_ingress_denied\"} 3"));
}

TEST(ManifestFolderSource, ReportsTheFirstStateThenOnlyChanges) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("palisade-source-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "pods.yaml") << kTwoPods;
  ManifestFolderSource source(dir, std::chrono::milliseconds(10));
  auto first = source.next(std::chrono::milliseconds(0));
  ASSERT_TRUE(first.has_value());
  ASSERT_TRUE(first->has_value());
  EXPECT_EQ((*first)->pods.size(), 2u);
  auto unchanged = source.next(std::chrono::milliseconds(30));
  ASSERT_TRUE(unchanged.has_value());
  EXPECT_FALSE(unchanged->has_value());

  std::ofstream(dir / "extra.yaml") << "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n";
  auto changed = source.next(std::chrono::milliseconds(1000));
  ASSERT_TRUE(changed.has_value() && changed->has_value());
  EXPECT_EQ((*changed)->pods.size(), 3u);

  std::ofstream(dir / "broken.yaml") << "apiVersion: v1\nkind: Pod\nmetadata: {name: 7}\n";
  auto refused = source.next(std::chrono::milliseconds(300));
  ASSERT_TRUE(refused.has_value());
  EXPECT_FALSE(refused->has_value()) << "a broken version is refused as a whole";
  EXPECT_THAT(source.lastError(), HasSubstr("broken.yaml:0"));
  std::filesystem::remove_all(dir);
}

TEST(ManifestFolderSource, AFolderThatCannotBeReadIsAnErrorAtStart) {
  ManifestFolderSource source("/nonexistent/palisade/manifests");
  EXPECT_FALSE(source.next(std::chrono::milliseconds(0)).has_value());
}

}  // namespace
}  // namespace palisade::enforcer
