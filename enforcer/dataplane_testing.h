#pragma once

// For the dataplane's tests and benchmark: a private sandbox to load, pin
// and attach in, crafted packets, and BPF_PROG_TEST_RUN.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "policy/error.h"
#include "policy/ip.h"

namespace palisade::enforcer::testing {

// Moves the calling process (once; later calls return the first outcome)
// into mount and network namespaces of its own, with a BPF filesystem of its
// own on /sys/fs/bpf: pins, tc attachments and interfaces made there vanish
// with the process, whatever way it ends, and never meet the machine's or
// another test's. Needs root; call before starting threads.
[[nodiscard]] policy::Result<void> enterSandbox();

// A veth pair in the sandbox; returns the ifindex of `name`.
[[nodiscard]] policy::Result<int> createVethPair(const std::string& name, const std::string& peer);
[[nodiscard]] policy::Result<void> deleteLink(const std::string& name);

inline constexpr uint8_t kTcpSyn = 0x02;
inline constexpr uint8_t kTcpAck = 0x10;

// An Ethernet frame carrying an IPv4 or IPv6 packet (the family of the
// addresses), built up from the transport header. Checksums are left zero
// but for IPv4's header one: the programs never check them.
class PacketBuilder {
 public:
  PacketBuilder(const policy::IpAddress& source, const policy::IpAddress& destination);

  PacketBuilder& tcp(uint16_t source_port, uint16_t destination_port, uint8_t flags = kTcpSyn);
  PacketBuilder& udp(uint16_t source_port, uint16_t destination_port);
  PacketBuilder& sctp(uint16_t source_port, uint16_t destination_port);
  // ICMP or ICMPv6, by the family.
  PacketBuilder& icmpEcho(uint16_t identifier, bool reply = false);
  // An ICMP(v6) message with a 4-byte field after the checksum and `body`:
  // for an error, the packet it is about (another builder's ipPacket()).
  PacketBuilder& icmp(uint8_t type, uint8_t code, std::span<const uint8_t> body = {});
  // Any other protocol, with `length` bytes of payload.
  PacketBuilder& payload(uint8_t protocol, size_t length);

  // IPv6: an 8-byte hop-by-hop (0), routing (43) or destination options (60)
  // header, in the order added, before the transport header.
  PacketBuilder& extensionHeader(uint8_t type);
  // A fragment other than the first: its bytes are the middle of a payload.
  PacketBuilder& laterFragment();

  std::vector<uint8_t> ipPacket() const;
  std::vector<uint8_t> frame() const;

 private:
  policy::IpAddress source_;
  policy::IpAddress destination_;
  uint8_t protocol_ = 0;
  std::vector<uint8_t> transport_;
  std::vector<uint8_t> extension_headers_;  // their types
  bool later_fragment_ = false;
};

// Runs a tc program once (or `repeat` times) on `frame`, as if it crossed
// interface `ifindex` (1 or an interface of the sandbox). Returns the
// program's verdict (TC_ACT_*) and, with `duration_ns`, the mean run time.
[[nodiscard]] policy::Result<uint32_t> testRun(int program_fd, std::span<const uint8_t> frame,
                                               int ifindex, int repeat = 1,
                                               uint32_t* duration_ns = nullptr);

}  // namespace palisade::enforcer::testing
