#include "certs/certificate_authority.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <utility>

#include "policy/validation.h"

namespace palisade::certs {
namespace {

template <auto Free>
struct Deleter {
  template <class T>
  void operator()(T* object) const {
    Free(object);
  }
};

using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using BignumPtr = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
using ExtensionPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION_free>>;
using GeneralNamePtr = std::unique_ptr<GENERAL_NAME, Deleter<GENERAL_NAME_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES_free>>;
using Asn1StringPtr = std::unique_ptr<ASN1_STRING, Deleter<ASN1_STRING_free>>;

// Clock skew between the machine that issues and the apiserver that verifies
// would otherwise make a fresh certificate "not yet valid" for a while.
constexpr long kBackdateSeconds = 5 * 60;
constexpr int kSerialBits = 128;
// ub-common-name in RFC 5280 appendix A.
constexpr size_t kMaxCommonNameLength = 64;

// Drains the thread's OpenSSL error queue into the message, so the reason is
// reported once and does not leak into the next unrelated failure.
std::string withOpensslErrors(std::string message) {
  bool first = true;
  while (const unsigned long code = ERR_get_error()) {
    std::array<char, 256> text{};
    ERR_error_string_n(code, text.data(), text.size());
    message += first ? ": " : "; ";
    message += text.data();
    first = false;
  }
  return message;
}

std::unexpected<policy::Error> opensslFailure(std::string message) {
  return policy::fail(withOpensslErrors(std::move(message)));
}

std::string joined(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& part : parts) {
    if (!out.empty()) {
      out += "; ";
    }
    out += part;
  }
  return out;
}

policy::Result<PkeyPtr> generateP256Key() {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) {
    return opensslFailure("cannot generate an ECDSA P-256 key");
  }
  return key;
}

policy::Result<void> setRandomSerial(X509* cert) {
  BignumPtr serial(BN_new());
  if (!serial) {
    return opensslFailure("cannot allocate a serial number");
  }
  // RFC 5280 4.1.2.2: positive and unique per CA; zero is not positive.
  do {
    if (BN_rand(serial.get(), kSerialBits, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1) {
      return opensslFailure("cannot draw a random serial number");
    }
  } while (BN_is_zero(serial.get()));
  if (BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert)) == nullptr) {
    return opensslFailure("cannot set the serial number");
  }
  return {};
}

policy::Result<void> setValidity(X509* cert, std::chrono::hours validity) {
  if (validity.count() <= 0) {
    return policy::fail("certificate validity must be positive, got " +
                        std::to_string(validity.count()) + "h");
  }
  const long days = static_cast<long>(validity.count() / 24);
  const int seconds = static_cast<int>((validity.count() % 24) * 3600);
  if (X509_gmtime_adj(X509_getm_notBefore(cert), -kBackdateSeconds) == nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(cert), static_cast<int>(std::min<long>(days, INT_MAX)),
                       seconds, nullptr) == nullptr) {
    return opensslFailure("cannot set the validity period of " + std::to_string(validity.count()) +
                          "h");
  }
  return {};
}

policy::Result<void> setSubjectCommonName(X509* cert, std::string_view common_name) {
  if (common_name.empty()) {
    return policy::fail("certificate common name must not be empty");
  }
  if (common_name.size() > kMaxCommonNameLength) {
    return policy::fail("certificate common name \"" + std::string(common_name) + "\" is " +
                        std::to_string(common_name.size()) + " bytes, at most " +
                        std::to_string(kMaxCommonNameLength) + " are allowed");
  }
  X509_NAME* subject = X509_get_subject_name(cert);
  if (X509_NAME_add_entry_by_NID(subject, NID_commonName, MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(common_name.data()),
                                 static_cast<int>(common_name.size()), -1, 0) != 1) {
    return opensslFailure("cannot set the common name \"" + std::string(common_name) + "\"");
  }
  return {};
}

// `issuer` is the certificate whose key signs `subject` (itself for the CA);
// the key identifier extensions read it.
policy::Result<void> addExtension(X509* subject, X509* issuer, int nid, const char* value) {
  X509V3_CTX context;
  X509V3_set_ctx(&context, issuer, subject, nullptr, nullptr, 0);
  ExtensionPtr extension(X509V3_EXT_conf_nid(nullptr, &context, nid, value));
  if (!extension || X509_add_ext(subject, extension.get(), -1) != 1) {
    return opensslFailure(std::string("cannot add the ") + OBJ_nid2sn(nid) + " extension \"" +
                          value + "\"");
  }
  return {};
}

