// Throwaway network namespaces and shell helpers for the kernel tests. Every namespace is
// created fresh per test case and deleted when the fixture goes out of scope; every process
// started is killed by its PID. Touches the kernel.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <string>
#include <vector>

#include "common/core/compute_plan.h"
#include "common/core/reconcile.h"
#include "common/sys/linux_kernel.h"
#include "common/sys/sysctl_ledger_store.h"

namespace ambient::testing {

struct CmdResult {
  int rc = -1;
  std::string out;
};

// Runs a shell command, capturing stdout and stderr.
inline CmdResult sh(const std::string& cmd) {
  CmdResult r;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int status = pclose(p);
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// Runs a command that must succeed.
inline std::string must(const std::string& cmd) {
  auto r = sh(cmd);
  INFO(cmd << "\n" << r.out);
  REQUIRE(r.rc == 0);
  return r.out;
}

inline std::string uniqueName(const std::string& role) {
  static int counter = 0;
  return "amb" + std::to_string(getpid() % 100000) + "-" + std::to_string(++counter) + "-" + role;
}

class TestNetns {
 public:
  explicit TestNetns(const std::string& role) : name_(uniqueName(role)) {
    must("ip netns add " + name_);
    must("ip -n " + name_ + " link set lo up");
  }
  ~TestNetns() {
    if (!name_.empty()) sh("ip netns del " + name_);
  }
  TestNetns(const TestNetns&) = delete;
  TestNetns& operator=(const TestNetns&) = delete;

  const std::string& name() const { return name_; }
  std::string path() const { return "/var/run/netns/" + name_; }
  std::string exec(const std::string& cmd) const { return "ip netns exec " + name_ + " " + cmd; }
  std::string ip(const std::string& args) const { return "ip -n " + name_ + " " + args; }
  // Deletes it now (to test a namespace that vanished).
  void remove() {
    sh("ip netns del " + name_);
    name_.clear();
  }

 private:
  std::string name_;
};

// A background process started with `sh -c`, killed by PID on destruction. Its output goes to
// a log file that tests can read.
class Background {
 public:
  explicit Background(const std::string& cmd) : log_("/tmp/" + uniqueName("bg") + ".log") {
    pid_ = fork();
    if (pid_ == 0) {
      setpgid(0, 0);
      execl("/bin/sh", "sh", "-c", ("exec " + cmd + " >" + log_ + " 2>&1").c_str(), nullptr);
      _exit(127);
    }
  }
  ~Background() {
    if (pid_ > 0) {
      kill(-pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    unlink(log_.c_str());
  }
  std::string log() const { return must("cat " + log_); }
  void signal(int sig) {
    if (pid_ > 0) kill(pid_, sig);
  }
  // SIGTERM, then waits for the exit; returns the exit code (-1 if killed by a signal).
  int terminate() {
    if (pid_ <= 0) return -1;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  // Waits until the log contains `text` (bounded).
  bool waitFor(const std::string& text, int ms = 5000) const {
    for (int waited = 0; waited < ms; waited += 20) {
      if (sh("cat " + log_).out.find(text) != std::string::npos) return true;
      usleep(20 * 1000);
    }
    return false;
  }

 private:
  std::string log_;
  pid_t pid_ = -1;
};

// A temporary sysctl ledger file.
struct TempLedger {
  std::string path = "/tmp/" + uniqueName("ledger") + ".json";
  SysctlLedgerStore store = *SysctlLedgerStore::load(path);
  ~TempLedger() {
    unlink(path.c_str());
    unlink((path + ".journal").c_str());
  }
};

// The tunnel kind this kernel supports (geneve in the test VM, vxlan on the build machines).
inline TunnelKind kernelTunnelKind() {
  static TunnelKind kind = [] {
    auto c = chooseTunnelKind(TunnelMode::kAuto);
    REQUIRE(c);
    return c->kind;
  }();
  return kind;
}

}  // namespace ambient::testing
