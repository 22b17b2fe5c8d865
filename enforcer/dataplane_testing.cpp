#include "enforcer/dataplane_testing.h"

#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <net/if.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <system_error>

namespace palisade::enforcer::testing {
namespace {

constexpr uint8_t kIcmp = 1;
constexpr uint8_t kTcp = 6;
constexpr uint8_t kUdp = 17;
constexpr uint8_t kFragment = 44;
constexpr uint8_t kIcmpV6 = 58;
constexpr uint8_t kSctp = 132;
constexpr uint16_t kLaterFragmentOffset = 185;  // in 8-byte units: 1480 bytes in

std::string errnoText(int error) {
  return std::error_code(error, std::generic_category()).message();
}

void put16(std::vector<uint8_t>& out, uint16_t value) {
  out.push_back(static_cast<uint8_t>(value >> 8));
  out.push_back(static_cast<uint8_t>(value));
}

void put32(std::vector<uint8_t>& out, uint32_t value) {
  put16(out, static_cast<uint16_t>(value >> 16));
  put16(out, static_cast<uint16_t>(value));
}

void putAddress(std::vector<uint8_t>& out, const policy::IpAddress& address) {
  const int length = address.family() == policy::IpFamily::kIPv4 ? 4 : 16;
  out.insert(out.end(), address.bytes().begin(), address.bytes().begin() + length);
}

uint16_t headerChecksum(const std::vector<uint8_t>& header) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < header.size(); i += 2) {
    sum += static_cast<uint32_t>(header[i] << 8 | header[i + 1]);
  }
  while (sum >> 16) {
    sum = (sum & 0xffff) + (sum >> 16);
  }
  return static_cast<uint16_t>(~sum);
}

policy::Result<void> run(const std::string& command) {
  const int status = std::system((command + " >/dev/null 2>&1").c_str());
  if (status != 0) {
    return policy::fail("`" + command + "` failed (exit status " + std::to_string(status) +
                        "); is iproute2 installed?");
  }
  return {};
}

policy::Result<void> sandbox() {
  if (geteuid() != 0) {
    return policy::fail(
        "the dataplane tests load BPF programs, mount a BPF filesystem and create interfaces: "
        "run them as root (CI does)");
  }
  if (unshare(CLONE_NEWNS | CLONE_NEWNET) != 0) {
    return policy::fail("unshare(CLONE_NEWNS | CLONE_NEWNET) failed: " + errnoText(errno));
  }
  // Mounts made from here on stay in this namespace.
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return policy::fail("making / private failed: " + errnoText(errno));
  }
  if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700") != 0) {
    return policy::fail("mounting a BPF filesystem on /sys/fs/bpf failed: " + errnoText(errno));
  }
  return {};
}

}  // namespace

policy::Result<void> enterSandbox() {
  static const policy::Result<void> entered = sandbox();
  return entered;
}

policy::Result<int> createVethPair(const std::string& name, const std::string& peer) {
  if (auto created = run("ip link add " + name + " type veth peer name " + peer); !created) {
    return std::unexpected(created.error());
  }
  const unsigned ifindex = if_nametoindex(name.c_str());
  if (ifindex == 0) {
    return policy::fail("no interface " + name + " after creating it: " + errnoText(errno));
  }
  return static_cast<int>(ifindex);
}

policy::Result<void> deleteLink(const std::string& name) { return run("ip link del " + name); }

PacketBuilder::PacketBuilder(const policy::IpAddress& source, const policy::IpAddress& destination)
    : source_(source), destination_(destination) {}

PacketBuilder& PacketBuilder::tcp(uint16_t source_port, uint16_t destination_port,
                                  uint8_t flags) {
  protocol_ = kTcp;
  transport_.clear();
  put16(transport_, source_port);
  put16(transport_, destination_port);
  put32(transport_, 1);       // sequence number
  put32(transport_, 0);       // acknowledgment number
  transport_.push_back(5 << 4);  // data offset: 5 words, no options
  transport_.push_back(flags);
  put16(transport_, 65535);  // window
  put16(transport_, 0);      // checksum
  put16(transport_, 0);      // urgent pointer
  return *this;
}

PacketBuilder& PacketBuilder::udp(uint16_t source_port, uint16_t destination_port) {
  protocol_ = kUdp;
  transport_.clear();
  put16(transport_, source_port);
  put16(transport_, destination_port);
  put16(transport_, 12);  // length: this header and 4 bytes of payload
  put16(transport_, 0);
  put32(transport_, 0x70696e67);
  return *this;
}

PacketBuilder& PacketBuilder::sctp(uint16_t source_port, uint16_t destination_port) {
  protocol_ = kSctp;
  transport_.clear();
  put16(transport_, source_port);
  put16(transport_, destination_port);
  put32(transport_, 0);  // verification tag (0 in an INIT)
  put32(transport_, 0);  // CRC32c
  // An INIT chunk header: type 1, flags, length.
  transport_.push_back(1);
  transport_.push_back(0);
  put16(transport_, 4);
  return *this;
}

