// Unit tests: L4 AuthorizationPolicy / PeerAuthentication decoding and evaluation, over Istio's
// documented examples, bad input and the namespace index. Pure.
#include "ztunnel/core/authz_policy.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using namespace zt;
using namespace zt::authz;

namespace {

const std::string kSleep = "cluster.local/ns/default/sa/sleep";
const std::string kOther = "cluster.local/ns/default/sa/other";
const std::string kDev = "cluster.local/ns/dev/sa/app";

std::string object(const std::string& kind, const std::string& ns, const std::string& name,
                   const std::string& spec, const std::string& metaExtra = "") {
  return R"({"apiVersion":"security.istio.io/v1","kind":")" + kind + R"(","metadata":{"name":")" +
         name + R"(","namespace":")" + ns + "\"" + metaExtra + R"(},"spec":)" + spec + "}";
}

AuthorizationPolicy policy(const std::string& ns, const std::string& name, const std::string& spec,
                           const std::string& metaExtra = "") {
  auto p = decodeAuthorizationPolicy(object("AuthorizationPolicy", ns, name, spec, metaExtra));
  REQUIRE(p);
  return *p;
}

ConnectionFacts conn(const std::string& principal, const std::string& dstNs, uint16_t port,
                     Labels labels = {{"app", "httpbin"}}, const std::string& srcIp = "10.0.1.2") {
  ConnectionFacts f;
  f.sourcePrincipal = principal;
  f.sourceIp = *IpAddr::parse(srcIp);
  f.destinationIp = *IpAddr::parse("10.0.2.2");
  f.destinationPort = port;
  f.destinationNamespace = dstNs;
  f.destinationLabels = std::move(labels);
  return f;
}

std::string decidedBy(const Decision& d) {
  return d.policy ? d.policy->key() : "";
}

struct Probe {
  ConnectionFacts facts;
  bool allowed;
  std::string decidedBy;  // "" when no policy decided
};

struct Example {
  const char* name;
  std::vector<AuthorizationPolicy> policies;
  std::vector<Probe> probes;
};

}  // namespace

