// The lab on the real kernel: namespaces, veths, routes, iptables rules and
// packets. These tests need root; CI runs as root, so they fail (never skip)
// without it.

#include "lab/lab.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <stdexcept>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "files/manifest_files.h"
#include "lab/process.h"
#include "lab/prober.h"
#include "policy/json_codec.h"
#include "policy/matrix.h"
#include "policy/oracle.h"

namespace palisade::lab {
namespace {

namespace fs = std::filesystem;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

const fs::path kExamples = fs::path(PALISADE_SOURCE_DIR) / "examples" / "cluster";

const policy::MatrixQuery kTcpAndUdp = {.protocols = {policy::Protocol::kTCP,
                                                      policy::Protocol::kUDP},
                                        .ports = {8080, 53}};

policy::ClusterState examples() {
  policy::Result<policy::Manifest> manifest = files::readManifestPaths({kExamples});
  EXPECT_TRUE(manifest.has_value()) << manifest.error().message;
  return manifest ? policy::clusterStateOf(*manifest) : policy::ClusterState{};
}

policy::Pod pod(std::string ns, std::string name, std::vector<std::string> ips = {},
                bool host_network = false) {
  policy::Pod pod;
  pod.metadata.namespace_name = std::move(ns);
  pod.metadata.name = std::move(name);
  pod.metadata.labels = {{"app", pod.metadata.name}};
  if (!ips.empty()) {
    pod.pod_ip = ips.front();
    pod.pod_ips = ips;
  }
  pod.host_network = host_network;
  return pod;
}

policy::ClusterState clusterOf(std::vector<policy::Pod> pods) {
  policy::ClusterState cluster;
  cluster.pods = std::move(pods);
  return cluster;
}

// What the oracle says of the lab's cluster with every policy removed: with
// no enforcer, that is what the packets must show.
std::vector<policy::MatrixEntry> openMatrix(const Lab& lab, const policy::MatrixQuery& query) {
  policy::ClusterState open = lab.cluster();
  open.policies.clear();
  return policy::reachabilityMatrix(policy::ReachabilityOracle(std::move(open)), query);
}

// "TCP/8080 a/web -> a/db" for every entry that is not allowed.
std::vector<std::string> deniedFlows(const std::vector<policy::MatrixEntry>& entries) {
  std::vector<std::string> denied;
  for (const policy::MatrixEntry& entry : entries) {
    if (!entry.allowed) {
      denied.push_back(fmt::format("{}/{} {} -> {}", policy::toString(entry.protocol), entry.port,
                                   policy::toString(entry.from), policy::toString(entry.to)));
    }
  }
  return denied;
}

std::set<std::string> namespacesNow() {
  std::set<std::string> names;
  policy::Result<ProcessOutput> listed = runProcess({"ip", "netns", "list"});
  EXPECT_TRUE(listed.has_value()) << listed.error().message;
  std::istringstream lines(listed ? listed->out : "");
  for (std::string line; std::getline(lines, line);) {
    names.insert(line.substr(0, line.find(' ')));
  }
  return names;
}

std::string readFile(const fs::path& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// An enforcer stand-in: a shell script run as the enforcer would be, in the
// node's namespace, with the lab's placeholders filled in.
EnforcerSpec scriptEnforcer(std::string script) {
  EnforcerSpec spec;
  spec.argv = {"sh", "-c", std::move(script), "fake-enforcer"};
  spec.ready_timeout = std::chrono::seconds(10);
  return spec;
}

// gcc warns of designated initializers that leave fields out, so options are
// built by these.
LabOptions options(bool via_services, std::optional<EnforcerSpec> enforcer = std::nullopt,
                   const CancelToken* cancel = nullptr) {
  LabOptions options;
  options.via_services = via_services;
  options.enforcer = std::move(enforcer);
  options.cancel = cancel;
  return options;
}

ProbeOptions probing(std::chrono::milliseconds timeout,
                     std::optional<policy::IpFamily> family = std::nullopt) {
  ProbeOptions options;
  options.timeout = timeout;
  options.family = family;
  return options;
}

Lab createLab(const policy::ClusterState& cluster, LabOptions options = {}) {
  policy::Result<Lab> lab = Lab::create(cluster, std::move(options));
  if (!lab) {
    // GoogleTest reports an exception from a test body as that test's failure.
    throw std::runtime_error("cannot create the lab: " + lab.error().message);
  }
  return std::move(*lab);
}

Measurement measured(Lab& lab, const policy::MatrixQuery& query, ProbeOptions options = {}) {
  policy::Result<Measurement> measurement = lab.measure(query, options);
  if (!measurement) {
    ADD_FAILURE() << measurement.error().message;
    return {};
  }
  std::cout << "[ lab      ] " << measurement->entries.size() << " probes in "
            << measurement->duration.count() << " ms\n";
  return std::move(*measurement);
}

class LabTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(geteuid(), 0U)
        << "the lab tests need root: they create network namespaces, veth pairs and iptables "
           "rules (CI runs as root; run them with sudo)";
  }
};

TEST_F(LabTest, ExampleClusterWithoutEnforcerIsOpenBetweenEveryPair) {
  Lab lab = createLab(examples());

  const Measurement measurement = measured(lab, kTcpAndUdp);

  EXPECT_EQ(measurement.entries, openMatrix(lab, kTcpAndUdp));
  EXPECT_THAT(measurement.anomalies, IsEmpty());
  // 8 pods, 2 protocols, 2 ports.
  EXPECT_EQ(measurement.entries.size(), 8U * 8U * 2U * 2U);
}

TEST_F(LabTest, ExampleClusterThroughServicesIsOpenBetweenEveryPairToo) {
  Lab lab = createLab(examples(), options(true));

  const Measurement measurement = measured(lab, kTcpAndUdp);

  EXPECT_EQ(measurement.entries, openMatrix(lab, kTcpAndUdp));
  EXPECT_THAT(measurement.anomalies, IsEmpty());
}

TEST_F(LabTest, PodsWithoutAddressesGetAllocatedOnesOnTheirEth0) {
  Lab lab = createLab(clusterOf({pod("a", "one"), pod("a", "two"), pod("b", "three")}));

  const LabPod& three = lab.topology().pods[2];
  ASSERT_TRUE(three.allocated);
  EXPECT_EQ(three.ips.at(0).toString(), "10.244.0.3");
  EXPECT_EQ(lab.cluster().pods[2].pod_ip, "10.244.0.3");
  const auto addresses = runProcess({"ip", "-n", three.netns, "-o", "address", "show", "eth0"});
  ASSERT_TRUE(addresses.has_value()) << addresses.error().message;
  EXPECT_THAT(addresses->out, HasSubstr("inet 10.244.0.3/32"));

  const Measurement measurement = measured(lab, kTcpAndUdp);
  EXPECT_EQ(measurement.entries, openMatrix(lab, kTcpAndUdp));
}

TEST_F(LabTest, HostNetworkPodsShareTheNodeAndReachAndAreReachedByPods) {
  Lab lab = createLab(clusterOf({pod("a", "web", {"10.244.1.10"}),
                                 pod("kube-system", "agent", {"192.168.10.7"}, true),
                                 pod("kube-system", "agent-2", {}, true),
                                 pod("b", "db", {"10.244.2.20"})}),
                      options(true));

  const LabPod& agent = lab.topology().pods[1];
  EXPECT_EQ(agent.netns, lab.topology().node_netns);
  EXPECT_EQ(agent.ips.at(0).toString(), "10.244.255.254");
  EXPECT_EQ(lab.cluster().pods[1].pod_ip, "10.244.255.254");

  const Measurement measurement = measured(lab, kTcpAndUdp);
  EXPECT_EQ(measurement.entries, openMatrix(lab, kTcpAndUdp));
  EXPECT_THAT(measurement.anomalies, IsEmpty());
}

class Ipv6Lab : public LabTest {
 protected:
  // Two dual-stack pods and an IPv6-only one.
  policy::ClusterState cluster_ = clusterOf({pod("a", "dual", {"10.244.1.10", "fd00:244::1:10"}),
                                             pod("a", "dual-2", {"10.244.1.11", "fd00:244::1:11"}),
                                             pod("b", "v6", {"fd00:244::2:20"})});
};

TEST_F(Ipv6Lab, IPv6PodsReachEachOtherDirectlyAndThroughServices) {
  for (const bool via_services : {false, true}) {
    Lab lab = createLab(cluster_, options(via_services));
    ASSERT_EQ(lab.topology().node_ips.size(), 2U);

    const Measurement automatic = measured(lab, kTcpAndUdp);
    const Measurement over_ipv6 =
        measured(lab, kTcpAndUdp, probing(std::chrono::milliseconds(500), policy::IpFamily::kIPv6));

    EXPECT_EQ(automatic.entries, openMatrix(lab, kTcpAndUdp)) << via_services;
    EXPECT_THAT(automatic.anomalies, IsEmpty());
    EXPECT_EQ(over_ipv6.entries, openMatrix(lab, kTcpAndUdp)) << via_services;
    EXPECT_THAT(over_ipv6.anomalies, IsEmpty());
  }
}

TEST_F(Ipv6Lab, TheFamilyProbedIsTheOracleChoiceOrTheOneAskedFor) {
  // Drops IPv6 TCP to dual-2 only: the dual-stack pair is probed over IPv4
  // unless IPv6 is asked for.
  Lab lab = createLab(
      cluster_,
      options(false, scriptEnforcer(
                         "ip6tables -w -A FORWARD -d fd00:244::1:11 -p tcp --dport 8080 -j DROP && "
                         "touch {ready_file} && exec sleep 600")));
  const policy::MatrixQuery tcp = {.protocols = {policy::Protocol::kTCP}, .ports = {8080}};

  const std::chrono::milliseconds timeout(200);

  const Measurement automatic = measured(lab, tcp, probing(timeout));
  const Measurement over_ipv6 = measured(lab, tcp, probing(timeout, policy::IpFamily::kIPv6));
  const Measurement over_ipv4 = measured(lab, tcp, probing(timeout, policy::IpFamily::kIPv4));

  EXPECT_THAT(deniedFlows(automatic.entries), ElementsAre("TCP/8080 b/v6 -> a/dual-2"));
  EXPECT_THAT(deniedFlows(over_ipv6.entries),
              ElementsAre("TCP/8080 a/dual -> a/dual-2", "TCP/8080 b/v6 -> a/dual-2"));
  // The IPv6-only pod has no IPv4 address: its pairs cannot be probed over IPv4.
  EXPECT_THAT(deniedFlows(over_ipv4.entries),
              ElementsAre("TCP/8080 a/dual -> b/v6", "TCP/8080 a/dual-2 -> b/v6",
                          "TCP/8080 b/v6 -> a/dual", "TCP/8080 b/v6 -> a/dual-2",
                          "TCP/8080 b/v6 -> b/v6"));
  EXPECT_THAT(over_ipv4.anomalies,
              Contains("TCP/8080 a/dual -> b/v6: not probed: the pods have no address family in "
                       "common"));
}

// The stand-in enforcer drops TCP/8080 to db from anyone else, and UDP/53
// from dns to web, with filter rules in the node: after the Service
// translation, as a real enforcer checks the destination pod.
constexpr std::string_view kDroppingScript =
    "iptables -w -A FORWARD ! -s 10.244.1.11 -d 10.244.1.11 -p tcp --dport 8080 -j DROP && "
    "iptables -w -A FORWARD -s 10.244.2.2 -d 10.244.1.10 -p udp --dport 53 -j DROP && "
    "touch {ready_file} && exec sleep 600";

TEST_F(LabTest, DroppedPacketsShowAsDeniedFlowsAndNothingElseDoes) {
  const policy::ClusterState cluster = clusterOf({pod("a", "web", {"10.244.1.10"}),
                                                  pod("a", "db", {"10.244.1.11"}),
                                                  pod("b", "dns", {"10.244.2.2"})});
  for (const bool via_services : {false, true}) {
    Lab lab = createLab(cluster,
                        options(via_services, scriptEnforcer(std::string(kDroppingScript))));

    const Measurement measurement = measured(lab, kTcpAndUdp);

    EXPECT_THAT(deniedFlows(measurement.entries),
                ElementsAre("TCP/8080 a/web -> a/db", "TCP/8080 b/dns -> a/db",
                            "UDP/53 b/dns -> a/web"))
        << "via services: " << via_services;
    // Dropped silently: the probes timed out, nothing answered.
    EXPECT_THAT(measurement.anomalies, IsEmpty());
  }
}

TEST_F(LabTest, ARefusedConnectionIsDeniedAndReportedAsAnAnomaly) {
  Lab lab = createLab(
      clusterOf({pod("a", "web", {"10.244.1.10"}), pod("a", "db", {"10.244.1.11"})}),
      options(false, scriptEnforcer("iptables -w -A FORWARD -d 10.244.1.11 -p tcp --dport 80 "
                                    "-j REJECT --reject-with tcp-reset && "
                                    "touch {ready_file} && exec sleep 600")));

  const Measurement measurement =
      measured(lab, {.protocols = {policy::Protocol::kTCP}, .ports = {80}});

  EXPECT_THAT(deniedFlows(measurement.entries), ElementsAre("TCP/80 a/web -> a/db"));
  EXPECT_THAT(measurement.anomalies,
              ElementsAre("TCP/80 a/web -> a/db (10.244.1.11): Connection refused"));
}

TEST_F(LabTest, ThreeNamespacesOfThreePodsOnTwoPortsAndTwoProtocolsTakeSeconds) {
  std::vector<policy::Pod> pods;
  for (const char* ns : {"a", "b", "c"}) {
    for (int i = 1; i <= 3; ++i) {
      pods.push_back(pod(ns, fmt::format("pod-{}", i)));
    }
  }
  // Some of the connections into namespace c are dropped (not the replies of
  // the ones c opens): denied probes cost timeouts.
  const std::string script =
      "iptables -w -A FORWARD -d 10.244.0.7 -m conntrack --ctstate NEW -j DROP && "
      "iptables -w -A FORWARD -d 10.244.0.8 -p udp -m conntrack --ctstate NEW -j DROP && "
      "touch {ready_file} && exec sleep 600";
  const auto started = std::chrono::steady_clock::now();
  {
    Lab lab = createLab(clusterOf(pods), options(false, scriptEnforcer(script)));
    const Measurement measurement = measured(lab, kTcpAndUdp);

    // 8 other pods to c/pod-1 on 4 port/protocols, 8 to c/pod-2 on UDP's 2.
    EXPECT_EQ(deniedFlows(measurement.entries).size(), 8U * 4U + 8U * 2U);
    EXPECT_LT(measurement.duration, std::chrono::seconds(20));
  }
  const auto total = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  std::cout << "[ lab      ] 3x3 cluster, 2 ports x 2 protocols, built, probed and torn down in "
            << total.count() << " ms\n";
}

TEST_F(LabTest, TeardownLeavesNoNamespaceLinkRuleOrFolderBehind) {
  std::vector<std::string> created;
  std::string node;
  fs::path run_dir;
  pid_t enforcer = 0;
  {
    Lab lab = createLab(
        clusterOf({pod("a", "web", {"10.244.1.10", "fd00:244::1:10"}), pod("a", "db"),
                   pod("a", "agent", {}, true)}),
        options(true, scriptEnforcer("touch {ready_file} && exec sleep 600")));
    node = lab.topology().node_netns;
    for (const LabPod& pod : lab.topology().pods) {
      created.push_back(pod.netns);
    }
    run_dir = lab.runDir();
    enforcer = lab.enforcerPid().value_or(0);
    ASSERT_GT(enforcer, 0);
    const std::set<std::string> during = namespacesNow();
    for (const std::string& name : created) {
      EXPECT_TRUE(during.contains(name)) << name;
    }
    EXPECT_TRUE(fs::exists(run_dir));
    ASSERT_TRUE(lab.measure(kTcpAndUdp).has_value());

    EXPECT_THAT(lab.teardown(), IsEmpty());
    // A second teardown (the destructor's) has nothing left to do.
    EXPECT_THAT(lab.teardown(), IsEmpty());
  }

  const std::set<std::string> after = namespacesNow();
  for (const std::string& name : created) {
    EXPECT_FALSE(after.contains(name)) << name;
  }
  EXPECT_FALSE(fs::exists(fs::path("/run/netns") / node));
  EXPECT_FALSE(fs::exists(run_dir));
  EXPECT_EQ(kill(enforcer, 0), -1) << "the enforcer still runs";
  // Nothing was ever created in this namespace: no veth, no rule.
  const auto links = runProcess({"ip", "-o", "link", "show"});
  ASSERT_TRUE(links.has_value()) << links.error().message;
  EXPECT_THAT(links->out, Not(HasSubstr("pl0h")));
  const auto rules = runProcess({"iptables-save"});
  ASSERT_TRUE(rules.has_value()) << rules.error().message;
  EXPECT_THAT(rules->out, Not(HasSubstr(kServicesChain)));
}

TEST_F(LabTest, TwoLabsAtOnceDoNotCollide) {
  const policy::ClusterState cluster =
      clusterOf({pod("a", "web", {"10.244.1.10"}), pod("a", "db", {"10.244.1.11"})});
  Lab first = createLab(cluster, options(true));
  Lab second = createLab(cluster, options(true));

  EXPECT_NE(first.topology().node_netns, second.topology().node_netns);
  EXPECT_EQ(measured(first, kTcpAndUdp).entries, openMatrix(first, kTcpAndUdp));
  EXPECT_EQ(measured(second, kTcpAndUdp).entries, openMatrix(second, kTcpAndUdp));
}

TEST_F(LabTest, TheEnforcerRunsInTheNodeNamespaceWithThePlaceholdersFilledIn) {
  Lab lab = createLab(
      clusterOf({pod("a", "web", {"10.244.1.10", "fd00:244::1:10"}), pod("a", "db")}),
      options(true, scriptEnforcer(
                        "readlink /proc/self/ns/net > {run_dir}/netns && "
                        "printf '%s\\n' {manifests} {node_ips} {service_cidrs} {node_name} "
                        "{node_netns} {pin_dir} {topology} > {run_dir}/args && "
                        "touch {ready_file} && exec sleep 600")));
  const Topology& topology = lab.topology();

  struct stat node_netns {};
  ASSERT_EQ(stat(("/run/netns/" + topology.node_netns).c_str(), &node_netns), 0);
  EXPECT_EQ(readFile(lab.runDir() / "netns"), fmt::format("net:[{}]\n", node_netns.st_ino));
  EXPECT_EQ(readFile(lab.runDir() / "args"),
            fmt::format("{}\n10.244.255.254,fd00:244::fffe\n10.96.0.0/16,fd00:96::/112\n"
                        "palisade-lab-node\n{}\n{}\n{}\n",
                        lab.manifestsDir().string(), topology.node_netns,
                        (lab.runDir() / "bpf" / "palisade").string(),
                        (lab.runDir() / "topology.json").string()));
  const nlohmann::json json = nlohmann::json::parse(readFile(lab.runDir() / "topology.json"));
  EXPECT_EQ(json.at("pods")[1].at("interface"), "pl1h");
  EXPECT_GT(json.at("pods")[1].at("ifindex").get<int>(), 0);
  EXPECT_EQ(json.at("pods")[1].at("ips"), (nlohmann::json{"10.244.0.1"}));
}

TEST_F(LabTest, TheManifestsGivenToTheEnforcerDescribeTheClusterAsBuilt) {
  policy::ClusterState cluster = examples();
  cluster.pods.push_back(pod("shop-prod", "no-address"));
  Lab lab = createLab(cluster);

  policy::Result<policy::Manifest> manifest = files::readManifestPaths({lab.manifestsDir()});
  ASSERT_TRUE(manifest.has_value()) << manifest.error().message;
  EXPECT_THAT(manifest->errors, IsEmpty());
  const policy::ClusterState read = policy::clusterStateOf(*manifest);
  auto encoded = [](const policy::ClusterState& state) {
    nlohmann::json all = nlohmann::json::array();
    for (const auto& ns : state.namespaces) {
      all.push_back(policy::encodeNamespace(ns));
    }
    for (const auto& pod : state.pods) {
      all.push_back(policy::encodePod(pod));
    }
    for (const auto& policy : state.policies) {
      all.push_back(policy::encodeNetworkPolicy(policy));
    }
    return all;
  };
  EXPECT_EQ(encoded(read), encoded(lab.cluster()));
  EXPECT_EQ(read.pods.back().pod_ip, "10.244.0.1");
  EXPECT_EQ(read.pods.back().host_ip, "10.244.255.254");
}

TEST_F(LabTest, SetPoliciesRewritesThePoliciesTheEnforcerReads) {
  Lab lab = createLab(examples());
  ASSERT_FALSE(lab.cluster().policies.empty());
  policy::NetworkPolicy deny;
  deny.metadata.name = "deny-all";
  deny.metadata.namespace_name = "shop-prod";

  ASSERT_TRUE(lab.setPolicies({deny}).has_value());

  policy::Result<policy::Manifest> manifest =
      files::readManifestPaths({lab.manifestsDir() / "networkpolicies.json"});
  ASSERT_TRUE(manifest.has_value()) << manifest.error().message;
  const policy::ClusterState read = policy::clusterStateOf(*manifest);
  ASSERT_EQ(read.policies.size(), 1U);
  EXPECT_EQ(read.policies[0].metadata.name, "deny-all");
  EXPECT_EQ(lab.cluster().policies.size(), 1U);
}

TEST_F(LabTest, AnEnforcerThatExitsEarlyFailsCreationWithItsLastWordsAndLeavesNothing) {
  const fs::path seen = fs::temp_directory_path() / fmt::format("lab-test-{}-netns", getpid());
  const policy::Result<Lab> lab = Lab::create(
      clusterOf({pod("a", "web", {"10.244.1.10"})}),
      options(false, scriptEnforcer(fmt::format(
                         "echo {{node_netns}} > {} && echo 'cannot attach: boom' >&2 && exit 3 "
                         "# {{ready_file}}",
                         seen.string()))));

  ASSERT_FALSE(lab.has_value());
  EXPECT_THAT(lab.error().message, HasSubstr("the enforcer exited with status 3 before it was "
                                             "ready"));
  EXPECT_THAT(lab.error().message, HasSubstr("cannot attach: boom"));
  std::string node = readFile(seen);
  fs::remove(seen);
  ASSERT_FALSE(node.empty());
  node.pop_back();
  EXPECT_FALSE(namespacesNow().contains(node));
}

TEST_F(LabTest, AnEnforcerNeverReadyIsStoppedAndCreationFails) {
  EnforcerSpec spec = scriptEnforcer("exec sleep 600 # {ready_file}");
  spec.ready_timeout = std::chrono::milliseconds(300);

  const policy::Result<Lab> lab =
      Lab::create(clusterOf({pod("a", "web", {"10.244.1.10"})}), options(false, spec));

  ASSERT_FALSE(lab.has_value());
  EXPECT_THAT(lab.error().message, HasSubstr("the enforcer was not ready within 300 ms"));
}

TEST_F(LabTest, AnEnforcerIgnoringSigtermIsKilledAndItsCleanupCommandRuns) {
  const fs::path cleaned = fs::temp_directory_path() / fmt::format("lab-test-{}-clean", getpid());
  EnforcerSpec spec = scriptEnforcer(
      "trap '' TERM; touch {ready_file}; while :; do sleep 0.05; done");
  spec.stop_grace = std::chrono::milliseconds(200);
  spec.cleanup_argv = {"sh", "-c",
                       fmt::format("readlink /proc/self/ns/net > {}", cleaned.string())};
  Lab lab = createLab(clusterOf({pod("a", "web", {"10.244.1.10"})}), options(false, spec));
  struct stat node_netns {};
  ASSERT_EQ(stat(("/run/netns/" + lab.topology().node_netns).c_str(), &node_netns), 0);

  const std::vector<std::string> problems = lab.teardown();

  EXPECT_THAT(problems, ElementsAre("the enforcer did not exit within 200 ms of SIGTERM and was "
                                    "killed"));
  EXPECT_EQ(readFile(cleaned), fmt::format("net:[{}]\n", node_netns.st_ino));
  fs::remove(cleaned);
}

TEST_F(LabTest, AnEnforcerThatDiesDuringTheRunIsReportedAtTeardown) {
  Lab lab = createLab(clusterOf({pod("a", "web", {"10.244.1.10"})}),
                      options(false, scriptEnforcer("touch {ready_file} && exec sleep 600")));
  ASSERT_EQ(kill(*lab.enforcerPid(), SIGKILL), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));

