#include "server/admission/controller.h"

#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "policy/config.h"
#include "policy/onboarding.h"

namespace palisade::server {
namespace {

using nlohmann::json;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

// How a platform team would write it: namespaces say who owns them and which
// environment they are; pods say what they are and carry their namespace's
// owner and environment.
constexpr std::string_view kPlatformConfig = R"(
palisadeNamespace: palisade-system
serviceAccount: system:serviceaccount:palisade-system:palisade-webhook
mode: enforce
exemptNamespaces: [legacy]

namespaces:
  labels:
  - key: team
    pattern: "^[a-z][a-z0-9-]{1,30}$"
  - key: env
    values: [prod, staging, dev]
    default: dev
  - key: example.com/cost-center
    required: false
    default: shared

pods:
  labels:
  - key: app
  - key: example.com/tier
    values: [frontend, backend, data]
    default: backend
  inheritFromNamespace: [team, env]
)";

constexpr std::string_view kServiceAccount =
    "system:serviceaccount:palisade-system:palisade-webhook";

std::shared_ptr<const policy::Config> loadConfig(std::string_view yaml = kPlatformConfig) {
  auto config = policy::parseConfig(yaml);
  EXPECT_TRUE(config.has_value()) << config.error().message;
  return std::make_shared<const policy::Config>(config.has_value() ? *std::move(config)
                                                                   : policy::defaultConfig());
}

// The namespaces the webhook's informer would have seen, each onboarded
// (its default-deny policy selects every pod) unless given its policies.
class FakeCluster : public ClusterView {
 public:
  explicit FakeCluster(std::map<std::string, policy::Labels> namespaces,
                       std::map<std::string, std::vector<policy::NetworkPolicy>> policies = {})
      : namespaces_(std::move(namespaces)) {
    for (const auto& [name, labels] : namespaces_) {
      auto given = policies.find(name);
      policies_[name] = std::make_shared<const std::vector<policy::NetworkPolicy>>(
          given != policies.end() ? given->second
                                  : policy::onboardingPolicies(name, policy::OnboardingTemplates{}));
    }
  }
  std::optional<policy::Labels> namespaceLabels(std::string_view name) const override {
    auto found = namespaces_.find(std::string(name));
    if (found == namespaces_.end()) {
      return std::nullopt;
    }
    return found->second;
  }
  Policies namespacePolicies(std::string_view name) const override {
    auto found = policies_.find(std::string(name));
    return found == policies_.end() ? nullptr : found->second;
  }

 private:
  std::map<std::string, policy::Labels> namespaces_;
  std::map<std::string, Policies> policies_;
};

const FakeCluster& cluster() {
  static const FakeCluster kCluster({
      {"shop", {{"kubernetes.io/metadata.name", "shop"}, {"team", "shop"}, {"env", "prod"}}},
      {"sandbox",
       {{"kubernetes.io/metadata.name", "sandbox"},
        {"team", "platform"},
        {"env", "dev"},
        {"palisade.dev/mode", "warn"}}},
      {"staging",
       {{"kubernetes.io/metadata.name", "staging"},
        {"team", "shop"},
        {"env", "staging"},
        {"palisade.dev/mode", "audit"}}},
  });
  return kCluster;
}

// A request as the kube-apiserver sends it, through the real decoder.
// `fields` are merged over a CREATE by a human user.
AdmissionRequest review(const json& fields) {
  json request = {
      {"uid", "3f1c9a52-7d4e-4f8b-9a0c-2e6d1b5f8a70"},
      {"operation", "CREATE"},
      {"userInfo",
       {{"username", "alice@example.com"}, {"groups", {"developers", "system:authenticated"}}}},
      {"dryRun", false},
  };
  request.merge_patch(fields);
  const json document = {
      {"apiVersion", "admission.k8s.io/v1"}, {"kind", "AdmissionReview"}, {"request", request}};
  auto parsed = parseAdmissionReview(document.dump());
  EXPECT_TRUE(parsed.has_value()) << parsed.error().message;
  return parsed.value_or(AdmissionRequest{});
}

json namespaceObject(std::string_view name, const json& labels) {
  json object = {{"apiVersion", "v1"},
                 {"kind", "Namespace"},
                 {"metadata", {{"name", name}}},
                 {"spec", {{"finalizers", {"kubernetes"}}}},
                 {"status", {{"phase", "Active"}}}};
  if (!labels.is_null()) {
    object["metadata"]["labels"] = labels;
  }
  return object;
}

AdmissionRequest namespaceRequest(std::string_view operation, const json& object,
                                  const json& old_object = nullptr) {
  const json& current = object.is_null() ? old_object : object;
  const std::string name = current["metadata"]["name"];
  return review({{"kind", {{"group", ""}, {"version", "v1"}, {"kind", "Namespace"}}},
                 {"resource", {{"group", ""}, {"version", "v1"}, {"resource", "namespaces"}}},
                 {"name", name},
                 {"namespace", name},
                 {"operation", operation},
                 {"object", object},
                 {"oldObject", old_object}});
}

// A pod as the ReplicaSet controller creates it: generateName, no name.
json podObject(std::string_view ns, const json& labels) {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata",
           {{"generateName", "web-7d9f8b6c5d-"}, {"namespace", ns}, {"labels", labels}}},
          {"spec", {{"containers", {{{"name", "web"}, {"image", "nginx:1.27"}}}}}}};
}

AdmissionRequest podRequest(std::string_view ns, std::string_view operation, const json& object,
                            const json& old_object = nullptr) {
  json fields = {{"kind", {{"group", ""}, {"version", "v1"}, {"kind", "Pod"}}},
                 {"resource", {{"group", ""}, {"version", "v1"}, {"resource", "pods"}}},
                 {"namespace", ns},
                 {"operation", operation},
                 {"object", object},
                 {"oldObject", old_object}};
  if (operation != "CREATE") {
    fields["name"] = "web-7d9f8b6c5d-x2x7q";
  }
  return review(fields);
}

json workloadObject(std::string_view api_version, std::string_view kind, std::string_view name,
                    const json& template_labels) {
  const json pod_template = {
      {"metadata", {{"labels", template_labels}}},
      {"spec", {{"containers", {{{"name", "main"}, {"image", "registry.example.com/app:1.0"}}}}}}};
  json spec;
  if (kind == "CronJob") {
    spec = {{"schedule", "*/5 * * * *"}, {"jobTemplate", {{"spec", {{"template", pod_template}}}}}};
  } else {
    spec = {{"selector", {{"matchLabels", template_labels}}}, {"template", pod_template}};
  }
  return {{"apiVersion", api_version},
          {"kind", kind},
          {"metadata", {{"name", name}, {"namespace", "shop"}}},
          {"spec", spec}};
}

AdmissionRequest workloadRequest(std::string_view group, std::string_view kind,
                                 std::string_view resource, const json& object) {
  return review({{"kind", {{"group", group}, {"version", "v1"}, {"kind", kind}}},
                 {"resource", {{"group", group}, {"version", "v1"}, {"resource", resource}}},
                 {"name", object["metadata"]["name"]},
                 {"namespace", "shop"},
                 {"object", object}});
}

