// Istio's policy CRDs through the test API server (issue 22): informers list and watch
// AuthorizationPolicies and PeerAuthentications at v1 or v1beta1, the probe falls back to
// v1beta1, and a cluster without the CRDs (404) or without the RBAC (403) is told apart.
// Touches the network (loopback).
#include <catch2/catch.hpp>
#include <mutex>

#include "common/k8s/crd_probe.h"
#include "common/k8s/informer.h"
#include "test_apiserver.h"

using namespace ambient;
using namespace ambient::k8s;
using namespace ambient::k8s::testing;
using namespace std::chrono_literals;

namespace {

nlohmann::json policy(const std::string& ns, const std::string& name, const nlohmann::json& spec) {
  return {{"metadata", {{"name", name}, {"namespace", ns}}}, {"spec", spec}};
}

template <class T>
std::vector<std::string> keys(const Informer<T>& informer) {
  std::vector<std::string> out;
  for (const auto& p : informer.list()) out.push_back(p.meta.key() + "@" + p.apiVersion);
  return out;
}

std::unique_ptr<ApiClient> client(const TestApiServer& server) {
  auto c = ApiClient::create(server.clusterConfig());
  REQUIRE(c);
  return std::move(*c);
}

}  // namespace

TEST_CASE("policy informers list and watch both CRDs, specs as served") {
  TestApiServer server;
  server.apply("authorizationpolicies",
               policy("foo", "deny", {{"action", "DENY"}, {"rules", {{{"to", {}}}}}}));
  std::mutex mu;
  int changes = 0;
  Informer<AuthorizationPolicy> authz(server.clusterConfig(), {},
                                      [&](const Change<AuthorizationPolicy>&) {
                                        std::lock_guard lock(mu);
                                        ++changes;
                                      },
                                      {});
  Informer<PeerAuthentication> peer(server.clusterConfig(), {}, {}, {});
  REQUIRE(authz.start());
  REQUIRE(peer.start());
  REQUIRE(authz.waitForSync(10s));
  REQUIRE(peer.waitForSync(10s));
  CHECK(keys(authz) == std::vector<std::string>{"foo/deny@security.istio.io/v1"});
  CHECK(authz.list()[0].spec["action"] == "DENY");
  CHECK(peer.list().empty());
  // Watch: a new PeerAuthentication with an unknown mode and a policy with garbage both arrive.
  server.apply("peerauthentications",
               policy("istio-system", "mesh", {{"mtls", {{"mode", "ODD"}}}}));
  server.apply("authorizationpolicies", policy("bar", "junk", "not an object"));
  REQUIRE(waitFor([&] { return peer.list().size() == 1 && authz.list().size() == 2; }));
  CHECK(peer.list()[0].spec["mtls"]["mode"] == "ODD");
  CHECK(authz.get("bar/junk")->spec == "not an object");
  server.remove("authorizationpolicies", "foo", "deny");
  REQUIRE(waitFor([&] { return !authz.get("foo/deny"); }));
  std::lock_guard lock(mu);
  CHECK(changes == 3);
}

TEST_CASE("the probe finds v1, falls back to v1beta1, and the informer follows that version") {
  TestApiServer server;
  auto api = client(server);
  const std::vector<ResourceType> versions{kAuthorizationPolicies, kAuthorizationPoliciesV1beta1};
  auto both = probeCrdVersions(*api, versions);
  CHECK(both.state == CrdState::kServed);
  CHECK(both.version == 0);
  server.crds({"v1beta1"});
  auto old = probeCrdVersions(*api, versions);
  REQUIRE(old.state == CrdState::kServed);
  REQUIRE(old.version == 1);
  server.apply("authorizationpolicies", policy("foo", "allow", nlohmann::json::object()));
  Informer<AuthorizationPolicy> authz(server.clusterConfig(), versions[old.version], {}, {}, {});
  REQUIRE(authz.start());
  REQUIRE(authz.waitForSync(10s));
  CHECK(keys(authz) == std::vector<std::string>{"foo/allow@security.istio.io/v1beta1"});
  server.apply("authorizationpolicies", policy("foo", "later", nlohmann::json::object()));
  REQUIRE(waitFor([&] { return authz.list().size() == 2; }));
  CHECK(authz.get("foo/later")->apiVersion == "security.istio.io/v1beta1");
}

TEST_CASE("without the CRDs every version is 404 (absent), without the RBAC 403 (forbidden)") {
  TestApiServer server;
  auto api = client(server);
  const std::vector<ResourceType> versions{kPeerAuthentications, kPeerAuthenticationsV1beta1};
  server.crds({});
  auto absent = probeCrdVersions(*api, versions);
  CHECK(absent.state == CrdState::kAbsent);
  CHECK(absent.why.find("404") != std::string::npos);
  // Both versions were asked.
  int asked = 0;
  for (const auto& r : server.requests()) {
    if (r["path"].get<std::string>().find("peerauthentications?limit=1") != std::string::npos)
      ++asked;
  }
  CHECK(asked == 2);
  server.crds({"v1", "v1beta1"}, true);
  auto forbidden = probeCrdVersions(*api, versions);
  CHECK(forbidden.state == CrdState::kForbidden);
  CHECK(forbidden.why.find("403") != std::string::npos);
  server.fault("status", 1, 503);
  server.crds({"v1"});
  CHECK(probeCrdVersions(*api, versions).state == CrdState::kFailed);
  CHECK(probeCrdVersions(*api, versions).state == CrdState::kServed);
}
