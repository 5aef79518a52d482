// Unit tests: Prometheus rendering, command-line flags, HTTP request heads. Pure.
#include <catch2/catch.hpp>

#include "tests/support/refusals.h"
#include "ztunnel/core/http_request.h"
#include "ztunnel/core/metrics_registry.h"
#include "ztunnel/core/options.h"

using namespace zt;
using ambient::testing::refusalOf;
using Catch::Matchers::Contains;

TEST_CASE("metrics render the istio_tcp family with workload labels") {
  MetricsRegistry m;
  TrafficLabels l;
  l.reporter = "source";
  l.sourceWorkload = "sleep";
  l.sourceNamespace = "default";
  l.destinationWorkload = "httpbin";
  l.destinationNamespace = "default";
  l.securityPolicy = "mutual_tls";
  auto c = m.traffic(l);
  CHECK(m.traffic(l) == c);
  c->opened += 2;
  c->closed += 1;
  c->receivedBytes += 100;
  c->sentBytes += 2000;
  m.countRejected("inbound_hbone", "tls_handshake");
  std::string text = m.renderPrometheus();
  CHECK(text.find("# TYPE istio_tcp_connections_opened_total counter") != std::string::npos);
  CHECK(
      text.find("istio_tcp_connections_opened_total{reporter=\"source\",source_workload=\"sleep\","
                "source_workload_namespace=\"default\",source_principal=\"unknown\","
                "destination_workload=\"httpbin\"") != std::string::npos);
  CHECK(text.find("connection_security_policy=\"mutual_tls\"} 2\n") != std::string::npos);
  CHECK(text.find("istio_tcp_sent_bytes_total{") != std::string::npos);
  CHECK(text.find("} 2000\n") != std::string::npos);
  CHECK(text.find("ztunnel_connections_rejected_total{listener=\"inbound_hbone\",reason=\"tls_"
                  "handshake\"} 1") != std::string::npos);
  CHECK(escapeLabelValue("a\"b\\c\nd") == "a\\\"b\\\\c\\nd");
}

TEST_CASE("flags: defaults, both spellings, errors") {
  auto d = parseOptions({});
  REQUIRE(d);
  CHECK(d->outboundPort == 15001);
  CHECK(d->inboundPort == 15008);
  CHECK(d->streamWindow == 4u * 1024 * 1024);
  CHECK(d->defaultIdentity == "spiffe://cluster.local/ns/istio-system/sa/ztunnel");
  auto o = parseOptions({"--bind=0.0.0.0", "--outbound-port", "25001", "--transparent", "off",
                         "--mark", "0x539", "--trust-domain", "td.example"});
  REQUIRE(o);
  CHECK(o->bindAddress == "0.0.0.0");
  CHECK(o->outboundPort == 25001);
  CHECK_FALSE(o->transparent);
  CHECK(o->mark == 0x539);
  CHECK(o->defaultIdentity == "spiffe://td.example/ns/istio-system/sa/ztunnel");
  CHECK_FALSE(parseOptions({"--outbound-port", "70000"}));
  CHECK_FALSE(parseOptions({"--nope"}));
  CHECK_FALSE(parseOptions({"--config"}));
  CHECK_FALSE(parseOptions({"--transparent", "maybe"}));
  CHECK(renderHelp().find("Exit codes") != std::string::npos);
  // The per-connection buffer limit clamps the advertised windows.
  CHECK(effectiveConnectionWindow(*d) == 16u * 1024 * 1024);
  CHECK(effectiveStreamWindow(*d) == 4u * 1024 * 1024);
  auto lim = parseOptions({"--max-connection-buffer", "1048576"});
  REQUIRE(lim);
  CHECK(effectiveConnectionWindow(*lim) == 1048576u);
  CHECK(effectiveStreamWindow(*lim) == 1048576u);
  CHECK_FALSE(parseOptions({"--max-connection-buffer", "1000"}));
  CHECK(renderHelp().find("--max-connection-buffer") != std::string::npos);
  CHECK(d->stallTimeoutMs == 60000);
  CHECK(d->poolIdleMs == 30000);
  auto st = parseOptions({"--stall-timeout-ms", "1500", "--pool-idle-ms=500"});
  REQUIRE(st);
  CHECK(st->stallTimeoutMs == 1500);
  CHECK(st->poolIdleMs == 500);
  CHECK_FALSE(parseOptions({"--stall-timeout-ms", "5"}));
}

