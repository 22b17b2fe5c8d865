// Runs the specification corpus of tests/spec/cases through the reachability oracle. Each case
// folder holds manifests and an expect.yaml whose reachability grids were derived by hand from
// the NetworkPolicy specification (tests/spec/README.md describes the format); every ordered
// pair of pods, for every probed protocol and port, must get the verdict the case expects.

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <ostream>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "files/manifest_files.h"
#include "policy/error.h"
#include "policy/compiler.h"
#include "policy/dataplane_lookup.h"
#include "policy/matrix.h"
#include "policy/oracle.h"

namespace palisade::spec {
namespace {

namespace fs = std::filesystem;
using policy::Protocol;
using policy::Result;

// A function rather than a global: the case list is built while gtest registers tests, and
// must not depend on the order in which globals are initialised.
fs::path specDir() { return fs::path(PALISADE_SOURCE_DIR) / "tests" / "spec"; }
constexpr std::string_view kExpectFile = "expect.yaml";
constexpr std::string_view kCorner = "from\\to";
constexpr char kAllowedCell = '.';
constexpr char kDeniedCell = 'X';

struct SpecCase {
  std::string name;  // the folder's name
  fs::path dir;
};

// gtest prints parameters in its messages; the folder name is what a reader needs.
void PrintTo(const SpecCase& spec_case, std::ostream* out) { *out << spec_case.name; }

// One grid of expect.yaml: the verdict of every ordered pod pair, for each of `protocols` x
// `ports`.
struct Probe {
  std::string where;  // "probes[1]", for messages
  std::vector<Protocol> protocols;
  std::vector<uint16_t> ports;
  std::vector<std::string> pods;                               // the grid's columns, in order
  std::map<std::pair<std::string, std::string>, bool> allowed;  // (from, to) -> verdict
};

struct Expectation {
  std::string description;
  std::optional<std::string> cluster;
  std::vector<Probe> probes;
};

// Pods are named "namespace/name" in grids; a pod written without a namespace is in "default",
// as the apiserver would place it.
std::string podLabel(const policy::PodRef& pod) {
  return (pod.namespace_name.empty() ? std::string("default") : pod.namespace_name) + "/" +
         pod.name;
}

std::vector<std::string> splitWords(std::string_view line) {
  std::vector<std::string> words;
  std::istringstream in{std::string(line)};
  for (std::string word; in >> word;) {
    words.push_back(word);
  }
  return words;
}

// yaml-cpp silently ignores keys nobody reads, so a misspelt key ("port:") would drop a whole
// expectation without a word. Reject unknown keys instead.
Result<void> checkKeys(const YAML::Node& node, const std::string& where,
                       const std::set<std::string, std::less<>>& known) {
  if (!node.IsMap()) {
    return policy::fail(where + ": expected a mapping");
  }
  for (const auto& entry : node) {
    const std::string key = entry.first.as<std::string>();
    if (!known.contains(key)) {
      return policy::fail(where + ": unknown key '" + key + "'");
    }
  }
  return {};
}

Result<std::vector<Protocol>> parseProtocols(const YAML::Node& node, const std::string& where) {
  if (!node.IsSequence() || node.size() == 0) {
    return policy::fail(where + ": expected a non-empty list of TCP, UDP or SCTP");
  }
  std::vector<Protocol> protocols;
  for (const YAML::Node& item : node) {
    const std::optional<Protocol> protocol = policy::parseProtocol(item.as<std::string>());
    if (!protocol) {
      return policy::fail(where + ": unknown protocol '" + item.as<std::string>() + "'");
    }
    protocols.push_back(*protocol);
  }
  return protocols;
}

Result<std::vector<uint16_t>> parsePorts(const YAML::Node& node, const std::string& where) {
  if (!node.IsSequence() || node.size() == 0) {
    return policy::fail(where + ": expected a non-empty list of port numbers");
  }
  std::vector<uint16_t> ports;
  for (const YAML::Node& item : node) {
    const long port = item.as<long>();
    if (port < 1 || port > 65535) {
      return policy::fail(where + ": port " + std::to_string(port) + " is not in 1-65535");
    }
    ports.push_back(static_cast<uint16_t>(port));
  }
  return ports;
}

// The grid: a header row "from\to <pod>...", then one row per source pod, in the header's
// order, of one cell per destination.
Result<void> parseGrid(const std::string& text, const std::string& where, Probe& probe) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> words = splitWords(line);
    if (!words.empty()) {
      rows.push_back(std::move(words));
    }
  }
  if (rows.empty() || rows.front().front() != kCorner) {
    return policy::fail(where + ": the first row must start with '" + std::string(kCorner) + "'");
  }
  probe.pods.assign(rows.front().begin() + 1, rows.front().end());
  const std::set<std::string> unique(probe.pods.begin(), probe.pods.end());
  if (probe.pods.empty() || unique.size() != probe.pods.size()) {
    return policy::fail(where + ": the header must name each pod once");
  }
  if (rows.size() != probe.pods.size() + 1) {
    return policy::fail(where + ": " + std::to_string(probe.pods.size()) + " columns but " +
                        std::to_string(rows.size() - 1) + " rows; the grid must be square");
  }
  for (size_t r = 0; r < probe.pods.size(); ++r) {
    const std::vector<std::string>& row = rows[r + 1];
    const std::string& from = probe.pods[r];
    if (row.front() != from) {
      return policy::fail(where + ": row " + std::to_string(r + 1) + " is '" + row.front() +
                          "', expected '" + from + "' (rows follow the header's order)");
    }
    if (row.size() != probe.pods.size() + 1) {
      return policy::fail(where + ": row " + from + " has " + std::to_string(row.size() - 1) +
                          " cells, expected " + std::to_string(probe.pods.size()));
    }
    for (size_t c = 0; c < probe.pods.size(); ++c) {
      const std::string& cell = row[c + 1];
      if (cell.size() != 1 || (cell[0] != kAllowedCell && cell[0] != kDeniedCell)) {
        return policy::fail(where + ": row " + from + ", column " + probe.pods[c] + ": '" +
                            cell + "' is neither '.' (allowed) nor 'X' (denied)");
      }
      probe.allowed[{from, probe.pods[c]}] = cell[0] == kAllowedCell;
    }
  }
  return {};
}