TEST_CASE("authz: Istio's documented examples decide as Istio does", "[authz]") {
  const std::string allowHttpbin =
      R"({"selector":{"matchLabels":{"app":"httpbin"}},"action":"ALLOW","rules":[{"from":[{"source":
         {"principals":["cluster.local/ns/default/sa/sleep"]}}],"to":[{"operation":{"ports":["8080"]}}]}]})";
  std::vector<Example> examples = {
      {"allow-nothing (spec: {}) denies everything in its namespace only",
       {policy("default", "allow-nothing", "{}")},
       {{conn(kSleep, "default", 80), false, ""}, {conn(kSleep, "other", 80), true, ""}}},
      {"rules: [{}] allows everything",
       {policy("default", "allow-all", R"({"rules":[{}]})")},
       {{conn("", "default", 80), true, "default/allow-all"}}},
      {"deny-all from one namespace",
       {policy("default", "deny-dev",
               R"({"action":"DENY","rules":[{"from":[{"source":{"namespaces":["dev"]}}]}]})")},
       {{conn(kDev, "default", 80), false, "default/deny-dev"},
        {conn(kSleep, "default", 80), true, ""},
        {conn("", "default", 80), true, ""}}},
      {"allow only principal X on port 8080",
       {policy("default", "httpbin", allowHttpbin)},
       {{conn(kSleep, "default", 8080), true, "default/httpbin"},
        {conn(kSleep, "default", 9090), false, ""},
        {conn(kOther, "default", 8080), false, ""},
        {conn("", "default", 8080), false, ""},
        {conn(kOther, "default", 8080, {{"app", "web"}}), true, ""}}},
      {"ipBlocks with notIpBlocks, IPv4 and IPv6",
       {policy("default", "ips", R"({"rules":[{"from":[{"source":{"ipBlocks":["10.0.0.0/16",
               "fd00::/8"],"notIpBlocks":["10.0.5.0/24","fd00::7"]}}]}]})")},
       {{conn("", "default", 80, {}, "10.0.1.1"), true, "default/ips"},
        {conn("", "default", 80, {}, "10.0.5.9"), false, ""},
        {conn("", "default", 80, {}, "192.168.1.1"), false, ""},
        {conn("", "default", 80, {}, "fd00::8"), true, "default/ips"},
        {conn("", "default", 80, {}, "fd00::7"), false, ""}}},
      {"when destination.port values and notValues",
       {policy("default", "port", R"({"rules":[{"when":[{"key":"destination.port",
               "values":["8080","9090"]},{"key":"destination.port","notValues":["9090"]}]}]})")},
       {{conn(kSleep, "default", 8080), true, "default/port"},
        {conn(kSleep, "default", 9090), false, ""},
        {conn(kSleep, "default", 80), false, ""}}},
      {"an L7-only ALLOW rule matches nothing",
       {policy("default", "get-only", R"({"rules":[{"to":[{"operation":{"methods":["GET"]}}]}]})")},
       {{conn(kSleep, "default", 80), false, ""}}},
      {"a DENY rule with L7 fields is enforced without them",
       {policy("default", "deny-post-from-dev", R"({"action":"DENY","rules":[{"from":[{"source":
               {"namespaces":["dev"]}}],"to":[{"operation":{"methods":["POST"]}}]}]})")},
       {{conn(kDev, "default", 80), false, "default/deny-post-from-dev"},
        {conn(kSleep, "default", 80), true, ""}}},
      {"DENY beats ALLOW",
       {policy("default", "allow-all", R"({"rules":[{}]})"),
        policy("default", "deny-sleep", R"({"action":"DENY","rules":[{"from":[{"source":
               {"principals":["cluster.local/ns/default/sa/sleep"]}}]}]})")},
       {{conn(kSleep, "default", 80), false, "default/deny-sleep"},
        {conn(kOther, "default", 80), true, "default/allow-all"}}},
      {"AUDIT never changes the verdict",
       {policy("default", "audit-dev",
               R"({"action":"AUDIT","rules":[{"from":[{"source":{"namespaces":["dev"]}}]}]})")},
       {{conn(kDev, "default", 80), true, ""}}},
      {"a root-namespace policy applies to every namespace",
       {policy("istio-system", "deny-dev",
               R"({"action":"DENY","rules":[{"from":[{"source":{"namespaces":["dev"]}}]}]})")},
       {{conn(kDev, "default", 80), false, "istio-system/deny-dev"},
        {conn(kDev, "other", 80), false, "istio-system/deny-dev"}}},
      {"a root-namespace selector applies to matching workloads in every namespace",
       {policy("istio-system", "httpbin-nothing",
               R"({"selector":{"matchLabels":{"app":"httpbin"}}})")},
       {{conn(kSleep, "other", 80), false, ""},
        {conn(kSleep, "other", 80, {{"app", "web"}}), true, ""}}},
      {"a selector applies only in its own namespace",
       {policy("default", "nothing", R"({"selector":{"matchLabels":{"app":"httpbin"}}})")},
       {{conn(kSleep, "default", 80), false, ""},
        {conn(kSleep, "default", 80, {{"app", "httpbin"}, {"v", "1"}}), false, ""},
        {conn(kSleep, "other", 80), true, ""}}},
      {"principals and namespaces by prefix, suffix and presence",
       {policy("default", "forms", R"({"rules":[{"from":[{"source":{"principals":
               ["cluster.local/ns/dev/*","*/sa/sleep"]}},{"source":{"namespaces":["team-*"],
               "notPrincipals":["*"]}}]}]})")},
       {{conn(kDev, "default", 80), true, "default/forms"},
        {conn(kSleep, "default", 80), true, "default/forms"},
        {conn(kOther, "default", 80), false, ""},
        {conn("", "default", 80), false, ""}}},
      {"serviceAccounts match the identity in any trust domain",
       {policy("default", "sa",
               R"({"rules":[{"from":[{"source":{"serviceAccounts":["sleep"]}}]}]})")},
       {{conn("td2/ns/default/sa/sleep", "default", 80), true, "default/sa"},
        {conn(kOther, "default", 80), false, ""}}},
      {"CUSTOM and targetRefs policies are not enforced by ztunnel",
       {policy("default", "ext", R"({"action":"CUSTOM","provider":{"name":"x"},"rules":[{}]})"),
        policy("default", "waypoint", R"({"targetRefs":[{"kind":"Service","name":"s"}]})")},
       {{conn(kSleep, "default", 80), true, ""}}},
      {"a dry-run DENY is only reported",
       {policy("default", "dry", R"({"action":"DENY","rules":[{}]})",
               R"(,"annotations":{"istio.io/dry-run":"true"})")},
       {{conn(kSleep, "default", 80), true, ""}}},
  };
  for (const Example& e : examples) {
    PolicySet set(e.policies);
    for (size_t i = 0; i < e.probes.size(); ++i) {
      INFO(e.name << " / probe " << i);
      Decision d = set.evaluate(e.probes[i].facts);
      CHECK(d.allowed == e.probes[i].allowed);
      CHECK(decidedBy(d) == e.probes[i].decidedBy);
    }
  }
}

