// In-memory stand-ins for the agent's seams in pure tests: a kernel model behind KernelPort
// (with error injection), a ledger, a registry store, a pod inspector and static metadata.
// Pure.
#pragma once

#include <map>
#include <set>

#include "common/core/kernel_port.h"
#include "kernel_model.h"
#include "node-agent/core/agent_ports.h"
#include "tests/support/typed_values.h"

namespace ambient::testing {

class MemoryLedger : public SysctlLedger {
 public:
  std::map<std::string, std::string> entries(NetnsRole role) const override {
    auto it = byRole.find(role);
    return it == byRole.end() ? std::map<std::string, std::string>{} : it->second;
  }
  std::optional<std::string> original(NetnsRole role, const std::string& key) const override {
    auto m = entries(role);
    auto it = m.find(key);
    return it == m.end() ? std::nullopt : std::optional<std::string>(it->second);
  }
  Status record(NetnsRole role, const std::string& key, const std::string& v) override {
    byRole[role].emplace(key, v);
    return {};
  }
  Status forget(NetnsRole role, const std::string& key) override {
    byRole[role].erase(key);
    return {};
  }
  std::map<NetnsRole, std::map<std::string, std::string>> byRole;
};

class FakeKernel : public KernelPort {
 public:
  // Namespaces that exist; observing or applying to any other path is "not found".
  std::map<std::string, ObservedState> namespaces;
  int failApplies = 0;  // the next N applies fail, as a netlink error would
  int applies = 0;
  int observes = 0;
  ChangeSet lastApplied;

