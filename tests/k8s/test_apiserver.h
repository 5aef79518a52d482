// Runs tests/k8s/apiserver/apiserver.py as a child process on loopback and drives its /_test/
// control interface. Kills the child by PID when destroyed. Touches processes and the network.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/k8s/kubeconfig.h"

namespace ambient::k8s::testing {

struct ServerOptions {
  std::string tokenFile;  // --token-file
  std::string tlsCert;    // --tls-cert/--tls-key: serve HTTPS
  std::string tlsKey;
};

class TestApiServer {
 public:
  explicit TestApiServer(const ServerOptions& options = {});
  ~TestApiServer();
  TestApiServer(const TestApiServer&) = delete;
  TestApiServer& operator=(const TestApiServer&) = delete;

  int port() const { return port_; }
  std::string url() const {
    return (tls_ ? "https://127.0.0.1:" : "http://127.0.0.1:") + std::to_string(port_);
  }
  ClusterConfig clusterConfig() const;

  nlohmann::json apply(const std::string& resource, const nlohmann::json& object);
  void remove(const std::string& resource, const std::string& ns, const std::string& name);
  void compact();
  void dropWatches();
  void bookmark();
  void fault(const std::string& mode, int count, int code = 500);
  void release();
  // Which security.istio.io versions are served ({} : no Istio CRDs, 404) and whether the
  // group answers 403 (/_test/crds).
  void crds(const std::vector<std::string>& versions, bool forbidden = false);
  nlohmann::json patches();
  nlohmann::json requests();
  nlohmann::json state();
  // The server's current list of a resource (through the API itself).
  nlohmann::json list(const std::string& path);

 private:
  nlohmann::json control(const std::string& method, const std::string& op,
                         const nlohmann::json& body = nullptr);
  pid_t pid_ = -1;
  bool tls_ = false;
  int port_ = 0;
};

// Polls `condition` every 10 ms until it holds or `timeout` passes.
bool waitFor(const std::function<bool()>& condition,
             std::chrono::milliseconds timeout = std::chrono::seconds(10));

// A pod object for the server.
nlohmann::json makePod(const std::string& ns, const std::string& name, const std::string& node,
                       const nlohmann::json& labels = nlohmann::json::object());

// Writes a file atomically (write + rename), as token rotation does.
void writeFileAtomically(const std::string& path, const std::string& content);

}  // namespace ambient::k8s::testing
