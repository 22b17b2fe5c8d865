#include "policy/config.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <set>
#include <utility>

#include <yaml-cpp/yaml.h>

#include "policy/validation.h"

// The file is read with yaml-cpp directly rather than through JSON: every
// mapping, the Kubernetes-shaped ones (selectors, ports) included, is checked
// for unknown and repeated keys, and every error can point at a line. Scalars
// are typed by what the field expects: a string field takes the text as
// written (`version: 1.10` is "1.10"), a boolean field only true or false (a
// YAML 1.1 `yes` is refused rather than guessed at), an integer field only a
// plain decimal number. Null is the same as an absent field.

namespace palisade::policy {
namespace {

using FieldNames = std::initializer_list<std::string_view>;

constexpr std::string_view kServiceAccountPrefix = "system:serviceaccount:";
constexpr std::string_view kWebhookServiceAccountName = "palisade-webhook";

std::string child(std::string_view path, std::string_view name) {
  return path.empty() ? std::string(name) : std::string(path) + "." + std::string(name);
}

std::string element(std::string_view path, size_t index) {
  return std::string(path) + "[" + std::to_string(index) + "]";
}

std::string location(const YAML::Mark& mark) {
  if (mark.is_null()) {
    return "";
  }
  return " (line " + std::to_string(mark.line + 1) + ", column " +
         std::to_string(mark.column + 1) + ")";
}

std::string clipped(std::string_view text) {
  constexpr size_t kMax = 60;
  return text.size() <= kMax ? std::string(text) : std::string(text.substr(0, kMax)) + "...";
}

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "\"" + clipped(node.Scalar()) + "\"";
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return "null";
  }
  return "null";
}

std::string joined(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (const std::string& part : parts) {
    if (!out.empty()) {
      out += separator;
    }
    out += part;
  }
  return out;
}

bool present(const YAML::Node& node) { return node.IsDefined() && !node.IsNull(); }

// A plain (unquoted) scalar: yaml-cpp tags quoted and block scalars "!".
bool isPlain(const YAML::Node& node) { return node.IsScalar() && node.Tag() != "!"; }

// Reads one YAML document into a Config, collecting every error so that a
// user fixes them all in one go. Each reader returns nullopt after reporting.
class ConfigReader {
 public:
  std::vector<std::string> errors;

  void error(std::string_view path, const YAML::Node& node, std::string message) {
    errors.push_back((path.empty() ? std::string("configuration") : std::string(path)) + ": " +
                     message + location(node.Mark()));
  }

  // Whether `node` is a map whose keys are all among `fields`, each once.
  // Unknown and repeated keys are reported; the known ones are still read.
  bool map(const YAML::Node& node, std::string_view path, FieldNames fields) {
    if (!node.IsMap()) {
      error(path, node, "expected a map, got " + describe(node));
      return false;
    }
    std::set<std::string, std::less<>> seen;
    for (const auto& entry : node) {
      if (!entry.first.IsScalar()) {
        error(path, entry.first, "a field name must be a string, got " + describe(entry.first));
        continue;
      }
      const std::string& name = entry.first.Scalar();
      if (std::ranges::find(fields, std::string_view(name)) == fields.end()) {
        std::string known;
        for (std::string_view field : fields) {
          known += known.empty() ? "" : ", ";
          known += field;
        }
        error(child(path, name), entry.first, "unknown field; expected one of: " + known);
      } else if (!seen.insert(name).second) {
        error(child(path, name), entry.first, "repeated field");
      }
    }
    return true;
  }

  std::optional<std::string> string(const YAML::Node& node, std::string_view path) {
    if (!node.IsScalar()) {
      error(path, node, "expected a string, got " + describe(node));
      return std::nullopt;
    }
    return node.Scalar();
  }

  std::optional<bool> boolean(const YAML::Node& node, std::string_view path) {
    if (isPlain(node)) {
      const std::string& text = node.Scalar();
      if (text == "true" || text == "True" || text == "TRUE") {
        return true;
      }
      if (text == "false" || text == "False" || text == "FALSE") {
        return false;
      }
    }
    error(path, node, "expected a boolean (true or false), got " + describe(node));
    return std::nullopt;
  }

  std::optional<int64_t> integer(const YAML::Node& node, std::string_view path) {
    if (isPlain(node)) {
      const std::string& text = node.Scalar();
      int64_t value = 0;
      const char* begin = text.data() + (text.starts_with('+') ? 1 : 0);
      const char* end = text.data() + text.size();
      auto [stop, ec] = std::from_chars(begin, end, value);
      if (ec == std::errc() && stop == end && begin != end) {
        return value;
      }
    }
    error(path, node, "expected an integer, got " + describe(node));
    return std::nullopt;
  }

