// ztunnel's view rendered from the agent's snapshot of the seed's cluster: the golden text, and,
// when the bundled ztunnel is built, its own parser and router reading that text and choosing
// the seed's paths. Pure.
#include "node-agent/core/ztunnel_view.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "golden.h"
#include "tests/support/typed_values.h"
#include "ztunnel/core/route_plan.h"

using namespace ambient;

namespace {

// The seed: foo is ambient (sleep on node A, httpbin and helloworld on node B, helloworld's
// waypoint on node C); bar has sidecars (httpbin on node B, sleep on node A).
MetadataSnapshot seedCluster() {
  MetadataSnapshot s;
  s.complete = true;
  s.namespaces["foo"].labels = {{"istio.io/dataplane-mode", "ambient"}};
  s.namespaces["bar"].labels = {{"istio-injection", "enabled"}};
  auto pod = [&](const std::string& key, const std::string& sa, const std::string& node,
                 const std::string& ip, Labels labels = {}, Labels annotations = {}) {
    PodMeta p;
    p.serviceAccount = sa;
    p.nodeName = node;
    p.ips = {testing::ipOf(ip)};
    p.labels = std::move(labels);
    p.annotations = std::move(annotations);
    s.pods[key] = p;
  };
  pod("foo/sleep-1", "sleep", "node-a", "10.244.1.10", {{"app", "sleep"}});
  pod("foo/httpbin-1", "httpbin", "node-b", "10.244.2.10", {{"app", "httpbin"}},
      {{"ambient.istio.io/redirection", "enabled"}});
  pod("foo/helloworld-1", "helloworld", "node-b", "10.244.2.11", {{"app", "helloworld"}},
      {{"ambient.istio.io/redirection", "enabled"}});
  pod("foo/waypoint-1", "waypoint", "node-c", "10.244.3.10", {{"app", "waypoint"}});
  pod("bar/httpbin-1", "httpbin", "node-b", "10.244.2.20", {{"app", "httpbin"}},
      {{"sidecar.istio.io/status", "{}"}});
  pod("bar/sleep-1", "sleep", "node-a", "10.244.1.20", {{"app", "sleep"}},
      {{"sidecar.istio.io/status", "{}"}});
  PodMeta host;
  host.nodeName = "node-a";
  host.ips = {"192.168.0.1"};
  host.hostNetwork = true;
  s.pods["kube-system/kube-proxy-a"] = host;
  auto svc = [&](const std::string& key, const std::string& vip, uint16_t port, uint16_t target,
                 Labels labels = {}) {
    ServiceMeta m;
    m.labels = std::move(labels);
    m.clusterIps = {vip};
    m.ports = {ServicePortMeta{"http", port, target, "", "TCP"}};
    s.services[key] = m;
  };
  svc("foo/httpbin", "10.96.0.10", 8000, 80);
  svc("foo/helloworld", "10.96.0.11", 5000, 5000, {{"istio.io/use-waypoint", "waypoint"}});
  svc("foo/waypoint", "10.96.0.12", 15008, 15008);
  svc("bar/httpbin", "10.96.0.20", 8000, 80);
  auto slice = [&](const std::string& key, const std::string& ns, const std::string& service,
                   const std::string& podName, const std::string& ip, uint16_t port) {
    EndpointSliceMeta e;
    e.serviceNamespace = ns;
    e.serviceName = service;
    e.ports = {{"http", port}};
    e.endpoints = {EndpointMeta{ns, podName, {ip}, true}};
    s.endpointSlices[key] = e;
  };
  slice("foo/httpbin-x1", "foo", "httpbin", "httpbin-1", "10.244.2.10", 80);
  slice("foo/helloworld-x1", "foo", "helloworld", "helloworld-1", "10.244.2.11", 5000);
  slice("foo/waypoint-x1", "foo", "waypoint", "waypoint-1", "10.244.3.10", 15008);
  slice("bar/httpbin-x1", "bar", "httpbin", "httpbin-1", "10.244.2.20", 80);
  return s;
}

}  // namespace

TEST_CASE("the ztunnel view of the seed's cluster matches its golden file", "[ztunnel-view]") {
  std::string view = renderZtunnelView(seedCluster(), {"foo/sleep-1"}, "node-a", {});
  testing::checkGolden("ztunnel_view_seed.json", view);
  // Deterministic.
  CHECK(view == renderZtunnelView(seedCluster(), {"foo/sleep-1"}, "node-a", {}));
}

