// Real TCP through the redirection, no ztunnel binary: a transparent listener in the ztunnel
// namespace stands where ztunnel listens. Namespaces: node, ztunnel pod, one ambient pod, one
// non-enrolled pod, one remote host. Touches the kernel.
#include "node_topology.h"

using namespace ambient;
using namespace ambient::testing;

namespace {

const std::string kNettool = AMBIENT_NETTOOL;

struct PacketWorld {
  PacketWorld() {
    t.addPod(app, "vethapp", "10.244.1.10");
    t.addPod(other, "vethother", "10.244.1.11");
    t.addRemote(remote);
    in = t.input(0);
    in.pods = {EnrolledPod{*Ipv4::parse("10.244.1.10"), "vethapp"}};
    t.apply(in, ledger.store);
  }
  // Connects from `from` and returns what the server answered ("" when nothing did).
  std::string connect(const TestNetns& from, const std::string& target) {
    auto r = sh(from.exec(kNettool + " connect " + target + " --timeout-ms 2000"));
    return r.rc == 0 ? r.out : "";
  }

  NodeTopology t;
  TestNetns app{"app"}, other{"other"}, remote{"remote"};
  TempLedger ledger;
  PlanInput in;
};

bool startsWith(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

}  // namespace

TEST_CASE("ambient pod traffic reaches the ztunnel namespace's transparent listeners",
          "[kernel][packet]") {
  PacketWorld w;
  Background ztunnel(w.t.zt.exec(kNettool +
                                 " serve --tproxy --addr 127.0.0.1 --port 15001 --port 15006 "
                                 "--port 15008"));
  Background remoteServer(w.remote.exec(kNettool + " serve --port 8080"));
  Background otherServer(w.other.exec(kNettool + " serve --port 80"));
  REQUIRE(ztunnel.waitFor("listening"));
  REQUIRE(remoteServer.waitFor("listening"));
  REQUIRE(otherServer.waitFor("listening"));

  SECTION("outbound: ambient pod -> remote lands on 15001 with the original destination") {
    auto got = w.connect(w.app, "172.30.0.2:8080");
    INFO(got);
    CHECK(startsWith(got, "15001 172.30.0.2:8080 10.244.1.10:"));
    CHECK(remoteServer.log().find("10.244.1.10") == std::string::npos);
  }
  SECTION("inbound: remote -> ambient pod lands on 15006, and port 15008 on 15008") {
    auto plain = w.connect(w.remote, "10.244.1.10:80");
    INFO(plain);
    CHECK(startsWith(plain, "15006 10.244.1.10:80 172.30.0.2:"));
    auto hbone = w.connect(w.remote, "10.244.1.10:15008");
    INFO(hbone);
    CHECK(startsWith(hbone, "15008 10.244.1.10:15008 172.30.0.2:"));
  }
  SECTION("a kube-proxy DNAT for a service VIP does not hide the VIP from 15001") {
    must(
        w.t.node.exec("iptables-legacy -t nat -A PREROUTING -d 10.96.0.10/32 -p tcp --dport 80 "
                      "-j DNAT --to-destination 172.30.0.2:8080"));
    must(w.t.node.exec("iptables-legacy -t nat -A POSTROUTING -j MASQUERADE"));
    auto ambient = w.connect(w.app, "10.96.0.10:80");
    INFO(ambient);
    CHECK(startsWith(ambient, "15001 10.96.0.10:80 10.244.1.10:"));
    // The DNAT is real: a non-enrolled pod reaches the backend through it.
    auto plain = w.connect(w.other, "10.96.0.10:80");
    INFO(plain);
    CHECK(startsWith(plain, "8080 172.30.0.2:8080 "));
  }
  SECTION("non-enrolled pods are not redirected, either way") {
    auto out = w.connect(w.other, "172.30.0.2:8080");
    INFO(out);
    CHECK(startsWith(out, "8080 172.30.0.2:8080 10.244.1.11:"));
    auto in = w.connect(w.remote, "10.244.1.11:80");
    INFO(in);
    CHECK(startsWith(in, "80 10.244.1.11:80 172.30.0.2:"));
  }
  SECTION("UDP from an ambient pod is not redirected") {
    Background udp(w.remote.exec(kNettool + " udp-serve --port 9999 --timeout-ms 3000"));
    REQUIRE(udp.waitFor("listening"));
    must(w.app.exec(kNettool + " udp-send 172.30.0.2:9999"));
    CHECK(udp.waitFor("udp from 10.244.1.10:"));
  }
}

TEST_CASE("with nothing listening in the ztunnel namespace ambient traffic stops",
          "[kernel][packet]") {
  PacketWorld w;
  Background remoteServer(w.remote.exec(kNettool + " serve --port 8080"));
  REQUIRE(remoteServer.waitFor("listening"));
  // No transparent listener: the pod's SYN must not leave the ztunnel pod un-proxied.
  CHECK(w.connect(w.app, "172.30.0.2:8080").empty());
  CHECK(remoteServer.log().find("10.244.1.10") == std::string::npos);
  CHECK(w.connect(w.remote, "10.244.1.10:80").empty());
  CHECK(must(w.t.zt.exec("nft list chain ip ambient_redirect prerouting"))
            .find("counter packets 0 bytes 0 drop") == std::string::npos);
}

namespace {

// Issue 20: the same node dual-stack, as the ptp plugin leaves it: each host veth holds the
// IPv6 gateway fe80::1 and a /128 route to its pod; each pod a /128 and a default route via
// fe80::1; the remote host routes the pods' /48 back through the node. Every address is added
// without duplicate address detection.
struct DualStackWorld {
  DualStackWorld() {
    t.addPod(app, "vethapp", "10.244.1.10");
    t.addPod(other, "vethother", "10.244.1.11");
    t.addRemote(remote);
    must(t.node.exec("sysctl -qw net.ipv6.conf.all.forwarding=1"));
    podSide6("vethzt", t.zt, kZtunnel6);
    podSide6("vethapp", app, kApp6);
    podSide6("vethother", other, kOther6);
    must(t.node.ip("-6 addr add fd00:172:30::1/64 dev uplink nodad"));
    must(remote.ip("-6 addr add fd00:172:30::2/64 dev eth0 nodad"));
    must(remote.ip("-6 route add fd00:10:244::/48 via fd00:172:30::1"));
    in = t.input(0);
    in.ztunnel.podIp6 = IpAddress(kZtunnel6);
    in.pods = {EnrolledPod{*Ipv4::parse("10.244.1.10"), "vethapp", IpAddress(kApp6)}};
    t.apply(in, ledger.store);
    // The kernel's own link-local addresses still run duplicate address detection; until they
    // are done the first neighbour exchange can be lost (at most about 2 s).
    for (const TestNetns* ns : {&t.node, &t.zt, &app, &other, &remote}) {
      for (int i = 0; i < 50 && !must(ns->ip("-6 -o addr show tentative")).empty(); ++i) {
        usleep(100 * 1000);
      }
    }
  }
  void podSide6(const std::string& hostVeth, TestNetns& pod, const std::string& ip6) {
    must(t.node.ip("-6 addr add fe80::1/64 dev " + hostVeth + " nodad"));
    must(t.node.ip("-6 route add " + ip6 + "/128 dev " + hostVeth));
    must(pod.ip("-6 addr add " + ip6 + "/128 dev eth0 nodad"));
    must(pod.ip("-6 route add default via fe80::1 dev eth0"));
  }
  std::string connect(const TestNetns& from, const std::string& target) {
    auto r = sh(from.exec(kNettool + " connect " + target + " --timeout-ms 2000"));
    return r.rc == 0 ? r.out : "";
  }

