// Runs the real ambient-agent binary inside a test node namespace and talks to it over its
// plugin socket, as ambient-cni does; requests come from tests/support/pod_requests.h. Touches
// the kernel, files and sockets.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "common/core/agent_protocol.h"
#include "common/sys/unique_fd.h"
#include "node_topology.h"
#include "tests/support/ztunnel_registration.h"

namespace ambient::testing {

inline const std::string kAgentBinary = AMBIENT_AGENT;
inline const std::string kAmbientctl = AMBIENT_AMBIENTCTL;

class AgentHarness {
 public:
  explicit AgentHarness(const TestNetns& node) : node_(node), dir_("/tmp/" + uniqueName("agent")) {
    must("mkdir -p " + dir_ + "/state");
    writeMetadata(R"({"namespaces": {"foo": {"labels": {"istio.io/dataplane-mode": "ambient"}},
                                      "plain": {"labels": {}}},
                       "pods": {)" +
                  std::string(kZtunnelPodMetadata) + "}}");
  }
  ~AgentHarness() {
    stop();
    sh("rm -rf " + dir_);
  }

  void writeMetadata(const std::string& json) {
    std::ofstream(dir_ + "/meta.json.tmp") << json;
    must("mv " + dir_ + "/meta.json.tmp " + dir_ + "/meta.json");
  }
  std::string socket() const { return dir_ + "/agent.sock"; }
  std::string stateDir() const { return dir_ + "/state"; }
  std::string flags() const {
    std::string metadata = apiServer_.empty()
                               ? " --metadata-file " + dir_ + "/meta.json"
                               : " --kubeconfig " + dir_ + "/kubeconfig --node-name " + nodeName_ +
                                     " --node-netns " + node_.path();
    return "--socket " + socket() + " --state-dir " + stateDir() + metadata + " --http-addr " +
           httpHost + ":" + std::to_string(httpPort()) + " --reconcile-interval " +
           std::to_string(reconcileInterval) + extraFlags;
  }
  std::string extraFlags;              // appended to flags(), e.g. " --ipv6 off"
  std::string httpHost = "127.0.0.1";  // --http-addr's host ("": every address, the default)
  // Metadata from a Kubernetes API server on the host's loopback instead of the file. The agent
  // then runs in the host namespace, as a hostNetwork DaemonSet does, and programs the node
  // namespace through --node-netns.
  void useApi(const std::string& serverUrl, const std::string& nodeName) {
    apiServer_ = serverUrl;
    nodeName_ = nodeName;
    std::ofstream(dir_ + "/kubeconfig")
        << "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: "
        << serverUrl
        << "\nusers:\n- name: agent\n  user:\n    token: test-token\ncontexts:\n- name: test\n"
           "  context:\n    cluster: test\n    user: agent\ncurrent-context: test\n";
  }
  std::string viewFile() const { return stateDir() + "/ztunnel-config.json"; }
  // The agent's periodic full pass; tests that make drift on purpose lengthen it and ask for
  // a pass with reconcileNow(), so a slow machine cannot repair before they look.
  int reconcileInterval = 2;
  void reconcileNow() { agent_->signal(SIGHUP); }

  void start() {
    std::string command = kAgentBinary + " run " + flags();
    agent_ = std::make_unique<Background>(apiServer_.empty() ? node_.exec(command) : command);
    REQUIRE(agent_->waitFor("\"serving\"", 60000));
  }
  // SIGKILL: the agent gets no chance to clean up.
  void kill() { agent_.reset(); }
  void stop() { agent_.reset(); }
  // SIGTERM: a normal exit (upgrade, node drain).
  int terminate() {
    int rc = agent_->terminate();
    agent_.reset();
    return rc;
  }
  std::string http(const std::string& path) const {
    std::string curl =
        "curl -s -w ' %{http_code}' http://127.0.0.1:" + std::to_string(httpPort()) + path;
    return sh(apiServer_.empty() ? node_.exec(curl) : curl).out;
  }
  std::string log() const { return agent_ ? agent_->log() : ""; }

  // One protocol exchange; nullopt when the agent did not answer (down or killed mid-way).
  std::optional<PodReply> send(const PodRequest& r, int timeoutMs = 60000) const {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    socket().copy(addr.sun_path, sizeof addr.sun_path - 1);
    timeval tv{timeoutMs / 1000, (timeoutMs % 1000) * 1000};
    setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return {};
    std::string msg = encodeRequest(r);
    if (::send(fd.get(), msg.data(), msg.size(), MSG_NOSIGNAL) != ssize_t(msg.size())) return {};
    std::string buf;
    char chunk[4096];
    ssize_t n;
    while ((n = ::recv(fd.get(), chunk, sizeof chunk, 0)) > 0) buf.append(chunk, size_t(n));
    auto reply = decodeReply(buf);
    if (!reply) return {};
    return *reply;
  }

  // The ztunnel pod's ADD for the topology's ztunnel namespace, as the kubelet sends it when
  // ztunnel starts (tests/support/ztunnel_registration.h); nullopt when the agent did not answer.
  std::optional<PodReply> registerZtunnel(const NodeTopology& t) const {
    return send(ztunnelAdd(t.zt.path(), kZtunnelIp));
  }
  // In the node namespace every agent can use 15031; on the host a test port.
  int httpPort() const { return apiServer_.empty() ? 15031 : 15131; }

 private:
  const TestNetns& node_;
  std::string dir_;
  std::string apiServer_;
  std::string nodeName_;
  std::unique_ptr<Background> agent_;
};

}  // namespace ambient::testing
