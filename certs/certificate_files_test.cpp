#include "certs/certificate_files.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

namespace palisade::certs {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::UnorderedElementsAre;

constexpr int kDaySeconds = 24 * 3600;

std::string readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void writeFile(const fs::path& path, const std::string& contents) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << contents;
}

mode_t modeOf(const fs::path& path) {
  struct stat info{};
  EXPECT_EQ(::stat(path.c_str(), &info), 0) << path;
  return info.st_mode & 07777;
}

std::string base64Decode(const std::string& text) {
  std::string decoded(text.size() / 4 * 3, '\0');
  const int length = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(decoded.data()),
                                     reinterpret_cast<const unsigned char*>(text.data()),
                                     static_cast<int>(text.size()));
  if (length < 0 || text.size() % 4 != 0) {
    ADD_FAILURE() << "not base64: " << text;
    return {};
  }
  // EVP_DecodeBlock counts the padding as data.
  size_t padding = 0;
  while (padding < 2 && text.size() > padding && text[text.size() - 1 - padding] == '=') {
    ++padding;
  }
  decoded.resize(static_cast<size_t>(length) - padding);
  return decoded;
}

struct Command {
  int status = -1;
  std::string output;  // standard output and standard error
};

// The openssl command-line tool: a verifier that shares no code with ours.
// The arguments are temporary paths and literals, free of shell syntax.
Command openssl(const std::string& arguments) {
  Command result;
  FILE* pipe = ::popen(("openssl " + arguments + " 2>&1").c_str(), "r");
  if (pipe == nullptr) {
    ADD_FAILURE() << "cannot run openssl";
    return result;
  }
  std::array<char, 4096> buffer{};
  size_t n = 0;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) {
    result.output.append(buffer.data(), n);
  }
  const int status = ::pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// Whether the certificate in `path` is still valid `seconds` from now.
bool validIn(const fs::path& path, long seconds) {
  const Command check =
      openssl("x509 -noout -checkend " + std::to_string(seconds) + " -in " + path.string());
  EXPECT_TRUE(check.status == 0 || check.status == 1) << check.output;
  return check.status == 0;
}

// A self-signed ECDSA CA that expired yesterday, which makeCertificateAuthority
// cannot make.
PemPair expiredCa() {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  X509* cert = X509_new();
  X509_set_version(cert, X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 7);
  X509_gmtime_adj(X509_getm_notBefore(cert), -2L * kDaySeconds);
  X509_gmtime_adj(X509_getm_notAfter(cert), -1L * kDaySeconds);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("expired-ca"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  for (const auto& [nid, value] : {std::pair{NID_basic_constraints, "critical,CA:TRUE"},
                                   std::pair{NID_key_usage, "critical,keyCertSign,cRLSign"}}) {
    X509V3_CTX context;
    X509V3_set_ctx(&context, cert, cert, nullptr, nullptr, 0);
    X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value);
    X509_add_ext(cert, extension, -1);
    X509_EXTENSION_free(extension);
  }
  X509_sign(cert, key, EVP_sha256());
  PemPair pair;
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  pair.certificate_pem.assign(data, static_cast<size_t>(BIO_get_mem_data(bio, &data)));
  BIO_free(bio);
  bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  pair.private_key_pem.assign(data, static_cast<size_t>(BIO_get_mem_data(bio, &data)));
  BIO_free(bio);
  X509_free(cert);
  EVP_PKEY_free(key);
  return pair;
}

class CertificateFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "palisade-certs-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    dir_ = root_ / "out";
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(root_, ignored);
  }

  CertificateFilesRequest request() const {
    CertificateFilesRequest request;
    request.dir = dir_;
    request.service = "palisade-webhook";
    request.namespace_name = "palisade-system";
    return request;
  }

  CertificateFiles write(const CertificateFilesRequest& request) const {
    auto files = writeCertificateFiles(request);
    if (!files) {
      ADD_FAILURE() << files.error().message;
      return {};
    }
    return *files;
  }
  CertificateFiles write() const { return write(request()); }

  std::string read(std::string_view name) const { return readFile(dir_ / name); }

  fs::path root_;
  fs::path dir_;
};

TEST_F(CertificateFilesTest, OpensslVerifiesTheServingCertificateAgainstTheCaForTlsServers) {
  write();
  const Command verify = openssl("verify -x509_strict -purpose sslserver -CAfile " +
                                 (dir_ / "ca.crt").string() + " " + (dir_ / "tls.crt").string());
  EXPECT_EQ(verify.status, 0) << verify.output;
  EXPECT_THAT(verify.output, HasSubstr("tls.crt: OK"));
}

