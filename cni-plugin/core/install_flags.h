// Command line (CLI11) and exit codes of ambient-cni-install. Pure.
#pragma once

#include <string>
#include <vector>

#include "cni-plugin/core/conflist_edit.h"
#include "common/core/agent_protocol.h"
#include "common/core/error.h"

namespace ambient::cni {

inline constexpr int kInstallExitOk = 0;
inline constexpr int kInstallExitUsage = 2;
inline constexpr int kInstallExitNoPrimary = 3;
inline constexpr int kInstallExitIo = 4;
inline constexpr int kInstallExitCannotEdit = 5;

struct InstallOptions {
  std::string confDir = "/etc/cni/net.d";
  std::string binDir = "/opt/cni/bin";
  std::string pluginBinary;  // copied to binDir/ambient-cni when set
  std::string agentSocket = kDefaultAgentSocket;
  std::string logFile;
  std::string kubeconfig;
  // The agent's membership settings, copied into the plugin entry (left out when not given).
  std::string excludeNamespaces;  // comma-separated
  std::string ztunnelNamespace;
  std::string ztunnelLabel;  // KEY=VALUE
  std::string ztunnelServiceAccount;
  bool watch = false;
  bool uninstall = false;
  bool help = false;
};

// Accepts "--flag value" and "--flag=value". kInvalidInput naming the flag on bad usage,
// even next to --help.
Result<InstallOptions> parseInstallFlags(const std::vector<std::string>& args);

std::string installUsage();

// The plugin entry the options describe (the comma list split, empty names dropped).
AmbientEntry ambientEntryOf(const InstallOptions& o);

}  // namespace ambient::cni