policy::Result<X509Ptr> newCertificate(std::string_view common_name, std::chrono::hours validity,
                                       EVP_PKEY* key) {
  X509Ptr cert(X509_new());
  if (!cert) {
    return opensslFailure("cannot allocate a certificate");
  }
  if (X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
      X509_set_pubkey(cert.get(), key) != 1) {
    return opensslFailure("cannot initialise the certificate");
  }
  if (auto ok = setRandomSerial(cert.get()); !ok) {
    return std::unexpected(ok.error());
  }
  if (auto ok = setValidity(cert.get(), validity); !ok) {
    return std::unexpected(ok.error());
  }
  if (auto ok = setSubjectCommonName(cert.get(), common_name); !ok) {
    return std::unexpected(ok.error());
  }
  return cert;
}

policy::Result<PemPair> toPem(X509* cert, EVP_PKEY* key) {
  auto write = [](auto&& writer, const char* what) -> policy::Result<std::string> {
    BioPtr bio(BIO_new(BIO_s_mem()));
    if (!bio || writer(bio.get()) != 1) {
      return opensslFailure(std::string("cannot encode the ") + what + " as PEM");
    }
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<size_t>(size));
  };
  auto cert_pem = write([cert](BIO* bio) { return PEM_write_bio_X509(bio, cert); }, "certificate");
  if (!cert_pem) {
    return std::unexpected(cert_pem.error());
  }
  // PEM_write_bio_PrivateKey writes PKCS#8 ("BEGIN PRIVATE KEY"), unencrypted.
  auto key_pem = write(
      [key](BIO* bio) {
        return PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
      },
      "private key");
  if (!key_pem) {
    return std::unexpected(key_pem.error());
  }
  return PemPair{std::move(*cert_pem), std::move(*key_pem)};
}

// Refuses to prompt on the terminal for an encrypted key's passphrase, which
// is what OpenSSL's default callback would do.
int noPassphrase(char* /*buffer*/, int /*size*/, int /*rwflag*/, void* /*userdata*/) {
  return 0;
}

