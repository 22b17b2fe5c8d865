#include "kube/informer.h"

#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "kube/testing/fake_apiserver.h"
#include "kube/testing/objects.h"
#include "tests/support/tls_test_client.h"

namespace palisade::kube {
namespace {

using nlohmann::json;
using palisade::testing::waitFor;
using testing::FakeApiServer;
using testing::RecordedRequest;

constexpr std::chrono::milliseconds kDeadline{10000};

TEST(Backoff, DoublesUpToTheCapWithJitterStretchingEachDelayByAtMostItsFraction) {
  BackoffSettings settings;
  settings.initial = std::chrono::milliseconds(100);
  settings.max = std::chrono::milliseconds(1000);
  settings.jitter = 0.5;
  Backoff backoff(settings, /*seed=*/7);
  const int64_t expected[] = {100, 200, 400, 800, 1000, 1000};
  for (const int64_t base : expected) {
    const auto delay = backoff.next().count();
    EXPECT_GE(delay, base);
    EXPECT_LE(delay, base * 3 / 2);
  }
  backoff.reset();
  EXPECT_LE(backoff.next().count(), 150);
}

TEST(Backoff, JitterSpreadsClientsApart) {
  BackoffSettings settings;
  settings.initial = std::chrono::milliseconds(1000);
  Backoff first(settings, 1);
  Backoff second(settings, 2);
  EXPECT_NE(first.next(), second.next());
}

// What the handlers saw, in order: "add ns/name", "update ns/name", "delete ns/name".
class Recorder {
 public:
  template <class T>
  InformerHandlers<T> handlers() {
    InformerHandlers<T> result;
    result.on_add = [this](const T& object) { record("add", object.metadata); };
    result.on_update = [this](const T&, const T& object) { record("update", object.metadata); };
    result.on_delete = [this](const T& object) { record("delete", object.metadata); };
    result.on_error = [this](const std::string& message) {
      std::lock_guard lock(mutex_);
      errors_.push_back(message);
    };
    return result;
  }

  std::vector<std::string> events() const {
    std::lock_guard lock(mutex_);
    return events_;
  }
  std::vector<std::string> errors() const {
    std::lock_guard lock(mutex_);
    return errors_;
  }
  bool saw(const std::string& event) const {
    const auto all = events();
    return std::find(all.begin(), all.end(), event) != all.end();
  }
  size_t count(const std::string& event) const {
    const auto all = events();
    return static_cast<size_t>(std::count(all.begin(), all.end(), event));
  }
  void clear() {
    std::lock_guard lock(mutex_);
    events_.clear();
  }

 private:
  void record(const std::string& what, const policy::ObjectMeta& metadata) {
    std::lock_guard lock(mutex_);
    events_.push_back(what + " " + objectKey(metadata.namespace_name, metadata.name));
  }

  mutable std::mutex mutex_;
  std::vector<std::string> events_;
  std::vector<std::string> errors_;
};

class InformerTest : public ::testing::Test {
 protected:
  InformerOptions fastOptions() {
    InformerOptions options;
    options.backoff.initial = std::chrono::milliseconds(20);
    options.backoff.max = std::chrono::milliseconds(200);
    return options;
  }

  std::unique_ptr<Informer<policy::Pod>> startPods(InformerOptions options) {
    auto informer = std::make_unique<Informer<policy::Pod>>(*client_, std::move(options),
                                                            recorder_.handlers<policy::Pod>());
    informer->start();
    EXPECT_TRUE(informer->waitForSync(kDeadline));
    return informer;
  }

  // Waits until the server has seen `count` watch requests; the last one.
  RecordedRequest waitForWatch(size_t count) {
    EXPECT_TRUE(waitFor([&] { return server_.watchRequests().size() >= count; }, kDeadline));
    const auto watches = server_.watchRequests();
    return watches.empty() ? RecordedRequest{} : watches.back();
  }

