// Unit tests: outbound route choice (VIP balancing, HBONE vs TCP, waypoints) and inbound CONNECT
// validation. Pure.
#include "ztunnel/core/route_plan.h"

#include <catch2/catch.hpp>
#include <set>

using namespace zt;

namespace {

WorkloadView makeView() {
  auto v = parseWorkloadView(R"({
    "workloads": [
      {"uid": "client", "name": "client", "namespace": "a", "serviceAccount": "client",
       "node": "n1", "workloadIps": ["10.0.1.2"], "protocol": "HBONE", "services": {}},
      {"uid": "ep1", "name": "ep1", "namespace": "b", "serviceAccount": "srv", "node": "n2",
       "workloadIps": ["10.0.2.2"], "protocol": "HBONE", "services": {"b/svc.b": {"80": 8080}}},
      {"uid": "ep2", "name": "ep2", "namespace": "b", "serviceAccount": "srv", "node": "n2",
       "workloadIps": ["10.0.2.3"], "protocol": "HBONE", "services": {"b/svc.b": {"80": 8080}}},
      {"uid": "ep3", "name": "ep3", "namespace": "b", "node": "n2", "workloadIps": ["10.0.2.4"],
       "protocol": "HBONE", "status": "Unhealthy", "services": {"b/svc.b": {"80": 8080}}},
      {"uid": "side", "name": "side", "namespace": "c", "node": "n3", "workloadIps": ["10.0.3.2"],
       "protocol": "TCP", "services": {"c/plain.c": {"90": 9090}}},
      {"uid": "hello", "name": "hello", "namespace": "d", "node": "n4", "workloadIps": ["10.0.4.2"],
       "protocol": "HBONE", "waypoint": {"destination": "/10.0.9.9", "hboneMtlsPort": 15008},
       "services": {}},
      {"uid": "wp", "name": "waypoint", "namespace": "d", "serviceAccount": "waypoint",
       "workloadIps": ["10.0.9.9"], "protocol": "TCP", "services": {}}
    ],
    "services": [
      {"name": "svc", "namespace": "b", "hostname": "svc.b", "vips": ["/10.96.0.1"], "ports": {"80": 8080}},
      {"name": "plain", "namespace": "c", "hostname": "plain.c", "vips": ["/10.96.0.2"], "ports": {"90": 9090}},
      {"name": "empty", "namespace": "c", "hostname": "empty.c", "vips": ["/10.96.0.3"], "ports": {"1": 1}}
    ]})",
                             "cluster.local");
  REQUIRE(v);
  return std::move(*v);
}

SocketAddr sa(const char* s) {
  return *SocketAddr::parse(s);
}

}  // namespace

TEST_CASE("service VIP is balanced over ready endpoints only, with HBONE to :15008") {
  WorkloadView v = makeView();
  std::set<std::string> seen;
  for (uint64_t pick = 0; pick < 10; ++pick) {
    OutboundRoute r =
        computeOutboundRoute(v, sa("10.0.1.2:40000"), sa("10.96.0.1:80"), pick, 15008);
    REQUIRE(r.kind == RouteKind::kHbone);
    CHECK(r.connectTo.port == 15008);
    CHECK(r.authority.port == 8080);
    CHECK(r.authority.ip == r.connectTo.ip);
    CHECK(r.expectedIdentity == "spiffe://cluster.local/ns/b/sa/srv");
    CHECK(r.sourceIdentity == "spiffe://cluster.local/ns/a/sa/client");
    seen.insert(r.connectTo.ip.toString());
  }
  CHECK(seen == std::set<std::string>{"10.0.2.2", "10.0.2.3"});
}

TEST_CASE("non-HBONE destinations get plain TCP; unknown ones pass through") {
  WorkloadView v = makeView();
  OutboundRoute r = computeOutboundRoute(v, sa("10.0.1.2:1"), sa("10.96.0.2:90"), 0, 15008);
  CHECK(r.kind == RouteKind::kDirect);
  CHECK(r.connectTo.toString() == "10.0.3.2:9090");
  r = computeOutboundRoute(v, sa("10.0.1.2:1"), sa("10.0.3.2:22"), 0, 15008);
  CHECK(r.kind == RouteKind::kDirect);
  CHECK(r.connectTo.toString() == "10.0.3.2:22");
  r = computeOutboundRoute(v, sa("10.0.1.2:1"), sa("192.0.2.1:443"), 0, 15008);
  CHECK(r.kind == RouteKind::kPassthrough);
  CHECK(r.connectTo.toString() == "192.0.2.1:443");
}

