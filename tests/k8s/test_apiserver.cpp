// Child-process test API server and its control interface. Touches processes and the network.
#include "test_apiserver.h"

#include <httplib.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <thread>
#include <vector>

extern char** environ;

namespace ambient::k8s::testing {

TestApiServer::TestApiServer(const ServerOptions& options) {
  // TLS writes to a closed peer raise SIGPIPE (OpenSSL uses write()); the agent ignores it too.
  ::signal(SIGPIPE, SIG_IGN);
  int pipeFds[2];
  REQUIRE(::pipe(pipeFds) == 0);
  std::vector<std::string> args{AMBIENT_K8S_PYTHON, AMBIENT_K8S_APISERVER,     "--port", "0",
                                "--parent-pid",     std::to_string(::getpid())};
  if (!options.tokenFile.empty()) {
    args.push_back("--token-file");
    args.push_back(options.tokenFile);
  }
  if (!options.tlsCert.empty()) {
    tls_ = true;
    for (const char* a :
         {"--tls-cert", options.tlsCert.c_str(), "--tls-key", options.tlsKey.c_str()}) {
      args.push_back(a);
    }
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipeFds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, pipeFds[0]);
  int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipeFds[1]);
  REQUIRE(rc == 0);
  std::string line;
  // Python starts slowly under the geneve VM's emulated CPU.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    pollfd pfd{pipeFds[0], POLLIN, 0};
    if (::poll(&pfd, 1, 100) <= 0) continue;
    char buf[64];
    ssize_t n = ::read(pipeFds[0], buf, sizeof buf);
    if (n <= 0) break;
    line.append(buf, static_cast<size_t>(n));
  }
  ::close(pipeFds[0]);
  port_ = std::atoi(line.c_str());
  REQUIRE(port_ > 0);
}

TestApiServer::~TestApiServer() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  for (int i = 0; i < 200; ++i) {
    if (::waitpid(pid_, nullptr, WNOHANG) == pid_) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
}

ClusterConfig TestApiServer::clusterConfig() const {
  ClusterConfig config;
  config.server = url();
  config.source = "test API server";
  return config;
}

nlohmann::json TestApiServer::control(const std::string& method, const std::string& op,
                                      const nlohmann::json& body) {
  httplib::Client client(url());
  client.enable_server_certificate_verification(false);
  client.set_read_timeout(10, 0);
  std::string path = "/_test/" + op;
  auto res = method == "GET"
                 ? client.Get(path)
                 : client.Post(path, body.is_null() ? "{}" : body.dump(), "application/json");
  REQUIRE(res);
  INFO("control " << op << ": " << res->body);
  REQUIRE(res->status == 200);
  return nlohmann::json::parse(res->body);
}

nlohmann::json TestApiServer::apply(const std::string& resource, const nlohmann::json& object) {
  return control("POST", "apply", {{"resource", resource}, {"object", object}});
}
void TestApiServer::remove(const std::string& resource, const std::string& ns,
                           const std::string& name) {
  control("POST", "delete", {{"resource", resource}, {"namespace", ns}, {"name", name}});
}
void TestApiServer::compact() {
  control("POST", "compact");
}
void TestApiServer::dropWatches() {
  control("POST", "drop-watches");
}
void TestApiServer::bookmark() {
  control("POST", "bookmark");
}
void TestApiServer::fault(const std::string& mode, int count, int code) {
  control("POST", "fault", {{"mode", mode}, {"count", count}, {"code", code}});
}
void TestApiServer::release() {
  control("POST", "release");
}

void TestApiServer::crds(const std::vector<std::string>& versions, bool forbidden) {
  control("POST", "crds", {{"versions", versions}, {"forbidden", forbidden}});
}
nlohmann::json TestApiServer::patches() {
  return control("GET", "patches")["patches"];
}
nlohmann::json TestApiServer::requests() {
  return control("GET", "requests")["requests"];
}
nlohmann::json TestApiServer::state() {
  return control("GET", "state");
}

nlohmann::json TestApiServer::list(const std::string& path) {
  httplib::Client client(url());
  client.enable_server_certificate_verification(false);
  auto res = client.Get(path);
  REQUIRE(res);
  REQUIRE(res->status == 200);
  return nlohmann::json::parse(res->body);
}

bool waitFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

nlohmann::json makePod(const std::string& ns, const std::string& name, const std::string& node,
                       const nlohmann::json& labels) {
  return {{"metadata", {{"name", name}, {"namespace", ns}, {"labels", labels}}},
          {"spec", {{"nodeName", node}, {"serviceAccountName", "default"}}},
          {"status", {{"phase", "Running"}, {"podIPs", {{{"ip", "10.0.0.1"}}}}}}};
}

void writeFileAtomically(const std::string& path, const std::string& content) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << content;
  }
  REQUIRE(std::rename(tmp.c_str(), path.c_str()) == 0);
}

}  // namespace ambient::k8s::testing
