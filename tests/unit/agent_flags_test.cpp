// ambient-agent's command line: defaults, both spellings, the API's requirements, mistakes and
// --help. Pure.
#include "node-agent/core/agent_flags.h"

#include <catch2/catch.hpp>

#include "node-agent/core/agent_runtime_config.h"
#include "tests/support/refusals.h"

using namespace ambient;
using ambient::testing::refusalOf;
using Catch::Matchers::Contains;

TEST_CASE("agent flags: defaults and values and mistakes", "[flags]") {
  auto d = parseAgentFlags({});
  REQUIRE(d);
  CHECK(d->command == "run");
  CHECK(d->tunnelMode == TunnelMode::kAuto);
  CHECK(d->ipv6Redirect);
  CHECK_FALSE(parseAgentFlags({"--ipv6", "off"})->ipv6Redirect);
  CHECK(parseAgentFlags({"--ipv6=auto"})->ipv6Redirect);
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
  // Issue 22: Istio's root namespace goes into ztunnel's view; the CRD look-up period.
  CHECK(d->rootNamespace == "istio-system");
  CHECK(d->policyDiscoveryIntervalSeconds == 60);
  CHECK(parseAgentFlags({"--root-namespace", "mesh-root"})->rootNamespace == "mesh-root");
  CHECK(parseAgentFlags({"--policy-discovery-interval=2"})->policyDiscoveryIntervalSeconds == 2);
}

TEST_CASE("agent flags: each refusal names the flag, even next to --help", "[flags]") {
  CHECK_THAT(refusalOf(parseAgentFlags({"--tunnel-port", "70000"})), Contains("--tunnel-port"));
  CHECK_THAT(refusalOf(parseAgentFlags({"--tunnel-port=0"})), Contains("--tunnel-port"));
  CHECK_THAT(refusalOf(parseAgentFlags({"--tunnel-port", "010"})),
             Contains("--tunnel-port"));  // neither octal 8 nor quietly 10
  CHECK_THAT(refusalOf(parseAgentFlags({"--tunnel-mtu=01400"})), Contains("--tunnel-mtu"));
  CHECK_THAT(refusalOf(parseAgentFlags({"--tunnel-mtu=0b10110101100"})),
             Contains("--tunnel-mtu"));  // binary 1452
  CHECK_THAT(refusalOf(parseAgentFlags({"--tunnel-mode=gre"})), Contains("--tunnel-mode"));
  CHECK_THAT(refusalOf(parseAgentFlags({"--ipv6", "on"})), Contains("--ipv6"));
  CHECK_THAT(refusalOf(parseAgentFlags({"--reconcile-interval", "1s"})),
             Contains("--reconcile-interval"));
  CHECK_THAT(refusalOf(parseAgentFlags({"--log-level", "loud"})), Contains("--log-level"));
  CHECK_THAT(refusalOf(parseAgentFlags({"--root-namespace="})), Contains("--root-namespace"));
  CHECK_THAT(refusalOf(parseAgentFlags({"--policy-discovery-interval", "0"})),
             Contains("--policy-discovery-interval"));
  CHECK_THAT(refusalOf(parseAgentFlags({"--ztunnel-label", "=v"})), Contains("--ztunnel-label"));
  CHECK_THAT(refusalOf(parseAgentFlags({"--nope"})), Contains("--nope"));
  CHECK_THAT(refusalOf(parseAgentFlags({"--state-dir"})), Contains("--state-dir"));
  CHECK_THAT(refusalOf(parseAgentFlags({"--tunnel-mtu", "x", "--help"})),
             Contains("--tunnel-mtu"));  // help does not hide a bad value
  CHECK_THAT(refusalOf(parseAgentFlags({"uninstall", "--bogus", "--help"})), Contains("--bogus"));
  CHECK(parseAgentFlags({"--help"}, {})->command == "help");
  CHECK(parseAgentFlags({"help"})->command == "help");
  CHECK(parseAgentFlags({"uninstall", "--help"})->command == "help");
}

TEST_CASE("agent flags: after the subcommand, --flag=value, and empty values", "[flags]") {
  auto f =
      parseAgentFlags({"--state-dir=/s", "uninstall", "--socket", "/a.sock", "--log-level=debug",
                       "--exclude-namespaces=", "--ztunnel-label=k=v=w", "--tunnel-mtu=1400"});
  REQUIRE(f);
  CHECK(f->command == "uninstall");
  CHECK(f->stateDir == "/s");
  CHECK(f->registryPath() == "/s/registry.json");
  CHECK(f->socketPath == "/a.sock");
  CHECK(f->logLevel == "debug");
  CHECK(f->policy.excludedNamespaces.empty());
  CHECK(f->policy.ztunnelLabelKey == "k");
  CHECK(f->policy.ztunnelLabelValue == "v=w");
  CHECK(f->tunnelMtu == 1400);
  CHECK(parseAgentFlags({"run", "--tunnel-mode", "vxlan"})->tunnelMode == TunnelMode::kVxlan);
  CHECK_FALSE(parseAgentFlags({"run", "uninstall"}));
}

