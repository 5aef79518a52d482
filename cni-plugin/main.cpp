// ambient-cni: thin main of the chained CNI plugin; reads env + stdin, runs runPlugin() with
// the Unix-socket agent client, prints the outcome. Touches files and sockets.
#include <cstdio>
#include <iostream>

#include "cni-plugin/core/cni_request.h"
#include "cni-plugin/core/run_plugin.h"
#include "cni-plugin/sys/agent_client.h"

extern char** environ;

int main() {
  ambient::cni::CniInvocation in;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    if (auto eq = kv.find('='); eq != std::string::npos)
      in.env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  char buf[65536];
  while (in.stdinText.size() <= ambient::cni::kMaxStdinBytes &&
         (std::cin.read(buf, sizeof buf) || std::cin.gcount() > 0))
    in.stdinText.append(buf, static_cast<size_t>(std::cin.gcount()));
  ambient::cni::UnixAgentClient agent;
  auto out = ambient::cni::runPlugin(in, agent);
  std::fwrite(out.stdoutText.data(), 1, out.stdoutText.size(), stdout);
  return out.exitCode;
}
