// discovery-bench: a namespace of N running pods the agent never saw through CNI is labelled
// ambient; how long until all N are enrolled by the discovery pass (one scan of the node's
// network namespaces, then each pod enrolled), printed next to enrolling the same N pods through
// CNI ADD handled by the same agent code, in the same run. Creates its own throwaway
// namespaces; needs root. A program that prints figures, not a test.
#include <sched.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
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
#include "node-agent/sys/metadata_file_source.h"
#include "node-agent/sys/netlink_pod_inspector.h"
#include "node-agent/sys/proc_netns_scanner.h"

using namespace ambient;
using Steady = std::chrono::steady_clock;

namespace {

constexpr const char* kUsage =
    "usage: discovery-bench [--pods N]\n"
    "  A namespace of N running pods (default 100) that no CNI ADD reached is labelled\n"
    "  ambient: prints the time until the agent's discovery pass enrolled all of them, next to\n"
    "  enrolling the same pods through CNI ADD handled by the agent, in the same run.\n"
    "  Needs root; creates and removes its own network namespaces. Exit 0 figures printed,\n"
    "  1 the run failed, 2 usage.\n";

int run(const std::string& cmd) {
  int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : 1;
}

void must(const std::string& cmd) {
  if (run(cmd) != 0) {
    std::fprintf(stderr, "discovery-bench: failed: %s\n", cmd.c_str());
    std::exit(1);
  }
}

double msSince(Steady::time_point t0) {
  return std::chrono::duration<double, std::milli>(Steady::now() - t0).count();
}

std::string podIp(int i) {
  return "10.246." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1);
}

