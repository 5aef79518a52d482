// The plugin <-> agent messages, the registry file format and the agent's flags. Pure.
#include "common/core/agent_protocol.h"

#include <catch2/catch.hpp>

#include "node-agent/core/agent_flags.h"
#include "node-agent/core/pod_registry.h"

using namespace ambient;

TEST_CASE("requests and replies round-trip", "[protocol]") {
  PodRequest r{kProtocolVersion, PodCommand::kDel, "cid",       "/var/run/netns/x", "eth0", "foo",
               "sleep",          "uid-1",          {"10.0.0.1"}};
  auto back = decodeRequest(encodeRequest(r));
  REQUIRE(back);
  CHECK(*back == r);
  PodReply p{PodVerdict::kError, kCniErrTryAgainLater, "later"};
  CHECK(*decodeReply(encodeReply(p)) == p);
}

TEST_CASE("garbage on the socket is a protocol error and never a crash", "[protocol]") {
  for (std::string bad :
       std::vector<std::string>{"", "{", "[]", "null", "{\"version\":1}",
                                "{\"version\":2,\"command\":\"ADD\",\"containerId\":\"c\"}",
                                "{\"version\":1,\"command\":\"PUT\",\"containerId\":\"c\"}",
                                "{\"version\":1,\"command\":\"ADD\",\"containerId\":5}",
                                std::string(kMaxMessageBytes + 1, ' ')}) {
    auto r = decodeRequest(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::kProtocol);
  }
  CHECK_FALSE(decodeReply("{\"verdict\":\"maybe\"}"));
}

TEST_CASE("the registry round-trips and rejects damage", "[registry]") {
  PodRegistry r;
  r.pods["u1"] =
      PodRecord{"u1", "foo", "sleep", "c1", "/ns/1", "eth0", {"10.0.0.1"}, "veth1", true};
  r.ztunnel = ZtunnelRecord{"z", "/ns/z", "10.0.0.3", "vethz", "10.0.0.1", "eth0", 1450};
  auto back = decodeRegistry(encodeRegistry(r));
  REQUIRE(back);
  CHECK(*back == r);
  auto text = encodeRegistry(r);
  CHECK_FALSE(decodeRegistry(text.substr(0, text.size() / 2)));
  CHECK_FALSE(decodeRegistry("{\"version\":9,\"pods\":[]}"));
}

TEST_CASE("agent flags: defaults and values and mistakes", "[flags]") {
  auto d = parseAgentFlags({});
  REQUIRE(d);
  CHECK(d->command == "run");
  CHECK(d->tunnelMode == TunnelMode::kAuto);
  auto f = parseAgentFlags(
      {"uninstall", "--tunnel-port=7081", "--ztunnel-label", "k=v", "--exclude-namespaces", "a,b"});
  REQUIRE(f);
  CHECK(f->command == "uninstall");
  CHECK(f->tunnelPort == 7081);
  CHECK(f->policy.ztunnelLabelKey == "k");
  CHECK(f->policy.excludedNamespaces == std::set<std::string>{"a", "b"});
  CHECK_FALSE(parseAgentFlags({"--tunnel-port", "70000"}));
  CHECK_FALSE(parseAgentFlags({"--tunnel-mode", "gre"}));
  CHECK_FALSE(parseAgentFlags({"--nope", "1"}));
  CHECK_FALSE(parseAgentFlags({"--socket"}));
  CHECK_FALSE(parseAgentFlags({"launch"}));
  CHECK(parseAgentFlags({"--help"})->command == "help");
  // The API: in-cluster when the service env is there, and a node name is required.
  auto inCluster =
      parseAgentFlags({}, {{"KUBERNETES_SERVICE_HOST", "10.96.0.1"}, {"NODE_NAME", "node-a"}});
  REQUIRE(inCluster);
  CHECK(inCluster->kubeconfig == "in-cluster");
  CHECK(inCluster->nodeName == "node-a");
  CHECK(inCluster->viewPath() == "/var/run/ambient/ztunnel-config.json");
  auto noNode = parseAgentFlags({"--kubeconfig", "/etc/kube.conf"});
  REQUIRE_FALSE(noNode);
  CHECK(noNode.error().message().find("--node-name") != std::string::npos);
  CHECK(parseAgentFlags({"--kubeconfig", "/etc/kube.conf", "--node-name", "n1"})->kubeconfig ==
        "/etc/kube.conf");
  CHECK(parseAgentFlags({"--kubeconfig="}, {{"KUBERNETES_SERVICE_HOST", "x"}})->kubeconfig == "");
}
