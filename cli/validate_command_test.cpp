#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cli/commands.h"
#include "cli/test_support.h"

namespace palisade::cli {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;
using testing::run;
using testing::TempDir;

constexpr std::string_view kNamespaceAndPod = R"(apiVersion: v1
kind: Namespace
metadata:
  name: team-a
---
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: team-a
  labels:
    app: web
spec:
  containers:
  - name: web
    ports:
    - name: http
      containerPort: 8080
)";

constexpr std::string_view kWebPolicy = R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: web
  namespace: team-a
spec:
  podSelector:
    matchLabels:
      app: web
  ingress:
  - from:
    - podSelector:
        matchLabels:
          app: web
    ports:
    - port: http
)";

constexpr std::string_view kBadPortPolicy = R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: bad-port
  namespace: team-a
spec:
  podSelector: {}
  ingress:
  - ports:
    - port: 0
)";

// Valid, but it lets the pods it selects talk to the whole internet.
constexpr std::string_view kInternetEgressPolicy = R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: internet
  namespace: team-a
spec:
  podSelector:
    matchLabels:
      app: web
  policyTypes: [Egress]
  egress:
  - to:
    - ipBlock:
        cidr: 0.0.0.0/0
)";

ValidateOptions optionsFor(std::vector<std::string> paths, bool strict = false) {
  return ValidateOptions{.paths = std::move(paths), .strict = strict};
}

TEST(ValidateCommand, ValidManifestsExitZeroPrintNothingAndSummarise) {
  TempDir dir;
  const std::string cluster = dir.write("cluster.yaml", kNamespaceAndPod);
  const std::string policy = dir.write("policy.yaml", kWebPolicy);

  const auto result = run(runValidate, optionsFor({cluster, policy}));

  EXPECT_EQ(result.exit_code, kExitOk);
  EXPECT_THAT(result.out, IsEmpty());
  EXPECT_EQ(result.err, "palisadectl validate: 3 objects: 0 errors, 0 warnings\n");
}

TEST(ValidateCommand, InvalidPolicyPrintsFileDocumentObjectFieldAndMessage) {
  TempDir dir;
  const std::string cluster = dir.write("cluster.yaml", kNamespaceAndPod);
  const std::string file =
      dir.write("policies.yaml", std::string(kWebPolicy) + "---\n" + std::string(kBadPortPolicy));

  const auto result = run(runValidate, optionsFor({cluster, file}));

  EXPECT_EQ(result.exit_code, kExitFindings);
  EXPECT_EQ(result.out, file +
                            ":1: NetworkPolicy/team-a/bad-port: spec.ingress[0].ports[0].port: "
                            "Invalid value: 0: must be between 1 and 65535, inclusive\n");
  EXPECT_EQ(result.err, "palisadectl validate: 4 objects: 1 error, 0 warnings\n");
}

TEST(ValidateCommand, DocumentThatCannotBeDecodedIsAnErrorNamingTheField) {
  TempDir dir;
  const std::string file = dir.write("pod.yaml", R"(apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: team-a
spec:
  containers:
  - name: web
    ports:
    - containerPort: true
)");

  const auto result = run(runValidate, optionsFor({file}));

  EXPECT_EQ(result.exit_code, kExitFindings);
  EXPECT_THAT(result.out, AllOf(StartsWith(file + ":0: Pod/team-a/web: "),
                                HasSubstr("spec.containers[0].ports[0].containerPort: "),
                                HasSubstr("got boolean")));
  EXPECT_EQ(result.err, "palisadectl validate: 0 objects: 1 error, 0 warnings\n");
}

