#include "certs/certificate_authority.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

namespace palisade::certs {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

template <auto Free>
struct Deleter {
  template <class T>
  void operator()(T* object) const {
    Free(object);
  }
};
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using StorePtr = std::unique_ptr<X509_STORE, Deleter<X509_STORE_free>>;
using StoreContextPtr = std::unique_ptr<X509_STORE_CTX, Deleter<X509_STORE_CTX_free>>;
using SslContextPtr = std::unique_ptr<SSL_CTX, Deleter<SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, Deleter<SSL_free>>;

constexpr std::chrono::hours kCaValidity{24 * 3650};

X509Ptr parseCertificate(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

PkeyPtr parseKey(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return PkeyPtr(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
}

PemPair makeCa(const char* name = "palisade-ca") {
  auto ca = makeCertificateAuthority(name, kCaValidity);
  EXPECT_TRUE(ca.has_value()) << ca.error().message;
  return ca.value_or(PemPair{});
}

ServingCertificateRequest webhookRequest() {
  ServingCertificateRequest request;
  request.common_name = "palisade-webhook.palisade.svc";
  request.dns_names = serviceDnsNames("palisade-webhook", "palisade");
  request.ip_addresses = {"127.0.0.1", "::1"};
  return request;
}

PemPair issue(const PemPair& ca, const ServingCertificateRequest& request = webhookRequest()) {
  auto leaf = issueServingCertificate(ca, request);
  EXPECT_TRUE(leaf.has_value()) << leaf.error().message;
  return leaf.value_or(PemPair{});
}

// X509_verify_cert's result for `leaf` with `ca` as the only trust anchor,
// for TLS server use unless another purpose (0: none) is given.
int verifyChain(const PemPair& ca, const PemPair& leaf, int purpose = X509_PURPOSE_SSL_SERVER) {
  X509Ptr ca_cert = parseCertificate(ca.certificate_pem);
  X509Ptr leaf_cert = parseCertificate(leaf.certificate_pem);
  StorePtr store(X509_STORE_new());
  StoreContextPtr context(X509_STORE_CTX_new());
  if (!ca_cert || !leaf_cert || !store || !context ||
      X509_STORE_add_cert(store.get(), ca_cert.get()) != 1 ||
      X509_STORE_CTX_init(context.get(), store.get(), leaf_cert.get(), nullptr) != 1 ||
      (purpose != 0 && X509_STORE_CTX_set_purpose(context.get(), purpose) != 1)) {
    ADD_FAILURE() << "cannot set up verification";
    return -1;
  }
  if (X509_verify_cert(context.get()) == 1) {
    return X509_V_OK;
  }
  return X509_STORE_CTX_get_error(context.get());
}

time_t asUnixTime(const ASN1_TIME* time) {
  std::tm parts{};
  EXPECT_EQ(ASN1_TIME_to_tm(time, &parts), 1);
  return timegm(&parts);
}

bool isCritical(X509* cert, int nid) {
  const int index = X509_get_ext_by_NID(cert, nid, -1);
  return index >= 0 && X509_EXTENSION_get_critical(X509_get_ext(cert, index)) == 1;
}

std::vector<std::string> sanEntries(X509* cert) {
  std::vector<std::string> entries;
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    int type = 0;
    const auto* value = static_cast<const ASN1_STRING*>(GENERAL_NAME_get0_value(name, &type));
    const std::string bytes(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                            static_cast<size_t>(ASN1_STRING_length(value)));
    entries.push_back((type == GEN_DNS ? "DNS:" : type == GEN_IPADD ? "IP:" : "other:") +
                      (type == GEN_IPADD ? std::to_string(bytes.size()) + " bytes" : bytes));
  }
  GENERAL_NAMES_free(names);
  return entries;
}

std::string commonName(X509* cert) {
  std::array<char, 256> text{};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, text.data(),
                            static_cast<int>(text.size()));
  return text.data();
}

TEST(CertificateAuthority, IsSelfSignedWithAnEcdsaP256Pkcs8Key) {
  const PemPair ca = makeCa();
  X509Ptr cert = parseCertificate(ca.certificate_pem);
  PkeyPtr key = parseKey(ca.private_key_pem);
  ASSERT_TRUE(cert);
  ASSERT_TRUE(key);
  EXPECT_THAT(ca.private_key_pem, StartsWith("-----BEGIN PRIVATE KEY-----\n"));
  EXPECT_EQ(X509_check_private_key(cert.get(), key.get()), 1);
  EXPECT_EQ(X509_verify(cert.get(), X509_get0_pubkey(cert.get())), 1);
  EXPECT_EQ(X509_check_issued(cert.get(), cert.get()), X509_V_OK);
  EXPECT_EQ(X509_NAME_cmp(X509_get_subject_name(cert.get()), X509_get_issuer_name(cert.get())), 0);
  EXPECT_EQ(commonName(cert.get()), "palisade-ca");
  EXPECT_EQ(X509_get_signature_nid(cert.get()), NID_ecdsa_with_SHA256);

  std::array<char, 64> group{};
  size_t group_length = 0;
  ASSERT_EQ(EVP_PKEY_get_group_name(key.get(), group.data(), group.size(), &group_length), 1);
  EXPECT_STREQ(group.data(), "prime256v1");
}

TEST(CertificateAuthority, VerifiesAsItsOwnTrustAnchorAndMaySignTlsServers) {
  const PemPair ca = makeCa();
  EXPECT_EQ(verifyChain(ca, ca, 0), X509_V_OK);
  X509Ptr cert = parseCertificate(ca.certificate_pem);
  ASSERT_TRUE(cert);
  EXPECT_EQ(X509_check_purpose(cert.get(), X509_PURPOSE_SSL_SERVER, 1), 1);
  // It is not a server certificate itself.
  EXPECT_EQ(verifyChain(ca, ca), X509_V_ERR_INVALID_PURPOSE);
}

TEST(CertificateAuthority, IsACriticalCaForCertificateAndCrlSigningWithAKeyIdentifier) {
  X509Ptr cert = parseCertificate(makeCa().certificate_pem);
  ASSERT_TRUE(cert);
  EXPECT_EQ(X509_check_ca(cert.get()), 1);
  EXPECT_NE(X509_get_extension_flags(cert.get()) & EXFLAG_CA, 0U);
  EXPECT_EQ(X509_get_key_usage(cert.get()), static_cast<uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  EXPECT_TRUE(isCritical(cert.get(), NID_basic_constraints));
  EXPECT_TRUE(isCritical(cert.get(), NID_key_usage));
  const ASN1_OCTET_STRING* key_id = X509_get0_subject_key_id(cert.get());
  ASSERT_NE(key_id, nullptr);
  EXPECT_GT(ASN1_STRING_length(key_id), 0);
}

TEST(CertificateAuthority, SerialIsAPositiveRandom128BitNumber) {
  X509Ptr first = parseCertificate(makeCa().certificate_pem);
  X509Ptr second = parseCertificate(makeCa().certificate_pem);
  ASSERT_TRUE(first);
  ASSERT_TRUE(second);
  for (X509* cert : {first.get(), second.get()}) {
    std::unique_ptr<BIGNUM, Deleter<BN_free>> serial(
        ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
    ASSERT_TRUE(serial);
    EXPECT_FALSE(BN_is_negative(serial.get()));
    EXPECT_FALSE(BN_is_zero(serial.get()));
    EXPECT_LE(BN_num_bits(serial.get()), 128);
  }
  EXPECT_NE(ASN1_INTEGER_cmp(X509_get0_serialNumber(first.get()),
                             X509_get0_serialNumber(second.get())),
            0);
}

TEST(CertificateAuthority, ValidityStartsFiveMinutesEarlyAndLastsAsLongAsAsked) {
  const time_t before = std::time(nullptr);
  auto ca = makeCertificateAuthority("palisade-ca", std::chrono::hours(48));
  const time_t after = std::time(nullptr);
  ASSERT_TRUE(ca.has_value()) << ca.error().message;
  X509Ptr cert = parseCertificate(ca->certificate_pem);
  ASSERT_TRUE(cert);
  const time_t not_before = asUnixTime(X509_get0_notBefore(cert.get()));
  const time_t not_after = asUnixTime(X509_get0_notAfter(cert.get()));
  EXPECT_GE(not_before, before - 300);
  EXPECT_LE(not_before, after - 300);
  EXPECT_GE(not_after, before + 48 * 3600);
  EXPECT_LE(not_after, after + 48 * 3600);
}

TEST(CertificateAuthority, RejectsANonPositiveValidityAndAnEmptyName) {
  auto no_time = makeCertificateAuthority("palisade-ca", std::chrono::hours(0));
  ASSERT_FALSE(no_time.has_value());
  EXPECT_THAT(no_time.error().message, HasSubstr("validity must be positive"));
  auto no_name = makeCertificateAuthority("", kCaValidity);
  ASSERT_FALSE(no_name.has_value());
  EXPECT_THAT(no_name.error().message, HasSubstr("common name must not be empty"));
  auto long_name = makeCertificateAuthority(std::string(65, 'a'), kCaValidity);
  ASSERT_FALSE(long_name.has_value());
  EXPECT_THAT(long_name.error().message, HasSubstr("at most 64"));
}

TEST(ServingCertificate, VerifiesAgainstItsCaForTlsServerUse) {
  const PemPair ca = makeCa();
  EXPECT_EQ(verifyChain(ca, issue(ca)), X509_V_OK);
}

TEST(ServingCertificate, FailsVerificationAgainstAnotherCa) {
  const PemPair ca = makeCa();
  // Same subject name, different key: only the signature tells them apart.
  const PemPair impostor = makeCa();
  EXPECT_EQ(verifyChain(impostor, issue(ca)), X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
}

TEST(ServingCertificate, CarriesEveryRequestedNameAsASubjectAltName) {
  X509Ptr cert = parseCertificate(issue(makeCa()).certificate_pem);
  ASSERT_TRUE(cert);
  EXPECT_THAT(sanEntries(cert.get()),
              ElementsAre("DNS:palisade-webhook", "DNS:palisade-webhook.palisade",
                          "DNS:palisade-webhook.palisade.svc",
                          "DNS:palisade-webhook.palisade.svc.cluster.local", "IP:4 bytes",
                          "IP:16 bytes"));
  EXPECT_FALSE(isCritical(cert.get(), NID_subject_alt_name));
}

TEST(ServingCertificate, MatchesEveryRequestedHostAndAddressAndNoOther) {
  const ServingCertificateRequest request = webhookRequest();
  X509Ptr cert = parseCertificate(issue(makeCa(), request).certificate_pem);
  ASSERT_TRUE(cert);
  for (const auto& name : request.dns_names) {
    EXPECT_EQ(X509_check_host(cert.get(), name.data(), name.size(), 0, nullptr), 1) << name;
  }
  for (const char* address : {"127.0.0.1", "::1", "0:0:0:0:0:0:0:1"}) {
    EXPECT_EQ(X509_check_ip_asc(cert.get(), address, 0), 1) << address;
  }
  for (const std::string name :
       {"other.palisade.svc", "palisade-webhook.default.svc", "palisade.svc", "localhost"}) {
    EXPECT_EQ(X509_check_host(cert.get(), name.data(), name.size(), 0, nullptr), 0) << name;
  }
  for (const char* address : {"127.0.0.2", "::2", "10.0.0.1"}) {
    EXPECT_EQ(X509_check_ip_asc(cert.get(), address, 0), 0) << address;
  }
}

TEST(ServingCertificate, WildcardCoversExactlyOneLeftmostLabel) {
  ServingCertificateRequest request;
  request.common_name = "wildcard";
  request.dns_names = {"*.webhooks.example.test"};
  X509Ptr cert = parseCertificate(issue(makeCa(), request).certificate_pem);
  ASSERT_TRUE(cert);
  const std::string covered = "a.webhooks.example.test";
  const std::string too_deep = "a.b.webhooks.example.test";
  const std::string apex = "webhooks.example.test";
  EXPECT_EQ(X509_check_host(cert.get(), covered.data(), covered.size(), 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(cert.get(), too_deep.data(), too_deep.size(), 0, nullptr), 0);
  EXPECT_EQ(X509_check_host(cert.get(), apex.data(), apex.size(), 0, nullptr), 0);
}

TEST(ServingCertificate, IsALeafForServerAuthenticationIdentifiedByItsCaKey) {
  const PemPair ca = makeCa();
  X509Ptr ca_cert = parseCertificate(ca.certificate_pem);
  X509Ptr cert = parseCertificate(issue(ca).certificate_pem);
  ASSERT_TRUE(ca_cert);
  ASSERT_TRUE(cert);
  EXPECT_EQ(X509_check_ca(cert.get()), 0);
  const uint32_t flags = X509_get_extension_flags(cert.get());
  EXPECT_NE(flags & EXFLAG_BCONS, 0U);
  EXPECT_EQ(flags & EXFLAG_CA, 0U);
  EXPECT_TRUE(isCritical(cert.get(), NID_basic_constraints));
  EXPECT_EQ(X509_get_key_usage(cert.get()), static_cast<uint32_t>(KU_DIGITAL_SIGNATURE));
  EXPECT_TRUE(isCritical(cert.get(), NID_key_usage));
  EXPECT_EQ(X509_get_extended_key_usage(cert.get()), static_cast<uint32_t>(XKU_SSL_SERVER));
  EXPECT_EQ(X509_check_purpose(cert.get(), X509_PURPOSE_SSL_CLIENT, 0), 0);

  const ASN1_OCTET_STRING* authority_key_id = X509_get0_authority_key_id(cert.get());
  ASSERT_NE(authority_key_id, nullptr);
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(authority_key_id, X509_get0_subject_key_id(ca_cert.get())), 0);
  EXPECT_EQ(X509_NAME_cmp(X509_get_issuer_name(cert.get()), X509_get_subject_name(ca_cert.get())),
            0);
  EXPECT_EQ(commonName(cert.get()), "palisade-webhook.palisade.svc");
  EXPECT_NE(ASN1_INTEGER_cmp(X509_get0_serialNumber(cert.get()),
                             X509_get0_serialNumber(ca_cert.get())),
            0);
}

TEST(ServingCertificate, ValidityStartsFiveMinutesEarlyAndLastsAsLongAsAsked) {
  ServingCertificateRequest request = webhookRequest();
  request.validity = std::chrono::hours(30);
  const time_t before = std::time(nullptr);
  X509Ptr cert = parseCertificate(issue(makeCa(), request).certificate_pem);
  const time_t after = std::time(nullptr);
  ASSERT_TRUE(cert);
  const time_t not_before = asUnixTime(X509_get0_notBefore(cert.get()));
  const time_t not_after = asUnixTime(X509_get0_notAfter(cert.get()));
  EXPECT_GE(not_before, before - 300);
  EXPECT_LE(not_before, after - 300);
  EXPECT_GE(not_after, before + 30 * 3600);
  EXPECT_LE(not_after, after + 30 * 3600);
}

TEST(ServingCertificate, RejectsAnInvalidIpAddress) {
  const PemPair ca = makeCa();
  for (const char* address : {"256.1.1.1", "1.2.3", "01.2.3.4", "fe80::1%eth0", "10.0.0.0/8",
                              "[::1]", "localhost", ""}) {
    ServingCertificateRequest request = webhookRequest();
    request.ip_addresses = {"127.0.0.1", address};
    auto leaf = issueServingCertificate(ca, request);
    ASSERT_FALSE(leaf.has_value()) << address;
    EXPECT_THAT(leaf.error().message,
                HasSubstr("invalid IP address \"" + std::string(address) + "\""));
  }
}

TEST(ServingCertificate, RejectsAnInvalidDnsName) {
  const PemPair ca = makeCa();
  for (const char* name : {"Webhook.palisade.svc", "-webhook.palisade", "webhook..palisade",
                           "web_hook", "webhook.", "*", "*.", "a.*.example.test", "**.example",
                           "webhook palisade", ""}) {
    ServingCertificateRequest request = webhookRequest();
    request.dns_names.push_back(name);
    auto leaf = issueServingCertificate(ca, request);
    ASSERT_FALSE(leaf.has_value()) << name;
    EXPECT_THAT(leaf.error().message, HasSubstr("invalid DNS name \"" + std::string(name) + "\""));
  }
}

TEST(ServingCertificate, RequiresAtLeastOneSubjectAltName) {
  ServingCertificateRequest request;
  request.common_name = "palisade-webhook";
  auto leaf = issueServingCertificate(makeCa(), request);
  ASSERT_FALSE(leaf.has_value());
  EXPECT_THAT(leaf.error().message, HasSubstr("at least one DNS name or IP address"));
}

TEST(ServingCertificate, RejectsACaKeyThatDoesNotBelongToTheCaCertificate) {
  const PemPair ca = makeCa();
  const PemPair other = makeCa();
  auto leaf =
      issueServingCertificate({ca.certificate_pem, other.private_key_pem}, webhookRequest());
  ASSERT_FALSE(leaf.has_value());
  EXPECT_THAT(leaf.error().message, HasSubstr("does not belong to the CA certificate"));
  // OpenSSL's own reason is part of the message.
  EXPECT_THAT(leaf.error().message, HasSubstr("mismatch"));
}

TEST(ServingCertificate, RejectsUnreadableCaPem) {
  const PemPair ca = makeCa();
  auto no_cert =
      issueServingCertificate({"not a certificate", ca.private_key_pem}, webhookRequest());
  ASSERT_FALSE(no_cert.has_value());
  EXPECT_THAT(no_cert.error().message, HasSubstr("cannot read the CA certificate PEM: error:"));
  auto no_key = issueServingCertificate({ca.certificate_pem, ""}, webhookRequest());
  ASSERT_FALSE(no_key.has_value());
  EXPECT_THAT(no_key.error().message, HasSubstr("cannot read the CA private key PEM"));
}

TEST(ServingCertificate, RefusesToIssueFromALeafCertificate) {
  const PemPair ca = makeCa();
  const PemPair leaf = issue(ca);
  auto grandchild = issueServingCertificate(leaf, webhookRequest());
  ASSERT_FALSE(grandchild.has_value());
  EXPECT_THAT(grandchild.error().message, HasSubstr("not a certificate authority"));
}

TEST(ServiceDnsNames, ListsEveryFormTheApiserverMayUse) {
  EXPECT_THAT(serviceDnsNames("palisade-webhook", "palisade"),
              ElementsAre("palisade-webhook", "palisade-webhook.palisade",
                          "palisade-webhook.palisade.svc",
                          "palisade-webhook.palisade.svc.cluster.local"));
  EXPECT_THAT(serviceDnsNames("hook", "kube-system", "corp.example"),
              ElementsAre("hook", "hook.kube-system", "hook.kube-system.svc",
                          "hook.kube-system.svc.corp.example"));
}

TEST(ServiceDnsNames, OmitsTheFullyQualifiedFormWithoutAClusterDomain) {
  EXPECT_THAT(serviceDnsNames("hook", "ns", ""), ElementsAre("hook", "hook.ns", "hook.ns.svc"));
}

// A fresh directory per test, removed afterwards.
class WriteFileAtomically : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "palisade-certs-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    directory_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(directory_, ignored);
  }

  static std::string read(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(directory_)) {
      names.push_back(entry.path().filename().string());
    }
    return names;
  }
  static mode_t mode(const fs::path& path) {
    struct stat info{};
    EXPECT_EQ(::stat(path.c_str(), &info), 0);
    return info.st_mode & 07777;
  }

  fs::path directory_;
};

TEST_F(WriteFileAtomically, WritesTheContentsWithThePermissionsAsked) {
  const fs::path key = directory_ / "tls.key";
  const std::string contents = std::string("secret\0bytes", 12) + std::string(100000, 'k');
  ASSERT_TRUE(writeFileAtomically(key, contents, fs::perms::owner_read | fs::perms::owner_write));
  EXPECT_EQ(read(key), contents);
  EXPECT_EQ(mode(key), 0600U);
  EXPECT_THAT(entries(), ElementsAre("tls.key"));

  const fs::path cert = directory_ / "tls.crt";
  ASSERT_TRUE(writeFileAtomically(cert, "certificate", fs::perms(0644)));
  EXPECT_EQ(mode(cert), 0644U);
}

TEST_F(WriteFileAtomically, ReplacesAnExistingFileAsAWhole) {
  const fs::path path = directory_ / "tls.key";
  { std::ofstream(path) << "an older and much longer key that must disappear entirely"; }
  fs::permissions(path, fs::perms(0644));
  struct stat old_info{};
  ASSERT_EQ(::stat(path.c_str(), &old_info), 0);

  ASSERT_TRUE(writeFileAtomically(path, "new key", fs::perms(0600)));
  EXPECT_EQ(read(path), "new key");
  EXPECT_EQ(mode(path), 0600U);
  struct stat new_info{};
  ASSERT_EQ(::stat(path.c_str(), &new_info), 0);
  // A new inode: readers holding the old file see the old contents whole.
  EXPECT_NE(new_info.st_ino, old_info.st_ino);
  EXPECT_THAT(entries(), ElementsAre("tls.key"));
}

TEST_F(WriteFileAtomically, FailsInAMissingDirectory) {
  const fs::path path = directory_ / "missing" / "tls.key";
  auto written = writeFileAtomically(path, "key", fs::perms(0600));
  ASSERT_FALSE(written.has_value());
  EXPECT_THAT(written.error().message, HasSubstr((directory_ / "missing").string()));
  EXPECT_THAT(written.error().message, HasSubstr("No such file or directory"));
}

TEST_F(WriteFileAtomically, RemovesTheTemporaryFileWhenTheRenameFails) {
  // rename(2) cannot replace a non-empty directory with a file.
  const fs::path path = directory_ / "occupied";
  fs::create_directory(path);
  { std::ofstream(path / "inside") << "x"; }
  auto written = writeFileAtomically(path, "key", fs::perms(0600));
  ASSERT_FALSE(written.has_value());
  EXPECT_THAT(written.error().message, HasSubstr("cannot replace " + path.string()));
  EXPECT_THAT(entries(), ElementsAre("occupied"));
}

TEST(CaBundle, IsSingleLineBase64OfTheCaPem) {
  const PemPair ca = makeCa();
  const std::string bundle = caBundle(ca);
  ASSERT_FALSE(bundle.empty());
  EXPECT_EQ(bundle.find('\n'), std::string::npos);
  EXPECT_EQ(bundle.size() % 4, 0U);

  std::string decoded(bundle.size() / 4 * 3, '\0');
  const int length = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(decoded.data()),
                                     reinterpret_cast<const unsigned char*>(bundle.data()),
                                     static_cast<int>(bundle.size()));
  ASSERT_GE(length, 0);
  // EVP_DecodeBlock counts the bytes the '=' padding stands for.
  const size_t padding = bundle.ends_with("==") ? 2 : bundle.ends_with("=") ? 1 : 0;
  decoded.resize(static_cast<size_t>(length) - padding);
  EXPECT_EQ(decoded, ca.certificate_pem);
}

