#include "cli/flags.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include <fmt/format.h>

#include "policy/ip.h"

namespace palisade::cli {
namespace {

std::vector<std::string_view> splitCommas(std::string_view text) {
  std::vector<std::string_view> parts;
  while (true) {
    const size_t comma = text.find(',');
    parts.push_back(text.substr(0, comma));
    if (comma == std::string_view::npos) {
      return parts;
    }
    text.remove_prefix(comma + 1);
  }
}

template <class T>
void appendUnique(std::vector<T>& values, T value) {
  if (std::ranges::find(values, value) == values.end()) {
    values.push_back(value);
  }
}

}  // namespace

policy::Result<uint16_t> parsePort(std::string_view text, std::string_view flag) {
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || value < 1 ||
      value > 65535) {
    return policy::fail(
        fmt::format("{}: invalid port \"{}\": must be a number from 1 to 65535", flag, text));
  }
  return static_cast<uint16_t>(value);
}

policy::Result<policy::Protocol> parseProtocolName(std::string_view text, std::string_view flag) {
  std::string upper(text);
  std::ranges::transform(upper, upper.begin(),
                         [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  if (const std::optional<policy::Protocol> protocol = policy::parseProtocol(upper)) {
    return *protocol;
  }
  return policy::fail(
      fmt::format("{}: unknown protocol \"{}\": must be TCP, UDP or SCTP", flag, text));
}

policy::Result<std::vector<uint16_t>> parsePorts(const std::vector<std::string>& values,
                                                 std::string_view flag) {
  std::vector<uint16_t> ports;
  for (const std::string& value : values) {
    for (std::string_view part : splitCommas(value)) {
      policy::Result<uint16_t> port = parsePort(part, flag);
      if (!port) {
        return std::unexpected(port.error());
      }
      appendUnique(ports, *port);
    }
  }
  if (ports.empty()) {
    return policy::fail(fmt::format("{}: at least one port is needed", flag));
  }
  return ports;
}

policy::Result<std::vector<policy::Protocol>> parseProtocols(
    const std::vector<std::string>& values, std::string_view flag) {
  std::vector<policy::Protocol> protocols;
  for (const std::string& value : values) {
    for (std::string_view part : splitCommas(value)) {
      policy::Result<policy::Protocol> protocol = parseProtocolName(part, flag);
      if (!protocol) {
        return std::unexpected(protocol.error());
      }
      appendUnique(protocols, *protocol);
    }
  }
  if (protocols.empty()) {
    return policy::fail(fmt::format("{}: at least one protocol is needed", flag));
  }
  return protocols;
}

policy::Result<PortAndProtocol> parsePortAndProtocol(std::string_view text,
                                                     std::string_view flag) {
  const size_t slash = text.find('/');
  policy::Result<uint16_t> port = parsePort(text.substr(0, slash), flag);
  if (!port) {
    return std::unexpected(port.error());
  }
  if (slash == std::string_view::npos) {
    return PortAndProtocol{.port = *port, .protocol = policy::Protocol::kTCP};
  }
  policy::Result<policy::Protocol> protocol = parseProtocolName(text.substr(slash + 1), flag);
  if (!protocol) {
    return std::unexpected(protocol.error());
  }
  return PortAndProtocol{.port = *port, .protocol = *protocol};
}

policy::Result<policy::Endpoint> parseEndpoint(std::string_view text, std::string_view flag) {
  if (const std::optional<policy::IpAddress> address = policy::IpAddress::parse(text)) {
    return policy::Endpoint{*address};
  }
  if (const std::optional<policy::PodRef> pod = policy::parsePodRef(text)) {
    return policy::Endpoint{*pod};
  }
  return policy::fail(fmt::format(
      "{}: \"{}\" is neither NAMESPACE/POD nor an IP address", flag, text));
}

policy::Result<policy::MatrixQuery> parseMatrixFlags(std::string_view output,
                                                     const std::vector<std::string>& ports,
                                                     const std::vector<std::string>& protocols) {
  if (output != "table" && output != "json") {
    return policy::fail("-o: unknown output format \"" + std::string(output) +
                        "\": must be table or json");
  }
  policy::Result<std::vector<uint16_t>> parsed_ports = parsePorts(ports, "--ports");
  if (!parsed_ports) {
    return std::unexpected(parsed_ports.error());
  }
  policy::Result<std::vector<policy::Protocol>> parsed_protocols =
      parseProtocols(protocols, "--protocols");
  if (!parsed_protocols) {
    return std::unexpected(parsed_protocols.error());
  }
  return policy::MatrixQuery{.protocols = std::move(*parsed_protocols),
                             .ports = std::move(*parsed_ports)};
}

}  // namespace palisade::cli
