// The agent's decisions: handles the plugin's ADD/DEL/CHECK, keeps the registry, learns the
// ztunnel pod and reconciles the node and ztunnel namespaces through the engine. One writer:
// every entry point takes the same lock. Pure logic over the seams.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>

#include "common/core/agent_protocol.h"
#include "common/core/compute_plan.h"
#include "common/core/kernel_port.h"
#include "node-agent/core/agent_ports.h"
#include "node-agent/core/agent_runtime_config.h"

namespace ambient {

struct EnrollerConfig {
  AgentRuntimeConfig runtime;  // node namespace and tunnel settings
  MembershipPolicy policy;
  // A pod registered by the plugin less than this long ago is never taken for deleted because
  // the API's list does not show it yet (the watch may lag behind the runtime).
  std::chrono::milliseconds deletionGrace{30000};
  // The pod's default network interface (CNI_IFNAME of the cluster network). An ADD or DEL for
  // another interface (a Multus secondary network) neither enrolls nor releases the pod.
  IfName podIfname = "eth0";
};

// What the enroller reports to metrics; called outside no lock.
struct EnrollerEvents {
  std::function<void(PodCommand, double seconds)> handled;
  std::function<void(const std::string& kind)> error;
  std::function<void()> reconciled;
  // A pod enrolled or released by resync (not by the plugin), with why.
  std::function<void(const PodRecord& pod, bool enrolled, const std::string& why)> resynced;
  // An ambient pod of this node that stays outside the mesh, with why; called when the reason
  // is new (not on every pass).
  std::function<void(const std::string& pod, const std::string& why)> notEnrolled;
  // A discovery scan that skipped entries it could not read.
  std::function<void(size_t unreadable, const std::string& first)> scanProblem;
  // ztunnel's veth joined, left or changed bridge, or its bridge changed MAC or subnet (bridge
  // mode turns on, off, or is re-planned).
  std::function<void(const std::optional<BridgeAttachment>& before,
                     const std::optional<BridgeAttachment>& after)>
      bridgeChanged;
  // A family of the enrolled pods' addresses became fail closed (with why) or redirected again
  // (nullopt).
  std::function<void(IpAddress::Family family, const std::optional<std::string>& why)> failClosed;
};

class Enroller {
 public:
  Enroller(EnrollerConfig config, KernelPort& kernel, SysctlLedger& ledger, RegistryStore& store,
           PodInspector& inspector, MetadataSource& metadata, EnrollerEvents events = {},
           PodAnnotator* annotator = nullptr, NetnsScanner* scanner = nullptr,
           const Clock* clock = nullptr);  // nullptr: the steady clock

  // Adopts a registry loaded from disk and converges the kernel to it.
  Status start(PodRegistry loaded);
  PodReply handle(const PodRequest& request);
  // A full level-triggered pass over both namespaces.
  Status reconcileAll();
  // Re-decides every registered pod against the current metadata, without restarts: enrolls
  // pods whose namespace became ambient, releases pods that left ambient, and forgets pods the
  // API no longer has (only when the snapshot is the API's complete list). A pod that cannot
  // be enrolled now (no ztunnel, namespace gone) is retried by the next call. Errors are
  // counted; the first is returned after every pod was tried.
  // Then the discovery pass: ambient pods of this node missing from the registry (never seen
  // through CNI) are found in the node's network namespaces (one scan, only when some pod is
  // missing) and enrolled; those that cannot be are listed by notEnrolled().
  Status resync();
  // Ambient pods of this node outside the mesh after the last resync, "namespace/name" ->
  // why ("namespace not found", "IPv6 address ...").
  std::map<std::string, std::string> notEnrolled() const;
  // Ready: started, ztunnel known, last pass clean. `reason` says why not.
  bool ready(std::string* reason) const;
  // Why the enrolled pods' TCP of `family` is dropped instead of redirected, as of the last
  // pass (ipv4FailClosedReason, ipv6FailClosedReason); nullopt when it is redirected or no
  // enrolled pod has an address of that family.
  std::optional<std::string> failClosed(IpAddress::Family family) const;

  PodRegistry registry() const;
  size_t enrolledCount() const;
  // The desired node and ztunnel plans and their targets, for `verify`.
  Result<PlanInput> planInput() const;
  // Bridge mode and which families are redirected, without walking the pods.
  Result<NodeMode> nodeMode() const;

