// The real ambient-agent fed by the test Kubernetes API server: a namespace label flip enrolls
// running pods and the reverse releases them, with the kernel asserted; the watch survives a
// dropped connection and a 410; a pod deleted while the agent was down is released at start;
// with no API server the agent keeps its pods, refuses new ones and says why on /readyz; the
// ztunnel view file follows the API. Touches the kernel, files and loopback.
#include <fstream>
#include <sstream>

#include "agent_harness.h"
#include "test_apiserver.h"

using namespace ambient;
using namespace ambient::testing;
using k8s::testing::TestApiServer;
using k8s::testing::waitFor;
using nlohmann::json;

namespace {

constexpr auto kConverge = std::chrono::seconds(120);  // the VM's emulated CPU is slow

json ns(const std::string& name, const json& labels = json::object()) {
  return {{"metadata", {{"name", name}, {"labels", labels}}}};
}

json pod(const std::string& nsName, const std::string& name, const std::string& ip,
         const json& labels = json::object(), const std::string& sa = "default") {
  return {{"metadata",
           {{"name", name}, {"namespace", nsName}, {"uid", "uid-" + name}, {"labels", labels}}},
          {"spec", {{"nodeName", "node-a"}, {"serviceAccountName", sa}}},
          {"status", {{"phase", "Running"}, {"podIP", ip}, {"podIPs", {{{"ip", ip}}}}}}};
}

const json kAmbient = {{"istio.io/dataplane-mode", "ambient"}};

bool enrolled(const NodeTopology& t, const std::string& ip) {
  return sh(t.node.exec("nft list set ip ambient_redirect enrolled_pods")).out.find(ip) !=
         std::string::npos;
}

std::string annotationOf(TestApiServer& api, const std::string& nsName, const std::string& name) {
  json p = api.list("/api/v1/namespaces/" + nsName + "/pods");
  for (const auto& item : p["items"]) {
    if (item["metadata"]["name"] != name) continue;
    auto a = item["metadata"].value("annotations", json::object());
    return a.value("ambient.istio.io/redirection", "");
  }
  return "<no pod>";
}

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The cluster of one node: ztunnel and one application pod "app" in namespace bar.
struct ApiCluster {
  ApiCluster() {
    t.addPod(app, "vethapp", "10.244.1.10");
    api->apply("namespaces", ns("istio-system"));
    api->apply("namespaces", ns("bar"));
    api->apply("pods",
               pod("istio-system", "ztunnel-1", kZtunnelIp, {{"app", "ztunnel"}}, "ztunnel"));
    api->apply("pods", pod("bar", "app", "10.244.1.10"));
    h.useApi(api->url(), "node-a");
  }
  // Registers ztunnel and the app pod as the runtime would: retrying while the agent has not
  // listed the API yet (try again later).
  void startAndRegister(PodVerdict appVerdict = PodVerdict::kNotAmbient) {
    h.start();
    std::optional<PodReply> z, a;
    REQUIRE(waitFor(
        [&] {
          z = h.registerZtunnel(t);
          return z && z->verdict != PodVerdict::kError;
        },
        kConverge));
    REQUIRE(z->verdict == PodVerdict::kNotAmbient);
    a = h.send(podAdd("bar", "app", app.path(), "10.244.1.10"));
    REQUIRE(a);
    INFO(a->message);
    REQUIRE(a->verdict == appVerdict);
  }
  bool verified() {
    return sh(kAmbientctl + " verify --quiet --state-dir " + h.stateDir()).rc == 0;
  }

  NodeTopology t;
  TestNetns app{"app"};
  std::unique_ptr<TestApiServer> api = std::make_unique<TestApiServer>();
  AgentHarness h{t.node};
};

}  // namespace

TEST_CASE("labelling a namespace in the API enrolls its running pod and unlabelling releases it",
          "[kernel][agent][api]") {
  ApiCluster c;
  c.startAndRegister();
  CHECK_FALSE(enrolled(c.t, "10.244.1.10"));
  CHECK(waitFor([&] { return c.h.http("/readyz").find("200") != std::string::npos; }, kConverge));

  // Two runs: (0) a quiet watch and the label removed; (1) the watch dropped and compacted
  // (410) before the flip, and the pod opting out.
  const int variant = GENERATE(0, 1);
  INFO("variant " << variant);
  if (variant == 1) {
    c.api->dropWatches();
    c.api->compact();
  }
  c.api->apply("namespaces", ns("bar", kAmbient));
  REQUIRE(waitFor([&] { return enrolled(c.t, "10.244.1.10"); }, kConverge));
  CHECK(c.verified());
  CHECK(waitFor([&] { return annotationOf(*c.api, "bar", "app") == "enabled"; }, kConverge));
  CHECK(waitFor(
      [&] {
        std::string view = readFile(c.h.viewFile());
        auto j = json::parse(view, nullptr, false);
        if (!j.is_object()) return false;
        for (const auto& w : j["workloads"]) {
          if (w["name"] == "app") return w["protocol"] == "HBONE";
        }
        return false;
      },
      kConverge));
  CHECK(c.h.log().find("enrolled bar/app") != std::string::npos);

  SECTION("the label removed") {
    c.api->apply("namespaces", ns("bar"));
  }
  SECTION("the pod opts out") {
    json p = pod("bar", "app", "10.244.1.10");
    p["metadata"]["annotations"] = {{"ambient.istio.io/redirection", "disabled"}};
    c.api->apply("pods", p);
  }
  bool released = waitFor([&] { return !enrolled(c.t, "10.244.1.10"); }, kConverge);
  INFO(c.h.log());
  REQUIRE(released);
  CHECK(c.verified());
  CHECK(must(c.t.node.ip("route show table 100")).find("10.244.1.10") == std::string::npos);
  // Our mark goes; a user's opt-out stays.
  CHECK(waitFor(
      [&] {
        std::string a = annotationOf(*c.api, "bar", "app");
        return a == "" || a == "disabled";
      },
      kConverge));
}

