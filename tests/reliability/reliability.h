// Shared by the reliability tests: trial counts from AMBIENT_TRIALS, one result row per test
// appended to AMBIENT_RELIABILITY_REPORT for scripts/reliability.sh, a batch of pod namespaces,
// and process figures from /proc. Touches the kernel and files.
#pragma once

#include <dirent.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include "agent_harness.h"

namespace ambient::testing {

// The number of trials: AMBIENT_TRIALS when set, else `fallback` (the short CI setting).
inline int trials(int fallback) {
  const char* v = std::getenv("AMBIENT_TRIALS");
  int n = v ? std::atoi(v) : 0;
  return n > 0 ? n : fallback;
}

// A duration in seconds: AMBIENT_SECONDS when set, else `fallback`.
inline int seconds(int fallback) {
  const char* v = std::getenv("AMBIENT_SECONDS");
  int n = v ? std::atoi(v) : 0;
  return n > 0 ? n : fallback;
}

// A seed that changes per run (printed, and AMBIENT_SEED repeats a run).
inline uint32_t seed() {
  static uint32_t s = [] {
    const char* v = std::getenv("AMBIENT_SEED");
    uint32_t x = v ? uint32_t(std::strtoul(v, nullptr, 10)) : std::random_device{}();
    std::fprintf(stderr, "AMBIENT_SEED=%u\n", x);
    return x;
  }();
  return s;
}

// One row of the table: "row<TAB>trials<TAB>passed<TAB>figure". Written before the final
// assertions, so a failing test still reports how far it got.
inline void report(const std::string& row, int trialCount, int passed, const std::string& figure) {
  const char* path = std::getenv("AMBIENT_RELIABILITY_REPORT");
  std::string line = row + "\t" + std::to_string(trialCount) + "\t" + std::to_string(passed) +
                     "\t" + figure + "\n";
  std::fputs(("FIGURE " + line).c_str(), stderr);
  if (path) std::ofstream(path, std::ios::app) << line;
}

// Open descriptors and resident memory (KiB) of a process.
inline int fdCount(pid_t pid) {
  int n = 0;
  DIR* d = opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
  if (!d) return -1;
  while (dirent* e = readdir(d)) n += e->d_name[0] != '.';
  closedir(d);
  return n;
}
inline long rssKiB(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  long value = -1;
  while (in >> key) {
    if (key == "VmRSS:") {
      in >> value;
      break;
    }
    in.ignore(4096, '\n');
  }
  return value;
}
// The PID of the process whose command line contains `needle` (our own agent: its state dir
// is unique to the test).
inline pid_t findPid(const std::string& needle) {
  auto r = sh("pgrep -f -o -- '" + needle + "'");
  return r.rc == 0 ? pid_t(std::atoi(r.out.c_str())) : -1;
}

// `count` pod network namespaces "<prefix><i>", each with eth0 whose node end is "<veth><i>" in
// the node namespace and address 10.244.<octet>.<i+1>; with setDualStack(), every even pod
// also has fd00:10:244:<octet>::<i+1> (issue 20). Deleted on destruction.
class PodBatch {
 public:
  PodBatch(NodeTopology& t, int count, int octet, const std::string& veth = "vr")
      : prefix_(uniqueName("rp")), count_(count), octet_(octet), veth_(veth) {
    std::string nsBatch, batch;
    for (int i = 0; i < count; ++i) {
      nsBatch += "netns add " + ns(i) + "\n";
      batch += "link add " + hostVeth(i) + " type veth peer name eth0 netns " + ns(i) + "\n";
    }
    writeAndRun("ip -batch ", nsBatch);
    writeAndRun(t.node.ip("-batch "), batch);
  }
  ~PodBatch() {
    std::string cleanup;
    for (int i = 0; i < count_; ++i) cleanup += "netns del " + ns(i) + "\n";
    writeAndRun("ip -force -batch ", cleanup, false);
  }
  std::string ns(int i) const { return prefix_ + "-" + std::to_string(i); }
  std::string path(int i) const { return "/var/run/netns/" + ns(i); }
  std::string hostVeth(int i) const { return veth_ + std::to_string(i); }
  std::string ip(int i) const {
    return "10.244." + std::to_string(octet_) + "." + std::to_string(i + 1);
  }
  // Dual-stack pods: every even one when setDualStack() was called (the ztunnel registered
  // with registerDualStackZtunnel), none otherwise.
  void setDualStack() { dualStack_ = true; }
  bool dual(int i) const { return dualStack_ && i % 2 == 0; }
  int dualCount() const { return dualStack_ ? (count_ + 1) / 2 : 0; }
  std::string ip6(int i) const {
    return "fd00:10:244:" + std::to_string(octet_) + "::" + std::to_string(i + 1);
  }
  PodRequest add(int i, const std::string& podNs = "foo") const {
    PodRequest r = podAdd(podNs, "p" + prefix_ + "-" + std::to_string(i), path(i), ip(i));
    if (dual(i)) r.ips.push_back(*IpAddress::parse(ip6(i)));
    return r;
  }
  int size() const { return count_; }