 private:
  PodReply add(const PodRequest& r);
  PodReply del(const PodRequest& r);
  PodReply check(const PodRequest& r);
  PodReply addZtunnel(const PodRequest& r);
  PodReply status();
  // Why the agent is not ready ("" when it is): the one source of ready() and STATUS.
  std::string notReadyLocked() const;
  PodReply gc(const PodRequest& r);
  // Why an enrollment failed, with the CNI code an ADD answers. `error` does not name the pod:
  // the not-enrolled report is keyed by the pod, and the ADD reply and logs add podLabel.
  struct EnrollFailure {
    uint32_t cniCode;
    std::string kind;  // metrics label
    Error error;
  };
  // The one enroll path of ADD, resync and discovery: the same preconditions (ztunnel known,
  // IPv4 addresses, no IP enrolled for another pod, the pod's veth found and capturable, a
  // record the loader accepts), then persist, then program, then mark the pod.
  std::optional<EnrollFailure> enrollLocked(PodRecord rec);
  // Releases and forgets a registered pod (DEL, GC, resync).
  Status releaseLocked(const PodRecord& rec);
  // The discovery pass (see resync); returns the first error.
  Status discoverLocked(const MetadataSnapshot& meta,
                        std::map<std::string, std::string>& notEnrolled);
  // Before an ADD registers `r.ips`: another registered pod with one of these IPs whose
  // network namespace is gone was removed without a DEL and is released and forgotten. When
  // the other pod is still there and enrolled, an ambient ADD is refused (code 7, naming it):
  // the node plan cannot hold one IP twice. Returns the refusal, or nothing to go on.
  std::optional<PodReply> claimIpsLocked(const PodRequest& r, bool ambient);
  // The enrolled pod other than `uid` that has one of `ips`, or null.
  const PodRecord* enrolledWithIp(const std::vector<IpAddress>& ips, const std::string& uid) const;
  // Persists the record, then puts it in the registry (untouched when persisting fails).
  Status store(const PodRecord& rec);
  // Removes the record from disk, then from the registry.
  Status forget(const std::string& uid);
  Status reconcileLocked();
  // After a pod change: applies only the difference between the last plan the kernel was
  // brought to and the new one (one element, one route, one sysctl), without reading the whole
  // kernel state; falls back to a full pass when there is no trusted last plan. The periodic
  // full pass repairs any drift.
  Status applyPodChangeLocked(const PodRecord& pod, bool enroll);
  // Why an enrolled pod's host veth can no longer be captured (it was moved to another bridge
  // or a non-bridge master since its enrollment), or nothing. `ports`: nodePortMasters(), which
  // also gives ztunnel's bridge (one snapshot, whatever the last pass read).
  std::optional<std::string> uncapturablePort(
      const PodRecord& rec, const std::map<IfName, std::optional<LinkMaster>>& ports) const;
  // Enrolls or releases one registered pod; `why` is the membership reason.
  Status setEnrolledLocked(PodRecord rec, bool enroll, const std::string& why);
  PodReply errorReply(uint32_t code, std::string message, const std::string& kind);

  EnrollerConfig config_;
  KernelPort& kernel_;
  SysctlLedger& ledger_;
  RegistryStore& store_;
  PodInspector& inspector_;
  MetadataSource& metadata_;
  EnrollerEvents events_;
  PodAnnotator* annotator_;
  NetnsScanner* scanner_;
  const Clock& clock_;

  mutable std::mutex mu_;
  PodRegistry registry_;
  std::atomic<size_t> enrolledCount_ = 0;  // pods in registry_ with enrolled set
  // When this process registered each pod (pods adopted at start are old).
  std::map<std::string, Clock::TimePoint> registeredAt_;
  bool started_ = false;
  // Reads ztunnel's bridge facts into ztunnelBridge_; a failure fails the pass.
  Status readZtunnelBridgeLocked();
  bool nodeTrusted_ = false;  // the node matched the plan after the last pass or change
  // The bridge ztunnel's veth is a port of, as the last pass read it (bridge mode).
  std::optional<BridgeAttachment> ztunnelBridge_;
  std::optional<std::string> ipv4FailClosed_, ipv6FailClosed_;
  std::string lastError_;
  std::map<std::string, std::string> notEnrolled_;
};

}  // namespace ambient