  FakeApiServer server_;
  std::unique_ptr<ApiClient> client_ = *ApiClient::fromConfig(server_.clientConfig());
  Recorder recorder_;
};

TEST_F(InformerTest, ListsThenWatchesAndDeliversAdditionsUpdatesAndDeletions) {
  server_.create(kPods, testing::podJson("team-a", "web-1"));
  server_.create(kPods, testing::podJson("team-b", "api-1"));
  auto informer = startPods(fastOptions());
  EXPECT_EQ(informer->size(), 2u);
  EXPECT_EQ(recorder_.events(), (std::vector<std::string>{"add team-a/web-1", "add team-b/api-1"}));
  waitForWatch(1);

  server_.create(kPods, testing::podJson("team-a", "web-2"));
  json changed = testing::podJson("team-a", "web-1", {{"version", "2"}});
  server_.update(kPods, changed);
  server_.remove(kPods, "team-b", "api-1");
  ASSERT_TRUE(waitFor([&] { return recorder_.events().size() == 5; }, kDeadline));
  EXPECT_EQ(recorder_.events(),
            (std::vector<std::string>{"add team-a/web-1", "add team-b/api-1", "add team-a/web-2",
                                      "update team-a/web-1", "delete team-b/api-1"}));
  EXPECT_EQ(informer->get("team-a", "web-1")->metadata.labels.at("version"), "2");
  EXPECT_EQ(informer->get("team-b", "api-1"), nullptr);
  EXPECT_EQ(informer->list("team-a").size(), 2u);
  EXPECT_EQ(informer->resourceVersion(), server_.resourceVersion());
}

TEST_F(InformerTest, CacheHoldsPodsDecodedAndTrimmedToWhatPalisadeReads) {
  json pod = testing::podJson("team-a", "web-1", {{"app", "web"}}, "10.1.0.7");
  pod["metadata"]["annotations"] = {{"kubectl.kubernetes.io/last-applied-configuration",
                                     std::string(4096, 'x')}};
  pod["metadata"]["managedFields"] = json::array({{{"manager", "kubectl"}}});
  pod["spec"]["hostNetwork"] = false;
  pod["spec"]["volumes"] = json::array({{{"name", "data"}, {"emptyDir", json::object()}}});
  pod["status"]["podIPs"] = {{{"ip", "10.1.0.7"}}, {{"ip", "fd00::7"}}};
  server_.create(kPods, pod);
  auto informer = startPods(fastOptions());
  const auto cached = informer->get("team-a", "web-1");
  ASSERT_NE(cached, nullptr);
  EXPECT_EQ(cached->metadata.name, "web-1");
  EXPECT_EQ(cached->metadata.namespace_name, "team-a");
  EXPECT_EQ(cached->metadata.uid, (*server_.object(kPods, "team-a", "web-1"))["metadata"]["uid"]);
  EXPECT_FALSE(cached->metadata.resource_version.empty());
  EXPECT_EQ(cached->metadata.labels.at("app"), "web");
  EXPECT_TRUE(cached->metadata.annotations.empty());
  EXPECT_EQ(cached->node_name, "node-1");
  EXPECT_FALSE(cached->host_network);
  EXPECT_EQ(cached->phase, "Running");
  EXPECT_EQ(cached->pod_ip, "10.1.0.7");
  EXPECT_EQ(cached->pod_ips, (std::vector<std::string>{"10.1.0.7", "fd00::7"}));
  ASSERT_EQ(cached->containers.size(), 1u);
  ASSERT_EQ(cached->containers[0].ports.size(), 1u);
  EXPECT_EQ(cached->containers[0].ports[0].name, "http");
  EXPECT_EQ(cached->containers[0].ports[0].container_port, 8080);
}

TEST_F(InformerTest, ResumesFromTheLastResourceVersionWhenTheServerEndsTheWatch) {
  InformerOptions options = fastOptions();
  options.watch_timeout = std::chrono::seconds(1);
  auto informer = startPods(options);
  server_.create(kPods, testing::podJson("team-a", "web-1"));
  ASSERT_TRUE(waitFor([&] { return recorder_.saw("add team-a/web-1"); }, kDeadline));
  const std::string version = informer->resourceVersion();
  const auto second = waitForWatch(2);
  EXPECT_EQ(second.query.at("resourceVersion"), version);
  const auto timeout = std::stoi(second.query.at("timeoutSeconds"));
  EXPECT_GE(timeout, 1);
  EXPECT_LE(timeout, 2);
  server_.create(kPods, testing::podJson("team-a", "web-2"));
  ASSERT_TRUE(waitFor([&] { return recorder_.saw("add team-a/web-2"); }, kDeadline));
  EXPECT_EQ(recorder_.count("add team-a/web-1"), 1u);
  EXPECT_EQ(informer->stats().lists, 1u);
}

TEST_F(InformerTest, ReconnectsAfterTheConnectionDropsAndMissesNothing) {
  auto informer = startPods(fastOptions());
  waitForWatch(1);
  server_.dropWatches();
  server_.create(kPods, testing::podJson("team-a", "web-1"));
  const auto second = waitForWatch(2);
  EXPECT_FALSE(second.query.at("resourceVersion").empty());
  ASSERT_TRUE(waitFor([&] { return informer->size() == 1; }, kDeadline));
  EXPECT_EQ(recorder_.count("add team-a/web-1"), 1u);
  EXPECT_GE(informer->stats().watch_failures, 1u);
  EXPECT_EQ(informer->stats().lists, 1u);
}

TEST_F(InformerTest, EventCutOffByADroppedConnectionIsReceivedOnceAfterReconnecting) {
  auto informer = startPods(fastOptions());
  waitForWatch(1);
  server_.stallWatches();
  server_.create(kPods, testing::podJson("team-a", "web-1"));
  server_.dropWatches(/*mid_event=*/true);
  ASSERT_TRUE(waitFor([&] { return informer->size() == 1; }, kDeadline));
  waitForWatch(2);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(recorder_.events(), (std::vector<std::string>{"add team-a/web-1"}));
}

TEST_F(InformerTest, EventsArrivingInPiecesAreApplied) {
  server_.splitEvents(true);
  auto informer = startPods(fastOptions());
  waitForWatch(1);
  for (int i = 0; i < 4; ++i) {
    server_.create(kPods, testing::podJson("team-a", "web-" + std::to_string(i)));
  }
  ASSERT_TRUE(waitFor([&] { return informer->size() == 4; }, kDeadline));
  EXPECT_EQ(informer->stats().watch_failures, 0u);
}

TEST_F(InformerTest, BookmarkResourceVersionIsWhereTheNextWatchStarts) {
  auto informer = startPods(fastOptions());
  waitForWatch(1);
  // Other resources move the resourceVersion on; pods do not change.
  server_.create(kNamespaces, testing::namespaceJson("team-a"));
  server_.create(kNamespaces, testing::namespaceJson("team-b"));
  const std::string latest = server_.resourceVersion();
  ASSERT_NE(informer->resourceVersion(), latest);
  server_.sendBookmarks();
  ASSERT_TRUE(waitFor([&] { return informer->resourceVersion() == latest; }, kDeadline));
  server_.dropWatches();
  EXPECT_EQ(waitForWatch(2).query.at("resourceVersion"), latest);
  EXPECT_TRUE(recorder_.events().empty());
}

TEST_F(InformerTest, GoneErrorEventMakesItListAgainAndDeliverWhatChangedMeanwhile) {
  server_.create(kPods, testing::podJson("team-a", "stays"));
  server_.create(kPods, testing::podJson("team-a", "goes"));
  server_.create(kPods, testing::podJson("team-a", "changes"));
  auto informer = startPods(fastOptions());
  waitForWatch(1);
  recorder_.clear();
  // Changes the informer does not see, then history it can no longer get.
  server_.stallWatches();
  server_.remove(kPods, "team-a", "goes");
  server_.update(kPods, testing::podJson("team-a", "changes", {{"v", "2"}}));
  server_.create(kPods, testing::podJson("team-a", "arrives"));
  server_.compact(testing::GoneStyle::kErrorEvent);
  server_.dropWatches();

  ASSERT_TRUE(waitFor([&] { return recorder_.events().size() == 3; }, kDeadline));
  auto events = recorder_.events();
  std::sort(events.begin(), events.end());
  EXPECT_EQ(events, (std::vector<std::string>{"add team-a/arrives", "delete team-a/goes",
                                              "update team-a/changes"}));
  EXPECT_EQ(informer->get("team-a", "goes"), nullptr);
  EXPECT_EQ(informer->get("team-a", "changes")->metadata.labels.at("v"), "2");
  EXPECT_EQ(informer->stats().gone, 1u);
  EXPECT_EQ(informer->stats().lists, 2u);
  // The watch after the relist starts from the list's resourceVersion.
  ASSERT_TRUE(waitFor([&] { return server_.watchRequests().size() >= 3; }, kDeadline));
  EXPECT_EQ(server_.watchRequests()[2].query.at("resourceVersion"), server_.resourceVersion());
}

TEST_F(InformerTest, GoneHttpStatusMakesItListAgain) {
  server_.create(kPods, testing::podJson("team-a", "goes"));
  auto informer = startPods(fastOptions());
  waitForWatch(1);
  server_.stallWatches();
  server_.remove(kPods, "team-a", "goes");
  server_.compact(testing::GoneStyle::kHttpStatus);
  server_.dropWatches();
  ASSERT_TRUE(waitFor([&] { return recorder_.saw("delete team-a/goes"); }, kDeadline));
  EXPECT_EQ(informer->size(), 0u);
  EXPECT_EQ(informer->stats().gone, 1u);
  EXPECT_EQ(informer->stats().lists, 2u);
}

TEST_F(InformerTest, StalledWatchIsReplaced) {
  InformerOptions options = fastOptions();
  options.stall_timeout = std::chrono::milliseconds(400);
  auto informer = startPods(options);
  waitForWatch(1);
  server_.stallWatches();
  server_.create(kPods, testing::podJson("team-a", "web-1"));
  ASSERT_TRUE(waitFor([&] { return informer->size() == 1; }, kDeadline));
  EXPECT_GE(informer->stats().watch_failures, 1u);
  bool reported = false;
  for (const auto& error : recorder_.errors()) {
    reported = reported || error.find("stalled") != std::string::npos;
  }
  EXPECT_TRUE(reported);
}

TEST_F(InformerTest, KeepsRetryingAFailingListWithBackoffUntilItSucceeds) {
  server_.failNext("GET", "/api/v1/pods", 500, 3);
  Informer<policy::Pod> informer(*client_, fastOptions(), recorder_.handlers<policy::Pod>());
  informer.start();
  ASSERT_TRUE(informer.waitForSync(kDeadline));
  size_t lists = 0;
  for (const auto& request : server_.requests()) {
    lists += request.path == "/api/v1/pods" && !request.query.contains("watch") ? 1 : 0;
  }
  EXPECT_EQ(lists, 4u);
  EXPECT_EQ(recorder_.errors().size(), 3u);
  EXPECT_EQ(informer.stats().lists, 1u);
}

TEST_F(InformerTest, ListsInPagesOfTheConfiguredSize) {
  for (int i = 0; i < 5; ++i) {
    server_.create(kPods, testing::podJson("team-a", "web-" + std::to_string(i)));
  }
  InformerOptions options = fastOptions();
  options.page_size = 2;
  auto informer = startPods(options);
  EXPECT_EQ(informer->size(), 5u);
  size_t pages = 0;
  for (const auto& request : server_.requests()) {
    if (!request.query.contains("watch")) {
      ++pages;
      EXPECT_EQ(request.query.at("limit"), "2");
    }
  }
  EXPECT_EQ(pages, 3u);
}

TEST_F(InformerTest, NamespaceScopedInformerSeesOnlyItsNamespace) {
  server_.create(kPods, testing::podJson("team-a", "web-1"));
  server_.create(kPods, testing::podJson("team-b", "web-1"));
  InformerOptions options = fastOptions();
  options.namespace_name = "team-a";
  auto informer = startPods(options);
  EXPECT_EQ(informer->size(), 1u);
  EXPECT_NE(informer->get("team-a", "web-1"), nullptr);
  EXPECT_EQ(waitForWatch(1).path, "/api/v1/namespaces/team-a/pods");
  server_.create(kPods, testing::podJson("team-b", "web-2"));
  server_.create(kPods, testing::podJson("team-a", "web-2"));
  ASSERT_TRUE(waitFor([&] { return informer->size() == 2; }, kDeadline));
  EXPECT_EQ(informer->get("team-b", "web-2"), nullptr);
}

TEST_F(InformerTest, GenerationAdvancesOnEveryChangeAndWakesWaiters) {
  auto informer = startPods(fastOptions());
  waitForWatch(1);
  const uint64_t synced = informer->generation();
  EXPECT_GE(synced, 1u);
  EXPECT_EQ(informer->waitForChange(synced, std::chrono::milliseconds(50)), synced);
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    server_.create(kPods, testing::podJson("team-a", "web-1"));
  });
  const uint64_t changed = informer->waitForChange(synced, kDeadline);
  writer.join();
  EXPECT_GT(changed, synced);
  EXPECT_EQ(informer->size(), 1u);
}

