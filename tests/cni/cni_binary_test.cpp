// The real ambient-cni binary in a temporary directory: the logFile line per invocation, a
// log that cannot be written not failing the call, the fuzz finding replayed (a CNI error, not
// an abort), and STATUS and GC against a scripted agent socket. No root. Touches files and
// Unix sockets.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "fuzz_input.h"
#include "tests/support/temp_dir.h"

using json = nlohmann::json;
namespace fs = std::filesystem;
using ambient::testing::TempDir;

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

// The binary run with exactly `env` and `stdinText`; the exit code, or the signal that ended it.
struct Exec {
  int rc = -1;
  int signal = 0;
  std::string out;
};

Exec execPlugin(const std::map<std::string, std::string>& env, const std::string& stdinText,
                const fs::path& dir) {
  fs::path in = dir / "exec-stdin";
  std::ofstream(in, std::ios::binary) << stdinText;
  std::vector<std::string> kv;
  for (const auto& [k, v] : env) kv.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : kv) envp.push_back(e.data());
  envp.push_back(nullptr);
  int out[2];
  REQUIRE(::pipe(out) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int fd = ::open(in.c_str(), O_RDONLY);
    ::dup2(fd, 0);
    ::dup2(out[1], 1);
    ::close(out[0]);
    char* argv[] = {const_cast<char*>(AMBIENT_CNI_BINARY), nullptr};
    ::execve(AMBIENT_CNI_BINARY, argv, envp.data());
    ::_exit(127);
  }
  ::close(out[1]);
  Exec r;
  char buf[4096];
  for (ssize_t n; (n = ::read(out[0], buf, sizeof buf)) > 0;) r.out.append(buf, size_t(n));
  ::close(out[0]);
  int st = 0;
  ::waitpid(pid, &st, 0);
  if (WIFEXITED(st)) r.rc = WEXITSTATUS(st);
  if (WIFSIGNALED(st)) r.signal = WTERMSIG(st);
  return r;
}

// A one-connection agent on a Unix socket: reads one request line, answers `reply`.
class ScriptedAgent {
 public:
  ScriptedAgent(const fs::path& path, std::string reply) : reply_(std::move(reply)) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd_, 1) == 0);
    thread_ = std::thread([this] {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      char buf[4096];
      for (ssize_t n;
           request_.find('\n') == std::string::npos && (n = ::read(c, buf, sizeof buf)) > 0;)
        request_.append(buf, size_t(n));
      std::string line = reply_ + "\n";
      (void)!::write(c, line.data(), line.size());
      ::close(c);
    });
  }
  // The request line received (waits for the connection to end).
  std::string request() {
    if (thread_.joinable()) thread_.join();
    return request_;
  }
  ~ScriptedAgent() {
    ::shutdown(fd_, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
  }

 private:
  int fd_ = -1;
  std::string reply_;
  std::string request_;
  std::thread thread_;
};

}  // namespace

TEST_CASE("ambient-cni appends one log line per invocation to logFile", "[cni][log]") {
  TempDir d("ambient-cni-test");
  json conf = {{"cniVersion", "1.0.0"},
               {"name", "n"},
               {"type", "ambient-cni"},
               {"agentSocket", (d.path() / "absent.sock").string()},
               {"logFile", (d.path() / "cni.log").string()},
               {"prevResult", {{"ips", {{{"address", "10.1.0.5/24"}}}}}}};
  std::ofstream(d.path() / "stdin") << conf.dump();
  std::string base = "CNI_CONTAINERID=c1 CNI_NETNS=/var/run/netns/x CNI_IFNAME=eth0 ";
  auto add = runPlugin(base + "CNI_COMMAND=ADD CNI_ARGS='K8S_POD_NAMESPACE=foo;K8S_POD_NAME=app'",
                       (d.path() / "stdin").string());
  CHECK(add.rc == 1);  // the agent is down: fail closed
  auto plain = runPlugin(base + "CNI_COMMAND=ADD", (d.path() / "stdin").string());
  CHECK(plain.rc == 0);
  auto del = runPlugin(base + "CNI_COMMAND=DEL CNI_ARGS='K8S_POD_NAMESPACE=foo;K8S_POD_NAME=app'",
                       (d.path() / "stdin").string());
  CHECK(del.rc == 0);
  auto lines = readLines(d.path() / "cni.log");
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
  TempDir d("ambient-cni-test");
  json conf = {{"cniVersion", "1.0.0"},
               {"name", "n"},
               {"type", "ambient-cni"},
               {"logFile", (d.path() / "missing-dir" / "cni.log").string()},
               {"prevResult", {{"ips", {{{"address", "10.1.0.5/24"}}}}}}};
  std::ofstream(d.path() / "stdin") << conf.dump();
  auto r = runPlugin("CNI_COMMAND=ADD CNI_CONTAINERID=c1 CNI_NETNS=/x CNI_IFNAME=eth0",
                     (d.path() / "stdin").string());
  CHECK(r.rc == 0);
  CHECK(json::parse(r.out)["cniVersion"] == "1.0.0");
  CHECK_FALSE(fs::exists(d.path() / "missing-dir"));
}

