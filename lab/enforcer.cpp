#include "lab/enforcer.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

namespace palisade::lab {
namespace {

bool isNameChar(char c) {
  return std::islower(static_cast<unsigned char>(c)) != 0 || c == '_';
}

}  // namespace

policy::Result<std::vector<std::string>> expandPlaceholders(const std::vector<std::string>& argv,
                                                            const PlaceholderValues& values) {
  std::vector<std::string> expanded;
  expanded.reserve(argv.size());
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    std::string out;
    size_t position = 0;
    while (position < arg.size()) {
      const size_t open = arg.find('{', position);
      if (open == std::string::npos) {
        out.append(arg, position);
        break;
      }
      const size_t close = arg.find('}', open + 1);
      const bool placeholder =
          close != std::string::npos && close > open + 1 &&
          std::all_of(arg.begin() + static_cast<std::ptrdiff_t>(open) + 1,
                      arg.begin() + static_cast<std::ptrdiff_t>(close), isNameChar);
      if (!placeholder) {
        // Not of the {name} shape (JSON, a shell brace): kept as written.
        out.append(arg, position, open + 1 - position);
        position = open + 1;
        continue;
      }
      const std::string_view name(arg.data() + open + 1, close - open - 1);
      const auto value = values.find(name);
      if (value == values.end()) {
        std::string known;
        for (const auto& [key, unused] : values) {
          known += (known.empty() ? "{" : ", {") + key + "}";
        }
        return policy::fail(fmt::format("argument {} (\"{}\"): unknown placeholder {{{}}}; "
                                        "the lab fills in {}",
                                        i, arg, name, known));
      }
      out.append(arg, position, open - position);
      out += value->second;
      position = close + 1;
    }
    expanded.push_back(std::move(out));
  }
  return expanded;
}

bool mentionsPlaceholder(const std::vector<std::string>& argv, std::string_view name) {
  const std::string needle = fmt::format("{{{}}}", name);
  return std::ranges::any_of(
      argv, [&](const std::string& arg) { return arg.find(needle) != std::string::npos; });
}

}  // namespace palisade::lab
