// The plugin <-> agent messages and the registry file format. Pure.
#include "common/core/agent_protocol.h"

#include <catch2/catch.hpp>

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
  for (const std::string& bad :
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

TEST_CASE("addresses and interface names are decoded once, naming the field", "[protocol]") {
  const std::string head = R"({"version":1,"command":"ADD","containerId":"c","netns":"/n",)";
  const std::pair<std::string, std::string> cases[] = {
      {R"("ifname":"eth0","ips":["10.0.0.1","10.0.0.x"]})", "ips[1] \"10.0.0.x\""},
      {R"("ifname":"eth0","ips":[5]})", "field \"ips\" has the wrong type"},
      {R"("ifname":"a/b","ips":[]})", "field \"ifname\" \"a/b\""},
      {R"("ifname":"abcdefghijklmnop"})", "is 16 bytes"},
      {R"("ips":["10.0.0.1"]})", "CNI_IFNAME is required for ADD"},
  };
  for (const auto& [tail, says] : cases) {
    auto r = decodeRequest(head + tail);
    INFO(head + tail);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::kProtocol);
    CHECK(r.error().message().find(says) != std::string::npos);
  }
  // Either family is an address; the agent decides what it redirects.
  auto v6 = decodeRequest(head + R"("ifname":"eth0","ips":["fd00::5"]})");
  REQUIRE(v6);
  CHECK(v6->ips == std::vector<IpAddress>{"fd00::5"});
}

TEST_CASE("STATUS and GC requests and the ready reply round-trip", "[protocol]") {
  PodRequest status{.command = PodCommand::kStatus};
  auto s = decodeRequest(encodeRequest(status));
  REQUIRE(s);
  CHECK(*s == status);
  PodRequest gc{.command = PodCommand::kGc,
                .validAttachments = {{"c1", "eth0"}, {"c1", "net1"}, {"c2", "eth0"}}};
  auto line = encodeRequest(gc);
  CHECK(line.find("\"validAttachments\":[{\"containerId\":\"c1\",\"ifname\":\"eth0\"}") !=
        std::string::npos);
  auto g = decodeRequest(line);
  REQUIRE(g);
  CHECK(*g == gc);
  // An empty list is a list (every registered pod is stale), not a missing one.
  PodRequest none{.command = PodCommand::kGc};
  CHECK(encodeRequest(none).find("\"validAttachments\":[]") != std::string::npos);
  CHECK(*decodeRequest(encodeRequest(none)) == none);
  // Only GC carries the list.
  PodRequest add{.command = PodCommand::kAdd, .validAttachments = {{"c1", "eth0"}}};
  CHECK(encodeRequest(add).find("validAttachments") == std::string::npos);
  PodReply ready{PodVerdict::kReady, 0, ""};
  CHECK(*decodeReply(encodeReply(ready)) == ready);
  PodReply notReady{PodVerdict::kError, kCniErrPluginNotAvailable, "no ztunnel"};
  CHECK(*decodeReply(encodeReply(notReady)) == notReady);
}

TEST_CASE("a malformed validAttachments is a protocol error", "[protocol]") {
  const std::string head = R"({"version":1,"containerId":"","command":)";
  for (const std::string& bad :
       {head + R"("ADD","validAttachments":[]})", head + R"("GC","validAttachments":{}})",
        head + R"("GC","validAttachments":["c1"]})",
        head + R"("GC","validAttachments":[{"ifname":"eth0"}]})",
        head + R"("GC","validAttachments":[{"containerId":"c","ifname":5}]})",
        head + R"("GC","validAttachments":[{"containerId":null,"ifname":"e"}]})"}) {
    INFO(bad);
    auto r = decodeRequest(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::kProtocol);
    CHECK(r.error().message().find("validAttachments") != std::string::npos);
  }
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
  // One changed byte in a ztunnel address or interface name: refused at load, naming the
  // record, rather than loaded and met later as a node that never becomes ready.
  for (auto damage : {std::pair{"\"ip\": \"10.0.0.3\"", "\"ip\": \"10.0u0.3\""},
                      {"\"nodeAddr\": \"10.0.0.1\"", "\"nodeAddr\": \"10.0.0.1x\""},
                      {"\"hostVeth\": \"vethz\"", "\"hostVeth\": \"veth/\""}}) {
    std::string bad = text;
    auto at = bad.find(damage.first, bad.find("\"ztunnel\""));
    REQUIRE(at != std::string::npos);
    bad.replace(at, std::string(damage.first).size(), damage.second);
    auto d = decodeRegistry(bad);
    REQUIRE_FALSE(d);
    CHECK(d.error().message().find("ztunnel record") != std::string::npos);
  }
}