TEST_CASE("waypoint: HBONE to the waypoint with the original destination as authority") {
  WorkloadView v = makeView();
  OutboundRoute r = computeOutboundRoute(v, sa("10.0.1.2:1"), sa("10.0.4.2:5000"), 0, 15008);
  REQUIRE(r.kind == RouteKind::kHbone);
  CHECK(r.viaWaypoint);
  CHECK(r.connectTo.toString() == "10.0.9.9:15008");
  CHECK(r.authority.toString() == "10.0.4.2:5000");
  CHECK(r.expectedIdentity == "spiffe://cluster.local/ns/d/sa/waypoint");
}

TEST_CASE("refusals: no ready endpoint, HBONE from an unknown source") {
  WorkloadView v = makeView();
  OutboundRoute r = computeOutboundRoute(v, sa("10.0.1.2:1"), sa("10.96.0.3:1"), 0, 15008);
  CHECK(r.kind == RouteKind::kReject);
  CHECK(r.reason.find("no ready endpoint") != std::string::npos);
  r = computeOutboundRoute(v, sa("10.9.9.9:1"), sa("10.0.2.2:8080"), 0, 15008);
  CHECK(r.kind == RouteKind::kReject);
  // ... while plain TCP from an unknown source is fine.
  r = computeOutboundRoute(v, sa("10.9.9.9:1"), sa("10.0.3.2:22"), 0, 15008);
  CHECK(r.kind == RouteKind::kDirect);
}

TEST_CASE("inbound CONNECT validation") {
  WorkloadView v = makeView();
  auto check = [&](const ConnectRequest& req, const std::string& node) {
    return computeInboundTarget(v, req, node).status;
  };
  CHECK(check({"CONNECT", "10.0.2.2:8080", "", "", ""}, "n2") == 200);
  CHECK(check({"CONNECT", "10.0.2.2:8080", "", "", ""}, "") == 200);
  CHECK(check({"GET", "10.0.2.2:8080", "https", "/", ""}, "n2") == 405);
  CHECK(check({"CONNECT", "svc.b:80", "", "", ""}, "n2") == 400);
  CHECK(check({"CONNECT", "10.0.2.2", "", "", ""}, "n2") == 400);
  CHECK(check({"CONNECT", "10.0.2.2:8080", "", "", "websocket"}, "n2") == 400);
  CHECK(check({"CONNECT", "10.0.2.2:8080", "", "", ""}, "n1") == 401);   // another node's pod
  CHECK(check({"CONNECT", "10.0.3.2:9090", "", "", ""}, "n3") == 401);   // not enrolled
  CHECK(check({"CONNECT", "192.0.2.1:80", "", "", ""}, "n2") == 401);    // unknown
  CHECK(check({"CONNECT", "10.0.2.2:15008", "", "", ""}, "n2") == 401);  // loop
  // The loop check follows the ports ztunnel really listens on (--inbound-port etc.).
  ListenerPorts moved{16001, 16006, 16008};
  ConnectRequest to16008{"CONNECT", "10.0.2.2:16008", "", "", ""};
  ConnectRequest to15008{"CONNECT", "10.0.2.2:15008", "", "", ""};
  CHECK(computeInboundTarget(v, to16008, "n2", moved).status == 401);
  CHECK(computeInboundTarget(v, to15008, "n2", moved).status == 200);
}

