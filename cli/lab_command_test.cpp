// `palisadectl lab` as a user runs it. These tests build network namespaces:
// they need root, and CI runs as root, so without it they fail (never skip).

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli/cluster_fixture_test.h"
#include "cli/commands.h"
#include "cli/test_support.h"
#include "lab/process.h"
#include "lab/prober.h"

namespace palisade::cli {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using testing::kSmallCluster;
using testing::run;
using testing::TempDir;

const std::string kExamples = std::string(PALISADE_SOURCE_DIR) + "/examples/cluster";
// The example cluster without its policies: what the bare network allows.
const std::vector<std::string> kExamplesWithoutPolicies = {
    kExamples + "/namespaces.yaml", kExamples + "/pods-shop.yaml",
    kExamples + "/pods-system.yaml"};

LabOptions labOptions(std::vector<std::string> paths, std::string output = "json") {
  LabOptions options;
  options.paths = std::move(paths);
  options.ports = {"8080,53"};
  options.protocols = {"TCP,UDP"};
  options.output = std::move(output);
  options.no_enforcer = true;
  return options;
}

MatrixOptions matrixOptions(std::vector<std::string> paths, std::string output = "json") {
  MatrixOptions options;
  options.paths = std::move(paths);
  options.ports = {"8080,53"};
  options.protocols = {"TCP,UDP"};
  options.output = std::move(output);
  return options;
}

bool namespaceExists(const std::string& name) {
  return fs::exists(fs::path("/run/netns") / name);
}

std::string readFile(const fs::path& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class LabCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(geteuid(), 0U)
        << "the lab tests need root: they create network namespaces, veth pairs and iptables "
           "rules (CI runs as root; run them with sudo)";
  }

  TempDir dir_;
};

TEST_F(LabCommand, ExamplesMeasureTheOracleMatrixWithoutPoliciesPrintedTheSameWay) {
  const auto measured = run(runLab, labOptions({kExamples}));
  const auto expected = run(runMatrix, matrixOptions(kExamplesWithoutPolicies));

  ASSERT_EQ(measured.exit_code, kExitOk) << measured.err;
  ASSERT_EQ(expected.exit_code, kExitOk) << expected.err;
  EXPECT_EQ(measured.out, expected.out);
  EXPECT_THAT(measured.err, HasSubstr("palisadectl lab: 8 pods in network namespaces pl-"));
  EXPECT_THAT(measured.err, HasSubstr("node 10.244.255.254 (Services 10.96.0.0/16), enforcer: "
                                      "none\n"));
  EXPECT_THAT(measured.err, HasSubstr("palisadectl lab: 256 probes (TCP, UDP on 8080, 53) in "));
}

TEST_F(LabCommand, ExamplesThroughServicesMeasureTheSameMatrix) {
  LabOptions options = labOptions({kExamples});
  options.via_services = true;

  const auto measured = run(runLab, options);
  const auto expected = run(runMatrix, matrixOptions(kExamplesWithoutPolicies));

  ASSERT_EQ(measured.exit_code, kExitOk) << measured.err;
  EXPECT_EQ(measured.out, expected.out);
  EXPECT_THAT(measured.err, HasSubstr("on 8080, 53, through Services) in "));
}

TEST_F(LabCommand, TheTableIsTheMatrixCommandsTable) {
  const auto measured = run(runLab, labOptions({kExamples}, "table"));
  const auto expected = run(runMatrix, matrixOptions(kExamplesWithoutPolicies, "table"));

  ASSERT_EQ(measured.exit_code, kExitOk) << measured.err;
  EXPECT_EQ(measured.out, expected.out);
  EXPECT_THAT(measured.out, HasSubstr("UDP/53: 64 allowed, 0 denied\n"));
}

