#include "policy/taxonomy.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <regex>
#include <utility>

#include "policy/validation.h"

// Violation messages become admission warnings and denial messages, which the
// kube-apiserver asks to keep within 120 characters. A mutating webhook sees
// labels before the apiserver has validated them, so a value may be a
// megabyte of arbitrary bytes: every user-supplied string is escaped and cut
// to a fixed budget, and configuration-supplied text (the pattern, the list of
// allowed values) takes what room is left. Sizes are counted in bytes, which
// bounds the number of characters too.

namespace palisade::policy {
namespace {

constexpr size_t kMaxMessageBytes = 120;
constexpr size_t kKeyBudget = 40;
constexpr size_t kValueBudget = 32;
constexpr std::string_view kEllipsis = "…";
// A valid label value is at most 63 bytes (IsLabelValue). Longer values can
// never be admitted, and libstdc++'s regex executor recurses per input
// character, so such values are not handed to the regex at all.
constexpr size_t kMaxLabelValueBytes = 63;

// The text a byte is rendered as inside a quoted string: printable ASCII as
// is (quote and backslash escaped), anything else as \xNN, so that control
// characters and broken UTF-8 cannot reach a log line or an HTTP header.
std::string_view escapeByte(char c, std::array<char, 4>& buffer) {
  const auto byte = static_cast<unsigned char>(c);
  if (c == '"' || c == '\\') {
    buffer = {'\\', c, 0, 0};
    return {buffer.data(), 2};
  }
  if (byte >= 0x20 && byte < 0x7f) {
    buffer[0] = c;
    return {buffer.data(), 1};
  }
  constexpr std::string_view kHex = "0123456789abcdef";
  buffer = {'\\', 'x', kHex[byte >> 4], kHex[byte & 0xf]};
  return {buffer.data(), 4};
}

size_t escapedSize(std::string_view text) {
  std::array<char, 4> buffer{};
  size_t size = 0;
  for (char c : text) {
    size += escapeByte(c, buffer).size();
  }
  return size;
}

// `text` escaped and in double quotes, its content cut to `budget` bytes
// with an ellipsis when it does not fit.
void appendQuoted(std::string& out, std::string_view text, size_t budget) {
  out += '"';
  std::array<char, 4> buffer{};
  // Every byte escapes to at least one byte, so a longer text cannot fit.
  const bool fits = text.size() <= budget && escapedSize(text) <= budget;
  const size_t limit = fits ? budget : budget - kEllipsis.size();
  size_t used = 0;
  for (char c : text) {
    const std::string_view piece = escapeByte(c, buffer);
    if (used + piece.size() > limit) {
      break;
    }
    out += piece;
    used += piece.size();
  }
  if (!fits) {
    out += kEllipsis;
  }
  out += '"';
}

std::string quoted(std::string_view text, size_t budget) {
  std::string out;
  appendQuoted(out, text, budget);
  return out;
}

// The longest prefix of `text` of at most `budget` bytes that does not split
// a UTF-8 sequence.
std::string_view utf8Prefix(std::string_view text, size_t budget) {
  if (text.size() <= budget) {
    return text;
  }
  size_t end = budget;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xc0) == 0x80) {
    --end;
  }
  return text.substr(0, end);
}

// Configuration text at the end of a message: as much as the message has
// room for, with an ellipsis when cut.
void appendTail(std::string& out, std::string_view text) {
  const size_t room = kMaxMessageBytes > out.size() ? kMaxMessageBytes - out.size() : 0;
  if (text.size() <= room) {
    out += text;
    return;
  }
  if (room < kEllipsis.size()) {
    return;
  }
  out += utf8Prefix(text, room - kEllipsis.size());
  out += kEllipsis;
}

