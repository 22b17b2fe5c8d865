// palisadectl: flag parsing and wiring only; the commands live in
// palisade_cli (cli/commands.h).

#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

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

// The query flags matrix and lab share: the same matrix, computed or measured.
void addQueryFlags(CLI::App& command, std::vector<std::string>& ports,
                   std::vector<std::string>& protocols, std::string& output) {
  command.add_option("--ports", ports, "Destination ports, comma-separated")
      ->type_name("PORT,...")
      ->capture_default_str();
  command.add_option("--protocols", protocols, "Protocols, comma-separated: TCP, UDP, SCTP")
      ->type_name("PROTOCOL,...")
      ->capture_default_str();
  command.add_option("-o,--output", output, "Output format: table or json")
      ->type_name("FORMAT")
      ->capture_default_str();
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
  addQueryFlags(*matrix_command, matrix.ports, matrix.protocols, matrix.output);
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

  palisade::cli::LabOptions lab;
  CLI::App* lab_command = app.add_subcommand(
      "lab",
      "Build the cluster of the manifests as network namespaces on one node (root only), run the "
      "enforcer on the node, and measure with real packets whether each pod can open a "
      "connection to each pod; prints the matrix as `matrix` does. Everything is torn down "
      "afterwards, also on SIGINT or SIGTERM. Exit code: 0 printed, 1 invalid manifests or (with "
      "--check) a difference from the oracle, 2 usage errors, 3 the lab failed, 128+N "
      "interrupted by signal N");
  addManifestPaths(*lab_command, lab.paths);
  addQueryFlags(*lab_command, lab.ports, lab.protocols, lab.output);
  addOnboard(*lab_command, lab.onboard);
  lab_command->add_flag("--via-services", lab.via_services,
                        "Give every pod a Service ClusterIP, translated by iptables DNAT on the "
                        "node as kube-proxy does, and probe the ClusterIPs");
  lab_command
      ->add_option("--enforcer", lab.enforcer,
                   "The enforcer to run on the node (default: palisade-enforcer beside "
                   "palisadectl)")
      ->type_name("PATH");
  lab_command->add_flag("--no-enforcer", lab.no_enforcer,
                        "Run no enforcer: measure what the bare network allows");
  lab_command
      ->add_option("--enforcer-log", lab.enforcer_log,
                   "Append the enforcer's output to this file (default: discarded with the lab)")
      ->type_name("FILE");
  lab_command->add_flag("--check", lab.check,
                        "Compare the measured matrix with the oracle's and exit 1 on a difference");
  lab_command->footer(
      "Arguments after -- are the enforcer's (default: palisade-enforcer's); in them "
      "{manifests}, {topology}, {ready_file}, {node_name}, {node_netns}, {node_ips}, "
      "{service_cidrs}, {pin_dir} and {run_dir} are filled in (lab/README.md)\n");
  lab_command->callback([&] {
    lab.color = colorWanted();
    run = [&] { return palisade::cli::runLab(lab, std::cout, std::cerr); };
  });

  palisade::cli::CertsOptions certs;
  CLI::App* certs_command = app.add_subcommand(
      "certs",
      "Make the certificates palisade-webhook serves with: a CA (kept when --out already holds "
      "one) and a new serving certificate for the webhook's Service, and write them with a "
      "kubernetes.io/tls Secret, the caBundle and a patch that sets it in the webhook "
      "configurations. Exit code: 0 written, 1 the CA in --out cannot be used or a file cannot "
      "be written, 2 usage errors");
  certs_command->add_option("--service", certs.service, "The webhook's Service")
      ->required()
      ->type_name("NAME");
  certs_command->add_option("--namespace", certs.namespace_name, "The Service's namespace")
      ->required()
      ->type_name("NS");
  certs_command
      ->add_option("--out", certs.out,
                   "Folder of the files (made, 0700, if missing): ca.crt, ca.key, tls.crt, "
                   "tls.key, secret.yaml, ca-bundle.txt, webhook-patch.yaml")
      ->required()
      ->type_name("DIR");
  certs_command
      ->add_option("--days", certs.days,
                   "Validity of the serving certificate, 1 to " +
                       std::to_string(palisade::certs::kMaxServingDays) + " days (a new CA lives " +
                       std::to_string(palisade::certs::kCaDays) + ")")
      ->type_name("N")
      ->capture_default_str();
  certs_command->add_flag("--renew-ca", certs.renew_ca,
                          "Replace the CA in --out with a new one (the webhook configurations "
                          "then need the new caBundle)");
  certs_command
      ->add_option("--secret-name", certs.secret_name, "Name of the Secret (default: NAME-tls)")
      ->type_name("NAME");
  certs_command
      ->add_option("--cluster-domain", certs.cluster_domain, "The cluster's DNS domain")
      ->type_name("DOMAIN")
      ->capture_default_str();
  certs_command
      ->add_option("--webhooks", certs.webhooks,
                   "Webhooks in each webhook configuration: webhook-patch.yaml sets the caBundle "
                   "of the first N")
      ->type_name("N")
      ->capture_default_str();
  certs_command->footer(
      "The serving certificate's names are NAME, NAME.NS, NAME.NS.svc and "
      "NAME.NS.svc.DOMAIN; the kube-apiserver connects to a webhook Service as NAME.NS.svc. "
      "Run again on the same --out to renew: the CA is kept, the serving certificate is new. "
      "See docs/certificates.md\n");
  certs_command->callback([&] {
    run = [&] { return palisade::cli::runCerts(certs, std::cout, std::cerr); };
  });

  // What follows "--" is the enforcer's command line for `lab`. It is cut off
  // before CLI11 sees it: there, a "--" right after a multi-value option
  // (-f a.yaml --) would only end that option's values.
  std::vector<std::string> after_dashes;
  int parsed_argc = argc;
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--") {
      after_dashes.assign(argv + i + 1, argv + argc);
      parsed_argc = i;
      break;
    }
  }

  try {
    app.parse(parsed_argc, argv);
  } catch (const CLI::ParseError& error) {
    // Help and --version exit 0; every other parse error is a usage error,
    // whatever code CLI11 would pick for it.
    const int code = app.exit(error);
    return code == 0 ? 0 : kExitUsage;
  }
  if (!after_dashes.empty()) {
    if (!lab_command->parsed()) {
      std::cerr << "palisadectl: arguments after -- are for the enforcer of `palisadectl lab` "
                   "only\n";
      return kExitUsage;
    }
    lab.enforcer_args = std::move(after_dashes);
  }
  return run();
}
