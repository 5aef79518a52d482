// Golden and property tests of the installer's planning: primary choice, insertion, .conf
// wrapping, idempotence, uninstall round trips; and its command line. Pure (reads golden files).
#include "cni-plugin/core/conflist_edit.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "cni-plugin/core/agent_down_fallback.h"
#include "cni-plugin/core/install_flags.h"
#include "tests/support/conf_dir.h"
#include "tests/support/refusals.h"

using namespace ambient;
using ambient::testing::refusalOf;
using Catch::Matchers::Contains;
using namespace ambient::cni;
using json = nlohmann::ordered_json;

namespace {

using Dir = ambient::testing::ConfDir;
using ambient::testing::applyToDir;
using ambient::testing::configFilesOf;

const std::string kConfDir = "/etc/cni/net.d";

std::string golden(const std::string& name) {
  std::ifstream f(std::string(AMBIENT_CNI_GOLDEN_DIR) + "/install/" + name);
  REQUIRE(f.good());
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

std::optional<InstallState> stateOf(const Dir& d) {
  auto it = d.find(kInstallStateFile);
  if (it == d.end()) return std::nullopt;
  auto s = parseInstallState(it->second);
  REQUIRE(s);
  return *s;
}

const AmbientEntry kFull{"/var/run/ambient/agent.sock", "/var/log/ambient-cni.log",
                         "/etc/cni/net.d/ambient-kubeconfig"};
const AmbientEntry kPlain{"/var/run/ambient/agent.sock", "", ""};

EditPlan install(Dir& d, const AmbientEntry& e = kFull, const std::string& bin = "") {
  auto p = computeInstall(configFilesOf(d), stateOf(d), e, bin, kConfDir);
  INFO((p ? "" : p.error().message()));
  REQUIRE(p);
  applyToDir(d, *p);
  return *p;
}

// The install plan for `d`, refused or not (the refusal tests read its error).
Result<EditPlan> plan(const Dir& d) {
  return computeInstall(configFilesOf(d), stateOf(d), kFull, "", kConfDir);
}

EditPlan uninstall(Dir& d) {
  auto p = computeUninstall(configFilesOf(d), stateOf(d));
  REQUIRE(p);
  applyToDir(d, *p);
  return *p;
}

}  // namespace

TEST_CASE("install puts ambient-cni last in a conflist and keeps the rest", "[cni][install]") {
  const Dir orig{{"10-calico.conflist", golden("calico.in.conflist")}};
  Dir d = orig;
  auto p = install(d);
  CHECK(p.primary == "10-calico.conflist");
  CHECK(d["10-calico.conflist"] == golden("calico.expected.conflist"));
  CHECK(d.count(kInstallStateFile));
  SECTION("a second install changes nothing") {
    CHECK(install(d).changes.empty());
    CHECK(json::parse(d["10-calico.conflist"])["plugins"].size() == 4);
  }
  SECTION("uninstall gives the original bytes back and removes the state") {
    uninstall(d);
    CHECK(d == orig);
  }
}

TEST_CASE("install wraps a single .conf into a .conflist and uninstall unwraps it",
          "[cni][install]") {
  const Dir orig{{"10-flannel.conf", golden("flannel.in.conf")},
                 {"99-loopback.conf", R"({"cniVersion":"1.0.0","name":"lo","type":"loopback"})"}};
  Dir d = orig;
  install(d, {"/run/ambient.sock", "", ""});
  CHECK_FALSE(d.count("10-flannel.conf"));
  CHECK(d["10-flannel.conflist"] == golden("flannel.expected.conflist"));
  CHECK(d["99-loopback.conf"] == orig.at("99-loopback.conf"));
  CHECK(install(d, {"/run/ambient.sock", "", ""}).changes.empty());
  uninstall(d);
  CHECK(d == orig);
}

TEST_CASE("an existing ambient-cni entry is updated and moved last, never duplicated",
          "[cni][install]") {
  Dir d{{"10-ptp.conflist", golden("middle.in.conflist")}};
  auto p = install(d, kPlain);
  CHECK(d["10-ptp.conflist"] == golden("middle.expected.conflist"));
  CHECK(p.warnings.size() == 1);  // an entry this installer did not record
  CHECK(install(d, kPlain).changes.empty());
  uninstall(d);  // unrecorded: only the entry goes
  auto left = json::parse(d["10-ptp.conflist"]);
  CHECK(left["plugins"].size() == 2);
  CHECK(left["plugins"][1]["type"] == "portmap");
  CHECK_FALSE(d.count(kInstallStateFile));
}

TEST_CASE("invalid files are skipped and the first valid one in lexical order is primary",
          "[cni][install]") {
  const Dir orig{{"00-broken.conflist", "{\"name\": \"x\", \"plugins\": ["},
                 {"01-empty.conflist", R"({"cniVersion":"1.0.0","name":"e","plugins":[]})"},
                 {"02-notype.conf", R"({"cniVersion":"1.0.0","name":"n"})"},
                 {"03-ours.conf", R"({"cniVersion":"1.0.0","name":"n","type":"ambient-cni"})"},
                 {"10-b.conflist", golden("calico.in.conflist")},
                 {"20-a.conf", golden("flannel.in.conf")},
                 {"README.md", "not a config"}};
  Dir d = orig;
  auto p = install(d);
  CHECK(p.primary == "10-b.conflist");
  CHECK(p.warnings.size() == 4);
  for (const char* skipped : {"00-broken.conflist", "01-empty.conflist", "02-notype.conf",
                              "03-ours.conf", "20-a.conf", "README.md"})
    CHECK(d[skipped] == orig.at(skipped));
  uninstall(d);
  CHECK(d == orig);
}

TEST_CASE("install refusals: no primary, unsupported version, wrap target exists",
          "[cni][install]") {
  auto none = plan({{"a.conflist", "garbage"}, {"b.json", golden("flannel.in.conf")}});
  REQUIRE_FALSE(none);
  CHECK(none.error().isNotFound());
  auto old = plan({{"a.conf", R"({"cniVersion":"0.2.0","name":"x","type":"bridge"})"}});
  REQUIRE_FALSE(old);
  CHECK(old.error().code == ErrorCode::kInvalidInput);
  CHECK(old.error().context.find("a.conf") != std::string::npos);
  CHECK_FALSE(plan({{"a.conf", R"({"name":"x","type":"bridge"})"}}));
  auto clash = plan({{"a.conf", golden("flannel.in.conf")}, {"a.conflist", "{}"}});
  REQUIRE_FALSE(clash);
  CHECK(clash.error().context.find("a.conflist exists") != std::string::npos);
}

// Multus's config files as its thin plugin generates them (the default network inline as the
// first delegate) and as written by hand or by its thick daemon (clusterNetwork).
std::string multusWithDelegate(const std::string& delegate) {
  return R"({"cniVersion": "0.3.1", "name": "multus-cni-network", "type": "multus",
  "kubeconfig": "/etc/cni/net.d/multus.d/multus.kubeconfig", "delegates": [)" +
         delegate + "]}\n";
}
std::string multusWithClusterNetwork(const std::string& network, const std::string& extra = "") {
  return R"({"cniVersion": "0.3.1", "name": "multus-cni-network", "type": "multus-shim",)" + extra +
         R"( "clusterNetwork": ")" + network + "\"}\n";
}