  const std::vector<std::string> problems = lab.teardown();

  ASSERT_EQ(problems.size(), 1U);
  EXPECT_THAT(problems[0], HasSubstr("the enforcer had exited before the end: it was killed by "
                                     "signal 9"));
}

TEST_F(LabTest, StopEnforcerSaysHowItEndedAndAnotherCanStart) {
  Lab lab = createLab(clusterOf({pod("a", "web", {"10.244.1.10"})}),
                      options(false, scriptEnforcer("touch {ready_file} && exec sleep 600")));
  const pid_t first = *lab.enforcerPid();

  EXPECT_EQ(lab.stopEnforcer(SIGKILL), "was killed by signal 9 (KILL)");
  EXPECT_EQ(lab.stopEnforcer(), std::nullopt);
  ASSERT_TRUE(
      lab.startEnforcer(scriptEnforcer("touch {ready_file} && exec sleep 600")).has_value());

  EXPECT_NE(lab.enforcerPid(), first);
  EXPECT_THAT(lab.teardown(), IsEmpty());
}

TEST_F(LabTest, ACancelledMeasurementStopsAndTheLabStillTearsDown) {
  CancelToken cancel;
  Lab lab = createLab(clusterOf({pod("a", "web", {"10.244.1.10"}), pod("a", "db")}),
                      options(false, std::nullopt, &cancel));
  const std::string node = lab.topology().node_netns;
  cancel.raise();

  const policy::Result<Measurement> measurement = lab.measure(kTcpAndUdp);

  ASSERT_FALSE(measurement.has_value());
  EXPECT_EQ(measurement.error().message, "interrupted");
  EXPECT_THAT(lab.teardown(), IsEmpty());
  EXPECT_FALSE(namespacesNow().contains(node));
}

