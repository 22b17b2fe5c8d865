#include "certs/certificate_files.h"

#include <openssl/evp.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iterator>
#include <optional>
#include <system_error>
#include <utility>

#include "policy/validation.h"

namespace palisade::certs {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kCaCommonName = "palisade-webhook-ca";
// ub-common-name in RFC 5280 appendix A.
constexpr size_t kMaxCommonNameLength = 64;
// The folder holds a few PEM files of a few kilobytes: anything this large is
// not one of them.
constexpr std::uintmax_t kMaxInputFileSize = 1 << 20;

constexpr fs::perms kPrivate = fs::perms::owner_read | fs::perms::owner_write;
constexpr fs::perms kPublic = kPrivate | fs::perms::group_read | fs::perms::others_read;

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

policy::Result<void> checkName(std::string_view flag, const std::string& value,
                               const std::vector<std::string>& errors) {
  if (errors.empty()) {
    return {};
  }
  return policy::fail(std::string(flag) + " \"" + value + "\": " + joined(errors));
}

// Services are named by RFC 1035 labels (the apiserver's ValidateServiceName):
// an RFC 1123 label that starts with a letter.
std::vector<std::string> serviceNameErrors(const std::string& name) {
  std::vector<std::string> errors = policy::isDns1123Label(name);
  if (errors.empty() && !(name.front() >= 'a' && name.front() <= 'z')) {
    errors.push_back("a Service name must start with a lowercase letter (an RFC 1035 label)");
  }
  return errors;
}

std::string base64(std::string_view bytes) {
  // EVP_EncodeBlock writes 4 characters per 3 bytes, no newlines, and a NUL.
  std::string encoded(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int length = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()),
                                     reinterpret_cast<const unsigned char*>(bytes.data()),
                                     static_cast<int>(bytes.size()));
  encoded.resize(static_cast<size_t>(length));
  return encoded;
}

// `dir` without a trailing separator, so that its parent is the folder above
// it: "out/" names the folder "out", whose parent is ".".
fs::path folderPath(const fs::path& dir) {
  fs::path normal = dir.lexically_normal();
  if (!normal.has_filename() && normal.has_parent_path() && normal != normal.root_path()) {
    normal = normal.parent_path();
  }
  return normal;
}

// The folder is made 0700: it holds the CA key, and while the keys are 0600
// themselves, a private folder also keeps others from watching the files come
// and go or listing what the folder holds. Folders above it are made with the
// usual permissions; an existing folder is left as it is.
policy::Result<void> makeFolder(const fs::path& dir) {
  std::error_code ec;
  const fs::file_status status = fs::status(dir, ec);
  if (fs::exists(status)) {
    if (!fs::is_directory(status)) {
      return policy::fail("--out " + dir.string() + ": not a folder");
    }
    return {};
  }
  if (ec && ec != std::errc::no_such_file_or_directory) {
    return policy::fail("--out " + dir.string() + ": " + ec.message());
  }
  if (dir.has_parent_path()) {
    fs::create_directories(dir.parent_path(), ec);
    if (ec) {
      return policy::fail("cannot create " + dir.parent_path().string() + ": " + ec.message());
    }
  }
  if (::mkdir(dir.c_str(), S_IRWXU) != 0 && errno != EEXIST) {
    const int error = errno;
    return policy::fail("cannot create " + dir.string() + ": " + std::strerror(error));
  }
  return {};
}

