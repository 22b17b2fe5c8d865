#include "kube/kubeconfig.h"

#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "certs/certificate_authority.h"
#include "kube/testing/client_certificate.h"
#include "kube/testing/mounted_files.h"
#include "tests/support/tls_test_client.h"

namespace palisade::kube {
namespace {

using palisade::testing::TempDir;

std::string base64(std::string_view text) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < text.size(); i += 3) {
    const uint32_t n =
        (uint8_t(text[i]) << 16) | (uint8_t(text[i + 1]) << 8) | uint8_t(text[i + 2]);
    out += {kAlphabet[n >> 18], kAlphabet[(n >> 12) & 63], kAlphabet[(n >> 6) & 63],
            kAlphabet[n & 63]};
  }
  if (i + 1 == text.size()) {
    const uint32_t n = uint8_t(text[i]) << 16;
    out += {kAlphabet[n >> 18], kAlphabet[(n >> 12) & 63], '=', '='};
  } else if (i + 2 == text.size()) {
    const uint32_t n = (uint8_t(text[i]) << 16) | (uint8_t(text[i + 1]) << 8);
    out += {kAlphabet[n >> 18], kAlphabet[(n >> 12) & 63], kAlphabet[(n >> 6) & 63], '='};
  }
  return out;
}

void writeFile(const std::filesystem::path& path, const std::string& contents) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << contents;
}

class KubeconfigTest : public ::testing::Test {
 protected:
  KubeconfigTest() {
    auto ca = certs::makeCertificateAuthority("test-ca", std::chrono::hours(1));
    EXPECT_TRUE(ca.has_value());
    ca_ = *ca;
    client_ = testing::issueClientCertificate(ca_, "alice", {"developers"});
  }

  // A kubeconfig with one cluster, one user and one context, all named
  // "dev"; `cluster` and `user` are the bodies, indented by six spaces.
  std::filesystem::path write(const std::string& cluster, const std::string& user,
                              const std::string& extra = "") {
    const auto file = dir_.path() / "home" / "config";
    writeFile(file, "apiVersion: v1\nkind: Config\ncurrent-context: dev\n"
                    "clusters:\n- name: dev\n  cluster:\n" + cluster +
                    "contexts:\n- name: dev\n  context:\n    cluster: dev\n    user: dev\n"
                    "    namespace: team-a\n"
                    "users:\n- name: dev\n  user:\n" + user + extra);
    return file;
  }

  std::string caData() const {
    return "    certificate-authority-data: " + base64(ca_.certificate_pem) + "\n";
  }

  TempDir dir_;
  certs::PemPair ca_;
  certs::PemPair client_;
};

TEST_F(KubeconfigTest, ReadsTokenAndCertificateAuthorityFileRelativeToItsFolder) {
  writeFile(dir_.path() / "home" / "pki" / "ca.crt", ca_.certificate_pem);
  const auto file = write(
      "    server: https://10.0.0.1:6443\n    certificate-authority: pki/ca.crt\n",
      "    token: abc123\n");
  auto config = loadKubeconfig(file);
  ASSERT_TRUE(config.has_value()) << config.error().message;
  EXPECT_EQ(config->host, "10.0.0.1");
  EXPECT_EQ(config->port, 6443);
  EXPECT_EQ(config->tls_server_name, "10.0.0.1");
  EXPECT_EQ(config->ca_pem, ca_.certificate_pem);
  ASSERT_NE(config->token, nullptr);
  EXPECT_EQ(config->token->token(), "abc123");
  EXPECT_EQ(config->namespace_name, "team-a");
  EXPECT_TRUE(config->client_certificate_pem.empty());
}

TEST_F(KubeconfigTest, ReadsInlineClientCertificateAndKeyData) {
  const auto file = write("    server: https://api.example.com\n" + caData(),
                          "    client-certificate-data: " + base64(client_.certificate_pem) +
                              "\n    client-key-data: " + base64(client_.private_key_pem) + "\n");
  auto config = loadKubeconfig(file);
  ASSERT_TRUE(config.has_value()) << config.error().message;
  EXPECT_EQ(config->host, "api.example.com");
  EXPECT_EQ(config->port, 443);
  EXPECT_EQ(config->ca_pem, ca_.certificate_pem);
  EXPECT_EQ(config->client_certificate_pem, client_.certificate_pem);
  EXPECT_EQ(config->client_key_pem, client_.private_key_pem);
  EXPECT_EQ(config->token, nullptr);
}

