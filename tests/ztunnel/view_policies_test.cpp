// Unit tests: the view's policy keys (upstream `policies` + workload `authorizationPolicies`,
// Kubernetes-shaped `authorizationPolicies`/`peerAuthentications`, workload `labels`) and the
// inbound verdict computed from them. Pure.
#include <catch2/catch.hpp>
#include <string>

#include "ztunnel/core/inbound_authz.h"
#include "ztunnel/core/workload_view.h"

using namespace zt;

namespace {

const char* kPolicyView = R"({
  "workloads": [
    {"uid": "c//v1/Pod/default/srv1", "name": "srv1", "namespace": "default", "node": "b",
     "workloadIps": ["10.0.2.2"], "protocol": "HBONE", "services": {},
     "labels": {"app": "srv1"}},
    {"uid": "c//v1/Pod/default/srv2", "name": "srv2", "namespace": "default", "node": "b",
     "workloadIps": ["10.0.3.2"], "protocol": "HBONE", "services": {},
     "labels": {"app": "srv2"}, "authorizationPolicies": ["default/deny-9000"]},
    {"uid": "c//v1/Pod/other/free", "name": "free", "namespace": "other", "node": "b",
     "workloadIps": ["10.0.4.2"], "protocol": "HBONE", "services": {}}
  ],
  "services": [],
  "policies": [
    {"name": "deny-9000", "namespace": "default", "scope": "WorkloadSelector", "action": "Deny",
     "rules": [[[{"destinationPorts": [9000]}]]]},
    {"namespace": "default", "scope": "Namespace", "action": "Deny", "rules": []}
  ],
  "authorizationPolicies": [
    {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
     "metadata": {"name": "allow-client", "namespace": "default"},
     "spec": {"selector": {"matchLabels": {"app": "srv1"}}, "action": "ALLOW",
              "rules": [{"from": [{"source": {"principals": ["cluster.local/ns/default/sa/client"]}}]}]}},
    {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
     "metadata": {"name": "get-only", "namespace": "default"},
     "spec": {"selector": {"matchLabels": {"app": "srv2"}},
              "rules": [{"to": [{"operation": {"methods": ["GET"]}}]}]}},
    {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
     "metadata": {"name": "broken", "namespace": "other"},
     "spec": {"action": "ALLOW", "rules": [{"from": [{"source": {"ipBlocks": ["10.0.0.0/99"]}}]}]}}
  ],
  "peerAuthentications": [
    {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
     "metadata": {"name": "strict-srv2", "namespace": "default"},
     "spec": {"selector": {"matchLabels": {"app": "srv2"}}, "mtls": {"mode": "STRICT"},
              "portLevelMtls": {"8081": {"mode": "PERMISSIVE"}}}}
  ]
})";

const IpAddr kSrc = *IpAddr::parse("10.0.1.2");

InboundAuthzVerdict verdict(const WorkloadView& v, const char* dst, uint16_t port,
                            std::string_view principal, bool plaintext) {
  IpAddr ip = *IpAddr::parse(dst);
  return computeInboundAuthz(v, v.findWorkloadByIp(ip), principal, kSrc, ip, port, plaintext);
}

}  // namespace

TEST_CASE("view: policy keys decode, labels and bound keys attach to workloads") {
  auto v = parseWorkloadView(kPolicyView, "cluster.local");
  REQUIRE(v);
  const Workload* srv2 = v->findWorkloadByIp(*IpAddr::parse("10.0.3.2"));
  REQUIRE(srv2);
  CHECK(srv2->labels.at("app") == "srv2");
  CHECK(srv2->authorizationPolicies == std::vector<std::string>{"default/deny-9000"});
  const auto& policies = v->policies.authorization.policies();
  REQUIRE(policies.size() == 4);  // 1 upstream-shaped + 3 Kubernetes-shaped; 1 dropped
  CHECK(policies[0].key() == "default/deny-9000");
  CHECK(policies[0].status == authz::PolicyStatus::kOk);
  CHECK(policies[2].status == authz::PolicyStatus::kPartial);  // methods: L7
  CHECK(policies[3].status == authz::PolicyStatus::kInvalid);  // bad CIDR, kept, fails closed
  REQUIRE(v->policies.rejected.size() == 1);                   // no name: cannot be scoped
  CHECK(v->policies.rejected[0].find("policies[1]") == 0);
  REQUIRE(v->policies.peerAuthentication.policies().size() == 1);
  CHECK(v->policies.rootNamespace == "istio-system");

  std::string dump = renderWorkloadView(*v);
  CHECK(dump.find("\"policyStatus\"") != std::string::npos);
  CHECK(dump.find("\"status\": \"invalid\"") != std::string::npos);
  CHECK(dump.find("\"l7Fields\"") != std::string::npos);
  CHECK(dump.find("\"status\": \"rejected\"") != std::string::npos);
  auto again = parseWorkloadView(dump, "cluster.local");  // the dump reads back the same
  REQUIRE(again);
  CHECK(renderWorkloadView(*again) == dump);
  CHECK(again->policies.authorization.policies().size() == 4);
  CHECK(again->policies.rejected.size() == 1);
  CHECK(again->findWorkloadByIp(*IpAddr::parse("10.0.3.2"))->authorizationPolicies.size() == 1);
  CHECK(again->findWorkloadByIp(*IpAddr::parse("10.0.2.2"))->labels.at("app") == "srv1");
}

