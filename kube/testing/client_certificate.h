#pragma once

// Client certificates for tests of x509 authentication to the apiserver.

#include <string>
#include <vector>

#include "certs/certificate_authority.h"

namespace palisade::kube::testing {

// An ECDSA P-256 certificate signed by `ca` for TLS client authentication
// (extendedKeyUsage clientAuth): the apiserver reads the user from the
// common name and the groups from the organizations. Throws on failure.
certs::PemPair issueClientCertificate(const certs::PemPair& ca, const std::string& common_name,
                                      const std::vector<std::string>& organizations = {});

}  // namespace palisade::kube::testing
