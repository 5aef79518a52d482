// The engine's input for this node: the registry's ztunnel and enrolled pods with the settings
// the agent resolved at start. Shared by the agent and ambientctl so both compute one plan. Pure.
#pragma once

#include "common/core/compute_plan.h"
#include "node-agent/core/agent_runtime_config.h"
#include "node-agent/core/pod_registry.h"

namespace ambient {

// kUnavailable when no ztunnel is registered yet; the records' addresses were checked when
// they were decoded or stored, so nothing else can fail. `ztunnelBridge` is the bridge
// ztunnel's veth is a port of, read from the node (bridge mode), if any.
// An enrolled record as the engine sees it: its first IPv4 address, its IPv6 one if any, its
// host veth (validatePodRecord holds for every enrolled record).
EnrolledPod enrolledPodOf(const PodRecord& pod);

Result<PlanInput> planInputFrom(const PodRegistry& registry, const AgentRuntimeConfig& config,
                                const std::optional<BridgeAttachment>& ztunnelBridge);

// The node mode computePodChange needs, without walking the pods (kUnavailable as above).
Result<NodeMode> nodeModeFrom(const PodRegistry& registry, const AgentRuntimeConfig& config,
                              const std::optional<BridgeAttachment>& ztunnelBridge);

}  // namespace ambient
