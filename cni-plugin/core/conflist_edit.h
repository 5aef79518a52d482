// The installer's planning: which file in the CNI config directory is the primary config, the
// edit that puts ambient-cni last in it (wrapping a single .conf into a .conflist), and the edit
// that takes exactly that back out. Plans are plain file writes and removals. Pure.
//
// What install did is recorded in the state file kInstallStateFile in the same directory (a
// name runtimes ignore: they only load *.conf, *.conflist and *.json): for each file we wrote,
// the original file's name and exact bytes, and the plugin binary we copied. Uninstall restores
// those bytes when the file, without our entry, still equals the original as JSON; otherwise
// (the primary CNI rewrote it since) it only removes our entry.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/core/error.h"

namespace ambient::cni {

inline constexpr const char* kInstallStateFile = ".ambient-cni-install.state";
inline constexpr const char* kPluginType = "ambient-cni";

struct ConfFile {
  std::string name;  // file name inside the directory
  std::string content;
};

// Our plugin entry's fields; empty logFile/kubeconfig are left out of the entry.
// The fields install writes into the plugin's entry; empty ones are left out (the plugin's
// defaults, which equal the agent's).
struct AmbientEntry {
  std::string agentSocket;
  std::string logFile;
  std::string kubeconfig;
  // The agent's membership settings, for the plugin's decisions while the agent is down.
  std::vector<std::string> excludeNamespaces;
  std::string ztunnelNamespace;
  std::string ztunnelLabel;  // KEY=VALUE
  std::string ztunnelServiceAccount;
};

struct InstallRecord {
  std::string originalName;  // the file before we edited it (a .conf we wrapped, or the same)
  std::string original;      // its exact bytes
  bool operator==(const InstallRecord&) const = default;
};

struct InstallState {
  std::map<std::string, InstallRecord> files;  // by the name of the file we wrote
  std::string binaryPath;                      // the plugin binary we copied, "" if none
  bool operator==(const InstallState&) const = default;
};

Result<InstallState> parseInstallState(const std::string& text);
std::string renderInstallState(const InstallState& s);

struct FileChange {
  enum class Kind { kWrite, kRemove };
  Kind kind = Kind::kWrite;
  std::string name;
  std::string content;  // for kWrite
};

struct EditPlan {
  std::string primary;                // the primary config's name (install)
  std::vector<FileChange> changes;    // apply in order; empty when nothing is to do
  std::vector<std::string> warnings;  // invalid files skipped, unrecorded entries, ...
  std::string removeBinary;           // uninstall: the binary install copied
};

// True for names a runtime loads as network configs here: *.conflist and *.conf.
bool isConfigName(const std::string& name);

// The first file (lexical order) that is a valid .conflist or .conf; invalid ones are skipped
// with a warning in `warnings`. kNotFound when there is none.
Result<ConfFile> choosePrimary(const std::vector<ConfFile>& files,
                               std::vector<std::string>& warnings);

// `files`: the directory's config files (any order); `state`: the parsed state file, if any;
// `confDir`: the directory's path.
//
// When the primary config is Multus's ("type": "multus" or "multus-shim"), the runtime runs
// Multus and Multus runs the default network's config: our entry goes there instead.
//  - clusterNetwork names a config file of this directory (by path, or by path under /host as
//    Multus's container sees it, or by network or file name when Multus's confDir is this
//    directory): that file is edited as a primary would be.
//  - no clusterNetwork: the first of "delegates" gets our entry (a single-plugin delegate
//    becomes a list of it and us); the Multus file keeps its name.
//  - otherwise (a NetworkAttachmentDefinition, Multus's own confDir elsewhere, no default):
//    kInvalidInput saying where Multus reads it.
//
// kNotFound: no primary config. kInvalidInput: the target cannot take ambient-cni (its
// cniVersion is not one ambient-cni supports, wrapping X.conf would overwrite X.conflist,
// Multus names that X.conf by path, or Multus's default network is not a file here).
Result<EditPlan> computeInstall(const std::vector<ConfFile>& files,
                                const std::optional<InstallState>& state, const AmbientEntry& entry,
                                const std::string& binaryPath, const std::string& confDir);

// Removes every ambient-cni entry from every valid config file (and from a Multus config's first
// delegate), restoring recorded originals; removes the state file.
Result<EditPlan> computeUninstall(const std::vector<ConfFile>& files,
                                  const std::optional<InstallState>& state);

// The JSON text written for a config file: 2-space indented, newline-terminated.
std::string renderConfig(const nlohmann::ordered_json& j);

}  // namespace ambient::cni
