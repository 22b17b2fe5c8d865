#include "kube/watch_stream.h"

#include <gtest/gtest.h>

#include "kube/api_client.h"
#include "kube/testing/fake_apiserver.h"
#include "kube/testing/objects.h"

namespace palisade::kube {
namespace {

using nlohmann::json;
using testing::FakeApiServer;

std::string eventText(const std::string& type, const std::string& name, int version) {
  return json{{"type", type},
              {"object",
               {{"kind", "Pod"},
                {"metadata", {{"name", name}, {"resourceVersion", std::to_string(version)}}}}}}
             .dump() +
         "\n";
}

TEST(WatchEventParser, EventCutAtAnyByteIsParsedExactlyOnce) {
  const std::string text = eventText("ADDED", "a", 1) + eventText("DELETED", "b", 2);
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    WatchEventParser parser;
    std::vector<WatchEvent> events;
    ASSERT_TRUE(parser.feed(std::string_view(text).substr(0, cut), events));
    ASSERT_TRUE(parser.feed(std::string_view(text).substr(cut), events));
    ASSERT_EQ(events.size(), 2u) << "cut at " << cut;
    EXPECT_EQ(events[0].type, WatchEventType::kAdded);
    EXPECT_EQ(events[0].object["metadata"]["name"], "a");
    EXPECT_EQ(events[1].type, WatchEventType::kDeleted);
    EXPECT_EQ(events[1].object["metadata"]["resourceVersion"], "2");
    EXPECT_EQ(parser.buffered(), 0u);
  }
}

TEST(WatchEventParser, EventFedByteByByteIsParsedOnce) {
  const std::string text = eventText("MODIFIED", "a", 7);
  WatchEventParser parser;
  std::vector<WatchEvent> events;
  for (const char c : text) {
    ASSERT_TRUE(parser.feed(std::string_view(&c, 1), events));
  }
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, WatchEventType::kModified);
}

TEST(WatchEventParser, SeveralEventsInOneReadComeOutInOrderAndBlankLinesAreSkipped) {
  const std::string text = eventText("ADDED", "a", 1) + "\n\r\n" + eventText("BOOKMARK", "", 5) +
                           eventText("MODIFIED", "a", 6) + "{\"type\":\"ADD";
  WatchEventParser parser;
  std::vector<WatchEvent> events;
  ASSERT_TRUE(parser.feed(text, events));
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].type, WatchEventType::kAdded);
  EXPECT_EQ(events[1].type, WatchEventType::kBookmark);
  EXPECT_EQ(events[2].type, WatchEventType::kModified);
  EXPECT_EQ(parser.buffered(), std::string("{\"type\":\"ADD").size());
}

TEST(WatchEventParser, MalformedOrUnknownEventsAreErrors) {
  for (const std::string& text :
       {std::string("{not json}\n"), std::string("[1,2]\n"),
        std::string("{\"type\":\"ADDED\"}\n"), std::string("{\"type\":\"ADDED\",\"object\":3}\n"),
        std::string("{\"type\":\"RENAMED\",\"object\":{}}\n")}) {
    WatchEventParser parser;
    std::vector<WatchEvent> events;
    EXPECT_FALSE(parser.feed(text, events)) << text;
  }
}

TEST(WatchEventParser, IncompleteEventOverTheLimitIsAnError) {
  WatchEventParser parser(64);
  std::vector<WatchEvent> events;
  EXPECT_TRUE(parser.feed(std::string(60, ' '), events));
  EXPECT_FALSE(parser.feed(std::string(10, ' '), events));
}

class WatchStreamTest : public ::testing::Test {
 protected:
  WatchOptions from(std::string resource_version) {
    WatchOptions options;
    options.resource_version = std::move(resource_version);
    return options;
  }

  // Reads until `count` events arrived (or the stream failed or ended).
  std::vector<WatchEvent> readEvents(WatchStream& stream, size_t count) {
    std::vector<WatchEvent> events;
    while (events.size() < count) {
      auto batch = stream.next();
      if (!batch || batch->ended) {
        ADD_FAILURE() << (batch ? "ended" : batch.error().describe());
        break;
      }
      for (auto& event : batch->events) {
        events.push_back(std::move(event));
      }
    }
    return events;
  }

  FakeApiServer server_;
  std::unique_ptr<ApiClient> client_ = *ApiClient::fromConfig(server_.clientConfig());
};

