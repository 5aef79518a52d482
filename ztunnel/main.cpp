// ztunnel entry point: parse flags, set the log level, run the proxy. See --help.
#include <cstdio>

#include "ztunnel/core/options.h"
#include "ztunnel/sys/log.h"
#include "ztunnel/sys/proxy_app.h"

int main(int argc, char** argv) {
  auto opts = zt::parseOptions(std::vector<std::string>(argv + 1, argv + argc));
  if (!opts) {
    std::fprintf(stderr, "ztunnel: %s\n", opts.error().message().c_str());
    return zt::kExitUsage;
  }
  if (opts->help) return std::fputs(zt::renderHelp().c_str(), stdout) >= 0 ? zt::kExitOk : zt::kExitFailure;
  if (opts->version) return std::puts("ztunnel 0.1.0") >= 0 ? zt::kExitOk : zt::kExitFailure;
  zt::setLogLevel(zt::parseLogLevel(opts->logLevel));
  return zt::runProxy(*opts);
}
