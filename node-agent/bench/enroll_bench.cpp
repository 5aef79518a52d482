// enroll-bench: what enrolling one more pod costs when 1000 are enrolled, for the agent in
// process (netlink + one nft batch + sysctl + registry write), for the full CNI path (the real
// ambient-cni binary exec'd as a runtime does, talking to the agent's socket server), and for
// the exec-based way (`ipset add` + `ip route add` as processes) as the baseline measured in
// the same run, next to the cost of exec'ing /bin/true the same way as the plugin. A dual-stack
// pod (IPv4 and IPv6) is measured next to the IPv4 one: a second family must not double it.
// Creates its own throwaway namespaces; needs root and ipset. A program that prints figures,
// not a test.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "common/core/constants.h"
#include "common/sys/linux_kernel.h"
#include "common/sys/netns.h"
#include "common/sys/sysctl_ledger_store.h"
#include "node-agent/core/enroller.h"
#include "node-agent/store/registry_file.h"
#include "node-agent/sys/agent_socket_server.h"
#include "node-agent/sys/metadata_file_source.h"
#include "node-agent/sys/netlink_pod_inspector.h"

using namespace ambient;
using Steady = std::chrono::steady_clock;

namespace {

int run(const std::string& cmd) {
  int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

void must(const std::string& cmd) {
  if (run(cmd) != 0) {
    std::fprintf(stderr, "enroll-bench: setup step failed: %s\n", cmd.c_str());
    std::exit(1);
  }
}

struct Stats {
  double p50 = 0, p99 = 0, mean = 0;
};

Stats stats(std::vector<double> us) {
  std::sort(us.begin(), us.end());
  Stats s;
  s.p50 = us[us.size() / 2];
  s.p99 = us[std::min(us.size() - 1, us.size() * 99 / 100)];
  for (double v : us) s.mean += v;
  s.mean /= double(us.size());
  return s;
}

// One table: a header, then one row per measured operation.
void printHeader() {
  std::printf("%-44s %10s %10s %10s\n", "what", "p50 us", "p99 us", "mean us");
}
void printRow(const char* what, const Stats& s) {
  std::printf("%-44s %10.1f %10.1f %10.1f\n", what, s.p50, s.p99, s.mean);
}

double since(Steady::time_point t0) {
  return std::chrono::duration<double, std::micro>(Steady::now() - t0).count();
}

std::string podIp(int i) {
  return "10.245." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1);
}

struct Exec {
  int exitCode = -1;
  std::string out;
  double us = 0;
};

// Runs `bin` the way a container runtime runs a CNI plugin: a fresh process (posix_spawn:
// clone + exec) with only the CNI environment, the network config on a stdin pipe and the
// result read from a stdout pipe until EOF, then waited for. Timed from spawn to reap.
Exec execCni(const std::string& bin, const std::vector<std::string>& env, const std::string& in) {
  int toChild[2], fromChild[2];
  if (::pipe2(toChild, O_CLOEXEC) != 0 || ::pipe2(fromChild, O_CLOEXEC) != 0) return {};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, toChild[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&fa, fromChild[1], STDOUT_FILENO);
  std::vector<char*> envp, argv{const_cast<char*>(bin.c_str()), nullptr};
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  Exec r;
  auto t0 = Steady::now();
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, bin.c_str(), &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  ::close(toChild[0]);
  ::close(fromChild[1]);
  // The config is far below the pipe buffer: one write, then EOF. A child that exits without
  // reading (/bin/true) makes it fail with EPIPE (SIGPIPE is ignored): not an error.
  if (rc == 0) (void)!::write(toChild[1], in.data(), in.size());
  ::close(toChild[1]);
  char buf[4096];
  for (ssize_t n; rc == 0 && (n = ::read(fromChild[0], buf, sizeof buf)) > 0;)
    r.out.append(buf, size_t(n));
  ::close(fromChild[0]);
  int st = 0;
  if (rc == 0 && ::waitpid(pid, &st, 0) == pid && WIFEXITED(st)) r.exitCode = WEXITSTATUS(st);
  r.us = since(t0);
  return r;
}

// The ambient-cni built next to this program (build/cni-plugin/ambient-cni), if any.
std::string defaultCniPlugin() {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "";
  auto p = self.parent_path().parent_path() / "cni-plugin" / "ambient-cni";
  return std::filesystem::exists(p, ec) ? p.string() : "";
}

}  // namespace

