// ambient-cni-install's run: one install pass, the --watch loop (inotify on the config
// directory, signalfd for SIGTERM/SIGINT) or the uninstall. Logs JSON lines on stderr.
// Touches files and signals.
#pragma once

#include "cni-plugin/core/install_flags.h"

namespace ambient::cni {

// Returns the process exit code (kInstallExit*).
int runInstaller(const InstallOptions& o);

}  // namespace ambient::cni
