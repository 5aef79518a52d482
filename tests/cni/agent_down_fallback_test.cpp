// Unit tests of ADD while the node agent is down: the plugin's own Kubernetes API lookup (a
// fake) lets non-ambient pods start and keeps ambient pods, ztunnel and undecidable pods
// failing closed with code 11. Pure.
#include "cni-plugin/core/agent_down_fallback.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "cni-plugin/core/cni_request.h"
#include "cni-plugin/core/invocation_log.h"
#include "cni-plugin/core/lookup_reply.h"
#include "cni-plugin/core/run_plugin.h"
#include "common/core/agent_protocol.h"
#include "fake_agent.h"
#include "fake_metadata_lookup.h"

using namespace ambient;
using namespace ambient::cni;
using json = nlohmann::ordered_json;

namespace {

const char* kPrev =
    R"({"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"/var/run/netns/p"}],
  "ips":[{"address":"10.244.1.5/24","interface":0}]})";

json conf(bool withKubeconfig = true) {
  json c = {{"cniVersion", "1.0.0"},
            {"name", "k8s"},
            {"type", "ambient-cni"},
            {"agentSocket", "/run/test/agent.sock"},
            {"logFile", "/var/log/ambient-cni.log"},
            {"prevResult", json::parse(kPrev)}};
  if (withKubeconfig) c["kubeconfig"] = "/etc/cni/net.d/ambient-cni.kubeconfig";
  return c;
}

CniInvocation call(const std::string& ns, const std::string& name, const json& c = conf(),
                   const std::string& cmd = "ADD") {
  CniInvocation in;
  in.env = {{"CNI_COMMAND", cmd},
            {"CNI_CONTAINERID", "ctr1"},
            {"CNI_NETNS", "/var/run/netns/p"},
            {"CNI_IFNAME", "eth0"},
            {"CNI_ARGS", "K8S_POD_NAMESPACE=" + ns + ";K8S_POD_NAME=" + name + ";K8S_POD_UID=u1"}};
  in.stdinText = c.dump();
  return in;
}

json errorOf(const CniOutcome& o) {
  auto j = json::parse(o.stdoutText, nullptr, false);
  REQUIRE(j.is_object());
  return j;
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

struct Cluster {
  FakeAgent agent;
  FakeMetadataLookup api;
  Cluster() {
    agent.up = false;
    api.addNamespace("plain");
    api.addNamespace("foo", {{kDataplaneModeLabel, kDataplaneModeAmbient}});
    api.addNamespace("istio-system");
    api.addNamespace("kube-system", {{kDataplaneModeLabel, kDataplaneModeAmbient}});
    api.addPod("plain", "pod");
    api.addPod("foo", "pod");
    api.addPod("istio-system", "ztunnel-abc", "ztunnel", {{"app", "ztunnel"}});
    api.addPod("istio-system", "istiod-1", "istiod", {{"app", "istiod"}});
  }
  CniOutcome add(const std::string& ns, const std::string& name, const json& c = conf()) {
    return runPlugin(call(ns, name, c), agent, api);
  }
};

}  // namespace

TEST_CASE("agent down: a pod of a non-ambient namespace starts and the log line warns",
          "[cni][fallback]") {
  Cluster k;
  auto o = k.add("plain", "pod");
  INFO(o.stdoutText);
  REQUIRE(o.exitCode == 0);
  CHECK(json::parse(o.stdoutText) == json::parse(kPrev));
  REQUIRE(k.api.calls.size() == 1);
  CHECK(k.api.calls[0].target.kubeconfig == "/etc/cni/net.d/ambient-cni.kubeconfig");
  CHECK(k.api.calls[0].target.timeoutMs == 2000);
  CHECK(k.api.calls[0].podNamespace == "plain");
  CHECK(k.api.calls[0].podName == "pod");
  CHECK(o.verdict == kVerdictAgentDownNotAmbient);
  CHECK(has(o.warning, "/run/test/agent.sock"));
  CHECK(has(o.warning, "plain/pod"));
  CHECK(has(o.warning, "not labelled istio.io/dataplane-mode=ambient"));
  auto line = renderLogLine(o, 0, 1);
  REQUIRE(line);
  auto j = json::parse(*line);
  CHECK(j["level"] == "warn");
  CHECK(j["verdict"] == "agent-down-not-ambient");
  CHECK(has(j["warning"].get<std::string>(), "ambient node agent unreachable"));
  o.logLevel = "warn";
  CHECK(renderLogLine(o, 0, 1));
  o.logLevel = "error";
  CHECK_FALSE(renderLogLine(o, 0, 1));
}

