// Unit tests: parsing the workload/service view (upstream local-config schema). Pure.
#include <catch2/catch.hpp>

#include "ztunnel/core/workload_view.h"

using namespace zt;

static const char* kView = R"({
  "workloads": [
    {"uid": "c1//v1/Pod/default/sleep", "name": "sleep", "namespace": "default",
     "serviceAccount": "sleep", "node": "node-a", "workloadIps": ["10.0.1.2"],
     "protocol": "HBONE", "services": {}},
    {"uid": "c1//v1/Pod/default/httpbin-1", "name": "httpbin-1", "namespace": "default",
     "serviceAccount": "httpbin", "node": "node-b", "workloadIps": ["10.0.2.2"],
     "protocol": "TCP", "services": {"default/httpbin.default.svc.cluster.local": {"8000": 80}}},
    {"uid": "c1//v1/Pod/default/hello", "name": "hello", "namespace": "default",
     "workloadIps": ["10.0.3.2"], "tunnelProtocol": "HBONE",
     "waypoint": {"destination": "/10.0.9.9", "hboneMtlsPort": 15008}, "services": {}}
  ],
  "policies": [],
  "services": [
    {"name": "httpbin", "namespace": "default", "hostname": "httpbin.default.svc.cluster.local",
     "vips": ["/10.96.0.10"], "ports": {"8000": 80},
     "endpoints": {"c1//v1/Pod/default/httpbin-2": {"workloadUid": "c1//v1/Pod/default/httpbin-2",
                   "port": {"8000": 8080}, "status": "Unhealthy"}}}
  ]
})";

TEST_CASE("view parses upstream field names and merges workload services") {
  auto v = parseWorkloadView(kView, "cluster.local");
  REQUIRE(v);
  REQUIRE(v->workloads.size() == 3);
  const Workload* sleep = v->findWorkloadByIp(*IpAddr::parse("10.0.1.2"));
  REQUIRE(sleep);
  CHECK(sleep->protocol == TunnelProtocol::kHbone);
  CHECK(sleep->identity() == "spiffe://cluster.local/ns/default/sa/sleep");
  const Workload* hello = v->findWorkloadByUid("c1//v1/Pod/default/hello");
  REQUIRE(hello);
  CHECK(hello->protocol == TunnelProtocol::kHbone);
  CHECK(hello->serviceAccount == "default");
  REQUIRE(hello->waypoint);
  CHECK(hello->waypoint->address->toString() == "10.0.9.9");
  const Service* svc = v->findServiceByVip(*IpAddr::parse("10.96.0.10"));
  REQUIRE(svc);
  CHECK(svc->endpoints.size() == 2);
  CHECK(svc->endpoints.at("c1//v1/Pod/default/httpbin-1").port.at(8000) == 80);
}

TEST_CASE("view renders back to a document that parses to the same view") {
  auto v = parseWorkloadView(kView, "cluster.local");
  REQUIRE(v);
  auto again = parseWorkloadView(renderWorkloadView(*v), "cluster.local");
  REQUIRE(again);
  CHECK(renderWorkloadView(*again) == renderWorkloadView(*v));
}

TEST_CASE("view errors name the field") {
  auto missingNs =
      parseWorkloadView(R"({"workloads":[{"name":"x","workloadIps":["1.2.3.4"]}]})", "td");
  REQUIRE_FALSE(missingNs);
  CHECK(missingNs.error().context.find("workloads[0]") != std::string::npos);
  CHECK(missingNs.error().context.find("namespace") != std::string::npos);
  CHECK_FALSE(parseWorkloadView("{not json", "td"));
  CHECK_FALSE(
      parseWorkloadView(R"({"workloads":[{"namespace":"a","workloadIps":["300.1.1.1"]}]})", "td"));
  CHECK_FALSE(parseWorkloadView(
      R"({"workloads":[{"namespace":"a","workloadIps":["1.1.1.1"],"protocol":"QUIC"}]})", "td"));
  CHECK_FALSE(parseWorkloadView(
      R"({"services":[{"name":"s","namespace":"n","hostname":"h","vips":["/1.1.1.1"],"ports":{"x":1}}]})",
      "td"));
  auto dup = parseWorkloadView(
      R"({"workloads":[{"namespace":"a","name":"a","workloadIps":["1.1.1.1"]},{"namespace":"a","name":"b","workloadIps":["1.1.1.1"]}]})",
      "td");
  REQUIRE_FALSE(dup);
  CHECK(dup.error().context.find("1.1.1.1") != std::string::npos);
  // Found by fuzz-workload_view (issue 20 session): a waypoint on port 0 was taken, and a route
  // through it dialled port 0.
  auto port0 =
      parseWorkloadView(R"({"workloads":[{"namespace":"a","name":"a","workloadIps":["1.1.1.1"],)"
                        R"("waypoint":{"destination":"/10.0.9.9","hboneMtlsPort":0}}]})",
                        "td");
  REQUIRE_FALSE(port0);
  CHECK(port0.error().message().find("hboneMtlsPort must be a port number 1-65535") !=
        std::string::npos);
}

