// palisade-enforcer on real packets: the example cluster and every case of
// the specification corpus (tests/spec/cases) built as network namespaces
// (lab/), enforced by the real daemon and BPF programs, probed with real TCP
// and UDP traffic; the measured matrix must equal the oracle's, directly and
// through Services (kube-proxy-style DNAT). SCTP, which this kernel has no
// sockets for, is covered by BPF_PROG_TEST_RUN (enforcer/dataplane_test.cpp).
// Needs root and network namespaces: CI runs as root.

#include <unistd.h>

#include <filesystem>
#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "files/manifest_files.h"
#include "lab/lab.h"
#include "policy/matrix.h"
#include "policy/onboarding.h"
#include "policy/oracle.h"

namespace palisade {
namespace {

namespace fs = std::filesystem;

struct ConformanceCase {
  std::string name;
  std::vector<fs::path> paths;
  policy::MatrixQuery query;
  bool onboard = false;
};

void PrintTo(const ConformanceCase& c, std::ostream* out) { *out << c.name; }

fs::path specDir() { return fs::path(PALISADE_SOURCE_DIR) / "tests" / "spec"; }

// The probed TCP and UDP ports of a case's expect.yaml.
policy::MatrixQuery queryOf(const fs::path& expect) {
  std::set<policy::Protocol> protocols;
  std::set<uint16_t> ports;
  for (const YAML::Node& probe : YAML::LoadFile(expect.string())["probes"]) {
    for (const YAML::Node& protocol : probe["protocols"]) {
      const auto parsed = policy::parseProtocol(protocol.as<std::string>());
      if (parsed && *parsed != policy::Protocol::kSCTP) {
        protocols.insert(*parsed);
      }
    }
    for (const YAML::Node& port : probe["ports"]) {
      ports.insert(port.as<uint16_t>());
    }
  }
  return policy::MatrixQuery{.protocols = {protocols.begin(), protocols.end()},
                             .ports = {ports.begin(), ports.end()}};
}

std::vector<ConformanceCase> cases() {
  std::vector<ConformanceCase> all;
  const fs::path examples = fs::path(PALISADE_SOURCE_DIR) / "examples" / "cluster";
  const policy::MatrixQuery example_query{
      .protocols = {policy::Protocol::kTCP, policy::Protocol::kUDP},
      .ports = {53, 5432, 8080, 9090}};
  all.push_back({"examples", {examples}, example_query, false});
  all.push_back({"examples_onboarded", {examples}, example_query, true});
  std::vector<fs::path> folders;
  for (const auto& entry : fs::directory_iterator(specDir() / "cases")) {
    folders.push_back(entry.path());
  }
  std::ranges::sort(folders);
  for (const fs::path& folder : folders) {
    ConformanceCase c;
    c.name = folder.filename().string();
    std::ranges::replace(c.name, '-', '_');
    const YAML::Node expect = YAML::LoadFile((folder / "expect.yaml").string());
    if (expect["cluster"]) {
      c.paths.push_back(specDir() / "clusters" / (expect["cluster"].as<std::string>() + ".yaml"));
    }
    for (const auto& entry : fs::directory_iterator(folder)) {
      if (entry.path().filename() != "expect.yaml") {
        c.paths.push_back(entry.path());
      }
    }
    c.query = queryOf(folder / "expect.yaml");
    if (!c.query.protocols.empty()) {
      all.push_back(std::move(c));
    }
  }
  return all;
}

lab::EnforcerSpec enforcer() {
  lab::EnforcerSpec spec;
  spec.argv = {PALISADE_ENFORCER};
  spec.argv.insert(spec.argv.end(), lab::kDefaultEnforcerArgs.begin(),
                   lab::kDefaultEnforcerArgs.end());
  spec.cleanup_argv = {PALISADE_ENFORCER, "--uninstall", "--pin-dir", "{pin_dir}"};
  return spec;
}

class LabConformance : public ::testing::TestWithParam<ConformanceCase> {};

void expectMatrixOfTheOracle(const ConformanceCase& c, bool via_services) {
  auto manifest = files::readManifestPaths(c.paths);
  ASSERT_TRUE(manifest.has_value()) << manifest.error().message;
  ASSERT_TRUE(manifest->errors.empty()) << toString(manifest->errors.front());
  policy::ClusterState cluster = policy::clusterStateOf(*manifest);
  if (c.onboard) {
    cluster = policy::onboardCluster(std::move(cluster), policy::OnboardingTemplates{},
                                     "palisade-system");
  }
  auto built = lab::Lab::create(
      cluster, lab::LabOptions{.via_services = via_services, .enforcer = enforcer()});
  ASSERT_TRUE(built.has_value()) << built.error().message;
  auto measured = built->measure(c.query);
  ASSERT_TRUE(measured.has_value()) << measured.error().message;
  const std::vector<policy::MatrixEntry> expected =
      policy::reachabilityMatrix(policy::ReachabilityOracle(built->cluster()), c.query);
  ASSERT_EQ(measured->entries.size(), expected.size());
  std::string differences;
  for (size_t i = 0; i < expected.size(); ++i) {
    if (measured->entries[i].allowed != expected[i].allowed) {
      differences += fmt::format("\n  {}/{} {} -> {}: measured {}, the oracle says {}",
                                 policy::toString(expected[i].protocol), expected[i].port,
                                 policy::toString(expected[i].from), policy::toString(expected[i].to),
                                 measured->entries[i].allowed ? "allowed" : "denied",
                                 expected[i].allowed ? "allowed" : "denied");
    }
  }
  EXPECT_TRUE(differences.empty()) << c.name << (via_services ? " via Services" : "") << ":"
                                   << differences;
  for (const std::string& anomaly : measured->anomalies) {
    ADD_FAILURE() << c.name << ": " << anomaly;
  }
}

TEST_P(LabConformance, MeasuredMatrixEqualsTheOracles) {
  ASSERT_EQ(::geteuid(), 0u) << "the lab builds network namespaces: run as root (CI does)";
  expectMatrixOfTheOracle(GetParam(), /*via_services=*/false);
}

TEST_P(LabConformance, ThroughServicesTheMatrixIsTheSame) {
  ASSERT_EQ(::geteuid(), 0u) << "the lab builds network namespaces: run as root (CI does)";
  expectMatrixOfTheOracle(GetParam(), /*via_services=*/true);
}

INSTANTIATE_TEST_SUITE_P(Clusters, LabConformance, ::testing::ValuesIn(cases()),
                         [](const auto& param_info) { return param_info.param.name; });

}  // namespace
}  // namespace palisade
