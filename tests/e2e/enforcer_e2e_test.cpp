// palisade-enforcer fed by a real kube-apiserver: the example cluster's
// namespaces and pods created through the API, each pod backed by a lab
// network namespace whose address the test writes into the pod's status
// (through the status subresource, as a kubelet does); the enforcer watches
// the apiserver; policies applied with kubectl change what real packets
// measure, and the measured matrix always equals `palisadectl matrix` over
// the objects read back from the apiserver. Needs root.

#include <stdlib.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "files/manifest_files.h"
#include "lab/lab.h"
#include "policy/json_codec.h"
#include "policy/manifest.h"
#include "tests/e2e/netns_relay.h"
#include "tests/e2e/test_cluster.h"

namespace palisade::e2e {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;

const policy::MatrixQuery kQuery{.protocols = {policy::Protocol::kTCP}, .ports = {8080, 5432}};

// (from, to, protocol, port) -> allowed
using Matrix = std::map<std::tuple<std::string, std::string, std::string, int>, bool>;

std::string describe(const Matrix& expected, const Matrix& measured) {
  std::string out;
  for (const auto& [flow, allowed] : expected) {
    const auto found = measured.find(flow);
    if (found == measured.end() || found->second != allowed) {
      out += std::get<0>(flow) + " -> " + std::get<1>(flow) + " " + std::get<2>(flow) + "/" +
             std::to_string(std::get<3>(flow)) + ": palisadectl says " +
             (allowed ? "allowed" : "denied") + ", measured " +
             (found == measured.end() ? "nothing" : (found->second ? "allowed" : "denied")) +
             "\n";
    }
  }
  if (measured.size() != expected.size()) {
    out += "measured " + std::to_string(measured.size()) + " flows, palisadectl " +
           std::to_string(expected.size()) + "\n";
  }
  return out;
}

class EnforcerEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    auto dir = makeRunFolder("palisade-e2e-enforcer");
    ASSERT_TRUE(dir.has_value()) << dir.error().message;
    dir_ = *dir;
    auto cluster = TestCluster::start(dir_ / "cluster");
    ASSERT_TRUE(cluster.has_value()) << cluster.error().message;
    cluster_ = std::make_unique<TestCluster>(std::move(*cluster));

    auto manifest = files::readManifestPaths({fs::path(PALISADE_SOURCE_DIR) / "examples/cluster"});
    ASSERT_TRUE(manifest.has_value()) << manifest.error().message;
    ASSERT_TRUE(manifest->errors.empty());
    example_ = policy::clusterStateOf(*manifest);
    policy::ClusterState without_policies = example_;
    without_policies.policies.clear();
    auto lab = lab::Lab::create(without_policies);
    ASSERT_TRUE(lab.has_value()) << lab.error().message;
    lab_ = std::make_unique<lab::Lab>(std::move(*lab));
    // The enforcer runs in the lab's node namespace, as a DaemonSet runs on
    // the host network; it reaches the apiserver at the same URL through a
    // relay there.
    const std::string url = cluster_->apiserverUrl();
    const auto port = static_cast<uint16_t>(std::stoi(url.substr(url.rfind(':') + 1)));
    auto relay = NetnsRelay::start(lab_->topology().node_netns, port);
    ASSERT_TRUE(relay.has_value()) << relay.error().message;
    relay_ = std::move(*relay);
    createThroughTheApi(lab_->cluster());

