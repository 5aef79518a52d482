// Unit tests for runPlugin(): every verb against a fake agent (up, down, garbage replies),
// version gating, prevResult rules, env checks. Pure.
#include "cni-plugin/core/run_plugin.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "common/core/agent_protocol.h"
#include "fake_agent.h"

using namespace ambient;
using namespace ambient::cni;
using json = nlohmann::ordered_json;

namespace {

const char* kPrev =
    R"({"cniVersion":"1.0.0","interfaces":[{"name":"veth1","mac":"aa:bb:cc:dd:ee:01"},
  {"name":"eth0","mac":"aa:bb:cc:dd:ee:02","sandbox":"/var/run/netns/p"}],
  "ips":[{"address":"10.244.1.5/24","gateway":"10.244.1.1","interface":1}]})";

json conf(const std::string& ver = "1.0.0", bool withPrev = true) {
  json c = {{"cniVersion", ver},
            {"name", "k8s"},
            {"type", "ambient-cni"},
            {"agentSocket", "/run/test.sock"},
            {"agentTimeoutMs", 1234}};
  if (withPrev) c["prevResult"] = json::parse(kPrev);
  return c;
}

CniInvocation call(const std::string& cmd, const json& c, bool k8s = true) {
  CniInvocation in;
  in.env = {{"CNI_COMMAND", cmd},
            {"CNI_CONTAINERID", "ctr1"},
            {"CNI_NETNS", "/var/run/netns/p"},
            {"CNI_IFNAME", "eth0"},
            {"CNI_PATH", "/opt/cni/bin"}};
  if (k8s)
    in.env["CNI_ARGS"] = "IgnoreUnknown=1;K8S_POD_NAME=app;K8S_POD_NAMESPACE=foo;K8S_POD_UID=u1";
  in.stdinText = c.dump();
  return in;
}

uint32_t codeOf(const CniOutcome& o) {
  auto j = json::parse(o.stdoutText, nullptr, false);
  REQUIRE(j.is_object());
  return j.value("code", 0u);
}

}  // namespace

TEST_CASE("ADD of an ambient pod asks the agent and echoes prevResult", "[cni][verbs]") {
  FakeAgent agent;
  auto o = runPlugin(call("ADD", conf()), agent);
  INFO(o.stdoutText);
  CHECK(o.exitCode == 0);
  REQUIRE(agent.requests.size() == 1);
  auto req = decodeRequest(agent.requests[0]);
  REQUIRE(req);
  CHECK(req->command == PodCommand::kAdd);
  CHECK(req->podNamespace == "foo");
  CHECK(req->podName == "app");
  CHECK(req->podUid == "u1");
  CHECK(req->ips == std::vector<IpAddress>{"10.244.1.5"});
  CHECK(agent.endpoints[0].socketPath == "/run/test.sock");
  CHECK(agent.endpoints[0].timeoutMs == 1234);
  auto r = json::parse(o.stdoutText);
  CHECK(r["cniVersion"] == "1.0.0");
  CHECK(r["interfaces"][1]["mac"] == "aa:bb:cc:dd:ee:02");
  CHECK(o.verdict == "enrolled");
  CHECK(o.pod == "foo/app");
}

TEST_CASE("ADD with the agent down fails closed with code 11 and DEL still succeeds",
          "[cni][verbs]") {
  FakeAgent agent;
  agent.up = false;
  auto add = runPlugin(call("ADD", conf()), agent);
  CHECK(add.exitCode == 1);
  CHECK(codeOf(add) == kCniErrTryAgainLater);
  CHECK(json::parse(add.stdoutText)["msg"].get<std::string>().find("/run/test.sock") !=
        std::string::npos);
  auto del = runPlugin(call("DEL", conf()), agent);
  CHECK(del.exitCode == 0);
  CHECK(del.stdoutText.empty());
  CHECK(del.verdict == "agent-unreachable");
  auto chk = runPlugin(call("CHECK", conf()), agent);
  CHECK(codeOf(chk) == kCniErrTryAgainLater);
}