int main(int argc, char** argv) {
  int pods = 1000, iterations = 200, cniPods = 200;
  std::string cniPlugin = defaultCniPlugin();
  const char* usage =
      "usage: enroll-bench [--pods N] [--iterations N] [--cni-pods N] [--cni-plugin PATH]\n"
      "  --pods N         pods enrolled per run (default 1000)\n"
      "  --iterations N   single-pod enrolment latency samples (default 200)\n"
      "  --cni-pods N     pods through the CNI plugin path, 0 = skip (default 200)\n"
      "  --cni-plugin P   ambient-cni binary (default: ../cni-plugin/ambient-cni next to this)\n"
      "Needs root (network namespaces). Exit codes: 0 figures printed, 1 failure, 2 bad usage.\n";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(usage, stdout);  // answers without doing any work
      return 0;
    }
  }
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    bool known = a == "--pods" || a == "--iterations" || a == "--cni-pods" || a == "--cni-plugin";
    if (!known) {
      std::fprintf(stderr, "enroll-bench: unknown argument '%s'\n%s", a.c_str(), usage);
      return 2;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "enroll-bench: %s needs a value\n%s", a.c_str(), usage);
      return 2;
    }
    std::string v = argv[++i];
    if (a == "--cni-plugin") {
      cniPlugin = v;
      continue;
    }
    char* end = nullptr;
    long n = std::strtol(v.c_str(), &end, 10);
    if (v.empty() || *end != '\0' || n < 0 || n > 1000000) {
      std::fprintf(stderr, "enroll-bench: %s: '%s' is not a count\n%s", a.c_str(), v.c_str(),
                   usage);
      return 2;
    }
    (a == "--pods" ? pods : a == "--iterations" ? iterations : cniPods) = static_cast<int>(n);
  }
  if (pods < 1 || iterations < 1 || cniPods < 0) {
    std::fputs(usage, stderr);
    return 2;
  }
  if (cniPlugin.empty()) cniPods = 0;
  ::signal(SIGPIPE, SIG_IGN);  // execCni() writes to children that may not read
  if (geteuid() != 0) {
    std::fprintf(stderr, "enroll-bench: needs root (network namespaces)\n");
    return 2;
  }
  std::string tag = "eb" + std::to_string(getpid());
  std::string node = tag + "-node", zt = tag + "-zt", dir = "/run/" + tag;
  std::printf("enroll-bench: setting up %d pods (+1 measured) in throwaway namespaces...\n", pods);
  std::fflush(stdout);
  // The agent's state lives under /var/run, a tmpfs on Kubernetes nodes: measure it that way.
  must("mkdir -p " + dir + " && mount -t tmpfs -o size=64m,mode=0700 tmpfs " + dir);
  must("ip netns add " + node + " && ip netns add " + zt);
  must("ip -n " + node + " link add vethzt type veth peer name eth0 netns " + zt);
  must("ip -n " + node + " addr add 10.244.0.1/32 dev vethzt && ip -n " + node +
       " link set vethzt up");
  must("ip -n " + zt + " addr add 10.244.0.3/32 dev eth0 && ip -n " + zt + " link set eth0 up");
  must("ip -n " + zt + " route add 10.244.0.1 dev eth0 && ip -n " + zt +
       " route add default via 10.244.0.1");
  {
    std::ofstream ns(dir + "/ns.batch"), links(dir + "/links.batch");
    // One netns per pod, the measured IPv4 pod, the CNI pods and the measured dual-stack pod.
    for (int i = 0; i <= pods + cniPods + 1; ++i) {
      ns << "netns add " << tag << "-p" << i << "\n";
      links << "link add vb" << i << " type veth peer name eth0 netns " << tag << "-p" << i << "\n";
    }
  }
  must("ip -batch " + dir + "/ns.batch && ip -n " + node + " -batch " + dir + "/links.batch");
  std::ofstream(dir + "/meta.json")
      << R"({"namespaces": {"bench": {"labels": {"istio.io/dataplane-mode": "ambient"}}},
           "pods": {"istio-system/zt": {"labels": {"app": "ztunnel"}, "serviceAccount": "ztunnel"}}})";

  // Become the node, as the agent runs in the node's namespace.
  {
    auto ns = Netns::open("/var/run/netns/" + node);
    if (!ns || setns(ns->fd(), CLONE_NEWNET) != 0) {
      std::fprintf(stderr, "enroll-bench: cannot enter the node namespace\n");
      return 1;
    }
  }
  auto choice = chooseTunnelKind(TunnelMode::kAuto);
  LinuxKernel kernel;
  auto ledger = SysctlLedgerStore::load(dir + "/ledger.json");
  RegistryFile registry(dir + "/registry.json");
  NetlinkPodInspector inspector("/proc/self/ns/net");
  MetadataFileSource meta(dir + "/meta.json");
  Enroller enroller({.runtime = {.nodeNetns = "/proc/self/ns/net", .tunnelKind = choice->kind}},
                    kernel, *ledger, registry, inspector, meta);
  (void)enroller.start({});
  auto request = [&](PodCommand cmd, const std::string& ns, const std::string& name, int i,
                     const std::string& ip, const std::string& netns, const std::string& ip6 = "") {
    PodRequest r;
    r.command = cmd;
    r.containerId = "c" + std::to_string(i);
    r.netns = netns;
    r.ifname = "eth0";
    r.podNamespace = ns;
    r.podName = name;
    r.podUid = "u" + std::to_string(i);
    r.ips = {IpAddress::parse(ip).value()};
    if (!ip6.empty()) r.ips.push_back(IpAddress::parse(ip6).value());
    return enroller.handle(r);
  };
  // A dual-stack ztunnel: IPv4 pods and dual-stack pods side by side.
  request(PodCommand::kAdd, "istio-system", "zt", -1, "10.244.0.3", "/var/run/netns/" + zt,
          "fd00:10:244::3");
  for (int i = 0; i < pods; ++i) {
    auto r = request(PodCommand::kAdd, "bench", "p" + std::to_string(i), i, podIp(i),
                     "/var/run/netns/" + tag + "-p" + std::to_string(i));
    if (r.verdict != PodVerdict::kEnrolled) {
      std::fprintf(stderr, "enroll-bench: setup enrollment failed: %s\n", r.message.c_str());
      return 1;
    }
  }

  // Agent side: enroll and release the extra pod, `iterations` times.
  std::vector<double> enroll, release, dualEnroll, dualRelease;
  std::string extraNs = "/var/run/netns/" + tag + "-p" + std::to_string(pods);
  const int dual = pods + cniPods + 1;
  std::string dualNs = "/var/run/netns/" + tag + "-p" + std::to_string(dual);
  for (int k = 0; k < iterations; ++k) {
    auto t0 = Steady::now();
    auto a = request(PodCommand::kAdd, "bench", "extra", pods, podIp(pods), extraNs);
    enroll.push_back(since(t0));
    t0 = Steady::now();
    auto d = request(PodCommand::kDel, "bench", "extra", pods, podIp(pods), extraNs);
    release.push_back(since(t0));
    if (a.verdict != PodVerdict::kEnrolled || d.verdict != PodVerdict::kReleased) {
      std::fprintf(stderr, "enroll-bench: iteration %d failed: %s %s\n", k, a.message.c_str(),
                   d.message.c_str());
      return 1;
    }
    t0 = Steady::now();
    a = request(PodCommand::kAdd, "bench", "dual", dual, podIp(dual), dualNs, "fd00:10:245::1");
    dualEnroll.push_back(since(t0));
    t0 = Steady::now();
    d = request(PodCommand::kDel, "bench", "dual", dual, podIp(dual), dualNs, "fd00:10:245::1");
    dualRelease.push_back(since(t0));
    if (a.verdict != PodVerdict::kEnrolled || d.verdict != PodVerdict::kReleased) {
      std::fprintf(stderr, "enroll-bench: dual-stack iteration %d failed: %s %s\n", k,
                   a.message.c_str(), d.message.c_str());
      return 1;
    }
  }

  // The full CNI path: the real plugin exec'd per pod against the agent's socket server, each
  // ADD enrolling one more pod (pods+1 .. pods+cniPods), then DEL releasing them; and /bin/true
  // exec'd the same way, as the floor any exec'd plugin pays.
  std::vector<double> cniAdd, cniDel, spawnTrue;
  std::atomic<bool> stopServer{false};
  std::thread serverThread;
  if (cniPods > 0) {
    auto server = AgentSocketServer::listen(
        dir + "/agent.sock", [&](const PodRequest& r) { return enroller.handle(r); },
        [](const std::string& why) {
          std::fprintf(stderr, "enroll-bench: socket: %s\n", why.c_str());
        });
    if (!server) {
      std::fprintf(stderr, "enroll-bench: %s\n", server.error().message().c_str());
      return 1;
    }
    serverThread = std::thread([&, s = std::move(*server)] { s->serve(stopServer); });
    auto cni = [&](const std::string& bin, const char* cmd, int i) {
      std::string netns = "/var/run/netns/" + tag + "-p" + std::to_string(i);
      std::string conf =
          R"({"cniVersion":"1.0.0","name":"bench","type":"ambient-cni","agentSocket":")" + dir +
          R"(/agent.sock","prevResult":{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":")" +
          netns + R"("}],"ips":[{"address":")" + podIp(i) + R"(/32","interface":0}]}})";
      return execCni(bin,
                     {std::string("CNI_COMMAND=") + cmd, "CNI_CONTAINERID=c" + std::to_string(i),
                      "CNI_NETNS=" + netns, "CNI_IFNAME=eth0", "CNI_PATH=/opt/cni/bin",
                      "CNI_ARGS=K8S_POD_NAMESPACE=bench;K8S_POD_NAME=c" + std::to_string(i) +
                          ";K8S_POD_UID=u" + std::to_string(i)},
                     conf);
    };
    for (int i = pods + 1; i <= pods + cniPods; ++i) {
      auto t = cni("/bin/true", "ADD", i);
      spawnTrue.push_back(t.us);
      auto a = cni(cniPlugin, "ADD", i);
      cniAdd.push_back(a.us);
      if (a.exitCode != 0 || enroller.enrolledCount() != size_t(i)) {
        std::fprintf(stderr, "enroll-bench: CNI ADD of pod %d failed (exit %d, %zu enrolled): %s\n",
                     i, a.exitCode, enroller.enrolledCount(), a.out.c_str());
        stopServer = true;
        serverThread.join();
        return 1;
      }
    }
    for (int i = pods + 1; i <= pods + cniPods; ++i) {
      auto d = cni(cniPlugin, "DEL", i);
      cniDel.push_back(d.us);
      if (d.exitCode != 0) {
        std::fprintf(stderr, "enroll-bench: CNI DEL of pod %d failed: %s\n", i, d.out.c_str());
        stopServer = true;
        serverThread.join();
        return 1;
      }
    }
    stopServer = true;
    serverThread.join();
  }

  // Baseline: the exec way, in the same namespace and at the same size.
  must("ipset create " + tag + " hash:ip maxelem 65536");
  {
    std::ofstream restore(dir + "/ipset.restore");
    for (int i = 0; i < pods; ++i) restore << "add " << tag << " " << podIp(i) << "\n";
  }
  must("ipset restore < " + dir + "/ipset.restore");
  std::vector<double> execEnroll;
  int execIterations = std::min(iterations, 100);
  for (int k = 0; k < execIterations; ++k) {
    auto t0 = Steady::now();
    int rc = run("ipset add " + tag + " " + podIp(pods) + " && ip route add " + podIp(pods) +
                 "/32 via 192.168.126.2 dev istioin table 100");
    execEnroll.push_back(since(t0));
    run("ipset del " + tag + " " + podIp(pods) + " && ip route del " + podIp(pods) +
        "/32 table 100");
    if (rc != 0) {
      std::fprintf(stderr, "enroll-bench: the exec baseline failed\n");
      return 1;
    }
  }
  run("ipset destroy " + tag);

  auto e = stats(enroll), r = stats(release), x = stats(execEnroll);
  std::printf("\nenroll-bench: one more pod with %d enrolled (%s tunnels), %d iterations\n", pods,
              std::string(tunnelKindName(choice->kind)).c_str(), iterations);
  printHeader();
  printRow("agent: enroll (ADD handled in process)", e);
  printRow("agent: release (DEL handled in process)", r);
  auto de = stats(dualEnroll), dr = stats(dualRelease);
  printRow("agent: enroll, dual-stack pod (IPv4 + IPv6)", de);
  printRow("agent: release, dual-stack pod", dr);
  std::printf(
      "ratio dual-stack/IPv4 enroll (p50): %.2fx   target: < 2x (a second family must "
      "not double it)\n",
      de.p50 / e.p50);
  printRow("baseline: ipset add + ip route add (exec)", x);
  std::printf("ratio baseline/agent (p50): %.1fx   target: agent p50 < 300 us and >= 10x\n",
              x.p50 / e.p50);
  if (cniPods > 0) {
    auto ca = stats(cniAdd), cd = stats(cniDel), t = stats(spawnTrue);
    std::printf("\nCNI path: %s exec'd per pod, %d pods enrolled one by one on top of %d\n",
                cniPlugin.c_str(), cniPods, pods);
    printHeader();
    printRow("CNI ADD to enrolled (ambient-cni exec)", ca);
    printRow("CNI DEL to released (ambient-cni exec)", cd);
    printRow("baseline: exec of /bin/true the same way", t);
    std::printf(
        "CNI ADD p50 %.2f ms   target: < 3 ms (%s); plugin cost above the spawn floor: %.2f ms\n",
        ca.p50 / 1000, ca.p50 < 3000 ? "met" : "MISSED", (ca.p50 - t.p50) / 1000);
  } else {
    std::printf(
        "\nCNI path skipped (--cni-pods 0, or no ambient-cni next to this program: pass "
        "--cni-plugin PATH)\n");
  }

  // Tear down.
  std::ofstream cleanup(dir + "/cleanup.batch");  // (deleted with the tmpfs)
  for (int i = 0; i <= pods + cniPods; ++i) cleanup << "netns del " << tag << "-p" << i << "\n";
  cleanup.close();
  run("ip -force -batch " + dir + "/cleanup.batch >/dev/null 2>&1");
  // Lazy: this process still holds the registry and ledger files open.
  run("ip netns del " + node + "; ip netns del " + zt + "; umount -l " + dir + "; rmdir " + dir);
  return 0;
}
