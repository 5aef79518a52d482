// Unit tests for cni_core: CNI_ARGS, prevResult IPs, versions, error JSON. Pure.
#define CATCH_CONFIG_MAIN
#include "cni-plugin/core/cni_request.h"

#include <catch2/catch.hpp>

#include "cni-plugin/core/prev_result.h"
using namespace ambient::cni;

TEST_CASE("CNI_ARGS keys in any order") {
  auto a = parseCniArgs("K8S_POD_NAME=p;IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;X=y");
  REQUIRE(a);
  CHECK(a->at("K8S_POD_NAME") == "p");
  CHECK(a->at("K8S_POD_NAMESPACE") == "ns");
}
TEST_CASE("pod IPs only from the sandbox interface named CNI_IFNAME") {
  auto prev = readPrevResult(nlohmann::ordered_json::parse(
      R"({"interfaces":[{"name":"veth1"},{"name":"eth0","sandbox":"/n"}],
    "ips":[{"address":"10.1.0.5/24","interface":1},{"address":"10.9.0.1/24","interface":0}]})"));
  REQUIRE(prev);
  CHECK(podIps(*prev, "eth0") == std::vector<ambient::IpAddress>{"10.1.0.5"});
}
TEST_CASE("versions and error JSON") {
  CHECK(isSupportedVersion("1.1.0"));
  CHECK_FALSE(isSupportedVersion("0.2.0"));
  CHECK(errorJson("1.0.0", {11, "m", "d"}) ==
        R"({"cniVersion":"1.0.0","code":11,"msg":"m","details":"d"})");
  CHECK(versionJson("1.0.0") ==
        R"({"cniVersion":"1.0.0","supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]})");
}