  // Calls `read(element, element_path, index)` for each element of a list.
  template <class Read>
  bool list(const YAML::Node& node, std::string_view path, Read read) {
    if (!node.IsSequence()) {
      error(path, node, "expected a list, got " + describe(node));
      return false;
    }
    size_t index = 0;
    for (const YAML::Node& item : node) {
      read(item, element(path, index++));
    }
    return true;
  }

  std::vector<std::string> stringList(const YAML::Node& node, std::string_view path) {
    std::vector<std::string> values;
    list(node, path, [&](const YAML::Node& item, const std::string& item_path) {
      if (std::optional<std::string> value = string(item, item_path)) {
        values.push_back(std::move(*value));
      }
    });
    return values;
  }

  // --- Kubernetes shapes ----------------------------------------------------

  std::optional<LabelSelector> labelSelector(const YAML::Node& node, std::string_view path) {
    const size_t errors_before = errors.size();
    if (!map(node, path, {"matchLabels", "matchExpressions"})) {
      return std::nullopt;
    }
    LabelSelector selector;
    if (const YAML::Node labels = node["matchLabels"]; present(labels)) {
      const std::string labels_path = child(path, "matchLabels");
      if (!labels.IsMap()) {
        error(labels_path, labels, "expected a map, got " + describe(labels));
      } else {
        for (const auto& entry : labels) {
          const std::optional<std::string> key = string(entry.first, labels_path);
          const std::optional<std::string> value =
              key ? string(entry.second, child(labels_path, *key)) : std::nullopt;
          if (key && value && !selector.match_labels.emplace(*key, *value).second) {
            error(child(labels_path, *key), entry.first, "repeated label");
          }
        }
      }
    }
    if (const YAML::Node expressions = node["matchExpressions"]; present(expressions)) {
      list(expressions, child(path, "matchExpressions"),
           [&](const YAML::Node& item, const std::string& item_path) {
             if (!map(item, item_path, {"key", "operator", "values"})) {
               return;
             }
             LabelSelectorRequirement requirement;
             if (const YAML::Node key = item["key"]; present(key)) {
               requirement.key = string(key, child(item_path, "key")).value_or("");
             }
             if (const YAML::Node op = item["operator"]; present(op)) {
               requirement.op = string(op, child(item_path, "operator")).value_or("");
             }
             if (const YAML::Node values = item["values"]; present(values)) {
               requirement.values = stringList(values, child(item_path, "values"));
             }
             selector.match_expressions.push_back(std::move(requirement));
           });
    }
    if (errors.size() != errors_before) {
      return std::nullopt;
    }
    // The apiserver's own rules, with its messages: a selector Palisade puts
    // into a NetworkPolicy must be one the apiserver accepts.
    for (const FieldError& field_error : validateLabelSelector(selector, path)) {
      errors.push_back(field_error.toString() + location(node.Mark()));
    }
    if (errors.size() != errors_before) {
      return std::nullopt;
    }
    return selector;
  }

  std::optional<NetworkPolicyPort> port(const YAML::Node& node, std::string_view path) {
    const size_t errors_before = errors.size();
    if (!map(node, path, {"protocol", "port", "endPort"})) {
      return std::nullopt;
    }
    NetworkPolicyPort result;
    if (const YAML::Node protocol = node["protocol"]; present(protocol)) {
      const std::string protocol_path = child(path, "protocol");
      if (std::optional<std::string> text = string(protocol, protocol_path)) {
        if (!parseProtocol(*text)) {
          error(protocol_path, protocol,
                "unsupported protocol \"" + clipped(*text) + "\"; expected TCP, UDP or SCTP");
        }
        result.protocol = std::move(*text);
      }
    }
    if (const YAML::Node port = node["port"]; present(port)) {
      const std::string port_path = child(path, "port");
      // As in a NetworkPolicy: a number, or the name of a container port (a
      // quoted "9090" is a name, and not a valid one).
      if (isPlain(port) && !port.Scalar().empty() &&
          std::ranges::all_of(port.Scalar(), [](char c) { return c >= '0' && c <= '9'; })) {
        if (std::optional<int64_t> number = integer(port, port_path)) {
          if (std::vector<std::string> problems = isValidPortNum(*number); !problems.empty()) {
            error(port_path, port, std::to_string(*number) + ": " + joined(problems, "; "));
          } else {
            result.port = static_cast<int32_t>(*number);
          }
        }
      } else if (std::optional<std::string> name = string(port, port_path)) {
        if (std::vector<std::string> problems = isValidPortName(*name); !problems.empty()) {
          error(port_path, port,
                "invalid port name \"" + clipped(*name) + "\": " + joined(problems, "; "));
        } else {
          result.port = *name;
        }
      }
    }
    if (const YAML::Node end_port = node["endPort"]; present(end_port)) {
      const std::string end_path = child(path, "endPort");
      if (std::optional<int64_t> number = integer(end_port, end_path)) {
        if (std::vector<std::string> problems = isValidPortNum(*number); !problems.empty()) {
          error(end_path, end_port, std::to_string(*number) + ": " + joined(problems, "; "));
        } else if (!result.port || !std::holds_alternative<int32_t>(*result.port)) {
          error(end_path, end_port, "requires a numeric port");
        } else if (*number < std::get<int32_t>(*result.port)) {
          error(end_path, end_port, "must be greater than or equal to port");
        } else {
          result.end_port = static_cast<int32_t>(*number);
        }
      }
    }
    if (errors.size() != errors_before) {
      return std::nullopt;
    }
    return result;
  }

