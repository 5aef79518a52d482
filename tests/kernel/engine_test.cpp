// The engine against real kernel state in fresh namespaces: apply, observe, diff, idempotence,
// one pod among 1000, foreign objects, uninstall, bad input. Touches the kernel.
#include <cstdlib>

#include "common/core/constants.h"
#include "common/core/nft_rule_builder.h"
#include "common/core/nft_rules.h"
#include "common/core/render.h"
#include "common/sys/ipv6_probe.h"
#include "node_topology.h"

using namespace ambient;
using namespace ambient::testing;

namespace {

// The namespace's IPv4 state as the tools print it (IPv6 link-local addresses and link
// states settle at their own pace, on a slow VM after the first look).
std::string snapshot(const TestNetns& ns) {
  return must(ns.ip("-4 -o addr show")) + must(ns.ip("-4 route show table all")) +
         must(ns.ip("-4 rule show")) +
         must(ns.exec("nft -a list ruleset") + " | sed 's/packets [0-9]* bytes [0-9]*//'");
}

// The prerouting chain's rules with their handles, counters left out (traffic moves them).
std::string ruleHandles(NodeTopology& t) {
  return must(t.node.exec("nft -a list chain ip ambient_redirect prerouting") +
              " | sed 's/packets [0-9]* bytes [0-9]*//'");
}

void requireClean(NodeTopology& t, const PlanInput& in, SysctlLedger& ledger) {
  auto nodeVerify = verify(t.kernel, t.nodeTarget(), *computeNodePlan(in), ledger);
  auto ztVerify = verify(t.kernel, t.ztTarget(), *computeZtunnelPlan(in), ledger);
  REQUIRE(nodeVerify);
  REQUIRE(ztVerify);
  INFO(renderChangeSet(*nodeVerify) << renderChangeSet(*ztVerify));
  CHECK(nodeVerify->empty());
  CHECK(ztVerify->empty());
}

}  // namespace

TEST_CASE("apply then observe gives an empty diff and applying twice changes nothing", "[kernel]") {
  NodeTopology t;
  t.addPodVeths(3);
  TempLedger ledger;
  auto in = t.input(3);
  CHECK(t.apply(in, ledger.store) > 0);
  requireClean(t, in, ledger.store);

  std::string nodeBefore = snapshot(t.node), ztBefore = snapshot(t.zt);
  CHECK(t.apply(in, ledger.store) == 0);
  CHECK(snapshot(t.node) == nodeBefore);
  CHECK(snapshot(t.zt) == ztBefore);

  // The reference values are visible to the usual tools.
  CHECK(must(t.node.ip("rule show")).find("fwmark 0x100/0x100 lookup 101") != std::string::npos);
  CHECK(must(t.node.ip("-d link show istioin")).find("id 1000") != std::string::npos);
  CHECK(must(t.zt.ip("-d link show pistioout")).find("id 1001") != std::string::npos);
  CHECK(must(t.node.ip("route show table 100")).find("10.244.2.1 via 192.168.126.2 dev istioin") !=
        std::string::npos);
  CHECK(must(t.node.exec("sysctl -n net.ipv4.conf.all.rp_filter")) == "0\n");
}

TEST_CASE("the rendered plan is what nft itself would build", "[kernel]") {
  // Loading our rendered text with nft(8) and observing it must give our plan back: proof that
  // our expression lowering matches nft's own.
  NodeTopology t;
  auto in = t.input(2);
  // Both families: the IPv6 tables as issue 20's packet proof writes them.
  const IpAddress zt6("fd00:10:244:1::3");
  std::vector<std::pair<NetnsRole, NftTableSpec>> tables = {
      {NetnsRole::kNode, *computeNodePlan(in)->nft},
      {NetnsRole::kZtunnel, *computeZtunnelPlan(in)->nft},
      {NetnsRole::kNode,
       nodeNftTable(in.ztunnel, zt6, kDefaultTunnelPort,
                    {IpAddress("fd00:10:244:1::10"), IpAddress("fd00:10:244:1::12")})},
      {NetnsRole::kZtunnel, ztunnelNftTable(in.ztunnel, zt6)},
  };
  for (const auto& [role, table] : tables) {
    NetnsPlan plan;
    plan.role = role;
    plan.nftOf(table.family) = table;
    TestNetns scratch("nft");
    std::string text = renderNftTable(table);
    std::string file = "/tmp/" + uniqueName("nft");
    FILE* f = std::fopen(file.c_str(), "w");
    std::fputs(text.c_str(), f);
    std::fclose(f);
    must(scratch.exec("nft -f " + file));
    unlink(file.c_str());
    auto observed = t.kernel.observe({scratch.path(), plan.role}, {});
    REQUIRE(observed);
    const auto& got = observed->nftOf(table.family);
    REQUIRE(got);
    for (const auto& want : table.chains) {
      auto it = std::find_if(got->chains.begin(), got->chains.end(),
                             [&](auto& c) { return c.name == want.name; });
      REQUIRE(it != got->chains.end());
      REQUIRE(it->rules.size() == want.rules.size());
      for (size_t i = 0; i < want.rules.size(); ++i) {
        std::string ours, theirs;
        for (auto& e : want.rules[i].exprs) ours += e.str();
        for (auto& e : it->rules[i].exprs) theirs += e.str();
        INFO(want.name << " rule " << i << ": " << want.rules[i].text);
        CHECK(theirs == ours);
      }
    }
    CHECK(got->sameStructure(table));
    CHECK(got->sets == table.sets);
    CHECK(*observed == plan);
  }
}

