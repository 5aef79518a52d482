// ambient-cni-install's run: install pass, watch loop, uninstall. Touches files and signals.
#include "cni-plugin/sys/installer.h"

#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>

#include "cni-plugin/core/invocation_log.h"
#include "cni-plugin/core/lookup_reply.h"
#include "cni-plugin/sys/conf_dir.h"

namespace ambient::cni {
namespace {

void logLine(const char* level, const std::string& msg, const nlohmann::json& fields = {}) {
  using namespace std::chrono;
  nlohmann::ordered_json j;
  j["time"] =
      renderUtcTime(duration_cast<microseconds>(system_clock::now().time_since_epoch()).count());
  j["level"] = level;
  j["msg"] = msg;
  if (fields.is_object())
    for (const auto& [k, v] : fields.items()) j[k] = v;
  std::fprintf(stderr, "%s\n",
               j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
}

int exitCodeOf(const Error& e) {
  if (e.isNotFound()) return kInstallExitNoPrimary;
  if (e.code == ErrorCode::kInvalidInput) return kInstallExitCannotEdit;
  return kInstallExitIo;
}

Result<std::optional<InstallState>> readState(const std::string& dir) {
  auto text = readFileIfExists(dir + "/" + kInstallStateFile);
  if (!text) return fail(text.error());
  if (!*text) return std::optional<InstallState>{};
  auto s = parseInstallState(**text);
  // A state file we cannot read would lose the recorded originals if overwritten: stop.
  if (!s) return fail(ErrorCode::kIo, s.error().context + " in " + dir + " (fix or remove it)");
  return std::optional<InstallState>{*s};
}

class Installer {
 public:
  explicit Installer(const InstallOptions& o) : o_(o) {}

  // One level-triggered pass: read, plan, apply. Logs only what changed since the last pass.
  Status pass() {
    auto state = readState(o_.confDir);
    if (!state) return fail(state.error());
    auto files = readConfDir(o_.confDir);
    if (!files) return fail(files.error());
    auto plan = computeInstall(*files, *state, ambientEntryOf(o_), binaryPath_, o_.confDir);
    if (!plan) return fail(plan.error());
    std::set<std::string> warnings(plan->warnings.begin(), plan->warnings.end());
    for (const auto& w : warnings)
      if (!warned_.count(w)) logLine("warn", w, {{"dir", o_.confDir}});
    warned_ = warnings;
    if (plan->changes.empty()) return {};
    if (auto st = applyEditPlan(o_.confDir, *plan); !st) return st;
    logLine("info", "ambient-cni is last in the primary CNI config",
            {{"dir", o_.confDir}, {"primary", plan->primary}, {"files", changedNames(*plan)}});
    return {};
  }

  int installOnce() {
    if (auto st = copyBinary(); !st) return fatal(st.error());
    auto st = pass();
    return st ? kInstallExitOk : fatal(st.error());
  }

  int watch() {
    if (auto st = copyBinary(); !st) return fatal(st.error());
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    if (sigprocmask(SIG_BLOCK, &set, nullptr) != 0)
      return fatal(Error{ErrorCode::kIo, errno, "block signals"});
    int sfd = ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    int ifd = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (sfd < 0 || ifd < 0) return fatal(Error{ErrorCode::kIo, errno, "signalfd/inotify_init1"});
    constexpr uint32_t kMask = IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM |
                               IN_DELETE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF;
    if (::inotify_add_watch(ifd, o_.confDir.c_str(), kMask) < 0)
      return fatal(Error{ErrorCode::kIo, errno, "watch CNI config directory " + o_.confDir});
    logLine("info", "watching the CNI config directory", {{"dir", o_.confDir}});
    std::string lastProblem;
    for (;;) {
      auto st = pass();
      std::string problem = st ? "" : st.error().message();
      if (problem != lastProblem) {
        if (!st && st.error().isNotFound())
          logLine("info", "waiting for a primary CNI config",
                  {{"dir", o_.confDir}, {"reason", problem}});
        else if (!st)
          logLine("error", problem,
                  {{"dir", o_.confDir}, {"exitCodeWithoutWatch", exitCodeOf(st.error())}});
        lastProblem = problem;
      }
      // Resync now and then even without events (level-triggered); sooner after an error.
      int timeoutMs = st ? 60000 : 5000;
      pollfd fds[2] = {{sfd, POLLIN, 0}, {ifd, POLLIN, 0}};
      int n = ::poll(fds, 2, timeoutMs);
      if (n < 0 && errno != EINTR) return fatal(Error{ErrorCode::kIo, errno, "poll"});
      if (fds[0].revents & POLLIN) {
        logLine("info", "stopping on signal; the ambient-cni entry stays in place");
        return kInstallExitOk;
      }
      if (fds[1].revents & POLLIN) {
        // A writer may still be busy: wait until the directory is quiet for 100 ms (max 2 s).
        drain(ifd);
        for (int i = 0; i < 20 && ::poll(&fds[1], 1, 100) > 0; ++i) drain(ifd);
      }
    }
  }

  int uninstall() {
    auto state = readState(o_.confDir);
    if (!state) return fatal(state.error());
    auto files = readConfDir(o_.confDir);
    if (!files) return fatal(files.error());
    auto plan = computeUninstall(*files, *state);
    if (!plan) return fatal(plan.error());
    for (const auto& w : plan->warnings) logLine("warn", w, {{"dir", o_.confDir}});
    if (auto st = applyEditPlan(o_.confDir, *plan); !st) return fatal(st.error());
    if (!plan->removeBinary.empty()) {
      auto slash = plan->removeBinary.rfind('/');
      std::string dir = slash == std::string::npos ? "." : plan->removeBinary.substr(0, slash);
      if (auto st = removeFile(dir, plan->removeBinary.substr(slash + 1)); !st)
        return fatal(st.error());
      // The fallback's API helper, copied with the plugin (absent is fine).
      if (auto st = removeFile(dir, kApiLookupBinary); !st) return fatal(st.error());
    }
    logLine("info", "ambient-cni uninstalled",
            {{"dir", o_.confDir}, {"files", changedNames(*plan)}, {"binary", plan->removeBinary}});
    return kInstallExitOk;
  }

 private:
  Status copyBinary() {
    if (o_.pluginBinary.empty()) return {};
    if (auto st = copyFileAtomic(o_.pluginBinary, o_.binDir, kPluginType, 0755); !st) return st;
    binaryPath_ = o_.binDir + "/" + kPluginType;
    logLine("info", "copied the plugin binary", {{"from", o_.pluginBinary}, {"to", binaryPath_}});
    // ambient-cni runs its API helper from its own directory (agent-down fallback).
    auto slash = o_.pluginBinary.rfind('/');
    std::string helper = (slash == std::string::npos ? "." : o_.pluginBinary.substr(0, slash)) +
                         "/" + kApiLookupBinary;
    if (::access(helper.c_str(), F_OK) != 0) {
      logLine("warn",
              "no API helper next to the plugin binary: the agent-down fallback fails closed",
              {{"missing", helper}});
      return {};
    }
    if (auto st = copyFileAtomic(helper, o_.binDir, kApiLookupBinary, 0755); !st) return st;
    logLine("info", "copied the API helper",
            {{"from", helper}, {"to", o_.binDir + "/" + kApiLookupBinary}});
    return {};
  }

  static std::vector<std::string> changedNames(const EditPlan& p) {
    std::vector<std::string> out;
    for (const auto& c : p.changes)
      out.push_back((c.kind == FileChange::Kind::kWrite ? "wrote " : "removed ") + c.name);
    return out;
  }

  static void drain(int ifd) {
    char buf[8192];
    while (::read(ifd, buf, sizeof buf) > 0) {
    }
  }

  int fatal(const Error& e) {
    int code = exitCodeOf(e);
    logLine("error", e.message(), {{"dir", o_.confDir}, {"exitCode", code}});
    return code;
  }

  const InstallOptions& o_;
  std::string binaryPath_;
  std::set<std::string> warned_;
};

}  // namespace

int runInstaller(const InstallOptions& o) {
  Installer inst(o);
  if (o.uninstall) return inst.uninstall();
  if (o.watch) return inst.watch();
  return inst.installOnce();
}

}  // namespace ambient::cni
