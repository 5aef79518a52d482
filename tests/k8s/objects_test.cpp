// Typed object parsing: full objects, missing, extra and wrong-typed fields, a huge object.
// Pure.
#include "common/k8s/objects.h"

#include <catch2/catch.hpp>

using namespace ambient::k8s;
using nlohmann::json;

TEST_CASE("pod parses the fields the agent needs and ignores the rest") {
  json pod = json::parse(R"({
    "metadata": {"name": "web-1", "namespace": "shop", "uid": "u-1", "resourceVersion": "42",
                 "labels": {"app": "web"}, "annotations": {"ambient.istio.io/redirection": "enabled"},
                 "deletionTimestamp": "2024-01-01T00:00:00Z", "managedFields": [{"x": 1}]},
    "spec": {"nodeName": "node-a", "serviceAccountName": "web", "hostNetwork": false,
             "containers": [{"name": "c", "image": "nginx"}]},
    "status": {"phase": "Running", "podIP": "10.0.0.5",
               "podIPs": [{"ip": "10.0.0.5"}, {"ip": "fd00::5"}], "unknownField": {"deep": [1]}}
  })");
  auto parsed = parsePod(pod);
  REQUIRE(parsed);
  CHECK(parsed->meta.name == "web-1");
  CHECK(parsed->meta.namespace_ == "shop");
  CHECK(parsed->meta.key() == "shop/web-1");
  CHECK(parsed->meta.uid == "u-1");
  CHECK(parsed->meta.resourceVersion == "42");
  CHECK(parsed->meta.labels == Labels{{"app", "web"}});
  CHECK(parsed->meta.annotations.at("ambient.istio.io/redirection") == "enabled");
  CHECK(parsed->meta.deletionTimestamp == "2024-01-01T00:00:00Z");
  CHECK(parsed->nodeName == "node-a");
  CHECK(parsed->serviceAccountName == "web");
  CHECK(parsed->phase == "Running");
  CHECK(parsed->podIPs == std::vector<std::string>{"10.0.0.5", "fd00::5"});
}

TEST_CASE("pod with only a name parses with defaults and podIP is the fallback") {
  auto bare = parsePod(json::parse(R"({"metadata": {"name": "p"}})"));
  REQUIRE(bare);
  CHECK(bare->meta.namespace_.empty());
  CHECK(bare->podIPs.empty());
  CHECK_FALSE(bare->meta.deletionTimestamp);

  auto single = parsePod(json::parse(
      R"({"metadata": {"name": "p", "labels": null}, "status": {"podIP": "10.1.1.1"}})"));
  REQUIRE(single);
  CHECK(single->podIPs == std::vector<std::string>{"10.1.1.1"});
}

TEST_CASE("bad objects give errors naming kind namespace name and field") {
  auto wrongType = parsePod(
      json::parse(R"({"metadata": {"name": "p", "namespace": "ns"}, "spec": {"nodeName": 7}})"));
  REQUIRE_FALSE(wrongType);
  CHECK(wrongType.error().context == "parse Pod ns/p: spec.nodeName: expected string, got integer");

  auto badLabel = parsePod(
      json::parse(R"({"metadata": {"name": "p", "namespace": "ns", "labels": {"a": true}}})"));
  REQUIRE_FALSE(badLabel);
  CHECK(badLabel.error().context.find("metadata.labels.a: expected string, got boolean") !=
        std::string::npos);

  auto noName = parseNamespace(json::parse(R"({"metadata": {"labels": {}}})"));
  REQUIRE_FALSE(noName);
  CHECK(noName.error().context == "parse Namespace <no name>: metadata.name: missing");

  auto noMeta = parseService(json::parse(R"({"spec": {}})"));
  REQUIRE_FALSE(noMeta);
  CHECK(noMeta.error().context.find("metadata: missing") != std::string::npos);

  auto notObject = parseEndpointSlice(json::parse(R"([1, 2])"));
  REQUIRE_FALSE(notObject);
  CHECK(notObject.error().context.find("not a JSON object") != std::string::npos);

  auto badIPs = parsePod(json::parse(
      R"({"metadata": {"name": "p", "namespace": "ns"}, "status": {"podIPs": ["10.0.0.1"]}})"));
  REQUIRE_FALSE(badIPs);
  CHECK(badIPs.error().context.find("status.podIPs[0]") != std::string::npos);

  auto metaArray = parsePod(json::parse(R"({"metadata": []})"));
  REQUIRE_FALSE(metaArray);
  CHECK(metaArray.error().code == ambient::ErrorCode::kProtocol);
}