TEST_F(CertificateFilesTest, ServingCertificateNamesAreTheFourServiceDnsNames) {
  const CertificateFiles files = write();
  const Command names =
      openssl("x509 -noout -ext subjectAltName -in " + (dir_ / "tls.crt").string());
  ASSERT_EQ(names.status, 0) << names.output;
  EXPECT_THAT(names.output,
              HasSubstr("DNS:palisade-webhook, DNS:palisade-webhook.palisade-system, "
                        "DNS:palisade-webhook.palisade-system.svc, "
                        "DNS:palisade-webhook.palisade-system.svc.cluster.local\n"));
  EXPECT_THAT(files.dns_names,
              UnorderedElementsAre("palisade-webhook", "palisade-webhook.palisade-system",
                                   "palisade-webhook.palisade-system.svc",
                                   "palisade-webhook.palisade-system.svc.cluster.local"));
  // The name the kube-apiserver connects to, and no other.
  EXPECT_EQ(openssl("x509 -noout -checkhost palisade-webhook.palisade-system.svc -in " +
                    (dir_ / "tls.crt").string())
                .output,
            "Hostname palisade-webhook.palisade-system.svc does match certificate\n");
  EXPECT_THAT(
      openssl("x509 -noout -checkhost other.palisade-system.svc -in " + (dir_ / "tls.crt").string())
          .output,
      HasSubstr("does NOT match"));
}

TEST_F(CertificateFilesTest, ClusterDomainNamesTheFullyQualifiedName) {
  CertificateFilesRequest custom = request();
  custom.cluster_domain = "corp.example";
  const CertificateFiles files = write(custom);
  EXPECT_EQ(files.dns_names.back(), "palisade-webhook.palisade-system.svc.corp.example");
  EXPECT_THAT(openssl("x509 -noout -ext subjectAltName -in " + (dir_ / "tls.crt").string()).output,
              HasSubstr(", DNS:palisade-webhook.palisade-system.svc.corp.example\n"));
}

TEST_F(CertificateFilesTest, ServingCertificateExpiresAfterTheDaysAskedAndTheCaAfterTenYears) {
  CertificateFilesRequest thirty = request();
  thirty.days = 30;
  const CertificateFiles files = write(thirty);
  // Two minutes either side for a slow machine.
  EXPECT_TRUE(validIn(dir_ / "tls.crt", 30L * kDaySeconds - 120));
  EXPECT_FALSE(validIn(dir_ / "tls.crt", 30L * kDaySeconds + 120));
  EXPECT_TRUE(validIn(dir_ / "ca.crt", long{kCaDays} * kDaySeconds - 120));
  EXPECT_FALSE(validIn(dir_ / "ca.crt", long{kCaDays} * kDaySeconds + 120));
  const auto left = files.serving_validity.not_after - std::chrono::system_clock::now();
  EXPECT_LT(left, std::chrono::hours(24 * 30) + std::chrono::minutes(2));
  EXPECT_GT(left, std::chrono::hours(24 * 30) - std::chrono::minutes(2));
}

TEST_F(CertificateFilesTest, FilesWithPrivateKeysAreOwnerOnlyWhateverTheUmask) {
  // No umask to fall back on: the modes must come from the writer.
  const mode_t previous = ::umask(0);
  CertificateFilesRequest nested = request();
  nested.dir = root_ / "deploy" / "certs/";
  const CertificateFiles files = write(nested);
  ::umask(previous);

  const fs::path dir = root_ / "deploy" / "certs";
  EXPECT_EQ(files.dir, dir);
  EXPECT_EQ(modeOf(dir), 0700U);
  for (const char* name : {"ca.key", "tls.key", "secret.yaml"}) {
    EXPECT_EQ(modeOf(dir / name), 0600U) << name;
  }
  for (const char* name : {"ca.crt", "tls.crt", "ca-bundle.txt", "webhook-patch.yaml"}) {
    EXPECT_EQ(modeOf(dir / name), 0644U) << name;
  }
  // No temporary file is left behind.
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    names.insert(entry.path().filename().string());
  }
  EXPECT_EQ(names, (std::set<std::string>{"ca.crt", "ca.key", "tls.crt", "tls.key", "secret.yaml",
                                          "ca-bundle.txt", "webhook-patch.yaml"}));
  EXPECT_EQ(files.written.size(), names.size());
}

TEST_F(CertificateFilesTest, ExistingFolderKeepsItsPermissions) {
  fs::create_directory(dir_);
  fs::permissions(dir_, fs::perms(0750));
  write();
  EXPECT_EQ(modeOf(dir_), 0750U);
}

