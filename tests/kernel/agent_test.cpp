// The real ambient-agent in a node namespace, driven over its socket as the plugin drives it:
// ztunnel learnt, ambient pods enrolled, others left alone, restarts adopt everything, SIGTERM
// leaves state, uninstall removes it; and SIGKILL at random points during 200 enrollments.
// Touches the kernel.
#include <atomic>
#include <random>
#include <thread>

#include "agent_harness.h"
#include "common/core/render.h"

using namespace ambient;
using namespace ambient::testing;

namespace {

std::string ownedState(NodeTopology& t) {
  return must(t.node.exec(
             "nft list table ip ambient_redirect | sed 's/packets [0-9]* bytes [0-9]*//'")) +
         must(t.node.ip("route show table all proto 112")) + must(t.node.ip("rule show")) +
         must(t.zt.ip("-d link show pistioin"));
}

void requireVerified(NodeTopology& t, const AgentHarness& h, const PlanInput& in) {
  auto ledger = SysctlLedgerStore::load(h.stateDir() + "/sysctl-ledger.json");
  REQUIRE(ledger);
  auto node = verify(t.kernel, t.nodeTarget(), *computeNodePlan(in), *ledger);
  auto zt = verify(t.kernel, t.ztTarget(), *computeZtunnelPlan(in), *ledger);
  REQUIRE(node);
  REQUIRE(zt);
  INFO(renderChangeSet(*node) << renderChangeSet(*zt));
  CHECK(node->empty());
  CHECK(zt->empty());
}

// A drift made on purpose and the words `ambientctl verify` must name it with.
struct Drift {
  std::string make;
  std::string expected;
};

// Each drift in turn: verify (exit 1, quiet prints nothing) names it, and the agent's full pass
// (asked for with SIGHUP) repairs it.
void checkDriftsNamedAndRepaired(NodeTopology& t, AgentHarness& h,
                                 const std::vector<Drift>& drifts) {
  std::string ctl = kAmbientctl + " --state-dir " + h.stateDir();
  auto verify = [&] { return sh(t.node.exec(ctl + " verify")); };
  for (const auto& d : drifts) {
    INFO("drift: " << d.make);
    must(d.make);
    auto r = verify();
    INFO(r.out);
    CHECK(r.rc == 1);
    CHECK(r.out.find(d.expected) != std::string::npos);
    CHECK(sh(t.node.exec(ctl + " verify --quiet")).out.empty());
    h.reconcileNow();
    bool repaired = false;
    for (int i = 0; i < 600 && !repaired; ++i) {
      usleep(100 * 1000);
      repaired = verify().rc == 0;
    }
    CHECK(repaired);
  }
}

}  // namespace