TEST_F(InformerTest, UndecodableObjectIsReportedAndTheCachedVersionKept) {
  server_.create(kPods, testing::podJson("team-a", "web-1", {{"v", "1"}}));
  auto informer = startPods(fastOptions());
  waitForWatch(1);
  json broken = testing::podJson("team-a", "web-1", {{"v", "2"}});
  broken["spec"]["hostNetwork"] = "yes";
  server_.update(kPods, broken);
  ASSERT_TRUE(waitFor([&] { return informer->stats().decode_errors == 1; }, kDeadline));
  EXPECT_EQ(informer->get("team-a", "web-1")->metadata.labels.at("v"), "1");
  ASSERT_FALSE(recorder_.errors().empty());
  EXPECT_NE(recorder_.errors().back().find("pods team-a/web-1: spec.hostNetwork"),
            std::string::npos)
      << recorder_.errors().back();
}

TEST_F(InformerTest, StopReturnsPromptlyWithAWatchOpen) {
  auto informer = startPods(fastOptions());
  waitForWatch(1);
  const auto started = std::chrono::steady_clock::now();
  informer->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2));
  server_.create(kPods, testing::podJson("team-a", "web-1"));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(informer->size(), 0u);
}

TEST_F(InformerTest, StopReturnsPromptlyWhileAListGetsNoAnswer) {
  server_.ignoreNext();
  auto informer = std::make_unique<Informer<policy::Pod>>(*client_, fastOptions());
  informer->start();
  ASSERT_TRUE(waitFor([&] { return !server_.requests().empty(); }, kDeadline));
  const auto started = std::chrono::steady_clock::now();
  informer.reset();  // the destructor stops
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2));
}

}  // namespace
}  // namespace palisade::kube