// The metadata file as the API shows these pods: running here, with their IPs.
void writeMeta(const std::string& path, int pods, bool ambient) {
  std::ofstream out(path + ".tmp");
  out << R"({"namespaces": {"bench": {"labels": {)"
      << (ambient ? R"("istio.io/dataplane-mode": "ambient")" : "") << R"(}}},
  "pods": {"istio-system/zt": {"labels": {"app": "ztunnel"}, "serviceAccount": "ztunnel"})";
  for (int i = 0; i < pods; ++i) {
    out << ",\n \"bench/p" << i << "\": {\"uid\": \"u" << i << "\", \"podIPs\": [\"" << podIp(i)
        << "\"]}";
  }
  out << "}}\n";
  out.close();
  std::rename((path + ".tmp").c_str(), path.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  int pods = 100;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (a == "--pods" && i + 1 < argc) {
      pods = std::atoi(argv[++i]);
      continue;
    }
    std::fprintf(stderr, "discovery-bench: unknown or incomplete flag %s\n%s", a.c_str(), kUsage);
    return 2;
  }
  if (pods < 1 || pods > 1000) {
    std::fprintf(stderr, "discovery-bench: --pods must be 1..1000\n");
    return 2;
  }
  if (geteuid() != 0) {
    std::fprintf(stderr, "discovery-bench: needs root (network namespaces)\n");
    return 2;
  }
  std::string tag = "db" + std::to_string(getpid());
  std::string node = tag + "-node", zt = tag + "-zt", dir = "/run/" + tag;
  std::printf("discovery-bench: setting up %d running pods in throwaway namespaces...\n", pods);
  std::fflush(stdout);
  must("mkdir -p " + dir + " && mount -t tmpfs -o size=64m,mode=0700 tmpfs " + dir);
  must("ip netns add " + node + " && ip netns add " + zt);
  must("ip -n " + node + " link add vethzt type veth peer name eth0 netns " + zt);
  must("ip -n " + node + " addr add 10.246.255.1/32 dev vethzt && ip -n " + node +
       " link set vethzt up");
  must("ip -n " + zt + " addr add 10.246.255.3/32 dev eth0 && ip -n " + zt + " link set eth0 up");
  must("ip -n " + zt + " route add 10.246.255.1 dev eth0 && ip -n " + zt +
       " route add default via 10.246.255.1");
  {
    std::ofstream ns(dir + "/ns.batch"), links(dir + "/links.batch"), addrs(dir + "/addrs.sh");
    for (int i = 0; i < pods; ++i) {
      std::string pod = tag + "-p" + std::to_string(i);
      ns << "netns add " << pod << "\n";
      links << "link add vd" << i << " type veth peer name eth0 netns " << pod << "\n";
      addrs << "ip -n " << pod << " addr add " << podIp(i) << "/32 dev eth0 && ip -n " << pod
            << " link set eth0 up || exit 1\n";
    }
  }
  must("ip -batch " + dir + "/ns.batch && ip -n " + node + " -batch " + dir + "/links.batch");
  must("sh " + dir + "/addrs.sh");
  writeMeta(dir + "/meta.json", pods, true);

  {
    auto ns = Netns::open("/var/run/netns/" + node);
    if (!ns || setns(ns->fd(), CLONE_NEWNET) != 0) {
      std::fprintf(stderr, "discovery-bench: cannot enter the node namespace\n");
      return 1;
    }
  }
  auto choice = chooseTunnelKind(TunnelMode::kAuto);
  if (!choice) {
    std::fprintf(stderr, "discovery-bench: %s\n", choice.error().message().c_str());
    return 1;
  }
  LinuxKernel kernel;
  auto ledger = SysctlLedgerStore::load(dir + "/ledger.json");
  RegistryFile registry(dir + "/registry.json");
  NetlinkPodInspector inspector("/proc/self/ns/net");
  ProcNetnsScanner scanner("/proc/self/ns/net");
  MetadataFileSource meta(dir + "/meta.json");
  Enroller enroller({.runtime = {.nodeNetns = "/proc/self/ns/net", .tunnelKind = choice->kind}},
                    kernel, *ledger, registry, inspector, meta, {}, nullptr, &scanner);
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
    r.ips = {IpAddress::parse(ip).value()};
    return enroller.handle(r);
  };
  auto z =
      request(PodCommand::kAdd, "istio-system", "zt", -1, "10.246.255.3", "/var/run/netns/" + zt);
  if (z.verdict == PodVerdict::kError) {
    std::fprintf(stderr, "discovery-bench: ztunnel registration failed: %s\n", z.message.c_str());
    return 1;
  }

  // The CNI way: each pod's ADD, handled by the agent as its socket server hands it over.
  auto t0 = Steady::now();
  for (int i = 0; i < pods; ++i) {
    auto r = request(PodCommand::kAdd, "bench", "p" + std::to_string(i), i, podIp(i),
                     "/var/run/netns/" + tag + "-p" + std::to_string(i));
    if (r.verdict != PodVerdict::kEnrolled) {
      std::fprintf(stderr, "discovery-bench: ADD of p%d: %s\n", i, r.message.c_str());
      return 1;
    }
  }
  double addMs = msSince(t0);
  for (int i = 0; i < pods; ++i) {
    request(PodCommand::kDel, "bench", "p" + std::to_string(i), i, podIp(i), "");
  }
  if (enroller.enrolledCount() != 0) {
    std::fprintf(stderr, "discovery-bench: DEL left %zu pods enrolled\n", enroller.enrolledCount());
    return 1;
  }

  // The same pods, never seen through CNI: the namespace is not ambient, then labelled.
  writeMeta(dir + "/meta.json", pods, false);
  (void)enroller.resync();
  auto scanStart = Steady::now();
  auto scan = scanner.scan();
  double scanMs = msSince(scanStart);
  if (!scan) {
    std::fprintf(stderr, "discovery-bench: %s\n", scan.error().message().c_str());
    return 1;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a new mtime for the file
  writeMeta(dir + "/meta.json", pods, true);
  t0 = Steady::now();
  auto s = enroller.resync();
  double discoverMs = msSince(t0);
  if (!s || enroller.enrolledCount() != size_t(pods)) {
    std::fprintf(stderr, "discovery-bench: discovery enrolled %zu of %d: %s\n",
                 enroller.enrolledCount(), pods, s ? "" : s.error().message().c_str());
    for (const auto& [pod, why] : enroller.notEnrolled()) {
      std::fprintf(stderr, "  %s: %s\n", pod.c_str(), why.c_str());
    }
    return 1;
  }

  std::printf("\ndiscovery-bench: %d running pods, namespace labelled ambient (%s tunnels)\n", pods,
              std::string(tunnelKindName(choice->kind)).c_str());
  std::printf("%-58s %10s %12s\n", "what", "total ms", "per pod us");
  std::printf("%-58s %10.1f %12.1f\n", "CNI ADD: each pod's ADD handled by the agent", addMs,
              addMs * 1000 / pods);
  std::printf("%-58s %10.1f %12.1f\n", "discovery: one resync after the label (scan + enroll)",
              discoverMs, discoverMs * 1000 / pods);
  std::printf("%-58s %10.1f\n",
              ("  one scan alone: " + std::to_string(scan->namespaces) + " namespaces, " +
               std::to_string(scan->interfaces.size()) + " interfaces")
                  .c_str(),
              scanMs);
  std::printf(
      "ratio discovery/ADD: %.2fx. In the agent a label change also waits for the API\n"
      "watch event and the 100 ms settle of the sync thread (the metadata file: its 5 s "
      "poll).\n",
      discoverMs / addMs);

  std::ofstream cleanup(dir + "/cleanup.batch");
  for (int i = 0; i < pods; ++i) cleanup << "netns del " << tag << "-p" << i << "\n";
  cleanup.close();
  run("ip -force -batch " + dir + "/cleanup.batch >/dev/null 2>&1");
  run("ip netns del " + node + "; ip netns del " + zt + "; umount -l " + dir + "; rmdir " + dir);
  return 0;
}
