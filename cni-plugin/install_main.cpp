// ambient-cni-install: thin main; parses flags and runs the installer (see --help).
// Touches files.
#include <cstdio>

#include "cni-plugin/core/install_flags.h"
#include "cni-plugin/sys/installer.h"

int main(int argc, char** argv) {
  using namespace ambient::cni;
  auto o = parseInstallFlags(std::vector<std::string>(argv + 1, argv + argc));
  if (!o) {
    std::fprintf(stderr, "ambient-cni-install: %s\n\n%s", o.error().context.c_str(),
                 installUsage().c_str());
    return kInstallExitUsage;
  }
  if (o->help) {
    std::fputs(installUsage().c_str(), stdout);
    return kInstallExitOk;
  }
  return runInstaller(*o);
}