TEST_CASE("under Multus, ambient-cni goes into the first delegate and uninstall restores it",
          "[cni][install][multus]") {
  const Dir orig{{"00-multus.conf", multusWithDelegate(golden("calico.in.conflist"))},
                 {"10-calico.conflist", golden("calico.in.conflist")}};
  Dir d = orig;
  auto p = install(d);
  CHECK(p.primary == "00-multus.conf");
  auto multus = json::parse(d["00-multus.conf"]);
  auto plugins = multus["delegates"][0]["plugins"];
  REQUIRE(plugins.size() == json::parse(golden("calico.in.conflist"))["plugins"].size() + 1);
  CHECK(plugins.back()["type"] == "ambient-cni");
  CHECK(plugins.back()["agentSocket"] == "/var/run/ambient/agent.sock");
  CHECK(multus["type"] == "multus");  // Multus's own fields untouched
  CHECK(multus["kubeconfig"] == "/etc/cni/net.d/multus.d/multus.kubeconfig");
  CHECK(d["10-calico.conflist"] == orig.at("10-calico.conflist"));  // the runtime never reads it
  CHECK(install(d).changes.empty());
  uninstall(d);
  CHECK(d == orig);
}

TEST_CASE("under Multus, a single-plugin delegate becomes a list with ambient-cni last",
          "[cni][install][multus]") {
  const Dir orig{{"00-multus.conf", multusWithDelegate(golden("flannel.in.conf"))}};
  Dir d = orig;
  install(d, kPlain);
  auto delegate = json::parse(d["00-multus.conf"])["delegates"][0];
  REQUIRE(delegate["plugins"].size() == 2);
  CHECK(delegate["plugins"][0] == json::parse(golden("flannel.in.conf")));
  CHECK(delegate["plugins"][1]["type"] == "ambient-cni");
  CHECK(delegate["cniVersion"] == json::parse(golden("flannel.in.conf"))["cniVersion"]);
  CHECK(install(d, kPlain).changes.empty());
  uninstall(d);
  CHECK(d == orig);
}