TEST(CaBundle, OfAKnownTextIsStandardBase64) {
  EXPECT_EQ(caBundle({"-----BEGIN", ""}), "LS0tLS1CRUdJTg==");
  EXPECT_EQ(caBundle({"", ""}), "");
}

// A TLS 1.3 handshake between two in-memory endpoints joined by a BIO pair:
// the server presents the serving certificate, the client trusts only the CA
// and checks the name (or address) it dialled, as the apiserver does.
class Handshake {
 public:
  Handshake(const PemPair& ca, const PemPair& leaf)
      : server_context_(SSL_CTX_new(TLS_server_method())),
        client_context_(SSL_CTX_new(TLS_client_method())) {
    X509Ptr ca_cert = parseCertificate(ca.certificate_pem);
    X509Ptr leaf_cert = parseCertificate(leaf.certificate_pem);
    PkeyPtr leaf_key = parseKey(leaf.private_key_pem);
    ready_ = server_context_ && client_context_ && ca_cert && leaf_cert && leaf_key &&
             SSL_CTX_use_certificate(server_context_.get(), leaf_cert.get()) == 1 &&
             SSL_CTX_use_PrivateKey(server_context_.get(), leaf_key.get()) == 1 &&
             X509_STORE_add_cert(SSL_CTX_get_cert_store(client_context_.get()), ca_cert.get()) == 1;
    if (ready_) {
      SSL_CTX_set_verify(client_context_.get(), SSL_VERIFY_PEER, nullptr);
    }
  }

