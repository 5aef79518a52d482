// Every field ambient-cni reads from the network config, prevResult, CNI_ARGS and the agent's
// reply, given the wrong type (or a malformed value): a CNI error with the expected code whose
// message names the field, never an exception or a crash. Pure.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "cni-plugin/core/run_plugin.h"
#include "common/core/agent_protocol.h"
#include "fake_agent.h"

using namespace ambient;
using namespace ambient::cni;
using json = nlohmann::ordered_json;

namespace {

json prev() {
  return json::parse(R"({"cniVersion":"1.0.0",
    "interfaces":[{"name":"veth1","mac":"aa:bb:cc:dd:ee:01"},
                  {"name":"eth0","mac":"aa:bb:cc:dd:ee:02","sandbox":"/var/run/netns/p"}],
    "ips":[{"address":"10.244.1.5/24","gateway":"10.244.1.1","interface":1}]})");
}

json conf(const std::string& ver = "1.0.0") {
  return {{"cniVersion", ver},
          {"name", "k8s"},
          {"type", "ambient-cni"},
          {"agentSocket", "/run/test.sock"},
          {"prevResult", prev()}};
}

CniInvocation call(
    const std::string& cmd, const json& c,
    const std::string& args = "K8S_POD_NAME=app;K8S_POD_NAMESPACE=foo;K8S_POD_UID=u1") {
  CniInvocation in;
  in.env = {{"CNI_COMMAND", cmd},   {"CNI_CONTAINERID", "ctr1"},  {"CNI_NETNS", "/var/run/netns/p"},
            {"CNI_IFNAME", "eth0"}, {"CNI_PATH", "/opt/cni/bin"}, {"CNI_ARGS", args}};
  in.stdinText = c.dump();
  return in;
}

// Runs the call and checks it failed with `code` and a message or details naming `field`.
void expectFailure(const CniInvocation& in, uint32_t code, const std::string& field,
                   FakeAgent& agent) {
  CniOutcome o = runPlugin(in, agent);
  INFO(in.stdinText);
  INFO(o.stdoutText);
  REQUIRE(o.exitCode == 1);
  auto j = json::parse(o.stdoutText, nullptr, false);
  REQUIRE(j.is_object());
  CHECK(j.value("code", 0u) == code);
  CHECK(o.cniCode == code);
  std::string text = j.value("msg", "") + " " + j.value("details", "");
  CHECK(text.find(field) != std::string::npos);
}

}  // namespace

TEST_CASE("config fields of the wrong type are code 7 naming the field", "[cni][types]") {
  FakeAgent agent;
  const std::vector<std::tuple<std::string, json, std::string>> cases = {
      {"agentSocket", 5, "agentSocket"},
      {"agentSocket", "", "agentSocket"},
      {"agentTimeoutMs", "soon", "agentTimeoutMs"},
      {"agentTimeoutMs", 1.5, "agentTimeoutMs"},
      {"agentTimeoutMs", 0, "agentTimeoutMs"},
      {"kubeconfig", 5, "kubeconfig"},
      {"apiTimeoutMs", "2s", "apiTimeoutMs"},
      {"apiTimeoutMs", 60001, "apiTimeoutMs"},
      {"excludeNamespaces", "kube-system", "excludeNamespaces"},
      {"excludeNamespaces", json::array({1}), "excludeNamespaces"},
      {"ztunnelNamespace", 5, "ztunnelNamespace"},
      {"ztunnelLabel", true, "ztunnelLabel"},
      {"ztunnelLabel", "app", "ztunnelLabel"},
      {"ztunnelServiceAccount", json::array(), "ztunnelServiceAccount"},
      {"cniVersion", 1, "cniVersion"},
  };
  for (const auto& [key, value, field] : cases) {
    auto c = conf();
    c[key] = value;
    for (const char* verb : {"ADD", "DEL", "CHECK"}) expectFailure(call(verb, c), 7, field, agent);
  }
  CHECK(agent.requests.empty());
  CniInvocation v;
  v.env = {{"CNI_COMMAND", "VERSION"}};
  v.stdinText = R"({"cniVersion":4})";
  expectFailure(v, 7, "cniVersion", agent);
}

TEST_CASE("logFile and logLevel of the wrong type are ignored with a warning naming them",
          "[cni][types]") {
  FakeAgent agent;
  auto c = conf();
  c["logFile"] = json::array({"/tmp/x"});
  c["logLevel"] = 3;
  auto o = runPlugin(call("ADD", c), agent);
  CHECK(o.exitCode == 0);
  CHECK(o.logFile.empty());
  CHECK(o.warning.find("logFile") != std::string::npos);
  CHECK(o.warning.find("logLevel") != std::string::npos);
}

