#include "charts/tests/chart_test_support.h"

#include <fstream>
#include <regex>
#include <sstream>

#include <gtest/gtest.h>

#include "charts/tests/helm_chart.h"

namespace palisade::charts {
namespace {

YAML::Node namedIn(const YAML::Node& sequence, std::string_view name) {
  if (sequence.IsSequence()) {
    for (const YAML::Node& item : sequence) {
      if (text(item["name"]) == name) {
        return item;
      }
    }
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

}  // namespace

YAML::Node podSpecOf(const YAML::Node& workload) {
  return workload["spec"]["template"]["spec"];
}

YAML::Node containerNamed(const YAML::Node& pod_spec, std::string_view name, bool init) {
  YAML::Node found = namedIn(pod_spec[init ? "initContainers" : "containers"], name);
  if (!found.IsDefined()) {
    ADD_FAILURE() << "no " << (init ? "init container" : "container") << " named " << name;
  }
  return found;
}

YAML::Node volumeNamed(const YAML::Node& pod_spec, std::string_view name) {
  return namedIn(pod_spec["volumes"], name);
}

YAML::Node mountAt(const YAML::Node& container, std::string_view path) {
  if (container["volumeMounts"].IsSequence()) {
    for (const YAML::Node& mount : container["volumeMounts"]) {
      if (text(mount["mountPath"]) == path) {
        return mount;
      }
    }
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

std::vector<std::string> flagNames(const YAML::Node& container) {
  std::vector<std::string> names;
  for (const std::string& arg : texts(container["args"])) {
    if (arg.starts_with("--")) {
      names.push_back(arg.substr(0, arg.find('=')));
    }
  }
  return names;
}

std::vector<std::string> flagValues(const YAML::Node& container, std::string_view flag) {
  std::vector<std::string> values;
  const std::string prefix = std::string(flag) + "=";
  for (const std::string& arg : texts(container["args"])) {
    if (arg.starts_with(prefix)) {
      values.push_back(arg.substr(prefix.size()));
    }
  }
  return values;
}

policy::Result<std::set<std::string>> flagsOf(const std::string& binary) {
  auto help = runCommand({binary, "--help"});
  if (!help) {
    return std::unexpected(help.error());
  }
  if (help->exit_code != 0) {
    return policy::fail(binary + " --help failed: " + help->err);
  }
  std::set<std::string> flags;
  static const std::regex kOption("(^|[\\s,])(--[a-z][a-z0-9-]*)");
  for (auto it = std::sregex_iterator(help->out.begin(), help->out.end(), kOption);
       it != std::sregex_iterator(); ++it) {
    flags.insert((*it)[2].str());
  }
  if (flags.empty()) {
    return policy::fail(binary + " --help lists no option");
  }
  return flags;
}

std::vector<std::string> grants(const YAML::Node& role) {
  std::vector<std::string> granted;
  for (const YAML::Node& rule : role["rules"]) {
    EXPECT_FALSE(rule["nonResourceURLs"].IsDefined()) << YAML::Dump(rule);
    std::vector<std::string> names = texts(rule["resourceNames"]);
    if (names.empty()) {
      names.emplace_back();
    }
    for (const std::string& group : texts(rule["apiGroups"])) {
      for (const std::string& resource : texts(rule["resources"])) {
        for (const std::string& verb : texts(rule["verbs"])) {
          EXPECT_NE(group, "*");
          EXPECT_EQ(resource.find('*'), std::string::npos);
          EXPECT_NE(verb, "*");
          for (const std::string& name : names) {
            granted.push_back(group + "/" + resource + (name.empty() ? "" : "/" + name) + ":" +
                              verb);
          }
        }
      }
    }
  }
  return granted;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

}  // namespace palisade::charts