BioPtr readOnlyBio(const std::string& text) {
  return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

struct LoadedCa {
  X509Ptr certificate;
  PkeyPtr key;
};

policy::Result<LoadedCa> loadCa(const PemPair& ca) {
  BioPtr cert_bio = readOnlyBio(ca.certificate_pem);
  X509Ptr cert(cert_bio ? PEM_read_bio_X509(cert_bio.get(), nullptr, noPassphrase, nullptr)
                        : nullptr);
  if (!cert) {
    return opensslFailure("cannot read the CA certificate PEM");
  }
  BioPtr key_bio = readOnlyBio(ca.private_key_pem);
  PkeyPtr key(key_bio ? PEM_read_bio_PrivateKey(key_bio.get(), nullptr, noPassphrase, nullptr)
                      : nullptr);
  if (!key) {
    return opensslFailure("cannot read the CA private key PEM (an unencrypted key is needed)");
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    return opensslFailure("the CA private key does not belong to the CA certificate");
  }
  // A leaf signed by a certificate that may not sign certificates would be
  // rejected by every verifier; better to say so now.
  if (X509_check_ca(cert.get()) == 0) {
    return policy::fail(
        "the CA certificate is not a certificate authority (it needs basicConstraints CA:TRUE "
        "and keyUsage keyCertSign)");
  }
  const int expiry = X509_cmp_current_time(X509_get0_notAfter(cert.get()));
  if (expiry == 0) {
    return opensslFailure("cannot read the CA certificate's notAfter time");
  }
  if (expiry < 0) {
    return policy::fail("the CA certificate has expired");
  }
  return LoadedCa{std::move(cert), std::move(key)};
}

policy::Result<std::chrono::system_clock::time_point> timeOf(const ASN1_TIME* time,
                                                             const char* what) {
  std::tm fields{};
  if (time == nullptr || ASN1_TIME_to_tm(time, &fields) != 1) {
    return opensslFailure(std::string("cannot read the certificate's ") + what + " time");
  }
  // ASN1_TIME_to_tm gives UTC fields; timegm, unlike mktime, reads them as UTC.
  return std::chrono::system_clock::from_time_t(::timegm(&fields));
}

policy::Result<Validity> validityOf(const X509* cert) {
  auto not_before = timeOf(X509_get0_notBefore(cert), "notBefore");
  if (!not_before) {
    return std::unexpected(not_before.error());
  }
  auto not_after = timeOf(X509_get0_notAfter(cert), "notAfter");
  if (!not_after) {
    return std::unexpected(not_after.error());
  }
  return Validity{*not_before, *not_after};
}

policy::Result<void> checkDnsName(const std::string& name) {
  // A wildcard stands for exactly one leftmost label (RFC 6125 6.4.3).
  const bool wildcard = name.starts_with("*.");
  const std::string_view checked = wildcard ? std::string_view(name).substr(2) : name;
  const std::vector<std::string> errors = policy::isDns1123Subdomain(checked);
  if (!errors.empty()) {
    return policy::fail("invalid DNS name \"" + name +
                        "\" for subjectAltName (an RFC 1123 subdomain, optionally prefixed by "
                        "\"*.\", is expected): " +
                        joined(errors));
  }
  return {};
}

// The 4 or 16 bytes of an address, as an iPAddress GeneralName holds them.
policy::Result<std::vector<unsigned char>> parseIpAddress(const std::string& text) {
  std::array<unsigned char, 16> bytes{};
  if (inet_pton(AF_INET, text.c_str(), bytes.data()) == 1) {
    return std::vector<unsigned char>(bytes.begin(), bytes.begin() + 4);
  }
  if (inet_pton(AF_INET6, text.c_str(), bytes.data()) == 1) {
    return std::vector<unsigned char>(bytes.begin(), bytes.end());
  }
  return policy::fail("invalid IP address \"" + text +
                      "\" for subjectAltName (a dotted IPv4 or an RFC 4291 IPv6 address is "
                      "expected, without zone or prefix length)");
}

policy::Result<void> pushGeneralName(GENERAL_NAMES* names, int type, ASN1_STRING* raw_value) {
  Asn1StringPtr value(raw_value);
  GeneralNamePtr name(GENERAL_NAME_new());
  if (!value || !name) {
    return opensslFailure("cannot allocate a subjectAltName entry");
  }
  GENERAL_NAME_set0_value(name.get(), type, value.release());
  if (sk_GENERAL_NAME_push(names, name.get()) == 0) {
    return opensslFailure("cannot add a subjectAltName entry");
  }
  static_cast<void>(name.release());
  return {};
}

policy::Result<void> addSubjectAltNames(X509* cert, const ServingCertificateRequest& request) {
  GeneralNamesPtr names(sk_GENERAL_NAME_new_null());
  if (!names) {
    return opensslFailure("cannot allocate subjectAltName");
  }
  for (const auto& dns_name : request.dns_names) {
    ASN1_IA5STRING* value = ASN1_IA5STRING_new();
    if (value != nullptr &&
        ASN1_STRING_set(value, dns_name.data(), static_cast<int>(dns_name.size())) != 1) {
      ASN1_IA5STRING_free(value);
      return opensslFailure("cannot encode the DNS name \"" + dns_name + "\"");
    }
    if (auto ok = pushGeneralName(names.get(), GEN_DNS, value); !ok) {
      return ok;
    }
  }
  for (const auto& address : request.ip_addresses) {
    auto bytes = parseIpAddress(address);
    if (!bytes) {
      return std::unexpected(bytes.error());
    }
    ASN1_OCTET_STRING* value = ASN1_OCTET_STRING_new();
    if (value != nullptr &&
        ASN1_OCTET_STRING_set(value, bytes->data(), static_cast<int>(bytes->size())) != 1) {
      ASN1_OCTET_STRING_free(value);
      return opensslFailure("cannot encode the IP address \"" + address + "\"");
    }
    if (auto ok = pushGeneralName(names.get(), GEN_IPADD, value); !ok) {
      return ok;
    }
  }
  // Not critical: the subject is not empty (RFC 5280 4.2.1.6).
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return opensslFailure("cannot add the subjectAltName extension");
  }
  return {};
}