    lab::EnforcerSpec spec;
    spec.argv = {PALISADE_ENFORCER,
                 "--kubeconfig",
                 cluster_->kubeconfig(Identity::kPalisade).string(),
                 "--node-name",
                 "{node_name}",
                 "--node-ips",
                 "{node_ips}",
                 "--service-cidrs",
                 "{service_cidrs}",
                 "--pin-dir",
                 "{pin_dir}",
                 "--ready-file",
                 "{ready_file}",
                 "--metrics-addr",
                 "off"};
    spec.cleanup_argv = {PALISADE_ENFORCER, "--uninstall", "--pin-dir", "{pin_dir}"};
    spec.ready_timeout = std::chrono::seconds(60);
    const auto started = lab_->startEnforcer(spec);
    ASSERT_TRUE(started.has_value()) << started.error().message;
  }

  void TearDown() override {
    if (lab_) {
      for (const std::string& problem : lab_->teardown()) {
        ADD_FAILURE() << "lab teardown: " << problem;
      }
      lab_.reset();
    }
    relay_.reset();
    for (const std::string& problem :
         finishRun(cluster_, dir_, ::testing::UnitTest::GetInstance()->Passed())) {
      ADD_FAILURE() << problem;
    }
  }

  // Namespaces, then each pod with its lab address written into its status.
  void createThroughTheApi(const policy::ClusterState& built) {
    for (const policy::Namespace& ns : built.namespaces) {
      apply(policy::encodeNamespace(ns));
      // No kube-controller-manager makes it, and pods need it.
      const CommandResult account = cluster_->kubectl(
          Identity::kAdmin, {"create", "serviceaccount", "default", "-n", ns.metadata.name});
      ASSERT_TRUE(account.exit_code == 0 ||
                  account.output.find("AlreadyExists") != std::string::npos)
          << account.output;
    }
    for (const policy::Pod& pod : built.pods) {
      json object = policy::encodePod(pod);
      const json status = object["status"];
      object.erase("status");
      for (json& container : object["spec"]["containers"]) {
        container["image"] = "registry.k8s.io/pause:3.10";
      }
      apply(object);
      const CommandResult patched = cluster_->kubectl(
          Identity::kAdmin,
          {"patch", "pod", pod.metadata.name, "-n", pod.metadata.namespace_name,
           "--subresource=status", "--type=merge", "-p", json{{"status", status}}.dump()});
      ASSERT_EQ(patched.exit_code, 0) << patched.output;
    }
  }

  void apply(const json& object) {
    const CommandResult applied =
        cluster_->kubectl(Identity::kAdmin, {"apply", "-f", "-"}, object.dump());
    ASSERT_EQ(applied.exit_code, 0) << applied.output << "\n" << object.dump();
  }

  // palisadectl matrix over namespaces, pods and policies as the apiserver
  // returns them.
  Matrix expectedFromTheApi() {
    const CommandResult got = cluster_->kubectl(
        Identity::kAdmin, {"get", "namespaces,pods,networkpolicies", "-A", "-o", "json"});
    EXPECT_EQ(got.exit_code, 0) << got.output;
    const fs::path file = dir_ / "read-back.json";
    std::ofstream(file) << got.output;
    const CommandResult matrix = runCommand({PALISADECTL, "matrix", "-f", file.string(),
                                             "--ports", "8080,5432", "--protocols", "TCP", "-o",
                                             "json"});
    EXPECT_EQ(matrix.exit_code, 0) << matrix.output;
    Matrix expected;
    const json parsed = json::parse(matrix.output, nullptr, false);
    EXPECT_FALSE(parsed.is_discarded()) << matrix.output;
    if (parsed.is_discarded()) {
      return expected;
    }
    for (const json& entry : parsed["results"]) {
      expected[{entry["from"], entry["to"], entry["protocol"], entry["port"]}] = entry["allowed"];
    }
    return expected;
  }

  Matrix measured() {
    lab::ProbeOptions probing;
    probing.timeout = 300ms;
    probing.attempts = 2;
    const auto measurement = lab_->measure(kQuery, probing);
    EXPECT_TRUE(measurement.has_value()) << measurement.error().message;
    Matrix out;
    if (!measurement) {
      return out;
    }
    for (const policy::MatrixEntry& entry : measurement->entries) {
      out[{policy::toString(entry.from), policy::toString(entry.to),
           std::string(policy::toString(entry.protocol)), entry.port}] = entry.allowed;
    }
    return out;
  }

  // Measures until the matrix equals palisadectl's over what the apiserver
  // holds; returns how long that took, or nullopt (with the difference
  // reported) when it never did within `deadline`.
  std::optional<std::chrono::milliseconds> untilMeasuredEqualsExpected(
      std::chrono::steady_clock::time_point since, std::chrono::seconds deadline) {
    const Matrix expected = expectedFromTheApi();
    Matrix last;
    while (std::chrono::steady_clock::now() < since + deadline) {
      last = measured();
      if (last == expected) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - since);
      }
    }
    ADD_FAILURE() << describe(expected, last);
    return std::nullopt;
  }

  // How many generations of tables the enforcer has made live so far (its
  // "tables live" log lines).
  size_t generationsLive() const {
    std::ifstream log(lab_->runDir() / "enforcer.log");
    size_t live = 0;
    for (std::string line; std::getline(log, line);) {
      const json entry = json::parse(line, nullptr, false);
      live += entry.is_object() && entry.value("msg", "") == "tables live" ? 1 : 0;
    }
    return live;
  }

  // Waits for a generation after `seen` to go live; how long that took from
  // `since`, or nullopt after `deadline`.
  std::optional<std::chrono::milliseconds> untilNextGeneration(
      size_t seen, std::chrono::steady_clock::time_point since, std::chrono::seconds deadline) {
    while (std::chrono::steady_clock::now() < since + deadline) {
      if (generationsLive() > seen) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - since);
      }
      std::this_thread::sleep_for(5ms);
    }
    return std::nullopt;
  }

  static inline EnforcerEnvironment* instance_ = nullptr;
  TestCluster& cluster() { return *cluster_; }
  const policy::ClusterState& example() const { return example_; }

 private:
  fs::path dir_;
  std::unique_ptr<TestCluster> cluster_;
  std::unique_ptr<lab::Lab> lab_;
  std::unique_ptr<NetnsRelay> relay_;
  policy::ClusterState example_;
};

