#pragma once

// The palisadectl commands. Each takes its options, writes its report to `out`
// and its diagnostics to `err`, and returns the process exit code, so that the
// tests run a command exactly as the binary does, without a process.
// cli/main.cpp only parses flags into these structs.

#include <iosfwd>
#include <string>
#include <vector>

namespace palisade::cli {

// Exit codes shared by every command.
inline constexpr int kExitOk = 0;
// validate: an object is invalid (or, with --strict, has a lint warning).
// matrix: the manifests could not all be read or are invalid.
// explain: the flow is denied.
inline constexpr int kExitFindings = 1;
// Bad flags, unreadable paths, unknown pods; for explain also unusable manifests.
inline constexpr int kExitUsage = 2;

struct ValidateOptions {
  std::vector<std::string> paths;  // files, folders (recursively) or "-" for stdin
  bool strict = false;             // lint warnings fail too
};

// Checks every Namespace, Pod and NetworkPolicy as the kube-apiserver would and
// lints the policies against the cluster the manifests describe. Errors and
// warnings go to `out`, one per line; a summary line goes to `err`.
int runValidate(const ValidateOptions& options, std::ostream& out, std::ostream& err);

struct MatrixOptions {
  std::vector<std::string> paths;
  // Each element may itself be a comma-separated list: {"80,81", "443"}.
  std::vector<std::string> ports = {"80"};
  std::vector<std::string> protocols = {"TCP"};  // TCP, UDP, SCTP, in any case
  std::string output = "table";                  // "table" or "json"
  bool onboard = false;  // add Palisade's default-deny and DNS policies first
  bool color = false;    // ANSI colours in the table; the binary sets it for terminals
};

// The reachability matrix between every ordered pair of pods.
int runMatrix(const MatrixOptions& options, std::ostream& out, std::ostream& err);

struct ExplainOptions {
  std::vector<std::string> paths;
  std::string from;  // "namespace/pod" or an IP address
  std::string to;
  std::string port;  // "80/TCP", "53/udp"; "80" alone means TCP
  bool onboard = false;
};

// The oracle's verdict on one flow and the policies and rules behind it.
// Exit code 0 when the flow is allowed, 1 when it is denied.
int runExplain(const ExplainOptions& options, std::ostream& out, std::ostream& err);

}  // namespace palisade::cli
