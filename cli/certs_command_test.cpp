#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cli/commands.h"
#include "cli/test_support.h"
#include "lab/process.h"

namespace palisade::cli {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::run;
using testing::TempDir;

std::string readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class CertsCommand : public ::testing::Test {
 protected:
  CertsOptions options() const {
    CertsOptions options;
    options.service = "palisade-webhook";
    options.namespace_name = "palisade-system";
    options.out = out_.string();
    return options;
  }

  TempDir dir_;
  fs::path out_ = dir_.path() / "certs";
};

TEST_F(CertsCommand, WritesTheFilesAndPrintsTheCaBundleAndHowToInstallThem) {
  const auto result = run(runCerts, options());
  ASSERT_EQ(result.exit_code, kExitOk) << result.err;
  EXPECT_EQ(result.err, "");
  for (const char* name : {"ca.crt", "ca.key", "tls.crt", "tls.key", "secret.yaml",
                           "ca-bundle.txt", "webhook-patch.yaml"}) {
    EXPECT_TRUE(fs::exists(out_ / name)) << name;
  }
  // The caBundle is the output's last line, for scripts.
  EXPECT_THAT(result.out, ::testing::EndsWith("\ncaBundle: " + readFile(out_ / "ca-bundle.txt")));
  EXPECT_THAT(result.out, HasSubstr("CA: new"));
  EXPECT_THAT(result.out, HasSubstr("palisade-webhook.palisade-system.svc.cluster.local"));
  EXPECT_THAT(result.out, HasSubstr("kubectl apply -f " + out_.string() + "/secret.yaml\n"));
  EXPECT_THAT(result.out, HasSubstr("kubectl patch validatingwebhookconfiguration NAME --type "
                                    "json --patch-file " +
                                    out_.string() + "/webhook-patch.yaml\n"));
}

TEST_F(CertsCommand, RenewalSaysTheCaBundleIsUnchangedAndNeedsNoPatch) {
  ASSERT_EQ(run(runCerts, options()).exit_code, kExitOk);
  const auto renewed = run(runCerts, options());
  ASSERT_EQ(renewed.exit_code, kExitOk) << renewed.err;
  EXPECT_THAT(renewed.out, HasSubstr("CA: kept"));
  EXPECT_THAT(renewed.out, HasSubstr("The CA is unchanged"));
  EXPECT_THAT(renewed.out, Not(HasSubstr("kubectl patch")));
}

TEST_F(CertsCommand, RenewCaSaysTheWebhookConfigurationsNeedTheNewCaBundle) {
  ASSERT_EQ(run(runCerts, options()).exit_code, kExitOk);
  CertsOptions renew = options();
  renew.renew_ca = true;
  const auto renewed = run(runCerts, renew);
  ASSERT_EQ(renewed.exit_code, kExitOk) << renewed.err;
  EXPECT_THAT(renewed.out, HasSubstr("CA: replaced by a new one"));
  EXPECT_THAT(renewed.out, HasSubstr("kubectl patch mutatingwebhookconfiguration"));
}

TEST_F(CertsCommand, InvalidDaysIsAUsageError) {
  CertsOptions invalid = options();
  invalid.days = 0;
  const auto result = run(runCerts, invalid);
  EXPECT_EQ(result.exit_code, kExitUsage);
  EXPECT_THAT(result.err, HasSubstr("palisadectl certs: --days 0:"));
  EXPECT_EQ(result.out, "");
  EXPECT_FALSE(fs::exists(out_));
}

TEST_F(CertsCommand, UnusableCaIsAFailure) {
  ASSERT_EQ(run(runCerts, options()).exit_code, kExitOk);
  fs::remove(out_ / "ca.key");
  const auto result = run(runCerts, options());
  EXPECT_EQ(result.exit_code, kExitFindings);
  EXPECT_THAT(result.err, HasSubstr("holds ca.crt but no ca.key"));
  EXPECT_EQ(result.out, "");
}

// What main.cpp wires: flags, help, and CLI11's parse errors as usage errors.
class PalisadectlCerts : public CertsCommand {
 protected:
  // The exit status, and standard output then standard error.
  std::pair<int, std::string> palisadectl(std::vector<std::string> arguments) const {
    arguments.insert(arguments.begin(), {PALISADECTL, "certs"});
    auto finished = lab::runProcess(arguments);
    if (finished) {
      return {0, finished->out + finished->err};
    }
    // runProcess fails on a non-zero status and names it in its message.
    return {-1, finished.error().message};
  }
  std::vector<std::string> required() const {
    return {"--service", "palisade-webhook", "--namespace", "palisade-system", "--out",
            out_.string()};
  }
};

TEST_F(PalisadectlCerts, HelpSaysWhichNameTheApiserverConnectsTo) {
  const auto [status, output] = palisadectl({"--help"});
  ASSERT_EQ(status, 0) << output;
  EXPECT_THAT(output, HasSubstr("NAME.NS.svc"));
  EXPECT_THAT(output, HasSubstr("--renew-ca"));
}

TEST_F(PalisadectlCerts, WritesTheFilesWithTheRequiredFlags) {
  std::vector<std::string> arguments = required();
  arguments.insert(arguments.end(), {"--days", "90", "--secret-name", "webhook-tls"});
  const auto [status, output] = palisadectl(arguments);
  ASSERT_EQ(status, 0) << output;
  EXPECT_THAT(output, HasSubstr("Secret palisade-system/webhook-tls"));
  EXPECT_THAT(readFile(out_ / "secret.yaml"), HasSubstr("  name: webhook-tls\n"));
}

TEST_F(PalisadectlCerts, BadFlagsAreUsageErrors) {
  struct Case {
    std::vector<std::string> extra;
    std::string message;
  };
  for (const Case& bad : {Case{{"--days", "-1"}, "--days -1"},
                          Case{{"--days", "ten"}, "--days"},
                          Case{{"--days", "99999999999"}, "--days"},
                          Case{{"--webhooks", "0"}, "--webhooks 0"}}) {
    std::vector<std::string> arguments = required();
    arguments.insert(arguments.end(), bad.extra.begin(), bad.extra.end());
    const auto [status, output] = palisadectl(arguments);
    EXPECT_NE(status, 0);
    EXPECT_THAT(output, HasSubstr("exited with status 2")) << bad.extra.back();
    EXPECT_THAT(output, HasSubstr(bad.message)) << bad.extra.back();
  }
  const auto [status, output] = palisadectl({"--service", "palisade-webhook", "--out", "x"});
  EXPECT_THAT(output, HasSubstr("exited with status 2"));
  EXPECT_THAT(output, HasSubstr("--namespace is required"));
  EXPECT_FALSE(fs::exists(out_));
}

}  // namespace
}  // namespace palisade::cli
