// The CNI 1.1.0 verbs that concern the node rather than one attachment: STATUS (can the agent
// serve ADDs?) and GC (the runtime's valid attachments; the agent releases the others). Pure.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cni-plugin/core/agent_client.h"
#include "cni-plugin/core/run_plugin.h"
#include "common/core/agent_protocol.h"

namespace ambient::cni {

// The config key of GC's list, and the name libcni also writes it under (an earlier draft's).
inline constexpr const char* kValidAttachmentsKey = "cni.dev/valid-attachments";
inline constexpr const char* kAttachmentsKeyAlias = "cni.dev/attachments";

// Reads `cni.dev/valid-attachments` (or, when absent, `cni.dev/attachments`): an array of
// objects with non-empty string `containerID` and string `ifname`. The error (CNI code 7) names
// the entry and field; a config with neither key is an error too (GC never guesses).
tl::expected<std::vector<Attachment>, std::string> readValidAttachments(
    const nlohmann::ordered_json& conf);

// STATUS: "ready" exits 0 with no output; the agent unreachable or answering an error (not
// ready, whatever code it gives) is code 50; a bad reply code 6.
CniOutcome& runStatus(CniOutcome& o, const std::string& ver, const AgentEndpoint& at,
                      AgentClient& agent);

// GC: sends the list; "released" exits 0 with no output; an agent error keeps its code (11 when
// it gives none); the agent unreachable is code 11 (try again later: only the agent can
// release pods, and the runtime runs GC again).
CniOutcome& runGc(CniOutcome& o, const std::string& ver, const nlohmann::ordered_json& conf,
                  const AgentEndpoint& at, AgentClient& agent);

}  // namespace ambient::cni
