#include "policy/validation.h"

// The behaviour and every message follow Kubernetes 1.36 with its default
// feature gates:
//   pkg/apis/networking/validation        ValidateNetworkPolicy and its helpers
//   pkg/apis/core/validation              ValidateObjectMeta, ValidateNamespace,
//                                         validateContainerPorts
//   apimachinery pkg/api/validation       ValidateObjectMetaAccessor, NameIsDNS*
//   apimachinery pkg/apis/meta/v1/validation  ValidateLabelSelector, ValidateLabels
//   apimachinery pkg/util/validation      IsDNS1123*, IsValidPortName/Num, ip.go
//   apimachinery pkg/api/validate/content IsLabelKey, IsLabelValue
//   apimachinery pkg/util/validation/field  Error.Error() / ErrorBody()
// Two 1.36 facts shape what is accepted here:
//   - StrictIPCIDRValidation (KEP-4858) is on by default since 1.36, so ipBlock
//     CIDRs with leading zeros, IPv4-mapped IPv6 addresses or host bits set are
//     rejected, not merely warned about.
//   - Label keys and values are checked by the api/validate/content package,
//     whose length message says "bytes"; DNS names and port names are still
//     checked by pkg/util/validation, whose message says "characters".
// The apiserver mutates an object before validating a CREATE; those steps are
// reproduced where they change the verdict (see validateObjectMeta and
// validateNamespace).

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace palisade::policy {
namespace {

// ---------------------------------------------------------------------------
// Value rendering, as Go's fmt prints a field.Error's BadValue.

constexpr std::string_view kHexDigits = "0123456789abcdef";

void appendHex(std::string& out, uint32_t value, int digits) {
  for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4) {
    out += kHexDigits[(value >> shift) & 0xf];
  }
}

// One step of Go's utf8.DecodeRuneInString: the rune at `s[i]` and its width,
// or nullopt for a byte that does not start a valid UTF-8 sequence (overlong
// forms and surrogates included).
std::optional<char32_t> decodeUtf8(std::string_view s, size_t i, size_t& width) {
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(s[i + k]); };
  const uint8_t b0 = byte(0);
  width = 1;
  if (b0 < 0x80) {
    return b0;
  }
  size_t length = 0;
  uint8_t low = 0x80;
  uint8_t high = 0xbf;
  char32_t rune = 0;
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    length = 2;
    rune = b0 & 0x1f;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    length = 3;
    rune = b0 & 0x0f;
    low = b0 == 0xe0 ? 0xa0 : 0x80;
    high = b0 == 0xed ? 0x9f : 0xbf;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    length = 4;
    rune = b0 & 0x07;
    low = b0 == 0xf0 ? 0x90 : 0x80;
    high = b0 == 0xf4 ? 0x8f : 0xbf;
  } else {
    return std::nullopt;
  }
  if (i + length > s.size()) {
    return std::nullopt;
  }
  for (size_t k = 1; k < length; ++k) {
    const uint8_t b = byte(k);
    if (b < (k == 1 ? low : 0x80) || b > (k == 1 ? high : 0xbf)) {
      return std::nullopt;
    }
    rune = (rune << 6) | (b & 0x3f);
  }
  width = length;
  return rune;
}

// Go's strconv.IsPrint: letters, marks, numbers, punctuation, symbols and the
// ASCII space. Control, separator, format, private-use and non-character code
// points are excluded; code points Unicode leaves unassigned are treated as
// printable, which only matters for text no Kubernetes field accepts anyway.
bool isGoPrintable(char32_t r) {
  if (r < 0x20 || (r >= 0x7f && r < 0xa0)) {
    return false;
  }
  if (r == 0xa0 || r == 0xad || r == 0x061c || r == 0x06dd || r == 0x070f || r == 0x08e2 ||
      r == 0x1680 || r == 0x180e || r == 0x202f || r == 0x205f || r == 0x3000 || r == 0xfeff ||
      r == 0x110bd || r == 0x110cd || r == 0xe0001) {
    return false;
  }
  const std::pair<char32_t, char32_t> kRanges[] = {
      {0x0600, 0x0605},   {0x0890, 0x0891},   {0x2000, 0x200f},   {0x2028, 0x202e},
      {0x2060, 0x206f},   {0xd800, 0xf8ff},   {0xfdd0, 0xfdef},   {0xfff9, 0xfffb},
      {0x13430, 0x1343f}, {0x1bca0, 0x1bca3}, {0x1d173, 0x1d17a}, {0xe0020, 0xe007f},
      {0xf0000, 0x10ffff}};
  for (const auto& [first, last] : kRanges) {
    if (r >= first && r <= last) {
      return false;
    }
  }
  return (r & 0xfffe) != 0xfffe;
}

