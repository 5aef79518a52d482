// `ambientctl trace` in IPv6 (issue 20) against the real agent's dual-stack node: the hops come
// from the live ip6 tables, the `ip -6` rules and the kernel's AF_INET6 route answers. Touches
// the kernel.
#include "agent_harness.h"

using namespace ambient;
using namespace ambient::testing;

namespace {

constexpr const char* kZtunnel6 = "fd00:10:244:1::3";
constexpr const char* kApp6 = "fd00:10:244:1::a";

// The IPv6 side of a ptp pod, as tests/kernel/packet_test.cpp's DualStackWorld sets it up: the
// host veth holds fe80::1 and a /128 route to the pod; the pod a /128 and a default via fe80::1.
void podSide6(NodeTopology& t, const std::string& hostVeth, TestNetns& pod,
              const std::string& ip6) {
  must(t.node.ip("-6 addr add fe80::1/64 dev " + hostVeth + " nodad"));
  must(t.node.ip("-6 route add " + ip6 + "/128 dev " + hostVeth));
  must(pod.ip("-6 addr add " + ip6 + "/128 dev eth0 nodad"));
  must(pod.ip("-6 route add default via fe80::1 dev eth0"));
}

// Whether `text` holds each of `parts`, in this order.
bool containsInOrder(const std::string& text, const std::vector<std::string>& parts) {
  size_t pos = 0;
  for (const auto& p : parts) {
    pos = text.find(p, pos);
    if (pos == std::string::npos) return false;
    pos += p.size();
  }
  return true;
}

}  // namespace