  // --- Palisade's own sections ---------------------------------------------

  std::optional<LabelRule> labelRule(const YAML::Node& node, std::string_view path) {
    if (!map(node, path, {"key", "required", "values", "pattern", "default"})) {
      return std::nullopt;
    }
    LabelRule rule;
    if (const YAML::Node key = node["key"]; present(key)) {
      rule.key = string(key, child(path, "key")).value_or("");
    }
    if (const YAML::Node required = node["required"]; present(required)) {
      rule.required = boolean(required, child(path, "required")).value_or(true);
    }
    if (const YAML::Node values = node["values"]; present(values)) {
      rule.allowed_values = stringList(values, child(path, "values"));
    }
    if (const YAML::Node pattern = node["pattern"]; present(pattern)) {
      rule.pattern = string(pattern, child(path, "pattern")).value_or("");
    }
    if (const YAML::Node default_value = node["default"]; present(default_value)) {
      rule.default_value = string(default_value, child(path, "default"));
    }
    return rule;
  }

  // The rules at `path`, compiled; nullopt after reporting.
  std::optional<LabelPolicy> labelPolicy(const YAML::Node& node, const std::string& path) {
    const size_t errors_before = errors.size();
    std::vector<LabelRule> rules;
    list(node, path, [&](const YAML::Node& item, const std::string& item_path) {
      if (std::optional<LabelRule> rule = labelRule(item, item_path)) {
        rules.push_back(std::move(*rule));
      }
    });
    // Compiling rules that failed to read would only repeat those errors.
    if (errors.size() != errors_before) {
      return std::nullopt;
    }
    Result<LabelPolicy> policy = LabelPolicy::compile(std::move(rules), path);
    if (!policy) {
      errors.push_back(policy.error().message);
      return std::nullopt;
    }
    return std::move(*policy);
  }

  void namespaces(const YAML::Node& node, Config& config) {
    if (!map(node, "namespaces", {"labels"})) {
      return;
    }
    if (const YAML::Node labels = node["labels"]; present(labels)) {
      if (std::optional<LabelPolicy> policy = labelPolicy(labels, "namespaces.labels")) {
        config.namespace_labels = std::move(*policy);
      }
    }
  }

  void pods(const YAML::Node& node, Config& config) {
    if (!map(node, "pods", {"labels", "inheritFromNamespace", "requireNetworkPolicy"})) {
      return;
    }
    if (const YAML::Node labels = node["labels"]; present(labels)) {
      if (std::optional<LabelPolicy> policy = labelPolicy(labels, "pods.labels")) {
        config.pod_labels = std::move(*policy);
      }
    }
    if (const YAML::Node inherited = node["inheritFromNamespace"]; present(inherited)) {
      const std::string path = "pods.inheritFromNamespace";
      std::vector<std::string> keys;
      list(inherited, path, [&](const YAML::Node& item, const std::string& item_path) {
        std::optional<std::string> key = string(item, item_path);
        if (!key) {
          return;
        }
        if (std::vector<std::string> problems = isQualifiedName(*key); !problems.empty()) {
          error(item_path, item,
                "invalid label key \"" + clipped(*key) + "\": " + joined(problems, "; "));
        } else if (std::ranges::find(keys, *key) != keys.end()) {
          error(item_path, item, "repeated label key \"" + *key + "\"");
        } else {
          keys.push_back(std::move(*key));
        }
      });
      config.inherited_labels = std::move(keys);
    }
    if (const YAML::Node coverage = node["requireNetworkPolicy"]; present(coverage)) {
      if (std::optional<bool> value = boolean(coverage, "pods.requireNetworkPolicy")) {
        config.require_pod_coverage = *value;
      }
    }
  }

