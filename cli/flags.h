#pragma once

// Parsing of the flag values palisadectl's commands share. Every error names
// the flag and the value, so that a user sees at once what to fix.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "policy/error.h"
#include "policy/objects.h"
#include "policy/matrix.h"
#include "policy/oracle.h"

namespace palisade::cli {

// A port number, 1 to 65535.
policy::Result<uint16_t> parsePort(std::string_view text, std::string_view flag);

// "TCP", "UDP" or "SCTP", in any case.
policy::Result<policy::Protocol> parseProtocolName(std::string_view text, std::string_view flag);

// Each value may be a comma-separated list; duplicates are dropped, the order
// is kept.
policy::Result<std::vector<uint16_t>> parsePorts(const std::vector<std::string>& values,
                                                 std::string_view flag);
policy::Result<std::vector<policy::Protocol>> parseProtocols(
    const std::vector<std::string>& values, std::string_view flag);

struct PortAndProtocol {
  uint16_t port = 0;
  policy::Protocol protocol = policy::Protocol::kTCP;
};

// "80/TCP", "53/udp", or "80" for TCP.
policy::Result<PortAndProtocol> parsePortAndProtocol(std::string_view text,
                                                     std::string_view flag);

// The output format and the protocols and ports of a matrix, as `matrix` and
// `lab` take them (-o table|json, --ports, --protocols).
policy::Result<policy::MatrixQuery> parseMatrixFlags(std::string_view output,
                                                     const std::vector<std::string>& ports,
                                                     const std::vector<std::string>& protocols);

// An IP address, or "namespace/pod".
policy::Result<policy::Endpoint> parseEndpoint(std::string_view text, std::string_view flag);

}  // namespace palisade::cli
