// The enforcer DaemonSet as `helm template` renders it: the privileges it
// gets (exactly the capabilities tc BPF programs need, never privileged),
// what it mounts from the host, where it runs, and the flags it is started
// with, checked against the real palisade-enforcer.

#include <algorithm>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "charts/tests/chart_test_support.h"
#include "charts/tests/helm_chart.h"

namespace palisade::charts {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::UnorderedElementsAre;

YAML::Node enforcerPod(const Manifests& chart) {
  const auto daemon_set = chart.find("DaemonSet", "palisade-enforcer");
  if (!daemon_set) {
    ADD_FAILURE() << "DaemonSet/palisade-enforcer is not rendered";
    return YAML::Node();
  }
  return podSpecOf(*daemon_set);
}

TEST(EnforcerDaemonSet, GetsExactlyTheCapabilitiesTcBpfNeeds) {
  const auto chart = render(ChartOptions());
  ASSERT_TRUE(chart) << chart.error().message;
  const YAML::Node context = containerNamed(enforcerPod(*chart), "enforcer")["securityContext"];
  EXPECT_THAT(texts(context["capabilities"]["drop"]), ElementsAre("ALL"));
  EXPECT_THAT(texts(context["capabilities"]["add"]),
              UnorderedElementsAre("BPF", "NET_ADMIN", "PERFMON"));
}

TEST(EnforcerDaemonSet, MemlockCapabilityAddsSysResourceForOldKernels) {
  const auto chart = render(ChartOptions().setValue("enforcer.memlockCapability=true"));
  ASSERT_TRUE(chart) << chart.error().message;
  const YAML::Node context = containerNamed(enforcerPod(*chart), "enforcer")["securityContext"];
  EXPECT_THAT(texts(context["capabilities"]["add"]),
              UnorderedElementsAre("BPF", "NET_ADMIN", "PERFMON", "SYS_RESOURCE"));
}

TEST(EnforcerDaemonSet, IsNotPrivilegedAndCannotGainPrivileges) {
  const auto chart = render(ChartOptions());
  ASSERT_TRUE(chart) << chart.error().message;
  const YAML::Node pod = enforcerPod(*chart);
  const YAML::Node context = containerNamed(pod, "enforcer")["securityContext"];
  EXPECT_EQ(text(context["privileged"]), "false");
  EXPECT_EQ(text(context["allowPrivilegeEscalation"]), "false");
  EXPECT_EQ(text(context["readOnlyRootFilesystem"]), "true");
  EXPECT_EQ(text(context["seccompProfile"]["type"]), "RuntimeDefault");
  EXPECT_EQ(text(pod["securityContext"]["seccompProfile"]["type"]), "RuntimeDefault");
  EXPECT_EQ(text(context["runAsUser"]), "0");
  EXPECT_FALSE(pod["hostPID"].IsDefined());
  EXPECT_FALSE(pod["hostIPC"].IsDefined());
}

TEST(EnforcerDaemonSet, SeccompProfileCanBeALocalhostOneWhereRuntimeDefaultRefusesBpf) {
  const auto chart = render(ChartOptions()
                                .setValue("enforcer.seccompProfile.type=Localhost")
                                .setValue("enforcer.seccompProfile.localhostProfile=bpf.json"));
  ASSERT_TRUE(chart) << chart.error().message;
  const YAML::Node pod = enforcerPod(*chart);
  for (const YAML::Node& profile :
       {pod["securityContext"]["seccompProfile"],
        containerNamed(pod, "enforcer")["securityContext"]["seccompProfile"]}) {
    EXPECT_EQ(text(profile["type"]), "Localhost");
    EXPECT_EQ(text(profile["localhostProfile"]), "bpf.json");
  }
  // A Localhost profile needs its file; the schema says so before the kubelet.
  const auto incomplete =
      helmTemplate(ChartOptions().setValue("enforcer.seccompProfile.type=Localhost"));
  ASSERT_TRUE(incomplete) << incomplete.error().message;
  EXPECT_NE(incomplete->exit_code, 0);
  EXPECT_THAT(incomplete->err, ::testing::HasSubstr("localhostProfile"));
}

TEST(EnforcerDaemonSet, SharesTheNodesNetworkNamespace) {
  const auto chart = render(ChartOptions());
  ASSERT_TRUE(chart) << chart.error().message;
  EXPECT_EQ(text(enforcerPod(*chart)["hostNetwork"]), "true");
}

TEST(EnforcerDaemonSet, MountsTheHostsBpfFilesystemAndKernelBtf) {
  const auto chart = render(ChartOptions());
  ASSERT_TRUE(chart) << chart.error().message;
  const YAML::Node pod = enforcerPod(*chart);
  const YAML::Node container = containerNamed(pod, "enforcer");

  const YAML::Node bpffs = mountAt(container, "/sys/fs/bpf");
  ASSERT_TRUE(bpffs.IsDefined());
  // Bidirectional is refused by the apiserver on an unprivileged container;
  // pins are files in the host's bpffs, not mounts, so they outlive the pod.
  EXPECT_EQ(text(bpffs["mountPropagation"]), "HostToContainer");
  EXPECT_NE(text(bpffs["readOnly"]), "true");
  const YAML::Node bpffs_volume = volumeNamed(pod, text(bpffs["name"]));
  EXPECT_EQ(text(bpffs_volume["hostPath"]["path"]), "/sys/fs/bpf");
  EXPECT_EQ(text(bpffs_volume["hostPath"]["type"]), "Directory");
  EXPECT_THAT(flagValues(container, "--pin-dir"), ElementsAre("/sys/fs/bpf/palisade"));

  const YAML::Node btf = mountAt(container, "/sys/kernel/btf/vmlinux");
  ASSERT_TRUE(btf.IsDefined());
  EXPECT_EQ(text(btf["readOnly"]), "true");
  const YAML::Node btf_volume = volumeNamed(pod, text(btf["name"]));
  EXPECT_EQ(text(btf_volume["hostPath"]["path"]), "/sys/kernel/btf/vmlinux");
  EXPECT_EQ(text(btf_volume["hostPath"]["type"]), "File");

  // Everything else the container writes is a small in-memory folder.
  const YAML::Node run = mountAt(container, "/run/palisade");
  ASSERT_TRUE(run.IsDefined());
  EXPECT_TRUE(volumeNamed(pod, text(run["name"]))["emptyDir"].IsDefined());
}

TEST(EnforcerDaemonSet, RunsOnEveryNodeAsNodeCritical) {
  const auto chart = render(ChartOptions());
  ASSERT_TRUE(chart) << chart.error().message;
  const YAML::Node pod = enforcerPod(*chart);
  ASSERT_EQ(pod["tolerations"].size(), 1u);
  EXPECT_EQ(text(pod["tolerations"][0]["operator"]), "Exists");
  EXPECT_FALSE(pod["tolerations"][0]["key"].IsDefined());
  EXPECT_FALSE(pod["tolerations"][0]["effect"].IsDefined());
  EXPECT_EQ(text(pod["priorityClassName"]), "system-node-critical");
  EXPECT_FALSE(pod["nodeSelector"].IsDefined());
}

TEST(EnforcerDaemonSet, NodeNameComesFromTheDownwardApiIntoNodeName) {
  const auto chart = render(ChartOptions());
  ASSERT_TRUE(chart) << chart.error().message;
  const YAML::Node container = containerNamed(enforcerPod(*chart), "enforcer");
  std::string variable;
  for (const YAML::Node& env : container["env"]) {
    if (text(env["valueFrom"]["fieldRef"]["fieldPath"]) == "spec.nodeName") {
      variable = text(env["name"]);
    }
  }
  ASSERT_FALSE(variable.empty()) << "no variable from spec.nodeName";
  EXPECT_THAT(flagValues(container, "--node-name"), ElementsAre("$(" + variable + ")"));
}

TEST(EnforcerDaemonSet, WatchesTheApiServerWithItsServiceAccountTokenAndMountsNoStateFromTheHost) {
  const auto chart = render(ChartOptions());
  ASSERT_TRUE(chart) << chart.error().message;
  const YAML::Node pod = enforcerPod(*chart);
  EXPECT_THAT(flagNames(containerNamed(pod, "enforcer")), Contains("--in-cluster"));
  // Mounted whatever the ServiceAccount's default: without it there is no
  // source of state.
  EXPECT_EQ(text(pod["automountServiceAccountToken"]), "true");
  std::vector<std::string> host_paths;
  for (const YAML::Node& volume : pod["volumes"]) {
    if (volume["hostPath"].IsDefined()) {
      host_paths.push_back(text(volume["hostPath"]["path"]));
    }
  }
  EXPECT_THAT(host_paths, UnorderedElementsAre("/sys/fs/bpf", "/sys/kernel/btf/vmlinux"));

  // The uninstalling pods talk to no apiserver: no token.
  const auto uninstall = render(ChartOptions().setValue("enforcer.uninstall=true"));
  ASSERT_TRUE(uninstall) << uninstall.error().message;
  EXPECT_EQ(text(enforcerPod(*uninstall)["automountServiceAccountToken"]), "false");
}

TEST(EnforcerDaemonSet, TheRemovedManifestsHostPathValueIsRefused) {
  const auto rendered =
      helmTemplate(ChartOptions().setValue("enforcer.manifestsHostPath=/var/lib/palisade"));
  ASSERT_TRUE(rendered) << rendered.error().message;
  EXPECT_NE(rendered->exit_code, 0);
  EXPECT_THAT(rendered->err, ::testing::HasSubstr("manifestsHostPath"));
}

TEST(EnforcerDaemonSet, UsesOnlyFlagsPalisadeEnforcerHas) {
  const auto chart = render(ChartOptions());
  ASSERT_TRUE(chart) << chart.error().message;
  const auto known = flagsOf(PALISADE_ENFORCER);
  ASSERT_TRUE(known) << known.error().message;
  const std::vector<std::string> used = flagNames(containerNamed(enforcerPod(*chart), "enforcer"));
  // Exactly one source of cluster state, or the enforcer exits.
  EXPECT_THAT(used, Contains("--in-cluster"));
  EXPECT_THAT(used, Not(Contains("--kubeconfig")));
  EXPECT_THAT(used, Not(Contains("--manifests")));
  for (const std::string& flag : used) {
    EXPECT_TRUE(known->contains(flag)) << flag << " is not a palisade-enforcer flag";
  }
}

TEST(EnforcerDaemonSet, ServiceCidrsAndModeComeFromValues) {
  const auto chart = render(ChartOptions()
                                .setValue("enforcer.mode=audit")
                                .setValue("enforcer.serviceCIDRs={10.0.0.0/16,fd00:10:96::/112}"));
  ASSERT_TRUE(chart) << chart.error().message;
  const YAML::Node container = containerNamed(enforcerPod(*chart), "enforcer");
  EXPECT_THAT(flagValues(container, "--mode"), ElementsAre("audit"));
  EXPECT_THAT(flagValues(container, "--service-cidrs"),
              ElementsAre("10.0.0.0/16,fd00:10:96::/112"));

  const auto none = render(ChartOptions().setJson("enforcer.serviceCIDRs=[]"));
  ASSERT_TRUE(none) << none.error().message;
  EXPECT_THAT(flagValues(containerNamed(enforcerPod(*none), "enforcer"), "--service-cidrs"),
              IsEmpty());
}

TEST(EnforcerDaemonSet, MapCapacitiesArePassedOnlyWhenSet) {
  const auto defaults = render(ChartOptions());
  ASSERT_TRUE(defaults) << defaults.error().message;
  const YAML::Node plain = containerNamed(enforcerPod(*defaults), "enforcer");
  EXPECT_THAT(flagValues(plain, "--conntrack-entries"), ElementsAre("262144"));
  for (const char* flag : {"--max-endpoints", "--max-rules", "--max-port-ranges", "--max-cidrs"}) {
    EXPECT_THAT(flagValues(plain, flag), IsEmpty()) << flag;
  }

  const auto sized = render(ChartOptions()
                                .setValue("enforcer.maxEndpoints=16384")
                                .setValue("enforcer.maxRules=131072")
                                .setValue("enforcer.maxPortRanges=4096")
                                .setValue("enforcer.maxCIDRs=8192"));
  ASSERT_TRUE(sized) << sized.error().message;
  const YAML::Node container = containerNamed(enforcerPod(*sized), "enforcer");
  EXPECT_THAT(flagValues(container, "--max-endpoints"), ElementsAre("16384"));
  EXPECT_THAT(flagValues(container, "--max-rules"), ElementsAre("131072"));
  EXPECT_THAT(flagValues(container, "--max-port-ranges"), ElementsAre("4096"));
  EXPECT_THAT(flagValues(container, "--max-cidrs"), ElementsAre("8192"));
  const auto known = flagsOf(PALISADE_ENFORCER);
  ASSERT_TRUE(known) << known.error().message;
  for (const std::string& flag : flagNames(container)) {
    EXPECT_TRUE(known->contains(flag)) << flag << " is not a palisade-enforcer flag";
  }
}

TEST(EnforcerDaemonSet, MapCapacityTooSmallForTheEnforcerIsRefusedByTheSchema) {
  const auto rendered = helmTemplate(ChartOptions().setValue("enforcer.maxRules=100"));
  ASSERT_TRUE(rendered) << rendered.error().message;
  EXPECT_NE(rendered->exit_code, 0);
  EXPECT_THAT(rendered->err, ::testing::HasSubstr("maxRules"));
}

TEST(EnforcerDaemonSet, ServesMetricsOnTheNodeAddressAndProbesHealthzThere) {
  const auto chart = render(ChartOptions());
  ASSERT_TRUE(chart) << chart.error().message;
  const YAML::Node container = containerNamed(enforcerPod(*chart), "enforcer");
  std::string node_ip;
  for (const YAML::Node& env : container["env"]) {
    if (text(env["valueFrom"]["fieldRef"]["fieldPath"]) == "status.hostIP") {
      node_ip = text(env["name"]);
    }
  }
  ASSERT_FALSE(node_ip.empty());
  EXPECT_THAT(flagValues(container, "--metrics-addr"),
              ElementsAre("[$(" + node_ip + ")]:9464"));
  ASSERT_EQ(container["ports"].size(), 1u);
  EXPECT_EQ(text(container["ports"][0]["name"]), "metrics");
  EXPECT_EQ(text(container["ports"][0]["containerPort"]), "9464");
  EXPECT_EQ(text(container["livenessProbe"]["httpGet"]["path"]), "/healthz");
  EXPECT_EQ(text(container["livenessProbe"]["httpGet"]["port"]), "metrics");
  // Ready once the first cluster state is enforced.
  EXPECT_THAT(flagValues(container, "--ready-file"), ElementsAre("/run/palisade/ready"));
  EXPECT_THAT(texts(container["readinessProbe"]["exec"]["command"]),
              ElementsAre("test", "-f", "/run/palisade/ready"));
}

TEST(EnforcerDaemonSet, MetricsDisabledTurnsTheEndpointOff) {
  const auto chart = render(ChartOptions().setValue("enforcer.metrics.enabled=false"));
  ASSERT_TRUE(chart) << chart.error().message;
  const YAML::Node container = containerNamed(enforcerPod(*chart), "enforcer");
  EXPECT_THAT(flagValues(container, "--metrics-addr"), ElementsAre("off"));
  EXPECT_FALSE(container["ports"].IsDefined());
  EXPECT_FALSE(container["livenessProbe"].IsDefined());
}

TEST(EnforcerDaemonSet, UninstallDetachesEverythingThenIdles) {
  const auto chart = render(ChartOptions().setValue("enforcer.uninstall=true"));
  ASSERT_TRUE(chart) << chart.error().message;
  const YAML::Node pod = enforcerPod(*chart);
  const YAML::Node uninstall = containerNamed(pod, "uninstall", /*init=*/true);
  EXPECT_THAT(texts(uninstall["args"]),
              ElementsAre("--uninstall", "--pin-dir=/sys/fs/bpf/palisade"));
  EXPECT_THAT(texts(uninstall["securityContext"]["capabilities"]["add"]),
              UnorderedElementsAre("BPF", "NET_ADMIN", "PERFMON"));
  EXPECT_TRUE(mountAt(uninstall, "/sys/fs/bpf").IsDefined());
  ASSERT_EQ(pod["containers"].size(), 1u);
  const YAML::Node idle = pod["containers"][0];
  EXPECT_FALSE(idle["securityContext"]["capabilities"]["add"].IsDefined());
  EXPECT_EQ(text(idle["securityContext"]["runAsNonRoot"]), "true");
}

TEST(EnforcerDaemonSet, DisabledRendersNoEnforcerObjects) {
  const auto chart = render(ChartOptions().setValue("enforcer.enabled=false"));
  ASSERT_TRUE(chart) << chart.error().message;
  for (const std::string& name : chart->names()) {
    EXPECT_EQ(name.find("enforcer"), std::string::npos) << name;
  }
  EXPECT_THAT(chart->ofKind("DaemonSet"), IsEmpty());
  EXPECT_TRUE(chart->find("Deployment", "palisade-webhook"));
}

TEST(EnforcerRbac, ReadsNamespacesPodsAndNetworkPoliciesOnly) {
  const auto chart = render(ChartOptions());
  ASSERT_TRUE(chart) << chart.error().message;
  const auto role = chart->find("ClusterRole", "palisade-enforcer");
  ASSERT_TRUE(role);
  EXPECT_THAT(grants(*role),
              UnorderedElementsAre("/namespaces:get", "/namespaces:list", "/namespaces:watch",
                                   "/pods:get", "/pods:list", "/pods:watch",
                                   "networking.k8s.io/networkpolicies:get",
                                   "networking.k8s.io/networkpolicies:list",
                                   "networking.k8s.io/networkpolicies:watch"));
  const auto binding = chart->find("ClusterRoleBinding", "palisade-enforcer");
  ASSERT_TRUE(binding);
  EXPECT_EQ(text((*binding)["subjects"][0]["name"]),
            text(enforcerPod(*chart)["serviceAccountName"]));
  EXPECT_NE(text(enforcerPod(*chart)["serviceAccountName"]), "palisade-webhook");
  EXPECT_TRUE(chart->find("ServiceAccount", "palisade-enforcer"));
}

TEST(EnforcerDaemonSet, InvalidModeIsRefused) {
  for (const bool skip_schema : {false, true}) {
    const auto rendered =
        helmTemplate(ChartOptions().setValue("enforcer.mode=warn").skipSchema(skip_schema));
    ASSERT_TRUE(rendered) << rendered.error().message;
    EXPECT_NE(rendered->exit_code, 0) << "skip_schema=" << skip_schema;
    EXPECT_THAT(rendered->err, ::testing::HasSubstr("enforcer")) << "skip_schema=" << skip_schema;
  }
}

}  // namespace
}  // namespace palisade::charts