  void dns(const YAML::Node& node, OnboardingTemplates& onboarding) {
    const std::string path = "onboarding.dns";
    if (!map(node, path, {"enabled", "namespace", "podSelector"})) {
      return;
    }
    if (const YAML::Node enabled = node["enabled"]; present(enabled)) {
      onboarding.allow_dns = boolean(enabled, child(path, "enabled")).value_or(true);
    }
    if (const YAML::Node ns = node["namespace"]; present(ns)) {
      if (std::optional<std::string> name = namespaceName(ns, child(path, "namespace"))) {
        onboarding.dns_namespace = std::move(*name);
      }
    }
    if (const YAML::Node selector = node["podSelector"]; present(selector)) {
      if (std::optional<LabelSelector> value =
              labelSelector(selector, child(path, "podSelector"))) {
        onboarding.dns_pod_selector = std::move(*value);
      }
    }
  }

  void monitoring(const YAML::Node& node, OnboardingTemplates& onboarding) {
    const std::string path = "onboarding.monitoring";
    const size_t errors_before = errors.size();
    if (!map(node, path, {"namespaceSelector", "podSelector", "ports"})) {
      return;
    }
    MonitoringAccess access;
    // Both are required: an absent namespaceSelector would open every pod to
    // every namespace, and no ports would open every port, which is what the
    // default-deny policy is there to prevent.
    if (const YAML::Node selector = node["namespaceSelector"]; present(selector)) {
      access.namespace_selector =
          labelSelector(selector, child(path, "namespaceSelector")).value_or(LabelSelector{});
    } else {
      error(child(path, "namespaceSelector"), node,
            "is required: select the namespaces the monitoring system runs in");
    }
    if (const YAML::Node selector = node["podSelector"]; present(selector)) {
      access.pod_selector = labelSelector(selector, child(path, "podSelector"));
    }
    const std::string ports_path = child(path, "ports");
    if (const YAML::Node ports = node["ports"]; present(ports)) {
      list(ports, ports_path, [&](const YAML::Node& item, const std::string& item_path) {
        if (std::optional<NetworkPolicyPort> value = port(item, item_path)) {
          access.ports.push_back(std::move(*value));
        }
      });
      if (ports.IsSequence() && ports.size() == 0) {
        error(ports_path, ports, "must list at least one port");
      }
    } else {
      error(ports_path, node, "is required: list the ports the monitoring system scrapes");
    }
    if (errors.size() == errors_before) {
      onboarding.monitoring = std::move(access);
    }
  }

  void onboarding(const YAML::Node& node, Config& config) {
    if (!map(node, "onboarding", {"defaultDeny", "dns", "monitoring"})) {
      return;
    }
    if (const YAML::Node deny = node["defaultDeny"]; present(deny)) {
      if (std::optional<bool> value = boolean(deny, "onboarding.defaultDeny")) {
        config.onboarding.default_deny = *value;
      }
    }
    if (const YAML::Node dns_node = node["dns"]; present(dns_node)) {
      dns(dns_node, config.onboarding);
    }
    if (const YAML::Node monitoring_node = node["monitoring"]; present(monitoring_node)) {
      monitoring(monitoring_node, config.onboarding);
    }
  }

  std::optional<std::string> namespaceName(const YAML::Node& node, std::string_view path) {
    std::optional<std::string> name = string(node, path);
    if (!name) {
      return std::nullopt;
    }
    if (std::vector<std::string> problems = isDns1123Label(*name); !problems.empty()) {
      error(path, node,
            "invalid namespace name \"" + clipped(*name) + "\": " + joined(problems, "; "));
      return std::nullopt;
    }
    return name;
  }

