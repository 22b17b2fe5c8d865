#include "policy/manifest.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace palisade::policy {
namespace {

using ::testing::HasSubstr;

const NetworkPolicy& policyAt(const Manifest& manifest, size_t i) {
  return std::get<NetworkPolicy>(manifest.objects.at(i).object);
}

TEST(Manifest, ReadsEveryDocumentOfAYamlStream) {
  const Manifest manifest = readManifest(R"(
apiVersion: v1
kind: Namespace
metadata: {name: team-a}
---
# a comment-only document is skipped
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: team-a, labels: {app: web}}
...
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: team-a}
spec: {podSelector: {}}
)",
                                         "stream.yaml");
  ASSERT_TRUE(manifest.errors.empty()) << toString(manifest.errors.front());
  ASSERT_EQ(manifest.objects.size(), 3u);
  EXPECT_EQ(manifest.objects[0].kind, "Namespace");
  EXPECT_EQ(manifest.objects[1].kind, "Pod");
  EXPECT_EQ(manifest.objects[1].document.index, 1);
  EXPECT_EQ(manifest.objects[2].kind, "NetworkPolicy");
  EXPECT_EQ(manifest.objects[2].document.index, 2);
}

TEST(Manifest, ListKindsContributeTheirItems) {
  const Manifest manifest = readManifest(R"({
    "apiVersion": "v1", "kind": "List",
    "items": [
      {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"}},
      {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": 7}}
    ]})",
                                         "list.json");
  ASSERT_EQ(manifest.objects.size(), 1u);
  EXPECT_EQ(manifest.objects[0].metadata().name, "a");
  EXPECT_EQ(toString(manifest.objects[0].document), "list.json:0:items[0]");
  ASSERT_EQ(manifest.errors.size(), 1u);
  EXPECT_EQ(toString(manifest.errors[0]),
            "list.json:0:items[1]: Pod: metadata.name: expected string, got integer");
}

TEST(Manifest, UnknownFieldsAreIgnored) {
  const Manifest manifest = readManifest(R"(
apiVersion: v1
kind: Pod
metadata: {name: web, somethingNew: {a: 1}}
spec: {futureField: true, containers: [{name: c, image: nginx}]}
)",
                                         "x.yaml");
  EXPECT_TRUE(manifest.errors.empty());
  EXPECT_EQ(manifest.objects.size(), 1u);
}

TEST(Manifest, WrongTypeNamesDocumentObjectFieldAndExpectation) {
  const Manifest manifest = readManifest(R"(
apiVersion: v1
kind: Namespace
metadata: {name: ok}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  podSelector: {}
  ingress:
  - ports:
    - port: true
)",
                                         "bad.yaml");
  ASSERT_EQ(manifest.errors.size(), 1u);
  EXPECT_EQ(toString(manifest.errors[0]),
            "bad.yaml:1: NetworkPolicy/shop/web: spec.ingress[0].ports[0].port: expected "
            "integer or string, got boolean");
  EXPECT_EQ(manifest.objects.size(), 1u) << "the good document must survive the bad one";
}

TEST(Manifest, UnquotedNumberAsLabelValueIsATypeErrorAsInKubectl) {
  const Manifest manifest = readManifest(R"(
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {version: 1.0}}
)",
                                         "x.yaml");
  ASSERT_EQ(manifest.errors.size(), 1u);
  EXPECT_EQ(manifest.errors[0].field_path, "metadata.labels[version]");
  EXPECT_EQ(manifest.errors[0].message, "expected string, got number");
}

TEST(Manifest, YamlOneOneBooleansAreBooleans) {
  const Manifest manifest = readManifest(R"(
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {enabled: yes}}
)",
                                         "x.yaml");
  ASSERT_EQ(manifest.errors.size(), 1u);
  EXPECT_EQ(manifest.errors[0].message, "expected string, got boolean");
}

