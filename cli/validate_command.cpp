#include <algorithm>
#include <ostream>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include "cli/cluster_input.h"
#include "cli/commands.h"
#include "files/manifest_files.h"
#include "policy/lint.h"

namespace palisade::cli {
namespace {

constexpr std::string_view kCommand = "palisadectl validate";

// A line of the report, kept with its document so that the report reads in
// file order whether a line comes from decoding, validation or lint.
struct ReportLine {
  const policy::DocumentRef* document;
  std::string text;
};

std::string plural(size_t count, std::string_view noun) {
  return fmt::format("{} {}{}", count, noun, count == 1 ? "" : "s");
}

}  // namespace

int runValidate(const ValidateOptions& options, std::ostream& out, std::ostream& err) {
  if (options.paths.empty()) {
    err << kCommand << ": no manifests given (-f PATH)\n";
    return kExitUsage;
  }
  policy::Result<policy::Manifest> manifest = files::readManifestPaths(toPaths(options.paths));
  if (!manifest) {
    err << kCommand << ": " << manifest.error().message << "\n";
    return kExitUsage;
  }

  std::vector<ReportLine> lines;
  size_t errors = 0;
  size_t warnings = 0;
  size_t checked = 0;
  size_t unchecked = 0;
  for (const policy::ManifestError& error : manifest->errors) {
    lines.push_back({&error.document, policy::toString(error)});
    ++errors;
  }
  // Lint asks whether selectors match anything, so it needs the whole cluster
  // the manifests describe, not one file at a time.
  const policy::ClusterState cluster = policy::clusterStateOf(*manifest);
  for (const policy::ManifestObject& object : manifest->objects) {
    std::optional<policy::FieldErrors> field_errors = validateObject(object);
    if (!field_errors) {
      ++unchecked;
      continue;
    }
    ++checked;
    for (const policy::FieldError& error : *field_errors) {
      lines.push_back({&object.document, formatFieldError(object, error)});
      ++errors;
    }
    const auto* network_policy = std::get_if<policy::NetworkPolicy>(&object.object);
    // An invalid policy never reaches a cluster: advice about it would only
    // bury the errors that matter.
    if (network_policy == nullptr || !field_errors->empty()) {
      continue;
    }
    for (const policy::LintFinding& finding : policy::lintNetworkPolicy(*network_policy, cluster)) {
      lines.push_back({&object.document,
                       policy::toString(object.document) + ": " +
                           policy::objectName(object.kind, object.metadata()) +
                           ": warning: " + finding.toString()});
      ++warnings;
    }
  }

  std::ranges::stable_sort(lines, [](const ReportLine& a, const ReportLine& b) {
    return std::tie(a.document->source, a.document->index) <
           std::tie(b.document->source, b.document->index);
  });
  for (const ReportLine& line : lines) {
    out << line.text << "\n";
  }
  out.flush();

  std::string summary = fmt::format("{}: {}: {}, {}", kCommand, plural(checked, "object"),
                                    plural(errors, "error"), plural(warnings, "warning"));
  if (unchecked > 0) {
    summary += fmt::format("; {} of other kinds not checked", plural(unchecked, "object"));
  }
  err << summary << "\n";

  if (errors > 0 || (options.strict && warnings > 0)) {
    return kExitFindings;
  }
  return kExitOk;
}

}  // namespace palisade::cli
