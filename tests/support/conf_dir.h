// A CNI config directory in memory, for the installer's planning (tests and the install_plan
// fuzz target): file name -> bytes, the install state file included. Pure.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "cni-plugin/core/conflist_edit.h"

namespace ambient::testing {

using ConfDir = std::map<std::string, std::string>;

// The files a runtime would consider (*.conf, *.conflist), as computeInstall takes them.
inline std::vector<cni::ConfFile> configFilesOf(const ConfDir& d) {
  std::vector<cni::ConfFile> out;
  for (const auto& [name, content] : d)
    if (cni::isConfigName(name)) out.push_back({name, content});
  return out;
}

// Carries out `p`'s writes and removals, in order, as the installer does on disk.
inline void applyToDir(ConfDir& d, const cni::EditPlan& p) {
  for (const auto& c : p.changes) {
    if (c.kind == cni::FileChange::Kind::kWrite)
      d[c.name] = c.content;
    else
      d.erase(c.name);
  }
}

}  // namespace ambient::testing
