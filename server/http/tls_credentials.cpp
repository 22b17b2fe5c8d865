#include "server/http/tls_credentials.h"

#include <sys/stat.h>

#include <cstring>
#include <ctime>
#include <optional>
#include <string_view>
#include <system_error>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace palisade::server {
namespace {

namespace ssl = boost::asio::ssl;

// What identifies a version of a mounted file. The kubelet's atomic writer
// puts each version of a Secret in a new timestamped folder and swaps the
// `..data` symlink, so the resolved path changes even when inode numbers are
// reused; a file rewritten in place changes its size or modification time.
struct FileIdentity {
  std::string resolved_path;
  dev_t device = 0;
  ino_t inode = 0;
  off_t size = 0;
  timespec modified{};

  bool operator==(const FileIdentity& other) const {
    return resolved_path == other.resolved_path && device == other.device &&
           inode == other.inode && size == other.size &&
           modified.tv_sec == other.modified.tv_sec && modified.tv_nsec == other.modified.tv_nsec;
  }
};

std::optional<FileIdentity> identify(const std::filesystem::path& path,
                                     int* error_number = nullptr) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {  // stat, not lstat: follow the symlinks
    if (error_number != nullptr) {
      *error_number = errno;
    }
    return std::nullopt;
  }
  FileIdentity identity;
  std::error_code ec;
  identity.resolved_path = std::filesystem::canonical(path, ec).string();
  identity.device = info.st_dev;
  identity.inode = info.st_ino;
  identity.size = info.st_size;
  identity.modified = info.st_mtim;
  return identity;
}

struct PairIdentity {
  std::optional<FileIdentity> certificate;
  std::optional<FileIdentity> key;
  bool operator==(const PairIdentity&) const = default;
};

// The reasons OpenSSL queued for the last failure, oldest first; empties the
// thread's error queue so that a later failure does not report stale ones.
std::string drainOpenSslErrors() {
  std::string reasons;
  while (const unsigned long code = ERR_get_error()) {
    char text[256];
    ERR_error_string_n(code, text, sizeof(text));
    if (!reasons.empty()) {
      reasons += "; ";
    }
    reasons += text;
  }
  return reasons.empty() ? std::string("unknown OpenSSL error") : reasons;
}

// The apiserver offers "h2,http/1.1"; webhooks speak HTTP/1.1. A client that
// offers ALPN without http/1.1 cannot talk to us, and RFC 7301 §3.2 says to
// answer with the no_application_protocol alert rather than carry on.
int selectHttp11(SSL* /*ssl*/, const unsigned char** out, unsigned char* out_length,
                 const unsigned char* in, unsigned int in_length, void* /*arg*/) {
  constexpr std::string_view kHttp11 = "http/1.1";
  unsigned int offset = 0;
  while (offset < in_length) {
    const unsigned int length = in[offset];
    if (length == 0 || offset + 1 + length > in_length) {
      return SSL_TLSEXT_ERR_ALERT_FATAL;  // a malformed protocol list
    }
    const std::string_view protocol(reinterpret_cast<const char*>(in + offset + 1), length);
    if (protocol == kHttp11) {
      *out = in + offset + 1;
      *out_length = static_cast<unsigned char>(length);
      return SSL_TLSEXT_ERR_OK;
    }
    offset += 1 + length;
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}

std::chrono::system_clock::time_point toTimePoint(const ASN1_TIME* time) {
  std::tm parts{};
  if (time == nullptr || ASN1_TIME_to_tm(time, &parts) != 1) {
    return {};
  }
  return std::chrono::system_clock::from_time_t(::timegm(&parts));
}

// A usable pair and what it was read from.
struct LoadedPair {
  std::shared_ptr<ssl::context> context;
  PairIdentity identity;
  std::chrono::system_clock::time_point not_before;
  std::chrono::system_clock::time_point not_after;
};

// Builds a server context from the two files as they are now.
policy::Result<std::shared_ptr<ssl::context>> makeContext(
    const std::filesystem::path& certificate_file, const std::filesystem::path& key_file) {
  ERR_clear_error();
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = context->native_handle();

  // Kubernetes requires TLS 1.2 of webhooks; 1.0 and 1.1 are deprecated
  // (RFC 8996). Renegotiation and compression only ever served attacks.
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(native, TLS1_3_VERSION);
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                  SSL_OP_CIPHER_SERVER_PREFERENCE);
  // TLS 1.2 only: forward secrecy and AEAD. The TLS 1.3 suites are all AEAD
  // and OpenSSL's defaults stand.
  if (SSL_CTX_set_cipher_list(native,
                              "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                              "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                              "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305") != 1) {
    return policy::fail("cannot set the TLS 1.2 cipher list: " + drainOpenSslErrors());
  }
  SSL_CTX_set_alpn_select_cb(native, &selectHttp11, nullptr);

  boost::system::error_code ec;
  context->use_certificate_chain_file(certificate_file.string(), ec);
  if (ec) {
    // Asio pops the first OpenSSL error into `ec`; the queue holds the rest.
    ERR_clear_error();
    return policy::fail("cannot read the certificate chain " + certificate_file.string() + ": " +
                        ec.message());
  }
  // The key is read here rather than with use_private_key_file so that a key
  // that does not match is told apart from one that cannot be read, and so
  // that an encrypted key fails instead of prompting on a terminal.
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_file(key_file.c_str(), "r"), &BIO_free);
  if (!bio) {
    return policy::fail("cannot open the private key " + key_file.string() + ": " +
                        drainOpenSslErrors());
  }
  auto no_password = [](char*, int, int, void*) { return 0; };
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, no_password, nullptr), &EVP_PKEY_free);
  if (!key) {
    return policy::fail("cannot read the private key " + key_file.string() +
                        " (PEM, unencrypted): " + drainOpenSslErrors());
  }
  if (X509_check_private_key(SSL_CTX_get0_certificate(native), key.get()) != 1) {
    ERR_clear_error();
    return policy::fail("the private key " + key_file.string() +
                        " does not match the certificate " + certificate_file.string());
  }
  if (SSL_CTX_use_PrivateKey(native, key.get()) != 1) {
    return policy::fail("cannot use the private key " + key_file.string() + ": " +
                        drainOpenSslErrors());
  }
  return context;
}