TEST_CASE("the agent learns ztunnel and enrolls ambient pods only and keeps state across restarts",
          "[kernel][agent]") {
  NodeTopology t;
  TestNetns app("app"), plain("plain");
  t.addPod(app, "vethapp", "10.244.1.10");
  t.addPod(plain, "vethplain", "10.244.1.11");
  AgentHarness h(t.node);
  h.start();
  CHECK(h.http("/healthz").find("200") != std::string::npos);
  std::string notReady = h.http("/readyz");
  CHECK(notReady.find("no ztunnel pod registered") != std::string::npos);
  CHECK(notReady.find("503") != std::string::npos);

  auto early = h.send(podAdd("foo", "app", app.path(), "10.244.1.10"));
  REQUIRE(early);
  CHECK(early->cniCode == kCniErrTryAgainLater);

  auto z = h.registerZtunnel(t);
  REQUIRE(z);
  CHECK(z->verdict == PodVerdict::kNotAmbient);
  CHECK(h.http("/readyz").find("200") != std::string::npos);
  CHECK(must(t.node.ip("-d link show istioin")).find("remote 10.244.1.3") != std::string::npos);

  auto a = h.send(podAdd("foo", "app", app.path(), "10.244.1.10"));
  REQUIRE(a);
  INFO(a->message);
  CHECK(a->verdict == PodVerdict::kEnrolled);
  auto p = h.send(podAdd("plain", "web", plain.path(), "10.244.1.11"));
  REQUIRE(p);
  CHECK(p->verdict == PodVerdict::kNotAmbient);
  std::string set = must(t.node.exec("nft list set ip ambient_redirect enrolled_pods"));
  CHECK(set.find("10.244.1.10") != std::string::npos);
  CHECK(set.find("10.244.1.11") == std::string::npos);
  CHECK(must(t.node.exec("sysctl -n net.ipv4.conf.vethapp.rp_filter")) == "0\n");
  CHECK(h.http("/metrics").find("ambient_pods_enrolled 1") != std::string::npos);

  auto in = t.input(0);
  in.pods = {EnrolledPod{*Ipv4::parse("10.244.1.10"), "vethapp"}};
  requireVerified(t, h, in);

  SECTION("SIGKILL and restart: nothing is lost") {
    std::string before = ownedState(t);
    h.kill();
    CHECK(ownedState(t) == before);
    h.start();
    CHECK(ownedState(t) == before);
    CHECK(h.http("/metrics").find("ambient_pods_enrolled 1") != std::string::npos);
    requireVerified(t, h, in);
  }
  SECTION("SIGTERM leaves the kernel state; uninstall removes all of it") {
    std::string before = ownedState(t);
    CHECK(h.terminate() == 0);
    CHECK(ownedState(t) == before);
    must(t.node.exec(kAgentBinary + " uninstall " + h.flags()));
    CHECK(must(t.node.exec("nft list tables")).find("ambient_redirect") == std::string::npos);
    CHECK(must(t.node.ip("route show table all proto 112")).empty());
    CHECK(must(t.zt.exec("nft list tables")).find("ambient_redirect") == std::string::npos);
    CHECK(sh(t.zt.ip("link show pistioin")).rc != 0);
    CHECK(must(t.node.exec("sysctl -n net.ipv4.conf.vethapp.rp_filter")) == "1\n");
  }
  SECTION("DEL releases the pod; a second DEL is fine") {
    auto del = delOf(podAdd("foo", "app", app.path(), "10.244.1.10"));
    CHECK(h.send(del)->verdict == PodVerdict::kReleased);
    CHECK(h.send(del)->verdict == PodVerdict::kReleased);
    CHECK(must(t.node.exec("nft list set ip ambient_redirect enrolled_pods")).find("10.244.1.10") ==
          std::string::npos);
    in.pods.clear();
    requireVerified(t, h, in);
  }
  SECTION("garbage on the socket is refused and the agent keeps serving") {
    must(t.node.exec("sh -c 'printf \"{not json\\n\" | timeout 5 socat - UNIX-CONNECT:" +
                     h.socket() + " || true'"));
    auto again = h.send(podAdd("foo", "app", app.path(), "10.244.1.10"));
    REQUIRE(again);
    CHECK(again->verdict == PodVerdict::kEnrolled);
  }
}

TEST_CASE("pods the node cannot capture are refused with code 7 and a routed pod is unaffected",
          "[kernel][agent][link-shape]") {
  NodeTopology t;
  AgentHarness h(t.node);
  h.start();
  REQUIRE(h.registerZtunnel(t));
  // A bridge-based primary CNI's pod: its node-side veth is a port of cni0.
  TestNetns bridged("bridged"), macvlan("macvlan"), routed("routed");
  t.addBridgedPod(bridged, "cni0", "vethbr", "10.244.1.20");
  // A macvlan pod: its IFLA_LINK is the node's lower device, not a veth peer.
  must(t.node.ip("link add lower0 type veth peer name lower1"));
  must(t.node.ip("link set lower0 up"));
  must(t.node.ip("link add mv0 link lower0 type macvlan mode bridge"));
  must(t.node.ip("link set mv0 netns " + macvlan.name()));
  must(macvlan.ip("link set mv0 name eth0"));
  must(macvlan.ip("addr add 10.244.1.21/24 dev eth0"));
  must(macvlan.ip("link set eth0 up"));
  t.addPod(routed, "vethrouted", "10.244.1.22");

  auto b = h.send(podAdd("foo", "bridged", bridged.path(), "10.244.1.20"));
  REQUIRE(b);
  CHECK(b->verdict == PodVerdict::kError);
  CHECK(b->cniCode == kCniErrInvalidConfig);
  CHECK_THAT(b->message, Catch::Matchers::Contains("vethbr is a port of bridge cni0"));
  auto m = h.send(podAdd("foo", "macvlan", macvlan.path(), "10.244.1.21"));
  REQUIRE(m);
  CHECK(m->cniCode == kCniErrInvalidConfig);
  CHECK_THAT(m->message, Catch::Matchers::Contains("eth0 is a macvlan device, not a veth"));
  auto r = h.send(podAdd("foo", "routed", routed.path(), "10.244.1.22"));
  REQUIRE(r);
  CHECK(r->verdict == PodVerdict::kEnrolled);

  std::string set = must(t.node.exec("nft list set ip ambient_redirect enrolled_pods"));
  CHECK(set.find("10.244.1.22") != std::string::npos);
  CHECK(set.find("10.244.1.20") == std::string::npos);
  CHECK(set.find("10.244.1.21") == std::string::npos);
  // Nothing was written for the refused pods: the node's lower device keeps its rp_filter.
  CHECK(must(t.node.exec("sysctl -n net.ipv4.conf.lower0.rp_filter")) ==
        must(t.node.exec("sysctl -n net.ipv4.conf.default.rp_filter")));
  auto in = t.input(0);
  in.pods = {EnrolledPod{*Ipv4::parse("10.244.1.22"), "vethrouted"}};
  requireVerified(t, h, in);
}

