// The agent's seams besides KernelPort: where the registry is stored, how a pod's network
// namespace is inspected, where metadata comes from. Real implementations live in
// node-agent/sys; tests substitute their own. Pure (interfaces).
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>

#include "common/core/compute_plan.h"
#include "common/core/error.h"
#include "common/mesh/membership.h"
#include "node-agent/core/pod_discovery.h"
#include "node-agent/core/pod_registry.h"

namespace ambient {

// Where the registry lives; each change is durable when the call returns.
class RegistryStore {
 public:
  virtual ~RegistryStore() = default;
  virtual Status putPod(const PodRecord& pod) = 0;
  virtual Status removePod(const std::string& uid) = 0;
  virtual Status setZtunnel(const ZtunnelRecord& ztunnel) = 0;
};

// The device a pod's host-side interface is enslaved to (a bridge, an Open vSwitch datapath).
struct LinkMaster {
  IfName name;
  std::string kind;  // rtnetlink's IFLA_INFO_KIND: "bridge", "openvswitch", "bond", ...
  bool operator==(const LinkMaster&) const = default;
};

struct PodLink {
  IfName hostVeth;                       // node end of the pod's veth (empty when it is no veth)
  std::optional<IpAddress> gateway;      // the pod's default gateway, when it has one
  uint32_t mtu = 1500;                   // MTU of the pod's interface
  std::string kind = "veth";             // the pod interface's IFLA_INFO_KIND ("macvlan", "ipvlan")
  std::optional<LinkMaster> hostMaster;  // what hostVeth is a port of, when anything
  std::optional<MacAddr> mac;            // the pod interface's own MAC address
  std::vector<IpAddress> ipv6;           // its global IPv6 addresses (not link-local)
};

class PodInspector {
 public:
  virtual ~PodInspector() = default;
  // Reads the pod's interface `ifname` inside `netns` and finds its peer in the node.
  virtual Result<PodLink> inspect(const std::string& netns, const IfName& ifname) = 0;
  // True when `netns` certainly no longer exists (the path is missing): its pod was removed.
  // False when it exists or cannot be told.
  virtual bool netnsGone(const std::string& netns) = 0;
  // The bridge ztunnel's node-side veth is a port of, with its MAC and subnet and ztunnel's own
  // MAC (nullopt: none), read on every pass (common/sys/bridge_facts.h).
  virtual Result<std::optional<BridgeAttachment>> bridgeOf(const ZtunnelRecord& ztunnel) = 0;
  // Every interface of the node namespace, by name, with what it is a port of (one rtnetlink
  // dump): each pass re-checks enrolled pods' host veths with it (a veth moved to another
  // bridge). A veth missing from the map no longer exists.
  virtual Result<std::map<IfName, std::optional<LinkMaster>>> nodePortMasters() = 0;
};

// Finds the node's network namespaces and the addresses inside them, for the discovery pass.
struct NetnsScan {
  std::vector<NetnsInterface> interfaces;
  size_t namespaces = 0;     // distinct namespaces read (the node's own left out)
  size_t unreadable = 0;     // entries that could not be read (permissions, a namespace that
                             // vanished during the scan): skipped
  std::string firstProblem;  // what the first unreadable entry said, for the log
};

class NetnsScanner {
 public:
  virtual ~NetnsScanner() = default;
  // One pass over the runtimes' netns directories and /proc/*/ns/net, deduplicated by inode.
  virtual Result<NetnsScan> scan() = 0;
};

class MetadataSource {
 public:
  virtual ~MetadataSource() = default;
  // The current snapshot; never null.
  virtual SnapshotPtr snapshot() = 0;
};

// Sets or clears the pod annotation ambient.istio.io/redirection=enabled on the API server.
// Never blocks the caller: a real annotator queues and retries on its own thread.
class PodAnnotator {
 public:
  virtual ~PodAnnotator() = default;
  virtual void markEnrolled(const std::string& podNamespace, const std::string& podName,
                            bool enrolled) = 0;
};

// The enroller's monotonic time: when a pod was registered, how long a request took. Tests
// substitute a clock they move by hand.
class Clock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
};

class SteadyClock final : public Clock {
 public:
  TimePoint now() const override { return std::chrono::steady_clock::now(); }
};

}  // namespace ambient