TEST_CASE("a pod deleted from the API while the agent was down is released at start",
          "[kernel][agent][api]") {
  ApiCluster c;
  c.api->apply("namespaces", ns("bar", kAmbient));
  c.startAndRegister(PodVerdict::kEnrolled);
  REQUIRE(enrolled(c.t, "10.244.1.10"));
  CHECK(c.h.terminate() == 0);
  CHECK(enrolled(c.t, "10.244.1.10"));  // SIGTERM leaves the kernel as it was

  c.api->remove("pods", "bar", "app");
  c.h.start();
  REQUIRE(waitFor([&] { return !enrolled(c.t, "10.244.1.10"); }, kConverge));
  CHECK(c.verified());
  CHECK(readFile(c.h.stateDir() + "/registry.json").find("uid-app") == std::string::npos);
}

TEST_CASE("with no API server the agent keeps its pods and refuses new ones with the reason",
          "[kernel][agent][api]") {
  ApiCluster c;
  TestNetns other("other");
  c.t.addPod(other, "vethother", "10.244.1.11");
  c.api->apply("namespaces", ns("bar", kAmbient));
  c.startAndRegister(PodVerdict::kEnrolled);
  CHECK(c.h.terminate() == 0);
  c.api.reset();  // the API server is gone

  c.h.start();
  std::string ready = c.h.http("/readyz");
  CHECK(ready.find("503") != std::string::npos);
  CHECK(ready.find("Kubernetes API not synced") != std::string::npos);
  CHECK(enrolled(c.t, "10.244.1.10"));
  CHECK(c.verified());
  auto fresh = c.h.send(podAdd("bar", "other", other.path(), "10.244.1.11"));
  REQUIRE(fresh);
  CHECK(fresh->verdict == PodVerdict::kError);
  CHECK(fresh->cniCode == kCniErrTryAgainLater);
  CHECK(fresh->message.find("cannot be classified yet") != std::string::npos);
  CHECK_FALSE(enrolled(c.t, "10.244.1.11"));
}

TEST_CASE("ztunnel's view file follows the API's pods and services and endpoints",
          "[kernel][agent][api]") {
  ApiCluster c;
  c.api->apply("namespaces", ns("bar", kAmbient));
  c.api->apply(
      "services",
      {{"metadata", {{"name", "web"}, {"namespace", "bar"}}},
       {"spec",
        {{"clusterIP", "10.96.0.50"},
         {"clusterIPs", {"10.96.0.50"}},
         {"ports",
          {{{"name", "http"}, {"port", 80}, {"targetPort", 8080}, {"protocol", "TCP"}}}}}}});
  c.api->apply("endpointslices",
               {{"metadata",
                 {{"name", "web-abc"},
                  {"namespace", "bar"},
                  {"labels", {{"kubernetes.io/service-name", "web"}}}}},
                {"addressType", "IPv4"},
                {"ports", {{{"name", "http"}, {"port", 8080}, {"protocol", "TCP"}}}},
                {"endpoints",
                 {{{"addresses", {"10.244.1.10"}},
                   {"conditions", {{"ready", true}}},
                   {"nodeName", "node-a"},
                   {"targetRef", {{"kind", "Pod"}, {"namespace", "bar"}, {"name", "app"}}}}}}});
  c.startAndRegister(PodVerdict::kEnrolled);
  REQUIRE(enrolled(c.t, "10.244.1.10"));
  json view;
  REQUIRE(waitFor(
      [&] {
        view = json::parse(readFile(c.h.viewFile()), nullptr, false);
        return view.is_object() && view["services"].size() == 1;
      },
      kConverge));
  const json& svc = view["services"][0];
  CHECK(svc["hostname"] == "web.bar.svc.cluster.local");
  CHECK(svc["vips"] == json::array({"/10.96.0.50"}));
  CHECK(svc["ports"]["80"] == 8080);
  CHECK(svc["endpoints"]["Kubernetes//Pod/bar/app"]["port"]["80"] == 8080);
  std::map<std::string, std::string> protocols;
  for (const auto& w : view["workloads"]) protocols[w["name"]] = w["protocol"];
  CHECK(protocols == std::map<std::string, std::string>{{"app", "HBONE"}, {"ztunnel-1", "TCP"}});

  // A deleted service leaves the view.
  c.api->remove("services", "bar", "web");
  CHECK(waitFor(
      [&] {
        auto v = json::parse(readFile(c.h.viewFile()), nullptr, false);
        return v.is_object() && v["services"].empty();
      },
      kConverge));
}