TEST_CASE("under Multus, the clusterNetwork file of this directory gets ambient-cni",
          "[cni][install][multus]") {
  for (const std::string& network : {std::string("/etc/cni/net.d/10-calico.conflist"),
                                     std::string("/host/etc/cni/net.d/10-calico.conflist")}) {
    INFO(network);
    const Dir orig{{"00-multus.conf", multusWithClusterNetwork(network)},
                   {"10-calico.conflist", golden("calico.in.conflist")}};
    Dir d = orig;
    auto p = install(d);
    CHECK(p.primary == "10-calico.conflist");
    CHECK(d["00-multus.conf"] == orig.at("00-multus.conf"));
    CHECK(json::parse(d["10-calico.conflist"])["plugins"].back()["type"] == "ambient-cni");
    uninstall(d);
    CHECK(d == orig);
  }
  // By name, when Multus's confDir is this directory: a .conf is wrapped (Multus finds the
  // .conflist by the same name).
  const Dir orig{
      {"00-multus.conf", multusWithClusterNetwork("cbr0", R"( "confDir": "/etc/cni/net.d",)")},
      {"10-flannel.conf", golden("flannel.in.conf")}};
  Dir d = orig;
  CHECK(install(d).primary == "10-flannel.conf");
  CHECK(d.count("10-flannel.conflist") == 1);
  uninstall(d);
  CHECK(d == orig);
}

TEST_CASE("under Multus, a default network we cannot edit is refused saying where it is",
          "[cni][install][multus]") {
  auto nad = plan({{"00-multus.conf", multusWithClusterNetwork("k8s-pod-network")},
                   {"10-calico.conflist", golden("calico.in.conflist")}});
  REQUIRE_FALSE(nad);
  CHECK(nad.error().code == ErrorCode::kInvalidInput);  // ambient-cni-install exits 5
  CHECK_THAT(nad.error().message(),
             Contains("looked up in Multus's confDir /etc/cni/multus/net.d or as a "
                      "NetworkAttachmentDefinition"));
  CHECK_THAT(refusalOf(plan({{"00-multus.conf", multusWithClusterNetwork("/opt/other/10.conflist")},
                             {"10-calico.conflist", golden("calico.in.conflist")}})),
             Contains("is not a config file in /etc/cni/net.d"));
  CHECK_THAT(refusalOf(plan(
                 {{"00-multus.conf", multusWithClusterNetwork("/etc/cni/net.d/10-flannel.conf")},
                  {"10-flannel.conf", golden("flannel.in.conf")}})),
             Contains("names 10-flannel.conf by path"));
  // Found by fuzz-install_plan: the named file exists but is no valid config.
  CHECK_THAT(refusalOf(plan(
                 {{"00-multus.conf", multusWithClusterNetwork("/etc/cni/net.d/10-calico.conflist")},
                  {"10-calico.conflist", "{\"name\": \"x\", \"plugins\": ["}})),
             Contains("is 10-calico.conflist, which is not valid JSON"));
  // Found by fuzz-install_plan's long run: a clusterNetwork path to a list whose first plugin
  // is Multus got our entry in its own list, which uninstall then took for Multus's and left.
  CHECK_THAT(refusalOf(plan(
                 {{"00-multus.conf", multusWithClusterNetwork("/etc/cni/net.d/10-a.conflist")},
                  {"10-a.conflist", R"({"cniVersion": "0.3.1", "name": "k8s-pod-network",)"
                                    R"( "plugins": [{"type": "multus"}, {"type": "portmap"}]})"}})),
             Contains("is 10-a.conflist, which is a Multus config itself"));
  // Found by fuzz-install_plan: a nameless delegate under a nameless Multus became a list
  // without a name, which the next pass could not read back.
  CHECK_THAT(refusalOf(plan(
                 {{"00-multus.conf", R"({"cniVersion": "0.3.1", "type": "multus", "delegates": [)"
                                     R"({"cniVersion": "1.0.0", "type": "flannel"}]})"}})),
             Contains("its first delegate as a plugin list has no \"name\""));
  CHECK_THAT(refusalOf(plan({{"00-multus.conf",
                              R"({"cniVersion": "0.3.1", "name": "m", "type": "multus-shim"})"},
                             {"10-calico.conflist", golden("calico.in.conflist")}})),
             Contains("has neither clusterNetwork nor a first delegate"));
}

