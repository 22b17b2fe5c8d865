#include "policy/ip.h"

#include <gtest/gtest.h>

namespace palisade::policy {
namespace {

IpAddress ip(std::string_view text) { return IpAddress::parse(text).value(); }
Cidr cidr(std::string_view text) { return Cidr::parse(text).value(); }

TEST(IpAddress, ParsesIPv4AndIPv6) {
  EXPECT_EQ(ip("10.1.2.3").family(), IpFamily::kIPv4);
  EXPECT_EQ(ip("10.1.2.3").toString(), "10.1.2.3");
  EXPECT_EQ(ip("2001:db8::1").family(), IpFamily::kIPv6);
  EXPECT_EQ(ip("2001:DB8:0:0::1").toString(), "2001:db8::1");
}

TEST(IpAddress, RejectsMalformedText) {
  for (const char* text : {"", "10.1.2", "10.1.2.3.4", "256.0.0.1", "10..2.3", "10.1.2.3 ",
                           "a.b.c.d", "2001:db8::1::2", "fe80::1%eth0", "[::1]", "1.2.3.-4"}) {
    EXPECT_FALSE(IpAddress::parse(text).has_value()) << text;
  }
}

TEST(IpAddress, StrictParsingRejectsLeadingZerosSloppyReadsThemAsDecimal) {
  EXPECT_FALSE(IpAddress::parse("010.001.002.003").has_value());
  EXPECT_EQ(IpAddress::parseSloppy("010.001.002.003")->toString(), "10.1.2.3");
}

TEST(IpAddress, IPv4MappedIPv6IsTheIPv4Address) {
  EXPECT_EQ(ip("::ffff:10.0.0.1"), ip("10.0.0.1"));
}

TEST(Cidr, HostBitsAreClearedAsNetParseCIDRDoes) {
  EXPECT_EQ(cidr("10.1.2.3/16").toString(), "10.1.0.0/16");
  EXPECT_EQ(cidr("2001:db8::1/32").toString(), "2001:db8::/32");
}

TEST(Cidr, ContainsAddressesOfTheSameFamilyOnly) {
  EXPECT_TRUE(cidr("10.0.0.0/8").contains(ip("10.255.1.1")));
  EXPECT_FALSE(cidr("10.0.0.0/8").contains(ip("11.0.0.0")));
  EXPECT_TRUE(cidr("0.0.0.0/0").contains(ip("192.0.2.1")));
  EXPECT_FALSE(cidr("0.0.0.0/0").contains(ip("2001:db8::1")));
  EXPECT_TRUE(cidr("::/0").contains(ip("2001:db8::1")));
  EXPECT_FALSE(cidr("::/0").contains(ip("10.0.0.1")));
}

TEST(Cidr, PrefixBoundariesAreExact) {
  const Cidr block = cidr("192.168.1.128/25");
  EXPECT_FALSE(block.contains(ip("192.168.1.127")));
  EXPECT_TRUE(block.contains(ip("192.168.1.128")));
  EXPECT_TRUE(block.contains(ip("192.168.1.255")));
  EXPECT_FALSE(block.contains(ip("192.168.2.0")));
  EXPECT_TRUE(cidr("10.0.0.5/32").contains(ip("10.0.0.5")));
  EXPECT_FALSE(cidr("10.0.0.5/32").contains(ip("10.0.0.4")));
}

TEST(Cidr, ContainsSubPrefixes) {
  EXPECT_TRUE(cidr("10.0.0.0/8").contains(cidr("10.1.0.0/16")));
  EXPECT_TRUE(cidr("10.0.0.0/8").contains(cidr("10.0.0.0/8")));
  EXPECT_FALSE(cidr("10.1.0.0/16").contains(cidr("10.0.0.0/8")));
  EXPECT_FALSE(cidr("10.0.0.0/8").contains(cidr("2001:db8::/32")));
}

TEST(Cidr, RejectsMalformedPrefixes) {
  for (const char* text : {"10.0.0.0", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1", "::/129",
                           "10.0.0.0/8/8", "10.0.0.0/a", "/8"}) {
    EXPECT_FALSE(Cidr::parse(text).has_value()) << text;
  }
}

}  // namespace
}  // namespace palisade::policy
