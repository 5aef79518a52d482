// ambient-cni-api-lookup: the Kubernetes API reader of ambient-cni's agent-down fallback, run by
// the plugin only when the agent cannot be reached (so the plugin itself loads no HTTP, TLS or
// YAML library). Prints one reply line (core/lookup_reply.h). Touches files and the network.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "cni-plugin/core/lookup_reply.h"
#include "cni-plugin/sys/api_object_fetch.h"

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr,
                 "usage: %s KUBECONFIG TIMEOUT_MS NAMESPACE POD\n"
                 "Prints {\"namespace\":...,\"pod\":...} (null when not found) or "
                 "{\"error\":...}. Exit codes: 0 a reply was printed, 2 usage error.\n",
                 ambient::cni::kApiLookupBinary);
    return 2;
  }
  ambient::cni::ApiLookupTarget target{argv[1], std::atoi(argv[2])};
  if (target.timeoutMs < 1 || target.timeoutMs > 60000) {
    std::fprintf(stderr, "%s: TIMEOUT_MS must be 1..60000\n", ambient::cni::kApiLookupBinary);
    return 2;
  }
  auto got = ambient::cni::fetchPodObjects(target, argv[3], argv[4]);
  std::string line = got ? ambient::cni::renderLookupReply(got->namespaceObject, got->podObject)
                         : ambient::cni::renderLookupError(got.error().message());
  std::fwrite(line.data(), 1, line.size(), stdout);
  return 0;
}