// Issue 22: Istio's AuthorizationPolicies and PeerAuthentications reach ztunnel's view as the
// API serves them. A cluster whose RBAC forbids them, or that has no Istio CRDs, runs as before
// and /readyz says policies are not watched; installing the CRDs later starts the watch
// without a restart (--policy-discovery-interval 1 makes "later" short).
TEST_CASE(
    "policies in the API reach ztunnel's view, without the CRDs the agent is ready and says so",
    "[kernel][agent][api][policies]") {
  ApiCluster c;
  c.api->crds({"v1", "v1beta1"}, true);  // RBAC without the rule: 403
  c.api->apply("namespaces", ns("bar", kAmbient));
  c.h.extraFlags = " --policy-discovery-interval 1 --root-namespace mesh-root";
  c.startAndRegister(PodVerdict::kEnrolled);
  std::string ready;
  auto readyWith = [&](const std::string& text) {
    return waitFor(
        [&] {
          ready = c.h.http("/readyz");
          return ready.find(" 200") != std::string::npos && ready.find(text) != std::string::npos;
        },
        kConverge);
  };
  CHECK(readyWith("policies not watched (may not list authorizationpolicies.security.istio.io"));
  INFO(ready);
  CHECK(ready.find("HTTP 403") != std::string::npos);
  // No CRDs at all: 404 at v1 and v1beta1.
  c.api->crds({});
  CHECK(readyWith("policies not watched (no security.istio.io CRDs"));
  json view;
  auto viewWhere = [&](const std::function<bool(const json&)>& want) {
    return waitFor(
        [&] {
          view = json::parse(readFile(c.h.viewFile()), nullptr, false);
          return view.is_object() && want(view);
        },
        kConverge);
  };
  REQUIRE(viewWhere([](const json& v) { return v["workloads"].size() == 2; }));
  CHECK(view["rootNamespace"] == "mesh-root");
  CHECK(view["authorizationPolicies"] == json::array());
  CHECK(view["peerAuthentications"] == json::array());
  for (const auto& w : view["workloads"]) {
    if (w["name"] == "ztunnel-1") CHECK(w["labels"] == json{{"app", "ztunnel"}});
  }

  // Istio is installed (an older one: v1beta1 only) and policies are created: no restart.
  c.api->crds({"v1beta1"});
  c.api->apply(
      "authorizationpolicies",
      {{"metadata", {{"name", "deny-foo"}, {"namespace", "bar"}}},
       {"spec",
        {{"action", "DENY"}, {"rules", {{{"from", {{{"source", {{"namespaces", {"foo"}}}}}}}}}}}}});
  c.api->apply("authorizationpolicies",  // garbage: passed on for ztunnel to fail closed alone
               {{"metadata", {{"name", "junk"}, {"namespace", "bar"}}},
                {"spec", {{"action", "MAYBE"}, {"bogus", 1}}}});
  c.api->apply("peerauthentications",
               {{"metadata", {{"name", "default"}, {"namespace", "mesh-root"}}},
                {"spec", {{"mtls", {{"mode", "STRICT"}}}}}});
  REQUIRE(viewWhere([](const json& v) {
    return v["authorizationPolicies"].size() == 2 && v["peerAuthentications"].size() == 1;
  }));
  const json& deny = view["authorizationPolicies"][0];
  CHECK(deny["apiVersion"] == "security.istio.io/v1beta1");
  CHECK(deny["kind"] == "AuthorizationPolicy");
  CHECK(deny["metadata"]["name"] == "deny-foo");
  CHECK(deny["spec"]["action"] == "DENY");
  CHECK(view["authorizationPolicies"][1]["spec"]["action"] == "MAYBE");
  CHECK(view["peerAuthentications"][0]["metadata"]["creationTimestamp"].is_string());
  ready = c.h.http("/readyz");
  CHECK(ready.find(" 200") != std::string::npos);
  CHECK(ready.find("policies not watched") == std::string::npos);

  // A deleted policy leaves the view.
  c.api->remove("authorizationpolicies", "bar", "junk");
  CHECK(viewWhere([](const json& v) { return v["authorizationPolicies"].size() == 1; }));
}
