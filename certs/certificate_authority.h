#pragma once

// Certificates for the webhook's TLS (OpenSSL 3): a CA, and a serving
// certificate signed by it whose SANs are the names the kube-apiserver uses to
// reach the webhook's Service. Used by `palisadectl certs`, by
// `palisade-webhook --dev-certs`, and by tests, which make their certificates
// at test time.

#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "policy/error.h"

namespace palisade::certs {

struct PemPair {
  std::string certificate_pem;
  std::string private_key_pem;  // PKCS#8
};

// A self-signed CA certificate with an ECDSA P-256 key: basicConstraints
// CA:TRUE (critical), keyUsage keyCertSign + cRLSign, subject key identifier.
[[nodiscard]] policy::Result<PemPair> makeCertificateAuthority(std::string_view common_name,
                                                               std::chrono::hours validity);

struct ServingCertificateRequest {
  std::string common_name;
  std::vector<std::string> dns_names;     // subjectAltName DNS entries
  std::vector<std::string> ip_addresses;  // subjectAltName IP entries ("127.0.0.1", "::1")
  std::chrono::hours validity{24 * 365};
};

// An ECDSA P-256 leaf signed by `ca`: CA:FALSE, keyUsage digitalSignature,
// extendedKeyUsage serverAuth, the SANs asked for, authority key identifier,
// a random 128-bit serial number. Fails on an unusable CA pair or an invalid
// name or address.
[[nodiscard]] policy::Result<PemPair> issueServingCertificate(
    const PemPair& ca, const ServingCertificateRequest& request);

// When a certificate may be used: [not_before, not_after].
struct Validity {
  std::chrono::system_clock::time_point not_before;
  std::chrono::system_clock::time_point not_after;
};

// The validity period of a PEM certificate (the first of the text).
[[nodiscard]] policy::Result<Validity> certificateValidity(std::string_view certificate_pem);

// Checks that `ca` can sign serving certificates now, as issueServingCertificate
// does before it signs: both PEM texts parse (an encrypted key does not), the
// key is the certificate's, the certificate is a CA, and it has not expired.
// Returns the CA certificate's validity, so that a caller can check that it
// outlives what it will sign.
[[nodiscard]] policy::Result<Validity> checkCertificateAuthority(const PemPair& ca);

// The DNS names of a Service as the apiserver may address it:
// name, name.ns, name.ns.svc, name.ns.svc.<cluster_domain>.
std::vector<std::string> serviceDnsNames(std::string_view service, std::string_view namespace_name,
                                         std::string_view cluster_domain = "cluster.local");

// Writes `contents` to `path` atomically (a temporary file in the same folder,
// fsync, rename) with the given permissions, so a reader never sees half a
// file: keys get 0600.
[[nodiscard]] policy::Result<void> writeFileAtomically(const std::filesystem::path& path,
                                                       std::string_view contents,
                                                       std::filesystem::perms permissions);

// Base64 of the CA certificate's PEM text, as a webhook configuration's
// clientConfig.caBundle wants it.
std::string caBundle(const PemPair& ca);

}  // namespace palisade::certs
