#include "enforcer/dataplane.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/pkt_cls.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <optional>
#include <thread>

#include "enforcer/dataplane_programs.h"
#include "enforcer/dataplane_testing.h"
#include "policy/compiler.h"
#include "policy/dataplane_lookup.h"
#include "policy/manifest.h"
#include "policy/oracle.h"
#include "tests/support/cluster_generator.h"

namespace palisade::enforcer {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using policy::IpAddress;
using testing::kTcpAck;
using testing::PacketBuilder;

constexpr uint8_t kICMP = 1;
constexpr uint8_t kTCP = 6;
constexpr uint8_t kUDP = 17;
constexpr uint8_t kGRE = 47;
constexpr uint8_t kICMPv6 = 58;
constexpr uint8_t kSCTP = 132;

IpAddress ip(std::string_view text) { return IpAddress::parse(text).value(); }

constexpr std::string_view kReasonNames[] = {
    "ALLOW_NOT_IP",         "ALLOW_CONNTRACK",    "ALLOW_POLICY",   "ALLOW_NODE",
    "ALLOW_DEFERRED",       "ALLOW_LINK_LOCAL",   "DROP_INGRESS_DENIED", "DROP_EGRESS_DENIED",
    "DROP_SPOOFED",         "DROP_MALFORMED",     "AUDIT_WOULD_DROP",
};
static_assert(std::size(kReasonNames) == PAL_REASON_COUNT);

// What a program did with a packet: its tc action and the one counter it
// moved.
struct Outcome {
  uint32_t action = TC_ACT_OK;
  int reason = -1;

  bool operator==(const Outcome&) const = default;
};

void PrintTo(const Outcome& outcome, std::ostream* out) {
  *out << (outcome.action == TC_ACT_OK     ? "TC_ACT_OK"
           : outcome.action == TC_ACT_SHOT ? "TC_ACT_SHOT"
                                           : std::to_string(outcome.action))
       << " "
       << (outcome.reason >= 0 && outcome.reason < PAL_REASON_COUNT
               ? std::string(kReasonNames[outcome.reason])
               : "no counter moved (or several): " + std::to_string(outcome.reason));
}

Outcome pass(pal_reason reason) { return {TC_ACT_OK, reason}; }
Outcome drop(pal_reason reason) { return {TC_ACT_SHOT, reason}; }

policy::ClusterState clusterFrom(std::string_view yaml) {
  const policy::Manifest manifest = policy::readManifest(yaml, "test.yaml");
  EXPECT_THAT(manifest.errors, IsEmpty());
  return policy::clusterStateOf(manifest);
}

using Fd = UniqueFd;

// The id of the program installed on a tc hook of `ifindex` (0: none).
uint32_t installedProgram(int ifindex, bpf_tc_attach_point point) {
  bpf_tc_hook hook{};
  hook.sz = sizeof(hook);
  hook.ifindex = ifindex;
  hook.attach_point = point;
  bpf_tc_opts options{};
  options.sz = sizeof(options);
  options.handle = kTcHandle;
  options.priority = kTcPriority;
  return bpf_tc_query(&hook, &options) == 0 ? options.prog_id : 0;
}

uint64_t monotonicNs() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(now.tv_nsec);
}

pal_ct_key ctKey(const IpAddress& source, const IpAddress& destination, uint16_t source_port,
                 uint16_t destination_port, uint8_t protocol) {
  pal_ct_key key{};
  std::memcpy(key.src, policy::dataplaneAddress(source).data(), PAL_ADDR_LEN);
  std::memcpy(key.dst, policy::dataplaneAddress(destination).data(), PAL_ADDR_LEN);
  key.sport = source_port;
  key.dport = destination_port;
  key.protocol = protocol;
  return key;
}

template <class Key>
std::vector<Key> keysOf(int fd) {
  std::vector<Key> keys;
  Key current{};
  Key next{};
  const Key* previous = nullptr;
  while (bpf_map_get_next_key(fd, previous, &next) == 0) {
    keys.push_back(next);
    current = next;
    previous = &current;
  }
  return keys;
}

