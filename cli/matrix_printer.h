#pragma once

// How a reachability matrix is printed, by `palisadectl matrix` (the oracle's
// verdicts) and `palisadectl lab` (what real packets did) alike, so that the
// two outputs can be compared line for line.

#include <iosfwd>
#include <string_view>
#include <vector>

#include "policy/matrix.h"
#include "policy/objects.h"
#include "policy/oracle.h"

namespace palisade::cli {

// The cluster's pods in their order, which is the matrices' order.
std::vector<policy::PodRef> podRefs(const policy::ClusterState& state);

// {"results": [{"from", "to", "protocol", "port", "allowed"}, ...]} on one
// line, keys in that order, entries in the order given.
void printMatrixJson(const std::vector<policy::MatrixEntry>& entries, std::ostream& out);

// One grid per protocol and port: rows are sources, columns destinations,
// both numbered as `pods`; then a count of allowed and denied flows. `entries`
// must be ordered as policy::reachabilityMatrix orders them. `color` adds ANSI
// colours to the marks.
void printMatrixTable(const std::vector<policy::PodRef>& pods,
                      const std::vector<policy::MatrixEntry>& entries, bool color,
                      std::ostream& out);

}  // namespace palisade::cli