  Result<NetnsPlan> observe(const NetnsTarget& t, const std::vector<std::string>&) override {
    ++observes;
    auto it = namespaces.find(t.path);
    if (it == namespaces.end()) return fail(ErrorCode::kNotFound, "namespace " + t.path);
    NetnsPlan p = it->second.owned;
    p.role = t.role;
    return p;
  }
  Status apply(const NetnsTarget& t, const ChangeSet& cs, SysctlLedger& ledger) override {
    ++applies;
    lastApplied = cs;
    if (failApplies > 0) {
      --failApplies;
      return fail(ErrorCode::kKernel, "injected netlink error applying to " + t.path, 105);
    }
    auto it = namespaces.find(t.path);
    if (it == namespaces.end()) return fail(ErrorCode::kNotFound, "namespace " + t.path);
    for (const auto& c : cs.changes) {
      if (auto* s = std::get_if<SysctlSpec>(&c.object)) {
        if (c.kind == ChangeKind::kCreate) (void)ledger.record(t.role, s->key, "1");
        if (c.kind == ChangeKind::kDelete) (void)ledger.forget(t.role, s->key);
      }
    }
    it->second = model(it->second, cs);
    return {};
  }
};

class MemoryStore : public RegistryStore {
 public:
  Status putPod(const PodRecord& p) override {
    return change([&] { saved.pods[p.uid] = p; });
  }
  Status removePod(const std::string& uid) override {
    return change([&] { saved.pods.erase(uid); });
  }
  Status setZtunnel(const ZtunnelRecord& z) override {
    return change([&] { saved.ztunnel = z; });
  }
  template <class F>
  Status change(F f) {
    if (failSaves > 0) {
      --failSaves;
      return fail(ErrorCode::kIo, "write registry (disk full?)", 28);
    }
    f();
    ++saves;
    return {};
  }
  PodRegistry saved;
  int saves = 0;
  int failSaves = 0;
};

class FakeInspector : public PodInspector {
 public:
  Result<PodLink> inspect(const std::string& netns, const IfName&) override {
    if (netns.find("missing") != std::string::npos) {
      return fail(ErrorCode::kNotFound, "network namespace " + netns + " cannot be opened");
    }
    // "/var/run/netns/pod-7" -> host veth "veth7"
    PodLink link{ifOf("veth" + netns.substr(netns.rfind('-') + 1)), IpAddress("10.244.1.1"), 1500};
    if (auto g = gateways.find(netns); g != gateways.end()) link.gateway = g->second;
    if (auto k = kinds.find(netns); k != kinds.end()) link = PodLink{{}, {}, 1500, k->second};
    if (auto m = masters.find(netns); m != masters.end()) link.hostMaster = m->second;
    if (auto m = macs.find(netns); m != macs.end()) link.mac = m->second;
    if (auto a = ipv6.find(netns); a != ipv6.end()) link.ipv6 = a->second;
    return link;
  }
  bool netnsGone(const std::string& netns) override {
    return netns.empty() || netns.find("missing") != std::string::npos || gone.count(netns) != 0;
  }
  Result<std::optional<BridgeAttachment>> bridgeOf(const ZtunnelRecord& z) override {
    if (bridgeError) return fail(*bridgeError);
    if (auto b = bridges.find(z.hostVeth.str()); b != bridges.end())
      return std::optional(b->second);
    return std::optional<BridgeAttachment>();
  }
  // The host veths of the pods in `masters` (netns "/var/run/netns/pod-7" -> "veth7"), each
  // with its master, and those of `routedPorts` with none; any other veth is reported gone.
  Result<std::map<IfName, std::optional<LinkMaster>>> nodePortMasters() override {
    if (portsError) return fail(*portsError);
    std::map<IfName, std::optional<LinkMaster>> out;
    auto veth = [](const std::string& netns) {
      return ifOf("veth" + netns.substr(netns.rfind('-') + 1));
    };
    for (const auto& [netns, master] : masters) out.emplace(veth(netns), master);
    for (const auto& netns : routedPorts) out.emplace(veth(netns), std::nullopt);
    return out;
  }
  std::set<std::string> gone;                          // netns paths removed since their pod's ADD
  std::set<std::string> routedPorts;                   // netns whose host veth has no master
  std::optional<Error> portsError;                     // nodePortMasters fails with this
  std::map<std::string, std::string> kinds;            // netns -> a pod interface that is no veth
  std::map<std::string, LinkMaster> masters;           // netns -> what its host veth is a port of
  std::map<std::string, MacAddr> macs;                 // netns -> its pod interface's MAC
  std::map<std::string, std::vector<IpAddress>> ipv6;  // netns -> its global IPv6 addresses
  std::map<std::string, IpAddress> gateways;           // netns -> its gateway (else 10.244.1.1)
  std::map<std::string, BridgeAttachment> bridges;     // host veth -> its bridge (bridgeOf)
  std::optional<Error> bridgeError;                    // bridgeOf fails with this
};

class RecordingAnnotator : public PodAnnotator {
 public:
  void markEnrolled(const std::string& ns, const std::string& name, bool enrolled) override {
    marks[ns + "/" + name] = enrolled;
    ++calls;
  }
  std::map<std::string, bool> marks;  // last mark per "namespace/name"
  int calls = 0;
};

// The node's network namespaces as a list; counts scans (one per pass at most).
class FakeScanner : public NetnsScanner {
 public:
  Result<NetnsScan> scan() override {
    ++scans;
    if (failScan) return fail(ErrorCode::kIo, "cannot list /proc", 13);
    NetnsScan out;
    out.interfaces = interfaces;
    out.unreadable = unreadable;
    return out;
  }
  // A pod namespace "/var/run/netns/pod-<n>" (inode n) holding `ips` on eth0.
  void addPod(int n, const std::vector<std::string>& ips) {
    interfaces.push_back(
        {"/var/run/netns/pod-" + std::to_string(n), static_cast<uint64_t>(n), "eth0", ipsOf(ips)});
  }
  std::vector<NetnsInterface> interfaces;
  size_t unreadable = 0;
  bool failScan = false;
  int scans = 0;
};

class StaticMetadata : public MetadataSource {
 public:
  SnapshotPtr snapshot() override { return std::make_shared<const MetadataSnapshot>(meta); }
  MetadataSnapshot meta;
};

// Time that moves only when a test says so.
class FakeClock : public Clock {
 public:
  TimePoint now() const override { return now_; }
  void advance(std::chrono::milliseconds d) { now_ += d; }

 private:
  TimePoint now_{std::chrono::hours(1000)};
};

}  // namespace ambient::testing