// Namespaces a and b; a client and a server pod in a, another pod in b.
// The server admits the client on its named port and two other ports, and
// 203.0.113.0/24 on 8080 and UDP 5000; it may send nothing. The client
// admits nothing; it may reach the server, 203.0.113.0/24 on 443 and
// 198.51.100.0/24 on anything.
constexpr std::string_view kCluster = R"(
apiVersion: v1
kind: Namespace
metadata: {name: a, labels: {team: blue}}
---
apiVersion: v1
kind: Namespace
metadata: {name: b, labels: {team: red}}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: a, labels: {app: client}}
status: {podIPs: [{ip: 10.0.1.1}, {ip: "fd00::1:1"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: server, namespace: a, labels: {app: server}}
spec: {containers: [{name: s, ports: [{name: http, containerPort: 8080}]}]}
status: {podIPs: [{ip: 10.0.1.2}, {ip: "fd00::1:2"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: other, namespace: b, labels: {app: other}}
status: {podIPs: [{ip: 10.0.2.1}, {ip: "fd00::2:1"}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: server, namespace: a}
spec:
  podSelector: {matchLabels: {app: server}}
  policyTypes: [Ingress, Egress]
  ingress:
  - from: [{podSelector: {matchLabels: {app: client}}}]
    ports:
    - {port: http}
    - {protocol: UDP, port: 5000, endPort: 5010}
    - {protocol: SCTP, port: 9000}
  - from: [{ipBlock: {cidr: 203.0.113.0/24}}]
    ports: [{port: 8080}, {protocol: UDP, port: 5000}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: client, namespace: a}
spec:
  podSelector: {matchLabels: {app: client}}
  policyTypes: [Ingress, Egress]
  egress:
  - to: [{podSelector: {matchLabels: {app: server}}}]
  - to: [{ipBlock: {cidr: 203.0.113.0/24}}]
    ports: [{port: 443}]
  - to: [{ipBlock: {cidr: 198.51.100.0/24}}]
)";

const IpAddress kClient = ip("10.0.1.1");
const IpAddress kServer = ip("10.0.1.2");
const IpAddress kOther = ip("10.0.2.1");
const IpAddress kClient6 = ip("fd00::1:1");
const IpAddress kServer6 = ip("fd00::1:2");
const IpAddress kNode = ip("192.168.0.1");
const IpAddress kServiceIp = ip("10.96.0.10");

policy::NodeContext nodeContext() {
  return policy::NodeContext{.node_addresses = {kNode, ip("fd00:ffff::1")},
                             .service_cidrs = {policy::Cidr::parse("10.96.0.0/12").value(),
                                               policy::Cidr::parse("fd00:96::/108").value()}};
}

// A Dataplane in a pin directory of its own (in the test's private BPF
// filesystem), attached to a client and a server "pod" interface (veth
// pairs in the test's private network namespace), with the programs as tc
// installed them.
class DataplaneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto sandbox = testing::enterSandbox();
    ASSERT_TRUE(sandbox) << sandbox.error().message;
    static int test_number = 0;
    ++test_number;
    pin_dir_ = std::filesystem::path("/sys/fs/bpf") /
               ("palisade-test-" +
                std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    client_link_ = "pc" + std::to_string(test_number);
    server_link_ = "ps" + std::to_string(test_number);
    const auto client_if = testing::createVethPair(client_link_, client_link_ + "p");
    ASSERT_TRUE(client_if) << client_if.error().message;
    const auto server_if = testing::createVethPair(server_link_, server_link_ + "p");
    ASSERT_TRUE(server_if) << server_if.error().message;
    client_if_ = *client_if;
    server_if_ = *server_if;
    ASSERT_NO_FATAL_FAILURE(openDataplane());
    ASSERT_TRUE(dataplane_->setPodAddresses(client_if_, {kClient, kClient6}));
    ASSERT_TRUE(dataplane_->setPodAddresses(server_if_, {kServer, kServer6}));
    ASSERT_TRUE(dataplane_->attach(client_if_));
    ASSERT_TRUE(dataplane_->attach(server_if_));
    ASSERT_NO_FATAL_FAILURE(findPrograms());
  }

  void TearDown() override {
    dataplane_.reset();
    const auto removed = Dataplane::uninstall(pin_dir_);
    EXPECT_TRUE(removed) << removed.error().message;
    if (client_if_ != 0) {
      (void)testing::deleteLink(client_link_);
    }
    if (server_if_ != 0) {
      (void)testing::deleteLink(server_link_);
    }
  }

  void openDataplane() {
    auto opened =
        Dataplane::open(DataplaneOptions{.pin_dir = pin_dir_, .conntrack_entries = 65536});
    ASSERT_TRUE(opened) << opened.error().message;
    dataplane_ = std::move(*opened);
  }

  // The programs tc runs on the client's interface (the same on the
  // server's): what the tests run packets through.
  void findPrograms() {
    const uint32_t from_pod = installedProgram(client_if_, BPF_TC_INGRESS);
    const uint32_t to_pod = installedProgram(client_if_, BPF_TC_EGRESS);
    ASSERT_NE(from_pod, 0u);
    ASSERT_NE(to_pod, 0u);
    from_pod_ = Fd(bpf_prog_get_fd_by_id(from_pod));
    to_pod_ = Fd(bpf_prog_get_fd_by_id(to_pod));
    ASSERT_GE(from_pod_.get(), 0);
    ASSERT_GE(to_pod_.get(), 0);
  }

  // Compiles `state` as the next generation and makes it live.
  policy::CompiledCluster apply(const policy::ClusterState& state) {
    policy::CompiledCluster compiled = policy::compileCluster(state, dataplane_->generation() + 1);
    const auto applied = dataplane_->apply(compiled.tables);
    EXPECT_TRUE(applied) << applied.error().message;
    return compiled;
  }

  Outcome run(int program, int ifindex, const std::vector<uint8_t>& frame) {
    const auto before = dataplane_->counters();
    const auto action = testing::testRun(program, frame, ifindex);
    EXPECT_TRUE(action) << action.error().message;
    const auto after = dataplane_->counters();
    Outcome outcome{action.value_or(~0u), -1};
    for (int reason = 0; reason < PAL_REASON_COUNT; ++reason) {
      const uint64_t moved = after[reason] - before[reason];
      if (moved == 1 && outcome.reason == -1) {
        outcome.reason = reason;
      } else if (moved != 0) {
        outcome.reason = PAL_REASON_COUNT + reason;  // more than one counter moved
      }
    }
    return outcome;
  }

  // pal_from_pod: `frame` sent by the pod behind `ifindex`.
  Outcome send(const PacketBuilder& packet, int ifindex) {
    return run(from_pod_.get(), ifindex, packet.frame());
  }
  Outcome sendFromClient(const PacketBuilder& packet) { return send(packet, client_if_); }
  Outcome sendFromServer(const PacketBuilder& packet) { return send(packet, server_if_); }
  // pal_to_pod: `frame` on its way to a pod.
  Outcome receive(const PacketBuilder& packet, int ifindex) {
    return run(to_pod_.get(), ifindex, packet.frame());
  }
  Outcome receive(const PacketBuilder& packet) { return receive(packet, server_if_); }

  Fd pinned(std::string_view map) const {
    return Fd(bpf_obj_get((pin_dir_ / map).c_str()));
  }

  // kCluster applied and the client's TCP flow 40000 -> server:8080 admitted
  // at both ends; returns the flow table, to look into.
  Fd admitClientFlowToServer() {
    apply(clusterFrom(kCluster));
    Fd conntrack = pinned("pal_conntrack");
    EXPECT_GE(conntrack.get(), 0);
    EXPECT_EQ(sendFromClient(PacketBuilder(kClient, kServer).tcp(40000, 8080)),
              pass(PAL_ALLOW_DEFERRED));
    EXPECT_EQ(receive(PacketBuilder(kClient, kServer).tcp(40000, 8080)), pass(PAL_ALLOW_POLICY));
    return conntrack;
  }

  std::filesystem::path pin_dir_;
  std::string client_link_;
  std::string server_link_;
  int client_if_ = 0;
  int server_if_ = 0;
  std::unique_ptr<Dataplane> dataplane_;
  Fd from_pod_;
  Fd to_pod_;
};

// --- decisions ------------------------------------------------------------------

TEST_F(DataplaneTest, PalToPodAdmitsWhatTheIngressPolicyAllowsAndDropsTheRest) {
  apply(clusterFrom(kCluster));
  EXPECT_EQ(receive(PacketBuilder(kClient, kServer).tcp(40000, 8080)), pass(PAL_ALLOW_POLICY));
  EXPECT_EQ(receive(PacketBuilder(kClient, kServer).tcp(40001, 9090)),
            drop(PAL_DROP_INGRESS_DENIED));
  EXPECT_EQ(receive(PacketBuilder(kOther, kServer).tcp(40002, 8080)),
            drop(PAL_DROP_INGRESS_DENIED));
  EXPECT_EQ(receive(PacketBuilder(ip("203.0.113.9"), kServer).tcp(40003, 8080)),
            pass(PAL_ALLOW_POLICY));
  EXPECT_EQ(receive(PacketBuilder(ip("203.0.113.9"), kServer).tcp(40004, 9090)),
            drop(PAL_DROP_INGRESS_DENIED));
  EXPECT_EQ(receive(PacketBuilder(ip("198.51.100.9"), kServer).tcp(40005, 8080)),
            drop(PAL_DROP_INGRESS_DENIED));
}

TEST_F(DataplaneTest, PalToPodReadsUdpSctpAndIcmpAsThePolicySemanticsSay) {
  apply(clusterFrom(kCluster));
  EXPECT_EQ(receive(PacketBuilder(kClient, kServer).udp(40000, 4999)),
            drop(PAL_DROP_INGRESS_DENIED));
  EXPECT_EQ(receive(PacketBuilder(kClient, kServer).udp(40001, 5000)), pass(PAL_ALLOW_POLICY));
  EXPECT_EQ(receive(PacketBuilder(kClient, kServer).udp(40002, 5010)), pass(PAL_ALLOW_POLICY));
  EXPECT_EQ(receive(PacketBuilder(kClient, kServer).udp(40003, 5011)),
            drop(PAL_DROP_INGRESS_DENIED));
  EXPECT_EQ(receive(PacketBuilder(kClient, kServer).sctp(40004, 9000)), pass(PAL_ALLOW_POLICY));
  EXPECT_EQ(receive(PacketBuilder(kClient, kServer).sctp(40005, 9001)),
            drop(PAL_DROP_INGRESS_DENIED));
  EXPECT_EQ(receive(PacketBuilder(kClient, kServer).tcp(40006, 9000)),
            drop(PAL_DROP_INGRESS_DENIED))
      << "the SCTP port is not a TCP one";
  EXPECT_EQ(receive(PacketBuilder(kClient, kServer).icmpEcho(7)), drop(PAL_DROP_INGRESS_DENIED))
      << "a rule with ports never admits ICMP";
  EXPECT_EQ(receive(PacketBuilder(kClient, kServer).payload(kGRE, 24)),
            drop(PAL_DROP_INGRESS_DENIED));
  EXPECT_EQ(receive(PacketBuilder(kClient6, kServer6).tcp(40007, 8080)), pass(PAL_ALLOW_POLICY));
  EXPECT_EQ(receive(PacketBuilder(kClient6, kServer6).udp(40008, 5011)),
            drop(PAL_DROP_INGRESS_DENIED));
}

TEST_F(DataplaneTest, PalToPodChecksTheSourcePodsEgressPolicyToo) {
  apply(clusterFrom(kCluster));
  EXPECT_EQ(receive(PacketBuilder(kClient, kOther).tcp(40000, 80), server_if_),
            drop(PAL_DROP_EGRESS_DENIED))
      << "the client may only reach the server among pods";
  EXPECT_EQ(receive(PacketBuilder(kOther, kClient).tcp(40001, 80), client_if_),
            drop(PAL_DROP_INGRESS_DENIED));
}

TEST_F(DataplaneTest, PalToPodDropsWhatIsNotForAPodOfTheTables) {
  apply(clusterFrom(kCluster));
  EXPECT_EQ(receive(PacketBuilder(kOther, ip("10.0.9.9")).tcp(40000, 80)),
            drop(PAL_DROP_INGRESS_DENIED));
}

TEST_F(DataplaneTest, PalFromPodChecksEgressToAddressesOutsideTheCluster) {
  apply(clusterFrom(kCluster));
  EXPECT_EQ(sendFromClient(PacketBuilder(kClient, ip("203.0.113.5")).tcp(40000, 443)),
            pass(PAL_ALLOW_POLICY));
  EXPECT_EQ(sendFromClient(PacketBuilder(kClient, ip("203.0.113.5")).tcp(40001, 80)),
            drop(PAL_DROP_EGRESS_DENIED));
  EXPECT_EQ(sendFromClient(PacketBuilder(kClient, ip("198.51.100.1")).icmpEcho(9)),
            pass(PAL_ALLOW_POLICY));
  EXPECT_EQ(sendFromClient(PacketBuilder(kClient, ip("192.0.2.1")).udp(40002, 53)),
            drop(PAL_DROP_EGRESS_DENIED));
  EXPECT_EQ(sendFromClient(PacketBuilder(kClient6, ip("2001:db8::1")).tcp(40003, 443)),
            drop(PAL_DROP_EGRESS_DENIED));
}

TEST_F(DataplaneTest, PalFromPodDefersTrafficToPodsAndServicesToWhereItArrives) {
  apply(clusterFrom(kCluster));
  ASSERT_TRUE(dataplane_->setNode(nodeContext()));
  EXPECT_EQ(sendFromClient(PacketBuilder(kClient, kOther).tcp(40000, 80)),
            pass(PAL_ALLOW_DEFERRED))
      << "denied by the client's egress policy, but where the packet reaches the pod";
  EXPECT_EQ(sendFromClient(PacketBuilder(kClient, kServiceIp).tcp(40001, 80)),
            pass(PAL_ALLOW_DEFERRED));
  EXPECT_EQ(sendFromClient(PacketBuilder(kClient6, ip("fd00:96::1:2")).tcp(40002, 80)),
            pass(PAL_ALLOW_DEFERRED));

  ASSERT_TRUE(dataplane_->setNode(policy::NodeContext{}));
  EXPECT_EQ(sendFromClient(PacketBuilder(kClient, kServiceIp).tcp(40003, 80)),
            drop(PAL_DROP_EGRESS_DENIED))
      << "without the Service range, the address is outside the cluster";
}

TEST_F(DataplaneTest, TrafficBetweenAPodAndItsNodeIsAlwaysAllowed) {
  apply(clusterFrom(kCluster));
  ASSERT_TRUE(dataplane_->setNode(nodeContext()));
  EXPECT_EQ(receive(PacketBuilder(kNode, kServer).tcp(40000, 9999)), pass(PAL_ALLOW_NODE));
  EXPECT_EQ(receive(PacketBuilder(kNode, kClient).icmpEcho(3), client_if_), pass(PAL_ALLOW_NODE));
  EXPECT_EQ(sendFromServer(PacketBuilder(kServer, kNode).tcp(40001, 10250)), pass(PAL_ALLOW_NODE));
  EXPECT_EQ(sendFromServer(PacketBuilder(kServer6, ip("fd00:ffff::1")).udp(40002, 53)),
            pass(PAL_ALLOW_NODE));
  EXPECT_EQ(sendFromServer(PacketBuilder(kServer, ip("192.168.0.2")).tcp(40003, 10250)),
            drop(PAL_DROP_EGRESS_DENIED))
      << "another node is outside the cluster's pods like any address";
}

TEST_F(DataplaneTest, PalFromPodDropsPacketsFromAddressesThatAreNotThePods) {
  apply(clusterFrom(kCluster));
  EXPECT_EQ(sendFromClient(PacketBuilder(kServer, ip("203.0.113.5")).tcp(40000, 443)),
            drop(PAL_DROP_SPOOFED))
      << "the server's address, from the client's interface";
  EXPECT_EQ(sendFromClient(PacketBuilder(ip("10.0.1.99"), kServer).tcp(40001, 8080)),
            drop(PAL_DROP_SPOOFED));
  EXPECT_EQ(sendFromClient(PacketBuilder(kClient, ip("203.0.113.5")).tcp(40002, 443)),
            pass(PAL_ALLOW_POLICY));

  // The pod's addresses are replaced, not added to.
  ASSERT_TRUE(dataplane_->setPodAddresses(client_if_, {ip("10.0.1.7")}));
  EXPECT_EQ(sendFromClient(PacketBuilder(kClient, ip("203.0.113.5")).tcp(40003, 443)),
            drop(PAL_DROP_SPOOFED));
  EXPECT_EQ(sendFromClient(PacketBuilder(ip("10.0.1.7"), ip("203.0.113.5")).tcp(40004, 443)),
            drop(PAL_DROP_SPOOFED))
      << "its own address, but one the tables have no pod for";
  EXPECT_EQ(sendFromServer(PacketBuilder(kServer, kClient).tcp(40005, 80)),
            pass(PAL_ALLOW_DEFERRED))
      << "the server's addresses are untouched";
}

TEST_F(DataplaneTest, LinkLocalIpv6AndNonIpFramesPass) {
  apply(clusterFrom(kCluster));
  // Neighbour solicitation from the unspecified address (duplicate address
  // detection) to a solicited-node group.
  EXPECT_EQ(sendFromClient(PacketBuilder(ip("::"), ip("ff02::1:ff01:1")).icmp(135, 0)),
            pass(PAL_ALLOW_LINK_LOCAL));
  EXPECT_EQ(sendFromClient(PacketBuilder(ip("fe80::1"), ip("fe80::2")).tcp(40000, 22)),
            pass(PAL_ALLOW_LINK_LOCAL));
  EXPECT_EQ(sendFromClient(PacketBuilder(ip("fe80::1"), ip("ff02::16")).icmp(143, 0)),
            pass(PAL_ALLOW_LINK_LOCAL))
      << "a multicast listener report";
  EXPECT_EQ(sendFromClient(PacketBuilder(ip("fe80::1"), ip("2001:db8::1")).tcp(40001, 443)),
            drop(PAL_DROP_SPOOFED))
      << "a link-local source does not make a routable destination link-local";
  EXPECT_EQ(receive(PacketBuilder(ip("fe80::2"), kServer6).icmp(136, 0)),
            pass(PAL_ALLOW_LINK_LOCAL));
  EXPECT_EQ(receive(PacketBuilder(ip("fd00::9"), kServer6).icmp(136, 0)),
            pass(PAL_ALLOW_LINK_LOCAL))
      << "neighbour advertisements, whatever their source";

  std::vector<uint8_t> arp = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 1, 0x08, 0x06};
  arp.resize(42, 0);
  EXPECT_EQ(run(from_pod_.get(), client_if_, arp), pass(PAL_ALLOW_NOT_IP));
  EXPECT_EQ(run(to_pod_.get(), client_if_, arp), pass(PAL_ALLOW_NOT_IP));
}

// --- parsing ------------------------------------------------------------------

TEST_F(DataplaneTest, Ipv6ExtensionHeadersAreWalkedToTheTransportHeader) {
  apply(clusterFrom(kCluster));
  auto with_headers = [](uint16_t port) {
    PacketBuilder packet(kClient6, kServer6);
    packet.extensionHeader(0).extensionHeader(60).extensionHeader(43).extensionHeader(60);
    return packet.tcp(40000 + port % 100, port);
  };
  EXPECT_EQ(receive(with_headers(8080)), pass(PAL_ALLOW_POLICY));
  EXPECT_EQ(receive(with_headers(9090)), drop(PAL_DROP_INGRESS_DENIED));

  PacketBuilder too_many(kClient6, kServer6);
  for (int i = 0; i < 9; ++i) {
    too_many.extensionHeader(60);
  }
  EXPECT_EQ(receive(too_many.tcp(40001, 8080)), drop(PAL_DROP_MALFORMED));
}

TEST_F(DataplaneTest, FragmentsAfterTheFirstHavePortZero) {
  apply(clusterFrom(kCluster));
  EXPECT_EQ(receive(PacketBuilder(kClient, kServer).udp(40000, 5000).laterFragment()),
            drop(PAL_DROP_INGRESS_DENIED))
      << "no ports to match the rule's";
  EXPECT_EQ(receive(PacketBuilder(kClient6, kServer6).udp(40000, 5000).laterFragment()),
            drop(PAL_DROP_INGRESS_DENIED));

  apply(clusterFrom(std::string(kCluster) + R"(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: udp, namespace: a}
spec:
  podSelector: {matchLabels: {app: server}}
  ingress: [{ports: [{protocol: UDP}]}]
)"));
  EXPECT_EQ(receive(PacketBuilder(kClient, kServer).udp(40000, 5000).laterFragment()),
            pass(PAL_ALLOW_POLICY))
      << "a rule naming the protocol without a port admits them";
  EXPECT_EQ(receive(PacketBuilder(kClient6, kServer6).udp(40000, 5000).laterFragment()),
            pass(PAL_ALLOW_POLICY));
}

TEST_F(DataplaneTest, PacketsThatCannotBeReadAreMalformed) {
  apply(clusterFrom(kCluster));
  // (BPF_PROG_TEST_RUN itself refuses frames shorter than an IP header.)
  std::vector<uint8_t> frame = PacketBuilder(kClient, kServer).tcp(40000, 8080).frame();
  frame[14] = 0x43;  // an IPv4 header of 3 words
  EXPECT_EQ(run(to_pod_.get(), server_if_, frame), drop(PAL_DROP_MALFORMED));
  frame = PacketBuilder(kClient, kServer).tcp(40000, 8080).frame();
  frame.resize(14 + 20 + 3);  // not even the ports
  EXPECT_EQ(run(to_pod_.get(), server_if_, frame), drop(PAL_DROP_MALFORMED));
  frame = PacketBuilder(kClient, kServer).tcp(40000, 8080).frame();
  frame[14] = 0x4f;  // options up to 60 bytes: the TCP header is past the end
  EXPECT_EQ(run(to_pod_.get(), server_if_, frame), drop(PAL_DROP_MALFORMED));
  frame = PacketBuilder(kClient6, kServer6).extensionHeader(0).tcp(40000, 8080).frame();
  frame[14 + 40 + 1] = 255;  // a hop-by-hop header longer than the packet
  EXPECT_EQ(run(from_pod_.get(), client_if_, frame), drop(PAL_DROP_MALFORMED));
}

TEST_F(DataplaneTest, DroppedPacketsAreNotAnswered) {
  apply(clusterFrom(kCluster));
  const std::vector<uint8_t> frame = PacketBuilder(kClient, kServer).tcp(40000, 9090).frame();
  std::vector<uint8_t> out(frame.size() + 64);
  __sk_buff context{};
  context.ifindex = static_cast<uint32_t>(server_if_);
  bpf_test_run_opts options{};
  options.sz = sizeof(options);
  options.data_in = frame.data();
  options.data_size_in = static_cast<uint32_t>(frame.size());
  options.data_out = out.data();
  options.data_size_out = static_cast<uint32_t>(out.size());
  options.ctx_in = &context;
  options.ctx_size_in = sizeof(context);
  ASSERT_EQ(bpf_prog_test_run_opts(to_pod_.get(), &options), 0);
  EXPECT_EQ(options.retval, static_cast<uint32_t>(TC_ACT_SHOT));
  out.resize(options.data_size_out);
  EXPECT_EQ(out, frame) << "dropped as it came: not turned into a reset or an ICMP error";
}

// --- conntrack ------------------------------------------------------------------

TEST_F(DataplaneTest, RepliesLeaveThePodEvenWhereItsEgressPolicyDeniesTheDestination) {
  apply(clusterFrom(kCluster));
  const IpAddress outside = ip("203.0.113.7");
  EXPECT_EQ(receive(PacketBuilder(outside, kServer).tcp(40000, 8080)), pass(PAL_ALLOW_POLICY));
  EXPECT_EQ(receive(PacketBuilder(outside, kServer).tcp(40000, 8080, kTcpAck)),
            pass(PAL_ALLOW_CONNTRACK));
  EXPECT_EQ(sendFromServer(PacketBuilder(kServer, outside).tcp(8080, 40000, kTcpAck)),
            pass(PAL_ALLOW_CONNTRACK));
  EXPECT_EQ(sendFromServer(PacketBuilder(kServer, outside).tcp(8080, 40001)),
            drop(PAL_DROP_EGRESS_DENIED))
      << "not a reply: another port";
}

TEST_F(DataplaneTest, RepliesReachThePodEvenWhereItsIngressPolicyDeniesTheSource) {
  apply(clusterFrom(kCluster));
  // The client opens a connection to the server: deferred where it leaves,
  // admitted where it arrives.
  EXPECT_EQ(sendFromClient(PacketBuilder(kClient, kServer).tcp(40000, 8080)),
            pass(PAL_ALLOW_DEFERRED));
  EXPECT_EQ(receive(PacketBuilder(kClient, kServer).tcp(40000, 8080)), pass(PAL_ALLOW_POLICY));
  EXPECT_EQ(sendFromServer(PacketBuilder(kServer, kClient).tcp(8080, 40000, kTcpAck)),
            pass(PAL_ALLOW_CONNTRACK));
  EXPECT_EQ(receive(PacketBuilder(kServer, kClient).tcp(8080, 40000, kTcpAck), client_if_),
            pass(PAL_ALLOW_CONNTRACK))
      << "the client admits nothing, but this answers its own connection";
  EXPECT_EQ(receive(PacketBuilder(kServer, kClient).tcp(8080, 40001, kTcpAck), client_if_),
            drop(PAL_DROP_EGRESS_DENIED))
      << "not a reply: the server may send nothing of its own";

  // An echo request the client sends outside, and its reply.
  const IpAddress outside = ip("198.51.100.1");
  EXPECT_EQ(sendFromClient(PacketBuilder(kClient, outside).icmpEcho(77)), pass(PAL_ALLOW_POLICY));
  EXPECT_EQ(receive(PacketBuilder(outside, kClient).icmpEcho(77, true), client_if_),
            pass(PAL_ALLOW_CONNTRACK));
  EXPECT_EQ(receive(PacketBuilder(outside, kClient).icmpEcho(78, true), client_if_),
            drop(PAL_DROP_INGRESS_DENIED));
  EXPECT_EQ(receive(PacketBuilder(outside, kClient).icmpEcho(77), client_if_),
            drop(PAL_DROP_INGRESS_DENIED))
      << "a request of the outside's own is not a reply";
}

TEST_F(DataplaneTest, AnAdmittedFlowRecordsAReplyEntryAndRepliesPassWithoutIt) {
  const Fd conntrack = admitClientFlowToServer();
  ASSERT_GE(conntrack.get(), 0);
  // Replies find their own tuple: one lookup, not a miss and a second one.
  const pal_ct_key reply = ctKey(kServer, kClient, 8080, 40000, kTCP);
  pal_ct entry{};
  ASSERT_EQ(bpf_map_lookup_elem(conntrack.get(), &reply, &entry), 0);
  EXPECT_EQ(entry.flags, PAL_CT_REPLY);
  EXPECT_EQ(sendFromServer(PacketBuilder(kServer, kClient).tcp(8080, 40000, kTcpAck)),
            pass(PAL_ALLOW_CONNTRACK));
  // Evicted, the reply entry is only a shortcut: the flow's own entry still
  // lets replies through.
  ASSERT_EQ(bpf_map_delete_elem(conntrack.get(), &reply), 0);
  EXPECT_EQ(sendFromServer(PacketBuilder(kServer, kClient).tcp(8080, 40000, kTcpAck)),
            pass(PAL_ALLOW_CONNTRACK));
  // A reply entry opens nothing by itself: the server's own new flow back to
  // the client's port is judged by policy.
  const pal_ct_key forward = ctKey(kClient, kServer, 40000, 8080, kTCP);
  ASSERT_EQ(bpf_map_delete_elem(conntrack.get(), &forward), 0);
  // Fresh (bpf_ktime_get_ns counts CLOCK_MONOTONIC), so it is not ignored as
  // expired.
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  const auto now_ns = static_cast<__u64>(now.tv_sec) * 1000000000ULL +
                      static_cast<__u64>(now.tv_nsec);
  pal_ct reply_only{.last_seen_ns = now_ns, .flags = PAL_CT_REPLY, .sender_ifindex = 0};
  ASSERT_EQ(bpf_map_update_elem(conntrack.get(), &reply, &reply_only, BPF_ANY), 0);
  EXPECT_EQ(receive(PacketBuilder(kClient, kServer).tcp(40000, 8080)), pass(PAL_ALLOW_POLICY))
      << "the client's flow is judged again once its own entry is gone";
  // A packet whose own tuple carries a reply entry passes as a reply; without
  // the entry the same packet is judged, and denied.
  const PacketBuilder answer = PacketBuilder(kServer, kClient).tcp(8080, 40001, kTcpAck);
  const pal_ct_key answer_key = ctKey(kServer, kClient, 8080, 40001, kTCP);
  ASSERT_EQ(bpf_map_update_elem(conntrack.get(), &answer_key, &reply_only, BPF_ANY), 0);
  EXPECT_EQ(receive(answer, client_if_), pass(PAL_ALLOW_CONNTRACK));
  ASSERT_EQ(bpf_map_delete_elem(conntrack.get(), &answer_key), 0);
  EXPECT_EQ(receive(answer, client_if_), drop(PAL_DROP_EGRESS_DENIED));
}

TEST_F(DataplaneTest, AFlowsEntryVouchesForItsSendersOnlyOnTheInterfacesThatWereChecked) {
  const Fd conntrack = admitClientFlowToServer();
  ASSERT_GE(conntrack.get(), 0);
  // The client's interface sends the flow, the server's its replies: each
  // was checked against its pod's addresses when the entries were written.
  const pal_ct_key forward_key = ctKey(kClient, kServer, 40000, 8080, kTCP);
  const pal_ct_key reply_key = ctKey(kServer, kClient, 8080, 40000, kTCP);
  pal_ct forward{};
  ASSERT_EQ(bpf_map_lookup_elem(conntrack.get(), &forward_key, &forward), 0);
  EXPECT_EQ(forward.sender_ifindex, static_cast<__u32>(client_if_));
  pal_ct reply{};
  ASSERT_EQ(bpf_map_lookup_elem(conntrack.get(), &reply_key, &reply), 0);
  EXPECT_EQ(reply.sender_ifindex, static_cast<__u32>(server_if_));
  EXPECT_EQ(sendFromClient(PacketBuilder(kClient, kServer).tcp(40000, 8080, kTcpAck)),
            pass(PAL_ALLOW_CONNTRACK));
  EXPECT_EQ(sendFromServer(PacketBuilder(kServer, kClient).tcp(8080, 40000, kTcpAck)),
            pass(PAL_ALLOW_CONNTRACK));
  // The same tuples sent from the other pod's interface are spoofed, however
  // live their entries.
  EXPECT_EQ(sendFromServer(PacketBuilder(kClient, kServer).tcp(40000, 8080, kTcpAck)),
            drop(PAL_DROP_SPOOFED));
  EXPECT_EQ(sendFromClient(PacketBuilder(kServer, kClient).tcp(8080, 40000, kTcpAck)),
            drop(PAL_DROP_SPOOFED));
  // An entry that knows no sender (written before, or by another node's
  // side) still lets the pod's own packets through after the check.
  forward.sender_ifindex = 0;
  ASSERT_EQ(bpf_map_update_elem(conntrack.get(), &forward_key, &forward, BPF_ANY), 0);
  EXPECT_EQ(sendFromClient(PacketBuilder(kClient, kServer).tcp(40000, 8080, kTcpAck)),
            pass(PAL_ALLOW_CONNTRACK));
  EXPECT_EQ(sendFromServer(PacketBuilder(kClient, kServer).tcp(40000, 8080, kTcpAck)),
            drop(PAL_DROP_SPOOFED));
}

TEST_F(DataplaneTest, IcmpErrorsAboutATrackedFlowPass) {
  apply(clusterFrom(kCluster));
  const IpAddress router = ip("192.0.2.254");
  // The client's datagram to the server, admitted; the port unreachable
  // error a router answers with reaches the client, which admits nothing.
  const PacketBuilder datagram = PacketBuilder(kClient, kServer).udp(40000, 5000);
  EXPECT_EQ(sendFromClient(datagram), pass(PAL_ALLOW_DEFERRED));
  EXPECT_EQ(receive(datagram), pass(PAL_ALLOW_POLICY));
  EXPECT_EQ(receive(PacketBuilder(router, kClient).icmp(3, 3, datagram.ipPacket()), client_if_),
            pass(PAL_ALLOW_CONNTRACK));
  const PacketBuilder untracked = PacketBuilder(kClient, kServer).udp(40001, 5000);
  EXPECT_EQ(receive(PacketBuilder(router, kClient).icmp(3, 3, untracked.ipPacket()), client_if_),
            drop(PAL_DROP_INGRESS_DENIED));

  // The server answers a datagram from outside with an error, which its
  // egress policy (nothing) would not allow on its own.
  const PacketBuilder inbound = PacketBuilder(ip("203.0.113.7"), kServer).udp(40002, 5000);
  EXPECT_EQ(receive(inbound), pass(PAL_ALLOW_POLICY));
  EXPECT_EQ(
      sendFromServer(PacketBuilder(kServer, ip("203.0.113.7")).icmp(3, 3, inbound.ipPacket())),
      pass(PAL_ALLOW_CONNTRACK));
  EXPECT_EQ(receive(PacketBuilder(router, kClient).icmp(3, 3, inbound.ipPacket()), client_if_),
            drop(PAL_DROP_INGRESS_DENIED))
      << "an error about a flow the client has no part in";

  // IPv6: packet too big, about a TCP connection.
  const PacketBuilder segment = PacketBuilder(kClient6, kServer6).tcp(40003, 8080);
  EXPECT_EQ(receive(segment), pass(PAL_ALLOW_POLICY));
  EXPECT_EQ(receive(PacketBuilder(ip("fd00::ffff:9"), kClient6).icmp(2, 0, segment.ipPacket()),
                    client_if_),
            pass(PAL_ALLOW_CONNTRACK));
}

TEST_F(DataplaneTest, EstablishedFlowsOutliveAPolicyChange) {
  apply(clusterFrom(kCluster));
  EXPECT_EQ(receive(PacketBuilder(kClient, kServer).tcp(40000, 8080)), pass(PAL_ALLOW_POLICY));
  const std::string pods(kCluster.substr(0, kCluster.find("---\napiVersion: networking")));
  apply(clusterFrom(pods + R"(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: a}
spec: {podSelector: {}}
)"));
  EXPECT_EQ(receive(PacketBuilder(kClient, kServer).tcp(40000, 8080, kTcpAck)),
            pass(PAL_ALLOW_CONNTRACK));
  EXPECT_EQ(receive(PacketBuilder(kClient, kServer).tcp(40001, 8080)),
            drop(PAL_DROP_INGRESS_DENIED));
}

TEST_F(DataplaneTest, FlowsIdleLongerThanTheirTimeoutAreForgotten) {
  apply(clusterFrom(kCluster));
  const Fd conntrack = pinned("pal_conntrack");
  ASSERT_GE(conntrack.get(), 0);
  const IpAddress outside = ip("203.0.113.7");
  // Flows the server opened to the outside (as if its egress had allowed
  // them), idle for a while: their replies pass while the flow is live.
  auto idle_for = [&](uint8_t protocol, uint16_t port, uint64_t seconds) {
    const pal_ct_key key = ctKey(kServer, outside, port, 443, protocol);
    const pal_ct value{.last_seen_ns = monotonicNs() - seconds * 1'000'000'000ull,
                       .flags = PAL_CT_SEEN_AT_SOURCE,
                       .sender_ifindex = 0};
    EXPECT_EQ(bpf_map_update_elem(conntrack.get(), &key, &value, BPF_ANY), 0);
  };
  idle_for(kUDP, 41000, 290);
  idle_for(kUDP, 41001, 310);
  idle_for(kTCP, 41002, 3590);
  idle_for(kTCP, 41003, 3610);
  EXPECT_EQ(receive(PacketBuilder(outside, kServer).udp(443, 41000)), pass(PAL_ALLOW_CONNTRACK));
  EXPECT_EQ(receive(PacketBuilder(outside, kServer).udp(443, 41001)),
            drop(PAL_DROP_INGRESS_DENIED));
  EXPECT_EQ(receive(PacketBuilder(outside, kServer).tcp(443, 41002, kTcpAck)),
            pass(PAL_ALLOW_CONNTRACK));
  EXPECT_EQ(receive(PacketBuilder(outside, kServer).tcp(443, 41003, kTcpAck)),
            drop(PAL_DROP_INGRESS_DENIED));
  // A packet keeps its flow alive.
  const pal_ct_key live = ctKey(kServer, outside, 41000, 443, kUDP);
  pal_ct value{};
  ASSERT_EQ(bpf_map_lookup_elem(conntrack.get(), &live, &value), 0);
  EXPECT_GT(value.last_seen_ns, monotonicNs() - 1'000'000'000ull);
}

// --- updates ------------------------------------------------------------------

// Every policy key of every map, by generation.
std::map<uint32_t, size_t> keysByGeneration(const std::filesystem::path& pin_dir) {
  std::map<uint32_t, size_t> generations;
  auto count = [&]<class Key>(std::string_view map, Key) {
    const int fd = bpf_obj_get((pin_dir / map).c_str());
    EXPECT_GE(fd, 0) << map;
    for (const Key& key : keysOf<Key>(fd)) {
      ++generations[key.generation];
    }
    close(fd);
  };
  count("pal_endpoints", pal_endpoint_key{});
  count("pal_rules", pal_rule_key{});
  count("pal_port_ranges", pal_port_range_key{});
  count("pal_cidrs", pal_cidr_key{});
  return generations;
}

size_t entries(const policy::DataplaneTables& tables) {
  return tables.endpoints.size() + tables.rules.size() + tables.port_ranges.size() +
         tables.cidrs.size();
}

TEST_F(DataplaneTest, ApplyMakesTheNewGenerationLiveAndRemovesTheOldOne) {
  EXPECT_EQ(dataplane_->generation(), 0u);
  const policy::CompiledCluster first = apply(clusterFrom(kCluster));
  EXPECT_EQ(dataplane_->generation(), 1u);
  EXPECT_EQ(keysByGeneration(pin_dir_), (std::map<uint32_t, size_t>{{1, entries(first.tables)}}));
  EXPECT_EQ(receive(PacketBuilder(kOther, kServer).tcp(40000, 8080)),
            drop(PAL_DROP_INGRESS_DENIED));

  const policy::CompiledCluster second = apply(clusterFrom(std::string(kCluster) + R"(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: from-b, namespace: a}
spec:
  podSelector: {matchLabels: {app: server}}
  ingress: [{from: [{namespaceSelector: {matchLabels: {team: red}}}]}]
)"));
  EXPECT_EQ(dataplane_->generation(), 2u);
  const Fd config = pinned("pal_config");
  pal_config live{};
  const uint32_t zero = 0;
  ASSERT_EQ(bpf_map_lookup_elem(config.get(), &zero, &live), 0);
  EXPECT_EQ(live.generation, 2u);
  EXPECT_EQ(keysByGeneration(pin_dir_), (std::map<uint32_t, size_t>{{2, entries(second.tables)}}));
  EXPECT_EQ(receive(PacketBuilder(kOther, kServer).tcp(40001, 8080)), pass(PAL_ALLOW_POLICY));
}

TEST_F(DataplaneTest, ApplyRefusesTablesThatDoNotFollowTheLiveGeneration) {
  apply(clusterFrom(kCluster));
  const auto applied = dataplane_->apply(policy::compileCluster(clusterFrom(kCluster), 5).tables);
  ASSERT_FALSE(applied);
  EXPECT_THAT(applied.error().message, HasSubstr("compile generation 2"));
  EXPECT_EQ(dataplane_->generation(), 1u);
}

TEST_F(DataplaneTest, AFailedApplyLeavesTheLiveGenerationAndRemovesWhatItWrote) {
  const policy::CompiledCluster first = apply(clusterFrom(kCluster));
  policy::CompiledCluster broken = policy::compileCluster(clusterFrom(kCluster), 2);
  ASSERT_FALSE(broken.tables.cidrs.empty());
  broken.tables.cidrs.back().first.prefixlen = 200;  // longer than the key: the trie refuses it
  const auto applied = dataplane_->apply(broken.tables);
  ASSERT_FALSE(applied);
  EXPECT_THAT(applied.error().message, HasSubstr("pal_cidrs"));
  EXPECT_THAT(applied.error().message, HasSubstr("Invalid argument"));
  EXPECT_THAT(applied.error().message, HasSubstr("live generation 1 is unchanged"));
  EXPECT_EQ(dataplane_->generation(), 1u);
  EXPECT_EQ(keysByGeneration(pin_dir_), (std::map<uint32_t, size_t>{{1, entries(first.tables)}}));
  EXPECT_EQ(receive(PacketBuilder(kClient, kServer).tcp(40000, 8080)), pass(PAL_ALLOW_POLICY));

  apply(clusterFrom(kCluster));
  EXPECT_EQ(dataplane_->generation(), 2u) << "the next apply goes through";
}

TEST_F(DataplaneTest, PacketsSeeTheOldPolicyOrTheNewOneWhileTablesAreSwapped) {
  // Both generations admit the client on 8080, but with different rule set
  // and identity numbers (the second has an extra namespace, pod and policy
  // ahead of the others): a packet that mixed them would be dropped. Only
  // the second admits the client on 7000.
  const policy::ClusterState first = clusterFrom(kCluster);
  const policy::ClusterState second = clusterFrom(std::string(R"(
apiVersion: v1
kind: Pod
metadata: {name: early, namespace: aa, labels: {app: early}}
status: {podIP: 10.0.3.1}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: early, namespace: aa}
spec: {podSelector: {}, ingress: [{ports: [{port: 1}]}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: seven-thousand, namespace: a}
spec:
  podSelector: {matchLabels: {app: server}}
  ingress: [{ports: [{port: 7000}]}]
---
)") + std::string(kCluster));
  {
    const auto a = policy::compileCluster(first, 1);
    const auto b = policy::compileCluster(second, 2);
    const auto server_a = policy::DataplaneView(a.tables).endpoint(kServer);
    const auto server_b = policy::DataplaneView(b.tables).endpoint(kServer);
    ASSERT_NE(server_a->ingress_ruleset, server_b->ingress_ruleset);
  }
  apply(first);

  std::atomic<bool> done = false;
  std::atomic<int> swaps = 0;
  std::thread updater([&] {
    while (!done) {
      const auto applied = dataplane_->apply(
          policy::compileCluster(swaps % 2 == 0 ? second : first, dataplane_->generation() + 1)
              .tables);
      if (!applied) {
        ADD_FAILURE() << applied.error().message;
        return;
      }
      ++swaps;
    }
  });
  int admitted_7000 = 0;
  int denied_7000 = 0;
  int dropped_8080 = 0;
  uint16_t port = 10000;
  for (int i = 0; (i < 3000 || swaps < 6) && i < 60000; ++i) {
    // A new source port each time, so that every packet is a first packet.
    const auto always = testing::testRun(
        to_pod_.get(), PacketBuilder(kClient, kServer).tcp(port++, 8080).frame(), server_if_);
    const auto sometimes = testing::testRun(
        to_pod_.get(), PacketBuilder(kClient, kServer).tcp(port++, 7000).frame(), server_if_);
    if (!always || !sometimes) {
      ADD_FAILURE() << (always ? sometimes : always).error().message;
      break;
    }
    dropped_8080 += *always != TC_ACT_OK;
    (*sometimes == TC_ACT_OK ? admitted_7000 : denied_7000)++;
  }
  done = true;
  updater.join();
  EXPECT_EQ(dropped_8080, 0) << "a packet saw tables of neither generation";
  EXPECT_GE(swaps, 6);
  EXPECT_GT(admitted_7000, 0);
  EXPECT_GT(denied_7000, 0);
  const auto generations = keysByGeneration(pin_dir_);
  ASSERT_EQ(generations.size(), 1u);
  EXPECT_EQ(generations.begin()->first, dataplane_->generation());
}

// --- audit mode and events ------------------------------------------------------

TEST_F(DataplaneTest, AuditModeDropsNothingAndReportsWhatItWouldHaveDropped) {
  const policy::CompiledCluster compiled = apply(clusterFrom(kCluster));
  const policy::DataplaneView view(compiled.tables);
  ASSERT_TRUE(dataplane_->setMode(PAL_MODE_AUDIT));
  EXPECT_EQ(dataplane_->generation(), 1u) << "the mode leaves the generation alone";

  EXPECT_EQ(receive(PacketBuilder(kOther, kServer).tcp(40000, 8080)),
            pass(PAL_AUDIT_WOULD_DROP));
  EXPECT_EQ(receive(PacketBuilder(kOther, kServer).tcp(40000, 8080, kTcpAck)),
            pass(PAL_ALLOW_CONNTRACK))
      << "the flow goes on as it would without policies, reported once";
  EXPECT_EQ(receive(PacketBuilder(kClient, kServer).tcp(40001, 8080)), pass(PAL_ALLOW_POLICY));

  std::vector<pal_flow_event> events;
  const auto polled = dataplane_->pollEvents(std::chrono::milliseconds(100),
                                             [&](const pal_flow_event& e) { events.push_back(e); });
  ASSERT_TRUE(polled) << polled.error().message;
  EXPECT_EQ(*polled, 1);
  ASSERT_EQ(events.size(), 1u);
  const pal_flow_event& event = events[0];
  EXPECT_EQ(std::memcmp(event.src, policy::dataplaneAddress(kOther).data(), PAL_ADDR_LEN), 0);
  EXPECT_EQ(std::memcmp(event.dst, policy::dataplaneAddress(kServer).data(), PAL_ADDR_LEN), 0);
  EXPECT_EQ(event.sport, 40000);
  EXPECT_EQ(event.dport, 8080);
  EXPECT_EQ(event.protocol, kTCP);
  EXPECT_EQ(event.direction, PAL_DIR_INGRESS);
  EXPECT_EQ(event.verdict, PAL_VERDICT_WOULD_DROP);
  EXPECT_EQ(event.reason, PAL_DROP_INGRESS_DENIED);
  EXPECT_EQ(event.ifindex, static_cast<uint32_t>(server_if_));
  EXPECT_EQ(event.src_identity, view.endpoint(kOther)->identity);
  EXPECT_EQ(event.dst_identity, view.endpoint(kServer)->identity);
  EXPECT_EQ(event.ruleset, view.endpoint(kServer)->ingress_ruleset);
  EXPECT_NE(event.ruleset, 0u);
  EXPECT_TRUE(compiled.index.rulesets.contains(event.ruleset));
  EXPECT_GT(event.timestamp_ns, 0u);
  EXPECT_LE(event.timestamp_ns, monotonicNs());

  ASSERT_TRUE(dataplane_->setMode(PAL_MODE_ENFORCE));
  EXPECT_EQ(sendFromClient(PacketBuilder(kClient, ip("203.0.113.5")).udp(40002, 53)),
            drop(PAL_DROP_EGRESS_DENIED));
  events.clear();
  ASSERT_TRUE(dataplane_->pollEvents(std::chrono::milliseconds(100),
                                     [&](const pal_flow_event& e) { events.push_back(e); }));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].verdict, PAL_VERDICT_DROPPED);
  EXPECT_EQ(events[0].direction, PAL_DIR_EGRESS);
  EXPECT_EQ(events[0].reason, PAL_DROP_EGRESS_DENIED);
  EXPECT_EQ(events[0].ruleset,
            view.endpoint(kClient)->egress_ruleset & ~PAL_RULESET_PER_ENDPOINT);
  EXPECT_EQ(events[0].dst_identity, 0u) << "outside the pod network";
  EXPECT_EQ(events[0].protocol, kUDP);
  EXPECT_EQ(events[0].ifindex, static_cast<uint32_t>(client_if_));
}

TEST_F(DataplaneTest, PollEventsWaitsAtMostItsTimeoutWhenThereAreNone) {
  const auto start = std::chrono::steady_clock::now();
  const auto polled = dataplane_->pollEvents(std::chrono::milliseconds(50), [](const auto&) {});
  ASSERT_TRUE(polled) << polled.error().message;
  EXPECT_EQ(*polled, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

// --- pins, attachments, restarts ------------------------------------------------

TEST_F(DataplaneTest, PinnedStateOutlivesTheProcessAndIsAdoptedOnRestart) {
  const policy::CompiledCluster first = apply(clusterFrom(kCluster));
  const uint32_t program_before = installedProgram(server_if_, BPF_TC_EGRESS);
  ASSERT_NE(program_before, 0u);

  dataplane_.reset();  // the daemon exits (its fds close, as with SIGKILL)
  EXPECT_TRUE(std::filesystem::exists(pin_dir_ / "pal_rules"));
  EXPECT_EQ(installedProgram(server_if_, BPF_TC_EGRESS), program_before)
      << "the programs stay attached";
  const std::vector<uint8_t> denied = PacketBuilder(kOther, kServer).tcp(40000, 8080).frame();
  const std::vector<uint8_t> admitted = PacketBuilder(kClient, kServer).tcp(40000, 8080).frame();
  EXPECT_EQ(testing::testRun(to_pod_.get(), denied, server_if_), uint32_t{TC_ACT_SHOT})
      << "and keep enforcing the live generation";
  EXPECT_EQ(testing::testRun(to_pod_.get(), admitted, server_if_), uint32_t{TC_ACT_OK});

  ASSERT_NO_FATAL_FAILURE(openDataplane());
  EXPECT_EQ(dataplane_->generation(), 1u);
  EXPECT_THAT(dataplane_->attachedInterfaces(), ElementsAre(std::min(client_if_, server_if_),
                                                            std::max(client_if_, server_if_)));
  ASSERT_TRUE(dataplane_->attach(server_if_));
  const uint32_t program_after = installedProgram(server_if_, BPF_TC_EGRESS);
  EXPECT_NE(program_after, 0u);
  EXPECT_NE(program_after, program_before) << "the new process's program replaced the old one";

  const policy::CompiledCluster second = apply(clusterFrom(std::string(kCluster) + R"(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: from-b, namespace: a}
spec:
  podSelector: {matchLabels: {app: server}}
  ingress: [{from: [{namespaceSelector: {matchLabels: {team: red}}}]}]
)"));
  EXPECT_EQ(dataplane_->generation(), 2u);
  EXPECT_EQ(keysByGeneration(pin_dir_), (std::map<uint32_t, size_t>{{2, entries(second.tables)}}))
      << "the restarted process found the old generation's keys in the maps";

  dataplane_.reset();
  ASSERT_TRUE(Dataplane::uninstall(pin_dir_));
  EXPECT_FALSE(std::filesystem::exists(pin_dir_));
  EXPECT_EQ(installedProgram(server_if_, BPF_TC_EGRESS), 0u);
  EXPECT_EQ(installedProgram(server_if_, BPF_TC_INGRESS), 0u);
  EXPECT_EQ(installedProgram(client_if_, BPF_TC_INGRESS), 0u);
  EXPECT_TRUE(Dataplane::uninstall(pin_dir_)) << "nothing left to remove is not an error";
}

TEST_F(DataplaneTest, ARestartedProcessRemovesAnUpdateThatWasNotFinished) {
  apply(clusterFrom(kCluster));
  dataplane_.reset();
  // What a process killed in the middle of writing generation 2 leaves.
  {
    const Fd rules = pinned("pal_rules");
    const pal_rule_key stray{.generation = 2, .ruleset = 1, .peer = PAL_PEER_ANY, .port = 0,
                             .protocol = PAL_PROTOCOL_ANY, .pad = 0};
    const pal_rule value{.rule = 0};
    ASSERT_EQ(bpf_map_update_elem(rules.get(), &stray, &value, BPF_ANY), 0);
  }
  ASSERT_NO_FATAL_FAILURE(openDataplane());
  const policy::CompiledCluster second = apply(clusterFrom(kCluster));
  EXPECT_EQ(keysByGeneration(pin_dir_), (std::map<uint32_t, size_t>{{2, entries(second.tables)}}));
  EXPECT_EQ(receive(PacketBuilder(kOther, kServer).tcp(40000, 8080)),
            drop(PAL_DROP_INGRESS_DENIED));
}

TEST_F(DataplaneTest, DetachRemovesTheProgramsAndThePodsAddresses) {
  apply(clusterFrom(kCluster));
  ASSERT_TRUE(dataplane_->detach(client_if_));
  EXPECT_EQ(installedProgram(client_if_, BPF_TC_INGRESS), 0u);
  EXPECT_EQ(installedProgram(client_if_, BPF_TC_EGRESS), 0u);
  EXPECT_NE(installedProgram(server_if_, BPF_TC_EGRESS), 0u);
  EXPECT_THAT(dataplane_->attachedInterfaces(), ElementsAre(server_if_));
  EXPECT_EQ(sendFromClient(PacketBuilder(kClient, ip("203.0.113.5")).tcp(40000, 443)),
            drop(PAL_DROP_SPOOFED))
      << "its addresses are forgotten";
  EXPECT_TRUE(dataplane_->detach(client_if_)) << "detaching twice is harmless";
}

TEST_F(DataplaneTest, UninstallDetachesFromEveryInterfaceEvenOnesThatAreGone) {
  ASSERT_TRUE(testing::deleteLink(client_link_));
  dataplane_.reset();
  const auto removed = Dataplane::uninstall(pin_dir_);
  ASSERT_TRUE(removed) << removed.error().message;
  EXPECT_EQ(installedProgram(server_if_, BPF_TC_INGRESS), 0u);
  EXPECT_EQ(installedProgram(server_if_, BPF_TC_EGRESS), 0u);
  EXPECT_FALSE(std::filesystem::exists(pin_dir_));
}

TEST_F(DataplaneTest, TheFlowTableIsSizedByTheOptionsAndKeepsItsSizeWhilePinned) {
  auto capacity = [&] {
    const Fd conntrack = pinned("pal_conntrack");
    bpf_map_info info{};
    uint32_t length = sizeof(info);
    EXPECT_EQ(bpf_obj_get_info_by_fd(conntrack.get(), &info, &length), 0);
    return info.max_entries;
  };
  EXPECT_EQ(capacity(), 65536u);
  apply(clusterFrom(kCluster));
  EXPECT_EQ(receive(PacketBuilder(kClient, kServer).tcp(40000, 8080)), pass(PAL_ALLOW_POLICY));
  dataplane_.reset();
  auto reopened = Dataplane::open(DataplaneOptions{.pin_dir = pin_dir_, .conntrack_entries = 4096});
  ASSERT_TRUE(reopened) << reopened.error().message;
  dataplane_ = std::move(*reopened);
  EXPECT_EQ(capacity(), 65536u) << "the pinned table, and the flows in it, are kept";
  ASSERT_NO_FATAL_FAILURE(findPrograms());
  EXPECT_EQ(receive(PacketBuilder(kClient, kServer).tcp(40000, 8080, kTcpAck)),
            pass(PAL_ALLOW_CONNTRACK));
}

TEST_F(DataplaneTest, PolicyMapsAreSizedByTheOptionsAndAnUpdateTooLargeKeepsTheLiveTables) {
  dataplane_.reset();
  ASSERT_TRUE(Dataplane::uninstall(pin_dir_));
  auto opened = Dataplane::open(DataplaneOptions{.pin_dir = pin_dir_,
                                                 .conntrack_entries = 4096,
                                                 .endpoint_entries = 1024,
                                                 .rule_entries = 2048,
                                                 .port_range_entries = 1024,
                                                 .cidr_entries = 1024});
  ASSERT_TRUE(opened) << opened.error().message;
  dataplane_ = std::move(*opened);
  auto capacity = [&](std::string_view map) {
    const Fd fd = pinned(map);
    bpf_map_info info{};
    uint32_t length = sizeof(info);
    EXPECT_EQ(bpf_obj_get_info_by_fd(fd.get(), &info, &length), 0) << map;
    return info.max_entries;
  };
  EXPECT_EQ(capacity("pal_conntrack"), 4096u);
  EXPECT_EQ(capacity("pal_endpoints"), 1024u);
  EXPECT_EQ(capacity("pal_rules"), 2048u);
  EXPECT_EQ(capacity("pal_port_ranges"), 1024u);
  EXPECT_EQ(capacity("pal_cidrs"), 1024u);

  ASSERT_TRUE(dataplane_->setPodAddresses(client_if_, {kClient, kClient6}));
  ASSERT_TRUE(dataplane_->setPodAddresses(server_if_, {kServer, kServer6}));
  ASSERT_TRUE(dataplane_->attach(client_if_));
  ASSERT_TRUE(dataplane_->attach(server_if_));
  ASSERT_NO_FATAL_FAILURE(findPrograms());
  apply(clusterFrom(kCluster));
  const uint32_t live = dataplane_->generation();

  // 1,100 more pods: more addresses than pal_endpoints holds.
  std::string larger(kCluster);
  for (int i = 0; i < 1100; ++i) {
    larger += "\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p" + std::to_string(i) +
              ", namespace: b}\nstatus: {podIP: 10.0." + std::to_string(10 + i / 250) + "." +
              std::to_string(1 + i % 250) + "}\n";
  }
  const policy::CompiledCluster compiled =
      policy::compileCluster(clusterFrom(larger), live + 1);
  const auto refused = dataplane_->apply(compiled.tables);
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message, HasSubstr("pal_endpoints holds at most 1024 entries"));
  EXPECT_THAT(refused.error().message,
              HasSubstr("the live generation " + std::to_string(live) + " is unchanged"));
  EXPECT_EQ(dataplane_->generation(), live);
  EXPECT_EQ(receive(PacketBuilder(kClient, kServer).tcp(40000, 8080)), pass(PAL_ALLOW_POLICY));
  EXPECT_EQ(receive(PacketBuilder(kClient, kServer).tcp(40001, 9999)),
            drop(PAL_DROP_INGRESS_DENIED));
}

TEST_F(DataplaneTest, OpenExplainsAPinDirectoryOutsideABpfFilesystem) {
  const auto opened = Dataplane::open(DataplaneOptions{.pin_dir = "/tmp/palisade-not-bpffs/pins"});
  ASSERT_FALSE(opened);
  EXPECT_THAT(opened.error().message, HasSubstr("not on a BPF filesystem"));
  EXPECT_THAT(opened.error().message, HasSubstr("mount -t bpf bpf /sys/fs/bpf"));
}

// --- differential: the programs against the reference lookup and the oracle ----

struct Point {
  std::optional<policy::PodRef> pod;  // set for a pod's address
  IpAddress address;
  bool oracle = true;  // whether the oracle knows what it is (not a node or Service address)
};

// Dual-stack pods (fd00::<namespace>:<pod> besides the generator's IPv4
// address), and IPv6 ipBlocks in some policies.
policy::ClusterState dualStack(policy::ClusterState state) {
  for (size_t i = 0; i < state.pods.size(); ++i) {
    policy::Pod& pod = state.pods[i];
    char v6[64];
    std::snprintf(v6, sizeof(v6), "fd00::%zx:%zx", i % 3, i + 1);
    pod.pod_ips = {pod.pod_ip, v6};
  }
  for (size_t i = 0; i < state.policies.size(); i += 3) {
    policy::NetworkPolicy& policy = state.policies[i];
    policy::NetworkPolicyPeer peer;
    peer.ip_block = policy::IPBlock{.cidr = "fd00::/64", .except = {"fd00::1:0/112"}};
    policy::NetworkPolicyPeer outside;
    outside.ip_block = policy::IPBlock{.cidr = "2001:db8::/32", .except = {}};
    policy::NetworkPolicyRule rule;
    rule.peers = {peer, outside};
    if (i % 2 == 0) {
      rule.ports = {policy::NetworkPolicyPort{.protocol = std::nullopt, .port = 443,
                                              .end_port = std::nullopt}};
    }
    (i % 2 == 0 ? policy.spec.ingress : policy.spec.egress).push_back(rule);
  }
  return state;
}

std::vector<Point> pointsOf(const policy::ClusterState& state) {
  std::vector<Point> points;
  for (const policy::Pod& pod : state.pods) {
    for (const std::string& address : pod.pod_ips) {
      points.push_back(
          Point{policy::PodRef{pod.metadata.namespace_name, pod.metadata.name}, ip(address)});
    }
  }
  for (const char* outside : {"203.0.113.9", "198.51.100.4", "10.1.3.77", "10.0.5.9",
                              "2001:db8::5", "fd00::1:77", "2001:db9::1"}) {
    points.push_back(Point{std::nullopt, ip(outside)});
  }
  for (const char* special : {"192.168.0.1", "fd00:ffff::1", "10.96.0.10", "fd00:96::a"}) {
    points.push_back(Point{std::nullopt, ip(special), false});
  }
  return points;
}

PacketBuilder packetFor(const Point& from, const Point& to, uint8_t protocol, uint16_t sport,
                        uint16_t port) {
  PacketBuilder packet(from.address, to.address);
  switch (protocol) {
    case kTCP:
      return packet.tcp(sport, port);
    case kUDP:
      return packet.udp(sport, port);
    case kSCTP:
      return packet.sctp(sport, port);
    case kICMP:
    case kICMPv6:
      return packet.icmpEcho(sport);
    default:
      return packet.payload(protocol, 16);
  }
}

policy::Protocol oracleProtocol(uint8_t protocol) {
  return protocol == kUDP ? policy::Protocol::kUDP
         : protocol == kSCTP ? policy::Protocol::kSCTP
                             : policy::Protocol::kTCP;
}

TEST_F(DataplaneTest, ProgramsAgreeWithTheReferenceLookupAndTheOracleOnRandomClusters) {
  const policy::NodeContext node = nodeContext();
  ASSERT_TRUE(dataplane_->setNode(node));
  const Fd conntrack = pinned("pal_conntrack");
  ASSERT_GE(conntrack.get(), 0);
  size_t packets = 0;
  size_t oracle_flows = 0;
  for (uint32_t seed = 1; seed <= 3; ++seed) {
    const policy::ClusterState state =
        dualStack(palisade::testing::generateCluster(palisade::testing::ClusterShape{
            .namespaces = 3, .pods_per_namespace = 5, .policies_per_namespace = 4, .seed = seed}));
    const policy::CompiledCluster compiled = apply(state);
    const policy::DataplaneView view(compiled.tables);
    const policy::ReachabilityOracle oracle(state);
    const std::vector<Point> points = pointsOf(state);
    // Every pod is behind the client's interface: anti-spoofing has its own
    // tests, this one is about the policy.
    std::vector<IpAddress> pod_addresses;
    for (const Point& point : points) {
      if (point.pod) {
        pod_addresses.push_back(point.address);
      }
    }
    ASSERT_TRUE(dataplane_->setPodAddresses(client_if_, pod_addresses));

    // Runs one program on the packet, checks it against the reference, and
    // forgets the flow it may have started.
    auto judge = [&](bool leaving, const Point& from, const Point& to, uint8_t protocol,
                     uint16_t sport, uint16_t port) {
      const PacketBuilder packet = packetFor(from, to, protocol, sport, port);
      // Ports as the programs read them: an echo request's identifier is its
      // source port; other protocols without ports have none.
      const bool ports = protocol == kTCP || protocol == kUDP || protocol == kSCTP;
      const bool icmp = protocol == kICMP || protocol == kICMPv6;
      const uint16_t dport = ports ? port : 0;
      sport = ports || icmp ? sport : 0;
      const policy::PacketVerdict expected =
          leaving ? policy::decideLeavingPod(view, node, from.address, to.address, protocol, dport)
                  : policy::decideReachingPod(view, node, from.address, to.address, protocol,
                                              dport);
      const Outcome got = leaving ? send(packet, client_if_) : receive(packet, client_if_);
      // The flow and the reply entry recorded with it.
      const pal_ct_key key = ctKey(from.address, to.address, sport, dport, protocol);
      const pal_ct_key reply = ctKey(to.address, from.address, dport, sport, protocol);
      bpf_map_delete_elem(conntrack.get(), &key);
      bpf_map_delete_elem(conntrack.get(), &reply);
      ++packets;
      const Outcome want{static_cast<uint32_t>(expected.allowed ? TC_ACT_OK : TC_ACT_SHOT),
                         expected.reason};
      EXPECT_EQ(got, want) << "seed " << seed << ": " << (leaving ? "pal_from_pod " : "pal_to_pod ")
                           << from.address.toString() << " -> " << to.address.toString()
                           << " protocol " << int{protocol} << " port " << dport;
      return got;
    };

    uint16_t sport = 20000;
    for (const Point& from : points) {
      for (const Point& to : points) {
        if (from.address.family() != to.address.family() || (!from.pod && !to.pod) ||
            (from.pod && to.pod && *from.pod == *to.pod)) {
          continue;
        }
        const uint8_t icmp = from.address.family() == policy::IpFamily::kIPv4 ? kICMP : kICMPv6;
        for (const uint8_t protocol : {kTCP, kUDP, kSCTP, icmp, kGRE}) {
          const bool ports = protocol == kTCP || protocol == kUDP || protocol == kSCTP;
          for (const uint16_t port : {53, 80, 443, 8050, 8080, 9090}) {
            if (!ports && port != 53) {
              continue;
            }
            sport = sport == 65535 ? 20000 : sport + 1;
            std::optional<Outcome> leaving;
            std::optional<Outcome> reaching;
            if (from.pod) {
              leaving = judge(true, from, to, protocol, sport, port);
            }
            if (to.pod) {
              reaching = judge(false, from, to, protocol, sport, port);
            }
            if (::testing::Test::HasFailure()) {
              return;  // one disagreement is enough to read
            }
            if (!ports || !from.oracle || !to.oracle) {
              continue;
            }
            // The whole path, as the oracle sees a flow.
            bool allowed = false;
            const bool deferred =
                leaving && leaving->action == TC_ACT_OK && leaving->reason == PAL_ALLOW_DEFERRED;
            if (leaving && !deferred) {
              allowed = leaving->action == TC_ACT_OK;
            } else {
              ASSERT_TRUE(reaching);
              allowed = reaching->action == TC_ACT_OK;
            }
            const policy::Flow flow{
                .source = from.pod ? policy::Endpoint(*from.pod) : policy::Endpoint(from.address),
                .destination = to.pod ? policy::Endpoint(*to.pod) : policy::Endpoint(to.address),
                .protocol = oracleProtocol(protocol),
                .port = port,
                .family = from.address.family()};
            const policy::Verdict verdict = oracle.evaluate(flow).value();
            ++oracle_flows;
            ASSERT_EQ(allowed, verdict.allowed)
                << "seed " << seed << ": " << policy::explain(flow, verdict) << "the programs say "
                << (allowed ? "allowed" : "denied");
          }
        }
      }
    }
  }
  EXPECT_GT(packets, 20000u);
  EXPECT_GT(oracle_flows, 5000u);
}

}  // namespace
}  // namespace palisade::enforcer
