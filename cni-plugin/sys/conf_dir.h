// File operations of the installer: reading the CNI config directory, atomic writes (temp file
// in the same directory, fsync, rename, fsync of the directory), removals, the atomic binary
// copy, and applying an EditPlan. Touches files.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cni-plugin/core/conflist_edit.h"

namespace ambient::cni {

// The *.conf and *.conflist regular files of `dir` with their contents.
Result<std::vector<ConfFile>> readConfDir(const std::string& dir);
// nullopt when the file does not exist.
Result<std::optional<std::string>> readFileIfExists(const std::string& path);
// Succeeds when the file is already gone.
Status removeFile(const std::string& dir, const std::string& name);
// Copies `src` to dir/name through a temp file in `dir`, mode `mode`, then renames.
Status copyFileAtomic(const std::string& src, const std::string& dir, const std::string& name,
                      unsigned mode);
// Writes (mode 0644) and removes in plan order; stops at the first error.
Status applyEditPlan(const std::string& dir, const EditPlan& plan);

}  // namespace ambient::cni
