// The real ambient-cni binary with no agent listening and the test Kubernetes API server
// (tests/k8s/test_apiserver.h: a child killed by PID) behind the plugin's kubeconfig: a non-ambient
// pod starts, an ambient pod fails closed (11), and with the API gone too every pod fails
// closed. Loopback only, no root. Touches processes, files and the network.
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "test_apiserver.h"
#include "tests/support/temp_dir.h"

using json = nlohmann::json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using ambient::k8s::testing::ServerOptions;
using ambient::k8s::testing::TestApiServer;
using ambient::testing::TempDir;

namespace {

struct Run {
  int rc;
  json out;
  double seconds;
};

Run runAdd(const fs::path& stdinFile, const std::string& ns, const std::string& name,
           const std::string& binary = AMBIENT_CNI_BINARY) {
  std::string cmd =
      "env -i CNI_COMMAND=ADD CNI_CONTAINERID=c-" + name +
      " CNI_NETNS=/var/run/netns/x CNI_IFNAME=eth0 CNI_ARGS='K8S_POD_NAMESPACE=" + ns +
      ";K8S_POD_NAME=" + name + "' " + binary + " < " + stdinFile.string();
  auto t0 = Clock::now();
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int st = ::pclose(p);
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  INFO(out);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, json::parse(out), secs};
}

json pod(const std::string& ns, const std::string& name) {
  return {{"metadata", {{"namespace", ns}, {"name", name}, {"uid", ns + "-" + name}}},
          {"spec", {{"nodeName", "node1"}, {"serviceAccountName", "default"}}},
          {"status", {{"phase", "Pending"}}}};
}

std::string lastLogLine(const fs::path& p) {
  std::ifstream f(p);
  std::string line, last;
  while (std::getline(f, line)) last = line;
  return last;
}

}  // namespace

TEST_CASE("ambient-cni with the agent down decides from the Kubernetes API", "[cni][fallback]") {
  TempDir d("ambient-cni-api");
  std::ofstream(d.path() / "token") << "s3cret";
  auto server = std::make_unique<TestApiServer>(ServerOptions{(d.path() / "token").string()});
  TestApiServer& api = *server;
  api.apply("namespaces", {{"metadata", {{"name", "plain"}}}});
  api.apply(
      "namespaces",
      {{"metadata", {{"name", "foo"}, {"labels", {{"istio.io/dataplane-mode", "ambient"}}}}}});
  api.apply("pods", pod("plain", "pod"));
  api.apply("pods", pod("foo", "pod"));
  std::ofstream(d.path() / "kubeconfig")
      << "apiVersion: v1\nkind: Config\nclusters:\n- name: t\n  cluster:\n    server: "
         "http://127.0.0.1:"
      << api.port()
      << "\nusers:\n- name: u\n  user:\n    token: s3cret\ncontexts:\n- name: c\n  context:\n"
         "    cluster: t\n    user: u\ncurrent-context: c\n";
  json prev = {{"cniVersion", "1.0.0"},
               {"interfaces", {{{"name", "eth0"}, {"sandbox", "/var/run/netns/x"}}}},
               {"ips", {{{"address", "10.244.1.5/24"}, {"interface", 0}}}}};
  json conf = {{"cniVersion", "1.0.0"},
               {"name", "k8s"},
               {"type", "ambient-cni"},
               {"agentSocket", (d.path() / "agent.sock").string()},  // nothing listens
               {"logFile", (d.path() / "cni.log").string()},
               {"kubeconfig", (d.path() / "kubeconfig").string()},
               {"apiTimeoutMs", 1000},
               {"prevResult", prev}};
  std::ofstream(d.path() / "stdin") << conf.dump();

  auto plain = runAdd(d.path() / "stdin", "plain", "pod");
  CHECK(plain.rc == 0);
  CHECK(plain.out == prev);
  auto log = json::parse(lastLogLine(d.path() / "cni.log"));
  CHECK(log["level"] == "warn");
  CHECK(log["verdict"] == "agent-down-not-ambient");
  CHECK(log["warning"].get<std::string>().find((d.path() / "agent.sock").string()) !=
        std::string::npos);

  auto foo = runAdd(d.path() / "stdin", "foo", "pod");
  CHECK(foo.rc == 1);
  CHECK(foo.out["code"] == 11);
  CHECK(foo.out["msg"].get<std::string>().find("foo/pod") != std::string::npos);
  CHECK(foo.out["msg"].get<std::string>().find("agent.sock") != std::string::npos);

  // A hanging API is cut off by apiTimeoutMs: fail closed, in time.
  api.fault("hang", 10);
  auto hung = runAdd(d.path() / "stdin", "plain", "pod");
  api.release();
  CHECK(hung.rc == 1);
  CHECK(hung.out["code"] == 11);
  CHECK(hung.seconds < 1.9);

  // A wrong token: the API refuses, the plugin cannot decide.
  std::ofstream(d.path() / "token") << "rotated";
  auto refused = runAdd(d.path() / "stdin", "plain", "pod");
  CHECK(refused.out["code"] == 11);
  CHECK(refused.out["details"].get<std::string>().find("API:") != std::string::npos);
  std::ofstream(d.path() / "token") << "s3cret";
  CHECK(runAdd(d.path() / "stdin", "plain", "pod").rc == 0);

  server.reset();  // the API server is gone too
  auto down = runAdd(d.path() / "stdin", "plain", "pod");
  CHECK(down.rc == 1);
  CHECK(down.out["code"] == 11);
  const std::string details = down.out.value("details", "");
  CHECK(details.find("agent:") != std::string::npos);
  CHECK(details.find("API:") != std::string::npos);
  CHECK(details.find("127.0.0.1") != std::string::npos);

  fs::remove(d.path() / "kubeconfig");
  auto noKubeconfig = runAdd(d.path() / "stdin", "plain", "pod");
  CHECK(noKubeconfig.out["code"] == 11);
  CHECK(noKubeconfig.out.value("details", "").find("kubeconfig") != std::string::npos);
}