Result<Expectation> parseExpectation(const YAML::Node& root) {
  if (auto keys = checkKeys(root, std::string(kExpectFile), {"description", "cluster", "probes"});
      !keys) {
    return std::unexpected(keys.error());
  }
  Expectation expectation;
  if (!root["description"] || root["description"].as<std::string>().empty()) {
    return policy::fail("description: every case says what it checks and why");
  }
  expectation.description = root["description"].as<std::string>();
  if (root["cluster"]) {
    expectation.cluster = root["cluster"].as<std::string>();
  }
  const YAML::Node probes = root["probes"];
  if (!probes || !probes.IsSequence() || probes.size() == 0) {
    return policy::fail("probes: expected a non-empty list");
  }
  std::set<std::pair<Protocol, uint16_t>> probed;
  for (size_t i = 0; i < probes.size(); ++i) {
    Probe probe;
    probe.where = "probes[" + std::to_string(i) + "]";
    const YAML::Node node = probes[i];
    if (auto keys = checkKeys(node, probe.where, {"protocols", "ports", "grid"}); !keys) {
      return std::unexpected(keys.error());
    }
    auto protocols = parseProtocols(node["protocols"], probe.where + ".protocols");
    if (!protocols) {
      return std::unexpected(protocols.error());
    }
    auto ports = parsePorts(node["ports"], probe.where + ".ports");
    if (!ports) {
      return std::unexpected(ports.error());
    }
    probe.protocols = std::move(*protocols);
    probe.ports = std::move(*ports);
    for (Protocol protocol : probe.protocols) {
      for (uint16_t port : probe.ports) {
        if (!probed.emplace(protocol, port).second) {
          return policy::fail(probe.where + ": " + std::string(policy::toString(protocol)) + "/" +
                              std::to_string(port) + " is already probed by another grid");
        }
      }
    }
    if (!node["grid"]) {
      return policy::fail(probe.where + ".grid: missing");
    }
    if (auto grid = parseGrid(node["grid"].as<std::string>(), probe.where + ".grid", probe);
        !grid) {
      return std::unexpected(grid.error());
    }
    expectation.probes.push_back(std::move(probe));
  }
  return expectation;
}

Result<Expectation> loadExpectation(const SpecCase& spec_case) {
  const fs::path path = spec_case.dir / kExpectFile;
  if (!fs::is_regular_file(path)) {
    return policy::fail(path.string() + ": missing; every case folder needs one");
  }
  try {
    auto expectation = parseExpectation(YAML::LoadFile(path.string()));
    if (!expectation) {
      return policy::fail(path.string() + ": " + expectation.error().message);
    }
    return expectation;
  } catch (const YAML::Exception& e) {
    return policy::fail(path.string() + ": " + e.what());
  }
}

