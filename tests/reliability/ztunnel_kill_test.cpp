// ztunnel SIGKILLed during traffic: the real agent programs the node, the real ztunnel proxies
// an ambient pod's connections to a host off the node. While ztunnel is away every connection
// fails and none reaches the server (no bypass); after a restart they flow again, counted by
// ztunnel. AMBIENT_TRIALS kill cycles. Touches the kernel.
#include <atomic>
#include <thread>

#include "reliability.h"

using namespace ambient;
using namespace ambient::testing;

namespace {

const std::string kNettool = AMBIENT_NETTOOL;
const std::string kZtunnel = AMBIENT_ZTUNNEL;

int countLines(const std::string& text, const std::string& needle) {
  int n = 0;
  for (size_t p = 0; (p = text.find(needle, p)) != std::string::npos; ++p) ++n;
  return n;
}

long metricSum(const TestNetns& zt, const std::string& name) {
  auto r = sh(zt.exec("curl -sf http://127.0.0.1:15020/metrics"));
  long sum = 0;
  std::istringstream lines(r.out);
  for (std::string l; std::getline(lines, l);) {
    if (l.rfind(name + "{", 0) == 0) sum += std::atol(l.substr(l.rfind(' ') + 1).c_str());
  }
  return sum;
}

}  // namespace

TEST_CASE("ztunnel SIGKILL during traffic: no connection bypasses it and traffic resumes after",
          "[reliability][ztunnel]") {
  const int n = trials(3);
  NodeTopology t;
  TestNetns app("app"), remote("remote");
  t.addPod(app, "vethapp", "10.244.1.10");
  t.addRemote(remote);
  AgentHarness h(t.node);
  h.start();
  REQUIRE(h.registerZtunnel(t));
  REQUIRE(h.send(podAdd("foo", "app", app.path(), "10.244.1.10"))->verdict ==
          PodVerdict::kEnrolled);
  std::string config = h.stateDir() + "/../zt.json";
  std::ofstream(config) << R"({"workloads": [{"uid": "c//v1/Pod/foo/app", "name": "app",
      "namespace": "foo", "serviceAccount": "app", "node": "node-a",
      "workloadIps": ["10.244.1.10"], "protocol": "TCP", "services": {}}],
      "services": [], "policies": []})";
  Background server(remote.exec(kNettool + " serve --port 8080"));
  REQUIRE(server.waitFor("listening"));
  auto startZtunnel = [&] {
    auto z = std::make_unique<Background>(
        t.zt.exec(kZtunnel + " --config " + config + " --node node-a --config-poll-ms 100"));
    for (int i = 0; i < 200; ++i) {
      if (sh(t.zt.exec("curl -sf -o /dev/null http://127.0.0.1:15021/healthz/ready")).rc == 0)
        return z;
      usleep(50 * 1000);
    }
    FAIL("ztunnel did not become ready: " << z->log());
    return z;
  };

  std::mt19937 rng(seed());
  int passed = 0;
  long upOk = 0, upTotal = 0, downTotal = 0, downOk = 0, leaked = 0;
  std::string failures;
  for (int trial = 0; trial < n; ++trial) {
    auto z = startZtunnel();
    // Traffic: a client loop in the ambient pod for the whole trial.
    std::atomic<int> state{0};  // 0 up, 1 down (killed), 2 restarting
    std::atomic<bool> stop{false};
    std::atomic<long> okUp{0}, totalUp{0}, okDown{0}, totalDown{0};
    std::thread client([&] {
      while (!stop) {
        int before = state;
        auto r = sh(app.exec(kNettool + " connect 172.30.0.2:8080 --timeout-ms 500"));
        bool ok = r.rc == 0 && r.out.find("8080 172.30.0.2:8080 10.244.1.10:") == 0;
        int after = state;
        if (before != after) continue;  // straddled a transition
        if (before == 0) {
          ++totalUp;
          okUp += ok;
        } else if (before == 1) {
          ++totalDown;
          okDown += ok;
        }
      }
    });
    usleep(useconds_t(300000 + rng() % 700000));
    state = 1;
    z.reset();           // SIGKILL
    usleep(100 * 1000);  // a leg ztunnel dialled just before its death may still be accepted
    int serverBefore = countLines(server.log(), " 10.244.1.10:");
    usleep(1500 * 1000);
    state = 2;
    int serverDuring = countLines(server.log(), " 10.244.1.10:");
    stop = true;
    client.join();
    // After the restart: connections flow again and ztunnel counts every one.
    z = startZtunnel();
    long opened1 = metricSum(t.zt, "istio_tcp_connections_opened_total");
    int after = 0;
    for (int i = 0; i < 5; ++i) {
      auto r = sh(app.exec(kNettool + " connect 172.30.0.2:8080 --timeout-ms 2000"));
      after += r.rc == 0 && r.out.find("8080 172.30.0.2:8080 10.244.1.10:") == 0;
    }
    long opened2 = metricSum(t.zt, "istio_tcp_connections_opened_total");
    z.reset();
    upOk += okUp;
    upTotal += totalUp;
    downOk += okDown;
    downTotal += totalDown;
    // Server lines that appeared while ztunnel was dead and no up-phase connect was in flight:
    // only the connects counted as successful before the kill may have landed.
    long bypass = std::max(0, serverDuring - serverBefore);
    leaked += bypass;
    bool ok = okDown == 0 && totalDown > 0 && bypass == 0 && okUp > 0 && after == 5 &&
              opened2 - opened1 >= 5;
    passed += ok;
    if (!ok) {
      failures += "trial " + std::to_string(trial) + ": down " + std::to_string(okDown) + "/" +
                  std::to_string(totalDown) + " succeeded, " + std::to_string(bypass) +
                  " reached the server while down, up " + std::to_string(okUp) + "/" +
                  std::to_string(totalUp) + ", after restart " + std::to_string(after) +
                  "/5 (counted " + std::to_string(opened2 - opened1) + ")\n";
    }
  }
  CHECK(h.send(podAdd("foo", "app", app.path(), "10.244.1.10"))->verdict == PodVerdict::kEnrolled);
  auto verify = sh(t.node.exec(kAmbientctl + " --state-dir " + h.stateDir() + " verify"));
  report("ztunnel SIGKILL during traffic", n, verify.rc == 0 ? passed : 0,
         std::to_string(n) + " kills: " + std::to_string(upOk) + "/" + std::to_string(upTotal) +
             " conns ok while up, " + std::to_string(downOk) + "/" + std::to_string(downTotal) +
             " while down, " + std::to_string(leaked) + " bypassed; resumed after restart");
  INFO(failures << verify.out);
  CHECK(passed == n);
  CHECK(verify.rc == 0);
}