json policyObject(std::string_view ns, std::string_view name, const json& labels,
                  const json& spec) {
  json object = {{"apiVersion", "networking.k8s.io/v1"},
                 {"kind", "NetworkPolicy"},
                 {"metadata", {{"name", name}, {"namespace", ns}}},
                 {"spec", spec}};
  if (!labels.is_null()) {
    object["metadata"]["labels"] = labels;
  }
  return object;
}

json defaultDenySpec() {
  return {{"podSelector", json::object()}, {"policyTypes", {"Ingress", "Egress"}}};
}

json managedDefaultDeny(std::string_view ns) {
  return policyObject(ns, "palisade-default-deny",
                      {{"app.kubernetes.io/managed-by", "palisade"}}, defaultDenySpec());
}

AdmissionRequest policyRequest(std::string_view operation, std::string_view username,
                               const json& object, const json& old_object = nullptr) {
  const json& current = object.is_null() ? old_object : object;
  return review(
      {{"kind", {{"group", "networking.k8s.io"}, {"version", "v1"}, {"kind", "NetworkPolicy"}}},
       {"resource",
        {{"group", "networking.k8s.io"}, {"version", "v1"}, {"resource", "networkpolicies"}}},
       {"name", current["metadata"]["name"]},
       {"namespace", current["metadata"]["namespace"]},
       {"operation", operation},
       {"userInfo", {{"username", username}}},
       {"object", object},
       {"oldObject", old_object}});
}

std::string decodeBase64(std::string_view text) {
  static const std::string kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    if (c == '=') {
      break;
    }
    buffer = (buffer << 6) | static_cast<uint32_t>(kAlphabet.find(c));
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xFF);
    }
  }
  return out;
}

// The object after the apiserver applies the webhook's answer: rendered,
// base64-decoded and applied as a JSON Patch.
json applyAnswer(const AdmissionRequest& request, const AdmissionOutcome& outcome) {
  const json answer = json::parse(renderAdmissionReview(kAdmissionV1, outcome.response));
  EXPECT_EQ(answer["response"]["uid"], request.uid);
  if (!answer["response"].contains("patch")) {
    return request.object;
  }
  EXPECT_EQ(answer["response"]["patchType"], "JSONPatch");
  const json patch = json::parse(decodeBase64(answer["response"]["patch"].get<std::string>()));
  return request.object.patch(patch);
}

// --- Namespaces: mutation -------------------------------------------------

TEST(NamespaceMutation, AddsDefaultsAndTheOnboardingMarker) {
  const AdmissionController controller(loadConfig(), &cluster());
  const auto request = namespaceRequest("CREATE", namespaceObject("payments", {{"team", "pay"}}));
  const auto outcome = controller.mutate(request);
  EXPECT_TRUE(outcome.response.allowed);
  EXPECT_EQ(outcome.decision, "mutated");
  EXPECT_EQ(outcome.response.uid, request.uid);
  json expected = request.object;
  expected["metadata"]["labels"] = {{"team", "pay"},
                                    {"env", "dev"},
                                    {"example.com/cost-center", "shared"},
                                    {"palisade.dev/onboarded", "true"}};
  EXPECT_EQ(applyAnswer(request, outcome), expected);
}

TEST(NamespaceMutation, SlashInAKeyIsEscapedInThePatchPath) {
  const AdmissionController controller(loadConfig(), &cluster());
  const auto request = namespaceRequest(
      "CREATE", namespaceObject("payments", {{"team", "pay"}, {"env", "prod"}}));
  const auto outcome = controller.mutate(request);
  EXPECT_EQ(outcome.response.patch, json::parse(R"([
    {"op": "add", "path": "/metadata/labels/example.com~1cost-center", "value": "shared"},
    {"op": "add", "path": "/metadata/labels/palisade.dev~1onboarded", "value": "true"}
  ])"));
}

TEST(NamespaceMutation, NamespaceWithoutLabelsGetsTheWholeLabelsMap) {
  const AdmissionController controller(loadConfig(), &cluster());
  const auto request = namespaceRequest("CREATE", namespaceObject("scratch", nullptr));
  const auto outcome = controller.mutate(request);
  EXPECT_EQ(outcome.response.patch, json::parse(R"([
    {"op": "add", "path": "/metadata/labels", "value": {
      "env": "dev", "example.com/cost-center": "shared", "palisade.dev/onboarded": "true"}}
  ])"));
  EXPECT_EQ(applyAnswer(request, outcome)["metadata"]["labels"]["env"], "dev");
}

TEST(NamespaceMutation, MutatingTheMutatedObjectAgainChangesNothing) {
  const AdmissionController controller(loadConfig(), &cluster());
  const auto first = namespaceRequest("CREATE", namespaceObject("payments", {{"team", "pay"}}));
  const json mutated = applyAnswer(first, controller.mutate(first));
  // Reinvocation: the apiserver calls the webhook again with its own output.
  const auto again = controller.mutate(namespaceRequest("CREATE", mutated));
  EXPECT_TRUE(again.response.patch.is_null());
  EXPECT_EQ(again.decision, "allowed");
  const json answer = json::parse(renderAdmissionReview(kAdmissionV1, again.response));
  EXPECT_FALSE(answer["response"].contains("patch"));
  // And an UPDATE of it later keeps it as it is.
  const auto update = controller.mutate(namespaceRequest("UPDATE", mutated, mutated));
  EXPECT_TRUE(update.response.patch.is_null());
}

TEST(NamespaceMutation, OnboardingMarkerIsRestoredWhenChanged) {
  const AdmissionController controller(loadConfig(), &cluster());
  const json old_object =
      namespaceObject("payments", {{"team", "pay"},
                                   {"env", "dev"},
                                   {"example.com/cost-center", "shared"},
                                   {"palisade.dev/onboarded", "true"}});
  json object = old_object;
  object["metadata"]["labels"]["palisade.dev/onboarded"] = "false";
  const auto outcome = controller.mutate(namespaceRequest("UPDATE", object, old_object));
  EXPECT_EQ(outcome.response.patch, json::parse(R"([
    {"op": "replace", "path": "/metadata/labels/palisade.dev~1onboarded", "value": "true"}
  ])"));
}

TEST(NamespaceMutation, TildeInAKeyIsEscapedInThePatchPath) {
  // The configuration refuses such a key (not a qualified name), but the
  // patch must be right for whatever key reaches it: '~' is "~0" in a pointer.
  auto config = std::make_shared<policy::Config>(*loadConfig());
  config->inherited_labels = {"a~b", "x/y~z"};
  const FakeCluster odd({{"odd", {{"a~b", "1"}, {"x/y~z", "2"}}}});
  const AdmissionController controller(config, &odd);
  const auto request = podRequest("odd", "CREATE", podObject("odd", {{"app", "web"}}));
  const auto outcome = controller.mutate(request);
  EXPECT_THAT(outcome.response.patch.dump(), AllOf(HasSubstr(R"("/metadata/labels/a~0b")"),
                                                   HasSubstr(R"("/metadata/labels/x~1y~0z")")));
  const json patched = applyAnswer(request, outcome);
  EXPECT_EQ(patched["metadata"]["labels"]["a~b"], "1");
  EXPECT_EQ(patched["metadata"]["labels"]["x/y~z"], "2");
}