// The shared cluster first, if the case names one, then the case's own manifest files.
Result<std::vector<fs::path>> manifestPaths(const SpecCase& spec_case,
                                            const Expectation& expectation) {
  std::vector<fs::path> paths;
  if (expectation.cluster) {
    const fs::path cluster = specDir() / "clusters" / (*expectation.cluster + ".yaml");
    if (!fs::is_regular_file(cluster)) {
      return policy::fail("cluster '" + *expectation.cluster + "': " + cluster.string() +
                          " does not exist");
    }
    paths.push_back(cluster);
  }
  std::vector<fs::path> own;
  for (const fs::directory_entry& entry : fs::directory_iterator(spec_case.dir)) {
    const fs::path& path = entry.path();
    const std::string extension = path.extension().string();
    if (entry.is_regular_file() && path.filename() != kExpectFile &&
        (extension == ".yaml" || extension == ".yml" || extension == ".json")) {
      own.push_back(path);
    }
  }
  std::ranges::sort(own);
  paths.insert(paths.end(), own.begin(), own.end());
  return paths;
}

struct LoadedCase {
  Expectation expectation;
  std::vector<fs::path> paths;
  policy::Manifest manifest;
};

Result<LoadedCase> loadCase(const SpecCase& spec_case) {
  auto expectation = loadExpectation(spec_case);
  if (!expectation) {
    return std::unexpected(expectation.error());
  }
  auto paths = manifestPaths(spec_case, *expectation);
  if (!paths) {
    return std::unexpected(paths.error());
  }
  auto manifest = files::readManifestPaths(*paths);
  if (!manifest) {
    return std::unexpected(manifest.error());
  }
  return LoadedCase{std::move(*expectation), std::move(*paths), std::move(*manifest)};
}

std::vector<SpecCase> discoverCases() {
  std::vector<SpecCase> cases;
  std::error_code ec;
  for (fs::directory_iterator it(specDir() / "cases", ec), end; !ec && it != end;
       it.increment(ec)) {
    if (it->is_directory()) {
      cases.push_back(SpecCase{it->path().filename().string(), it->path()});
    }
  }
  std::ranges::sort(cases, {}, &SpecCase::name);
  return cases;
}

// gtest names allow letters, digits and underscores only.
std::string testName(const testing::TestParamInfo<SpecCase>& info) {
  std::string name = info.param.name;
  std::ranges::replace_if(name, [](unsigned char c) { return !std::isalnum(c); }, '_');
  return name;
}

std::string verdictWord(bool allowed) { return allowed ? "allowed" : "denied"; }

// explain() spans several lines; indent them under the mismatch they explain.
std::string indented(const std::string& text, std::string_view prefix) {
  std::ostringstream out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) {
      out << "\n" << prefix << line;
    }
  }
  return out.str();
}

// Every difference between a grid and the oracle, each with the oracle's explanation, so a
// failing case can be judged without rerunning anything.
std::vector<std::string> compareProbe(const policy::ReachabilityOracle& oracle,
                                      const Probe& probe) {
  std::vector<std::string> problems;
  std::set<std::string> cluster_pods;
  for (const policy::Pod& pod : oracle.state().pods) {
    cluster_pods.insert(
        podLabel(policy::PodRef{pod.metadata.namespace_name, pod.metadata.name}));
  }
  const std::set<std::string> grid_pods(probe.pods.begin(), probe.pods.end());
  for (const std::string& pod : cluster_pods) {
    if (!grid_pods.contains(pod)) {
      problems.push_back(probe.where + ": pod " + pod + " of the cluster is not in the grid");
    }
  }
  for (const std::string& pod : grid_pods) {
    if (!cluster_pods.contains(pod)) {
      problems.push_back(probe.where + ": the grid names " + pod + ", which the cluster lacks");
    }
  }
  if (!problems.empty()) {
    return problems;
  }
  const policy::MatrixQuery query{.protocols = probe.protocols, .ports = probe.ports};
  for (const policy::MatrixEntry& entry : policy::reachabilityMatrix(oracle, query)) {
    const std::string from = podLabel(entry.from);
    const std::string to = podLabel(entry.to);
    const bool expected = probe.allowed.at({from, to});
    if (expected == entry.allowed) {
      continue;
    }
    std::ostringstream problem;
    problem << from << " -> " << to << " " << policy::toString(entry.protocol) << "/"
            << entry.port << ": expected " << verdictWord(expected) << ", got "
            << verdictWord(entry.allowed);
    const policy::Flow flow{.source = entry.from, .destination = entry.to,
                            .protocol = entry.protocol, .port = entry.port,
                            .family = std::nullopt};
    if (auto verdict = oracle.evaluate(flow)) {
      problem << indented(policy::explain(flow, *verdict), "      ");
    }
    problems.push_back(problem.str());
  }
  return problems;
}