  bool ready() const { return ready_; }

  // The client's verification result, X509_V_OK when the handshake succeeded.
  long connect(const std::string& host, bool is_address) {
    SslPtr server(SSL_new(server_context_.get()));
    SslPtr client(SSL_new(client_context_.get()));
    BIO* server_bio = nullptr;
    BIO* client_bio = nullptr;
    if (!server || !client || BIO_new_bio_pair(&server_bio, 0, &client_bio, 0) != 1) {
      ADD_FAILURE() << "cannot set up the TLS endpoints";
      return -1;
    }
    SSL_set_bio(server.get(), server_bio, server_bio);
    SSL_set_bio(client.get(), client_bio, client_bio);
    SSL_set_accept_state(server.get());
    SSL_set_connect_state(client.get());
    X509_VERIFY_PARAM* param = SSL_get0_param(client.get());
    if (is_address) {
      X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
    } else {
      SSL_set_tlsext_host_name(client.get(), host.c_str());
      SSL_set1_host(client.get(), host.c_str());
    }
    bool client_done = false;
    bool server_done = false;
    for (int round = 0; round < 20 && !(client_done && server_done); ++round) {
      for (auto [ssl, done] : {std::pair{client.get(), &client_done},
                               std::pair{server.get(), &server_done}}) {
        if (*done) {
          continue;
        }
        const int result = SSL_do_handshake(ssl);
        if (result == 1) {
          *done = true;
        } else if (SSL_get_error(ssl, result) != SSL_ERROR_WANT_READ) {
          ERR_clear_error();
          const long verdict = SSL_get_verify_result(client.get());
          return verdict == X509_V_OK ? -1 : verdict;
        }
      }
    }
    if (!client_done || !server_done) {
      return -1;
    }
    EXPECT_EQ(SSL_version(client.get()), TLS1_3_VERSION);
    return SSL_get_verify_result(client.get());
  }