TEST_CASE("a config with a NUL byte is skipped as invalid, as runtimes refuse it",
          "[cni][install]") {
  // Found by fuzz-install_plan: the JSON parser stopped at the NUL and took the file, whose bytes
  // (not UTF-8 after it) then could not be written into the state file: the installer aborted.
  const Dir orig{{"00-a.conf", std::string(golden("flannel.in.conf")) + '\0' + "\xe5 junk"},
                 {"10-calico.conflist", golden("calico.in.conflist")}};
  Dir d = orig;
  auto p = install(d);
  CHECK(p.primary == "10-calico.conflist");
  REQUIRE(p.warnings.size() == 1);
  CHECK_THAT(p.warnings[0], Contains("skipping 00-a.conf: not a JSON object"));
  uninstall(d);
  CHECK(d == orig);
}

TEST_CASE("when the primary CNI rewrites its file, install re-inserts and re-records",
          "[cni][install]") {
  Dir d{{"10-calico.conflist", golden("calico.in.conflist")}};
  install(d);
  // The primary CNI writes a new version of its config, without our entry.
  json rewritten = json::parse(golden("calico.in.conflist"));
  rewritten["plugins"][0]["mtu"] = 1380;
  const std::string rewrittenBytes = rewritten.dump(4) + "\n";
  d["10-calico.conflist"] = rewrittenBytes;
  install(d);
  auto j = json::parse(d["10-calico.conflist"]);
  CHECK(j["plugins"].size() == 4);
  CHECK(j["plugins"][3]["type"] == "ambient-cni");
  CHECK(j["plugins"][0]["mtu"] == 1380);
  uninstall(d);
  CHECK(d["10-calico.conflist"] == rewrittenBytes);
  CHECK(d.size() == 1);
}

TEST_CASE("a .conf the primary CNI rewrites next to our wrap is wrapped again", "[cni][install]") {
  Dir d{{"10-flannel.conf", golden("flannel.in.conf")}};
  install(d);
  json conf = json::parse(golden("flannel.in.conf"));
  conf["delegate"]["hairpinMode"] = false;
  const std::string newConf = conf.dump() + "\n";
  d["10-flannel.conf"] = newConf;  // flannel writes its .conf again
  install(d);
  CHECK_FALSE(d.count("10-flannel.conf"));
  auto j = json::parse(d["10-flannel.conflist"]);
  CHECK(j["plugins"][0]["delegate"]["hairpinMode"] == false);
  CHECK(j["plugins"].size() == 2);
  uninstall(d);
  CHECK(d == Dir{{"10-flannel.conf", newConf}});
}

TEST_CASE("uninstall after other edits to the file removes only our entry", "[cni][install]") {
  Dir d{{"10-calico.conflist", golden("calico.in.conflist")}};
  install(d);
  auto j = json::parse(d["10-calico.conflist"]);
  j["plugins"][1]["snat"] = false;  // someone edited portmap, our entry still there
  d["10-calico.conflist"] = j.dump();
  auto p = uninstall(d);
  CHECK(p.warnings.size() == 1);
  auto left = json::parse(d["10-calico.conflist"]);
  CHECK(left["plugins"].size() == 3);
  CHECK(left["plugins"][1]["snat"] == false);
  CHECK(d.size() == 1);
}

TEST_CASE("install state records the binary and round-trips", "[cni][install]") {
  Dir d{{"10-calico.conflist", golden("calico.in.conflist")}};
  install(d, kFull, "/opt/cni/bin/ambient-cni");
  auto s = stateOf(d);
  REQUIRE(s);
  CHECK(s->binaryPath == "/opt/cni/bin/ambient-cni");
  CHECK(s->files.at("10-calico.conflist").original == golden("calico.in.conflist"));
  auto again = parseInstallState(renderInstallState(*s));
  REQUIRE(again);
  CHECK(*again == *s);
  CHECK(uninstall(d).removeBinary == "/opt/cni/bin/ambient-cni");
  CHECK_FALSE(parseInstallState("{}"));
  CHECK_FALSE(parseInstallState(R"({"version":1,"files":{"a":{"original":1}}})"));
}