TEST(NamespaceMutation, ExemptNamespacesAreLeftUntouched) {
  const AdmissionController controller(loadConfig(), &cluster());
  for (const char* name : {"kube-system", "kube-public", "kube-node-lease", "palisade-system",
                           "legacy"}) {
    const auto outcome = controller.mutate(namespaceRequest("CREATE", namespaceObject(name, {})));
    EXPECT_TRUE(outcome.response.allowed) << name;
    EXPECT_EQ(outcome.decision, "exempt") << name;
    EXPECT_TRUE(outcome.response.patch.is_null()) << name;
  }
}

TEST(NamespaceMutation, DeleteIsNotMutated) {
  const AdmissionController controller(loadConfig(), &cluster());
  const auto outcome = controller.mutate(
      namespaceRequest("DELETE", nullptr, namespaceObject("payments", {{"team", "pay"}})));
  EXPECT_TRUE(outcome.response.allowed);
  EXPECT_EQ(outcome.decision, "ignored");
  EXPECT_TRUE(outcome.response.patch.is_null());
}

// --- Namespaces: validation -----------------------------------------------

TEST(NamespaceValidation, MissingRequiredLabelIsDeniedInEnforceMode) {
  const AdmissionController controller(loadConfig(), &cluster());
  const auto outcome = controller.validate(
      namespaceRequest("CREATE", namespaceObject("payments", {{"env", "dev"}})));
  EXPECT_FALSE(outcome.response.allowed);
  EXPECT_EQ(outcome.decision, "denied");
  ASSERT_TRUE(outcome.response.status.has_value());
  EXPECT_EQ(outcome.response.status->code, 403);
  EXPECT_EQ(outcome.response.status->reason, "Forbidden");
  EXPECT_EQ(outcome.response.status->message, R"(Namespace payments: label "team" is required)");
}

TEST(NamespaceValidation, EveryViolationIsNamedInTheDenial) {
  const AdmissionController controller(loadConfig(), &cluster());
  const auto outcome = controller.validate(namespaceRequest(
      "CREATE", namespaceObject("payments", {{"team", "Payments"}, {"env", "qa"}})));
  ASSERT_TRUE(outcome.response.status.has_value());
  EXPECT_EQ(outcome.response.status->message,
            R"(Namespace payments: label "team" value "Payments" does not match )"
            R"(^[a-z][a-z0-9-]{1,30}$; )"
            R"(label "env" has value "qa"; allowed values: prod, staging, dev)");
}

TEST(NamespaceValidation, ConformingNamespaceIsAllowed) {
  const AdmissionController controller(loadConfig(), &cluster());
  const auto outcome = controller.validate(
      namespaceRequest("CREATE", namespaceObject("payments", {{"team", "pay"}, {"env", "prod"}})));
  EXPECT_TRUE(outcome.response.allowed);
  EXPECT_EQ(outcome.decision, "allowed");
  EXPECT_THAT(outcome.response.warnings, IsEmpty());
  EXPECT_FALSE(outcome.response.status.has_value());
}

TEST(NamespaceValidation, WarnModeLabelAdmitsWithOneWarningPerViolation) {
  const AdmissionController controller(loadConfig(), &cluster());
  const auto outcome = controller.validate(namespaceRequest(
      "CREATE", namespaceObject("sandbox", {{"env", "qa"}, {"palisade.dev/mode", "warn"}})));
  EXPECT_TRUE(outcome.response.allowed);
  EXPECT_EQ(outcome.decision, "warned");
  EXPECT_THAT(outcome.response.warnings,
              ElementsAre(R"(label "team" is required)",
                          R"(label "env" has value "qa"; allowed values: prod, staging, dev)"));
  EXPECT_THAT(outcome.response.audit_annotations, IsEmpty());
}

TEST(NamespaceValidation, AuditModeRecordsViolationsInAnAuditAnnotationOnly) {
  const AdmissionController controller(loadConfig(), &cluster());
  const auto outcome = controller.validate(namespaceRequest(
      "CREATE", namespaceObject("staging", {{"env", "staging"}, {"palisade.dev/mode", "audit"}})));
  EXPECT_TRUE(outcome.response.allowed);
  EXPECT_EQ(outcome.decision, "audited");
  EXPECT_THAT(outcome.response.warnings, IsEmpty());
  EXPECT_EQ(outcome.response.audit_annotations,
            (std::map<std::string, std::string>{{"violations", R"(label "team" is required)"}}));
}

TEST(NamespaceValidation, ConfiguredModeAppliesWithoutALabel) {
  std::string yaml(kPlatformConfig);
  yaml.replace(yaml.find("mode: enforce"), 13, "mode: warn");
  const AdmissionController controller(loadConfig(yaml), nullptr);
  const auto outcome = controller.validate(
      namespaceRequest("CREATE", namespaceObject("payments", {{"env", "dev"}})));
  EXPECT_TRUE(outcome.response.allowed);
  EXPECT_EQ(outcome.decision, "warned");
  EXPECT_THAT(outcome.response.warnings, ElementsAre(R"(label "team" is required)"));
}

TEST(NamespaceValidation, InvalidModeLabelIsItselfAViolationJudgedByTheConfiguredMode) {
  const AdmissionController controller(loadConfig(), &cluster());
  const auto outcome = controller.validate(namespaceRequest(
      "CREATE", namespaceObject("payments", {{"team", "pay"},
                                             {"env", "dev"},
                                             {"palisade.dev/mode", "off"}})));
  EXPECT_FALSE(outcome.response.allowed);
  ASSERT_TRUE(outcome.response.status.has_value());
  EXPECT_EQ(outcome.response.status->message,
            R"(Namespace payments: label "palisade.dev/mode" has value "off"; )"
            R"(valid modes: enforce, warn, audit)");
}

TEST(NamespaceValidation, UpdateMayNotRemoveARequiredLabel) {
  const AdmissionController controller(loadConfig(), &cluster());
  const json old_object = namespaceObject("payments", {{"team", "pay"}, {"env", "dev"}});
  const json object = namespaceObject("payments", {{"env", "dev"}});
  const auto outcome = controller.validate(namespaceRequest("UPDATE", object, old_object));
  EXPECT_FALSE(outcome.response.allowed);
  ASSERT_TRUE(outcome.response.status.has_value());
  // Reported once, as a removal.
  EXPECT_EQ(outcome.response.status->message,
            R"(Namespace payments: label "team" is required and cannot be removed)");
}

TEST(NamespaceValidation, UpdateThatKeepsTheLabelsConformingIsAllowed) {
  const AdmissionController controller(loadConfig(), &cluster());
  const json old_object = namespaceObject("payments", {{"team", "pay"}, {"env", "dev"}});
  const json object = namespaceObject("payments", {{"team", "payments"}, {"env", "prod"}});
  EXPECT_TRUE(controller.validate(namespaceRequest("UPDATE", object, old_object)).response.allowed);
}

TEST(NamespaceValidation, DeleteIsAllowed) {
  const AdmissionController controller(loadConfig(), &cluster());
  const auto outcome = controller.validate(
      namespaceRequest("DELETE", nullptr, namespaceObject("payments", {{"env", "dev"}})));
  EXPECT_TRUE(outcome.response.allowed);
  EXPECT_EQ(outcome.decision, "allowed");
}

