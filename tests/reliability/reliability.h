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
// the node namespace and address 10.244.<octet>.<i+1>. Deleted on destruction.
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
  PodRequest add(int i, const std::string& podNs = "foo") const {
    return podAdd(podNs, "p" + prefix_ + "-" + std::to_string(i), path(i), ip(i));
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
};

// Members of the node's enrolled_pods set (dotted quads).
inline std::set<std::string> enrolledSet(const TestNetns& node) {
  std::set<std::string> out;
  auto r = sh(node.exec("nft -j list set ip ambient_redirect enrolled_pods"));
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

}  // namespace ambient::testing