PacketBuilder& PacketBuilder::icmpEcho(uint16_t identifier, bool reply) {
  const bool ipv4 = source_.family() == policy::IpFamily::kIPv4;
  const uint8_t type = ipv4 ? (reply ? 0 : 8) : (reply ? 129 : 128);
  std::vector<uint8_t> rest;
  put16(rest, identifier);
  put16(rest, 1);  // sequence number
  icmp(type, 0);
  std::copy(rest.begin(), rest.end(), transport_.begin() + 4);
  put32(transport_, 0x70696e67);  // payload
  return *this;
}

PacketBuilder& PacketBuilder::icmp(uint8_t type, uint8_t code, std::span<const uint8_t> body) {
  protocol_ = source_.family() == policy::IpFamily::kIPv4 ? kIcmp : kIcmpV6;
  transport_.clear();
  transport_.push_back(type);
  transport_.push_back(code);
  put16(transport_, 0);  // checksum
  put32(transport_, 0);  // unused, MTU, pointer or identifier and sequence
  transport_.insert(transport_.end(), body.begin(), body.end());
  return *this;
}

PacketBuilder& PacketBuilder::payload(uint8_t protocol, size_t length) {
  protocol_ = protocol;
  transport_.assign(length, 0xab);
  return *this;
}

PacketBuilder& PacketBuilder::extensionHeader(uint8_t type) {
  extension_headers_.push_back(type);
  return *this;
}

PacketBuilder& PacketBuilder::laterFragment() {
  later_fragment_ = true;
  return *this;
}

std::vector<uint8_t> PacketBuilder::ipPacket() const {
  std::vector<uint8_t> packet;
  if (source_.family() == policy::IpFamily::kIPv4) {
    packet.push_back(0x45);  // version 4, 5-word header
    packet.push_back(0);
    put16(packet, static_cast<uint16_t>(20 + transport_.size()));
    put16(packet, 0x1234);  // identification
    put16(packet, later_fragment_ ? kLaterFragmentOffset : 0x4000);  // or don't fragment
    packet.push_back(64);  // TTL
    packet.push_back(protocol_);
    put16(packet, 0);
    putAddress(packet, source_);
    putAddress(packet, destination_);
    const uint16_t checksum = headerChecksum(packet);
    packet[10] = static_cast<uint8_t>(checksum >> 8);
    packet[11] = static_cast<uint8_t>(checksum);
  } else {
    std::vector<uint8_t> chain = extension_headers_;
    if (later_fragment_) {
      chain.push_back(kFragment);
    }
    put32(packet, 0x60000000);  // version 6
    put16(packet, static_cast<uint16_t>(chain.size() * 8 + transport_.size()));
    packet.push_back(chain.empty() ? protocol_ : chain.front());
    packet.push_back(64);  // hop limit
    putAddress(packet, source_);
    putAddress(packet, destination_);
    for (size_t i = 0; i < chain.size(); ++i) {
      const uint8_t next = i + 1 < chain.size() ? chain[i + 1] : protocol_;
      packet.push_back(next);
      if (chain[i] == kFragment) {
        packet.push_back(0);
        put16(packet, static_cast<uint16_t>(kLaterFragmentOffset << 3));  // last fragment
        put32(packet, 0x1234);  // identification
      } else {
        packet.push_back(0);  // length: 8 bytes
        // PadN option (for hop-by-hop and destination options; for a routing
        // header: type 1, 4 segments left, which nothing here reads).
        packet.push_back(1);
        packet.push_back(4);
        put32(packet, 0);
      }
    }
  }
  packet.insert(packet.end(), transport_.begin(), transport_.end());
  return packet;
}

std::vector<uint8_t> PacketBuilder::frame() const {
  std::vector<uint8_t> frame = {0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01};
  put16(frame, source_.family() == policy::IpFamily::kIPv4 ? 0x0800 : 0x86dd);
  const std::vector<uint8_t> packet = ipPacket();
  frame.insert(frame.end(), packet.begin(), packet.end());
  return frame;
}

policy::Result<uint32_t> testRun(int program_fd, std::span<const uint8_t> frame, int ifindex,
                                 int repeat, uint32_t* duration_ns) {
  __sk_buff context{};
  context.ifindex = static_cast<uint32_t>(ifindex);
  bpf_test_run_opts options{};
  options.sz = sizeof(options);
  options.data_in = frame.data();
  options.data_size_in = static_cast<uint32_t>(frame.size());
  options.ctx_in = &context;
  options.ctx_size_in = sizeof(context);
  options.repeat = repeat;
  if (const int err = bpf_prog_test_run_opts(program_fd, &options); err != 0) {
    return policy::fail("BPF_PROG_TEST_RUN failed: " + errnoText(-err));
  }
  if (duration_ns != nullptr) {
    *duration_ns = options.duration;
  }
  return options.retval;
}

}  // namespace palisade::enforcer::testing