TEST_F(KubeconfigTest, ReadsClientCertificateFilesRelativeToItsFolder) {
  writeFile(dir_.path() / "home" / "alice.crt", client_.certificate_pem);
  writeFile(dir_.path() / "home" / "keys" / "alice.key", client_.private_key_pem);
  const auto file = write("    server: https://10.0.0.1:6443\n" + caData(),
                          "    client-certificate: alice.crt\n    client-key: keys/alice.key\n");
  auto config = loadKubeconfig(file);
  ASSERT_TRUE(config.has_value()) << config.error().message;
  EXPECT_EQ(config->client_certificate_pem, client_.certificate_pem);
  EXPECT_EQ(config->client_key_pem, client_.private_key_pem);
}

TEST_F(KubeconfigTest, TokenFileIsReadRelativeToItsFolderAndFollowedWhenItChanges) {
  testing::MountedFiles mounted(dir_.path() / "home" / "sa");
  mounted.publish({{"token", "first-token\n"}});
  const auto file = write("    server: https://10.0.0.1:6443\n" + caData(),
                          "    tokenFile: sa/token\n");
  auto config = loadKubeconfig(file);
  ASSERT_TRUE(config.has_value()) << config.error().message;
  ASSERT_NE(config->token, nullptr);
  EXPECT_EQ(config->token->token(), "first-token");
  mounted.publish({{"token", "second-token\n"}});
  EXPECT_EQ(config->token->token(), "second-token");
}

TEST_F(KubeconfigTest, NamedContextIsUsedInsteadOfTheCurrentOne) {
  const auto file = dir_.path() / "config";
  writeFile(file, "current-context: a\n"
                  "clusters:\n"
                  "- {name: a, cluster: {server: 'https://a.example:1'}}\n"
                  "- {name: b, cluster: {server: 'https://b.example:2'}}\n"
                  "contexts:\n"
                  "- {name: a, context: {cluster: a, user: u}}\n"
                  "- {name: b, context: {cluster: b, user: u, namespace: other}}\n"
                  "users:\n- {name: u, user: {token: t}}\n");
  auto current = loadKubeconfig(file);
  ASSERT_TRUE(current.has_value()) << current.error().message;
  EXPECT_EQ(current->host, "a.example");
  KubeconfigOptions options;
  options.context = "b";
  auto named = loadKubeconfig(file, options);
  ASSERT_TRUE(named.has_value()) << named.error().message;
  EXPECT_EQ(named->host, "b.example");
  EXPECT_EQ(named->port, 2);
  EXPECT_EQ(named->namespace_name, "other");
  EXPECT_NE(named->origin.find("context b"), std::string::npos);
}

TEST_F(KubeconfigTest, MissingServerIsAnErrorNamingTheFileAndField) {
  const auto file = write("    insecure-skip-tls-verify: false\n", "    token: t\n");
  auto config = loadKubeconfig(file);
  ASSERT_FALSE(config.has_value());
  EXPECT_NE(config.error().message.find(file.string()), std::string::npos)
      << config.error().message;
  EXPECT_NE(config.error().message.find("clusters[0].cluster.server: missing"), std::string::npos)
      << config.error().message;
}

TEST_F(KubeconfigTest, ClientCertificateWithoutKeyIsAnErrorNamingTheKeyField) {
  const auto file = write("    server: https://10.0.0.1\n" + caData(),
                          "    client-certificate-data: " + base64(client_.certificate_pem) + "\n");
  auto config = loadKubeconfig(file);
  ASSERT_FALSE(config.has_value());
  EXPECT_NE(config.error().message.find("users[0].user.client-key: missing"), std::string::npos)
      << config.error().message;
}

TEST_F(KubeconfigTest, KeyOfAnotherCertificateIsRefused) {
  const auto other = testing::issueClientCertificate(ca_, "bob");
  const auto file = write("    server: https://10.0.0.1\n" + caData(),
                          "    client-certificate-data: " + base64(client_.certificate_pem) +
                              "\n    client-key-data: " + base64(other.private_key_pem) + "\n");
  auto config = loadKubeconfig(file);
  ASSERT_FALSE(config.has_value());
  EXPECT_NE(config.error().message.find("client-key-data: does not match"), std::string::npos)
      << config.error().message;
}

TEST_F(KubeconfigTest, UnreadableFileNamesTheFieldAndThePathTried) {
  const auto file = write(
      "    server: https://10.0.0.1\n    certificate-authority: nowhere/ca.crt\n",
      "    token: t\n");
  auto config = loadKubeconfig(file);
  ASSERT_FALSE(config.has_value());
  const std::string expected_path = (dir_.path() / "home" / "nowhere" / "ca.crt").string();
  EXPECT_NE(config.error().message.find("clusters[0].cluster.certificate-authority: cannot read " +
                                        expected_path),
            std::string::npos)
      << config.error().message;
}