class SpecCaseTest : public testing::TestWithParam<SpecCase> {};

TEST_P(SpecCaseTest, ManifestsLoadWithoutErrors) {
  auto loaded = loadCase(GetParam());
  ASSERT_TRUE(loaded.has_value()) << loaded.error().message;
  std::ostringstream errors;
  for (const policy::ManifestError& error : loaded->manifest.errors) {
    errors << "\n  " << policy::toString(error);
  }
  EXPECT_TRUE(loaded->manifest.errors.empty()) << "manifest errors:" << errors.str();
}

TEST_P(SpecCaseTest, OracleMatchesTheExpectedReachability) {
  auto loaded = loadCase(GetParam());
  ASSERT_TRUE(loaded.has_value()) << loaded.error().message;
  const policy::ReachabilityOracle oracle(policy::clusterStateOf(loaded->manifest));
  std::vector<std::string> problems;
  for (const Probe& probe : loaded->expectation.probes) {
    std::vector<std::string> found = compareProbe(oracle, probe);
    problems.insert(problems.end(), found.begin(), found.end());
  }
  std::ostringstream report;
  for (const std::string& problem : problems) {
    report << "\n  " << problem;
  }
  EXPECT_TRUE(problems.empty()) << GetParam().name << ": " << loaded->expectation.description
                                << "\n" << problems.size() << " problem(s):" << report.str();
}

// The address a pod is reached at for a flow between two pods: IPv4 when both
// have one, as the oracle chooses.
std::optional<policy::IpAddress> addressOf(const policy::Pod& pod, policy::IpFamily family) {
  std::vector<std::string> texts = {pod.pod_ip};
  texts.insert(texts.end(), pod.pod_ips.begin(), pod.pod_ips.end());
  for (const std::string& text : texts) {
    if (auto address = policy::IpAddress::parseSloppy(text); address && address->family() == family) {
      return address;
    }
  }
  return std::nullopt;
}

policy::NodeContext nodeOf(const policy::Pod& pod) {
  policy::NodeContext node;
  std::vector<std::string> texts = {pod.host_ip};
  texts.insert(texts.end(), pod.host_ips.begin(), pod.host_ips.end());
  for (const std::string& text : texts) {
    if (auto address = policy::IpAddress::parseSloppy(text)) {
      node.node_addresses.push_back(*address);
    }
  }
  return node;
}

uint8_t protocolNumber(Protocol protocol) {
  return protocol == Protocol::kUDP ? 17 : protocol == Protocol::kSCTP ? 132 : 6;
}