TEST(ValidateCommand, LintWarningIsPrintedButFailsOnlyWithStrict) {
  TempDir dir;
  const std::string cluster = dir.write("cluster.yaml", kNamespaceAndPod);
  const std::string policy = dir.write("policy.yaml", kInternetEgressPolicy);

  const auto lenient = run(runValidate, optionsFor({cluster, policy}));
  const auto strict = run(runValidate, optionsFor({cluster, policy}, /*strict=*/true));

  EXPECT_EQ(lenient.exit_code, kExitOk);
  EXPECT_THAT(lenient.out, StartsWith(policy + ":0: NetworkPolicy/team-a/internet: warning: "));
  EXPECT_THAT(lenient.err, HasSubstr("0 errors, 1 warning\n"));
  EXPECT_EQ(strict.exit_code, kExitFindings);
  EXPECT_EQ(strict.out, lenient.out);
}

TEST(ValidateCommand, LintSeesPodsDeclaredInOtherFiles) {
  TempDir dir;
  const std::string cluster = dir.write("cluster.yaml", kNamespaceAndPod);
  const std::string policy = dir.write("policy.yaml", kWebPolicy);

  const auto alone = run(runValidate, optionsFor({policy}));
  const auto together = run(runValidate, optionsFor({cluster, policy}));

  // Alone, nothing the policy selects exists; with the pod's file it does.
  EXPECT_THAT(alone.out, HasSubstr(": warning: "));
  EXPECT_THAT(together.out, Not(HasSubstr(": warning: ")));
}

TEST(ValidateCommand, InvalidPolicyIsNotLinted) {
  TempDir dir;
  const std::string file = dir.write("policy.yaml", R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: internet
  namespace: team-a
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to:
    - ipBlock:
        cidr: 0.0.0.0/0
    ports:
    - port: 70000
)");

  const auto result = run(runValidate, optionsFor({file}));

  EXPECT_EQ(result.exit_code, kExitFindings);
  EXPECT_THAT(result.out, Not(HasSubstr("warning")));
  EXPECT_THAT(result.err, HasSubstr(", 0 warnings"));
}

TEST(ValidateCommand, ObjectsOfOtherKindsAreCountedAsNotChecked) {
  TempDir dir;
  const std::string file = dir.write("mixed.yaml", std::string(kNamespaceAndPod) + R"(---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: team-a
spec:
  ports:
  - port: "this would be invalid, but nobody checks Services"
)");

  const auto result = run(runValidate, optionsFor({file}));

  EXPECT_EQ(result.exit_code, kExitOk);
  EXPECT_EQ(result.err,
            "palisadectl validate: 2 objects: 0 errors, 0 warnings; "
            "1 object of other kinds not checked\n");
}

TEST(ValidateCommand, FolderIsReadRecursivelyAndReportedInFileOrder) {
  TempDir dir;
  dir.write("cluster.yaml", kNamespaceAndPod);
  const std::string second = dir.write("b/nested/bad.yaml", kBadPortPolicy);
  const std::string first = dir.write("a.yaml", std::string(kWebPolicy) + "---\n" +
                                                    std::string(kBadPortPolicy));

  const auto result = run(runValidate, optionsFor({dir.path().string()}));

  EXPECT_EQ(result.exit_code, kExitFindings);
  const std::string detail =
      ": NetworkPolicy/team-a/bad-port: spec.ingress[0].ports[0].port: Invalid value: 0: "
      "must be between 1 and 65535, inclusive\n";
  EXPECT_EQ(result.out, first + ":1" + detail + second + ":0" + detail);
}

TEST(ValidateCommand, UnreadablePathIsAUsageError) {
  TempDir dir;

  const auto result = run(runValidate, optionsFor({(dir.path() / "missing.yaml").string()}));

  EXPECT_EQ(result.exit_code, kExitUsage);
  EXPECT_THAT(result.out, IsEmpty());
  EXPECT_THAT(result.err, HasSubstr("missing.yaml"));
}

TEST(ValidateCommand, NoPathIsAUsageError) {
  const auto result = run(runValidate, optionsFor({}));

  EXPECT_EQ(result.exit_code, kExitUsage);
  EXPECT_THAT(result.err, HasSubstr("-f PATH"));
}

}  // namespace
}  // namespace palisade::cli
