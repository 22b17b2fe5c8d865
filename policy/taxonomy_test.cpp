#include "policy/taxonomy.h"

#include <algorithm>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace palisade::policy {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

using Kind = LabelViolation::Kind;

LabelRule rule(std::string key) {
  return LabelRule{.key = std::move(key),
                   .required = true,
                   .allowed_values = {},
                   .pattern = "",
                   .default_value = std::nullopt};
}

LabelRule optional(LabelRule r) {
  r.required = false;
  return r;
}

LabelRule withValues(LabelRule r, std::vector<std::string> values) {
  r.allowed_values = std::move(values);
  return r;
}

LabelRule withPattern(LabelRule r, std::string pattern) {
  r.pattern = std::move(pattern);
  return r;
}

LabelRule withDefault(LabelRule r, std::string value) {
  r.default_value = std::move(value);
  return r;
}

LabelPolicy compiled(std::vector<LabelRule> rules) {
  Result<LabelPolicy> policy = LabelPolicy::compile(std::move(rules), "pods.labels");
  EXPECT_TRUE(policy.has_value()) << policy.error().message;
  return policy.value_or(LabelPolicy());
}

std::string compileError(std::vector<LabelRule> rules) {
  Result<LabelPolicy> policy = LabelPolicy::compile(std::move(rules), "pods.labels");
  EXPECT_FALSE(policy.has_value());
  return policy ? std::string() : policy.error().message;
}

std::vector<std::string> messages(const std::vector<LabelViolation>& violations) {
  std::vector<std::string> out;
  for (const LabelViolation& violation : violations) {
    out.push_back(violation.message);
  }
  return out;
}

// --- modes -------------------------------------------------------------------

TEST(EnforcementMode, ParsesEveryModeItPrints) {
  for (EnforcementMode mode :
       {EnforcementMode::kEnforce, EnforcementMode::kWarn, EnforcementMode::kAudit}) {
    EXPECT_EQ(parseEnforcementMode(toString(mode)), mode);
  }
}

TEST(EnforcementMode, RejectsOtherSpellings) {
  EXPECT_EQ(parseEnforcementMode("Enforce"), std::nullopt);
  EXPECT_EQ(parseEnforcementMode("deny"), std::nullopt);
  EXPECT_EQ(parseEnforcementMode(""), std::nullopt);
}

// --- checking labels -----------------------------------------------------------

TEST(LabelPolicy, EmptyPolicyAcceptsAnyLabels) {
  const LabelPolicy policy;
  EXPECT_THAT(policy.rules(), IsEmpty());
  EXPECT_THAT(policy.check({}), IsEmpty());
  EXPECT_THAT(policy.check({{"anything", "goes"}}), IsEmpty());
  EXPECT_THAT(policy.defaultsFor({}), IsEmpty());
}

TEST(LabelPolicy, MissingRequiredLabelIsReported) {
  const LabelPolicy policy = compiled({rule("team")});
  const auto violations = policy.check({{"app", "web"}});
  ASSERT_EQ(violations.size(), 1u);
  EXPECT_EQ(violations[0].kind, Kind::kMissing);
  EXPECT_EQ(violations[0].key, "team");
  EXPECT_EQ(violations[0].value, "");
  EXPECT_EQ(violations[0].message, "label \"team\" is required");
}

TEST(LabelPolicy, RequiredLabelWithAnyValueIsAccepted) {
  const LabelPolicy policy = compiled({rule("team")});
  EXPECT_THAT(policy.check({{"team", "shop"}}), IsEmpty());
  // The empty string is a valid label value; presence is what is asked for.
  EXPECT_THAT(policy.check({{"team", ""}}), IsEmpty());
}

TEST(LabelPolicy, OptionalLabelMayBeAbsentButIsCheckedWhenPresent) {
  const LabelPolicy policy = compiled({optional(withPattern(rule("version"), "v[0-9]+"))});
  EXPECT_THAT(policy.check({}), IsEmpty());
  EXPECT_THAT(policy.check({{"version", "v2"}}), IsEmpty());
  const auto violations = policy.check({{"version", "latest"}});
  ASSERT_EQ(violations.size(), 1u);
  EXPECT_EQ(violations[0].kind, Kind::kPatternMismatch);
}