TEST_CASE("prevResult fields of the wrong type are code 6 naming the field", "[cni][types]") {
  FakeAgent agent;
  // (json pointer into prevResult, value, the field as the message names it)
  const std::vector<std::tuple<std::string, json, std::string>> cases = {
      {"", "text", "prevResult must be an object"},
      {"/interfaces", json::object(), "prevResult interfaces"},
      {"/interfaces/0", 3, "interfaces[0]"},
      {"/interfaces/1/name", 5, "interfaces[1].name"},
      {"/interfaces/1/sandbox", 0, "interfaces[1].sandbox"},
      {"/interfaces/1/sandbox", json::array(), "interfaces[1].sandbox"},
      {"/interfaces/1/sandbox", false, "interfaces[1].sandbox"},
      {"/ips", json::object(), "prevResult ips"},
      {"/ips/0", 3, "ips[0]"},
      {"/ips/0/address", 5, "ips[0].address"},
      {"/ips/0/address", "eth0", "ips[0].address"},
      {"/ips/0/address", "10.244.1.5/33", "ips[0].address"},
      {"/ips/0/version", 4, "ips[0].version"},
      {"/ips/0/version", "6", "ips[0].version"},
      {"/ips/0/interface", "1", "ips[0].interface"},
      {"/ips/0/interface", -1, "ips[0].interface"},
      {"/ips/0/interface", 1.5, "ips[0].interface"},
      {"/ips/0/interface", 2, "ips[0].interface"},
  };
  for (const auto& [ptr, value, field] : cases) {
    auto c = conf();
    c["prevResult"][json::json_pointer(ptr)] = value;
    for (const char* verb : {"ADD", "DEL", "CHECK"}) {
      expectFailure(call(verb, c), 6, field, agent);
      expectFailure(call(verb, c, ""), 6, field, agent);  // not a Kubernetes pod: checked too
    }
  }
  for (const char* key : {"/interfaces/1/name", "/ips/0/address"}) {
    auto c = conf();
    c["prevResult"][json::json_pointer(key).parent_pointer()].erase(json::json_pointer(key).back());
    expectFailure(call("ADD", c), 6, std::string(key).substr(1, 3), agent);
  }
  CHECK(agent.requests.empty());
}

TEST_CASE("malformed CNI_ARGS is code 4 naming the key", "[cni][types]") {
  FakeAgent agent;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"K8S_POD_NAME;K8S_POD_NAMESPACE=foo", "K8S_POD_NAME"},
      {"=x;K8S_POD_NAME=app;K8S_POD_NAMESPACE=foo", "empty key"},
      {"K8S_POD_NAME=;K8S_POD_NAMESPACE=foo", "K8S_POD_NAME"},
      {"K8S_POD_NAME=app;K8S_POD_NAMESPACE=", "K8S_POD_NAMESPACE"},
  };
  for (const auto& [args, field] : cases)
    for (const char* verb : {"ADD", "DEL", "CHECK"})
      expectFailure(call(verb, conf(), args), 4, field, agent);
  CHECK(agent.requests.empty());
  // Empty segments are fine; of a repeated key the last counts (podman puts its own
  // K8S_POD_NAME=<container name> first, then the caller's CNI_ARGS pairs).
  CHECK(runPlugin(call("ADD", conf(),
                       ";IgnoreUnknown=1;;K8S_POD_NAME=ctr-name;K8S_POD_NAMESPACE=foo;X=1;X=2;"
                       "K8S_POD_NAME=app;"),
                  agent)
            .exitCode == 0);
  REQUIRE(agent.requests.size() == 1);
  CHECK(decodeRequest(agent.requests[0])->podName == "app");
}

TEST_CASE(
    "agent reply fields of the wrong type, or a verdict that does not answer the verb, "
    "are code 6",
    "[cni][types]") {
  FakeAgent agent;
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {"ADD", R"({"verdict":5})", "verdict"},
      {"ADD", R"({"cniCode":7})", "verdict"},
      {"ADD", R"({"verdict":"error","cniCode":"7"})", "cniCode"},
      {"ADD", R"({"verdict":"error","cniCode":-1})", "cniCode"},
      {"ADD", R"({"verdict":"error","cniCode":1.5})", "cniCode"},
      {"ADD", R"({"verdict":"error","message":["x"]})", "message"},
      {"ADD", R"({"verdict":"ready"})", "ready"},
      {"ADD", R"({"verdict":"released"})", "released"},
      {"CHECK", R"({"verdict":"released"})", "released"},
      {"DEL", R"({"verdict":"enrolled"})", "enrolled"},
      {"DEL", R"({"verdict":"ready"})", "ready"},
      {"ADD", "not json", "not a JSON object"},
  };
  for (const auto& [verb, reply, field] : cases) {
    agent.reply = reply;
    expectFailure(call(verb, conf()), 6, field, agent);
  }
  auto c = conf("1.1.0");
  c["cni.dev/valid-attachments"] = json::array();
  for (const char* reply : {R"({"verdict":"ready"})", R"({"verdict":"enrolled"})", "[]"}) {
    agent.reply = reply;
    expectFailure(call("GC", c), 6, "GC reply", agent);
  }
  for (const char* reply : {R"({"verdict":"released"})", R"({"verdict":"enrolled"})", "7"}) {
    agent.reply = reply;
    expectFailure(call("STATUS", conf("1.1.0")), 6, "STATUS reply", agent);
  }
}