policy::Result<void> checkRequest(const ServingCertificateRequest& request) {
  if (request.dns_names.empty() && request.ip_addresses.empty()) {
    // Clients match names against subjectAltName only (Go ignores the common
    // name), so a certificate without one could not be verified by anyone.
    return policy::fail("a serving certificate needs at least one DNS name or IP address");
  }
  for (const auto& dns_name : request.dns_names) {
    if (auto ok = checkDnsName(dns_name); !ok) {
      return ok;
    }
  }
  for (const auto& address : request.ip_addresses) {
    if (auto ok = parseIpAddress(address); !ok) {
      return std::unexpected(ok.error());
    }
  }
  return {};
}

policy::Result<void> sign(X509* cert, EVP_PKEY* key, const char* what) {
  if (X509_sign(cert, key, EVP_sha256()) <= 0) {
    return opensslFailure(std::string("cannot sign the ") + what);
  }
  return {};
}

// Closes the descriptor and removes the temporary file unless released.
class TemporaryFile {
 public:
  TemporaryFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;
  ~TemporaryFile() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
    if (!path_.empty()) {
      ::unlink(path_.c_str());
    }
  }

  int fd() const { return fd_; }
  const std::string& path() const { return path_; }

  // Close errors matter: on some filesystems a failed write is reported only here.
  bool close() {
    const int fd = std::exchange(fd_, -1);
    return ::close(fd) == 0;
  }
  void keep() { path_.clear(); }

 private:
  int fd_;
  std::string path_;
};

std::unexpected<policy::Error> systemFailure(const std::string& what,
                                             const std::filesystem::path& path) {
  const int error = errno;
  return policy::fail("cannot " + what + " " + path.string() + ": " + std::strerror(error));
}

}  // namespace

policy::Result<PemPair> makeCertificateAuthority(std::string_view common_name,
                                                 std::chrono::hours validity) {
  ERR_clear_error();
  auto key = generateP256Key();
  if (!key) {
    return std::unexpected(key.error());
  }
  auto cert = newCertificate(common_name, validity, key->get());
  if (!cert) {
    return std::unexpected(cert.error());
  }
  X509* ca = cert->get();
  if (X509_set_issuer_name(ca, X509_get_subject_name(ca)) != 1) {
    return opensslFailure("cannot set the CA issuer name");
  }
  for (const auto& [nid, value] : {std::pair{NID_basic_constraints, "critical,CA:TRUE"},
                                   std::pair{NID_key_usage, "critical,keyCertSign,cRLSign"},
                                   std::pair{NID_subject_key_identifier, "hash"}}) {
    if (auto ok = addExtension(ca, ca, nid, value); !ok) {
      return std::unexpected(ok.error());
    }
  }
  if (auto ok = sign(ca, key->get(), "CA certificate"); !ok) {
    return std::unexpected(ok.error());
  }
  return toPem(ca, key->get());
}

policy::Result<PemPair> issueServingCertificate(const PemPair& ca,
                                                const ServingCertificateRequest& request) {
  ERR_clear_error();
  if (auto ok = checkRequest(request); !ok) {
    return std::unexpected(ok.error());
  }
  auto issuer = loadCa(ca);
  if (!issuer) {
    return std::unexpected(issuer.error());
  }
  auto key = generateP256Key();
  if (!key) {
    return std::unexpected(key.error());
  }
  auto cert = newCertificate(request.common_name, request.validity, key->get());
  if (!cert) {
    return std::unexpected(cert.error());
  }
  X509* leaf = cert->get();
  if (X509_set_issuer_name(leaf, X509_get_subject_name(issuer->certificate.get())) != 1) {
    return opensslFailure("cannot set the issuer name");
  }
  // "keyid,issuer": the CA's subject key identifier, or its issuer and serial
  // number when a CA made elsewhere has no key identifier.
  for (const auto& [nid, value] : {std::pair{NID_basic_constraints, "critical,CA:FALSE"},
                                   std::pair{NID_key_usage, "critical,digitalSignature"},
                                   std::pair{NID_ext_key_usage, "serverAuth"},
                                   std::pair{NID_subject_key_identifier, "hash"},
                                   std::pair{NID_authority_key_identifier, "keyid,issuer"}}) {
    if (auto ok = addExtension(leaf, issuer->certificate.get(), nid, value); !ok) {
      return std::unexpected(ok.error());
    }
  }
  if (auto ok = addSubjectAltNames(leaf, request); !ok) {
    return std::unexpected(ok.error());
  }
  if (auto ok = sign(leaf, issuer->key.get(), "serving certificate"); !ok) {
    return std::unexpected(ok.error());
  }
  return toPem(leaf, key->get());
}