TEST_CASE("local pods follow the agent's registry and remote pods their annotation",
          "[ztunnel-view]") {
  MetadataSnapshot s = seedCluster();
  // Node A's agent has not enrolled sleep (yet): TCP even though the namespace is ambient.
  std::string view = renderZtunnelView(s, {}, "node-a", {});
  auto j = nlohmann::json::parse(view);
  std::map<std::string, std::string> protocol;
  for (const auto& w : j["workloads"]) protocol[w["uid"]] = w["protocol"];
  CHECK(protocol.at("Kubernetes//Pod/foo/sleep-1") == "TCP");
  CHECK(protocol.at("Kubernetes//Pod/foo/httpbin-1") == "HBONE");
  CHECK(protocol.at("Kubernetes//Pod/bar/httpbin-1") == "TCP");
  CHECK(protocol.count("Kubernetes//Pod/kube-system/kube-proxy-a") == 0);
}

namespace {

IstioPolicyMeta policyMeta(const std::string& ns, const std::string& name, const char* spec) {
  IstioPolicyMeta p;
  p.apiVersion = "security.istio.io/v1";
  p.name = name;
  p.namespace_ = ns;
  p.resourceVersion = "5";
  if (spec != nullptr) p.spec = nlohmann::json::parse(spec);
  return p;
}

// The seed plus Istio policies (issue 22): a DENY on foo's httpbin, a mesh-wide STRICT, and the
// issue's bad input: an unknown enum value and an invalid CIDR, 100,000 principals, a selector
// that matches nothing.
MetadataSnapshot seedWithPolicies() {
  MetadataSnapshot s = seedCluster();
  s.authorizationPolicies["foo/deny-bar"] =
      policyMeta("foo", "deny-bar",
                 R"({"selector": {"matchLabels": {"app": "httpbin"}}, "action": "DENY",
          "rules": [{"from": [{"source": {"namespaces": ["bar"]}}]}]})");
  auto dryRun = policyMeta("foo", "audit-all", R"({"action": "AUDIT", "rules": [{}]})");
  dryRun.annotations = {{"istio.io/dry-run", "true"}};
  dryRun.apiVersion = "security.istio.io/v1beta1";
  s.authorizationPolicies["foo/audit-all"] = dryRun;
  s.authorizationPolicies["bar/junk"] = policyMeta(
      "bar", "junk",
      R"({"action": "MAYBE", "rules": [{"from": [{"source": {"ipBlocks": ["10.0.0.300/8"]}}]}]})");
  nlohmann::json big = {
      {"rules", {{{"from", {{{"source", {{"principals", nlohmann::json::array()}}}}}}}}}};
  auto& principals = big["rules"][0]["from"][0]["source"]["principals"];
  for (int i = 0; i < 100000; ++i)
    principals.push_back("cluster.local/ns/x/sa/p" + std::to_string(i));
  auto huge = policyMeta("foo", "huge", nullptr);
  huge.spec = big;
  s.authorizationPolicies["foo/huge"] = huge;
  s.authorizationPolicies["foo/nobody"] =
      policyMeta("foo", "nobody", R"({"selector": {"matchLabels": {"app": "nothing-has-this"}}})");
  auto strict = policyMeta("istio-system", "default", R"({"mtls": {"mode": "STRICT"}})");
  strict.creationTimestamp = "2024-01-01T00:00:00Z";
  s.peerAuthentications["istio-system/default"] = strict;
  return s;
}

}  // namespace

