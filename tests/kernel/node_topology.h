// A node namespace with a ztunnel pod namespace on a veth, as a CNI like ptp builds it:
// node end "vethzt" holds the gateway 10.244.1.1/32, the pod's eth0 holds 10.244.1.3/32.
// Optional ambient pods and a remote host for packet tests. Touches the kernel.
#pragma once

#include "kernel_fixture.h"
#include "tests/support/typed_values.h"

namespace ambient::testing {

inline constexpr const char* kGateway = "10.244.1.1";
inline constexpr const char* kZtunnelIp = "10.244.1.3";

// A host outside the node, reached over "uplink": node 172.30.0.1, remote 172.30.0.2, which
// routes the pod network 10.244.0.0/16 back through the node.
inline void connectRemote(const TestNetns& node, TestNetns& remote) {
  must(node.ip("link add uplink type veth peer name eth0 netns " + remote.name()));
  must(node.ip("addr add 172.30.0.1/24 dev uplink"));
  must(node.ip("link set uplink up"));
  must(remote.ip("addr add 172.30.0.2/24 dev eth0"));
  must(remote.ip("link set eth0 up"));
  must(remote.ip("route add 10.244.0.0/16 via 172.30.0.1"));
}

class NodeTopology {
 public:
  NodeTopology() {
    // Hosts usually filter reverse paths; start from that so the engine has to turn it off.
    must(node.exec("sysctl -qw net.ipv4.conf.default.rp_filter=1"));
    must(zt.exec("sysctl -qw net.ipv4.conf.default.rp_filter=1"));
    must(node.ip("link add vethzt type veth peer name eth0 netns " + zt.name()));
    must(node.ip("addr add " + std::string(kGateway) + "/32 dev vethzt"));
    must(node.ip("link set vethzt up"));
    must(node.ip("route add " + std::string(kZtunnelIp) + "/32 dev vethzt scope link"));
    podSide(zt, kZtunnelIp);
    must(node.exec("sysctl -qw net.ipv4.ip_forward=1"));
  }

  // A pod namespace on a veth named `hostVeth` in the node, with address `ip`.
  void addPod(TestNetns& pod, const std::string& hostVeth, const std::string& ip) {
    must(node.ip("link add " + hostVeth + " type veth peer name eth0 netns " + pod.name()));
    must(node.ip("addr add " + std::string(kGateway) + "/32 dev " + hostVeth));
    must(node.ip("link set " + hostVeth + " up"));
    must(node.ip("route add " + ip + "/32 dev " + hostVeth + " scope link"));
    podSide(pod, ip);
  }

  // A pod on a bridge, as the bridge plugin leaves it: its veth `hostVeth` a port of `bridge`
  // (created, without an address, when missing), `ip` in the bridge's /24.
  void addBridgedPod(TestNetns& pod, const std::string& bridge, const std::string& hostVeth,
                     const std::string& ip) {
    if (sh(node.ip("link show " + bridge)).rc != 0) {
      must(node.ip("link add " + bridge + " type bridge"));
      must(node.ip("link set " + bridge + " up"));
    }
    must(node.ip("link add " + hostVeth + " type veth peer name eth0 netns " + pod.name()));
    must(node.ip("link set " + hostVeth + " master " + bridge + " up"));
    must(pod.ip("addr add " + ip + "/24 dev eth0"));
    must(pod.ip("link set eth0 up"));
  }

  // The pod end as the ptp plugin leaves it: a /32 address, the gateway on-link, default via it
  // (no subnet route: every packet goes through the node).
  static void podSide(TestNetns& pod, const std::string& ip) {
    must(pod.ip("addr add " + ip + "/32 dev eth0"));
    must(pod.ip("link set eth0 up"));
    must(pod.ip("route add " + std::string(kGateway) + "/32 dev eth0 scope link"));
    must(pod.ip("route add default via " + std::string(kGateway) + " dev eth0"));
  }

  void addRemote(TestNetns& remote) { connectRemote(node, remote); }

  void addPodVeths(int count) {
    std::string batch;
    for (int i = 0; i < count; ++i) {
      batch += "link add vethp" + std::to_string(i) + " type veth peer name vethq" +
               std::to_string(i) + "\n";
    }
    std::string file = "/tmp/" + uniqueName("batch");
    FILE* f = std::fopen(file.c_str(), "w");
    std::fputs(batch.c_str(), f);
    std::fclose(f);
    must(node.ip("-batch " + file));
    unlink(file.c_str());
  }

  static Ipv4 podIp(int i) { return Ipv4{(10u << 24) + (244u << 16) + (2u << 8) + uint32_t(i)}; }

  PlanInput input(int pods) const {
    PlanInput in;
    in.tunnelKind = kernelTunnelKind();
    in.ztunnel =
        ZtunnelEndpoint{*Ipv4::parse(kZtunnelIp), "vethzt", IpAddress(kGateway), "eth0", 1500};
    for (int i = 0; i < pods; ++i) {
      in.pods.push_back(EnrolledPod{podIp(i), testing::ifOf("vethp" + std::to_string(i))});
    }
    return in;
  }

  NetnsTarget nodeTarget() const { return {node.path(), NetnsRole::kNode}; }
  NetnsTarget ztTarget() const { return {zt.path(), NetnsRole::kZtunnel}; }

  // Applies both namespaces' plans and returns the number of changes made.
  size_t apply(const PlanInput& in, SysctlLedger& ledger) {
    auto nodePlan = computeNodePlan(in);
    auto ztPlan = computeZtunnelPlan(in);
    REQUIRE(nodePlan);
    REQUIRE(ztPlan);
    auto a = reconcile(kernel, nodeTarget(), *nodePlan, ledger);
    INFO((a ? "" : a.error().message()));
    REQUIRE(a);
    auto b = reconcile(kernel, ztTarget(), *ztPlan, ledger);
    INFO((b ? "" : b.error().message()));
    REQUIRE(b);
    return a->changes.size() + b->changes.size();
  }

  TestNetns node{"node"};
  TestNetns zt{"zt"};
  LinuxKernel kernel;
};

}  // namespace ambient::testing
