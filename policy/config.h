#pragma once

// Palisade's configuration file (YAML), shared by the webhook and the
// controllers: the label taxonomy, exemptions, the enforcement mode and the
// onboarding templates. The format is documented in docs/configuration.md and
// exemplified in examples/palisade-config.yaml.

#include <string>
#include <string_view>
#include <vector>

#include "policy/error.h"
#include "policy/onboarding.h"
#include "policy/taxonomy.h"

namespace palisade::policy {

struct Config {
  std::string palisade_namespace = "palisade-system";
  // The user the onboarding controller acts as; it alone may change or delete
  // Palisade-managed NetworkPolicies.
  std::string service_account = "system:serviceaccount:palisade-system:palisade-webhook";
  EnforcementMode mode = EnforcementMode::kEnforce;
  // Exempt in addition to the always-exempt ones (isAlwaysExemptNamespace).
  std::vector<std::string> exempt_namespaces;
  LabelPolicy namespace_labels;
  LabelPolicy pod_labels;
  // Namespace labels that pods inherit: the mutating webhook copies them onto
  // pods that lack them, and validation rejects a pod whose value differs.
  std::vector<std::string> inherited_labels;
  // Admit a pod only if some NetworkPolicy of its namespace selects it.
  bool require_pod_coverage = true;
  OnboardingTemplates onboarding;

  // Exempt namespaces are never checked, mutated or onboarded.
  bool isExempt(std::string_view namespace_name) const;
  // The mode for a namespace with these labels: its kModeLabel if that is a
  // valid mode, else the configured one.
  EnforcementMode modeFor(const Labels& namespace_labels) const;
};

// The configuration used when no file is given: pods must carry `app`,
// namespaces need no label, enforce mode, default-deny and DNS onboarding.
Config defaultConfig();

// Parses the YAML configuration. Unknown keys are errors (a typo in a
// security configuration must not pass silently); every error names the
// field path ("pods.labels[1].pattern") and what is wrong. Omitted fields keep
// defaultConfig()'s values.
[[nodiscard]] Result<Config> parseConfig(std::string_view yaml);

}  // namespace palisade::policy