TEST_F(WatchStreamTest, RequestCarriesTheWatchParameters) {
  WatchOptions options = from("42");
  options.timeout = std::chrono::seconds(321);
  options.label_selector = "app in (web,api)";
  auto stream = client_->watch(kPods, "team-a", options);
  ASSERT_TRUE(stream.has_value()) << stream.error().describe();
  const auto watches = server_.watchRequests();
  ASSERT_EQ(watches.size(), 1u);
  EXPECT_EQ(watches[0].path, "/api/v1/namespaces/team-a/pods");
  EXPECT_EQ(watches[0].query.at("watch"), "1");
  EXPECT_EQ(watches[0].query.at("resourceVersion"), "42");
  EXPECT_EQ(watches[0].query.at("allowWatchBookmarks"), "true");
  EXPECT_EQ(watches[0].query.at("timeoutSeconds"), "321");
  EXPECT_EQ(watches[0].query.at("labelSelector"), "app in (web,api)");
}

TEST_F(WatchStreamTest, EventsWrittenInPiecesArriveWholeAndInOrder) {
  server_.splitEvents(true);
  auto stream = client_->watch(kPods, "", from(server_.resourceVersion()));
  ASSERT_TRUE(stream.has_value()) << stream.error().describe();
  for (int i = 0; i < 3; ++i) {
    server_.create(kPods, testing::podJson("team-a", "web-" + std::to_string(i)));
  }
  const auto events = readEvents(**stream, 3);
  ASSERT_EQ(events.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(events[i].type, WatchEventType::kAdded);
    EXPECT_EQ(events[i].object["metadata"]["name"], "web-" + std::to_string(i));
  }
}

TEST_F(WatchStreamTest, ServerTimeoutEndsTheStreamCleanly) {
  WatchOptions options = from(server_.resourceVersion());
  options.timeout = std::chrono::seconds(1);
  auto stream = client_->watch(kPods, "", options);
  ASSERT_TRUE(stream.has_value()) << stream.error().describe();
  auto batch = (*stream)->next();
  ASSERT_TRUE(batch.has_value()) << batch.error().describe();
  EXPECT_TRUE(batch->ended);
  EXPECT_TRUE(batch->events.empty());
}

TEST_F(WatchStreamTest, SilentStreamIsReportedAsStalled) {
  WatchOptions options = from(server_.resourceVersion());
  options.stall_timeout = std::chrono::milliseconds(300);
  auto stream = client_->watch(kPods, "", options);
  ASSERT_TRUE(stream.has_value()) << stream.error().describe();
  server_.stallWatches();
  server_.create(kPods, testing::podJson("team-a", "web-1"));
  const auto started = std::chrono::steady_clock::now();
  auto batch = (*stream)->next();
  ASSERT_FALSE(batch.has_value());
  EXPECT_EQ(batch.error().kind, ApiError::Kind::kTimeout);
  EXPECT_NE(batch.error().message.find("stalled"), std::string::npos);
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(250));
}

TEST_F(WatchStreamTest, ConnectionDroppedInTheMiddleOfAnEventDeliversNoPartOfIt) {
  auto stream = client_->watch(kPods, "", from(server_.resourceVersion()));
  ASSERT_TRUE(stream.has_value()) << stream.error().describe();
  server_.stallWatches();
  server_.create(kPods, testing::podJson("team-a", "web-1"));
  server_.dropWatches(/*mid_event=*/true);
  auto batch = (*stream)->next();
  ASSERT_FALSE(batch.has_value());
  EXPECT_EQ(batch.error().kind, ApiError::Kind::kTransport) << batch.error().describe();
}

TEST_F(WatchStreamTest, GoneAsHttpStatusIsAStatusError) {
  server_.create(kPods, testing::podJson("team-a", "web-1"));
  server_.compact(testing::GoneStyle::kHttpStatus);
  auto stream = client_->watch(kPods, "", from("1"));
  ASSERT_FALSE(stream.has_value());
  EXPECT_TRUE(stream.error().isGone()) << stream.error().describe();
  EXPECT_EQ(stream.error().reason, "Expired");
}

TEST_F(WatchStreamTest, GoneAsErrorEventArrivesAsAnErrorEvent) {
  server_.create(kPods, testing::podJson("team-a", "web-1"));
  server_.compact(testing::GoneStyle::kErrorEvent);
  auto stream = client_->watch(kPods, "", from("1"));
  ASSERT_TRUE(stream.has_value()) << stream.error().describe();
  const auto events = readEvents(**stream, 1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, WatchEventType::kError);
  EXPECT_EQ(events[0].object["code"], 410);
}

TEST_F(WatchStreamTest, CancelFromAnotherThreadUnblocksNext) {
  auto stream = client_->watch(kPods, "", from(server_.resourceVersion()));
  ASSERT_TRUE(stream.has_value()) << stream.error().describe();
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    (*stream)->cancel();
  });
  auto batch = (*stream)->next();
  canceller.join();
  ASSERT_FALSE(batch.has_value());
  EXPECT_EQ(batch.error().kind, ApiError::Kind::kCancelled);
}

}  // namespace
}  // namespace palisade::kube
