// ambientctl's policy report and the trace's policy verdict over a view like the seed's scenario
// 2 (sleep and bar-1 ambient, bar-1 open only to sleep), and ztunnel's /denials decoded. Pure.
#include "ambientctl/core/policy_report.h"

#include <catch2/catch.hpp>

#include "ambientctl/core/denial_list.h"

using namespace ambient;
using Catch::Matchers::Contains;

namespace {

const char* kView = R"({
  "workloads": [
    {"uid": "Kubernetes//Pod/foo/sleep", "name": "sleep", "namespace": "foo", "node": "a",
     "serviceAccount": "sleep", "workloadIps": ["10.0.1.2"], "protocol": "HBONE", "services": {}},
    {"uid": "Kubernetes//Pod/foo/other", "name": "other", "namespace": "foo", "node": "a",
     "serviceAccount": "other", "workloadIps": ["10.0.1.3"], "protocol": "HBONE", "services": {}},
    {"uid": "Kubernetes//Pod/bar/bar-1", "name": "bar-1", "namespace": "bar", "node": "b",
     "serviceAccount": "bar", "workloadIps": ["10.0.2.2", "fd00::2:2"], "protocol": "HBONE",
     "services": {}, "labels": {"app": "bar"}},
    {"uid": "Kubernetes//Pod/legacy/old", "name": "old", "namespace": "legacy", "node": "b",
     "workloadIps": ["10.0.3.2"], "protocol": "TCP", "services": {}}
  ],
  "services": [
    {"name": "bar", "namespace": "bar", "hostname": "bar.bar.svc.cluster.local",
     "vips": ["/10.96.0.9"], "ports": {"80": 8080},
     "endpoints": {"Kubernetes//Pod/bar/bar-1": {"workloadUid": "Kubernetes//Pod/bar/bar-1",
                                                 "port": {"80": 8080}}}}
  ],
  "authorizationPolicies": [
    {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
     "metadata": {"name": "only-sleep", "namespace": "bar"},
     "spec": {"selector": {"matchLabels": {"app": "bar"}},
              "rules": [{"from": [{"source": {"principals": ["cluster.local/ns/foo/sa/sleep"]}}]}]}},
    {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
     "metadata": {"name": "audit-all", "namespace": "istio-system"},
     "spec": {"action": "AUDIT", "rules": [{}]}},
    {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
     "metadata": {"name": "elsewhere", "namespace": "legacy"},
     "spec": {"action": "DENY", "rules": [{}]}}
  ],
  "peerAuthentications": [
    {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
     "metadata": {"name": "strict", "namespace": "bar"}, "spec": {"mtls": {"mode": "STRICT"}}}
  ]
})";

zt::WorkloadView view() {
  auto v = zt::parseWorkloadView(kView, "cluster.local");
  REQUIRE(v);
  return *v;
}

Denial denial(const std::string& destination, const std::string& policy) {
  Denial d;
  d.time = "2026-12-07T23:00:00.000Z";
  d.listener = "inbound_hbone";
  d.source = "10.0.1.3:40000";
  d.sourcePrincipal = "cluster.local/ns/foo/sa/other";
  d.destination = destination;
  d.reason = "no_allow_match";
  d.policy = policy;
  d.trigger = "connect";
  return d;
}

}  // namespace

TEST_CASE("policy report: the policies that select bar-1, its mTLS mode and its denials",
          "[ctl][policy]") {
  auto r = reportPolicies(
      view(), "bar", "bar-1",
      {denial("10.0.2.2:8080", ""), denial("10.0.1.2:80", ""), denial("[fd00::2:2]:8080", "")});
  REQUIRE(r);
  CHECK(r->identity == "spiffe://cluster.local/ns/bar/sa/bar");
  CHECK(r->ambient);
  REQUIRE(r->authorization.size() == 2);  // the mesh-wide AUDIT, then bar's ALLOW; not legacy's
  CHECK(r->authorization[0]["name"] == "audit-all");
  CHECK(r->authorization[1]["name"] == "only-sleep");
  CHECK(r->authorization[1]["action"] == "ALLOW");
  CHECK(r->mtlsMode == "STRICT");
  CHECK(r->mtlsDecidedBy["name"] == "strict");
  REQUIRE(r->denials.size() == 2);  // both of bar-1's addresses, not sleep's
  CHECK(r->denials[1].destination == "[fd00::2:2]:8080");
  std::string text = renderPolicyReport(*r);
  CHECK_THAT(text, Contains("ALLOW bar/only-sleep (WorkloadSelector {\"app\":\"bar\"})"));
  CHECK_THAT(text, Contains("mTLS for plaintext inbound: STRICT from PeerAuthentication"));
  CHECK_THAT(text, Contains("10.0.1.3:40000 (cluster.local/ns/foo/sa/other) -> 10.0.2.2:8080"));
  auto j = policyReportJson(*r);
  CHECK(j["authorizationPolicies"].size() == 2);
  CHECK(j["denials"].size() == 2);
  CHECK_FALSE(j.contains("denialsUnavailable"));
}

