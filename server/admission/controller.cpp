#include "server/admission/controller.h"

#include <algorithm>
#include <array>
#include <exception>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "policy/json_codec.h"
#include "policy/label_selector.h"
#include "policy/lint.h"
#include "policy/onboarding.h"
#include "policy/taxonomy.h"
#include "policy/validation.h"

namespace palisade::server {
namespace {

using nlohmann::json;
using policy::EnforcementMode;
using policy::Labels;
using policy::LabelViolation;

// The auditAnnotations key for violations in audit mode. The apiserver
// records it as "<webhook name>/violations" and drops any key that already
// holds a '/' (admission's checkKeyFormat allows exactly one), so it carries
// no prefix of its own.
constexpr std::string_view kViolationsAuditKey = "violations";

// Who deletes everything in a namespace being deleted, managed policies
// included: kube-controller-manager's namespace controller, under its own
// service account (--use-service-account-credentials, the kubeadm default)
// or under the controller manager's identity. Denying it would leave the
// namespace stuck in Terminating.
constexpr std::array<std::string_view, 2> kNamespaceDeleters = {
    "system:serviceaccount:kube-system:namespace-controller",
    "system:kube-controller-manager",
};

// Pod controllers and where their pod template is.
struct Workload {
  std::string_view group;
  std::string_view kind;
  std::string_view template_path;
};
constexpr std::array<Workload, 6> kWorkloads = {{
    {"apps", "Deployment", "spec.template"},
    {"apps", "StatefulSet", "spec.template"},
    {"apps", "DaemonSet", "spec.template"},
    {"apps", "ReplicaSet", "spec.template"},
    {"batch", "Job", "spec.template"},
    {"batch", "CronJob", "spec.jobTemplate.spec.template"},
}};

enum class Target { kNamespace, kPod, kWorkload, kNetworkPolicy, kOther };

Target classify(const GroupVersionKind& kind, const Workload** workload) {
  if (kind.group.empty() && kind.kind == "Namespace") {
    return Target::kNamespace;
  }
  if (kind.group.empty() && kind.kind == "Pod") {
    return Target::kPod;
  }
  if (kind.group == "networking.k8s.io" && kind.kind == "NetworkPolicy") {
    return Target::kNetworkPolicy;
  }
  for (const Workload& candidate : kWorkloads) {
    if (kind.group == candidate.group && kind.kind == candidate.kind) {
      *workload = &candidate;
      return Target::kWorkload;
    }
  }
  return Target::kOther;
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

// A user-supplied value inside a message: cut to `budget` bytes without
// splitting a UTF-8 sequence, then quoted and escaped as JSON does it.
std::string quote(std::string_view text, size_t budget = 40) {
  std::string cut(text);
  if (cut.size() > budget) {
    size_t end = budget - 3;
    while (end > 0 && (static_cast<unsigned char>(cut[end]) & 0xC0) == 0x80) {
      --end;
    }
    cut = cut.substr(0, end) + "\xE2\x80\xA6";
  }
  return json(cut).dump(-1, ' ', false, json::error_handler_t::replace);
}

// As policy/json_codec.cpp names JSON types in its messages.
std::string typeName(const json& value) {
  if (value.is_number_integer()) {
    return "integer";
  }
  return value.type_name();
}

// object[name] when object is an object and the member a string, else "".
std::string stringMember(const json& object, std::string_view name) {
  if (!object.is_object()) {
    return {};
  }
  auto it = object.find(name);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

const json& metadataOf(const json& object) {
  static const json kNull;
  if (!object.is_object()) {
    return kNull;
  }
  auto it = object.find("metadata");
  return it != object.end() ? *it : kNull;
}

bool isBeingDeleted(const json& object) {
  const json& metadata = metadataOf(object);
  if (!metadata.is_object()) {
    return false;
  }
  auto it = metadata.find("deletionTimestamp");
  return it != metadata.end() && !it->is_null();
}

bool isManaged(const json& object) {
  const json& metadata = metadataOf(object);
  if (!metadata.is_object()) {
    return false;
  }
  auto labels = metadata.find("labels");
  return labels != metadata.end() &&
         stringMember(*labels, policy::kManagedByLabel) == policy::kManagedByValue;
}

std::string labelList(const Labels& labels) {
  std::vector<std::string> parts;
  for (const auto& [key, value] : labels) {
    parts.push_back(key + "=" + value);
  }
  return joined(parts, ", ");
}

// Everything one admission decision needs; lives for one call.
class Admission {
 public:
  Admission(const policy::Config& config, const ClusterView* cluster,
            const AdmissionRequest& request)
      : config_(config), cluster_(cluster), request_(request) {}

  AdmissionOutcome mutate() const {
    const Workload* workload = nullptr;
    const Target target = classify(request_.kind, &workload);
    if (auto skipped = skip(target)) {
      return *std::move(skipped);
    }
    if (request_.operation != Operation::kCreate && request_.operation != Operation::kUpdate) {
      return allowed("ignored",
                     "nothing to mutate on " + std::string(toString(request_.operation)));
    }
    switch (target) {
      case Target::kNamespace:
        return mutateNamespace();
      case Target::kPod:
        return mutatePod();
      default:
        return allowed("ignored", request_.kind.kind + " objects are not mutated");
    }
  }

  AdmissionOutcome validate() const {
    const Workload* workload = nullptr;
    const Target target = classify(request_.kind, &workload);
    if (auto skipped = skip(target)) {
      return *std::move(skipped);
    }
    // Palisade manages nothing in an exempt namespace: policies it left
    // there before the exemption are the namespace owners' to delete.
    if (const std::string ns = namespaceName(target); config_.isExempt(ns)) {
      return allowed("exempt", "namespace " + quote(ns) + " is exempt");
    }
    if (target == Target::kNetworkPolicy) {
      if (auto denied = protectManagedPolicy()) {
        return *std::move(denied);
      }
    }
    if (request_.operation == Operation::kDelete) {
      return allowed("allowed");
    }
    // Updates to an object being deleted are finalizers going away; denying
    // them would leave the object stuck, whatever its labels.
    if (target != Target::kNetworkPolicy && isBeingDeleted(request_.object)) {
      return allowed("allowed", "object is being deleted");
    }
    switch (target) {
      case Target::kNamespace:
        return validateNamespace();
      case Target::kPod:
        return validatePod();
      case Target::kWorkload:
        return validateWorkload(*workload);
      case Target::kNetworkPolicy:
        return validateNetworkPolicy();
      case Target::kOther:
        break;
    }
    return allowed("ignored");
  }

 private:
  // Requests Palisade has no opinion on, whatever the configuration says.
  std::optional<AdmissionOutcome> skip(Target target) const {
    if (target == Target::kOther) {
      return allowed("ignored", kindName() + " is not checked");
    }
    if (!request_.sub_resource.empty()) {
      return allowed("ignored", "subresource " + quote(request_.sub_resource) + " is not checked");
    }
    if (request_.operation == Operation::kConnect) {
      return allowed("ignored", "CONNECT is not checked");
    }
    return std::nullopt;
  }

  std::string kindName() const {
    const auto& kind = request_.kind;
    return (kind.group.empty() ? std::string() : kind.group + "/") + kind.version + " " + kind.kind;
  }

  const json& currentObject() const {
    return request_.operation == Operation::kDelete ? request_.old_object : request_.object;
  }

  // The namespace the request is about: a Namespace's own name, else the
  // request's namespace.
  std::string namespaceName(Target target) const {
    if (target == Target::kNamespace) {
      const std::string name = stringMember(metadataOf(currentObject()), "name");
      return name.empty() ? request_.name : name;
    }
    if (!request_.namespace_name.empty()) {
      return request_.namespace_name;
    }
    return stringMember(metadataOf(currentObject()), "namespace");
  }

  // "Pod shop/web-7d9f8b6c5d-", "Namespace shop": how messages name the object.
  std::string subject() const {
    const json& metadata = metadataOf(currentObject());
    std::string name = request_.name;
    if (name.empty()) {
      name = stringMember(metadata, "name");
    }
    if (name.empty()) {
      name = stringMember(metadata, "generateName");
    }
    const std::string& kind = request_.kind.kind;
    if (kind == "Namespace" || request_.namespace_name.empty()) {
      return kind + " " + name;
    }
    return kind + " " + request_.namespace_name + "/" + name;
  }

  AdmissionOutcome allowed(std::string decision, std::string reason = {}) const {
    AdmissionOutcome outcome;
    outcome.response.uid = request_.uid;
    outcome.response.allowed = true;
    outcome.decision = std::move(decision);
    outcome.reason = std::move(reason);
    return outcome;
  }

  AdmissionOutcome denied(int32_t code, std::string reason, std::string message) const {
    AdmissionOutcome outcome;
    outcome.response.uid = request_.uid;
    outcome.response.allowed = false;
    outcome.response.status = AdmissionStatus{code, std::move(reason), message};
    outcome.decision = "denied";
    outcome.reason = std::move(message);
    return outcome;
  }

  AdmissionOutcome malformed(std::string_view path_prefix, const policy::DecodeError& error) const {
    std::string path(path_prefix);
    if (!error.field_path.empty()) {
      path += path.empty() ? error.field_path : "." + error.field_path;
    }
    return denied(400, "BadRequest",
                  subject() + ": " + (path.empty() ? "" : path + ": ") + error.message);
  }

  std::optional<Labels> namespaceLabels(const std::string& ns) const {
    if (cluster_ == nullptr || ns.empty()) {
      return std::nullopt;
    }
    return cluster_->namespaceLabels(ns);
  }

  // The mode for objects in a namespace with these labels (nullopt: unknown).
  EnforcementMode modeIn(const std::optional<Labels>& namespace_labels) const {
    return namespace_labels ? config_.modeFor(*namespace_labels) : config_.mode;
  }

  // The labels the pod mutation adds to pods with `labels` in a namespace
  // with `namespace_labels`: inherited ones first, since the namespace's
  // value is more specific than a configured default.
  Labels podAdditions(const Labels& labels, const std::optional<Labels>& namespace_labels) const {
    Labels additions;
    if (namespace_labels) {
      for (const std::string& key : config_.inherited_labels) {
        auto found = namespace_labels->find(key);
        if (found != namespace_labels->end() && !labels.contains(key)) {
          additions.emplace(key, found->second);
        }
      }
    }
    Labels merged = labels;
    merged.insert(additions.begin(), additions.end());
    additions.merge(config_.pod_labels.defaultsFor(merged));
    return additions;
  }

  // Inherited labels that a pod carries with another value than its namespace.
  std::vector<LabelViolation> inheritanceConflicts(const Labels& labels,
                                                   const Labels& namespace_labels) const {
    std::vector<LabelViolation> conflicts;
    for (const std::string& key : config_.inherited_labels) {
      auto own = labels.find(key);
      auto inherited = namespace_labels.find(key);
      if (own == labels.end() || inherited == namespace_labels.end() ||
          own->second == inherited->second) {
        continue;
      }
      conflicts.push_back(LabelViolation{
          .kind = LabelViolation::Kind::kConflict,
          .key = key,
          .value = own->second,
          // The subject of a denial names the namespace; leaving it out here
          // keeps the message within 120 characters for a warning.
          .message = "inherited label " + quote(key, 32) + " is " + quote(own->second, 20) +
                     " but the namespace has " + quote(inherited->second, 20)});
    }
    return conflicts;
  }

  // The object with `additions` set in metadata.labels, as a JSON Patch;
  // null when nothing changes.
  static json labelPatch(const json& object, const Labels& additions) {
    if (additions.empty()) {
      return nullptr;
    }
    json mutated = object;
    json& labels = mutated["metadata"]["labels"];
    for (const auto& [key, value] : additions) {
      labels[key] = value;
    }
    // diff escapes '/' and '~' in keys (RFC 6901) and adds /metadata/labels
    // as a whole when the object has none.
    json patch = json::diff(object, mutated);
    return patch.empty() ? json(nullptr) : patch;
  }

  AdmissionOutcome mutated(const Labels& additions, std::vector<std::string> warnings) const {
    AdmissionOutcome outcome = allowed("allowed");
    outcome.response.patch = labelPatch(request_.object, additions);
    outcome.response.warnings = std::move(warnings);
    if (!outcome.response.patch.is_null()) {
      outcome.decision = "mutated";
      outcome.reason = "added labels " + labelList(additions);
    }
    return outcome;
  }

  // Violations judged by the mode: denied, warned about or only audited.
  AdmissionOutcome judge(const std::vector<std::string>& violations, EnforcementMode mode,
                         std::vector<std::string> warnings = {}) const {
    // As Pod Security Admission does for updates that leave the checked
    // fields alone: an object that broke the taxonomy before Palisade (or a
    // stricter configuration) arrived can still get its annotations,
    // finalizers or replicas changed; only changing its labels is held to
    // the rules.
    if (mode == EnforcementMode::kEnforce && checkedLabelsUnchanged()) {
      mode = EnforcementMode::kWarn;
    }
    if (violations.empty()) {
      AdmissionOutcome outcome = allowed("allowed");
      outcome.response.warnings = std::move(warnings);
      return outcome;
    }
    const std::string all = joined(violations, "; ");
    switch (mode) {
      case EnforcementMode::kEnforce: {
        AdmissionOutcome outcome = denied(403, "Forbidden", subject() + ": " + all);
        outcome.response.warnings = std::move(warnings);
        return outcome;
      }
      case EnforcementMode::kWarn: {
        AdmissionOutcome outcome = allowed("warned", all);
        outcome.response.warnings = std::move(warnings);
        outcome.response.warnings.insert(outcome.response.warnings.end(), violations.begin(),
                                         violations.end());
        return outcome;
      }
      case EnforcementMode::kAudit: {
        AdmissionOutcome outcome = allowed("audited", all);
        outcome.response.warnings = std::move(warnings);
        outcome.response.audit_annotations.emplace(std::string(kViolationsAuditKey), all);
        return outcome;
      }
    }
    return denied(403, "Forbidden", subject() + ": " + all);
  }

  // Whether this is an UPDATE that leaves the labels the taxonomy checks as
  // they were: the object's own, or a controller's pod template's.
  bool checkedLabelsUnchanged() const {
    if (request_.operation != Operation::kUpdate) {
      return false;
    }
    const Workload* workload = nullptr;
    std::string pointer = "/metadata/labels";
    if (classify(request_.kind, &workload) == Target::kWorkload) {
      std::string path(workload->template_path);
      std::ranges::replace(path, '.', '/');
      pointer = "/" + path + pointer;
    }
    const json::json_pointer labels(pointer);
    auto at = [&](const json& object) -> json {
      return object.is_object() && object.contains(labels) ? object.at(labels) : json();
    };
    const json before = at(request_.old_object);
    const json after = at(request_.object);
    // null, absent and {} all mean no labels.
    const bool before_empty = before.is_null() || before.empty();
    const bool after_empty = after.is_null() || after.empty();
    return before == after || (before_empty && after_empty);
  }

  static std::vector<std::string> messages(const std::vector<LabelViolation>& violations,
                                           std::string_view prefix = {}) {
    std::vector<std::string> out;
    for (const LabelViolation& violation : violations) {
      out.push_back(std::string(prefix) + violation.message);
    }
    return out;
  }

  AdmissionOutcome mutateNamespace() const {
    const std::string name = namespaceName(Target::kNamespace);
    if (config_.isExempt(name)) {
      return allowed("exempt", "namespace " + quote(name) + " is exempt");
    }
    auto ns = policy::decodeNamespace(request_.object);
    if (!ns) {
      return malformed("", ns.error());
    }
    const Labels& labels = ns->metadata.labels;
    Labels additions = config_.namespace_labels.defaultsFor(labels);
    // The onboarding controller's marker. Always "true" on a namespace that is
    // not exempt: opting out is done with exemptNamespaces, not by the label.
    if (auto found = labels.find(policy::kOnboardedLabel);
        found == labels.end() || found->second != "true") {
      additions.insert_or_assign(std::string(policy::kOnboardedLabel), "true");
    }
    return mutated(additions, {});
  }

  AdmissionOutcome mutatePod() const {
    const std::string ns = namespaceName(Target::kPod);
    if (config_.isExempt(ns)) {
      return allowed("exempt", "namespace " + quote(ns) + " is exempt");
    }
    auto pod = policy::decodePod(request_.object);
    if (!pod) {
      return malformed("", pod.error());
    }
    const Labels& labels = pod->metadata.labels;
    const std::optional<Labels> namespace_labels = namespaceLabels(ns);
    std::vector<std::string> warnings;
    const bool lacks_inherited = std::ranges::any_of(
        config_.inherited_labels, [&](const std::string& key) { return !labels.contains(key); });
    if (!namespace_labels && lacks_inherited) {
      warnings.push_back("labels not inherited from namespace " + quote(ns) + ": " +
                         (cluster_ == nullptr ? "the webhook has no connection to the API"
                                              : "the namespace is not known yet"));
    }
    return mutated(podAdditions(labels, namespace_labels), std::move(warnings));
  }

  // A palisade.dev/mode label whose value is no mode.
  static std::optional<LabelViolation> invalidModeLabel(const Labels& labels) {
    auto found = labels.find(policy::kModeLabel);
    if (found == labels.end() || policy::parseEnforcementMode(found->second)) {
      return std::nullopt;
    }
    return LabelViolation{.kind = LabelViolation::Kind::kValueNotAllowed,
                          .key = std::string(policy::kModeLabel),
                          .value = found->second,
                          .message = "label " + quote(policy::kModeLabel) + " has value " +
                                     quote(found->second, 32) +
                                     "; valid modes: enforce, warn, audit"};
  }

  AdmissionOutcome validateNamespace() const {
    auto ns = policy::decodeNamespace(request_.object);
    if (!ns) {
      return malformed("", ns.error());
    }
    const Labels& labels = ns->metadata.labels;
    std::vector<LabelViolation> violations = config_.namespace_labels.check(labels);
    if (request_.operation == Operation::kUpdate) {
      auto old = policy::decodeNamespace(request_.old_object);
      if (!old) {
        return malformed("oldObject", old.error());
      }
      // A removed label is reported as removed, not also as missing.
      for (LabelViolation& removed :
           config_.namespace_labels.removedRequired(old->metadata.labels, labels)) {
        std::erase_if(violations, [&](const LabelViolation& violation) {
          return violation.kind == LabelViolation::Kind::kMissing && violation.key == removed.key;
        });
        violations.push_back(std::move(removed));
      }
    }
    if (auto mode_violation = invalidModeLabel(labels)) {
      violations.push_back(*std::move(mode_violation));
    }
    return judge(messages(violations), config_.modeFor(labels));
  }

  AdmissionOutcome validatePod() const {
    auto pod = policy::decodePod(request_.object);
    if (!pod) {
      return malformed("", pod.error());
    }
    const std::string ns = namespaceName(Target::kPod);
    const Labels& labels = pod->metadata.labels;
    const std::optional<Labels> namespace_labels = namespaceLabels(ns);
    std::vector<LabelViolation> violations = config_.pod_labels.check(labels);
    if (namespace_labels) {
      std::ranges::move(inheritanceConflicts(labels, *namespace_labels),
                        std::back_inserter(violations));
    }
    std::vector<std::string> problems = messages(violations);
    std::vector<std::string> warnings;
    if (config_.require_pod_coverage) {
      coverage(ns, labels, problems, warnings);
    }
    return judge(problems, modeIn(namespace_labels), std::move(warnings));
  }

  // The coverage gate: a pod no NetworkPolicy selects is open to every peer,
  // whatever the rest of the namespace does. The default-deny that onboarding
  // creates selects every pod, so in an onboarded namespace this holds.
  void coverage(const std::string& ns, const Labels& labels, std::vector<std::string>& problems,
                std::vector<std::string>& warnings) const {
    const ClusterView::Policies policies =
        cluster_ == nullptr ? nullptr : cluster_->namespacePolicies(ns);
    if (!policies) {
      warnings.push_back("NetworkPolicy coverage not checked: " +
                         std::string(cluster_ == nullptr ? "the webhook has no connection to the API"
                                                         : "policies not synced yet"));
      return;
    }
    const bool selected = std::ranges::any_of(*policies, [&](const policy::NetworkPolicy& p) {
      return policy::selectorMatches(p.spec.pod_selector, labels);
    });
    if (!selected) {
      problems.push_back("no NetworkPolicy in namespace " + quote(ns) +
                         " selects this pod; add one (onboarding's default-deny selects all)");
    }
  }

  AdmissionOutcome validateWorkload(const Workload& workload) const {
    // Walk to the pod template; an absent step means a template without labels.
    const json* node = &request_.object;
    std::string path;
    size_t start = 0;
    const std::string_view steps = workload.template_path;
    while (node != nullptr && start <= steps.size()) {
      const size_t dot = std::min(steps.find('.', start), steps.size());
      const std::string step(steps.substr(start, dot - start));
      const std::string parent = path;
      path += path.empty() ? step : "." + step;
      start = dot + 1;
      if (!node->is_object()) {
        return malformed("", {parent, "expected object, got " + typeName(*node)});
      }
      auto it = node->find(step);
      node = it == node->end() || it->is_null() ? nullptr : &*it;
    }
    Labels labels;
    if (node != nullptr) {
      if (!node->is_object()) {
        return malformed("", {path, "expected object, got " + typeName(*node)});
      }
      if (auto metadata = node->find("metadata");
          metadata != node->end() && !metadata->is_null()) {
        auto meta = policy::decodeObjectMeta(*metadata);
        if (!meta) {
          return malformed(path, meta.error());  // its paths start at "metadata"
        }
        labels = std::move(meta->labels);
      }
    }
    // Checked as the pod will be: after the pod mutation has added what it adds.
    const std::string ns = namespaceName(Target::kWorkload);
    const std::optional<Labels> namespace_labels = namespaceLabels(ns);
    Labels effective = labels;
    effective.merge(podAdditions(labels, namespace_labels));
    std::vector<LabelViolation> violations = config_.pod_labels.check(effective);
    if (namespace_labels) {
      std::ranges::move(inheritanceConflicts(labels, *namespace_labels),
                        std::back_inserter(violations));
    }
    return judge(messages(violations, path + ".metadata.labels: "), modeIn(namespace_labels));
  }

  // Palisade's own policies: only its service account creates, changes or
  // deletes them. nullopt when the request may go on.
  std::optional<AdmissionOutcome> protectManagedPolicy() const {
    const Operation op = request_.operation;
    const bool old_managed =
        (op == Operation::kUpdate || op == Operation::kDelete) && isManaged(request_.old_object);
    const bool new_managed =
        (op == Operation::kCreate || op == Operation::kUpdate) && isManaged(request_.object);
    const bool managed = old_managed || new_managed;
    const std::string& user = request_.user_info.username;
    if (!managed || user == config_.service_account) {
      return std::nullopt;
    }
    if (op == Operation::kDelete && std::ranges::find(kNamespaceDeleters, user) !=
                                        kNamespaceDeleters.end()) {
      return std::nullopt;
    }
    const std::string ns = namespaceName(Target::kNetworkPolicy);
    return denied(403, "Forbidden",
                  subject() + " is managed by Palisade (label " +
                      std::string(policy::kManagedByLabel) + "=" +
                      std::string(policy::kManagedByValue) + "); only " +
                      config_.service_account +
                      " may create, change or delete it. To opt out, add " + quote(ns) +
                      " to exemptNamespaces in the Palisade configuration, then delete it");
  }

  AdmissionOutcome validateNetworkPolicy() const {
    auto policy = policy::decodeNetworkPolicy(request_.object);
    if (!policy) {
      return malformed("", policy.error());
    }
    const policy::FieldErrors errors = policy::validateNetworkPolicy(*policy);
    if (!errors.empty()) {
      std::vector<std::string> texts;
      for (const policy::FieldError& error : errors) {
        texts.push_back(error.toString());
      }
      return denied(400, "BadRequest", subject() + ": " + joined(texts, "; "));
    }
    AdmissionOutcome outcome = allowed("allowed");
    for (const policy::LintFinding& finding : policy::lintNetworkPolicy(*policy)) {
      outcome.response.warnings.push_back(finding.toString());
    }
    if (!outcome.response.warnings.empty()) {
      outcome.decision = "warned";
      outcome.reason = std::to_string(outcome.response.warnings.size()) + " lint finding" +
                       (outcome.response.warnings.size() == 1 ? "" : "s");
    }
    return outcome;
  }

  const policy::Config& config_;
  const ClusterView* cluster_;
  const AdmissionRequest& request_;
};

// Never lets an exception out: an admission webhook that fails to answer
// makes the apiserver apply the failurePolicy instead of Palisade's decision.
template <class Decide>
AdmissionOutcome guarded(const AdmissionRequest& request, Decide&& decide) {
  const auto failure = [&](int32_t code, std::string reason, std::string message) {
    AdmissionOutcome outcome;
    outcome.response.uid = request.uid;
    outcome.response.allowed = false;
    outcome.response.status = AdmissionStatus{code, std::move(reason), message};
    outcome.decision = "denied";
    outcome.reason = std::move(message);
    return outcome;
  };
  try {
    return decide();
  } catch (const json::exception& error) {
    return failure(400, "BadRequest", request.kind.kind + ": malformed object: " + error.what());
  } catch (const std::exception& error) {
    return failure(500, "InternalError",
                   "palisade could not decide on " + request.kind.kind + ": " + error.what());
  }
}

}  // namespace

AdmissionController::AdmissionController(std::shared_ptr<const policy::Config> config,
                                         const ClusterView* cluster)
    : config_(std::move(config)), cluster_(cluster) {}

AdmissionOutcome AdmissionController::mutate(const AdmissionRequest& request) const {
  return guarded(request, [&] { return Admission(*config_, cluster_, request).mutate(); });
}

AdmissionOutcome AdmissionController::validate(const AdmissionRequest& request) const {
  return guarded(request, [&] { return Admission(*config_, cluster_, request).validate(); });
}

}  // namespace palisade::server