 private:
  SslContextPtr server_context_;
  SslContextPtr client_context_;
  bool ready_ = false;
};

TEST(ServingCertificate, CompletesATlsHandshakeWithAClientThatTrustsTheCa) {
  const PemPair ca = makeCa();
  Handshake handshake(ca, issue(ca));
  ASSERT_TRUE(handshake.ready());
  EXPECT_EQ(handshake.connect("palisade-webhook.palisade.svc", false), X509_V_OK);
  EXPECT_EQ(handshake.connect("127.0.0.1", true), X509_V_OK);
  EXPECT_EQ(handshake.connect("::1", true), X509_V_OK);
}

TEST(ServingCertificate, TlsClientRejectsAnotherNameOrAnotherCa) {
  const PemPair ca = makeCa();
  const PemPair leaf = issue(ca);
  Handshake wrong_name(ca, leaf);
  ASSERT_TRUE(wrong_name.ready());
  EXPECT_EQ(wrong_name.connect("other.palisade.svc", false), X509_V_ERR_HOSTNAME_MISMATCH);
  EXPECT_EQ(wrong_name.connect("10.0.0.1", true), X509_V_ERR_IP_ADDRESS_MISMATCH);

  Handshake wrong_ca(makeCa(), leaf);
  ASSERT_TRUE(wrong_ca.ready());
  EXPECT_EQ(wrong_ca.connect("palisade-webhook.palisade.svc", false),
            X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
}

}  // namespace
}  // namespace palisade::certs
