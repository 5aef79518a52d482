// A container runtime's CNI side, as containerd and podman drive it: runs a conflist's plugins
// in order for ADD (each one's result is the next one's prevResult), in reverse for DEL, in
// order for CHECK, inside the node namespace. Real plugin binaries: Debian's reference plugins
// and our ambient-cni. Touches the kernel.
#pragma once

#include <fstream>
#include <nlohmann/json.hpp>

#include "kernel_fixture.h"

namespace ambient::testing {

inline const std::string kCniPath = std::string(AMBIENT_CNI_DIR) + ":/usr/lib/cni";

struct CniCall {
  int rc = -1;
  std::string out;
  nlohmann::json json() const { return nlohmann::json::parse(out, nullptr, false); }
};

class CniRuntime {
 public:
  CniRuntime(const TestNetns& node, nlohmann::json conflist)
      : node_(node), conflist_(std::move(conflist)), dir_("/tmp/" + uniqueName("cni")) {
    must("mkdir -p " + dir_);
  }
  ~CniRuntime() { sh("rm -rf " + dir_); }

  // One plugin invocation with the runtime's environment.
  CniCall invoke(const std::string& command, const nlohmann::json& plugin,
                 const std::string& containerId, const std::string& netns,
                 const std::string& cniArgs, const nlohmann::json* prevResult) {
    nlohmann::json conf = plugin;
    conf["cniVersion"] = conflist_["cniVersion"];
    conf["name"] = conflist_["name"];
    if (prevResult) conf["prevResult"] = *prevResult;
    std::string file = dir_ + "/stdin-" + std::to_string(++calls_);
    std::ofstream(file) << conf.dump();
    std::string type = plugin["type"];
    std::string bin = type == "ambient-cni" ? std::string(AMBIENT_CNI_DIR) + "/ambient-cni"
                                            : "/usr/lib/cni/" + type;
    auto r = sh(node_.exec("env CNI_COMMAND=" + command + " CNI_CONTAINERID=" + containerId +
                           " CNI_NETNS=" + netns + " CNI_IFNAME=eth0 CNI_PATH=" + kCniPath +
                           " 'CNI_ARGS=" + cniArgs + "' " + bin + " < " + file));
    return CniCall{r.rc, r.out};
  }

  // ADD through the whole list; stops at the first failure like a runtime does.
  CniCall add(const std::string& containerId, const std::string& netns,
              const std::string& cniArgs) {
    nlohmann::json prev;
    bool havePrev = false;
    for (const auto& plugin : conflist_["plugins"]) {
      auto r = invoke("ADD", plugin, containerId, netns, cniArgs, havePrev ? &prev : nullptr);
      if (r.rc != 0) return r;
      prev = r.json();
      havePrev = true;
    }
    results_[containerId] = prev;
    return CniCall{0, prev.dump()};
  }

  // DEL in reverse order, with the cached result as prevResult when there is one.
  CniCall del(const std::string& containerId, const std::string& netns, const std::string& cniArgs,
              bool withPrevResult = true) {
    auto it = results_.find(containerId);
    const nlohmann::json* prev = withPrevResult && it != results_.end() ? &it->second : nullptr;
    CniCall last{0, ""};
    auto plugins = conflist_["plugins"];
    for (auto p = plugins.rbegin(); p != plugins.rend(); ++p) {
      auto r = invoke("DEL", *p, containerId, netns, cniArgs, prev);
      if (r.rc != 0) last = r;
    }
    results_.erase(containerId);
    return last;
  }

  CniCall check(const std::string& containerId, const std::string& netns,
                const std::string& cniArgs) {
    const auto& prev = results_.at(containerId);
    for (const auto& plugin : conflist_["plugins"]) {
      auto r = invoke("CHECK", plugin, containerId, netns, cniArgs, &prev);
      if (r.rc != 0) return r;
    }
    return CniCall{0, ""};
  }

  CniCall version(const nlohmann::json& plugin) {
    return invoke("VERSION", plugin, "", "", "", nullptr);
  }

 private:
  const TestNetns& node_;
  nlohmann::json conflist_;
  std::string dir_;
  int calls_ = 0;
  std::map<std::string, nlohmann::json> results_;
};

inline std::string k8sArgs(const std::string& ns, const std::string& name) {
  // Keys in a runtime's own order (not alphabetical), with one the plugin does not know.
  return "IgnoreUnknown=1;K8S_POD_NAME=" + name + ";K8S_POD_NAMESPACE=" + ns +
         ";K8S_POD_INFRA_CONTAINER_ID=ctr-" + name + ";K8S_POD_UID=uid-" + name;
}

}  // namespace ambient::testing