TEST_CASE("flags: each refusal names the flag, even next to --help; --help shows defaults") {
  CHECK_THAT(refusalOf(parseOptions({"--workers", "0"})), Contains("--workers"));
  CHECK_THAT(refusalOf(parseOptions({"--workers=65"})), Contains("--workers"));
  CHECK_THAT(refusalOf(parseOptions({"--frame-size", "1k"})), Contains("--frame-size"));
  CHECK_THAT(refusalOf(parseOptions({"--log-level", "loud"})), Contains("--log-level"));
  CHECK_THAT(refusalOf(parseOptions({"--original-source=maybe"})), Contains("--original-source"));
  CHECK_THAT(refusalOf(parseOptions({"--mark"})), Contains("--mark"));
  CHECK_THAT(refusalOf(parseOptions({"--bind="})), Contains("--bind"));
  CHECK_THAT(refusalOf(parseOptions({"--nope", "--help"})), Contains("--nope"));
  CHECK_THAT(refusalOf(parseOptions({"--version=2"})), Contains("version"));
  auto h = parseOptions({"--config", "/nonexistent", "--help"});
  REQUIRE(h);
  CHECK(h->help);
  CHECK(parseOptions({"--version"})->version);
  auto e = parseOptions({"--node=", "--transparent=off", "--max-connections=5"});
  REQUIRE(e);
  CHECK(e->node.empty());
  CHECK_FALSE(e->transparent);
  CHECK(e->maxConnections == 5);
  std::string help = renderHelp();
  for (const char* shown :
       {"--outbound-port N", "(default 15001)", "(default 15020)", "--transparent on|off",
        "(default on)", "(default 4 MiB, as upstream ztunnel)",
        "(default spiffe://<td>/ns/istio-system/sa/ztunnel)",
        "(default /var/run/ztunnel/config.json)", "Limits and tuning", "4 a listener"}) {
    INFO(shown);
    CHECK(help.find(shown) != std::string::npos);
  }
}

TEST_CASE("HTTP request heads") {
  auto h = parseHttpRequestHead("GET /healthz/ready?x=1 HTTP/1.1\r\nHost: a\r\n\r\n");
  CHECK(h.state == HttpRequestHead::State::kComplete);
  CHECK(h.path == "/healthz/ready");
  CHECK(parseHttpRequestHead("GET / HTTP/1.1\r\n").state == HttpRequestHead::State::kIncomplete);
  CHECK(parseHttpRequestHead("garbage\r\n\r\n").state == HttpRequestHead::State::kBad);
  CHECK(renderHttpResponse(503, "text/plain", "no").find("HTTP/1.1 503") == 0);
}

TEST_CASE("the default bind is auto: 127.0.0.1 and ::1 where IPv6 is on") {
  auto d = parseOptions({});
  REQUIRE(d);
  CHECK(d->bindAddress == "auto");
  CHECK(d->bindIpv6IfAvailable);
  REQUIRE(d->bindAddresses.size() == 2);
  CHECK(d->bindAddresses[0].toString() == "127.0.0.1");
  CHECK(d->bindAddresses[1].toString() == "::1");
  auto explicitList = parseOptions({"--bind", "127.0.0.1"});
  REQUIRE(explicitList);
  CHECK_FALSE(explicitList->bindIpv6IfAvailable);
  CHECK(explicitList->bindAddresses.size() == 1);
}

TEST_CASE("bind lists, loop detection, original source choice") {
  auto o = parseOptions({"--bind", "127.0.0.1,::1"});
  REQUIRE(o);
  REQUIRE(o->bindAddresses.size() == 2);
  CHECK(o->bindAddresses[1].v6);
  CHECK_FALSE(parseOptions({"--bind", "127.0.0.1,nope"}));
  auto sa = [](const char* s) { return *SocketAddr::parse(s); };
  CHECK(isOwnListener(*o, sa("127.0.0.1:15001")));
  CHECK(isOwnListener(*o, sa("[::1]:15008")));
  CHECK_FALSE(isOwnListener(*o, sa("10.0.0.1:15001")));  // a pod's own 15001 is not us
  CHECK_FALSE(isOwnListener(*o, sa("127.0.0.1:8080")));
  auto ip = [](const char* s) { return *IpAddr::parse(s); };
  CHECK(originalSourceFor(*o, ip("10.0.1.2"), ip("10.0.2.2")) == ip("10.0.1.2"));
  CHECK_FALSE(originalSourceFor(*o, ip("127.0.0.1"), ip("10.0.2.2")));  // loopback cannot leave
  CHECK_FALSE(originalSourceFor(*o, ip("10.0.1.2"), ip("fd00::2")));    // family mismatch
  auto off = parseOptions({"--original-source", "off"});
  REQUIRE(off);
  CHECK_FALSE(originalSourceFor(*off, ip("10.0.1.2"), ip("10.0.2.2")));
}
