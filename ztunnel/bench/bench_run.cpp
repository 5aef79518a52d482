// Benchmark orchestration: builds the namespaces, starts the server, HAProxy and two ztunnels,
// measures each path and prints one report with ratios and targets. Touches the kernel (via ip,
// nft and child processes) and must run as root.
#include "bench_run.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "bench_proc.h"
#include "bench_topology.h"
#include "cpu_bound.h"

namespace ztbench {
namespace {

struct Settings {
  std::string ztunnel;
  double seconds = 3;
  int runs = 3;
  int iterations = 20000;
  int idle = 10000;
  bool keep = false;
  std::string cpus = "none";
};

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f", v);
  return buf;
}

double field(const std::string& text, const std::string& key) {
  size_t at = text.find(key + " ");
  return at == std::string::npos ? -1 : std::atof(text.c_str() + at + key.size() + 1);
}

struct PathResult {
  std::string name;
  std::string target;  // "ip port" the client dials
  int hops = 0;        // proxies on the path
  double gbps = -1;
  double cpuNsPerByte = -1;  // CPU of client, server, proxies and softirq threads per byte
  double p50 = -1, p99 = -1;
  std::vector<Stage> stages;  // the path's processes: names, pins; nsPerByte = medians
  double softirqNsPerByte = -1;
  CpuBound bound;                    // medians over rounds
  double ofMax = -1, ofPlaced = -1;  // medians of each round's Gbit/s / that round's bound
};

double median(std::vector<double> v) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

const char* benchHelp() {
  return R"(ztunnel_bench - throughput, latency and memory of direct, HAProxy (TCP mode), two HAProxies
with TLS 1.3 between them, ztunnel plaintext (one ztunnel hop) and ztunnel HBONE (client and server
ztunnels) on the same namespaces.
Needs root, haproxy, nft, ip, taskset, openssl. CPU pinning (--cpus): by default ("none") nothing is
pinned, as on a node, where the scheduler places every process; "split" pins the client to CPU 0
and the server to CPU 1 and lets the proxies float; "proxy-core" puts client and server on CPU 0
and the proxies (the HAProxies, both ztunnels) on CPU 1. Each row also shows the path's CPU per
byte (its processes and the ksoftirqd threads), its CPU-bound max (no scheduling moves more: each
process of a single stream uses at most one CPU), the best placement's max (each process kept on
one CPU) and the fraction of each reached; see ztunnel/README.md.

Usage: ztunnel_bench [run] [--ztunnel PATH] [--seconds S] [--runs N] [--iterations N]
                     [--idle N] [--keep]
  --ztunnel PATH   ztunnel binary (default: ../ztunnel next to this program)
  --seconds S      duration of one throughput run (default 3)
  --runs N         interleaved rounds over all paths (default 3); medians are shown
  --iterations N   64-byte request/response round trips per path, split over the rounds
  --idle N         idle proxied connections for the memory figure (default 10000)
  --cpus MODE      "none" (default), "split" or "proxy-core", see above
  --keep           leave the namespaces (prefix zb<pid>) for inspection
Exit codes: 0 figures printed, 1 setup failed, 2 bad usage.)";
}