TEST_CASE("policy report: a pod without policies, a pod outside the mesh, an unknown pod",
          "[ctl][policy]") {
  auto sleep = reportPolicies(view(), "foo", "sleep");
  REQUIRE(sleep);
  REQUIRE(sleep->authorization.size() == 1);  // only the mesh-wide AUDIT
  CHECK(sleep->mtlsMode == "PERMISSIVE");
  CHECK(sleep->mtlsDecidedBy.is_null());
  sleep->denialsUnavailable = "ztunnel's admin port: connection refused";
  CHECK_THAT(renderPolicyReport(*sleep), Contains("unknown, ztunnel's admin port"));
  auto old = reportPolicies(view(), "legacy", "old");
  REQUIRE(old);
  CHECK_FALSE(old->ambient);
  CHECK_THAT(renderPolicyReport(*old), Contains("not ambient"));
  auto missing = reportPolicies(view(), "bar", "bar-9");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().isNotFound());
  CHECK_THAT(missing.error().message(), Contains("bar/bar-9"));
}

TEST_CASE("trace verdict: names the policy that allows or denies the connection", "[ctl][policy]") {
  auto v = view();
  CHECK(describePolicyVerdict(v, IpAddress("10.0.1.2"), IpAddress("10.0.2.2"), 8080) ==
        "policy, HBONE from spiffe://cluster.local/ns/foo/sa/sleep, at bar/bar-1: allowed by "
        "ALLOW bar/only-sleep; audit istio-system/audit-all matched");
  CHECK_THAT(describePolicyVerdict(v, IpAddress("10.0.1.3"), IpAddress("10.0.2.2"), 8080),
             Contains("HBONE from spiffe://cluster.local/ns/foo/sa/other, at bar/bar-1: denied, "
                      "ALLOW policies select the pod and none matches"));
  // A source outside the mesh arrives as plaintext: bar's STRICT refuses it first.
  CHECK_THAT(describePolicyVerdict(v, IpAddress("10.0.3.2"), IpAddress("10.0.2.2"), 8080),
             Contains("plaintext (the source is not in the mesh), at bar/bar-1: denied, plaintext "
                      "refused by PeerAuthentication bar/strict (STRICT)"));
  // ... unless it speaks HBONE itself (a sidecar or a waypoint, to port 15008).
  CHECK_THAT(describePolicyVerdict(v, IpAddress("10.0.3.2"), IpAddress("10.0.2.2"), 15008),
             Contains("HBONE from spiffe://cluster.local/ns/legacy/sa/default (evaluated for port "
                      "15008"));
  CHECK_THAT(describePolicyVerdict(v, IpAddress("10.0.2.2"), IpAddress("10.0.1.2"), 80),
             Contains("at foo/sleep: allowed (no ALLOW policy selects the pod)"));
  CHECK_THAT(describePolicyVerdict(v, IpAddress("10.0.1.2"), IpAddress("10.0.3.2"), 80),
             Contains("at legacy/old: not ambient"));
  // A VIP: each endpoint at its target port (8080 for the service's 80).
  CHECK_THAT(describePolicyVerdict(v, IpAddress("10.0.1.3"), IpAddress("10.96.0.9"), 80),
             Contains("at the endpoints of service bar/bar: bar/bar-1: denied"));
  CHECK_THAT(describePolicyVerdict(v, IpAddress("10.0.1.3"), IpAddress("10.96.0.9"), 81),
             Contains("service bar/bar has no port 81"));
  CHECK_THAT(describePolicyVerdict(v, IpAddress("10.0.1.2"), IpAddress("10.0.9.9"), 80),
             Contains("10.0.9.9 is no pod or service in ztunnel's view"));
}

TEST_CASE("denials: ztunnel's /denials decoded, each mistake named", "[ctl][policy]") {
  auto list = decodeDenials(R"({"capacity":100,"total":7,"denials":[
    {"time":"2026-12-07T23:00:00.000Z","unixMillis":1,"listener":"inbound_plaintext",
     "source":"10.0.3.2:5000","sourcePrincipal":"","destination":"[fd00::2:2]:8080",
     "reason":"mtls_strict","policy":"bar/strict","trigger":"connect"}]})");
  REQUIRE(list);
  CHECK(list->total == 7);
  REQUIRE(list->denials.size() == 1);
  CHECK(list->denials[0].destinationAddress() == "fd00::2:2");
  CHECK(list->denials[0].policy == "bar/strict");
  CHECK_THAT(decodeDenials("[]").error().message(), Contains("not a JSON object"));
  CHECK_THAT(decodeDenials("{\"denials\":{}}").error().message(), Contains("no denials list"));
  CHECK_THAT(
      decodeDenials(R"({"denials":[{"destination":"1.2.3.4:5","reason":3}]})").error().message(),
      Contains("denials[0].reason"));
  CHECK_THAT(decodeDenials(R"({"denials":[{"reason":"x"}]})").error().message(),
             Contains("no destination"));
  CHECK_THAT(decodeDenials(R"({"total":-1,"denials":[]})").error().message(), Contains("total"));
}
