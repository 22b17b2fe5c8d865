// Decoding the Kubernetes project's own API round-trip test data
// (k8s.io/api testdata/HEAD): every field set, odd placeholder values.

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "policy/json_codec.h"
#include "policy/manifest.h"
#include "policy/validation.h"

namespace palisade::policy {
namespace {

using ::testing::ElementsAre;

// The apiserver's messages for its name regexes, as validation_test pins them.
const std::string kSubdomainRegexMessage =
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const std::string kLabelRegexMessage =
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const std::string kInvalidCidrMessage =
    "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)";

std::vector<std::string> rendered(const FieldErrors& errors) {
  std::vector<std::string> out;
  for (const FieldError& error : errors) {
    out.push_back(error.toString());
  }
  return out;
}

const NetworkPolicy& policyAt(const Manifest& manifest, size_t i) {
  return std::get<NetworkPolicy>(manifest.objects.at(i).object);
}

std::string readFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::filesystem::path> fixtureFiles() {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(PALISADE_K8S_FIXTURES)) {
    const auto extension = entry.path().extension();
    if (extension == ".json" || extension == ".yaml") {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(KubernetesFixtures, EveryJsonAndYamlFixtureDecodesWithoutErrors) {
  ASSERT_TRUE(std::filesystem::is_directory(PALISADE_K8S_FIXTURES))
      << "k8s-api fixtures not found at " << PALISADE_K8S_FIXTURES
      << " (configure with -DPALISADE_K8S_FIXTURES=...)";
  const auto files = fixtureFiles();
  ASSERT_GE(files.size(), 14u);
  for (const auto& file : files) {
    const Manifest manifest = readManifest(readFile(file), file.filename().string());
    EXPECT_TRUE(manifest.errors.empty())
        << file << ": " << (manifest.errors.empty() ? "" : toString(manifest.errors[0]));
    EXPECT_EQ(manifest.objects.size(), 1u) << file;
  }
}

// Upstream's promise is that both serializations decode to identical objects;
// ours must keep it for the kinds Palisade models.
TEST(KubernetesFixtures, JsonAndYamlTwinsDecodeToTheSameObject) {
  for (const char* kind : {"core.v1.Namespace", "core.v1.Pod", "networking.k8s.io.v1.NetworkPolicy"}) {
    const std::filesystem::path base = std::filesystem::path(PALISADE_K8S_FIXTURES) / kind;
    const Manifest from_json = readManifest(readFile(base.string() + ".json"), "json");
    const Manifest from_yaml = readManifest(readFile(base.string() + ".yaml"), "yaml");
    ASSERT_EQ(from_json.objects.size(), 1u) << kind;
    ASSERT_EQ(from_yaml.objects.size(), 1u) << kind;
    auto encode = [](const ManifestObject& object) {
      return std::visit(
          [](const auto& o) -> nlohmann::json {
            using T = std::decay_t<decltype(o)>;
            if constexpr (std::is_same_v<T, Namespace>) {
              return encodeNamespace(o);
            } else if constexpr (std::is_same_v<T, Pod>) {
              return encodePod(o);
            } else if constexpr (std::is_same_v<T, NetworkPolicy>) {
              return encodeNetworkPolicy(o);
            } else {
              return nullptr;
            }
          },
          object.object);
    };
    EXPECT_EQ(encode(from_json.objects[0]), encode(from_yaml.objects[0])) << kind;
    EXPECT_FALSE(encode(from_json.objects[0]).is_null()) << kind;
  }
}

TEST(KubernetesFixtures, NetworkPolicyFixtureKeepsEveryModelledField) {
  const Manifest manifest = readManifest(
      readFile(std::filesystem::path(PALISADE_K8S_FIXTURES) /
               "networking.k8s.io.v1.NetworkPolicy.yaml"),
      "np.yaml");
  ASSERT_EQ(manifest.objects.size(), 1u);
  const NetworkPolicy& policy = policyAt(manifest, 0);
  EXPECT_EQ(policy.metadata.name, "nameValue");
  EXPECT_EQ(policy.metadata.namespace_name, "namespaceValue");
  EXPECT_THAT(policy.spec.policy_types, ElementsAre("policyTypesValue"));
  ASSERT_EQ(policy.spec.ingress.size(), 1u);
  const NetworkPolicyPort& port = policy.spec.ingress[0].ports.at(0);
  EXPECT_EQ(port.protocol, "protocolValue");
  EXPECT_EQ(std::get<std::string>(*port.port), "portValue");
  EXPECT_EQ(port.end_port, 3);
  const NetworkPolicyPeer& peer = policy.spec.ingress[0].peers.at(0);
  ASSERT_TRUE(peer.ip_block && peer.pod_selector && peer.namespace_selector);
  EXPECT_EQ(peer.ip_block->cidr, "cidrValue");
  EXPECT_THAT(peer.ip_block->except, ElementsAre("exceptValue"));
  EXPECT_EQ(peer.pod_selector->match_expressions.at(0).op, "operatorValue");
  EXPECT_EQ(policy.spec.egress.at(0).peers.at(0).namespace_selector->match_labels.at(
                "matchLabelsKey"),
            "matchLabelsValue");
}

TEST(KubernetesFixtures, PodFixtureKeepsPortsAndAddresses) {
  const Manifest manifest = readManifest(
      readFile(std::filesystem::path(PALISADE_K8S_FIXTURES) / "core.v1.Pod.json"), "pod.json");
  ASSERT_EQ(manifest.objects.size(), 1u);
  const Pod& pod = std::get<Pod>(manifest.objects[0].object);
  EXPECT_TRUE(pod.host_network);
  EXPECT_EQ(pod.pod_ip, "podIPValue");
  EXPECT_THAT(pod.pod_ips, ElementsAre("ipValue"));
  ASSERT_FALSE(pod.containers.empty());
  EXPECT_EQ(pod.containers[0].ports.at(0).container_port, 3);
  EXPECT_FALSE(pod.init_containers.empty());
}

TEST(NetworkPolicyValidation, FuzzFilledApiFixtureIsRejected) {
  std::ifstream file(std::string(PALISADE_K8S_FIXTURES) +
                     "/networking.k8s.io.v1.NetworkPolicy.json");
  ASSERT_TRUE(file.good());
  std::stringstream text;
  text << file.rdbuf();
  const Decoded<NetworkPolicy> policy = decodeNetworkPolicy(nlohmann::json::parse(text.str()));
  ASSERT_TRUE(policy.has_value()) << policy.error().field_path << ": " << policy.error().message;

  // The apiserver also reports metadata.finalizers[0] ("finalizersValue": name
  // is neither a standard finalizer name nor is it fully qualified); the model
  // has no finalizers. The fixture's managedFields are reset on a CREATE and
  // its ownerReferences are valid.
  const std::string operator_error = ".matchExpressions[0].operator: Invalid value: "
                                     "\"operatorValue\": not a valid selector operator";
  std::vector<std::string> expected = {
      "metadata.generateName: Invalid value: \"generateNameValue\": " + kSubdomainRegexMessage,
      "metadata.name: Invalid value: \"nameValue\": " + kSubdomainRegexMessage,
      "metadata.namespace: Invalid value: \"namespaceValue\": " + kLabelRegexMessage,
      "spec.podSelector" + operator_error,
  };
  for (const auto& [direction, peers] : {std::pair{"ingress", "from"}, std::pair{"egress", "to"}}) {
    const std::string rule = "spec." + std::string(direction) + "[0]";
    const std::string peer = rule + "." + peers + "[0]";
    expected.insert(
        expected.end(),
        {rule + ".ports[0].protocol: Unsupported value: \"protocolValue\": supported values: "
                "\"TCP\", \"UDP\", \"SCTP\"",
         rule + ".ports[0].endPort: Invalid value: 3: may not be specified when `port` is "
                "non-numeric",
         rule + ".ports[0].port: Invalid value: \"portValue\": must contain only alpha-numeric "
                "characters (a-z, 0-9), and hyphens (-)",
         peer + ".podSelector" + operator_error, peer + ".namespaceSelector" + operator_error,
         peer + ".ipBlock.cidr: Invalid value: \"cidrValue\": " + kInvalidCidrMessage,
         peer + ": Forbidden: may not specify both ipBlock and another peer"});
  }
  expected.push_back(
      "spec.policyTypes[0]: Unsupported value: \"policyTypesValue\": supported values: "
      "\"Ingress\", \"Egress\"");
  EXPECT_EQ(rendered(validateNetworkPolicy(*policy)), expected);
}

}  // namespace
}  // namespace palisade::policy