TEST_F(CertificateFilesTest, SecretIsAKubernetesTlsSecretOfTheFilesInBase64) {
  write();
  const YAML::Node secret = YAML::LoadFile((dir_ / "secret.yaml").string());
  EXPECT_EQ(secret["apiVersion"].as<std::string>(), "v1");
  EXPECT_EQ(secret["kind"].as<std::string>(), "Secret");
  EXPECT_EQ(secret["type"].as<std::string>(), "kubernetes.io/tls");
  EXPECT_EQ(secret["metadata"]["name"].as<std::string>(), "palisade-webhook-tls");
  EXPECT_EQ(secret["metadata"]["namespace"].as<std::string>(), "palisade-system");
  ASSERT_TRUE(secret["data"].IsMap());
  EXPECT_EQ(secret["data"].size(), 3U);
  for (const char* name : {"tls.crt", "tls.key", "ca.crt"}) {
    EXPECT_EQ(base64Decode(secret["data"][name].as<std::string>()), read(name)) << name;
  }
}

TEST_F(CertificateFilesTest, SecretNameCanBeChosen) {
  CertificateFilesRequest named = request();
  named.secret_name = "webhook-serving";
  EXPECT_EQ(write(named).secret_name, "webhook-serving");
  const YAML::Node secret = YAML::LoadFile((dir_ / "secret.yaml").string());
  EXPECT_EQ(secret["metadata"]["name"].as<std::string>(), "webhook-serving");
}

TEST_F(CertificateFilesTest, CaBundleIsOneLineOfBase64OfTheCaCertificate) {
  const CertificateFiles files = write();
  const std::string bundle = read("ca-bundle.txt");
  EXPECT_EQ(bundle, files.ca_bundle + "\n");
  EXPECT_EQ(bundle.find('\n'), bundle.size() - 1);
  EXPECT_EQ(base64Decode(files.ca_bundle), read("ca.crt"));
}

TEST_F(CertificateFilesTest, WebhookPatchSetsTheCaBundleOfEachWebhook) {
  CertificateFilesRequest three = request();
  three.webhooks = 3;
  const CertificateFiles files = write(three);
  const YAML::Node patch = YAML::LoadFile((dir_ / "webhook-patch.yaml").string());
  ASSERT_TRUE(patch.IsSequence());
  ASSERT_EQ(patch.size(), 3U);
  for (size_t i = 0; i < patch.size(); ++i) {
    EXPECT_EQ(patch[i]["op"].as<std::string>(), "add");
    EXPECT_EQ(patch[i]["path"].as<std::string>(),
              "/webhooks/" + std::to_string(i) + "/clientConfig/caBundle");
    EXPECT_EQ(patch[i]["value"].as<std::string>(), files.ca_bundle);
  }
}

TEST_F(CertificateFilesTest, RunningAgainKeepsTheCaAndIssuesANewServingCertificate) {
  EXPECT_EQ(write().ca_source, CaSource::kCreated);
  const std::string ca_crt = read("ca.crt");
  const std::string ca_key = read("ca.key");
  const std::string tls_crt = read("tls.crt");
  const std::string tls_key = read("tls.key");

  const CertificateFiles again = write();
  EXPECT_EQ(again.ca_source, CaSource::kKept);
  EXPECT_EQ(read("ca.crt"), ca_crt);
  EXPECT_EQ(read("ca.key"), ca_key);
  EXPECT_NE(read("tls.crt"), tls_crt);
  EXPECT_NE(read("tls.key"), tls_key);
  EXPECT_THAT(again.written, Not(::testing::Contains(dir_ / "ca.crt")));
  EXPECT_EQ(openssl("verify -CAfile " + (dir_ / "ca.crt").string() + " " +
                    (dir_ / "tls.crt").string())
                .status,
            0);
}

TEST_F(CertificateFilesTest, RenewCaReplacesTheCaAndSignsWithTheNewOne) {
  write();
  const std::string ca_crt = read("ca.crt");
  const std::string ca_key = read("ca.key");
  writeFile(root_ / "old-ca.crt", ca_crt);

  CertificateFilesRequest renew = request();
  renew.renew_ca = true;
  const CertificateFiles renewed = write(renew);
  EXPECT_EQ(renewed.ca_source, CaSource::kRenewed);
  EXPECT_NE(read("ca.crt"), ca_crt);
  EXPECT_NE(read("ca.key"), ca_key);
  EXPECT_EQ(base64Decode(read("ca-bundle.txt").substr(0, renewed.ca_bundle.size())),
            read("ca.crt"));
  EXPECT_EQ(openssl("verify -CAfile " + (dir_ / "ca.crt").string() + " " +
                    (dir_ / "tls.crt").string())
                .status,
            0);
  EXPECT_NE(openssl("verify -CAfile " + (root_ / "old-ca.crt").string() + " " +
                    (dir_ / "tls.crt").string())
                .status,
            0);
}

