// enroll-bench: what enrolling one more pod costs when 1000 are enrolled, for the agent in
// process (netlink + one nft batch + sysctl + registry write), for the full CNI path through
// the real ambient-cni binary and a running agent when both are given, and for the exec-based
// way (`ipset add` + `ip route add` as processes) as the baseline measured in the same run.
// Creates its own throwaway namespaces; needs root. A program that prints figures, not a test.
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "common/sys/linux_kernel.h"
#include "common/sys/netns.h"
#include "common/sys/sysctl_ledger_store.h"
#include "node-agent/core/enroller.h"
#include "node-agent/sys/metadata_file_source.h"
#include "node-agent/sys/netlink_pod_inspector.h"
#include "node-agent/sys/registry_file.h"

using namespace ambient;
using Clock = std::chrono::steady_clock;

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

double since(Clock::time_point t0) {
  return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
}

std::string podIp(int i) { return "10.245." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1); }

}  // namespace

int main(int argc, char** argv) {
  int pods = 1000, iterations = 200;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--pods") pods = std::atoi(argv[i + 1]);
    else if (a == "--iterations") iterations = std::atoi(argv[i + 1]);
  }
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
  must("ip -n " + node + " addr add 10.244.0.1/32 dev vethzt && ip -n " + node + " link set vethzt up");
  must("ip -n " + zt + " addr add 10.244.0.3/32 dev eth0 && ip -n " + zt + " link set eth0 up");
  must("ip -n " + zt + " route add 10.244.0.1 dev eth0 && ip -n " + zt + " route add default via 10.244.0.1");
  {
    std::ofstream ns(dir + "/ns.batch"), links(dir + "/links.batch");
    for (int i = 0; i <= pods; ++i) {
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
  Enroller enroller({"/proc/self/ns/net", choice->kind, 6081, 0, {}}, kernel, *ledger, registry,
                    inspector, meta);
  (void)enroller.start({});
  auto request = [&](PodCommand cmd, const std::string& ns, const std::string& name, int i,
                     const std::string& ip, const std::string& netns) {
    PodRequest r;
    r.command = cmd;
    r.containerId = "c" + std::to_string(i);
    r.netns = netns;
    r.ifname = "eth0";
    r.podNamespace = ns;
    r.podName = name;
    r.podUid = "u" + std::to_string(i);
    r.ips = {ip};
    return enroller.handle(r);
  };
  request(PodCommand::kAdd, "istio-system", "zt", -1, "10.244.0.3", "/var/run/netns/" + zt);
  for (int i = 0; i < pods; ++i) {
    auto r = request(PodCommand::kAdd, "bench", "p" + std::to_string(i), i, podIp(i),
                     "/var/run/netns/" + tag + "-p" + std::to_string(i));
    if (r.verdict != PodVerdict::kEnrolled) {
      std::fprintf(stderr, "enroll-bench: setup enrollment failed: %s\n", r.message.c_str());
      return 1;
    }
  }

  // Agent side: enroll and release the extra pod, `iterations` times.
  std::vector<double> enroll, release;
  std::string extraNs = "/var/run/netns/" + tag + "-p" + std::to_string(pods);
  for (int k = 0; k < iterations; ++k) {
    auto t0 = Clock::now();
    auto a = request(PodCommand::kAdd, "bench", "extra", pods, podIp(pods), extraNs);
    enroll.push_back(since(t0));
    t0 = Clock::now();
    auto d = request(PodCommand::kDel, "bench", "extra", pods, podIp(pods), extraNs);
    release.push_back(since(t0));
    if (a.verdict != PodVerdict::kEnrolled || d.verdict != PodVerdict::kReleased) {
      std::fprintf(stderr, "enroll-bench: iteration %d failed: %s %s\n", k, a.message.c_str(),
                   d.message.c_str());
      return 1;
    }
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
    auto t0 = Clock::now();
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
  std::printf("%-44s %10s %10s %10s\n", "what", "p50 us", "p99 us", "mean us");
  std::printf("%-44s %10.1f %10.1f %10.1f\n", "agent: enroll (ADD handled in process)", e.p50, e.p99, e.mean);
  std::printf("%-44s %10.1f %10.1f %10.1f\n", "agent: release (DEL handled in process)", r.p50, r.p99, r.mean);
  std::printf("%-44s %10.1f %10.1f %10.1f\n", "baseline: ipset add + ip route add (exec)", x.p50, x.p99, x.mean);
  std::printf("ratio baseline/agent (p50): %.1fx   target: agent p50 < 300 us and >= 10x\n",
              x.p50 / e.p50);

  // Tear down.
  std::ofstream cleanup(dir + "/cleanup.batch");  // (deleted with the tmpfs)
  for (int i = 0; i <= pods; ++i) cleanup << "netns del " << tag << "-p" << i << "\n";
  cleanup.close();
  run("ip -force -batch " + dir + "/cleanup.batch >/dev/null 2>&1");
  run("ip netns del " + node + "; ip netns del " + zt + "; umount " + dir + "; rm -rf " + dir);
  return 0;
}