TEST_CASE("installer flags", "[cni][install]") {
  auto o = parseInstallFlags({"--cni-conf-dir", "/n", "--cni-bin-dir=/b", "--watch",
                              "--plugin-binary", "/p", "--log-file=/l", "--kubeconfig", "/k"});
  REQUIRE(o);
  CHECK(o->confDir == "/n");
  CHECK(o->binDir == "/b");
  CHECK(o->pluginBinary == "/p");
  CHECK(o->logFile == "/l");
  CHECK(o->kubeconfig == "/k");
  CHECK(o->watch);
  CHECK(o->agentSocket == "/var/run/ambient/agent.sock");
  auto d = parseInstallFlags({});
  REQUIRE(d);
  CHECK(d->confDir == "/etc/cni/net.d");
  CHECK(d->binDir == "/opt/cni/bin");
  CHECK(parseInstallFlags({"--help"})->help);
  CHECK_FALSE(parseInstallFlags({"--bogus"}));
  CHECK_FALSE(parseInstallFlags({"--cni-conf-dir"}));
  CHECK_FALSE(parseInstallFlags({"--watch", "--uninstall"}));
  CHECK_FALSE(parseInstallFlags({"--watch=1"}));
  CHECK_FALSE(parseInstallFlags({"--agent-socket="}));
  CHECK(installUsage().find("Exit codes") != std::string::npos);
}

TEST_CASE("installer flags: each refusal names the flag, even next to --help", "[cni][install]") {
  CHECK_THAT(refusalOf(parseInstallFlags({"--bogus"})), Contains("--bogus"));
  CHECK_THAT(refusalOf(parseInstallFlags({"--cni-bin-dir"})), Contains("--cni-bin-dir"));
  CHECK_THAT(refusalOf(parseInstallFlags({"--cni-conf-dir="})), Contains("--cni-conf-dir"));
  CHECK_THAT(refusalOf(parseInstallFlags({"--agent-socket", ""})), Contains("--agent-socket"));
  CHECK_THAT(refusalOf(parseInstallFlags({"--watch", "--uninstall"})), Contains("--watch"));
  CHECK_THAT(refusalOf(parseInstallFlags({"--uninstall=yes"})), Contains("uninstall"));
  CHECK_THAT(refusalOf(parseInstallFlags({"--ztunnel-label=app", "--help"})),
             Contains("--ztunnel-label"));
  CHECK_THAT(refusalOf(parseInstallFlags({"--log-file", "/l", "extra"})), Contains("extra"));
  auto h = parseInstallFlags({"--cni-conf-dir=/n", "--help"});
  REQUIRE(h);
  CHECK(h->help);
  CHECK(h->confDir == "/n");
  CHECK(parseInstallFlags({"-h"})->help);
  CHECK(parseInstallFlags({"--log-file="})->logFile.empty());
  std::string help = installUsage();
  for (const char* shown :
       {"--cni-conf-dir DIR", "(default /etc/cni/net.d)", "(default /opt/cni/bin)",
        "(default /var/run/ambient/agent.sock)", "--ztunnel-label KEY=VALUE", "--watch",
        "--uninstall", ".ambient-cni-install.state", "5  the primary"}) {
    INFO(shown);
    CHECK(help.find(shown) != std::string::npos);
  }
}

TEST_CASE("installer flags carry the agent's membership settings into the plugin entry",
          "[cni][install]") {
  auto o = parseInstallFlags({"--exclude-namespaces", "kube-system,,monitoring",
                              "--ztunnel-namespace=mesh", "--ztunnel-label", "app=zt",
                              "--ztunnel-service-account", "zt-sa", "--kubeconfig", "/k"});
  REQUIRE(o);
  Dir d{{"10-net.conflist", R"({"cniVersion":"1.0.0","name":"k8s","plugins":[{"type":"ptp"}]})"}};
  install(d, ambientEntryOf(*o));
  auto list = json::parse(d["10-net.conflist"]);
  const auto& entry = list["plugins"].back();
  CHECK(entry["excludeNamespaces"] == json::array({"kube-system", "monitoring"}));
  // What the plugin itself reads back while the agent is down.
  FallbackConfig fb;
  REQUIRE(readFallbackConfig(entry, fb).empty());
  CHECK(fb.enabled);
  CHECK(fb.policy.excludedNamespaces == std::set<std::string>{"kube-system", "monitoring"});
  CHECK(fb.policy.ztunnelNamespace == "mesh");
  CHECK(fb.policy.ztunnelLabelKey == "app");
  CHECK(fb.policy.ztunnelLabelValue == "zt");
  CHECK(fb.policy.ztunnelServiceAccount == "zt-sa");

  // Not given: left out, so the plugin keeps its defaults (the agent's).
  Dir plain{{"10-net.conflist", d["10-net.conflist"]}};
  install(plain, ambientEntryOf(*parseInstallFlags({})));
  auto again = json::parse(plain["10-net.conflist"])["plugins"].back();
  for (const char* key :
       {"excludeNamespaces", "ztunnelNamespace", "ztunnelLabel", "ztunnelServiceAccount"})
    CHECK_FALSE(again.contains(key));
  CHECK_FALSE(parseInstallFlags({"--ztunnel-label", "app"}));
}
