#include "policy/validation.h"

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "policy/json_codec.h"

// Every expected string below is the message kube-apiserver 1.36 prints for the
// same object (see validation.cpp for the sources it follows).

namespace palisade::policy {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

const std::string kSubdomainRegexMessage =
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const std::string kLabelRegexMessage =
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const std::string kLabelValueRegexMessage =
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const std::string kKeyNameRegexMessage =
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
    "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const std::string kInvalidCidrMessage =
    "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)";

std::vector<std::string> rendered(const FieldErrors& errors) {
  std::vector<std::string> out;
  for (const FieldError& error : errors) {
    out.push_back(error.toString());
  }
  return out;
}

LabelSelector selectorFor(std::string key, std::string value) {
  LabelSelector selector;
  selector.match_labels.emplace(std::move(key), std::move(value));
  return selector;
}

NetworkPolicyPeer podPeer(std::string key, std::string value) {
  NetworkPolicyPeer peer;
  peer.pod_selector = selectorFor(std::move(key), std::move(value));
  return peer;
}

NetworkPolicyPeer ipBlockPeer(std::string cidr, std::vector<std::string> except = {}) {
  NetworkPolicyPeer peer;
  peer.ip_block = IPBlock{std::move(cidr), std::move(except)};
  return peer;
}

NetworkPolicyPort tcpPort(PortValue port) {
  return NetworkPolicyPort{.protocol = "TCP", .port = std::move(port), .end_port = std::nullopt};
}

NetworkPolicy policyNamed(std::string name) {
  NetworkPolicy policy;
  policy.metadata.name = std::move(name);
  policy.metadata.namespace_name = "shop";
  policy.spec.pod_selector = selectorFor("app", "web");
  return policy;
}

// A policy with one ingress rule holding `port` and allowing every source.
NetworkPolicy policyWithIngressPort(NetworkPolicyPort port) {
  NetworkPolicy policy = policyNamed("web");
  policy.spec.ingress.push_back(NetworkPolicyRule{.ports = {std::move(port)}, .peers = {}});
  return policy;
}

NetworkPolicy policyWithIngressPeer(NetworkPolicyPeer peer) {
  NetworkPolicy policy = policyNamed("web");
  policy.spec.ingress.push_back(NetworkPolicyRule{.ports = {}, .peers = {std::move(peer)}});
  return policy;
}

std::vector<std::string> cidrErrors(std::string cidr, std::vector<std::string> except = {}) {
  return rendered(validateNetworkPolicy(policyWithIngressPeer(ipBlockPeer(cidr, except))));
}

Pod podWithPorts(std::vector<ContainerPort> ports) {
  Pod pod;
  pod.metadata.name = "web-0";
  pod.metadata.namespace_name = "shop";
  pod.containers.push_back(Container{.name = "web", .ports = std::move(ports)});
  return pod;
}

Namespace namespaceNamed(std::string name) {
  Namespace ns;
  ns.metadata.name = std::move(name);
  return ns;
}

// ---------------------------------------------------------------------------
// field.Error rendering

TEST(FieldErrorRendering, InvalidQuotesStringValues) {
  const FieldError error{FieldError::Type::kInvalid, "spec.ingress[0].ports[0].port", "\"web\"",
                         "must be between 1 and 65535, inclusive"};
  EXPECT_EQ(error.body(), "Invalid value: \"web\": must be between 1 and 65535, inclusive");
  EXPECT_EQ(error.toString(),
            "spec.ingress[0].ports[0].port: Invalid value: \"web\": must be between 1 and 65535, "
            "inclusive");
}

TEST(FieldErrorRendering, RequiredOmitsTheValueAndAnEmptyDetail) {
  EXPECT_EQ((FieldError{FieldError::Type::kRequired, "spec.ingress[0].from[0].ipBlock.cidr", "",
                        ""})
                .toString(),
            "spec.ingress[0].from[0].ipBlock.cidr: Required value");
  EXPECT_EQ((FieldError{FieldError::Type::kRequired, "metadata.name", "\"ignored\"",
                        "name or generateName is required"})
                .toString(),
            "metadata.name: Required value: name or generateName is required");
}

TEST(FieldErrorRendering, ForbiddenAndTooLongNeverShowTheValue) {
  EXPECT_EQ((FieldError{FieldError::Type::kForbidden, "spec.ingress[0].from[0]", "\"x\"",
                        "may not specify both ipBlock and another peer"})
                .body(),
            "Forbidden: may not specify both ipBlock and another peer");
  EXPECT_EQ((FieldError{FieldError::Type::kTooLong, "metadata.annotations", "\"x\"",
                        "may not be more than 262144 bytes"})
                .body(),
            "Too long: may not be more than 262144 bytes");
}

TEST(FieldErrorRendering, DuplicateAndTooManyShowOnlyTheValue) {
  EXPECT_EQ((FieldError{FieldError::Type::kDuplicate, "f", "\"http\"", ""}).body(),
            "Duplicate value: \"http\"");
  EXPECT_EQ((FieldError{FieldError::Type::kTooMany, "f", "3", "must have at most 2 items"}).body(),
            "Too many: 3: must have at most 2 items");
}

TEST(FieldErrorRendering, BadValuesAreQuotedLikeGoStrconvQuote) {
  NetworkPolicy policy = policyNamed("web");
  policy.spec.policy_types = {"In\"gress\\", "tab\there\n"};
  EXPECT_THAT(rendered(validateNetworkPolicy(policy)),
              ElementsAre("spec.policyTypes[0]: Unsupported value: \"In\\\"gress\\\\\": supported "
                          "values: \"Ingress\", \"Egress\"",
                          "spec.policyTypes[1]: Unsupported value: \"tab\\there\\n\": supported "
                          "values: \"Ingress\", \"Egress\""));
  policy.spec.policy_types = {"caf\xc3\xa9", "bad\xff\x01"};
  EXPECT_THAT(rendered(validateNetworkPolicy(policy)),
              ElementsAre("spec.policyTypes[0]: Unsupported value: \"caf\xc3\xa9\": supported "
                          "values: \"Ingress\", \"Egress\"",
                          "spec.policyTypes[1]: Unsupported value: \"bad\\xff\\x01\": supported "
                          "values: \"Ingress\", \"Egress\""));
  policy.spec.policy_types = {"nb\xc2\xa0sp"};
  EXPECT_THAT(rendered(validateNetworkPolicy(policy)),
              ElementsAre("spec.policyTypes[0]: Unsupported value: \"nb\\u00a0sp\": supported "
                          "values: \"Ingress\", \"Egress\""));
}

// ---------------------------------------------------------------------------
// The syntax checks of pkg/util/validation and pkg/api/validate/content

TEST(SyntaxChecks, Dns1123LabelAcceptsLowercaseAlphanumericsAndInnerHyphens) {
  EXPECT_THAT(isDns1123Label("team-a"), IsEmpty());
  EXPECT_THAT(isDns1123Label("0"), IsEmpty());
  EXPECT_THAT(isDns1123Label(std::string(63, 'a')), IsEmpty());
}

TEST(SyntaxChecks, Dns1123LabelLongerThan63CharactersIsRejected) {
  EXPECT_THAT(isDns1123Label(std::string(64, 'a')),
              ElementsAre("must be no more than 63 characters"));
}

TEST(SyntaxChecks, Dns1123LabelWithDotsSaysSo) {
  EXPECT_THAT(isDns1123Label("team.a"), ElementsAre("must not contain dots"));
}

TEST(SyntaxChecks, Dns1123LabelExplainsTheRegexWithExamples) {
  EXPECT_THAT(isDns1123Label("Team_A"), ElementsAre(kLabelRegexMessage));
  EXPECT_THAT(isDns1123Label("-team"), ElementsAre(kLabelRegexMessage));
  EXPECT_THAT(isDns1123Label(""), ElementsAre(kLabelRegexMessage));
}

TEST(SyntaxChecks, Dns1123SubdomainAcceptsDottedLabels) {
  EXPECT_THAT(isDns1123Subdomain("web.shop.example.com"), IsEmpty());
  EXPECT_THAT(isDns1123Subdomain(std::string(253, 'a')), IsEmpty());
}

TEST(SyntaxChecks, Dns1123SubdomainRejectsLengthAndShape) {
  EXPECT_THAT(isDns1123Subdomain(std::string(254, 'a')),
              ElementsAre("must be no more than 253 characters"));
  EXPECT_THAT(isDns1123Subdomain("web..shop"), ElementsAre(kSubdomainRegexMessage));
  EXPECT_THAT(isDns1123Subdomain("Web"), ElementsAre(kSubdomainRegexMessage));
}

TEST(SyntaxChecks, QualifiedNameAcceptsOptionalDnsPrefix) {
  EXPECT_THAT(isQualifiedName("app"), IsEmpty());
  EXPECT_THAT(isQualifiedName("Uppercase_Is_OK.123"), IsEmpty());
  EXPECT_THAT(isQualifiedName("example.com/MyName"), IsEmpty());
  EXPECT_THAT(isQualifiedName(std::string(253, 'a') + "/" + std::string(63, 'b')), IsEmpty());
}

TEST(SyntaxChecks, QualifiedNameRejectsEmptyPrefixAndName) {
  EXPECT_THAT(isQualifiedName("/app"), ElementsAre("prefix part must be non-empty"));
  EXPECT_THAT(isQualifiedName("example.com/"),
              ElementsAre("name part must be non-empty", kKeyNameRegexMessage));
}

TEST(SyntaxChecks, QualifiedNameLengthsAreCountedInBytes) {
  EXPECT_THAT(isQualifiedName(std::string(64, 'a')),
              ElementsAre("name part must be no more than 63 bytes"));
  EXPECT_THAT(isQualifiedName(std::string(254, 'a') + "/app"),
              ElementsAre("prefix part must be no more than 253 bytes"));
}

TEST(SyntaxChecks, QualifiedNamePrefixMustBeALowercaseSubdomain) {
  EXPECT_THAT(isQualifiedName("Example.com/app"),
              ElementsAre("prefix part " + kSubdomainRegexMessage));
}

TEST(SyntaxChecks, QualifiedNameWithTwoSlashesGetsOneMessage) {
  EXPECT_THAT(
      isQualifiedName("a/b/c"),
      ElementsAre("a valid label key must consist of alphanumeric characters, '-', '_' or '.', "
                  "and must start and end with an alphanumeric character (e.g. 'MyName',  or "
                  "'my.name',  or '123-abc', regex used for validation is "
                  "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain "
                  "prefix and '/' (e.g. 'example.com/MyName')"));
}

TEST(SyntaxChecks, LabelValueMayBeEmpty) {
  EXPECT_THAT(isValidLabelValue(""), IsEmpty());
  EXPECT_THAT(isValidLabelValue("My_Value.1"), IsEmpty());
}

TEST(SyntaxChecks, LabelValueRejectsLengthAndShape) {
  EXPECT_THAT(isValidLabelValue(std::string(64, 'v')),
              ElementsAre("must be no more than 63 bytes"));
  EXPECT_THAT(isValidLabelValue("-v"), ElementsAre(kLabelValueRegexMessage));
  EXPECT_THAT(isValidLabelValue("a b"), ElementsAre(kLabelValueRegexMessage));
}

TEST(SyntaxChecks, PortNameFollowsIanaServiceNameRules) {
  EXPECT_THAT(isValidPortName("http"), IsEmpty());
  EXPECT_THAT(isValidPortName("h2c-9"), IsEmpty());
  EXPECT_THAT(isValidPortName("a-very-long-port-name"),
              ElementsAre("must be no more than 15 characters"));
  EXPECT_THAT(isValidPortName("HTTP"),
              ElementsAre("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
                          "must contain at least one letter (a-z)"));
  EXPECT_THAT(isValidPortName("8080"), ElementsAre("must contain at least one letter (a-z)"));
  EXPECT_THAT(isValidPortName("web--api"), ElementsAre("must not contain consecutive hyphens"));
  EXPECT_THAT(isValidPortName("-web"), ElementsAre("must not begin or end with a hyphen"));
}

TEST(SyntaxChecks, PortNumberMustBeBetween1And65535) {
  EXPECT_THAT(isValidPortNum(1), IsEmpty());
  EXPECT_THAT(isValidPortNum(65535), IsEmpty());
  EXPECT_THAT(isValidPortNum(0), ElementsAre("must be between 1 and 65535, inclusive"));
  EXPECT_THAT(isValidPortNum(65536), ElementsAre("must be between 1 and 65535, inclusive"));
  EXPECT_THAT(isValidPortNum(-1), ElementsAre("must be between 1 and 65535, inclusive"));
}

// ---------------------------------------------------------------------------
// Label selectors and label sets

TEST(LabelSelectorValidation, WellFormedSelectorHasNoErrors) {
  LabelSelector selector = selectorFor("app.kubernetes.io/name", "web");
  selector.match_expressions = {{"tier", "In", {"frontend", "backend"}},
                                {"canary", "DoesNotExist", {}}};
  EXPECT_THAT(validateLabelSelector(selector, "spec.podSelector"), IsEmpty());
}

TEST(LabelSelectorValidation, UnknownOperatorIsRejected) {
  LabelSelector selector;
  selector.match_expressions = {{"tier", "Equals", {"web"}}};
  EXPECT_THAT(rendered(validateLabelSelector(selector, "spec.podSelector")),
              ElementsAre("spec.podSelector.matchExpressions[0].operator: Invalid value: "
                          "\"Equals\": not a valid selector operator"));
}

TEST(LabelSelectorValidation, InAndNotInNeedValues) {
  LabelSelector selector;
  selector.match_expressions = {{"tier", "NotIn", {}}};
  EXPECT_THAT(rendered(validateLabelSelector(selector, "spec.podSelector")),
              ElementsAre("spec.podSelector.matchExpressions[0].values: Required value: must be "
                          "specified when `operator` is 'In' or 'NotIn'"));
}

TEST(LabelSelectorValidation, ExistsAndDoesNotExistForbidValues) {
  LabelSelector selector;
  selector.match_expressions = {{"tier", "Exists", {"web"}}};
  EXPECT_THAT(rendered(validateLabelSelector(selector, "spec.podSelector")),
              ElementsAre("spec.podSelector.matchExpressions[0].values: Forbidden: may not be "
                          "specified when `operator` is 'Exists' or 'DoesNotExist'"));
}

TEST(LabelSelectorValidation, RequirementKeyAndValuesAreChecked) {
  LabelSelector selector;
  selector.match_expressions = {{"bad key", "In", {"ok", "-bad"}}};
  EXPECT_THAT(rendered(validateLabelSelector(selector, "spec.podSelector")),
              ElementsAre("spec.podSelector.matchExpressions[0].key: Invalid value: \"bad key\": " +
                              kKeyNameRegexMessage,
                          "spec.podSelector.matchExpressions[0].values[1]: Invalid value: "
                          "\"-bad\": " +
                              kLabelValueRegexMessage));
}

TEST(LabelSelectorValidation, MatchLabelsAreValidatedAsLabels) {
  EXPECT_THAT(rendered(validateLabelSelector(selectorFor("app", "web_"), "spec.podSelector")),
              ElementsAre("spec.podSelector.matchLabels: Invalid value: \"web_\": " +
                          kLabelValueRegexMessage));
}

TEST(LabelValidation, KeyAndValueErrorsNameTheLabelsField) {
  const Labels labels{{"example.com/", "ok"}, {"team", std::string(64, 'x')}};
  EXPECT_THAT(rendered(validateLabels(labels, "metadata.labels")),
              ElementsAre("metadata.labels: Invalid value: \"example.com/\": name part must be "
                          "non-empty",
                          "metadata.labels: Invalid value: \"example.com/\": " +
                              kKeyNameRegexMessage,
                          "metadata.labels: Invalid value: \"" + std::string(64, 'x') +
                              "\": must be no more than 63 bytes"));
}

// ---------------------------------------------------------------------------
// NetworkPolicy: accepted objects

TEST(NetworkPolicyValidation, RealisticPoliciesAreAccepted) {
  NetworkPolicy deny_all = policyNamed("default-deny");
  deny_all.spec.pod_selector = {};
  deny_all.spec.policy_types = {"Ingress", "Egress"};
  EXPECT_THAT(rendered(validateNetworkPolicy(deny_all)), IsEmpty());

  NetworkPolicy api = policyNamed("api.allow-frontend");
  NetworkPolicyPeer frontend = podPeer("app", "frontend");
  frontend.namespace_selector = selectorFor(std::string(kNamespaceNameLabel), "web");
  NetworkPolicyPort range = tcpPort(32000);
  range.end_port = 32768;
  api.spec.ingress.push_back(NetworkPolicyRule{
      .ports = {tcpPort(8080), tcpPort(std::string("metrics")), range},
      .peers = {frontend, ipBlockPeer("10.0.0.0/8", {"10.1.0.0/16", "10.2.3.4/32"})}});
  NetworkPolicyPeer kube_dns;
  kube_dns.namespace_selector = selectorFor(std::string(kNamespaceNameLabel), "kube-system");
  api.spec.egress.push_back(NetworkPolicyRule{
      .ports = {NetworkPolicyPort{.protocol = "UDP", .port = 53, .end_port = std::nullopt},
                NetworkPolicyPort{.protocol = "TCP", .port = 53, .end_port = std::nullopt}},
      .peers = {kube_dns}});
  api.spec.egress.push_back(NetworkPolicyRule{
      .ports = {NetworkPolicyPort{
          .protocol = "SCTP", .port = std::nullopt, .end_port = std::nullopt}},
      .peers = {ipBlockPeer("2001:db8::/32", {"2001:db8:1::/48"}), ipBlockPeer("0.0.0.0/0")}});
  api.spec.policy_types = {"Ingress", "Egress"};
  api.metadata.labels = {{"app.kubernetes.io/managed-by", "palisade"}};
  api.metadata.annotations = {{"palisade.dev/Reason", "anything goes in a value: {\"a\": 1}"}};
  EXPECT_THAT(rendered(validateNetworkPolicy(api)), IsEmpty());
}

TEST(NetworkPolicyValidation, EmptyNamespaceIsTakenFromTheRequest) {
  NetworkPolicy policy = policyNamed("web");
  policy.metadata.namespace_name.clear();
  EXPECT_THAT(rendered(validateNetworkPolicy(policy)), IsEmpty());
}

TEST(NetworkPolicyValidation, AbsentProtocolAndPortMeanAllTcpPorts) {
  EXPECT_THAT(rendered(validateNetworkPolicy(policyWithIngressPort(NetworkPolicyPort{}))),
              IsEmpty());
}

TEST(NetworkPolicyValidation, PodAndNamespaceSelectorMayBeCombined) {
  NetworkPolicyPeer peer = podPeer("app", "db");
  peer.namespace_selector = LabelSelector{};
  EXPECT_THAT(rendered(validateNetworkPolicy(policyWithIngressPeer(peer))), IsEmpty());
}

// ---------------------------------------------------------------------------
// NetworkPolicy: metadata

TEST(NetworkPolicyValidation, NameMustBeADns1123Subdomain) {
  EXPECT_THAT(rendered(validateNetworkPolicy(policyNamed("Allow_Web"))),
              ElementsAre("metadata.name: Invalid value: \"Allow_Web\": " +
                          kSubdomainRegexMessage));
}

TEST(NetworkPolicyValidation, NameLongerThan253CharactersIsRejected) {
  const std::string name(254, 'a');
  EXPECT_THAT(rendered(validateNetworkPolicy(policyNamed(name))),
              ElementsAre("metadata.name: Invalid value: \"" + name +
                          "\": must be no more than 253 characters"));
}

TEST(NetworkPolicyValidation, NameOrGenerateNameIsRequired) {
  EXPECT_THAT(rendered(validateNetworkPolicy(policyNamed(""))),
              ElementsAre("metadata.name: Required value: name or generateName is required"));
}

TEST(NetworkPolicyValidation, GenerateNameMayEndWithAHyphen) {
  NetworkPolicy policy = policyNamed("");
  policy.metadata.generate_name = "allow-web-";
  EXPECT_THAT(rendered(validateNetworkPolicy(policy)), IsEmpty());
}

TEST(NetworkPolicyValidation, InvalidGenerateNameFailsTogetherWithTheGeneratedName) {
  NetworkPolicy policy = policyNamed("");
  policy.metadata.generate_name = "Web-";
  EXPECT_THAT(rendered(validateNetworkPolicy(policy)),
              ElementsAre("metadata.generateName: Invalid value: \"Web-\": " +
                              kSubdomainRegexMessage,
                          "metadata.name: Invalid value: \"Web-xxxxx\": " +
                              kSubdomainRegexMessage));
}

TEST(NetworkPolicyValidation, GeneratedNameIsCheckedEvenWhenThePrefixPasses) {
  // maskTrailingDash turns "a.-" into "aa", but the generated "a.-xxxxx" has a
  // label starting with '-'.
  NetworkPolicy policy = policyNamed("");
  policy.metadata.generate_name = "a.-";
  EXPECT_THAT(rendered(validateNetworkPolicy(policy)),
              ElementsAre("metadata.name: Invalid value: \"a.-xxxxx\": " + kSubdomainRegexMessage));
}

TEST(NetworkPolicyValidation, NamespaceMustBeADns1123Label) {
  NetworkPolicy policy = policyNamed("web");
  policy.metadata.namespace_name = "team.shop";
  EXPECT_THAT(rendered(validateNetworkPolicy(policy)),
              ElementsAre("metadata.namespace: Invalid value: \"team.shop\": must not contain "
                          "dots"));
}

TEST(NetworkPolicyValidation, InvalidMetadataLabelIsRejected) {
  NetworkPolicy policy = policyNamed("web");
  policy.metadata.labels = {{"app", "web app"}};
  EXPECT_THAT(rendered(validateNetworkPolicy(policy)),
              ElementsAre("metadata.labels: Invalid value: \"web app\": " +
                          kLabelValueRegexMessage));
}

TEST(NetworkPolicyValidation, RepeatedMessagesArePrintedOnce) {
  NetworkPolicy policy = policyNamed("web");
  policy.metadata.labels = {{"a", "-x"}, {"b", "-x"}};
  EXPECT_THAT(rendered(validateNetworkPolicy(policy)),
              ElementsAre("metadata.labels: Invalid value: \"-x\": " + kLabelValueRegexMessage));
}

TEST(NetworkPolicyValidation, AnnotationKeysAreCheckedCaseInsensitively) {
  NetworkPolicy policy = policyNamed("web");
  policy.metadata.annotations = {{"Example.COM/Owner", "team"}, {"bad key", ""}};
  EXPECT_THAT(rendered(validateNetworkPolicy(policy)),
              ElementsAre("metadata.annotations: Invalid value: \"bad key\": " +
                          kKeyNameRegexMessage));
}

TEST(NetworkPolicyValidation, AnnotationsOver256KiBAreTooLong) {
  NetworkPolicy policy = policyNamed("web");
  policy.metadata.annotations = {{"a", std::string(256 * 1024 - 1, 'x')}};
  EXPECT_THAT(rendered(validateNetworkPolicy(policy)), IsEmpty());
  policy.metadata.annotations = {{"a", std::string(256 * 1024, 'x')}};
  EXPECT_THAT(rendered(validateNetworkPolicy(policy)),
              ElementsAre("metadata.annotations: Too long: may not be more than 262144 bytes"));
}

// ---------------------------------------------------------------------------
// NetworkPolicy: spec

TEST(NetworkPolicyValidation, PodSelectorIsValidated) {
  NetworkPolicy policy = policyNamed("web");
  policy.spec.pod_selector.match_expressions = {{"app", "in", {"web"}}};
  EXPECT_THAT(rendered(validateNetworkPolicy(policy)),
              ElementsAre("spec.podSelector.matchExpressions[0].operator: Invalid value: \"in\": "
                          "not a valid selector operator"));
}

TEST(NetworkPolicyValidation, UnsupportedProtocolIsRejected) {
  NetworkPolicyPort port = tcpPort(80);
  port.protocol = "ICMP";
  EXPECT_THAT(rendered(validateNetworkPolicy(policyWithIngressPort(port))),
              ElementsAre("spec.ingress[0].ports[0].protocol: Unsupported value: \"ICMP\": "
                          "supported values: \"TCP\", \"UDP\", \"SCTP\""));
}

TEST(NetworkPolicyValidation, ProtocolIsCaseSensitive) {
  NetworkPolicyPort port = tcpPort(80);
  port.protocol = "tcp";
  EXPECT_THAT(rendered(validateNetworkPolicy(policyWithIngressPort(port))),
              ElementsAre("spec.ingress[0].ports[0].protocol: Unsupported value: \"tcp\": "
                          "supported values: \"TCP\", \"UDP\", \"SCTP\""));
}

TEST(NetworkPolicyValidation, PortZeroIsRejected) {
  EXPECT_THAT(rendered(validateNetworkPolicy(policyWithIngressPort(tcpPort(0)))),
              ElementsAre("spec.ingress[0].ports[0].port: Invalid value: 0: must be between 1 and "
                          "65535, inclusive"));
}

TEST(NetworkPolicyValidation, PortAbove65535IsRejected) {
  EXPECT_THAT(rendered(validateNetworkPolicy(policyWithIngressPort(tcpPort(65536)))),
              ElementsAre("spec.ingress[0].ports[0].port: Invalid value: 65536: must be between 1 "
                          "and 65535, inclusive"));
}

TEST(NetworkPolicyValidation, EndPortBelowPortIsRejected) {
  NetworkPolicy policy = policyNamed("web");
  NetworkPolicyPort port = tcpPort(8080);
  port.end_port = 80;
  policy.spec.egress.push_back(NetworkPolicyRule{.ports = {port}, .peers = {}});
  EXPECT_THAT(rendered(validateNetworkPolicy(policy)),
              ElementsAre("spec.egress[0].ports[0].endPort: Invalid value: 80: must be greater "
                          "than or equal to `port`"));
}

TEST(NetworkPolicyValidation, EndPortEqualToPortIsAccepted) {
  NetworkPolicyPort port = tcpPort(8080);
  port.end_port = 8080;
  EXPECT_THAT(rendered(validateNetworkPolicy(policyWithIngressPort(port))), IsEmpty());
}

TEST(NetworkPolicyValidation, EndPortOutOfRangeIsRejected) {
  NetworkPolicyPort port = tcpPort(1000);
  port.end_port = 70000;
  EXPECT_THAT(rendered(validateNetworkPolicy(policyWithIngressPort(port))),
              ElementsAre("spec.ingress[0].ports[0].endPort: Invalid value: 70000: must be "
                          "between 1 and 65535, inclusive"));
}

TEST(NetworkPolicyValidation, NegativeEndPortIsBelowPortAndOutOfRange) {
  NetworkPolicyPort port = tcpPort(1000);
  port.end_port = -1;
  EXPECT_THAT(rendered(validateNetworkPolicy(policyWithIngressPort(port))),
              ElementsAre("spec.ingress[0].ports[0].endPort: Invalid value: -1: must be greater "
                          "than or equal to `port`",
                          "spec.ingress[0].ports[0].endPort: Invalid value: -1: must be between 1 "
                          "and 65535, inclusive"));
}

TEST(NetworkPolicyValidation, EndPortWithNamedPortIsRejected) {
  NetworkPolicyPort port = tcpPort(std::string("http"));
  port.end_port = 8090;
  EXPECT_THAT(rendered(validateNetworkPolicy(policyWithIngressPort(port))),
              ElementsAre("spec.ingress[0].ports[0].endPort: Invalid value: 8090: may not be "
                          "specified when `port` is non-numeric"));
}

TEST(NetworkPolicyValidation, EndPortWithoutPortIsRejected) {
  NetworkPolicyPort port{.protocol = "TCP", .port = std::nullopt, .end_port = 8090};
  EXPECT_THAT(rendered(validateNetworkPolicy(policyWithIngressPort(port))),
              ElementsAre("spec.ingress[0].ports[0].endPort: Invalid value: 8090: may not be "
                          "specified when `port` is not specified"));
}

TEST(NetworkPolicyValidation, NamedPortMustBeAValidPortName) {
  EXPECT_THAT(rendered(validateNetworkPolicy(policyWithIngressPort(tcpPort(std::string("8080"))))),
              ElementsAre("spec.ingress[0].ports[0].port: Invalid value: \"8080\": must contain "
                          "at least one letter (a-z)"));
}

TEST(NetworkPolicyValidation, PeerWithoutSelectorOrIpBlockIsRequired) {
  EXPECT_THAT(rendered(validateNetworkPolicy(policyWithIngressPeer(NetworkPolicyPeer{}))),
              ElementsAre("spec.ingress[0].from[0]: Required value: must specify a peer"));
}

TEST(NetworkPolicyValidation, IpBlockCombinedWithASelectorIsForbidden) {
  NetworkPolicyPeer peer = ipBlockPeer("10.0.0.0/8");
  peer.namespace_selector = LabelSelector{};
  NetworkPolicy policy = policyNamed("web");
  policy.spec.egress.push_back(NetworkPolicyRule{.ports = {}, .peers = {podPeer("a", "b"), peer}});
  EXPECT_THAT(rendered(validateNetworkPolicy(policy)),
              ElementsAre("spec.egress[0].to[1]: Forbidden: may not specify both ipBlock and "
                          "another peer"));
}

TEST(NetworkPolicyValidation, IpBlockCidrIsRequired) {
  EXPECT_THAT(cidrErrors("", {"also-ignored"}),
              ElementsAre("spec.ingress[0].from[0].ipBlock.cidr: Required value"));
}

TEST(NetworkPolicyValidation, MalformedCidrIsRejected) {
  EXPECT_THAT(cidrErrors("10.0.0.0"),
              ElementsAre("spec.ingress[0].from[0].ipBlock.cidr: Invalid value: \"10.0.0.0\": " +
                          kInvalidCidrMessage));
  EXPECT_THAT(cidrErrors("10.0.0.0/33"),
              ElementsAre("spec.ingress[0].from[0].ipBlock.cidr: Invalid value: \"10.0.0.0/33\": " +
                          kInvalidCidrMessage));
  EXPECT_THAT(cidrErrors("fe80::1%eth0/64"),
              ElementsAre("spec.ingress[0].from[0].ipBlock.cidr: Invalid value: "
                          "\"fe80::1%eth0/64\": " +
                          kInvalidCidrMessage));
}

TEST(NetworkPolicyValidation, CidrWithLeadingZerosIsRejected) {
  EXPECT_THAT(cidrErrors("010.0.0.0/8"),
              ElementsAre("spec.ingress[0].from[0].ipBlock.cidr: Invalid value: \"010.0.0.0/8\": "
                          "must not have leading 0s in IP or prefix length"));
  EXPECT_THAT(cidrErrors("10.0.0.0/08"),
              ElementsAre("spec.ingress[0].from[0].ipBlock.cidr: Invalid value: \"10.0.0.0/08\": "
                          "must not have leading 0s in IP or prefix length"));
  EXPECT_THAT(cidrErrors("2001:00db8::/32"),
              ElementsAre("spec.ingress[0].from[0].ipBlock.cidr: Invalid value: "
                          "\"2001:00db8::/32\": must not have leading 0s in IP or prefix length"));
}

TEST(NetworkPolicyValidation, CidrWithIpv4MappedAddressIsRejected) {
  EXPECT_THAT(cidrErrors("::ffff:10.0.0.0/104"),
              ElementsAre("spec.ingress[0].from[0].ipBlock.cidr: Invalid value: "
                          "\"::ffff:10.0.0.0/104\": must not have an IPv4-mapped IPv6 address"));
}

TEST(NetworkPolicyValidation, CidrWithHostBitsSetIsRejected) {
  EXPECT_THAT(cidrErrors("10.0.0.1/8"),
              ElementsAre("spec.ingress[0].from[0].ipBlock.cidr: Invalid value: \"10.0.0.1/8\": "
                          "must not have bits set beyond the prefix length"));
  EXPECT_THAT(cidrErrors("2001:db8::1/64"),
              ElementsAre("spec.ingress[0].from[0].ipBlock.cidr: Invalid value: "
                          "\"2001:db8::1/64\": must not have bits set beyond the prefix length"));
}

TEST(NetworkPolicyValidation, NonCanonicalIpv6CidrIsAccepted) {
  // ipBlock is a legacy field: only IsValidCIDR (for new fields) demands the
  // canonical form.
  EXPECT_THAT(cidrErrors("2001:DB8:0:0::/64"), IsEmpty());
}

TEST(NetworkPolicyValidation, ExceptMustBeAStrictSubsetOfCidr) {
  EXPECT_THAT(cidrErrors("10.0.0.0/8", {"10.0.0.0/8", "192.168.0.0/16", "fd00::/64"}),
              ElementsAre("spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: "
                          "\"10.0.0.0/8\": must be a strict subset of `cidr`",
                          "spec.ingress[0].from[0].ipBlock.except[1]: Invalid value: "
                          "\"192.168.0.0/16\": must be a strict subset of `cidr`",
                          "spec.ingress[0].from[0].ipBlock.except[2]: Invalid value: "
                          "\"fd00::/64\": must be a strict subset of `cidr`"));
}

TEST(NetworkPolicyValidation, ExceptGetsTheSameCidrChecks) {
  EXPECT_THAT(cidrErrors("10.0.0.0/8", {"10.1.0.0", "10.1.0.1/16"}),
              ElementsAre("spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: "
                          "\"10.1.0.0\": " +
                              kInvalidCidrMessage,
                          "spec.ingress[0].from[0].ipBlock.except[1]: Invalid value: "
                          "\"10.1.0.1/16\": must not have bits set beyond the prefix length"));
}

TEST(NetworkPolicyValidation, ExceptIsNotCheckedWhenCidrCannotBeParsed) {
  EXPECT_THAT(cidrErrors("10.0.0.0/64", {"192.168.0.0/16"}),
              ElementsAre("spec.ingress[0].from[0].ipBlock.cidr: Invalid value: \"10.0.0.0/64\": " +
                          kInvalidCidrMessage));
}

TEST(NetworkPolicyValidation, SubsetCheckUsesGoNetSemanticsForMappedAddresses) {
  // net.IPNet.Contains sees ::ffff:10.1.0.0 as 10.1.0.0, and the mask lengths
  // are compared as written (8 < 112): only the strictness error remains.
  EXPECT_THAT(cidrErrors("10.0.0.0/8", {"::ffff:10.1.0.0/112"}),
              ElementsAre("spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: "
                          "\"::ffff:10.1.0.0/112\": must not have an IPv4-mapped IPv6 address"));
  // The other way round the raw lengths (104 >= 16) make it no strict subset.
  EXPECT_THAT(cidrErrors("::ffff:10.0.0.0/104", {"10.1.0.0/16"}),
              ElementsAre("spec.ingress[0].from[0].ipBlock.cidr: Invalid value: "
                          "\"::ffff:10.0.0.0/104\": must not have an IPv4-mapped IPv6 address",
                          "spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: "
                          "\"10.1.0.0/16\": must be a strict subset of `cidr`"));
}

TEST(NetworkPolicyValidation, UnsupportedPolicyTypeIsRejected) {
  NetworkPolicy policy = policyNamed("web");
  policy.spec.policy_types = {"Ingress", "egress"};
  EXPECT_THAT(rendered(validateNetworkPolicy(policy)),
              ElementsAre("spec.policyTypes[1]: Unsupported value: \"egress\": supported values: "
                          "\"Ingress\", \"Egress\""));
}

TEST(NetworkPolicyValidation, MoreThanTwoPolicyTypesAreRejectedAsAWhole) {
  NetworkPolicy policy = policyNamed("web");
  policy.spec.policy_types = {"Ingress", "Egress", "Sideways"};
  EXPECT_THAT(rendered(validateNetworkPolicy(policy)),
              ElementsAre("spec.policyTypes: Invalid value: []networking.PolicyType{\"Ingress\", "
                          "\"Egress\", \"Sideways\"}: may not specify more than two "
                          "policyTypes"));
}

TEST(NetworkPolicyValidation, ErrorsComeInTheApiserversOrder) {
  NetworkPolicy policy = policyNamed("web");
  policy.metadata.namespace_name = "Shop";
  policy.spec.pod_selector.match_expressions = {{"app", "Has", {}}};
  policy.spec.egress.push_back(NetworkPolicyRule{.ports = {tcpPort(0)}, .peers = {}});
  policy.spec.ingress.push_back(
      NetworkPolicyRule{.ports = {tcpPort(0)}, .peers = {NetworkPolicyPeer{}}});
  policy.spec.policy_types = {"All"};
  EXPECT_THAT(
      rendered(validateNetworkPolicy(policy)),
      ElementsAre("metadata.namespace: Invalid value: \"Shop\": " + kLabelRegexMessage,
                  "spec.podSelector.matchExpressions[0].operator: Invalid value: \"Has\": not a "
                  "valid selector operator",
                  "spec.ingress[0].ports[0].port: Invalid value: 0: must be between 1 and 65535, "
                  "inclusive",
                  "spec.ingress[0].from[0]: Required value: must specify a peer",
                  "spec.egress[0].ports[0].port: Invalid value: 0: must be between 1 and 65535, "
                  "inclusive",
                  "spec.policyTypes[0]: Unsupported value: \"All\": supported values: "
                  "\"Ingress\", \"Egress\""));
}

// ---------------------------------------------------------------------------
// Namespace

TEST(NamespaceValidation, ValidNamespaceIsAccepted) {
  Namespace ns = namespaceNamed("shop");
  ns.metadata.labels = {{"palisade.dev/enforcement", "enforce"}};
  EXPECT_THAT(rendered(validateNamespace(ns)), IsEmpty());
}

TEST(NamespaceValidation, NameMustBeADns1123Label) {
  EXPECT_THAT(rendered(validateNamespace(namespaceNamed("team.shop"))),
              ElementsAre("metadata.name: Invalid value: \"team.shop\": must not contain dots"));
}

TEST(NamespaceValidation, NameIsRequired) {
  EXPECT_THAT(rendered(validateNamespace(namespaceNamed(""))),
              ElementsAre("metadata.name: Required value: name or generateName is required"));
}

TEST(NamespaceValidation, OverlongNameAlsoFailsAsTheMetadataNameLabel) {
  const std::string name(64, 'n');
  EXPECT_THAT(rendered(validateNamespace(namespaceNamed(name))),
              ElementsAre("metadata.name: Invalid value: \"" + name +
                              "\": must be no more than 63 characters",
                          "metadata.labels: Invalid value: \"" + name +
                              "\": must be no more than 63 bytes"));
}

TEST(NamespaceValidation, MetadataNameLabelIsOverwrittenNotRejected) {
  Namespace ns = namespaceNamed("shop");
  ns.metadata.labels = {{std::string(kNamespaceNameLabel), "-not a valid value-"}};
  EXPECT_THAT(rendered(validateNamespace(ns)), IsEmpty());
}

TEST(NamespaceValidation, NamespaceFieldIsClearedNotRejected) {
  Namespace ns = namespaceNamed("shop");
  ns.metadata.namespace_name = "Not Even Valid";
  EXPECT_THAT(rendered(validateNamespace(ns)), IsEmpty());
}

TEST(NamespaceValidation, GenerateNameIsCheckedAsALabelPrefix) {
  Namespace ns = namespaceNamed("");
  ns.metadata.generate_name = "ci-";
  EXPECT_THAT(rendered(validateNamespace(ns)), IsEmpty());
  ns.metadata.generate_name = "ci.";
  EXPECT_THAT(rendered(validateNamespace(ns)),
              ElementsAre("metadata.generateName: Invalid value: \"ci.\": " + kLabelRegexMessage,
                          "metadata.name: Invalid value: \"ci.xxxxx\": must not contain dots"));
}

TEST(NamespaceValidation, InvalidAnnotationKeyIsRejected) {
  Namespace ns = namespaceNamed("shop");
  ns.metadata.annotations = {{"/owner", "team"}};
  EXPECT_THAT(rendered(validateNamespace(ns)),
              ElementsAre("metadata.annotations: Invalid value: \"/owner\": prefix part must be "
                          "non-empty"));
}

// ---------------------------------------------------------------------------
// Pod

TEST(PodValidation, ValidPodIsAccepted) {
  Pod pod = podWithPorts({{"http", 8080, "TCP"}, {"dns", 53, "UDP"}, {"", 9090, ""}});
  pod.init_containers.push_back(Container{.name = "init", .ports = {{"http", 8080, "TCP"}}});
  pod.metadata.labels = {{"app", "web"}};
  EXPECT_THAT(rendered(validatePod(pod)), IsEmpty());
}

TEST(PodValidation, NameMustBeADns1123Subdomain) {
  Pod pod = podWithPorts({});
  pod.metadata.name = "web_0";
  EXPECT_THAT(rendered(validatePod(pod)),
              ElementsAre("metadata.name: Invalid value: \"web_0\": " + kSubdomainRegexMessage));
}

TEST(PodValidation, ContainerPortZeroIsRequired) {
  EXPECT_THAT(rendered(validatePod(podWithPorts({{"", 0, "TCP"}}))),
              ElementsAre("spec.containers[0].ports[0].containerPort: Required value"));
}

TEST(PodValidation, ContainerPortOutOfRangeIsRejected) {
  EXPECT_THAT(rendered(validatePod(podWithPorts({{"", 70000, "TCP"}}))),
              ElementsAre("spec.containers[0].ports[0].containerPort: Invalid value: 70000: must "
                          "be between 1 and 65535, inclusive"));
}

TEST(PodValidation, PortNameMustBeAValidPortName) {
  EXPECT_THAT(rendered(validatePod(podWithPorts({{"Web", 80, "TCP"}}))),
              ElementsAre("spec.containers[0].ports[0].name: Invalid value: \"Web\": must contain "
                          "only alpha-numeric characters (a-z, 0-9), and hyphens (-)"));
}

TEST(PodValidation, DuplicatePortNameInOneContainerIsRejected) {
  EXPECT_THAT(rendered(validatePod(podWithPorts({{"http", 80, "TCP"}, {"http", 8080, "TCP"}}))),
              ElementsAre("spec.containers[0].ports[1].name: Duplicate value: \"http\""));
}

TEST(PodValidation, SamePortNameInTwoContainersIsAccepted) {
  Pod pod = podWithPorts({{"http", 80, "TCP"}});
  pod.containers.push_back(Container{.name = "sidecar", .ports = {{"http", 8080, "TCP"}}});
  EXPECT_THAT(rendered(validatePod(pod)), IsEmpty());
}

TEST(PodValidation, UnsupportedProtocolListsTheSortedAlternatives) {
  EXPECT_THAT(rendered(validatePod(podWithPorts({{"", 80, "ICMP"}}))),
              ElementsAre("spec.containers[0].ports[0].protocol: Unsupported value: \"ICMP\": "
                          "supported values: \"SCTP\", \"TCP\", \"UDP\""));
}

TEST(PodValidation, InitContainerPortsAreValidatedAfterContainers) {
  Pod pod = podWithPorts({{"", 0, "TCP"}});
  pod.init_containers.push_back(Container{.name = "init", .ports = {{"", 0, "TCP"}}});
  EXPECT_THAT(rendered(validatePod(pod)),
              ElementsAre("spec.containers[0].ports[0].containerPort: Required value",
                          "spec.initContainers[0].ports[0].containerPort: Required value"));
}

}  // namespace
}  // namespace palisade::policy