int runBenchmark(const std::vector<std::string>& args) {
  Settings s;
  std::string me = self();
  s.ztunnel = me.substr(0, me.rfind('/')) + "/../ztunnel";
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    bool takesValue = a == "--ztunnel" || a == "--seconds" || a == "--runs" ||
                      a == "--iterations" || a == "--idle" || a == "--cpus";
    if (!takesValue && a != "--keep")
      return std::fprintf(stderr, "unknown argument %s (see --help)\n", a.c_str()), 2;
    if (takesValue && i + 1 >= args.size())
      return std::fprintf(stderr, "%s needs a value (see --help)\n", a.c_str()), 2;
    std::string v = takesValue ? args[++i] : "";
    char* end = nullptr;
    double num = takesValue ? std::strtod(v.c_str(), &end) : 0;
    bool numeric = takesValue && !v.empty() && *end == '\0' && num >= 0;
    if (a == "--ztunnel") {
      s.ztunnel = v;
    } else if (a == "--keep") {
      s.keep = true;
    } else if (a == "--cpus") {
      s.cpus = v;
      if (s.cpus != "split" && s.cpus != "proxy-core" && s.cpus != "none")
        return std::fprintf(stderr, "--cpus: split, proxy-core or none, not '%s'\n",
                            s.cpus.c_str()),
               2;
    } else if (!numeric) {
      return std::fprintf(stderr, "%s: '%s' is not a number\n", a.c_str(), v.c_str()), 2;
    } else if (a == "--seconds") {
      s.seconds = num;
    } else if (a == "--runs") {
      s.runs = static_cast<int>(num);
    } else if (a == "--iterations") {
      s.iterations = static_cast<int>(num);
    } else {
      s.idle = static_cast<int>(num);
    }
  }
  if (geteuid() != 0) return std::fprintf(stderr, "ztunnel_bench needs root (namespaces)\n"), 1;
  // Children inherit the highest fd limit we may set; a transparent proxy spends two fds per
  // plaintext connection, so the plaintext idle count is capped by it (reported when it bites).
  rlimit nofile{};
  getrlimit(RLIMIT_NOFILE, &nofile);
  nofile.rlim_cur = nofile.rlim_max;
  setrlimit(RLIMIT_NOFILE, &nofile);
  int idlePlain = std::min<int>(s.idle, static_cast<int>((nofile.rlim_cur - 64) / 2));
  s.runs = std::max(1, s.runs);
  std::string prefix = "zb" + std::to_string(getpid());
  std::string dir = "/tmp/" + prefix;
  std::vector<pid_t> children;
  auto cleanup = [&] {
    for (pid_t p : children) kill(p, SIGTERM);
    for (pid_t p : children) waitpid(p, nullptr, 0);
    if (!s.keep) {
      std::system(
          ("for ns in c a b s; do ip netns del " + prefix + "-$ns 2>/dev/null; done; rm -rf " + dir)
              .c_str());
    }
  };
  std::system(("mkdir -p " + dir).c_str());
  std::ofstream(dir + "/topology.sh") << kTopologyScript;
  std::ofstream(dir + "/config.json") << kConfigJson;
  std::ofstream(dir + "/haproxy.cfg") << kHaproxyConfig;
  std::string tlsServer = kHaproxyTlsServerConfig;
  tlsServer.replace(tlsServer.find("@CERT@"), 6, dir + "/haproxy-b.pem");
  std::ofstream(dir + "/haproxy-b.cfg") << tlsServer;
  std::string ca =
      "cd " + dir +
      " && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca-key.pem "
      "2>/dev/null && "
      "openssl req -x509 -new -key ca-key.pem -out ca-cert.pem -days 2 -subj /O=bench-ca "
      "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null "
      "&& "
      "openssl req -x509 -new -key ca-key.pem -out haproxy-b-cert.pem -days 2 -subj /CN=haproxy-b "
      "2>/dev/null && "
      "cat haproxy-b-cert.pem ca-key.pem > haproxy-b.pem";
  if (std::system(("P=" + prefix + " bash " + dir + "/topology.sh").c_str()) != 0 ||
      std::system(ca.c_str()) != 0) {
    std::fprintf(stderr, "setup failed (see above)\n");
    cleanup();
    return 1;
  }
  auto ns = [&](const std::string& n) {
    return std::vector<std::string>{"ip", "netns", "exec", prefix + "-" + n};
  };
  auto concat = [](std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  using Argv = std::vector<std::string>;
  auto pin = [](const char* cpu) { return Argv{"taskset", "-c", cpu}; };
  bool split = s.cpus == "split", proxyCore = s.cpus == "proxy-core";
  Argv clientCpu = split || proxyCore ? pin("0") : Argv{};
  Argv serverCpu = split ? pin("1") : proxyCore ? pin("0") : Argv{};
  Argv proxyCpu = proxyCore ? pin("1") : Argv{};
  children.push_back(
      spawn(concat(ns("s"), concat(serverCpu, {me, "serve", "5201"})), dir + "/server.log"));
  children.push_back(
      spawn(concat(ns("a"), concat(proxyCpu, {"haproxy", "-db", "-f", dir + "/haproxy.cfg"})),
            dir + "/haproxy.log"));
  children.push_back(
      spawn(concat(ns("b"), concat(proxyCpu, {"haproxy", "-db", "-f", dir + "/haproxy-b.cfg"})),
            dir + "/haproxy-b.log"));
  std::vector<std::string> zt = {s.ztunnel,     "--config", dir + "/config.json", "--dev-ca", dir,
                                 "--log-level", "warn"};
  pid_t zta = spawn(concat(ns("a"), concat(proxyCpu, concat(zt, {"--node", "node-a"}))),
                    dir + "/ztunnel-a.log");
  pid_t ztb = spawn(concat(ns("b"), concat(proxyCpu, concat(zt, {"--node", "node-b"}))),
                    dir + "/ztunnel-b.log");
  children.push_back(zta);
  children.push_back(ztb);
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  long freshA = rssKb(zta), freshB = rssKb(ztb);
  std::string nsc = "ip netns exec " + prefix + "-c " + (clientCpu.empty() ? "" : "taskset -c 0 ") +
                    me + " client ";

  // Memory first, on fresh processes: later bulk runs leave freed heap that would hide growth.
  long idleRss = rssKb(zta);
  auto active = [&](const std::string& n) {
    std::string m =
        capture("ip netns exec " + prefix + "-" + n + " curl -s http://127.0.0.1:15020/metrics");
    return static_cast<long>(field(m, "\nztunnel_active_connections"));
  };
  long activeA = 0, activeB = 0;
  auto holdIdle = [&](const char* target, int count, long* rssA, long* rssB) {
    std::string log = dir + "/idle.log";
    pid_t holder =
        spawn(concat(ns("c"), {me, "client", "I", std::string(target).substr(0, 9),
                               std::string(target).substr(10), std::to_string(count), "6"}),
              log);
    for (int t = 0; t < 600; ++t) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      std::ifstream in(log);
      std::string text((std::istreambuf_iterator<char>(in)), {});
      if (text.find("held") != std::string::npos) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    *rssA = rssKb(zta);
    *rssB = rssKb(ztb);
    activeA = active("a");
    activeB = active("b");
    waitpid(holder, nullptr, 0);
    std::ifstream in(log);
    std::string text((std::istreambuf_iterator<char>(in)), {});
    return static_cast<long>(field(text, "held"));
  };
  long plainA = 0, plainB = 0, hboneA = 0, hboneB = 0;
  long idleRssB = rssKb(ztb);
  long heldPlain = holdIdle("10.96.0.1 5201", idlePlain, &plainA, &plainB);
  long activePlainA = activeA;
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  long afterPlain = rssKb(zta);
  long heldHbone = holdIdle("10.96.0.2 5201", s.idle, &hboneA, &hboneB);

  // haproxy-tls is the reference for HBONE: two HAProxies with TLS 1.3 (AES-128-GCM) between them.
  std::vector<PathResult> results = {{"direct", "10.88.2.2 5201", 0},
                                     {"haproxy", "10.88.1.1 7000", 1},
                                     {"haproxy-tls", "10.88.1.1 7001", 2},
                                     {"ztunnel-plain", "10.96.0.1 5201", 1},
                                     {"ztunnel-hbone", "10.96.0.2 5201", 2}};
  // The processes of each path, in the order the bytes cross them, with their CPU pins. One
  // stream runs on one thread of each, so each process can use at most one CPU.
  pid_t server = children[0], haproxyA = children[1], haproxyB = children[2];
  int clientPin = split || proxyCore ? 0 : -1, serverPin = split ? 1 : proxyCore ? 0 : -1;
  int proxyPin = proxyCore ? 1 : -1;
  struct Proc {
    std::string name;
    pid_t pid;  // 0: the client (a waited-for child)
    int cpu;
  };
  std::vector<std::vector<Proc>> procs = {
      {{"client", 0, clientPin}, {"server", server, serverPin}},
      {{"client", 0, clientPin}, {"haproxy-a", haproxyA, proxyPin}, {"server", server, serverPin}},
      {{"client", 0, clientPin},
       {"haproxy-a", haproxyA, proxyPin},
       {"haproxy-b", haproxyB, proxyPin},
       {"server", server, serverPin}},
      {{"client", 0, clientPin}, {"ztunnel-a", zta, proxyPin}, {"server", server, serverPin}},
      {{"client", 0, clientPin},
       {"ztunnel-a", zta, proxyPin},
       {"ztunnel-b", ztb, proxyPin},
       {"server", server, serverPin}}};
  std::vector<pid_t> softirq = softirqThreads();
  auto procCpu = [&](const Proc& p) { return p.pid ? cpuSeconds(p.pid) : childrenCpuSeconds(); };
  auto softirqCpu = [&] {
    double t = 0;
    for (pid_t p : softirq) t += cpuSeconds(p);
    return t;
  };
  long cpus = std::max(1L, sysconf(_SC_NPROCESSORS_ONLN));
  // Paths take turns within each round, so a change of background load hits all of them alike.
  // CPU per byte (every process of the path; the others are idle meanwhile) shows the cost of a
  // path independently of how much CPU background load leaves to the benchmark; each round's
  // throughput is compared with the bound computed from that same round's CPU.
  struct Round {
    double gbps, total, softirq, ofMax, ofPlaced, max, placed;
    std::vector<double> stage;
  };
  std::vector<std::vector<Round>> rounds(results.size());
  for (int r = 0; r < s.runs; ++r)
    for (size_t i = 0; i < results.size(); ++i) {
      std::vector<double> before;
      for (const Proc& p : procs[i]) before.push_back(procCpu(p));
      double softBefore = softirqCpu();
      std::string out = capture(nsc + "T " + results[i].target + " " + std::to_string(s.seconds));
      double bytes = field(out, "bytes"), gbps = field(out, "gbps");
      Round round{gbps, -1, -1, -1, -1, -1, -1, {}};
      std::vector<Stage> stages;
      double total = 0;
      for (size_t k = 0; k < procs[i].size(); ++k) {
        double ns = bytes > 0 ? (procCpu(procs[i][k]) - before[k]) / bytes * 1e9 : -1;
        round.stage.push_back(ns);
        stages.push_back({procs[i][k].name, ns, procs[i][k].cpu});
        total += ns;
      }
      round.softirq = bytes > 0 ? (softirqCpu() - softBefore) / bytes * 1e9 : -1;
      round.total = bytes > 0 ? total + round.softirq : -1;
      CpuBound b = computeCpuBound(stages, round.softirq, static_cast<int>(cpus));
      round.max = b.maxGbps > 0 ? b.maxGbps : -1;
      round.placed = b.placedGbps > 0 ? b.placedGbps : -1;
      round.ofMax = b.maxGbps > 0 ? gbps / b.maxGbps : -1;
      round.ofPlaced = b.placedGbps > 0 ? gbps / b.placedGbps : -1;
      rounds[i].push_back(round);
    }
  for (size_t i = 0; i < results.size(); ++i) {
    PathResult& res = results[i];
    auto med = [&](double Round::*f) {
      std::vector<double> v;
      for (const Round& r : rounds[i]) v.push_back(r.*f);
      return median(v);
    };
    res.gbps = med(&Round::gbps);
    res.cpuNsPerByte = med(&Round::total);
    res.softirqNsPerByte = med(&Round::softirq);
    res.ofMax = med(&Round::ofMax);
    res.ofPlaced = med(&Round::ofPlaced);
    for (size_t k = 0; k < procs[i].size(); ++k) {
      std::vector<double> v;
      for (const Round& r : rounds[i]) v.push_back(r.stage[k]);
      res.stages.push_back({procs[i][k].name, median(v), procs[i][k].cpu});
    }
    res.bound = computeCpuBound(res.stages, res.softirqNsPerByte, static_cast<int>(cpus));
    res.bound.maxGbps = med(&Round::max);
    res.bound.placedGbps = med(&Round::placed);
  }
  std::vector<std::vector<double>> p50s(results.size()), p99s(results.size());
  for (int r = 0; r < s.runs; ++r)
    for (size_t i = 0; i < results.size(); ++i) {
      std::string lat =
          capture(nsc + "L " + results[i].target + " " + std::to_string(s.iterations / s.runs));
      p50s[i].push_back(field(lat, "p50"));
      p99s[i].push_back(field(lat, "p99"));
    }
  for (size_t i = 0; i < results.size(); ++i) {
    std::sort(p50s[i].begin(), p50s[i].end());
    std::sort(p99s[i].begin(), p99s[i].end());
    results[i].p50 = p50s[i][p50s[i].size() / 2];
    results[i].p99 = p99s[i][p99s[i].size() / 2];
  }

  const PathResult& d = results[0];
  const PathResult& h = results[1];
  const PathResult& ht = results[2];
  const PathResult& zp = results[3];
  const PathResult& zh = results[4];
  std::printf(
      "\nztunnel_bench (single stream, 64-byte request/response; CPUs: %s;\n"
      "medians of %d interleaved rounds of %.1f s and %d round trips)\n",
      split       ? "client 0, server 1, proxies unpinned"
      : proxyCore ? "client+server 0, proxies 1"
                  : "nothing pinned",
      s.runs, s.seconds, s.iterations / s.runs);
  std::printf("%-15s %8s %8s %8s %8s %8s %11s %8s %14s %6s %14s %6s\n", "path", "Gbit/s",
              "x direct", "p50 us", "p99 us", "+p50 us", "+p50/hop us", "CPU ns/B", "CPU-bound max",
              "of it", "placed max", "of it");
  for (const PathResult& r : results) {
    double added = r.p50 - d.p50;
    std::printf(
        "%-15s %8.2f %8.2f %8.1f %8.1f %8.1f %11.1f %8.2f %9.1f Gb/s %5.2fx %9.1f Gb/s %5.2fx\n",
        r.name.c_str(), r.gbps, r.gbps / d.gbps, r.p50, r.p99, added, r.hops ? added / r.hops : 0.0,
        r.cpuNsPerByte, r.bound.maxGbps, r.ofMax, r.bound.placedGbps, r.ofPlaced);
  }
  std::printf(
      "\nCPU ns/B by process (medians; one stream uses one thread, at most one CPU, of each):\n");
  for (const PathResult& r : results) {
    std::printf("  %-15s", r.name.c_str());
    for (const Stage& st : r.stages) std::printf(" %s %.2f", st.name.c_str(), st.nsPerByte);
    std::printf(", ksoftirqd %.2f; best placement: %s\n", r.softirqNsPerByte,
                r.bound.placement.c_str());
  }
  std::printf(
      "(CPU-bound max = min(%ld CPUs / CPU ns/B, 1 / the busiest process's ns/B): no scheduling\n"
      " moves more; placed max = each process kept on one CPU, the best such placement, which is\n"
      " what Linux does with busy processes; \"of it\" = each round's Gbit/s / that round's "
      "bound)\n",
      cpus);
  auto verdict = [](bool ok) { return ok ? "met" : "MISSED"; };
  auto reachable = [&](const PathResult& r, double ratio) {
    double most = r.bound.maxGbps / d.gbps;
    return most < ratio ? "; at most " + fmt(most) + "x on this machine, see CPU-bound max"
                        : std::string();
  };
  std::printf("\ntargets:\n");
  std::printf("  plaintext >= 0.85x direct      : %.2fx  %s%s\n", zp.gbps / d.gbps,
              verdict(zp.gbps >= 0.85 * d.gbps), reachable(zp, 0.85).c_str());
  std::printf("  plaintext >= 1.3x HAProxy      : %.2fx  %s\n", zp.gbps / h.gbps,
              verdict(zp.gbps >= 1.3 * h.gbps));
  std::printf("  HBONE >= 0.5x direct           : %.2fx  %s%s\n", zh.gbps / d.gbps,
              verdict(zh.gbps >= 0.5 * d.gbps), reachable(zh, 0.5).c_str());
  std::printf("  plaintext +p50/hop <= HAProxy  : %.1f vs %.1f us  %s\n", zp.p50 - d.p50,
              h.p50 - d.p50, verdict(zp.p50 - d.p50 <= h.p50 - d.p50));
  std::printf("  plaintext >= 0.85x its CPU-bound max : %.2fx  %s; best placement allows %.2fx\n",
              zp.ofMax, verdict(zp.ofMax >= 0.85), zp.bound.placedGbps / zp.bound.maxGbps);
  std::printf("  HBONE >= 0.85x its CPU-bound max     : %.2fx  %s; best placement allows %.2fx\n",
              zh.ofMax, verdict(zh.ofMax >= 0.85), zh.bound.placedGbps / zh.bound.maxGbps);
  std::printf("  HBONE >= 1.3x HAProxy TLS tunnel     : %.2fx  %s\n", zh.gbps / ht.gbps,
              verdict(zh.gbps >= 1.3 * ht.gbps));
  std::printf("control (not a target):\n");
  std::printf("  direct, of its CPU-bound max         : %.2fx%s\n", d.ofMax,
              d.ofMax < 0.85 ? "  (two processes on their own CPUs fell short: background load "
                               "or placement held every path back in this run)"
                             : "");
  std::printf("reference (not a target):\n");
  std::printf(
      "  HBONE vs HAProxy TLS tunnel    : %.2fx throughput, %.2fx CPU per byte, +p50 %.1f vs %.1f "
      "us\n",
      zh.gbps / ht.gbps, zh.cpuNsPerByte / ht.cpuNsPerByte, zh.p50 - d.p50, ht.p50 - d.p50);
  double perConnPlain =
      activePlainA > 0 ? (plainA - idleRss) * 1024.0 / static_cast<double>(activePlainA) : -1;
  double perConnHbone = activeA > 0 ? ((hboneA - afterPlain) + (hboneB - idleRssB)) * 1024.0 /
                                          static_cast<double>(activeA)
                                    : -1;
  double perStreamB =
      activeB > 0 ? (hboneB - idleRssB) * 1024.0 / static_cast<double>(activeB) : -1;
  std::printf("\nmemory (ztunnel VmRSS):\n");
  std::printf("  ztunnel idle at start          : A %ld KB, B %ld KB\n", freshA, freshB);
  std::printf("  ztunnel idle after all runs    : A %ld KB, B %ld KB\n", rssKb(zta), rssKb(ztb));
  std::printf(
      "  idle plaintext: client held %ld, ztunnel A proxied %ld : A %ld KB -> %.0f "
      "bytes/connection  %s (< 4096)\n",
      heldPlain, activePlainA, plainA, perConnPlain,
      verdict(perConnPlain >= 0 && perConnPlain < 4096));
  if (idlePlain < s.idle)
    std::printf(
        "    (plaintext count capped at %d: fd hard limit %llu, two fds per proxied connection)\n",
        idlePlain, static_cast<unsigned long long>(nofile.rlim_max));
  std::printf(
      "  idle HBONE: client held %ld, streams A %ld / B %ld : A %ld KB, B %ld KB -> %.0f "
      "bytes/stream (A+B; B alone %.0f)  %s\n",
      heldHbone, activeA, activeB, hboneA, hboneB, perConnHbone, perStreamB,
      verdict(perConnHbone >= 0 && perConnHbone < 4096));
  cleanup();
  return 0;
}

}  // namespace ztbench