TEST_CASE("containers without K8S_POD_* pass through without the agent", "[cni][verbs]") {
  FakeAgent agent;
  agent.up = false;
  auto add = runPlugin(call("ADD", conf(), false), agent);
  CHECK(add.exitCode == 0);
  CHECK(json::parse(add.stdoutText)["ips"][0]["address"] == "10.244.1.5/24");
  CHECK(runPlugin(call("DEL", conf(), false), agent).exitCode == 0);
  CHECK(runPlugin(call("CHECK", conf(), false), agent).exitCode == 0);
  CHECK(agent.requests.empty());
  CHECK(add.verdict == "passthrough");
}

TEST_CASE("a garbage or unknown agent reply is code 6", "[cni][verbs]") {
  FakeAgent agent;
  for (const char* garbage : {"not json", R"({"verdict":"maybe"})", R"([1,2])", ""}) {
    agent.reply = garbage;
    auto o = runPlugin(call("ADD", conf()), agent);
    INFO(garbage);
    CHECK(o.exitCode == 1);
    CHECK(codeOf(o) == kCniErrDecode);
  }
}

TEST_CASE("an agent error verdict is returned with its code and message", "[cni][verbs]") {
  FakeAgent agent;
  agent.reply = R"({"verdict":"error","cniCode":5,"message":"nft batch failed"})";
  auto o = runPlugin(call("ADD", conf()), agent);
  CHECK(codeOf(o) == 5);
  CHECK(json::parse(o.stdoutText)["msg"] == "nft batch failed");
  agent.reply = R"({"verdict":"error","message":"ztunnel not ready"})";
  CHECK(codeOf(runPlugin(call("ADD", conf()), agent)) == kCniErrTryAgainLater);
}

TEST_CASE("not-ambient and released verdicts succeed", "[cni][verbs]") {
  FakeAgent agent;
  agent.reply = R"({"verdict":"not-ambient"})";
  auto add = runPlugin(call("ADD", conf()), agent);
  CHECK(add.exitCode == 0);
  CHECK(add.verdict == "not-ambient");
  agent.reply = R"({"verdict":"released"})";
  auto del = runPlugin(call("DEL", conf()), agent);
  CHECK(del.exitCode == 0);
  CHECK(del.stdoutText.empty());
}

TEST_CASE("ADD and CHECK need prevResult and DEL does not", "[cni][verbs]") {
  FakeAgent agent;
  CHECK(codeOf(runPlugin(call("ADD", conf("1.0.0", false)), agent)) == kCniErrInvalidConfig);
  CHECK(codeOf(runPlugin(call("CHECK", conf("1.0.0", false)), agent)) == kCniErrInvalidConfig);
  CHECK(codeOf(runPlugin(call("CHECK", conf("0.4.0", false)), agent)) == kCniErrInvalidConfig);
  CHECK(agent.requests.empty());
  // DEL with no prevResult and an empty CNI_NETNS, as runtimes send after a failed ADD.
  agent.reply = R"({"verdict":"released"})";
  auto in = call("DEL", conf("1.0.0", false));
  in.env["CNI_NETNS"] = "";
  auto del = runPlugin(in, agent);
  CHECK(del.exitCode == 0);
  REQUIRE(agent.requests.size() == 1);
  auto req = decodeRequest(agent.requests[0]);
  REQUIRE(req);
  CHECK(req->netns.empty());
  CHECK(req->ips.empty());
  auto bad = conf();
  bad["prevResult"] = "text";
  CHECK(codeOf(runPlugin(call("ADD", bad), agent)) == kCniErrDecode);
}

TEST_CASE("CHECK succeeds silently and is refused below 0.4.0", "[cni][verbs]") {
  FakeAgent agent;
  auto ok = runPlugin(call("CHECK", conf("0.4.0")), agent);
  CHECK(ok.exitCode == 0);
  CHECK(ok.stdoutText.empty());
  REQUIRE(agent.requests.size() == 1);
  CHECK(decodeRequest(agent.requests[0])->command == PodCommand::kCheck);
  CHECK(codeOf(runPlugin(call("CHECK", conf("0.3.1")), agent)) == kCniErrIncompatibleVersion);
  CHECK(agent.requests.size() == 1);
}

