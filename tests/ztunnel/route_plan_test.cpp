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