TEST(NamespaceValidation, NamespaceBeingDeletedCanDropItsFinalizers) {
  const AdmissionController controller(loadConfig(), &cluster());
  json old_object = namespaceObject("payments", nullptr);
  old_object["metadata"]["deletionTimestamp"] = "2025-05-01T10:00:00Z";
  old_object["metadata"]["finalizers"] = {"example.com/cleanup"};
  json object = old_object;
  object["metadata"].erase("finalizers");
  const auto outcome = controller.validate(namespaceRequest("UPDATE", object, old_object));
  EXPECT_TRUE(outcome.response.allowed);
}

TEST(NamespaceValidation, ExemptNamespacesAreNotChecked) {
  const AdmissionController controller(loadConfig(), &cluster());
  for (const char* name : {"kube-system", "palisade-system", "legacy"}) {
    const auto outcome = controller.validate(namespaceRequest("CREATE", namespaceObject(name, {})));
    EXPECT_TRUE(outcome.response.allowed) << name;
    EXPECT_EQ(outcome.decision, "exempt") << name;
  }
}

TEST(NamespaceValidation, LabelOfTheWrongTypeIsABadRequestNamingTheField) {
  const AdmissionController controller(loadConfig(), &cluster());
  const auto request = namespaceRequest("CREATE", namespaceObject("payments", {{"team", 7}}));
  for (const auto& outcome : {controller.mutate(request), controller.validate(request)}) {
    EXPECT_FALSE(outcome.response.allowed);
    ASSERT_TRUE(outcome.response.status.has_value());
    EXPECT_EQ(outcome.response.status->code, 400);
    EXPECT_EQ(outcome.response.status->reason, "BadRequest");
    EXPECT_EQ(outcome.response.status->message,
              "Namespace payments: metadata.labels[team]: expected string, got integer");
    EXPECT_EQ(outcome.response.uid, request.uid);
  }
}

// --- Pods: mutation -------------------------------------------------------

TEST(PodMutation, InheritsNamespaceLabelsAndAddsDefaults) {
  const AdmissionController controller(loadConfig(), &cluster());
  const auto request = podRequest("shop", "CREATE", podObject("shop", {{"app", "web"}}));
  const auto outcome = controller.mutate(request);
  EXPECT_EQ(outcome.decision, "mutated");
  EXPECT_THAT(outcome.response.warnings, IsEmpty());
  const json patched = applyAnswer(request, outcome);
  EXPECT_EQ(patched["metadata"]["labels"], json({{"app", "web"},
                                                 {"team", "shop"},
                                                 {"env", "prod"},
                                                 {"example.com/tier", "backend"}}));
  // Only the labels changed.
  json rest = patched;
  rest["metadata"].erase("labels");
  json original = request.object;
  original["metadata"].erase("labels");
  EXPECT_EQ(rest, original);
}

TEST(PodMutation, LabelsThePodAlreadyHasAreKept) {
  const AdmissionController controller(loadConfig(), &cluster());
  const auto request = podRequest(
      "shop", "CREATE",
      podObject("shop", {{"app", "db"}, {"env", "prod"}, {"example.com/tier", "data"}}));
  const json patched = applyAnswer(request, controller.mutate(request));
  EXPECT_EQ(patched["metadata"]["labels"],
            json({{"app", "db"}, {"team", "shop"}, {"env", "prod"}, {"example.com/tier", "data"}}));
}

TEST(PodMutation, MutatingTheMutatedPodAgainChangesNothing) {
  const AdmissionController controller(loadConfig(), &cluster());
  const auto first = podRequest("shop", "CREATE", podObject("shop", {{"app", "web"}}));
  const json mutated = applyAnswer(first, controller.mutate(first));
  const auto again = controller.mutate(podRequest("shop", "CREATE", mutated));
  EXPECT_TRUE(again.response.patch.is_null());
  EXPECT_EQ(again.decision, "allowed");
}

TEST(PodMutation, WithoutAnApiConnectionInheritanceIsSkippedWithAWarning) {
  const AdmissionController controller(loadConfig(), nullptr);
  const auto request = podRequest("shop", "CREATE", podObject("shop", {{"app", "web"}}));
  const auto outcome = controller.mutate(request);
  EXPECT_THAT(outcome.response.warnings,
              ElementsAre(R"(labels not inherited from namespace "shop": )"
                          R"(the webhook has no connection to the API)"));
  // Defaults still apply.
  EXPECT_EQ(applyAnswer(request, outcome)["metadata"]["labels"],
            json({{"app", "web"}, {"example.com/tier", "backend"}}));
}

TEST(PodMutation, UnknownNamespaceSkipsInheritanceWithAWarning) {
  const AdmissionController controller(loadConfig(), &cluster());
  const auto outcome = controller.mutate(
      podRequest("brand-new", "CREATE", podObject("brand-new", {{"app", "web"}})));
  EXPECT_THAT(outcome.response.warnings,
              ElementsAre(R"(labels not inherited from namespace "brand-new": )"
                          R"(the namespace is not known yet)"));
}

TEST(PodMutation, NoWarningWhenThePodAlreadyCarriesTheInheritedLabels) {
  const AdmissionController controller(loadConfig(), nullptr);
  const auto outcome = controller.mutate(
      podRequest("shop", "CREATE", podObject("shop", {{"app", "web"}, {"team", "shop"},
                                                      {"env", "prod"}})));
  EXPECT_THAT(outcome.response.warnings, IsEmpty());
}

TEST(PodMutation, ExemptNamespacesStatusUpdatesAndDeletesAreUntouched) {
  const AdmissionController controller(loadConfig(), &cluster());
  const auto exempt = controller.mutate(
      podRequest("kube-system", "CREATE", podObject("kube-system", json::object())));
  EXPECT_EQ(exempt.decision, "exempt");
  EXPECT_TRUE(exempt.response.patch.is_null());

  const json pod = podObject("shop", {{"app", "web"}});
  AdmissionRequest status = podRequest("shop", "UPDATE", pod, pod);
  status.sub_resource = "status";
  EXPECT_EQ(controller.mutate(status).decision, "ignored");
  EXPECT_TRUE(controller.mutate(status).response.patch.is_null());

  const auto deleted = controller.mutate(podRequest("shop", "DELETE", nullptr, pod));
  EXPECT_EQ(deleted.decision, "ignored");
  EXPECT_TRUE(deleted.response.allowed);
}

// --- Pods: validation -----------------------------------------------------

TEST(PodValidation, MissingAppIsDeniedWithTheGenerateNameInTheMessage) {
  const AdmissionController controller(loadConfig(), &cluster());
  const auto outcome = controller.validate(podRequest(
      "shop", "CREATE",
      podObject("shop", {{"team", "shop"}, {"env", "prod"}, {"example.com/tier", "backend"}})));
  EXPECT_FALSE(outcome.response.allowed);
  ASSERT_TRUE(outcome.response.status.has_value());
  EXPECT_EQ(outcome.response.status->code, 403);
  EXPECT_EQ(outcome.response.status->message,
            R"(Pod shop/web-7d9f8b6c5d-: label "app" is required)");
}

