#pragma once

// The palisadectl commands. Each takes its options, writes its report to `out`
// and its diagnostics to `err`, and returns the process exit code, so that the
// tests run a command exactly as the binary does, without a process.
// cli/main.cpp only parses flags into these structs.

#include <iosfwd>
#include <string>
#include <vector>

#include "certs/certificate_files.h"

namespace palisade::cli {

// Exit codes shared by every command.
inline constexpr int kExitOk = 0;
// validate: an object is invalid (or, with --strict, has a lint warning).
// matrix, lab: the manifests could not all be read or are invalid.
// lab --check: the measured matrix differs from the oracle's.
// explain: the flow is denied.
// certs: the CA in --out cannot be used, or the files cannot be written.
inline constexpr int kExitFindings = 1;
// Bad flags, unreadable paths, unknown pods; for explain also unusable manifests;
// for lab also not being root, or no enforcer to run.
inline constexpr int kExitUsage = 2;
// lab: the lab could not be built or measured, or did not end cleanly (an
// enforcer that died or would not stop). An interrupted lab exits with 128 + the
// signal's number, as shells report it, after tearing down.
inline constexpr int kExitLabFailed = 3;

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

struct LabOptions {
  std::vector<std::string> paths;
  std::vector<std::string> ports = {"80"};       // as for matrix
  std::vector<std::string> protocols = {"TCP"};  // TCP, UDP; SCTP where the kernel has it
  std::string output = "table";                  // "table" or "json", as for matrix
  bool onboard = false;
  // Probe each pod's Service ClusterIP (kube-proxy-style DNAT on the node).
  bool via_services = false;
  // The enforcer to run on the node; empty: palisade-enforcer from
  // `program_dir`. Exclusive with no_enforcer.
  std::string enforcer;
  bool no_enforcer = false;
  // The enforcer's arguments, with the lab's placeholders (lab/enforcer.h);
  // empty: palisade-enforcer's (lab::kDefaultEnforcerArgs).
  std::vector<std::string> enforcer_args;
  // Where the enforcer's output is appended; empty: it is removed with the lab.
  std::string enforcer_log;
  // Compare the measured matrix with the oracle's for the same cluster and fail
  // on a difference, listing each.
  bool check = false;
  bool color = false;
  // Where to look for palisade-enforcer; empty: the folder of the running program.
  std::string program_dir;
};

// Builds the cluster of the manifests as network namespaces (root only), runs
// the enforcer on its node, probes every ordered pair of pods with real packets
// and prints the measured matrix exactly as runMatrix prints the oracle's. What
// the lab is made of and how long it took go to `err`. Everything is torn down
// before it returns, also when SIGINT, SIGTERM or SIGHUP arrive meanwhile (a
// second signal ends the process at once).
int runLab(const LabOptions& options, std::ostream& out, std::ostream& err);

struct CertsOptions {
  std::string service;         // the webhook's Service
  std::string namespace_name;  // the Service's namespace
  std::string out;             // the folder of the files, made if missing
  std::string cluster_domain = "cluster.local";
  std::string secret_name;  // empty: "<service>-tls"
  int days = certs::kDefaultServingDays;
  int webhooks = 1;       // per webhook configuration, for webhook-patch.yaml
  bool renew_ca = false;  // a new CA even when `out` holds one
};

// Makes a CA (or keeps the one `out` holds) and a new serving certificate for
// the Service's DNS names, and writes them with a Secret manifest, the
// caBundle and a patch for the webhook configurations
// (certs::writeCertificateFiles). A summary and the caBundle go to `out`.
int runCerts(const CertsOptions& options, std::ostream& out, std::ostream& err);

}  // namespace palisade::cli