// Go's strconv.Quote, which is what %q and %#v print for a string.
std::string goQuote(std::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    size_t width = 1;
    const std::optional<char32_t> rune = decodeUtf8(s, i, width);
    if (!rune) {
      out += "\\x";
      appendHex(out, static_cast<uint8_t>(s[i]), 2);
      i += 1;
      continue;
    }
    const char32_t r = *rune;
    if (r == '"' || r == '\\') {
      out += '\\';
      out += static_cast<char>(r);
    } else if (isGoPrintable(r)) {
      out.append(s.substr(i, width));
    } else if (r == '\a') {
      out += "\\a";
    } else if (r == '\b') {
      out += "\\b";
    } else if (r == '\f') {
      out += "\\f";
    } else if (r == '\n') {
      out += "\\n";
    } else if (r == '\r') {
      out += "\\r";
    } else if (r == '\t') {
      out += "\\t";
    } else if (r == '\v') {
      out += "\\v";
    } else if (r < 0x20 || r == 0x7f) {
      out += "\\x";
      appendHex(out, r, 2);
    } else if (r < 0x10000) {
      out += "\\u";
      appendHex(out, r, 4);
    } else {
      out += "\\U";
      appendHex(out, r, 8);
    }
    i += width;
  }
  out += '"';
  return out;
}

std::string_view typeText(FieldError::Type type) {
  switch (type) {
    case FieldError::Type::kRequired:
      return "Required value";
    case FieldError::Type::kInvalid:
      return "Invalid value";
    case FieldError::Type::kNotSupported:
      return "Unsupported value";
    case FieldError::Type::kForbidden:
      return "Forbidden";
    case FieldError::Type::kDuplicate:
      return "Duplicate value";
    case FieldError::Type::kTooLong:
      return "Too long";
    case FieldError::Type::kTooMany:
      return "Too many";
  }
  return "Invalid value";
}

// ---------------------------------------------------------------------------
// Field paths (field.Path.String()) and error constructors (field.Invalid…).

std::string child(std::string_view path, std::string_view name) {
  return path.empty() ? std::string(name) : std::string(path) + "." + std::string(name);
}

std::string index(std::string_view path, size_t i) {
  return std::string(path) + "[" + std::to_string(i) + "]";
}

FieldError invalidString(std::string field, std::string_view value, std::string detail) {
  return {FieldError::Type::kInvalid, std::move(field), goQuote(value), std::move(detail)};
}

FieldError invalidInteger(std::string field, int64_t value, std::string detail) {
  return {FieldError::Type::kInvalid, std::move(field), std::to_string(value), std::move(detail)};
}

FieldError required(std::string field, std::string detail) {
  return {FieldError::Type::kRequired, std::move(field), "", std::move(detail)};
}

FieldError forbidden(std::string field, std::string detail) {
  return {FieldError::Type::kForbidden, std::move(field), "", std::move(detail)};
}

FieldError duplicateString(std::string field, std::string_view value) {
  return {FieldError::Type::kDuplicate, std::move(field), goQuote(value), ""};
}

FieldError notSupportedString(std::string field, std::string_view value,
                              std::initializer_list<std::string_view> supported) {
  std::string detail = "supported values: ";
  bool first = true;
  for (std::string_view option : supported) {
    detail += first ? "" : ", ";
    detail += goQuote(option);
    first = false;
  }
  return {FieldError::Type::kNotSupported, std::move(field), goQuote(value), std::move(detail)};
}

// field.TooLong since Kubernetes 1.32: the value is never printed.
FieldError tooLong(std::string field, int64_t max_bytes) {
  return {FieldError::Type::kTooLong, std::move(field), "",
          "may not be more than " + std::to_string(max_bytes) +
              (max_bytes == 1 ? " byte" : " bytes")};
}

// ---------------------------------------------------------------------------
// The syntax of names, keys and values. Hand-written character checks that
// accept exactly what the regular expressions quoted in the messages accept.

constexpr std::string_view kDns1123LabelFmt = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
constexpr std::string_view kDns1123LabelErrMsg =
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character";
constexpr std::string_view kDns1123SubdomainFmt =
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
constexpr std::string_view kDns1123SubdomainErrMsg =
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character";
constexpr std::string_view kLabelKeyFmt = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
constexpr std::string_view kLabelKeyErrMsg =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character";
constexpr std::string_view kLabelValueFmt = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
constexpr std::string_view kLabelValueErrMsg =
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character";
constexpr size_t kDns1123LabelMaxLength = 63;
constexpr size_t kDns1123SubdomainMaxLength = 253;
constexpr size_t kLabelKeyNameMaxLength = 63;
constexpr size_t kLabelValueMaxLength = 63;
constexpr size_t kPortNameMaxLength = 15;
// apimachinery pkg/api/validation TotalAnnotationSizeLimitB.
constexpr int64_t kTotalAnnotationSizeLimit = 256 * 1024;

bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isLower(char c) { return c >= 'a' && c <= 'z'; }
bool isLowerAlnum(char c) { return isLower(c) || isDigit(c); }
bool isAlnum(char c) { return isLowerAlnum(c) || (c >= 'A' && c <= 'Z'); }

bool matchesDns1123Label(std::string_view v) {
  return !v.empty() && isLowerAlnum(v.front()) && isLowerAlnum(v.back()) &&
         std::ranges::all_of(v, [](char c) { return isLowerAlnum(c) || c == '-'; });
}

