// diff properties: empty against its own applied state, deletes before creates, one pod
// touches only its objects; checked with a model of apply. Pure.
#include "common/core/diff.h"

#include <catch2/catch.hpp>
#include <random>

#include "common/core/render.h"
#include "kernel_model.h"
#include "plan_fixtures.h"

using namespace ambient;
using ambient::testing::model;

namespace {

// What the kernel holds after a plan was applied: the plan itself, with every sysctl recorded.
ObservedState applied(const NetnsPlan& plan) {
  ObservedState s;
  s.owned = plan;
  for (const auto& sc : plan.sysctls) s.sysctlOriginals[sc.key] = "1";
  return s;
}

void checkDeletesFirst(const ChangeSet& cs) {
  bool seenCreate = false;
  for (const auto& c : cs.changes) {
    if (c.kind != ChangeKind::kDelete)
      seenCreate = true;
    else
      REQUIRE_FALSE(seenCreate);
  }
}

}  // namespace

TEST_CASE("a plan diffed against its own applied state is empty", "[diff]") {
  const bool dual = GENERATE(false, true);
  for (int pods : {0, 1, 3, 50}) {
    auto in = dual ? testing::dualStack(testing::nodeWithPods(pods)) : testing::nodeWithPods(pods);
    auto node = computeNodePlan(in);
    auto zt = computeZtunnelPlan(in);
    REQUIRE(node);
    REQUIRE(zt);
    CHECK(diff(*node, applied(*node)).empty());
    CHECK(diff(*zt, applied(*zt)).empty());
  }
}

TEST_CASE("diff from nothing creates everything in dependency order", "[diff]") {
  auto plan = computeNodePlan(testing::nodeWithPods(2));
  auto cs = diff(*plan, ObservedState{});
  size_t objects = plan->tunnels.size() + plan->addresses.size() + plan->routes.size() +
                   plan->rules.size() + plan->sysctls.size() + 1;
  CHECK(cs.changes.size() == objects);
  CHECK(std::holds_alternative<TunnelSpec>(cs.changes.front().object));
  CHECK(std::holds_alternative<NftTableSpec>(cs.changes.back().object));
  auto after = model(ObservedState{}, cs);
  CHECK(diff(*plan, after).empty());
}

TEST_CASE("releasing one pod touches only its element and route and veth sysctl", "[diff]") {
  auto before = computeNodePlan(testing::nodeWithPods(3));
  auto in = testing::nodeWithPods(3);
  auto released = in.pods[1];
  in.pods.erase(in.pods.begin() + 1);
  auto after = computeNodePlan(in);
  auto cs = diff(*after, applied(*before));
  REQUIRE(cs.changes.size() == 3);
  checkDeletesFirst(cs);
  for (const auto& c : cs.changes) {
    CHECK(c.kind == ChangeKind::kDelete);
    if (auto* r = std::get_if<RouteSpec>(&c.object)) {
      CHECK(r->dst.addr == IpAddress::fromV4(*released.ip));
    } else if (auto* e = std::get_if<NftElements>(&c.object)) {
      CHECK(e->elements == std::vector<IpAddress>{IpAddress::fromV4(*released.ip)});
    } else {
      auto& s = std::get<SysctlSpec>(c.object);
      CHECK(s.key == "net/ipv4/conf/" + released.hostVeth.str() + "/rp_filter");
      CHECK(s.value == "1");  // the recorded original comes back
    }
  }
}

TEST_CASE("enrolling one pod among many adds only its objects", "[diff]") {
  auto in = testing::nodeWithPods(1000);
  auto extra = in.pods.back();
  in.pods.pop_back();
  auto before = computeNodePlan(in);
  in.pods.push_back(extra);
  auto after = computeNodePlan(in);
  auto cs = diff(*after, applied(*before));
  REQUIRE(cs.changes.size() == 3);
  for (const auto& c : cs.changes) CHECK(c.kind == ChangeKind::kCreate);
}

