// ztunnel entry point: parse flags, set the log level, run the proxy. See --help.
#include <malloc.h>

#include <cstdio>

#include "common/log/log.h"
#include "ztunnel/core/options.h"
#include "ztunnel/proxy/proxy_app.h"

int main(int argc, char** argv) {
  auto opts = zt::parseOptions(std::vector<std::string>(argv + 1, argv + argc));
  if (!opts) {
    std::fprintf(stderr, "ztunnel: %s (see --help)\n", opts.error().message().c_str());
    return zt::kExitUsage;
  }
  if (opts->help)
    return std::fputs(zt::renderHelp().c_str(), stdout) >= 0 ? zt::kExitOk : zt::kExitFailure;
  if (opts->version) return std::puts("ztunnel 0.1.0") >= 0 ? zt::kExitOk : zt::kExitFailure;
  ambient::setLogLevel(opts->logLevel);  // validated by parseOptions
  // Buffers of 128 KiB and more (slow readers' stream rings) come from mmap and go back to the
  // kernel when freed. glibc's default threshold rises after each such free (up to 32 MiB),
  // after which released rings stay in the heap: +8 MiB instead of +4 MiB per slow stream
  // in tests/ztunnel/slow_reader_netns_test.sh.
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  return zt::runProxy(*opts);
}