namespace {

// Dual stack: d2 and wpd list their IPv6 address first, so front() would be the wrong family
// for an IPv4 destination; v4only/v6only have one family each.
WorkloadView makeDualStackView() {
  auto v = parseWorkloadView(R"({
    "workloads": [
      {"uid": "client", "name": "client", "namespace": "a", "serviceAccount": "client",
       "node": "n1", "workloadIps": ["10.0.1.2", "fd00:1::2"], "protocol": "HBONE", "services": {}},
      {"uid": "d1", "name": "d1", "namespace": "b", "serviceAccount": "srv", "node": "n2",
       "workloadIps": ["10.0.2.2", "fd00:2::2"], "protocol": "HBONE",
       "services": {"b/dual.b": {"80": 8080}}},
      {"uid": "d2", "name": "d2", "namespace": "b", "serviceAccount": "srv", "node": "n2",
       "workloadIps": ["fd00:2::3", "10.0.2.3"], "protocol": "HBONE",
       "services": {"b/dual.b": {"80": 8080}}},
      {"uid": "v4only", "name": "v4only", "namespace": "b", "serviceAccount": "srv", "node": "n2",
       "workloadIps": ["10.0.2.4"], "protocol": "HBONE",
       "services": {"b/dual.b": {"80": 8080}, "b/only4.b": {"80": 8080}}},
      {"uid": "v6only", "name": "v6only", "namespace": "b", "serviceAccount": "srv", "node": "n2",
       "workloadIps": ["fd00:2::5"], "protocol": "HBONE", "services": {"b/dual.b": {"80": 8080}}},
      {"uid": "hello", "name": "hello", "namespace": "d", "node": "n4",
       "workloadIps": ["10.0.4.2", "fd00:4::2"], "protocol": "HBONE",
       "waypoint": {"destination": {"namespace": "d", "hostname": "wp.d"}}, "services": {}},
      {"uid": "hello6", "name": "hello6", "namespace": "d", "node": "n4",
       "workloadIps": ["10.0.4.3"], "protocol": "HBONE",
       "waypoint": {"destination": {"namespace": "d", "hostname": "wp6.d"}}, "services": {}},
      {"uid": "wp4", "name": "wp4", "namespace": "d", "serviceAccount": "waypoint",
       "workloadIps": ["10.0.9.4"], "services": {"d/wp.d": {}}},
      {"uid": "wp6", "name": "wp6", "namespace": "d", "serviceAccount": "waypoint",
       "workloadIps": ["fd00:9::6"], "services": {"d/wp.d": {}, "d/wp6.d": {}}},
      {"uid": "wpd", "name": "wpd", "namespace": "d", "serviceAccount": "waypoint",
       "workloadIps": ["fd00:9::7", "10.0.9.7"], "services": {"d/wp.d": {}}}
    ],
    "services": [
      {"name": "dual", "namespace": "b", "hostname": "dual.b",
       "vips": ["/10.96.0.20", "/fd00:96::20"], "ports": {"80": 8080}},
      {"name": "only4", "namespace": "b", "hostname": "only4.b",
       "vips": ["/10.96.0.21", "/fd00:96::21"], "ports": {"80": 8080}},
      {"name": "wp", "namespace": "d", "hostname": "wp.d", "vips": [], "ports": {}},
      {"name": "wp6", "namespace": "d", "hostname": "wp6.d", "vips": [], "ports": {}}
    ]})",
                             "cluster.local");
  REQUIRE(v);
  return std::move(*v);
}

// The addresses a destination is sent to over many picks (HBONE: the CONNECT authority's IP).
std::set<std::string> pickedIps(const WorkloadView& v, const char* client, const char* dst) {
  std::set<std::string> seen;
  for (uint64_t pick = 0; pick < 64; ++pick) {
    OutboundRoute r = computeOutboundRoute(v, sa(client), sa(dst), pick, 15008);
    REQUIRE(r.kind == RouteKind::kHbone);
    CHECK(r.connectTo.ip == r.authority.ip);
    CHECK(r.connectTo.port == 15008);
    CHECK(r.authority.port == 8080);
    seen.insert(r.authority.ip.toString());
  }
  return seen;
}

}  // namespace

TEST_CASE("dual-stack service: balanced within the family of the VIP the client dialled") {
  WorkloadView v = makeDualStackView();
  // v4only is no candidate for the IPv6 VIP, v6only none for the IPv4 VIP; d2 gives its IPv4
  // address to the IPv4 VIP although it lists IPv6 first.
  CHECK(pickedIps(v, "[fd00:1::2]:40000", "[fd00:96::20]:80") ==
        std::set<std::string>{"fd00:2::2", "fd00:2::3", "fd00:2::5"});
  CHECK(pickedIps(v, "10.0.1.2:40000", "10.96.0.20:80") ==
        std::set<std::string>{"10.0.2.2", "10.0.2.3", "10.0.2.4"});
  OutboundRoute r = computeOutboundRoute(v, sa("[fd00:1::2]:1"), sa("[fd00:96::20]:80"), 0, 15008);
  CHECK(r.authority.toString().front() == '[');
  CHECK(r.sourceIdentity == "spiffe://cluster.local/ns/a/sa/client");
}

