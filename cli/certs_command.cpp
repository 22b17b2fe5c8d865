#include <ostream>
#include <string>
#include <vector>

#include "certs/certificate_files.h"
#include "cli/commands.h"

namespace palisade::cli {
namespace {

constexpr std::string_view kCommand = "palisadectl certs";

std::string commaSeparated(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& part : parts) {
    if (!out.empty()) {
      out += ", ";
    }
    out += part;
  }
  return out;
}

std::string caState(certs::CaSource source) {
  switch (source) {
    case certs::CaSource::kCreated:
      return "new";
    case certs::CaSource::kKept:
      return "kept";
    case certs::CaSource::kRenewed:
      return "replaced by a new one";
  }
  return "";
}

void printSummary(const certs::CertificateFiles& files, const std::string& namespace_name,
                  std::ostream& out) {
  const std::string dir = files.dir.string();
  out << kCommand << ": wrote " << dir << "\n"
      << "  ca.crt, ca.key       CA: " << caState(files.ca_source) << ", valid until "
      << certs::utcTimestamp(files.ca_validity.not_after) << "\n"
      << "  tls.crt, tls.key     serving certificate: valid until "
      << certs::utcTimestamp(files.serving_validity.not_after) << ", for "
      << commaSeparated(files.dns_names) << "\n"
      << "  secret.yaml          Secret " << namespace_name << "/" << files.secret_name
      << " (kubernetes.io/tls, with ca.crt)\n"
      << "  ca-bundle.txt        the caBundle of the webhook configurations\n"
      << "  webhook-patch.yaml   a JSON Patch that sets it\n"
      << "To install:\n"
      << "  kubectl apply -f " << dir << "/secret.yaml\n";
  if (files.ca_source == certs::CaSource::kKept) {
    out << "The CA is unchanged, and so is the caBundle the webhook configurations hold.\n";
  } else {
    // The apiserver trusts nothing but the caBundle: a serving certificate
    // from a CA it does not list fails every call to the webhook.
    for (const char* kind : {"mutating", "validating"}) {
      out << "  kubectl patch " << kind << "webhookconfiguration NAME --type json --patch-file "
          << dir << "/webhook-patch.yaml\n";
    }
    out << "The CA is new: the webhook configurations need its caBundle (or the Helm chart's "
           "certs.mode=provided values) for the apiserver to trust the webhook.\n";
  }
  out << "caBundle: " << files.ca_bundle << "\n";
}

}  // namespace

int runCerts(const CertsOptions& options, std::ostream& out, std::ostream& err) {
  certs::CertificateFilesRequest request;
  request.dir = options.out;
  request.service = options.service;
  request.namespace_name = options.namespace_name;
  request.cluster_domain = options.cluster_domain;
  request.secret_name = options.secret_name;
  request.days = options.days;
  request.webhooks = options.webhooks;
  request.renew_ca = options.renew_ca;
  if (auto ok = certs::checkCertificateFilesRequest(request); !ok) {
    err << kCommand << ": " << ok.error().message << "\n";
    return kExitUsage;
  }
  auto files = certs::writeCertificateFiles(request);
  if (!files) {
    err << kCommand << ": " << files.error().message << "\n";
    return kExitFindings;
  }
  printSummary(*files, options.namespace_name, out);
  return kExitOk;
}

}  // namespace palisade::cli
