#include "cli/matrix_printer.h"

#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace palisade::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

const policy::PodRef kWeb{"team-a", "web"};
const policy::PodRef kDns{"kube-system", "coredns"};

// TCP/80 then UDP/53 between web and coredns, as reachabilityMatrix orders them.
std::vector<policy::MatrixEntry> twoGrids() {
  using policy::Protocol;
  return {{kWeb, kWeb, Protocol::kTCP, 80, true},  {kWeb, kDns, Protocol::kTCP, 80, false},
          {kDns, kWeb, Protocol::kTCP, 80, true},  {kDns, kDns, Protocol::kTCP, 80, true},
          {kWeb, kWeb, Protocol::kUDP, 53, true},  {kWeb, kDns, Protocol::kUDP, 53, true},
          {kDns, kWeb, Protocol::kUDP, 53, false}, {kDns, kDns, Protocol::kUDP, 53, true}};
}

TEST(MatrixPrinter, JsonIsOneLineWithTheEntriesInTheirOrderAndTheKeysInADocumentedOrder) {
  std::ostringstream out;

  printMatrixJson({twoGrids()[1], twoGrids()[4]}, out);

  EXPECT_EQ(out.str(),
            R"({"results":[{"from":"team-a/web","to":"kube-system/coredns","protocol":"TCP",)"
            R"("port":80,"allowed":false},{"from":"team-a/web","to":"team-a/web",)"
            R"("protocol":"UDP","port":53,"allowed":true}]})"
            "\n");
}

TEST(MatrixPrinter, JsonOfNoEntriesIsAnEmptyList) {
  std::ostringstream out;

  printMatrixJson({}, out);

  EXPECT_EQ(out.str(), "{\"results\":[]}\n");
}

TEST(MatrixPrinter, TableHasAGridPerProtocolAndPortWithCounts) {
  std::ostringstream out;

  printMatrixTable({kWeb, kDns}, twoGrids(), /*color=*/false, out);

  EXPECT_EQ(out.str(),
            "rows: source pod, columns: destination pod (numbered as the rows); "
            "✓ allowed, · denied\n"
            "\n"
            "TCP/80                  1 2\n"
            "1  team-a/web           ✓ ·\n"
            "2  kube-system/coredns  ✓ ✓\n"
            "TCP/80: 3 allowed, 1 denied\n"
            "\n"
            "UDP/53                  1 2\n"
            "1  team-a/web           ✓ ✓\n"
            "2  kube-system/coredns  · ✓\n"
            "UDP/53: 3 allowed, 1 denied\n");
}

TEST(MatrixPrinter, TableColoursTheMarksOnlyWhenAsked) {
  std::ostringstream plain;
  std::ostringstream coloured;

  printMatrixTable({kWeb, kDns}, twoGrids(), false, plain);
  printMatrixTable({kWeb, kDns}, twoGrids(), true, coloured);

  EXPECT_THAT(plain.str(), Not(HasSubstr("\x1b[")));
  EXPECT_THAT(coloured.str(), HasSubstr("\x1b[32m✓\x1b[0m"));
  EXPECT_THAT(coloured.str(), HasSubstr("\x1b[90m·\x1b[0m"));
}

TEST(MatrixPrinter, TableOfNoPodsSaysThereIsNothingToShow) {
  std::ostringstream out;

  printMatrixTable({}, {}, false, out);

  EXPECT_EQ(out.str(), "no pods in the manifests: nothing to show\n");
}

TEST(MatrixPrinter, PodRefsFollowTheClusterOrder) {
  policy::ClusterState state;
  state.pods.resize(2);
  state.pods[0].metadata.name = "web";
  state.pods[0].metadata.namespace_name = "team-a";
  state.pods[1].metadata.name = "coredns";
  state.pods[1].metadata.namespace_name = "kube-system";

  EXPECT_THAT(podRefs(state), ElementsAre(kWeb, kDns));
}

}  // namespace
}  // namespace palisade::cli