bool matchesDns1123Subdomain(std::string_view v) {
  while (true) {
    const size_t dot = v.find('.');
    if (!matchesDns1123Label(v.substr(0, dot))) {
      return false;
    }
    if (dot == std::string_view::npos) {
      return true;
    }
    v.remove_prefix(dot + 1);
  }
}

bool matchesLabelKeyName(std::string_view v) {
  return !v.empty() && isAlnum(v.front()) && isAlnum(v.back()) &&
         std::ranges::all_of(v, [](char c) {
           return isAlnum(c) || c == '-' || c == '_' || c == '.';
         });
}

// util/validation RegexError: "msg (e.g. 'a' or 'b', regex used for
// validation is 'fmt')"; the doubled space before "or" is the apiserver's own.
std::string regexError(std::string_view msg, std::string_view fmt,
                       std::initializer_list<std::string_view> examples) {
  std::string out(msg);
  out += " (e.g. ";
  bool first = true;
  for (std::string_view example : examples) {
    out += first ? "" : " or ";
    out += "'" + std::string(example) + "', ";
    first = false;
  }
  out += "regex used for validation is '" + std::string(fmt) + "')";
  return out;
}

// pkg/util/validation MaxLenError (DNS names, port names).
std::string maxLenCharacters(size_t length) {
  return "must be no more than " + std::to_string(length) + " characters";
}

// pkg/api/validate/content MaxLenError (label keys and values).
std::string maxLenBytes(size_t length) {
  return "must be no more than " + std::to_string(length) + " bytes";
}

std::vector<std::string> dns1123SubdomainErrors(std::string_view value,
                                                std::string (*max_len)(size_t)) {
  std::vector<std::string> errors;
  if (value.size() > kDns1123SubdomainMaxLength) {
    errors.push_back(max_len(kDns1123SubdomainMaxLength));
  }
  if (!matchesDns1123Subdomain(value)) {
    errors.push_back(regexError(kDns1123SubdomainErrMsg, kDns1123SubdomainFmt, {"example.com"}));
  }
  return errors;
}

// ---------------------------------------------------------------------------
// CIDR parsing exactly as the apiserver does it. ipBlock validation runs
// k8s.io/utils/net.ParseCIDRSloppy (Go 1.16's net.ParseCIDR, which ignores
// leading zeros), then Go's netip.ParsePrefix for the strict checks, and
// decides "strict subset" with net.IPNet.Contains on the sloppy result. Go
// keeps an IPv6-written address (even an IPv4-mapped one) at 16 bytes with a
// 128-bit mask, and compares raw mask lengths, so the model here keeps the
// written family too: policy::Cidr folds IPv4-mapped addresses into IPv4 and
// would give different verdicts.

constexpr int kGoBig = 0xFFFFFF;

struct Digits {
  int value = 0;
  size_t consumed = 0;
  bool ok = false;
};

Digits decimalPrefix(std::string_view s) {
  Digits d;
  for (; d.consumed < s.size() && isDigit(s[d.consumed]); ++d.consumed) {
    d.value = d.value * 10 + (s[d.consumed] - '0');
    if (d.value >= kGoBig) {
      return {kGoBig, d.consumed, false};
    }
  }
  d.ok = d.consumed > 0;
  return d;
}