TEST_F(LabCommand, CheckListsEveryFlowThatDiffersFromTheOracle) {
  LabOptions with_policies = labOptions({kExamples});
  with_policies.ports = {"8080"};
  with_policies.protocols = {"TCP"};
  with_policies.check = true;
  LabOptions without_policies = with_policies;
  without_policies.paths = kExamplesWithoutPolicies;

  const auto differing = run(runLab, with_policies);
  const auto agreeing = run(runLab, without_policies);

  EXPECT_EQ(differing.exit_code, kExitFindings);
  // The matrix is printed all the same.
  EXPECT_THAT(differing.out, HasSubstr("\"results\""));
  EXPECT_THAT(differing.err,
              HasSubstr("palisadectl lab: differs from the oracle: TCP/8080 shop-prod/frontend -> "
                        "shop-prod/database: measured allowed, the oracle denies\n"));
  EXPECT_THAT(differing.err, HasSubstr(" of 64 flows differ from the oracle\n"));
  EXPECT_EQ(agreeing.exit_code, kExitOk) << agreeing.err;
  EXPECT_THAT(agreeing.err, Not(HasSubstr("differs")));
}

TEST_F(LabCommand, AnEnforcerThatEnforcesThePolicyPassesTheCheck) {
  const std::string cluster = dir_.write("cluster.yaml", kSmallCluster);
  LabOptions options = labOptions({cluster});
  options.ports = {"5432,80"};
  options.protocols = {"TCP"};
  options.check = true;
  options.no_enforcer = false;
  // A stand-in for palisade-enforcer: team-a/db-from-web as one filter rule.
  options.enforcer = "sh";
  options.enforcer_args = {
      "-c",
      "iptables -w -A FORWARD ! -s 10.244.1.10 -d 10.244.1.11 -p tcp --dport 5432 -j DROP && "
      "iptables -w -A FORWARD -d 10.244.1.11 -p tcp ! --dport 5432 -m conntrack --ctstate NEW "
      "-j DROP && touch {ready_file} && exec sleep 600",
      "enforcer"};

  const auto result = run(runLab, options);

  EXPECT_EQ(result.exit_code, kExitOk) << result.err;
  EXPECT_THAT(result.err, HasSubstr("enforcer: sh (pid "));
  const nlohmann::json document = nlohmann::json::parse(result.out);
  EXPECT_EQ(document.at("results")[7].dump(),
            R"({"allowed":false,"from":"kube-system/coredns","port":5432,"protocol":"TCP",)"
            R"("to":"team-a/db"})");
}

TEST_F(LabCommand, TheDefaultEnforcerIsPalisadeEnforcerBesidePalisadectlWithItsArguments) {
  const fs::path seen = dir_.path() / "args";
  const fs::path uninstalled = dir_.path() / "uninstall-args";
  const std::string enforcer = dir_.write(
      "bin/palisade-enforcer",
      fmt::format("#!/bin/sh\n"
                  "if [ \"$1\" = --uninstall ]; then printf '%s\\n' \"$@\" > {}; exit 0; fi\n"
                  "printf '%s\\n' \"$@\" > {}\n"
                  "while [ $# -gt 0 ]; do\n"
                  "  if [ \"$1\" = --ready-file ]; then touch \"$2\"; fi\n"
                  "  shift\n"
                  "done\n"
                  "exec sleep 600\n",
                  uninstalled.string(), seen.string()));
  fs::permissions(enforcer, fs::perms::owner_all);
  LabOptions options = labOptions({kExamples});
  options.no_enforcer = false;
  options.program_dir = (dir_.path() / "bin").string();

  const auto result = run(runLab, options);

  ASSERT_EQ(result.exit_code, kExitOk) << result.err;
  EXPECT_THAT(result.err, HasSubstr("enforcer: " + enforcer + " (pid "));
  std::vector<std::string> args;
  std::istringstream lines(readFile(seen));
  for (std::string line; std::getline(lines, line);) {
    args.push_back(line);
  }
  ASSERT_EQ(args.size(), 14U) << readFile(seen);
  EXPECT_EQ(args[0], "--manifests");
  EXPECT_THAT(args[1], HasSubstr("/manifests"));
  EXPECT_EQ(args[4], "--node-ips");
  EXPECT_EQ(args[5], "10.244.255.254");
  EXPECT_EQ(args[6], "--service-cidrs");
  EXPECT_EQ(args[7], "10.96.0.0/16");
  EXPECT_EQ(args[8], "--pin-dir");
  EXPECT_EQ(args[10], "--ready-file");
  EXPECT_EQ(args[12], "--metrics-addr");
  EXPECT_EQ(args[13], "") << "no metrics endpoint in the lab";
  // Teardown removes what the enforcer attached and pinned, as an operator would.
  EXPECT_EQ(readFile(uninstalled), "--uninstall\n--pin-dir\n" + args[9] + "\n");
}