TEST(PodValidation, InheritedLabelDifferentFromTheNamespaceIsAConflict) {
  const AdmissionController controller(loadConfig(), &cluster());
  const auto outcome = controller.validate(podRequest(
      "shop", "CREATE",
      podObject("shop", {{"app", "web"}, {"team", "payments"}, {"env", "prod"},
                         {"example.com/tier", "backend"}})));
  EXPECT_FALSE(outcome.response.allowed);
  ASSERT_TRUE(outcome.response.status.has_value());
  EXPECT_EQ(outcome.response.status->message,
            R"(Pod shop/web-7d9f8b6c5d-: inherited label "team" is "payments" but the )"
            R"(namespace has "shop")");
}

TEST(PodValidation, ConflictsAreNotCheckedWhenTheNamespaceIsUnknown) {
  const AdmissionController controller(loadConfig(), nullptr);
  const auto outcome = controller.validate(podRequest(
      "shop", "CREATE",
      podObject("shop", {{"app", "web"}, {"team", "payments"}, {"example.com/tier", "data"}})));
  EXPECT_TRUE(outcome.response.allowed);
  EXPECT_EQ(outcome.decision, "allowed");
}

TEST(PodValidation, NamespaceModeLabelDecidesForItsPods) {
  const AdmissionController controller(loadConfig(), &cluster());
  const json pod = podObject("sandbox", {{"team", "platform"}, {"env", "dev"},
                                         {"example.com/tier", "frontend"}});
  const auto warned = controller.validate(podRequest("sandbox", "CREATE", pod));
  EXPECT_TRUE(warned.response.allowed);
  EXPECT_EQ(warned.decision, "warned");
  EXPECT_THAT(warned.response.warnings, ElementsAre(R"(label "app" is required)"));

  json staging_pod = pod;
  staging_pod["metadata"]["labels"] = {{"team", "shop"}, {"env", "staging"},
                                       {"example.com/tier", "frontend"}};
  const auto audited = controller.validate(podRequest("staging", "CREATE", staging_pod));
  EXPECT_TRUE(audited.response.allowed);
  EXPECT_EQ(audited.decision, "audited");
  EXPECT_EQ(audited.response.audit_annotations.at("violations"), R"(label "app" is required)");
}

TEST(PodValidation, UnknownNamespaceUsesTheConfiguredMode) {
  const AdmissionController controller(loadConfig(), &cluster());
  const auto outcome = controller.validate(
      podRequest("brand-new", "CREATE", podObject("brand-new", {{"example.com/tier", "data"}})));
  EXPECT_FALSE(outcome.response.allowed);
  EXPECT_EQ(outcome.decision, "denied");
}

TEST(PodValidation, DeleteIsAllowed) {
  const AdmissionController controller(loadConfig(), &cluster());
  const auto outcome = controller.validate(
      podRequest("shop", "DELETE", nullptr, podObject("shop", json::object())));
  EXPECT_TRUE(outcome.response.allowed);
  EXPECT_EQ(outcome.decision, "allowed");
}

TEST(PodValidation, ExemptNamespacesAreNotChecked) {
  const AdmissionController controller(loadConfig(), &cluster());
  for (const char* ns : {"kube-system", "palisade-system", "legacy"}) {
    const auto outcome =
        controller.validate(podRequest(ns, "CREATE", podObject(ns, json::object())));
    EXPECT_TRUE(outcome.response.allowed) << ns;
    EXPECT_EQ(outcome.decision, "exempt") << ns;
  }
}

TEST(PodValidation, NonStringLabelIsABadRequestNamingTheField) {
  const AdmissionController controller(loadConfig(), &cluster());
  const auto outcome = controller.validate(
      podRequest("shop", "CREATE", podObject("shop", {{"app", {{"name", "web"}}}})));
  EXPECT_FALSE(outcome.response.allowed);
  ASSERT_TRUE(outcome.response.status.has_value());
  EXPECT_EQ(outcome.response.status->code, 400);
  EXPECT_EQ(outcome.response.status->message,
            "Pod shop/web-7d9f8b6c5d-: metadata.labels[app]: expected string, got object");
}

// --- Pods: the coverage gate ------------------------------------------------

policy::NetworkPolicy policySelecting(std::string ns, policy::Labels match_labels) {
  policy::NetworkPolicy selecting;
  selecting.metadata.name = "allow-db";
  selecting.metadata.namespace_name = std::move(ns);
  selecting.spec.pod_selector.match_labels = std::move(match_labels);
  selecting.spec.policy_types = {"Ingress"};
  return selecting;
}

const FakeCluster& clusterWithOnlyADatabasePolicy() {
  static const FakeCluster kCluster(
      {{"shop", {{"team", "shop"}, {"env", "prod"}}},
       {"sandbox", {{"team", "platform"}, {"env", "dev"}, {"palisade.dev/mode", "warn"}}}},
      {{"shop", {policySelecting("shop", {{"app", "db"}})}},
       {"sandbox", {policySelecting("sandbox", {{"app", "db"}})}}});
  return kCluster;
}

const json kShopWebLabels = {
    {"app", "web"}, {"team", "shop"}, {"env", "prod"}, {"example.com/tier", "backend"}};

TEST(PodCoverage, APodNoPolicySelectsIsDeniedSayingHowToFixIt) {
  const AdmissionController controller(loadConfig(), &clusterWithOnlyADatabasePolicy());
  const auto outcome =
      controller.validate(podRequest("shop", "CREATE", podObject("shop", kShopWebLabels)));
  EXPECT_FALSE(outcome.response.allowed);
  ASSERT_TRUE(outcome.response.status.has_value());
  EXPECT_EQ(outcome.response.status->code, 403);
  EXPECT_EQ(outcome.response.status->message,
            R"(Pod shop/web-7d9f8b6c5d-: no NetworkPolicy in namespace "shop" selects this pod; )"
            R"(add one (onboarding's default-deny selects all))");
}

TEST(PodCoverage, APodSomePolicySelectsIsAdmitted) {
  const AdmissionController controller(loadConfig(), &clusterWithOnlyADatabasePolicy());
  json labels = kShopWebLabels;
  labels["app"] = "db";
  const auto outcome =
      controller.validate(podRequest("shop", "CREATE", podObject("shop", labels)));
  EXPECT_TRUE(outcome.response.allowed);
  EXPECT_EQ(outcome.decision, "allowed");
  EXPECT_TRUE(outcome.response.warnings.empty());
}

TEST(PodCoverage, TheOnboardingDefaultDenyCoversEveryPod) {
  const AdmissionController controller(loadConfig(), &cluster());
  const auto outcome =
      controller.validate(podRequest("shop", "CREATE", podObject("shop", kShopWebLabels)));
  EXPECT_TRUE(outcome.response.allowed);
  EXPECT_TRUE(outcome.response.warnings.empty());
}

TEST(PodCoverage, WarnModeAdmitsAnUncoveredPodWithAWarning) {
  const AdmissionController controller(loadConfig(), &clusterWithOnlyADatabasePolicy());
  const auto outcome = controller.validate(podRequest(
      "sandbox", "CREATE",
      podObject("sandbox", {{"app", "web"}, {"team", "platform"}, {"env", "dev"},
                            {"example.com/tier", "backend"}})));
  EXPECT_TRUE(outcome.response.allowed);
  EXPECT_EQ(outcome.decision, "warned");
  EXPECT_THAT(outcome.response.warnings,
              ElementsAre(R"(no NetworkPolicy in namespace "sandbox" selects this pod; add one )"
                          R"((onboarding's default-deny selects all))"));
}