int hexValue(char c) {
  if (isDigit(c)) {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

Digits hexPrefix(std::string_view s) {
  Digits d;
  for (; d.consumed < s.size(); ++d.consumed) {
    const int digit = hexValue(s[d.consumed]);
    if (digit < 0) {
      break;
    }
    d.value = d.value * 16 + digit;
    if (d.value >= kGoBig) {
      return {0, d.consumed, false};
    }
  }
  d.ok = d.consumed > 0;
  return d;
}

using Bytes16 = std::array<uint8_t, 16>;

// `leading_zeros` is set when the text has a digit run netip.ParseAddr would
// refuse: a multi-digit IPv4 octet starting with 0, or an IPv6 group of more
// than four hex digits (which the sloppy parser only accepts when zero-padded).
std::optional<std::array<uint8_t, 4>> parseIPv4Sloppy(std::string_view s, bool& leading_zeros) {
  std::array<uint8_t, 4> octets{};
  for (size_t i = 0; i < octets.size(); ++i) {
    if (s.empty()) {
      return std::nullopt;
    }
    if (i > 0) {
      if (s[0] != '.') {
        return std::nullopt;
      }
      s.remove_prefix(1);
    }
    const Digits d = decimalPrefix(s);
    if (!d.ok || d.value > 0xff) {
      return std::nullopt;
    }
    if (d.consumed > 1 && s[0] == '0') {
      leading_zeros = true;
    }
    s.remove_prefix(d.consumed);
    octets[i] = static_cast<uint8_t>(d.value);
  }
  if (!s.empty()) {
    return std::nullopt;
  }
  return octets;
}

std::optional<Bytes16> parseIPv6Sloppy(std::string_view s, bool& leading_zeros) {
  Bytes16 ip{};
  int ellipsis = -1;
  if (s.size() >= 2 && s[0] == ':' && s[1] == ':') {
    ellipsis = 0;
    s.remove_prefix(2);
    if (s.empty()) {
      return ip;
    }
  }
  int i = 0;
  while (i < 16) {
    const Digits group = hexPrefix(s);
    if (!group.ok || group.value > 0xffff) {
      return std::nullopt;
    }
    if (group.consumed < s.size() && s[group.consumed] == '.') {
      if ((ellipsis < 0 && i != 12) || i + 4 > 16) {
        return std::nullopt;
      }
      const auto v4 = parseIPv4Sloppy(s, leading_zeros);
      if (!v4) {
        return std::nullopt;
      }
      std::copy(v4->begin(), v4->end(), ip.begin() + i);
      s = {};
      i += 4;
      break;
    }
    if (group.consumed > 4) {
      leading_zeros = true;
    }
    ip[i] = static_cast<uint8_t>(group.value >> 8);
    ip[i + 1] = static_cast<uint8_t>(group.value & 0xff);
    i += 2;
    s.remove_prefix(group.consumed);
    if (s.empty()) {
      break;
    }
    if (s[0] != ':' || s.size() == 1) {
      return std::nullopt;
    }
    s.remove_prefix(1);
    if (s[0] == ':') {
      if (ellipsis >= 0) {
        return std::nullopt;
      }
      ellipsis = i;
      s.remove_prefix(1);
      if (s.empty()) {
        break;
      }
    }
  }
  if (!s.empty()) {
    return std::nullopt;
  }
  if (i < 16) {
    if (ellipsis < 0) {
      return std::nullopt;
    }
    const int shift = 16 - i;
    for (int j = i - 1; j >= ellipsis; --j) {
      ip[j + shift] = ip[j];
    }
    for (int j = ellipsis + shift - 1; j >= ellipsis; --j) {
      ip[j] = 0;
    }
  } else if (ellipsis >= 0) {
    return std::nullopt;
  }
  return ip;
}

bool isV4Mapped(const Bytes16& bytes) {
  return std::all_of(bytes.begin(), bytes.begin() + 10, [](uint8_t b) { return b == 0; }) &&
         bytes[10] == 0xff && bytes[11] == 0xff;
}

Bytes16 maskBytes(int ones, size_t length) {
  Bytes16 mask{};
  for (size_t i = 0; i < length; ++i) {
    const int bits = std::clamp(ones - static_cast<int>(i) * 8, 0, 8);
    mask[i] = static_cast<uint8_t>(0xff00 >> bits);
  }
  return mask;
}

// An address as Go's net.IP holds it: 4 bytes, or 16.
struct GoIp {
  Bytes16 bytes{};
  size_t length = 4;
};

// net.IP.To4, keeping 16-byte non-mapped addresses as they are.
GoIp to4(const GoIp& ip) {
  if (ip.length == 16 && isV4Mapped(ip.bytes)) {
    GoIp v4;
    std::copy(ip.bytes.begin() + 12, ip.bytes.end(), v4.bytes.begin());
    return v4;
  }
  return ip;
}

// The result of ParseCIDRSloppy, plus what netip.ParsePrefix would object to.
struct GoCidr {
  GoIp written;   // the address as written (netip's Prefix.Addr())
  GoIp network;   // net.IPNet.IP: the written address with host bits cleared
  int ones = 0;   // the prefix length, as net.IPMask.Size() reports it
  bool leading_zeros = false;

  // net.IPNet.Contains.
  bool contains(const GoIp& ip) const {
    const GoIp candidate = to4(ip);
    const GoIp net = to4(network);
    const Bytes16 mask = maskBytes(ones, network.length);
    size_t mask_offset = 0;
    if (network.length == 4 && net.length != 4) {
      return false;
    }
    if (network.length == 16 && net.length == 4) {
      mask_offset = 12;
    }
    if (candidate.length != net.length) {
      return false;
    }
    for (size_t i = 0; i < net.length; ++i) {
      const uint8_t m = mask[mask_offset + i];
      if ((net.bytes[i] & m) != (candidate.bytes[i] & m)) {
        return false;
      }
    }
    return true;
  }
};

std::optional<GoCidr> parseCidrSloppy(std::string_view text) {
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos) {
    return std::nullopt;
  }
  const std::string_view address = text.substr(0, slash);
  const std::string_view length = text.substr(slash + 1);
  GoCidr cidr;
  bool v4_zeros = false;
  bool v6_zeros = false;
  if (const auto v4 = parseIPv4Sloppy(address, v4_zeros)) {
    std::copy(v4->begin(), v4->end(), cidr.written.bytes.begin());
    cidr.written.length = 4;
    cidr.leading_zeros = v4_zeros;
  } else if (const auto v6 = parseIPv6Sloppy(address, v6_zeros)) {
    cidr.written.bytes = *v6;
    cidr.written.length = 16;
    cidr.leading_zeros = v6_zeros;
  } else {
    return std::nullopt;
  }
  const Digits bits = decimalPrefix(length);
  if (!bits.ok || bits.consumed != length.size() ||
      bits.value > static_cast<int>(8 * cidr.written.length)) {
    return std::nullopt;
  }
  if (length.size() > 1 && length[0] == '0') {
    cidr.leading_zeros = true;
  }
  cidr.ones = bits.value;
  cidr.network = cidr.written;
  const Bytes16 mask = maskBytes(cidr.ones, cidr.written.length);
  for (size_t i = 0; i < cidr.network.length; ++i) {
    cidr.network.bytes[i] &= mask[i];
  }
  return cidr;
}

// pkg/apis/core/validation IsValidCIDRForLegacyField with strict validation,
// as StrictIPCIDRValidation makes it by default from 1.36 (no old values to
// ratchet on a CREATE).
void validateLegacyCidr(const std::string& field, std::string_view value, FieldErrors& errors) {
  const std::optional<GoCidr> cidr = parseCidrSloppy(value);
  if (!cidr) {
    errors.push_back(invalidString(
        field, value, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"));
    return;
  }
  const GoIp& written = cidr->written;
  if (cidr->leading_zeros) {
    errors.push_back(
        invalidString(field, value, "must not have leading 0s in IP or prefix length"));
  } else if (written.length == 16 && isV4Mapped(written.bytes)) {
    errors.push_back(invalidString(field, value, "must not have an IPv4-mapped IPv6 address"));
  } else if (!std::equal(written.bytes.begin(), written.bytes.begin() + written.length,
                         cidr->network.bytes.begin())) {
    errors.push_back(
        invalidString(field, value, "must not have bits set beyond the prefix length"));
  }
}

// ---------------------------------------------------------------------------
// Object metadata.

enum class Scope { kNamespaced, kCluster };
enum class NameRule { kDns1123Subdomain, kDns1123Label };

// apimachinery pkg/api/validation NameIsDNSSubdomain / NameIsDNSLabel. A
// generateName prefix may end with '-': maskTrailingDash replaces its last
// *two* characters with "a" before the check, a quirk kept as is.
std::vector<std::string> nameErrors(std::string_view name, NameRule rule, bool prefix) {
  std::string checked(name);
  if (prefix && checked.size() > 1 && checked.back() == '-') {
    checked = checked.substr(0, checked.size() - 2) + "a";
  }
  return rule == NameRule::kDns1123Label ? isDns1123Label(checked) : isDns1123Subdomain(checked);
}

// The name a CREATE is validated with. rest.BeforeCreate generates the name
// from generateName before validation (names.SimpleNameGenerator: the prefix
// cut to 58 bytes, then 5 random characters from [bcdfghjklmnpqrstvwxz2456789]).
// Any such characters give the same verdict; "xxxxx" stands in for them, so a
// rejected generated name is reported with that suffix where the apiserver
// shows its random one.
std::string nameToValidate(const ObjectMeta& meta) {
  constexpr size_t kMaxGeneratedNameLength = 58;
  if (!meta.name.empty() || meta.generate_name.empty()) {
    return meta.name;
  }
  return meta.generate_name.substr(0, kMaxGeneratedNameLength) + "xxxxx";
}

void validateAnnotations(const Labels& annotations, const std::string& field,
                         FieldErrors& errors) {
  int64_t total_size = 0;
  for (const auto& [key, value] : annotations) {
    // Annotation keys are qualified names compared case-insensitively.
    std::string lowered = key;
    std::ranges::transform(lowered, lowered.begin(), [](char c) {
      return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    });
    for (std::string& message : isQualifiedName(lowered)) {
      errors.push_back(invalidString(field, key, std::move(message)));
    }
    total_size += static_cast<int64_t>(key.size() + value.size());
  }
  if (total_size > kTotalAnnotationSizeLimit) {
    errors.push_back(tooLong(field, kTotalAnnotationSizeLimit));
  }
}

// pkg/apis/core/validation ValidateObjectMeta for a CREATE. The namespace is
// checked only when present: rest.BeforeCreate fills an empty namespace of a
// namespaced object from the request URL and clears the namespace of a
// cluster-scoped object, so neither "Required" nor "not allowed on this type"
// can reach a user through the API.
void validateObjectMeta(const ObjectMeta& meta, const Labels& labels, Scope scope, NameRule rule,
                        FieldErrors& errors) {
  const std::string path = "metadata";
  if (!meta.generate_name.empty()) {
    for (std::string& message : nameErrors(meta.generate_name, rule, true)) {
      errors.push_back(invalidString(child(path, "generateName"), meta.generate_name,
                                     std::move(message)));
    }
  }
  const std::string name = nameToValidate(meta);
  if (name.empty()) {
    errors.push_back(required(child(path, "name"), "name or generateName is required"));
  } else {
    for (std::string& message : nameErrors(name, rule, false)) {
      errors.push_back(invalidString(child(path, "name"), name, std::move(message)));
    }
  }
  if (scope == Scope::kNamespaced && !meta.namespace_name.empty()) {
    for (std::string& message : nameErrors(meta.namespace_name, NameRule::kDns1123Label, false)) {
      errors.push_back(
          invalidString(child(path, "namespace"), meta.namespace_name, std::move(message)));
    }
  }
  const FieldErrors label_errors = validateLabels(labels, child(path, "labels"));
  errors.insert(errors.end(), label_errors.begin(), label_errors.end());
  validateAnnotations(meta.annotations, child(path, "annotations"), errors);
}

// field.ErrorList.ToAggregate drops repeated messages from what the apiserver
// prints; two labels with the same bad value, say, are reported once.
FieldErrors withoutRepeats(FieldErrors errors) {
  std::set<std::string> seen;
  FieldErrors unique;
  for (FieldError& error : errors) {
    if (seen.insert(error.toString()).second) {
      unique.push_back(std::move(error));
    }
  }
  return unique;
}

// ---------------------------------------------------------------------------
// NetworkPolicy.

void append(FieldErrors& errors, const FieldErrors& more) {
  errors.insert(errors.end(), more.begin(), more.end());
}

void validateNetworkPolicyPort(const NetworkPolicyPort& port, const std::string& path,
                               FieldErrors& errors) {
  if (port.protocol && *port.protocol != "TCP" && *port.protocol != "UDP" &&
      *port.protocol != "SCTP") {
    errors.push_back(
        notSupportedString(child(path, "protocol"), *port.protocol, {"TCP", "UDP", "SCTP"}));
  }
  const std::string port_path = child(path, "port");
  const std::string end_port_path = child(path, "endPort");
  if (!port.port) {
    if (port.end_port) {
      errors.push_back(invalidInteger(end_port_path, *port.end_port,
                                      "may not be specified when `port` is not specified"));
    }
    return;
  }
  if (const auto* number = std::get_if<int32_t>(&*port.port)) {
    for (std::string& message : isValidPortNum(*number)) {
      errors.push_back(invalidInteger(port_path, *number, std::move(message)));
    }
    if (port.end_port) {
      if (*port.end_port < *number) {
        errors.push_back(invalidInteger(end_port_path, *port.end_port,
                                        "must be greater than or equal to `port`"));
      }
      for (std::string& message : isValidPortNum(*port.end_port)) {
        errors.push_back(invalidInteger(end_port_path, *port.end_port, std::move(message)));
      }
    }
    return;
  }
  const std::string& name = std::get<std::string>(*port.port);
  if (port.end_port) {
    errors.push_back(invalidInteger(end_port_path, *port.end_port,
                                    "may not be specified when `port` is non-numeric"));
  }
  for (std::string& message : isValidPortName(name)) {
    errors.push_back(invalidString(port_path, name, std::move(message)));
  }
}

void validateIpBlock(const IPBlock& block, const std::string& path, FieldErrors& errors) {
  const std::string cidr_path = child(path, "cidr");
  if (block.cidr.empty()) {
    errors.push_back(required(cidr_path, ""));
    return;
  }
  validateLegacyCidr(cidr_path, block.cidr, errors);
  const std::optional<GoCidr> cidr = parseCidrSloppy(block.cidr);
  if (!cidr) {
    return;
  }
  for (size_t i = 0; i < block.except.size(); ++i) {
    const std::string except_path = index(child(path, "except"), i);
    const std::string& text = block.except[i];
    validateLegacyCidr(except_path, text, errors);
    const std::optional<GoCidr> except = parseCidrSloppy(text);
    if (!except) {
      continue;
    }
    if (!cidr->contains(except->network) || cidr->ones >= except->ones) {
      errors.push_back(invalidString(except_path, text, "must be a strict subset of `cidr`"));
    }
  }
}

void validateNetworkPolicyPeer(const NetworkPolicyPeer& peer, const std::string& path,
                               FieldErrors& errors) {
  int peers = 0;
  if (peer.pod_selector) {
    ++peers;
    append(errors, validateLabelSelector(*peer.pod_selector, child(path, "podSelector")));
  }
  if (peer.namespace_selector) {
    ++peers;
    append(errors,
           validateLabelSelector(*peer.namespace_selector, child(path, "namespaceSelector")));
  }
  if (peer.ip_block) {
    ++peers;
    validateIpBlock(*peer.ip_block, child(path, "ipBlock"), errors);
  }
  if (peers == 0) {
    errors.push_back(required(path, "must specify a peer"));
  } else if (peers > 1 && peer.ip_block) {
    errors.push_back(forbidden(path, "may not specify both ipBlock and another peer"));
  }
}

void validateRules(const std::vector<NetworkPolicyRule>& rules, std::string_view direction,
                   std::string_view peers_name, FieldErrors& errors) {
  for (size_t i = 0; i < rules.size(); ++i) {
    const std::string rule_path = index(child("spec", direction), i);
    for (size_t j = 0; j < rules[i].ports.size(); ++j) {
      validateNetworkPolicyPort(rules[i].ports[j], index(child(rule_path, "ports"), j), errors);
    }
    for (size_t j = 0; j < rules[i].peers.size(); ++j) {
      validateNetworkPolicyPeer(rules[i].peers[j], index(child(rule_path, peers_name), j), errors);
    }
  }
}

void validatePolicyTypes(const std::vector<std::string>& types, FieldErrors& errors) {
  const std::string path = "spec.policyTypes";
  if (types.size() > 2) {
    // The apiserver passes &spec.PolicyTypes, which fmt prints with %#v.
    std::string rendered = "[]networking.PolicyType{";
    for (size_t i = 0; i < types.size(); ++i) {
      rendered += (i == 0 ? "" : ", ") + goQuote(types[i]);
    }
    rendered += "}";
    errors.push_back({FieldError::Type::kInvalid, path, std::move(rendered),
                      "may not specify more than two policyTypes"});
    return;
  }
  for (size_t i = 0; i < types.size(); ++i) {
    if (types[i] != "Ingress" && types[i] != "Egress") {
      errors.push_back(notSupportedString(index(path, i), types[i], {"Ingress", "Egress"}));
    }
  }
}

// ---------------------------------------------------------------------------
// Pod.

void validateContainerPorts(const std::vector<ContainerPort>& ports, const std::string& path,
                            FieldErrors& errors) {
  // Port names must be unique within one container's list; the apiserver does
  // not compare names across the containers of a pod.
  std::set<std::string, std::less<>> names;
  for (size_t i = 0; i < ports.size(); ++i) {
    const ContainerPort& port = ports[i];
    const std::string port_path = index(path, i);
    if (!port.name.empty()) {
      std::vector<std::string> messages = isValidPortName(port.name);
      if (!messages.empty()) {
        for (std::string& message : messages) {
          errors.push_back(invalidString(child(port_path, "name"), port.name, std::move(message)));
        }
      } else if (!names.insert(port.name).second) {
        errors.push_back(duplicateString(child(port_path, "name"), port.name));
      }
    }
    if (port.container_port == 0) {
      errors.push_back(required(child(port_path, "containerPort"), ""));
    } else {
      for (std::string& message : isValidPortNum(port.container_port)) {
        errors.push_back(invalidInteger(child(port_path, "containerPort"), port.container_port,
                                        std::move(message)));
      }
    }
    // An empty protocol is defaulted to TCP before validation.
    if (!port.protocol.empty() && !parseProtocol(port.protocol)) {
      // sets.List order: sorted.
      errors.push_back(
          notSupportedString(child(port_path, "protocol"), port.protocol, {"SCTP", "TCP", "UDP"}));
    }
  }
}

void validateContainers(const std::vector<Container>& containers, std::string_view path,
                        FieldErrors& errors) {
  for (size_t i = 0; i < containers.size(); ++i) {
    validateContainerPorts(containers[i].ports, child(index(path, i), "ports"), errors);
  }
}

}  // namespace

std::string FieldError::body() const {
  std::string out(typeText(type));
  const bool shows_value =
      type != Type::kRequired && type != Type::kForbidden && type != Type::kTooLong;
  if (shows_value && !bad_value.empty()) {
    out += ": " + bad_value;
  }
  if (!detail.empty()) {
    out += ": " + detail;
  }
  return out;
}

std::string FieldError::toString() const { return field + ": " + body(); }

FieldErrors validateNetworkPolicy(const NetworkPolicy& policy) {
  FieldErrors errors;
  validateObjectMeta(policy.metadata, policy.metadata.labels, Scope::kNamespaced,
                     NameRule::kDns1123Subdomain, errors);
  append(errors, validateLabelSelector(policy.spec.pod_selector, "spec.podSelector"));
  validateRules(policy.spec.ingress, "ingress", "from", errors);
  validateRules(policy.spec.egress, "egress", "to", errors);
  validatePolicyTypes(policy.spec.policy_types, errors);
  return withoutRepeats(std::move(errors));
}

FieldErrors validateNamespace(const Namespace& ns) {
  // SetDefaults_Namespace runs before validation and sets the
  // kubernetes.io/metadata.name label to the name, whatever the user wrote; a
  // name too long for a label value is therefore reported twice. With only a
  // generateName the label is added after validation, by Canonicalize.
  Labels labels = ns.metadata.labels;
  if (!ns.metadata.name.empty()) {
    labels.insert_or_assign(std::string(kNamespaceNameLabel), ns.metadata.name);
  }
  FieldErrors errors;
  validateObjectMeta(ns.metadata, labels, Scope::kCluster, NameRule::kDns1123Label, errors);
  return withoutRepeats(std::move(errors));
}

FieldErrors validatePod(const Pod& pod) {
  FieldErrors errors;
  validateObjectMeta(pod.metadata, pod.metadata.labels, Scope::kNamespaced,
                     NameRule::kDns1123Subdomain, errors);
  validateContainers(pod.containers, "spec.containers", errors);
  validateContainers(pod.init_containers, "spec.initContainers", errors);
  return withoutRepeats(std::move(errors));
}

FieldErrors validateLabelSelector(const LabelSelector& selector, std::string_view field) {
  FieldErrors errors = validateLabels(selector.match_labels, child(field, "matchLabels"));
  for (size_t i = 0; i < selector.match_expressions.size(); ++i) {
    const LabelSelectorRequirement& requirement = selector.match_expressions[i];
    const std::string path = index(child(field, "matchExpressions"), i);
    if (requirement.op == "In" || requirement.op == "NotIn") {
      if (requirement.values.empty()) {
        errors.push_back(required(child(path, "values"),
                                  "must be specified when `operator` is 'In' or 'NotIn'"));
      }
    } else if (requirement.op == "Exists" || requirement.op == "DoesNotExist") {
      if (!requirement.values.empty()) {
        errors.push_back(forbidden(child(path, "values"),
                                   "may not be specified when `operator` is 'Exists' or "
                                   "'DoesNotExist'"));
      }
    } else {
      errors.push_back(
          invalidString(child(path, "operator"), requirement.op, "not a valid selector operator"));
    }
    for (std::string& message : isQualifiedName(requirement.key)) {
      errors.push_back(invalidString(child(path, "key"), requirement.key, std::move(message)));
    }
    // A CREATE never allows invalid values (AllowInvalidLabelValueInSelector
    // only ratchets updates of objects that already had them).
    for (size_t j = 0; j < requirement.values.size(); ++j) {
      for (std::string& message : isValidLabelValue(requirement.values[j])) {
        errors.push_back(invalidString(index(child(path, "values"), j), requirement.values[j],
                                       std::move(message)));
      }
    }
  }
  return errors;
}

FieldErrors validateLabels(const Labels& labels, std::string_view field) {
  // Go ranges over the map in random order; key order is as good and stable.
  FieldErrors errors;
  const std::string path(field);
  for (const auto& [key, value] : labels) {
    for (std::string& message : isQualifiedName(key)) {
      errors.push_back(invalidString(path, key, std::move(message)));
    }
    for (std::string& message : isValidLabelValue(value)) {
      errors.push_back(invalidString(path, value, std::move(message)));
    }
  }
  return errors;
}

std::vector<std::string> isQualifiedName(std::string_view value) {
  // api/validate/content IsLabelKey.
  std::vector<std::string> errors;
  const size_t slashes = static_cast<size_t>(std::ranges::count(value, '/'));
  std::string_view name = value;
  if (slashes > 1) {
    errors.push_back("a valid label key " +
                     regexError(kLabelKeyErrMsg, kLabelKeyFmt, {"MyName", "my.name", "123-abc"}) +
                     " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')");
    return errors;
  }
  if (slashes == 1) {
    const size_t slash = value.find('/');
    const std::string_view prefix = value.substr(0, slash);
    name = value.substr(slash + 1);
    if (prefix.empty()) {
      errors.push_back("prefix part must be non-empty");
    } else {
      for (std::string& message : dns1123SubdomainErrors(prefix, maxLenBytes)) {
        errors.push_back("prefix part " + message);
      }
    }
  }
  if (name.empty()) {
    errors.push_back("name part must be non-empty");
  } else if (name.size() > kLabelKeyNameMaxLength) {
    errors.push_back("name part " + maxLenBytes(kLabelKeyNameMaxLength));
  }
  if (!matchesLabelKeyName(name)) {
    errors.push_back("name part " +
                     regexError(kLabelKeyErrMsg, kLabelKeyFmt, {"MyName", "my.name", "123-abc"}));
  }
  return errors;
}

std::vector<std::string> isValidLabelValue(std::string_view value) {
  // api/validate/content IsLabelValue.
  std::vector<std::string> errors;
  if (value.size() > kLabelValueMaxLength) {
    errors.push_back(maxLenBytes(kLabelValueMaxLength));
  }
  if (!value.empty() && !matchesLabelKeyName(value)) {
    errors.push_back(
        regexError(kLabelValueErrMsg, kLabelValueFmt, {"MyValue", "my_value", "12345"}));
  }
  return errors;
}

std::vector<std::string> isDns1123Label(std::string_view value) {
  std::vector<std::string> errors;
  if (value.size() > kDns1123LabelMaxLength) {
    errors.push_back(maxLenCharacters(kDns1123LabelMaxLength));
  }
  if (!matchesDns1123Label(value)) {
    // A valid subdomain that is not a valid label can only be one with dots:
    // the length was reported above.
    if (matchesDns1123Subdomain(value)) {
      errors.push_back("must not contain dots");
    } else {
      errors.push_back(regexError(kDns1123LabelErrMsg, kDns1123LabelFmt, {"my-name", "123-abc"}));
    }
  }
  return errors;
}

std::vector<std::string> isDns1123Subdomain(std::string_view value) {
  return dns1123SubdomainErrors(value, maxLenCharacters);
}

std::vector<std::string> isValidPortName(std::string_view value) {
  std::vector<std::string> errors;
  if (value.size() > kPortNameMaxLength) {
    errors.push_back(maxLenCharacters(kPortNameMaxLength));
  }
  if (value.empty() ||
      !std::ranges::all_of(value, [](char c) { return isLowerAlnum(c) || c == '-'; })) {
    errors.push_back("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
  }
  if (std::ranges::none_of(value, isLower)) {
    errors.push_back("must contain at least one letter (a-z)");
  }
  if (value.find("--") != std::string_view::npos) {
    errors.push_back("must not contain consecutive hyphens");
  }
  if (!value.empty() && (value.front() == '-' || value.back() == '-')) {
    errors.push_back("must not begin or end with a hyphen");
  }
  return errors;
}

std::vector<std::string> isValidPortNum(int64_t port) {
  if (port >= 1 && port <= 65535) {
    return {};
  }
  return {"must be between 1 and 65535, inclusive"};
}

}  // namespace palisade::policy