policy::Result<Validity> certificateValidity(std::string_view certificate_pem) {
  ERR_clear_error();
  const std::string text(certificate_pem);
  BioPtr bio = readOnlyBio(text);
  X509Ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, noPassphrase, nullptr) : nullptr);
  if (!cert) {
    return opensslFailure("cannot read the certificate PEM");
  }
  return validityOf(cert.get());
}

policy::Result<Validity> checkCertificateAuthority(const PemPair& ca) {
  ERR_clear_error();
  auto loaded = loadCa(ca);
  if (!loaded) {
    return std::unexpected(loaded.error());
  }
  return validityOf(loaded->certificate.get());
}

std::vector<std::string> serviceDnsNames(std::string_view service, std::string_view namespace_name,
                                         std::string_view cluster_domain) {
  const std::string name(service);
  const std::string with_namespace = name + "." + std::string(namespace_name);
  std::vector<std::string> names{name, with_namespace, with_namespace + ".svc"};
  if (!cluster_domain.empty()) {
    names.push_back(with_namespace + ".svc." + std::string(cluster_domain));
  }
  return names;
}

policy::Result<void> writeFileAtomically(const std::filesystem::path& path,
                                         std::string_view contents,
                                         std::filesystem::perms permissions) {
  if (!path.has_filename()) {
    return policy::fail("cannot write " + path.string() + ": the path names no file");
  }
  const std::filesystem::path directory =
      path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  // Same directory, so the rename stays within one filesystem and is atomic.
  // Appended piecewise: `"." + std::string` trips gcc 12's -Wrestrict at -O3 (GCC bug 105651).
  std::string temporary_name = ".";
  temporary_name += path.filename().string();
  temporary_name += ".tmp-XXXXXX";
  std::string pattern = (directory / temporary_name).string();
  // mkstemp creates the file 0600, so a key is never readable by others, even
  // before fchmod sets the permissions asked for.
  const int fd = ::mkstemp(pattern.data());
  if (fd < 0) {
    return systemFailure("create a temporary file in", directory);
  }
  TemporaryFile temporary(fd, pattern);

  size_t written = 0;
  while (written < contents.size()) {
    const ssize_t n = ::write(temporary.fd(), contents.data() + written, contents.size() - written);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return systemFailure("write", temporary.path());
    }
    written += static_cast<size_t>(n);
  }
  const auto mode = static_cast<mode_t>(permissions & std::filesystem::perms::mask);
  if (::fchmod(temporary.fd(), mode) != 0) {
    return systemFailure("set the permissions of", temporary.path());
  }
  if (::fsync(temporary.fd()) != 0) {
    return systemFailure("flush", temporary.path());
  }
  if (!temporary.close()) {
    return systemFailure("close", temporary.path());
  }
  if (::rename(temporary.path().c_str(), path.c_str()) != 0) {
    return systemFailure("replace", path);
  }
  temporary.keep();

  // The rename is durable only once the directory entry is on disk.
  const int directory_fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (directory_fd < 0) {
    return systemFailure("open the directory", directory);
  }
  const bool synced = ::fsync(directory_fd) == 0;
  const int sync_errno = errno;
  ::close(directory_fd);
  if (!synced) {
    errno = sync_errno;
    return systemFailure("flush the directory", directory);
  }
  return {};
}

std::string caBundle(const PemPair& ca) {
  const std::string& pem = ca.certificate_pem;
  // EVP_EncodeBlock writes 4 characters per 3 bytes, no newlines, and a NUL.
  std::string encoded(4 * ((pem.size() + 2) / 3) + 1, '\0');
  const int length = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()),
                                     reinterpret_cast<const unsigned char*>(pem.data()),
                                     static_cast<int>(pem.size()));
  encoded.resize(static_cast<size_t>(length));
  return encoded;
}

}  // namespace palisade::certs
