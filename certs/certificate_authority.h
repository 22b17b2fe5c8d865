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