  void serviceAccount(const YAML::Node& node, Config& config) {
    std::optional<std::string> user = string(node, "serviceAccount");
    if (!user) {
      return;
    }
    const std::string expected =
        "expected system:serviceaccount:<namespace>:<name>, the user name Kubernetes gives a "
        "service account";
    if (!user->starts_with(kServiceAccountPrefix)) {
      error("serviceAccount", node, "\"" + clipped(*user) + "\": " + expected);
      return;
    }
    const std::string_view rest = std::string_view(*user).substr(kServiceAccountPrefix.size());
    const size_t colon = rest.find(':');
    if (colon == std::string_view::npos) {
      error("serviceAccount", node, "\"" + clipped(*user) + "\": " + expected);
      return;
    }
    const std::string_view ns = rest.substr(0, colon);
    const std::string_view name = rest.substr(colon + 1);
    bool valid = true;
    if (std::vector<std::string> problems = isDns1123Label(ns); !problems.empty()) {
      error("serviceAccount", node,
            "invalid namespace \"" + clipped(ns) + "\": " + joined(problems, "; "));
      valid = false;
    }
    if (std::vector<std::string> problems = isDns1123Subdomain(name); !problems.empty()) {
      error("serviceAccount", node,
            "invalid service account name \"" + clipped(name) + "\": " + joined(problems, "; "));
      valid = false;
    }
    if (valid) {
      config.service_account = std::move(*user);
    }
  }

  void document(const YAML::Node& root, Config& config) {
    if (!map(root, "",
             {"palisadeNamespace", "serviceAccount", "mode", "exemptNamespaces", "namespaces",
              "pods", "onboarding"})) {
      return;
    }
    if (const YAML::Node ns = root["palisadeNamespace"]; present(ns)) {
      if (std::optional<std::string> name = namespaceName(ns, "palisadeNamespace")) {
        config.palisade_namespace = std::move(*name);
        // The chart runs the webhook as palisade-webhook in Palisade's
        // namespace; moving the namespace moves the service account with it.
        config.service_account = std::string(kServiceAccountPrefix) + config.palisade_namespace +
                                 ":" + std::string(kWebhookServiceAccountName);
      }
    }
    if (const YAML::Node account = root["serviceAccount"]; present(account)) {
      serviceAccount(account, config);
    }
    if (const YAML::Node mode = root["mode"]; present(mode)) {
      if (std::optional<std::string> text = string(mode, "mode")) {
        if (std::optional<EnforcementMode> value = parseEnforcementMode(*text)) {
          config.mode = *value;
        } else {
          error("mode", mode,
                "unsupported mode \"" + clipped(*text) + "\"; expected enforce, warn or audit");
        }
      }
    }
    if (const YAML::Node exempt = root["exemptNamespaces"]; present(exempt)) {
      std::vector<std::string> names;
      list(exempt, "exemptNamespaces", [&](const YAML::Node& item, const std::string& path) {
        if (std::optional<std::string> name = namespaceName(item, path)) {
          names.push_back(std::move(*name));
        }
      });
      config.exempt_namespaces = std::move(names);
    }
    if (const YAML::Node ns = root["namespaces"]; present(ns)) {
      namespaces(ns, config);
    }
    if (const YAML::Node pod = root["pods"]; present(pod)) {
      pods(pod, config);
    }
    if (const YAML::Node templates = root["onboarding"]; present(templates)) {
      onboarding(templates, config);
    }
  }
};

}  // namespace

bool Config::isExempt(std::string_view namespace_name) const {
  return isAlwaysExemptNamespace(namespace_name, palisade_namespace) ||
         std::ranges::find(exempt_namespaces, namespace_name) != exempt_namespaces.end();
}

EnforcementMode Config::modeFor(const Labels& labels) const {
  const auto found = labels.find(kModeLabel);
  if (found == labels.end()) {
    return mode;
  }
  return parseEnforcementMode(found->second).value_or(mode);
}

Config defaultConfig() {
  Config config;
  config.pod_labels = LabelPolicy::compile({LabelRule{.key = "app",
                                                      .required = true,
                                                      .allowed_values = {},
                                                      .pattern = "",
                                                      .default_value = std::nullopt}},
                                           "pods.labels")
                          .value();
  return config;
}

Result<Config> parseConfig(std::string_view yaml) {
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return fail("invalid YAML" + location(e.mark) + ": " + e.msg);
  }
  std::erase_if(documents, [](const YAML::Node& document) { return !present(document); });
  if (documents.size() > 1) {
    return fail("the configuration is one YAML document; found another one" +
                location(documents[1].Mark()));
  }
  Config config = defaultConfig();
  if (documents.empty()) {
    return config;
  }
  ConfigReader reader;
  try {
    reader.document(documents.front(), config);
  } catch (const YAML::Exception& e) {
    // Reading uses no throwing conversions; this guards against yaml-cpp
    // surprises rather than an expected path.
    return fail("invalid YAML" + location(e.mark) + ": " + e.msg);
  }
  if (!reader.errors.empty()) {
    return fail(joined(reader.errors, "; "));
  }
  return config;
}

}  // namespace palisade::policy