TEST_CASE("SIGKILL at random points while 200 pods enroll: each enrolled exactly once",
          "[kernel][agent][faults]") {
  constexpr int kPods = 200;
  // Dual-stack (issue 20): ztunnel has an IPv6 address and every even pod one as well.
  auto ip6Of = [](int i) { return "fd00:10:244:3::" + std::to_string(i + 1); };
  auto dual = [](int i) { return i % 2 == 0; };
  NodeTopology t;
  std::string nsBatch, batch, cleanup;
  std::string prefix = uniqueName("sp");
  for (int i = 0; i < kPods; ++i) {
    std::string ns = prefix + std::to_string(i);
    nsBatch += "netns add " + ns + "\n";
    batch += "link add vs" + std::to_string(i) + " type veth peer name eth0 netns " + ns + "\n";
    cleanup += "netns del " + ns + "\n";
  }
  std::string nsFile = "/tmp/" + prefix + ".ns", batchFile = "/tmp/" + prefix + ".batch",
              cleanupFile = "/tmp/" + prefix + ".cleanup";
  std::ofstream(nsFile) << nsBatch;
  std::ofstream(batchFile) << batch;
  std::ofstream(cleanupFile) << cleanup;
  struct Cleanup {
    std::string file;
    ~Cleanup() { sh("ip -force -batch " + file + "; rm -f " + file); }
  } cleanupGuard{cleanupFile};
  // Namespaces from the host's mount namespace (`ip -n` runs in a private one), then the veths.
  must("ip -batch " + nsFile);
  must(t.node.ip("-batch " + batchFile));
  unlink(nsFile.c_str());
  unlink(batchFile.c_str());

  AgentHarness h(t.node);
  h.start();
  PodRequest z = ztunnelAdd(t.zt.path(), kZtunnelIp);
  z.ips.push_back("fd00:10:244:1::3");
  auto zr = h.send(z);
  REQUIRE(zr);
  REQUIRE(zr->verdict == PodVerdict::kNotAmbient);

  std::mt19937 rng(4242);
  std::vector<bool> done(kPods, false);
  int remaining = kPods, kills = 0, rounds = 0;
  std::string lastRefusal;
  while (remaining > 0 && rounds < 200) {
    ++rounds;
    if (rounds > 1) h.start();
    // Kill after a random number of replies (at least one, so every round makes progress) plus
    // a random fraction of one ADD's latency, so kills also land mid-request. Scaled to the
    // machine: the same test runs under qemu's emulation.
    int afterReplies = 1 + int(rng() % 12);
    double fraction = double(rng() % 150) / 100.0;
    std::atomic<int> replies{0};
    std::atomic<bool> roundOver{false};
    std::atomic<double> lastLatencyMs{5.0};
    std::thread killer([&] {
      while (replies.load() < afterReplies && !roundOver.load()) {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
      std::this_thread::sleep_for(
          std::chrono::microseconds(int64_t(fraction * lastLatencyMs.load() * 1000)));
      h.kill();
    });
    for (int i = 0; i < kPods; ++i) {
      if (done[i]) continue;
      auto t0 = std::chrono::steady_clock::now();
      PodRequest add =
          podAdd("foo", "p" + std::to_string(i), "/var/run/netns/" + prefix + std::to_string(i),
                 "10.244.3." + std::to_string(i));
      if (dual(i)) add.ips.push_back(*IpAddress::parse(ip6Of(i)));
      auto r = h.send(add, 30000);
      if (!r) break;  // the agent died under us: the runtime would retry this ADD
      lastLatencyMs =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      ++replies;
      if (r->verdict == PodVerdict::kEnrolled) {
        done[i] = true;
        --remaining;
      } else {
        lastRefusal = r->message;
      }
    }
    roundOver = true;
    killer.join();
    ++kills;
  }
  INFO("last refusal: " << lastRefusal);
  REQUIRE(remaining == 0);
  h.start();
  std::string set = must(t.node.exec("nft -j list set ip ambient_redirect enrolled_pods"));
  int members = 0;
  for (size_t pos = 0; (pos = set.find("10.244.3.", pos)) != std::string::npos; ++pos) ++members;
  CHECK(members == kPods);
  std::string routes = must(t.node.ip("route show table 100"));
  int routeCount = 0;
  for (size_t pos = 0; (pos = routes.find("10.244.3.", pos)) != std::string::npos; ++pos)
    ++routeCount;
  CHECK(routeCount == kPods);
  std::string set6 = must(t.node.exec("nft -j list set ip6 ambient_redirect enrolled_pods"));
  int members6 = 0;
  for (size_t pos = 0; (pos = set6.find("fd00:10:244:3::", pos)) != std::string::npos; ++pos)
    ++members6;
  CHECK(members6 == kPods / 2);
  auto in = t.input(0);
  in.ztunnel.podIp6 = IpAddress("fd00:10:244:1::3");
  for (int i = 0; i < kPods; ++i) {
    in.pods.push_back(EnrolledPod{*Ipv4::parse("10.244.3." + std::to_string(i)),
                                  testing::ifOf("vs" + std::to_string(i))});
    if (dual(i)) in.pods.back().ip6 = *IpAddress::parse(ip6Of(i));
  }
  requireVerified(t, h, in);
  WARN("agent SIGKILLed " << kills << " times over " << rounds << " rounds");
  CHECK(kills >= 3);
}

TEST_CASE("ambientctl verify names each drift and the agent's next pass repairs it",
          "[kernel][agent][ambientctl]") {
  NodeTopology t;
  TestNetns app("app");
  t.addPod(app, "vethapp", "10.244.1.10");
  AgentHarness h(t.node);
  h.reconcileInterval = 3600;
  h.start();
  REQUIRE(h.registerZtunnel(t));
  REQUIRE(h.send(podAdd("foo", "app", app.path(), "10.244.1.10"))->verdict ==
          PodVerdict::kEnrolled);
  std::string ctl = kAmbientctl + " --state-dir " + h.stateDir();
  auto verify = [&] { return sh(t.node.exec(ctl + " verify")); };
  auto ok = verify();
  INFO(ok.out);
  REQUIRE(ok.rc == 0);
  CHECK(ok.out.find("ok: the kernel matches") != std::string::npos);

  std::string kind(tunnelKindName(kernelTunnelKind()));
  std::vector<Drift> drifts = {
      {t.node.ip("route del 10.244.1.10/32 table 100"), "missing route 10.244.1.10/32 table 100"},
      {t.node.ip("rule add pref 104 lookup 100 proto 112"), "extra rule pref 104"},
      {t.node.exec("nft delete element ip ambient_redirect enrolled_pods { 10.244.1.10 }"),
       "missing nft set ip ambient_redirect/enrolled_pods elements 10.244.1.10"},
      {t.node.ip("link del istioin") + " && " +
           t.node.ip("link add istioin type " + kind + " id 1000 remote 10.9.9.9 dstport 6081"),
       "different tunnel istioin"},
      {t.node.exec("sysctl -qw net.ipv4.conf.all.rp_filter=1"),
       "different sysctl net.ipv4.conf.all.rp_filter"},
  };
  checkDriftsNamedAndRepaired(t, h, drifts);

  auto dump = must(t.node.exec(ctl + " dump"));
  CHECK(dump.find("istioin") != std::string::npos);
  CHECK(dump.find("10.244.1.10") != std::string::npos);
  CHECK(dump.find("tproxy to 127.0.0.1:15001") != std::string::npos);  // ztunnel namespace
  auto json = nlohmann::json::parse(must(t.node.exec(ctl + " dump -o json")), nullptr, false);
  REQUIRE(json.is_array());
  CHECK(json[0]["nft"]["sets"]["enrolled_pods"][0] == "10.244.1.10");
  auto plan = must(t.node.exec(ctl + " plan"));
  CHECK(plan.find("ip route add 10.244.1.10/32 via 192.168.126.2 dev istioin table 100") !=
        std::string::npos);
  CHECK(sh(t.node.exec(ctl + " frobnicate")).rc == 2);
  CHECK(sh(t.node.exec(kAmbientctl + " verify --state-dir /nonexistent")).rc == 2);
}

// Issue 20: every kind of IPv6 object drifts, in both namespaces; verify names it and the
// agent's next pass repairs it.
TEST_CASE("ambientctl verify names each IPv6 drift and the agent's next pass repairs it",
          "[kernel][agent][ambientctl][ipv6]") {
  NodeTopology t;
  TestNetns app("app");
  t.addPod(app, "vethapp", "10.244.1.10");
  AgentHarness h(t.node);
  h.reconcileInterval = 3600;
  h.start();
  PodRequest z = ztunnelAdd(t.zt.path(), kZtunnelIp);
  z.ips.push_back("fd00:10:244:1::3");
  REQUIRE(h.send(z)->verdict == PodVerdict::kNotAmbient);
  PodRequest add = podAdd("foo", "app", app.path(), "10.244.1.10");
  add.ips.push_back("fd00:10:244:1::a");
  REQUIRE(h.send(add)->verdict == PodVerdict::kEnrolled);
  std::string ctl = kAmbientctl + " --state-dir " + h.stateDir();
  auto verify = [&] { return sh(t.node.exec(ctl + " verify")); };
  auto ok = verify();
  INFO(ok.out);
  REQUIRE(ok.rc == 0);

  std::vector<Drift> drifts = {
      {t.node.ip("-6 route del fd00:10:244:1::a/128 table 100"),
       "missing ipv6 route fd00:10:244:1::a/128 table 100"},
      {t.node.ip("-6 route del default table 101"), "missing ipv6 route default table 101"},
      {t.node.ip("-6 rule add pref 104 lookup 100 proto 112"), "extra ipv6 rule pref 104"},
      {t.node.ip("-6 rule del pref 101"), "missing ipv6 rule pref 101"},
      {t.node.ip("-6 addr del fd00:126::1/126 dev istioin"),
       "missing address fd00:126::1/126 on istioin"},
      {t.node.exec("nft delete element ip6 ambient_redirect enrolled_pods { fd00:10:244:1::a }"),
       "missing nft set ip6 ambient_redirect/enrolled_pods elements fd00:10:244:1::a"},
      {t.node.exec("nft flush chain ip6 ambient_redirect nat_prerouting"),
       "different nft table ip6 ambient_redirect"},
      {t.zt.exec("nft delete table ip6 ambient_redirect"),
       "missing nft table ip6 ambient_redirect"},
      {t.zt.ip("-6 rule del pref 20000"), "missing ipv6 rule pref 20000"},
      {t.zt.ip("-6 route del local default dev lo table 100"),
       "missing ipv6 route default table 100"},
      {t.zt.ip("-6 addr del fd00:127::2/126 dev pistioout"),
       "missing address fd00:127::2/126 on pistioout"},
  };
  checkDriftsNamedAndRepaired(t, h, drifts);
}

TEST_CASE("ambientctl trace prints the seed's numbered paths from the live kernel",
          "[kernel][agent][ambientctl]") {
  NodeTopology t;
  TestNetns app("app"), remote("remote");
  // A pod veth named like the ztunnel's ("vethzt"), with its name as a prefix: only an exact
  // iifname match keeps the pod's SYN out of the ztunnel-veth rules.
  t.addPod(app, "vethzt0", "10.244.1.10");
  t.addRemote(remote);
  AgentHarness h(t.node);
  h.start();
  REQUIRE(h.registerZtunnel(t));
  REQUIRE(h.send(podAdd("foo", "app", app.path(), "10.244.1.10"))->verdict ==
          PodVerdict::kEnrolled);
  std::string ctl = kAmbientctl + " --state-dir " + h.stateDir();
  auto contains = [](const std::string& text, const std::vector<std::string>& parts) {
    size_t pos = 0;
    for (const auto& p : parts) {  // in this order
      pos = text.find(p, pos);
      if (pos == std::string::npos) return false;
    }
    return true;
  };

  auto out = sh(t.node.exec(ctl + " trace foo/app 172.30.0.2:8080"));
  INFO(out.out);
  REQUIRE(out.rc == 0);
  // NOLINTBEGIN(bugprone-suspicious-missing-comma): hop lines split for width
  CHECK(contains(out.out, {"(1) foo/app (10.244.1.10) sends a TCP SYN to 172.30.0.2:8080",
                           "enters the node on vethzt0", "(2) node nft prerouting rule #9",
                           "ip saddr @enrolled_pods", "-> mark 0x100",
                           "(3) node routing: ip rule pref 101 fwmark 0x100/0x100 lookup 101",
                           "-> 172.30.0.2 via 192.168.127.2 dev istioout",
                           "(4) istioout:", "VNI 1001 to 10.244.1.3:6081 -> pistioout",
                           "(5) ztunnel nft prerouting rule #3", "tproxy to 127.0.0.1:15001",
                           "(6) ztunnel routing: ip rule pref 20000", "local delivery",
                           "(7) ztunnel accepts on 127.0.0.1:15001 with original destination "
                           "172.30.0.2:8080 and source 10.244.1.10",
                           "mark 0x210", "leaves via uplink off the node"}));
  // NOLINTEND(bugprone-suspicious-missing-comma)

  auto in = sh(t.node.exec(ctl + " trace 172.30.0.2 foo/app:80"));
  INFO(in.out);
  REQUIRE(in.rc == 0);
  CHECK(contains(in.out, {"(1) 172.30.0.2 is outside this node", "arrives on uplink",
                          "node nft prerouting: no rule matches", "ip rule pref 103 lookup 100",
                          "-> 10.244.1.10 via 192.168.126.2 dev istioin",
                          "VNI 1000 to 10.244.1.3:6081 -> pistioin", "tproxy to 127.0.0.1:15006",
                          "accepts on 127.0.0.1:15006", "leaves via vethzt0 to foo/app"}));
  // The seed's scenario 1 goes to a Service VIP, which the node has no route for: the client's
  // SYN still takes 0x100, table 101 and istioout; ztunnel's onward connection (client source,
  // from its veth: 0x210) ends the trace with the kernel's answer as a hop, not an abort.
  auto vip = sh(t.node.exec(ctl + " trace foo/app 10.96.0.80:8000"));
  INFO(vip.out);
  REQUIRE(vip.rc == 0);
  // NOLINTBEGIN(bugprone-suspicious-missing-comma): hop lines split for width
  CHECK(contains(
      vip.out,
      {"(1) foo/app (10.244.1.10) sends a TCP SYN to 10.96.0.80:8000", "enters the node on vethzt0",
       "(2) node nft prerouting rule #9", "ip saddr @enrolled_pods", "-> mark 0x100",
       "(3) node routing: ip rule pref 101 fwmark 0x100/0x100 lookup 101",
       "-> 10.96.0.80 via 192.168.127.2 dev istioout table 101",
       "(4) istioout:", "tproxy to 127.0.0.1:15001", "(8) ztunnel connects from 10.244.1.10",
       "enters the node on vethzt\n", "(9) node nft prerouting rule #6: iifname \"vethzt\"",
       "mark 0x210", "(10) node routing:",
       "no route, the packet stops here: route get "
       "10.96.0.80 from 10.244.1.10 iif vethzt mark 0x210: ",
       "Service VIP"}));
  // NOLINTEND(bugprone-suspicious-missing-comma)
  CHECK(vip.out.find("0x210") > vip.out.find("(8) ztunnel connects"));
  CHECK(vip.out.find("Unspecific failure") == std::string::npos);

  auto hbone = sh(t.node.exec(ctl + " trace 172.30.0.2 10.244.1.10:15008"));
  CHECK(hbone.out.find("accepts on 127.0.0.1:15008") != std::string::npos);
  CHECK(sh(t.node.exec(ctl + " trace foo/nope 10.0.0.1")).rc == 2);
}

// Issue 20: a dual-stack node driven through the real agent (the plugin's requests carry both
// families' addresses).
// Issue 20: where IPv6 is not redirected, an enrolled pod's IPv6 TCP is dropped (fail closed),
// and /readyz, the metrics, the log and verify say so.
TEST_CASE("with --ipv6 off a dual-stack pod is enrolled fail closed and /readyz says why",
          "[kernel][agent][ipv6]") {
  NodeTopology t;
  TestNetns app("app");
  t.addPod(app, "vethapp", "10.244.1.10");
  AgentHarness h(t.node);
  h.extraFlags = " --ipv6 off";
  h.start();
  CHECK(h.log().find("IPv6 redirection is off (--ipv6=off)") != std::string::npos);
  PodRequest z = ztunnelAdd(t.zt.path(), kZtunnelIp);
  z.ips.push_back("fd00:10:244:1::3");
  REQUIRE(h.send(z)->verdict == PodVerdict::kNotAmbient);
  CHECK(h.http("/readyz").find("IPv6 fail closed") == std::string::npos);  // no IPv6 pod yet
  PodRequest add = podAdd("foo", "app", app.path(), "10.244.1.10");
  add.ips.push_back("fd00:10:244:1::a");
  auto a = h.send(add);
  REQUIRE(a);
  INFO(a->message);
  REQUIRE(a->verdict == PodVerdict::kEnrolled);
  auto table = must(t.node.exec("nft list table ip6 ambient_redirect"));
  INFO(table);
  CHECK(table.find("fd00:10:244:1::a") != std::string::npos);
  CHECK(table.find("ip6 saddr @enrolled_pods counter packets 0 bytes 0 drop") != std::string::npos);
  CHECK(table.find("ip6 daddr @enrolled_pods counter packets 0 bytes 0 drop") != std::string::npos);
  CHECK(must(t.node.ip("-6 rule show")).find("proto 112") == std::string::npos);
  CHECK(sh(t.zt.exec("nft list table ip6 ambient_redirect")).rc != 0);
  CHECK(must(t.node.exec("nft list set ip ambient_redirect enrolled_pods")).find("10.244.1.10") !=
        std::string::npos);
  auto ready = h.http("/readyz");
  INFO(ready);
  CHECK(ready.find("ready\nIPv6 fail closed: enrolled pods' IPv6 TCP is dropped, not redirected: "
                   "IPv6 redirection is off (--ipv6=off)\n 200") != std::string::npos);
  CHECK(h.http("/metrics").find("ambient_ipv6_fail_closed 1") != std::string::npos);
  CHECK(h.log().find("IPV6 FAIL CLOSED") != std::string::npos);
  auto in = t.input(0);
  in.ztunnel.podIp6 = IpAddress("fd00:10:244:1::3");
  in.pods = {EnrolledPod{*Ipv4::parse("10.244.1.10"), "vethapp", IpAddress("fd00:10:244:1::a")}};
  in.ipv6Unavailable = "IPv6 redirection is off (--ipv6=off)";
  requireVerified(t, h, in);
  auto verified = sh(t.node.exec(kAmbientctl + " --state-dir " + h.stateDir() + " verify"));
  INFO(verified.out);
  CHECK(verified.rc == 0);
  CHECK(verified.out.find("note: IPv6 fails closed, enrolled pods' IPv6 TCP is dropped: IPv6 "
                          "redirection is off (--ipv6=off)") != std::string::npos);
  // A restart with IPv6 redirection on turns the drop into redirection.
  h.terminate();
  h.extraFlags.clear();
  h.start();
  h.reconcileNow();
  for (int i = 0; i < 100 && h.http("/readyz").find("IPv6 fail closed") != std::string::npos; ++i) {
    usleep(100 * 1000);
  }
  CHECK(h.http("/readyz").find("IPv6 fail closed") == std::string::npos);
  CHECK(h.http("/metrics").find("ambient_ipv6_fail_closed 0") != std::string::npos);
  CHECK(must(t.node.ip("-6 route show table 100")).find("fd00:10:244:1::a via fd00:126::2") !=
        std::string::npos);
  in.ipv6Unavailable.reset();
  requireVerified(t, h, in);

  // A host firewall's strict IPv6 reverse-path filter stops redirected IPv6: named on /readyz.
  auto waitReady = [&](bool want) {
    for (int i = 0; i < 100; ++i) {
      h.reconcileNow();
      usleep(100 * 1000);
      bool has = h.http("/readyz").find("reverse-path filter") != std::string::npos;
      if (has == want) return true;
    }
    return false;
  };
  must(t.node.exec(
      "nft 'add table inet firewalld; add chain inet firewalld filter_PREROUTING { type filter "
      "hook prerouting priority 10; }; add rule inet firewalld filter_PREROUTING meta nfproto "
      "ipv6 fib saddr . mark . iif oif missing drop'"));
  CHECK(waitReady(true));
  auto named = h.http("/readyz");
  INFO(named);
  CHECK(named.find("IPv6 stopped by a strict reverse-path filter (fib saddr . iif oif missing "
                   "drop) in table inet firewalld chain filter_PREROUTING: make it loose") !=
        std::string::npos);
  CHECK(h.log().find("IPV6 REVERSE-PATH FILTER") != std::string::npos);
  // The loose form (no iif) lets ztunnel's packets through: not named.
  must(
      t.node.exec("nft 'flush chain inet firewalld filter_PREROUTING; add rule inet "
                  "firewalld filter_PREROUTING meta nfproto ipv6 fib saddr . mark oif missing "
                  "drop'"));
  CHECK(waitReady(false));
}

TEST_CASE("the agent enrolls a dual-stack pod in both families and keeps it across a SIGKILL",
          "[kernel][agent][ipv6]") {
  NodeTopology t;
  TestNetns app("app"), other("other");
  t.addPod(app, "vethapp", "10.244.1.10");
  t.addPod(other, "vethother", "10.244.1.11");
  AgentHarness h(t.node);
  h.start();
  PodRequest z = ztunnelAdd(t.zt.path(), kZtunnelIp);
  z.ips.push_back("fd00:10:244:1::3");
  auto zr = h.send(z);
  REQUIRE(zr);
  INFO(zr->message);
  REQUIRE(zr->verdict == PodVerdict::kNotAmbient);
  PodRequest add = podAdd("foo", "app", app.path(), "10.244.1.10");
  add.ips.push_back("fd00:10:244:1::a");
  auto a = h.send(add);
  REQUIRE(a);
  INFO(a->message);
  REQUIRE(a->verdict == PodVerdict::kEnrolled);
  auto set6 = [&] { return must(t.node.exec("nft list set ip6 ambient_redirect enrolled_pods")); };
  CHECK(set6().find("fd00:10:244:1::a") != std::string::npos);
  CHECK(must(t.node.exec("nft list set ip ambient_redirect enrolled_pods")).find("10.244.1.10") !=
        std::string::npos);
  CHECK(must(t.node.ip("-6 route show table 100")).find("fd00:10:244:1::a via fd00:126::2") !=
        std::string::npos);
  CHECK(must(t.zt.exec("nft list table ip6 ambient_redirect")).find("tproxy to [::1]:15001") !=
        std::string::npos);

  auto in = t.input(0);
  in.ztunnel.podIp6 = IpAddress("fd00:10:244:1::3");
  in.pods = {EnrolledPod{*Ipv4::parse("10.244.1.10"), "vethapp", IpAddress("fd00:10:244:1::a")}};
  requireVerified(t, h, in);

  // Bad input: two IPv6 addresses; refused with code 7, and nothing of it is programmed.
  PodRequest two = podAdd("foo", "other", other.path(), "10.244.1.11");
  two.ips = {"10.244.1.11", "fd00:10:244:1::b", "fd00:10:244:1::c"};
  auto refused = h.send(two);
  REQUIRE(refused);
  INFO(refused->message);
  CHECK(refused->cniCode == kCniErrInvalidConfig);
  CHECK(refused->message.find("has two IPv6 addresses") != std::string::npos);
  CHECK(set6().find("fd00:10:244:1::b") == std::string::npos);
  CHECK(must(t.node.exec("nft list set ip ambient_redirect enrolled_pods")).find("10.244.1.11") ==
        std::string::npos);
  // Bad input: the pod's interface holds an IPv6 address the request leaves out (prevResult
  // gave it no interface index): refused, the IPv4 address is not enrolled alone.
  must(other.ip("-6 addr add fd00:10:244:1::b/128 dev eth0 nodad"));
  auto partial = h.send(podAdd("foo", "other", other.path(), "10.244.1.11"));
  REQUIRE(partial);
  INFO(partial->message);
  CHECK(partial->cniCode == kCniErrInvalidConfig);
  CHECK(partial->message.find("holds IPv6 address fd00:10:244:1::b") != std::string::npos);
  CHECK(must(t.node.exec("nft list set ip ambient_redirect enrolled_pods")).find("10.244.1.11") ==
        std::string::npos);
  requireVerified(t, h, in);

  // SIGKILL and restart: the registry carries both families.
  std::string before = set6() + must(t.node.ip("-6 rule show")) +
                       must(t.node.ip("-6 route show table all proto 112"));
  h.kill();
  h.start();
  CHECK(set6() + must(t.node.ip("-6 rule show")) +
            must(t.node.ip("-6 route show table all proto 112")) ==
        before);
  requireVerified(t, h, in);

  // DEL releases both families; uninstall leaves no IPv6 object of ours.
  CHECK(h.send(delOf(add))->verdict == PodVerdict::kReleased);
  CHECK(set6().find("fd00:10:244:1::a") == std::string::npos);
  CHECK(must(t.node.ip("-6 route show table 100")).find("fd00:10:244:1::a") == std::string::npos);
  CHECK(h.terminate() == 0);
  must(t.node.exec(kAgentBinary + " uninstall " + h.flags()));
  CHECK(must(t.node.exec("nft list tables")).find("ip6") == std::string::npos);
  CHECK(must(t.node.ip("-6 rule show")).find("proto 112") == std::string::npos);
  CHECK(must(t.node.ip("-6 route show table all proto 112")).empty());
  CHECK(must(t.zt.exec("nft list tables")).find("ip6") == std::string::npos);
}