// The pair as found on disk now, or why it cannot be used. The identity is
// taken before reading: if the files change while they are read, the next
// check sees a difference and reads them again.
policy::Result<LoadedPair> loadPair(const std::filesystem::path& certificate_file,
                                    const std::filesystem::path& key_file) {
  int error_number = 0;
  PairIdentity identity;
  identity.certificate = identify(certificate_file, &error_number);
  if (!identity.certificate) {
    return policy::fail("cannot read the certificate " + certificate_file.string() + ": " +
                        std::strerror(error_number));
  }
  identity.key = identify(key_file, &error_number);
  if (!identity.key) {
    return policy::fail("cannot read the private key " + key_file.string() + ": " +
                        std::strerror(error_number));
  }
  auto context = makeContext(certificate_file, key_file);
  if (!context) {
    return std::unexpected(context.error());
  }
  LoadedPair loaded;
  const X509* leaf = SSL_CTX_get0_certificate((*context)->native_handle());
  loaded.not_before = toTimePoint(X509_get0_notBefore(leaf));
  loaded.not_after = toTimePoint(X509_get0_notAfter(leaf));
  loaded.context = std::move(*context);
  loaded.identity = std::move(identity);
  return loaded;
}

}  // namespace

struct TlsCredentials::Loaded : LoadedPair {};

TlsCredentials::TlsCredentials(std::filesystem::path certificate_file,
                               std::filesystem::path key_file)
    : certificate_file_(std::move(certificate_file)), key_file_(std::move(key_file)) {}

policy::Result<std::unique_ptr<TlsCredentials>> TlsCredentials::load(
    std::filesystem::path certificate_file, std::filesystem::path key_file) {
  auto loaded = loadPair(certificate_file, key_file);
  if (!loaded) {
    return std::unexpected(loaded.error());
  }
  std::unique_ptr<TlsCredentials> credentials(
      new TlsCredentials(std::move(certificate_file), std::move(key_file)));
  credentials->loaded_ = std::make_shared<const Loaded>(Loaded{std::move(*loaded)});
  return credentials;
}

std::shared_ptr<ssl::context> TlsCredentials::current() const {
  std::lock_guard lock(mutex_);
  return loaded_->context;
}

TlsCredentials::Reload TlsCredentials::reloadIfChanged(std::string* error) {
  // The files are read outside the mutex: handshakes only take it to copy a
  // pointer and must not wait for a disk.
  PairIdentity now{identify(certificate_file_), identify(key_file_)};
  {
    std::lock_guard lock(mutex_);
    if (now == loaded_->identity) {
      return Reload::kUnchanged;
    }
  }
  // Retried on every call while the files differ from the pair in use: a
  // rotation that writes the key before the certificate fails once, then
  // succeeds when the certificate lands.
  auto loaded = loadPair(certificate_file_, key_file_);
  if (!loaded) {
    if (error != nullptr) {
      *error = loaded.error().message;
    }
    return Reload::kFailed;
  }
  auto replacement = std::make_shared<const Loaded>(Loaded{std::move(*loaded)});
  std::lock_guard lock(mutex_);
  loaded_ = std::move(replacement);
  return Reload::kReloaded;
}

std::chrono::system_clock::time_point TlsCredentials::notBefore() const {
  std::lock_guard lock(mutex_);
  return loaded_->not_before;
}

std::chrono::system_clock::time_point TlsCredentials::notAfter() const {
  std::lock_guard lock(mutex_);
  return loaded_->not_after;
}

bool TlsCredentials::validAt(std::chrono::system_clock::time_point now) const {
  std::lock_guard lock(mutex_);
  // RFC 5280 §4.1.2.5: the validity period includes both ends.
  return loaded_->not_before <= now && now <= loaded_->not_after;
}

}  // namespace palisade::server