TEST_F(KubeconfigTest, InvalidBase64NamesTheDataField) {
  const auto file = write(
      "    server: https://10.0.0.1\n    certificate-authority-data: '!!notbase64'\n",
      "    token: t\n");
  auto config = loadKubeconfig(file);
  ASSERT_FALSE(config.has_value());
  EXPECT_NE(config.error().message.find("certificate-authority-data: not valid base64"),
            std::string::npos)
      << config.error().message;
}

TEST_F(KubeconfigTest, CertificateAuthorityFileAndDataTogetherAreRefused) {
  writeFile(dir_.path() / "home" / "ca.crt", ca_.certificate_pem);
  const auto file = write(
      "    server: https://10.0.0.1\n    certificate-authority: ca.crt\n" + caData(),
      "    token: t\n");
  auto config = loadKubeconfig(file);
  ASSERT_FALSE(config.has_value());
  EXPECT_NE(
      config.error().message.find("both certificate-authority and certificate-authority-data"),
      std::string::npos)
      << config.error().message;
}

TEST_F(KubeconfigTest, InsecureSkipTlsVerifyIsRefusedUnlessExplicitlyAllowed) {
  const auto file = write("    server: https://10.0.0.1\n    insecure-skip-tls-verify: true\n",
                          "    token: t\n");
  auto refused = loadKubeconfig(file);
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find("clusters[0].cluster.insecure-skip-tls-verify: refused"),
            std::string::npos)
      << refused.error().message;
  KubeconfigOptions options;
  options.allow_insecure_skip_tls_verify = true;
  auto allowed = loadKubeconfig(file, options);
  ASSERT_TRUE(allowed.has_value()) << allowed.error().message;
  EXPECT_TRUE(allowed->insecure_skip_tls_verify);
}

TEST_F(KubeconfigTest, ExecPluginIsRefusedWithTheFieldNamed) {
  const auto file = write("    server: https://10.0.0.1\n" + caData(),
                          "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n"
                          "      command: aws\n");
  auto config = loadKubeconfig(file);
  ASSERT_FALSE(config.has_value());
  EXPECT_NE(config.error().message.find("users[0].user.exec: not supported"), std::string::npos)
      << config.error().message;
}

TEST_F(KubeconfigTest, ContextReferringToAnUnknownClusterSaysWhichName) {
  const auto file = dir_.path() / "config";
  writeFile(file, "current-context: a\nclusters: []\n"
                  "contexts:\n- {name: a, context: {cluster: prod, user: u}}\n"
                  "users:\n- {name: u, user: {token: t}}\n");
  auto config = loadKubeconfig(file);
  ASSERT_FALSE(config.has_value());
  EXPECT_NE(config.error().message.find("clusters: no entry named \"prod\""), std::string::npos)
      << config.error().message;
}

TEST_F(KubeconfigTest, MissingCurrentContextIsAnError) {
  const auto file = write("    server: https://10.0.0.1\n", "    token: t\n");
  writeFile(file, "clusters: []\ncontexts: []\nusers: []\n");
  auto config = loadKubeconfig(file);
  ASSERT_FALSE(config.has_value());
  EXPECT_NE(config.error().message.find("current-context: not set"), std::string::npos)
      << config.error().message;
}

TEST_F(KubeconfigTest, MalformedYamlNamesTheLine) {
  const auto file = dir_.path() / "config";
  writeFile(file, "current-context: a\nclusters: [\n  {name: a\n");
  auto config = loadKubeconfig(file);
  ASSERT_FALSE(config.has_value());
  EXPECT_NE(config.error().message.find(file.string() + ": line "), std::string::npos)
      << config.error().message;
}

TEST(ServerUrl, Ipv6AddressPortAndPathPrefixAreParsed) {
  ClientConfig config;
  ASSERT_TRUE(parseServerUrl("https://[fd00::1]:6443/k8s/clusters/c-1/", config).has_value());
  EXPECT_EQ(config.host, "fd00::1");
  EXPECT_EQ(config.port, 6443);
  EXPECT_EQ(config.path_prefix, "/k8s/clusters/c-1");
  EXPECT_EQ(config.tls_server_name, "fd00::1");
}

