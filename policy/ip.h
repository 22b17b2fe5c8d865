#pragma once

// IP addresses and CIDR prefixes, parsed the way Kubernetes parses them.

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace palisade::policy {

enum class IpFamily : uint8_t { kIPv4, kIPv6 };

// An IPv4 or IPv6 address. IPv4 occupies the first four bytes. An
// IPv4-mapped IPv6 address (::ffff:10.0.0.1) is the IPv4 address it maps, as
// Go's net.IP treats it.
class IpAddress {
 public:
  IpAddress() = default;
  static IpAddress v4(std::array<uint8_t, 4> bytes);
  static IpAddress v6(std::array<uint8_t, 16> bytes);

  // Strict: IPv4 octets with leading zeros ("010.0.0.1") are rejected, as by
  // Go's net.ParseIP and the apiserver's validation of new objects.
  static std::optional<IpAddress> parse(std::string_view text);
  // Lenient: leading zeros are read as decimal, as by k8s.io/utils/net's
  // ParseIPSloppy, which accepts what older apiservers stored.
  static std::optional<IpAddress> parseSloppy(std::string_view text);

  IpFamily family() const { return family_; }
  int bitLength() const { return family_ == IpFamily::kIPv4 ? 32 : 128; }
  const std::array<uint8_t, 16>& bytes() const { return bytes_; }
  bool bit(int index) const { return (bytes_[index / 8] >> (7 - index % 8)) & 1; }
  // The address with every bit from `prefix_length` on cleared.
  IpAddress masked(int prefix_length) const;
  std::string toString() const;

  auto operator<=>(const IpAddress&) const = default;

 private:
  IpFamily family_ = IpFamily::kIPv4;
  std::array<uint8_t, 16> bytes_{};
};

// A CIDR prefix; the address is stored with its host bits cleared.
class Cidr {
 public:
  Cidr() = default;
  Cidr(IpAddress address, int prefix_length);

  // "10.0.0.0/8", "2001:db8::/32". Host bits may be set ("10.0.0.1/8" is
  // 10.0.0.0/8), as net.ParseCIDR allows. `sloppy` as for IpAddress.
  static std::optional<Cidr> parse(std::string_view text, bool sloppy = false);

  const IpAddress& address() const { return address_; }
  int prefixLength() const { return prefix_length_; }
  IpFamily family() const { return address_.family(); }
  bool contains(const IpAddress& address) const;
  // Whether every address of `other` is in this prefix.
  bool contains(const Cidr& other) const;
  std::string toString() const;

  auto operator<=>(const Cidr&) const = default;

 private:
  IpAddress address_;
  int prefix_length_ = 0;
};

}  // namespace palisade::policy