// Each breaks the CA of a folder written before; `message` is expected in
// the error, and --renew-ca must resolve it.
struct BrokenCa {
  const char* name;
  std::function<void(const fs::path& dir)> damage;
  const char* message;
};

class BrokenCaTest : public CertificateFilesTest,
                     public ::testing::WithParamInterface<BrokenCa> {};

TEST_P(BrokenCaTest, IsAnErrorThatWritesNothingUntilRenewCaReplacesIt) {
  write();
  GetParam().damage(dir_);
  const std::string tls_crt = read("tls.crt");
  const std::string secret = read("secret.yaml");

  auto refused = writeCertificateFiles(request());
  ASSERT_FALSE(refused.has_value());
  EXPECT_THAT(refused.error().message, HasSubstr(GetParam().message));
  EXPECT_THAT(refused.error().message, HasSubstr(dir_.string()));
  EXPECT_THAT(refused.error().message, HasSubstr("--renew-ca"));
  EXPECT_EQ(read("tls.crt"), tls_crt);
  EXPECT_EQ(read("secret.yaml"), secret);

  CertificateFilesRequest renew = request();
  renew.renew_ca = true;
  EXPECT_EQ(write(renew).ca_source, CaSource::kRenewed);
  EXPECT_EQ(openssl("verify -CAfile " + (dir_ / "ca.crt").string() + " " +
                    (dir_ / "tls.crt").string())
                .status,
            0);
}

INSTANTIATE_TEST_SUITE_P(
    CertificateFiles, BrokenCaTest,
    ::testing::Values(
        BrokenCa{"CertificateWithoutKey", [](const fs::path& dir) { fs::remove(dir / "ca.key"); },
                 "holds ca.crt but no ca.key"},
        BrokenCa{"KeyWithoutCertificate", [](const fs::path& dir) { fs::remove(dir / "ca.crt"); },
                 "holds ca.key but no ca.crt"},
        BrokenCa{"KeyOfAnotherCa",
                 [](const fs::path& dir) {
                   auto other = makeCertificateAuthority("other", std::chrono::hours(24));
                   ASSERT_TRUE(other);
                   writeFile(dir / "ca.key", other->private_key_pem);
                 },
                 "the CA private key does not belong to the CA certificate"},
        BrokenCa{"ExpiredCa",
                 [](const fs::path& dir) {
                   const PemPair expired = expiredCa();
                   writeFile(dir / "ca.crt", expired.certificate_pem);
                   writeFile(dir / "ca.key", expired.private_key_pem);
                 },
                 "the CA certificate has expired"},
        BrokenCa{"CertificateThatIsNotPem",
                 [](const fs::path& dir) { writeFile(dir / "ca.crt", "not a certificate\n"); },
                 "cannot read the CA certificate PEM"},
        BrokenCa{"LeafInsteadOfCa",
                 [](const fs::path& dir) {
                   fs::copy_file(dir / "tls.crt", dir / "ca.crt",
                                 fs::copy_options::overwrite_existing);
                   fs::copy_file(dir / "tls.key", dir / "ca.key",
                                 fs::copy_options::overwrite_existing);
                 },
                 "is not a certificate authority"}),
    [](const ::testing::TestParamInfo<BrokenCa>& param) { return param.param.name; });

TEST_F(CertificateFilesTest, CaThatWouldExpireBeforeTheServingCertificateIsAnError) {
  fs::create_directory(dir_);
  auto short_lived = makeCertificateAuthority("short-lived", std::chrono::hours(24 * 10));
  ASSERT_TRUE(short_lived);
  writeFile(dir_ / "ca.crt", short_lived->certificate_pem);
  writeFile(dir_ / "ca.key", short_lived->private_key_pem);

  auto refused = writeCertificateFiles(request());
  ASSERT_FALSE(refused.has_value());
  EXPECT_THAT(refused.error().message,
              HasSubstr("before a serving certificate valid for 365 days"));
  EXPECT_THAT(refused.error().message, HasSubstr("--renew-ca"));
  EXPECT_FALSE(fs::exists(dir_ / "tls.crt"));

  CertificateFilesRequest short_serving = request();
  short_serving.days = 5;
  EXPECT_EQ(write(short_serving).ca_source, CaSource::kKept);
  EXPECT_EQ(read("ca.crt"), short_lived->certificate_pem);
}