TEST_CASE("ambient-cni without its API helper fails closed and says why", "[cni][fallback]") {
  TempDir d("ambient-cni-api");
  fs::copy_file(AMBIENT_CNI_BINARY, d.path() / "ambient-cni");  // no helper beside it
  fs::permissions(d.path() / "ambient-cni", fs::perms::owner_all);
  std::ofstream(d.path() / "kubeconfig") << "apiVersion: v1\nkind: Config\n";
  json conf = {{"cniVersion", "1.0.0"},
               {"name", "k8s"},
               {"type", "ambient-cni"},
               {"agentSocket", (d.path() / "agent.sock").string()},
               {"kubeconfig", (d.path() / "kubeconfig").string()},
               {"prevResult", {{"cniVersion", "1.0.0"}}}};
  std::ofstream(d.path() / "stdin") << conf.dump();
  auto r = runAdd(d.path() / "stdin", "plain", "pod", (d.path() / "ambient-cni").string());
  CHECK(r.rc == 1);
  CHECK(r.out["code"] == 11);
  CHECK(r.out.value("details", "")
            .find("cannot run " + (d.path() / "ambient-cni-api-lookup").string()) !=
        std::string::npos);
}

TEST_CASE("ambient-cni-api-lookup usage and an unreadable kubeconfig", "[cni][fallback]") {
  auto usage = ::system(AMBIENT_CNI_LOOKUP_BINARY " >/dev/null 2>&1");
  CHECK(WEXITSTATUS(usage) == 2);
  FILE* p = ::popen(AMBIENT_CNI_LOOKUP_BINARY " /nonexistent/kubeconfig 500 ns pod", "r");
  REQUIRE(p);
  char buf[4096];
  std::string out(buf, std::fread(buf, 1, sizeof buf, p));
  CHECK(WEXITSTATUS(::pclose(p)) == 0);
  auto j = json::parse(out);
  CHECK(j["error"].get<std::string>().find("/nonexistent/kubeconfig") != std::string::npos);
}
