#pragma once

// A Dataplane that records what the control loop asks of it, for tests of the
// loop without BPF: each call as a line ("apply 3", "attach 11", "detach 7",
// "addresses 11 2", "node 1", "mode audit"), the interfaces attached, and
// flow events and counters a test hands it.

#include <algorithm>
#include <array>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "enforcer/dataplane.h"

namespace palisade::enforcer::testing {

class RecordingDataplane : public Dataplane {
 public:
  uint32_t generation() const override { return generation_; }

  policy::Result<void> apply(const policy::DataplaneTables& tables) override {
    calls.push_back("apply " + std::to_string(tables.generation));
    if (fail_apply) {
      return policy::fail("pal_rules: update failed: No space left on device");
    }
    generation_ = tables.generation;
    last_tables = tables;
    return {};
  }
  policy::Result<void> setNode(const policy::NodeContext& node) override {
    calls.push_back("node " + std::to_string(node.node_addresses.size()));
    return {};
  }
  policy::Result<void> setMode(pal_mode mode) override {
    calls.push_back(mode == PAL_MODE_AUDIT ? "mode audit" : "mode enforce");
    return {};
  }
  policy::Result<void> setPodAddresses(int ifindex,
                                       const std::vector<policy::IpAddress>& addresses) override {
    calls.push_back("addresses " + std::to_string(ifindex) + " " +
                    std::to_string(addresses.size()));
    return {};
  }
  policy::Result<void> attach(int ifindex) override {
    calls.push_back("attach " + std::to_string(ifindex));
    if (std::ranges::find(attached, ifindex) == attached.end()) {
      attached.push_back(ifindex);  // attaching again replaces the programs
    }
    return {};
  }
  policy::Result<void> detach(int ifindex) override {
    calls.push_back("detach " + std::to_string(ifindex));
    std::erase(attached, ifindex);
    return {};
  }
  std::vector<int> attachedInterfaces() const override { return attached; }
  policy::Result<int> pollEvents(std::chrono::milliseconds,
                                 const std::function<void(const pal_flow_event&)>& sink) override {
    int handled = 0;
    for (const pal_flow_event& event : events) {
      sink(event);
      ++handled;
    }
    events.clear();
    return handled;
  }
  std::array<uint64_t, PAL_REASON_COUNT> counters() const override { return counter_values; }

  std::vector<std::string> calls;
  std::vector<int> attached;
  std::vector<pal_flow_event> events;
  std::array<uint64_t, PAL_REASON_COUNT> counter_values{};
  bool fail_apply = false;
  policy::DataplaneTables last_tables;

 private:
  uint32_t generation_ = 0;
};

}  // namespace palisade::enforcer::testing