TEST(LabelPolicy, ValueOutsideAllowedValuesNamesTheAllowedOnes) {
  const LabelPolicy policy = compiled({withValues(rule("env"), {"prod", "staging", "dev"})});
  EXPECT_THAT(policy.check({{"env", "staging"}}), IsEmpty());
  const auto violations = policy.check({{"env", "prod1"}});
  ASSERT_EQ(violations.size(), 1u);
  EXPECT_EQ(violations[0].kind, Kind::kValueNotAllowed);
  EXPECT_EQ(violations[0].key, "env");
  EXPECT_EQ(violations[0].value, "prod1");
  EXPECT_EQ(violations[0].message,
            "label \"env\" has value \"prod1\"; allowed values: prod, staging, dev");
}

TEST(LabelPolicy, AllowedValuesAreComparedExactly) {
  const LabelPolicy policy = compiled({withValues(rule("env"), {"prod"})});
  EXPECT_THAT(policy.check({{"env", "Prod"}}), testing::SizeIs(1));
  EXPECT_THAT(policy.check({{"env", "prod "}}), testing::SizeIs(1));
}

TEST(LabelPolicy, PatternMismatchQuotesValueAndPattern) {
  const LabelPolicy policy = compiled({withPattern(rule("team"), "^[a-z][a-z0-9-]*$")});
  const auto violations = policy.check({{"team", "Team A"}});
  ASSERT_EQ(violations.size(), 1u);
  EXPECT_EQ(violations[0].kind, Kind::kPatternMismatch);
  EXPECT_EQ(violations[0].value, "Team A");
  EXPECT_EQ(violations[0].message,
            "label \"team\" value \"Team A\" does not match ^[a-z][a-z0-9-]*$");
}

TEST(LabelPolicy, PatternMustMatchTheWholeValue) {
  const LabelPolicy policy = compiled({withPattern(rule("team"), "[a-z]+")});
  EXPECT_THAT(policy.check({{"team", "shop"}}), IsEmpty());
  EXPECT_THAT(policy.check({{"team", "shop1"}}), testing::SizeIs(1));
  EXPECT_THAT(policy.check({{"team", "1shop"}}), testing::SizeIs(1));
}

TEST(LabelPolicy, ValueLongerThanALabelValueFailsThePatternWithoutRunningIt) {
  const LabelPolicy policy = compiled({withPattern(rule("team"), ".*")});
  const auto violations = policy.check({{"team", std::string(100000, 'a')}});
  ASSERT_EQ(violations.size(), 1u);
  EXPECT_EQ(violations[0].kind, Kind::kPatternMismatch);
  EXPECT_THAT(violations[0].message, HasSubstr("is longer than 63 characters"));
  EXPECT_THAT(policy.check({{"team", std::string(63, 'a')}}), IsEmpty());
}

TEST(LabelPolicy, ViolationsComeInRuleOrder) {
  const LabelPolicy policy = compiled({rule("team"), withValues(rule("env"), {"prod", "dev"}),
                                       withPattern(rule("app"), "[a-z]+"), rule("owner")});
  const auto violations = policy.check({{"env", "qa"}, {"app", "Web"}});
  ASSERT_EQ(violations.size(), 4u);
  EXPECT_EQ(violations[0].key, "team");
  EXPECT_EQ(violations[1].key, "env");
  EXPECT_EQ(violations[2].key, "app");
  EXPECT_EQ(violations[3].key, "owner");
  EXPECT_EQ(violations[0].kind, Kind::kMissing);
  EXPECT_EQ(violations[1].kind, Kind::kValueNotAllowed);
  EXPECT_EQ(violations[2].kind, Kind::kPatternMismatch);
  EXPECT_EQ(violations[3].kind, Kind::kMissing);
}

TEST(LabelPolicy, PrefixedKeysAreNamedInFull) {
  const LabelPolicy policy = compiled({rule("app.kubernetes.io/name")});
  EXPECT_THAT(messages(policy.check({})),
              ElementsAre("label \"app.kubernetes.io/name\" is required"));
}

// --- message bounds ------------------------------------------------------------