  static constexpr const char* kZtunnel6 = "fd00:10:244:1::3";
  static constexpr const char* kApp6 = "fd00:10:244:1::a";
  static constexpr const char* kOther6 = "fd00:10:244:1::b";
  NodeTopology t;
  TestNetns app{"app"}, other{"other"}, remote{"remote"};
  TempLedger ledger;
  PlanInput in;
};

}  // namespace

TEST_CASE("dual-stack ambient pod traffic reaches ztunnel's listeners in both families",
          "[kernel][packet][ipv6]") {
  DualStackWorld w;
  Background ztunnel6(w.t.zt.exec(kNettool + " serve --tproxy --addr ::1 --port 15001 --port 15006 "
                                             "--port 15008"));
  Background ztunnel4(w.t.zt.exec(kNettool +
                                  " serve --tproxy --addr 127.0.0.1 --port 15001 --port 15006 "
                                  "--port 15008"));
  Background remoteServer(w.remote.exec(kNettool + " serve --addr :: --port 8080"));
  Background otherServer(w.other.exec(kNettool + " serve --addr :: --port 80"));
  REQUIRE(ztunnel6.waitFor("listening"));
  REQUIRE(ztunnel4.waitFor("listening"));
  REQUIRE(remoteServer.waitFor("listening"));
  REQUIRE(otherServer.waitFor("listening"));

  SECTION("outbound IPv6: ambient pod -> remote lands on 15001 with the original destination") {
    auto got = w.connect(w.app, "[fd00:172:30::2]:8080");
    INFO(got);
    CHECK(startsWith(got, "15001 [fd00:172:30::2]:8080 [fd00:10:244:1::a]:"));
    CHECK(remoteServer.log().find("fd00:10:244:1::a") == std::string::npos);
  }
  SECTION("inbound IPv6: remote -> ambient pod lands on 15006, and port 15008 on 15008") {
    auto plain = w.connect(w.remote, "[fd00:10:244:1::a]:80");
    INFO(plain);
    CHECK(startsWith(plain, "15006 [fd00:10:244:1::a]:80 [fd00:172:30::2]:"));
    auto hbone = w.connect(w.remote, "[fd00:10:244:1::a]:15008");
    INFO(hbone);
    CHECK(startsWith(hbone, "15008 [fd00:10:244:1::a]:15008 [fd00:172:30::2]:"));
  }
  SECTION("same node IPv6: plain pod -> ambient pod lands on 15006 with the plain pod's source") {
    auto got = w.connect(w.other, "[fd00:10:244:1::a]:80");
    INFO(got);
    CHECK(startsWith(got, "15006 [fd00:10:244:1::a]:80 [fd00:10:244:1::b]:"));
  }
  SECTION("IPv4 of the same pod is still captured") {
    auto got = w.connect(w.app, "172.30.0.2:8080");
    INFO(got);
    CHECK(startsWith(got, "15001 172.30.0.2:8080 10.244.1.10:"));
  }
  SECTION("a non-enrolled pod's IPv6 is not redirected, either way") {
    auto out = w.connect(w.other, "[fd00:172:30::2]:8080");
    INFO(out);
    CHECK(startsWith(out, "8080 [fd00:172:30::2]:8080 [fd00:10:244:1::b]:"));
    auto in = w.connect(w.remote, "[fd00:10:244:1::b]:80");
    INFO(in);
    CHECK(startsWith(in, "80 [fd00:10:244:1::b]:80 [fd00:172:30::2]:"));
  }
  SECTION("IPv6 UDP from an ambient pod is not redirected") {
    Background udp(w.remote.exec(kNettool + " udp-serve --port 9999 --timeout-ms 3000"));
    REQUIRE(udp.waitFor("listening"));
    must(w.app.exec(kNettool + " udp-send [fd00:172:30::2]:9999"));
    CHECK(udp.waitFor("udp from [fd00:10:244:1::a]:"));
  }
}

TEST_CASE("with nothing listening in the ztunnel namespace ambient IPv6 traffic stops",
          "[kernel][packet][ipv6]") {
  DualStackWorld w;
  Background remoteServer(w.remote.exec(kNettool + " serve --addr :: --port 8080"));
  REQUIRE(remoteServer.waitFor("listening"));
  CHECK(w.connect(w.app, "[fd00:172:30::2]:8080").empty());
  CHECK(remoteServer.log().find("fd00:10:244:1::a") == std::string::npos);
  CHECK(w.connect(w.remote, "[fd00:10:244:1::a]:80").empty());
  CHECK(must(w.t.zt.exec("nft list chain ip6 ambient_redirect prerouting"))
            .find("counter packets 0 bytes 0 drop") == std::string::npos);
}

// Issue 20: where IPv6 cannot be redirected (the probe's finding, --ipv6=off, ztunnel without
// IPv6), the node's ip6 table drops the enrolled pod's IPv6 TCP both ways; its IPv4 stays
// redirected, and other pods and UDP are untouched.
TEST_CASE("IPv6 that cannot be redirected is dropped for enrolled pods and IPv4 still captured",
          "[kernel][packet][ipv6]") {
  DualStackWorld w;
  w.in.ipv6Unavailable = "this kernel cannot redirect IPv6 (test)";
  w.t.apply(w.in, w.ledger.store);
  CHECK(sh(w.t.zt.exec("nft list table ip6 ambient_redirect")).rc != 0);
  Background ztunnel4(w.t.zt.exec(kNettool +
                                  " serve --tproxy --addr 127.0.0.1 --port 15001 --port 15006 "
                                  "--port 15008"));
  Background remoteServer(w.remote.exec(kNettool + " serve --addr :: --port 8080"));
  Background appServer(w.app.exec(kNettool + " serve --addr :: --port 80"));
  Background otherServer(w.other.exec(kNettool + " serve --addr :: --port 80"));
  for (auto* b : {&ztunnel4, &remoteServer, &appServer, &otherServer}) {
    REQUIRE(b->waitFor("listening"));
  }
  // The enrolled pod's IPv6 TCP goes nowhere, out or in, from off the node or from this one.
  CHECK(w.connect(w.app, "[fd00:172:30::2]:8080").empty());
  CHECK(remoteServer.log().find("fd00:10:244:1::a") == std::string::npos);
  CHECK(w.connect(w.remote, "[fd00:10:244:1::a]:80").empty());
  CHECK(w.connect(w.other, "[fd00:10:244:1::a]:80").empty());
  CHECK(appServer.log().find("fd00:") == std::string::npos);
  auto table = must(w.t.node.exec("nft list table ip6 ambient_redirect"));
  INFO(table);
  CHECK(table.find("ip6 saddr @enrolled_pods counter packets 0 bytes 0 drop") == std::string::npos);
  CHECK(table.find("ip6 daddr @enrolled_pods counter packets 0 bytes 0 drop") == std::string::npos);
  // Its IPv4 is redirected as before.
  auto v4 = w.connect(w.app, "172.30.0.2:8080");
  INFO(v4);
  CHECK(startsWith(v4, "15001 172.30.0.2:8080 10.244.1.10:"));
  // A plain pod's IPv6 and the enrolled pod's IPv6 UDP pass.
  auto plain = w.connect(w.other, "[fd00:172:30::2]:8080");
  INFO(plain);
  CHECK(startsWith(plain, "8080 [fd00:172:30::2]:8080 [fd00:10:244:1::b]:"));
  Background udp(w.remote.exec(kNettool + " udp-serve --port 9999 --timeout-ms 3000"));
  REQUIRE(udp.waitFor("listening"));
  must(w.app.exec(kNettool + " udp-send [fd00:172:30::2]:9999"));
  CHECK(udp.waitFor("udp from [fd00:10:244:1::a]:"));
  // IPv6 redirectable again: the same pod's IPv6 reaches ztunnel.
  w.in.ipv6Unavailable.reset();
  w.t.apply(w.in, w.ledger.store);
  Background ztunnel6(w.t.zt.exec(kNettool + " serve --tproxy --addr ::1 --port 15001"));
  REQUIRE(ztunnel6.waitFor("listening"));
  auto back = w.connect(w.app, "[fd00:172:30::2]:8080");
  INFO(back);
  CHECK(startsWith(back, "15001 [fd00:172:30::2]:8080 [fd00:10:244:1::a]:"));
}
