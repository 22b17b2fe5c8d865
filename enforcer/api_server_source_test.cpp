#include "enforcer/api_server_source.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "enforcer/enforcer.h"
#include "enforcer/testing/recording_dataplane.h"
#include "kube/testing/fake_apiserver.h"
#include "kube/testing/objects.h"
#include "tests/support/tls_test_client.h"

namespace palisade::enforcer {
namespace {

using kube::kNamespaces;
using kube::kNetworkPolicies;
using kube::kPods;
using kube::testing::FakeApiServer;
using palisade::testing::waitFor;
using ::testing::ElementsAre;
using testing::RecordingDataplane;
using Clock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds kDeadline{15000};
constexpr std::chrono::milliseconds kPoll{100};

// A TCP relay in front of the fake apiserver, to make it unreachable the way
// a lost network does: cutOff() resets every relayed connection and refuses
// new ones; restore() accepts again on the same port.
class TcpRelay {
 public:
  explicit TcpRelay(uint16_t upstream_port) : upstream_port_(upstream_port) { listen(0); }
  ~TcpRelay() { cutOff(); }
  TcpRelay(const TcpRelay&) = delete;
  TcpRelay& operator=(const TcpRelay&) = delete;

  uint16_t port() const { return port_; }

  void cutOff() {
    std::vector<std::thread> pumps;
    {
      std::lock_guard lock(mutex_);
      if (listener_ >= 0) {
        ::shutdown(listener_, SHUT_RDWR);  // wakes accept()
      }
      for (const int fd : open_) {
        ::shutdown(fd, SHUT_RDWR);
      }
      pumps.swap(pumps_);
    }
    if (acceptor_.joinable()) {
      acceptor_.join();
    }
    for (std::thread& pump : pumps) {
      pump.join();
    }
    if (listener_ >= 0) {
      ::close(listener_);
      listener_ = -1;
    }
  }

  void restore() { listen(port_); }

 private:
  void listen(uint16_t port) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in address = loopback(port);
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listener_, 16) != 0) {
      throw std::runtime_error("relay: cannot listen on 127.0.0.1:" + std::to_string(port));
    }
    socklen_t length = sizeof address;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    acceptor_ = std::thread([this] { acceptLoop(); });
  }

  static sockaddr_in loopback(uint16_t port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return address;
  }

  void acceptLoop() {
    for (;;) {
      const int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) {
        if (errno == EINTR || errno == ECONNABORTED) {
          continue;
        }
        return;  // shut down
      }
      const int upstream = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in address = loopback(upstream_port_);
      if (::connect(upstream, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        ::close(upstream);
        ::close(client);
        continue;
      }
      std::lock_guard lock(mutex_);
      open_.push_back(client);
      open_.push_back(upstream);
      pumps_.emplace_back([this, client, upstream] { pump(client, upstream); });
    }
  }

  void pump(int a, int b) {
    pollfd fds[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
    char buffer[16384];
    for (bool open = true; open;) {
      if (::poll(fds, 2, -1) < 0) {
        if (errno == EINTR) {
          continue;
        }
        break;
      }
      for (int i = 0; i < 2 && open; ++i) {
        if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
          continue;
        }
        const ssize_t got = ::read(fds[i].fd, buffer, sizeof buffer);
        open = got > 0 && sendAll(fds[1 - i].fd, buffer, static_cast<size_t>(got));
      }
    }
    // Out of the list before closing, so that cutOff() never shuts down a
    // number the kernel has handed to someone else meanwhile.
    {
      std::lock_guard lock(mutex_);
      std::erase(open_, a);
      std::erase(open_, b);
    }
    ::close(a);
    ::close(b);
  }

  static bool sendAll(int fd, const char* data, size_t size) {
    while (size > 0) {
      const ssize_t sent = ::send(fd, data, size, MSG_NOSIGNAL);
      if (sent <= 0) {
        return false;
      }
      data += sent;
      size -= static_cast<size_t>(sent);
    }
    return true;
  }

  const uint16_t upstream_port_;
  uint16_t port_ = 0;
  int listener_ = -1;
  std::thread acceptor_;
  std::mutex mutex_;
  std::vector<int> open_;
  std::vector<std::thread> pumps_;
};