TEST(LabelPolicy, MessagesStayWithin120BytesWhateverTheInput) {
  // The longest valid key: a 253-character DNS prefix and a 63-character name.
  std::string prefix;
  while (prefix.size() + 10 < 253) {
    prefix += "abcdefghi.";
  }
  prefix += std::string(253 - prefix.size(), 'z');
  const std::string long_key = prefix + "/" + std::string(63, 'n');
  const std::string other_long_key = prefix + "/" + std::string(63, 'm');
  std::vector<std::string> many_values;
  for (char c = 'a'; c <= 'z'; ++c) {
    many_values.push_back(std::string(60, c));
  }
  const std::string long_pattern = "^(" + std::string(200, 'x') + "|[a-z]{1,3})$";
  const LabelPolicy policy =
      compiled({rule(long_key), withValues(rule("env"), many_values),
                withPattern(rule(other_long_key), long_pattern),
                withValues(rule("tier"), {"web", "api", "data"}),
                withPattern(rule("team"), long_pattern)});
  // A mutating webhook sees labels before the apiserver validates them.
  const std::string hostile = std::string(5000, '\n') + "\"\\" + std::string(5000, '\xff');
  const Labels labels = {{other_long_key, std::string(63, 'q')},
                         {"env", hostile},
                         {"tier", std::string(63, 'w')},
                         {"team", "ABC"}};
  const auto violations = policy.check(labels);
  ASSERT_EQ(violations.size(), 5u);
  for (const LabelViolation& violation : violations) {
    EXPECT_LE(violation.message.size(), 120u) << violation.message;
    EXPECT_TRUE(std::ranges::none_of(violation.message,
                                     [](char c) { return c == '\n' || c == '\xff'; }))
        << violation.message;
  }
  EXPECT_THAT(violations[0].message, StartsWith("label \"abcdefghi."));
  EXPECT_THAT(violations[0].message, HasSubstr("…\" is required"));
  EXPECT_THAT(violations[1].message, StartsWith("label \"env\" has value \"\\x0a\\x0a"));
  EXPECT_THAT(violations[1].message, HasSubstr("; allowed values: aaaa"));
  EXPECT_THAT(violations[1].message, testing::EndsWith("…"));
  EXPECT_THAT(violations[2].message, testing::EndsWith("…"));
  EXPECT_EQ(violations[3].message, "label \"tier\" has value \"" + std::string(29, 'w') +
                                       "…\"; allowed values: web, api, data");
  EXPECT_THAT(violations[4].message, StartsWith("label \"team\" value \"ABC\" does not match ^("));
}

TEST(LabelPolicy, QuotesAndControlCharactersInValuesAreEscaped) {
  const LabelPolicy policy = compiled({withValues(rule("env"), {"prod"})});
  const auto violations = policy.check({{"env", "a\"b\\c\td"}});
  ASSERT_EQ(violations.size(), 1u);
  EXPECT_EQ(violations[0].message,
            "label \"env\" has value \"a\\\"b\\\\c\\x09d\"; allowed values: prod");
  // The violation itself keeps the value as sent, for the audit annotations.
  EXPECT_EQ(violations[0].value, "a\"b\\c\td");
}

TEST(LabelPolicy, EmptyAllowedValueIsShownAsQuotes) {
  const LabelPolicy policy = compiled({withValues(rule("tier"), {"", "web"})});
  EXPECT_THAT(messages(policy.check({{"tier", "db"}})),
              ElementsAre("label \"tier\" has value \"db\"; allowed values: \"\", web"));
}

// --- defaults and removal --------------------------------------------------------

TEST(LabelPolicy, DefaultsAreGivenOnlyForMissingLabels) {
  const LabelPolicy policy =
      compiled({withDefault(withValues(rule("env"), {"prod", "dev"}), "dev"),
                optional(withDefault(rule("tier"), "web")), rule("team")});
  EXPECT_EQ(policy.defaultsFor({}), (Labels{{"env", "dev"}, {"tier", "web"}}));
  EXPECT_EQ(policy.defaultsFor({{"env", "prod"}}), (Labels{{"tier", "web"}}));
  // A present but wrong value is for validation to report, not to overwrite.
  EXPECT_EQ(policy.defaultsFor({{"env", "qa"}, {"tier", ""}}), Labels{});
}

TEST(LabelPolicy, RemovedRequiredReportsRequiredLabelsDroppedByAnUpdate) {
  const LabelPolicy policy =
      compiled({rule("team"), optional(rule("version")), rule("env"), rule("app")});
  const Labels before = {{"team", "shop"}, {"version", "v1"}, {"env", "prod"}};
  const Labels after = {{"env", "dev"}};
  const auto removed = policy.removedRequired(before, after);
  ASSERT_EQ(removed.size(), 1u);
  EXPECT_EQ(removed[0].kind, Kind::kRemoved);
  EXPECT_EQ(removed[0].key, "team");
  EXPECT_EQ(removed[0].value, "shop");
  EXPECT_EQ(removed[0].message, "label \"team\" is required and cannot be removed");
  // Changing a value, or a label that was never there, is not a removal.
  EXPECT_THAT(policy.removedRequired(before, before), IsEmpty());
  EXPECT_THAT(policy.removedRequired({}, {}), IsEmpty());
}