 private:
  static void writeAndRun(const std::string& cmd, const std::string& text, bool required = true) {
    std::string file = "/tmp/" + uniqueName("batch");
    std::ofstream(file) << text;
    if (required)
      must(cmd + file);
    else
      sh(cmd + file);
    unlink(file.c_str());
  }
  std::string prefix_;
  int count_;
  int octet_;
  std::string veth_;
  bool dualStack_ = false;
};

// Members of the node's enrolled_pods set: of `ip ambient_redirect` (dotted quads) or, with
// family "ip6", of `ip6 ambient_redirect`.
inline std::set<std::string> enrolledSet(const TestNetns& node, const std::string& family = "ip") {
  std::set<std::string> out;
  auto r = sh(node.exec("nft -j list set " + family + " ambient_redirect enrolled_pods"));
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  if (!j.is_object()) return out;
  for (const auto& item : j["nftables"]) {
    if (!item.contains("set")) continue;
    for (const auto& e : item["set"].value("elem", nlohmann::json::array())) {
      if (e.is_string()) out.insert(e.get<std::string>());
    }
  }
  return out;
}

// The enrolled pods' routes in table 100 (the inbound table, "<ip> via ... dev istioin"):
// their IPv4 /32s or, with "-6", IPv6 /128s (ip prints both without the prefix length).
inline std::set<std::string> inboundRoutes(const TestNetns& node, const std::string& family = "") {
  std::set<std::string> out;
  std::istringstream lines(sh(node.ip(family + " route show table 100")).out);
  for (std::string line; std::getline(lines, line);) {
    if (line.find(" dev istioin") != std::string::npos) out.insert(line.substr(0, line.find(' ')));
  }
  return out;
}

// Polls `pred` up to `tries` times, 100 ms apart, until it holds. For checks of a settled
// kernel: a pass applies the nft batch and the routes in separate steps, so a reader between
// them sees one without the other for a moment.
template <class Pred>
bool eventually(Pred pred, int tries = 30) {
  for (int i = 0; i < tries; ++i) {
    if (pred()) return true;
    usleep(100 * 1000);
  }
  return false;
}

// ztunnel's IPv6 address on a dual-stack test node (its IPv4 is kZtunnelIp).
inline constexpr const char* kZtunnelIp6 = "fd00:10:244:1::3";

// The ztunnel pod's ADD with both its addresses, as on a dual-stack node; true when the agent
// registered it (ztunnel itself is never enrolled).
inline bool registerDualStackZtunnel(const AgentHarness& h, const NodeTopology& t) {
  PodRequest z = ztunnelAdd(t.zt.path(), kZtunnelIp);
  z.ips.push_back(*IpAddress::parse(kZtunnelIp6));
  auto r = h.send(z);
  return r && r->verdict == PodVerdict::kNotAmbient;
}

// A pod's addresses as strings: its IPv4 and, when dual-stack, its IPv6 (else empty).
struct PodIps {
  std::string v4, v6;
};
inline std::vector<PodIps> podIps(const PodBatch& pods) {
  std::vector<PodIps> out;
  for (int i = 0; i < pods.size(); ++i)
    out.push_back({pods.ip(i), pods.dual(i) ? pods.ip6(i) : ""});
  return out;
}

// The pods enrolled in one family but not the other, or in a set without their table 100
// route (or the reverse): "10.244.5.1 v4 set 1 route 1, v6 set 0 route 0; " each; empty when
// every pod is wholly in or wholly out.
inline std::string halfEnrolled(const TestNetns& node, const std::vector<PodIps>& pods) {
  auto set4 = enrolledSet(node), set6 = enrolledSet(node, "ip6");
  auto route4 = inboundRoutes(node), route6 = inboundRoutes(node, "-6");
  std::string out;
  for (const PodIps& p : pods) {
    bool s4 = set4.count(p.v4), r4 = route4.count(p.v4);
    bool s6 = set6.count(p.v6), r6 = route6.count(p.v6);
    bool whole = s4 == r4 && (p.v6.empty() || (s6 == s4 && r6 == s4));
    if (!whole) {
      out += p.v4 + " v4 set " + std::to_string(s4) + " route " + std::to_string(r4) + ", v6 set " +
             std::to_string(s6) + " route " + std::to_string(r6) + "; ";
    }
  }
  return out;
}
inline std::string halfEnrolled(const TestNetns& node, const PodBatch& pods) {
  return halfEnrolled(node, podIps(pods));
}

}  // namespace ambient::testing