// What on_problem reported, as "resource: problem".
class Problems {
 public:
  std::function<void(const std::string&, const std::string&)> sink() {
    return [this](const std::string& resource, const std::string& problem) {
      std::lock_guard lock(mutex_);
      lines_.push_back(resource + ": " + problem);
    };
  }
  std::vector<std::string> lines() const {
    std::lock_guard lock(mutex_);
    return lines_;
  }
  bool any(std::string_view needle) const {
    const auto all = lines();
    return std::ranges::any_of(all, [&](const std::string& line) {
      return line.find(needle) != std::string::npos;
    });
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;
};

class ApiServerSourceTest : public ::testing::Test {
 protected:
  ApiServerSourceOptions fastOptions() {
    ApiServerSourceOptions options;
    for (kube::InformerOptions* informer :
         {&options.cache.namespaces, &options.cache.pods, &options.cache.network_policies}) {
      informer->backoff.initial = std::chrono::milliseconds(20);
      informer->backoff.max = std::chrono::milliseconds(200);
    }
    options.on_problem = problems_.sink();
    return options;
  }

  std::unique_ptr<ApiServerSource> connect(ApiServerSourceOptions options,
                                           std::optional<uint16_t> via_port = std::nullopt) {
    kube::ClientConfig config = server_.clientConfig();
    if (via_port) {
      EXPECT_TRUE(kube::parseServerUrl("https://127.0.0.1:" + std::to_string(*via_port), config));
    }
    auto source = ApiServerSource::connect(std::move(config), std::move(options));
    if (!source) {
      ADD_FAILURE() << source.error().message;
      return nullptr;
    }
    return *std::move(source);
  }

  // Calls next() until a state comes; every call must succeed.
  static std::optional<policy::ClusterState> nextState(
      ClusterSource& source, std::chrono::milliseconds deadline = kDeadline) {
    const auto until = Clock::now() + deadline;
    while (Clock::now() < until) {
      auto next = source.next(kPoll);
      if (!next) {
        ADD_FAILURE() << "next() failed: " << next.error().message;
        return std::nullopt;
      }
      if (*next) {
        return std::move(*next);
      }
    }
    ADD_FAILURE() << "no state within " << deadline.count() << " ms";
    return std::nullopt;
  }

  // The first state, then the three watches open, so that later changes
  // arrive as watch events.
  std::optional<policy::ClusterState> firstState(ApiServerSource& source) {
    auto state = nextState(source);
    EXPECT_TRUE(waitFor([&] { return server_.openWatches() == 3; }, kDeadline));
    return state;
  }