TEST_F(CertificateFilesTest, OutThatIsAFileIsAnError) {
  writeFile(dir_, "a file");
  auto refused = writeCertificateFiles(request());
  ASSERT_FALSE(refused.has_value());
  EXPECT_THAT(refused.error().message, HasSubstr("not a folder"));
}

TEST_F(CertificateFilesTest, LongNamesGetACertificateThoughTheyDoNotFitACommonName) {
  CertificateFilesRequest long_names = request();
  long_names.service = "s" + std::string(62, 'x');
  long_names.namespace_name = "n" + std::string(62, 'y');
  const CertificateFiles files = write(long_names);
  EXPECT_EQ(files.dns_names[2], long_names.service + "." + long_names.namespace_name + ".svc");
  EXPECT_EQ(openssl("x509 -noout -checkhost " + files.dns_names[2] + " -in " +
                    (dir_ / "tls.crt").string())
                .status,
            0);
}

struct InvalidRequest {
  const char* name;
  std::function<void(CertificateFilesRequest&)> change;
  const char* message;
};

class InvalidRequestTest : public CertificateFilesTest,
                           public ::testing::WithParamInterface<InvalidRequest> {};

TEST_P(InvalidRequestTest, IsRefusedNamingTheFlagAndCreatesNothing) {
  CertificateFilesRequest invalid = request();
  GetParam().change(invalid);
  auto checked = checkCertificateFilesRequest(invalid);
  ASSERT_FALSE(checked.has_value());
  EXPECT_THAT(checked.error().message, HasSubstr(GetParam().message));
  auto written = writeCertificateFiles(invalid);
  ASSERT_FALSE(written.has_value());
  EXPECT_EQ(written.error().message, checked.error().message);
  EXPECT_FALSE(fs::exists(dir_));
}

INSTANTIATE_TEST_SUITE_P(
    CertificateFiles, InvalidRequestTest,
    ::testing::Values(
        InvalidRequest{"ZeroDays", [](auto& r) { r.days = 0; },
                       "--days 0: the serving certificate's validity must be 1 to 3650 days"},
        InvalidRequest{"NegativeDays", [](auto& r) { r.days = -7; }, "--days -7"},
        InvalidRequest{"AbsurdDays", [](auto& r) { r.days = 100000; }, "--days 100000"},
        InvalidRequest{"UppercaseService", [](auto& r) { r.service = "Webhook"; },
                       "--service \"Webhook\""},
        InvalidRequest{"ServiceStartingWithADigit", [](auto& r) { r.service = "1webhook"; },
                       "must start with a lowercase letter"},
        InvalidRequest{"EmptyService", [](auto& r) { r.service = ""; }, "--service \"\""},
        InvalidRequest{"NamespaceWithADot", [](auto& r) { r.namespace_name = "a.b"; },
                       "--namespace \"a.b\": must not contain dots"},
        InvalidRequest{"SecretNameWithAnUnderscore", [](auto& r) { r.secret_name = "my_tls"; },
                       "--secret-name \"my_tls\""},
        InvalidRequest{"ClusterDomainWithASpace", [](auto& r) { r.cluster_domain = "a b"; },
                       "--cluster-domain \"a b\""},
        InvalidRequest{"DnsNameTooLong",
                       [](auto& r) {
                         r.service = "s" + std::string(62, 'x');
                         r.namespace_name = "n" + std::string(62, 'y');
                         r.cluster_domain = std::string(63, 'c') + "." + std::string(63, 'd');
                       },
                       "make the DNS name"},
        InvalidRequest{"NoWebhooks", [](auto& r) { r.webhooks = 0; }, "--webhooks 0"},
        InvalidRequest{"NoFolder", [](auto& r) { r.dir.clear(); }, "--out"}),
    [](const ::testing::TestParamInfo<InvalidRequest>& param) { return param.param.name; });

TEST(CheckCertificateAuthority, ReturnsTheCaValidity) {
  auto ca = makeCertificateAuthority("ca", std::chrono::hours(48));
  ASSERT_TRUE(ca);
  auto validity = checkCertificateAuthority(*ca);
  ASSERT_TRUE(validity) << validity.error().message;
  EXPECT_EQ(validity->not_after - validity->not_before,
            std::chrono::hours(48) + std::chrono::minutes(5));
}

TEST(UtcTimestamp, IsRfc3339InUtc) {
  EXPECT_EQ(utcTimestamp(std::chrono::system_clock::from_time_t(1764145800)),
            "2025-11-26T08:30:00Z");
}

}  // namespace
}  // namespace palisade::certs
