// STATUS, GC, CHECK and Multus secondary interfaces through runPlugin() with a fake agent:
// what the plugin sends, and the CNI outcome of every agent answer. Pure.
#include "cni-plugin/core/node_verbs.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "common/core/agent_protocol.h"
#include "fake_agent.h"

using namespace ambient;
using namespace ambient::cni;
using json = nlohmann::ordered_json;

namespace {

json conf(const std::string& ver = "1.1.0") {
  return {{"cniVersion", ver},
          {"name", "k8s"},
          {"type", "ambient-cni"},
          {"agentSocket", "/run/test.sock"}};
}

// STATUS and GC as runtimes call them: CNI_COMMAND and CNI_PATH only.
CniInvocation nodeCall(const std::string& cmd, const json& c) {
  CniInvocation in;
  in.env = {{"CNI_COMMAND", cmd}, {"CNI_PATH", "/opt/cni/bin"}};
  in.stdinText = c.dump();
  return in;
}

json errorOf(const CniOutcome& o) {
  auto j = json::parse(o.stdoutText, nullptr, false);
  REQUIRE(j.is_object());
  return j;
}

// prevResult with the default interface eth0 and a Multus secondary net1.
json multusPrev() {
  return json::parse(R"({"cniVersion":"1.0.0",
    "interfaces":[{"name":"veth1"},{"name":"eth0","sandbox":"/var/run/netns/p"},
                  {"name":"net1","sandbox":"/var/run/netns/p"}],
    "ips":[{"address":"10.244.1.5/24","interface":1},{"address":"192.168.50.7/24","interface":2}]})");
}

CniInvocation podCall(const std::string& cmd, const std::string& ifname, const json& c) {
  CniInvocation in;
  in.env = {{"CNI_COMMAND", cmd},
            {"CNI_CONTAINERID", "ctr1"},
            {"CNI_NETNS", "/var/run/netns/p"},
            {"CNI_IFNAME", ifname},
            {"CNI_ARGS", "K8S_POD_NAME=app;K8S_POD_NAMESPACE=foo;K8S_POD_UID=u1"}};
  in.stdinText = c.dump();
  return in;
}

}  // namespace

TEST_CASE("STATUS asks the agent: ready is exit 0 without output", "[cni][status]") {
  FakeAgent agent;
  agent.reply = encodeReply({PodVerdict::kReady, 0, ""});
  auto o = runPlugin(nodeCall("STATUS", conf()), agent);
  CHECK(o.exitCode == 0);
  CHECK(o.stdoutText.empty());
  CHECK(o.verdict == "ready");
  REQUIRE(agent.requests.size() == 1);
  auto req = decodeRequest(agent.requests[0]);
  REQUIRE(req);
  CHECK(req->command == PodCommand::kStatus);
  CHECK(agent.endpoints[0].socketPath == "/run/test.sock");
}

TEST_CASE("STATUS is code 50 while the agent is unreachable or not ready", "[cni][status]") {
  FakeAgent agent;
  agent.up = false;
  auto down = runPlugin(nodeCall("STATUS", conf()), agent);
  CHECK(down.exitCode == 1);
  auto e = errorOf(down);
  CHECK(e["code"] == 50);
  CHECK(e["cniVersion"] == "1.1.0");
  CHECK(e["msg"].get<std::string>().find("unreachable at /run/test.sock") != std::string::npos);
  CHECK(e["details"].get<std::string>().find("connect to /run/test.sock") != std::string::npos);

  agent.up = true;
  agent.reply = encodeReply(
      {PodVerdict::kError, kCniErrPluginNotAvailable, "ztunnel is not running on this node"});
  auto notReady = runPlugin(nodeCall("STATUS", conf()), agent);
  CHECK(errorOf(notReady)["code"] == 50);
  CHECK(errorOf(notReady)["msg"] ==
        "ambient node agent is not ready: ztunnel is not running on this node");
  // An older agent that does not know STATUS answers an error of its own: still 50.
  agent.reply = encodeReply({PodVerdict::kError, kCniErrTryAgainLater, "unknown command"});
  CHECK(errorOf(runPlugin(nodeCall("STATUS", conf()), agent))["code"] == 50);
}