TEST_CASE("service ports cluster IPs and headless") {
  auto svc = parseService(json::parse(R"({
    "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
    "spec": {"clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10", "fd00:96::10"],
             "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"},
                       {"name": "grpc", "port": 9090, "targetPort": "grpc-port"},
                       {"port": 53, "protocol": "UDP"}]}
  })"));
  REQUIRE(svc);
  CHECK(svc->clusterIPs == std::vector<std::string>{"10.96.0.10", "fd00:96::10"});
  CHECK_FALSE(svc->headless);
  REQUIRE(svc->ports.size() == 3);
  CHECK(svc->ports[0].name == "http");
  CHECK(svc->ports[0].port == 80);
  CHECK(svc->ports[0].targetPort == 8080);
  CHECK(svc->ports[1].targetPort == 0);
  CHECK(svc->ports[1].targetPortName == "grpc-port");
  CHECK(svc->ports[1].protocol == "TCP");
  CHECK(svc->ports[2].targetPort == 53);
  CHECK(svc->ports[2].protocol == "UDP");

  auto headless = parseService(json::parse(
      R"({"metadata": {"name": "h", "namespace": "n"}, "spec": {"clusterIP": "None"}})"));
  REQUIRE(headless);
  CHECK(headless->headless);
  CHECK(headless->clusterIPs.empty());

  auto badPort = parseService(json::parse(
      R"({"metadata": {"name": "b", "namespace": "n"}, "spec": {"ports": [{"port": 70000}]}})"));
  REQUIRE_FALSE(badPort);
  CHECK(badPort.error().context.find("spec.ports[0].port: value 70000 out of range") !=
        std::string::npos);

  auto floatPort = parseService(json::parse(
      R"({"metadata": {"name": "b", "namespace": "n"}, "spec": {"ports": [{"port": 80.5}]}})"));
  REQUIRE_FALSE(floatPort);
  CHECK(floatPort.error().context.find("expected integer, got number") != std::string::npos);
}

TEST_CASE("endpoint slice endpoints conditions target refs and ports") {
  auto slice = parseEndpointSlice(json::parse(R"({
    "kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
    "metadata": {"name": "web-abc", "namespace": "shop",
                 "labels": {"kubernetes.io/service-name": "web"}},
    "addressType": "IPv4",
    "endpoints": [
      {"addresses": ["10.0.0.5"], "conditions": {"ready": true, "serving": true},
       "nodeName": "node-a", "targetRef": {"kind": "Pod", "namespace": "shop", "name": "web-1",
                                           "uid": "u-1"}},
      {"addresses": ["10.0.0.6"], "conditions": {"ready": false}},
      {"addresses": ["10.0.0.7"]}
    ],
    "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}, {"name": "all"}]
  })"));
  REQUIRE(slice);
  CHECK(slice->serviceName == "web");
  CHECK(slice->addressType == "IPv4");
  REQUIRE(slice->endpoints.size() == 3);
  CHECK(slice->endpoints[0].ready);
  CHECK(slice->endpoints[0].nodeName == "node-a");
  REQUIRE(slice->endpoints[0].targetRef);
  CHECK(slice->endpoints[0].targetRef->name == "web-1");
  CHECK(slice->endpoints[0].targetRef->uid == "u-1");
  CHECK_FALSE(slice->endpoints[1].ready);
  CHECK(slice->endpoints[2].ready);  // absent condition: ready
  REQUIRE(slice->ports.size() == 2);
  CHECK(slice->ports[0].port == 8080);
  CHECK_FALSE(slice->ports[1].port);

  auto bad = parseEndpointSlice(json::parse(R"({"metadata": {"name": "s", "namespace": "n"},
    "endpoints": [{"addresses": ["10.0.0.1", 5]}]})"));
  REQUIRE_FALSE(bad);
  CHECK(bad.error().context ==
        "parse EndpointSlice n/s: endpoints[0].addresses[1]: expected string, got integer");
}