// The same expectations, through the compiled dataplane tables looked up the
// way the BPF programs look them up: where the packet leaves the source pod
// (on the source's node), then where it reaches the destination pod (on the
// destination's node).
TEST_P(SpecCaseTest, CompiledTablesMatchTheExpectedReachability) {
  auto loaded = loadCase(GetParam());
  ASSERT_TRUE(loaded.has_value()) << loaded.error().message;
  const policy::ClusterState state = policy::clusterStateOf(loaded->manifest);
  const policy::ReachabilityOracle oracle(state);  // for the namespace defaulting of pods
  const policy::CompiledCluster compiled = policy::compileCluster(oracle.state(), 1);
  const policy::DataplaneView view(compiled.tables);
  std::vector<std::string> problems;
  for (const Probe& probe : loaded->expectation.probes) {
    for (const auto& [pair, expected] : probe.allowed) {
      if (pair.first == pair.second) {
        continue;  // a pod's traffic to itself never reaches the dataplane
      }
      const policy::Pod* from = oracle.findPod(*policy::parsePodRef(pair.first));
      const policy::Pod* to = oracle.findPod(*policy::parsePodRef(pair.second));
      ASSERT_TRUE(from != nullptr && to != nullptr) << pair.first << " -> " << pair.second;
      policy::IpFamily family = policy::IpFamily::kIPv4;
      if (!addressOf(*from, family) || !addressOf(*to, family)) {
        family = policy::IpFamily::kIPv6;
      }
      const auto source = addressOf(*from, family);
      const auto destination = addressOf(*to, family);
      ASSERT_TRUE(source && destination)
          << GetParam().name << ": " << pair.first << " -> " << pair.second
          << ": the dataplane needs pod addresses of a common family";
      for (Protocol protocol : probe.protocols) {
        for (uint16_t port : probe.ports) {
          bool allowed = true;
          if (view.endpoint(*source) != nullptr) {
            const auto leaving = policy::decideLeavingPod(view, nodeOf(*from), *source,
                                                          *destination, protocolNumber(protocol),
                                                          port);
            allowed = leaving.allowed;
            if (leaving.allowed && leaving.reason != PAL_ALLOW_DEFERRED) {
              // Decided where it left: the destination is not a pod.
              allowed = true;
              if (allowed != expected) {
                problems.push_back(pair.first + " -> " + pair.second + " " +
                                   std::string(policy::toString(protocol)) + "/" +
                                   std::to_string(port) + ": expected denied, allowed where it "
                                   "left the source");
              }
              continue;
            }
          }
          if (allowed && view.endpoint(*destination) != nullptr) {
            allowed = policy::decideReachingPod(view, nodeOf(*to), *source, *destination,
                                                protocolNumber(protocol), port)
                          .allowed;
          }
          if (allowed != expected) {
            problems.push_back(pair.first + " -> " + pair.second + " " +
                               std::string(policy::toString(protocol)) + "/" +
                               std::to_string(port) + ": expected " + verdictWord(expected) +
                               ", dataplane " + verdictWord(allowed));
          }
        }
      }
    }
  }
  std::ostringstream report;
  for (const std::string& problem : problems) {
    report << "\n  " << problem;
  }
  EXPECT_TRUE(problems.empty()) << GetParam().name << ": " << problems.size()
                                << " problem(s):" << report.str();
}

// Runs `command` and returns what it printed on standard output, or an error.
Result<std::string> runCommand(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    return policy::fail("cannot run " + command);
  }
  std::string output;
  char buffer[65536];
  size_t n = 0;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) {
    output.append(buffer, n);
  }
  const int status = pclose(pipe);
  if (status != 0) {
    return policy::fail(command + " exited with status " + std::to_string(status));
  }
  return output;
}

std::string shellQuoted(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) {
    quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return quoted + "'";
}

template <class T>
std::string joined(const std::vector<T>& values) {
  std::string out;
  for (const T& value : values) {
    std::ostringstream text;
    text << value;
    out += (out.empty() ? "" : ",") + text.str();
  }
  return out;
}

// The same expectations, through the palisadectl binary's JSON output, so that
// what users run is held to the specification too.
TEST_P(SpecCaseTest, PalisadectlMatrixJsonMatchesTheExpectedReachability) {
  auto loaded = loadCase(GetParam());
  ASSERT_TRUE(loaded.has_value()) << loaded.error().message;
  for (const Probe& probe : loaded->expectation.probes) {
    std::vector<std::string> protocols;
    for (Protocol protocol : probe.protocols) {
      protocols.emplace_back(policy::toString(protocol));
    }
    std::string command = std::string(PALISADECTL) + " matrix -o json --ports " +
                          joined(probe.ports) + " --protocols " + joined(protocols);
    for (const fs::path& path : loaded->paths) {
      command += " -f " + shellQuoted(path.string());
    }
    Result<std::string> output = runCommand(command);
    ASSERT_TRUE(output.has_value()) << output.error().message;
    const nlohmann::json results = nlohmann::json::parse(*output).at("results");
    EXPECT_EQ(results.size(), probe.allowed.size() * probe.protocols.size() * probe.ports.size())
        << probe.where;
    for (const nlohmann::json& entry : results) {
      const auto key = std::pair{entry.at("from").get<std::string>(), entry.at("to").get<std::string>()};
      const auto expected = probe.allowed.find(key);
      ASSERT_NE(expected, probe.allowed.end()) << probe.where << ": unexpected pair " << entry;
      EXPECT_EQ(entry.at("allowed").get<bool>(), expected->second)
          << GetParam().name << " " << probe.where << ": " << entry.dump();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Corpus, SpecCaseTest, testing::ValuesIn(discoverCases()), testName);

// Guards against a wrong PALISADE_SOURCE_DIR or a moved folder, which would otherwise leave
// the corpus silently empty.
TEST(SpecCorpus, CaseFoldersAreFound) {
  EXPECT_TRUE(fs::is_directory(specDir() / "cases")) << specDir() / "cases";
  EXPECT_FALSE(discoverCases().empty());
}

}  // namespace
}  // namespace palisade::spec