// "prod, staging, dev", cut between values when the room runs out.
void appendValueList(std::string& out, const std::vector<std::string>& values) {
  const size_t room = kMaxMessageBytes > out.size() ? kMaxMessageBytes - out.size() : 0;
  std::string list;
  for (size_t i = 0; i < values.size(); ++i) {
    std::string item = values[i].empty() ? std::string("\"\"") : values[i];
    std::string next = i == 0 ? std::move(item) : ", " + item;
    const bool last = i + 1 == values.size();
    // Keep room for ", …" unless this value completes the list.
    const size_t reserve = last ? 0 : 2 + kEllipsis.size();
    if (list.size() + next.size() + reserve > room) {
      if (list.empty()) {
        // Part of one value says more than an ellipsis alone.
        appendTail(out, next + ", " + std::string(kEllipsis));
        return;
      }
      out += list;
      out += ", ";
      out += kEllipsis;
      return;
    }
    list += next;
  }
  out += list;
}

std::string joined(const std::vector<std::string>& messages) {
  std::string out;
  for (const std::string& message : messages) {
    if (!out.empty()) {
      out += "; ";
    }
    out += message;
  }
  return out;
}

std::string rulePath(std::string_view field, size_t index, std::string_view name) {
  return std::string(field) + "[" + std::to_string(index) + "]." + std::string(name);
}

}  // namespace

struct LabelPolicy::Compiled {
  struct Rule {
    std::optional<std::regex> pattern;
    // `label "key"`, quoted once so that check() only formats the value.
    std::string subject;
  };
  std::vector<LabelRule> rules;
  std::vector<Rule> compiled;
};

std::string_view toString(EnforcementMode mode) {
  switch (mode) {
    case EnforcementMode::kEnforce:
      return "enforce";
    case EnforcementMode::kWarn:
      return "warn";
    case EnforcementMode::kAudit:
      return "audit";
  }
  return "enforce";
}

std::optional<EnforcementMode> parseEnforcementMode(std::string_view text) {
  if (text == "enforce") {
    return EnforcementMode::kEnforce;
  }
  if (text == "warn") {
    return EnforcementMode::kWarn;
  }
  if (text == "audit") {
    return EnforcementMode::kAudit;
  }
  return std::nullopt;
}

LabelPolicy::LabelPolicy() : compiled_(std::make_shared<const Compiled>()) {}

Result<LabelPolicy> LabelPolicy::compile(std::vector<LabelRule> rules, std::string_view field) {
  auto compiled = std::make_shared<Compiled>();
  std::vector<std::string> errors;
  for (size_t i = 0; i < rules.size(); ++i) {
    const LabelRule& rule = rules[i];
    Compiled::Rule& out = compiled->compiled.emplace_back();
    out.subject = "label " + quoted(rule.key, kKeyBudget);

    const std::string key_path = rulePath(field, i, "key");
    if (rule.key.empty()) {
      errors.push_back(key_path + ": is required");
    } else if (std::vector<std::string> problems = isQualifiedName(rule.key); !problems.empty()) {
      errors.push_back(key_path + ": invalid label key " + quoted(rule.key, 80) + ": " +
                       joined(problems));
    }
    for (size_t j = 0; j < i; ++j) {
      if (!rule.key.empty() && rules[j].key == rule.key) {
        errors.push_back(key_path + ": duplicate key " + quoted(rule.key, 80) + ", also at " +
                         std::string(field) + "[" + std::to_string(j) + "]");
        break;
      }
    }

    if (!rule.pattern.empty()) {
      try {
        out.pattern.emplace(rule.pattern, std::regex::ECMAScript);
      } catch (const std::regex_error& e) {
        errors.push_back(rulePath(field, i, "pattern") + ": invalid regular expression " +
                         quoted(rule.pattern, 200) + ": " + e.what());
      }
    }

    // A value the rule itself would reject could never be admitted: it is a
    // mistake in the configuration, reported where it was written.
    const auto checkValue = [&](const std::string& value, const std::string& path) {
      if (std::vector<std::string> problems = isValidLabelValue(value); !problems.empty()) {
        errors.push_back(path + ": invalid label value " + quoted(value, 80) + ": " +
                         joined(problems));
      } else if (out.pattern && !std::regex_match(value, *out.pattern)) {
        errors.push_back(path + ": " + quoted(value, 80) + " does not match the rule's pattern " +
                         rule.pattern);
      }
    };
    const std::string values_path = rulePath(field, i, "values");
    for (size_t j = 0; j < rule.allowed_values.size(); ++j) {
      checkValue(rule.allowed_values[j], values_path + "[" + std::to_string(j) + "]");
    }
    if (rule.default_value) {
      const std::string default_path = rulePath(field, i, "default");
      checkValue(*rule.default_value, default_path);
      if (!rule.allowed_values.empty() &&
          std::ranges::find(rule.allowed_values, *rule.default_value) ==
              rule.allowed_values.end()) {
        errors.push_back(default_path + ": " + quoted(*rule.default_value, 80) +
                         " is not one of the allowed values");
      }
    }
  }
  if (!errors.empty()) {
    return fail(joined(errors));
  }
  compiled->rules = std::move(rules);
  LabelPolicy policy;
  policy.compiled_ = std::move(compiled);
  return policy;
}