  FakeApiServer server_;
  Problems problems_;
};

std::vector<std::string> namesOf(const auto& objects) {
  std::vector<std::string> names;
  for (const auto& object : objects) {
    names.push_back(object.metadata.name);
  }
  return names;
}

TEST_F(ApiServerSourceTest, FirstStateArrivesOnlyOnceAllThreeResourcesHaveListed) {
  server_.create(kNamespaces, kube::testing::namespaceJson("shop"));
  server_.create(kPods, kube::testing::podJson("shop", "web-1", {{"app", "web"}}, "10.1.0.7"));
  server_.create(kNetworkPolicies, kube::testing::networkPolicyJson("shop", "allow-web", "web"));
  // Refused for a while, as while the enforcer's RBAC is still being applied.
  server_.failNext("GET", "/apis/networking.k8s.io/v1/networkpolicies", 403, 10);
  auto source = connect(fastOptions());
  ASSERT_TRUE(source);
  ASSERT_TRUE(source->cache().namespaces().waitForSync(kDeadline));
  ASSERT_TRUE(source->cache().pods().waitForSync(kDeadline));

  // Namespaces and pods alone are no state to enforce.
  auto early = source->next(kPoll);
  ASSERT_TRUE(early.has_value()) << early.error().message;
  if (!source->synced()) {
    EXPECT_FALSE(early->has_value()) << "a state before NetworkPolicies were listed";
  }

  const auto state = nextState(*source);
  ASSERT_TRUE(state);
  EXPECT_THAT(namesOf(state->namespaces), ElementsAre("shop"));
  EXPECT_THAT(namesOf(state->pods), ElementsAre("web-1"));
  EXPECT_THAT(namesOf(state->policies), ElementsAre("allow-web"));
  EXPECT_TRUE(problems_.any("networkpolicies: list networkpolicies.networking.k8s.io failed"))
      << ::testing::PrintToString(problems_.lines());
  EXPECT_TRUE(problems_.any("403")) << ::testing::PrintToString(problems_.lines());
}

TEST_F(ApiServerSourceTest, EachKindOfChangeProducesANewStateAndNoChangeNone) {
  server_.create(kNamespaces, kube::testing::namespaceJson("shop"));
  auto source = connect(fastOptions());
  ASSERT_TRUE(source);
  ASSERT_TRUE(firstState(*source));

  server_.create(kNetworkPolicies, kube::testing::networkPolicyJson("shop", "allow-web", "web"));
  auto state = nextState(*source);
  ASSERT_TRUE(state);
  EXPECT_THAT(namesOf(state->policies), ElementsAre("allow-web"));

  server_.create(kPods, kube::testing::podJson("shop", "web-1", {{"app", "web"}}, "10.1.0.7"));
  state = nextState(*source);
  ASSERT_TRUE(state);
  ASSERT_THAT(namesOf(state->pods), ElementsAre("web-1"));
  EXPECT_EQ(state->pods[0].pod_ip, "10.1.0.7");

  server_.update(kNamespaces, kube::testing::namespaceJson("shop", {{"env", "prod"}}));
  state = nextState(*source);
  ASSERT_TRUE(state);
  ASSERT_EQ(state->namespaces.size(), 1u);
  EXPECT_EQ(state->namespaces[0].metadata.labels["env"], "prod");

  server_.remove(kPods, "shop", "web-1");
  state = nextState(*source);
  ASSERT_TRUE(state);
  EXPECT_TRUE(state->pods.empty());

  auto quiet = source->next(std::chrono::milliseconds(300));
  ASSERT_TRUE(quiet.has_value()) << quiet.error().message;
  EXPECT_FALSE(quiet->has_value()) << "a state although nothing changed";
}

TEST_F(ApiServerSourceTest, ABurstOfChangesBecomesFewStatesTheLastHoldingThemAll) {
  server_.create(kNamespaces, kube::testing::namespaceJson("shop"));
  auto source = connect(fastOptions());
  ASSERT_TRUE(source);
  ASSERT_TRUE(firstState(*source));

  // About 100 ms of changes, while the control loop keeps asking.
  std::thread writer([&] {
    for (int i = 0; i < 100; ++i) {
      server_.create(kNetworkPolicies,
                     kube::testing::networkPolicyJson("shop", "p-" + std::to_string(i), "web"));
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  std::vector<size_t> states;  // the policy count of each state
  const auto until = Clock::now() + kDeadline;
  while (Clock::now() < until && (states.empty() || states.back() < 100)) {
    auto next = source->next(kPoll);
    ASSERT_TRUE(next.has_value()) << next.error().message;
    if (*next) {
      states.push_back((*next)->policies.size());
    }
  }
  writer.join();
  ASSERT_FALSE(states.empty());
  EXPECT_EQ(states.back(), 100u);
  EXPECT_LE(states.size(), 5u) << ::testing::PrintToString(states);

  auto quiet = source->next(std::chrono::milliseconds(300));
  ASSERT_TRUE(quiet.has_value());
  EXPECT_FALSE(quiet->has_value()) << "the burst was delivered twice";
}

TEST_F(ApiServerSourceTest, ChangesThatNeverStopStillYieldAStateEveryMaxDelay) {
  server_.create(kNamespaces, kube::testing::namespaceJson("shop"));
  ApiServerSourceOptions options = fastOptions();
  options.settle = std::chrono::milliseconds(100);
  options.max_delay = std::chrono::milliseconds(300);
  auto source = connect(options);
  ASSERT_TRUE(source);
  ASSERT_TRUE(firstState(*source));

  // A change every 10 ms for about 1.5 s: never quiet for `settle`.
  std::atomic<bool> writing{true};
  std::thread writer([&] {
    for (int i = 0; i < 150; ++i) {
      server_.create(kNetworkPolicies,
                     kube::testing::networkPolicyJson("shop", "p-" + std::to_string(i), "web"));
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    writing = false;
  });
  size_t during = 0;
  while (writing) {
    auto next = source->next(kPoll);
    ASSERT_TRUE(next.has_value()) << next.error().message;
    during += (*next && writing) ? 1 : 0;
  }
  writer.join();
  EXPECT_GE(during, 2u);
}

TEST_F(ApiServerSourceTest, APodWaitsForItsNamespaceToArrive) {
  ApiServerSourceOptions options = fastOptions();
  options.max_delay = std::chrono::milliseconds(3000);
  auto source = connect(options);
  ASSERT_TRUE(source);
  ASSERT_TRUE(firstState(*source));

  // The pod's watch event comes before its namespace's, as when the
  // namespaces watch lags behind the pods watch.
  server_.create(kPods, kube::testing::podJson("late", "web-1", {{"app", "web"}}, "10.1.0.7"));
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    server_.create(kNamespaces, kube::testing::namespaceJson("late", {{"team", "a"}}));
  });
  const auto state = nextState(*source);
  writer.join();
  ASSERT_TRUE(state);
  EXPECT_THAT(namesOf(state->pods), ElementsAre("web-1"));
  ASSERT_THAT(namesOf(state->namespaces), ElementsAre("late"));
  EXPECT_EQ(state->namespaces[0].metadata.labels.at("team"), "a");
}

TEST_F(ApiServerSourceTest, APodWhoseNamespaceNeverArrivesIsDeliveredAfterMaxDelay) {
  ApiServerSourceOptions options = fastOptions();
  options.max_delay = std::chrono::milliseconds(400);
  auto source = connect(options);
  ASSERT_TRUE(source);
  ASSERT_TRUE(firstState(*source));

  const auto created = Clock::now();
  server_.create(kPods, kube::testing::podJson("ghost", "web-1", {{"app", "web"}}, "10.1.0.7"));
  const auto state = nextState(*source);
  ASSERT_TRUE(state);
  EXPECT_GE(Clock::now() - created, std::chrono::milliseconds(400));
  EXPECT_THAT(namesOf(state->pods), ElementsAre("web-1"));
  EXPECT_TRUE(state->namespaces.empty());
}

TEST_F(ApiServerSourceTest, FinishedPodsAreLeftOutTheirAddressesMayBeReused) {
  server_.create(kNamespaces, kube::testing::namespaceJson("shop"));
  for (const auto& [name, phase] : {std::pair{"job-done", "Succeeded"}, {"job-failed", "Failed"},
                                    {"web-1", "Running"}, {"web-2", "Pending"}}) {
    nlohmann::json pod = kube::testing::podJson("shop", name, {{"app", "web"}}, "10.1.0.7");
    pod["status"]["phase"] = phase;
    server_.create(kPods, pod);
  }
  auto source = connect(fastOptions());
  ASSERT_TRUE(source);
  const auto state = nextState(*source);
  ASSERT_TRUE(state);
  EXPECT_THAT(namesOf(state->pods), ElementsAre("web-1", "web-2"));
}

TEST_F(ApiServerSourceTest, UnreachableAtStartReturnsNothingUntilItCanListThenTheFirstState) {
  server_.create(kNamespaces, kube::testing::namespaceJson("shop"));
  server_.create(kNetworkPolicies, kube::testing::networkPolicyJson("shop", "allow-web", "web"));
  TcpRelay relay(server_.port());
  relay.cutOff();
  auto source = connect(fastOptions(), relay.port());
  ASSERT_TRUE(source);
  for (int i = 0; i < 8; ++i) {
    auto next = source->next(kPoll);
    ASSERT_TRUE(next.has_value()) << "an error would stop nothing but count; there is none: "
                                  << next.error().message;
    EXPECT_FALSE(next->has_value());
  }
  for (const char* resource : {"namespaces: ", "pods: ", "networkpolicies: "}) {
    EXPECT_TRUE(problems_.any(resource)) << resource << ::testing::PrintToString(problems_.lines());
  }

  relay.restore();
  const auto state = nextState(*source);
  ASSERT_TRUE(state);
  EXPECT_THAT(namesOf(state->policies), ElementsAre("allow-web"));
}

TEST_F(ApiServerSourceTest, LostApiServerKeepsTheLastStateThenCatchesUp) {
  server_.create(kNamespaces, kube::testing::namespaceJson("shop"));
  TcpRelay relay(server_.port());
  auto source = connect(fastOptions(), relay.port());
  ASSERT_TRUE(source);
  ASSERT_TRUE(firstState(*source));

  relay.cutOff();
  server_.create(kNetworkPolicies, kube::testing::networkPolicyJson("shop", "allow-web", "web"));
  const auto until = Clock::now() + std::chrono::milliseconds(1000);
  while (Clock::now() < until) {
    auto next = source->next(kPoll);
    ASSERT_TRUE(next.has_value()) << next.error().message;
    EXPECT_FALSE(next->has_value()) << "a state while the apiserver is unreachable";
  }
  EXPECT_TRUE(problems_.any("watch")) << ::testing::PrintToString(problems_.lines());

  relay.restore();
  const auto state = nextState(*source);
  ASSERT_TRUE(state);
  EXPECT_THAT(namesOf(state->policies), ElementsAre("allow-web"));
}

// The control loop on this source: what an earlier run left attached and
// enforced stays so until the whole cluster has been listed; then the tables
// go live before the local pod's interface is attached.
TEST_F(ApiServerSourceTest, ControlLoopKeepsEarlierAttachmentsUntilTheFirstCompleteList) {
  server_.create(kNamespaces, kube::testing::namespaceJson("shop"));
  server_.create(kPods, kube::testing::podJson("shop", "web-1", {{"app", "web"}}, "10.1.0.7"));
  nlohmann::json elsewhere =
      kube::testing::podJson("shop", "web-2", {{"app", "web"}}, "10.1.0.8");
  elsewhere["spec"]["nodeName"] = "node-2";
  server_.create(kPods, elsewhere);
  server_.create(kNetworkPolicies, kube::testing::networkPolicyJson("shop", "allow-web", "web"));
  server_.failNext("GET", "/api/v1/pods", 403, 8);

  RecordingDataplane dataplane;
  dataplane.attached = {7};  // pinned by the enforcer that ran before
  auto interfaces = [](const policy::IpAddress& address)
      -> policy::Result<std::optional<PodInterface>> {
    if (address.toString() == "10.1.0.7") {
      return std::optional(PodInterface{11, "web-1-h"});
    }
    return std::optional<PodInterface>();
  };
  server::metrics::Registry registry;
  EnforcerOptions enforcer_options;
  enforcer_options.node_name = "node-1";
  auto source = connect(fastOptions());
  ASSERT_TRUE(source);
  Enforcer control(dataplane, *source, interfaces, registry, enforcer_options);
  ASSERT_TRUE(control.start().has_value());
  dataplane.calls.clear();  // the node and the mode, set at start

  size_t unsynced_steps = 0;
  const auto until = Clock::now() + kDeadline;
  while (dataplane.generation() == 0 && Clock::now() < until) {
    control.step(kPoll);
    if (!source->cache().pods().hasSynced()) {
      ++unsynced_steps;
      EXPECT_TRUE(dataplane.calls.empty()) << ::testing::PrintToString(dataplane.calls);
      EXPECT_THAT(dataplane.attached, ElementsAre(7));
    }
  }
  EXPECT_GE(unsynced_steps, 1u) << "the pods were listed before the first step";
  EXPECT_THAT(dataplane.calls, ElementsAre("apply 1", "detach 7", "addresses 11 1", "attach 11"));
  EXPECT_THAT(dataplane.attached, ElementsAre(11));
}

}  // namespace
}  // namespace palisade::enforcer