TEST_CASE("authz: decisions name their reason and audit hits", "[authz]") {
  PolicySet set(
      {policy("default", "audit-dev",
              R"({"action":"AUDIT","rules":[{"from":[{"source":{"namespaces":["dev"]}}]}]})"),
       policy("default", "only-sleep", R"({"rules":[{"from":[{"source":{"principals":
                        ["cluster.local/ns/default/sa/sleep"]}}]}]})")});
  Decision dev = set.evaluate(conn(kDev, "default", 80));
  CHECK_FALSE(dev.allowed);
  CHECK(dev.reason == DecisionReason::kNoAllowMatched);
  REQUIRE(dev.auditHits.size() == 1);
  CHECK(dev.auditHits[0]->key() == "default/audit-dev");
  Decision sleep = set.evaluate(conn(kSleep, "default", 80));
  CHECK(sleep.reason == DecisionReason::kAllowMatched);
  CHECK(sleep.auditHits.empty());
  CHECK(decisionReasonName(PolicySet().evaluate(conn(kSleep, "x", 1)).reason) == "no_allow_policy");
}

TEST_CASE("authz: applicable lists the policies selecting a workload, matched or not", "[authz]") {
  PolicySet set({policy("istio-system", "mesh-deny", R"({"action":"DENY","rules":[{}]})"),
                 policy("default", "only-sleep", R"({"rules":[{"from":[{"source":{"principals":
                        ["cluster.local/ns/default/sa/sleep"]}}]}]})"),
                 policy("default", "web-only", R"({"selector":{"matchLabels":{"app":"web"}}})"),
                 policy("other", "elsewhere", R"({"rules":[{}]})")});
  std::vector<std::string> keys;
  for (const auto* p : set.applicable(conn(kDev, "default", 80))) keys.push_back(p->key());
  CHECK(keys == std::vector<std::string>{"istio-system/mesh-deny", "default/only-sleep"});
  CHECK(set.applicable(conn(kDev, "nowhere", 80)).size() == 1);
}

TEST_CASE("authz: L7 fields are reported and never widen access", "[authz]") {
  AuthorizationPolicy allow = policy("default", "l7", R"({"rules":[{"from":[{"source":
      {"principals":["*"],"requestPrincipals":["*"]}}]},{"when":[{"key":"request.headers[x]",
      "values":["1"]}]},{"to":[{"operation":{"ports":["80"]}}]}]})");
  CHECK(allow.status == PolicyStatus::kPartial);
  CHECK(allow.l7Fields == std::vector<std::string>{"requestPrincipals", "when:request.headers[x]"});
  CHECK(allow.rules.size() == 1);  // only the L4 rule is left
  CHECK(allow.statusReason.find("allowing less") != std::string::npos);
  PolicySet set({allow});
  CHECK(set.evaluate(conn(kSleep, "default", 80)).allowed);
  CHECK_FALSE(set.evaluate(conn(kSleep, "default", 81)).allowed);

  // remoteIpBlocks and remote.ip are HTTP attributes for istiod (X-Forwarded-For).
  AuthorizationPolicy deny = policy("default", "deny-l7", R"({"action":"DENY","rules":[{"from":
      [{"source":{"remoteIpBlocks":["1.2.3.4"]}}],"when":[{"key":"remote.ip","values":["1.2.3.4"]}]}]})");
  CHECK(deny.status == PolicyStatus::kPartial);
  CHECK(deny.l7Fields == std::vector<std::string>{"remoteIpBlocks", "when:remote.ip"});
  CHECK_FALSE(PolicySet({deny}).evaluate(conn(kSleep, "default", 80)).allowed);
}