TEST_CASE("the binary answers fuzz finding be1d5945 (\"sandbox\": 0) with code 6, no abort",
          "[cni][regression]") {
  TempDir d("ambient-cni-test");
  auto in = ambient::cni::testing::readFuzzInput(std::string(AMBIENT_CNI_FUZZ_CORPUS) +
                                                 "/regress-sandbox-number");
  REQUIRE(in);
  // The finding as it is, except where it would write or connect outside the test directory.
  json conf = json::parse(in->stdinText);
  conf["logFile"] = (d.path() / "cni.log").string();
  conf["agentSocket"] = (d.path() / "absent.sock").string();
  CHECK(conf["prevResult"]["interfaces"][1]["sandbox"] == 0);
  auto r = execPlugin(in->env, conf.dump(), d.path());
  INFO(r.out);
  CHECK(r.signal == 0);
  CHECK(r.rc == 1);
  auto err = json::parse(r.out, nullptr, false);
  REQUIRE(err.is_object());
  CHECK(err["code"] == 6);
  CHECK(err["msg"].get<std::string>().find("interfaces[1].sandbox must be a string") !=
        std::string::npos);
  auto lines = readLines(d.path() / "cni.log");
  REQUIRE(lines.size() == 1);
  CHECK(lines[0]["cniCode"] == 6);
}

TEST_CASE("the binary's STATUS: 50 without an agent, the agent's answer otherwise",
          "[cni][status]") {
  TempDir d("ambient-cni-test");
  json conf = {{"cniVersion", "1.1.0"},
               {"name", "n"},
               {"type", "ambient-cni"},
               {"agentSocket", (d.path() / "agent.sock").string()}};
  std::map<std::string, std::string> env = {{"CNI_COMMAND", "STATUS"},
                                            {"CNI_PATH", "/opt/cni/bin"}};
  auto down = execPlugin(env, conf.dump(), d.path());
  CHECK(down.rc == 1);
  CHECK(json::parse(down.out)["code"] == 50);
  {
    ScriptedAgent agent(d.path() / "agent.sock", R"({"verdict":"ready"})");
    auto ready = execPlugin(env, conf.dump(), d.path());
    CHECK(ready.rc == 0);
    CHECK(ready.out.empty());
    CHECK(json::parse(agent.request())["command"] == "STATUS");
  }
  fs::remove(d.path() / "agent.sock");
  {
    ScriptedAgent agent(d.path() / "agent.sock",
                        R"({"verdict":"error","cniCode":50,"message":"no ztunnel"})");
    auto notReady = execPlugin(env, conf.dump(), d.path());
    CHECK(notReady.rc == 1);
    CHECK(json::parse(notReady.out)["code"] == 50);
    CHECK(json::parse(notReady.out)["msg"] == "ambient node agent is not ready: no ztunnel");
  }
}

TEST_CASE("the binary's GC sends the valid attachments, and 11 without an agent", "[cni][gc]") {
  TempDir d("ambient-cni-test");
  json conf = {{"cniVersion", "1.1.0"},
               {"name", "n"},
               {"type", "ambient-cni"},
               {"agentSocket", (d.path() / "agent.sock").string()},
               {"cni.dev/valid-attachments", {{{"containerID", "c1"}, {"ifname", "eth0"}}}}};
  std::map<std::string, std::string> env = {{"CNI_COMMAND", "GC"}, {"CNI_PATH", "/opt/cni/bin"}};
  auto down = execPlugin(env, conf.dump(), d.path());
  CHECK(down.rc == 1);
  CHECK(json::parse(down.out)["code"] == 11);
  ScriptedAgent agent(d.path() / "agent.sock", R"({"verdict":"released","message":"1 released"})");
  auto gc = execPlugin(env, conf.dump(), d.path());
  CHECK(gc.rc == 0);
  CHECK(gc.out.empty());
  auto req = json::parse(agent.request());
  CHECK(req["command"] == "GC");
  CHECK(req["validAttachments"] == json::parse(R"([{"containerId":"c1","ifname":"eth0"}])"));
}

TEST_CASE("the binary's VERSION advertises 1.1.0 and keeps the request's cniVersion",
          "[cni][version]") {
  TempDir d("ambient-cni-test");
  auto r = execPlugin({{"CNI_COMMAND", "VERSION"}}, R"({"cniVersion":"1.0.0"})", d.path());
  CHECK(r.rc == 0);
  auto v = json::parse(r.out);
  CHECK(v["cniVersion"] == "1.0.0");
  CHECK(v["supportedVersions"].back() == "1.1.0");
}