TEST_CASE("agent --help lists every flag with its default and the exit codes", "[flags]") {
  std::string help = agentUsage();
  for (const char* shown :
       {"--socket PATH", "(default /var/run/ambient/agent.sock)", "--tunnel-port N",
        "(default 6081)", "--ipv6 auto|off", "--ztunnel-label KEY=VALUE", "(default app=ztunnel)",
        "(default kube-system)", "--http-addr [HOST]:PORT", "(default :15031)",
        "(default $NODE_NAME)", "--root-namespace NS", "(default istio-system)",
        "--policy-discovery-interval SECS", "(default 60)", "uninstall", "SIGHUP",
        "Exit codes: 0"}) {
    INFO(shown);
    CHECK(help.find(shown) != std::string::npos);
  }
}

// Issue 20: kubelet probes a hostNetwork pod at the node's address, IPv6 on an IPv6-only node:
// by default the agent listens on every address of both families.
TEST_CASE("agent --http-addr: every address by default, IPv4 and bracketed IPv6 hosts",
          "[flags][ipv6]") {
  CHECK(parseAgentFlags({})->httpAddr == HttpListenAddr{"", 15031});
  CHECK(parseAgentFlags({"--http-addr", "127.0.0.1:9"})->httpAddr ==
        HttpListenAddr{"127.0.0.1", 9});
  CHECK(parseAgentFlags({"--http-addr=[::1]:15031"})->httpAddr == HttpListenAddr{"::1", 15031});
  CHECK(parseAgentFlags({"--http-addr=[FD00::0001]:80"})->httpAddr ==
        HttpListenAddr{"fd00::1", 80});
  CHECK(parseAgentFlags({"--http-addr=:8080"})->httpAddr == HttpListenAddr{"", 8080});
  CHECK(HttpListenAddr{"", 15031}.str() == ":15031");
  CHECK(HttpListenAddr{"::1", 15031}.str() == "[::1]:15031");
  CHECK(HttpListenAddr{"10.0.0.1", 1}.str() == "10.0.0.1:1");
  for (const char* bad : {"15031", "::1:15031", "[10.0.0.1]:80", "[]:80", "host:80", ":0", ":65536",
                          ":80x", "127.0.0.1:", "[::1]"}) {
    INFO(bad);
    CHECK_THAT(refusalOf(parseAgentFlags({"--http-addr", bad})), Contains("--http-addr"));
  }
}

TEST_CASE("the agent's runtime settings carry why IPv6 is not redirected", "[flags][ipv6]") {
  AgentRuntimeConfig c{"/proc/self/ns/net", TunnelKind::kVxlan, 7081, 1400, std::nullopt};
  auto text = encodeRuntimeConfig(c);
  CHECK(text.find("ipv6Unavailable") == std::string::npos);  // as older agents wrote it
  CHECK(decodeRuntimeConfig(text) == c);
  c.ipv6Unavailable = "IPv6 redirection is off (--ipv6=off)";
  CHECK(decodeRuntimeConfig(encodeRuntimeConfig(c)) == c);
  CHECK_FALSE(decodeRuntimeConfig(R"({"nodeNetns": "/x", "tunnelKind": "geneve", "tunnelPort":
    6081, "tunnelMtu": 0, "ipv6Unavailable": 7})"));
}

TEST_CASE("the agent's runtime settings name the view file it writes", "[flags]") {
  AgentRuntimeConfig c{"/proc/self/ns/net", TunnelKind::kGeneve, 6081, 0, std::nullopt};
  CHECK(encodeRuntimeConfig(c).find("ztunnelView") == std::string::npos);  // none without the API
  c.ztunnelView = "/var/run/ztunnel/config.json";
  auto back = decodeRuntimeConfig(encodeRuntimeConfig(c));
  REQUIRE(back);
  CHECK(back->ztunnelView == "/var/run/ztunnel/config.json");
  CHECK_FALSE(decodeRuntimeConfig(R"({"nodeNetns": "/x", "tunnelKind": "geneve", "tunnelPort":
    6081, "tunnelMtu": 0, "ztunnelView": ["/v"]})"));
}