TEST_CASE("authz: bad input invalidates only its policy and fails closed for its scope",
          "[authz]") {
  std::string many = R"({"rules":[{"from":[{"source":{"principals":[)";
  for (int i = 0; i < 100000; ++i) many += (i ? ",\"p" : "\"p") + std::to_string(i) + "\"";
  many += "]}}]}]}";
  struct Bad {
    const char* what;
    std::string spec;
  };
  std::vector<Bad> cases = {
      {"unknown field", R"({"rulez":[]})"},
      {"unknown field in a source", R"({"rules":[{"from":[{"source":{"principal":["x"]}}]}]})"},
      {"unknown action", R"({"action":"ALOW","rules":[{}]})"},
      {"invalid CIDR", R"({"rules":[{"from":[{"source":{"ipBlocks":["10.0.0.0/33"]}}]}]})"},
      {"invalid address", R"({"rules":[{"from":[{"source":{"ipBlocks":["10.0.0.300"]}}]}]})"},
      {"invalid port", R"({"rules":[{"to":[{"operation":{"ports":["80a"]}}]}]})"},
      {"empty source", R"({"rules":[{"from":[{"source":{}}]}]})"},
      {"when without values", R"({"rules":[{"when":[{"key":"source.ip"}]}]})"},
      {"wrong type", R"({"rules":{"from":[]}})"},
      {"bad selector", R"({"selector":{"matchLabels":{"app":7}},"action":"DENY"})"},
      {"invalid DENY", R"({"action":"DENY","rules":[{"from":[{"source":{"ipBlocks":["x"]}}]}]})"},
      {"100,000 principals", many},
  };
  AuthorizationPolicy neighbour = policy(
      "other", "allow-sleep",
      R"({"rules":[{"from":[{"source":{"principals":["cluster.local/ns/default/sa/sleep"]}}]}]})");
  for (const Bad& c : cases) {
    INFO(c.what);
    AuthorizationPolicy bad = policy("default", "bad", c.spec);
    CHECK(bad.status == PolicyStatus::kInvalid);
    CHECK_FALSE(bad.statusReason.empty());
    PolicySet set({bad, neighbour});
    Decision d = set.evaluate(conn(kSleep, "default", 80, {{"app", "httpbin"}}));
    CHECK_FALSE(d.allowed);
    CHECK(d.reason == DecisionReason::kInvalidPolicy);
    CHECK(decidedBy(d) == "default/bad");
    CHECK(set.evaluate(conn(kSleep, "other", 80)).allowed);
    CHECK_FALSE(set.evaluate(conn(kOther, "other", 80)).allowed);
  }
  // An invalid AUDIT policy, like any AUDIT policy, changes nothing.
  AuthorizationPolicy audit = policy("default", "a", R"({"action":"AUDIT","rules":[{"x":1}]})");
  CHECK(audit.status == PolicyStatus::kInvalid);
  CHECK(PolicySet({audit}).evaluate(conn(kSleep, "default", 80)).allowed);
  // A selector that matches nothing affects nobody.
  PolicySet none({policy("default", "nobody", R"({"selector":{"matchLabels":{"app":"ghost"}}})")});
  CHECK(none.evaluate(conn(kSleep, "default", 80)).allowed);
}

TEST_CASE("authz: unreadable objects are errors and never throw", "[authz]") {
  for (const char* text : {"", "nul", "[]", "null", "{\"metadata\":5}", "{\"metadata\":{}}",
                           "{\"metadata\":{\"name\":\"a\",\"namespace\":7}}"}) {
    INFO(text);
    CHECK_FALSE(decodeAuthorizationPolicy(text));
    CHECK_FALSE(decodePeerAuthentication(text));
    CHECK_FALSE(decodeLocalAuthorization(text));
  }
  auto wrongKind = decodeAuthorizationPolicy(object("PeerAuthentication", "a", "b", "{}"));
  REQUIRE(wrongKind);
  CHECK(wrongKind->status == PolicyStatus::kInvalid);
}