TEST_CASE("enrolling or releasing one pod among 1000 touches only its objects", "[kernel]") {
  NodeTopology t;
  t.addPodVeths(1000);
  TempLedger ledger;
  auto in = t.input(1000);
  auto last = in.pods.back();
  in.pods.pop_back();
  t.apply(in, ledger.store);
  std::string handles = ruleHandles(t);
  std::string rulesBefore = must(t.node.ip("rule show"));

  in.pods.push_back(last);
  auto cs = reconcile(t.kernel, t.nodeTarget(), *computeNodePlan(in), ledger.store);
  REQUIRE(cs);
  INFO(renderChangeSet(*cs));
  REQUIRE(cs->changes.size() == 3);  // its route, its set element, its veth's rp_filter
  CHECK(describe(cs->changes[0].object) == "route " + last.ip->str() + "/32 table 100");
  // Chains were not rebuilt: every rule kept its handle.
  CHECK(ruleHandles(t) == handles);
  CHECK(must(t.node.ip("rule show")) == rulesBefore);
  requireClean(t, in, ledger.store);

  auto released = in.pods[500];
  in.pods.erase(in.pods.begin() + 500);
  cs = reconcile(t.kernel, t.nodeTarget(), *computeNodePlan(in), ledger.store);
  REQUIRE(cs);
  REQUIRE(cs->changes.size() == 3);
  for (const auto& c : cs->changes) CHECK(c.kind == ChangeKind::kDelete);
  CHECK(must(t.node.ip("route show table 100")).find(released.ip->str() + " ") ==
        std::string::npos);
  CHECK(ruleHandles(t) == handles);
  requireClean(t, in, ledger.store);
}

TEST_CASE("foreign routes and rules and links and nft tables are never modified", "[kernel]") {
  NodeTopology t;
  t.addPodVeths(2);
  must(t.node.ip("link add foreign0 type veth peer name foreign1"));
  must(t.node.ip("link set foreign0 up"));
  must(t.node.ip("route add 10.99.0.0/24 dev foreign0 table 100"));
  must(t.node.ip("route add 10.98.0.0/24 dev foreign0 table 101 proto static"));
  must(t.node.ip("rule add pref 100 from 10.97.0.0/16 lookup main"));
  must(t.node.ip("rule add pref 101 fwmark 0x100/0x100 lookup 200"));
  must(t.node.exec("nft add table ip foreign"));
  must(t.node.exec(
      "nft add chain ip foreign pre { type filter hook prerouting priority -150 \\; }"));
  must(t.node.exec("nft add rule ip foreign pre meta mark set 0x1"));
  auto foreign = [&] {
    return must(t.node.ip("-d link show foreign0")) +
           must(t.node.ip("route show table 100 10.99.0.0/24")) +
           must(t.node.ip("route show table 101 10.98.0.0/24")) +
           must(t.node.ip("rule show pref 100")) + must(t.node.ip("rule show pref 101")) +
           must(t.node.exec("nft -a list table ip foreign"));
  };
  std::string before = foreign();
  TempLedger ledger;
  auto in = t.input(2);
  t.apply(in, ledger.store);
  requireClean(t, in, ledger.store);
  // Our rules sit next to the foreign ones at the same priorities.
  CHECK(foreign().find("10.97.0.0/16") != std::string::npos);
  auto uninstall = reconcile(t.kernel, t.nodeTarget(), emptyPlan(NetnsRole::kNode), ledger.store);
  REQUIRE(uninstall);
  // The foreign rule at pref 101 carries our old fwmark; only protocol 112 marks ours.
  std::string after = foreign();
  auto stripOurs = [](const std::string& s) {
    std::string out;
    size_t pos = 0;
    while (pos < s.size()) {
      auto nl = s.find('\n', pos);
      std::string line = s.substr(pos, nl - pos + 1);
      if (line.find("proto 112") == std::string::npos) out += line;
      pos = nl == std::string::npos ? s.size() : nl + 1;
    }
    return out;
  };
  CHECK(stripOurs(after) == stripOurs(before));
}