TEST(PodCoverage, TurnedOffInTheConfigurationItAdmitsUncoveredPods) {
  const AdmissionController controller(
      loadConfig(std::string(kPlatformConfig) + "  requireNetworkPolicy: false\n"),
      &clusterWithOnlyADatabasePolicy());
  const auto outcome =
      controller.validate(podRequest("shop", "CREATE", podObject("shop", kShopWebLabels)));
  EXPECT_TRUE(outcome.response.allowed);
  EXPECT_EQ(outcome.decision, "allowed");
}

TEST(PodCoverage, UnknownPoliciesAdmitThePodAndSaySoInAWarning) {
  const AdmissionController without_api(loadConfig(), nullptr);
  const auto outcome =
      without_api.validate(podRequest("shop", "CREATE", podObject("shop", kShopWebLabels)));
  EXPECT_TRUE(outcome.response.allowed);
  EXPECT_THAT(outcome.response.warnings,
              ElementsAre("NetworkPolicy coverage not checked: the webhook has no connection to "
                          "the API"));

  const AdmissionController unsynced(loadConfig(), &cluster());
  const auto unknown = unsynced.validate(
      podRequest("brand-new", "CREATE", podObject("brand-new", kShopWebLabels)));
  EXPECT_THAT(unknown.response.warnings,
              Contains("NetworkPolicy coverage not checked: policies not synced yet"));
}

TEST(PodCoverage, ExemptNamespacesAreNotGated) {
  const AdmissionController controller(loadConfig(), &clusterWithOnlyADatabasePolicy());
  const auto outcome = controller.validate(
      podRequest("kube-system", "CREATE", podObject("kube-system", kShopWebLabels)));
  EXPECT_TRUE(outcome.response.allowed);
  EXPECT_EQ(outcome.decision, "exempt");
}

// --- Pod controllers --------------------------------------------------------

struct WorkloadKind {
  const char* group;
  const char* api_version;
  const char* kind;
  const char* resource;
  const char* labels_path;
};

constexpr WorkloadKind kWorkloadKinds[] = {
    {"apps", "apps/v1", "Deployment", "deployments", "spec.template.metadata.labels"},
    {"apps", "apps/v1", "StatefulSet", "statefulsets", "spec.template.metadata.labels"},
    {"apps", "apps/v1", "DaemonSet", "daemonsets", "spec.template.metadata.labels"},
    {"apps", "apps/v1", "ReplicaSet", "replicasets", "spec.template.metadata.labels"},
    {"batch", "batch/v1", "Job", "jobs", "spec.template.metadata.labels"},
    {"batch", "batch/v1", "CronJob", "cronjobs",
     "spec.jobTemplate.spec.template.metadata.labels"},
};

TEST(WorkloadValidation, TemplateWithoutAppIsDeniedWithTheTemplatePath) {
  const AdmissionController controller(loadConfig(), &cluster());
  for (const auto& kind : kWorkloadKinds) {
    const auto outcome = controller.validate(workloadRequest(
        kind.group, kind.kind, kind.resource,
        workloadObject(kind.api_version, kind.kind, "checkout", {{"component", "checkout"}})));
    EXPECT_FALSE(outcome.response.allowed) << kind.kind;
    ASSERT_TRUE(outcome.response.status.has_value()) << kind.kind;
    EXPECT_EQ(outcome.response.status->code, 403);
    EXPECT_EQ(outcome.response.status->message,
              std::string(kind.kind) + " shop/checkout: " + kind.labels_path +
                  R"(: label "app" is required)");
  }
}

TEST(WorkloadValidation, LabelsThePodMutationWillAddAreNotErrors) {
  const AdmissionController controller(loadConfig(), &cluster());
  for (const auto& kind : kWorkloadKinds) {
    // team and env come from the namespace, the tier from its default.
    const auto outcome = controller.validate(workloadRequest(
        kind.group, kind.kind, kind.resource,
        workloadObject(kind.api_version, kind.kind, "checkout", {{"app", "checkout"}})));
    EXPECT_TRUE(outcome.response.allowed) << kind.kind << ": " << outcome.reason;
    EXPECT_EQ(outcome.decision, "allowed") << kind.kind;
  }
}

TEST(WorkloadValidation, CronJobTemplateValueIsCheckedWhereItIsWritten) {
  const AdmissionController controller(loadConfig(), &cluster());
  const auto outcome = controller.validate(workloadRequest(
      "batch", "CronJob", "cronjobs",
      workloadObject("batch/v1", "CronJob", "nightly-report",
                     {{"app", "report"}, {"example.com/tier", "batch"}, {"team", "finance"}})));
  EXPECT_FALSE(outcome.response.allowed);
  ASSERT_TRUE(outcome.response.status.has_value());
  EXPECT_EQ(outcome.response.status->message,
            R"(CronJob shop/nightly-report: spec.jobTemplate.spec.template.metadata.labels: )"
            R"(label "example.com/tier" has value "batch"; )"
            R"(allowed values: frontend, backend, data; )"
            R"(spec.jobTemplate.spec.template.metadata.labels: inherited label "team" is )"
            R"("finance" but the namespace has "shop")");
}

TEST(WorkloadValidation, TemplateOfTheWrongShapeIsABadRequest) {
  const AdmissionController controller(loadConfig(), &cluster());
  json deployment = workloadObject("apps/v1", "Deployment", "web", {{"app", "web"}});
  deployment["spec"]["template"] = "nginx";
  auto outcome =
      controller.validate(workloadRequest("apps", "Deployment", "deployments", deployment));
  ASSERT_TRUE(outcome.response.status.has_value());
  EXPECT_EQ(outcome.response.status->code, 400);
  EXPECT_EQ(outcome.response.status->message,
            "Deployment shop/web: spec.template: expected object, got string");

  deployment["spec"]["template"] = {{"metadata", {{"labels", {{"app", true}}}}}};
  outcome = controller.validate(workloadRequest("apps", "Deployment", "deployments", deployment));
  ASSERT_TRUE(outcome.response.status.has_value());
  EXPECT_EQ(outcome.response.status->message,
            "Deployment shop/web: spec.template.metadata.labels[app]: "
            "expected string, got boolean");
}

TEST(WorkloadValidation, WarnModeNamespaceGetsWarningsWithThePath) {
  const AdmissionController controller(loadConfig(), &cluster());
  json deployment = workloadObject("apps/v1", "Deployment", "web", json::object());
  deployment["metadata"]["namespace"] = "sandbox";
  auto request = workloadRequest("apps", "Deployment", "deployments", deployment);
  request.namespace_name = "sandbox";
  const auto outcome = controller.validate(request);
  EXPECT_TRUE(outcome.response.allowed);
  EXPECT_THAT(outcome.response.warnings,
              ElementsAre(R"(spec.template.metadata.labels: label "app" is required)"));
}

TEST(WorkloadValidation, ControllersAreNotMutated) {
  const AdmissionController controller(loadConfig(), &cluster());
  const auto outcome = controller.mutate(workloadRequest(
      "apps", "Deployment", "deployments",
      workloadObject("apps/v1", "Deployment", "web", json::object())));
  EXPECT_TRUE(outcome.response.allowed);
  EXPECT_EQ(outcome.decision, "ignored");
  EXPECT_TRUE(outcome.response.patch.is_null());
}

