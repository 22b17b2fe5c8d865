#include "policy/label_selector.h"

#include <algorithm>

namespace palisade::policy {
namespace {

bool requirementIsWellFormed(const LabelSelectorRequirement& requirement) {
  if (requirement.op == "In" || requirement.op == "NotIn") {
    return !requirement.values.empty();
  }
  if (requirement.op == "Exists" || requirement.op == "DoesNotExist") {
    return requirement.values.empty();
  }
  return false;
}

bool requirementMatches(const LabelSelectorRequirement& requirement, const Labels& labels) {
  const auto label = labels.find(requirement.key);
  const bool present = label != labels.end();
  const auto valueListed = [&] {
    return std::ranges::find(requirement.values, label->second) != requirement.values.end();
  };
  if (requirement.op == "In") {
    return present && valueListed();
  }
  if (requirement.op == "NotIn") {
    return !present || !valueListed();
  }
  if (requirement.op == "Exists") {
    return present;
  }
  return !present;  // DoesNotExist; the others were rejected as malformed
}

}  // namespace

bool selectorIsWellFormed(const LabelSelector& selector) {
  return std::ranges::all_of(selector.match_expressions, requirementIsWellFormed);
}

bool selectorMatches(const LabelSelector& selector, const Labels& labels) {
  if (!selectorIsWellFormed(selector)) {
    return false;
  }
  for (const auto& [key, value] : selector.match_labels) {
    const auto label = labels.find(key);
    if (label == labels.end() || label->second != value) {
      return false;
    }
  }
  return std::ranges::all_of(selector.match_expressions, [&](const auto& requirement) {
    return requirementMatches(requirement, labels);
  });
}

}  // namespace palisade::policy
