#pragma once

// The label taxonomy: which labels namespaces and pods must carry, which
// values they may take, which defaults Palisade injects, and how strictly a
// namespace is held to it (enforcement modes, as Pod Security Admission has).

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/error.h"
#include "policy/objects.h"

namespace palisade::policy {

enum class EnforcementMode {
  kEnforce,  // violations are denied
  kWarn,     // violations are admitted with a warning to the user
  kAudit,    // violations are admitted and recorded in the audit log only
};

std::string_view toString(EnforcementMode mode);
// "enforce", "warn", "audit"; nullopt otherwise.
std::optional<EnforcementMode> parseEnforcementMode(std::string_view text);

// Overrides the configured mode for one namespace; set on the namespace.
inline constexpr std::string_view kModeLabel = "palisade.dev/mode";
// Set by the mutating webhook on every namespace it admits for onboarding;
// the onboarding controller creates the managed policies in these namespaces.
inline constexpr std::string_view kOnboardedLabel = "palisade.dev/onboarded";

// One label the taxonomy asks for.
struct LabelRule {
  std::string key;
  bool required = true;
  std::vector<std::string> allowed_values;  // empty: any value the pattern accepts
  std::string pattern;                      // ECMAScript regex matched against the whole value
  std::optional<std::string> default_value;  // injected by the mutating webhook when missing
};

struct LabelViolation {
  enum class Kind {
    kMissing,          // a required label is absent
    kValueNotAllowed,  // the value is not one of allowed_values
    kPatternMismatch,  // the value does not match the pattern
    kRemoved,          // an UPDATE removes a required label
    kConflict,         // an inherited label differs from the namespace's value
  };
  Kind kind = Kind::kMissing;
  std::string key;
  std::string value;    // empty when missing
  std::string message;  // one sentence naming the label and the rule: at most 120 characters
};

// A compiled list of rules (patterns compiled once). Immutable and safe to
// share between threads.
class LabelPolicy {
 public:
  LabelPolicy();
  // Fails on an invalid pattern, a duplicate or invalid key, or a default
  // that its own rule would reject; the message names `field` (the YAML path
  // of the rules, e.g. "pods.labels") and the rule's index.
  static Result<LabelPolicy> compile(std::vector<LabelRule> rules, std::string_view field);

  const std::vector<LabelRule>& rules() const;

  // The labels the mutating webhook adds: each missing label that has a default.
  Labels defaultsFor(const Labels& labels) const;
  // Every rule the labels break, in rule order.
  std::vector<LabelViolation> check(const Labels& labels) const;
  // Required labels present in `before` and missing in `after`.
  std::vector<LabelViolation> removedRequired(const Labels& before, const Labels& after) const;

 private:
  struct Compiled;
  std::shared_ptr<const Compiled> compiled_;
};

}  // namespace palisade::policy