TEST_CASE("authz: upstream ztunnel's local-config policies decode and bind by key", "[authz]") {
  auto p = decodeLocalAuthorization(R"({"name":"only-sleep","namespace":"default",
      "scope":"WorkloadSelector","action":"Allow","dryRun":false,"rules":[[[{"principals":
      [{"Exact":"cluster.local/ns/default/sa/sleep"}]}],[{"destinationPorts":[8080]},
      {"notDestinationPorts":[1,2]}]]]})");
  REQUIRE(p);
  CHECK(p->status == PolicyStatus::kOk);
  PolicySet set({*p});
  ConnectionFacts bound = conn(kSleep, "default", 8080);
  bound.boundPolicyKeys = {"default/only-sleep"};
  CHECK(set.evaluate(bound).allowed);
  bound.sourcePrincipal = kOther;
  CHECK_FALSE(set.evaluate(bound).allowed);
  CHECK(set.evaluate(conn(kOther, "default", 8080)).allowed);  // not bound to this workload

  auto presence = decodeLocalAuthorization(R"({"name":"strict","namespace":"istio-system",
      "scope":"Global","action":"Deny","rules":[[[{"notPrincipals":[{"Presence":[]}]}]]]})");
  REQUIRE(presence);
  PolicySet strict({*presence});
  CHECK_FALSE(strict.evaluate(conn("", "any", 80)).allowed);
  CHECK(strict.evaluate(conn(kSleep, "any", 80)).allowed);

  // Upstream's empty-match rule: [[[{}]]] matches nothing, [[[]]] and [[]] match everything.
  for (auto [rules, allowed] : {std::pair{"[[[{}]]]", false}, {"[[[]]]", true}, {"[[]]", true}}) {
    auto e = decodeLocalAuthorization(std::string(R"({"name":"e","namespace":"n","scope":
        "Namespace","action":"Allow","rules":)") +
                                      rules + "}");
    REQUIRE(e);
    CHECK(PolicySet({*e}).evaluate(conn(kSleep, "n", 80)).allowed == allowed);
  }
  for (const char* badField : {R"("scope":"Cluster")", R"("extra":1)", R"("dryRun":"no")"}) {
    auto b = decodeLocalAuthorization(std::string(R"({"name":"b","namespace":"n","action":
        "Allow","scope":"Namespace",)") +
                                      badField + "}");
    REQUIRE(b);
    CHECK(b->status == PolicyStatus::kInvalid);
  }
}

TEST_CASE("authz: the index looks only at the root and destination namespaces", "[authz]") {
  std::vector<AuthorizationPolicy> relevant = {
      policy("istio-system", "mesh-deny-dev",
             R"({"action":"DENY","rules":[{"from":[{"source":{"namespaces":["dev"]}}]}]})"),
      policy("default", "only-sleep", R"({"rules":[{"from":[{"source":{"principals":
             ["cluster.local/ns/default/sa/sleep"]}}]}]})")};
  std::vector<AuthorizationPolicy> crowded = relevant;
  for (int i = 0; i < 10000; ++i) {
    crowded.push_back(
        policy("ns-" + std::to_string(i), "deny-all", R"({"action":"DENY","rules":[{}]})"));
  }
  PolicySet small(relevant);
  PolicySet big(crowded);
  for (const ConnectionFacts& f : {conn(kSleep, "default", 80), conn(kOther, "default", 80),
                                   conn(kDev, "default", 80), conn(kSleep, "ns-7", 80)}) {
    Decision a = small.evaluate(f);
    Decision b = big.evaluate(f);
    if (f.destinationNamespace == "default") {
      CHECK(a.allowed == b.allowed);
      CHECK(decidedBy(a) == decidedBy(b));
      CHECK(b.examined == 2);
    } else {
      CHECK_FALSE(b.allowed);
      CHECK(b.examined == 2);  // the root namespace's policy and ns-7's own
    }
  }
}

namespace {

PeerAuthentication peer(const std::string& ns, const std::string& name, const std::string& spec,
                        const std::string& created = "2024-01-01T00:00:00Z") {
  auto p = decodePeerAuthentication(
      object("PeerAuthentication", ns, name, spec, R"(,"creationTimestamp":")" + created + "\""));
  REQUIRE(p);
  return *p;
}

