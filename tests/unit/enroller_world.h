// A node for enroller tests: the in-memory seams, a ztunnel-less start, helpers to send plugin
// requests and read the node's kernel model. Pure.
#pragma once

#include <memory>

#include "agent_fakes.h"
#include "node-agent/core/enroller.h"
#include "tests/support/ztunnel_registration.h"

namespace ambient::testing {

inline constexpr const char* kNode = "/proc/self/ns/net";

struct World {
  World() {
    kernel.namespaces[kNode] = ObservedState{};
    kernel.namespaces["/var/run/netns/zt-1"] = ObservedState{};
    kernel.namespaces["/var/run/netns/zt-2"] = ObservedState{};
    meta.meta.namespaces["foo"].labels = {{"istio.io/dataplane-mode", "ambient"}};
    meta.meta.namespaces["bar"].labels = {{"istio-injection", "enabled"}};
    meta.meta.pods["istio-system/ztunnel-a"] = {{{"app", "ztunnel"}}, {}, "ztunnel"};
    meta.meta.pods["istio-system/ztunnel-b"] = {{{"app", "ztunnel"}}, {}, "ztunnel"};
    meta.meta.pods["other/fake-ztunnel"] = {{{"app", "ztunnel"}}, {}, "ztunnel"};
    REQUIRE(enroller.start({}));
  }

  PodReply send(PodCommand cmd, const std::string& ns, const std::string& name, int n,
                const std::string& ip, const std::string& netns = "") {
    return enroller.handle(request(cmd, ns, name, n, ip, netns));
  }
  // The request for pod `ns/name` (tests/support/pod_requests.h), in `netns` or else in
  // /var/run/netns/pod-<n>.
  PodRequest request(PodCommand cmd, const std::string& ns, const std::string& name, int n,
                     const std::string& ip, const std::string& netns = "") {
    return podRequest(cmd, ns, name,
                      netns.empty() ? "/var/run/netns/pod-" + std::to_string(n) : netns, ip);
  }
  // Another agent on the same node, state and API, as after a restart (not started yet).
  std::unique_ptr<Enroller> restarted() {
    return std::make_unique<Enroller>(EnrollerConfig{{kNode, TunnelKind::kGeneve, 6081, 0}, {}},
                                      kernel, ledger, store, inspector, meta, EnrollerEvents{},
                                      nullptr, nullptr, &clock);
  }
  // The node's ztunnel pod istio-system/ztunnel-a starting in zt-1 with 10.244.1.3.
  PodReply registerZtunnel() {
    return addZtunnel("ztunnel-a", "10.244.1.3", "/var/run/netns/zt-1");
  }
  // The same with ztunnel's veth (veth1) a port of bridge cni0 (bridge mode); returns what the
  // inspector reports for that bridge, which tests may change.
  BridgeAttachment& registerZtunnelOnCni0() {
    inspector.masters["/var/run/netns/zt-1"] = LinkMaster{"cni0", "bridge"};
    inspector.bridges["veth1"] =
        BridgeAttachment{"cni0", *MacAddr::parse("02:42:0a:f4:01:01"),
                         *Ipv4Prefix::parse("10.244.1.0/24"), *MacAddr::parse("0a:58:0a:f4:01:03")};
    REQUIRE(registerZtunnel().verdict == PodVerdict::kNotAmbient);
    REQUIRE(node().owned.bridgeNft);
    return inspector.bridges["veth1"];
  }
  // Ztunnel pod istio-system/<name> starting in `netns` with `ip`.
  PodReply addZtunnel(const std::string& name, const std::string& ip, const std::string& netns) {
    return enroller.handle(ztunnelAdd(netns, ip, name));
  }
  const ObservedState& node() { return kernel.namespaces[kNode]; }
  std::vector<IpAddress> members() {
    if (!node().owned.nft) return {};
    return node().owned.nft->sets[0].elements;
  }

  FakeKernel kernel;
  MemoryLedger ledger;
  MemoryStore store;
  FakeInspector inspector;
  StaticMetadata meta;
  RecordingAnnotator annotator;
  FakeScanner scanner;
  // The default deletion grace (30 s) holds; tests move the clock past it.
  FakeClock clock;
  Enroller enroller{EnrollerConfig{{kNode, TunnelKind::kGeneve, 6081, 0}, {}},
                    kernel,
                    ledger,
                    store,
                    inspector,
                    meta,
                    {},
                    &annotator,
                    &scanner,
                    &clock};
};

}  // namespace ambient::testing