TEST_CASE("GC sends cni.dev/valid-attachments to the agent", "[cni][gc]") {
  FakeAgent agent;
  agent.reply = encodeReply({PodVerdict::kReleased, 0, "released 1 pod"});
  auto c = conf();
  c["cni.dev/valid-attachments"] = json::parse(
      R"([{"containerID":"c1","ifname":"eth0"},{"containerID":"c2","ifname":"net1","x":1}])");
  auto o = runPlugin(nodeCall("GC", c), agent);
  CHECK(o.exitCode == 0);
  CHECK(o.stdoutText.empty());
  REQUIRE(agent.requests.size() == 1);
  auto req = decodeRequest(agent.requests[0]);
  REQUIRE(req);
  CHECK(req->command == PodCommand::kGc);
  CHECK(req->validAttachments == std::vector<Attachment>{{"c1", "eth0"}, {"c2", "net1"}});

  // An empty list is valid (no attachment is left): the agent releases every pod.
  c["cni.dev/valid-attachments"] = json::array();
  CHECK(runPlugin(nodeCall("GC", c), agent).exitCode == 0);
  CHECK(decodeRequest(agent.requests[1])->validAttachments.empty());

  // libcni also writes the list under the earlier draft's name.
  auto alias = conf();
  alias["cni.dev/attachments"] = json::parse(R"([{"containerID":"c9","ifname":"eth0"}])");
  CHECK(runPlugin(nodeCall("GC", alias), agent).exitCode == 0);
  CHECK(decodeRequest(agent.requests[2])->validAttachments ==
        std::vector<Attachment>{{"c9", "eth0"}});
}

TEST_CASE("GC: a bad list is code 7 naming the entry, and nothing is sent", "[cni][gc]") {
  FakeAgent agent;
  const std::vector<std::pair<json, std::string>> cases = {
      {json::object(), "cni.dev/valid-attachments must be an array"},
      {json::array({"c1"}), "cni.dev/valid-attachments[0] must be an object"},
      {json::parse(R"([{"containerID":"c1","ifname":"eth0"},{"ifname":"eth0"}])"),
       "cni.dev/valid-attachments[1].containerID"},
      {json::parse(R"([{"containerID":5,"ifname":"eth0"}])"),
       "cni.dev/valid-attachments[0].containerID"},
      {json::parse(R"([{"containerID":"","ifname":"eth0"}])"),
       "cni.dev/valid-attachments[0].containerID"},
      {json::parse(R"([{"containerID":"c1","ifname":0}])"), "cni.dev/valid-attachments[0].ifname"},
      {json::parse(R"([{"containerID":"c1"}])"), "cni.dev/valid-attachments[0].ifname"},
      {json::parse(R"([{"containerID":"c1","ifname":"a/b"}])"),
       "cni.dev/valid-attachments[0].ifname \"a/b\""},
  };
  for (const auto& [list, field] : cases) {
    auto c = conf();
    c["cni.dev/valid-attachments"] = list;
    auto o = runPlugin(nodeCall("GC", c), agent);
    INFO(o.stdoutText);
    CHECK(errorOf(o)["code"] == 7);
    CHECK(errorOf(o)["msg"].get<std::string>().find(field) != std::string::npos);
  }
  // No list at all: GC never guesses (releasing everything would be wrong).
  auto none = runPlugin(nodeCall("GC", conf()), agent);
  CHECK(errorOf(none)["code"] == 7);
  CHECK(errorOf(none)["msg"].get<std::string>().find("needs cni.dev/valid-attachments") !=
        std::string::npos);
  CHECK(agent.requests.empty());
}

TEST_CASE("GC: agent unreachable is code 11, an agent error keeps its code", "[cni][gc]") {
  FakeAgent agent;
  auto c = conf();
  c["cni.dev/valid-attachments"] = json::parse(R"([{"containerID":"c1","ifname":"eth0"}])");
  agent.up = false;
  auto down = runPlugin(nodeCall("GC", c), agent);
  CHECK(errorOf(down)["code"] == 11);
  CHECK(errorOf(down)["msg"].get<std::string>().find("unreachable at /run/test.sock") !=
        std::string::npos);
  agent.up = true;
  agent.reply = encodeReply({PodVerdict::kError, kCniErrIo, "cannot write the registry"});
  auto failed = runPlugin(nodeCall("GC", c), agent);
  CHECK(errorOf(failed)["code"] == 5);
  CHECK(errorOf(failed)["msg"] == "cannot write the registry");
  agent.reply = encodeReply({PodVerdict::kError, 0, ""});
  CHECK(errorOf(runPlugin(nodeCall("GC", c), agent))["code"] == 11);
}

