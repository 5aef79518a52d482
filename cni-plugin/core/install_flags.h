// Command line and exit codes of ambient-cni-install. Pure.
#pragma once

#include <string>
#include <vector>

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
  std::string agentSocket;   // default kDefaultAgentSocket
  std::string logFile;
  std::string kubeconfig;
  bool watch = false;
  bool uninstall = false;
  bool help = false;
};

// Accepts "--flag value" and "--flag=value". kInvalidInput with the reason on bad usage.
Result<InstallOptions> parseInstallFlags(const std::vector<std::string>& args);

std::string installUsage();

}  // namespace ambient::cni
