// palisadectl: flag parsing and wiring only; the commands live in
// palisade_cli (cli/commands.h).

#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <iostream>

#include <CLI/CLI.hpp>

#include "cli/commands.h"

namespace {

using palisade::cli::kExitUsage;

void addManifestPaths(CLI::App& command, std::vector<std::string>& paths) {
  command
      .add_option("-f,--filename", paths,
                  "Manifest files or folders (read recursively), YAML or JSON; - for stdin")
      ->required()
      ->type_name("PATH");
}

void addOnboard(CLI::App& command, bool& onboard) {
  command.add_flag("--onboard", onboard,
                   "Add Palisade's onboarding policies first: default-deny and DNS egress in "
                   "every namespace but kube-system, kube-public, kube-node-lease and "
                   "palisade-system");
}

bool colorWanted() {
  // https://no-color.org: a set NO_COLOR turns colour off.
  return isatty(STDOUT_FILENO) == 1 && std::getenv("NO_COLOR") == nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"palisadectl: check Kubernetes NetworkPolicies and the reachability they give",
               "palisadectl"};
  app.set_version_flag("--version", PALISADE_VERSION);
  app.require_subcommand(1);
  std::function<int()> run;

  palisade::cli::ValidateOptions validate;
  CLI::App* validate_command = app.add_subcommand(
      "validate",
      "Validate Namespaces, Pods and NetworkPolicies as the kube-apiserver would, and lint the "
      "policies. Exit code: 0 all valid, 1 errors (or warnings with --strict), 2 usage errors");
  addManifestPaths(*validate_command, validate.paths);
  validate_command->add_flag("--strict", validate.strict, "Fail on lint warnings too");
  validate_command->callback([&] {
    run = [&] { return palisade::cli::runValidate(validate, std::cout, std::cerr); };
  });

  palisade::cli::MatrixOptions matrix;
  CLI::App* matrix_command = app.add_subcommand(
      "matrix",
      "Print whether each pod may open a connection to each pod, for each protocol and port. "
      "Exit code: 0 printed, 1 invalid manifests, 2 usage errors");
  addManifestPaths(*matrix_command, matrix.paths);
  matrix_command->add_option("--ports", matrix.ports, "Destination ports, comma-separated")
      ->type_name("PORT,...")
      ->capture_default_str();
  matrix_command
      ->add_option("--protocols", matrix.protocols, "Protocols, comma-separated: TCP, UDP, SCTP")
      ->type_name("PROTOCOL,...")
      ->capture_default_str();
  matrix_command->add_option("-o,--output", matrix.output, "Output format: table or json")
      ->type_name("FORMAT")
      ->capture_default_str();
  addOnboard(*matrix_command, matrix.onboard);
  matrix_command->callback([&] {
    matrix.color = colorWanted();
    run = [&] { return palisade::cli::runMatrix(matrix, std::cout, std::cerr); };
  });

  palisade::cli::ExplainOptions explain;
  CLI::App* explain_command = app.add_subcommand(
      "explain",
      "Explain whether one flow is allowed: which policies isolate each end and which rules "
      "allow it. Exit code: 0 allowed, 1 denied, 2 errors (bad flags, unknown pod, invalid "
      "manifests)");
  addManifestPaths(*explain_command, explain.paths);
  explain_command->add_option("--from", explain.from, "Source: NAMESPACE/POD or an IP address")
      ->required()
      ->type_name("ENDPOINT");
  explain_command
      ->add_option("--to", explain.to, "Destination: NAMESPACE/POD or an IP address")
      ->required()
      ->type_name("ENDPOINT");
  explain_command
      ->add_option("--port", explain.port, "Destination port and protocol, e.g. 80/TCP, 53/UDP")
      ->required()
      ->type_name("PORT[/PROTOCOL]");
  addOnboard(*explain_command, explain.onboard);
  explain_command->callback([&] {
    run = [&] { return palisade::cli::runExplain(explain, std::cout, std::cerr); };
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    // Help and --version exit 0; every other parse error is a usage error,
    // whatever code CLI11 would pick for it.
    const int code = app.exit(error);
    return code == 0 ? 0 : kExitUsage;
  }
  return run();
}
