// ztunnel_bench entry point: `run` (default) orchestrates; `serve`/`client` are the peers it
// starts inside namespaces; `policies` times authorization per connection. See --help.
#include <cstdio>
#include <string>
#include <vector>

#include "bench_peer.h"
#include "bench_policies.h"
#include "bench_run.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string mode = args.empty() ? "run" : args.front();
  // --help anywhere answers without doing any work (no namespaces, no peers).
  for (const std::string& a : args) {
    if (a == "-h" || a == "--help") {
      std::puts(mode == "policies" ? ztbench::policiesHelp() : ztbench::benchHelp());
      return 0;
    }
  }
  if (mode == "serve") return ztbench::runServer({args.begin() + 1, args.end()});
  if (mode == "policies") return ztbench::runPoliciesBenchmark({args.begin() + 1, args.end()});
  if (mode == "client") return ztbench::runClient({args.begin() + 1, args.end()});
  if (mode == "run") args.erase(args.begin(), args.begin() + (args.empty() ? 0 : 1));
  return ztbench::runBenchmark(args);
}
