#pragma once

// The webhook's serving certificate and key, read from files and re-read when
// they change: cert-manager and kubelet rotate mounted Secrets by swapping a
// symlink, and new handshakes must use the new pair without a restart, while
// connections already established keep theirs.

#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

#include <boost/asio/ssl/context.hpp>

#include "policy/error.h"

namespace palisade::server {

// Thread-safe.
class TlsCredentials {
 public:
  // Reads and checks the pair (the key must match the certificate). The TLS
  // settings: TLS 1.2 and 1.3 only, ECDHE with AES-GCM or ChaCha20-Poly1305
  // for TLS 1.2, server cipher preference, no compression, no renegotiation,
  // and ALPN answered with http/1.1 (a client offering only h2 is refused with
  // the no_application_protocol alert).
  [[nodiscard]] static policy::Result<std::unique_ptr<TlsCredentials>> load(
      std::filesystem::path certificate_file, std::filesystem::path key_file);

  // The context for a new handshake.
  std::shared_ptr<boost::asio::ssl::context> current() const;

  enum class Reload { kUnchanged, kReloaded, kFailed };
  // Re-reads the files when their identity (inode, size, modification time,
  // following symlinks) changed. A pair that cannot be used leaves the current
  // one in place; `error` then says why.
  Reload reloadIfChanged(std::string* error = nullptr);

  // The current certificate's validity, for readiness.
  std::chrono::system_clock::time_point notBefore() const;
  std::chrono::system_clock::time_point notAfter() const;
  bool validAt(std::chrono::system_clock::time_point now) const;

 private:
  struct Loaded;
  TlsCredentials(std::filesystem::path certificate_file, std::filesystem::path key_file);

  std::filesystem::path certificate_file_;
  std::filesystem::path key_file_;
  mutable std::mutex mutex_;
  std::shared_ptr<const Loaded> loaded_;
};

}  // namespace palisade::server