TEST_CASE("a new ztunnel IP replaces the tunnels and re-creates what hangs on them", "[diff]") {
  auto in = testing::nodeWithPods(2);
  auto before = computeNodePlan(in);
  in.ztunnel.podIp = *Ipv4::parse("10.244.1.77");
  auto after = computeNodePlan(in);
  auto cs = diff(*after, applied(*before));
  checkDeletesFirst(cs);
  int tunnelDeletes = 0;
  for (const auto& c : cs.changes) {
    if (c.kind == ChangeKind::kDelete && std::holds_alternative<TunnelSpec>(c.object)) {
      ++tunnelDeletes;
    }
    // The kernel drops addresses on a deleted link by itself.
    if (c.kind == ChangeKind::kDelete) CHECK_FALSE(std::holds_alternative<AddressSpec>(c.object));
  }
  CHECK(tunnelDeletes == 2);
  CHECK(diff(*after, model(applied(*before), cs)).empty());
}

TEST_CASE("an MTU change updates the link in place", "[diff]") {
  auto in = testing::nodeWithPods(1);
  auto before = computeNodePlan(in);
  in.tunnelMtu = 1400;
  auto cs = diff(*computeNodePlan(in), applied(*before));
  REQUIRE(cs.changes.size() == 2);
  for (const auto& c : cs.changes) CHECK(c.kind == ChangeKind::kUpdate);
}

TEST_CASE("a changed nft rule replaces the table in one change", "[diff]") {
  auto in = testing::nodeWithPods(2);
  auto before = computeNodePlan(in);
  in.tunnelPort = 7081;
  auto after = computeNodePlan(in);
  auto cs = diff(*after, applied(*before));
  int tableUpdates = 0;
  for (const auto& c : cs.changes) {
    if (std::holds_alternative<NftTableSpec>(c.object)) {
      CHECK(c.kind == ChangeKind::kUpdate);
      ++tableUpdates;
    }
  }
  CHECK(tableUpdates == 1);
}

TEST_CASE("uninstall deletes everything and restores sysctls", "[diff]") {
  auto plan = computeNodePlan(testing::nodeWithPods(3));
  auto cs = diff(emptyPlan(NetnsRole::kNode), applied(*plan));
  for (const auto& c : cs.changes) CHECK(c.kind == ChangeKind::kDelete);
  auto after = model(applied(*plan), cs);
  CHECK(after.owned.tunnels.empty());
  CHECK(after.owned.routes.empty());
  CHECK(after.owned.rules.empty());
  CHECK_FALSE(after.owned.nft);
  CHECK(after.sysctlOriginals.empty());
}

TEST_CASE("random pod churn always converges in one pass", "[diff][property]") {
  std::mt19937 rng(20261128);
  auto all = testing::nodeWithPods(40);
  auto pick = [&] {
    auto in = all;
    in.pods.clear();
    for (const auto& p : all.pods) {
      if (rng() % 2) in.pods.push_back(p);
    }
    if (rng() % 5 == 0) in.ztunnel.podIp = Ipv4{in.ztunnel.podIp->value + 100};
    if (rng() % 7 == 0) in.tunnelPort = 7000 + rng() % 100;
    return in;
  };
  ObservedState state;
  for (int round = 0; round < 200; ++round) {
    auto plan = computeNodePlan(pick());
    REQUIRE(plan);
    auto cs = diff(*plan, state);
    checkDeletesFirst(cs);
    state = model(state, cs);
    REQUIRE(diff(*plan, state).empty());
  }
}

