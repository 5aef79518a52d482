// ambient-cni: thin main of the chained CNI plugin; reads env + stdin, runs runPlugin() with
// the Unix-socket agent client (and ambient-cni-api-lookup while the agent is down),
// prints the outcome, appends the invocation log line when the
// config names a logFile (a log that cannot be written never fails the call). Touches files
// and sockets.
#include <chrono>
#include <cstdio>
#include <iostream>

#include "cni-plugin/core/cni_request.h"
#include "cni-plugin/core/invocation_log.h"
#include "cni-plugin/core/run_plugin.h"
#include "cni-plugin/sys/agent_client.h"
#include "cni-plugin/sys/exec_metadata_lookup.h"
#include "cni-plugin/sys/log_file.h"

extern char** environ;

int main() {
  using namespace std::chrono;
  const auto wallStart = system_clock::now();
  const auto start = steady_clock::now();
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
  ambient::cni::ExecMetadataLookup lookup(ambient::cni::ExecMetadataLookup::besideSelf());
  auto out = ambient::cni::runPlugin(in, agent, lookup);
  std::fwrite(out.stdoutText.data(), 1, out.stdoutText.size(), stdout);
  std::fflush(stdout);
  auto line = ambient::cni::renderLogLine(
      out, duration_cast<microseconds>(wallStart.time_since_epoch()).count(),
      duration_cast<microseconds>(steady_clock::now() - start).count());
  if (line) {
    if (auto st = ambient::cni::appendLine(out.logFile, *line); !st)
      std::fprintf(stderr, "ambient-cni: warning: %s\n", st.error().message().c_str());
  }
  return out.exitCode;
}
