// ambient-agent: the node agent. See `ambient-agent --help`.
#include <cstdio>
#include <cstdlib>
#include <map>

#include "node-agent/core/agent_flags.h"
#include "node-agent/sys/agent_app.h"

int main(int argc, char** argv) {
  std::map<std::string, std::string> env;
  for (const char* name : {"NODE_NAME", "KUBERNETES_SERVICE_HOST"}) {
    if (const char* v = std::getenv(name)) env[name] = v;
  }
  auto flags = ambient::parseAgentFlags(std::vector<std::string>(argv + 1, argv + argc), env);
  if (!flags) {
    std::fprintf(stderr, "ambient-agent: %s (see --help)\n", flags.error().message().c_str());
    return 2;
  }
  if (flags->command == "help") {
    std::fputs(ambient::agentUsage().c_str(), stdout);
    return 0;
  }
  if (flags->command == "uninstall") return ambient::runUninstall(*flags);
  return ambient::runAgent(*flags);
}