TEST_CASE("ambientctl trace follows a dual-stack pod's IPv6 SYNs through the ip6 tables",
          "[kernel][agent][ambientctl][ipv6]") {
  NodeTopology t;
  TestNetns app("app"), remote("remote");
  t.addPod(app, "vethapp", "10.244.1.10");
  t.addRemote(remote);
  must(t.node.exec("sysctl -qw net.ipv6.conf.all.forwarding=1"));
  podSide6(t, "vethzt", t.zt, kZtunnel6);
  podSide6(t, "vethapp", app, kApp6);
  must(t.node.ip("-6 addr add fd00:172:30::1/64 dev uplink nodad"));
  must(remote.ip("-6 addr add fd00:172:30::2/64 dev eth0 nodad"));

  AgentHarness h(t.node);
  h.start();
  PodRequest z = ztunnelAdd(t.zt.path(), kZtunnelIp);
  z.ips.push_back(kZtunnel6);
  REQUIRE(h.send(z));
  PodRequest add = podAdd("foo", "app", app.path(), "10.244.1.10");
  add.ips.push_back(kApp6);
  auto a = h.send(add);
  REQUIRE(a);
  INFO(a->message);
  REQUIRE(a->verdict == PodVerdict::kEnrolled);
  const std::string ctl = kAmbientctl + " --state-dir " + h.stateDir();
  const std::string tunnel = std::string(tunnelKindName(kernelTunnelKind()));

  // Outbound: the pod's name stands for its IPv6 address because the destination is IPv6.
  auto out = sh(t.node.exec(ctl + " trace foo/app [fd00:172:30::2]:8080"));
  INFO(out.out);
  REQUIRE(out.rc == 0);
  // NOLINTBEGIN(bugprone-suspicious-missing-comma): hop lines split for width
  CHECK(containsInOrder(
      out.out,
      {"(1) foo/app (fd00:10:244:1::a) sends a TCP SYN to [fd00:172:30::2]:8080; it enters the "
       "node on vethapp (enrolled)\n",
       "(2) node nft ip6 ambient_redirect prerouting rule #9: meta l4proto tcp ip6 saddr "
       "@enrolled_pods",
       "-> mark 0x100\n",
       "(3) node routing: ip -6 rule pref 101 fwmark 0x100/0x100 lookup 101 proto 112 -> "
       "fd00:172:30::2 via fd00:127::2 dev istioout table 101\n",
       "(4) istioout: " + tunnel + " VNI 1001 to 10.244.1.3:6081 -> pistioout in the ztunnel pod\n",
       "(5) ztunnel nft ip6 ambient_redirect prerouting rule #3: iifname \"pistioout\" meta "
       "l4proto tcp tproxy to [::1]:15001",
       "(6) ztunnel routing: ip -6 rule pref 20000 fwmark 0x400/0xfff lookup 100 proto 112 -> "
       "local delivery table 100\n",
       "(7) ztunnel accepts on [::1]:15001 with original destination [fd00:172:30::2]:8080 and "
       "source fd00:10:244:1::a\n",
       "(8) ztunnel connects from fd00:10:244:1::a (original source) to [fd00:172:30::2]:8080; "
       "it enters the node on vethzt\n",
       "(9) node nft ip6 ambient_redirect prerouting rule #6: iifname \"vethzt\" ip6 saddr != "
       "fd00:10:244:1::3",
       "-> mark 0x210\n",
       "(10) node routing: ip -6 rule pref 100 fwmark 0x200/0x200 goto 32766 proto 112 -> "
       "fd00:172:30::2 dev uplink table 254\n",
       "(11) leaves via uplink off the node\n"}));
  // NOLINTEND(bugprone-suspicious-missing-comma)

  // Inbound to plain TCP (15006) and to HBONE (15008), the pod given by its bare IPv6 address.
  auto in = sh(t.node.exec(ctl + " trace fd00:172:30::2 foo/app:80"));
  INFO(in.out);
  REQUIRE(in.rc == 0);
  // NOLINTBEGIN(bugprone-suspicious-missing-comma): hop lines split for width
  CHECK(containsInOrder(
      in.out,
      {"(1) fd00:172:30::2 is outside this node; its SYN to [fd00:10:244:1::a]:80 arrives on "
       "uplink",
       "(2) node nft ip6 ambient_redirect prerouting: no rule matches; mark stays 0x0\n",
       "(3) node routing: ip -6 rule pref 103 lookup 100 proto 112 -> fd00:10:244:1::a via "
       "fd00:126::2 dev istioin table 100\n",
       "(4) istioin: " + tunnel + " VNI 1000 to 10.244.1.3:6081 -> pistioin in the ztunnel pod\n",
       "(5) ztunnel nft ip6 ambient_redirect prerouting rule #2:", "tproxy to [::1]:15006",
       "(7) ztunnel accepts on [::1]:15006 with original destination [fd00:10:244:1::a]:80 and "
       "source fd00:172:30::2\n",
       "-> mark 0x210\n",
       "(11) leaves via vethapp to foo/app\n"}));  // NOLINTEND(bugprone-suspicious-missing-comma)

  auto hbone = sh(t.node.exec(ctl + " trace fd00:172:30::2 [" + std::string(kApp6) + "]:15008"));
  INFO(hbone.out);
  REQUIRE(hbone.rc == 0);
  CHECK(containsInOrder(hbone.out,
                        {"via fd00:126::2 dev istioin table 100\n", "tproxy to [::1]:15008",
                         "(7) ztunnel accepts on [::1]:15008 with original destination "
                         "[fd00:10:244:1::a]:15008",
                         "(11) leaves via vethapp to foo/app\n"}));

  // The same pod's IPv4 still takes the ip table (the name resolves to IPv4 beside an IPv4).
  auto v4 = sh(t.node.exec(ctl + " trace foo/app 172.30.0.2:8080"));
  INFO(v4.out);
  REQUIRE(v4.rc == 0);
  CHECK(containsInOrder(v4.out, {"(1) foo/app (10.244.1.10) sends a TCP SYN to 172.30.0.2:8080",
                                 "(2) node nft prerouting rule #9", "tproxy to 127.0.0.1:15001"}));
  CHECK(v4.out.find("ip6") == std::string::npos);

  // Mixing the families is a usage error (exit code 2), said before anything is read.
  auto mixed = sh(t.node.exec(ctl + " trace 10.244.1.10 [fd00:172:30::2]:8080"));
  INFO(mixed.out);
  CHECK(mixed.rc == 2);
  CHECK(mixed.out.find("is IPv4 and DESTINATION [fd00:172:30::2]:8080 is IPv6") !=
        std::string::npos);
}