EnforcerEnvironment& environment() { return *EnforcerEnvironment::instance_; }

size_t allowedIn(const Matrix& matrix) {
  size_t allowed = 0;
  for (const auto& [flow, is_allowed] : matrix) {
    allowed += is_allowed ? 1 : 0;
  }
  return allowed;
}

TEST(EnforcerOnTheApi, WithoutPoliciesEveryPodReachesEveryPod) {
  const auto took = environment().untilMeasuredEqualsExpected(std::chrono::steady_clock::now(), 30s);
  ASSERT_TRUE(took.has_value());
  const Matrix expected = environment().expectedFromTheApi();
  EXPECT_EQ(allowedIn(expected), expected.size());
}

TEST(EnforcerOnTheApi, PoliciesAppliedWithKubectlChangeTheMeasuredMatrix) {
  json list = {{"apiVersion", "v1"}, {"kind", "List"}, {"items", json::array()}};
  for (const policy::NetworkPolicy& policy : environment().example().policies) {
    list["items"].push_back(policy::encodeNetworkPolicy(policy));
  }
  const size_t seen = environment().generationsLive();
  const auto applied_at = std::chrono::steady_clock::now();
  environment().apply(list);
  const auto live = environment().untilNextGeneration(seen, applied_at, 30s);
  ASSERT_TRUE(live.has_value()) << "no new generation of tables went live";
  std::cout << "new tables live " << live->count() << " ms after kubectl apply was started\n";
  const auto took = environment().untilMeasuredEqualsExpected(applied_at, 30s);
  ASSERT_TRUE(took.has_value());
  std::cout << "the measured matrix matched the " << environment().example().policies.size()
            << " applied policies " << took->count()
            << " ms after kubectl apply (one measurement included)\n";
  const Matrix expected = environment().expectedFromTheApi();
  EXPECT_LT(allowedIn(expected), expected.size()) << "the example's policies deny something";
}

TEST(EnforcerOnTheApi, ADeletedPolicyOpensWhatItAloneClosed) {
  const policy::NetworkPolicy& removed = environment().example().policies.front();
  const auto deleted_at = std::chrono::steady_clock::now();
  const CommandResult deleted = environment().cluster().kubectl(
      Identity::kAdmin, {"delete", "networkpolicy", removed.metadata.name, "-n",
                         removed.metadata.namespace_name});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.output;
  const auto took = environment().untilMeasuredEqualsExpected(deleted_at, 30s);
  ASSERT_TRUE(took.has_value());
  std::cout << "the measured matrix followed the deletion of " << removed.metadata.namespace_name
            << "/" << removed.metadata.name << " after " << took->count() << " ms\n";
}

}  // namespace
}  // namespace palisade::e2e

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  auto* environment = new palisade::e2e::EnforcerEnvironment();
  palisade::e2e::EnforcerEnvironment::instance_ = environment;
  ::testing::AddGlobalTestEnvironment(environment);
  return RUN_ALL_TESTS();
}