TEST(ServerUrl, PlainHttpAndMalformedAddressesAreRefused) {
  ClientConfig config;
  EXPECT_FALSE(parseServerUrl("http://10.0.0.1:8080", config).has_value());
  EXPECT_FALSE(parseServerUrl("10.0.0.1:6443", config).has_value());
  EXPECT_FALSE(parseServerUrl("https://fd00::1:6443", config).has_value());
  EXPECT_FALSE(parseServerUrl("https://host:99999", config).has_value());
  EXPECT_FALSE(parseServerUrl("https://host:", config).has_value());
  EXPECT_FALSE(parseServerUrl("https://user@host", config).has_value());
  EXPECT_FALSE(parseServerUrl("https://", config).has_value());
}

class InClusterConfigTest : public ::testing::Test {
 protected:
  InClusterOptions options(std::map<std::string, std::string> environment) {
    InClusterOptions result;
    result.service_account_dir = mounted_.dir();
    result.environment = [environment](const std::string& name) -> std::optional<std::string> {
      const auto it = environment.find(name);
      return it == environment.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
    return result;
  }

  TempDir dir_;
  testing::MountedFiles mounted_{dir_.path() / "serviceaccount"};
  certs::PemPair ca_ = *certs::makeCertificateAuthority("cluster-ca", std::chrono::hours(1));
};

TEST_F(InClusterConfigTest, ReadsServiceAddressCaTokenAndNamespace) {
  mounted_.publish(
      {{"ca.crt", ca_.certificate_pem}, {"token", "sa-token"}, {"namespace", "palisade\n"}});
  auto config = loadInClusterConfig(
      options({{"KUBERNETES_SERVICE_HOST", "10.96.0.1"}, {"KUBERNETES_SERVICE_PORT", "443"}}));
  ASSERT_TRUE(config.has_value()) << config.error().message;
  EXPECT_EQ(config->server, "https://10.96.0.1:443");
  EXPECT_EQ(config->host, "10.96.0.1");
  EXPECT_EQ(config->ca_pem, ca_.certificate_pem);
  EXPECT_EQ(config->token->token(), "sa-token");
  EXPECT_EQ(config->namespace_name, "palisade");
}

TEST_F(InClusterConfigTest, Ipv6ServiceHostIsBracketedInTheServerUrl) {
  mounted_.publish({{"ca.crt", ca_.certificate_pem}, {"token", "sa-token"}});
  auto config = loadInClusterConfig(
      options({{"KUBERNETES_SERVICE_HOST", "fd00:10:96::1"}, {"KUBERNETES_SERVICE_PORT", "443"}}));
  ASSERT_TRUE(config.has_value()) << config.error().message;
  EXPECT_EQ(config->server, "https://[fd00:10:96::1]:443");
  EXPECT_EQ(config->host, "fd00:10:96::1");
}

TEST_F(InClusterConfigTest, OutsideAPodTheErrorSaysSo) {
  auto config = loadInClusterConfig(options({}));
  ASSERT_FALSE(config.has_value());
  EXPECT_NE(config.error().message.find("KUBERNETES_SERVICE_HOST"), std::string::npos);
}

TEST_F(InClusterConfigTest, MissingTokenNamesTheFile) {
  mounted_.publish({{"ca.crt", ca_.certificate_pem}});
  auto config = loadInClusterConfig(
      options({{"KUBERNETES_SERVICE_HOST", "10.96.0.1"}, {"KUBERNETES_SERVICE_PORT", "443"}}));
  ASSERT_FALSE(config.has_value());
  EXPECT_NE(config.error().message.find((mounted_.dir() / "token").string()), std::string::npos)
      << config.error().message;
}

TEST_F(InClusterConfigTest, RotatedTokenIsReadOnNextUse) {
  mounted_.publish({{"ca.crt", ca_.certificate_pem}, {"token", "token-1"}});
  auto config = loadInClusterConfig(
      options({{"KUBERNETES_SERVICE_HOST", "10.96.0.1"}, {"KUBERNETES_SERVICE_PORT", "443"}}));
  ASSERT_TRUE(config.has_value()) << config.error().message;
  EXPECT_EQ(config->token->token(), "token-1");
  EXPECT_EQ(config->token->token(), "token-1");
  mounted_.publish({{"ca.crt", ca_.certificate_pem}, {"token", "token-2"}});
  EXPECT_EQ(config->token->token(), "token-2");
}

TEST(TokenSource, KeepsTheLastTokenWhileTheFileIsMissing) {
  TempDir dir;
  const auto file = dir.path() / "token";
  writeFile(file, "one\n");
  auto source = TokenSource::fromFile(file, "test");
  ASSERT_TRUE(source.has_value());
  std::filesystem::remove(file);
  EXPECT_EQ((*source)->token(), "one");
  writeFile(file, "two-is-longer\n");
  EXPECT_EQ((*source)->token(), "two-is-longer");
}

}  // namespace
}  // namespace palisade::kube
