// The agent's snapshot from Kubernetes API objects: finished pods left out, deletion and phase
// to health, endpoints resolved to pods, FQDN slices skipped. Pure.
#include "common/mesh/api_snapshot.h"

#include <catch2/catch.hpp>

#include "common/mesh/membership.h"

using namespace ambient;

TEST_CASE("API objects become the agent's snapshot", "[api-snapshot]") {
  ApiObjects o;
  o.namespaces.push_back(
      {k8s::ObjectMeta{.name = "foo", .labels = {{"istio.io/dataplane-mode", "ambient"}}}});
  k8s::Pod running;
  running.meta = {.name = "a", .namespace_ = "foo", .uid = "u1"};
  running.phase = "Running";
  running.podIPs = {"10.244.1.5"};
  running.nodeName = "node-a";
  k8s::Pod deleting = running;
  deleting.meta.name = "b";
  deleting.meta.deletionTimestamp = "2026-11-28T10:00:00Z";
  k8s::Pod done = running;
  done.meta.name = "c";
  done.phase = "Succeeded";
  k8s::Pod pending = running;
  pending.meta.name = "d";
  pending.phase = "Pending";
  pending.serviceAccountName = "";
  o.pods = {running, deleting, done, pending};
  k8s::Service svc;
  svc.meta = {.name = "web", .namespace_ = "foo"};
  svc.clusterIPs = {"10.96.0.1"};
  svc.ports = {k8s::ServicePort{"http", 80, 0, "web-port", "TCP"}};
  o.services = {svc};
  k8s::EndpointSlice slice;
  slice.meta = {.name = "web-x", .namespace_ = "foo"};
  slice.serviceName = "web";
  slice.addressType = "IPv4";
  slice.ports = {k8s::EndpointPort{"http", 8080, "TCP"}, k8s::EndpointPort{"dns", 53, "UDP"}};
  slice.endpoints = {
      k8s::Endpoint{{"10.244.1.5"}, false, "node-a", k8s::ObjectReference{"Pod", "", "a", "u1"}}};
  k8s::EndpointSlice fqdn = slice;
  fqdn.meta.name = "web-fqdn";
  fqdn.addressType = "FQDN";
  o.endpointSlices = {slice, fqdn};

  MetadataSnapshot s = snapshotFromApi(o, true);
  CHECK(s.complete);
  CHECK(s.ns("foo")->labels.at("istio.io/dataplane-mode") == "ambient");
  REQUIRE(s.pod("foo", "a"));
  CHECK(s.pod("foo", "a")->running);
  CHECK(s.pod("foo", "a")->uid == "u1");
  CHECK_FALSE(s.pod("foo", "b")->running);
  CHECK(s.pod("foo", "c") == nullptr);
  CHECK_FALSE(s.pod("foo", "d")->running);
  CHECK(s.pod("foo", "d")->serviceAccount == "default");
  CHECK(s.services.at("foo/web").ports.at(0).targetPortName == "web-port");
  REQUIRE(s.endpointSlices.size() == 1);
  const auto& e = s.endpointSlices.at("foo/web-x");
  CHECK(e.ports == std::map<std::string, uint16_t>{{"http", 8080}});
  REQUIRE(e.endpoints.size() == 1);
  CHECK(e.endpoints[0].podNamespace == "foo");  // targetRef without namespace: the slice's
  CHECK(e.endpoints[0].podName == "a");
  CHECK_FALSE(e.endpoints[0].ready);
  CHECK_FALSE(snapshotFromApi(o, false).complete);
}

TEST_CASE("pod addresses are decoded once, where the snapshot is built", "[api-snapshot]") {
  ApiObjects o;
  k8s::Pod p;
  p.meta = {.name = "a", .namespace_ = "foo", .uid = "u1"};
  p.phase = "Running";
  p.podIPs = {"10.244.1.5", "not-an-ip", "fd00::5"};
  o.pods = {p};
  // The API server validates status.podIPs; what is still not an address is left out.
  CHECK(snapshotFromApi(o, true).pods.at("foo/a").ips ==
        std::vector<IpAddress>{"10.244.1.5", "fd00::5"});
  // The metadata file is ours: a bad address refuses the file, naming the pod and field.
  auto file = parseMetadataFile(R"({"pods": {"foo/a": {"podIPs": ["10.244.1.5", "10.x"]}}})");
  REQUIRE_FALSE(file);
  CHECK(file.error().message().find("pod \"foo/a\" podIPs \"10.x\"") != std::string::npos);
  auto good = parseMetadataFile(R"({"pods": {"foo/a": {"podIPs": ["10.244.1.5"]}}})");
  REQUIRE(good);
  CHECK(good->nodePods.at("foo/a").ips == std::vector<IpAddress>{"10.244.1.5"});
}

TEST_CASE("Istio's policies reach the snapshot by namespace/name, specs untouched",
          "[api-snapshot][policies]") {
  ApiObjects o;
  k8s::AuthorizationPolicy deny;
  deny.meta = {.name = "deny",
               .namespace_ = "foo",
               .resourceVersion = "9",
               .annotations = {{"istio.io/dry-run", "true"}}};
  deny.apiVersion = "security.istio.io/v1beta1";
  deny.spec = nlohmann::json::parse(R"({"action": "DENY", "bogus": [1]})");
  k8s::PeerAuthentication strict;
  strict.meta = {.name = "default", .namespace_ = "istio-system"};
  strict.apiVersion = "security.istio.io/v1";
  strict.creationTimestamp = "2024-01-01T00:00:00Z";
  strict.spec = nlohmann::json::parse(R"({"mtls": {"mode": "STRICT"}})");
  o.authorizationPolicies = {deny};
  o.peerAuthentications = {strict};
  MetadataSnapshot s = snapshotFromApi(o, true);
  REQUIRE(s.authorizationPolicies.count("foo/deny") == 1);
  const IstioPolicyMeta& d = s.authorizationPolicies.at("foo/deny");
  CHECK(d.apiVersion == "security.istio.io/v1beta1");
  CHECK(d.namespace_ == "foo");
  CHECK(d.resourceVersion == "9");
  CHECK(d.annotations.at("istio.io/dry-run") == "true");
  CHECK(d.spec == deny.spec);
  REQUIRE(s.peerAuthentications.count("istio-system/default") == 1);
  CHECK(s.peerAuthentications.at("istio-system/default").creationTimestamp ==
        "2024-01-01T00:00:00Z");
  CHECK(snapshotFromApi(ApiObjects{}, true).authorizationPolicies.empty());
}