// Issue 20: a dual-stack node's objects of both families through apply, observe and diff.
TEST_CASE("a dual-stack plan goes through apply and observe and diff in both families",
          "[kernel]") {
  NodeTopology t;
  t.addPodVeths(2);
  // ztunnel and both pods with an IPv6 address as well (the packet proof's values).
  auto in = t.input(2);
  in.ztunnel.podIp6 = IpAddress("fd00:10:244:1::3");
  in.pods[0].ip6 = IpAddress("fd00:10:244:2::1");
  in.pods[1].ip6 = IpAddress("fd00:10:244:2::2");
  auto nodePlan = computeNodePlan(in);
  auto ztPlan = computeZtunnelPlan(in);
  REQUIRE(nodePlan);
  REQUIRE(ztPlan);
  const NetnsPlan node = *nodePlan;
  const NetnsPlan zt = *ztPlan;
  // A foreign IPv6 rule at one of our priorities, without protocol 112.
  must(t.node.ip("-6 rule add pref 103 from fd00:99::/64 lookup main"));

  TempLedger ledger;
  auto applied = reconcile(t.kernel, t.nodeTarget(), node, ledger.store);
  INFO((applied ? renderChangeSet(*applied) : applied.error().message()));
  REQUIRE(applied);
  REQUIRE(reconcile(t.kernel, t.ztTarget(), zt, ledger.store));
  auto nodeVerify = verify(t.kernel, t.nodeTarget(), node, ledger.store);
  auto ztVerify = verify(t.kernel, t.ztTarget(), zt, ledger.store);
  REQUIRE(nodeVerify);
  REQUIRE(ztVerify);
  INFO(renderChangeSet(*nodeVerify) << renderChangeSet(*ztVerify));
  CHECK(nodeVerify->empty());
  CHECK(ztVerify->empty());

  // What ip(8) shows: no duplicate address detection, both families at the same priorities.
  // (The kernel's own link-local address may still be tentative; ours never is.)
  std::string addr = must(t.node.ip("-6 -o addr show dev istioin to fd00:126::1/126"));
  INFO(addr);
  CHECK(addr.find("fd00:126::1/126 scope global nodad") != std::string::npos);
  CHECK(addr.find("tentative") == std::string::npos);
  CHECK(must(t.node.ip("-6 rule show pref 101")).find("fwmark 0x100/0x100 lookup 101 proto 112") !=
        std::string::npos);
  CHECK(must(t.node.ip("rule show pref 101")).find("lookup 101 proto 112") != std::string::npos);
  CHECK(must(t.node.ip("-6 route show table 100")).find("fd00:10:244:2::1 via fd00:126::2") !=
        std::string::npos);
  std::string table6 = must(t.node.exec("nft list table ip6 ambient_redirect"));
  INFO(table6);
  CHECK(table6.find("type ipv6_addr") != std::string::npos);
  CHECK(table6.find("ip6 saddr @enrolled_pods") != std::string::npos);
  CHECK(table6.find("dnat to ip6 daddr") != std::string::npos);
  CHECK(must(t.zt.exec("nft list table ip6 ambient_redirect")).find("tproxy to [::1]:15001") !=
        std::string::npos);
  // The IPv4 table is untouched by the IPv6 one.
  CHECK(must(t.node.exec("nft list set ip ambient_redirect enrolled_pods")).find("10.244.2.1") !=
        std::string::npos);

  // Drift in one family is found and repaired in that family only.
  must(t.node.ip("-6 rule del pref 103 proto 112"));
  must(t.node.ip("-6 route del default table 101 proto 112"));
  must(t.node.exec("nft delete element ip6 ambient_redirect enrolled_pods { fd00:10:244:2::2 }"));
  auto drift = verify(t.kernel, t.nodeTarget(), node, ledger.store);
  REQUIRE(drift);
  std::string text = renderChangeSet(*drift);
  INFO(text);
  CHECK(drift->changes.size() == 3);
  CHECK(text.find("add element ip6 ambient_redirect enrolled_pods { fd00:10:244:2::2 }") !=
        std::string::npos);
  CHECK(text.find("ip -6 rule add pref 103 lookup 100 proto 112") != std::string::npos);
  CHECK(text.find("ip -6 route add default via fd00:127::2 dev istioout table 101") !=
        std::string::npos);
  REQUIRE(reconcile(t.kernel, t.nodeTarget(), node, ledger.store));
  CHECK(verify(t.kernel, t.nodeTarget(), node, ledger.store)->empty());

  // Uninstall removes every IPv6 object of ours and keeps the foreign rule and the kernel's own
  // link-local address.
  REQUIRE(reconcile(t.kernel, t.nodeTarget(), emptyPlan(NetnsRole::kNode), ledger.store));
  REQUIRE(reconcile(t.kernel, t.ztTarget(), emptyPlan(NetnsRole::kZtunnel), ledger.store));
  CHECK(must(t.node.ip("-6 rule show")).find("proto 112") == std::string::npos);
  CHECK(must(t.node.ip("-6 rule show pref 103")).find("fd00:99::/64") != std::string::npos);
  CHECK(must(t.node.ip("-6 route show table all proto 112")).empty());
  CHECK(must(t.zt.ip("-6 route show table all proto 112")).empty());
  CHECK(must(t.node.exec("nft list tables")).find("ip6") == std::string::npos);
  CHECK(must(t.zt.exec("nft list tables")).find("ip6") == std::string::npos);
}