TEST_CASE("view: inbound verdicts from the view's policies") {
  auto v = parseWorkloadView(kPolicyView, "cluster.local");
  REQUIRE(v);
  // HBONE: ALLOW by principal (the SPIFFE URI is evaluated without its scheme).
  auto ok = verdict(*v, "10.0.2.2", 8080, "spiffe://cluster.local/ns/default/sa/client", false);
  CHECK(ok.allowed);
  CHECK(ok.sourcePrincipal == "cluster.local/ns/default/sa/client");
  CHECK(ok.reason == "allow_policy");  // the allowing policy is named too (ambientctl trace)
  CHECK_FALSE(ok.policy.empty());
  auto other = verdict(*v, "10.0.2.2", 8080, "spiffe://cluster.local/ns/default/sa/other", false);
  CHECK_FALSE(other.allowed);
  CHECK(other.reason == "no_allow_match");
  // Plaintext: no principal, so the ALLOW policy of srv1 refuses it.
  CHECK(verdict(*v, "10.0.2.2", 8080, "", true).reason == "no_allow_match");
  // STRICT on srv2, PERMISSIVE on its port 8081; the L7-only ALLOW never matches on srv2.
  auto strict = verdict(*v, "10.0.3.2", 8080, "", true);
  CHECK_FALSE(strict.allowed);
  CHECK(strict.reason == "mtls_strict");
  CHECK(strict.policy == "strict-srv2");
  CHECK(strict.policyNamespace == "default");
  CHECK(verdict(*v, "10.0.3.2", 8081, "", true).reason == "no_allow_match");
  // Upstream binding by key: the DENY on port 9000 applies to srv2 only.
  auto bound = verdict(*v, "10.0.3.2", 9000, "spiffe://cluster.local/ns/default/sa/client", false);
  CHECK(bound.reason == "deny_policy");
  CHECK(bound.policy == "deny-9000");
  // The invalid policy fails closed for its namespace only.
  auto broken = verdict(*v, "10.0.4.2", 80, "spiffe://cluster.local/ns/default/sa/client", false);
  CHECK(broken.reason == "invalid_policy");
  CHECK(broken.policy == "broken");
  // Unknown destination: nothing selects it.
  auto unknown = verdict(*v, "10.0.9.9", 80, "", true);
  CHECK(unknown.allowed);
  CHECK(unknown.reason.empty());
  CHECK(unknown.policy.empty());
}

TEST_CASE("view: without policy keys nothing changes") {
  const char* plain = R"({"workloads": [{"namespace": "default", "workloadIps": ["10.0.2.2"],
      "protocol": "HBONE", "services": {}}], "services": [], "policies": []})";
  auto v = parseWorkloadView(plain, "cluster.local");
  REQUIRE(v);
  CHECK(v->policies.empty());
  CHECK(verdict(*v, "10.0.2.2", 8080, "", true).allowed);
  std::string dump = renderWorkloadView(*v);
  CHECK(dump.find("policyStatus") == std::string::npos);
  CHECK(dump.find("labels") == std::string::npos);
  CHECK(dump.find("rootNamespace") == std::string::npos);
}

TEST_CASE("view: policy keys of the wrong JSON type reject the view, as other structure errors") {
  for (const char* key : {"policies", "authorizationPolicies", "peerAuthentications"}) {
    std::string text = std::string(R"({"workloads": [], ")") + key + R"(": {}})";
    INFO(text);
    CHECK_FALSE(parseWorkloadView(text, "cluster.local"));
  }
  CHECK_FALSE(parseWorkloadView(R"({"rootNamespace": 3})", "cluster.local"));
  auto custom = parseWorkloadView(R"({"rootNamespace": "mesh-root", "authorizationPolicies": [
      {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
       "metadata": {"name": "deny-all", "namespace": "mesh-root"},
       "spec": {"action": "DENY", "rules": [{}]}}]})",
                                  "cluster.local");
  REQUIRE(custom);
  REQUIRE(custom->policies.authorization.policies().size() == 1);
  CHECK(custom->policies.authorization.policies()[0].scope == authz::Scope::kGlobal);
}
