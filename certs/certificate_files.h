#pragma once

// The folder of certificates `palisadectl certs` makes for palisade-webhook,
// and renews when run again on it: a CA, a serving certificate for the
// webhook's Service signed by it, and what installing them takes (a
// kubernetes.io/tls Secret, the caBundle of the webhook configurations, and a
// patch that sets it).

#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "certs/certificate_authority.h"
#include "policy/error.h"

namespace palisade::certs {

inline constexpr int kDefaultServingDays = 365;
// A serving certificate may not outlive its CA, and a new CA lives kCaDays.
inline constexpr int kMaxServingDays = 3650;
// Ten years, leap days included: a new CA outlives every serving certificate
// it may sign, so renewing the serving certificate every year never forces a
// new caBundle on the cluster before then.
inline constexpr int kCaDays = 3653;
// The webhook configurations list a handful of webhooks each; more is a typo.
inline constexpr int kMaxWebhooks = 64;

// The files of the folder.
inline constexpr std::string_view kCaCertificateFile = "ca.crt";
inline constexpr std::string_view kCaKeyFile = "ca.key";
inline constexpr std::string_view kServingCertificateFile = "tls.crt";
inline constexpr std::string_view kServingKeyFile = "tls.key";
inline constexpr std::string_view kSecretFile = "secret.yaml";
inline constexpr std::string_view kCaBundleFile = "ca-bundle.txt";
inline constexpr std::string_view kWebhookPatchFile = "webhook-patch.yaml";

// Its fields mirror the flags of `palisadectl certs`, and error messages name
// them by those flags.
struct CertificateFilesRequest {
  std::filesystem::path dir;                     // --out; made (0700) if missing
  std::string service;                           // --service, the webhook's Service
  std::string namespace_name;                    // --namespace, the Service's
  std::string cluster_domain = "cluster.local";  // --cluster-domain
  std::string secret_name;                       // --secret-name; empty: "<service>-tls"
  int days = kDefaultServingDays;                // --days, the serving certificate's validity
  int webhooks = 1;                              // --webhooks, per webhook configuration
  bool renew_ca = false;  // --renew-ca: a new CA even if the folder holds one
};

// Whether the request's names and numbers can make certificates a cluster
// accepts; the first problem found.
[[nodiscard]] policy::Result<void> checkCertificateFilesRequest(
    const CertificateFilesRequest& request);

enum class CaSource {
  kCreated,  // the folder held no CA
  kKept,     // the folder's CA signed the new serving certificate
  kRenewed,  // --renew-ca replaced the folder's CA (or what was left of one)
};

// What writeCertificateFiles did.
struct CertificateFiles {
  std::filesystem::path dir;
  CaSource ca_source = CaSource::kCreated;
  Validity ca_validity;
  Validity serving_validity;
  std::vector<std::string> dns_names;  // the serving certificate's subjectAltName
  std::string secret_name;
  std::string ca_bundle;                       // base64 of ca.crt, one line
  std::vector<std::filesystem::path> written;  // in the order written
};

// Makes the folder's certificates and files, or renews them:
// - The CA (ca.crt, ca.key) is the folder's own if it holds one, unless
//   renew_ca; a new one otherwise (ECDSA P-256, kCaDays). A folder with only
//   half a CA, a key that is not the certificate's, or a CA that has expired
//   or would expire before the serving certificate is an error (nothing is
//   written), which renew_ca resolves by replacing the CA.
// - The serving certificate (tls.crt, tls.key) is always new: ECDSA P-256,
//   valid `days`, its subjectAltName the Service's DNS names
//   (serviceDnsNames).
// - secret.yaml: a kubernetes.io/tls Secret with tls.crt, tls.key and ca.crt.
// - ca-bundle.txt: the caBundle, one line.
// - webhook-patch.yaml: a JSON Patch (RFC 6902, in YAML) that sets the
//   caBundle of the first `webhooks` webhooks of a webhook configuration.
// Everything is generated before anything is written; each file is replaced
// atomically, and the files holding a private key (ca.key, tls.key,
// secret.yaml) are 0600 from their creation, the others 0644.
[[nodiscard]] policy::Result<CertificateFiles> writeCertificateFiles(
    const CertificateFilesRequest& request);

// "2026-11-26T08:30:00Z": how certificate times are printed.
std::string utcTimestamp(std::chrono::system_clock::time_point time);

}  // namespace palisade::certs