TEST_CASE("a huge pod parses") {
  json pod = {{"metadata", {{"name", "big"}, {"namespace", "ns"}}}};
  for (int i = 0; i < 20000; ++i) {
    pod["metadata"]["labels"]["label-" + std::to_string(i)] = std::string(50, 'v');
  }
  pod["metadata"]["annotations"]["blob"] = std::string(8 << 20, 'x');
  auto parsed = parsePod(pod);
  REQUIRE(parsed);
  CHECK(parsed->meta.labels.size() == 20000);
  CHECK(parsed->meta.annotations.at("blob").size() == (8u << 20));
}

TEST_CASE("no JSON value makes a parser throw") {
  const json shapes[] = {
      nullptr,
      1,
      "s",
      json::array(),
      json::object(),
      json::parse(R"({"metadata": "x"})"),
      json::parse(R"({"metadata": {"name": ["x"]}})"),
      json::parse(R"({"metadata": {"name": "x"}, "spec": []})"),
      json::parse(R"({"metadata": {"name": "x"}, "spec": {"ports": {}}})"),
      json::parse(R"({"metadata": {"name": "x"}, "endpoints": [null, 1]})"),
      json::parse(R"({"metadata": {"name": "x"}, "status": {"podIPs": [{"ip": 1}]}})")};
  for (const auto& shape : shapes) {
    CHECK_NOTHROW(parsePod(shape));
    CHECK_NOTHROW(parseService(shape));
    CHECK_NOTHROW(parseEndpointSlice(shape));
    CHECK_NOTHROW(parseNamespace(shape));
  }
  CHECK_FALSE(parsePod(shapes[6]));  // metadata.name is an array
}

// Issue 22: Istio's policy objects are passed to ztunnel as served; only their metadata is read.
TEST_CASE("an AuthorizationPolicy keeps its spec as served, whatever it holds") {
  json policy = json::parse(R"({
    "apiVersion": "security.istio.io/v1beta1", "kind": "AuthorizationPolicy",
    "metadata": {"name": "deny-all", "namespace": "foo", "resourceVersion": "7",
                 "creationTimestamp": "2024-05-01T10:00:00Z",
                 "annotations": {"istio.io/dry-run": "true"}, "managedFields": [{}]},
    "spec": {"action": "MAYBE", "rules": [{"from": [{"source": {"ipBlocks": ["10.0.0.300/8"]}}]}],
             "unknownField": 1},
    "status": {"validationMessages": []}
  })");
  auto parsed = parseAuthorizationPolicy(policy);
  REQUIRE(parsed);
  CHECK(parsed->meta.key() == "foo/deny-all");
  CHECK(parsed->apiVersion == "security.istio.io/v1beta1");
  CHECK(parsed->creationTimestamp == "2024-05-01T10:00:00Z");
  CHECK(parsed->meta.annotations.at("istio.io/dry-run") == "true");
  CHECK(parsed->spec == policy["spec"]);  // unknown fields and enum values: ztunnel's to judge
  // A spec that is not even an object is still carried (ztunnel fails that policy closed).
  auto odd = parsePeerAuthentication(
      json::parse(R"({"metadata": {"name": "p", "namespace": "foo"}, "spec": [1, "x"]})"));
  REQUIRE(odd);
  CHECK(odd->apiVersion == "security.istio.io/v1");  // list items may omit it
  CHECK(odd->spec == json::parse(R"([1, "x"])"));
  auto bare =
      parsePeerAuthentication(json::parse(R"({"metadata": {"name": "p", "namespace": "f"}})"));
  REQUIRE(bare);
  CHECK(bare->spec.is_null());
}

TEST_CASE("a policy without a namespace or with malformed metadata is refused by name") {
  auto noNamespace = parseAuthorizationPolicy(json::parse(R"({"metadata": {"name": "p"}})"));
  REQUIRE_FALSE(noNamespace);
  CHECK(noNamespace.error().message().find("metadata.namespace") != std::string::npos);
  auto badAnnotations = parsePeerAuthentication(
      json::parse(R"({"metadata": {"name": "p", "namespace": "f", "annotations": [1]}})"));
  REQUIRE_FALSE(badAnnotations);
  CHECK(badAnnotations.error().message().find("PeerAuthentication f/p") != std::string::npos);
  CHECK_FALSE(parseAuthorizationPolicy(json::parse("[]")));
  CHECK_FALSE(parseAuthorizationPolicy(
      json::parse(R"({"metadata": {"name": "p", "namespace": "f", "creationTimestamp": 5}})")));
}