TEST_F(LabTest, CancellingWhileWaitingForTheEnforcerEndsCreationAtOnce) {
  CancelToken cancel;
  EnforcerSpec spec = scriptEnforcer("exec sleep 600 # {ready_file}");
  spec.ready_timeout = std::chrono::seconds(60);
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    cancel.raise();
  });
  const auto started = std::chrono::steady_clock::now();

  const policy::Result<Lab> lab = Lab::create(clusterOf({pod("a", "web", {"10.244.1.10"})}),
                                              options(false, spec, &cancel));
  canceller.join();

  ASSERT_FALSE(lab.has_value());
  EXPECT_EQ(lab.error().message, "interrupted");
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(30));
}

TEST_F(LabTest, SctpIsProbedOnlyWhereTheKernelHasSctpSockets) {
  Lab lab = createLab(clusterOf({pod("a", "web", {"10.244.1.10"}), pod("a", "db")}));
  const policy::MatrixQuery sctp = {.protocols = {policy::Protocol::kSCTP}, .ports = {9000}};

  const policy::Result<Measurement> measurement = lab.measure(sctp);

  if (checkProtocolSupport(policy::Protocol::kSCTP)) {
    ASSERT_TRUE(measurement.has_value()) << measurement.error().message;
    EXPECT_EQ(measurement->entries, openMatrix(lab, sctp));
  } else {
    ASSERT_FALSE(measurement.has_value());
    EXPECT_THAT(measurement.error().message,
                HasSubstr("cannot probe SCTP: this kernel has no SCTP sockets"));
  }
}

TEST_F(LabTest, AnAddressThePlanRefusesFailsCreationBeforeAnythingExists) {
  const policy::Result<Lab> lab = Lab::create(clusterOf({pod("a", "web", {"127.0.0.2"})}));

  ASSERT_FALSE(lab.has_value());
  EXPECT_THAT(lab.error().message, HasSubstr("pod a/web: 127.0.0.2 is a loopback address"));
}

}  // namespace
}  // namespace palisade::lab