TEST_CASE("missing environment variables are code 4", "[cni][verbs]") {
  FakeAgent agent;
  for (const char* var : {"CNI_CONTAINERID", "CNI_IFNAME", "CNI_NETNS"}) {
    auto in = call("ADD", conf());
    in.env.erase(var);
    INFO(var);
    CHECK(codeOf(runPlugin(in, agent)) == kCniErrInvalidEnv);
  }
  auto in = call("ADD", conf());
  in.env.erase("CNI_COMMAND");
  CHECK(codeOf(runPlugin(in, agent)) == kCniErrInvalidEnv);
  CHECK(codeOf(runPlugin(call("FROB", conf()), agent)) == kCniErrInvalidEnv);
  // A CNI_IFNAME the kernel would refuse is decoded here, once: code 4 naming it.
  for (const char* bad : {"a/b", "abcdefghijklmnop", "eth 0"}) {
    auto in = call("ADD", conf());
    in.env["CNI_IFNAME"] = bad;
    auto o = runPlugin(in, agent);
    INFO(o.stdoutText);
    CHECK(codeOf(o) == kCniErrInvalidEnv);
    CHECK(o.stdoutText.find("CNI_IFNAME") != std::string::npos);
  }
  CHECK(agent.requests.empty());
}

TEST_CASE("config errors: bad JSON 6, versions 1, bad agent fields 7", "[cni][verbs]") {
  FakeAgent agent;
  auto in = call("ADD", conf());
  in.stdinText = "{not json";
  CHECK(codeOf(runPlugin(in, agent)) == kCniErrDecode);
  in.stdinText = std::string(1024 * 1024 + 1, ' ');
  CHECK(codeOf(runPlugin(in, agent)) == kCniErrDecode);
  CHECK(codeOf(runPlugin(call("ADD", conf("0.2.0")), agent)) == kCniErrIncompatibleVersion);
  auto noVer = conf();
  noVer.erase("cniVersion");
  CHECK(codeOf(runPlugin(call("ADD", noVer), agent)) == kCniErrIncompatibleVersion);
  auto c = conf();
  c["agentSocket"] = 5;
  CHECK(codeOf(runPlugin(call("ADD", c), agent)) == kCniErrInvalidConfig);
  c = conf();
  c["agentTimeoutMs"] = "soon";
  CHECK(codeOf(runPlugin(call("ADD", c), agent)) == kCniErrInvalidConfig);
  c = conf();
  c["logLevel"] = 3;  // logging never fails a call
  c["kubeconfig"] = "/etc/cni/net.d/ambient-kubeconfig";
  CHECK(runPlugin(call("ADD", c), agent).exitCode == 0);
  CHECK(agent.requests.size() == 1);
}

TEST_CASE("VERSION, STATUS and GC", "[cni][verbs]") {
  FakeAgent agent;
  CniInvocation v;
  v.env = {{"CNI_COMMAND", "VERSION"}};
  v.stdinText = R"({"cniVersion":"0.4.0"})";
  auto o = runPlugin(v, agent);
  CHECK(o.exitCode == 0);
  CHECK(json::parse(o.stdoutText)["cniVersion"] == "0.4.0");
  v.stdinText = "";
  CHECK(json::parse(runPlugin(v, agent).stdoutText)["supportedVersions"].size() == 5);

  agent.reply = R"({"verdict":"ready"})";
  CHECK(runPlugin(call("STATUS", conf("1.1.0", false)), agent).exitCode == 0);
  CHECK(agent.requests.size() == 1);
  auto gcConf = conf("1.1.0", false);
  gcConf["cni.dev/valid-attachments"] = json::array();
  agent.reply = R"({"verdict":"released"})";
  CHECK(runPlugin(call("GC", gcConf), agent).exitCode == 0);
  agent.up = false;
  CHECK(codeOf(runPlugin(call("STATUS", conf("1.1.0", false)), agent)) ==
        kCniErrPluginNotAvailable);
  CHECK(codeOf(runPlugin(call("GC", gcConf), agent)) == kCniErrTryAgainLater);
  CHECK(agent.requests.size() == 4);
  CHECK(codeOf(runPlugin(call("STATUS", conf("1.0.0", false)), agent)) ==
        kCniErrIncompatibleVersion);
  CHECK(codeOf(runPlugin(call("GC", conf("1.0.0", false)), agent)) == kCniErrIncompatibleVersion);
  CHECK(agent.requests.size() == 4);
}
