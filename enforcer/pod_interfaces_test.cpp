#include "enforcer/pod_interfaces.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

namespace palisade::enforcer {
namespace {

// A network namespace of the test's own, entered by the calling thread for
// the test's duration: nothing it does touches the machine's own network.
class ScratchNetns {
 public:
  ScratchNetns() : name_("pal-ifaces-" + std::to_string(::getpid())) {
    run("ip netns add " + name_);
    original_ = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    const int target = ::open(("/run/netns/" + name_).c_str(), O_RDONLY | O_CLOEXEC);
    EXPECT_GE(target, 0);
    EXPECT_EQ(::setns(target, CLONE_NEWNET), 0);
    ::close(target);
  }
  ~ScratchNetns() {
    ::setns(original_, CLONE_NEWNET);
    ::close(original_);
    run("ip netns delete " + name_);
  }
  // Runs a command inside the namespace.
  void inside(const std::string& command) { run("ip netns exec " + name_ + " " + command); }

 private:
  static void run(const std::string& command) {
    ASSERT_EQ(std::system((command + " >/dev/null 2>&1").c_str()), 0) << command;
  }

  std::string name_;
  int original_ = -1;
};

TEST(PodInterfaces, FindsTheVethThatRoutesToAPod) {
  ASSERT_EQ(::geteuid(), 0u) << "this test creates network namespaces: run it as root";
  ScratchNetns netns;
  netns.inside("ip link add pod1-h type veth peer name pod1-c");
  netns.inside("ip link set pod1-h up");
  netns.inside("ip link set lo up");
  netns.inside("ip route add 10.250.0.5/32 dev pod1-h");
  netns.inside("ip -6 route add fd00:250::5/128 dev pod1-h");
  netns.inside("ip route add 10.251.0.0/16 dev lo");

  auto found = podInterfaceFor(policy::IpAddress::parse("10.250.0.5").value());
  ASSERT_TRUE(found.has_value()) << found.error().message;
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->name, "pod1-h");
  EXPECT_GT((*found)->ifindex, 0);

  auto v6 = podInterfaceFor(policy::IpAddress::parse("fd00:250::5").value());
  ASSERT_TRUE(v6.has_value() && v6->has_value()) << (v6 ? "" : v6.error().message);
  EXPECT_EQ((*v6)->name, "pod1-h");

  auto remote = podInterfaceFor(policy::IpAddress::parse("10.251.3.4").value());
  ASSERT_TRUE(remote.has_value()) << remote.error().message;
  EXPECT_FALSE(remote->has_value()) << "routed to an interface that is not a pod's veth";

  auto nowhere = podInterfaceFor(policy::IpAddress::parse("192.0.2.9").value());
  ASSERT_TRUE(nowhere.has_value()) << nowhere.error().message;
  EXPECT_FALSE(nowhere->has_value());
}

}  // namespace
}  // namespace palisade::enforcer