TEST_F(LabCommand, WithoutAnEnforcerToRunItSaysWhichFlagsToUse) {
  LabOptions options = labOptions({kExamples});
  options.no_enforcer = false;
  options.program_dir = dir_.path().string();

  const auto result = run(runLab, options);

  EXPECT_EQ(result.exit_code, kExitUsage);
  EXPECT_THAT(result.out, IsEmpty());
  EXPECT_EQ(result.err, fmt::format("palisadectl lab: no enforcer to run: palisade-enforcer is not "
                                    "beside palisadectl ({}/palisade-enforcer); give --enforcer "
                                    "PATH, or --no-enforcer to measure the cluster without "
                                    "enforcement\n",
                                    dir_.path().string()));
}

TEST_F(LabCommand, NoEnforcerExcludesAnEnforcerAndItsArguments) {
  LabOptions with_program = labOptions({kExamples});
  with_program.enforcer = "/usr/bin/true";
  LabOptions with_args = labOptions({kExamples});
  with_args.enforcer_args = {"--mode", "audit"};

  for (const LabOptions& options : {with_program, with_args}) {
    const auto result = run(runLab, options);

    EXPECT_EQ(result.exit_code, kExitUsage);
    EXPECT_EQ(result.err,
              "palisadectl lab: --no-enforcer excludes --enforcer and enforcer arguments\n");
  }
}

TEST_F(LabCommand, AnEnforcerPathThatIsNoProgramIsAUsageError) {
  LabOptions options = labOptions({kExamples});
  options.no_enforcer = false;
  options.enforcer = (dir_.path() / "missing-enforcer").string();

  const auto result = run(runLab, options);

  EXPECT_EQ(result.exit_code, kExitUsage);
  EXPECT_THAT(result.err, HasSubstr("--enforcer: " + options.enforcer +
                                    " is not an executable file"));
}

TEST_F(LabCommand, AnEnforcerThatFailsFailsTheLabWithItsLastWords) {
  LabOptions options = labOptions({kExamples});
  options.no_enforcer = false;
  options.enforcer = "sh";
  options.enforcer_args = {"-c", "echo 'no BTF: boom' >&2; exit 4 # {ready_file}", "enforcer"};

  const auto result = run(runLab, options);

  EXPECT_EQ(result.exit_code, kExitLabFailed);
  EXPECT_THAT(result.out, IsEmpty());
  EXPECT_THAT(result.err, HasSubstr("the enforcer exited with status 4 before it was ready"));
  EXPECT_THAT(result.err, HasSubstr("no BTF: boom"));
}