// The contents of `path`, or nullopt if there is no such file.
policy::Result<std::optional<std::string>> readIfPresent(const fs::path& path) {
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (!fs::exists(status)) {
    if (ec && ec != std::errc::no_such_file_or_directory) {
      return policy::fail("cannot read " + path.string() + ": " + ec.message());
    }
    return std::optional<std::string>();
  }
  if (!fs::is_regular_file(status)) {
    return policy::fail(path.string() + ": not a regular file");
  }
  const std::uintmax_t size = fs::file_size(path, ec);
  if (ec) {
    return policy::fail("cannot read " + path.string() + ": " + ec.message());
  }
  if (size > kMaxInputFileSize) {
    return policy::fail(path.string() + ": " + std::to_string(size) +
                        " bytes, too large for a PEM certificate or key");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in.is_open()) {
    const int error = errno;
    return policy::fail("cannot read " + path.string() + ": " + std::strerror(error));
  }
  std::string contents((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) {
    return policy::fail("cannot read " + path.string());
  }
  return std::optional<std::string>(std::move(contents));
}

struct ChosenCa {
  PemPair pem;
  CaSource source = CaSource::kCreated;
  Validity validity;
};

constexpr std::string_view kRenewHint =
    ": pass --renew-ca to replace it with a new CA (and then give the webhook configurations "
    "the new caBundle)";

policy::Result<ChosenCa> newCa(CaSource source) {
  auto ca = makeCertificateAuthority(kCaCommonName, std::chrono::hours(24 * kCaDays));
  if (!ca) {
    return std::unexpected(ca.error());
  }
  auto validity = certificateValidity(ca->certificate_pem);
  if (!validity) {
    return std::unexpected(validity.error());
  }
  return ChosenCa{std::move(*ca), source, *validity};
}

policy::Result<ChosenCa> chooseCa(const fs::path& dir, bool renew_ca) {
  const fs::path cert_path = dir / kCaCertificateFile;
  const fs::path key_path = dir / kCaKeyFile;
  auto cert = readIfPresent(cert_path);
  if (!cert) {
    return std::unexpected(cert.error());
  }
  auto key = readIfPresent(key_path);
  if (!key) {
    return std::unexpected(key.error());
  }
  const bool any = cert->has_value() || key->has_value();
  if (renew_ca) {
    // Whatever is there is replaced, readable or not.
    return newCa(any ? CaSource::kRenewed : CaSource::kCreated);
  }
  if (!any) {
    return newCa(CaSource::kCreated);
  }
  if (!cert->has_value()) {
    return policy::fail(dir.string() + " holds " + std::string(kCaKeyFile) + " but no " +
                        std::string(kCaCertificateFile) + std::string(kRenewHint));
  }
  if (!key->has_value()) {
    return policy::fail(dir.string() + " holds " + std::string(kCaCertificateFile) + " but no " +
                        std::string(kCaKeyFile) + ", without which the CA cannot sign" +
                        std::string(kRenewHint));
  }
  PemPair pem{std::move(**cert), std::move(**key)};
  auto validity = checkCertificateAuthority(pem);
  if (!validity) {
    return policy::fail("the CA in " + dir.string() + " (" + std::string(kCaCertificateFile) +
                        ", " + std::string(kCaKeyFile) + ") cannot be used: " +
                        validity.error().message + std::string(kRenewHint));
  }
  return ChosenCa{std::move(pem), CaSource::kKept, *validity};
}

// The name the apiserver connects to, NAME.NS.svc, when it fits in a common
// name; verifiers read only the subjectAltName, so this is for people.
std::string servingCommonName(const CertificateFilesRequest& request,
                              const std::vector<std::string>& dns_names) {
  const std::string& service_name = dns_names.size() > 2 ? dns_names[2] : dns_names.front();
  return service_name.size() <= kMaxCommonNameLength ? service_name : request.service;
}

std::string secretManifest(const CertificateFilesRequest& request, const std::string& name,
                           const PemPair& serving, const PemPair& ca) {
  std::string text;
  text += "# palisade-webhook's serving certificate and key, made by palisadectl certs.\n";
  text += "# It holds a private key: keep this file private.\n";
  text += "apiVersion: v1\n";
  text += "kind: Secret\n";
  text += "metadata:\n";
  text += "  name: " + name + "\n";
  text += "  namespace: " + request.namespace_name + "\n";
  text += "type: kubernetes.io/tls\n";
  text += "data:\n";
  text += "  tls.crt: " + base64(serving.certificate_pem) + "\n";
  text += "  tls.key: " + base64(serving.private_key_pem) + "\n";
  text += "  ca.crt: " + base64(ca.certificate_pem) + "\n";
  return text;
}

// JSON Patch rather than a strategic merge patch: the latter finds webhooks
// by name, and this tool does not know the names the configurations give
// them. "add" replaces a caBundle that is there and adds one that is not.
std::string webhookPatch(const std::string& bundle, int webhooks) {
  std::string text;
  text += "# JSON Patch (RFC 6902) setting the caBundle of palisade-webhook's webhooks, made by\n";
  text += "# palisadectl certs. Apply it to both webhook configurations:\n";
  text += "#   kubectl patch mutatingwebhookconfiguration NAME --type json --patch-file FILE\n";
  text += "#   kubectl patch validatingwebhookconfiguration NAME --type json --patch-file FILE\n";
  for (int i = 0; i < webhooks; ++i) {
    text += "- op: add\n";
    text += "  path: /webhooks/" + std::to_string(i) + "/clientConfig/caBundle\n";
    text += "  value: " + bundle + "\n";
  }
  return text;
}

}  // namespace

