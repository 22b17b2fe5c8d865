#include "policy/ip.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

namespace palisade::policy {
namespace {

std::optional<std::array<uint8_t, 4>> parseIPv4(std::string_view text, bool sloppy) {
  std::array<uint8_t, 4> bytes{};
  for (size_t i = 0; i < 4; ++i) {
    const size_t dot = text.find('.');
    const bool last = i == 3;
    if (last != (dot == std::string_view::npos)) {
      return std::nullopt;
    }
    const std::string_view octet = last ? text : text.substr(0, dot);
    if (octet.empty() || octet.size() > 3 || (!sloppy && octet.size() > 1 && octet[0] == '0')) {
      return std::nullopt;
    }
    unsigned value = 0;
    auto [end, ec] = std::from_chars(octet.data(), octet.data() + octet.size(), value);
    if (ec != std::errc() || end != octet.data() + octet.size() || value > 255) {
      return std::nullopt;
    }
    bytes[i] = static_cast<uint8_t>(value);
    text = last ? std::string_view() : text.substr(dot + 1);
  }
  return bytes;
}

std::optional<IpAddress> parseAddress(std::string_view text, bool sloppy) {
  if (text.find(':') == std::string_view::npos) {
    auto v4 = parseIPv4(text, sloppy);
    return v4 ? std::optional(IpAddress::v4(*v4)) : std::nullopt;
  }
  // inet_pton accepts exactly the RFC 4291 text forms, which is what Go's
  // parser accepts too (no zones, no brackets).
  std::array<uint8_t, 16> bytes{};
  const std::string copy(text);
  if (inet_pton(AF_INET6, copy.c_str(), bytes.data()) != 1) {
    return std::nullopt;
  }
  return IpAddress::v6(bytes);
}

bool isV4Mapped(const std::array<uint8_t, 16>& bytes) {
  for (int i = 0; i < 10; ++i) {
    if (bytes[i] != 0) {
      return false;
    }
  }
  return bytes[10] == 0xff && bytes[11] == 0xff;
}

}  // namespace

IpAddress IpAddress::v4(std::array<uint8_t, 4> bytes) {
  IpAddress address;
  address.family_ = IpFamily::kIPv4;
  std::copy(bytes.begin(), bytes.end(), address.bytes_.begin());
  return address;
}

IpAddress IpAddress::v6(std::array<uint8_t, 16> bytes) {
  if (isV4Mapped(bytes)) {
    return v4({bytes[12], bytes[13], bytes[14], bytes[15]});
  }
  IpAddress address;
  address.family_ = IpFamily::kIPv6;
  address.bytes_ = bytes;
  return address;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  return parseAddress(text, false);
}

std::optional<IpAddress> IpAddress::parseSloppy(std::string_view text) {
  return parseAddress(text, true);
}

IpAddress IpAddress::masked(int prefix_length) const {
  IpAddress result = *this;
  for (int i = 0; i < 16; ++i) {
    const int bits_kept = std::clamp(prefix_length - i * 8, 0, 8);
    result.bytes_[i] &= static_cast<uint8_t>(0xff00 >> bits_kept);
  }
  return result;
}

std::string IpAddress::toString() const {
  char buffer[INET6_ADDRSTRLEN] = {};
  inet_ntop(family_ == IpFamily::kIPv4 ? AF_INET : AF_INET6, bytes_.data(), buffer,
            sizeof(buffer));
  return buffer;
}

Cidr::Cidr(IpAddress address, int prefix_length)
    : address_(address.masked(prefix_length)), prefix_length_(prefix_length) {}

std::optional<Cidr> Cidr::parse(std::string_view text, bool sloppy) {
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos) {
    return std::nullopt;
  }
  std::optional<IpAddress> address = parseAddress(text.substr(0, slash), sloppy);
  const std::string_view length_text = text.substr(slash + 1);
  int length = -1;
  auto [end, ec] =
      std::from_chars(length_text.data(), length_text.data() + length_text.size(), length);
  if (!address || length_text.empty() || ec != std::errc() ||
      end != length_text.data() + length_text.size() || length < 0 ||
      length > address->bitLength()) {
    return std::nullopt;
  }
  // An IPv4-mapped address keeps the IPv6 prefix length in Go; /96+ of a mapped
  // address is the matching IPv4 prefix. Anything shorter is not meaningful.
  if (address->family() == IpFamily::kIPv4 && text.substr(0, slash).find(':') != std::string_view::npos) {
    if (length < 96) {
      return std::nullopt;
    }
    length -= 96;
  }
  if (!sloppy && length_text.size() > 1 && length_text[0] == '0') {
    return std::nullopt;
  }
  return Cidr(*address, length);
}

bool Cidr::contains(const IpAddress& address) const {
  return address.family() == family() && address.masked(prefix_length_) == address_;
}

bool Cidr::contains(const Cidr& other) const {
  return other.family() == family() && other.prefix_length_ >= prefix_length_ &&
         contains(other.address_);
}

std::string Cidr::toString() const {
  return address_.toString() + "/" + std::to_string(prefix_length_);
}

}  // namespace palisade::policy