TEST_CASE("GC: a list too long for the agent protocol is code 7, nothing sent", "[cni][gc]") {
  FakeAgent agent;
  auto c = conf();
  json list = json::array();
  for (int i = 0; i < 2000; ++i)
    list.push_back({{"containerID", std::string(64, 'a') + std::to_string(i)}, {"ifname", "eth0"}});
  c["cni.dev/valid-attachments"] = list;
  auto o = runPlugin(nodeCall("GC", c), agent);
  CHECK(errorOf(o)["code"] == 7);
  CHECK(errorOf(o)["msg"].get<std::string>().find("too long") != std::string::npos);
  CHECK(agent.requests.empty());
}

TEST_CASE("STATUS and GC need cniVersion 1.1.0", "[cni][status][gc]") {
  FakeAgent agent;
  for (const char* verb : {"STATUS", "GC"})
    for (const char* ver : {"0.3.1", "0.4.0", "1.0.0"})
      CHECK(errorOf(runPlugin(nodeCall(verb, conf(ver)), agent))["code"] == 1);
  CHECK(agent.requests.empty());
}

TEST_CASE("CHECK: an agent error (kernel state missing or different) is a CNI error",
          "[cni][check]") {
  FakeAgent agent;
  auto c = conf("1.0.0");
  c["prevResult"] = multusPrev();
  agent.reply = encodeReply(
      {PodVerdict::kError, kCniErrIo, "pod foo/app: route 10.244.1.5 via istioin is missing"});
  auto o = runPlugin(podCall("CHECK", "eth0", c), agent);
  CHECK(o.exitCode == 1);
  CHECK(errorOf(o)["code"] == 5);
  CHECK(errorOf(o)["msg"] == "pod foo/app: route 10.244.1.5 via istioin is missing");
  CHECK(o.verdict == "error");
  REQUIRE(agent.requests.size() == 1);
  CHECK(decodeRequest(agent.requests[0])->command == PodCommand::kCheck);
  agent.reply = encodeReply({PodVerdict::kError, 0, "drift"});
  CHECK(errorOf(runPlugin(podCall("CHECK", "eth0", c), agent))["code"] == 11);
  agent.reply = encodeReply({PodVerdict::kEnrolled, 0, "redirection verified"});
  auto ok = runPlugin(podCall("CHECK", "eth0", c), agent);
  CHECK(ok.exitCode == 0);
  CHECK(ok.stdoutText.empty());
}

TEST_CASE("Multus: a secondary CNI_IFNAME goes to the agent, ADD echoes prevResult",
          "[cni][multus]") {
  FakeAgent agent;
  auto c = conf("1.0.0");
  c["prevResult"] = multusPrev();
  agent.reply = encodeReply({PodVerdict::kNotAmbient, 0, "net1 is not the default interface"});
  auto add = runPlugin(podCall("ADD", "net1", c), agent);
  CHECK(add.exitCode == 0);
  auto echoed = json::parse(add.stdoutText);
  CHECK(echoed["interfaces"] == multusPrev()["interfaces"]);
  CHECK(echoed["ips"] == multusPrev()["ips"]);
  REQUIRE(agent.requests.size() == 1);
  auto req = decodeRequest(agent.requests[0]);
  REQUIRE(req);
  CHECK(req->command == PodCommand::kAdd);
  CHECK(req->ifname.str() == "net1");
  CHECK(req->ips == std::vector<IpAddress>{"192.168.50.7"});

  agent.reply = encodeReply({PodVerdict::kReleased, 0, "net1: nothing released"});
  auto del = runPlugin(podCall("DEL", "net1", c), agent);
  CHECK(del.exitCode == 0);
  CHECK(del.stdoutText.empty());
  REQUIRE(agent.requests.size() == 2);
  CHECK(decodeRequest(agent.requests[1])->ifname.str() == "net1");
  CHECK(decodeRequest(agent.requests[1])->command == PodCommand::kDel);
}