TEST_CASE("the view carries labels, the root namespace and every policy as served",
          "[ztunnel-view][policies]") {
  ZtunnelViewSettings settings;
  settings.rootNamespace = "mesh-root";
  auto j = nlohmann::json::parse(renderZtunnelView(seedWithPolicies(), {}, "node-a", settings));
  CHECK(j["rootNamespace"] == "mesh-root");
  CHECK(j["policies"] == nlohmann::json::array());  // upstream's resolved form: not ours to write
  std::vector<std::string> order;
  for (const auto& p : j["authorizationPolicies"]) {
    order.push_back(p["metadata"]["namespace"].get<std::string>() + "/" +
                    p["metadata"]["name"].get<std::string>());
    CHECK(p["kind"] == "AuthorizationPolicy");
  }
  CHECK(order == std::vector<std::string>{"bar/junk", "foo/audit-all", "foo/deny-bar", "foo/huge",
                                          "foo/nobody"});
  CHECK(j["authorizationPolicies"][1] == nlohmann::json::parse(R"({
    "apiVersion": "security.istio.io/v1beta1", "kind": "AuthorizationPolicy",
    "metadata": {"name": "audit-all", "namespace": "foo",
                 "annotations": {"istio.io/dry-run": "true"}, "resourceVersion": "5"},
    "spec": {"action": "AUDIT", "rules": [{}]}})"));
  CHECK(j["authorizationPolicies"][0]["spec"]["action"] == "MAYBE");  // passed through
  CHECK(
      j["authorizationPolicies"][3]["spec"]["rules"][0]["from"][0]["source"]["principals"].size() ==
      100000);
  REQUIRE(j["peerAuthentications"].size() == 1);
  CHECK(j["peerAuthentications"][0]["metadata"]["creationTimestamp"] == "2024-01-01T00:00:00Z");
  for (const auto& w : j["workloads"]) {
    if (w["uid"] == "Kubernetes//Pod/foo/httpbin-1")
      CHECK(w["labels"] == nlohmann::json{{"app", "httpbin"}});
  }
  // A cluster without policies: empty lists, the default root namespace.
  auto none = nlohmann::json::parse(renderZtunnelView(seedCluster(), {}, "node-a", {}));
  CHECK(none["rootNamespace"] == "istio-system");
  CHECK(none["authorizationPolicies"] == nlohmann::json::array());
  CHECK(none["peerAuthentications"] == nlohmann::json::array());
}

TEST_CASE("the bundled ztunnel reads the view's policies, bad ones fail closed alone",
          "[ztunnel-view][policies]") {
  auto view = zt::parseWorkloadView(renderZtunnelView(seedWithPolicies(), {}, "node-a", {}),
                                    "cluster.local");
  REQUIRE(view);
  CHECK(view->policies.rootNamespace == "istio-system");
  CHECK(view->policies.rejected.empty());
  std::map<std::string, zt::authz::PolicyStatus> status;
  for (const auto& p : view->policies.authorization.policies()) status[p.key()] = p.status;
  CHECK(status == std::map<std::string, zt::authz::PolicyStatus>{
                      {"bar/junk", zt::authz::PolicyStatus::kInvalid},
                      {"foo/audit-all", zt::authz::PolicyStatus::kOk},
                      {"foo/deny-bar", zt::authz::PolicyStatus::kOk},
                      {"foo/huge", zt::authz::PolicyStatus::kInvalid},
                      {"foo/nobody", zt::authz::PolicyStatus::kOk}});
  CHECK(view->policies.peerAuthentication.policies().size() == 1);
  const zt::Workload* httpbin = view->findWorkloadByUid("Kubernetes//Pod/foo/httpbin-1");
  REQUIRE(httpbin != nullptr);
  CHECK(httpbin->labels == zt::authz::Labels{{"app", "httpbin"}});
}

TEST_CASE("the bundled ztunnel reads the view and routes the seed's paths", "[ztunnel-view]") {
  std::string text = renderZtunnelView(seedCluster(), {"foo/sleep-1"}, "node-a", {});
  auto view = zt::parseWorkloadView(text, "cluster.local");
  REQUIRE(view);
  auto addr = [](const char* a) { return *zt::SocketAddr::parse(a); };
  // Scenario 1: ambient sleep -> sidecar httpbin's VIP: plain TCP to the pod (its sidecar's
  // 15006 capture takes it from there).
  auto toSidecar =
      zt::computeOutboundRoute(*view, addr("10.244.1.10:40000"), addr("10.96.0.20:8000"), 0, 15008);
  CHECK(toSidecar.kind == zt::RouteKind::kDirect);
  CHECK(toSidecar.connectTo.toString() == "10.244.2.20:80");
  // Ambient to ambient: HBONE to the pod's 15008 with the pod's identity.
  auto toAmbient =
      zt::computeOutboundRoute(*view, addr("10.244.1.10:40000"), addr("10.96.0.10:8000"), 0, 15008);
  CHECK(toAmbient.kind == zt::RouteKind::kHbone);
  CHECK(toAmbient.connectTo.toString() == "10.244.2.10:15008");
  CHECK(toAmbient.expectedIdentity == "spiffe://cluster.local/ns/foo/sa/httpbin");
  // helloworld goes through its waypoint on node C.
  auto viaWaypoint =
      zt::computeOutboundRoute(*view, addr("10.244.1.10:40000"), addr("10.96.0.11:5000"), 0, 15008);
  CHECK(viaWaypoint.kind == zt::RouteKind::kHbone);
  CHECK(viaWaypoint.viaWaypoint);
  CHECK(viaWaypoint.connectTo.toString() == "10.244.3.10:15008");
}
