// Golden tests of ADD's result conversion: each golden/<case>.in.json is the network config
// on stdin (cniVersion + prevResult), <case>.out.json the result ADD must print (compared as
// ordered JSON: same keys, same order, same values). Pure (reads the golden files).
#include "cni-plugin/core/result_convert.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cni-plugin/core/run_plugin.h"
#include "fake_agent.h"

using namespace ambient::cni;
using json = nlohmann::ordered_json;

namespace {

std::string readGolden(const std::string& name) {
  std::ifstream f(std::string(AMBIENT_CNI_GOLDEN_DIR) + "/" + name);
  REQUIRE(f.good());
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

CniInvocation addOf(const std::string& stdinText, bool k8s) {
  CniInvocation in;
  in.env = {{"CNI_COMMAND", "ADD"},
            {"CNI_CONTAINERID", "c1"},
            {"CNI_NETNS", "/var/run/netns/p1"},
            {"CNI_IFNAME", "eth0"}};
  if (k8s) in.env["CNI_ARGS"] = "K8S_POD_NAMESPACE=foo;K8S_POD_NAME=app";
  in.stdinText = stdinText;
  return in;
}

}  // namespace

TEST_CASE("ADD prints prevResult in the request's cniVersion (golden)", "[cni][golden]") {
  auto name = GENERATE(as<std::string>{}, "031_to_031", "040_to_040", "100_to_100", "110_to_110",
                       "031_prev_in_100_request", "100_prev_in_031_request",
                       "110_prev_in_040_request", "no_cniversion_prev_in_100_request");
  INFO(name);
  std::string in = readGolden(name + ".in.json");
  std::string want = json::parse(readGolden(name + ".out.json")).dump();
  for (bool k8s : {false, true}) {
    FakeAgent agent;
    agent.reply = R"({"verdict":"not-ambient"})";
    auto o = runPlugin(addOf(in, k8s), agent);
    CHECK(o.exitCode == 0);
    CHECK(o.stdoutText == want + "\n");
    CHECK(agent.requests.size() == (k8s ? 1u : 0u));
  }
}

TEST_CASE("conversion is reversible between 0.4.0 and 1.0.0 shapes", "[cni][golden]") {
  auto v1 = json::parse(readGolden("100_to_100.out.json"));
  auto down = convertResult(v1, "0.4.0");
  REQUIRE(down);
  CHECK((*down)["ips"][0]["version"] == "4");
  CHECK((*down)["ips"][1]["version"] == "6");
  auto up = convertResult(*down, "1.0.0");
  REQUIRE(up);
  CHECK(up->dump() == v1.dump());
}

TEST_CASE("prevResult that cannot be converted is code 6 naming the field", "[cni][golden]") {
  CHECK(addressFamily("10.0.0.1/8") == "4");
  CHECK(addressFamily("fe80::1") == "6");
  CHECK(addressFamily("10.0.0.256/8").empty());
  CHECK(addressFamily("").empty());
  auto bad = convertResult(json::parse(R"({"ips":[{"address":"eth0"}]})"), "0.3.1");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().find("ips[0].address") != std::string::npos);
  CHECK_FALSE(convertResult(json::parse(R"({"ips":{}})"), "1.0.0"));
  CHECK_FALSE(convertResult(json::parse(R"({"ips":[3]})"), "1.0.0"));
  // A 1.x result with a bad address needs no family: only the version field is dropped.
  CHECK(convertResult(json::parse(R"({"ips":[{"address":"x"}]})"), "1.0.0"));

  FakeAgent agent;
  json conf = {{"cniVersion", "0.4.0"},
               {"name", "n"},
               {"type", "ambient-cni"},
               {"prevResult", {{"ips", {{{"address", "nonsense"}}}}}}};
  auto o = runPlugin(addOf(conf.dump(), false), agent);
  CHECK(o.exitCode == 1);
  auto err = json::parse(o.stdoutText);
  CHECK(err["code"] == 6);
  CHECK(err["details"].get<std::string>().find("ips[0].address") != std::string::npos);
}