TEST(LabelPolicy, CopiesShareTheCompiledRules) {
  const LabelPolicy policy = compiled({withPattern(rule("team"), "[a-z]+")});
  const LabelPolicy copy = policy;
  EXPECT_EQ(&copy.rules(), &policy.rules());
  EXPECT_THAT(copy.check({{"team", "A"}}), testing::SizeIs(1));
}

// --- compile errors --------------------------------------------------------------

TEST(LabelPolicyCompile, KeepsTheRulesAsGiven) {
  const LabelPolicy policy =
      compiled({withDefault(withValues(rule("env"), {"prod", "dev"}), "dev"), rule("app")});
  ASSERT_EQ(policy.rules().size(), 2u);
  EXPECT_EQ(policy.rules()[0].key, "env");
  EXPECT_EQ(policy.rules()[0].default_value, "dev");
  EXPECT_EQ(policy.rules()[1].key, "app");
}

TEST(LabelPolicyCompile, EmptyKeyIsRequired) {
  EXPECT_EQ(compileError({rule("app"), rule("")}), "pods.labels[1].key: is required");
}

TEST(LabelPolicyCompile, InvalidKeyIsRejectedWithKubernetesReason) {
  EXPECT_THAT(compileError({rule("Bad Key")}),
              StartsWith("pods.labels[0].key: invalid label key \"Bad Key\": name part must "
                         "consist of alphanumeric characters"));
  EXPECT_THAT(compileError({rule("a/b/c")}), StartsWith("pods.labels[0].key: invalid label key"));
}

TEST(LabelPolicyCompile, DuplicateKeyNamesBothRules) {
  EXPECT_EQ(compileError({rule("app"), rule("team"), rule("app")}),
            "pods.labels[2].key: duplicate key \"app\", also at pods.labels[0]");
}

TEST(LabelPolicyCompile, InvalidPatternIsRejected) {
  EXPECT_THAT(compileError({rule("app"), withPattern(rule("team"), "([a-z")}),
              StartsWith("pods.labels[1].pattern: invalid regular expression \"([a-z\": "));
}

TEST(LabelPolicyCompile, AllowedValuesMustBeValidLabelValues) {
  EXPECT_THAT(compileError({withValues(rule("env"), {"prod", "Prod!"})}),
              StartsWith("pods.labels[0].values[1]: invalid label value \"Prod!\": a valid "
                         "label must be"));
  EXPECT_THAT(compileError({withValues(rule("env"), {std::string(64, 'a')})}),
              HasSubstr("must be no more than 63 bytes"));
}

TEST(LabelPolicyCompile, AllowedValuesMustMatchTheRulesPattern) {
  EXPECT_EQ(compileError({withPattern(withValues(rule("env"), {"prod", "QA"}), "[a-z]+")}),
            "pods.labels[0].values[1]: \"QA\" does not match the rule's pattern [a-z]+");
}

TEST(LabelPolicyCompile, DefaultMustSatisfyItsOwnRule) {
  EXPECT_EQ(compileError({withDefault(withValues(rule("env"), {"prod", "dev"}), "qa")}),
            "pods.labels[0].default: \"qa\" is not one of the allowed values");
  EXPECT_EQ(compileError({withDefault(withPattern(rule("team"), "[a-z]+"), "Team")}),
            "pods.labels[0].default: \"Team\" does not match the rule's pattern [a-z]+");
  EXPECT_THAT(compileError({withDefault(rule("team"), "not valid")}),
              StartsWith("pods.labels[0].default: invalid label value \"not valid\""));
}

TEST(LabelPolicyCompile, ReportsEveryErrorAtOnce) {
  const std::string error =
      compileError({withPattern(rule("team"), "(("), rule("team"), withDefault(rule("x"), "!")});
  EXPECT_THAT(error, HasSubstr("pods.labels[0].pattern: invalid regular expression"));
  EXPECT_THAT(error, HasSubstr("pods.labels[1].key: duplicate key"));
  EXPECT_THAT(error, HasSubstr("pods.labels[2].default: invalid label value"));
}

TEST(LabelPolicyCompile, FieldNameIsThePrefixOfEveryError) {
  Result<LabelPolicy> policy = LabelPolicy::compile({rule("")}, "namespaces.labels");
  ASSERT_FALSE(policy);
  EXPECT_EQ(policy.error().message, "namespaces.labels[0].key: is required");
}

}  // namespace
}  // namespace palisade::policy