bool plaintext(const PeerAuthenticationSet& set, const std::string& ns, uint16_t port,
               const Labels& labels = {{"app", "httpbin"}}) {
  return set.plaintextAllowed(ns, labels, port).allowed;
}

}  // namespace

TEST_CASE("authz: PeerAuthentication STRICT, PERMISSIVE and port-level modes", "[authz]") {
  CHECK(plaintext(PeerAuthenticationSet(), "default", 80));

  PeerAuthenticationSet mesh({peer("istio-system", "mesh", R"({"mtls":{"mode":"STRICT"}})"),
                              peer("legacy", "ns", R"({"mtls":{"mode":"PERMISSIVE"}})"),
                              peer("unset", "ns", R"({"mtls":{}})")});
  CHECK_FALSE(plaintext(mesh, "default", 80));
  CHECK(plaintext(mesh, "legacy", 80));
  CHECK_FALSE(plaintext(mesh, "unset", 80));  // UNSET inherits
  CHECK(mesh.plaintextAllowed("default", {}, 80).decidedBy->key() == "istio-system/mesh");

  PeerAuthenticationSet workload({peer("default", "httpbin", R"({"selector":{"matchLabels":
      {"app":"httpbin"}},"mtls":{"mode":"PERMISSIVE"},"portLevelMtls":{"8080":{"mode":"STRICT"}}})")});
  CHECK(plaintext(workload, "default", 80));
  CHECK_FALSE(plaintext(workload, "default", 8080));
  CHECK(plaintext(workload, "default", 8080, {{"app", "web"}}));

  PeerAuthenticationSet exempt({peer("default", "ns", R"({"mtls":{"mode":"STRICT"}})"),
                                peer("default", "httpbin", R"({"selector":{"matchLabels":
      {"app":"httpbin"}},"portLevelMtls":{"9000":{"mode":"DISABLE"}}})")});
  CHECK_FALSE(plaintext(exempt, "default", 80));
  CHECK(plaintext(exempt, "default", 9000));

  // The oldest namespace-level policy wins, as istiod resolves conflicts.
  PeerAuthenticationSet oldest(
      {peer("default", "b", R"({"mtls":{"mode":"PERMISSIVE"}})", "2024-02-01T00:00:00Z"),
       peer("default", "a", R"({"mtls":{"mode":"STRICT"}})", "2024-01-01T00:00:00Z")});
  CHECK_FALSE(plaintext(oldest, "default", 80));

  // portLevelMtls without a selector is ignored; a root selector is not applied (istiod).
  PeerAuthentication noSelector = peer(
      "default", "p", R"({"mtls":{"mode":"PERMISSIVE"},"portLevelMtls":{"80":{"mode":"STRICT"}}})");
  CHECK(noSelector.status == PolicyStatus::kPartial);
  CHECK(plaintext(PeerAuthenticationSet({noSelector}), "default", 80));
  PeerAuthenticationSet rootSel({peer("istio-system", "sel", R"({"selector":{"matchLabels":
      {"app":"httpbin"}},"mtls":{"mode":"STRICT"}})")});
  CHECK(rootSel.policies()[0].status == PolicyStatus::kNotForZtunnel);
  CHECK(plaintext(rootSel, "default", 80));
}

TEST_CASE("authz: a bad PeerAuthentication is STRICT for its scope only", "[authz]") {
  for (const char* spec :
       {R"({"mtls":{"mode":"STRIKT"}})", R"({"mtls":{"mode":"STRICT","x":1}})",
        R"({"selector":{"matchLabels":{"app":"httpbin"}},"portLevelMtls":{"http":{}}})",
        R"({"selector":{"matchLabels":{"app":"httpbin"}},"peers":[]})"}) {
    INFO(spec);
    PeerAuthentication bad = peer("default", "bad", spec);
    CHECK(bad.status == PolicyStatus::kInvalid);
    PeerAuthenticationSet set({bad, peer("other", "ns", R"({"mtls":{"mode":"PERMISSIVE"}})")});
    PlaintextDecision d = set.plaintextAllowed("default", {{"app", "httpbin"}}, 80);
    CHECK_FALSE(d.allowed);
    CHECK(d.decidedBy->key() == "default/bad");
    CHECK(plaintext(set, "other", 80));
  }
}
