#include <ostream>
#include <string>
#include <vector>

#include "cli/cluster_input.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/matrix_printer.h"
#include "policy/matrix.h"

namespace palisade::cli {
namespace {

constexpr std::string_view kCommand = "palisadectl matrix";

}  // namespace

int runMatrix(const MatrixOptions& options, std::ostream& out, std::ostream& err) {
  policy::Result<policy::MatrixQuery> query =
      parseMatrixFlags(options.output, options.ports, options.protocols);
  if (!query) {
    err << kCommand << ": " << query.error().message << "\n";
    return kExitUsage;
  }
  std::expected<policy::ClusterState, int> state =
      loadCluster(options.paths, options.onboard, kCommand, kExitFindings, err);
  if (!state) {
    return state.error();
  }

  const policy::ReachabilityOracle oracle(std::move(*state));
  const std::vector<policy::MatrixEntry> entries = policy::reachabilityMatrix(
      oracle, *query);
  if (options.output == "json") {
    printMatrixJson(entries, out);
  } else {
    printMatrixTable(podRefs(oracle.state()), entries, options.color, out);
  }
  return kExitOk;
}

}  // namespace palisade::cli
