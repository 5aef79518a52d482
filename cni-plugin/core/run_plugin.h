// The whole CNI verb handling of ambient-cni as one function of (environment, stdin, agent):
// VERSION, ADD, DEL, CHECK, STATUS, GC. No I/O besides the AgentClient it is given. Pure.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "cni-plugin/core/agent_client.h"
#include "cni-plugin/core/metadata_lookup.h"

namespace ambient::cni {

struct CniInvocation {
  std::map<std::string, std::string> env;  // CNI_COMMAND, CNI_CONTAINERID, CNI_ARGS, ...
  std::string stdinText;                   // the network config
};

struct CniOutcome {
  std::string stdoutText;  // result or error JSON, newline-terminated; "" for DEL/CHECK/GC
  int exitCode = 0;        // 0 success, 1 with a CNI error on stdout
  uint32_t cniCode = 0;    // the CNI error code when exitCode is 1

  // For the invocation log (config fields logFile/logLevel); empty when unknown.
  std::string command;
  std::string containerId;
  std::string pod;      // "namespace/name" for Kubernetes pods
  std::string verdict;  // agent verdict, "passthrough", "agent-unreachable",
                        // "agent-down-not-ambient", "ok" or "error"
  std::string error;    // the error message (and details) when exitCode is 1
  std::string warning;  // a success the operator should know about (ADD without the agent)
  std::string logFile;
  std::string logLevel;
  std::string agentRequest;  // the protocol line sent, for logLevel debug
  std::string agentReply;
};

// Makes `o` a failure: the CNI error JSON (cniVersion `ver`, "" for 1.1.0) on stdout, exit code
// 1, verdict "error", and `error` for the log (msg and details).
CniOutcome& failOutcome(CniOutcome& o, const std::string& ver, uint32_t code,
                        const std::string& msg, const std::string& details = "");

// `lookup` is asked only on ADD when the agent cannot be reached and the config names a
// `kubeconfig` (see agent_down_fallback.h). The two-argument form has no API lookup.
CniOutcome runPlugin(const CniInvocation& in, AgentClient& agent, MetadataLookup& lookup);
CniOutcome runPlugin(const CniInvocation& in, AgentClient& agent);

}  // namespace ambient::cni