TEST_CASE("computePodChange equals the diff of the whole plans for one pod", "[diff][property]") {
  std::mt19937 rng(7);
  const bool bridgeMode = GENERATE(false, true);
  const bool dual = GENERATE(false, true);
  const bool v6only = GENERATE(false, true);
  // Bridge mode needs ztunnel's IPv4; a dual-stack bridge has an IPv6 network too.
  if (v6only && (bridgeMode || !dual)) return;
  auto all = bridgeMode ? testing::onBridge(testing::nodeWithPods(60)) : testing::nodeWithPods(60);
  if (dual) all = testing::dualStack(all);
  if (bridgeMode && dual) all = testing::onDualStackBridge(testing::nodeWithPods(60));
  if (v6only) all = testing::ipv6Only(testing::nodeWithPods(60));
  auto in = all;
  in.pods.clear();
  ObservedState state = applied(*computeNodePlan(in));
  for (int round = 0; round < 300; ++round) {
    const auto& pod = all.pods[rng() % all.pods.size()];
    bool enrolled = std::any_of(in.pods.begin(), in.pods.end(),
                                [&](auto& p) { return p.hostVeth == pod.hostVeth; });
    if (enrolled) {
      std::erase_if(in.pods, [&](auto& p) { return p.hostVeth == pod.hostVeth; });
    } else {
      in.pods.push_back(pod);
    }
    auto key = podVethSysctlKey(pod.hostVeth);
    auto it = state.sysctlOriginals.find(key);
    auto change = computePodChange(
        pod, !enrolled,
        it == state.sysctlOriginals.end() ? std::nullopt : std::optional(it->second),
        nodeModeOf(all));
    auto plan = computeNodePlan(in);
    CHECK(change.changes.size() == diff(*plan, state).changes.size());
    state = model(state, change);
    REQUIRE(diff(*plan, state).empty());
  }
}

TEST_CASE("an IPv4 and an IPv6 rule at one priority are two objects", "[diff]") {
  const auto v6 = IpAddress::Family::kV6;
  NetnsPlan want;
  want.rules = {{.priority = 103, .table = 100}, {.family = v6, .priority = 103, .table = 100}};
  want.routes = {
      RouteSpec{.table = 101, .dst = IpPrefix::any(IpAddress::Family::kV4), .dev = "istioout"},
      RouteSpec{.table = 101, .dst = IpPrefix::any(v6), .dev = "istioout"}};
  ObservedState have;
  have.owned.rules = {want.rules[0]};
  have.owned.routes = {want.routes[1]};
  auto cs = diff(want, have);
  REQUIRE(cs.changes.size() == 2);
  std::string text = renderChangeSet(cs);
  INFO(text);
  CHECK(text.find("ip -6 rule add pref 103 lookup 100 proto 112") != std::string::npos);
  CHECK(text.find("ip route add default dev istioout table 101 proto 112") != std::string::npos);
  CHECK(describe(cs.changes[0].object) + describe(cs.changes[1].object) ==
        "route default table 101ipv6 rule pref 103");
  CHECK(diff(want, model(have, cs)).empty());
  // A drifted IPv6 rule is replaced; its IPv4 twin is left alone.
  have = model(have, cs);
  have.owned.rules[1].table = 200;
  auto drift = diff(want, have);
  text = renderChangeSet(drift);
  INFO(text);
  CHECK(text.find("ip -6 rule del pref 103 lookup 200") != std::string::npos);
  CHECK(text.find("ip rule ") == std::string::npos);
}

TEST_CASE("an IPv6 address is rendered without duplicate address detection", "[diff]") {
  AddressSpec a{"istioin", *IpPrefix::parse("fd00:126::1/126")};
  CHECK(renderAddress(a) == "ip addr add fd00:126::1/126 dev istioin nodad");
  AddressSpec b{"istioin", *IpPrefix::parse("192.168.126.1/30")};
  CHECK(renderAddress(b) == "ip addr add 192.168.126.1/30 dev istioin");
  ChangeSet cs{NetnsRole::kNode, {{ChangeKind::kDelete, a}}};
  CHECK(renderChangeSet(cs).find("ip addr del fd00:126::1/126 dev istioin\n") != std::string::npos);
}
