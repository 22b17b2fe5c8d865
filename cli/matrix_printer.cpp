#include "cli/matrix_printer.h"

#include <algorithm>
#include <ostream>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace palisade::cli {
namespace {

constexpr std::string_view kAllowedMark = "✓";
// A quiet mark for denied flows lets the allowed ones stand out: in a zero-trust
// cluster they are the few that matter.
constexpr std::string_view kDeniedMark = "·";
constexpr std::string_view kGreen = "\x1b[32m";
constexpr std::string_view kGrey = "\x1b[90m";
constexpr std::string_view kReset = "\x1b[0m";

}  // namespace

std::vector<policy::PodRef> podRefs(const policy::ClusterState& state) {
  std::vector<policy::PodRef> pods;
  pods.reserve(state.pods.size());
  for (const policy::Pod& pod : state.pods) {
    pods.push_back(policy::PodRef{pod.metadata.namespace_name, pod.metadata.name});
  }
  return pods;
}

void printMatrixJson(const std::vector<policy::MatrixEntry>& entries, std::ostream& out) {
  // ordered_json keeps the keys in the documented order, which is easier on
  // the eye than the alphabetical one.
  nlohmann::ordered_json results = nlohmann::ordered_json::array();
  for (const policy::MatrixEntry& entry : entries) {
    results.push_back({{"from", policy::toString(entry.from)},
                       {"to", policy::toString(entry.to)},
                       {"protocol", policy::toString(entry.protocol)},
                       {"port", entry.port},
                       {"allowed", entry.allowed}});
  }
  out << nlohmann::ordered_json{{"results", std::move(results)}}.dump() << "\n";
}

// One grid per protocol and port. Pod names are too long for column headers,
// so columns are numbered and the numbered row labels double as the legend.
void printMatrixTable(const std::vector<policy::PodRef>& pods,
                      const std::vector<policy::MatrixEntry>& entries, bool color,
                      std::ostream& out) {
  const size_t n = pods.size();
  if (n == 0) {
    out << "no pods in the manifests: nothing to show\n";
    return;
  }
  const size_t number_width = std::to_string(n).size();
  size_t name_width = 0;
  for (const policy::PodRef& pod : pods) {
    name_width = std::max(name_width, policy::toString(pod).size());
  }
  auto mark = [&](bool allowed) {
    const std::string_view symbol = allowed ? kAllowedMark : kDeniedMark;
    // The marks are one column wide but three bytes long: pad by hand.
    std::string cell(number_width, ' ');
    cell.replace(number_width - 1, 1, symbol);
    if (!color) {
      return cell;
    }
    return fmt::format("{}{}{}", allowed ? kGreen : kGrey, cell, kReset);
  };

  out << fmt::format("rows: source pod, columns: destination pod (numbered as the rows); "
                     "{} allowed, {} denied\n",
                     mark(true), mark(false));
  for (size_t grid = 0; grid * n * n < entries.size(); ++grid) {
    const policy::MatrixEntry& first = entries[grid * n * n];
    const std::string title =
        fmt::format("{}/{}", policy::toString(first.protocol), first.port);
    std::string header = fmt::format("\n{:<{}}", title, number_width + 2 + name_width + 1);
    for (size_t column = 1; column <= n; ++column) {
      header += fmt::format(" {:>{}}", column, number_width);
    }
    out << header << "\n";
    size_t allowed = 0;
    for (size_t row = 0; row < n; ++row) {
      std::string line =
          fmt::format("{:>{}}  {:<{}} ", row + 1, number_width, policy::toString(pods[row]),
                      name_width);
      for (size_t column = 0; column < n; ++column) {
        const bool is_allowed = entries[grid * n * n + row * n + column].allowed;
        allowed += is_allowed ? 1 : 0;
        line += " " + mark(is_allowed);
      }
      out << line << "\n";
    }
    out << fmt::format("{}: {} allowed, {} denied\n", title, allowed, n * n - allowed);
  }
}

}  // namespace palisade::cli
