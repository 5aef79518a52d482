// libFuzzer target: ambient-cni-install's planning over a CNI config directory whose files the
// node's primary CNI (or Multus) wrote: primary choice, Multus's default network, insertion,
// .conf wrapping, the state file, uninstall. Pure.
//
// Input: up to five sections separated by "\n=file=\n", the bytes of, in order,
// 00-multus.conf, 10-a.conflist, 10-a.conf, 20-b.conf and the install state file; an empty
// section is an absent file. Invariants: an install whose plan was applied plans nothing more
// (idempotence), and uninstall after it leaves no ambient-cni entry in any plugin list.
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cni-plugin/core/conflist_edit.h"
#include "fuzz_util.h"
#include "tests/support/conf_dir.h"

using namespace ambient::cni;

namespace {

using Dir = ambient::testing::ConfDir;
using ambient::testing::applyToDir;
using ambient::testing::configFilesOf;

const char* const kNames[] = {"00-multus.conf", "10-a.conflist", "10-a.conf", "20-b.conf",
                              kInstallStateFile};
const AmbientEntry kEntry{"/var/run/ambient/agent.sock", "", "", {"kube-system"}, "", "", ""};
const std::string kConfDir = "/etc/cni/net.d";

// nullopt: no state file; false in `ok`: a state file the installer refuses (it stops there).
std::optional<InstallState> stateOf(const Dir& d, bool& ok) {
  ok = true;
  auto it = d.find(kInstallStateFile);
  if (it == d.end()) return std::nullopt;
  auto s = parseInstallState(it->second);
  if (!s) {
    ok = false;
    return std::nullopt;
  }
  return *s;
}

bool isOursJson(const nlohmann::json& p) {
  return p.is_object() && p.contains("type") && p["type"] == kPluginType;
}

bool listHoldsOurs(const nlohmann::json& list) {
  if (!list.is_object() || !list.contains("plugins") || !list["plugins"].is_array()) return false;
  for (const auto& p : list["plugins"])
    if (isOursJson(p)) return true;
  return false;
}

bool isMultusJson(const nlohmann::json& p) {
  return p.is_object() && p.contains("type") &&
         (p["type"] == "multus" || p["type"] == "multus-shim");
}

// True when a place install writes to in the file `name` holds our type: a .conflist's plugin
// list, or the first delegate of its Multus entry (a .conf itself or a list's first plugin,
// of type multus or multus-shim). A .conf's other fields are its plugin's own, even one called
// "plugins" or "delegates" (regression_delegates_of_another_type).
bool holdsOurs(const std::string& name, const nlohmann::json& j) {
  const bool list = name.size() > 9 && name.compare(name.size() - 9, 9, ".conflist") == 0;
  if (list && listHoldsOurs(j)) return true;
  const nlohmann::json* multus = &j;
  if (list && j.is_object() && j.contains("plugins") && j["plugins"].is_array() &&
      !j["plugins"].empty())
    multus = &j["plugins"][0];
  if (!isMultusJson(*multus) || !multus->contains("delegates")) return false;
  const auto& delegates = (*multus)["delegates"];
  if (!delegates.is_array() || delegates.empty()) return false;
  return isOursJson(delegates[0]) || listHoldsOurs(delegates[0]);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view rest = fuzz::asView(data, size);
  Dir dir;
  for (const char* name : kNames) {
    std::string_view section = rest;
    auto tail = fuzz::splitAt(section, "\n=file=\n");
    if (!section.empty()) dir[name] = std::string(section);
    if (!tail) break;
    rest = *tail;
  }
  bool ok = true;
  auto state = stateOf(dir, ok);
  if (!ok) return 0;
  auto plan = computeInstall(configFilesOf(dir), state, kEntry, "", kConfDir);
  if (!plan) return 0;
  applyToDir(dir, *plan);
  auto again = computeInstall(configFilesOf(dir), stateOf(dir, ok), kEntry, "", kConfDir);
  fuzz::check(ok && again && again->changes.empty());

  auto undo = computeUninstall(configFilesOf(dir), stateOf(dir, ok));
  fuzz::check(ok && undo);
  applyToDir(dir, *undo);
  auto primary = dir.find(plan->primary);
  if (primary != dir.end()) {
    fuzz::check(!holdsOurs(primary->first, nlohmann::json::parse(primary->second, nullptr, false)));
  }
  return 0;
}