TEST_CASE("empty document is an empty view") {
  auto v = parseWorkloadView("{}", "td");
  REQUIRE(v);
  CHECK(v->workloads.empty());
}

TEST_CASE("addresses parse in both families") {
  CHECK(SocketAddr::parse("10.1.2.3:80")->toString() == "10.1.2.3:80");
  CHECK(SocketAddr::parse("[fd00::1]:15008")->toString() == "[fd00::1]:15008");
  CHECK(IpAddr::parse("::ffff:10.0.0.1")->toString() == "10.0.0.1");
  CHECK_FALSE(SocketAddr::parse("10.1.2.3"));
  CHECK_FALSE(SocketAddr::parse("10.1.2.3:99999"));
  CHECK_FALSE(SocketAddr::parse("fd00::1:80"));
}

TEST_CASE("authorities are parsed and written as RFC 3986 writes them") {
  using namespace std::string_literals;
  // Round trips: text -> value -> canonical text (RFC 5952 for IPv6) -> the same value.
  const std::pair<std::string, std::string> trips[] = {
      {"[fd00::1]:15008", "[fd00::1]:15008"},
      {"[::1]:80", "[::1]:80"},
      {"[2001:db8::a:b]:65535", "[2001:db8::a:b]:65535"},
      {"[FD00:0:0::A]:80", "[fd00::a]:80"},
      {"[fd00:0:0:0:0:0:0:1]:8080", "[fd00::1]:8080"},
      {"[::]:0", "[::]:0"},
      {"10.1.2.3:80", "10.1.2.3:80"},
      {"10.1.2.3:080", "10.1.2.3:80"},
      // IPv4-mapped is the IPv4 address, as IpAddr::parse and the kernel's sockaddrs make it.
      {"[::ffff:10.0.0.1]:80", "10.0.0.1:80"},
  };
  for (const auto& [in, out] : trips) {
    INFO(in);
    auto a = SocketAddr::parse(in);
    REQUIRE(a);
    CHECK(a->toString() == out);
    auto back = SocketAddr::parse(a->toString());
    REQUIRE(back);
    CHECK(*back == *a);
  }
  CHECK(SocketAddr::parse("[::ffff:10.0.0.1]:80")->ip.v6 == false);
  CHECK(SocketAddr::parse("[fd00::1]:80")->ip.v6);
  CHECK((SocketAddr{*IpAddr::parse("fd00:2::2"), 443}).toString() == "[fd00:2::2]:443");

  const std::string refused[] = {
      "fd00::1:80",  // IPv6 without brackets: the port is not separable
      "::1:80",
      "fd00::1",        // no port
      "[10.1.2.3]:80",  // brackets hold IPv6 (or IPvFuture) only
      "[::ffff]:80x",
      "[fe80::1%eth0]:80",    // zone identifier
      "[fe80::1%25eth0]:80",  // zone identifier, RFC 6874 spelling
      "[fd00::1]",            // no port
      "[fd00::1]:",           // empty port
      "[fd00::1]80",
      "[fd00::1]:80x",
      "[fd00::1]:65536",
      "[fd00::1]:-1",
      "[fd00::1]:+80",
      "[fd00::1]:80]",
      "[fd00::1:80",
      "fd00::1]:80",
      "[[fd00::1]]:80",
      "[]:80",
      "[v1.x]:80",        // IPvFuture
      "host.example:80",  // a name, not an address
      " 10.1.2.3:80",
      "10.1.2.3:",
      ":80",
      "10.1.2:80",
      "010.1.2.3:80",
      "10.1.2.3\0:80"s,  // NUL inside the host
      "[fd00::1\0]:80"s,
  };
  for (const auto& text : refused) {
    INFO(text);
    CHECK_FALSE(SocketAddr::parse(text));
  }
  CHECK_FALSE(IpAddr::parse("10.0.0.1\0junk"s));
  CHECK_FALSE(IpAddr::parse("fe80::1%eth0"));
}

TEST_CASE("mutated config documents never crash the parser") {
  // Untrusted-input property: every byte-level mutation either parses or yields an error.
  const std::string base = kView;
  uint64_t seed = 0x9e3779b97f4a7c15ull;
  auto next = [&] {
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    return seed;
  };
  const char alphabet[] = "{}[]\":,0123456789./abcHBONETCP \\n-";
  int parsed = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string doc = base;
    int edits = 1 + static_cast<int>(next() % 4);
    for (int e = 0; e < edits; ++e) {
      size_t at = next() % doc.size();
      switch (next() % 3) {
        case 0:
          doc[at] = alphabet[next() % (sizeof(alphabet) - 1)];
          break;
        case 1:
          doc.erase(at, 1 + next() % 8);
          break;
        default:
          doc = doc.substr(0, at) + alphabet[next() % (sizeof(alphabet) - 1)] + doc.substr(at);
          break;
      }
      if (doc.empty()) doc = "{";
    }
    auto v = parseWorkloadView(doc, "cluster.local");
    if (v)
      ++parsed;
    else
      CHECK_FALSE(v.error().context.empty());
  }
  CHECK(parsed < 3000);
}