TEST_CASE("agent down: an ambient pod fails closed with code 11 naming the pod and socket",
          "[cni][fallback]") {
  Cluster k;
  auto o = k.add("foo", "pod");
  REQUIRE(o.exitCode == 1);
  auto e = errorOf(o);
  CHECK(e["code"] == kCniErrTryAgainLater);
  CHECK(has(e["msg"], "foo/pod"));
  CHECK(has(e["msg"], "/run/test/agent.sock"));
  CHECK(has(e["details"], "namespace foo is ambient"));
  CHECK(o.warning.empty());
  // Opted out or with a sidecar: not ambient, so it starts.
  k.api.addPod("foo", "optout").meta.annotations[kRedirectionAnnotation] = kRedirectionDisabled;
  CHECK(k.add("foo", "optout").exitCode == 0);
  // Not yet in the API, in an ambient namespace: ambient by the namespace alone.
  CHECK(k.add("foo", "unknown").cniCode == kCniErrTryAgainLater);
}

TEST_CASE("agent down: the ztunnel pod fails closed and so does an unknown pod in its namespace",
          "[cni][fallback]") {
  Cluster k;
  auto zt = k.add("istio-system", "ztunnel-abc");
  CHECK(zt.cniCode == kCniErrTryAgainLater);
  CHECK(has(errorOf(zt)["msg"], "ztunnel"));
  CHECK(k.add("istio-system", "istiod-1").exitCode == 0);  // other istio-system pods start
  CHECK(k.add("istio-system", "not-yet-in-api").cniCode == kCniErrTryAgainLater);
  // ztunnel identity from the config: a different namespace and label.
  json c = conf();
  c["ztunnelNamespace"] = "mesh";
  c["ztunnelLabel"] = "k8s-app=zt";
  c["ztunnelServiceAccount"] = "zt-sa";
  k.api.addNamespace("mesh");
  k.api.addPod("mesh", "zt-1", "zt-sa", {{"k8s-app", "zt"}});
  CHECK(k.add("mesh", "zt-1", c).cniCode == kCniErrTryAgainLater);
  CHECK(k.add("istio-system", "ztunnel-abc", c).exitCode == 0);  // no longer ztunnel's home
}

TEST_CASE("agent and API both down: code 11 with both reasons", "[cni][fallback]") {
  Cluster k;
  k.api.apiUp = false;
  auto o = k.add("plain", "pod");
  REQUIRE(o.exitCode == 1);
  auto e = errorOf(o);
  CHECK(e["code"] == kCniErrTryAgainLater);
  CHECK(has(e["msg"], "plain/pod"));
  CHECK(has(e["msg"], "/run/test/agent.sock"));
  CHECK(has(e["msg"], "/etc/cni/net.d/ambient-cni.kubeconfig"));
  CHECK(has(e["details"], "agent: connect to /run/test/agent.sock"));
  CHECK(has(e["details"], "API: GET /api/v1/namespaces/x: connection refused"));
}

TEST_CASE("agent down without kubeconfig: every Kubernetes pod fails closed, API not asked",
          "[cni][fallback]") {
  Cluster k;
  CHECK(k.add("plain", "pod", conf(false)).cniCode == kCniErrTryAgainLater);
  json empty = conf(false);
  empty["kubeconfig"] = "";
  CHECK(k.add("plain", "pod", empty).cniCode == kCniErrTryAgainLater);
  CHECK(k.api.calls.empty());
  // The two-argument runPlugin has no lookup: fails closed even with a kubeconfig.
  CHECK(runPlugin(call("plain", "pod"), k.agent).cniCode == kCniErrTryAgainLater);
}

TEST_CASE("agent down: excluded namespaces start without asking the API", "[cni][fallback]") {
  Cluster k;
  k.api.apiUp = false;
  auto o = k.add("kube-system", "coredns-1");
  CHECK(o.exitCode == 0);
  CHECK(has(o.warning, "excluded"));
  CHECK(k.api.calls.empty());
  // excludeNamespaces replaces the default list.
  json c = conf();
  c["excludeNamespaces"] = {"infra"};
  CHECK(k.add("infra", "x", c).exitCode == 0);
  CHECK(k.api.calls.empty());
  k.api.apiUp = true;
  CHECK(k.add("kube-system", "coredns-1", c).cniCode == kCniErrTryAgainLater);  // labelled ambient
  CHECK(k.api.calls.size() == 1);
  // The ztunnel namespace is never decided without the API, even when excluded.
  c["excludeNamespaces"] = {"istio-system"};
  k.api.apiUp = false;
  CHECK(k.add("istio-system", "istiod-1", c).cniCode == kCniErrTryAgainLater);
}