TEST(WorkloadValidation, ScaleSubresourceIsIgnored) {
  const AdmissionController controller(loadConfig(), &cluster());
  auto request = workloadRequest("apps", "Deployment", "deployments",
                                 workloadObject("apps/v1", "Deployment", "web", json::object()));
  request.sub_resource = "scale";
  request.operation = Operation::kUpdate;
  const auto outcome = controller.validate(request);
  EXPECT_TRUE(outcome.response.allowed);
  EXPECT_EQ(outcome.decision, "ignored");
}

// --- updates of objects that broke the taxonomy before ------------------------

TEST(UpdateValidation, UpdateThatLeavesNonConformingLabelsAloneIsOnlyWarned) {
  const AdmissionController controller(loadConfig(), &cluster());
  json old_pod = podObject("shop", {{"team", "shop"}, {"env", "prod"}});
  json pod = old_pod;
  pod["metadata"]["annotations"] = {{"example.com/owner", "alice"}};
  const auto outcome = controller.validate(podRequest("shop", "UPDATE", pod, old_pod));
  EXPECT_TRUE(outcome.response.allowed);
  EXPECT_EQ(outcome.decision, "warned");
  EXPECT_THAT(outcome.response.warnings, Contains(HasSubstr("\"app\"")));
}

TEST(UpdateValidation, UpdateThatChangesLabelsIsHeldToTheTaxonomy) {
  const AdmissionController controller(loadConfig(), &cluster());
  const json old_pod = podObject("shop", {{"team", "shop"}, {"env", "prod"}});
  const json pod = podObject("shop", {{"team", "shop"}, {"env", "prod"}, {"tier", "web"}});
  const auto outcome = controller.validate(podRequest("shop", "UPDATE", pod, old_pod));
  EXPECT_FALSE(outcome.response.allowed);
}

TEST(UpdateValidation, ScalingADeploymentWithANonConformingTemplateIsOnlyWarned) {
  const AdmissionController controller(loadConfig(), &cluster());
  json old_object = workloadObject("apps/v1", "Deployment", "web", {{"tier", "web"}});
  json object = old_object;
  object["spec"]["replicas"] = 5;
  AdmissionRequest request = workloadRequest("apps", "Deployment", "deployments", object);
  request.operation = Operation::kUpdate;
  request.old_object = old_object;
  const auto outcome = controller.validate(request);
  EXPECT_TRUE(outcome.response.allowed);
  EXPECT_EQ(outcome.decision, "warned");

  object["spec"]["template"]["metadata"]["labels"]["tier"] = "frontend";
  request.object = object;
  EXPECT_FALSE(controller.validate(request).response.allowed);
}

// --- NetworkPolicies --------------------------------------------------------

TEST(NetworkPolicyValidation, ManagedPolicyCannotBeDeletedByAnotherUser) {
  const AdmissionController controller(loadConfig(), &cluster());
  const auto request =
      policyRequest("DELETE", "alice@example.com", nullptr, managedDefaultDeny("shop"));
  const auto outcome = controller.validate(request);
  EXPECT_FALSE(outcome.response.allowed);
  EXPECT_EQ(outcome.response.uid, request.uid);
  ASSERT_TRUE(outcome.response.status.has_value());
  EXPECT_EQ(outcome.response.status->code, 403);
  EXPECT_EQ(outcome.response.status->reason, "Forbidden");
  EXPECT_EQ(outcome.response.status->message,
            "NetworkPolicy shop/palisade-default-deny is managed by Palisade (label "
            "app.kubernetes.io/managed-by=palisade); only "
            "system:serviceaccount:palisade-system:palisade-webhook may create, change or delete "
            "it. To opt out, add \"shop\" to exemptNamespaces in the Palisade configuration, then "
            "delete it");
}

TEST(NetworkPolicyValidation, ManagedPolicyCanBeDeletedByPalisadesServiceAccount) {
  const AdmissionController controller(loadConfig(), &cluster());
  const auto outcome = controller.validate(
      policyRequest("DELETE", kServiceAccount, nullptr, managedDefaultDeny("shop")));
  EXPECT_TRUE(outcome.response.allowed);
}

TEST(NetworkPolicyValidation, NamespaceControllerMayDeleteManagedPoliciesOfADeletedNamespace) {
  const AdmissionController controller(loadConfig(), &cluster());
  for (const char* user : {"system:serviceaccount:kube-system:namespace-controller",
                           "system:kube-controller-manager"}) {
    EXPECT_TRUE(
        controller.validate(policyRequest("DELETE", user, nullptr, managedDefaultDeny("shop")))
            .response.allowed)
        << user;
    EXPECT_FALSE(controller
                     .validate(policyRequest("UPDATE", user, managedDefaultDeny("shop"),
                                             managedDefaultDeny("shop")))
                     .response.allowed)
        << user;
  }
}

TEST(NetworkPolicyValidation, EditingOrUnlabellingAManagedPolicyIsDenied) {
  const AdmissionController controller(loadConfig(), &cluster());
  json widened = managedDefaultDeny("shop");
  widened["spec"]["policyTypes"] = {"Ingress"};
  EXPECT_FALSE(controller
                   .validate(policyRequest("UPDATE", "alice@example.com", widened,
                                           managedDefaultDeny("shop")))
                   .response.allowed);
  json unlabelled = managedDefaultDeny("shop");
  unlabelled["metadata"].erase("labels");
  EXPECT_FALSE(controller
                   .validate(policyRequest("UPDATE", "alice@example.com", unlabelled,
                                           managedDefaultDeny("shop")))
                   .response.allowed);
  EXPECT_TRUE(controller
                  .validate(policyRequest("UPDATE", kServiceAccount, widened,
                                          managedDefaultDeny("shop")))
                  .response.allowed);
}

TEST(NetworkPolicyValidation, ForgingAManagedPolicyIsDenied) {
  const AdmissionController controller(loadConfig(), &cluster());
  const auto outcome = controller.validate(
      policyRequest("CREATE", "alice@example.com", managedDefaultDeny("shop")));
  EXPECT_FALSE(outcome.response.allowed);
  EXPECT_THAT(outcome.reason, HasSubstr("is managed by Palisade"));
  EXPECT_TRUE(
      controller.validate(policyRequest("CREATE", kServiceAccount, managedDefaultDeny("shop")))
          .response.allowed);
}

// Palisade manages nothing in an exempt namespace, so what it left there
// before the namespace was exempted is its owners' to remove.
TEST(NetworkPolicyValidation, ManagedPoliciesInExemptNamespacesBelongToTheirOwners) {
  const AdmissionController controller(loadConfig(), &cluster());
  for (const char* ns : {"legacy", "kube-system"}) {
    const auto outcome = controller.validate(
        policyRequest("DELETE", "alice@example.com", nullptr, managedDefaultDeny(ns)));
    EXPECT_TRUE(outcome.response.allowed) << ns;
    EXPECT_EQ(outcome.decision, "exempt") << ns;
  }
}

