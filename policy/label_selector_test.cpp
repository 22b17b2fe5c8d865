#include "policy/label_selector.h"

#include <gtest/gtest.h>

namespace palisade::policy {
namespace {

LabelSelectorRequirement requirement(std::string key, std::string op,
                                     std::vector<std::string> values = {}) {
  return LabelSelectorRequirement{std::move(key), std::move(op), std::move(values)};
}

LabelSelector expressions(std::vector<LabelSelectorRequirement> requirements) {
  return LabelSelector{.match_labels = {}, .match_expressions = std::move(requirements)};
}

const Labels kWeb = {{"app", "web"}, {"tier", "frontend"}};

TEST(LabelSelector, EmptySelectorMatchesEveryPod) {
  EXPECT_TRUE(selectorMatches(LabelSelector{}, kWeb));
  EXPECT_TRUE(selectorMatches(LabelSelector{}, Labels{}));
}

TEST(LabelSelector, MatchLabelsRequiresEveryPairToBePresent) {
  LabelSelector selector{.match_labels = {{"app", "web"}, {"tier", "frontend"}},
                         .match_expressions = {}};
  EXPECT_TRUE(selectorMatches(selector, kWeb));
  EXPECT_FALSE(selectorMatches(selector, Labels{{"app", "web"}}));
  EXPECT_FALSE(selectorMatches(selector, Labels{{"app", "web"}, {"tier", "backend"}}));
}

TEST(LabelSelector, MatchLabelsValueComparisonIsExact) {
  LabelSelector selector{.match_labels = {{"app", "web"}}, .match_expressions = {}};
  EXPECT_FALSE(selectorMatches(selector, Labels{{"app", "Web"}}));
  EXPECT_FALSE(selectorMatches(selector, Labels{{"app", "web "}}));
  EXPECT_FALSE(selectorMatches(selector, Labels{{"App", "web"}}));
}

TEST(LabelSelector, InRequiresKeyPresentWithListedValue) {
  const auto selector = expressions({requirement("app", "In", {"web", "api"})});
  EXPECT_TRUE(selectorMatches(selector, kWeb));
  EXPECT_TRUE(selectorMatches(selector, Labels{{"app", "api"}}));
  EXPECT_FALSE(selectorMatches(selector, Labels{{"app", "db"}}));
  EXPECT_FALSE(selectorMatches(selector, Labels{}));
}

TEST(LabelSelector, NotInMatchesWhenKeyIsAbsent) {
  const auto selector = expressions({requirement("app", "NotIn", {"db"})});
  EXPECT_TRUE(selectorMatches(selector, Labels{}));
  EXPECT_TRUE(selectorMatches(selector, kWeb));
  EXPECT_FALSE(selectorMatches(selector, Labels{{"app", "db"}}));
}

TEST(LabelSelector, ExistsIgnoresTheValue) {
  const auto selector = expressions({requirement("tier", "Exists")});
  EXPECT_TRUE(selectorMatches(selector, kWeb));
  EXPECT_TRUE(selectorMatches(selector, Labels{{"tier", ""}}));
  EXPECT_FALSE(selectorMatches(selector, Labels{{"app", "web"}}));
}

TEST(LabelSelector, DoesNotExistMatchesOnlyWithoutTheKey) {
  const auto selector = expressions({requirement("tier", "DoesNotExist")});
  EXPECT_FALSE(selectorMatches(selector, kWeb));
  EXPECT_FALSE(selectorMatches(selector, Labels{{"tier", ""}}));
  EXPECT_TRUE(selectorMatches(selector, Labels{{"app", "web"}}));
}

TEST(LabelSelector, EmptyLabelValueIsAValue) {
  const auto selector = expressions({requirement("canary", "In", {""})});
  EXPECT_TRUE(selectorMatches(selector, Labels{{"canary", ""}}));
  EXPECT_FALSE(selectorMatches(selector, Labels{}));
}

TEST(LabelSelector, MatchLabelsAndExpressionsAreAnded) {
  LabelSelector selector{.match_labels = {{"app", "web"}},
                         .match_expressions = {requirement("tier", "In", {"backend"})}};
  EXPECT_FALSE(selectorMatches(selector, kWeb));
  EXPECT_TRUE(selectorMatches(selector, Labels{{"app", "web"}, {"tier", "backend"}}));
}

TEST(LabelSelector, UnknownOperatorMatchesNothing) {
  EXPECT_FALSE(selectorMatches(expressions({requirement("app", "Gt", {"1"})}), kWeb));
  EXPECT_FALSE(selectorMatches(expressions({requirement("app", "in", {"web"})}), kWeb));
}

TEST(LabelSelector, InWithoutValuesMatchesNothing) {
  EXPECT_FALSE(selectorMatches(expressions({requirement("app", "In")}), kWeb));
  EXPECT_FALSE(selectorMatches(expressions({requirement("app", "NotIn")}), Labels{}));
}

TEST(LabelSelector, ExistsWithValuesMatchesNothing) {
  EXPECT_FALSE(selectorMatches(expressions({requirement("app", "Exists", {"web"})}), kWeb));
  EXPECT_FALSE(
      selectorMatches(expressions({requirement("db", "DoesNotExist", {"x"})}), kWeb));
}

TEST(LabelSelector, WellFormednessFollowsTheOperatorRules) {
  EXPECT_TRUE(selectorIsWellFormed(expressions({requirement("a", "In", {"x"})})));
  EXPECT_TRUE(selectorIsWellFormed(expressions({requirement("a", "DoesNotExist")})));
  EXPECT_FALSE(selectorIsWellFormed(expressions({requirement("a", "Exists", {"x"})})));
  EXPECT_FALSE(selectorIsWellFormed(expressions({requirement("a", "Lt", {"1"})})));
}

}  // namespace
}  // namespace palisade::policy
