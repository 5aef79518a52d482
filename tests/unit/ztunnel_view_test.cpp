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

#ifdef AMBIENT_WITH_ZTUNNEL_CORE
#include "ztunnel/core/route_plan.h"
#endif

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

#ifdef AMBIENT_WITH_ZTUNNEL_CORE
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
#endif