TEST(NetworkPolicyValidation, OtherPoliciesMayBeDeletedByAnyone) {
  const AdmissionController controller(loadConfig(), &cluster());
  const auto outcome = controller.validate(policyRequest(
      "DELETE", "alice@example.com", nullptr,
      policyObject("shop", "allow-frontend", {{"team", "shop"}}, defaultDenySpec())));
  EXPECT_TRUE(outcome.response.allowed);
  EXPECT_EQ(outcome.decision, "allowed");
}

TEST(NetworkPolicyValidation, MalformedPolicyIsABadRequestWithTheFieldPath) {
  const AdmissionController controller(loadConfig(), &cluster());
  const auto outcome = controller.validate(policyRequest(
      "CREATE", "alice@example.com",
      policyObject("shop", "allow-web", nullptr, json::parse(R"({
        "podSelector": {}, "ingress": [{"ports": [{"port": true}]}]
      })"))));
  EXPECT_FALSE(outcome.response.allowed);
  ASSERT_TRUE(outcome.response.status.has_value());
  EXPECT_EQ(outcome.response.status->code, 400);
  EXPECT_EQ(outcome.response.status->reason, "BadRequest");
  EXPECT_EQ(outcome.response.status->message,
            "NetworkPolicy shop/allow-web: spec.ingress[0].ports[0].port: "
            "expected integer or string, got boolean");
}

TEST(NetworkPolicyValidation, InvalidPolicyIsDeniedWithTheApiserversMessage) {
  const AdmissionController controller(loadConfig(), &cluster());
  const auto outcome = controller.validate(policyRequest(
      "CREATE", "alice@example.com",
      policyObject("shop", "allow-web", nullptr,
                   json::parse(R"({"podSelector": {}, "ingress": [{"ports": [{"port": 0}]}]})"))));
  EXPECT_FALSE(outcome.response.allowed);
  ASSERT_TRUE(outcome.response.status.has_value());
  EXPECT_EQ(outcome.response.status->code, 400);
  EXPECT_THAT(outcome.response.status->message,
              StartsWith("NetworkPolicy shop/allow-web: spec.ingress[0].ports[0].port: Invalid "
                         "value: 0: "));
}

TEST(NetworkPolicyValidation, LintFindingsBecomeWarningsOfAtMost120Characters) {
  const AdmissionController controller(loadConfig(), &cluster());
  const auto request = policyRequest(
      "CREATE", "alice@example.com",
      policyObject("shop", "allow-everything-out", nullptr, json::parse(R"({
        "podSelector": {},
        "policyTypes": ["Egress"],
        "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]
      })")));
  const auto outcome = controller.validate(request);
  EXPECT_TRUE(outcome.response.allowed);
  EXPECT_EQ(outcome.decision, "warned");
  ASSERT_THAT(outcome.response.warnings, ::testing::Not(IsEmpty()));
  EXPECT_THAT(outcome.response.warnings, ::testing::Contains(HasSubstr("spec.egress[0]")));
  const json answer = json::parse(renderAdmissionReview(kAdmissionV1, outcome.response));
  ASSERT_EQ(answer["response"]["warnings"].size(), outcome.response.warnings.size());
  for (const auto& warning : answer["response"]["warnings"]) {
    EXPECT_LE(warning.get<std::string>().size(), 120u) << warning;
  }
}

TEST(NetworkPolicyValidation, NarrowPolicyIsAllowedWithoutWarnings) {
  const AdmissionController controller(loadConfig(), &cluster());
  const auto outcome = controller.validate(policyRequest(
      "CREATE", "alice@example.com",
      policyObject("shop", "allow-frontend-to-api", nullptr, json::parse(R"({
        "podSelector": {"matchLabels": {"app": "api"}},
        "policyTypes": ["Ingress"],
        "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "frontend"}}}],
                     "ports": [{"protocol": "TCP", "port": 8080}]}]
      })"))));
  EXPECT_TRUE(outcome.response.allowed);
  EXPECT_EQ(outcome.decision, "allowed");
  EXPECT_THAT(outcome.response.warnings, IsEmpty());
}

TEST(NetworkPolicyValidation, ExemptNamespaceIsNotLinted) {
  const AdmissionController controller(loadConfig(), &cluster());
  const auto outcome = controller.validate(policyRequest(
      "CREATE", "alice@example.com",
      policyObject("legacy", "anything", nullptr, json::parse(R"({
        "podSelector": {}, "egress": [{}], "policyTypes": ["Egress"]
      })"))));
  EXPECT_TRUE(outcome.response.allowed);
  EXPECT_EQ(outcome.decision, "exempt");
  EXPECT_THAT(outcome.response.warnings, IsEmpty());
}

TEST(NetworkPolicyValidation, PoliciesAreNotMutated) {
  const AdmissionController controller(loadConfig(), &cluster());
  const auto outcome = controller.mutate(
      policyRequest("CREATE", "alice@example.com", managedDefaultDeny("shop")));
  EXPECT_TRUE(outcome.response.allowed);
  EXPECT_EQ(outcome.decision, "ignored");
}

// --- Everything else --------------------------------------------------------

TEST(AdmissionController, OtherKindsAreIgnored) {
  const AdmissionController controller(loadConfig(), &cluster());
  const auto request = review(
      {{"kind", {{"group", ""}, {"version", "v1"}, {"kind", "ConfigMap"}}},
       {"resource", {{"group", ""}, {"version", "v1"}, {"resource", "configmaps"}}},
       {"name", "settings"},
       {"namespace", "shop"},
       {"object",
        {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "settings"}}}}}});
  for (const auto& outcome : {controller.mutate(request), controller.validate(request)}) {
    EXPECT_TRUE(outcome.response.allowed);
    EXPECT_EQ(outcome.decision, "ignored");
    EXPECT_EQ(outcome.response.uid, request.uid);
  }
}

TEST(AdmissionController, PodExecIsIgnored) {
  const AdmissionController controller(loadConfig(), &cluster());
  const auto request =
      review({{"kind", {{"group", ""}, {"version", "v1"}, {"kind", "PodExecOptions"}}},
              {"resource", {{"group", ""}, {"version", "v1"}, {"resource", "pods"}}},
              {"subResource", "exec"},
              {"name", "web-7d9f8b6c5d-x2x7q"},
              {"namespace", "shop"},
              {"operation", "CONNECT"},
              {"object", {{"kind", "PodExecOptions"}, {"apiVersion", "v1"}, {"stdin", true}}}});
  EXPECT_EQ(controller.validate(request).decision, "ignored");
}

TEST(AdmissionController, ObjectThatIsNotAnObjectIsABadRequestNotACrash) {
  const AdmissionController controller(loadConfig(), &cluster());
  // The decoder only ever produces objects or null here; a null object on
  // CREATE is what a confused client could send.
  AdmissionRequest request = podRequest("shop", "CREATE", nullptr);
  for (const auto& outcome : {controller.mutate(request), controller.validate(request)}) {
    EXPECT_FALSE(outcome.response.allowed);
    ASSERT_TRUE(outcome.response.status.has_value());
    EXPECT_EQ(outcome.response.status->code, 400);
    EXPECT_EQ(outcome.response.uid, request.uid);
  }
  request.object = json::array({1, 2});
  EXPECT_EQ(controller.validate(request).response.status->code, 400);
  EXPECT_EQ(controller.mutate(request).response.status->code, 400);
}

}  // namespace
}  // namespace palisade::server