TEST_CASE("removing everything leaves no owned object and restores sysctls", "[kernel]") {
  NodeTopology t;
  t.addPodVeths(2);
  must(t.node.exec("sysctl -qw net.ipv4.conf.all.rp_filter=1"));
  must(t.node.exec("sysctl -qw net.ipv4.conf.vethzt.rp_filter=2"));
  must(t.node.exec("sysctl -qw net.ipv4.conf.vethp1.rp_filter=1"));
  must(t.zt.exec("sysctl -qw net.ipv4.conf.all.rp_filter=1"));
  TempLedger ledger;
  auto in = t.input(2);
  t.apply(in, ledger.store);
  CHECK(must(t.node.exec("sysctl -n net.ipv4.conf.vethzt.rp_filter")) == "0\n");

  // A restart: the ledger is read back from disk.
  auto reloaded = SysctlLedgerStore::load(ledger.path);
  REQUIRE(reloaded);
  CHECK(reloaded->entries(NetnsRole::kNode).at("net/ipv4/conf/vethzt/rp_filter") == "2");
  REQUIRE(reconcile(t.kernel, t.nodeTarget(), emptyPlan(NetnsRole::kNode), *reloaded));
  REQUIRE(reconcile(t.kernel, t.ztTarget(), emptyPlan(NetnsRole::kZtunnel), *reloaded));

  for (auto* ns : {&t.node, &t.zt}) {
    CHECK(must(ns->exec("nft list tables")).find("ambient_redirect") == std::string::npos);
    CHECK(must(ns->ip("rule show")).find("proto 112") == std::string::npos);
    CHECK(must(ns->ip("route show table all proto 112")).empty());
    CHECK(sh(ns->ip("link show istioin")).rc != 0);
    CHECK(sh(ns->ip("link show pistioin")).rc != 0);
  }
  CHECK(must(t.node.exec("sysctl -n net.ipv4.conf.all.rp_filter")) == "1\n");
  CHECK(must(t.node.exec("sysctl -n net.ipv4.conf.vethzt.rp_filter")) == "2\n");
  CHECK(must(t.node.exec("sysctl -n net.ipv4.conf.vethp1.rp_filter")) == "1\n");
  CHECK(must(t.zt.exec("sysctl -n net.ipv4.conf.all.rp_filter")) == "1\n");
  CHECK(reloaded->entries(NetnsRole::kNode).empty());
  CHECK(reloaded->entries(NetnsRole::kZtunnel).empty());
}

TEST_CASE("a missing or vanished namespace is a clear error", "[kernel][bad-input]") {
  LinuxKernel kernel;
  TempLedger ledger;
  auto r = kernel.observe({"/var/run/netns/does-not-exist", NetnsRole::kNode}, {});
  REQUIRE_FALSE(r);
  CHECK(r.error().isNotFound());
  CHECK(r.error().message().find("/var/run/netns/does-not-exist") != std::string::npos);

  NodeTopology t;
  auto plan = computeNodePlan(t.input(0));
  auto observed = observeFor(t.kernel, t.nodeTarget(), *plan, ledger.store);
  REQUIRE(observed);
  auto changes = diff(*plan, *observed);
  std::string path = t.node.path();
  t.node.remove();
  auto s = t.kernel.apply({path, NetnsRole::kNode}, changes, ledger.store);
  REQUIRE_FALSE(s);
  CHECK(s.error().message().find(path) != std::string::npos);
}