TEST_CASE("dual-stack service: no endpoint of the VIP's family is a refusal naming the family") {
  WorkloadView v = makeDualStackView();
  OutboundRoute r = computeOutboundRoute(v, sa("[fd00:1::2]:1"), sa("[fd00:96::21]:80"), 0, 15008);
  CHECK(r.kind == RouteKind::kReject);
  CHECK(r.reason ==
        "service b/only4.b has no ready endpoint with an IPv6 address (1 ready endpoint(s) have "
        "only IPv4)");
  r = computeOutboundRoute(v, sa("10.0.1.2:1"), sa("10.96.0.21:80"), 0, 15008);
  CHECK(r.kind == RouteKind::kHbone);
  CHECK(r.authority.toString() == "10.0.2.4:8080");
}

TEST_CASE("dual-stack workload addressed directly keeps the address dialled") {
  WorkloadView v = makeDualStackView();
  OutboundRoute r = computeOutboundRoute(v, sa("[fd00:1::2]:1"), sa("[fd00:2::3]:8080"), 0, 15008);
  REQUIRE(r.kind == RouteKind::kHbone);
  CHECK(r.connectTo.toString() == "[fd00:2::3]:15008");
  CHECK(r.authority.toString() == "[fd00:2::3]:8080");
  r = computeOutboundRoute(v, sa("10.0.1.2:1"), sa("10.0.2.3:8080"), 0, 15008);
  REQUIRE(r.kind == RouteKind::kHbone);
  CHECK(r.connectTo.toString() == "10.0.2.3:15008");
}

TEST_CASE("waypoint by hostname: an address of the destination's family is preferred") {
  WorkloadView v = makeDualStackView();
  std::set<std::string> v6;
  std::set<std::string> v4;
  for (uint64_t pick = 0; pick < 64; ++pick) {
    OutboundRoute r =
        computeOutboundRoute(v, sa("[fd00:1::2]:1"), sa("[fd00:4::2]:7000"), pick, 15008);
    REQUIRE(r.kind == RouteKind::kHbone);
    CHECK(r.viaWaypoint);
    CHECK(r.authority.toString() == "[fd00:4::2]:7000");
    CHECK(r.expectedIdentity == "spiffe://cluster.local/ns/d/sa/waypoint");
    v6.insert(r.connectTo.toString());
    r = computeOutboundRoute(v, sa("10.0.1.2:1"), sa("10.0.4.2:7000"), pick, 15008);
    REQUIRE(r.kind == RouteKind::kHbone);
    v4.insert(r.connectTo.toString());
  }
  CHECK(v6 == std::set<std::string>{"[fd00:9::6]:15008", "[fd00:9::7]:15008"});
  CHECK(v4 == std::set<std::string>{"10.0.9.4:15008", "10.0.9.7:15008"});
  // A waypoint with no address of that family is still used (the leg then cannot keep the
  // client's source address, see originalSourceFor).
  OutboundRoute r = computeOutboundRoute(v, sa("10.0.1.2:1"), sa("10.0.4.3:7000"), 0, 15008);
  REQUIRE(r.kind == RouteKind::kHbone);
  CHECK(r.connectTo.toString() == "[fd00:9::6]:15008");
}

TEST_CASE("inbound CONNECT to a dual-stack workload: either address, IPv6 in brackets") {
  WorkloadView v = makeDualStackView();
  auto connect = [&](const char* authority) {
    return computeInboundTarget(v, {"CONNECT", authority, "", "", ""}, "n2");
  };
  InboundDecision d6 = connect("[fd00:2::3]:8080");
  InboundDecision d4 = connect("10.0.2.3:8080");
  REQUIRE(d6.status == 200);
  REQUIRE(d4.status == 200);
  CHECK(d6.destination == d4.destination);
  CHECK(d6.destination->uid == "d2");
  CHECK(d6.target.toString() == "[fd00:2::3]:8080");
  CHECK(connect("[fd00:2::5]:8080").status == 200);
  CHECK(connect("fd00:2::3:8080").status == 400);         // unbracketed IPv6
  CHECK(connect("[10.0.2.3]:8080").status == 400);        // bracketed IPv4
  CHECK(connect("[fd00:2::3%eth0]:8080").status == 400);  // zone identifier
  CHECK(connect("[fd00:2::99]:8080").status == 401);      // unknown
  CHECK(connect("[fd00:1::2]:8080").status == 401);       // another node's workload
}