const std::vector<LabelRule>& LabelPolicy::rules() const { return compiled_->rules; }

Labels LabelPolicy::defaultsFor(const Labels& labels) const {
  Labels defaults;
  for (const LabelRule& rule : compiled_->rules) {
    if (rule.default_value && !labels.contains(rule.key)) {
      defaults.emplace(rule.key, *rule.default_value);
    }
  }
  return defaults;
}

std::vector<LabelViolation> LabelPolicy::check(const Labels& labels) const {
  std::vector<LabelViolation> violations;
  for (size_t i = 0; i < compiled_->rules.size(); ++i) {
    const LabelRule& rule = compiled_->rules[i];
    const Compiled::Rule& compiled = compiled_->compiled[i];
    const auto found = labels.find(rule.key);
    if (found == labels.end()) {
      if (rule.required) {
        violations.push_back(LabelViolation{.kind = LabelViolation::Kind::kMissing,
                                            .key = rule.key,
                                            .value = "",
                                            .message = compiled.subject + " is required"});
      }
      continue;
    }
    const std::string& value = found->second;
    if (!rule.allowed_values.empty()) {
      // compile() made sure every allowed value matches the pattern too.
      if (std::ranges::find(rule.allowed_values, value) == rule.allowed_values.end()) {
        std::string message = compiled.subject + " has value ";
        appendQuoted(message, value, kValueBudget);
        message += "; allowed values: ";
        appendValueList(message, rule.allowed_values);
        violations.push_back(LabelViolation{.kind = LabelViolation::Kind::kValueNotAllowed,
                                            .key = rule.key,
                                            .value = value,
                                            .message = std::move(message)});
      }
      continue;
    }
    if (compiled.pattern) {
      const bool too_long = value.size() > kMaxLabelValueBytes;
      if (too_long || !std::regex_match(value, *compiled.pattern)) {
        std::string message = compiled.subject + " value ";
        appendQuoted(message, value, kValueBudget);
        if (too_long) {
          appendTail(message, " is longer than 63 characters");
        } else {
          message += " does not match ";
          appendTail(message, rule.pattern);
        }
        violations.push_back(LabelViolation{.kind = LabelViolation::Kind::kPatternMismatch,
                                            .key = rule.key,
                                            .value = value,
                                            .message = std::move(message)});
      }
    }
  }
  return violations;
}

std::vector<LabelViolation> LabelPolicy::removedRequired(const Labels& before,
                                                         const Labels& after) const {
  std::vector<LabelViolation> violations;
  for (size_t i = 0; i < compiled_->rules.size(); ++i) {
    const LabelRule& rule = compiled_->rules[i];
    if (!rule.required || after.contains(rule.key)) {
      continue;
    }
    const auto found = before.find(rule.key);
    if (found == before.end()) {
      continue;
    }
    violations.push_back(LabelViolation{
        .kind = LabelViolation::Kind::kRemoved,
        .key = rule.key,
        .value = found->second,
        .message = compiled_->compiled[i].subject + " is required and cannot be removed"});
  }
  return violations;
}

}  // namespace palisade::policy