TEST_CASE("a failing nft batch changes nothing", "[kernel][bad-input]") {
  NodeTopology t;
  TempLedger ledger;
  auto in = t.input(0);
  auto plan = *computeNodePlan(in);
  // A rule that looks up a set that does not exist: the kernel rejects it mid-batch.
  auto broken = plan;
  broken.nft->chains[0].rules.push_back(
      NftRuleBuilder().saddrInSet("no_such_set").counter().accept());

  auto first = reconcile(t.kernel, t.nodeTarget(), broken, ledger.store);
  REQUIRE_FALSE(first);
  CHECK(first.error().message().find("no_such_set") != std::string::npos);
  CHECK(must(t.node.exec("nft list tables")).find("ambient_redirect") == std::string::npos);

  REQUIRE(reconcile(t.kernel, t.nodeTarget(), plan, ledger.store));
  auto table = [&] {
    return must(t.node.exec("nft -a list table ip ambient_redirect") +
                " | sed 's/packets [0-9]* bytes [0-9]*//'");
  };
  std::string before = table();
  REQUIRE_FALSE(reconcile(t.kernel, t.nodeTarget(), broken, ledger.store));
  CHECK(table() == before);
}

TEST_CASE("tunnel mode auto picks geneve when the kernel has it and vxlan otherwise", "[kernel]") {
  TestNetns scratch("probe");
  bool geneve = sh(scratch.ip("link add g0 type geneve id 5 remote 192.0.2.1")).rc == 0;
  auto choice = chooseTunnelKind(TunnelMode::kAuto);
  REQUIRE(choice);
  CHECK(choice->kind == (geneve ? TunnelKind::kGeneve : TunnelKind::kVxlan));
  CHECK(choice->fellBack == !geneve);
  if (!geneve) CHECK(choice->reason.find("vxlan") != std::string::npos);
  WARN("this kernel's tunnel: " << tunnelKindName(choice->kind));
  // The geneve VM run sets this, so a VM that silently lost geneve fails instead of falling back.
  if (const char* want = std::getenv("AMBIENT_EXPECT_TUNNEL")) {
    CHECK(std::string(tunnelKindName(choice->kind)) == want);
  }
}

// Issue 20: the start-up probe of IPv6 redirection runs in a namespace of its own.
TEST_CASE("the IPv6 probe finds this kernel able to redirect IPv6 and leaves the node alone",
          "[kernel][ipv6]") {
  // The probe's namespace is a thread's own; the test's namespace is untouched.
  auto before = sh("ip -6 rule show; ip -6 route show table all; nft list ruleset");
  auto why = probeIpv6Redirect();
  INFO(why.value_or(""));
  CHECK_FALSE(why);
  CHECK(sh("ip -6 rule show; ip -6 route show table all; nft list ruleset").out == before.out);
}

// Issue 20: the rules nft writes for a host firewall's reverse-path filter, read back from the
// kernel: the strict form (with iif) is named, the loose one and IPv4 tables are not.
TEST_CASE("a host firewall's strict IPv6 reverse-path filter is found in the node's tables",
          "[kernel][ipv6]") {
  TestNetns node("node");
  auto found = [&] {
    auto f = findStrictIpv6ReversePathFilters(node.path());
    REQUIRE(f);
    return *f;
  };
  CHECK(found().empty());
  // nft's one-line form (the test's exec takes one command).
  auto load = [&](const std::string& commands) { must(node.exec("nft '" + commands + "'")); };
  load(
      "add table inet fw; add chain inet fw pre { type filter hook prerouting priority 10; }; "
      "add rule inet fw pre meta nfproto ipv6 fib saddr . mark . iif oif missing drop");
  CHECK(found() == std::vector<std::string>{"table inet fw chain pre"});
  load(
      "add table ip v4; add chain ip v4 pre { type filter hook prerouting priority 0; }; "
      "add rule ip v4 pre fib saddr . iif oif missing drop");
  load(
      "add table ip6 loose; add chain ip6 loose pre { type filter hook prerouting priority 0; "
      "}; add rule ip6 loose pre fib saddr . mark oif missing drop");
  CHECK(found() == std::vector<std::string>{"table inet fw chain pre"});
  load(
      "add table ip6 strict6; add chain ip6 strict6 rpf; add rule ip6 strict6 rpf fib saddr . "
      "iif oif missing drop; add chain ip6 strict6 pre { type filter hook prerouting priority "
      "0; }; add rule ip6 strict6 pre jump rpf");
  CHECK(found() ==
        std::vector<std::string>{"table ip6 strict6 chain rpf", "table inet fw chain pre"});
  load("delete table inet fw; delete table ip6 strict6");
  CHECK(found().empty());
}
