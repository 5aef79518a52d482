// The real ambient-cni binary in a temporary directory: the logFile line per invocation and
// a log that cannot be written not failing the call. No agent, no root. Touches files.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

struct Run {
  int rc;
  std::string out;
};

Run runPlugin(const std::string& env, const std::string& stdinFile) {
  std::string cmd = "env -i " + env + " " AMBIENT_CNI_BINARY " < " + stdinFile;
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int st = ::pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

std::vector<json> readLines(const fs::path& p) {
  std::ifstream f(p);
  std::vector<json> lines;
  for (std::string l; std::getline(f, l);) lines.push_back(json::parse(l));
  return lines;
}

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/ambient-cni-test-XXXXXX";
    REQUIRE(::mkdtemp(tmpl));
    path = tmpl;
  }
  ~TempDir() { fs::remove_all(path); }
};

}  // namespace

TEST_CASE("ambient-cni appends one log line per invocation to logFile", "[cni][log]") {
  TempDir d;
  json conf = {{"cniVersion", "1.0.0"},
               {"name", "n"},
               {"type", "ambient-cni"},
               {"agentSocket", (d.path / "absent.sock").string()},
               {"logFile", (d.path / "cni.log").string()},
               {"prevResult", {{"ips", {{{"address", "10.1.0.5/24"}}}}}}};
  std::ofstream(d.path / "stdin") << conf.dump();
  std::string base = "CNI_CONTAINERID=c1 CNI_NETNS=/var/run/netns/x CNI_IFNAME=eth0 ";
  auto add = runPlugin(base + "CNI_COMMAND=ADD CNI_ARGS='K8S_POD_NAMESPACE=foo;K8S_POD_NAME=app'",
                       (d.path / "stdin").string());
  CHECK(add.rc == 1);  // the agent is down: fail closed
  auto plain = runPlugin(base + "CNI_COMMAND=ADD", (d.path / "stdin").string());
  CHECK(plain.rc == 0);
  auto del = runPlugin(base + "CNI_COMMAND=DEL CNI_ARGS='K8S_POD_NAMESPACE=foo;K8S_POD_NAME=app'",
                       (d.path / "stdin").string());
  CHECK(del.rc == 0);
  auto lines = readLines(d.path / "cni.log");
  REQUIRE(lines.size() == 3);
  CHECK(lines[0]["command"] == "ADD");
  CHECK(lines[0]["pod"] == "foo/app");
  CHECK(lines[0]["verdict"] == "error");
  CHECK(lines[0]["error"].get<std::string>().find("absent.sock") != std::string::npos);
  CHECK(lines[0]["durationUs"].get<int64_t>() >= 0);
  CHECK(lines[1]["verdict"] == "passthrough");
  CHECK(lines[2]["command"] == "DEL");
  CHECK(lines[2]["verdict"] == "agent-unreachable");
  CHECK(lines[2]["containerId"] == "c1");
}

TEST_CASE("ambient-cni succeeds when its logFile cannot be written", "[cni][log]") {
  TempDir d;
  json conf = {{"cniVersion", "1.0.0"},
               {"name", "n"},
               {"type", "ambient-cni"},
               {"logFile", (d.path / "missing-dir" / "cni.log").string()},
               {"prevResult", {{"ips", {{{"address", "10.1.0.5/24"}}}}}}};
  std::ofstream(d.path / "stdin") << conf.dump();
  auto r = runPlugin("CNI_COMMAND=ADD CNI_CONTAINERID=c1 CNI_NETNS=/x CNI_IFNAME=eth0",
                     (d.path / "stdin").string());
  CHECK(r.rc == 0);
  CHECK(json::parse(r.out)["cniVersion"] == "1.0.0");
  CHECK_FALSE(fs::exists(d.path / "missing-dir"));
}