policy::Result<void> checkCertificateFilesRequest(const CertificateFilesRequest& request) {
  if (request.dir.empty()) {
    return policy::fail("--out: a folder is required");
  }
  if (auto ok = checkName("--service", request.service, serviceNameErrors(request.service));
      !ok) {
    return ok;
  }
  if (auto ok = checkName("--namespace", request.namespace_name,
                          policy::isDns1123Label(request.namespace_name));
      !ok) {
    return ok;
  }
  if (auto ok = checkName("--cluster-domain", request.cluster_domain,
                          policy::isDns1123Subdomain(request.cluster_domain));
      !ok) {
    return ok;
  }
  if (!request.secret_name.empty()) {
    if (auto ok = checkName("--secret-name", request.secret_name,
                            policy::isDns1123Subdomain(request.secret_name));
        !ok) {
      return ok;
    }
  }
  // Each part may be valid and the whole still too long for a DNS name.
  for (const std::string& name :
       serviceDnsNames(request.service, request.namespace_name, request.cluster_domain)) {
    const std::vector<std::string> errors = policy::isDns1123Subdomain(name);
    if (!errors.empty()) {
      return policy::fail("--service, --namespace and --cluster-domain make the DNS name \"" +
                          name + "\", which is not valid: " + joined(errors));
    }
  }
  if (request.days < 1 || request.days > kMaxServingDays) {
    return policy::fail("--days " + std::to_string(request.days) +
                        ": the serving certificate's validity must be 1 to " +
                        std::to_string(kMaxServingDays) + " days");
  }
  if (request.webhooks < 1 || request.webhooks > kMaxWebhooks) {
    return policy::fail("--webhooks " + std::to_string(request.webhooks) + ": must be 1 to " +
                        std::to_string(kMaxWebhooks));
  }
  return {};
}

policy::Result<CertificateFiles> writeCertificateFiles(const CertificateFilesRequest& request) {
  if (auto ok = checkCertificateFilesRequest(request); !ok) {
    return std::unexpected(ok.error());
  }
  CertificateFiles result;
  result.dir = folderPath(request.dir);
  if (auto ok = makeFolder(result.dir); !ok) {
    return std::unexpected(ok.error());
  }
  auto ca = chooseCa(result.dir, request.renew_ca);
  if (!ca) {
    return std::unexpected(ca.error());
  }
  result.ca_source = ca->source;
  result.ca_validity = ca->validity;

  ServingCertificateRequest serving_request;
  serving_request.dns_names =
      serviceDnsNames(request.service, request.namespace_name, request.cluster_domain);
  serving_request.common_name = servingCommonName(request, serving_request.dns_names);
  serving_request.validity = std::chrono::hours(24 * request.days);
  auto serving = issueServingCertificate(ca->pem, serving_request);
  if (!serving) {
    return std::unexpected(serving.error());
  }
  auto serving_validity = certificateValidity(serving->certificate_pem);
  if (!serving_validity) {
    return std::unexpected(serving_validity.error());
  }
  result.serving_validity = *serving_validity;
  // Past the CA's notAfter every handshake would fail, though the serving
  // certificate itself still looks valid: refuse now rather than then.
  if (result.serving_validity.not_after > result.ca_validity.not_after) {
    return policy::fail("the CA in " + result.dir.string() + " expires at " +
                        utcTimestamp(result.ca_validity.not_after) +
                        ", before a serving certificate valid for " +
                        std::to_string(request.days) + " days would (" +
                        utcTimestamp(result.serving_validity.not_after) +
                        "): pass fewer --days, or --renew-ca to replace the CA (and then give "
                        "the webhook configurations the new caBundle)");
  }
  result.dns_names = serving_request.dns_names;
  result.secret_name =
      request.secret_name.empty() ? request.service + "-tls" : request.secret_name;
  result.ca_bundle = caBundle(ca->pem);

  struct File {
    std::string_view name;
    std::string contents;
    fs::perms permissions;
  };
  std::vector<File> files;
  if (ca->source != CaSource::kKept) {
    // The key first: a run cut short between the two leaves a certificate
    // without its key, which the next run reports, rather than an old
    // certificate beside a new key, which it would report less plainly.
    files.push_back({kCaKeyFile, ca->pem.private_key_pem, kPrivate});
    files.push_back({kCaCertificateFile, ca->pem.certificate_pem, kPublic});
  }
  files.push_back({kServingKeyFile, serving->private_key_pem, kPrivate});
  files.push_back({kServingCertificateFile, serving->certificate_pem, kPublic});
  files.push_back(
      {kSecretFile, secretManifest(request, result.secret_name, *serving, ca->pem), kPrivate});
  files.push_back({kCaBundleFile, result.ca_bundle + "\n", kPublic});
  files.push_back({kWebhookPatchFile, webhookPatch(result.ca_bundle, request.webhooks), kPublic});
  for (const File& file : files) {
    const fs::path path = result.dir / file.name;
    if (auto ok = writeFileAtomically(path, file.contents, file.permissions); !ok) {
      return std::unexpected(ok.error());
    }
    result.written.push_back(path);
  }
  return result;
}

std::string utcTimestamp(std::chrono::system_clock::time_point time) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  std::tm fields{};
  if (::gmtime_r(&seconds, &fields) == nullptr) {
    return std::to_string(seconds) + "s since the epoch";
  }
  char text[32];
  const size_t length = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &fields);
  return std::string(text, length);
}

}  // namespace palisade::certs