TEST(Manifest, QuotedScalarsStayStrings) {
  const Manifest manifest = readManifest(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, labels: {version: "1.0", enabled: 'yes'}}
spec:
  podSelector: {}
  ingress:
  - ports:
    - port: "80"
    - port: 80
    - port: http
)",
                                         "x.yaml");
  ASSERT_TRUE(manifest.errors.empty()) << toString(manifest.errors[0]);
  const NetworkPolicy& policy = policyAt(manifest, 0);
  EXPECT_EQ(policy.metadata.labels.at("version"), "1.0");
  EXPECT_EQ(policy.metadata.labels.at("enabled"), "yes");
  const auto& ports = policy.spec.ingress[0].ports;
  EXPECT_EQ(std::get<std::string>(*ports[0].port), "80");
  EXPECT_EQ(std::get<int32_t>(*ports[1].port), 80);
  EXPECT_EQ(std::get<std::string>(*ports[2].port), "http");
}

TEST(Manifest, YamlIntegersFollowGoParseIntBaseZero) {
  const Manifest manifest = readManifest(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p}
spec:
  podSelector: {}
  ingress:
  - ports: [{port: 0x50}, {port: 0120}, {port: 8_080}, {port: +443}]
)",
                                         "x.yaml");
  ASSERT_TRUE(manifest.errors.empty()) << toString(manifest.errors[0]);
  const auto& ports = policyAt(manifest, 0).spec.ingress[0].ports;
  EXPECT_EQ(std::get<int32_t>(*ports[0].port), 80);
  EXPECT_EQ(std::get<int32_t>(*ports[1].port), 80);
  EXPECT_EQ(std::get<int32_t>(*ports[2].port), 8080);
  EXPECT_EQ(std::get<int32_t>(*ports[3].port), 443);
}

TEST(Manifest, NullIsTheSameAsAbsent) {
  const Manifest manifest = readManifest(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, labels: null}
spec:
  podSelector: ~
  ingress: null
  egress:
  - to: ~
    ports:
)",
                                         "x.yaml");
  ASSERT_TRUE(manifest.errors.empty()) << toString(manifest.errors[0]);
  const NetworkPolicy& policy = policyAt(manifest, 0);
  EXPECT_TRUE(policy.spec.pod_selector.empty());
  EXPECT_TRUE(policy.spec.ingress.empty());
  ASSERT_EQ(policy.spec.egress.size(), 1u);
  EXPECT_TRUE(policy.spec.egress[0].peers.empty());
}

TEST(Manifest, MissingKindIsReported) {
  const Manifest manifest = readManifest("apiVersion: v1\nmetadata: {name: x}\n", "x.yaml");
  ASSERT_EQ(manifest.errors.size(), 1u);
  EXPECT_EQ(toString(manifest.errors[0]), "x.yaml:0: kind: is required");
}

TEST(Manifest, SyntaxErrorPointsAtTheLineInTheWholeFile) {
  const Manifest manifest = readManifest(
      "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: v1\nkind: [\n",
      "x.yaml");
  ASSERT_EQ(manifest.objects.size(), 1u);
  ASSERT_EQ(manifest.errors.size(), 1u);
  EXPECT_EQ(manifest.errors[0].document.index, 1);
  EXPECT_THAT(manifest.errors[0].message, HasSubstr("invalid YAML at line 7"));
}

TEST(Manifest, InvalidJsonIsReported) {
  const Manifest manifest = readManifest("{\"kind\": \"Pod\",", "x.json");
  ASSERT_EQ(manifest.errors.size(), 1u);
  EXPECT_THAT(manifest.errors[0].message, HasSubstr("invalid JSON"));
}

TEST(Manifest, OtherKindsAreKeptUnchecked) {
  const Manifest manifest = readManifest(R"(
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec: {replicas: "three"}
)",
                                         "x.yaml");
  ASSERT_TRUE(manifest.errors.empty());
  ASSERT_EQ(manifest.objects.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<OtherObject>(manifest.objects[0].object));
  EXPECT_EQ(objectName(manifest.objects[0].kind, manifest.objects[0].metadata()),
            "Deployment/shop/web");
}

TEST(Manifest, ScalarDocumentIsNotAnObject) {
  const Manifest manifest = readManifest("just a string\n", "x.yaml");
  ASSERT_EQ(manifest.errors.size(), 1u);
  EXPECT_EQ(manifest.errors[0].message, "expected a Kubernetes object, got string");
}

}  // namespace
}  // namespace palisade::policy