TEST_F(LabCommand, ASignalDuringTheRunTearsTheLabDownAndExitsWith128PlusTheSignal) {
  const fs::path node_file = dir_.path() / "node";
  LabOptions options = labOptions({kExamples});
  options.no_enforcer = false;
  options.enforcer = "sh";
  // Everything is dropped, so the probes take their full timeouts: time
  // enough for the signal to arrive in the middle of them.
  options.enforcer_args = {
      "-c",
      fmt::format("iptables -w -P FORWARD DROP && echo {{node_netns}} > {} && "
                  "touch {{ready_file}} && exec sleep 600",
                  node_file.string()),
      "enforcer"};
  std::thread signaller([&] {
    for (int i = 0; i < 1000 && !fs::exists(node_file); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    kill(getpid(), SIGTERM);
  });

  const auto result = run(runLab, options);
  signaller.join();

  EXPECT_EQ(result.exit_code, 128 + SIGTERM);
  EXPECT_THAT(result.out, IsEmpty());
  EXPECT_THAT(result.err, HasSubstr("palisadectl lab: interrupted by signal 15; the lab has been "
                                    "torn down\n"));
  std::string node = readFile(node_file);
  ASSERT_FALSE(node.empty());
  node.pop_back();
  EXPECT_FALSE(namespaceExists(node)) << node;
  // The handler is gone with the lab: SIGTERM has its default action again.
  struct sigaction current {};
  sigaction(SIGTERM, nullptr, &current);
  EXPECT_EQ(current.sa_handler, SIG_DFL);
}

TEST_F(LabCommand, SctpIsRefusedWhereTheKernelHasNoSctpSockets) {
  LabOptions options = labOptions({kExamples});
  options.protocols = {"TCP,SCTP"};

  const auto result = run(runLab, options);

  if (lab::checkProtocolSupport(policy::Protocol::kSCTP)) {
    EXPECT_EQ(result.exit_code, kExitOk) << result.err;
  } else {
    EXPECT_EQ(result.exit_code, kExitUsage);
    EXPECT_THAT(result.err, HasSubstr("palisadectl lab: --protocols: SCTP cannot be probed: this "
                                      "kernel has no SCTP sockets"));
  }
}

TEST_F(LabCommand, NotRunningAsRootIsAUsageErrorThatSaysSo) {
  // Root can drop its effective uid and take it back: the saved uid stays 0.
  ASSERT_EQ(seteuid(65534), 0);
  const auto result = run(runLab, labOptions({kExamples}));
  ASSERT_EQ(seteuid(0), 0);

  EXPECT_EQ(result.exit_code, kExitUsage);
  EXPECT_EQ(result.err, "palisadectl lab: must run as root: the lab creates network namespaces, "
                        "veth pairs and iptables rules\n");
}

TEST_F(LabCommand, BadFlagsAreUsageErrorsBeforeAnythingIsBuilt) {
  LabOptions bad_output = labOptions({kExamples}, "yaml");
  LabOptions bad_port = labOptions({kExamples});
  bad_port.ports = {"0"};

  EXPECT_EQ(run(runLab, bad_output).exit_code, kExitUsage);
  EXPECT_THAT(run(runLab, bad_port).err, HasSubstr("--ports: invalid port \"0\""));
}

TEST_F(LabCommand, TheBinaryPassesWhatFollowsDoubleDashToTheEnforcer) {
  const fs::path seen = dir_.path() / "seen";
  const std::string script =
      fmt::format("echo \"$@\" > {} && touch {{ready_file}} && exec sleep 600", seen.string());

  const auto measured = lab::runProcess({PALISADECTL, "lab", "-f", kExamples, "--ports", "8080",
                                         "-o", "json", "--enforcer", "sh", "--", "-c", script,
                                         "enforcer", "--flag", "-x", "{node_name}"});
  const auto misplaced =
      lab::runProcess({PALISADECTL, "matrix", "-f", kExamples, "--", "--flag"});

  ASSERT_TRUE(measured.has_value()) << measured.error().message;
  EXPECT_THAT(measured->out, HasSubstr("{\"results\":[{\"from\":\"shop-prod/frontend\""));
  EXPECT_EQ(readFile(seen), "--flag -x palisade-lab-node\n");
  ASSERT_FALSE(misplaced.has_value());
  EXPECT_THAT(misplaced.error().message,
              HasSubstr("exited with status 2: palisadectl: arguments after -- are for the "
                        "enforcer of `palisadectl lab` only"));
}

TEST_F(LabCommand, InvalidManifestsAreFindingsAndNoLabIsBuilt) {
  const std::string bad = dir_.write("bad.yaml", R"(apiVersion: v1
kind: Pod
metadata:
  name: broken
  namespace: team-a
  labels: [not, a, map]
)");

  const auto result = run(runLab, labOptions({bad}));

  EXPECT_EQ(result.exit_code, kExitFindings);
  EXPECT_THAT(result.err, Not(HasSubstr("network namespaces")));
}

}  // namespace
}  // namespace palisade::cli
