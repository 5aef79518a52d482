// Load: 64 concurrent streams of CNI ADD/DEL through the real ambient-cni binary against the
// real agent for a bounded time (AMBIENT_SECONDS), in two phases; the agent's descriptors and
// resident memory are compared between the two quiet plateaus. Touches the kernel.
#include <fcntl.h>
#include <spawn.h>

#include <atomic>
#include <thread>

#include "reliability.h"

extern char** environ;

using namespace ambient;
using namespace ambient::testing;

namespace {

const std::string kCniBinary = std::string(AMBIENT_CNI_DIR) + "/ambient-cni";

struct Exec {
  int rc = -1;
  std::string out;
};

// Runs ambient-cni as a runtime does: environment, config on stdin, result on stdout.
Exec runCni(const std::vector<std::string>& env, const std::string& stdinFile,
            const std::string& stdoutFile) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, stdinFile.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, stdoutFile.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  std::vector<char*> argv = {const_cast<char*>(kCniBinary.c_str()), nullptr};
  std::vector<char*> envp;
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  pid_t pid;
  Exec r;
  if (posix_spawn(&pid, kCniBinary.c_str(), &fa, nullptr, argv.data(), envp.data()) == 0) {
    int status = 0;
    waitpid(pid, &status, 0);
    r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  posix_spawn_file_actions_destroy(&fa);
  std::ifstream in(stdoutFile);
  r.out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return r;
}

}  // namespace

TEST_CASE("64 concurrent CNI ADD/DEL streams: no errors and no descriptor or memory growth",
          "[reliability][load]") {
  const int kStreams = 64;
  const int total = seconds(20);
  NodeTopology t;
  PodBatch pods(t, kStreams, 8);
  AgentHarness h(t.node);
  h.start();
  REQUIRE(h.registerZtunnel(t));
  pid_t agent = findPid(h.stateDir());
  REQUIRE(agent > 0);
  std::string dir = "/tmp/" + uniqueName("cniload");
  must("mkdir -p " + dir);
  struct Rm {
    std::string d;
    ~Rm() { sh("rm -rf " + d); }
  } rm{dir};

  std::atomic<long> ops{0}, errors{0};
  std::mutex mu;
  std::string firstError;
  auto phase = [&](int secs) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(secs);
    std::vector<std::thread> streams;
    for (int s = 0; s < kStreams; ++s) {
      streams.emplace_back([&, s] {
        std::string conf = dir + "/conf-" + std::to_string(s);
        std::string out = dir + "/out-" + std::to_string(s);
        std::ofstream(conf)
            << nlohmann::json{{"cniVersion", "1.0.0"},
                              {"name", "k8s-pod-network"},
                              {"type", "ambient-cni"},
                              {"agentSocket", h.socket()},
                              {"agentTimeoutMs", 60000},
                              {"prevResult",
                               {{"cniVersion", "1.0.0"},
                                {"interfaces", {{{"name", "eth0"}, {"sandbox", pods.path(s)}}}},
                                {"ips", {{{"address", pods.ip(s) + "/32"}, {"interface", 0}}}}}}}
                   .dump();
        for (int k = 0; std::chrono::steady_clock::now() < deadline; ++k) {
          std::string id =
              std::to_string(s) + "-" + std::to_string(k) + "-" + std::to_string(ops.load());
          for (const char* verb : {"ADD", "DEL"}) {
            auto r =
                runCni({std::string("CNI_COMMAND=") + verb, "CNI_CONTAINERID=c" + id,
                        "CNI_NETNS=" + pods.path(s), "CNI_IFNAME=eth0", "CNI_PATH=/usr/lib/cni",
                        "CNI_ARGS=K8S_POD_NAMESPACE=foo;K8S_POD_NAME=load" + std::to_string(s) +
                            ";K8S_POD_UID=u" + id},
                       conf, out);
            ++ops;
            if (r.rc != 0) {
              ++errors;
              std::lock_guard lock(mu);
              if (firstError.empty()) firstError = std::string(verb) + ": " + r.out;
            }
          }
        }
      });
    }
    for (auto& th : streams) th.join();
  };
  // Warm-up phase, then the first plateau (quiet), the second phase, the second plateau.
  int first = std::max(1, total / 2);
  phase(first);
  usleep(300 * 1000);
  int fds1 = fdCount(agent);
  long rss1 = rssKiB(agent);
  long ops1 = ops;
  phase(total - first);
  usleep(300 * 1000);
  int fds2 = fdCount(agent);
  long rss2 = rssKiB(agent);
  bool empty = enrolledSet(t.node).empty();
  auto verify = sh(t.node.exec(kAmbientctl + " --state-dir " + h.stateDir() + " verify"));
  bool rssOk = rss2 <= rss1 + std::max(1024L, rss1 / 10);
  char figure[256];
  std::snprintf(figure, sizeof figure,
                "%d streams x %d s: %ld ADD/DEL (%ld in phase 2), %ld errors, agent fds %d->%d, "
                "RSS %ld->%ld KiB",
                kStreams, total, ops.load(), ops.load() - ops1, errors.load(), fds1, fds2, rss1,
                rss2);
  bool ok = errors == 0 && fds2 <= fds1 && rssOk && empty && verify.rc == 0;
  report("64 concurrent CNI ADD/DEL streams", 1, ok ? 1 : 0, figure);
  INFO(figure << "\nfirst error: " << firstError << "\nverify: " << verify.out);
  CHECK(errors == 0);
  CHECK(fds2 <= fds1);
  CHECK(rssOk);
  CHECK(empty);
  CHECK(verify.rc == 0);
}