TEST_CASE("agent up or other verbs: the API is never asked", "[cni][fallback]") {
  Cluster k;
  k.agent.up = true;
  CHECK(k.add("foo", "pod").exitCode == 0);
  k.agent.up = false;
  CHECK(runPlugin(call("foo", "pod", conf(), "DEL"), k.agent, k.api).exitCode == 0);
  json c = conf();
  c["cniVersion"] = "1.0.0";
  CHECK(runPlugin(call("plain", "pod", c, "CHECK"), k.agent, k.api).cniCode ==
        kCniErrTryAgainLater);
  CHECK(k.api.calls.empty());
}

TEST_CASE("fallback config fields: bad values are code 7, apiTimeoutMs is passed on",
          "[cni][fallback]") {
  Cluster k;
  for (auto [key, value] :
       std::vector<std::pair<std::string, json>>{{"kubeconfig", 5},
                                                 {"apiTimeoutMs", 0},
                                                 {"apiTimeoutMs", 60001},
                                                 {"apiTimeoutMs", "2000"},
                                                 {"excludeNamespaces", "kube-system"},
                                                 {"excludeNamespaces", json::array({"a", ""})},
                                                 {"ztunnelNamespace", ""},
                                                 {"ztunnelServiceAccount", 1},
                                                 {"ztunnelLabel", "app"},
                                                 {"ztunnelLabel", "=x"}}) {
    json c = conf();
    c[key] = value;
    INFO(key << " = " << value.dump());
    auto o = k.add("plain", "pod", c);
    CHECK(o.cniCode == kCniErrInvalidConfig);
    CHECK(has(errorOf(o)["msg"], key));
  }
  CHECK(k.api.calls.empty());
  json c = conf();
  c["apiTimeoutMs"] = 350;
  CHECK(k.add("plain", "pod", c).exitCode == 0);
  REQUIRE(k.api.calls.size() == 1);
  CHECK(k.api.calls[0].target.timeoutMs == 350);
}

TEST_CASE("decideWithoutAgent refuses empty pod names", "[cni][fallback]") {
  FakeMetadataLookup api;
  auto d = decideWithoutAgent({"/k", 2000}, {}, "", "pod", "/s", "down", api);
  CHECK_FALSE(d.allow);
  CHECK(api.calls.empty());
}

TEST_CASE("ambient-cni-api-lookup replies round-trip and bad replies are errors",
          "[cni][fallback]") {
  json ns = {{"metadata", {{"name", "foo"}, {"labels", {{kDataplaneModeLabel, "ambient"}}}}}};
  json pod = {{"metadata", {{"namespace", "foo"}, {"name", "p"}}},
              {"spec", {{"serviceAccountName", "sa"}}},
              {"status", {{"phase", "Pending"}}}};
  auto both = parseLookupReply(renderLookupReply(ns, pod));
  REQUIRE(both);
  REQUIRE(both->namespaces.size() == 1);
  CHECK(both->namespaces[0].meta.labels.at(kDataplaneModeLabel) == "ambient");
  REQUIRE(both->pods.size() == 1);
  CHECK(both->pods[0].serviceAccountName == "sa");
  auto none = parseLookupReply(renderLookupReply(nullptr, nullptr));
  REQUIRE(none);
  CHECK(none->namespaces.empty());
  CHECK(none->pods.empty());
  auto err = parseLookupReply(renderLookupError("GET /api/v1/namespaces/foo: refused"));
  REQUIRE_FALSE(err);
  CHECK(err.error().code == ErrorCode::kUnavailable);
  CHECK(err.error().message() == "GET /api/v1/namespaces/foo: refused");
  for (const char* bad :
       {"", "null", "[]", R"({"namespace":null})", R"({"namespace":{"metadata":5},"pod":null})"}) {
    INFO(bad);
    auto r = parseLookupReply(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::kProtocol);
  }
}
